//! `PUT /api/v1/attendances/{id}/screening`: record the PAT, or why it was not done.

use actix_web::{put, web, HttpResponse};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;
use utoipa::ToSchema;

use super::{audit_event, decode_code as decode, parse_body, parse_id, AppState};
use crate::auth::{AuthUser, Authorized};
use crate::db::attendances::Attendance;
use crate::db::audit::AuditEvent;
use crate::db::batch::{BatchError, ScreeningJob, WriteBatcher};
use crate::db::screenings::{self, Screening};
use crate::db::types::{DbTime, DbUuid};
use crate::db::{attendances, audit, scheduling, single_write, write_transaction, DbConnection};
use crate::domain::pat::{self, Alert, Answers, NextStep, PatResult, PatRule, Sex};
use crate::domain::FieldError;
use crate::error::{ApiError, Problem};
use crate::role_set;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

role_set!(
    /// Who records a screening: ED staff and the EPR's integration engine.
    RecordScreening: Clinician, Integration
);

/// How far in the future a screening time may be (clock skew between systems).
const FUTURE_TOLERANCE_MINUTES: i64 = 15;

/// `completed`, or why the PAT was not done (DOMAIN.md §5). Not-done screenings count in the
/// denominator of the screening rate.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScreeningStatus {
    Completed,
    Refused,
    Intoxicated,
    LacksCapacity,
    TooUnwell,
    UnderAge,
    NotAsked,
}

impl ScreeningStatus {
    pub fn code(self) -> &'static str {
        match self {
            ScreeningStatus::Completed => "completed",
            ScreeningStatus::Refused => "refused",
            ScreeningStatus::Intoxicated => "intoxicated",
            ScreeningStatus::LacksCapacity => "lacks_capacity",
            ScreeningStatus::TooUnwell => "too_unwell",
            ScreeningStatus::UnderAge => "under_age",
            ScreeningStatus::NotAsked => "not_asked",
        }
    }
}

/// A PAT screening. Sending it again unchanged answers 200 with the stored version; sending
/// different content is a correction: it becomes the current version and the earlier one is kept.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct RecordScreeningRequest {
    pub status: ScreeningStatus,
    /// When the PAT was asked; default now. Not before the arrival.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub screened_at: Option<DateTime<FixedOffset>>,
    /// The scoring rule; default `PAT_DEFAULT_RULE` (itself default `pat-2009`).
    #[serde(default)]
    pub rule: Option<PatRule>,
    /// Required when `completed`, refused otherwise. Which answers each rule needs is in the API
    /// description; answers a rule does not use are kept but ignored.
    #[serde(default)]
    pub answers: Option<Answers>,
    #[serde(default)]
    pub advice_given: Option<bool>,
    #[serde(default)]
    pub leaflet_given: Option<bool>,
}

/// A recorded screening with its result and what to do next.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct ScreeningView {
    pub attendance_id: uuid::Uuid,
    /// 1 for the first recording; each correction adds one.
    pub version: i32,
    pub status: ScreeningStatus,
    /// `positive` or `negative`; null when the PAT was not completed.
    pub result: Option<PatResult>,
    /// The rule that produced the result; null when not completed.
    pub rule: Option<PatRule>,
    /// Most units in one day, given or computed from `drinks`; null when none.
    pub units: Option<f64>,
    pub alerts: Vec<Alert>,
    /// In order: `give_advice`, `offer_leaflet`, `offer_ahw_appointment` when positive.
    pub next_steps: Vec<NextStep>,
    /// The feedback wording to use when positive (DOMAIN.md §3).
    pub feedback: Option<String>,
    pub answers: Option<Answers>,
    pub advice_given: Option<bool>,
    pub leaflet_given: Option<bool>,
    pub screened_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

fn next_steps_for(result: Option<PatResult>) -> Vec<NextStep> {
    match result {
        Some(PatResult::Positive) => vec![
            NextStep::GiveAdvice,
            NextStep::OfferLeaflet,
            NextStep::OfferAhwAppointment,
        ],
        _ => vec![],
    }
}

