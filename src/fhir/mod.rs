//! The FHIR R4 facade under `/fhir` (issue 12 §2, docs/design.md §11): the same attendances,
//! screenings and bookings as `/api/v1`, spoken as UK Core resources. A handler parses the FHIR
//! resource, builds the JSON API's request type, calls the function the JSON handler calls and
//! renders the answer as FHIR: no rule and no SQL of its own.
//!
//! Every error under `/fhir` is an `OperationOutcome` (`outcome`): the app's error handler turns
//! the problem+json every extractor and handler answers into one, so 401, 403, 413 and 415 come
//! out the same as the facade's own 404, 409 and 422.
//!
//! Resources are plain serde structs and `serde_json` values (`resources`), not an R4 model
//! crate: the facade reads and writes seven resource types (docs/design.md §11 says why).

pub mod capability;
pub mod encounter;
pub mod outcome;
pub mod questionnaire;
pub mod resources;
pub mod scheduling;
pub mod screening;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::de::DeserializeOwned;

use crate::api::parse_body;
use crate::domain::FieldError;
use crate::error::ApiError;

/// The media type of every FHIR body the facade sends.
pub const FHIR_JSON: &str = "application/fhir+json";

/// The canonical base of the service's own definitions (Questionnaires, code systems,
/// identifier systems). A placeholder until the trust registers its own: it names, it is not
/// fetched (docs/design.md §11).
pub const CANONICAL_BASE: &str = "https://pat-service.nhs.uk/fhir/";

/// The path prefix the facade is served under.
pub const PREFIX: &str = "/fhir";

/// The FHIR version the facade speaks.
pub const FHIR_VERSION: &str = "4.0.1";

/// UK Core profiles the emitted resources claim (NHS England's UK Core R4 package).
pub mod profile {
    pub const ENCOUNTER: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter";
    pub const OBSERVATION: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation";
    pub const QUESTIONNAIRE: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Questionnaire";
    pub const APPOINTMENT: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment";
    pub const SLOT: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Slot";
    pub const SCHEDULE: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Schedule";
    pub const OPERATION_OUTCOME: &str = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome";
}

/// `{CANONICAL_BASE}{path}`.
pub fn canonical(path: &str) -> String {
    format!("{CANONICAL_BASE}{path}")
}

/// Whether a request path is under the facade (its errors answer `OperationOutcome`).
pub fn is_fhir_path(path: &str) -> bool {
    path == PREFIX || path.starts_with("/fhir/")
}

/// Every `/fhir` route. Plain actix routes, not utoipa's: the FHIR surface is described by its
/// CapabilityStatement (`GET /fhir/metadata`), not by the OpenAPI document.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(
        web::scope(PREFIX)
            .route("/metadata", web::get().to(capability::metadata))
            .route("/Questionnaire/{id}", web::get().to(questionnaire::read))
            .route("/Encounter", web::post().to(encounter::create))
            .route("/Encounter/{id}", web::get().to(encounter::read))
            .route("/QuestionnaireResponse", web::post().to(screening::create))
            .route("/Schedule", web::get().to(scheduling::schedules))
            .route("/Slot", web::get().to(scheduling::slots))
            .route("/Appointment", web::get().to(scheduling::appointments))
            .route("/Appointment", web::post().to(scheduling::book))
            .route("/Appointment/{id}", web::get().to(scheduling::appointment_read)),
    );
}

/// The methods `routes` serves at a path, for the `Allow` header of a 405 (`None`: not a
/// facade path).
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/fhir/")?;
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["metadata"] | ["Questionnaire", _] | ["Encounter", _] | ["Schedule"] | ["Slot"] | ["Appointment", _] => {
            Some("GET")
        }
        ["Encounter"] | ["QuestionnaireResponse"] => Some("POST"),
        ["Appointment"] => Some("GET, POST"),
        _ => None,
    }
}

/// A FHIR body with its status.
pub fn respond(status: StatusCode, resource: &serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(FHIR_JSON)
        .body(resource.to_string())
}

/// Parses a resource of `resource_type` from a JSON body: the wrong `resourceType` or a value of
/// the wrong shape is a 422 whose field is a FHIRPath-like expression (`Encounter.period.start`).
pub fn parse_resource<T: DeserializeOwned>(resource_type: &str, value: serde_json::Value) -> Result<T, ApiError> {
    let sent = value.get("resourceType").and_then(|v| v.as_str()).unwrap_or_default();
    if sent != resource_type {
        return Err(ApiError::validation(
            format!("{resource_type}.resourceType"),
            format!("must be {resource_type}"),
        ));
    }
    parse_body(value).map_err(|error| rename_fields(error, |field| expression(resource_type, field)))
}

/// `Encounter` + `period.start` → `Encounter.period.start`; `body` → `Encounter`.
fn expression(resource_type: &str, field: &str) -> String {
    match field {
        "body" | "." | "" => resource_type.to_owned(),
        path => format!("{resource_type}.{}", path.trim_start_matches('.')),
    }
}

/// Renames the fields of a 4xx error's field list (the JSON API's names → FHIR expressions).
pub fn rename_fields(error: ApiError, rename: impl Fn(&str) -> String) -> ApiError {
    rename_issues(error, |e| FieldError::new(rename(&e.field), e.message))
}

/// Rewrites each field of a 4xx error's field list, name and message: a message written with
/// the JSON API's field names says it in the FHIR element's words.
pub fn rename_issues(error: ApiError, rename: impl Fn(FieldError) -> FieldError) -> ApiError {
    let renamed = |errors: Vec<FieldError>| -> Vec<FieldError> { errors.into_iter().map(&rename).collect() };
    match error {
        ApiError::Validation(errors) => ApiError::Validation(renamed(errors)),
        ApiError::Rule { kind, detail, errors } => ApiError::Rule {
            kind,
            detail,
            errors: renamed(errors),
        },
        ApiError::BadRequest { detail, errors } => ApiError::BadRequest {
            detail,
            errors: renamed(errors),
        },
        other => other,
    }
}

/// A `Resource/{uuid}` reference's id; `field` names the element for the 422.
pub fn reference_id(field: &str, resource_type: &str, reference: Option<&str>) -> Result<uuid::Uuid, ApiError> {
    let Some(reference) = reference else {
        return Err(ApiError::validation(field, format!("required: {resource_type}/{{id}}")));
    };
    let id = reference.strip_prefix(&format!("{resource_type}/")).or_else(|| {
        reference
            .split_once(&format!("/fhir/{resource_type}/"))
            .map(|(_, id)| id)
    });
    id.and_then(|id| uuid::Uuid::parse_str(id).ok()).ok_or_else(|| {
        ApiError::validation(
            field,
            format!("must be {resource_type}/{{id}} with an id this service gave"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_names_its_resource_and_an_id_the_service_gave() {
        let id = "0190f0e2-0000-7000-8000-000000000001";
        let parsed = |r: &str| reference_id("x", "Encounter", Some(r)).ok();
        assert_eq!(
            parsed(&format!("Encounter/{id}")).map(|u| u.to_string()).as_deref(),
            Some(id)
        );
        assert_eq!(
            parsed(&format!("https://ed.example/fhir/Encounter/{id}"))
                .map(|u| u.to_string())
                .as_deref(),
            Some(id)
        );
        assert_eq!(parsed(&format!("Patient/{id}")), None);
        assert_eq!(parsed("Encounter/42"), None);
        assert!(reference_id("x", "Encounter", None).is_err());
    }
}
