//! `POST /api/v1/attendances`, `GET /api/v1/attendances/{id}`.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::problems::{BodyProblems, IdAndBodyProblems, IdProblems, InvalidValues, NoAttendance, Problems};
use super::views::AttendanceView;
use super::{text_field, AppState, Body, PathId, PathIdAndBody};
use crate::auth::Authorized;
use crate::db::types::{DbTime, DbUuid};
use crate::domain::attendance::AttendanceCategory;
use crate::domain::chief_complaint::ChiefComplaintMap;
use crate::domain::eligibility::{under_min_age, PresentingCondition, RepeatAttenderRule};
use crate::domain::nhs_number::NhsNumber;
use crate::domain::pat::Sex;
use crate::domain::patient::{patient_key, LOCAL_ID_SYSTEM_FORBIDDEN};
use crate::domain::{FieldError, Reason};
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::attendances::AttendanceRecord;
use crate::store::attendances::NewAttendance;
use crate::store::{Actor, Changed, Recorded};

role_set!(
    /// Who records attendances: ED staff and the EPR's integration engine.
    RecordAttendance: Clinician, Integration
);
role_set!(
    /// Who reads an attendance with its patient identifiers.
    ReadAttendance: Clinician, Integration, Ahw, Admin
);

/// How far in the future an arrival time may be (clock skew between systems).
const FUTURE_TOLERANCE_MINUTES: i64 = 15;
/// Arrivals before this year are typing errors, not history (the PAT dates from 1996).
const EARLIEST_YEAR: i32 = 1900;

/// The patient, as the EPR knows them. At least one of `nhs_number` and `local_id`.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct PatientInput {
    /// NHS number, 10 digits (spaces or hyphens between groups allowed), checked by modulus 11.
    /// Placeholders (ten equal digits, such as 0000000000) are refused, and so are numbers from
    /// the NHS test range (starting 999) unless the service is configured to accept them.
    #[serde(default)]
    #[schema(example = "9434765919")]
    pub nhs_number: Option<String>,
    /// The hospital's local patient number, for patients without an NHS number.
    #[serde(default)]
    pub local_id: Option<String>,
    /// The hospital system that assigned `local_id` (e.g. the trust's PAS), 1–64 characters
    /// without `:`. The same local number from two systems is two patients; without it, every
    /// system's number is one namespace (as before it was asked for).
    #[serde(default)]
    pub local_id_system: Option<String>,
    /// Sex for the PAT threshold: `male` uses the male threshold; `female`, `other` and
    /// `unknown` use the lower (female) one — the conservative choice (docs/domain.md §4).
    #[serde(default)]
    pub sex: Option<Sex>,
    #[serde(default)]
    pub date_of_birth: Option<NaiveDate>,
}

/// An ED attendance as the EPR sends it. Safe to repeat: the same `source_system` and
/// `source_id` with the same content answers 200 with the stored record; with different
/// content, 409.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct CreateAttendance {
    /// The sending system; default `"default"`.
    #[serde(default)]
    pub source_system: Option<String>,
    /// The caller's own id for this attendance (the EPR's, or a UUID a form made).
    pub source_id: String,
    pub patient: PatientInput,
    #[serde(default)]
    pub site: Option<String>,
    /// Arrival time, RFC 3339 with offset.
    #[schema(value_type = String, format = DateTime, example = "2025-03-01T10:00:00Z")]
    pub arrived_at: DateTime<FixedOffset>,
    /// The PAT presenting condition. Give it, or `presenting_condition_snomed`, or both (this
    /// one wins).
    #[serde(default)]
    pub presenting_condition: Option<PresentingCondition>,
    /// The ECDS chief complaint, a SNOMED CT concept id (6–18 digits, a concept's partition and a
    /// valid Verhoeff check digit). The trust's table maps it to the PAT condition when
    /// `presenting_condition` is not given (a code the table does not map on the arrival date:
    /// `other`). Stored with the table's version either way.
    #[serde(default)]
    #[schema(example = "161898004")]
    pub presenting_condition_snomed: Option<String>,
    /// Free text, e.g. what "other" was.
    #[serde(default)]
    pub presenting_condition_detail: Option<String>,
    #[serde(default)]
    pub attendance_category: Option<AttendanceCategory>,
}

