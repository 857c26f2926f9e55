//! Checkers for the statistics tests: compare an answer with hand-worked figures, apply the NHS
//! disclosure rules of docs/domain.md §8 independently of the service, and read CSV.
//!
//! Nothing here computes an expected figure from the service's own output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::datasets::*;
use super::fixtures::*;

// ---------------------------------------------------------------------------------------------
// Expected figures

/// One funnel group's counts, worked out by hand (docs/domain.md §7).
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub attendances: i64,
    pub eligible: i64,
    pub screened: i64,
    pub refused: i64,
    pub intoxicated: i64,
    pub lacks_capacity: i64,
    pub too_unwell: i64,
    pub under_age: i64,
    pub not_asked: i64,
    pub not_recorded: i64,
    pub screened_outside_indications: i64,
    pub positive: i64,
    pub advice_given: i64,
    pub leaflet_given: i64,
    pub offered: i64,
    pub accepted: i64,
    pub declined: i64,
    pub seen_in_department: i64,
    pub booked: i64,
    pub booked_within_24h: i64,
    pub no_slot_in_window: i64,
    pub attended: i64,
    pub did_not_attend: i64,
    pub cancelled: i64,
    pub attended_same_day: i64,
    pub attended_next_day: i64,
    pub attended_later: i64,
    pub did_not_attend_same_day: i64,
    pub did_not_attend_next_day: i64,
    pub did_not_attend_later: i64,
}

impl Counts {
    /// Every count with its path in the answer.
    pub fn paths(&self) -> Vec<(&'static str, i64)> {
        vec![
            ("counts.attendances", self.attendances),
            ("counts.eligible", self.eligible),
            ("counts.screened", self.screened),
            ("counts.not_screened.refused", self.refused),
            ("counts.not_screened.intoxicated", self.intoxicated),
            ("counts.not_screened.lacks_capacity", self.lacks_capacity),
            ("counts.not_screened.too_unwell", self.too_unwell),
            ("counts.not_screened.under_age", self.under_age),
            ("counts.not_screened.not_asked", self.not_asked),
            ("counts.not_screened.not_recorded", self.not_recorded),
            ("counts.screened_outside_indications", self.screened_outside_indications),
            ("counts.positive", self.positive),
            ("counts.advice_given", self.advice_given),
            ("counts.leaflet_given", self.leaflet_given),
            ("counts.offered", self.offered),
            ("counts.accepted", self.accepted),
            ("counts.declined", self.declined),
            ("counts.seen_in_department", self.seen_in_department),
            ("counts.booked", self.booked),
            ("counts.booked_within_24h", self.booked_within_24h),
            ("counts.no_slot_in_window", self.no_slot_in_window),
            ("counts.attended", self.attended),
            ("counts.did_not_attend", self.did_not_attend),
            ("counts.cancelled", self.cancelled),
            ("counts.attended_by_lead_time.same_day", self.attended_same_day),
            ("counts.attended_by_lead_time.next_day", self.attended_next_day),
            ("counts.attended_by_lead_time.later", self.attended_later),
            (
                "counts.did_not_attend_by_lead_time.same_day",
                self.did_not_attend_same_day,
            ),
            (
                "counts.did_not_attend_by_lead_time.next_day",
                self.did_not_attend_next_day,
            ),
            ("counts.did_not_attend_by_lead_time.later", self.did_not_attend_later),
        ]
    }

    /// The group's internal sums hold (a check on the hand working itself).
    pub fn check_sums(&self, why: &str) {
        let not_screened = self.refused
            + self.intoxicated
            + self.lacks_capacity
            + self.too_unwell
            + self.under_age
            + self.not_asked
            + self.not_recorded;
        assert_eq!(
            self.eligible,
            self.screened + not_screened,
            "{why}: hand working, eligible"
        );
        assert_eq!(
            self.offered,
            self.accepted + self.declined + self.seen_in_department,
            "{why}: hand working, offered"
        );
        assert_eq!(
            self.attended,
            self.attended_same_day + self.attended_next_day + self.attended_later,
            "{why}: hand working, attended"
        );
        assert_eq!(
            self.did_not_attend,
            self.did_not_attend_same_day + self.did_not_attend_next_day + self.did_not_attend_later,
            "{why}: hand working, did not attend"
        );
    }
}

/// One funnel group's rates, worked out by hand; `None` for a zero denominator.
#[derive(Clone, Debug, Default)]
pub struct Rates {
    pub screening: Option<f64>,
    pub positive: Option<f64>,
    pub acceptance: Option<f64>,
    pub ahw_attendance: Option<f64>,
    pub same_day: Option<f64>,
    pub next_day: Option<f64>,
    pub later: Option<f64>,
}

