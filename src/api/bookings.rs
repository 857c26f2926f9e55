//! `POST /api/v1/bookings`, `GET /api/v1/bookings`, `GET /api/v1/bookings/{id}`,
//! `POST /api/v1/bookings/{id}/outcome`: AHW appointments within the window, never double-booked.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;
use utoipa::{IntoParams, ToSchema};

use super::views::{BookingItem, BookingView};
use super::{audit_event, parse_body, parse_id, AppState};
use crate::auth::Authorized;
use crate::db::types::{DbTime, DbUuid};
use crate::db::{single_write, write_transaction, DbConnection};
use crate::domain::scheduling::ReferralDecision;
use crate::domain::scheduling::{window_end, BookingStatus, LeadTime, OutsideWindowReason};
use crate::domain::FieldError;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::attendances::{self, Attendance};
use crate::store::audit::{self, AuditEvent};
use crate::store::scheduling::{
    self, violates, Booking, BookingAttempt, BookingContext, BookingFilter, Slot, SlotListing,
};
use crate::store::screenings::Screening;

role_set!(
    /// Who books: ED staff, the EPR, or an AHW.
    MakeBookings: Clinician, Integration, Ahw
);
role_set!(
    /// Who reads bookings with patient identifiers.
    ReadBookings: Ahw, Admin
);
role_set!(
    /// Who records what happened at the appointment.
    RecordOutcomes: Ahw
);

/// How many free slots an automatic booking tries before answering that none is free: each try
/// can lose only to a booking made at the same moment.
const AUTOMATIC_TRIES: i64 = 20;

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

#[derive(Serialize, ToSchema, Debug)]
pub struct BookingList {
    /// The Europe/London date listed.
    pub date: NaiveDate,
    pub bookings: Vec<BookingItem>,
}

enum Booked {
    Made(Box<BookingView>),
    /// An automatic booking found no free slot; the attempt is recorded (and committed).
    NoSlot,
}

fn slot_taken() -> ApiError {
    ApiError::Conflict {
        kind: "slot-taken",
        detail: "another booking holds this slot".into(),
    }
}

fn referral_not_accepted() -> ApiError {
    ApiError::Conflict {
        kind: "referral-not-accepted",
        detail: "a booking needs a referral decision of accepted".into(),
    }
}

fn already_booked() -> ApiError {
    ApiError::Conflict {
        kind: "already-booked",
        detail: "this referral already has an open booking: cancel it to rebook".into(),
    }
}

/// The answers a booking request gets from its reads alone, in DESIGN.md §4's order: no such
/// attendance (404), no such live slot (404), no accepted referral (409), the slot is held (409).
/// Otherwise the attendance, its current screening and the slot asked for, if any.
fn admissible(
    context: Option<BookingContext>,
    slot_id: Option<DbUuid>,
    slot: Option<SlotListing>,
) -> Result<(Attendance, Screening, Option<SlotListing>), ApiError> {
    let (attendance, screening, referral) =
        context.ok_or_else(|| ApiError::NotFound("no attendance with that id".into()))?;
    if slot_id.is_some() && slot.is_none() {
        return Err(ApiError::NotFound("no slot with that id".into()));
    }
    let (Some(screening), Some(_)) = (screening, referral.filter(|r| r.decision == ReferralDecision::Accepted)) else {
        return Err(referral_not_accepted());
    };
    if slot.as_ref().is_some_and(|(_, _, holder)| holder.is_some()) {
        return Err(slot_taken());
    }
    Ok((attendance, screening, slot))
}

/// Which rule a failed booking insert broke, if it was one of the two unique indexes.
fn insert_error(error: &diesel::result::Error) -> Option<ApiError> {
    if violates(error, "bookings_one_active_per_slot", "bookings.slot_id") {
        Some(slot_taken())
    } else if violates(error, "bookings_one_open_per_referral", "bookings.attendance_id") {
        Some(already_booked())
    } else {
        None
    }
}

/// Inserts the booking with its audit event; losing the slot to a simultaneous booking or
/// withdrawal leaves the connection usable for the next slot (see `insert_booking_with_audit`).
/// `Ok(false)`: the slot was taken or withdrawn.
fn try_insert(conn: &mut DbConnection, row: &Booking, event: &AuditEvent) -> Result<bool, ApiError> {
    match scheduling::insert_booking_with_audit(conn, row, event) {
        Ok(true) => Ok(true),
        // The referral changed, or the slot was withdrawn, since they were read.
        Ok(false) => match scheduling::find_referral(conn, row.attendance_id)? {
            Some(referral) if referral.decision == ReferralDecision::Accepted => Ok(false),
            _ => Err(referral_not_accepted()),
        },
        Err(e) => match insert_error(&e) {
            Some(ApiError::Conflict { kind: "slot-taken", .. }) => Ok(false),
            Some(other) => Err(other),
            None => Err(e.into()),
        },
    }
}

