//! `GET /api/v1/statistics/{funnel,referrals,reattendance,outcomes}`: the figures audit teams pull
//! (docs/domain.md §7), as JSON or, with `Accept: text/csv`, as CSV; `disclosure=nhs` applies NHS
//! small-number suppression (§8). No response carries a patient identifier.
//!
//! Each report is built by a function the handler and the web Audit page (`web::pages::audit`)
//! both call (`funnel_report`, `referrals_report`, `reattendance_report`; the CSV by
//! `funnel_csv`, …), so the page makes the same store calls (the same audit events) and its CSV
//! downloads are the API's bytes. They parse the query, take the periods from
//! `domain::financial_year`, run the report's queries (`store::statistics`), then build the answer: [`reports`] turns the rows into
//! the published report (the JSON view, NHS disclosure control from `domain::disclosure`
//! applied) and [`csv`] writes that view as CSV.

pub mod csv;
pub mod reports;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

use self::reports::{Disclosure, FunnelGroup, GroupBy, OutcomeYear, ReferralYear, SevenDay, TwelveMonth, YearCount};
use super::AppState;
use crate::auth::Authorized;
use crate::domain::calendar::london_date;
use crate::domain::eligibility::PresentingCondition;
use crate::domain::financial_year::{
    financial_year_end, financial_year_start, financial_year_to_date, financial_years, months, Period,
};
use crate::domain::FieldError;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::statistics::{FunnelRow, GroupRow, Scope, TWELVE_MONTH_DAYS};
use crate::store::Actor;

role_set!(
    /// Audit teams and administrators read the statistics.
    ReadStatistics: Auditor, Admin
);

/// The problems every statistics endpoint can answer (application/problem+json).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // documents responses; never constructed
pub enum StatisticsProblems {
    /// Malformed query
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No valid token
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// Role not allowed
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// Invalid parameter
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// Database unavailable
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The longest range one request may cover.
const MAX_RANGE_DAYS: u64 = 20 * 366;

/// Query of every statistics endpoint. Values are checked by hand so a wrong one is a 422 that
/// names its parameter.
#[derive(Deserialize, IntoParams, Debug)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatisticsQuery {
    /// First Europe/London calendar date counted, `YYYY-MM-DD` (attendances arriving from its
    /// local midnight). Default: 1 April starting the current financial year (referrals: the
    /// financial year of the earliest attendance).
    #[param(value_type = Option<String>, format = Date, pattern = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-")]
    pub from: Option<String>,
    /// Europe/London date after the last one counted (exclusive). Default: tomorrow (referrals:
    /// 1 April ending the current financial year).
    #[param(value_type = Option<String>, format = Date, pattern = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-")]
    pub to: Option<String>,
    /// Only attendances at this site; 1–100 characters.
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub site: Option<String>,
    /// `none` (default), `month`, `financial_year` or `presenting_condition`.
    #[param(value_type = Option<GroupBy>)]
    pub group_by: Option<String>,
    /// `none` (default) or `nhs` (published figures: NHS small-number suppression).
    #[param(value_type = Option<Disclosure>)]
    pub disclosure: Option<String>,
}

/// Query of the reports that are not grouped (referrals, reattendance, outcomes): the funnel's
/// without `group_by`, which they do not take (an unknown parameter is a 400).
#[derive(Deserialize, IntoParams, Debug)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First Europe/London calendar date counted, `YYYY-MM-DD` (attendances arriving from its
    /// local midnight). Default: 1 April starting the current financial year (referrals and
    /// outcomes: the financial year of the earliest attendance).
    #[param(value_type = Option<String>, format = Date, pattern = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-")]
    pub from: Option<String>,
    /// Europe/London date after the last one counted (exclusive). Default: tomorrow (referrals and
    /// outcomes: 1 April ending the current financial year).
    #[param(value_type = Option<String>, format = Date, pattern = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-")]
    pub to: Option<String>,
    /// Only attendances at this site (reattendances still count at any site); 1–100 characters.
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub site: Option<String>,
    /// `none` (default) or `nhs` (published figures: NHS small-number suppression).
    #[param(value_type = Option<Disclosure>)]
    pub disclosure: Option<String>,
}

impl From<ReportQuery> for StatisticsQuery {
    fn from(query: ReportQuery) -> StatisticsQuery {
        StatisticsQuery {
            from: query.from,
            to: query.to,
            site: query.site,
            group_by: None,
            disclosure: query.disclosure,
        }
    }
}

