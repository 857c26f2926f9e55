//! `POST /api/v1/slots` (a slot or a whole rota, all or nothing), `GET /api/v1/slots`,
//! `DELETE /api/v1/slots/{id}`.

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{BodyProblems, IdProblems, Problems, QueryProblems};
use super::{AppState, Body, PathId};
use crate::auth::Authorized;
use crate::domain::scheduling::{single_slot, DayOfWeek, Rota, Span};
use crate::domain::FieldError;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::scheduling::slots::{SlotFilter, SlotListing};

role_set!(
    /// Who publishes and withdraws availability.
    ManageSlots: Admin, Ahw
);
role_set!(
    /// Who sees availability.
    ReadSlots: Admin, Ahw, Clinician, Integration
);

/// One slot (`starts_at`, `ends_at`), or a rota (`from_date` … `slot_minutes`, Europe/London).
#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct PublishSlots {
    pub health_worker_id: uuid::Uuid,
    #[serde(default)]
    pub starts_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<FixedOffset>>,
    /// Rota: first Europe/London date.
    #[serde(default)]
    pub from_date: Option<NaiveDate>,
    /// Rota: last Europe/London date, inclusive (at most 92 days after `from_date`).
    #[serde(default)]
    pub to_date: Option<NaiveDate>,
    #[serde(default)]
    pub weekdays: Option<Vec<DayOfWeek>>,
    /// Rota: local start of the working day, `HH:MM`.
    #[serde(default)]
    #[schema(example = "09:00")]
    pub day_start: Option<String>,
    /// Rota: local end of the working day, `HH:MM`; the last slot ends by then.
    #[serde(default)]
    #[schema(example = "17:00")]
    pub day_end: Option<String>,
    /// Rota: length of each slot, 5–240 minutes.
    #[serde(default)]
    pub slot_minutes: Option<i64>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct SlotView {
    pub id: uuid::Uuid,
    pub health_worker_id: uuid::Uuid,
    pub health_worker_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// False when a non-cancelled booking holds the slot.
    pub available: bool,
    pub booking_id: Option<uuid::Uuid>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct SlotsView {
    pub slots: Vec<SlotView>,
}

impl From<SlotListing> for SlotView {
    fn from((slot, name, booking): SlotListing) -> Self {
        SlotView {
            id: slot.id.0,
            health_worker_id: slot.health_worker_id.0,
            health_worker_name: name,
            starts_at: slot.starts_at.get(),
            ends_at: slot.ends_at.get(),
            available: booking.is_none(),
            booking_id: booking.map(|b| b.0),
        }
    }
}

fn clock_time(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>) -> Option<NaiveTime> {
    match value.map(|v| NaiveTime::parse_from_str(v, "%H:%M")) {
        None => {
            errors.push(FieldError::new(field, "required for a rota"));
            None
        }
        Some(Err(_)) => {
            errors.push(FieldError::new(field, "must be a time as HH:MM"));
            None
        }
        Some(Ok(t)) => Some(t),
    }
}

fn required<T: Copy>(errors: &mut Vec<FieldError>, field: &str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        errors.push(FieldError::new(field, "required for a rota"));
    }
    value
}

/// The requested slots as UTC `(start, end)` pairs.
fn requested_slots(input: &PublishSlots) -> Result<Vec<Span>, ApiError> {
    let rota_given = input.from_date.is_some()
        || input.to_date.is_some()
        || input.weekdays.is_some()
        || input.day_start.is_some()
        || input.day_end.is_some()
        || input.slot_minutes.is_some();
    match (input.starts_at, input.ends_at) {
        (Some(_), _) | (_, Some(_)) if rota_given => Err(ApiError::validation(
            "starts_at",
            "give either starts_at and ends_at (one slot) or the rota fields, not both",
        )),
        (Some(starts), Some(ends)) => single_slot(starts.with_timezone(&Utc), ends.with_timezone(&Utc))
            .map(|span| vec![span])
            .map_err(|error| ApiError::Validation(vec![error])),
        (Some(_), None) => Err(ApiError::validation("ends_at", "required with starts_at")),
        (None, Some(_)) => Err(ApiError::validation("starts_at", "required with ends_at")),
        (None, None) => {
            let mut errors = Vec::new();
            let from_date = required(&mut errors, "from_date", input.from_date);
            let to_date = required(&mut errors, "to_date", input.to_date);
            let slot_minutes = required(&mut errors, "slot_minutes", input.slot_minutes);
            if input.weekdays.is_none() {
                errors.push(FieldError::new("weekdays", "required for a rota"));
            }
            let day_start = clock_time(&mut errors, "day_start", input.day_start.as_deref());
            let day_end = clock_time(&mut errors, "day_end", input.day_end.as_deref());
            match (from_date, to_date, slot_minutes, &input.weekdays, day_start, day_end) {
                (
                    Some(from_date),
                    Some(to_date),
                    Some(slot_minutes),
                    Some(weekdays),
                    Some(day_start),
                    Some(day_end),
                ) if errors.is_empty() => {
                    let rota = Rota {
                        from_date,
                        to_date,
                        weekdays: weekdays.clone(),
                        day_start,
                        day_end,
                        slot_minutes,
                    };
                    rota.slots().map_err(ApiError::Validation)
                }
                _ => Err(ApiError::Validation(errors)),
            }
        }
    }
}

