//! Pure clinical rules of the PAT pathway: no I/O, no database, no HTTP.
//!
//! Handlers parse request bodies into these types ("parse, don't validate", STYLE.md §7) and call
//! the functions here; once a value has a domain type it is valid. The rules themselves are in
//! /work/shared/DOMAIN.md, cited section by section in each module.

pub mod calendar;
pub mod disclosure;
pub mod eligibility;
pub mod financial_year;
pub mod nhs_number;
pub mod pat;
pub mod patient;
pub mod scheduling;
pub mod units;

/// One invalid or missing field of a request, named by its JSON path (e.g. `answers.drinks[1]`).
///
/// Domain checks return every problem they find as a `Vec<FieldError>`, so the API can answer a
/// single 422 listing them all (DESIGN.md §4, `errors: [{field, message}]`) instead of making the
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
