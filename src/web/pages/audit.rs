//! The Audit page (`GET /web/audit`, auditor and admin) and its CSV downloads (`GET
//! /web/audit/{funnel,referrals,reattendance}.csv`): the statistics the JSON API computes, for
//! audit teams who want to look at them rather than read JSON (docs/design.md §12).
//!
//! The page turns its pickers (financial year, site, disclosure) into the statistics API's query
//! strings, parses them as the API does and calls the functions the API's handlers call
//! (`api::statistics::funnel_report`, …): the same figures, the same audit events (one per report
//! shown). Each "Download CSV" link carries that query string, and the download answers the API's
//! CSV for it, so the file's bytes are the API's. No figure identifies a patient.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};
use serde::de::DeserializeOwned;

use super::AUDIT_ROLES;
use crate::api::statistics::reports::{Disclosure, FunnelGroup};
use crate::api::statistics::{
    self, csv_response, FunnelReport, ReattendanceReport, ReferralsReport, ReportQuery, StatisticsQuery,
};
use crate::api::AppState;
use crate::domain::calendar::london_date;
use crate::domain::financial_year::{financial_year_label, financial_year_start, financial_year_to_date};
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::web::chart::{bar_chart, Bar};
use crate::web::html::{escape, query_component};
use crate::web::session::SignedIn;
use crate::web::{page, WebError};

/// The longest site name the statistics accept (as the API's `site`).
const SITE_MAX: usize = 100;
/// The most financial years the picker offers: the statistics' 20-year limit.
const MAX_YEARS: i32 = 20;

/// 1 April of `year`.
fn april_first(year: i32) -> Result<NaiveDate, ApiError> {
    NaiveDate::from_ymd_opt(year, 4, 1).ok_or_else(|| ApiError::internal(format!("no 1 April {year}")))
}

/// `2025/26` for the financial year starting in 2025.
fn label(year: i32) -> String {
    NaiveDate::from_ymd_opt(year, 4, 1).map_or_else(|| year.to_string(), financial_year_label)
}

/// What the pickers asked for, checked; the errors are in words for the page.
struct Picks {
    /// The year the financial year starts.
    year: i32,
    /// As typed (trimmed), for the field's value.
    site_text: String,
    site: Option<String>,
    disclosure: Disclosure,
    year_error: Option<String>,
    site_error: Option<String>,
    disclosure_error: Option<String>,
}

impl Picks {
    fn parse(query: &HashMap<String, String>, first: i32, current: i32) -> Picks {
        let given = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let (year, year_error) = match given("year") {
            None => (current, None),
            Some(text) => match text.parse::<i32>() {
                Ok(year) if (first..=current).contains(&year) => (year, None),
                _ => (
                    current,
                    Some(format!(
                        "Choose a financial year from the list, {} to {}.",
                        label(first),
                        label(current)
                    )),
                ),
            },
        };
        let site_text = given("site").unwrap_or_default().to_owned();
        let mut errors: Vec<FieldError> = Vec::new();
        // The API's check of `site` (an empty field means every site).
        let site = given("site").and_then(|s| crate::api::text_field(&mut errors, "site", Some(s), SITE_MAX));
        let site_error = (!errors.is_empty())
            .then(|| format!("Enter a site of at most {SITE_MAX} characters, or leave it empty for every site."));
        let (disclosure, disclosure_error) = match given("disclosure") {
            None | Some("none") => (Disclosure::None, None),
            Some("nhs") => (Disclosure::Nhs, None),
            Some(_) => (
                Disclosure::None,
                Some("Choose all figures or published figures with the link below.".to_owned()),
            ),
        };
        Picks {
            year,
            site_text,
            site,
            disclosure,
            year_error,
            site_error,
            disclosure_error,
        }
    }

    fn is_valid(&self) -> bool {
        self.year_error.is_none() && self.site_error.is_none() && self.disclosure_error.is_none()
    }

