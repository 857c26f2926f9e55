//! `POST /fhir/Encounter` (record an ED attendance) and `GET /fhir/Encounter/{id}`.
//!
//! The Encounter becomes the JSON API's `CreateAttendance` and goes through `record_attendance`,
//! the one entry point every channel uses: the same validation, repeat-attender rule, audit
//! events and idempotency. `Encounter.identifier` (system, value) is the idempotency key
//! (`source_system`, `source_id`): the first time 201, the same content again 200 with the same
//! id, different content 409. A conditional create's `If-None-Exist: identifier=system|value`
//! must name that identifier; it asks for exactly what the key already gives.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::resources::{coding, meta, CodeableConcept, Coding, ContainedPatient, Identifier, Period, Reference};
use super::{canonical, parse_resource, profile, reference_id, rename_issues, respond, PREFIX};
use crate::api::attendances::{
    idempotency_conflict, record_attendance, CreateAttendance, PatientInput, ReadAttendance, RecordAttendance,
};
use crate::api::views::{AttendanceView, PatientView, RecordStatus};
use crate::api::AppState;
use crate::auth::Authorized;
use crate::domain::eligibility::PresentingCondition;
use crate::domain::nhs_number::NhsNumber;
use crate::domain::pat::Sex;
use crate::domain::patient::{patient_key, LOCAL_ID_SYSTEM_FORBIDDEN};
use crate::error::ApiError;
use crate::store::Recorded;

/// `https://fhir.nhs.uk/Id/nhs-number` (docs/domain.md §9).
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// The class every ED attendance has.
pub const ACT_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const SNOMED: &str = "http://snomed.info/sct";

/// A local number in one namespace (no assigning system): `{base}Id/local-number`. A local
/// number from a named system uses that system's own `https://` URI, which becomes
/// `local_id_system` without its scheme.
pub fn local_number_system() -> String {
    canonical("Id/local-number")
}

/// The code system of the PAT's presenting conditions (docs/domain.md §2).
pub fn condition_system() -> String {
    canonical("CodeSystem/pat-presenting-condition")
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct EncounterIn {
    #[serde(default)]
    identifier: Vec<Identifier>,
    #[serde(default)]
    class: Option<Coding>,
    #[serde(default)]
    subject: Option<Reference>,
    #[serde(default)]
    period: Option<Period>,
    #[serde(default)]
    reason_code: Vec<CodeableConcept>,
    #[serde(default)]
    service_provider: Option<Reference>,
    /// Only a contained `Patient` is read (the subject, by `#id`).
    #[serde(default)]
    contained: Vec<Value>,
}

/// Where each of the JSON API's fields came from in the Encounter, so a 422 names the element
/// the sender wrote.
struct Origins {
    patient: String,
    nhs_number: String,
    local_id: String,
    sex: String,
    date_of_birth: String,
}

impl Origins {
    fn expression(&self, field: &str) -> String {
        match field {
            "source_system" => "Encounter.identifier[0].system".into(),
            "source_id" => "Encounter.identifier[0].value".into(),
            "patient" => self.patient.clone(),
            "patient.nhs_number" => self.nhs_number.clone(),
            "patient.local_id" | "patient.local_id_system" => self.local_id.clone(),
            "patient.sex" => self.sex.clone(),
            "patient.date_of_birth" => self.date_of_birth.clone(),
            "arrived_at" => "Encounter.period.start".into(),
            "presenting_condition" | "presenting_condition_snomed" => "Encounter.reasonCode".into(),
            "presenting_condition_detail" => "Encounter.reasonCode[0].text".into(),
            "site" => "Encounter.serviceProvider.identifier.value".into(),
            other => format!("Encounter.{other}"),
        }
    }

    /// The JSON API's problem with `field` as the Encounter's: the element as its expression,
    /// and a message that names FHIR elements, not the JSON API's fields.
    fn issue(&self, error: crate::domain::FieldError) -> crate::domain::FieldError {
        let message = match (error.field.as_str(), error.message.as_str()) {
            ("presenting_condition", m) if m.starts_with("give ") => format!(
                "give reasonCode: a SNOMED CT chief complaint ({SNOMED}) or a PAT presenting condition ({}), or both",
                condition_system()
            ),
            ("patient", m) if m.starts_with("give ") => {
                format!("give the patient's identifier: an NHS number ({NHS_NUMBER_SYSTEM}) or a local number, or both")
            }
            ("patient.local_id_system", "must not contain ':'") => {
                "the https URI of the system that assigned the local number must not contain ':' after https://".into()
            }
            _ => error.message.clone(),
        };
        crate::domain::FieldError::new(self.expression(&error.field), message)
    }
}

/// The patient's identifiers: NHS number, and a local number with its system. `at` is the
/// element they were read from; `indexed` when it is a list.
fn patient_from_identifiers(
    identifiers: &[Identifier],
    at: &str,
    indexed: bool,
    errors: &mut Vec<crate::domain::FieldError>,
) -> PatientInput {
    let mut patient = PatientInput {
        nhs_number: None,
        local_id: None,
        local_id_system: None,
        sex: None,
        date_of_birth: None,
    };
    let local = local_number_system();
    for (i, identifier) in identifiers.iter().enumerate() {
        let at = if indexed { format!("{at}[{i}]") } else { at.to_owned() };
        let system = identifier.system.as_deref().unwrap_or_default();
        let value = identifier.value.clone();
        if system == NHS_NUMBER_SYSTEM {
            patient.nhs_number = value;
        } else if system == local {
            patient.local_id = value;
        } else if let Some(rest) = system.strip_prefix("https://").filter(|rest| !rest.is_empty()) {
            patient.local_id = value;
            patient.local_id_system = Some(rest.to_owned());
        } else {
            errors.push(crate::domain::FieldError::new(
                format!("{at}.system"),
                format!(
                    "must be {NHS_NUMBER_SYSTEM}, {local}, or the https URI of the system that assigned a local number"
                ),
            ));
        }
    }
    patient
}

/// The patient key (docs/domain.md §9, [`patient_key`]) of one identifier as an Encounter's
/// subject gives it: the NHS number system (the number checked and written without separators),
/// the local number system (no assigning system), or the `https://` URI of the system that
/// assigned a local number (`local_id_system` without its scheme, as `patient_from_identifiers`
/// reads it). The message says what is wrong with `system|value`.
pub fn identifier_key(system: &str, value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("must be system|value, with a value".into());
    }
    let local = local_number_system();
    let key = if system == NHS_NUMBER_SYSTEM {
        let number = NhsNumber::parse(value).map_err(|e| format!("the NHS number {e}"))?;
        patient_key(Some(number.as_str()), None, None)
    } else if system == local {
        patient_key(None, Some(value), None)
    } else if let Some(rest) = system.strip_prefix("https://").filter(|rest| !rest.is_empty()) {
        if rest.contains(LOCAL_ID_SYSTEM_FORBIDDEN) {
            return Err("the assigning system's URI must not contain ':' after https://".into());
        }
        patient_key(None, Some(value), Some(rest))
    } else {
        None
    };
    key.ok_or_else(|| {
        format!("the system must be {NHS_NUMBER_SYSTEM}, {local}, or the https URI of the system that assigned a local number")
    })
}

