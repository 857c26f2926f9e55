//! Every error under `/fhir` as an R4 `OperationOutcome` with the same status the JSON API
//! would answer (docs/design.md §11). The app's error handler calls [`rewrite`] for a `/fhir`
//! path: whatever answered the error — the bearer-token extractor (401, 403), the JSON body
//! limit (413) or content type (415), an unknown route (404), a facade handler (404, 409, 422) —
//! wrote problem+json, and this reads that body and says the same thing as an OperationOutcome:
//! one issue per field, each with the field as its `expression`, and the problem's kind
//! (`slot-taken`, `idempotency-conflict`, …) as `details.coding`.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::{canonical, profile, FHIR_JSON};
use crate::error::PROBLEM_JSON;

/// The R4 IssueType for an HTTP status and problem kind.
fn issue_code(status: u16, kind: &str) -> &'static str {
    match (status, kind) {
        (400, _) => "structure",
        (401, _) => "login",
        (403, _) => "forbidden",
        (404, _) => "not-found",
        (405, _) | (415, _) => "not-supported",
        (409, "idempotency-conflict") => "duplicate",
        (409, _) => "conflict",
        (413, _) => "too-long",
        (422, "validation") => "invalid",
        (422, _) => "business-rule",
        (503, _) => "transient",
        _ => "exception",
    }
}

/// Whether a field name is an element of a resource (`Encounter.period.start`): it starts with
/// the resource type's capital. Search parameters (`start`), headers (`If-None-Exist`) and the
/// body as a whole (`body`) are named in the diagnostics instead.
fn is_expression(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && !name.contains('-')
}

/// The OperationOutcome saying what a problem+json body says.
pub fn from_problem(status: u16, problem: &Value) -> Value {
    let kind = problem["type"]
        .as_str()
        .and_then(|t| t.strip_prefix("urn:pat-service:problem:"))
        .unwrap_or("unknown");
    let detail = problem["detail"].as_str().unwrap_or("the request failed");
    let code = issue_code(status, kind);
    let details = json!({
        "coding": [{ "system": canonical("CodeSystem/problem"), "code": kind }],
        "text": problem["title"].as_str().unwrap_or("Error"),
    });
    let fields: Vec<&Value> = problem["errors"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let issues: Vec<Value> = if fields.is_empty() {
        vec![json!({ "severity": "error", "code": code, "details": details, "diagnostics": detail })]
    } else {
        fields
            .iter()
            .map(|field| {
                let message = field["message"].as_str().unwrap_or_default();
                let name = field["field"].as_str().unwrap_or_default();
                let code = if code == "invalid" && message.starts_with("required") {
                    "required"
                } else {
                    code
                };
                if is_expression(name) {
                    json!({
                        "severity": "error",
                        "code": code,
                        "details": details,
                        "diagnostics": message,
                        "expression": [name],
                    })
                } else {
                    // A search parameter, a header or the body as a whole: not an element.
                    json!({
                        "severity": "error",
                        "code": code,
                        "details": details,
                        "diagnostics": format!("{name}: {message}"),
                    })
                }
            })
            .collect()
    };
    json!({
        "resourceType": "OperationOutcome",
        "meta": { "profile": [profile::OPERATION_OUTCOME] },
        "issue": issues,
    })
}

/// An error response under `/fhir`, its body rewritten as an OperationOutcome (status and other
/// headers kept). A body that is not problem+json (actix's own plain errors) is described by its
/// status alone.
pub async fn rewrite<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    let (request, old) = response.into_parts();
    let status = old.status();
    let is_problem = old
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let headers = old.headers().clone();
    let problem = if is_problem {
        actix_web::body::to_bytes(old.into_body())
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let problem = if problem.is_object() {
        problem
    } else {
        json!({
            "type": "urn:pat-service:problem:http",
            "title": status.canonical_reason().unwrap_or("Error"),
            "detail": status.canonical_reason().unwrap_or("the request failed"),
        })
    };
    let body = from_problem(status.as_u16(), &problem).to_string();
    let mut new = HttpResponse::with_body(status, BoxBody::new(body));
    for (name, value) in headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    new.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    Ok(ServiceResponse::new(request, new).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_of_a_problem_is_an_issue_with_its_expression() {
        let problem = json!({
            "type": "urn:pat-service:problem:validation",
            "title": "Invalid request",
            "status": 422,
            "detail": "invalid or missing: a, b",
            "errors": [
                { "field": "Encounter.period.start", "message": "must not be in the future" },
                { "field": "Encounter.identifier", "message": "required: the sender's id" },
            ],
        });
        let outcome = from_problem(422, &problem);
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert_eq!(outcome["issue"][0]["code"], "invalid");
        assert_eq!(outcome["issue"][0]["expression"][0], "Encounter.period.start");
        assert_eq!(outcome["issue"][1]["code"], "required");
        assert_eq!(outcome["issue"][1]["details"]["coding"][0]["code"], "validation");
    }

    #[test]
    fn a_problem_without_fields_is_one_issue_with_its_detail() {
        let problem = json!({ "type": "urn:pat-service:problem:slot-taken", "title": "Conflict", "detail": "taken" });
        let outcome = from_problem(409, &problem);
        assert_eq!(outcome["issue"].as_array().map(Vec::len), Some(1));
        assert_eq!(outcome["issue"][0]["code"], "conflict");
        assert_eq!(outcome["issue"][0]["diagnostics"], "taken");
        assert!(outcome["issue"][0].get("expression").is_none());
    }

    #[test]
    fn a_field_that_is_not_an_element_is_named_in_the_diagnostics() {
        let problem = json!({ "type": "urn:pat-service:problem:bad-request", "title": "Bad request", "detail": "d",
            "errors": [{ "field": "If-None-Exist", "message": "must be identifier=system|value" }] });
        let outcome = from_problem(400, &problem);
        assert!(outcome["issue"][0].get("expression").is_none());
        assert_eq!(
            outcome["issue"][0]["diagnostics"],
            "If-None-Exist: must be identifier=system|value"
        );
    }
}