    fn disclosure_code(&self) -> &'static str {
        match self.disclosure {
            Disclosure::None => "none",
            Disclosure::Nhs => "nhs",
        }
    }

    /// The statistics API's query string for `[from, to)` with the site and disclosure.
    fn api_query(&self, from: NaiveDate, to: NaiveDate) -> String {
        let site = self
            .site
            .as_deref()
            .map(|s| format!("&site={}", query_component(s)))
            .unwrap_or_default();
        format!("from={from}&to={to}{site}&disclosure={}", self.disclosure_code())
    }

    /// This page's own link with `disclosure` instead of the one showing.
    fn page_link(&self, disclosure: &str) -> String {
        let site = self
            .site
            .as_deref()
            .map(|s| format!("&site={}", query_component(s)))
            .unwrap_or_default();
        format!("/web/audit?year={}{site}&disclosure={disclosure}", self.year)
    }
}

/// A query string parsed as the statistics API parses its query (`web::Query`), a malformed one
/// answered as the API answers it (400 naming `query`).
fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    web::Query::<T>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::BadRequest {
            detail: format!("the query string is not valid: {error}"),
            errors: vec![FieldError::new("query", error.to_string())],
        })
}

/// `GET /web/audit?year=&site=&disclosure=` (auditor, admin).
pub async fn audit(
    state: web::Data<AppState>,
    user: SignedIn,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.require(AUDIT_ROLES)?;
    let today = london_date(state.settings.clock.now());
    let current = financial_year_start(today).year();
    // The years offered: from the earliest attendance's (not an audited read: a date, no figure).
    let earliest = state
        .store
        .statistics()
        .earliest_arrival()
        .await?
        .map(|t| financial_year_start(london_date(t)).year());
    let first = earliest.unwrap_or(current).min(current).max(current - (MAX_YEARS - 1));
    let picks = Picks::parse(&query, first, current);

    let mut body = form(&picks, first, current);
    if !picks.is_valid() {
        let response = HttpResponse::UnprocessableEntity()
            .content_type(actix_web::http::header::ContentType::html())
            .body(page("Audit", Some(&user), &body));
        return Ok(response);
    }

    // The chosen year (to date when it is the current one) for the funnel and reattendance; the
    // trend from the first year offered to the end of the chosen one.
    let from = april_first(picks.year)?;
    let to = if picks.year == current {
        financial_year_to_date(today).1
    } else {
        april_first(picks.year + 1)?
    };
    let year_query = picks.api_query(from, to);
    let trend_query = picks.api_query(april_first(first)?, april_first(picks.year + 1)?);

    let actor = user.actor();
    let funnel = statistics::funnel_report(&state, parse_query::<StatisticsQuery>(&year_query)?, &actor).await?;
    let trend = statistics::referrals_report(&state, parse_query::<ReportQuery>(&trend_query)?, &actor).await?;
    let reattendance =
        statistics::reattendance_report(&state, parse_query::<ReportQuery>(&year_query)?, &actor).await?;

    body.push_str(&disclosure_part(&picks));
    let place = picks
        .site
        .as_deref()
        .map_or_else(|| "all sites".to_owned(), |s| format!("site {s}"));
    let period = format!(
        "{}{}",
        label(picks.year),
        if picks.year == current { " to date" } else { "" }
    );
    body.push_str(&funnel_section(&funnel, &period, &place, &year_query)?);
    body.push_str(&trend_section(&trend, &place, &trend_query));
    body.push_str(&reattendance_section(&reattendance, &period, &place, &year_query));
    Ok(crate::web::html(page("Audit", Some(&user), &body)))
}