impl EncounterIn {
    /// The JSON API's request, and where each field came from.
    fn into_create(self) -> Result<(CreateAttendance, Origins), ApiError> {
        use crate::domain::FieldError;
        let mut errors = Vec::new();
        let identifier = self.identifier.first().cloned().unwrap_or_default();
        if self.identifier.is_empty() {
            errors.push(FieldError::new(
                "Encounter.identifier",
                "required: the sending system's id for this attendance (system and value)",
            ));
        } else if identifier.system.is_none() {
            errors.push(FieldError::new("Encounter.identifier[0].system", "required"));
        }
        let emergency = self
            .class
            .as_ref()
            .is_some_and(|c| c.system.as_deref() == Some(ACT_CODE_SYSTEM) && c.code.as_deref() == Some("EMER"));
        if !emergency {
            errors.push(FieldError::new(
                "Encounter.class",
                format!("must be {ACT_CODE_SYSTEM} EMER (an emergency attendance)"),
            ));
        }
        let subject = self.subject.unwrap_or_default();
        let mut origins = Origins {
            patient: "Encounter.subject".into(),
            nhs_number: "Encounter.subject.identifier.value".into(),
            local_id: "Encounter.subject.identifier".into(),
            sex: "Encounter.subject".into(),
            date_of_birth: "Encounter.subject".into(),
        };
        let patient = match (&subject.reference, &subject.identifier) {
            (Some(reference), _) if reference.starts_with('#') => {
                let id = &reference[1..];
                let found =
                    self.contained.iter().enumerate().find(|(_, resource)| {
                        resource["resourceType"] == "Patient" && resource["id"].as_str() == Some(id)
                    });
                match found {
                    None => {
                        errors.push(FieldError::new(
                            "Encounter.subject.reference",
                            "must name a contained Patient by #id",
                        ));
                        None
                    }
                    Some((index, resource)) => {
                        let at = format!("Encounter.contained[{index}]");
                        match serde_json::from_value::<ContainedPatient>(resource.clone()) {
                            Err(e) => {
                                errors.push(FieldError::new(at.clone(), e.to_string()));
                                None
                            }
                            Ok(contained) => {
                                origins = Origins {
                                    patient: format!("{at}.identifier"),
                                    nhs_number: format!("{at}.identifier"),
                                    local_id: format!("{at}.identifier"),
                                    sex: format!("{at}.gender"),
                                    date_of_birth: format!("{at}.birthDate"),
                                };
                                let mut patient = patient_from_identifiers(
                                    &contained.identifier,
                                    &format!("{at}.identifier"),
                                    true,
                                    &mut errors,
                                );
                                patient.date_of_birth = contained.birth_date;
                                match contained.gender.as_deref().map(|g| (g, Sex::from_code(g))) {
                                    None => {}
                                    Some((_, Some(sex))) => patient.sex = Some(sex),
                                    Some((_, None)) => errors.push(FieldError::new(
                                        format!("{at}.gender"),
                                        "must be male, female, other or unknown",
                                    )),
                                }
                                Some(patient)
                            }
                        }
                    }
                }
            }
            (None, Some(identifier)) => Some(patient_from_identifiers(
                std::slice::from_ref(identifier),
                "Encounter.subject.identifier",
                false,
                &mut errors,
            )),
            _ => {
                errors.push(FieldError::new(
                    "Encounter.subject",
                    format!("give the patient by identifier ({NHS_NUMBER_SYSTEM}, or a local number) or as a contained Patient (#id)"),
                ));
                None
            }
        };
        let arrived_at = self.period.and_then(|p| p.start);
        if arrived_at.is_none() {
            errors.push(FieldError::new(
                "Encounter.period.start",
                "required: the arrival time, with its offset",
            ));
        }
        let mut presenting_condition = None;
        let mut snomed = None;
        for (i, concept) in self.reason_code.iter().enumerate() {
            for (j, coding) in concept.coding.iter().enumerate() {
                match (coding.system.as_deref(), coding.code.as_deref()) {
                    (Some(SNOMED), Some(code)) => snomed = Some(code.to_owned()),
                    (Some(system), Some(code)) if system == condition_system() => {
                        match serde_json::from_value::<PresentingCondition>(json!(code)) {
                            Ok(condition) => presenting_condition = Some(condition),
                            Err(_) => errors.push(FieldError::new(
                                format!("Encounter.reasonCode[{i}].coding[{j}].code"),
                                "not a PAT presenting condition code (docs/domain.md §2)",
                            )),
                        }
                    }
                    _ => {}
                }
            }
        }
        let detail = self.reason_code.first().and_then(|c| c.text.clone());
        let site = self.service_provider.and_then(|r| r.identifier).and_then(|i| i.value);
        let (Some(patient), Some(arrived_at)) = (patient, arrived_at) else {
            return Err(ApiError::Validation(errors));
        };
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let create = CreateAttendance {
            source_system: identifier.system,
            source_id: identifier.value.unwrap_or_default(),
            patient,
            site,
            arrived_at,
            presenting_condition,
            presenting_condition_snomed: snomed,
            presenting_condition_detail: detail,
            attendance_category: None,
        };
        Ok((create, origins))
    }
}

