//! The problem+json answers that many operations share, as `utoipa::IntoResponses` sets, so each
//! `#[utoipa::path]` lists only the answers particular to it:
//!
//! ```ignore
//! responses(
//!     (status = 200, description = "The attendance", body = AttendanceView),
//!     (status = 404, description = "No such attendance", body = Problem, content_type = "application/problem+json"),
//!     Problems,
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

/// Every operation that takes a JSON body: a body over the 1 MiB limit (413).
pub struct BodyProblems;

impl IntoResponses for BodyProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(&[("413", "Body over 1 MiB")])
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
