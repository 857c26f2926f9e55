//! Slots (`GET /web/slots`): a health worker's week, Monday to Sunday in Europe/London dates, each
//! day's slots with their times and whether free or booked (no patient identifiers: the slots
//! store answers only which booking holds a slot); publishing a rota (`POST /web/slots`, the
//! rota of `POST /api/v1/slots`: all or nothing); withdrawing a free slot (`POST
//! /web/slots/{id}/withdraw`, as `DELETE /api/v1/slots/{id}`: a booked slot is refused).

use std::collections::HashMap;

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{Datelike, Duration, NaiveDate, NaiveTime};

use super::form::{self, FieldErrors, Refused};
use super::SLOT_ROLES;
use crate::api::AppState;
use crate::domain::calendar::{london_date, london_midnight};
use crate::domain::scheduling::{DayOfWeek, Rota};
use crate::error::ApiError;
use crate::store::scheduling::slots::{SlotFilter, SlotListing};
use crate::web::html::{escape, query_component};
use crate::web::session::{SignedIn, CSRF_FIELD};
use crate::web::{html, page, WebError};

const FLASHES: &[(&str, &str)] = &[
    ("published", "The rota was published: its slots are below."),
    ("withdrawn", "The slot was withdrawn."),
];

/// The rota form's days: (form field, label, the API's day).
const DAYS: [(&str, &str, DayOfWeek); 7] = [
    ("day_mon", "Monday", DayOfWeek::Mon),
    ("day_tue", "Tuesday", DayOfWeek::Tue),
    ("day_wed", "Wednesday", DayOfWeek::Wed),
    ("day_thu", "Thursday", DayOfWeek::Thu),
    ("day_fri", "Friday", DayOfWeek::Fri),
    ("day_sat", "Saturday", DayOfWeek::Sat),
    ("day_sun", "Sunday", DayOfWeek::Sun),
];

/// The rota form's fields: (form field and the API's field, element id, label).
const ROTA_FIELDS: [(&str, &str, &str); 7] = [
    ("health_worker_id", "rota-health_worker", "Health worker"),
    ("from_date", "rota-from_date", "First date"),
    ("to_date", "rota-to_date", "Last date"),
    ("weekdays", "rota-weekdays", "Days of the week"),
    ("day_start", "rota-day_start", "Start of the working day"),
    ("day_end", "rota-day_end", "End of the working day"),
    ("slot_minutes", "rota-slot_minutes", "Slot length in minutes"),
];

fn rota_field(api_field: &str) -> (&'static str, &'static str) {
    ROTA_FIELDS
        .iter()
        .find(|(name, _, _)| *name == api_field)
        .map_or(("rota-from_date", "First date"), |(_, id, label)| (*id, *label))
}

/// A refused rota or withdrawal, shown again on the week.
#[derive(Default)]
struct Failed {
    values: HashMap<String, String>,
    errors: FieldErrors,
    notice: Option<String>,
}

/// `GET /web/slots?week=YYYY-MM-DD&health_worker=<id>` (ahw, admin): the week holding `week`
/// (default this week), of one health worker or everyone.
pub async fn week(
    state: web::Data<AppState>,
    user: SignedIn,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.require(SLOT_ROLES)?;
    let body = week_page(&state, &user, &query, None).await?;
    Ok(html(page("Slots", Some(&user), &body)))
}

