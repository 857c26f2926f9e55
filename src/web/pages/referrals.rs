//! The referral queue (`GET /web/referrals`), its "book the earliest free slot" form, and the
//! page choosing a slot for one referral (`GET /web/referrals/{attendance_id}`); both book with
//! `POST /web/referrals/{attendance_id}/book`, calling the bookings store as `POST
//! /api/v1/bookings` does: without a slot, the earliest free one within the window; with one, that
//! slot, and a reason when it starts after the window. Accepted referrals wait oldest first, with
//! the time left in the booking window; once it has passed, only a later slot can be booked.

use std::collections::HashMap;

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};

use super::form::{self, FieldErrors, Refused};
use super::QUEUE_ROLES;
use crate::api::AppState;
use crate::domain::scheduling::{window_end, BookingStatus, OutsideWindowReason, ReferralDecision};
use crate::error::ApiError;
use crate::store::scheduling::bookings::{Booked, NewBooking};
use crate::store::scheduling::slots::{SlotFilter, SlotListing};
use crate::web::html::escape;
use crate::web::session::{SignedIn, CSRF_FIELD};
use crate::web::{html, page, WebError};

/// How many referrals the queue shows at most.
const QUEUE_LIMIT: i64 = 200;

const FLASHES: &[(&str, &str)] = &[
    (
        "booked",
        "Booked into the earliest free slot: the appointment is on the day list.",
    ),
    (
        "no-slot",
        "No free slot in the booking window: nothing was booked. Publish slots, or choose a later slot with a reason.",
    ),
    (
        "booked-chosen",
        "Booked into the slot you chose: the appointment is on the day list.",
    ),
];

/// How many days after the window (or now, when it has passed) the later free slots are listed.
const LATER_DAYS: i64 = 7;

/// A time as the referral pages show it: "7 Dec 2026 09:00" (Europe/London).
fn london(t: DateTime<Utc>) -> String {
    html::london(t, "%-d %b %Y %H:%M")
}

/// The time left in the window, in words.
fn time_left(deadline: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = deadline - now;
    if left <= Duration::zero() {
        return "window passed".to_owned();
    }
    let minutes = left.num_minutes();
    format!("{} h {:02} min left", minutes / 60, minutes % 60)
}

/// `GET /web/referrals` (ahw, clinician).
pub async fn queue(
    state: web::Data<AppState>,
    user: SignedIn,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.require(QUEUE_ROLES)?;
    let queued = state.store.referrals().queue(QUEUE_LIMIT, &user.actor()).await?;
    let now = state.settings.clock.now();
    let window = Duration::hours(state.settings.booking_window_hours);
    let mut body = String::new();
    body.push_str(&form::flash(&query, FLASHES));
    if queued.is_empty() {
        body.push_str("<p>No accepted referral is waiting for a booking.</p>");
    } else {
        body.push_str(&format!(
            "<p>{} accepted referral{} waiting for a booking, oldest first.</p>",
            queued.len(),
            if queued.len() == 1 { "" } else { "s" }
        ));
    }
    for q in &queued {
        let id = q.attendance.id.0;
        let screened_at = q.screening.as_ref().map(|s| s.screened_at.get());
        let left = screened_at.map_or_else(|| "no screening".to_owned(), |t| time_left(t + window, now));
        let mut condition = q.attendance.presenting_condition.code().replace('_', " ");
        if let Some(detail) = &q.attendance.presenting_condition_detail {
            condition.push_str(&format!(": {detail}"));
        }
        let rows = [
            (
                "NHS number",
                q.attendance
                    .nhs_number
                    .as_ref()
                    .map_or_else(|| "not known".to_owned(), |n| n.as_str().to_owned()),
            ),
            (
                "Local number",
                q.attendance.local_id.clone().unwrap_or_else(|| "not known".to_owned()),
            ),
            ("Presenting condition", condition),
            ("Screened", screened_at.map_or_else(|| "not known".to_owned(), london)),
            ("Referral accepted", london(q.referral.decided_at.get())),
            ("Booking window", left.clone()),
        ];
        body.push_str(&format!(
            "<section class=\"booking\" aria-labelledby=\"r-{id}\"><h2 id=\"r-{id}\">Referral accepted {}: {}</h2><dl>",
            escape(&london(q.referral.decided_at.get())),
            escape(&left)
        ));
        for (term, value) in rows {
            body.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(term), escape(&value)));
        }
        body.push_str("</dl>");
        let window_open = screened_at.is_some_and(|t| now <= t + window);
        if window_open {
            body.push_str(&format!(
                "<form method=\"post\" action=\"/web/referrals/{id}/book\">\
                 <input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{}\">\
                 <button type=\"submit\">Book earliest free slot</button></form>\
                 <p><a href=\"/web/referrals/{id}\">Choose a slot</a></p></section>",
                escape(&user.csrf_token)
            ));
        } else {
            // The earliest free slot in a window that has passed cannot be booked.
            body.push_str(&format!(
                "<p><a href=\"/web/referrals/{id}\">Book outside the window</a></p></section>"
            ));
        }
    }
    Ok(html(page("Referral queue", Some(&user), &body)))
}