impl CreateAttendance {
    /// Validates everything at once, so one 422 lists every problem. Nothing is written.
    /// `accept_test_nhs_numbers` is `PAT_ACCEPT_TEST_NHS_NUMBERS` (see
    /// [`NhsNumber::parse_for_patient`]).
    pub fn into_new(
        self,
        now: DateTime<Utc>,
        recorded_by: &str,
        accept_test_nhs_numbers: bool,
        chief_complaints: &ChiefComplaintMap,
    ) -> Result<NewAttendance, ApiError> {
        let mut errors = Vec::new();
        let source_system = match self.source_system.as_deref() {
            None => Some("default".to_owned()),
            some => text_field(&mut errors, "source_system", some, 100),
        };
        let source_id = text_field(&mut errors, "source_id", Some(&self.source_id), 200);
        let nhs_number = match self.patient.nhs_number.as_deref() {
            None => None,
            Some(raw) => match NhsNumber::parse_for_patient(raw, accept_test_nhs_numbers) {
                Ok(n) => Some(n),
                Err(e) => {
                    errors.push(FieldError::new("patient.nhs_number", e.to_string()));
                    None
                }
            },
        };
        let local_id = text_field(&mut errors, "patient.local_id", self.patient.local_id.as_deref(), 64);
        let local_id_system = text_field(
            &mut errors,
            "patient.local_id_system",
            self.patient.local_id_system.as_deref(),
            64,
        );
        if local_id_system
            .as_deref()
            .is_some_and(|s| s.contains(LOCAL_ID_SYSTEM_FORBIDDEN))
        {
            errors.push(FieldError::new("patient.local_id_system", "must not contain ':'"));
        }
        if local_id_system.is_some() && self.patient.local_id.is_none() {
            errors.push(FieldError::new("patient.local_id_system", "only with local_id"));
        }
        if self.patient.nhs_number.is_none() && self.patient.local_id.is_none() {
            errors.push(FieldError::new("patient", "give nhs_number or local_id (or both)"));
        }
        let arrived_at = self.arrived_at.with_timezone(&Utc);
        if arrived_at > now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) {
            errors.push(FieldError::new("arrived_at", "must not be in the future"));
        }
        if arrived_at.year() < EARLIEST_YEAR {
            errors.push(FieldError::new(
                "arrived_at",
                format!("must not be before {EARLIEST_YEAR}"),
            ));
        }
        if let Some(dob) = self.patient.date_of_birth {
            if dob > arrived_at.date_naive() {
                errors.push(FieldError::new(
                    "patient.date_of_birth",
                    "must not be after the arrival",
                ));
            }
        }
        // docs/domain.md §11: the code is kept with the table version whether or not it decided
        // the condition, so what the table said can always be told.
        let chief_complaint = match self.presenting_condition_snomed.as_deref() {
            None => None,
            Some(code) => match chief_complaints.map(code, arrived_at) {
                Ok(mapped) => Some((code.to_owned(), mapped)),
                Err(message) => {
                    errors.push(FieldError::new("presenting_condition_snomed", message));
                    None
                }
            },
        };
        let condition = match (self.presenting_condition, &chief_complaint) {
            (Some(condition), _) => Some(condition),
            (None, Some((_, mapped))) => Some(mapped.condition),
            // A bad code has its error already.
            (None, None) if self.presenting_condition_snomed.is_some() => None,
            (None, None) => {
                errors.push(FieldError::new(
                    "presenting_condition",
                    "give presenting_condition or presenting_condition_snomed (or both)",
                ));
                None
            }
        };
        let site = text_field(&mut errors, "site", self.site.as_deref(), 100);
        let detail = text_field(
            &mut errors,
            "presenting_condition_detail",
            self.presenting_condition_detail.as_deref(),
            500,
        );
        let key = patient_key(
            nhs_number.as_ref().map(NhsNumber::as_str),
            local_id.as_deref(),
            local_id_system.as_deref(),
        );
        match (source_system, source_id, key, condition) {
            (Some(source_system), Some(source_id), Some(patient_key), Some(presenting_condition))
                if errors.is_empty() =>
            {
                Ok(NewAttendance {
                    id: DbUuid(uuid::Uuid::now_v7()),
                    source_system,
                    source_id,
                    patient_key,
                    nhs_number,
                    local_id,
                    local_id_system,
                    // docs/design.md §4: sex defaults to `unknown`, the category to `unplanned`.
                    sex: self.patient.sex.unwrap_or(Sex::Unknown),
                    date_of_birth: self.patient.date_of_birth,
                    site,
                    arrived_at: DbTime::new(arrived_at),
                    presenting_condition,
                    presenting_condition_detail: detail,
                    presenting_condition_snomed: chief_complaint.as_ref().map(|(code, _)| code.clone()),
                    presenting_condition_map_version: chief_complaint.map(|(_, mapped)| mapped.map_version),
                    attendance_category: self.attendance_category.unwrap_or(AttendanceCategory::Unplanned),
                    created_at: DbTime::new(now),
                    created_by: recorded_by.to_owned(),
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// Record an ED attendance.
///
/// Send every ED attendance, not only the ten PAT conditions: repeat attenders and the
/// reattendance figures depend on them all. Idempotent on (`source_system`, `source_id`).
#[utoipa::path(
    operation_id = "createAttendance",
    tag = "attendances",
    request_body = CreateAttendance,
    responses(
        (status = 201, description = "Recorded", body = AttendanceView),
        (status = 200, description = "Already recorded with the same content: the stored record", body = AttendanceView),
        (status = 409, description = "Already recorded with different content", body = Problem, content_type = "application/problem+json"),
        InvalidValues,
        Problems,
        BodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/attendances")]
pub async fn create(
    auth: Authorized<RecordAttendance>,
    state: web::Data<AppState>,
    Body(input): Body<CreateAttendance>,
) -> Result<HttpResponse, ApiError> {
    match record_attendance(&state, input, &auth.actor()).await? {
        Recorded::Created(record) => Ok(HttpResponse::Created().json(AttendanceView::from(&record))),
        Recorded::Replay(record) => Ok(HttpResponse::Ok().json(AttendanceView::from(&record))),
        Recorded::Clash => Err(idempotency_conflict()),
    }
}

/// Records an attendance however it arrived (this JSON API, an HL7 v2 ADT message, a FHIR
/// Encounter): the same validation, repeat-attender rule and idempotency for every channel. The
/// caller turns the answer into its own format.
pub async fn record_attendance(
    state: &AppState,
    input: CreateAttendance,
    actor: &Actor,
) -> Result<Recorded<AttendanceRecord>, ApiError> {
    let settings = &state.settings;
    let new = input.into_new(
        settings.clock.now(),
        &actor.subject,
        settings.accept_test_nhs_numbers,
        &settings.chief_complaints,
    )?;
    let condition = new.presenting_condition;
    let under_age = under_min_age(new.date_of_birth, new.arrived_at.get(), settings.min_age);
    let rule = RepeatAttenderRule::new(
        condition,
        new.arrived_at.get(),
        settings.repeat_attender_min_prior,
        settings.repeat_attender_window_days,
        under_age.unwrap_or(false),
    );
    Ok(state.store.attendances().record(new, rule, actor).await?)
}

/// The answer when the same idempotency key arrives with different content.
pub fn idempotency_conflict() -> ApiError {
    ApiError::Conflict {
        kind: "idempotency-conflict",
        detail: "an attendance with this source_system and source_id was already recorded with different content"
            .into(),
    }
}

/// An attendance with its screening (current and earlier versions).
#[utoipa::path(
    operation_id = "getAttendance",
    tag = "attendances",
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    responses(
        (status = 200, description = "The attendance", body = AttendanceView),
        IdProblems,
        NoAttendance,
        Problems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/attendances/{id}")]
pub async fn get(
    auth: Authorized<ReadAttendance>,
    state: web::Data<AppState>,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let record = state.store.attendances().find(id, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(AttendanceView::from(&record)))
}

role_set!(
    /// Who marks an attendance entered-in-error: ED staff, the EPR, and administrators.
    MarkEnteredInError: Clinician, Integration, Admin
);

/// Why the attendance is marked entered-in-error.
#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct EnteredInErrorRequest {
    /// Why the record is wrong (a duplicate, the wrong patient, …): 1–500 characters.
    #[schema(
        min_length = 1,
        max_length = 500,
        example = "duplicate of the attendance sent by the EPR at 10:02"
    )]
    pub reason: String,
}

/// Mark an attendance entered-in-error: recorded by mistake. It stays readable (with
/// `record_status: entered_in_error` and who, when and why), its open bookings are cancelled and
/// their slots freed, and it leaves every statistic, the repeat-attender count of later
/// attendances and the 7-day reattendance facts of the patient's other attendances. Safe to
/// repeat: marking again answers the first mark. Refused while an appointment of it is recorded
/// as attended (correct the outcome first).
#[utoipa::path(
    operation_id = "markAttendanceEnteredInError",
    tag = "attendances",
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    request_body = EnteredInErrorRequest,
    responses(
        (status = 200, description = "Marked (now, or already: the first mark stands)", body = AttendanceView),
        NoAttendance,
        (status = 409, description = "An appointment of the attendance was attended (`outcome-recorded`)", body = Problem, content_type = "application/problem+json"),
        InvalidValues,
        Problems,
        IdAndBodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/attendances/{id}/entered-in-error")]
pub async fn mark_entered_in_error(
    auth: Authorized<MarkEnteredInError>,
    state: web::Data<AppState>,
    PathIdAndBody(id, request): PathIdAndBody<EnteredInErrorRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = Reason::parse(
        "reason",
        &request.reason,
        "say why the attendance was entered in error (a duplicate, the wrong patient, …)",
    )
    .map_err(|e| ApiError::Validation(vec![e]))?;
    let now = state.settings.clock.now();
    match state
        .store
        .attendances()
        .mark_entered_in_error(id, reason, now, &auth.actor())
        .await?
    {
        Changed::Now(record) | Changed::Already(record) => Ok(HttpResponse::Ok().json(AttendanceView::from(&record))),
    }
}
