//! `POST /api/v1/attendances`, `GET /api/v1/attendances/{id}`.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;
use utoipa::ToSchema;

use super::bookings::{bookings_of, BookingView};
use super::referrals::ReferralView;
use super::screenings::ScreeningView;
use super::{audit_event, decode_code as decode, parse_body, parse_id, text_field, AppState};
use crate::auth::Authorized;
use crate::db::attendances::{self, Attendance, IndicationChoice, NewAttendance};
use crate::db::batch::{AttendanceJob, BatchError};
use crate::db::types::{DbTime, DbUuid};
use crate::db::{audit, scheduling, screenings, write_transaction, DbConnection};
use crate::domain::eligibility::{self, PresentingCondition};
use crate::domain::nhs_number::NhsNumber;
use crate::domain::pat::Sex;
use crate::domain::patient::patient_key;
use crate::domain::FieldError;
use crate::error::{ApiError, Problem};
use crate::role_set;

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

/// Whether the attendance was unplanned (the default) or a booked return.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceCategory {
    #[default]
    Unplanned,
    Planned,
}

impl AttendanceCategory {
    pub fn code(self) -> &'static str {
        match self {
            AttendanceCategory::Unplanned => "unplanned",
            AttendanceCategory::Planned => "planned",
        }
    }
}

/// The patient, as the EPR knows them. At least one of `nhs_number` and `local_id`.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct PatientInput {
    /// NHS number, 10 digits (spaces or hyphens between groups allowed), checked by modulus 11.
    #[serde(default)]
    #[schema(example = "9434765919")]
    pub nhs_number: Option<String>,
    /// The hospital's local patient number, for patients without an NHS number.
    #[serde(default)]
    pub local_id: Option<String>,
    /// Sex for the PAT threshold: `male` uses the male threshold; `female`, `other` and
    /// `unknown` use the lower (female) one — the conservative choice (DOMAIN.md §4).
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
    pub presenting_condition: PresentingCondition,
    /// Free text, e.g. what "other" was.
    #[serde(default)]
    pub presenting_condition_detail: Option<String>,
    #[serde(default)]
    pub attendance_category: Option<AttendanceCategory>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct PatientView {
    pub nhs_number: Option<String>,
    pub local_id: Option<String>,
    pub sex: Sex,
    pub date_of_birth: Option<NaiveDate>,
}

/// An attendance with what the nurse was told (`pat_indicated`, `indications`) and its PAT
/// screening.
#[derive(Serialize, ToSchema, Debug)]
pub struct AttendanceView {
    pub id: uuid::Uuid,
    pub source_system: String,
    pub source_id: String,
    pub patient: PatientView,
    pub site: Option<String>,
    pub arrived_at: DateTime<Utc>,
    pub presenting_condition: PresentingCondition,
    pub presenting_condition_detail: Option<String>,
    pub attendance_category: AttendanceCategory,
    /// Whether the PAT is indicated: one of the ten conditions, or a repeat attender.
    pub pat_indicated: bool,
    /// Fixed when the attendance was recorded: the recorded condition if it is one of the ten,
    /// then `repeat_attender` when the patient had enough earlier attendances (DOMAIN.md §2).
    pub indications: Vec<PresentingCondition>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    /// The current screening, if any.
    pub screening: Option<ScreeningView>,
    /// Earlier versions of the screening, newest first: corrections keep what they replaced.
    pub previous_screenings: Vec<ScreeningView>,
    /// The patient's decision on the AHW offer, if recorded.
    pub referral: Option<ReferralView>,
    /// Every booking of the referral, newest first.
    pub bookings: Vec<BookingView>,
}