/// The patient's identifiers as FHIR.
fn identifiers(patient: &PatientView) -> Vec<Value> {
    let mut identifiers = Vec::new();
    if let Some(nhs_number) = &patient.nhs_number {
        identifiers.push(json!({ "system": NHS_NUMBER_SYSTEM, "value": nhs_number }));
    }
    if let Some(local_id) = &patient.local_id {
        let system = match &patient.local_id_system {
            Some(system) => format!("https://{system}"),
            None => local_number_system(),
        };
        identifiers.push(json!({ "system": system, "value": local_id }));
    }
    identifiers
}

/// The subject of a resource about this patient: by identifier (the NHS number when known).
pub fn subject(patient: &PatientView) -> Value {
    match identifiers(patient).into_iter().next() {
        Some(identifier) => json!({ "type": "Patient", "identifier": identifier }),
        None => json!({ "type": "Patient" }),
    }
}

/// An attendance as a UK Core Encounter. `status` is `unknown` (the service records arrivals,
/// not the Encounter's progress), or `entered-in-error` once it is marked so (docs/domain.md
/// §10.1).
pub fn render(view: &AttendanceView) -> Value {
    let status = match view.record_status {
        RecordStatus::EnteredInError => "entered-in-error",
        RecordStatus::Current => "unknown",
    };
    // The chief complaint as sent (SNOMED CT), beside the PAT condition it was recorded as.
    let mut codings = vec![coding(&condition_system(), view.presenting_condition.code(), None)];
    if let Some(code) = &view.presenting_condition_snomed {
        codings.push(coding(SNOMED, code, None));
    }
    let mut reason = json!({ "coding": codings });
    if let Some(detail) = &view.presenting_condition_detail {
        reason["text"] = json!(detail);
    }
    let mut encounter = json!({
        "resourceType": "Encounter",
        "id": view.id,
        "meta": meta(profile::ENCOUNTER),
        "identifier": [{ "system": view.source_system, "value": view.source_id }],
        "status": status,
        "class": { "system": ACT_CODE_SYSTEM, "code": "EMER", "display": "emergency" },
        "subject": subject(&view.patient),
        "period": { "start": view.arrived_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) },
        "reasonCode": [reason],
    });
    if let Some(site) = &view.site {
        encounter["serviceProvider"] = json!({ "identifier": { "value": site } });
    }
    encounter
}