struct Parsed {
    from: NaiveDate,
    to: NaiveDate,
    site: Option<String>,
    group_by: GroupBy,
    disclosure: Disclosure,
}

fn parse_date(errors: &mut Vec<FieldError>, field: &str, raw: Option<&str>) -> Option<NaiveDate> {
    let raw = raw?;
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(date) if (1900..=2200).contains(&date.year()) => Some(date),
        _ => {
            errors.push(FieldError::new(
                field,
                "must be a date YYYY-MM-DD between 1900 and 2200",
            ));
            None
        }
    }
}

fn parse_code<T: serde::de::DeserializeOwned>(
    errors: &mut Vec<FieldError>,
    field: &str,
    raw: Option<&str>,
    allowed: &str,
) -> Option<T> {
    let raw = raw?;
    match serde_json::from_value(Value::String(raw.to_owned())) {
        Ok(value) => Some(value),
        Err(_) => {
            errors.push(FieldError::new(field, format!("must be one of {allowed}")));
            None
        }
    }
}

impl StatisticsQuery {
    /// Checks every parameter, with `default_range` used for a missing `from`/`to`.
    fn parse(self, default_range: (NaiveDate, NaiveDate)) -> Result<Parsed, ApiError> {
        let mut errors = Vec::new();
        let from = parse_date(&mut errors, "from", self.from.as_deref());
        let to = parse_date(&mut errors, "to", self.to.as_deref());
        let group_by = parse_code(
            &mut errors,
            "group_by",
            self.group_by.as_deref(),
            "none, month, financial_year, presenting_condition",
        );
        let disclosure = parse_code(&mut errors, "disclosure", self.disclosure.as_deref(), "none, nhs");
        let site = super::text_field(&mut errors, "site", self.site.as_deref(), 100);
        let from = from.unwrap_or(default_range.0);
        let to = to.unwrap_or(default_range.1);
        if errors.is_empty() {
            if from >= to {
                errors.push(FieldError::new("to", "must be after from"));
            } else if to.signed_duration_since(from).num_days() > MAX_RANGE_DAYS as i64 {
                errors.push(FieldError::new("to", "the range must be at most 20 years"));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(Parsed {
            from,
            to,
            site,
            group_by: group_by.unwrap_or(GroupBy::None),
            disclosure: disclosure.unwrap_or(Disclosure::None),
        })
    }
}

/// The current financial year to date: the default period of the funnel and reattendance.
fn year_to_date(state: &AppState) -> (NaiveDate, NaiveDate) {
    financial_year_to_date(london_date(state.settings.clock.now()))
}

/// Whether the caller asked for CSV (`Accept: text/csv`).
fn wants_csv(request: &HttpRequest) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| item.split(';').next().map(str::trim) == Some("text/csv"))
}

/// A CSV document as the attachment `{name}.csv` (`text/csv; charset=utf-8`): the answer of every
/// CSV download, the API's and the web pages'.
pub fn csv_response(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(body)
}

/// Fields of an object value, or an empty map.
fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal(format!("serialising a report: {e}")))
}

/// One CSV row and the paths withheld in it (see [`csv::from_rows`]).
type CsvRow = (Value, Vec<String>);

/// A report's groups as CSV rows, one per group: the fields of `head` (what the report is
/// about), then the group's, with the paths `suppressed` lists for that group withheld.
fn group_rows<G: Serialize>(
    head: &Value,
    groups: &[G],
    suppressed: impl Fn(&G) -> &[String],
) -> Result<Vec<CsvRow>, ApiError> {
    groups
        .iter()
        .map(|group| {
            let mut row = fields(head.clone());
            row.extend(fields(to_value(group)?));
            Ok((Value::Object(row), suppressed(group).to_vec()))
        })
        .collect()
}

/// The report as JSON, or, when the caller asked for CSV, `csv(report)` as the CSV attachment
/// `{name}.csv`.
fn answer<R: Serialize>(
    request: &HttpRequest,
    name: &str,
    report: &R,
    csv: impl FnOnce(&R) -> Result<String, ApiError>,
) -> Result<HttpResponse, ApiError> {
    if wants_csv(request) {
        return Ok(csv_response(name, csv(report)?));
    }
    Ok(HttpResponse::Ok().json(report))
}

