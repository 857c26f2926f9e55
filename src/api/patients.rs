//! `GET /api/v1/patients/{id}`, `POST /api/v1/patients/{id}/link`, `POST
//! /api/v1/patients/{id}/unlink`: the patient registry and its links (a PDS trace of a local
//! number to an NHS number, an EPR merge of two records, and undoing a wrong one).

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::problems::{IdAndBodyProblems, IdProblems, InvalidValues, Problems};
use super::{AppState, PathId, PathIdAndBody};
use crate::auth::Authorized;
use crate::domain::nhs_number::NhsNumber;
use crate::domain::patient::{identifier_of, trace_status, LinkKind};
use crate::domain::FieldError;
use crate::domain::Reason;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::patients::{Link as StoredLink, LinkTarget, Patient, PatientRecord};
use crate::store::Changed;

/// What a blank link or unlink reason is told.
const LINK_REASON_HINT: &str = "say why (the PDS trace, the EPR merge, what was wrong with the link)";

role_set!(
    /// Who reads a patient with its identifiers and links.
    ReadPatient: Clinician, Integration, Ahw, Admin
);
role_set!(
    /// Who links and unlinks patients: the EPR's integration engine (PDS traces, merges) and
    /// administrators.
    LinkPatients: Integration, Admin
);

/// One identifier: `nhs` (an NHS number) or `local` (a local hospital number), its value, and a
/// local number's assigning system when the EPR gave one.
#[derive(Serialize, ToSchema, Debug)]
pub struct IdentifierView {
    #[schema(example = "nhs")]
    pub system: String,
    #[schema(example = "9434765919")]
    pub value: String,
    /// The hospital system that assigned a local number (`patient.local_id_system`); null for an
    /// NHS number or a local number sent without it.
    pub assigner: Option<String>,
}

impl IdentifierView {
    fn of(patient: &Patient) -> IdentifierView {
        let (system, value, assigner) = identifier_of(&patient.key);
        IdentifierView {
            system: system.to_owned(),
            value: value.to_owned(),
            assigner: assigner.map(str::to_owned),
        }
    }
}

/// The person a patient belongs to now: the patient at the end of its links (itself when linked
/// to no one). Its attendances count as this person's in every derived figure.
#[derive(Serialize, ToSchema, Debug)]
pub struct PersonView {
    pub id: uuid::Uuid,
    pub identifier: IdentifierView,
}

/// Whether a link is in force or was undone.
#[derive(Serialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    InForce,
    Unlinked,
}

/// `trace` (a local number traced to an NHS number by PDS) or `merge` (two records of one
/// person, merged by the EPR).
#[derive(Serialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LinkKindView {
    Trace,
    Merge,
}

/// A link: `patient_id` is one person with `person_id`.
#[derive(Serialize, ToSchema, Debug)]
pub struct LinkView {
    pub id: uuid::Uuid,
    pub patient_id: uuid::Uuid,
    pub person_id: uuid::Uuid,
    pub kind: LinkKindView,
    /// The NHS number status indicator of a trace (`01`: present and verified); null for a merge.
    pub trace_status: Option<String>,
    pub reason: String,
    pub linked_at: DateTime<Utc>,
    pub linked_by: String,
    pub status: LinkStatus,
    pub unlinked_at: Option<DateTime<Utc>>,
    pub unlinked_by: Option<String>,
    pub unlink_reason: Option<String>,
}

impl From<&StoredLink> for LinkView {
    fn from(stored: &StoredLink) -> LinkView {
        LinkView {
            id: stored.id.0,
            patient_id: stored.patient_id.0,
            person_id: stored.person_id.0,
            kind: match stored.kind() {
                LinkKind::Trace => LinkKindView::Trace,
                LinkKind::Merge => LinkKindView::Merge,
            },
            trace_status: stored.trace_status.clone(),
            reason: stored.reason.clone(),
            linked_at: stored.linked_at.get(),
            linked_by: stored.linked_by.clone(),
            status: if stored.unlinked_at.is_some() {
                LinkStatus::Unlinked
            } else {
                LinkStatus::InForce
            },
            unlinked_at: stored.unlinked_at.map(|t| t.get()),
            unlinked_by: stored.unlinked_by.clone(),
            unlink_reason: stored.unlink_reason.clone(),
        }
    }
}

/// A patient of the registry: the identifier its attendances arrived with, the person it belongs
/// to now, and every link from or to it, newest first.
#[derive(Serialize, ToSchema, Debug)]
pub struct PatientRecordView {
    pub id: uuid::Uuid,
    pub identifier: IdentifierView,
    pub person: PersonView,
    pub links: Vec<LinkView>,
    pub registered_at: DateTime<Utc>,
}

impl From<&PatientRecord> for PatientRecordView {
    fn from(record: &PatientRecord) -> PatientRecordView {
        PatientRecordView {
            id: record.patient.id.0,
            identifier: IdentifierView::of(&record.patient),
            person: PersonView {
                id: record.person.id.0,
                identifier: IdentifierView::of(&record.person),
            },
            links: record.links.iter().map(LinkView::from).collect(),
            registered_at: record.patient.created_at.get(),
        }
    }
}

