//! `POST /api/v1/bookings/{id}/outcome`: what happened at the appointment.

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::problems::{BodyProblems, Problems};
use crate::api::views::BookingView;
use crate::api::{AppState, PathIdAndBody};
use crate::auth::Authorized;
use crate::domain::scheduling::{BookingStatus, Outcome};
use crate::error::{ApiError, Problem};
use crate::role_set;

role_set!(
    /// Who records what happened at the appointment.
    RecordOutcomes: Ahw
);

#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct RecordOutcome {
    /// `attended`, `did_not_attend` or `cancelled`.
    pub status: BookingStatus,
    /// Required when attended.
    #[serde(default)]
    pub brief_intervention_delivered: Option<bool>,
    /// Units a week at baseline, when attended.
    #[serde(default)]
    pub units_per_week: Option<f64>,
    /// Why it was cancelled (only with `cancelled`).
    #[serde(default)]
    pub reason: Option<String>,
}

impl RecordOutcome {
    fn into_outcome(self) -> Result<Outcome, ApiError> {
        Ok(Outcome::new(
            self.status,
            self.brief_intervention_delivered,
            self.units_per_week,
            self.reason,
        )?)
    }
}

/// Record what happened: attended (with the brief intervention), did not attend, or cancelled
/// (by either side: who comes from the token). Only a `booked` appointment changes.
#[utoipa::path(
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Booking id")),
    request_body = RecordOutcome,
    responses(
        (status = 200, description = "Recorded", body = BookingView),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "invalid-transition: the booking is no longer booked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "outcome-before-slot, or invalid values", body = Problem, content_type = "application/problem+json"),
        Problems,
        BodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/bookings/{id}/outcome")]
pub async fn outcome(
    auth: Authorized<RecordOutcomes>,
    state: web::Data<AppState>,
    PathIdAndBody(id, request): PathIdAndBody<RecordOutcome>,
) -> Result<HttpResponse, ApiError> {
    let outcome = request.into_outcome()?;
    let now = state.settings.clock.now();
    let booking = state
        .store
        .bookings()
        .record_outcome(id, outcome, now, &auth.actor())
        .await?;
    Ok(HttpResponse::Ok().json(BookingView::new(&booking.listing, booking.screened_at)))
}
