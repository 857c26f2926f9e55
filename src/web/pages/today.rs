//! The AHW's day list (`GET /web/today`) and the outcome form (`POST
//! /web/bookings/{id}/outcome`): the JSON API's `GET /api/v1/bookings` and `POST
//! /api/v1/bookings/{id}/outcome` as pages, with the same store calls (every booking shown is a
//! read in the audit trail) and the same validation. A recorded outcome has a "Correct the
//! outcome" form (the API's `corrects: true`, with a reason the page requires). A refused form
//! is shown again on the day list with what was typed and each problem next to its field.

use std::collections::HashMap;

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::form::{self, FieldErrors, Refused};
use super::TODAY_ROLES;
use crate::api::bookings::RecordOutcome;
use crate::api::views::BookingItem;
use crate::api::AppState;
use crate::auth::Role;
use crate::domain::calendar::{london_date, london_day};
use crate::domain::scheduling::BookingStatus;
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::store::scheduling::bookings::BookingFilter;
use crate::web::html::{escape, query_component};
use crate::web::session::{SignedIn, CSRF_FIELD};
use crate::web::{html, page, WebError};

/// Flash messages a redirect may ask for, by code: fixed text, so a link cannot put words on the
/// page.
const FLASHES: &[(&str, &str)] = &[
    ("outcome-recorded", "The outcome was recorded."),
    (
        "outcome-corrected",
        "The outcome was corrected; the earlier one is kept.",
    ),
];

fn words(code: &str) -> String {
    code.replace('_', " ")
}

fn code_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(code)) => code,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// An outcome or correction form that was refused, shown again on the day list with what was
/// typed, the problems next to their fields (422) or the refusal in words (409).
pub struct FailedForm {
    pub booking_id: uuid::Uuid,
    pub corrects: bool,
    pub values: HashMap<String, String>,
    pub errors: FieldErrors,
    pub notice: Option<String>,
}

/// `GET /web/today?date=YYYY-MM-DD&health_worker=<id>` (ahw, admin).
pub async fn today(
    state: web::Data<AppState>,
    user: SignedIn,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.require(TODAY_ROLES)?;
    let body = day_list(&state, &user, &query, None).await?;
    Ok(html(page("Today", Some(&user), &body)))
}

/// The day list's HTML for the query (`date`, `health_worker`, `flash`), with a refused form
/// shown again when there is one.
async fn day_list(
    state: &AppState,
    user: &SignedIn,
    query: &HashMap<String, String>,
    failed: Option<&FailedForm>,
) -> Result<String, WebError> {
    let today = london_date(state.settings.clock.now());

    let (raw_date, date, date_invalid) = form::date_field(query, "date", today);
    let date_error = date_invalid.then_some("Enter the date as year-month-day, for example 2026-12-06.");
    let (worker, worker_error) = form::worker_field(query);

    // The register has no patient data; the day's bookings are read (and audited) only when the
    // form's values are valid.
    let workers = state.store.health_workers().list().await?;
    let bookings = if date_error.is_none() && !worker_error {
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
    if let Some(failed) = failed {
        body.push_str(&form::refusal(&failed.errors, failed.notice.as_ref()));
    }
    body.push_str(&form::flash(query, FLASHES));
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
    body.push_str(&form::worker_select(&workers, worker, worker_error));
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
                body.push_str(&booking_section(item, detail.as_deref(), user, &back, failed));
            }
        }
    }
    Ok(body)
}