/// The pickers: a GET form (works without script), the errors in words next to their field.
fn form(picks: &Picks, first: i32, current: i32) -> String {
    let mut s = String::from("<form method=\"get\" action=\"/web/audit\" class=\"pickers\">");
    s.push_str(&format!(
        "<input type=\"hidden\" name=\"disclosure\" value=\"{}\">",
        picks.disclosure_code()
    ));
    let year_invalid = if picks.year_error.is_some() {
        " aria-invalid=\"true\" aria-describedby=\"year-error\""
    } else {
        ""
    };
    s.push_str(&format!(
        "<div><label for=\"year\">Financial year</label><select id=\"year\" name=\"year\"{year_invalid}>"
    ));
    for year in (first..=current).rev() {
        let selected = if year == picks.year { " selected" } else { "" };
        let to_date = if year == current { " (to date)" } else { "" };
        s.push_str(&format!(
            "<option value=\"{year}\"{selected}>{}{to_date}</option>",
            escape(&label(year))
        ));
    }
    s.push_str("</select>");
    if let Some(error) = &picks.year_error {
        s.push_str(&format!(
            "<p class=\"error\" id=\"year-error\">Error: {}</p>",
            escape(error)
        ));
    }
    s.push_str("</div>");
    let site_invalid = if picks.site_error.is_some() {
        " aria-invalid=\"true\" aria-describedby=\"site-hint site-error\""
    } else {
        " aria-describedby=\"site-hint\""
    };
    s.push_str(&format!(
        "<div><label for=\"site\">Site</label>\
         <p class=\"hint\" id=\"site-hint\">As the EPR names it; leave empty for every site.</p>\
         <input type=\"text\" id=\"site\" name=\"site\" maxlength=\"{SITE_MAX}\" value=\"{}\"{site_invalid}>",
        escape(&picks.site_text)
    ));
    if let Some(error) = &picks.site_error {
        s.push_str(&format!(
            "<p class=\"error\" id=\"site-error\">Error: {}</p>",
            escape(error)
        ));
    }
    s.push_str("</div>");
    if let Some(error) = &picks.disclosure_error {
        s.push_str(&format!(
            "<p class=\"error\" id=\"disclosure-error\">Error: {}</p><p><a href=\"/web/audit\">Show all figures (internal use)</a></p>",
            escape(error)
        ));
    }
    s.push_str("<p><button type=\"submit\">Show the figures</button></p></form>");
    s
}

/// Which figures are showing, in words, and the link to the other kind.
fn disclosure_part(picks: &Picks) -> String {
    let (showing, other, other_code) = match picks.disclosure {
        Disclosure::None => (
            "All figures (internal use): exact counts, for the trust's own audit. Do not publish them.",
            "Show published figures (NHS small-number suppression)",
            "nhs",
        ),
        Disclosure::Nhs => (
            "Published figures (NHS small-number suppression): counts from 1 to 7 and any count that \
             would let one be worked out are withheld and shown as *; other counts are rounded to the \
             nearest 5, and rates are worked out from the rounded counts.",
            "Show all figures (internal use)",
            "none",
        ),
    };
    format!(
        "<p class=\"disclosure\" id=\"disclosure-status\"><strong>Showing:</strong> {}</p>\
         <p><a id=\"disclosure-toggle\" href=\"{}\">{}</a></p>",
        escape(showing),
        escape(&picks.page_link(other_code)),
        escape(other)
    )
}

/// A count as shown: the number, or `*` when withheld.
fn count(value: Option<i64>) -> String {
    value.map_or_else(|| "*".to_owned(), |v| v.to_string())
}

/// A rate (0–1) as a percentage with one decimal; `*` when withheld (`path` listed as
/// suppressed), "not applicable" when its denominator is zero.
fn percent(value: Option<f64>, suppressed: &[String], path: &str) -> String {
    match value {
        Some(rate) => format!("{:.1}%", rate * 100.0),
        None if suppressed.iter().any(|p| p == path) => "*".to_owned(),
        None => "not applicable".to_owned(),
    }
}

fn csv_link(name: &str, query: &str, text: &str) -> String {
    format!(
        "<p><a id=\"csv-{name}\" href=\"{}\">{}</a></p>",
        escape(&format!("/web/audit/{name}.csv?{query}")),
        escape(text)
    )
}

fn withheld_note(disclosure: Disclosure) -> &'static str {
    match disclosure {
        Disclosure::None => "",
        Disclosure::Nhs => "<p class=\"hint\">* withheld (NHS small-number suppression).</p>",
    }
}

