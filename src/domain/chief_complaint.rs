//! ECDS chief complaints (SNOMED CT) and the PAT presenting condition they map to
//! (docs/domain.md §11).
//!
//! The Emergency Care Data Set codes an ED attendance's chief complaint in SNOMED CT. The trust's
//! table maps chief complaints to the ten PAT conditions; it is data, not code: the service ships
//! a starter table (`data/ecds-chief-complaint-pat.csv`) and a trust replaces it with its own
//! (`PAT_CHIEF_COMPLAINT_MAP`) when the ECDS lists change each April. A row applies to arrivals
//! on London dates in `[valid_from, valid_to)`; a code no row maps on the arrival date is `other`,
//! with the code kept. Every attendance that carries a code also stores the version of the table
//! that read it (`sha256:` and the first 16 hex digits of the table's SHA-256), so an auditor can
//! tell which table decided a condition.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::calendar::london_date;
use super::eligibility::PresentingCondition;

/// The starter table shipped with the service.
pub const SHIPPED_TABLE: &str = include_str!("../../data/ecds-chief-complaint-pat.csv");

/// The header every table starts with. The term comes last so it may hold commas.
const HEADER: &str = "snomed_id,pat_condition,valid_from,valid_to,term";

/// SNOMED CT identifiers are 6 to 18 digits (SNOMED CT Technical Implementation Guide, 6.1).
const MIN_DIGITS: usize = 6;
const MAX_DIGITS: usize = 18;

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    condition: PresentingCondition,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    term: String,
}

impl Row {
    fn applies_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| from <= date) && self.valid_to.is_none_or(|to| date < to)
    }
}

/// A chief complaint mapped: the condition, and the version of the table that decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapped {
    pub condition: PresentingCondition,
    /// The table's term for the code, when a row mapped it.
    pub term: Option<String>,
    pub map_version: String,
}

/// The trust's table of chief complaints to PAT conditions.
#[derive(Clone, Debug)]
pub struct ChiefComplaintMap {
    rows: HashMap<String, Vec<Row>>,
    version: String,
}

impl ChiefComplaintMap {
    /// Reads a table: the header, then one row per line. Refuses anything it cannot read exactly,
    /// naming the line: a bad code, an unknown or derived condition, a bad date, an empty window,
    /// or two rows for one code whose windows overlap.
    pub fn parse(text: &str) -> Result<ChiefComplaintMap, String> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, header)) if header.trim_end_matches('\r') == HEADER => {}
            _ => return Err(format!("line 1: the header must be {HEADER}")),
        }
        let mut rows: HashMap<String, Vec<Row>> = HashMap::new();
        for (index, line) in lines {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let at = |reason: String| format!("line {}: {reason}", index + 1);
            let fields: Vec<&str> = line.splitn(5, ',').collect();
            let [code, condition, from, to, term] = fields[..] else {
                return Err(at(
                    "expected 5 fields: snomed_id,pat_condition,valid_from,valid_to,term".into(),
                ));
            };
            check_sctid(code).map_err(|e| at(format!("snomed_id {code:?} {e}")))?;
            let condition = match PresentingCondition::from_code(condition) {
                Some(PresentingCondition::RepeatAttender) => {
                    return Err(at(
                        "repeat_attender is derived from earlier attendances, not mapped".into()
                    ))
                }
                Some(condition) => condition,
                None => return Err(at(format!("{condition:?} is not a PAT condition code"))),
            };
            let date = |name: &str, raw: &str| -> Result<Option<NaiveDate>, String> {
                if raw.is_empty() {
                    return Ok(None);
                }
                NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| at(format!("{name} {raw:?} is not a date (YYYY-MM-DD)")))
            };
            let row = Row {
                condition,
                valid_from: date("valid_from", from)?,
                valid_to: date("valid_to", to)?,
                term: term.trim().to_owned(),
            };
            if let (Some(from), Some(to)) = (row.valid_from, row.valid_to) {
                if to <= from {
                    return Err(at("valid_to must be after valid_from".into()));
                }
            }
            let same_code = rows.entry(code.to_owned()).or_default();
            if same_code.iter().any(|other| overlap(other, &row)) {
                return Err(at(format!(
                    "snomed_id {code} has another row for some of the same dates"
                )));
            }
            same_code.push(row);
        }
        let digest = Sha256::digest(text.as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(ChiefComplaintMap {
            rows,
            version: format!("sha256:{hex}"),
        })
    }

    /// The table shipped with the service.
    pub fn shipped() -> Result<ChiefComplaintMap, String> {
        ChiefComplaintMap::parse(SHIPPED_TABLE)
    }

    /// `sha256:` and the first 16 hex digits of the table's SHA-256.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The PAT condition of chief complaint `code` for an arrival at `arrived_at` (the row in
    /// force on its London date), `other` when no row maps it. An ill-formed code is refused.
    pub fn map(&self, code: &str, arrived_at: DateTime<Utc>) -> Result<Mapped, String> {
        check_sctid(code)?;
        let date = london_date(arrived_at);
        let row = self
            .rows
            .get(code)
            .and_then(|rows| rows.iter().find(|row| row.applies_on(date)));
        Ok(Mapped {
            condition: row.map_or(PresentingCondition::Other, |row| row.condition),
            term: row.map(|row| row.term.clone()),
            map_version: self.version.clone(),
        })
    }
}