impl ScreeningView {
    pub fn from_row(row: &Screening) -> Result<ScreeningView, ApiError> {
        let result: Option<PatResult> = row.result.as_deref().map(decode).transpose()?;
        let answers = row
            .answers
            .as_deref()
            .map(serde_json::from_str::<Answers>)
            .transpose()
            .map_err(|e| ApiError::internal(format!("stored answers do not parse: {e}")))?;
        Ok(ScreeningView {
            attendance_id: row.attendance_id.0,
            version: row.version,
            status: decode(&row.status)?,
            result,
            rule: row.rule.as_deref().map(decode).transpose()?,
            units: row.units,
            alerts: row
                .alerts
                .split(',')
                .filter(|c| !c.is_empty())
                .map(decode)
                .collect::<Result<_, _>>()?,
            next_steps: next_steps_for(result),
            feedback: (result == Some(PatResult::Positive)).then(|| pat::POSITIVE_FEEDBACK.to_owned()),
            answers,
            advice_given: row.advice_given,
            leaflet_given: row.leaflet_given,
            screened_at: row.screened_at.get(),
            recorded_at: row.recorded_at.get(),
            recorded_by: row.recorded_by.clone(),
        })
    }
}

/// The request checked for shape before the attendance is looked up: answers present exactly
/// when completed, and complete for the rule.
struct CheckedScreening {
    status: ScreeningStatus,
    screened_at: Option<DateTime<Utc>>,
    rule: Option<PatRule>,
    answers: Option<Answers>,
    answers_json: Option<String>,
    advice_given: Option<bool>,
    leaflet_given: Option<bool>,
}

fn check(request: RecordScreeningRequest, default_rule: PatRule) -> Result<CheckedScreening, ApiError> {
    let completed = request.status == ScreeningStatus::Completed;
    let (rule, answers) = match (completed, request.answers) {
        (true, None) => return Err(ApiError::validation("answers", "required when status is completed")),
        (false, Some(_)) => {
            return Err(ApiError::validation(
                "answers",
                "must be absent when the PAT was not completed",
            ))
        }
        (false, None) => (None, None),
        (true, Some(answers)) => {
            let rule = request.rule.unwrap_or(default_rule);
            // Sex only moves the threshold; which answers are needed does not depend on it.
            pat::score(rule, Sex::Unknown, &answers).map_err(ApiError::Validation)?;
            (Some(rule), Some(answers))
        }
    };
    let answers_json = answers
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(ApiError::internal)?;
    Ok(CheckedScreening {
        status: request.status,
        screened_at: request.screened_at.map(|t| t.with_timezone(&Utc)),
        rule,
        answers,
        answers_json,
        advice_given: request.advice_given,
        leaflet_given: request.leaflet_given,
    })
}

impl CheckedScreening {
    /// A replay of the stored version: the same recorded content. A `screened_at` left to
    /// default is not compared, so a retry without it is still a replay.
    fn same_as(&self, stored: &Screening) -> bool {
        stored.status == self.status.code()
            && stored.rule.as_deref() == self.rule.map(|r| r.code())
            && stored.answers == self.answers_json
            && stored.advice_given == self.advice_given
            && stored.leaflet_given == self.leaflet_given
            && self.screened_at.is_none_or(|t| DbTime::new(t) == stored.screened_at)
    }
}

