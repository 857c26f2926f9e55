//! Follow-ups due (`GET /web/follow-ups`): the API's follow-up worklist (`GET
//! /api/v1/follow-ups`, the same store call, so every patient listed is an audited read) as a
//! page — each 6- or 12-month contact due on or before a date and not yet made, with who the
//! patient is — and for an AHW a form recording the contact (`POST
//! /web/follow-ups/{attendance_id}`, as `POST /api/v1/attendances/{id}/follow-ups` records it).

use std::collections::HashMap;

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};

use super::form::{self, FieldErrors, Refused};
use super::FOLLOW_UP_ROLES;
use crate::api::follow_ups::DueFollowUpView;
use crate::api::AppState;
use crate::auth::Role;
use crate::domain::calendar::{london_date, london_instant};
use crate::domain::scheduling::{follow_up_recorded_differently, FollowUpContact};
use crate::error::ApiError;
use crate::store::Recorded;
use crate::web::html::{escape, query_component};
use crate::web::session::{SignedIn, CSRF_FIELD};
use crate::web::{html, page, WebError};

/// Who records a follow-up contact (the API's `RecordFollowUp`).
const RECORD_ROLES: &[Role] = &[Role::Ahw];

/// How many follow-ups the page lists at most (the API's default page).
const LIMIT: i64 = 100;

const FLASHES: &[(&str, &str)] = &[("recorded", "The follow-up contact was recorded.")];

/// A refused contact form, shown again on its follow-up.
#[derive(Default)]
struct Failed {
    attendance_id: uuid::Uuid,
    months: u32,
    values: HashMap<String, String>,
    errors: FieldErrors,
    notice: Option<String>,
}

fn words(code: &str) -> String {
    code.replace('_', " ")
}

fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// `GET /web/follow-ups?due_before=YYYY-MM-DD` (ahw, admin): the follow-ups due on or before the
/// date (default today, Europe/London), oldest due first.
pub async fn due(
    state: web::Data<AppState>,
    user: SignedIn,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.require(FOLLOW_UP_ROLES)?;
    let body = due_page(&state, &user, &query, None).await?;
    Ok(html(page("Follow-ups due", Some(&user), &body)))
}

async fn due_page(
    state: &AppState,
    user: &SignedIn,
    query: &HashMap<String, String>,
    failed: Option<&Failed>,
) -> Result<String, WebError> {
    let today = london_date(state.settings.clock.now());
    let (raw, due_before, date_error) = form::date_field(query, "due_before", today);

    let mut body = String::new();
    if let Some(failed) = failed {
        body.push_str(&form::refusal(&failed.errors, failed.notice.as_ref()));
    }
    body.push_str(&form::flash(query, FLASHES));
    body.push_str(&format!(
        "<form method=\"get\" action=\"/web/follow-ups\">\
         <label for=\"due_before\">Due on or before (Europe/London)</label>\
         <input type=\"date\" id=\"due_before\" name=\"due_before\" value=\"{}\"{}>{}\
         <p><button type=\"submit\">Show</button></p></form>",
        escape(&raw.map_or_else(|| due_before.to_string(), str::to_owned)),
        if date_error {
            " aria-invalid=\"true\" aria-describedby=\"due_before-error\""
        } else {
            ""
        },
        if date_error {
            "<p class=\"error\" id=\"due_before-error\">Error: Enter the date as year-month-day, for example 2026-12-06.</p>"
        } else {
            ""
        }
    ));
    if date_error {
        return Ok(body);
    }

    // The API's worklist call: every patient listed is an audited read.
    let due = state.store.follow_ups().due(due_before, LIMIT, &user.actor()).await?;
    let items: Vec<DueFollowUpView> = due.iter().map(DueFollowUpView::from).collect();
    if items.is_empty() {
        body.push_str(&format!(
            "<p>No follow-up is due on or before {}.</p>",
            escape(&long_date(due_before))
        ));
        return Ok(body);
    }
    body.push_str(&format!(
        "<p>{} follow-up{} due on or before {}, oldest first{}.</p>",
        items.len(),
        if items.len() == 1 { "" } else { "s" },
        escape(&long_date(due_before)),
        if items.len() as i64 == LIMIT {
            " (the first 100: record these to see more)"
        } else {
            ""
        }
    ));
    let back = format!("due_before={due_before}");
    for item in &items {
        body.push_str(&follow_up_section(item, user, &back, failed));
    }
    Ok(body)
}