/// A slot as the pages say it: "Mon 7 Dec 2026 09:00–09:30 with Alex Morgan".
fn slot_words(listing: &SlotListing) -> String {
    let (slot, name, _) = listing;
    format!(
        "{}–{} with {}",
        html::london(slot.starts_at.get(), "%a %-d %b %Y %H:%M"),
        html::london(slot.ends_at.get(), "%H:%M"),
        name
    )
}

/// A refused booking shown again on the choose page: the later slot and reason typed, the
/// problems next to their fields (422), or the refusal in words (409).
#[derive(Default)]
struct FailedBooking {
    values: HashMap<String, String>,
    errors: FieldErrors,
    notice: Option<String>,
}

/// `GET /web/referrals/{attendance_id}` (ahw, clinician): the free slots in the booking window,
/// each with a Book button, and the later ones (the next 7 days) with the reason a booking
/// outside the window needs. Reads the attendance as `GET /api/v1/attendances/{id}` does (an
/// audited read) and the free slots as `GET /api/v1/slots` does.
pub async fn choose(
    state: web::Data<AppState>,
    user: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    user.require(QUEUE_ROLES)?;
    let attendance_id = uuid::Uuid::parse_str(&path).map_err(|_| WebError::NotFound)?;
    let body = choose_page(&state, &user, attendance_id, None).await?;
    Ok(html(page("Choose a slot", Some(&user), &body)))
}