/// A table row: a heading cell and data cells, all escaped.
fn row(heading: &str, cells: &[String]) -> String {
    let cells: String = cells.iter().map(|c| format!("<td>{}</td>", escape(c))).collect();
    format!("<tr><th scope=\"row\">{}</th>{cells}</tr>", escape(heading))
}

fn funnel_section(report: &FunnelReport, period: &str, place: &str, query: &str) -> Result<String, ApiError> {
    let g: &FunnelGroup = report
        .groups
        .first()
        .ok_or_else(|| ApiError::internal("the funnel has no group"))?;
    let c = &g.counts;
    let r = &g.rates;
    let s = &g.suppressed;
    // A rate in words: "62.5% of eligible", `*` when withheld, or why there is none.
    let rate = |value: Option<f64>, path: &str, of: &str| match percent(value, s, path) {
        text if value.is_some() => format!("{text} {of}"),
        text if text == "*" => text,
        _ => "not applicable (none to divide by)".to_owned(),
    };
    let screening = rate(r.screening, "rates.screening", "of eligible");
    let positive = rate(r.positive, "rates.positive", "of screened");
    let acceptance = rate(
        r.acceptance,
        "rates.acceptance",
        "of offered (acceptance, with seen in the department)",
    );
    let attendance = rate(
        r.ahw_attendance,
        "rates.ahw_attendance",
        "of attended or did not attend",
    );
    // The chart's labels are short (the table says the rest): "62.5% of eligible", nothing for a
    // withheld rate (its count already says "withheld"), "no rate" for a zero denominator.
    let short = |value: Option<f64>, path: &str, words: &str| match percent(value, s, path) {
        text if value.is_some() => words.replace("{}", &text),
        text if text == "*" => String::new(),
        _ => "no rate".to_owned(),
    };
    let bars = vec![
        ("Attendances", c.attendances, String::new()),
        ("Eligible for PAT", c.eligible, String::new()),
        (
            "Screened",
            c.screened,
            short(r.screening, "rates.screening", "{} of eligible"),
        ),
        (
            "PAT positive",
            c.positive,
            short(r.positive, "rates.positive", "{} of screened"),
        ),
        ("Offered a referral", c.offered, String::new()),
        (
            "Accepted",
            c.accepted,
            short(r.acceptance, "rates.acceptance", "acceptance {}"),
        ),
        ("Seen in the department", c.seen_in_department, String::new()),
        ("Booked", c.booked, String::new()),
        (
            "Attended",
            c.attended,
            short(r.ahw_attendance, "rates.ahw_attendance", "attendance {}"),
        ),
    ]
    .into_iter()
    .map(|(label, value, note)| Bar {
        label: label.to_owned(),
        value,
        note,
    })
    .collect::<Vec<_>>();
    let title = format!("Referral funnel, {period}, {place}");
    let chart = bar_chart(
        "funnel-chart",
        &title,
        "Horizontal bars, one per step of the pathway from attendance to an attended Alcohol Health Worker \
         appointment, each labelled with its count and, where there is one, its rate. The table beside it \
         holds the same figures and more.",
        &bars,
    );
    let ns = &c.not_screened;
    let rows = [
        ("Attendances", count(c.attendances), String::new()),
        ("Eligible for PAT", count(c.eligible), String::new()),
        ("Eligible, age not known", count(c.age_unknown), String::new()),
        ("Screened", count(c.screened), screening.clone()),
        ("Not screened: refused", count(ns.refused), String::new()),
        ("Not screened: intoxicated", count(ns.intoxicated), String::new()),
        ("Not screened: lacks capacity", count(ns.lacks_capacity), String::new()),
        ("Not screened: too unwell", count(ns.too_unwell), String::new()),
        ("Not screened: under age", count(ns.under_age), String::new()),
        ("Not screened: not asked", count(ns.not_asked), String::new()),
        ("Not screened: not recorded", count(ns.not_recorded), String::new()),
        (
            "Screened outside the indications",
            count(c.screened_outside_indications),
            String::new(),
        ),
        ("PAT positive", count(c.positive), positive.clone()),
        ("Advice given", count(c.advice_given), String::new()),
        ("Leaflet given", count(c.leaflet_given), String::new()),
        ("Offered a referral", count(c.offered), String::new()),
        ("Accepted", count(c.accepted), acceptance.clone()),
        ("Declined", count(c.declined), String::new()),
        ("Seen in the department", count(c.seen_in_department), String::new()),
        ("Booked", count(c.booked), String::new()),
        ("Booked within 24 hours", count(c.booked_within_24h), String::new()),
        ("No free slot in the window", count(c.no_slot_in_window), String::new()),
        ("Attended", count(c.attended), attendance.clone()),
        ("Did not attend", count(c.did_not_attend), String::new()),
        ("Cancelled", count(c.cancelled), String::new()),
    ];
    let body: String = rows
        .iter()
        .map(|(heading, value, rate)| row(heading, &[value.clone(), rate.clone()]))
        .collect();
    Ok(format!(
        "<section aria-labelledby=\"funnel-heading\"><h2 id=\"funnel-heading\">Funnel</h2>\
         <p>Attendances arriving in {period} (Europe/London), {place}, and what happened to them: after \
         \"eligible\", every count is of eligible attendances.</p>\
         <div class=\"chart-pair\"><div>{chart}</div>\
         <table id=\"funnel-table\"><caption>{title}: counts and rates</caption>\
         <thead><tr><th scope=\"col\">Figure</th><th scope=\"col\">Count</th><th scope=\"col\">Rate</th></tr></thead>\
         <tbody>{body}</tbody></table></div>{note}{link}</section>",
        period = escape(period),
        place = escape(place),
        title = escape(&title),
        note = withheld_note(report.disclosure),
        link = csv_link("funnel", query, "Download the funnel as CSV"),
    ))
}