async fn week_page(
    state: &AppState,
    user: &SignedIn,
    query: &HashMap<String, String>,
    failed: Option<&Failed>,
) -> Result<String, WebError> {
    let now = state.settings.clock.now();
    let today = london_date(now);
    let (raw_week, day, week_error) = form::date_field(query, "week", today);
    let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
    let (worker, worker_error) = form::worker_field(query);
    let workers = state.store.health_workers().list().await?;

    let mut body = String::new();
    if let Some(failed) = failed {
        body.push_str(&form::refusal(&failed.errors, failed.notice.as_ref()));
    }
    body.push_str(&form::flash(query, FLASHES));

    // The week and health worker pickers: a GET form.
    body.push_str("<form method=\"get\" action=\"/web/slots\">");
    body.push_str(&format!(
        "<label for=\"week\">A day of the week to show (Europe/London)</label>\
         <input type=\"date\" id=\"week\" name=\"week\" value=\"{}\"{}>",
        escape(&raw_week.map_or_else(|| monday.to_string(), str::to_owned)),
        if week_error {
            " aria-invalid=\"true\" aria-describedby=\"week-error\""
        } else {
            ""
        }
    ));
    if week_error {
        body.push_str(
            "<p class=\"error\" id=\"week-error\">Error: Enter the date as year-month-day, for example 2026-12-07.</p>",
        );
    }
    body.push_str(&form::worker_select(&workers, worker, worker_error));
    body.push_str("<p><button type=\"submit\">Show the week</button></p></form>");

    let worker_q = worker.map(|w| w.to_string()).unwrap_or_default();
    let back = format!("week={monday}&health_worker={worker_q}");
    body.push_str(&format!(
        "<p><a href=\"/web/slots?week={}&amp;health_worker={w}\">Previous week</a> · \
         <a href=\"/web/slots?week={}&amp;health_worker={w}\">Next week</a></p>",
        monday - Duration::days(7),
        monday + Duration::days(7),
        w = escape(&query_component(&worker_q)),
    ));

    let slots = if week_error || worker_error {
        vec![]
    } else {
        state
            .store
            .slots()
            .list(SlotFilter {
                from: london_midnight(monday),
                to: london_midnight(monday + Duration::days(7)),
                health_worker_id: worker,
                available: None,
            })
            .await?
    };
    body.push_str(&format!(
        "<h2>Week of {}</h2>",
        escape(&monday.format("%A %-d %B %Y").to_string())
    ));
    if slots.is_empty() {
        body.push_str("<p>No slots this week.</p>");
    }
    // One section per health worker with slots this week, in the register's order.
    for w in workers
        .iter()
        .filter(|w| slots.iter().any(|(s, _, _)| s.health_worker_id == w.id))
    {
        body.push_str(&format!("<section class=\"week\"><h3>{}</h3>", escape(&w.name)));
        for offset in 0..7 {
            let date = monday + Duration::days(offset);
            let of_day: Vec<&SlotListing> = slots
                .iter()
                .filter(|(s, _, _)| s.health_worker_id == w.id && london_date(s.starts_at.get()) == date)
                .collect();
            if of_day.is_empty() {
                continue;
            }
            body.push_str(&format!(
                "<h4>{}</h4><ul class=\"slots\">",
                escape(&date.format("%A %-d %B").to_string())
            ));
            for (slot, name, booking) in of_day {
                let when = format!(
                    "{}–{}",
                    html::london(slot.starts_at.get(), "%H:%M"),
                    html::london(slot.ends_at.get(), "%H:%M")
                );
                match booking {
                    Some(_) => body.push_str(&format!("<li>{when} booked</li>")),
                    None if user.has_any(SLOT_ROLES) => body.push_str(&format!(
                        "<li><form method=\"post\" action=\"/web/slots/{id}/withdraw?{back}\">\
                         <input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\">\
                         {when} free <button type=\"submit\">Withdraw<span class=\"visually-hidden\"> \
                         the slot {when} on {date} with {name}</span></button></form></li>",
                        id = slot.id.0,
                        back = escape(&back),
                        csrf = escape(&user.csrf_token),
                        date = escape(&date.format("%A %-d %B").to_string()),
                        name = escape(name),
                    )),
                    None => body.push_str(&format!("<li>{when} free</li>")),
                }
            }
            body.push_str("</ul>");
        }
        body.push_str("</section>");
    }
    // A refused withdrawal has no rota values: the rota form starts fresh.
    let rota_failed = failed.filter(|f| !f.values.is_empty());
    body.push_str(&rota_form(user, &workers, worker, &back, rota_failed));
    Ok(body)
}

