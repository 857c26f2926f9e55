//! AHW scheduling as FHIR (docs/domain.md §6, §9): a `Schedule` per health worker, their `Slot`s,
//! and `Appointment`s for bookings. Each handler calls what the JSON API's handler calls
//! (`health_workers().list`, `slots().list`, `bookings().list`, `bookings().book`), so a FHIR
//! booking meets the same rules and the same 409s (`slot-taken`, `already-booked`,
//! `referral-not-accepted`, `no-slot-in-window`) as `POST /api/v1/bookings`, as an
//! OperationOutcome. Appointment status: booked → `booked`, attended → `fulfilled`, did not
//! attend → `noshow`, cancelled → `cancelled`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::encounter::{identifier_key, subject};
use super::resources::{meta, Reference};
use super::{canonical, parse_resource, profile, reference_id, respond, PREFIX};
use crate::api::bookings::{MakeBookings, ReadBookings};
use crate::api::health_workers::{HealthWorkerView, ReadHealthWorkers};
use crate::api::slots::{ReadSlots, SlotView};
use crate::api::views::{BookingItem, BookingView};
use crate::api::AppState;
use crate::auth::Authorized;
use crate::domain::calendar::{london_date, london_day};
use crate::domain::scheduling::{no_slot_in_window, OutsideWindowReason};
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::store::scheduling::bookings::{Booked, BookingFilter, NewBooking};
use crate::store::scheduling::slots::SlotFilter;

/// The extension carrying `outside_window_reason` on a booking made outside the window.
pub fn outside_window_extension() -> String {
    canonical("StructureDefinition/outside-window-reason")
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A searchset Bundle of `resources`.
fn bundle(resources: Vec<Value>) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": resources.len(),
        "entry": resources.into_iter().map(|r| json!({ "resource": r, "search": { "mode": "match" } })).collect::<Vec<_>>(),
    })
}

/// The query string as (name, value) pairs (a parameter may repeat: `start=ge…&start=lt…`).
fn query_pairs(request: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::BadRequest {
            detail: format!("the query string is not valid: {e}"),
            errors: vec![],
        })
}

fn unsupported(name: &str) -> ApiError {
    ApiError::BadRequest {
        detail: format!("search parameter {name} is not supported (see /fhir/metadata)"),
        errors: vec![FieldError::new(name, "not supported")],
    }
}

fn practitioner(id: uuid::Uuid, name: &str) -> Value {
    json!({ "type": "Practitioner", "identifier": { "system": canonical("Id/health-worker"), "value": id }, "display": name })
}

/// A health worker as a UK Core Schedule (its id is the health worker's).
fn schedule(worker: &HealthWorkerView) -> Value {
    json!({
        "resourceType": "Schedule",
        "id": worker.id,
        "meta": meta(profile::SCHEDULE),
        "active": true,
        "actor": [practitioner(worker.id, &worker.name)],
        "comment": "Alcohol Health Worker appointments",
    })
}

/// A slot as a UK Core Slot: `free`, or `busy` when a booking holds it.
fn slot(view: &SlotView) -> Value {
    json!({
        "resourceType": "Slot",
        "id": view.id,
        "meta": meta(profile::SLOT),
        "schedule": { "reference": format!("Schedule/{}", view.health_worker_id) },
        "status": if view.available { "free" } else { "busy" },
        "start": time(view.starts_at),
        "end": time(view.ends_at),
    })
}

/// A booking as a UK Core Appointment; `patient` when the caller may see who it is.
fn appointment(view: &BookingView, patient: Option<Value>) -> Value {
    let mut participants = vec![json!({
        "actor": practitioner(view.health_worker_id, &view.health_worker_name),
        "status": "accepted",
    })];
    if let Some(patient) = patient {
        participants.push(json!({ "actor": patient, "status": "accepted" }));
    }
    let mut appointment = json!({
        "resourceType": "Appointment",
        "id": view.id,
        "meta": meta(profile::APPOINTMENT),
        "status": view.fhir_status,
        "description": "Alcohol Health Worker brief intervention",
        "start": time(view.starts_at),
        "end": time(view.ends_at),
        "created": time(view.booked_at),
        "slot": [{ "reference": format!("Slot/{}", view.slot_id) }],
        "supportingInformation": [{ "reference": format!("Encounter/{}", view.attendance_id) }],
        "participant": participants,
    });
    if let Some(reason) = view.outside_window_reason {
        appointment["extension"] = json!([{ "url": outside_window_extension(), "valueCode": reason.code() }]);
    }
    if let Some(reason) = &view.cancel_reason {
        appointment["cancelationReason"] = json!({ "text": reason });
    }
    appointment
}