/// `If-None-Exist: identifier=system|value`: the identifier it names, if the header was sent.
fn if_none_exist(request: &HttpRequest) -> Result<Option<(String, String)>, ApiError> {
    let Some(raw) = request.headers().get("If-None-Exist") else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest {
        detail: "If-None-Exist must be identifier=system|value".into(),
        errors: vec![crate::domain::FieldError::new(
            "If-None-Exist",
            "must be identifier=system|value",
        )],
    };
    let text = raw.to_str().map_err(|_| bad())?;
    let query = text.strip_prefix("identifier=").ok_or_else(bad)?;
    let query = percent_decode(query);
    let (system, value) = query.split_once('|').ok_or_else(bad)?;
    Ok(Some((system.to_owned(), value.to_owned())))
}

/// `%7C` → `|` and the like: a search parameter may arrive URL-encoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /fhir/Encounter`.
pub async fn create(
    auth: Authorized<RecordAttendance>,
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let condition = if_none_exist(&request)?;
    let encounter: EncounterIn = parse_resource("Encounter", body.into_inner())?;
    let (create, origins) = encounter.into_create()?;
    if let Some((system, value)) = condition {
        if create.source_system.as_deref() != Some(system.as_str()) || create.source_id != value {
            return Err(ApiError::validation(
                "Encounter.identifier",
                "If-None-Exist must name the Encounter's identifier (system|value)",
            ));
        }
    }
    let recorded = record_attendance(&state, create, &auth.actor())
        .await
        .map_err(|e| rename_issues(e, |issue| origins.issue(issue)))?;
    let (status, record) = match recorded {
        Recorded::Created(record) => (StatusCode::CREATED, record),
        Recorded::Replay(record) => (StatusCode::OK, record),
        Recorded::Clash => return Err(idempotency_conflict()),
    };
    let view = AttendanceView::from(&record);
    let mut response = respond(status, &render(&view));
    if let Ok(location) = HeaderValue::from_str(&format!("{PREFIX}/Encounter/{}", view.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /fhir/Encounter/{id}` (an audited read, as `GET /api/v1/attendances/{id}`).
pub async fn read(
    auth: Authorized<ReadAttendance>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = reference_id("id", "Encounter", Some(&format!("Encounter/{id}")))
        .map_err(|_| ApiError::NotFound("no Encounter with that id".into()))?;
    let record = state.store.attendances().find(id, &auth.actor()).await?;
    Ok(respond(StatusCode::OK, &render(&AttendanceView::from(&record))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_identifier_is_the_key_an_encounter_subject_gives() {
        assert_eq!(
            identifier_key(NHS_NUMBER_SYSTEM, "943 476 5919"),
            Ok("nhs:9434765919".into())
        );
        assert_eq!(identifier_key(&local_number_system(), "RX-1"), Ok("local:RX-1".into()));
        assert_eq!(
            identifier_key("https://pas.example.nhs.uk", "RX-1"),
            Ok("local@pas.example.nhs.uk:RX-1".into())
        );
        for (system, value) in [
            (NHS_NUMBER_SYSTEM, "9434765918"),
            (NHS_NUMBER_SYSTEM, " "),
            ("https://pas.example.nhs.uk:8443", "RX-1"),
            ("https://", "RX-1"),
            ("urn:oid:1.2.3", "RX-1"),
            ("", "RX-1"),
        ] {
            assert!(identifier_key(system, value).is_err(), "{system}|{value}");
        }
    }

    #[test]
    fn an_encoded_bar_is_decoded() {
        assert_eq!(percent_decode("https%3A%2F%2Fed.example%7C42"), "https://ed.example|42");
        assert_eq!(percent_decode("a|b%"), "a|b%");
    }
}
