//! `GET /fhir/metadata`: the CapabilityStatement, listing exactly what `fhir::routes` serves.
//! It is the FHIR surface's documentation (the OpenAPI document covers `/api/v1` only).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::{profile, respond, FHIR_JSON, FHIR_VERSION};

/// One resource the facade serves: its type, the profile its instances claim, the interactions
/// and search parameters, and whether create may be conditional.
pub struct Supported {
    pub resource_type: &'static str,
    pub profile: Option<&'static str>,
    pub interactions: &'static [&'static str],
    /// (name, type, documentation).
    pub search: &'static [(&'static str, &'static str, &'static str)],
    pub conditional_create: bool,
    pub documentation: &'static str,
}

/// Everything the facade serves, in the order of the CapabilityStatement.
pub const SUPPORTED: &[Supported] = &[
    Supported {
        resource_type: "Encounter",
        profile: Some(profile::ENCOUNTER),
        interactions: &["create", "read"],
        search: &[],
        conditional_create: true,
        documentation: "An ED attendance (class EMER). Idempotent on Encounter.identifier; If-None-Exist: identifier=system|value names it.",
    },
    Supported {
        resource_type: "Questionnaire",
        profile: Some(profile::QUESTIONNAIRE),
        interactions: &["read"],
        search: &[],
        conditional_create: false,
        documentation: "The PAT, one per rule: pat-2009, pat-2004, sips-pat. linkIds are the JSON API's answer names.",
    },
    Supported {
        resource_type: "QuestionnaireResponse",
        profile: None,
        interactions: &["create"],
        search: &[],
        conditional_create: false,
        documentation: "A completed PAT for an Encounter; answered with the scored result as a UK Core Observation (not stored as a QuestionnaireResponse).",
    },
    Supported {
        resource_type: "Schedule",
        profile: Some(profile::SCHEDULE),
        interactions: &["search-type"],
        search: &[],
        conditional_create: false,
        documentation: "One per Alcohol Health Worker on the register; the id is the health worker's.",
    },
    Supported {
        resource_type: "Slot",
        profile: Some(profile::SLOT),
        interactions: &["search-type"],
        search: &[
            ("schedule", "reference", "Schedule/{id}: one health worker's slots"),
            ("status", "token", "free or busy"),
            ("start", "date", "ge/gt (default now) and le/lt (default 7 days on)"),
        ],
        conditional_create: false,
        documentation: "AHW availability.",
    },
    Supported {
        resource_type: "Appointment",
        profile: Some(profile::APPOINTMENT),
        interactions: &["create", "read", "search-type"],
        search: &[
            ("date", "date", "the Europe/London day of the appointments (default today, unless patient.identifier is given)"),
            ("patient.identifier", "token", "system|value (an NHS number, or a local number with its system): the patient's appointments on every day, or on date; patient links followed"),
        ],
        conditional_create: false,
        documentation: "A booking. Create: supportingInformation Encounter/{id}, slot[0] Slot/{id} (none: the earliest free in the window); the same rules and 409s as POST /api/v1/bookings.",
    },
];

/// When what the statement lists last changed (CapabilityStatement.date is required).
const STATEMENT_DATE: &str = "2026-12-06";

/// The CapabilityStatement.
pub fn statement() -> Value {
    let resources: Vec<Value> = SUPPORTED
        .iter()
        .map(|s| {
            let mut resource = json!({
                "type": s.resource_type,
                "documentation": s.documentation,
                "interaction": s.interactions.iter().map(|code| json!({ "code": code })).collect::<Vec<_>>(),
            });
            if let Some(profile) = s.profile {
                resource["supportedProfile"] = json!([profile]);
            }
            if s.interactions.contains(&"create") {
                resource["conditionalCreate"] = json!(s.conditional_create);
            }
            if !s.search.is_empty() {
                resource["searchParam"] = s
                    .search
                    .iter()
                    .map(|(name, kind, doc)| json!({ "name": name, "type": kind, "documentation": doc }))
                    .collect();
            }
            resource
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STATEMENT_DATE,
        "kind": "instance",
        "software": { "name": "pat-service", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "pat-service FHIR R4 facade (UK Core)" },
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": false,
                "description": "Bearer JWT, the same tokens and roles as /api/v1. metadata and Questionnaire read need none.",
            },
            "resource": resources,
        }],
    })
}

/// `GET /fhir/metadata` (no authentication: a client reads it before it has a token).
pub async fn metadata() -> HttpResponse {
    respond(StatusCode::OK, &statement())
}
