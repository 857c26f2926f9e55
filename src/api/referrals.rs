//! `PUT /api/v1/attendances/{id}/referral`: the outcome of the offer after a positive PAT, and
//! `POST /api/v1/attendances/{id}/follow-ups`: the 6- and 12-month contacts.

use actix_web::{post, put, web, HttpResponse};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::problems::{IdAndBodyProblems, InvalidValues, NoAttendance, Problems};
use super::views::ReferralView;
use super::{AppState, PathIdAndBody};
use crate::auth::Authorized;
use crate::domain::scheduling::{follow_up_recorded_differently, referral_details, FollowUpContact, ReferralDecision};
use crate::domain::Reason;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::scheduling::follow_ups::FollowUp;
use crate::store::scheduling::referrals::{NewDecision, ReferralRecorded};
use crate::store::Recorded;

role_set!(
    /// Who records the referral decision: ED staff, the EPR, or the AHW who saw the patient.
    RecordReferral: Clinician, Integration, Ahw
);
role_set!(
    /// Who records follow-up contacts.
    RecordFollowUp: Ahw
);

#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct RecordReferralRequest {
    pub decision: ReferralDecision,
    /// When the patient decided; default now. Not before the screening. For
    /// `seen_in_department`, when the AHW saw the patient (the contact the 6- and 12-month
    /// follow-ups are counted from).
    #[serde(default)]
    pub decided_at: Option<DateTime<FixedOffset>>,
    /// `seen_in_department` only, and then required: the AHW who saw the patient (a registered
    /// health worker's id).
    #[serde(default)]
    pub health_worker_id: Option<uuid::Uuid>,
    /// `seen_in_department` only, and then required: whether the brief intervention was
    /// delivered.
    #[serde(default)]
    pub brief_intervention_delivered: Option<bool>,
    /// `seen_in_department` only, and then required: units a week at this contact (a number of
    /// at least 0), the baseline the follow-ups are compared with.
    #[serde(default)]
    pub units_per_week: Option<f64>,
    /// Why the recorded decision is corrected (1–500 characters): required when this changes it
    /// (another decision, `decided_at` or seen-in-department details); not kept with a first
    /// decision.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Record the patient's decision on the AHW offer. Only after a positive PAT. Changing it is a
/// correction: a new `version` with a `reason`; the earlier one stays in `earlier_versions` and in
/// the audit trail, and the statistics use the current one. Changing it while a booking holds a
/// slot is refused (cancel the booking first). `seen_in_department` (an AHW saw the patient at
/// once) comes with `health_worker_id`, `brief_intervention_delivered` and `units_per_week`, which
/// the other decisions refuse.
#[utoipa::path(
    operation_id = "recordReferral",
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    request_body = RecordReferralRequest,
    responses(
        (status = 201, description = "Recorded", body = ReferralView),
        (status = 200, description = "Replayed or corrected", body = ReferralView),
        NoAttendance,
        (status = 409, description = "Not PAT positive, or a booking exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values or times, a health_worker_id not on the register, or reason-required: a correction without a reason", body = Problem, content_type = "application/problem+json"),
        Problems,
        IdAndBodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[put("/attendances/{id}/referral")]
pub async fn record(
    auth: Authorized<RecordReferral>,
    state: web::Data<AppState>,
    PathIdAndBody(id, request): PathIdAndBody<RecordReferralRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.settings.clock.now();
    let decided_at = request.decided_at.map(|t| t.with_timezone(&Utc));
    let reason = Reason::optional("reason", request.reason.as_deref());
    let details = referral_details(
        request.decision,
        request.health_worker_id,
        request.brief_intervention_delivered,
        request.units_per_week,
    );
    let (reason, details) = match (reason, details) {
        (Ok(reason), Ok(details)) => (reason, details),
        (reason, details) => {
            // Every problem at once; none is `Vec::new()` here only when the other side failed.
            let mut errors = details.err().unwrap_or_default();
            errors.extend(reason.err());
            return Err(ApiError::Validation(errors));
        }
    };
    let referrals = state.store.referrals();
    Ok(
        match referrals
            .record(
                id,
                NewDecision {
                    decision: request.decision,
                    details,
                    decided_at,
                    reason,
                },
                now,
                &auth.actor(),
            )
            .await?
        {
            ReferralRecorded::Created(history) => HttpResponse::Created().json(ReferralView::from(&history)),
            ReferralRecorded::Corrected(history) | ReferralRecorded::Replay(history) => {
                HttpResponse::Ok().json(ReferralView::from(&history))
            }
        },
    )
}

#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// 6 or 12 months after the AHW contact (the attended appointment, or the patient seen in the
    /// department): the worklist `GET /api/v1/follow-ups` lists them when due.
    pub months: i32,
    /// Units a week now (the trial measured 59.7 vs 83.1 at 6 months).
    pub units_per_week: f64,
    /// When the contact happened; default now.
    #[serde(default)]
    pub contacted_at: Option<DateTime<FixedOffset>>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct FollowUpView {
    pub id: uuid::Uuid,
    pub attendance_id: uuid::Uuid,
    pub months: i32,
    pub units_per_week: f64,
    pub contacted_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

impl From<FollowUp> for FollowUpView {
    fn from(row: FollowUp) -> Self {
        FollowUpView {
            id: row.id.0,
            attendance_id: row.attendance_id.0,
            months: row.months,
            units_per_week: row.units_per_week,
            contacted_at: row.contacted_at.get(),
            recorded_at: row.recorded_at.get(),
            recorded_by: row.recorded_by,
        }
    }
}

/// Record a 6- or 12-month follow-up contact of a referred patient.
#[utoipa::path(
    operation_id = "recordFollowUp",
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    request_body = FollowUpRequest,
    responses(
        (status = 201, description = "Recorded", body = FollowUpView),
        (status = 200, description = "Already recorded with the same content", body = FollowUpView),
        NoAttendance,
        (status = 409, description = "Not referred, entered in error, or recorded with different content", body = Problem, content_type = "application/problem+json"),
        InvalidValues,
        Problems,
        IdAndBodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/attendances/{id}/follow-ups")]
pub async fn follow_up(
    auth: Authorized<RecordFollowUp>,
    state: web::Data<AppState>,
    PathIdAndBody(id, request): PathIdAndBody<FollowUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.settings.clock.now();
    let contacted_at = request.contacted_at.map(|t| t.with_timezone(&Utc));
    let contact = FollowUpContact::new(request.months, request.units_per_week, contacted_at, now)?;
    let months = contact.months;
    match state.store.follow_ups().record(id, contact, now, &auth.actor()).await? {
        Recorded::Created(row) => Ok(HttpResponse::Created().json(FollowUpView::from(row))),
        Recorded::Replay(row) => Ok(HttpResponse::Ok().json(FollowUpView::from(row))),
        Recorded::Clash => Err(follow_up_recorded_differently(months).into()),
    }
}