/// Book an AHW appointment for an accepted referral: a given slot, or the earliest free one
/// within `PAT_BOOKING_WINDOW_HOURS` (24) of the screening.
#[utoipa::path(
    tag = "scheduling",
    request_body = CreateBooking,
    responses(
        (status = 201, description = "Booked", body = BookingView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such attendance or slot", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "referral-not-accepted, slot-taken, already-booked or no-slot-in-window", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "slot-in-past, outside-window (give outside_window_reason) or invalid values", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[post("/bookings")]
pub async fn create(
    auth: Authorized<MakeBookings>,
    state: web::Data<AppState>,
    request_id: RequestId,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let input: CreateBooking = parse_body(body.into_inner())?;
    let attendance_id = DbUuid(input.attendance_id);
    let now = state.settings.clock.now();
    let window_hours = state.settings.booking_window_hours;
    let user = auth.user;
    let request_id = request_id.to_string();
    let slot_id = input.slot_id.map(DbUuid);
    // On PostgreSQL the reads share a query with the other booking requests of the moment, and a
    // request they refuse (in a race, most are refused: the slot is taken) is answered at once.
    let admitted = match state.store.booking_reads_batched(attendance_id, slot_id).await? {
        Some((context, slot)) => Some(admissible(context, slot_id, slot)?),
        None => None, // read below, one request at a time
    };
    let booked = state
        .db(move |conn| {
            single_write(conn, |conn| {
                let (attendance, screening, chosen) = match &admitted {
                    Some(admitted) => admitted.clone(),
                    None => {
                        let context = scheduling::booking_context(conn, attendance_id)?;
                        let slot = match slot_id {
                            Some(slot_id) => scheduling::find_live_slot(conn, slot_id)?,
                            None => None,
                        };
                        admissible(context, slot_id, slot)?
                    }
                };
                let screened_at = screening.screened_at.get();
                let window_ends = window_end(screened_at, window_hours);
                let mut row = Booking {
                    id: DbUuid(uuid::Uuid::now_v7()),
                    attendance_id,
                    slot_id: DbUuid(uuid::Uuid::nil()),
                    status: BookingStatus::Booked,
                    within_window: true,
                    outside_window_reason: input.outside_window_reason,
                    booked_at: DbTime::new(now),
                    booked_by: user.subject.clone(),
                    outcome_at: None,
                    outcome_by: None,
                    brief_intervention_delivered: None,
                    units_per_week: None,
                    cancel_reason: None,
                    lead_time: None,
                };
                let key = Some(attendance.patient_key.as_str());
                let event = audit_event(&user, &request_id, "create", "booking", row.id.0, key);
                // The unique indexes decide slot-taken and already-booked; the reads before the
                // insert only pick which answer comes first (409 before a time rule's 422).
                let open_booking = |conn: &mut DbConnection| scheduling::has_open_booking(conn, attendance_id);
                let booked: Option<(Slot, String)> = match chosen {
                    Some((slot, name, _)) => {
                        let starts = slot.starts_at.get();
                        row.within_window = starts <= window_ends;
                        let broken_rule = if starts < now {
                            Some(ApiError::Rule {
                                kind: "slot-in-past",
                                detail: "the slot has already started".into(),
                                errors: vec![FieldError::new("slot_id", "must be a slot that has not started")],
                            })
                        } else if !row.within_window && row.outside_window_reason.is_none() {
                            Some(ApiError::Rule {
                                kind: "outside-window",
                                detail: format!(
                                    "the slot starts more than {window_hours} hours after the screening: give \
                                     outside_window_reason (patient_preference or no_capacity)"
                                ),
                                errors: vec![FieldError::new("outside_window_reason", "required for this slot")],
                            })
                        } else {
                            None
                        };
                        if let Some(rule) = broken_rule {
                            return Err(if open_booking(conn)? { already_booked() } else { rule });
                        }
                        row.slot_id = slot.id;
                        row.lead_time = Some(LeadTime::between(screened_at, starts));
                        if !try_insert(conn, &row, &event)? {
                            // Taken by a booking made at the same moment, or withdrawn since read.
                            return Err(match scheduling::find_live_slot(conn, slot.id)? {
                                None => ApiError::NotFound("no slot with that id".into()),
                                Some(_) => slot_taken(),
                            });
                        }
                        Some((slot, name))
                    }
                    None => {
                        if open_booking(conn)? {
                            return Err(already_booked());
                        }
                        let from = DbTime::new(now.max(screened_at));
                        let mut booked = None;
                        let free = scheduling::free_slots(conn, from, DbTime::new(window_ends), AUTOMATIC_TRIES)?;
                        for (slot_id, starts) in free {
                            row.slot_id = slot_id;
                            row.lead_time = Some(LeadTime::between(screened_at, starts.get()));
                            if try_insert(conn, &row, &event)? {
                                booked = scheduling::find_live_slot(conn, slot_id)?.map(|(slot, name, _)| (slot, name));
                                break;
                            }
                        }
                        booked
                    }
                };
                let Some((slot, name)) = booked else {
                    scheduling::insert_attempt(
                        conn,
                        &BookingAttempt {
                            id: DbUuid(uuid::Uuid::now_v7()),
                            attendance_id,
                            attempted_at: DbTime::new(now),
                            window_ends_at: DbTime::new(window_ends),
                            attempted_by: user.subject.clone(),
                        },
                    )?;
                    return Ok(Booked::NoSlot);
                };
                Ok(Booked::Made(Box::new(BookingView::new(
                    &(row, slot, name),
                    screened_at,
                ))))
            })
        })
        .await?;
    match booked {
        Booked::Made(view) => Ok(HttpResponse::Created().json(view)),
        Booked::NoSlot => Err(ApiError::Conflict {
            kind: "no-slot-in-window",
            detail: format!(
                "no free slot starts within {window_hours} hours of the screening; the unmet request is recorded"
            ),
        }),
    }
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

/// The start and end of a Europe/London calendar day, in UTC.
fn london_day(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |d: NaiveDate| {
        London
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map_or_else(
                || d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
                |t| t.with_timezone(&Utc),
            )
    };
    (start(date), start(date.succ_opt().unwrap_or(date)))
}

fn read_items(
    conn: &mut DbConnection,
    filter: &BookingFilter,
    user: &crate::auth::AuthUser,
    request_id: &str,
) -> Result<Vec<BookingItem>, ApiError> {
    let listings = scheduling::list_bookings(conn, filter)?;
    let ids: Vec<DbUuid> = listings.iter().map(|listing| listing.0.attendance_id).collect();
    let current = attendances::find_many_with_current_screening(conn, &ids)?;
    let mut events = Vec::with_capacity(listings.len());
    let mut items = Vec::with_capacity(listings.len());
    for listing in &listings {
        let (attendance, screening) = current
            .get(&listing.0.attendance_id)
            .cloned()
            .ok_or_else(|| ApiError::internal("a booking's attendance is missing"))?;
        events.push(audit_event(
            user,
            request_id,
            "read",
            "booking",
            listing.0.id.0,
            Some(&attendance.patient_key),
        ));
        items.push(BookingItem::new(listing, &attendance, screening.as_ref()));
    }
    audit::record_all(conn, &events)?;
    Ok(items)
}

/// A day's appointments with patient identifiers, presenting condition and PAT answers. Every
/// AHW sees the whole team's bookings. Each booking read is an audit event.
#[utoipa::path(
    tag = "scheduling",
    params(BookingQuery),
    responses(
        (status = 200, description = "The day's bookings", body = BookingList),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[get("/bookings")]
pub async fn list(
    auth: Authorized<ReadBookings>,
    state: web::Data<AppState>,
    request_id: RequestId,
    query: web::Query<BookingQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let date = query
        .date
        .unwrap_or_else(|| state.settings.clock.now().with_timezone(&London).date_naive());
    let (from, to) = london_day(date);
    let filter = BookingFilter {
        starts_from: Some(DbTime::new(from)),
        starts_before: Some(DbTime::new(to)),
        health_worker_id: query.health_worker_id.map(DbUuid),
        status: query.status,
        ..BookingFilter::default()
    };
    let user = auth.user;
    let request_id = request_id.to_string();
    let bookings = state
        .db(move |conn| write_transaction(conn, |conn| read_items(conn, &filter, &user, &request_id)))
        .await?;
    Ok(HttpResponse::Ok().json(BookingList { date, bookings }))
}

/// One booking with patient identifiers (audited).
#[utoipa::path(
    tag = "scheduling",
    params(("id" = uuid::Uuid, Path, description = "Booking id")),
    responses(
        (status = 200, description = "The booking", body = BookingItem),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[get("/bookings/{id}")]
pub async fn get(
    auth: Authorized<ReadBookings>,
    state: web::Data<AppState>,
    request_id: RequestId,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = DbUuid(parse_id(&path)?);
    let filter = BookingFilter {
        id: Some(id),
        ..BookingFilter::default()
    };
    let user = auth.user;
    let request_id = request_id.to_string();
    let mut items = state
        .db(move |conn| write_transaction(conn, |conn| read_items(conn, &filter, &user, &request_id)))
        .await?;
    match items.pop() {
        Some(item) => Ok(HttpResponse::Ok().json(item)),
        None => Err(ApiError::NotFound("no booking with that id".into())),
    }
}

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

fn check_outcome(input: &RecordOutcome) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    match input.status {
        BookingStatus::Booked => errors.push(FieldError::new(
            "status",
            "must be attended, did_not_attend or cancelled",
        )),
        BookingStatus::Attended if input.brief_intervention_delivered.is_none() => errors.push(FieldError::new(
            "brief_intervention_delivered",
            "required when attended",
        )),
        BookingStatus::Attended => {}
        _ => {
            if input.brief_intervention_delivered.is_some() {
                errors.push(FieldError::new("brief_intervention_delivered", "only when attended"));
            }
            if input.units_per_week.is_some() {
                errors.push(FieldError::new("units_per_week", "only when attended"));
            }
        }
    }
    if input.units_per_week.is_some_and(|u| !u.is_finite() || u < 0.0) {
        errors.push(FieldError::new("units_per_week", "must be a number of at least 0"));
    }
    match (&input.reason, input.status) {
        (Some(_), status) if status != BookingStatus::Cancelled => {
            errors.push(FieldError::new("reason", "only when cancelled"))
        }
        (Some(reason), _) if reason.chars().count() > 500 => {
            errors.push(FieldError::new("reason", "must be at most 500 characters"))
        }
        _ => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
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
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such booking", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "invalid-transition: the booking is no longer booked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "outcome-before-slot, or invalid values", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[post("/bookings/{id}/outcome")]
pub async fn outcome(
    auth: Authorized<RecordOutcomes>,
    state: web::Data<AppState>,
    request_id: RequestId,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id = DbUuid(parse_id(&path)?);
    let input: RecordOutcome = parse_body(body.into_inner())?;
    check_outcome(&input)?;
    let now = state.settings.clock.now();
    let user = auth.user;
    let request_id = request_id.to_string();
    let view = state
        .db(move |conn| {
            single_write(conn, |conn| {
                let (booking, slot, name) = scheduling::find_booking(conn, id)?
                    .ok_or_else(|| ApiError::NotFound("no booking with that id".into()))?;
                let current = booking.status;
                let invalid = || ApiError::Conflict {
                    kind: "invalid-transition",
                    detail: format!(
                        "the booking is {}; only a booked appointment can change",
                        current.code()
                    ),
                };
                if !current.can_become(input.status) {
                    return Err(invalid());
                }
                if input.status != BookingStatus::Cancelled && now < slot.starts_at.get() {
                    return Err(ApiError::Rule {
                        kind: "outcome-before-slot",
                        detail: "the appointment has not started yet".into(),
                        errors: vec![FieldError::new("status", "only cancelled before the slot starts")],
                    });
                }
                let changed = Booking {
                    status: input.status,
                    outcome_at: Some(DbTime::new(now)),
                    outcome_by: Some(user.subject.clone()),
                    brief_intervention_delivered: input.brief_intervention_delivered,
                    units_per_week: input.units_per_week,
                    cancel_reason: input.reason.clone(),
                    ..booking
                };
                let (attendance, screening) = attendances::find_with_current_screening(conn, changed.attendance_id)?
                    .ok_or_else(|| ApiError::internal("a booking's attendance is missing"))?;
                let event = audit_event(
                    &user,
                    &request_id,
                    "update",
                    "booking",
                    id.0,
                    Some(&attendance.patient_key),
                );
                if !scheduling::record_outcome(conn, &changed, &event)? {
                    return Err(invalid());
                }
                let screened_at = screening.map_or(changed.booked_at.get(), |s| s.screened_at.get());
                Ok(BookingView::new(&(changed, slot, name), screened_at))
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_london_day_follows_summer_time() {
        let summer = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or_default();
        let (from, to) = london_day(summer);
        assert_eq!(from.to_rfc3339(), "2025-06-30T23:00:00+00:00");
        assert_eq!(to - from, Duration::hours(24));
        // 30 March 2025 is 23 hours long in London.
        let (from, to) = london_day(NaiveDate::from_ymd_opt(2025, 3, 30).unwrap_or_default());
        assert_eq!(to - from, Duration::hours(23));
    }
}
