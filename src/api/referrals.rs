//! `PUT /api/v1/attendances/{id}/referral`: the outcome of the offer after a positive PAT, and
//! `POST /api/v1/attendances/{id}/follow-ups`: the 6- and 12-month contacts.

use actix_web::{post, put, web, HttpResponse};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;
use utoipa::ToSchema;

use super::views::ReferralView;
use super::{audit_event, parse_body, parse_id, AppState};
use crate::auth::Authorized;
use crate::db::types::{DbTime, DbUuid};
use crate::db::write_transaction;
use crate::domain::pat::{PatResult, ScreeningStatus};
use crate::domain::scheduling::BookingStatus;
use crate::domain::scheduling::ReferralDecision;
use crate::domain::FieldError;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::scheduling::{self, BookingFilter, FollowUp, Referral};
use crate::store::{attendances, audit};

role_set!(
    /// Who records the referral decision: ED staff, the EPR, or the AHW who saw the patient.
    RecordReferral: Clinician, Integration, Ahw
);
role_set!(
    /// Who records follow-up contacts.
    RecordFollowUp: Ahw
);

/// How far in the future a recorded time may be (clock skew between systems).
const FUTURE_TOLERANCE_MINUTES: i64 = 15;

#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct RecordReferralRequest {
    pub decision: ReferralDecision,
    /// When the patient decided; default now. Not before the screening.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<DateTime<FixedOffset>>,
}

fn not_positive(detail: &str) -> ApiError {
    ApiError::Conflict {
        kind: "not-pat-positive",
        detail: format!("a referral needs a positive PAT: {detail}"),
    }
}