async fn choose_page(
    state: &AppState,
    user: &SignedIn,
    attendance_id: uuid::Uuid,
    failed: Option<&FailedBooking>,
) -> Result<String, WebError> {
    let record = state.store.attendances().find(attendance_id, &user.actor()).await?;
    let now = state.settings.clock.now();
    let id = attendance_id;
    let a = &record.attendance;
    let mut body = String::new();
    if let Some(failed) = failed {
        body.push_str(&form::refusal(&failed.errors, failed.notice.as_ref()));
    }
    let screened_at = record.screenings.first().map(|s| s.screened_at.get());
    let rows = [
        (
            "NHS number",
            a.nhs_number
                .as_ref()
                .map_or_else(|| "not known".to_owned(), |n| n.as_str().to_owned()),
        ),
        (
            "Local number",
            a.local_id.clone().unwrap_or_else(|| "not known".to_owned()),
        ),
        ("Screened", screened_at.map_or_else(|| "not known".to_owned(), london)),
    ];
    body.push_str("<dl>");
    for (term, value) in rows {
        body.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(term), escape(&value)));
    }
    body.push_str("</dl>");
    let accepted = record
        .referral
        .as_ref()
        .is_some_and(|r| r.current.decision == ReferralDecision::Accepted);
    let open_booking = record
        .bookings
        .iter()
        .any(|(b, _, _)| b.status != BookingStatus::Cancelled);
    let Some(screened_at) = screened_at.filter(|_| accepted && !open_booking) else {
        body.push_str(
            "<p>This referral is not waiting for a booking: it is not accepted, or it is booked already. \
             <a href=\"/web/referrals\">Back to the referral queue</a>.</p>",
        );
        return Ok(body);
    };
    let end = window_end(screened_at, state.settings.booking_window_hours);
    let later_from = end.max(now);
    let free = state
        .store
        .slots()
        .list(SlotFilter {
            from: now,
            to: later_from + Duration::days(LATER_DAYS),
            health_worker_id: None,
            available: Some(true),
        })
        .await?;
    let (within, later): (Vec<&SlotListing>, Vec<&SlotListing>) =
        free.iter().partition(|(slot, _, _)| slot.starts_at.get() <= end);
    let csrf = escape(&user.csrf_token);

    body.push_str(&format!(
        "<h2>Free slots in the booking window</h2><p>The window ends {}: {}.</p>",
        escape(&london(end)),
        escape(&time_left(end, now))
    ));
    if within.is_empty() {
        body.push_str("<p>No free slot in the window.</p>");
    } else {
        body.push_str("<ul class=\"slots\">");
        for listing in &within {
            let words = escape(&slot_words(listing));
            body.push_str(&format!(
                "<li><form method=\"post\" action=\"/web/referrals/{id}/book\">\
                 <input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"slot_id\" value=\"{slot}\">\
                 {words} <button type=\"submit\">Book<span class=\"visually-hidden\"> {words}</span></button>\
                 </form></li>",
                slot = listing.0.id.0,
            ));
        }
        body.push_str("</ul>");
    }

    body.push_str(&format!(
        "<h2>Later free slots</h2><p>Free slots in the {LATER_DAYS} days after {}. Booking one needs a reason.</p>",
        if end > now { "the window" } else { "now" }
    ));
    if later.is_empty() {
        body.push_str("<p>No later free slot.</p>");
        return Ok(body);
    }
    let empty = FieldErrors::default();
    let errors = failed.map_or(&empty, |f| &f.errors);
    let kept = |name: &str| failed.and_then(|f| f.values.get(name));
    body.push_str(&format!(
        "<form method=\"post\" action=\"/web/referrals/{id}/book\">\
         <input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"outside_window\" value=\"yes\">\
         <fieldset id=\"later-slots\"{attrs}><legend>Choose a later slot</legend>{error}",
        attrs = errors.attrs("later-slots"),
        error = errors.message("later-slots"),
    ));
    for listing in &later {
        let slot = listing.0.id.0;
        let checked = if kept("slot_id").is_some_and(|v| *v == slot.to_string()) {
            " checked"
        } else {
            ""
        };
        body.push_str(&format!(
            "<div class=\"choice\"><input type=\"radio\" id=\"slot-{slot}\" name=\"slot_id\" value=\"{slot}\"{checked}>\
             <label for=\"slot-{slot}\">{}</label></div>",
            escape(&slot_words(listing))
        ));
    }
    let reason = kept("outside_window_reason");
    body.push_str(&format!(
        "</fieldset><label for=\"outside_window_reason\">Reason for booking outside the window (required)</label>{error}\
         <select id=\"outside_window_reason\" name=\"outside_window_reason\"{attrs}>\
         <option value=\"\">Choose a reason</option>\
         <option value=\"patient_preference\"{p}>The patient prefers a later time</option>\
         <option value=\"no_capacity\"{n}>No free slot in the window</option></select>\
         <p><button type=\"submit\">Book outside the window</button></p></form>",
        error = errors.message("outside_window_reason"),
        attrs = errors.attrs("outside_window_reason"),
        p = form::selected(reason, "patient_preference"),
        n = form::selected(reason, "no_capacity"),
    ));
    Ok(body)
}

