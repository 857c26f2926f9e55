//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`s. `openapi/openapi.json`
//! is this document, committed; a test fails when they differ (docs/style.md §9).

use std::sync::OnceLock;

use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pat-service",
        description = "Paddington Alcohol Test pathway for Emergency Departments: record attendances \
and PAT screenings, book Alcohol Health Worker appointments, and report referral and reattendance \
figures. Every `/api/v1` call needs `Authorization: Bearer <JWT>` with a `roles` claim \
(`clinician`, `integration`, `ahw`, `auditor`, `admin`). Errors are `application/problem+json` \
(RFC 9457). Sex for the PAT threshold: `male` uses the male threshold; `female`, `other` and \
`unknown` use the lower (female) threshold, the conservative choice."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "attendances", description = "ED attendances: is the PAT indicated?"),
        (name = "patients", description = "The patient registry: identifiers, PDS traces and EPR merges"),
        (name = "screening", description = "The PAT and its result"),
        (name = "audit", description = "Who read or changed whose records"),
        (name = "statistics", description = "Figures for audit teams (docs/domain.md §7), no patient identifiers; \
`disclosure=nhs` applies NHS small-number suppression"),
        (name = "operations", description = "Health and metrics, no token"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document utoipa generates from the same registration the server uses.
fn generated() -> utoipa::openapi::OpenApi {
    let app = actix_web::App::new().into_utoipa_app().openapi(ApiDoc::openapi());
    let (_, document) = crate::api::routes(app).split_for_parts();
    document
}

/// The document served at `/api-docs/openapi.json` and committed as `openapi/openapi.json`: the
/// generated one with what the derives cannot say added here, in one place ([`CONSTRAINTS`] and
/// [`LINKS`]): cross-field rules (`oneOf`, `anyOf`, `if`/`then`), lengths of trimmed text, and
/// response links for stateful clients and fuzzers.
pub fn document() -> Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let mut document = serde_json::to_value(generated()).unwrap_or_else(|error| {
                tracing::error!(error.cause = %error, "the OpenAPI document could not be serialised");
                Value::Null
            });
            for (pointer, patch) in constraints() {
                merge(&mut document, &pointer, patch);
            }
            slot_forms(&mut document);
            add_links(&mut document);
            document
        })
        .clone()
}

/// The document as committed in `openapi/openapi.json` (pretty, with a final newline).
pub fn document_json() -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&document()).map(|mut s| {
        s.push('\n');
        s
    })
}

/// A character that is not white space as Rust's `str::trim` sees it (the Unicode `White_Space`
/// property): a text field the service trims must contain one (`text_field`, `Reason`).
const NOT_BLANK: &str = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// Trimmed free text of 1 to `max` characters (`api::text_field`, `domain::Reason`).
fn text(max: usize) -> Value {
    json!({ "minLength": 1, "maxLength": max, "pattern": NOT_BLANK })
}

/// A property that is given (not absent, not `null`) with `schema`.
fn given(field: &str, schema: Value) -> Value {
    json!({ "required": [field], "properties": { field: schema } })
}

/// A property that is absent or `null`.
fn not_given(field: &str) -> Value {
    json!({ "properties": { field: { "type": "null" } } })
}

fn schema(name: &str) -> String {
    format!("/components/schemas/{name}")
}

fn property(name: &str, field: &str) -> String {
    format!("/components/schemas/{name}/properties/{field}")
}