/// Record the patient's decision on the AHW offer. Only after a positive PAT; changing it while a
/// booking holds a slot is refused (cancel the booking first).
#[utoipa::path(
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    request_body = RecordReferralRequest,
    responses(
        (status = 201, description = "Recorded", body = ReferralView),
        (status = 200, description = "Replayed or changed", body = ReferralView),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such attendance", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not PAT positive, or a booking exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values or times", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[put("/attendances/{id}/referral")]
pub async fn record(
    auth: Authorized<RecordReferral>,
    state: web::Data<AppState>,
    request_id: RequestId,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id = DbUuid(parse_id(&path)?);
    let input: RecordReferralRequest = parse_body(body.into_inner())?;
    let now = state.settings.clock.now();
    let user = auth.user;
    let request_id = request_id.to_string();
    let (created, view) = state
        .db(move |conn| {
            let mut attempt = || {
                write_transaction(conn, |conn| {
                    // Take turns with a screening correction of the same attendance, so neither
                    // misses the other (a decision stands on the result it was made for).
                    attendances::lock(conn, id)?;
                    let (attendance, current) = attendances::find_with_current_screening(conn, id)?
                        .ok_or_else(|| ApiError::NotFound("no attendance with that id".into()))?;
                    let screening = match current {
                        None => return Err(not_positive("this attendance has no screening")),
                        Some(s) if s.status != ScreeningStatus::Completed => {
                            return Err(not_positive(&format!(
                                "the PAT was not completed ({})",
                                s.status.code()
                            )))
                        }
                        Some(s) if s.result != Some(PatResult::Positive) => {
                            return Err(not_positive("the PAT result is negative"))
                        }
                        Some(s) => s,
                    };
                    let decided_at = input.decided_at.map_or(now, |t| t.with_timezone(&Utc));
                    // Locked: a booking being made for this referral finishes first, and is seen.
                    let existing = scheduling::find_referral_for_update(conn, id)?;
                    let row = Referral {
                        attendance_id: id,
                        decision: input.decision,
                        decided_at: DbTime::new(decided_at),
                        recorded_at: DbTime::new(now),
                        recorded_by: user.subject.clone(),
                    };
                    let key = Some(attendance.patient_key.as_str());
                    if let Some(stored) = &existing {
                        let same = stored.decision == row.decision
                            && input.decided_at.is_none_or(|_| stored.decided_at == row.decided_at);
                        if same {
                            audit::record(conn, &audit_event(&user, &request_id, "read", "referral", id.0, key))?;
                            return Ok((false, ReferralView::from(stored)));
                        }
                        let filter = BookingFilter {
                            attendance_id: Some(id),
                            ..BookingFilter::default()
                        };
                        let held = scheduling::list_bookings(conn, &filter)?
                            .iter()
                            .any(|(booking, _, _)| booking.status != BookingStatus::Cancelled);
                        if held && stored.decision != row.decision {
                            return Err(ApiError::Conflict {
                                kind: "referral-has-booking",
                                detail: "this referral has a booking: cancel it before changing the decision".into(),
                            });
                        }
                    }
                    if row.decided_at < screening.screened_at {
                        return Err(ApiError::Rule {
                            kind: "decided-before-screening",
                            detail: "decided_at is before the screening".into(),
                            errors: vec![FieldError::new("decided_at", "must not be before the screening")],
                        });
                    }
                    if decided_at > now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) {
                        return Err(ApiError::Rule {
                            kind: "decided-in-future",
                            detail: "decided_at is in the future".into(),
                            errors: vec![FieldError::new("decided_at", "must not be in the future")],
                        });
                    }
                    let action = if existing.is_some() { "update" } else { "create" };
                    if existing.is_some() {
                        scheduling::update_referral(conn, &row)?;
                    } else {
                        scheduling::insert_referral(conn, &row)?;
                    }
                    audit::record(conn, &audit_event(&user, &request_id, action, "referral", id.0, key))?;
                    Ok((existing.is_none(), ReferralView::from(&row)))
                })
            };
            // Two first decisions at once: the primary key lets one in; the other goes again and
            // finds it.
            match attempt() {
                Err(ApiError::Conflict { kind: "conflict", .. }) => attempt(),
                other => other,
            }
        })
        .await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// 6 or 12 months after the attendance.
    pub months: i32,
    /// Units a week now (the trial measured 59.7 vs 83.1 at 6 months).
    pub units_per_week: f64,
    /// When the contact happened; default now.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
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
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    request_body = FollowUpRequest,
    responses(
        (status = 201, description = "Recorded", body = FollowUpView),
        (status = 200, description = "Already recorded with the same content", body = FollowUpView),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such attendance", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not referred, or recorded with different content", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[post("/attendances/{id}/follow-ups")]
pub async fn follow_up(
    auth: Authorized<RecordFollowUp>,
    state: web::Data<AppState>,
    request_id: RequestId,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id = DbUuid(parse_id(&path)?);
    let input: FollowUpRequest = parse_body(body.into_inner())?;
    let mut errors = Vec::new();
    if ![6, 12].contains(&input.months) {
        errors.push(FieldError::new("months", "must be 6 or 12"));
    }
    if !input.units_per_week.is_finite() || input.units_per_week < 0.0 {
        errors.push(FieldError::new("units_per_week", "must be a number of at least 0"));
    }
    let now = state.settings.clock.now();
    let contacted_at = input.contacted_at.map_or(now, |t| t.with_timezone(&Utc));
    if contacted_at > now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) {
        errors.push(FieldError::new("contacted_at", "must not be in the future"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let row = FollowUp {
        id: DbUuid(uuid::Uuid::now_v7()),
        attendance_id: id,
        months: input.months,
        units_per_week: input.units_per_week,
        contacted_at: DbTime::new(contacted_at),
        recorded_at: DbTime::new(now),
        recorded_by: auth.user.subject.clone(),
    };
    let contacted_given = input.contacted_at.is_some();
    let user = auth.user;
    let request_id = request_id.to_string();
    let (created, view) = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let attendance = attendances::find(conn, id)?
                    .ok_or_else(|| ApiError::NotFound("no attendance with that id".into()))?;
                let referred = scheduling::find_referral(conn, id)?.is_some_and(|r| {
                    matches!(
                        r.decision,
                        ReferralDecision::Accepted | ReferralDecision::SeenInDepartment
                    )
                });
                if !referred {
                    return Err(ApiError::Conflict {
                        kind: "not-referred",
                        detail: "follow-ups are for patients who accepted the referral or were seen in the department"
                            .into(),
                    });
                }
                let key = Some(attendance.patient_key.as_str());
                if let Some(stored) = scheduling::find_follow_up(conn, id, row.months)? {
                    let same = stored.units_per_week == row.units_per_week
                        && (!contacted_given || stored.contacted_at == row.contacted_at);
                    if !same {
                        return Err(ApiError::Conflict {
                            kind: "follow-up-exists",
                            detail: format!("the {}-month follow-up is already recorded differently", row.months),
                        });
                    }
                    audit::record(
                        conn,
                        &audit_event(&user, &request_id, "read", "follow_up", stored.id.0, key),
                    )?;
                    return Ok((false, FollowUpView::from(stored)));
                }
                scheduling::insert_follow_up(conn, &row).map_err(|e| match e {
                    DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => ApiError::Conflict {
                        kind: "follow-up-exists",
                        detail: "the follow-up was recorded at the same moment by another request; retry".into(),
                    },
                    other => other.into(),
                })?;
                audit::record(
                    conn,
                    &audit_event(&user, &request_id, "create", "follow_up", row.id.0, key),
                )?;
                Ok((true, FollowUpView::from(row.clone())))
            })
        })
        .await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}