fn trend_section(report: &ReferralsReport, place: &str, query: &str) -> String {
    let mut bars = Vec::new();
    let mut rows = String::new();
    for (i, y) in report.years.iter().enumerate() {
        let (change, change_percent) = if i == 0 {
            ("no year before".to_owned(), "no year before".to_owned())
        } else {
            (
                y.change.map_or_else(|| "*".to_owned(), |c| format!("{c:+}")),
                match y.change_percent {
                    Some(p) => format!("{p:+.1}%"),
                    None if y.suppressed.iter().any(|p| p == "change_percent") => "*".to_owned(),
                    None => "not applicable".to_owned(),
                },
            )
        };
        let year = if y.partial {
            format!("{} (part of the year)", y.financial_year)
        } else {
            y.financial_year.clone()
        };
        let note = if i == 0 {
            String::new()
        } else if change == "*" {
            "change withheld".to_owned()
        } else {
            format!("change {change} ({change_percent})")
        };
        bars.push(Bar {
            label: year.clone(),
            value: y.accepted,
            note,
        });
        rows.push_str(&row(
            &year,
            &[count(y.accepted), count(y.seen_in_department), change, change_percent],
        ));
    }
    let title = format!("Accepted referrals by financial year, {place}");
    let chart = bar_chart(
        "referrals-chart",
        &title,
        "Horizontal bars, one per NHS financial year, each labelled with the referrals accepted and the \
         change from the year before. The table beside it holds the same figures.",
        &bars,
    );
    format!(
        "<section aria-labelledby=\"referrals-heading\"><h2 id=\"referrals-heading\">Referral trend</h2>\
         <p>{definition}</p>\
         <div class=\"chart-pair\"><div>{chart}</div>\
         <table id=\"referrals-table\"><caption>{title}</caption>\
         <thead><tr><th scope=\"col\">Financial year</th><th scope=\"col\">Accepted</th>\
         <th scope=\"col\">Seen in the department</th><th scope=\"col\">Change</th>\
         <th scope=\"col\">Change (%)</th></tr></thead><tbody>{rows}</tbody></table></div>{note}{link}</section>",
        definition = escape(&report.definition),
        title = escape(&title),
        note = withheld_note(report.disclosure),
        link = csv_link("referrals", query, "Download the referral trend as CSV"),
    )
}

