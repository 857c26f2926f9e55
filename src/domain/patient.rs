//! Who an attendance belongs to: the key that links one patient's attendances, and the links
//! that say two patients' records are one person (a PDS trace, an EPR merge).

use super::{FieldError, Refusal};

/// The patient key links a patient's attendances (repeat attenders, reattendance): the NHS number
/// when known, else the local hospital number. `None` when the EPR sent neither. It is the key of
/// the identifiers an attendance arrives with; a link makes the attendance belong to another
/// person's key.
///
/// A local number is one hospital system's: with its assigning system (`local_id_system`, e.g.
/// the trust's PAS) the key is `local@<system>:<number>`, so the same number from two systems is
/// two patients; without one it is `local:<number>` (as every attendance was keyed before the
/// system was asked for).
pub fn patient_key(nhs_number: Option<&str>, local_id: Option<&str>, local_id_system: Option<&str>) -> Option<String> {
    match (nhs_number, local_id, local_id_system) {
        (Some(nhs), _, _) => Some(format!("nhs:{nhs}")),
        (None, Some(local), Some(system)) => Some(format!("local@{system}:{local}")),
        (None, Some(local), None) => Some(format!("local:{local}")),
        (None, None, _) => None,
    }
}

/// The characters an assigning system's name may not hold: `:` ends the system in a key.
pub const LOCAL_ID_SYSTEM_FORBIDDEN: char = ':';

/// An identifier as the API shows it: its system (`nhs` or `local`), value and the local
/// number's assigning system if it has one, read back from a patient key.
pub fn identifier_of(key: &str) -> (&str, &str, Option<&str>) {
    let (system, value) = key.split_once(':').unwrap_or(("unknown", key));
    match system.split_once('@') {
        Some((system, assigner)) => (system, value, Some(assigner)),
        None => (system, value, None),
    }
}

/// Why two records are one person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A local number traced to an NHS number (PDS).
    Trace,
    /// Two records of one person merged (EPR).
    Merge,
}

impl LinkKind {
    pub fn code(self) -> &'static str {
        match self {
            LinkKind::Trace => "trace",
            LinkKind::Merge => "merge",
        }
    }

    pub fn from_code(code: &str) -> Option<LinkKind> {
        match code {
            "trace" => Some(LinkKind::Trace),
            "merge" => Some(LinkKind::Merge),
            _ => None,
        }
    }
}

/// The NHS number status indicator a PDS trace answers with (NHS Data Dictionary, "NHS number
/// status indicator code"): `01` number present and verified, `02` present but not traced, `03`
/// trace required, `04` trace attempted, no match or multiple matches, `05` trace needs to be
/// resolved, `06` trace in progress, `07` number not present and trace not required, `08` trace
/// postponed (baby under six weeks old).
pub const TRACE_STATUSES: [&str; 8] = ["01", "02", "03", "04", "05", "06", "07", "08"];

/// The only status a link may rest on: the number was found and verified.
pub const VERIFIED_TRACE: &str = "01";

/// The trace status of a link to an NHS number: `01` when not given; any other known status is
/// refused (an unverified number does not say who the patient is).
pub fn trace_status(given: Option<&str>) -> Result<&'static str, FieldError> {
    match given {
        None => Ok(VERIFIED_TRACE),
        Some(code) if code == VERIFIED_TRACE => Ok(VERIFIED_TRACE),
        Some(code) if TRACE_STATUSES.contains(&code) => Err(FieldError::new(
            "trace_status",
            format!("a link needs a verified trace ({VERIFIED_TRACE}: number present and verified), not {code}"),
        )),
        Some(_) => Err(FieldError::new(
            "trace_status",
            "must be an NHS number status indicator code, 01 to 08",
        )),
    }
}

/// The answer when the patient a request names does not exist.
pub fn no_patient() -> Refusal {
    Refusal::not_found("no patient with that id")
}

/// The patient a link names in its body does not exist.
pub fn no_link_target() -> Refusal {
    Refusal::rule(
        "unknown-patient",
        "the patient to link to does not exist",
        vec![FieldError::new("patient_id", "no patient with that id")],
    )
}

/// A patient cannot be linked to itself.
pub fn link_to_itself(field: &'static str) -> Refusal {
    Refusal::rule(
        "link-to-itself",
        "a patient cannot be linked to itself",
        vec![FieldError::new(field, "names the patient being linked")],
    )
}

/// The patient is linked to someone else already: unlink first.
pub fn already_linked() -> Refusal {
    Refusal::conflict(
        "already-linked",
        "the patient is linked to another patient already: unlink it first",
    )
}

/// The other patient is this patient's person already (linked to it, directly or through
/// others): the link would go round in a circle.
pub fn same_person() -> Refusal {
    Refusal::conflict(
        "same-person",
        "the other patient is linked to this one already: they are one person",
    )
}

/// There is no link in force to undo.
pub fn not_linked() -> Refusal {
    Refusal::conflict("not-linked", "the patient is not linked to another patient")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nhs_number_wins_over_the_local_number() {
        assert_eq!(
            patient_key(Some("9434765919"), Some("RX1-1"), Some("PAS")).as_deref(),
            Some("nhs:9434765919")
        );
        assert_eq!(patient_key(None, Some("RX1-1"), None).as_deref(), Some("local:RX1-1"));
        assert_eq!(patient_key(None, None, Some("PAS")), None);
    }

    #[test]
    fn a_local_number_is_its_systems() {
        let pas = patient_key(None, Some("7"), Some("PAS"));
        let ed = patient_key(None, Some("7"), Some("EDIS"));
        assert_eq!(pas.as_deref(), Some("local@PAS:7"));
        assert_ne!(pas, ed, "the same number from two systems is two patients");
        assert_ne!(pas, patient_key(None, Some("7"), None));
    }

    #[test]
    fn an_identifier_is_read_back_from_its_key() {
        assert_eq!(identifier_of("nhs:9434765919"), ("nhs", "9434765919", None));
        assert_eq!(identifier_of("local:RX1:7"), ("local", "RX1:7", None));
        assert_eq!(identifier_of("local@PAS:RX1:7"), ("local", "RX1:7", Some("PAS")));
    }

    #[test]
    fn only_a_verified_trace_links() {
        assert_eq!(trace_status(None), Ok("01"));
        assert_eq!(trace_status(Some("01")), Ok("01"));
        for code in ["02", "03", "04", "05", "06", "07", "08", "1", "09", ""] {
            assert_eq!(
                trace_status(Some(code)).map_err(|e| e.field),
                Err("trace_status".to_owned()),
                "{code}"
            );
        }
    }
}