/// `GET /fhir/Schedule`: one Schedule per health worker on the register.
pub async fn schedules(
    _auth: Authorized<ReadHealthWorkers>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let workers = state.store.health_workers().list().await?;
    let resources = workers
        .into_iter()
        .map(|w| schedule(&HealthWorkerView::from(w)))
        .collect();
    Ok(respond(StatusCode::OK, &bundle(resources)))
}

/// A `start` search value with its prefix (`ge`, `gt`, `le`, `lt`, none = `ge`).
fn start_bound(value: &str) -> Result<(&str, DateTime<Utc>), ApiError> {
    let (prefix, text) = match value.get(..2) {
        Some(p @ ("ge" | "gt" | "le" | "lt")) => (p, &value[2..]),
        _ => ("ge", value),
    };
    let parsed = DateTime::<FixedOffset>::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            text.parse::<NaiveDate>()
                .map(|d| london_day(d).0)
                .map_err(|_| ApiError::validation("start", "must be a date or an RFC 3339 time, with ge, gt, le or lt"))
        })?;
    Ok((prefix, parsed))
}

/// `GET /fhir/Slot?schedule=Schedule/{id}&status=free|busy&start=ge…&start=lt…`: as
/// `GET /api/v1/slots` (default from now, for 7 days).
pub async fn slots(
    _auth: Authorized<ReadSlots>,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut from = None;
    let mut to = None;
    let mut health_worker_id = None;
    let mut available = None;
    for (name, value) in query_pairs(&request)? {
        match name.as_str() {
            "schedule" => health_worker_id = Some(reference_id("schedule", "Schedule", Some(&value))?),
            "status" => {
                available = Some(match value.as_str() {
                    "free" => true,
                    "busy" => false,
                    _ => return Err(ApiError::validation("status", "must be free or busy")),
                })
            }
            "start" => match start_bound(&value)? {
                ("ge", t) => from = Some(t),
                ("gt", t) => from = Some(t + Duration::seconds(1)),
                (_, t) => to = Some(t),
            },
            other => return Err(unsupported(other)),
        }
    }
    let from = from.unwrap_or_else(|| state.settings.clock.now());
    let to = to.unwrap_or(from + Duration::days(7));
    if to <= from {
        return Err(ApiError::validation("start", "the upper bound must be after the lower"));
    }
    let filter = SlotFilter {
        from,
        to,
        health_worker_id,
        available,
    };
    let listed = state.store.slots().list(filter).await?;
    let resources = listed.into_iter().map(|s| slot(&SlotView::from(s))).collect();
    Ok(respond(StatusCode::OK, &bundle(resources)))
}

/// `GET /fhir/Appointment?date=YYYY-MM-DD&patient.identifier=system|value`, each read audited
/// as `GET /api/v1/bookings`, ordered by slot start. `date` alone: that day's appointments
/// (Europe/London); neither: today's. `patient.identifier` alone: the patient's appointments on
/// every day; with `date`, on that day. The identifier is an NHS number
/// (`https://fhir.nhs.uk/Id/nhs-number|9434765919`) or a local number (its assigning system's
/// `https://` URI, or the service's `Id/local-number`), read as an Encounter's subject is, to its
/// patient key (docs/domain.md §9); patient links are followed, so a local number traced to an
/// NHS number finds the appointments of both records, by either identifier.
pub async fn appointments(
    auth: Authorized<ReadBookings>,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut date = None;
    let mut patient_key = None;
    for (name, value) in query_pairs(&request)? {
        match name.as_str() {
            "date" => {
                date = Some(
                    value
                        .trim_start_matches("eq")
                        .parse::<NaiveDate>()
                        .map_err(|_| ApiError::validation("date", "must be a date, YYYY-MM-DD"))?,
                )
            }
            "patient.identifier" => {
                let (system, number) = value
                    .split_once('|')
                    .ok_or_else(|| ApiError::validation("patient.identifier", "must be system|value"))?;
                let key = identifier_key(system, number)
                    .map_err(|message| ApiError::validation("patient.identifier", message))?;
                patient_key = Some(key);
            }
            other => return Err(unsupported(other)),
        }
    }
    let date = match (date, &patient_key) {
        (None, None) => Some(london_date(state.settings.clock.now())),
        (date, _) => date,
    };
    let day = date.map(london_day);
    let filter = BookingFilter {
        starts_from: day.map(|(from, _)| from),
        starts_before: day.map(|(_, before)| before),
        patient_keys: patient_key.map(|key| vec![key]),
        ..BookingFilter::default()
    };
    let records = state.store.bookings().list(filter, &auth.actor()).await?;
    let resources = records
        .iter()
        .map(|r| BookingItem::new(&r.listing, &r.earlier_outcomes, &r.attendance, r.screening.as_ref()))
        .map(|item| appointment(&item.booking, Some(subject(&item.patient))))
        .collect();
    Ok(respond(StatusCode::OK, &bundle(resources)))
}

