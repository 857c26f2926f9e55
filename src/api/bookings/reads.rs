//! `GET /api/v1/bookings` (the AHW's day list) and `GET /api/v1/bookings/{id}`: bookings with who
//! the patient is and why they were referred; every booking read is an audit event.

use actix_web::{get, web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::problems::Problems;
use crate::api::views::BookingItem;
use crate::api::{AppState, PathId};
use crate::auth::Authorized;
use crate::domain::calendar::{london_date, london_day};
use crate::domain::scheduling::BookingStatus;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::scheduling::bookings::{BookingFilter, BookingRecord};

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
    BookingItem::new(&record.listing, &record.attendance, record.screening.as_ref())
}

/// A day's appointments with patient identifiers, presenting condition and PAT answers. Every
/// AHW sees the whole team's bookings. Each booking read is an audit event.
#[utoipa::path(
    tag = "scheduling",
    params(BookingQuery),
    responses(
        (status = 200, description = "The day's bookings", body = BookingList),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
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
        starts_from,
        starts_before,
        health_worker_id: query.health_worker_id,
        status: query.status,
    };
    let records = state.store.bookings().list(filter, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(BookingList {
        date,
        bookings: records.iter().map(item).collect(),
    }))
}

/// One booking with patient identifiers (audited).
#[utoipa::path(
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Booking id")),
    responses(
        (status = 200, description = "The booking", body = BookingItem),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking", body = Problem, content_type = "application/problem+json"),
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
