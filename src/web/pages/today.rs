//! The AHW's day list (`GET /web/today`) and the outcome form (`POST
//! /web/bookings/{id}/outcome`): the JSON API's `GET /api/v1/bookings` and `POST
//! /api/v1/bookings/{id}/outcome` as pages, with the same store calls (every booking shown is a
//! read in the audit trail) and the same validation.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};

use super::TODAY_ROLES;
use crate::api::bookings::RecordOutcome;
use crate::api::views::BookingItem;
use crate::api::AppState;
use crate::domain::calendar::{london_date, london_day};
use crate::domain::scheduling::BookingStatus;
use crate::store::scheduling::bookings::BookingFilter;
use crate::web::html::{escape, query_component};
use crate::web::session::{SignedIn, CSRF_FIELD};
use crate::web::{html, page, WebError};

/// Flash messages a redirect may ask for, by code: fixed text, so a link cannot put words on the
/// page.
const FLASHES: &[(&str, &str)] = &[("outcome-recorded", "The outcome was recorded.")];

fn words(code: &str) -> String {
    code.replace('_', " ")
}

fn london_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::London).format("%H:%M").to_string()
}

fn code_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(code)) => code,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// `GET /web/today?date=YYYY-MM-DD&health_worker=<id>` (ahw, admin).
pub async fn today(
    state: web::Data<AppState>,
    user: SignedIn,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.require(TODAY_ROLES)?;
    let today = london_date(state.settings.clock.now());
    let raw_date = query.get("date").map(|d| d.trim()).filter(|d| !d.is_empty());
    let date = raw_date.map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d"));
    let date_error =
        matches!(date, Some(Err(_))).then_some("Enter the date as year-month-day, for example 2026-12-06.");
    let date = match date {
        Some(Ok(date)) => date,
        _ => today,
    };
    let raw_worker = query.get("health_worker").map(|w| w.trim()).filter(|w| !w.is_empty());
    let worker = raw_worker.map(uuid::Uuid::parse_str);
    let worker_error = matches!(worker, Some(Err(_))).then_some("Choose a health worker from the list.");
    let worker = worker.and_then(Result::ok);

    // The register has no patient data; the day's bookings are read (and audited) only when the
    // form's values are valid.
    let workers = state.store.health_workers().list().await?;
    let bookings = if date_error.is_none() && worker_error.is_none() {
        let (starts_from, starts_before) = london_day(date);
        let filter = BookingFilter {
            starts_from: Some(starts_from),
            starts_before: Some(starts_before),
            health_worker_id: worker,
            status: None,
            patient_keys: None,
        };
        let records = state.store.bookings().list(filter, &user.actor()).await?;
        Some(
            records
                .iter()
                .map(|r| {
                    (
                        BookingItem::new(&r.listing, &r.earlier_outcomes, &r.attendance, r.screening.as_ref()),
                        r.attendance.presenting_condition_detail.clone(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };

    let mut body = String::new();
    if let Some((_, text)) = query
        .get("flash")
        .and_then(|code| FLASHES.iter().find(|(c, _)| c == code))
    {
        body.push_str(&format!("<p class=\"flash\" role=\"status\">{}</p>", escape(text)));
    }
    // The date picker and health worker select: a GET form, so the page works without script.
    body.push_str("<form method=\"get\" action=\"/web/today\">");
    body.push_str(&format!(
        "<label for=\"date\">Date (Europe/London)</label><input type=\"date\" id=\"date\" name=\"date\" value=\"{}\"{}>",
        escape(&raw_date.map_or_else(|| date.to_string(), str::to_owned)),
        if date_error.is_some() { " aria-describedby=\"date-error\"" } else { "" }
    ));
    if let Some(error) = date_error {
        body.push_str(&format!("<p class=\"error\" id=\"date-error\">Error: {error}</p>"));
    }
    body.push_str("<label for=\"health_worker\">Health worker</label><select id=\"health_worker\" name=\"health_worker\"><option value=\"\">Everyone</option>");
    for w in &workers {
        let selected = if Some(w.id.0) == worker { " selected" } else { "" };
        body.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            w.id.0,
            escape(&w.name)
        ));
    }
    body.push_str("</select>");
    if let Some(error) = worker_error {
        body.push_str(&format!("<p class=\"error\">Error: {error}</p>"));
    }
    body.push_str("<p><button type=\"submit\">Show the day</button></p></form>");

    let back = format!(
        "date={}&health_worker={}",
        date,
        worker.map(|w| w.to_string()).unwrap_or_default()
    );
    match bookings {
        None => {}
        Some(items) if items.is_empty() => {
            body.push_str(&format!(
                "<h2>{}</h2><p>No appointments.</p>",
                date.format("%A %-d %B %Y")
            ));
        }
        Some(items) => {
            body.push_str(&format!(
                "<h2>{}: {} appointment{}</h2>",
                date.format("%A %-d %B %Y"),
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            ));
            for (item, detail) in &items {
                body.push_str(&booking_section(item, detail.as_deref(), &user, &back));
            }
        }
    }
    Ok(html(page("Today", Some(&user), &body)))
}

fn booking_section(item: &BookingItem, detail: Option<&str>, user: &SignedIn, back: &str) -> String {
    let b = &item.booking;
    let id = b.id;
    let mut s = format!(
        "<section class=\"booking\" aria-labelledby=\"b-{id}\"><h3 id=\"b-{id}\">{}–{} with {}: {}</h3>",
        london_time(b.starts_at),
        london_time(b.ends_at),
        escape(&b.health_worker_name),
        escape(&words(b.status.code())),
    );
    if let Some(screening) = &item.screening {
        for alert in &screening.alerts {
            let text = match alert.code() {
                "possible_dependence" => {
                    "Alert: possible alcohol dependence (drinks every day). Consider Pabrinex and chlordiazepoxide."
                        .to_owned()
                }
                other => format!("Alert: {}", words(other)),
            };
            s.push_str(&format!("<p class=\"alert\" role=\"note\">{}</p>", escape(&text)));
        }
    }
    let p = &item.patient;
    let mut rows: Vec<(&str, String)> = vec![];
    rows.push(("NHS number", p.nhs_number.clone().unwrap_or_else(|| "not known".into())));
    if let Some(local) = &p.local_id {
        let system = p
            .local_id_system
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        rows.push(("Local number", format!("{local}{system}")));
    }
    rows.push((
        "Date of birth",
        p.date_of_birth
            .map_or_else(|| "not known".into(), |d| d.format("%-d %B %Y").to_string()),
    ));
    rows.push(("Sex", words(&code_of(&p.sex))));
    let mut condition = words(&code_of(&item.presenting_condition));
    if let Some(detail) = detail {
        condition.push_str(&format!(": {detail}"));
    }
    rows.push(("Presenting condition", condition));
    match &item.screening {
        Some(screening) => {
            rows.push((
                "PAT result",
                screening
                    .result
                    .as_ref()
                    .map_or_else(|| "not done".into(), |r| words(&code_of(r))),
            ));
            if let Some(units) = screening.units {
                rows.push(("Units (most in a day)", format!("{units}")));
            }
            if let Some(answers) = &screening.answers {
                if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(answers) {
                    let text: Vec<String> = map
                        .iter()
                        .map(|(k, v)| {
                            let v = match v {
                                serde_json::Value::String(s) => words(s),
                                serde_json::Value::Bool(true) => "yes".into(),
                                serde_json::Value::Bool(false) => "no".into(),
                                other => other.to_string(),
                            };
                            format!("{}: {v}", words(k))
                        })
                        .collect();
                    rows.push(("PAT answers", text.join("; ")));
                }
            }
        }
        None => rows.push(("PAT result", "no screening recorded".into())),
    }
    rows.push(("Lead time", words(b.lead_time.code())));
    rows.push(("Status", words(b.status.code())));
    if let Some(bi) = b.brief_intervention_delivered {
        rows.push(("Brief intervention delivered", if bi { "yes" } else { "no" }.into()));
    }
    if let Some(units) = b.units_per_week {
        rows.push(("Units per week", format!("{units}")));
    }
    if let Some(reason) = &b.cancel_reason {
        rows.push(("Cancellation reason", reason.clone()));
    }
    s.push_str("<dl>");
    for (term, value) in rows {
        s.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(term), escape(&value)));
    }
    s.push_str("</dl>");
    if b.status == BookingStatus::Booked && user.has_any(&[crate::auth::Role::Ahw]) {
        s.push_str(&outcome_form(id, user, back));
    }
    s.push_str("</section>");
    s
}

fn outcome_form(id: uuid::Uuid, user: &SignedIn, back: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/web/bookings/{id}/outcome?{back}\">\
         <input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\">\
         <fieldset><legend>Record what happened</legend>\
         <label for=\"status-{id}\">Outcome</label>\
         <select id=\"status-{id}\" name=\"status\">\
         <option value=\"attended\">Attended</option>\
         <option value=\"did_not_attend\">Did not attend</option>\
         <option value=\"cancelled\">Cancelled</option></select>\
         <label for=\"bi-{id}\">Brief intervention delivered (if attended)</label>\
         <select id=\"bi-{id}\" name=\"brief_intervention_delivered\">\
         <option value=\"\">Not applicable</option><option value=\"yes\">Yes</option><option value=\"no\">No</option></select>\
         <label for=\"units-{id}\">Units per week (if attended)</label>\
         <input type=\"number\" id=\"units-{id}\" name=\"units_per_week\" min=\"0\" step=\"0.1\">\
         <label for=\"reason-{id}\">Reason (if cancelled)</label>\
         <input type=\"text\" id=\"reason-{id}\" name=\"reason\" maxlength=\"500\">\
         <p><button type=\"submit\">Record</button></p></fieldset></form>",
        back = escape(back),
        csrf = escape(&user.csrf_token),
    )
}