/// `GET /fhir/Appointment/{id}`: one booking with its patient (an audited read, as
/// `GET /api/v1/bookings/{id}`).
pub async fn appointment_read(
    auth: Authorized<ReadBookings>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("no Appointment with that id".into()))?;
    let record = state.store.bookings().find(id, &auth.actor()).await?;
    let item = BookingItem::new(
        &record.listing,
        &record.earlier_outcomes,
        &record.attendance,
        record.screening.as_ref(),
    );
    Ok(respond(
        StatusCode::OK,
        &appointment(&item.booking, Some(subject(&item.patient))),
    ))
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct AppointmentIn {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    slot: Vec<Reference>,
    #[serde(default)]
    supporting_information: Vec<Reference>,
    #[serde(default)]
    extension: Vec<Value>,
}

/// `POST /fhir/Appointment`: book an AHW appointment for an accepted referral. The attendance is
/// `supportingInformation` `Encounter/{id}`; the slot `slot[0]` (`Slot/{id}`), or none for the
/// earliest free slot in the window; a slot outside the window needs the extension
/// `outside-window-reason` (`patient_preference`, `no_capacity`).
pub async fn book(
    auth: Authorized<MakeBookings>,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: AppointmentIn = parse_resource("Appointment", body.into_inner())?;
    let mut errors = Vec::new();
    if !matches!(input.status.as_deref(), Some("booked" | "proposed" | "pending")) {
        errors.push(FieldError::new(
            "Appointment.status",
            "must be booked (or proposed, pending)",
        ));
    }
    let encounter = input
        .supporting_information
        .iter()
        .find_map(|r| r.reference.as_deref().filter(|r| r.contains("Encounter/")));
    let attendance_id = reference_id("Appointment.supportingInformation", "Encounter", encounter);
    if let Err(ApiError::Validation(e)) = &attendance_id {
        errors.extend(e.iter().cloned());
    }
    let slot_id = match input.slot.first() {
        None => Ok(None),
        Some(slot) => reference_id("Appointment.slot[0]", "Slot", slot.reference.as_deref()).map(Some),
    };
    if let Err(ApiError::Validation(e)) = &slot_id {
        errors.extend(e.iter().cloned());
    }
    let url = outside_window_extension();
    let mut outside_window_reason = None;
    for (i, extension) in input.extension.iter().enumerate() {
        if extension["url"].as_str() == Some(url.as_str()) {
            match serde_json::from_value::<OutsideWindowReason>(extension["valueCode"].clone()) {
                Ok(reason) => outside_window_reason = Some(reason),
                Err(_) => errors.push(FieldError::new(
                    format!("Appointment.extension[{i}].valueCode"),
                    "must be patient_preference or no_capacity",
                )),
            }
        }
    }
    let (Ok(attendance_id), Ok(slot_id), true) = (attendance_id, slot_id, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let window_hours = state.settings.booking_window_hours;
    let new = NewBooking {
        attendance_id,
        slot_id,
        outside_window_reason,
        window_hours,
        now: state.settings.clock.now(),
    };
    let booking = match state.store.bookings().book(new, &auth.actor()).await.map_err(|e| {
        super::rename_fields(e.into(), |field| match field {
            "outside_window_reason" => url.clone(),
            "slot_id" => "Appointment.slot[0]".into(),
            other => format!("Appointment.{other}"),
        })
    })? {
        Booked::Made(booking) => booking,
        Booked::NoSlotInWindow => return Err(no_slot_in_window(window_hours).into()),
    };
    let view = BookingView::new(&booking.listing, booking.screened_at, &booking.earlier_outcomes);
    let mut response = respond(StatusCode::CREATED, &appointment(&view, None));
    if let Ok(location) = HeaderValue::from_str(&format!("{PREFIX}/Appointment/{}", view.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