/// The rules the handlers and the domain check that JSON Schema can say and the derives do not:
/// (JSON pointer, keywords merged into the object there). A rule that needs the stored state or
/// the clock (`to` after `from`, not in the future) is not here; see
/// `.ci/schemathesis-baseline.json`.
fn constraints() -> Vec<(String, Value)> {
    let statuses_except_booked = json!({
        "type": "string",
        "enum": ["attended", "did_not_attend", "cancelled"],
        "description": "`attended`, `did_not_attend` or `cancelled` (a booking is `booked` until then).",
    });
    let units = json!({ "minimum": 0 });
    let seen_in_department = [
        ("health_worker_id", "string"),
        ("brief_intervention_delivered", "boolean"),
        ("units_per_week", "number"),
    ];
    vec![
        // Attendances (`CreateAttendance::into_new`).
        (property("CreateAttendance", "source_system"), text(100)),
        (property("CreateAttendance", "source_id"), text(200)),
        (property("CreateAttendance", "site"), text(100)),
        (property("CreateAttendance", "presenting_condition_detail"), text(500)),
        (property("PatientInput", "local_id"), text(64)),
        (
            property("PatientInput", "local_id_system"),
            json!({ "minLength": 1, "maxLength": 64, "pattern": format!("^[^:]*{}[^:]*$", &NOT_BLANK.replacen("[^", "[^:", 1)) }),
        ),
        (
            schema("PatientInput"),
            json!({
                "anyOf": [given("nhs_number", json!({ "type": "string" })), given("local_id", json!({ "type": "string" }))],
                "if": given("local_id_system", json!({ "type": "string" })),
                "then": given("local_id", json!({ "type": "string" })),
            }),
        ),
        // Reasons (`domain::Reason`).
        (property("EnteredInErrorRequest", "reason"), text(500)),
        (property("LinkRequest", "reason"), text(500)),
        (property("UnlinkRequest", "reason"), text(500)),
        (property("RecordReferralRequest", "reason"), text(500)),
        (property("RecordOutcome", "correction_reason"), text(500)),
        // Links: an NHS number or a patient, and the trace status only with the NHS number.
        (property("LinkRequest", "trace_status"), json!({ "enum": ["01", null] })),
        (
            schema("LinkRequest"),
            json!({
                "oneOf": [
                    { "allOf": [given("nhs_number", json!({ "type": "string" })), not_given("patient_id")] },
                    { "allOf": [given("patient_id", json!({ "type": "string" })), not_given("nhs_number"), not_given("trace_status")] },
                ],
            }),
        ),
        // The AHW register (`CreateHealthWorker::into_new`).
        (property("CreateHealthWorker", "name"), text(100)),
        (property("CreateHealthWorker", "staff_id"), text(50)),
        (property("CreateHealthWorker", "subject"), text(200)),
        // Screening: answers exactly when completed (`ScreeningInput::new`).
        (
            schema("RecordScreeningRequest"),
            json!({
                "if": { "properties": { "status": { "const": "completed" } } },
                "then": given("answers", json!({ "type": "object" })),
                "else": not_given("answers"),
            }),
        ),
        // Referral decisions (`referral_details`): the seen-in-department details exactly with
        // `seen_in_department`.
        (property("RecordReferralRequest", "units_per_week"), units.clone()),
        (
            schema("RecordReferralRequest"),
            json!({
                "if": { "properties": { "decision": { "const": "seen_in_department" } } },
                "then": { "allOf": seen_in_department.iter().map(|(f, t)| given(f, json!({ "type": t }))).collect::<Vec<_>>() },
                "else": { "allOf": seen_in_department.iter().map(|(f, _)| not_given(f)).collect::<Vec<_>>() },
            }),
        ),
        // Follow-ups (`FollowUpContact::new`).
        (property("FollowUpRequest", "months"), json!({ "enum": [6, 12] })),
        (property("FollowUpRequest", "units_per_week"), units.clone()),
        // Outcomes (`Outcome::new`, `RecordOutcome::into_recording`).
        (property("RecordOutcome", "status"), statuses_except_booked),
        (property("RecordOutcome", "units_per_week"), units),
        (property("RecordOutcome", "reason"), json!({ "maxLength": 500 })),
        (
            schema("RecordOutcome"),
            json!({
                "allOf": [
                    {
                        "if": { "properties": { "status": { "const": "attended" } } },
                        "then": given("brief_intervention_delivered", json!({ "type": "boolean" })),
                        "else": { "allOf": [not_given("brief_intervention_delivered"), not_given("units_per_week")] },
                    },
                    {
                        "if": { "properties": { "status": { "const": "cancelled" } } },
                        "else": not_given("reason"),
                    },
                    {
                        "if": given("correction_reason", json!({ "type": "string" })),
                        "then": given("corrects", json!({ "const": true })),
                    },
                ],
            }),
        ),
        // Slots: one slot or a rota (`requested_slots`, `Rota::slots`).
        (
            property("PublishSlots", "slot_minutes"),
            json!({ "minimum": 5, "maximum": 240 }),
        ),
        (property("PublishSlots", "weekdays"), json!({ "minItems": 1 })),
        (property("PublishSlots", "day_start"), json!({ "pattern": CLOCK_TIME })),
        (property("PublishSlots", "day_end"), json!({ "pattern": CLOCK_TIME })),
    ]
}

