//! `PUT /api/v1/attendances/{id}/screening`: record the PAT, or why it was not done.

use actix_web::{put, web, HttpResponse};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::problems::{IdAndBodyProblems, NoAttendance, Problems};
use super::views::ScreeningView;
use super::{AppState, PathIdAndBody};
use crate::auth::Authorized;
use crate::domain::pat::{Answers, PatRule, ScreeningInput, ScreeningStatus};
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::screenings::ScreeningRecorded;

role_set!(
    /// Who records a screening: ED staff and the EPR's integration engine.
    RecordScreening: Clinician, Integration
);

/// A PAT screening. Sending it again unchanged answers 200 with the stored version; sending
/// different content is a correction: it becomes the current version and the earlier one is kept.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct RecordScreeningRequest {
    pub status: ScreeningStatus,
    /// When the PAT was asked; default now. Not before the arrival.
    #[serde(default)]
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

impl RecordScreeningRequest {
    /// The screening checked for shape: answers present exactly when completed, and complete for
    /// the rule (default `default_rule`).
    pub fn into_input(self, default_rule: PatRule) -> Result<ScreeningInput, ApiError> {
        ScreeningInput::new(
            self.status,
            self.screened_at.map(|t| t.with_timezone(&Utc)),
            self.rule,
            self.answers,
            self.advice_given,
            self.leaflet_given,
            default_rule,
        )
        .map_err(ApiError::Validation)
    }
}

/// Record the PAT for an attendance (or why it was not done); answers the result, alerts and
/// next steps.
///
/// Rules (docs/domain.md §4): `pat-2009` (default) is positive for more than 8 units in a day (men)
/// or more than 6 (women, other and unknown sex — the conservative choice), or when the patient
/// says the attendance is related to alcohol. `pat-2004`: 8 (men) / 6 or more at least weekly,
/// or related. `sips-pat`: related, else heavy drinking monthly or more often. Drinking every
/// day (`drinking_frequency` or `heavy_drinking_frequency` `daily`) raises the
/// `possible_dependence` alert under every rule: `pat-2004` and `sips-pat` take an optional
/// `drinking_frequency` for it, which does not change their result.
#[utoipa::path(
    operation_id = "recordScreening",
    tag = "screening",
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    request_body = RecordScreeningRequest,
    responses(
        (status = 201, description = "First screening recorded", body = ScreeningView),
        (status = 200, description = "A correction (new version) or an unchanged replay", body = ScreeningView),
        NoAttendance,
        (status = 409, description = "entered-in-error: the attendance was marked entered-in-error", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or missing answers, or a time before the arrival", body = Problem, content_type = "application/problem+json"),
        Problems,
        IdAndBodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[put("/attendances/{id}/screening")]
pub async fn record(
    auth: Authorized<RecordScreening>,
    state: web::Data<AppState>,
    PathIdAndBody(id, request): PathIdAndBody<RecordScreeningRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = request.into_input(state.settings.default_rule)?;
    let now = state.settings.clock.now();
    Ok(
        match state.store.screenings().record(id, input, now, &auth.actor()).await? {
            ScreeningRecorded::First(row) => HttpResponse::Created().json(ScreeningView::from(&row)),
            ScreeningRecorded::Corrected(row) | ScreeningRecorded::Replay(row) => {
                HttpResponse::Ok().json(ScreeningView::from(&row))
            }
        },
    )
}
