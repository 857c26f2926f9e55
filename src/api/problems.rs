//! The problem+json answers that many operations share, as `utoipa::IntoResponses` sets, so each
//! `#[utoipa::path]` lists only the answers particular to it. Each extractor's refusals are one
//! set (`BodyProblems` for `Body`, `IdProblems` for `PathId`, ...), so a handler names the set of
//! the extractors it takes:
//!
//! ```ignore
//! responses(
//!     (status = 200, description = "The attendance", body = AttendanceView),
//!     NoAttendance,
//!     Problems,
//!     IdProblems,
//! )
//! ```

use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{Ref, RefOr};
use utoipa::IntoResponses;

use crate::error::PROBLEM_JSON;

/// Every `/api/v1` operation: no valid token (401), a role not allowed (403), the database
/// unavailable (503).
pub struct Problems;

impl IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[
            ("401", "No valid token"),
            ("403", "Role not allowed"),
            ("503", "Database unavailable"),
        ])
    }
}

/// What the [`Body`](super::Body) extractor refuses: malformed JSON (400), a body over the
/// 1 MiB limit (413), a body that is not `application/json` (415).
pub struct BodyProblems;

impl IntoResponses for BodyProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[
            ("400", "Malformed JSON"),
            ("413", "Body over 1 MiB"),
            ("415", "Body not application/json"),
        ])
    }
}

/// What the [`PathIdAndBody`](super::PathIdAndBody) extractor refuses: malformed JSON or a
/// malformed id (400), a body over the 1 MiB limit (413), a body that is not `application/json`
/// (415).
pub struct IdAndBodyProblems;

impl IntoResponses for IdAndBodyProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[
            ("400", "Malformed JSON or id"),
            ("413", "Body over 1 MiB"),
            ("415", "Body not application/json"),
        ])
    }
}

/// What the [`PathId`](super::PathId) extractor refuses: a malformed id (400).
pub struct IdProblems;

impl IntoResponses for IdProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("400", "Malformed id")])
    }
}

/// What a query-string extractor refuses: an unknown parameter or a value of the wrong type
/// (400).
pub struct QueryProblems;

impl IntoResponses for QueryProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("400", "Malformed query")])
    }
}

/// An attendance named in the path that does not exist (404).
pub struct NoAttendance;

impl IntoResponses for NoAttendance {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("404", "No such attendance")])
    }
}

/// A booking named in the path that does not exist (404).
pub struct NoBooking;

impl IntoResponses for NoBooking {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("404", "No such booking")])
    }
}

/// A body whose values break the request's own rules, with the fields named (422).
pub struct InvalidValues;

impl IntoResponses for InvalidValues {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("422", "Invalid values")])
    }
}

fn set(answers: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    answers
        .iter()
        .map(|(status, description)| ((*status).to_owned(), RefOr::T(problem(description))))
        .collect()
}

/// A problem+json answer with the `Problem` schema.
fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}
