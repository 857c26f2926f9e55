//! The referral queue (`GET /web/referrals`) and its "book the earliest free slot" form (`POST
//! /web/referrals/{attendance_id}/book`): accepted referrals waiting for a booking, oldest first,
//! with the time left in the booking window; booking calls the bookings store as `POST
//! /api/v1/bookings` without a slot does (the earliest free slot within the window).

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};

use super::QUEUE_ROLES;
use crate::api::AppState;
use crate::store::scheduling::bookings::{Booked, NewBooking};
use crate::web::html::escape;
use crate::web::session::{SignedIn, CSRF_FIELD};
use crate::web::{html, page, WebError};

/// How many referrals the queue shows at most.
const QUEUE_LIMIT: i64 = 200;

const FLASHES: &[(&str, &str)] = &[
    ("booked", "Booked into the earliest free slot: the appointment is on the day list."),
    (
        "no-slot",
        "No free slot in the booking window: nothing was booked. Publish slots or book a later slot with a reason through the API.",
    ),
];

fn london(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::London)
        .format("%-d %b %Y %H:%M")
        .to_string()
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
    if let Some((_, text)) = query
        .get("flash")
        .and_then(|code| FLASHES.iter().find(|(c, _)| c == code))
    {
        body.push_str(&format!("<p class=\"flash\" role=\"status\">{}</p>", escape(text)));
    }
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
        body.push_str(&format!(
            "</dl><form method=\"post\" action=\"/web/referrals/{id}/book\">\
             <input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{}\">\
             <button type=\"submit\">Book earliest free slot</button></form></section>",
            escape(&user.csrf_token)
        ));
    }
    Ok(html(page("Referral queue", Some(&user), &body)))
}

/// `POST /web/referrals/{attendance_id}/book` (ahw, clinician; CSRF-checked): the earliest free
/// slot within the window, as `POST /api/v1/bookings` without `slot_id`.
pub async fn book_earliest(
    state: web::Data<AppState>,
    user: SignedIn,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.check_csrf(&form)?;
    user.require(QUEUE_ROLES)?;
    let attendance_id = uuid::Uuid::parse_str(&path).map_err(|_| WebError::NotFound)?;
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