impl AttendanceView {
    /// The attendance with everything recorded about it.
    pub fn load(conn: &mut DbConnection, row: Attendance) -> Result<AttendanceView, ApiError> {
        let history = screenings::history(conn, row.id)?;
        let screened_at = history.first().map(|s| s.screened_at.get());
        let referral = scheduling::find_referral(conn, row.id)?
            .as_ref()
            .map(ReferralView::from_row)
            .transpose()?;
        let bookings = bookings_of(conn, row.id, screened_at)?;
        let mut view = AttendanceView::from_rows(row, history)?;
        view.referral = referral;
        view.bookings = bookings;
        Ok(view)
    }

    pub fn from_rows(row: Attendance, history: Vec<screenings::Screening>) -> Result<AttendanceView, ApiError> {
        // History is newest first: the first is the current screening.
        let mut views = history
            .iter()
            .map(ScreeningView::from_row)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        let screening = views.next();
        let views: Vec<ScreeningView> = views.collect();
        let indications = row
            .indications
            .split(',')
            .filter(|c| !c.is_empty())
            .map(decode)
            .collect::<Result<Vec<PresentingCondition>, _>>()?;
        Ok(AttendanceView {
            id: row.id.0,
            source_system: row.source_system,
            source_id: row.source_id,
            patient: PatientView {
                nhs_number: row.nhs_number,
                local_id: row.local_id,
                sex: decode(&row.sex)?,
                date_of_birth: row.date_of_birth,
            },
            site: row.site,
            arrived_at: row.arrived_at.get(),
            presenting_condition: decode(&row.presenting_condition)?,
            presenting_condition_detail: row.presenting_condition_detail,
            attendance_category: decode(&row.attendance_category)?,
            pat_indicated: row.pat_indicated,
            indications,
            recorded_at: row.created_at.get(),
            recorded_by: row.created_by,
            screening,
            previous_screenings: views,
            referral: None,
            bookings: vec![],
        })
    }
}