fn booking_section(
    item: &BookingItem,
    detail: Option<&str>,
    user: &SignedIn,
    back: &str,
    failed: Option<&FailedForm>,
) -> String {
    let b = &item.booking;
    let id = b.id;
    let mut s = format!(
        "<section class=\"booking\" aria-labelledby=\"b-{id}\"><h3 id=\"b-{id}\">{}–{} with {}: {}</h3>",
        html::london(b.starts_at, "%H:%M"),
        html::london(b.ends_at, "%H:%M"),
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
    if let Some(reason) = &b.correction_reason {
        rows.push(("Outcome corrected", format!("version {}: {reason}", b.version)));
    }
    s.push_str("<dl>");
    for (term, value) in rows {
        s.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(term), escape(&value)));
    }
    s.push_str("</dl>");
    if user.has_any(OUTCOME_ROLES) {
        let failed = failed.filter(|f| f.booking_id == id);
        if b.status == BookingStatus::Booked {
            s.push_str(&outcome_form(
                id,
                user,
                back,
                false,
                failed.filter(|f| !f.corrects),
                None,
            ));
        } else {
            // What is recorded fills the correction form, unless a refused one is shown again.
            let mut current = HashMap::new();
            current.insert("status".to_owned(), b.status.code().to_owned());
            if let Some(bi) = b.brief_intervention_delivered {
                current.insert(
                    "brief_intervention_delivered".to_owned(),
                    if bi { "yes" } else { "no" }.to_owned(),
                );
            }
            if let Some(units) = b.units_per_week {
                current.insert("units_per_week".to_owned(), units.to_string());
            }
            if let Some(reason) = &b.cancel_reason {
                current.insert("reason".to_owned(), reason.clone());
            }
            s.push_str(&outcome_form(
                id,
                user,
                back,
                true,
                failed.filter(|f| f.corrects),
                Some(&current),
            ));
        }
    }
    s.push_str("</section>");
    s
}

/// Who records outcomes (the API's `RecordOutcomes`).
const OUTCOME_ROLES: &[Role] = &[Role::Ahw];

/// The element id of an outcome form's field (the API's field name): the first outcome's
/// fields are `status-{id}`, `bi-{id}`, `units-{id}`, `reason-{id}`; a correction's the same
/// with a `c` before them, and `why-{id}` for the correction's reason.
fn field_id(field: &str, booking: uuid::Uuid, corrects: bool) -> String {
    let base = match field {
        "brief_intervention_delivered" => "bi",
        "units_per_week" => "units",
        "reason" => "reason",
        "correction_reason" => return format!("why-{booking}"),
        _ => "status",
    };
    format!("{}{base}-{booking}", if corrects { "c" } else { "" })
}

/// The label of an outcome form's field, as the summary names it.
fn field_label(field: &str) -> &'static str {
    match field {
        "brief_intervention_delivered" => "Brief intervention delivered",
        "units_per_week" => "Units per week",
        "reason" => "Reason (if cancelled)",
        "correction_reason" => "Why the outcome is corrected",
        _ => "Outcome",
    }
}