fn reattendance_section(report: &ReattendanceReport, period: &str, place: &str, query: &str) -> String {
    let t = &report.twelve_month;
    let s = &report.suppressed;
    let mean = |value: Option<f64>, path: &str| match value {
        Some(m) => format!("{m:.2}"),
        None if s.iter().any(|p| p == path) => "*".to_owned(),
        None => "not applicable".to_owned(),
    };
    let number = |value: Option<f64>, path: &str| match value {
        Some(m) => format!("{m:+.2}"),
        None if s.iter().any(|p| p == path) => "*".to_owned(),
        None => "not applicable".to_owned(),
    };
    let cohorts = [
        row(
            "Referral accepted (including seen in the department)",
            &[
                count(t.accepted.patients),
                count(t.accepted.reattendances),
                mean(t.accepted.mean, "twelve_month.accepted.mean"),
            ],
        ),
        row(
            "Referral declined",
            &[
                count(t.declined.patients),
                count(t.declined.reattendances),
                mean(t.declined.mean, "twelve_month.declined.mean"),
            ],
        ),
    ]
    .concat();
    let apart = [
        row(
            "Follow-up incomplete: 365 days not yet passed (in neither cohort)",
            &[count(t.follow_up_incomplete), String::new(), String::new()],
        ),
        row(
            "No referral decision (in neither cohort)",
            &[count(t.no_decision), String::new(), String::new()],
        ),
    ]
    .concat();
    let d = &report.seven_day;
    format!(
        "<section aria-labelledby=\"reattendance-heading\"><h2 id=\"reattendance-heading\">Reattendance</h2>\
         <p>Two different measures, not to be compared with each other: the 12-month reattendance of \
         PAT-positive patients by their referral decision (the outcome the PAT studies report), and the 7-day \
         unplanned reattendance rate of every attendance (the NHS A&amp;E quality indicator). Period: {period}, \
         {place}.</p>\
         <h3>12-month reattendance</h3><p>{measure}.</p><p>{note}</p>\
         <table id=\"reattendance-table\"><caption>12-month reattendance by referral decision, {period}, {place}</caption>\
         <thead><tr><th scope=\"col\">Cohort</th><th scope=\"col\">Patients</th>\
         <th scope=\"col\">Reattendances in 365 days</th><th scope=\"col\">Mean per patient</th></tr></thead>\
         <tbody>{cohorts}</tbody><tbody>{apart}</tbody></table>\
         <dl><dt>Difference (declined mean minus accepted mean)</dt><dd>{difference}</dd>\
         <dt>Reattendances avoided per two accepted referrals</dt><dd>{avoided}</dd></dl>\
         <h3>7-day unplanned reattendance</h3><p>{seven_measure}. Good practice is under 5%.</p>\
         <table id=\"seven-day-table\"><caption>7-day unplanned reattendance, {period}, {place}</caption>\
         <thead><tr><th scope=\"col\">Attendances</th><th scope=\"col\">Followed by an unplanned attendance within 7 days</th>\
         <th scope=\"col\">Rate</th></tr></thead>\
         <tbody><tr><td>{attendances}</td><td>{reattended}</td><td>{rate}</td></tr></tbody></table>\
         {withheld}{link}</section>",
        period = escape(period),
        place = escape(place),
        measure = escape(&t.measure),
        note = escape(&t.note),
        difference = escape(&number(t.difference, "twelve_month.difference")),
        avoided = escape(&number(t.avoided_per_two_accepted, "twelve_month.avoided_per_two_accepted")),
        seven_measure = escape(&d.measure),
        attendances = escape(&count(d.attendances)),
        reattended = escape(&count(d.reattended_within_7_days)),
        rate = escape(&percent(d.rate, s, "seven_day.rate")),
        withheld = withheld_note(report.disclosure),
        link = csv_link("reattendance", query, "Download the reattendance figures as CSV"),
    )
}