/// `HH:MM` as chrono's `%H:%M` reads it (one or two digits each).
const CLOCK_TIME: &str = "^([01]?[0-9]|2[0-3]):[0-5]?[0-9]$";

/// The fields of each way to publish slots (`requested_slots`): one slot, or a rota.
const SLOT_FORMS: [(&str, &[&str]); 2] = [
    ("One slot", &["health_worker_id", "starts_at", "ends_at"]),
    (
        "A rota",
        &[
            "health_worker_id",
            "from_date",
            "to_date",
            "weekdays",
            "day_start",
            "day_end",
            "slot_minutes",
        ],
    ),
];

/// Inserts `patch`'s keys into the object at `pointer` (nested objects merged key by key). A
/// pointer that names nothing is a bug in the tables above: the document check fails on it.
fn merge(document: &mut Value, pointer: &str, patch: Value) {
    fn merge_into(target: &mut Value, patch: Value) {
        match (target, patch) {
            (Value::Object(target), Value::Object(patch)) => {
                for (key, value) in patch {
                    match target.get_mut(&key) {
                        Some(existing) if existing.is_object() && value.is_object() => merge_into(existing, value),
                        _ => {
                            target.insert(key, value);
                        }
                    }
                }
            }
            (target, patch) => *target = patch,
        }
    }
    match document.pointer_mut(pointer) {
        Some(target) => merge_into(target, patch),
        None => {
            tracing::error!(pointer, "an OpenAPI constraint names nothing");
            if let Some(object) = document.as_object_mut() {
                object.insert("x-unmatched-constraint".into(), pointer.into());
            }
        }
    }
}
/// `PublishSlots` as `oneOf` its [`SLOT_FORMS`], each with its own fields (from the generated
/// properties, made non-null), all of them required and no others.
fn slot_forms(document: &mut Value) {
    let pointer = schema("PublishSlots");
    let Some(original) = document.pointer(&pointer).cloned() else {
        merge(document, &pointer, Value::Null);
        return;
    };
    let forms: Vec<Value> = SLOT_FORMS
        .iter()
        .map(|(title, fields)| {
            let properties: serde_json::Map<String, Value> = fields
                .iter()
                .map(|field| {
                    let schema = original["properties"][*field].clone();
                    ((*field).to_owned(), non_null(schema))
                })
                .collect();
            json!({
                "type": "object",
                "title": title,
                "required": fields,
                "properties": properties,
                "additionalProperties": false,
            })
        })
        .collect();
    if let Some(target) = document.pointer_mut(&pointer) {
        *target = json!({ "description": original["description"], "oneOf": forms });
    }
}

/// A property schema without its `null` alternative: `["string", "null"]` → `"string"`,
/// `oneOf: [null, X]` → `X`.
fn non_null(mut schema: Value) -> Value {
    if let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) {
        let rest: Vec<Value> = alternatives
            .iter()
            .filter(|a| a.get("type") != Some(&json!("null")))
            .cloned()
            .collect();
        if rest.len() == 1 {
            return rest.into_iter().next().unwrap_or(Value::Null);
        }
    }
    if let Some(types) = schema.get("type").and_then(Value::as_array) {
        let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        schema["type"] = if rest.len() == 1 {
            rest[0].clone()
        } else {
            Value::Array(rest)
        };
    }
    schema
}

/// (from operationId, link name, to operationId, parameters, request body field).
type Link = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    Option<(&'static str, &'static str)>,
);