/// `POST /web/bookings/{id}/outcome` (ahw; CSRF-checked): the JSON API's outcome, then back to
/// the day list with a message. A first outcome only; corrections go through the API.
pub async fn record_outcome(
    state: web::Data<AppState>,
    user: SignedIn,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.check_csrf(&form)?;
    user.require(&[crate::auth::Role::Ahw])?;
    let id = uuid::Uuid::parse_str(&path).map_err(|_| WebError::NotFound)?;
    let field = |name: &str| form.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let mut errors = vec![];
    let status =
        field("status").and_then(|s| serde_json::from_value::<BookingStatus>(serde_json::Value::String(s)).ok());
    if status.is_none() {
        errors.push(crate::domain::FieldError::new(
            "status",
            "choose attended, did not attend or cancelled",
        ));
    }
    let brief = match field("brief_intervention_delivered").as_deref() {
        None => None,
        Some("yes") => Some(true),
        Some("no") => Some(false),
        Some(_) => {
            errors.push(crate::domain::FieldError::new(
                "brief_intervention_delivered",
                "choose yes or no",
            ));
            None
        }
    };
    let units = match field("units_per_week") {
        None => None,
        Some(text) => match text.parse::<f64>() {
            Ok(units) => Some(units),
            Err(_) => {
                errors.push(crate::domain::FieldError::new(
                    "units_per_week",
                    "enter a number of units, such as 14",
                ));
                None
            }
        },
    };
    let (Some(status), true) = (status, errors.is_empty()) else {
        return Err(crate::error::ApiError::from(errors).into());
    };
    let recording = RecordOutcome {
        status,
        brief_intervention_delivered: brief,
        units_per_week: units,
        reason: field("reason"),
        corrects: false,
        correction_reason: None,
    }
    .into_recording()?;
    state
        .store
        .bookings()
        .record_outcome(id, recording, state.settings.clock.now(), &user.actor())
        .await?;
    let date = query.get("date").cloned().unwrap_or_default();
    let worker = query.get("health_worker").cloned().unwrap_or_default();
    let location = format!(
        "/web/today?date={}&health_worker={}&flash=outcome-recorded",
        query_component(&date),
        query_component(&worker)
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish())
}
