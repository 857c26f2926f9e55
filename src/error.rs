//! One error type and one body: `application/problem+json` (RFC 9457), with precise status codes
//! (docs/style.md §5). Causes are logged once, here, for 5xx only; clients get an opaque 500. Problem
//! details never echo a patient identifier.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{FieldError, Refusal};
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem+json body every error answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `urn:pat-service:problem:validation`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For validation problems: every field that was wrong, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// The body to send. Serialising a `Problem` cannot fail today (strings and a number), but if
    /// it ever did the client still gets a valid problem+json body, without the field list,
    /// rather than an empty one; the failure is logged.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| {
            tracing::error!(error.cause = %error, "a problem body could not be serialised");
            self.minimal_json()
        })
    }

    /// `type`, `title`, `status` and `detail`, built without a fallible step.
    fn minimal_json(&self) -> String {
        let mut minimal = serde_json::Map::new();
        minimal.insert("type".into(), self.problem_type.clone().into());
        minimal.insert("title".into(), self.title.clone().into());
        minimal.insert("status".into(), self.status.into());
        minimal.insert("detail".into(), self.detail.clone().into());
        serde_json::Value::Object(minimal).to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("bad request: {detail}")]
    BadRequest { detail: String, errors: Vec<FieldError> },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// A request that is well formed but whose values are invalid (422).
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("not found: {0}")]
    NotFound(String),
    /// A state conflict (409); `kind` becomes the problem type.
    #[error("conflict ({kind}): {detail}")]
    Conflict { kind: &'static str, detail: String },
    /// A rule that depends on the stored state or time (422); `kind` becomes the problem type.
    #[error("rule ({kind}): {detail}")]
    Rule {
        kind: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(cause.to_string())
    }

    fn parts(&self) -> (&'static str, &'static str, String, Vec<FieldError>) {
        match self {
            ApiError::Unauthorized(d) => ("unauthorized", "Unauthorized", d.clone(), vec![]),
            ApiError::Forbidden(d) => ("forbidden", "Forbidden", d.clone(), vec![]),
            ApiError::BadRequest { detail, errors } => ("bad-request", "Bad request", detail.clone(), errors.clone()),
            ApiError::PayloadTooLarge => (
                "payload-too-large",
                "Payload too large",
                "the JSON body is larger than the 1 MiB limit".into(),
                vec![],
            ),
            ApiError::UnsupportedMediaType(d) => {
                ("unsupported-media-type", "Unsupported media type", d.clone(), vec![])
            }
            ApiError::Validation(errors) => ("validation", "Invalid request", describe_fields(errors), errors.clone()),
            ApiError::NotFound(d) => ("not-found", "Not found", d.clone(), vec![]),
            ApiError::Conflict { kind, detail } => (kind, "Conflict", detail.clone(), vec![]),
            ApiError::Rule { kind, detail, errors } => (kind, "Request breaks a rule", detail.clone(), errors.clone()),
            ApiError::MethodNotAllowed => (
                "method-not-allowed",
                "Method not allowed",
                "this resource does not support that method".into(),
                vec![],
            ),
            ApiError::Unavailable(_) => (
                "database-unavailable",
                "Service unavailable",
                "the database is unavailable; retry later".into(),
                vec![],
            ),
            ApiError::Internal(_) => (
                "internal",
                "Internal server error",
                "an unexpected error occurred; it has been logged".into(),
                vec![],
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (slug, title, detail, errors) = self.parts();
        Problem {
            problem_type: format!("urn:pat-service:problem:{slug}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            errors,
        }
    }
}

fn describe_fields(errors: &[FieldError]) -> String {
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    format!("invalid or missing: {}", fields.join(", "))
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::Rule { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            // The cause is logged once, here; it is never sent to the client.
            ApiError::Internal(cause) => tracing::error!(error.cause = %cause, "request failed"),
            ApiError::Unavailable(cause) => {
                tracing::warn!(error.cause = %cause, "database unavailable")
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if matches!(self, ApiError::Unauthorized(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if matches!(self, ApiError::Unavailable(_)) {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        response.body(self.problem().to_json())
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::NotFound(detail) => ApiError::NotFound(detail),
            Refusal::Conflict { kind, detail } => ApiError::Conflict { kind, detail },
            Refusal::Rule { kind, detail, errors } => ApiError::Rule { kind, detail, errors },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Refused(refusal) => refusal.into(),
            StoreError::Unavailable(cause) => ApiError::Unavailable(cause),
            StoreError::ConnectionLost(cause) => ApiError::Unavailable(cause),
            StoreError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> ApiError {
        ApiError::Validation(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_body_is_the_problem_without_its_field_list() {
        let problem = ApiError::validation("body", "must be \"quoted\"").problem();
        let full: serde_json::Value = serde_json::from_str(&problem.to_json()).unwrap_or_else(|e| panic!("{e}"));
        let minimal: serde_json::Value =
            serde_json::from_str(&problem.minimal_json()).unwrap_or_else(|e| panic!("{e}"));
        assert!(full["errors"].is_array());
        for field in ["type", "title", "status", "detail"] {
            assert_eq!(minimal[field], full[field], "{field}");
        }
        assert!(minimal.get("errors").is_none());
    }
}