/// The form recording a booking's first outcome (`corrects` false: the day list's "Record") or
/// correcting the recorded one (in a disclosure, open when it was refused). `kept` holds the
/// values to show: those typed into a refused form, else (a correction) the recorded ones.
fn outcome_form(
    id: uuid::Uuid,
    user: &SignedIn,
    back: &str,
    corrects: bool,
    failed: Option<&FailedForm>,
    current: Option<&HashMap<String, String>>,
) -> String {
    let empty = FieldErrors::default();
    let errors = failed.map_or(&empty, |f| &f.errors);
    let kept = failed.map(|f| &f.values).or(current);
    let value = |name: &str| kept.and_then(|k| k.get(name));
    let ids = |field: &str| field_id(field, id, corrects);
    let (status, bi, units, reason) = (
        ids("status"),
        ids("brief_intervention_delivered"),
        ids("units_per_week"),
        ids("reason"),
    );
    let mut s = String::new();
    if corrects {
        s.push_str(&format!(
            "<details{}><summary>Correct the outcome</summary>",
            if failed.is_some() { " open" } else { "" }
        ));
    }
    s.push_str(&format!(
        "<form method=\"post\" action=\"/web/bookings/{id}/outcome?{back}\">\
         <input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\">",
        back = escape(back),
        csrf = escape(&user.csrf_token),
    ));
    if let Some(notice) = failed.and_then(|f| f.notice.as_deref()) {
        s.push_str(&format!("<p class=\"error\">Error: {}</p>", escape(notice)));
    }
    if corrects {
        s.push_str("<input type=\"hidden\" name=\"corrects\" value=\"yes\">");
    }
    s.push_str(&format!(
        "<fieldset><legend>{legend}</legend>\
         <label for=\"{status}\">Outcome</label>{status_error}\
         <select id=\"{status}\" name=\"status\"{status_attrs}>\
         <option value=\"attended\"{a}>Attended</option>\
         <option value=\"did_not_attend\"{d}>Did not attend</option>\
         <option value=\"cancelled\"{c}>Cancelled</option></select>\
         <label for=\"{bi}\">Brief intervention delivered (if attended)</label>{bi_error}\
         <select id=\"{bi}\" name=\"brief_intervention_delivered\"{bi_attrs}>\
         <option value=\"\">Not applicable</option><option value=\"yes\"{yes}>Yes</option>\
         <option value=\"no\"{no}>No</option></select>\
         <label for=\"{units}\">Units per week (if attended)</label>{units_error}\
         <input type=\"number\" id=\"{units}\" name=\"units_per_week\" min=\"0\" step=\"0.1\"{units_value}{units_attrs}>\
         <label for=\"{reason}\">Reason (if cancelled)</label>{reason_error}\
         <input type=\"text\" id=\"{reason}\" name=\"reason\" maxlength=\"500\"{reason_value}{reason_attrs}>",
        legend = if corrects { "Correct what was recorded" } else { "Record what happened" },
        status_error = errors.message(&status),
        status_attrs = errors.attrs(&status),
        a = form::selected(value("status"), "attended"),
        d = form::selected(value("status"), "did_not_attend"),
        c = form::selected(value("status"), "cancelled"),
        bi_error = errors.message(&bi),
        bi_attrs = errors.attrs(&bi),
        yes = form::selected(value("brief_intervention_delivered"), "yes"),
        no = form::selected(value("brief_intervention_delivered"), "no"),
        units_error = errors.message(&units),
        units_value = form::value_attr(value("units_per_week")),
        units_attrs = errors.attrs(&units),
        reason_error = errors.message(&reason),
        reason_value = form::value_attr(value("reason")),
        reason_attrs = errors.attrs(&reason),
    ));
    if corrects {
        let why = ids("correction_reason");
        s.push_str(&format!(
            "<label for=\"{why}\">Why the outcome is corrected (required)</label>{error}\
             <input type=\"text\" id=\"{why}\" name=\"correction_reason\" maxlength=\"500\"{value}{attrs}>\
             <p><button type=\"submit\">Correct</button></p></fieldset></form></details>",
            error = errors.message(&why),
            value = form::value_attr(failed.and_then(|f| f.values.get("correction_reason"))),
            attrs = errors.attrs(&why),
        ));
    } else {
        s.push_str("<p><button type=\"submit\">Record</button></p></fieldset></form>");
    }
    s
}