impl Rates {
    pub fn paths(&self) -> Vec<(&'static str, Option<f64>)> {
        vec![
            ("rates.screening", self.screening),
            ("rates.positive", self.positive),
            ("rates.acceptance", self.acceptance),
            ("rates.ahw_attendance", self.ahw_attendance),
            ("rates.ahw_attendance_by_lead_time.same_day", self.same_day),
            ("rates.ahw_attendance_by_lead_time.next_day", self.next_day),
            ("rates.ahw_attendance_by_lead_time.later", self.later),
        ]
    }
}

/// Nested JSON from dotted paths.
pub fn nest(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    let mut root = Value::Object(Map::new());
    for (path, value) in pairs {
        let parts: Vec<&str> = path.split('.').collect();
        let mut node = &mut root;
        for part in &parts[..parts.len() - 1] {
            node = node
                .as_object_mut()
                .unwrap()
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        node.as_object_mut()
            .unwrap()
            .insert(parts[parts.len() - 1].to_owned(), value);
    }
    root
}

/// The expected group (disclosure none): counts and rates as JSON.
pub fn expected_group(counts: &Counts, rates: &Rates) -> Value {
    nest(
        counts
            .paths()
            .into_iter()
            .map(|(p, v)| (p.to_owned(), json!(v)))
            .chain(rates.paths().into_iter().map(|(p, v)| (p.to_owned(), json!(v)))),
    )
}

fn same_number(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|a| (a - expected).abs() < 1e-9)
}

/// Every leaf of `expected` is in `actual` with the same value (numbers to 1e-9, so `1` and
/// `1.0` agree; `null` must be `null`). Fields the service adds beyond these are allowed.
pub fn assert_figures(actual: &Value, expected: &Value, path: &str, why: &str) {
    match expected {
        Value::Object(fields) => {
            for (k, v) in fields {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                assert!(
                    actual.get(k).is_some(),
                    "{why}: `{p}` is missing from the answer: {actual}"
                );
                assert_figures(&actual[k], v, &p, why);
            }
        }
        Value::Number(n) => {
            let e = n.as_f64().unwrap();
            assert!(same_number(actual, e), "{why}: `{path}` expected {e}, got {actual}");
        }
        other => assert_eq!(actual, other, "{why}: `{path}`"),
    }
}

/// A funnel group against hand-worked figures, disclosure none: nothing suppressed.
pub fn assert_group(answer: &Value, key: &str, counts: &Counts, rates: &Rates, why: &str) {
    counts.check_sums(why);
    let g = group(answer, key);
    let why = format!("{why} [group {key}]");
    assert_figures(g, &expected_group(counts, rates), "", &why);
    assert_eq!(
        suppressed(g),
        BTreeSet::new(),
        "{why}: nothing is suppressed without disclosure control"
    );
}

// ---------------------------------------------------------------------------------------------
// NHS disclosure control, applied by the test (docs/domain.md §8)

/// What NHS disclosure control publishes for a count: 1–7 suppressed (`None`), others rounded
/// to the nearest 5 (counts are whole, so there is never a tie), 0 stays 0.
pub fn publish(n: i64) -> Option<i64> {
    match n {
        1..=7 => None,
        n => Some((n + 2) / 5 * 5),
    }
}

pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The relations within one group that must never have exactly one suppressed cell.
pub const RELATIONS: [(&str, &[&str]); 4] = [
    (
        "eligible = screened + Σ not_screened",
        &[
            "counts.eligible",
            "counts.screened",
            "counts.not_screened.refused",
            "counts.not_screened.intoxicated",
            "counts.not_screened.lacks_capacity",
            "counts.not_screened.too_unwell",
            "counts.not_screened.under_age",
            "counts.not_screened.not_asked",
            "counts.not_screened.not_recorded",
        ],
    ),
    (
        "offered = accepted + declined + seen_in_department",
        &[
            "counts.offered",
            "counts.accepted",
            "counts.declined",
            "counts.seen_in_department",
        ],
    ),
    (
        "attended = Σ attended_by_lead_time",
        &[
            "counts.attended",
            "counts.attended_by_lead_time.same_day",
            "counts.attended_by_lead_time.next_day",
            "counts.attended_by_lead_time.later",
        ],
    ),
    (
        "did_not_attend = Σ did_not_attend_by_lead_time",
        &[
            "counts.did_not_attend",
            "counts.did_not_attend_by_lead_time.same_day",
            "counts.did_not_attend_by_lead_time.next_day",
            "counts.did_not_attend_by_lead_time.later",
        ],
    ),
];