/// The default range of a report by financial year: from 1 April of the earliest attendance's
/// financial year (when `from` is not given; never later than the current one) to 1 April ending
/// the current financial year.
async fn trend_range(state: &AppState, query: &StatisticsQuery) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let today = london_date(state.settings.clock.now());
    let this_year = financial_year_start(today);
    let earliest = if query.from.is_none() {
        state
            .store
            .statistics()
            .earliest_arrival()
            .await?
            .map(|t| financial_year_start(london_date(t)))
    } else {
        None
    };
    Ok((earliest.unwrap_or(this_year).min(this_year), financial_year_end(today)))
}

/// Each financial year of `periods` with its row of `rows` (zeros when it has none).
fn year_counts<R: GroupRow>(periods: &[Period], rows: &[R], today: NaiveDate) -> Vec<YearCount<R>> {
    periods
        .iter()
        .map(|p| YearCount {
            financial_year: p.key.clone(),
            from: p.from,
            to: p.to,
            partial: p.is_partial_financial_year(today),
            counts: R::of_group(rows, &p.key),
        })
        .collect()
}

// ----- Funnel -----

#[derive(Serialize, ToSchema, Debug)]
pub struct FunnelReport {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub site: Option<String>,
    pub group_by: GroupBy,
    pub disclosure: Disclosure,
    /// One group per period or condition in the range, in order, empty ones included.
    pub groups: Vec<FunnelGroup>,
}