/// Publish availability: one slot, or a rota of back-to-back slots. All or nothing.
#[utoipa::path(
    operation_id = "publishSlots",
    tag = "scheduling",
    request_body = PublishSlots,
    responses(
        (status = 201, description = "Published", body = SlotsView),
        (status = 404, description = "No such health worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Overlaps another slot of the same health worker", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values, or a slot in the past", body = Problem, content_type = "application/problem+json"),
        Problems,
        BodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/slots")]
pub async fn publish(
    auth: Authorized<ManageSlots>,
    state: web::Data<AppState>,
    Body(input): Body<PublishSlots>,
) -> Result<HttpResponse, ApiError> {
    let spans = requested_slots(&input)?;
    let now = state.settings.clock.now();
    let published = state
        .store
        .slots()
        .publish(input.health_worker_id, spans, now, &auth.actor())
        .await?;
    Ok(HttpResponse::Created().json(SlotsView {
        slots: published.into_iter().map(SlotView::from).collect(),
    }))
}

#[derive(Deserialize, IntoParams, Debug)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// Slots starting at or after this time (RFC 3339); default now.
    pub from: Option<DateTime<FixedOffset>>,
    /// Slots starting before this time (RFC 3339); default `from` + 7 days.
    pub to: Option<DateTime<FixedOffset>>,
    pub health_worker_id: Option<uuid::Uuid>,
    /// true: only free slots; false: only booked ones.
    pub available: Option<bool>,
}

/// Availability, by start time.
#[utoipa::path(
    operation_id = "listSlots",
    tag = "scheduling",
    params(SlotQuery),
    responses(
        (status = 200, description = "Slots", body = SlotsView),
        QueryProblems,
        (status = 422, description = "`to` not after `from`", body = Problem, content_type = "application/problem+json"),
        Problems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/slots")]
pub async fn list(
    _auth: Authorized<ReadSlots>,
    state: web::Data<AppState>,
    query: web::Query<SlotQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let from = query
        .from
        .map_or_else(|| state.settings.clock.now(), |t| t.with_timezone(&Utc));
    let to = query.to.map_or(from + Duration::days(7), |t| t.with_timezone(&Utc));
    if to <= from {
        return Err(ApiError::validation("to", "must be after from"));
    }
    let filter = SlotFilter {
        from,
        to,
        health_worker_id: query.health_worker_id,
        available: query.available,
    };
    let slots = state.store.slots().list(filter).await?;
    Ok(HttpResponse::Ok().json(SlotsView {
        slots: slots.into_iter().map(SlotView::from).collect(),
    }))
}

/// Withdraw a slot nobody has booked.
#[utoipa::path(
    operation_id = "withdrawSlot",
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Slot id")),
    responses(
        (status = 204, description = "Withdrawn"),
        IdProblems,
        (status = 404, description = "No such slot", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A booking holds the slot", body = Problem, content_type = "application/problem+json"),
        Problems,
    ),
    security(("bearerAuth" = []))
)]
#[delete("/slots/{id}")]
pub async fn withdraw(
    _auth: Authorized<ManageSlots>,
    state: web::Data<AppState>,
    PathId(id): PathId,
) -> Result<HttpResponse, ApiError> {
    state.store.slots().withdraw(id, state.settings.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