fn overlap(a: &Row, b: &Row) -> bool {
    let starts_before_b_ends = match (a.valid_from, b.valid_to) {
        (Some(from), Some(to)) => from < to,
        _ => true,
    };
    let b_starts_before_a_ends = match (b.valid_from, a.valid_to) {
        (Some(from), Some(to)) => from < to,
        _ => true,
    };
    starts_before_b_ends && b_starts_before_a_ends
}

/// Checks that `code` could be a SNOMED CT concept identifier: 6 to 18 digits without a leading
/// zero, a partition identifier for a concept (`00` international, `10` extension), and a valid
/// Verhoeff check digit (SNOMED CT Technical Implementation Guide, 6.1–6.3). It does not say the
/// concept exists.
pub fn check_sctid(code: &str) -> Result<(), String> {
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "must be a SNOMED CT identifier: {MIN_DIGITS} to {MAX_DIGITS} digits"
        ));
    }
    if code.starts_with('0') {
        return Err("must be a SNOMED CT identifier: no leading zero".into());
    }
    let partition = &code[code.len() - 3..code.len() - 1];
    if partition != "00" && partition != "10" {
        return Err(format!(
            "must identify a concept (partition 00 or 10, the second and third digits from the end); {partition} is not"
        ));
    }
    if !verhoeff_valid(code.as_bytes()) {
        return Err("has a wrong check digit (Verhoeff): a digit is mistyped or two are swapped".into());
    }
    Ok(())
}