/// `GET /web/audit/funnel.csv?<the API's query>` (auditor, admin): the API's funnel CSV.
pub async fn funnel_csv(
    state: web::Data<AppState>,
    user: SignedIn,
    request: HttpRequest,
) -> Result<HttpResponse, WebError> {
    user.require(AUDIT_ROLES)?;
    let query = parse_query::<StatisticsQuery>(request.query_string())?;
    let report = statistics::funnel_report(&state, query, &user.actor()).await?;
    Ok(csv_response("funnel", statistics::funnel_csv(&report)?))
}

/// `GET /web/audit/referrals.csv?<the API's query>` (auditor, admin): the API's referral trend
/// CSV.
pub async fn referrals_csv(
    state: web::Data<AppState>,
    user: SignedIn,
    request: HttpRequest,
) -> Result<HttpResponse, WebError> {
    user.require(AUDIT_ROLES)?;
    let query = parse_query::<ReportQuery>(request.query_string())?;
    let report = statistics::referrals_report(&state, query, &user.actor()).await?;
    Ok(csv_response("referrals", statistics::referrals_csv(&report)?))
}

/// `GET /web/audit/reattendance.csv?<the API's query>` (auditor, admin): the API's reattendance
/// CSV.
pub async fn reattendance_csv(
    state: web::Data<AppState>,
    user: SignedIn,
    request: HttpRequest,
) -> Result<HttpResponse, WebError> {
    user.require(AUDIT_ROLES)?;
    let query = parse_query::<ReportQuery>(request.query_string())?;
    let report = statistics::reattendance_report(&state, query, &user.actor()).await?;
    Ok(csv_response("reattendance", statistics::reattendance_csv(&report)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(pairs: &[(&str, &str)]) -> Picks {
        let query = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Picks::parse(&query, 2023, 2026)
    }

    #[test]
    fn the_pickers_default_to_the_current_year_every_site_and_all_figures() {
        let p = picks(&[("site", "  ")]);
        assert!(p.is_valid());
        assert_eq!(
            (p.year, p.site.as_deref(), p.disclosure),
            (2026, None, Disclosure::None)
        );
    }

    #[test]
    fn a_year_outside_the_offered_ones_or_not_a_number_is_an_error() {
        for year in ["2022", "2027", "twenty", "2025.5"] {
            let p = picks(&[("year", year)]);
            assert!(
                p.year_error
                    .as_deref()
                    .is_some_and(|e| e.contains("2023/24 to 2026/27")),
                "{year}"
            );
        }
        assert!(picks(&[("year", "2023")]).is_valid());
    }

    #[test]
    fn a_site_longer_than_100_characters_and_an_unknown_disclosure_are_errors() {
        assert!(picks(&[("site", &"x".repeat(101))]).site_error.is_some());
        assert!(picks(&[("site", &"x".repeat(100))]).is_valid());
        assert!(picks(&[("disclosure", "public")]).disclosure_error.is_some());
    }

    #[test]
    fn the_api_query_and_the_toggle_keep_the_site_percent_encoded() -> Result<(), ApiError> {
        let p = picks(&[("year", "2024"), ("site", "St Mary's & Co"), ("disclosure", "nhs")]);
        let (from, to) = (april_first(2024)?, april_first(2025)?);
        assert_eq!(
            p.api_query(from, to),
            "from=2024-04-01&to=2025-04-01&site=St%20Mary%27s%20%26%20Co&disclosure=nhs"
        );
        assert_eq!(
            p.page_link("none"),
            "/web/audit?year=2024&site=St%20Mary%27s%20%26%20Co&disclosure=none"
        );
        Ok(())
    }

    #[test]
    fn rates_are_percentages_withheld_or_not_applicable() {
        let suppressed = vec!["rates.screening".to_owned()];
        assert_eq!(percent(Some(0.625), &[], "rates.screening"), "62.5%");
        assert_eq!(percent(None, &suppressed, "rates.screening"), "*");
        assert_eq!(percent(None, &[], "rates.screening"), "not applicable");
        assert_eq!(count(None), "*");
        assert_eq!(count(Some(0)), "0");
    }
}