/// The referral funnel of docs/domain.md §7, per period, site or presenting condition.
///
/// Periods are half-open `[from, to)` on the attendance's arrival time with Europe/London
/// boundaries; a screening, referral or booking belongs to its attendance's period. Everything
/// after `eligible` counts eligible attendances only. Rates are computed from the published
/// counts, four decimals, `null` on a zero denominator. `Accept: text/csv` gives one row per
/// group; a withheld figure is `*`.
#[utoipa::path(
    operation_id = "getFunnel",
    tag = "statistics",
    params(StatisticsQuery),
    responses(
        (status = 200, description = "The funnel (JSON, or CSV with Accept: text/csv)", content(
            (FunnelReport = "application/json"),
            (String = "text/csv")
        )),
        StatisticsProblems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/statistics/funnel")]
pub async fn funnel(
    auth: Authorized<ReadStatistics>,
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<StatisticsQuery>,
) -> Result<HttpResponse, ApiError> {
    let report = funnel_report(&state, query.into_inner(), &auth.actor()).await?;
    answer(&request, "funnel", &report, funnel_csv)
}

/// The funnel for `query` as the API answers it: checks the query, runs the funnel's queries as
/// `actor` (one audit event) and publishes the figures. `GET /web/audit` calls it too.
pub async fn funnel_report(state: &AppState, query: StatisticsQuery, actor: &Actor) -> Result<FunnelReport, ApiError> {
    let q = query.parse(year_to_date(state))?;
    let whole = Period::whole(q.from, q.to);
    let periods = match q.group_by {
        GroupBy::None | GroupBy::PresentingCondition => vec![whole],
        GroupBy::Month => months(q.from, q.to),
        GroupBy::FinancialYear => financial_years(q.from, q.to),
    };
    let keys: Vec<String> = match q.group_by {
        GroupBy::PresentingCondition => PresentingCondition::ALL.iter().map(|c| c.code().to_owned()).collect(),
        _ => periods.iter().map(|p| p.key.clone()).collect(),
    };
    let scope = Scope::new(&periods, q.site.clone(), q.group_by == GroupBy::PresentingCondition);
    let rows = state.store.statistics().funnel(scope, actor).await?;
    let groups: Vec<FunnelGroup> = keys
        .into_iter()
        .map(|key| {
            let row = FunnelRow::of_group(&rows, &key);
            reports::funnel_group(key, &row, q.disclosure)
        })
        .collect();
    Ok(FunnelReport {
        from: q.from,
        to: q.to,
        site: q.site,
        group_by: q.group_by,
        disclosure: q.disclosure,
        groups,
    })
}

/// The funnel as CSV: one row per group (`funnel.csv`).
pub fn funnel_csv(report: &FunnelReport) -> Result<String, ApiError> {
    let head = json!({
        "from": report.from, "to": report.to, "site": report.site,
        "group_by": report.group_by, "disclosure": report.disclosure,
    });
    let rows = group_rows(&head, &report.groups, |group| &group.suppressed)?;
    Ok(csv::from_rows(&rows))
}

// ----- Referral trend -----

#[derive(Serialize, ToSchema, Debug)]
pub struct ReferralsReport {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub site: Option<String>,
    pub disclosure: Disclosure,
    /// What is counted, in words.
    pub definition: String,
    pub years: Vec<ReferralYear>,
}

/// Accepted referrals per NHS financial year and the change from the year before.
///
/// `accepted` counts eligible, PAT-positive attendances arriving in the year whose referral
/// decision is `accepted` (an AHW appointment) — the funnel's `accepted` for the same year;
/// `seen_in_department` is reported beside it, not in it. `change_percent` has one decimal.
#[utoipa::path(
    operation_id = "getReferralStatistics",
    tag = "statistics",
    params(ReportQuery),
    responses(
        (status = 200, description = "The trend (JSON, or CSV with Accept: text/csv)", content(
            (ReferralsReport = "application/json"),
            (String = "text/csv")
        )),
        StatisticsProblems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/statistics/referrals")]
pub async fn referrals(
    auth: Authorized<ReadStatistics>,
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let report = referrals_report(&state, query.into_inner(), &auth.actor()).await?;
    answer(&request, "referrals", &report, referrals_csv)
}

/// The referral trend for `query` as the API answers it (one audit event, as `actor`).
pub async fn referrals_report(
    state: &AppState,
    query: ReportQuery,
    actor: &Actor,
) -> Result<ReferralsReport, ApiError> {
    let query = StatisticsQuery::from(query);
    let today = london_date(state.settings.clock.now());
    let range = trend_range(state, &query).await?;
    let q = query.parse(range)?;
    let periods = financial_years(q.from, q.to);
    let scope = Scope::new(&periods, q.site.clone(), false);
    let rows = state.store.statistics().referrals(scope, actor).await?;
    let counted = year_counts(&periods, &rows, today);
    Ok(ReferralsReport {
        from: q.from,
        to: q.to,
        site: q.site,
        disclosure: q.disclosure,
        definition: "Referrals accepted for an Alcohol Health Worker appointment, by the NHS financial year \
                     (1 April to 31 March, Europe/London) of the attendance: eligible attendances whose current \
                     PAT is positive and whose referral decision is accepted. Patients seen in the department \
                     at once are counted apart."
            .into(),
        years: reports::referral_years(&counted, q.disclosure),
    })
}

/// The referral trend as CSV: one row per financial year (`referrals.csv`).
pub fn referrals_csv(report: &ReferralsReport) -> Result<String, ApiError> {
    let head = json!({ "site": report.site, "disclosure": report.disclosure });
    let rows = group_rows(&head, &report.years, |year| &year.suppressed)?;
    Ok(csv::from_rows(&rows))
}

// ----- Reattendance -----

#[derive(Serialize, ToSchema, Debug)]
pub struct ReattendanceReport {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub site: Option<String>,
    pub disclosure: Disclosure,
    /// Length of the 12-month window.
    pub window_days: u32,
    pub twelve_month: TwelveMonth,
    pub seven_day: SevenDay,
    /// Paths of the withheld figures.
    pub suppressed: Vec<String>,
}

/// 12-month reattendance by referral decision, and the 7-day unplanned reattendance rate.
///
/// Two different measures, each named in the answer. 12-month: index = each patient's (NHS
/// number, else local hospital number) first positive PAT attendance in the period (at `site`
/// if given); reattendances = that patient's attendances at any site in `(index, index + 365
/// days]`; cohorts by the decision at the index attendance (accepted includes seen in the
/// department); patients whose window has not ended are counted in `follow_up_incomplete`
/// instead. 7-day: attendances in the period followed by an unplanned attendance of the same
/// patient within 7 days (which may fall after the period). Observational, not a trial.
#[utoipa::path(
    operation_id = "getReattendance",
    tag = "statistics",
    params(ReportQuery),
    responses(
        (status = 200, description = "Both measures (JSON, or CSV with Accept: text/csv)", content(
            (ReattendanceReport = "application/json"),
            (String = "text/csv")
        )),
        StatisticsProblems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/statistics/reattendance")]
pub async fn reattendance(
    auth: Authorized<ReadStatistics>,
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let report = reattendance_report(&state, query.into_inner(), &auth.actor()).await?;
    answer(&request, "reattendance", &report, reattendance_csv)
}

/// Both reattendance measures for `query` as the API answers them (one audit event, as `actor`).
pub async fn reattendance_report(
    state: &AppState,
    query: ReportQuery,
    actor: &Actor,
) -> Result<ReattendanceReport, ApiError> {
    let query = StatisticsQuery::from(query);
    let q = query.parse(year_to_date(state))?;
    let scope = Scope::new(&[Period::whole(q.from, q.to)], q.site.clone(), false);
    let now = state.settings.clock.now();
    let (cohorts, seven) = state.store.statistics().reattendance(scope, now, actor).await?;
    let (twelve_month, seven_day, suppressed) = reports::reattendance(&cohorts, &seven, q.disclosure);
    Ok(ReattendanceReport {
        from: q.from,
        to: q.to,
        site: q.site,
        disclosure: q.disclosure,
        window_days: TWELVE_MONTH_DAYS,
        twelve_month,
        seven_day,
        suppressed,
    })
}

/// The reattendance report as CSV: one row, the whole report (the list of withheld paths is an
/// array, so not a column) (`reattendance.csv`).
pub fn reattendance_csv(report: &ReattendanceReport) -> Result<String, ApiError> {
    Ok(csv::from_rows(&[(to_value(report)?, report.suppressed.clone())]))
}

// ----- Outcomes -----

#[derive(Serialize, ToSchema, Debug)]
pub struct OutcomesReport {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub site: Option<String>,
    pub disclosure: Disclosure,
    /// Follow-ups are counted as due when their due date is on or before this Europe/London
    /// date: the last day of the range (`to` − 1 day), or today if that is earlier.
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    /// Always `true`: the figures describe what happened to the patients an AHW saw, not a
    /// comparison with patients who were not seen.
    pub observational: bool,
    /// What is counted, in words.
    pub definition: String,
    /// That the comparison is observational, not a trial.
    pub note: String,
    pub years: Vec<OutcomeYear>,
}

/// The outcomes of the AHW contacts per NHS financial year: brief interventions delivered,
/// follow-ups due and made at 6 and at 12 months, and units a week at the contact against the
/// follow-up for the pairs with both.
///
/// An AHW contact is an accepted referral's attended appointment (its slot start; the first if
/// several were attended) or a `seen_in_department` decision (its `decided_at`); it belongs to the
/// financial year of that time, Europe/London, and to `site` if its attendance is there. A
/// follow-up at 6 or 12 months is due when the contact's Europe/London date plus the months (the
/// month's last day when it has no such day) is on or before `as_of` (the range's last day, or
/// today if earlier); made when due and recorded; paired when made and the units a week at the
/// contact were recorded. Means are over the pairs, one decimal, withheld with a suppressed pair
/// count. Observational, not a trial.
#[utoipa::path(
    operation_id = "getOutcomeStatistics",
    tag = "statistics",
    params(ReportQuery),
    responses(
        (status = 200, description = "The outcomes (JSON, or CSV with Accept: text/csv)", content(
            (OutcomesReport = "application/json"),
            (String = "text/csv")
        )),
        StatisticsProblems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/statistics/outcomes")]
pub async fn outcomes(
    auth: Authorized<ReadStatistics>,
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = StatisticsQuery::from(query.into_inner());
    let today = london_date(state.settings.clock.now());
    let range = trend_range(&state, &query).await?;
    let q = query.parse(range)?;
    let as_of = q.to.pred_opt().unwrap_or(q.to).min(today);
    let periods = financial_years(q.from, q.to);
    let scope = Scope::new(&periods, q.site.clone(), false);
    let rows = state.store.statistics().outcomes(scope, as_of, &auth.actor()).await?;
    let report = OutcomesReport {
        from: q.from,
        to: q.to,
        site: q.site,
        disclosure: q.disclosure,
        as_of,
        observational: true,
        definition: "Patients seen by an Alcohol Health Worker, by the NHS financial year (1 April to 31 March, \
                     Europe/London) of the contact: an attended appointment (its start) or a patient seen in the \
                     department (the decision time). A follow-up at 6 or 12 months is due on the contact's date plus \
                     the months, and counted as due when that is on or before as_of; made when due and recorded; \
                     paired when made and the units a week at the contact were recorded too. Means of units a week \
                     are over the pairs."
            .into(),
        note: "Observational, not a trial: the units a week before and after describe the patients an AHW saw and \
               followed up, who chose to be seen and to answer; there is no comparison group. Crawford 2004 (a \
               randomised trial) measured 59.7 vs 83.1 units a week at 6 months."
            .into(),
        years: reports::outcome_years(&year_counts(&periods, &rows, today), q.disclosure),
    };
    answer(&request, "outcomes", &report, |report| {
        let head = json!({
            "site": report.site, "disclosure": report.disclosure, "as_of": report.as_of,
            "observational": report.observational,
        });
        let rows = group_rows(&head, &report.years, |year| &year.suppressed)?;
        Ok(csv::from_rows(&rows))
    })
}