/// Multiplication in the dihedral group D5.
const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// The permutation applied to the digit in each position (from the right), repeating every 8.
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// True when the last of the ASCII `digits` is their Verhoeff check digit.
fn verhoeff_valid(digits: &[u8]) -> bool {
    let mut check = 0u8;
    for (position, digit) in digits.iter().rev().enumerate() {
        let digit = usize::from(digit.wrapping_sub(b'0') % 10);
        check = VERHOEFF_D[usize::from(check)][usize::from(VERHOEFF_P[position % 8][digit])];
    }
    check == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().unwrap()
    }

    #[test]
    fn the_issue_examples_map_as_the_issue_says() {
        let map = ChiefComplaintMap::shipped().unwrap();
        let now = at(2026, 6, 1, 12);
        for (code, condition) in [
            ("161898004", PresentingCondition::Fall),
            ("271594007", PresentingCondition::Collapse),
            ("82271004", PresentingCondition::HeadInjury),
            ("29857009", PresentingCondition::Cardiac),
            ("21522001", PresentingCondition::Gastrointestinal),
        ] {
            assert_eq!(map.map(code, now).unwrap().condition, condition, "{code}");
        }
    }

    #[test]
    fn an_unmapped_valid_code_is_other_with_the_version() {
        let map = ChiefComplaintMap::shipped().unwrap();
        // 25064002 |Headache (finding)|: valid, and not in the starter table.
        let mapped = map.map("25064002", at(2026, 6, 1, 12)).unwrap();
        assert_eq!(mapped.condition, PresentingCondition::Other);
        assert_eq!(mapped.term, None);
        assert_eq!(mapped.map_version, map.version());
    }

    #[test]
    fn sctid_checks_refuse_each_kind_of_mistake() {
        // Real concept ids from the SNOMED CT International Edition.
        for good in ["138875005", "404684003", "161898004", "82271004", "8765009"] {
            assert_eq!(check_sctid(good), Ok(()), "{good}");
        }
        // 161898004 with its last digit changed, and with two digits swapped.
        assert!(check_sctid("161898005").unwrap_err().contains("check digit"));
        assert!(check_sctid("168198004").unwrap_err().contains("check digit"));
        // 900000000000207008 is the core module (a concept). 754749013 has the shape of a description
        // id: partition 01, and a valid check digit, so only the partition refuses it.
        assert_eq!(check_sctid("900000000000207008"), Ok(()));
        assert!(check_sctid("754749013").unwrap_err().contains("partition"));
        assert!(check_sctid("12345").unwrap_err().contains("6 to 18"));
        assert!(check_sctid("1234567890123456789").unwrap_err().contains("6 to 18"));
        assert!(check_sctid("16189800a").unwrap_err().contains("6 to 18"));
        assert!(check_sctid("0161898004").unwrap_err().contains("leading zero"));
    }

    #[test]
    fn rows_apply_on_london_dates_in_their_window() {
        // 25064002 maps to unwell from 1 April 2026; before that it was unmapped.
        let table =
            format!("{HEADER}\n25064002,unwell,2026-04-01,,Headache\n29857009,cardiac,,2026-04-01,Chest pain\n");
        let map = ChiefComplaintMap::parse(&table).unwrap();
        // 31 March 2026 23:30 UTC is 1 April 00:30 in London (BST began on 29 March).
        let mapped = map.map("25064002", at(2026, 3, 31, 23)).unwrap();
        assert_eq!(mapped.condition, PresentingCondition::Unwell);
        assert_eq!(mapped.term.as_deref(), Some("Headache"));
        assert_eq!(
            map.map("25064002", at(2026, 3, 31, 22)).unwrap().condition,
            PresentingCondition::Other
        );
        assert_eq!(
            map.map("29857009", at(2026, 3, 31, 22)).unwrap().condition,
            PresentingCondition::Cardiac
        );
        assert_eq!(
            map.map("29857009", at(2026, 3, 31, 23)).unwrap().condition,
            PresentingCondition::Other
        );
    }

    #[test]
    fn the_version_is_the_start_of_the_tables_sha256() {
        let table = format!("{HEADER}\n");
        // sha256("snomed_id,pat_condition,valid_from,valid_to,term\n"), by `sha256sum`.
        let map = ChiefComplaintMap::parse(&table).unwrap();
        assert_eq!(map.version(), "sha256:620a92b8ff3a2176");
        let other = ChiefComplaintMap::parse(&format!("{HEADER}\n25064002,unwell,,,Headache\n")).unwrap();
        assert_ne!(map.version(), other.version());
    }

    #[test]
    fn bad_tables_are_refused_with_the_line() {
        let cases = [
            ("snomed,condition\n", "line 1"),
            (&*format!("{HEADER}\n161898005,fall,,,Falls\n"), "line 2: snomed_id"),
            (&*format!("{HEADER}\n161898004,falls,,,Falls\n"), "not a PAT condition"),
            (&*format!("{HEADER}\n161898004,repeat_attender,,,Falls\n"), "derived"),
            (&*format!("{HEADER}\n161898004,fall,2026-13-01,,Falls\n"), "valid_from"),
            (
                &*format!("{HEADER}\n161898004,fall,2026-04-01,2026-04-01,Falls\n"),
                "after valid_from",
            ),
            (&*format!("{HEADER}\n161898004,fall\n"), "5 fields"),
            (
                &*format!("{HEADER}\n161898004,fall,,2026-04-01,Falls\n161898004,collapse,2026-03-01,,Falls\n"),
                "line 3: snomed_id 161898004 has another row",
            ),
        ];
        for (table, expected) in cases {
            let error = ChiefComplaintMap::parse(table).unwrap_err();
            assert!(error.contains(expected), "{error:?} should contain {expected:?}");
        }
        // Back-to-back windows are not an overlap.
        let table = format!("{HEADER}\n161898004,fall,,2026-04-01,Falls\n161898004,collapse,2026-04-01,,Falls\n");
        assert!(ChiefComplaintMap::parse(&table).is_ok());
    }

    #[test]
    fn every_row_of_the_shipped_table_is_read() {
        let map = ChiefComplaintMap::shipped().unwrap();
        let data_lines = SHIPPED_TABLE.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
        assert_eq!(map.rows.values().map(Vec::len).sum::<usize>(), data_lines);
    }
}