/// How each rate is made from counts: (rate path, numerator paths, denominator paths).
pub const RATE_INPUTS: [(&str, &[&str], &[&str]); 7] = [
    ("rates.screening", &["counts.screened"], &["counts.eligible"]),
    ("rates.positive", &["counts.positive"], &["counts.screened"]),
    (
        "rates.acceptance",
        &["counts.accepted", "counts.seen_in_department"],
        &["counts.offered"],
    ),
    (
        "rates.ahw_attendance",
        &["counts.attended"],
        &["counts.attended", "counts.did_not_attend"],
    ),
    (
        "rates.ahw_attendance_by_lead_time.same_day",
        &["counts.attended_by_lead_time.same_day"],
        &[
            "counts.attended_by_lead_time.same_day",
            "counts.did_not_attend_by_lead_time.same_day",
        ],
    ),
    (
        "rates.ahw_attendance_by_lead_time.next_day",
        &["counts.attended_by_lead_time.next_day"],
        &[
            "counts.attended_by_lead_time.next_day",
            "counts.did_not_attend_by_lead_time.next_day",
        ],
    ),
    (
        "rates.ahw_attendance_by_lead_time.later",
        &["counts.attended_by_lead_time.later"],
        &[
            "counts.attended_by_lead_time.later",
            "counts.did_not_attend_by_lead_time.later",
        ],
    ),
];