/// Record the PAT for an attendance (or why it was not done); answers the result, alerts and
/// next steps.
///
/// Rules (DOMAIN.md §4): `pat-2009` (default) is positive for more than 8 units in a day (men)
/// or more than 6 (women, other and unknown sex — the conservative choice), or when the patient
/// says the attendance is related to alcohol. `pat-2004`: 8 (men) / 6 or more at least weekly,
/// or related. `sips-pat`: related, else heavy drinking monthly or more often. Daily drinking
/// raises the `possible_dependence` alert.
#[utoipa::path(
    tag = "screening",
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    request_body = RecordScreeningRequest,
    responses(
        (status = 201, description = "First screening recorded", body = ScreeningView),
        (status = 200, description = "A correction (new version) or an unchanged replay", body = ScreeningView),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such attendance", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or missing answers, or a time before the arrival", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[put("/attendances/{id}/screening")]
pub async fn record(
    auth: Authorized<RecordScreening>,
    state: web::Data<AppState>,
    request_id: RequestId,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id = DbUuid(parse_id(&path)?);
    let request: RecordScreeningRequest = parse_body(body.into_inner())?;
    let checked = check(request, state.settings.default_rule)?;
    let user = auth.user;
    let request_id = request_id.to_string();
    let now = state.settings.clock.now();
    if let Some(batcher) = &state.batcher {
        if let Some(view) = record_first_batched(batcher, id, &checked, &user, &request_id, now).await? {
            return Ok(HttpResponse::Created().json(view));
        }
    }
    let (created, view) = state
        .db(move |conn| {
            // Two corrections at once both try to become version N+1; the unique (attendance_id,
            // version) lets one win, and the other reads again and goes on from there.
            // A first screening is written lock-free; a correction (rare) runs in a transaction
            // holding the attendance's row lock, taking turns with a referral decision.
            let mut locked = false;
            for _ in 0..MAX_ATTEMPTS {
                let attempt = if locked {
                    write_transaction(conn, |conn| {
                        record_once(conn, id, &checked, &user, &request_id, now, true)
                    })?
                } else {
                    single_write(conn, |conn| {
                        record_once(conn, id, &checked, &user, &request_id, now, false)
                    })?
                };
                match attempt {
                    Attempt::Done(created, view) => return Ok((created, *view)),
                    Attempt::NeedsLock => locked = true,
                    Attempt::Raced => {}
                }
            }
            Err(ApiError::Conflict {
                kind: "concurrent-change",
                detail: "the screening kept changing while this one was being recorded; retry".into(),
            })
        })
        .await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// A first screening through the write batches (PostgreSQL): the read and the insert each share a
/// statement with whatever else arrives at that moment. `None` when this is not a first screening
/// (a replay or a correction), when another request wrote the first version in between, or when a
/// batch failed: the one-request path answers those.
async fn record_first_batched(
    batcher: &WriteBatcher,
    id: DbUuid,
    checked: &CheckedScreening,
    user: &AuthUser,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<ScreeningView>, ApiError> {
    let attendance = match batcher.find_with_current_screening(id).await {
        Ok(None) => return Err(ApiError::NotFound("no attendance with that id".into())),
        Ok(Some((attendance, None))) => attendance,
        Ok(Some((_, Some(_)))) | Err(BatchError::Failed) => return Ok(None),
        Err(BatchError::Unavailable(cause)) => return Err(ApiError::Unavailable(cause)),
    };
    let score = score_of(&attendance, checked)?;
    let (row, event) = next_version(&attendance, None, checked, score, user, request_id, now)?;
    let view = ScreeningView::from_row(&row)?;
    let job = ScreeningJob {
        patient_key: attendance.patient_key,
        row,
        event,
    };
    match batcher.record_screening(job).await {
        Ok(true) => Ok(Some(view)),
        Ok(false) | Err(BatchError::Failed) => Ok(None),
        Err(BatchError::Unavailable(cause)) => Err(ApiError::Unavailable(cause)),
    }
}

/// How often a screening is retried after losing a race to a simultaneous correction: a request
/// loses only when another commits in between, so N requests at once all finish when N <= this.
const MAX_ATTEMPTS: usize = 10;

enum Attempt {
    Done(bool, Box<ScreeningView>),
    /// Another version was written between reading the current one and writing the next.
    Raced,
    /// A correction: to be done again holding the attendance's lock.
    NeedsLock,
}

/// Reads the attendance and its current screening, then either answers a replay or writes the
/// next version with its audit event (one write statement; see `db::single_write`).
fn record_once(
    conn: &mut DbConnection,
    id: DbUuid,
    checked: &CheckedScreening,
    user: &AuthUser,
    request_id: &str,
    now: DateTime<Utc>,
    locked: bool,
) -> Result<Attempt, ApiError> {
    if locked {
        attendances::lock(conn, id)?;
    }
    let (attendance, current) = attendances::find_with_current_screening(conn, id)?
        .ok_or_else(|| ApiError::NotFound("no attendance with that id".into()))?;
    if let Some(stored) = current.as_ref().filter(|s| checked.same_as(s)) {
        audit::record(
            conn,
            &audit_event(
                user,
                request_id,
                "read",
                "screening",
                id.0,
                Some(&attendance.patient_key),
            ),
        )?;
        return Ok(Attempt::Done(false, Box::new(ScreeningView::from_row(stored)?)));
    }
    if current.is_some() && !locked {
        return Ok(Attempt::NeedsLock);
    }
    let score = score_of(&attendance, checked)?;
    // Once the patient has answered the referral offer, the result it answered stands: a
    // correction that would change it is refused (DESIGN.md §4).
    let new_result = score.as_ref().map(|s| s.result.code());
    if let Some(stored) = current.as_ref().filter(|s| s.result.as_deref() != new_result) {
        if scheduling::find_referral(conn, stored.attendance_id)?.is_some() {
            return Err(ApiError::Conflict {
                kind: "referral-recorded",
                detail: "a referral decision is recorded for this result; a correction may not change the result"
                    .into(),
            });
        }
    }
    let (row, event) = next_version(&attendance, current.as_ref(), checked, score, user, request_id, now)?;
    match screenings::insert_with_audit(conn, &row, &event) {
        Ok(()) => Ok(Attempt::Done(
            current.is_none(),
            Box::new(ScreeningView::from_row(&row)?),
        )),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(Attempt::Raced),
        Err(other) => Err(other.into()),
    }
}

/// The checked answers scored for the patient's sex; none for a screening not done.
fn score_of(attendance: &Attendance, checked: &CheckedScreening) -> Result<Option<pat::Score>, ApiError> {
    let sex: Sex = decode(&attendance.sex)?;
    match (&checked.answers, checked.rule) {
        (Some(answers), Some(rule)) => Ok(Some(pat::score(rule, sex, answers).map_err(ApiError::Validation)?)),
        _ => Ok(None),
    }
}

/// The version that follows `current` (the first when there is none), with its audit event,
/// after the checks that need nothing from the database: the screening time against the arrival
/// and the clock.
fn next_version(
    attendance: &Attendance,
    current: Option<&Screening>,
    checked: &CheckedScreening,
    score: Option<pat::Score>,
    user: &AuthUser,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<(Screening, AuditEvent), ApiError> {
    let screened_at = checked.screened_at.unwrap_or(now);
    if DbTime::new(screened_at) < attendance.arrived_at {
        return Err(ApiError::Rule {
            kind: "screened-before-arrival",
            detail: "screened_at is before the patient arrived".into(),
            errors: vec![FieldError::new("screened_at", "must not be before arrived_at")],
        });
    }
    if screened_at > now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) {
        return Err(ApiError::Rule {
            kind: "screened-in-future",
            detail: "screened_at is in the future".into(),
            errors: vec![FieldError::new("screened_at", "must not be in the future")],
        });
    }
    let row = Screening {
        id: DbUuid(uuid::Uuid::now_v7()),
        attendance_id: attendance.id,
        version: current.map_or(1, |s| s.version + 1),
        status: checked.status.code().to_owned(),
        rule: checked.rule.map(|r| r.code().to_owned()),
        result: score.as_ref().map(|s| s.result.code().to_owned()),
        units: score.as_ref().and_then(|s| s.units),
        answers: checked.answers_json.clone(),
        alerts: score
            .as_ref()
            .map(|s| s.alerts.iter().map(|a| a.code()).collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
        advice_given: checked.advice_given,
        leaflet_given: checked.leaflet_given,
        screened_at: DbTime::new(screened_at),
        recorded_at: DbTime::new(now),
        recorded_by: user.subject.clone(),
    };
    let action = if current.is_some() { "update" } else { "create" };
    let event = audit_event(
        user,
        request_id,
        action,
        "screening",
        attendance.id.0,
        Some(&attendance.patient_key),
    );
    Ok((row, event))
}