/// `POST /web/referrals/{attendance_id}/book` (ahw, clinician; CSRF-checked): without `slot_id`
/// the earliest free slot within the window (back to the queue with a message either way); with
/// `slot_id` that slot, with `outside_window_reason` when it starts after the window. A refused
/// chosen slot shows the choose page again: the problems next to their fields (422) or the
/// refusal in words (409, e.g. the slot taken meanwhile); nothing is booked.
pub async fn book(
    state: web::Data<AppState>,
    user: SignedIn,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.check_csrf(&form)?;
    user.require(QUEUE_ROLES)?;
    let attendance_id = uuid::Uuid::parse_str(&path).map_err(|_| WebError::NotFound)?;
    let field = |name: &str| form.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let outside = field("outside_window").is_some();
    if !outside && field("slot_id").is_none() {
        return book_earliest(&state, &user, attendance_id).await;
    }
    let mut failed = FailedBooking {
        values: form.into_inner(),
        ..FailedBooking::default()
    };
    failed.values.remove(CSRF_FIELD);
    let slot_id = field_of(&failed.values, "slot_id").and_then(|v| uuid::Uuid::parse_str(&v).ok());
    if slot_id.is_none() {
        failed.errors.add("later-slots", "Later slot", "choose a slot");
    }
    let reason = match field_of(&failed.values, "outside_window_reason").as_deref() {
        None => None,
        Some("patient_preference") => Some(OutsideWindowReason::PatientPreference),
        Some("no_capacity") => Some(OutsideWindowReason::NoCapacity),
        Some(_) => {
            failed
                .errors
                .add("outside_window_reason", "Reason", "choose one of the reasons listed");
            None
        }
    };
    let status = match slot_id.filter(|_| failed.errors.is_empty()) {
        None => StatusCode::UNPROCESSABLE_ENTITY,
        Some(slot_id) => {
            let new = NewBooking {
                attendance_id,
                slot_id: Some(slot_id),
                outside_window_reason: reason,
                window_hours: state.settings.booking_window_hours,
                now: state.settings.clock.now(),
            };
            match state.store.bookings().book(new, &user.actor()).await {
                Ok(Booked::Made(_)) => {
                    return Ok(HttpResponse::SeeOther()
                        .insert_header((header::LOCATION, "/web/referrals?flash=booked-chosen"))
                        .finish())
                }
                Ok(Booked::NoSlotInWindow) => {
                    failed.notice = Some("Nothing was booked: the slot is not free.".to_owned());
                    StatusCode::CONFLICT
                }
                Err(error) => match Refused::from(ApiError::from(error)) {
                    Refused::Page(error) => return Err(error.into()),
                    Refused::Conflict(detail) => {
                        failed.notice = Some(format!("Nothing was booked: {detail}."));
                        StatusCode::CONFLICT
                    }
                    Refused::Fields(errors, detail) => {
                        for error in &errors {
                            match error.field.as_str() {
                                "outside_window_reason" if outside => failed.errors.add(
                                    "outside_window_reason",
                                    "Reason",
                                    "choose why the appointment is outside the booking window",
                                ),
                                "slot_id" if outside => failed.errors.add("later-slots", "Later slot", &error.message),
                                _ => {}
                            }
                        }
                        if failed.errors.is_empty() {
                            let detail = if detail.is_empty() {
                                "the values were refused".to_owned()
                            } else {
                                detail
                            };
                            failed.notice = Some(format!("Nothing was booked: {detail}."));
                        }
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                },
            }
        }
    };
    let body = choose_page(&state, &user, attendance_id, Some(&failed)).await?;
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(page("Choose a slot", Some(&user), &body)))
}

fn field_of(values: &HashMap<String, String>, name: &str) -> Option<String> {
    values.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The earliest free slot within the window, as `POST /api/v1/bookings` without a slot books it.
async fn book_earliest(state: &AppState, user: &SignedIn, attendance_id: uuid::Uuid) -> Result<HttpResponse, WebError> {
    let new = NewBooking {
        attendance_id,
        slot_id: None,
        outside_window_reason: None,
        window_hours: state.settings.booking_window_hours,
        now: state.settings.clock.now(),
    };
    let flash = match state.store.bookings().book(new, &user.actor()).await? {
        Booked::Made(_) => "booked",
        Booked::NoSlotInWindow => "no-slot",
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/web/referrals?flash={flash}")))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_in_words() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(time_left(now + Duration::minutes(23 * 60 + 5), now), "23 h 05 min left");
        assert_eq!(time_left(now + Duration::seconds(59), now), "0 h 00 min left");
        assert_eq!(time_left(now, now), "window passed");
        assert_eq!(time_left(now - Duration::hours(1), now), "window passed");
    }
}