/// A patient with its identifier, its person and its links.
#[utoipa::path(
    operation_id = "getPatient",
    tag = "patients",
    params(("id" = uuid::Uuid, Path, description = "Patient id (`patient.id` of an attendance)")),
    responses(
        (status = 200, description = "The patient", body = PatientRecordView),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        IdProblems,
        Problems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/patients/{id}")]
pub async fn get(
    auth: Authorized<ReadPatient>,
    state: web::Data<AppState>,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let record = state.store.patients().find(id, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(PatientRecordView::from(&record)))
}

/// Who the patient is one person with: an NHS number (a PDS trace of a local number) or another
/// patient (an EPR merge). Exactly one of `nhs_number` and `patient_id`.
#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The NHS number PDS traced the patient to (checked as an attendance's is).
    #[serde(default)]
    #[schema(example = "9434765919")]
    pub nhs_number: Option<String>,
    /// The trace's NHS number status indicator; default and only accepted value `01` (number
    /// present and verified). Only with `nhs_number`.
    #[serde(default)]
    #[schema(example = "01")]
    pub trace_status: Option<String>,
    /// The patient the EPR merged this one into.
    #[serde(default)]
    pub patient_id: Option<uuid::Uuid>,
    /// Why (the trace, the merge): 1–500 characters.
    #[schema(min_length = 1, max_length = 500, example = "PDS trace 2025-03-02")]
    pub reason: String,
}

impl LinkRequest {
    fn parse(self, accept_test_nhs_numbers: bool) -> Result<(LinkTarget, Reason), ApiError> {
        let mut errors = Vec::new();
        let reason = Reason::parse("reason", &self.reason, LINK_REASON_HINT)
            .map_err(|e| errors.push(e))
            .ok();
        let target = match (self.nhs_number.as_deref(), self.patient_id) {
            (Some(raw), None) => {
                let number = NhsNumber::parse_for_patient(raw, accept_test_nhs_numbers)
                    .map_err(|e| errors.push(FieldError::new("nhs_number", e.to_string())))
                    .ok();
                let status = trace_status(self.trace_status.as_deref())
                    .map_err(|e| errors.push(e))
                    .ok();
                number.zip(status).map(|(nhs_number, trace_status)| LinkTarget::Trace {
                    nhs_number,
                    trace_status,
                })
            }
            (None, Some(patient_id)) => {
                if self.trace_status.is_some() {
                    errors.push(FieldError::new("trace_status", "only with nhs_number (a PDS trace)"));
                }
                Some(LinkTarget::Merge { patient_id })
            }
            _ => {
                errors.push(FieldError::new(
                    "body",
                    "give nhs_number (a PDS trace) or patient_id (a merge), not both",
                ));
                None
            }
        };
        match (target, reason) {
            (Some(target), Some(reason)) if errors.is_empty() => Ok((target, reason)),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// Link the patient to an NHS number (a PDS trace of a local number) or to another patient (an
/// EPR merge): they are one person from now on. Every attendance keeps the identifiers it arrived
/// with; the link changes who it belongs to, and every derived fact (the 7-day reattendance
/// facts, the 12-month reattendance report) becomes what it would have been had the identity been
/// known from the start. The repeat-attender indication stored on each attendance does not
/// change: it is what the nurse was told at the time. Safe to repeat: the same link again answers
/// 200 with the record as it stands.
#[utoipa::path(
    operation_id = "linkPatient",
    tag = "patients",
    params(("id" = uuid::Uuid, Path, description = "Patient id")),
    request_body = LinkRequest,
    responses(
        (status = 200, description = "Linked (now, or already)", body = PatientRecordView),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Linked to another patient already (`already-linked`), or the other patient is linked to this one (`same-person`)", body = Problem, content_type = "application/problem+json"),
        InvalidValues,
        Problems,
        IdAndBodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/patients/{id}/link")]
pub async fn link(
    auth: Authorized<LinkPatients>,
    state: web::Data<AppState>,
    PathIdAndBody(id, request): PathIdAndBody<LinkRequest>,
) -> Result<HttpResponse, ApiError> {
    let (target, reason) = request.parse(state.settings.accept_test_nhs_numbers)?;
    let now = state.settings.clock.now();
    match state
        .store
        .patients()
        .link(id, target, reason, now, &auth.actor())
        .await?
    {
        Changed::Now(record) | Changed::Already(record) => {
            Ok(HttpResponse::Ok().json(PatientRecordView::from(&record)))
        }
    }
}

/// Which link to undo, and why.
#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct UnlinkRequest {
    /// The link to undo; default the patient's link in force.
    #[serde(default)]
    pub link_id: Option<uuid::Uuid>,
    /// Why the link was wrong: 1–500 characters.
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "merged in error: different dates of birth"
    )]
    pub reason: String,
}

/// Undo the patient's link (a wrong merge or trace): the patient, and the patients linked to it,
/// are their own person again, and every derived fact is what it was before the link. The link
/// is kept, marked unlinked with who, when and why. Safe to repeat: undoing an undone link answers
/// 200 with the record as it stands.
#[utoipa::path(
    operation_id = "unlinkPatient",
    tag = "patients",
    params(("id" = uuid::Uuid, Path, description = "Patient id")),
    request_body = UnlinkRequest,
    responses(
        (status = 200, description = "Unlinked (now, or already)", body = PatientRecordView),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The patient has no such link (`not-linked`)", body = Problem, content_type = "application/problem+json"),
        InvalidValues,
        Problems,
        IdAndBodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/patients/{id}/unlink")]
pub async fn unlink(
    auth: Authorized<LinkPatients>,
    state: web::Data<AppState>,
    PathIdAndBody(id, request): PathIdAndBody<UnlinkRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason =
        Reason::parse("reason", &request.reason, LINK_REASON_HINT).map_err(|e| ApiError::Validation(vec![e]))?;
    let now = state.settings.clock.now();
    match state
        .store
        .patients()
        .unlink(id, request.link_id, reason, now, &auth.actor())
        .await?
    {
        Changed::Now(record) | Changed::Already(record) => {
            Ok(HttpResponse::Ok().json(PatientRecordView::from(&record)))
        }
    }
}
