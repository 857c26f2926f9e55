//! Pure clinical rules of the PAT pathway: no I/O, no database, no HTTP.
//!
//! Handlers parse request bodies into these types ("parse, don't validate", docs/style.md §7) and call
//! the functions here; once a value has a domain type it is valid. The rules themselves are in
//! docs/domain.md, cited section by section in each module.

pub mod attendance;
pub mod calendar;
pub mod chief_complaint;
pub mod disclosure;
pub mod eligibility;
pub mod financial_year;
pub mod nhs_number;
pub mod pat;
pub mod patient;
pub mod retention;
pub mod scheduling;
pub mod units;

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// One invalid or missing field of a request, named by its JSON path (e.g. `answers.drinks[1]`).
///
/// Domain checks return every problem they find as a `Vec<FieldError>`, so the API can answer a
/// single 422 listing them all (docs/design.md §4, `errors: [{field, message}]`) instead of making the
/// caller fix one field per round trip.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the offending field, as the caller sent it.
    pub field: String,
    /// What is wrong, in words a clinician or integrator can act on.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a well-formed request is refused given what is recorded: the record it names does not
/// exist, it conflicts with the recorded state, or it breaks a rule that depends on the stored
/// state or the time. Stores and domain rules answer these; the API maps them to 404, 409 and
/// 422 (docs/design.md §4 gives the order the checks run in).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// What was not found, in words: "no attendance with that id".
    NotFound(String),
    /// A state conflict; `kind` names it (`slot-taken`, `idempotency-conflict`, …).
    Conflict { kind: &'static str, detail: String },
    /// A rule that depends on the stored state or the time; `kind` names it.
    Rule {
        kind: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
}

impl Refusal {
    pub fn not_found(what: impl Into<String>) -> Refusal {
        Refusal::NotFound(what.into())
    }

    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Refusal {
        Refusal::Conflict {
            kind,
            detail: detail.into(),
        }
    }

    pub fn rule(kind: &'static str, detail: impl Into<String>, errors: Vec<FieldError>) -> Refusal {
        Refusal::Rule {
            kind,
            detail: detail.into(),
            errors,
        }
    }
}

/// Why a record is changed: a correction of a decision or an outcome, an attendance marked
/// entered-in-error, a link or unlink of patients. 1–500 characters, trimmed, so the record and
/// the audit trail say what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub const MAX_CHARS: usize = 500;

    /// The request's `field`, checked; `when_blank` tells the caller what to write.
    /// The length is counted as sent (the OpenAPI document's `maxLength`), then the text trimmed.
    pub fn parse(field: &str, text: &str, when_blank: &str) -> Result<Reason, FieldError> {
        let sent = text;
        let text = text.trim();
        if text.is_empty() {
            return Err(FieldError::new(field, when_blank));
        }
        if sent.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Reason(text.to_owned()))
    }

    /// An optional `field`: none when not given.
    pub fn optional(field: &str, text: Option<&str>) -> Result<Option<Reason>, FieldError> {
        text.map(|text| Reason::parse(field, text, "must not be empty"))
            .transpose()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How far in the future a time a client records may be (clock skew between systems).
pub const FUTURE_TOLERANCE_MINUTES: i64 = 15;

/// Whether a time a client records is in the future beyond clock skew.
pub fn in_the_future(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    at > now + Duration::minutes(FUTURE_TOLERANCE_MINUTES)
}

/// A time a client records for an event that follows an earlier one (a screening after the
/// arrival, a decision after the screening), and the refusals when it does not fit.
pub struct EventTime {
    /// The field that gives the time: `screened_at`.
    pub field: &'static str,
    /// When the time is before the earlier event: the refusal's kind and detail, and the field's
    /// message.
    pub before_kind: &'static str,
    pub before_detail: &'static str,
    pub before_message: &'static str,
    /// The refusal's kind when the time is in the future.
    pub future_kind: &'static str,
}

impl EventTime {
    /// `at` checked against the earlier event (`earliest`) and the clock: not before the earlier
    /// event (compared at the database's precision, microseconds, as stored), and not in the
    /// future beyond clock skew.
    pub fn check(&self, at: DateTime<Utc>, earliest: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Refusal> {
        if at.trunc_subsecs(6) < earliest {
            return Err(Refusal::rule(
                self.before_kind,
                self.before_detail,
                vec![FieldError::new(self.field, self.before_message)],
            ));
        }
        if in_the_future(at, now) {
            return Err(Refusal::rule(
                self.future_kind,
                format!("{} is in the future", self.field),
                vec![FieldError::new(self.field, "must not be in the future")],
            ));
        }
        Ok(())
    }
}

/// What the domain modules' tests share.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod test_support {
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    /// Every value of a code enum (`all`) is written as its `code`, read back from it by serde
    /// and found by `from_code`.
    pub(crate) fn assert_codes_are_the_serde_names<T>(
        all: &[T],
        code: fn(&T) -> &'static str,
        from_code: fn(&str) -> Option<T>,
    ) where
        T: Serialize + DeserializeOwned + Copy + PartialEq + std::fmt::Debug,
    {
        for value in all {
            let code = code(value);
            assert_eq!(
                serde_json::to_value(value).unwrap(),
                serde_json::json!(code),
                "{value:?}"
            );
            let back: T = serde_json::from_value(serde_json::json!(code)).unwrap();
            assert_eq!(back, *value, "{code}");
            assert_eq!(from_code(code), Some(*value), "{code}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_1_to_500_characters_trimmed() {
        let hint = "say why";
        assert_eq!(
            Reason::parse("reason", " duplicate ", hint).map(|r| r.as_str().to_owned()),
            Ok("duplicate".to_owned())
        );
        let ok = Reason::parse("reason", &"é".repeat(Reason::MAX_CHARS), hint);
        assert_eq!(ok.map(|r| r.as_str().chars().count()), Ok(500), "characters, not bytes");
        for bad in ["", "   ", &"x".repeat(Reason::MAX_CHARS + 1)] {
            let field = Reason::parse("why", bad, hint).map_err(|e| e.field);
            assert_eq!(field, Err("why".to_owned()), "{bad:?}");
        }
        assert_eq!(
            Reason::parse("why", " ", hint).map_err(|e| e.message),
            Err(hint.to_owned())
        );
        assert_eq!(Reason::optional("why", None), Ok(None));
        assert!(Reason::optional("why", Some("")).is_err());
    }
}