fn follow_up_section(item: &DueFollowUpView, user: &SignedIn, back: &str, failed: Option<&Failed>) -> String {
    let (a, m) = (item.attendance_id, item.months);
    let key = format!("{a}-{m}");
    let p = &item.patient;
    let mut rows: Vec<(&str, String)> = vec![
        ("NHS number", p.nhs_number.clone().unwrap_or_else(|| "not known".into())),
        ("Local number", p.local_id.clone().unwrap_or_else(|| "not known".into())),
        (
            "Date of birth",
            p.date_of_birth.map_or_else(|| "not known".into(), long_date),
        ),
        (
            "AHW contact",
            format!("{} on {}", words(item.contact.code()), long_date(item.contact_date)),
        ),
    ];
    if let Some(units) = item.units_per_week_at_contact {
        rows.push(("Units per week at the contact", format!("{units}")));
    }
    if let Some(site) = &item.site {
        rows.push(("Site", site.clone()));
    }
    let mut s = format!(
        "<section class=\"booking\" aria-labelledby=\"f-{key}\"><h2 id=\"f-{key}\">{m}-month follow-up due {}</h2><dl>",
        escape(&long_date(item.due_date))
    );
    for (term, value) in rows {
        s.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(term), escape(&value)));
    }
    s.push_str("</dl>");
    if user.has_any(RECORD_ROLES) {
        let failed = failed.filter(|f| f.attendance_id == a && f.months == m);
        let empty = FieldErrors::default();
        let errors = failed.map_or(&empty, |f| &f.errors);
        let kept = |name: &str| failed.and_then(|f| f.values.get(name));
        let (units, at) = (format!("fu-units-{key}"), format!("fu-at-{key}"));
        if let Some(notice) = failed.and_then(|f| f.notice.as_deref()) {
            s.push_str(&format!("<p class=\"error\">Error: {}</p>", escape(notice)));
        }
        s.push_str(&format!(
            "<form method=\"post\" action=\"/web/follow-ups/{a}?{back}\">\
             <input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"months\" value=\"{m}\">\
             <fieldset><legend>Record the {m}-month contact</legend>\
             <label for=\"{units}\">Units per week now</label>{units_error}\
             <input type=\"number\" id=\"{units}\" name=\"units_per_week\" min=\"0\" step=\"0.1\"{units_value}{units_attrs}>\
             <label for=\"{at}\">When the contact was made (Europe/London; leave empty for now)</label>{at_error}\
             <input type=\"datetime-local\" id=\"{at}\" name=\"contacted_at\"{at_value}{at_attrs}>\
             <p><button type=\"submit\">Record the contact</button></p></fieldset></form>",
            back = escape(back),
            csrf = escape(&user.csrf_token),
            units_error = errors.message(&units),
            units_value = form::value_attr(kept("units_per_week")),
            units_attrs = errors.attrs(&units),
            at_error = errors.message(&at),
            at_value = form::value_attr(kept("contacted_at")),
            at_attrs = errors.attrs(&at),
        ));
    }
    s.push_str("</section>");
    s
}

/// `POST /web/follow-ups/{attendance_id}` (ahw; CSRF-checked): records the contact as the API
/// does (a contact already recorded the same way is a replay), then back to the worklist.
/// Refused, the worklist is shown again with what was typed: 422 next to the fields, 409 in
/// words; nothing is recorded.
pub async fn record(
    state: web::Data<AppState>,
    user: SignedIn,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.check_csrf(&form)?;
    user.require(RECORD_ROLES)?;
    let attendance_id = uuid::Uuid::parse_str(&path).map_err(|_| WebError::NotFound)?;
    let mut back = query.into_inner();
    back.remove("flash");
    let mut values = form.into_inner();
    values.remove(CSRF_FIELD);
    let field = |name: &str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let months_given = field("months").and_then(|m| m.parse::<i32>().ok());
    let months = months_given.unwrap_or(0);
    let key = format!("{attendance_id}-{months}");
    let (units_id, at_id) = (format!("fu-units-{key}"), format!("fu-at-{key}"));
    let mut errors = FieldErrors::default();
    let units = match field("units_per_week").map(str::parse::<f64>) {
        Some(Ok(units)) => Some(units),
        Some(Err(_)) => {
            errors.add(
                &units_id,
                "Units per week now",
                "enter the units a week as a number, such as 14",
            );
            None
        }
        None => {
            errors.add(&units_id, "Units per week now", "enter the units a week now");
            None
        }
    };
    let contacted_at = match field("contacted_at") {
        None => None,
        Some(text) => match NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
            .ok()
            .and_then(|t| london_instant(t.date(), t.time()))
        {
            Some(at) => Some(at),
            None => {
                errors.add(
                    &at_id,
                    "When the contact was made",
                    "enter a date and time, for example 2026-12-06 14:30",
                );
                None
            }
        },
    };
    let now = state.settings.clock.now();
    let mut notice = None;
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if let (Some(units), true) = (units, errors.is_empty()) {
        match FollowUpContact::new(months, units, contacted_at, now) {
            Err(problems) => {
                for problem in problems {
                    match problem.field.as_str() {
                        "units_per_week" => errors.add(&units_id, "Units per week now", &problem.message),
                        "contacted_at" => errors.add(&at_id, "When the contact was made", &problem.message),
                        _ => notice = Some(format!("Nothing was recorded: {} {}.", problem.field, problem.message)),
                    }
                }
            }
            Ok(contact) => {
                let outcome = match state
                    .store
                    .follow_ups()
                    .record(attendance_id, contact, now, &user.actor())
                    .await
                {
                    Ok(Recorded::Created(_) | Recorded::Replay(_)) => Ok(()),
                    Ok(Recorded::Clash) => Err(ApiError::from(follow_up_recorded_differently(months))),
                    Err(error) => Err(ApiError::from(error)),
                };
                match outcome.map_err(Refused::from) {
                    Ok(()) => {
                        let due_before = back.get("due_before").cloned().unwrap_or_default();
                        let location = format!(
                            "/web/follow-ups?due_before={}&flash=recorded",
                            query_component(&due_before)
                        );
                        return Ok(HttpResponse::SeeOther()
                            .insert_header((header::LOCATION, location))
                            .finish());
                    }
                    Err(Refused::Page(error)) => return Err(error.into()),
                    Err(Refused::Conflict(detail)) => {
                        notice = Some(format!("Nothing was recorded: {detail}."));
                        status = StatusCode::CONFLICT;
                    }
                    Err(Refused::Fields(problems, detail)) => {
                        for problem in &problems {
                            errors.add(&units_id, "Units per week now", &problem.message);
                        }
                        if problems.is_empty() {
                            notice = Some(format!("Nothing was recorded: {detail}."));
                        }
                    }
                }
            }
        }
    }
    let failed = Failed {
        attendance_id,
        months: u32::try_from(months).unwrap_or(0),
        values,
        errors,
        notice,
    };
    let body = due_page(&state, &user, &back, Some(&failed)).await?;
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(page("Follow-ups due", Some(&user), &body)))
}