/// A published funnel group (`disclosure=nhs`) against the true counts worked out by hand:
///
/// - a count of 1–7 is null and listed (primary suppression);
/// - any other listed count is null and belongs to one of the four relations (secondary
///   suppression, the only reason to hide a count that is not small);
/// - every other count is the true count rounded to the nearest 5;
/// - within each relation, the number of suppressed cells is never exactly one;
/// - a rate with a suppressed input is null and (in JSON) listed; any other rate is computed from
///   the rounded counts, rounded to 4 places, null on a zero denominator;
/// - every listed path is null.
///
/// `csv`: the group was read from CSV, where a suppressed rate may show as `*` or empty (the
/// contract only says a suppressed *count* is `*`), so suppressed rates need not be listed.
pub fn assert_published_group(g: &Value, truth: &Counts, why: &str, csv: bool) {
    truth.check_sums(why);
    let listed = suppressed(g);
    let truth_of = |path: &str| truth.paths().into_iter().find(|(p, _)| *p == path).unwrap().1;
    let in_relation = |path: &str| RELATIONS.iter().any(|(_, cells)| cells.contains(&path));
    for (path, n) in truth.paths() {
        let actual = at_path(g, path);
        match publish(n) {
            None => {
                assert!(
                    actual.is_null(),
                    "{why}: `{path}` = {n} (1–7) is suppressed, got {actual}"
                );
                assert!(
                    listed.contains(path),
                    "{why}: `{path}` = {n} is listed in suppressed: {listed:?}"
                );
            }
            Some(_) if listed.contains(path) => {
                assert!(
                    actual.is_null(),
                    "{why}: `{path}` is listed, so it is null, got {actual}"
                );
                assert!(
                    in_relation(path),
                    "{why}: `{path}` = {n} is not small and in no relation, yet suppressed"
                );
            }
            Some(rounded) => assert!(
                same_number(actual, rounded as f64),
                "{why}: `{path}` = {n} is published rounded to {rounded}, got {actual}"
            ),
        }
    }
    for (name, cells) in RELATIONS {
        let hidden: Vec<&str> = cells.iter().copied().filter(|c| listed.contains(*c)).collect();
        assert_ne!(
            hidden.len(),
            1,
            "{why}: relation {name} has exactly one suppressed cell ({hidden:?}), which the others recover"
        );
    }
    for (rate, numerator, denominator) in RATE_INPUTS {
        let actual = at_path(g, rate);
        let inputs: Vec<&str> = numerator.iter().chain(denominator.iter()).copied().collect();
        if inputs.iter().any(|p| listed.contains(*p)) {
            assert!(
                actual.is_null(),
                "{why}: `{rate}` has a suppressed input, so it is null, got {actual}"
            );
            if !csv {
                assert!(listed.contains(rate), "{why}: `{rate}` is listed: {listed:?}");
            }
            continue;
        }
        let sum = |paths: &[&str]| -> i64 { paths.iter().map(|p| publish(truth_of(p)).unwrap()).sum() };
        let (num, den) = (sum(numerator), sum(denominator));
        if den == 0 {
            assert!(actual.is_null(), "{why}: `{rate}` has a zero denominator, got {actual}");
        } else {
            let expected = round4(num as f64 / den as f64);
            assert!(
                same_number(actual, expected),
                "{why}: `{rate}` from the rounded counts {num}/{den} = {expected}, got {actual}"
            );
        }
        assert!(!listed.contains(rate), "{why}: `{rate}` is published, so not listed");
    }
    for path in &listed {
        assert!(at_path(g, path).is_null(), "{why}: listed `{path}` is null");
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

/// Parses RFC 4180 CSV (quoted fields, `""` escapes, CRLF or LF line ends).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// One CSV data row as nested JSON: `*` → null and listed under `suppressed`, empty → null,
/// numbers → numbers, other text kept. Columns listed in `skip` are left out.
pub fn csv_row_json(header: &[String], row: &[String], skip: &[&str]) -> Value {
    assert_eq!(
        header.len(),
        row.len(),
        "a row has one cell per column: {header:?} / {row:?}"
    );
    let mut listed = vec![];
    let mut pairs = vec![];
    for (column, cell) in header.iter().zip(row) {
        if skip.contains(&column.as_str()) {
            continue;
        }
        let value = if cell == "*" {
            listed.push(json!(column));
            Value::Null
        } else if cell.is_empty() {
            Value::Null
        } else if let Ok(n) = cell.parse::<f64>() {
            json!(n)
        } else {
            json!(cell)
        };
        pairs.push((column.clone(), value));
    }
    let mut value = nest(pairs);
    value["suppressed"] = Value::Array(listed);
    value
}

/// The cell of `column` in `row`.
pub fn cell<'a>(header: &[String], row: &'a [String], column: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no CSV column {column:?} in {header:?}"));
    &row[i]
}

// ---------------------------------------------------------------------------------------------
// Report answers

pub fn fy_label(start_year: i32) -> String {
    format!("{start_year}/{:02}", (start_year + 1) % 100)
}

/// The top-level fields every funnel answer echoes.
pub fn assert_funnel_header(
    answer: &Value,
    from: &str,
    to: &str,
    site: Option<&str>,
    group_by: &str,
    disclosure: &str,
) {
    assert_eq!(answer["from"], from, "from: {answer}");
    assert_eq!(answer["to"], to, "to");
    assert_eq!(answer["site"], json!(site), "site (null when none)");
    assert_eq!(answer["group_by"], group_by, "group_by");
    assert_eq!(answer["disclosure"], disclosure, "disclosure");
}

pub fn years(answer: &Value) -> &Vec<Value> {
    answer["years"]
        .as_array()
        .unwrap_or_else(|| panic!("{{years: [...]}}: {answer}"))
}

pub fn assert_reattendance_header(answer: &Value, period: &Period, site: Option<&str>, disclosure: &str) {
    assert_eq!(answer["from"], period.from.to_string(), "{answer}");
    assert_eq!(answer["to"], period.to.to_string());
    assert_eq!(answer["site"], json!(site));
    assert_eq!(answer["disclosure"], disclosure);
    assert_eq!(answer["window_days"], 365);
    let twelve = &answer["twelve_month"];
    assert!(
        twelve["measure"].as_str().is_some_and(|s| !s.is_empty()),
        "the 12-month measure is named: {answer}"
    );
    assert!(
        twelve["note"]
            .as_str()
            .is_some_and(|s| s.to_lowercase().contains("observational")),
        "the note says the comparison is observational: {answer}"
    );
    let seven = &answer["seven_day"];
    assert!(
        seven["measure"].as_str().is_some_and(|s| !s.is_empty()),
        "the 7-day measure is named: {answer}"
    );
    assert_eq!(seven["window_days"], 7);
}

/// The 12-month and 7-day figures as JSON.
#[allow(clippy::too_many_arguments)]
pub fn reattendance_figures(
    accepted: (i64, i64, Option<f64>),
    declined: (i64, i64, Option<f64>),
    difference: Option<f64>,
    avoided: Option<f64>,
    follow_up_incomplete: i64,
    no_decision: i64,
    seven_day: (i64, i64, Option<f64>),
) -> Value {
    json!({
        "twelve_month": {
            "accepted": { "patients": accepted.0, "reattendances": accepted.1, "mean": accepted.2 },
            "declined": { "patients": declined.0, "reattendances": declined.1, "mean": declined.2 },
            "difference": difference,
            "avoided_per_two_accepted": avoided,
            "follow_up_incomplete": follow_up_incomplete,
            "no_decision": no_decision,
        },
        "seven_day": {
            "attendances": seven_day.0,
            "reattended_within_7_days": seven_day.1,
            "rate": seven_day.2,
        },
    })
}
