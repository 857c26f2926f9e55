//! `POST /api/v1/bookings`: book a given slot, or the earliest free one in the window, for an
//! accepted referral.

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::problems::{BodyProblems, Problems};
use crate::api::views::BookingView;
use crate::api::{AppState, Body};
use crate::auth::Authorized;
use crate::domain::scheduling::{no_slot_in_window, OutsideWindowReason};
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::scheduling::bookings::{Booked, NewBooking};

role_set!(
    /// Who books: ED staff, the EPR, or an AHW.
    MakeBookings: Clinician, Integration, Ahw
);

#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct CreateBooking {
    pub attendance_id: uuid::Uuid,
    /// The slot to book; without it, the earliest free slot in the window.
    #[serde(default)]
    pub slot_id: Option<uuid::Uuid>,
    /// Required when the slot starts more than `PAT_BOOKING_WINDOW_HOURS` after the screening.
    #[serde(default)]
    pub outside_window_reason: Option<OutsideWindowReason>,
}

/// Book an AHW appointment for an accepted referral: a given slot, or the earliest free one
/// within `PAT_BOOKING_WINDOW_HOURS` (24) of the screening.
#[utoipa::path(
    tag = "scheduling",
    request_body = CreateBooking,
    responses(
        (status = 201, description = "Booked", body = BookingView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such attendance or slot", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "referral-not-accepted, slot-taken, already-booked or no-slot-in-window", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "slot-in-past, outside-window (give outside_window_reason) or invalid values", body = Problem, content_type = "application/problem+json"),
        Problems,
        BodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/bookings")]
pub async fn create(
    auth: Authorized<MakeBookings>,
    state: web::Data<AppState>,
    Body(input): Body<CreateBooking>,
) -> Result<HttpResponse, ApiError> {
    let window_hours = state.settings.booking_window_hours;
    let new = NewBooking {
        attendance_id: input.attendance_id,
        slot_id: input.slot_id,
        outside_window_reason: input.outside_window_reason,
        window_hours,
        now: state.settings.clock.now(),
    };
    match state.store.bookings().book(new, &auth.actor()).await? {
        Booked::Made(booking) => {
            Ok(HttpResponse::Created().json(BookingView::new(&booking.listing, booking.screened_at)))
        }
        Booked::NoSlotInWindow => Err(no_slot_in_window(window_hours).into()),
    }
}