impl CreateAttendance {
    /// Validates everything at once, so one 422 lists every problem. Nothing is written.
    pub fn into_new(self, now: DateTime<Utc>, recorded_by: &str) -> Result<NewAttendance, ApiError> {
        let mut errors = Vec::new();
        let source_system = match self.source_system.as_deref() {
            None => Some("default".to_owned()),
            some => text_field(&mut errors, "source_system", some, 100),
        };
        let source_id = text_field(&mut errors, "source_id", Some(&self.source_id), 200);
        let nhs_number = match self.patient.nhs_number.as_deref() {
            None => None,
            Some(raw) => match NhsNumber::parse(raw) {
                Ok(n) => Some(n.as_str().to_owned()),
                Err(e) => {
                    errors.push(FieldError::new("patient.nhs_number", e.to_string()));
                    None
                }
            },
        };
        let local_id = text_field(&mut errors, "patient.local_id", self.patient.local_id.as_deref(), 64);
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
        let site = text_field(&mut errors, "site", self.site.as_deref(), 100);
        let detail = text_field(
            &mut errors,
            "presenting_condition_detail",
            self.presenting_condition_detail.as_deref(),
            500,
        );
        let key = patient_key(nhs_number.as_deref(), local_id.as_deref());
        match (source_system, source_id, key) {
            (Some(source_system), Some(source_id), Some(patient_key)) if errors.is_empty() => {
                let now = DbTime::new(now);
                Ok(NewAttendance {
                    id: DbUuid(uuid::Uuid::now_v7()),
                    source_system,
                    source_id,
                    patient_key,
                    nhs_number,
                    local_id,
                    sex: self.patient.sex.unwrap_or_default().code().to_owned(),
                    date_of_birth: self.patient.date_of_birth,
                    site,
                    arrived_at: DbTime::new(arrived_at),
                    presenting_condition: self.presenting_condition.code().to_owned(),
                    presenting_condition_detail: detail,
                    attendance_category: self.attendance_category.unwrap_or_default().code().to_owned(),
                    indications: String::new(),
                    pat_indicated: false,
                    created_at: now,
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
    tag = "attendances",
    request_body = CreateAttendance,
    responses(
        (status = 201, description = "Recorded", body = AttendanceView),
        (status = 200, description = "Already recorded with the same content: the stored record", body = AttendanceView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already recorded with different content", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[post("/attendances")]
pub async fn create(
    auth: Authorized<RecordAttendance>,
    state: web::Data<AppState>,
    request_id: RequestId,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let input: CreateAttendance = parse_body(body.into_inner())?;
    let condition = input.presenting_condition;
    let new = input.into_new(state.settings.clock.now(), &auth.user.subject)?;
    let settings = &state.settings;
    let min_prior = settings.repeat_attender_min_prior;
    let encode = |list: Vec<PresentingCondition>| {
        let indicated = !list.is_empty();
        (list.iter().map(|c| c.code()).collect::<Vec<_>>().join(","), indicated)
    };
    let choice = IndicationChoice {
        min_prior: i64::from(min_prior),
        since: DbTime::new(new.arrived_at.get() - Duration::days(settings.repeat_attender_window_days)),
        if_repeat: encode(eligibility::indications(condition, min_prior, min_prior)),
        otherwise: encode(eligibility::indications(condition, 0, min_prior)),
    };
    let user = auth.user;
    let request_id = request_id.to_string();
    let event = audit_event(
        &user,
        &request_id,
        "create",
        "attendance",
        new.id.0,
        Some(&new.patient_key),
    );
    if let Some(batcher) = &state.batcher {
        let job = AttendanceJob {
            new: new.clone(),
            choice: choice.clone(),
            event: event.clone(),
        };
        match batcher.record_attendance(job).await {
            Ok(Some((indications, pat_indicated))) => {
                let row = Attendance::from(NewAttendance {
                    indications,
                    pat_indicated,
                    ..new
                });
                return Ok(HttpResponse::Created().json(AttendanceView::from_rows(row, vec![])?));
            }
            Err(BatchError::Unavailable(cause)) => return Err(ApiError::Unavailable(cause)),
            // Stored already (a retry, or a clash), or the batch failed: the one-request path
            // below tells which and answers.
            Ok(None) | Err(BatchError::Failed) => {}
        }
    }
    let (created, view) = state
        .db(move |conn| match attendances::record(conn, &new, &choice, &event) {
            Ok(row) => Ok((true, AttendanceView::from_rows(row, vec![])?)),
            // The same (source_system, source_id) exists: a retry, or a clash.
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => write_transaction(conn, |conn| {
                let stored = attendances::find_by_source(conn, &new.source_system, &new.source_id)?
                    .ok_or_else(|| ApiError::internal("attendance vanished after a unique violation"))?;
                if !new.same_content_as(&stored) {
                    return Err(ApiError::Conflict {
                        kind: "idempotency-conflict",
                        detail: "an attendance with this source_system and source_id was already recorded with \
                                 different content"
                            .into(),
                    });
                }
                audit::record(
                    conn,
                    &audit_event(
                        &user,
                        &request_id,
                        "read",
                        "attendance",
                        stored.id.0,
                        Some(&stored.patient_key),
                    ),
                )?;
                Ok((false, AttendanceView::load(conn, stored)?))
            }),
            Err(other) => Err(other.into()),
        })
        .await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// An attendance with its screening (current and earlier versions).
#[utoipa::path(
    tag = "attendances",
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    responses(
        (status = 200, description = "The attendance", body = AttendanceView),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such attendance", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[get("/attendances/{id}")]
pub async fn get(
    auth: Authorized<ReadAttendance>,
    state: web::Data<AppState>,
    request_id: RequestId,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = DbUuid(parse_id(&path)?);
    let user = auth.user;
    let request_id = request_id.to_string();
    let view = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let row = attendances::find(conn, id)?
                    .ok_or_else(|| ApiError::NotFound("no attendance with that id".into()))?;
                audit::record(
                    conn,
                    &audit_event(&user, &request_id, "read", "attendance", id.0, Some(&row.patient_key)),
                )?;
                AttendanceView::load(conn, row)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