fn rota_form(
    user: &SignedIn,
    workers: &[crate::store::scheduling::health_workers::HealthWorker],
    worker: Option<uuid::Uuid>,
    back: &str,
    failed: Option<&Failed>,
) -> String {
    let empty = FieldErrors::default();
    let errors = failed.map_or(&empty, |f| &f.errors);
    let kept = |name: &str| failed.and_then(|f| f.values.get(name));
    let mut s = format!(
        "<h2>Publish a rota</h2><p>Back-to-back slots every chosen day from the first date to the last \
         (Europe/London times). All or nothing: if one slot cannot be published, none is.</p>\
         <form method=\"post\" action=\"/web/slots?{back}\">\
         <input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\">",
        back = escape(back),
        csrf = escape(&user.csrf_token),
    );
    let id = "rota-health_worker";
    s.push_str(&format!(
        "<label for=\"{id}\">Health worker</label>{}<select id=\"{id}\" name=\"health_worker_id\"{}>\
         <option value=\"\">Choose a health worker</option>",
        errors.message(id),
        errors.attrs(id)
    ));
    for w in workers {
        let chosen = match kept("health_worker_id") {
            Some(v) => *v == w.id.0.to_string(),
            None => Some(w.id.0) == worker,
        };
        s.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            w.id.0,
            if chosen { " selected" } else { "" },
            escape(&w.name)
        ));
    }
    s.push_str("</select>");
    for (name, id, label, kind, extra) in [
        ("from_date", "rota-from_date", "First date", "date", ""),
        ("to_date", "rota-to_date", "Last date", "date", ""),
    ] {
        s.push_str(&format!(
            "<label for=\"{id}\">{label}</label>{}<input type=\"{kind}\" id=\"{id}\" name=\"{name}\"{extra}{}{}>",
            errors.message(id),
            form::value_attr(kept(name)),
            errors.attrs(id)
        ));
    }
    let id = "rota-weekdays";
    s.push_str(&format!(
        "<fieldset id=\"{id}\"{}><legend>Days of the week</legend>{}",
        errors.attrs(id),
        errors.message(id)
    ));
    for (name, label, _) in DAYS {
        // A fresh form has every day ticked; a refused one keeps what was ticked.
        let checked = failed.is_none() || kept(name).is_some();
        s.push_str(&format!(
            "<div class=\"choice\"><input type=\"checkbox\" id=\"rota-{name}\" name=\"{name}\" value=\"yes\"{}>\
             <label for=\"rota-{name}\">{label}</label></div>",
            if checked { " checked" } else { "" }
        ));
    }
    s.push_str("</fieldset>");
    let fresh_value = |name: &str, default: &str| match failed {
        Some(_) => form::value_attr(kept(name)),
        None => format!(" value=\"{default}\""),
    };
    for (name, id, label, kind, default, extra) in [
        (
            "day_start",
            "rota-day_start",
            "Start of the working day (HH:MM)",
            "time",
            "09:00",
            "",
        ),
        (
            "day_end",
            "rota-day_end",
            "End of the working day (HH:MM)",
            "time",
            "17:00",
            "",
        ),
        (
            "slot_minutes",
            "rota-slot_minutes",
            "Slot length in minutes (5 to 240)",
            "number",
            "30",
            " min=\"5\" max=\"240\" step=\"1\"",
        ),
    ] {
        s.push_str(&format!(
            "<label for=\"{id}\">{label}</label>{}<input type=\"{kind}\" id=\"{id}\" name=\"{name}\"{extra}{}{}>",
            errors.message(id),
            fresh_value(name, default),
            errors.attrs(id)
        ));
    }
    s.push_str("<p><button type=\"submit\">Publish the rota</button></p></form>");
    s
}

/// The week the form was sent from, without a redirect's message.
fn week_query(query: web::Query<HashMap<String, String>>) -> HashMap<String, String> {
    let mut back = query.into_inner();
    back.remove("flash");
    back
}

async fn refused_page(
    state: &AppState,
    user: &SignedIn,
    query: &HashMap<String, String>,
    failed: &Failed,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let body = week_page(state, user, query, Some(failed)).await?;
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(page("Slots", Some(user), &body)))
}

/// The rota the form asks for, or every problem with it (named by the API's fields).
fn rota_of(values: &HashMap<String, String>) -> Result<(uuid::Uuid, Rota), Vec<(String, String)>> {
    let field = |name: &str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut errors: Vec<(String, String)> = vec![];
    let mut problem = |field: &str, message: &str| errors.push((field.to_owned(), message.to_owned()));
    let worker = field("health_worker_id").and_then(|v| uuid::Uuid::parse_str(v).ok());
    if worker.is_none() {
        problem("health_worker_id", "choose a health worker");
    }
    let mut date = |name: &str| match field(name).map(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d")) {
        Some(Ok(date)) => Some(date),
        Some(Err(_)) => {
            problem(name, "enter the date as year-month-day, for example 2026-12-07");
            None
        }
        None => {
            problem(name, "enter a date");
            None
        }
    };
    let from_date = date("from_date");
    let to_date = date("to_date");
    let weekdays: Vec<DayOfWeek> = DAYS
        .iter()
        .filter(|(name, _, _)| field(name).is_some())
        .map(|(_, _, day)| *day)
        .collect();
    if weekdays.is_empty() {
        problem("weekdays", "tick at least one day");
    }
    let mut time = |name: &str| match field(name).map(|v| NaiveTime::parse_from_str(v, "%H:%M")) {
        Some(Ok(time)) => Some(time),
        Some(Err(_)) => {
            problem(name, "enter a time as hours and minutes, for example 09:00");
            None
        }
        None => {
            problem(name, "enter a time");
            None
        }
    };
    let day_start = time("day_start");
    let day_end = time("day_end");
    let slot_minutes = match field("slot_minutes").map(str::parse::<i64>) {
        Some(Ok(minutes)) => Some(minutes),
        _ => {
            problem("slot_minutes", "enter a whole number of minutes from 5 to 240");
            None
        }
    };
    match (worker, from_date, to_date, day_start, day_end, slot_minutes) {
        (Some(worker), Some(from_date), Some(to_date), Some(day_start), Some(day_end), Some(slot_minutes))
            if errors.is_empty() =>
        {
            Ok((
                worker,
                Rota {
                    from_date,
                    to_date,
                    weekdays,
                    day_start,
                    day_end,
                    slot_minutes,
                },
            ))
        }
        _ => Err(errors),
    }
}

