//! `POST /api/v1/bookings`, `GET /api/v1/bookings`, `GET /api/v1/bookings/{id}`,
//! `POST /api/v1/bookings/{id}/outcome`: AHW appointments within the window, never double-booked.
//! Booking a given slot or the earliest free one in the window; the AHW's day list and one booking
//! (with who the patient is and why they were referred: every read is an audit event); what
//! happened at the appointment.

use actix_web::{get, post, web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{BodyProblems, IdAndBodyProblems, IdProblems, NoBooking, Problems, QueryProblems};
use super::views::{BookingItem, BookingView};
use super::{AppState, Body, PathId, PathIdAndBody};
use crate::auth::Authorized;
use crate::domain::calendar::{london_date, london_day};
use crate::domain::scheduling::{no_slot_in_window, BookingStatus, Outcome, OutsideWindowReason};
use crate::domain::FieldError;
use crate::domain::Reason;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::scheduling::bookings::{Booked, BookingFilter, BookingRecord, NewBooking, OutcomeRecording};

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
/// within `PAT_BOOKING_WINDOW_HOURS` (24) of the screening. A request refused with 409 or 422 is
/// unmet demand: it writes an audit event (`unmet`, with the refusal's kind as `detail`).
#[utoipa::path(
    operation_id = "createBooking",
    tag = "scheduling",
    request_body = CreateBooking,
    responses(
        (status = 201, description = "Booked", body = BookingView),
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
        Booked::Made(booking) => Ok(HttpResponse::Created().json(BookingView::new(
            &booking.listing,
            booking.screened_at,
            &booking.earlier_outcomes,
        ))),
        Booked::NoSlotInWindow => Err(no_slot_in_window(window_hours).into()),
    }
}

role_set!(
    /// Who reads bookings with patient identifiers.
    ReadBookings: Ahw, Admin
);

#[derive(Serialize, ToSchema, Debug)]
pub struct BookingList {
    /// The Europe/London date listed.
    pub date: NaiveDate,
    pub bookings: Vec<BookingItem>,
}

#[derive(Deserialize, IntoParams, Debug)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BookingQuery {
    /// Europe/London date of the appointments; default today.
    pub date: Option<NaiveDate>,
    pub health_worker_id: Option<uuid::Uuid>,
    pub status: Option<BookingStatus>,
}

fn item(record: &BookingRecord) -> BookingItem {
    BookingItem::new(
        &record.listing,
        &record.earlier_outcomes,
        &record.attendance,
        record.screening.as_ref(),
    )
}

/// A day's appointments with patient identifiers, presenting condition and PAT answers. Every
/// AHW sees the whole team's bookings. Each booking read is an audit event.
#[utoipa::path(
    operation_id = "listBookings",
    tag = "scheduling",
    params(BookingQuery),
    responses(
        (status = 200, description = "The day's bookings", body = BookingList),
        QueryProblems,
        Problems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/bookings")]
pub async fn list(
    auth: Authorized<ReadBookings>,
    state: web::Data<AppState>,
    query: web::Query<BookingQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let date = query.date.unwrap_or_else(|| london_date(state.settings.clock.now()));
    let (starts_from, starts_before) = london_day(date);
    let filter = BookingFilter {
        starts_from: Some(starts_from),
        starts_before: Some(starts_before),
        health_worker_id: query.health_worker_id,
        status: query.status,
        patient_keys: None,
    };
    let records = state.store.bookings().list(filter, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(BookingList {
        date,
        bookings: records.iter().map(item).collect(),
    }))
}

/// One booking with patient identifiers (audited).
#[utoipa::path(
    operation_id = "getBooking",
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Booking id")),
    responses(
        (status = 200, description = "The booking", body = BookingItem),
        IdProblems,
        NoBooking,
        Problems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/bookings/{id}")]
pub async fn get(
    auth: Authorized<ReadBookings>,
    state: web::Data<AppState>,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    let record = state.store.bookings().find(id, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(item(&record)))
}

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
    /// This corrects the recorded outcome: a new version (give `correction_reason`); the earlier
    /// one stays in `earlier_outcomes`. Without it, a booking whose outcome is recorded changes
    /// only by a replay of the same outcome.
    #[serde(default)]
    pub corrects: bool,
    /// Why the recorded outcome is corrected (1–500 characters); only with `corrects: true`, and
    /// required then.
    #[serde(default)]
    pub correction_reason: Option<String>,
}

impl RecordOutcome {
    /// Every problem with the values at once.
    pub fn into_recording(self) -> Result<OutcomeRecording, ApiError> {
        let checked = Outcome::new(
            self.status,
            self.brief_intervention_delivered,
            self.units_per_week,
            self.reason,
        );
        let given = self.correction_reason.is_some();
        let correction_reason = Reason::optional("correction_reason", self.correction_reason.as_deref());
        let mut errors: Vec<FieldError> = Vec::new();
        if let Err(outcome_errors) = &checked {
            errors.extend(outcome_errors.iter().cloned());
        }
        if let Err(error) = &correction_reason {
            errors.push(error.clone());
        } else if given && !self.corrects {
            errors.push(FieldError::new("correction_reason", "only with corrects: true"));
        }
        match (checked, correction_reason) {
            (Ok(checked), Ok(correction_reason)) if errors.is_empty() => Ok(OutcomeRecording {
                outcome: checked,
                corrects: self.corrects,
                correction_reason,
            }),
            _ => Err(errors.into()),
        }
    }
}

/// Record what happened: attended (with the brief intervention), did not attend, or cancelled
/// (by either side: who comes from the token). Only a `booked` appointment takes a first
/// outcome; the same outcome again is a replay. A recorded outcome changes only by a correction
/// (`corrects: true` with a `correction_reason`): a new `version`, the earlier one kept in
/// `earlier_outcomes` and the audit trail; the statistics use the current one. Any recorded
/// outcome can be corrected to another, but undoing a cancellation needs the slot still free and
/// live and the referral still accepted.
#[utoipa::path(
    operation_id = "recordOutcome",
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Booking id")),
    request_body = RecordOutcome,
    responses(
        (status = 200, description = "Recorded, replayed or corrected", body = BookingView),
        NoBooking,
        (status = 409, description = "invalid-transition: the outcome is recorded differently (a correction needs corrects: true); no-outcome-to-correct; slot-taken, slot-withdrawn or referral-not-accepted when undoing a cancellation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "outcome-before-slot, reason-required (a correction without correction_reason), or invalid values", body = Problem, content_type = "application/problem+json"),
        Problems,
        IdAndBodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/bookings/{id}/outcome")]
pub async fn outcome(
    auth: Authorized<RecordOutcomes>,
    state: web::Data<AppState>,
    PathIdAndBody(id, request): PathIdAndBody<RecordOutcome>,
) -> Result<HttpResponse, ApiError> {
    let recording = request.into_recording()?;
    let now = state.settings.clock.now();
    let booking = state
        .store
        .bookings()
        .record_outcome(id, recording, now, &auth.actor())
        .await?;
    Ok(HttpResponse::Ok().json(BookingView::new(
        &booking.listing,
        booking.screened_at,
        &booking.earlier_outcomes,
    )))
}