/// Response links (OpenAPI 3.1 §4.8.20): from an operation's answer to the operations that take
/// the id it made, so a client (or Schemathesis' stateful phase) can chain attendance → screening
/// → referral → booking → outcome. (from operationId, link name, to operationId, parameters,
/// request body.)
const LINKS: &[Link] = &[
    (
        "createAttendance",
        "GetAttendance",
        "getAttendance",
        &[("id", "$response.body#/id")],
        None,
    ),
    (
        "createAttendance",
        "RecordScreening",
        "recordScreening",
        &[("id", "$response.body#/id")],
        None,
    ),
    (
        "createAttendance",
        "MarkEnteredInError",
        "markAttendanceEnteredInError",
        &[("id", "$response.body#/id")],
        None,
    ),
    (
        "createAttendance",
        "GetPatient",
        "getPatient",
        &[("id", "$response.body#/patient/id")],
        None,
    ),
    (
        "recordScreening",
        "GetAttendance",
        "getAttendance",
        &[("id", "$request.path.id")],
        None,
    ),
    (
        "recordScreening",
        "RecordReferral",
        "recordReferral",
        &[("id", "$request.path.id")],
        None,
    ),
    (
        "recordReferral",
        "CreateBooking",
        "createBooking",
        &[],
        Some(("attendance_id", "$request.path.id")),
    ),
    (
        "recordReferral",
        "RecordFollowUp",
        "recordFollowUp",
        &[("id", "$request.path.id")],
        None,
    ),
    (
        "createBooking",
        "GetBooking",
        "getBooking",
        &[("id", "$response.body#/id")],
        None,
    ),
    (
        "createBooking",
        "RecordOutcome",
        "recordOutcome",
        &[("id", "$response.body#/id")],
        None,
    ),
    (
        "recordOutcome",
        "GetBooking",
        "getBooking",
        &[("id", "$request.path.id")],
        None,
    ),
    (
        "recordOutcome",
        "RecordFollowUp",
        "recordFollowUp",
        &[("id", "$response.body#/attendance_id")],
        None,
    ),
    (
        "publishSlots",
        "WithdrawSlot",
        "withdrawSlot",
        &[("id", "$response.body#/slots/0/id")],
        None,
    ),
    (
        "publishSlots",
        "BookSlot",
        "createBooking",
        &[],
        Some(("slot_id", "$response.body#/slots/0/id")),
    ),
    (
        "createHealthWorker",
        "ListSlots",
        "listSlots",
        &[("health_worker_id", "$response.body#/id")],
        None,
    ),
    (
        "createHealthWorker",
        "ListBookings",
        "listBookings",
        &[("health_worker_id", "$response.body#/id")],
        None,
    ),
    (
        "getAttendance",
        "GetPatient",
        "getPatient",
        &[("id", "$response.body#/patient/id")],
        None,
    ),
    (
        "getPatient",
        "LinkPatient",
        "linkPatient",
        &[("id", "$request.path.id")],
        None,
    ),
    (
        "getPatient",
        "UnlinkPatient",
        "unlinkPatient",
        &[("id", "$request.path.id")],
        None,
    ),
];

/// Adds [`LINKS`] to every 200 and 201 answer of their operation.
fn add_links(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for operation in item.values_mut() {
            let Some(id) = operation.get("operationId").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                if status != "200" && status != "201" {
                    continue;
                }
                for (from, name, to, parameters, body) in LINKS {
                    if *from != id {
                        continue;
                    }
                    let mut link = json!({ "operationId": to });
                    if !parameters.is_empty() {
                        link["parameters"] = parameters.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
                    }
                    if let Some((field, expression)) = body {
                        link["requestBody"] = json!({ *field: expression });
                    }
                    response["links"][*name] = link;
                }
            }
        }
    }
}

/// The `Allow` header of a 405 for `path` (RFC 9110 §15.5.6): the methods the document lists for
/// the path template it matches (`{id}` matches any one segment), upper case. `None` when no
/// documented path matches (the Swagger UI's own routes, which are GET only).
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    static TABLE: OnceLock<Vec<(Vec<String>, String)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let document = document();
        let Some(paths) = document.get("paths").and_then(Value::as_object) else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|(template, item)| {
                let segments = template.split('/').map(str::to_owned).collect();
                let methods = ["get", "put", "post", "delete", "patch"]
                    .iter()
                    .filter(|method| item.get(**method).is_some())
                    .map(|method| method.to_uppercase())
                    .collect::<Vec<_>>()
                    .join(", ");
                (segments, methods)
            })
            .collect()
    });
    let wanted: Vec<&str> = path.split('/').collect();
    table
        .iter()
        .find(|(segments, _)| {
            segments.len() == wanted.len()
                && segments.iter().zip(&wanted).all(|(template, segment)| {
                    template == segment || (template.starts_with('{') && template.ends_with('}') && !segment.is_empty())
                })
        })
        .map(|(_, methods)| methods.as_str())
}