/// The page's words for the API's rota messages (which name the API's fields).
fn in_words(message: &str) -> String {
    message
        .replace("from_date", "the first date")
        .replace("to_date", "the last date")
        .replace("day_start", "the start of the day")
}

/// `POST /web/slots` (ahw, admin; CSRF-checked): publishes the rota as `POST /api/v1/slots`
/// does, all or nothing, then shows its first week. Refused, the week is shown again with what
/// was typed: 422 with each problem next to its field, 409 (a slot overlapping another) in
/// words; no slot is written.
pub async fn publish(
    state: web::Data<AppState>,
    user: SignedIn,
    query: web::Query<HashMap<String, String>>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.check_csrf(&form)?;
    user.require(SLOT_ROLES)?;
    let query = week_query(query);
    let mut failed = Failed {
        values: form.into_inner(),
        ..Failed::default()
    };
    failed.values.remove(CSRF_FIELD);
    let problems = match rota_of(&failed.values) {
        Err(problems) => problems,
        Ok((worker, rota)) => match rota.slots() {
            Err(problems) => problems.into_iter().map(|e| (e.field, e.message)).collect(),
            Ok(spans) => {
                let from_date = rota.from_date;
                let now = state.settings.clock.now();
                match state.store.slots().publish(worker, spans, now, &user.actor()).await {
                    Ok(_) => {
                        let location = format!("/web/slots?week={from_date}&health_worker={worker}&flash=published");
                        return Ok(HttpResponse::SeeOther()
                            .insert_header((header::LOCATION, location))
                            .finish());
                    }
                    Err(error) => match ApiError::from(error) {
                        ApiError::NotFound(_) => {
                            vec![(
                                "health_worker_id".to_owned(),
                                "choose a health worker from the list".to_owned(),
                            )]
                        }
                        error => match Refused::from(error) {
                            Refused::Page(error) => return Err(error.into()),
                            Refused::Conflict(detail) => {
                                failed.notice = Some(format!("Nothing was published: {detail}."));
                                return refused_page(&state, &user, &query, &failed, StatusCode::CONFLICT).await;
                            }
                            Refused::Fields(errors, _) => errors
                                .into_iter()
                                .map(|e| {
                                    if e.field == "starts_at" {
                                        (
                                            "from_date".to_owned(),
                                            "a slot would start in the past: choose a later first date or start time"
                                                .to_owned(),
                                        )
                                    } else {
                                        (e.field, e.message)
                                    }
                                })
                                .collect(),
                        },
                    },
                }
            }
        },
    };
    for (field, message) in problems {
        let (id, label) = rota_field(&field);
        failed.errors.add(id, label, in_words(&message));
    }
    refused_page(&state, &user, &query, &failed, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// `POST /web/slots/{id}/withdraw` (ahw, admin; CSRF-checked): withdraws a free slot as `DELETE
/// /api/v1/slots/{id}` does. A slot a booking holds is refused (409, in words on the week).
pub async fn withdraw(
    state: web::Data<AppState>,
    user: SignedIn,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.check_csrf(&form)?;
    user.require(SLOT_ROLES)?;
    let id = uuid::Uuid::parse_str(&path).map_err(|_| WebError::NotFound)?;
    let query = week_query(query);
    match state.store.slots().withdraw(id, state.settings.clock.now()).await {
        Ok(()) => {
            let week = query.get("week").cloned().unwrap_or_default();
            let worker = query.get("health_worker").cloned().unwrap_or_default();
            let location = format!(
                "/web/slots?week={}&health_worker={}&flash=withdrawn",
                query_component(&week),
                query_component(&worker)
            );
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish())
        }
        Err(error) => match Refused::from(ApiError::from(error)) {
            Refused::Conflict(detail) => {
                let failed = Failed {
                    notice: Some(format!("The slot was not withdrawn: {detail}.")),
                    ..Failed::default()
                };
                refused_page(&state, &user, &query, &failed, StatusCode::CONFLICT).await
            }
            Refused::Fields(_, _) => Err(WebError::NotFound),
            Refused::Page(error) => Err(error.into()),
        },
    }
}
