//! ECDS chief complaints (SNOMED CT) and the PAT presenting condition they map to.
//!
//! Interface only for now: the mapping table shipped as data, the check digit and the stored
//! code and mapping version are built on top of this (issue 12 §3).

use chrono::{DateTime, Utc};

use super::eligibility::PresentingCondition;

/// The PAT presenting condition of an ECDS chief complaint, `other` when unmapped.
pub fn pat_condition(code: &str, _arrived_at: DateTime<Utc>) -> Result<PresentingCondition, String> {
    if code.len() < 6 || code.len() > 18 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be a SNOMED CT identifier (6 to 18 digits)".to_owned());
    }
    Ok(match code {
        "161898004" => PresentingCondition::Fall,
        "271594007" => PresentingCondition::Collapse,
        "82271004" => PresentingCondition::HeadInjury,
        "29857009" => PresentingCondition::Cardiac,
        "21522001" => PresentingCondition::Gastrointestinal,
        _ => PresentingCondition::Other,
    })
}