/// `POST /web/bookings/{id}/outcome` (ahw; CSRF-checked): the JSON API's outcome — a first one,
/// or with `corrects=yes` a correction, which the page asks a reason for — then back to the day
/// list with a message. Refused, the day list is shown again with what was typed: 422 with each
/// problem next to its field, 409 with the refusal in words; nothing is recorded.
pub async fn record_outcome(
    state: web::Data<AppState>,
    user: SignedIn,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.check_csrf(&form)?;
    user.require(OUTCOME_ROLES)?;
    let id = uuid::Uuid::parse_str(&path).map_err(|_| WebError::NotFound)?;
    let corrects = form.get("corrects").is_some_and(|v| v == "yes");
    match outcome_of_form(&state, &user, id, corrects, &form).await {
        Ok(()) => {
            let date = query.get("date").cloned().unwrap_or_default();
            let worker = query.get("health_worker").cloned().unwrap_or_default();
            let flash = if corrects {
                "outcome-corrected"
            } else {
                "outcome-recorded"
            };
            let location = format!(
                "/web/today?date={}&health_worker={}&flash={flash}",
                query_component(&date),
                query_component(&worker)
            );
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish())
        }
        Err(refused) => {
            let mut failed = FailedForm {
                booking_id: id,
                corrects,
                values: form.into_inner(),
                errors: FieldErrors::default(),
                notice: None,
            };
            failed.values.remove(CSRF_FIELD);
            let status = match refused {
                Refused::Page(error) => return Err(error.into()),
                Refused::Conflict(detail) => {
                    failed.notice = Some(format!("Nothing was recorded: {detail}."));
                    StatusCode::CONFLICT
                }
                Refused::Fields(errors, detail) => {
                    for error in &errors {
                        failed.errors.add(
                            field_id(&error.field, id, corrects),
                            field_label(&error.field),
                            &error.message,
                        );
                    }
                    if errors.is_empty() {
                        failed.notice = Some(format!("Nothing was recorded: {detail}."));
                    }
                    StatusCode::UNPROCESSABLE_ENTITY
                }
            };
            // The day list the form was sent from, without the redirect's message.
            let mut back: HashMap<String, String> = query.into_inner();
            back.remove("flash");
            let body = day_list(&state, &user, &back, Some(&failed)).await?;
            Ok(HttpResponse::build(status)
                .content_type(ContentType::html())
                .body(page("Today", Some(&user), &body)))
        }
    }
}

/// The form's outcome recorded through the store, or why not (every problem with the values at
/// once, as the API answers them).
async fn outcome_of_form(
    state: &AppState,
    user: &SignedIn,
    id: uuid::Uuid,
    corrects: bool,
    form: &HashMap<String, String>,
) -> Result<(), Refused> {
    let field = |name: &str| form.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let mut errors = vec![];
    let status =
        field("status").and_then(|s| serde_json::from_value::<BookingStatus>(serde_json::Value::String(s)).ok());
    if status.is_none() {
        errors.push(FieldError::new(
            "status",
            "choose attended, did not attend or cancelled",
        ));
    }
    let brief = match field("brief_intervention_delivered").as_deref() {
        None => None,
        Some("yes") => Some(true),
        Some("no") => Some(false),
        Some(_) => {
            errors.push(FieldError::new("brief_intervention_delivered", "choose yes or no"));
            None
        }
    };
    let units = match field("units_per_week") {
        None => None,
        Some(text) => match text.parse::<f64>() {
            Ok(units) if units.is_finite() => Some(units),
            _ => {
                errors.push(FieldError::new(
                    "units_per_week",
                    "enter the units a week as a number, such as 14",
                ));
                None
            }
        },
    };
    let correction_reason = field("correction_reason");
    if corrects && correction_reason.is_none() {
        errors.push(FieldError::new(
            "correction_reason",
            "enter why the recorded outcome is corrected",
        ));
    }
    let recording = match status {
        Some(status) => {
            let outcome = RecordOutcome {
                status,
                brief_intervention_delivered: brief,
                units_per_week: units,
                reason: field("reason"),
                corrects,
                correction_reason: if corrects { correction_reason } else { None },
            };
            match outcome.into_recording() {
                Ok(recording) => Some(recording),
                Err(ApiError::Validation(more)) => {
                    let new: Vec<FieldError> = more
                        .into_iter()
                        .filter(|e| !errors.iter().any(|f| f.field == e.field))
                        .collect();
                    errors.extend(new);
                    None
                }
                Err(other) => return Err(other.into()),
            }
        }
        None => None,
    };
    match recording {
        Some(recording) if errors.is_empty() => state
            .store
            .bookings()
            .record_outcome(id, recording, state.settings.clock.now(), &user.actor())
            .await
            .map(|_| ())
            .map_err(|e| ApiError::from(e).into()),
        _ => Err(Refused::Fields(errors, String::new())),
    }
}
