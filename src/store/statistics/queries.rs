//! The statistics queries (docs/domain.md §7), computed by the database: one aggregate query per
//! report, never rows loaded one by one into Rust. The SQL is the same on both backends except
//! for how an instant is written and how "365 days later" is computed, which `Dialect` supplies.
//!
//! Period boundaries (Europe/London midnights) are computed in Rust and written into the query as
//! literals formatted from `DateTime<Utc>` values; the only text that comes from a request, the
//! site, is always a bound parameter.
//!
//! Each query runs in a span (`tracing::instrument`) named after it, with the report, the number
//! of periods, whether a site filter is set (never the site itself, nor any patient data) and,
//! once loaded, the number of rows.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use crate::db::DbConnection;
use crate::domain::financial_year::Period;
use crate::domain::scheduling::{follow_ups_due_by, FOLLOW_UP_MONTHS};
use crate::store::scheduling::follow_ups::AHW_CONTACTS;

/// One period of a report: its key and its half-open `[start, end)` in UTC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodBounds {
    pub key: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl From<&Period> for PeriodBounds {
    /// The period's London midnights as UTC instants (the domain computes them).
    fn from(period: &Period) -> Self {
        PeriodBounds {
            key: period.key.clone(),
            start: period.start(),
            end: period.end(),
        }
    }
}

/// What to count: attendances arriving in one of `periods` (at `site`, if given).
#[derive(Clone, Debug)]
pub struct Scope {
    pub periods: Vec<PeriodBounds>,
    pub site: Option<String>,
    /// Group by the recorded presenting condition instead of the period key.
    pub by_condition: bool,
}

/// The whole range a scope covers: the earliest start and the latest end of its periods.
type Span = (DateTime<Utc>, DateTime<Utc>);

impl Scope {
    /// Attendances arriving in one of the domain's `periods` (at `site`, if given), grouped by
    /// the period key or, `by_condition`, by the presenting condition.
    pub fn new(periods: &[Period], site: Option<String>, by_condition: bool) -> Scope {
        Scope {
            periods: periods.iter().map(PeriodBounds::from).collect(),
            site,
            by_condition,
        }
    }

    /// The whole range covered; `None` when there is no period, so nothing is in scope (the
    /// handlers always ask for at least one period; the queries then count nothing rather than
    /// search a made-up range).
    fn span(&self) -> Option<Span> {
        let start = self.periods.iter().map(|p| p.start).min()?;
        let end = self.periods.iter().map(|p| p.end).max()?;
        Some((start, end))
    }
}

/// ` AND a.site = <parameter 1>` when the scope names a site.
fn site_filter(dialect: Dialect, scope: &Scope) -> String {
    match scope.site {
        Some(_) => format!(" AND a.site = {}", dialect.param(1)),
        None => String::new(),
    }
}

#[derive(Clone, Copy)]
enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    fn of(conn: &DbConnection) -> Dialect {
        match conn {
            DbConnection::Pg(_) => Dialect::Postgres,
            DbConnection::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// An instant as a literal comparable with a stored time column.
    fn instant(self, t: DateTime<Utc>) -> String {
        let text = t.format("%Y-%m-%dT%H:%M:%S%.6fZ");
        match self {
            Dialect::Postgres => format!("'{text}'::timestamptz"),
            Dialect::Sqlite => format!("'{text}'"),
        }
    }

    /// `column` plus a whole number of days of 24 hours (UTC, so no clock change shifts it).
    fn plus_days(self, column: &str, days: u32) -> String {
        match self {
            Dialect::Postgres => format!("({column} + interval '{} hours')", days * 24),
            // Times are fixed-width `YYYY-MM-DDTHH:MM:SS.ffffffZ`: shift the whole seconds and
            // keep the fraction, so the result compares as text like a stored time. Only the
            // whole seconds go through strftime: it would round .999999 up to the next second.
            Dialect::Sqlite => {
                format!(
                    "(strftime('%Y-%m-%dT%H:%M:%S', substr({column}, 1, 19), '+{days} days') || substr({column}, 20))"
                )
            }
        }
    }

    /// The n-th bound parameter (1-based).
    fn param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => "?".to_owned(),
        }
    }
}

/// `WITH periods(pkey, pstart, pend) AS (VALUES …)` for the scope.
fn periods_cte(dialect: Dialect, periods: &[PeriodBounds]) -> String {
    let rows: Vec<String> = periods
        .iter()
        .map(|p| {
            // Keys are generated by the service (`2024-04`, `2024/25`, `all`), never request text.
            let key = p.key.replace('\'', "''");
            format!("('{key}', {}, {})", dialect.instant(p.start), dialect.instant(p.end))
        })
        .collect();
    format!("periods (pkey, pstart, pend) AS (VALUES {})", rows.join(", "))
}

/// The attendances in scope (not entered in error) with their group key and pathway summary:
/// `att (id, patient_key, arrived_at, eligible, gkey, under_age, age_unknown, status, result,
/// advice_given, leaflet_given, decision, unplanned_within_7d)`. `eligible`: PAT-indicated (some
/// indication, and not under `PAT_MIN_AGE`); `under_age`: an indication, but under the minimum
/// age; `age_unknown`: no date of birth.
///
/// The summary columns are kept by triggers (migration `pathway_summary`): the current
/// screening's status, result, advice and leaflet, the referral decision, and whether an
/// unplanned attendance of the patient falls in `(arrival, arrival + 7 days]` — so every report
/// reads one row per attendance.
fn scoped_attendances(dialect: Dialect, scope: &Scope, (start, end): Span) -> String {
    let site = site_filter(dialect, scope);
    let gkey = if scope.by_condition {
        "a.presenting_condition"
    } else {
        "p.pkey"
    };
    format!(
        "{periods},
         att AS (
             SELECT a.id, a.patient_key, a.arrived_at,
                    CASE WHEN a.pat_indicated THEN 1 ELSE 0 END AS eligible, {gkey} AS gkey,
                    CASE WHEN a.indications <> '' AND NOT a.pat_indicated THEN 1 ELSE 0 END AS under_age,
                    CASE WHEN a.date_of_birth IS NULL THEN 1 ELSE 0 END AS age_unknown,
                    a.screening_status AS status, a.screening_result AS result,
                    a.screening_advice_given AS advice_given, a.screening_leaflet_given AS leaflet_given,
                    a.referral_decision AS decision,
                    CASE WHEN a.unplanned_within_7d THEN 1 ELSE 0 END AS unplanned_within_7d
             FROM attendances a
             JOIN periods p ON a.arrived_at >= p.pstart AND a.arrived_at < p.pend
             WHERE a.arrived_at >= {start} AND a.arrived_at < {end} AND a.entered_in_error_at IS NULL{site})",
        periods = periods_cte(dialect, &scope.periods),
        start = dialect.instant(start),
        end = dialect.instant(end),
    )
}

/// The days of the two reattendance windows (docs/domain.md §7). The triggers of migration
/// `pathway_summary` keep the 7-day fact for exactly this window: change both together.
pub const TWELVE_MONTH_DAYS: u32 = 365;
pub const SEVEN_DAYS: u32 = 7;

/// Every count of the funnel for one group, in the order of `FunnelCounts::values`.
#[derive(QueryableByName, Clone, Debug, Default, PartialEq, Eq)]
pub struct FunnelRow {
    #[diesel(sql_type = Text)]
    pub gkey: String,
    #[diesel(sql_type = BigInt)]
    pub attendances: i64,
    #[diesel(sql_type = BigInt)]
    pub eligible: i64,
    #[diesel(sql_type = BigInt)]
    pub screened: i64,
    #[diesel(sql_type = BigInt)]
    pub refused: i64,
    #[diesel(sql_type = BigInt)]
    pub intoxicated: i64,
    #[diesel(sql_type = BigInt)]
    pub lacks_capacity: i64,
    #[diesel(sql_type = BigInt)]
    pub too_unwell: i64,
    #[diesel(sql_type = BigInt)]
    pub under_age: i64,
    #[diesel(sql_type = BigInt)]
    pub not_asked: i64,
    #[diesel(sql_type = BigInt)]
    pub not_recorded: i64,
    #[diesel(sql_type = BigInt)]
    pub screened_outside_indications: i64,
    #[diesel(sql_type = BigInt)]
    pub positive: i64,
    #[diesel(sql_type = BigInt)]
    pub advice_given: i64,
    #[diesel(sql_type = BigInt)]
    pub leaflet_given: i64,
    #[diesel(sql_type = BigInt)]
    pub offered: i64,
    #[diesel(sql_type = BigInt)]
    pub accepted: i64,
    #[diesel(sql_type = BigInt)]
    pub declined: i64,
    #[diesel(sql_type = BigInt)]
    pub seen_in_department: i64,
    #[diesel(sql_type = BigInt)]
    pub booked: i64,
    #[diesel(sql_type = BigInt)]
    pub booked_within_24h: i64,
    #[diesel(sql_type = BigInt)]
    pub no_slot_in_window: i64,
    #[diesel(sql_type = BigInt)]
    pub attended: i64,
    #[diesel(sql_type = BigInt)]
    pub did_not_attend: i64,
    #[diesel(sql_type = BigInt)]
    pub cancelled: i64,
    #[diesel(sql_type = BigInt)]
    pub attended_same_day: i64,
    #[diesel(sql_type = BigInt)]
    pub attended_next_day: i64,
    #[diesel(sql_type = BigInt)]
    pub attended_later: i64,
    #[diesel(sql_type = BigInt)]
    pub did_not_attend_same_day: i64,
    #[diesel(sql_type = BigInt)]
    pub did_not_attend_next_day: i64,
    #[diesel(sql_type = BigInt)]
    pub did_not_attend_later: i64,
    /// Attendances with an indication whose patient was under `PAT_MIN_AGE` (not eligible).
    #[diesel(sql_type = BigInt)]
    pub not_indicated_under_age: i64,
    /// Eligible attendances without a date of birth: their age could not be checked.
    #[diesel(sql_type = BigInt)]
    pub age_unknown: i64,
}

/// A row of a grouped report (the funnel, the referral trend), one per group key `gkey`. The
/// query returns a row only for a group with something to count; a group without one counted
/// nothing, so its row is built as all zeros.
pub trait GroupRow: Clone {
    fn gkey(&self) -> &str;

    /// The row of a group for which the query returns none: every count a real zero, keyed
    /// `gkey`.
    fn empty(gkey: &str) -> Self;

    /// The row of group `key` among a query's `rows`, or its row of zeros when there is none.
    fn of_group(rows: &[Self], key: &str) -> Self {
        rows.iter()
            .find(|r| r.gkey() == key)
            .cloned()
            .unwrap_or_else(|| Self::empty(key))
    }
}

impl GroupRow for FunnelRow {
    fn gkey(&self) -> &str {
        &self.gkey
    }

    /// A group without attendances: every count is the derived default of each count.
    fn empty(gkey: &str) -> FunnelRow {
        FunnelRow {
            gkey: gkey.to_owned(),
            ..FunnelRow::default()
        }
    }
}

/// `c`: each attendance in scope with what happened to it, its referral's booking summary
/// (kept by triggers from the bookings and unmet booking attempts) joined on.
fn funnel_rows() -> &'static str {
    "c AS (
         SELECT att.gkey, att.eligible, att.under_age, att.age_unknown, att.status, att.result, att.advice_given, att.leaflet_given, att.decision,
                CASE WHEN bs.booked THEN 1 ELSE 0 END AS booked,
                CASE WHEN bs.all_cancelled THEN 1 ELSE 0 END AS all_cancelled,
                CASE WHEN bs.first_within_window THEN 1 ELSE 0 END AS first_within,
                bs.latest_status AS last_status, bs.latest_lead_time AS last_lead,
                CASE WHEN bs.attempted THEN 1 ELSE 0 END AS attempted
         FROM att
         LEFT JOIN booking_summaries bs ON bs.attendance_id = att.id)"
}

/// Sums of a condition as a count (portable: no `FILTER`, no boolean arithmetic).
fn count_if(condition: &str, alias: &str) -> String {
    format!("COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS {alias}")
}

/// The funnel of docs/domain.md §7, one row per group that has any attendance.
///
/// One pass over the attendances in scope, each carrying its current screening and referral
/// decision, with its referral's booking summary joined on.
#[tracing::instrument(skip_all, fields(
    report = "funnel",
    periods = scope.periods.len(),
    site_filter = scope.site.is_some(),
    by_condition = scope.by_condition,
    rows = tracing::field::Empty,
))]
pub(super) fn funnel(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<FunnelRow>> {
    let Some(span) = scope.span() else {
        return Ok(Vec::new());
    };
    let dialect = Dialect::of(conn);
    let positive = "c.eligible = 1 AND c.result = 'positive'";
    let accepted = format!("{positive} AND c.decision = 'accepted'");
    let mut of_screening = vec![
        "count(*) AS attendances".to_owned(),
        count_if("c.eligible = 1", "eligible"),
        count_if("c.eligible = 1 AND c.status = 'completed'", "screened"),
    ];
    for reason in [
        "refused",
        "intoxicated",
        "lacks_capacity",
        "too_unwell",
        "under_age",
        "not_asked",
    ] {
        of_screening.push(count_if(&format!("c.eligible = 1 AND c.status = '{reason}'"), reason));
    }
    of_screening.extend([
        count_if("c.eligible = 1 AND c.status IS NULL", "not_recorded"),
        count_if(
            "c.eligible = 0 AND c.status = 'completed'",
            "screened_outside_indications",
        ),
        count_if(positive, "positive"),
        count_if(&format!("{positive} AND c.advice_given"), "advice_given"),
        count_if(&format!("{positive} AND c.leaflet_given"), "leaflet_given"),
        count_if("c.under_age = 1", "not_indicated_under_age"),
        count_if("c.eligible = 1 AND c.age_unknown = 1", "age_unknown"),
    ]);
    let mut of_referral = vec![
        (format!("{positive} AND c.decision IS NOT NULL"), "offered".to_owned()),
        (accepted.clone(), "accepted".to_owned()),
        (format!("{positive} AND c.decision = 'declined'"), "declined".to_owned()),
        (
            format!("{positive} AND c.decision = 'seen_in_department'"),
            "seen_in_department".to_owned(),
        ),
        (format!("{accepted} AND c.booked = 1"), "booked".to_owned()),
        (
            format!("{accepted} AND c.first_within = 1"),
            "booked_within_24h".to_owned(),
        ),
        (
            format!("{accepted} AND c.attempted = 1"),
            "no_slot_in_window".to_owned(),
        ),
        (
            format!("{accepted} AND c.last_status = 'attended'"),
            "attended".to_owned(),
        ),
        (
            format!("{accepted} AND c.last_status = 'did_not_attend'"),
            "did_not_attend".to_owned(),
        ),
        (
            format!("{accepted} AND c.booked = 1 AND c.all_cancelled = 1"),
            "cancelled".to_owned(),
        ),
    ];
    for status in ["attended", "did_not_attend"] {
        for lead in ["same_day", "next_day", "later"] {
            of_referral.push((
                format!("{accepted} AND c.last_status = '{status}' AND c.last_lead = '{lead}'"),
                format!("{status}_{lead}"),
            ));
        }
    }
    let sums: Vec<String> = of_screening
        .into_iter()
        .chain(of_referral.iter().map(|(condition, alias)| count_if(condition, alias)))
        .collect();
    let sql = format!(
        "WITH {scoped},
         {rows}
         SELECT c.gkey, {sums}
         FROM c GROUP BY c.gkey",
        scoped = scoped_attendances(dialect, scope, span),
        rows = funnel_rows(),
        sums = sums.join(",\n "),
    );
    run(conn, &sql, scope.site.as_deref())
}

/// Referral decisions per period: eligible attendances whose current screening is positive.
#[derive(QueryableByName, Clone, Debug, PartialEq, Eq)]
pub struct ReferralRow {
    #[diesel(sql_type = Text)]
    pub gkey: String,
    #[diesel(sql_type = BigInt)]
    pub accepted: i64,
    #[diesel(sql_type = BigInt)]
    pub seen_in_department: i64,
}

impl GroupRow for ReferralRow {
    fn gkey(&self) -> &str {
        &self.gkey
    }

    /// A period without positive eligible attendances: no referral accepted or seen in the
    /// department.
    fn empty(gkey: &str) -> ReferralRow {
        ReferralRow {
            gkey: gkey.to_owned(),
            accepted: 0,
            seen_in_department: 0,
        }
    }
}

/// Accepted (and seen-in-department) referrals per period, starting from the referrals table
/// (small) rather than every attendance.
#[tracing::instrument(skip_all, fields(
    report = "referrals",
    periods = scope.periods.len(),
    site_filter = scope.site.is_some(),
    rows = tracing::field::Empty,
))]
pub(super) fn referrals(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<ReferralRow>> {
    let Some((start, end)) = scope.span() else {
        return Ok(Vec::new());
    };
    let dialect = Dialect::of(conn);
    let site = site_filter(dialect, scope);
    let sql = format!(
        "WITH {periods}
         SELECT p.pkey AS gkey,
                {accepted},
                {seen}
         FROM referrals r
         {first} JOIN attendances a ON a.id = r.attendance_id
         JOIN periods p ON a.arrived_at >= p.pstart AND a.arrived_at < p.pend
         WHERE a.arrived_at >= {start} AND a.arrived_at < {end} AND a.pat_indicated
           AND a.screening_result = 'positive' AND a.entered_in_error_at IS NULL{site}
         GROUP BY p.pkey",
        periods = periods_cte(dialect, &scope.periods),
        // SQLite takes a CROSS JOIN's tables in the order written: read the decisions first.
        first = match dialect {
            Dialect::Postgres => "",
            Dialect::Sqlite => "CROSS",
        },
        accepted = count_if("r.decision = 'accepted'", "accepted"),
        seen = count_if("r.decision = 'seen_in_department'", "seen_in_department"),
        start = dialect.instant(start),
        end = dialect.instant(end),
    );
    run(conn, &sql, scope.site.as_deref())
}

/// The outcomes of the AHW contacts of one period (a financial year): what the contacts were,
/// the follow-ups due and made, and the units a week of the pairs (contact and follow-up both
/// recorded), per follow-up in the order of `FOLLOW_UP_MONTHS` (6, then 12).
#[derive(QueryableByName, Clone, Debug, Default, PartialEq)]
pub struct OutcomeRow {
    #[diesel(sql_type = Text)]
    pub gkey: String,
    #[diesel(sql_type = BigInt)]
    pub contacts: i64,
    #[diesel(sql_type = BigInt)]
    pub attended_appointment: i64,
    #[diesel(sql_type = BigInt)]
    pub seen_in_department: i64,
    #[diesel(sql_type = BigInt)]
    pub brief_interventions_delivered: i64,
    #[diesel(sql_type = BigInt)]
    pub due_6: i64,
    #[diesel(sql_type = BigInt)]
    pub made_6: i64,
    #[diesel(sql_type = BigInt)]
    pub paired_6: i64,
    #[diesel(sql_type = Nullable<Double>)]
    pub at_contact_6: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub at_follow_up_6: Option<f64>,
    #[diesel(sql_type = BigInt)]
    pub due_12: i64,
    #[diesel(sql_type = BigInt)]
    pub made_12: i64,
    #[diesel(sql_type = BigInt)]
    pub paired_12: i64,
    #[diesel(sql_type = Nullable<Double>)]
    pub at_contact_12: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub at_follow_up_12: Option<f64>,
}

impl GroupRow for OutcomeRow {
    fn gkey(&self) -> &str {
        &self.gkey
    }

    /// A period without AHW contacts: nothing counted, no mean.
    fn empty(gkey: &str) -> OutcomeRow {
        OutcomeRow {
            gkey: gkey.to_owned(),
            ..OutcomeRow::default()
        }
    }
}

/// The outcomes report: the AHW contacts ([`AHW_CONTACTS`]) in each period of the scope, by the
/// contact's time (at `site`, the attendance's, if given; never of an attendance entered in
/// error), with their follow-ups. A follow-up at
/// `m` months is due when its due date (`domain::scheduling::follow_up_due_date`) is on or before
/// the Europe/London date `as_of`; made when it is due and recorded; paired when made and the
/// contact's units a week are recorded too. The means are over the pairs, computed here (`AVG`
/// of the stored doubles, the same on both backends).
#[tracing::instrument(skip_all, fields(
    report = "outcomes",
    periods = scope.periods.len(),
    site_filter = scope.site.is_some(),
    rows = tracing::field::Empty,
))]
pub(super) fn outcomes(
    conn: &mut DbConnection,
    scope: &Scope,
    as_of: chrono::NaiveDate,
) -> QueryResult<Vec<OutcomeRow>> {
    let Some((start, end)) = scope.span() else {
        return Ok(Vec::new());
    };
    let dialect = Dialect::of(conn);
    let mut sums = vec![
        "count(*) AS contacts".to_owned(),
        count_if("c.contact = 'attended_appointment'", "attended_appointment"),
        count_if("c.contact = 'seen_in_department'", "seen_in_department"),
        count_if("c.brief_intervention_delivered", "brief_interventions_delivered"),
    ];
    let mut joins = String::new();
    for months in FOLLOW_UP_MONTHS {
        let due = format!("c.contact_at < {}", dialect.instant(follow_ups_due_by(as_of, months)));
        let made = format!("{due} AND f{months}.id IS NOT NULL");
        let paired = format!("{made} AND c.units_per_week IS NOT NULL");
        sums.extend([
            count_if(&due, &format!("due_{months}")),
            count_if(&made, &format!("made_{months}")),
            count_if(&paired, &format!("paired_{months}")),
            format!("AVG(CASE WHEN {paired} THEN c.units_per_week END) AS at_contact_{months}"),
            format!("AVG(CASE WHEN {paired} THEN f{months}.units_per_week END) AS at_follow_up_{months}"),
        ]);
        joins.push_str(&format!(
            " LEFT JOIN follow_ups f{months} ON f{months}.attendance_id = c.attendance_id AND f{months}.months = {months}"
        ));
    }
    let sql = format!(
        "WITH {periods}, {AHW_CONTACTS}
         SELECT p.pkey AS gkey, {sums}
         FROM ahw_contacts c
         JOIN attendances a ON a.id = c.attendance_id
         JOIN periods p ON c.contact_at >= p.pstart AND c.contact_at < p.pend{joins}
         WHERE c.contact_at >= {start} AND c.contact_at < {end} AND a.entered_in_error_at IS NULL{site}
         GROUP BY p.pkey",
        periods = periods_cte(dialect, &scope.periods),
        sums = sums.join(",\n "),
        start = dialect.instant(start),
        end = dialect.instant(end),
        site = site_filter(dialect, scope),
    );
    run(conn, &sql, scope.site.as_deref())
}

/// The earliest arrival on record, if any.
#[tracing::instrument(skip_all, fields(report = "referrals"))]
pub(super) fn earliest_arrival(conn: &mut DbConnection) -> QueryResult<Option<crate::db::types::DbTime>> {
    use crate::db::schema::attendances;
    use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
    attendances::table
        .filter(attendances::entered_in_error_at.is_null())
        .select(attendances::arrived_at)
        .order(attendances::arrived_at)
        .first(conn)
        .optional()
}

/// The 12-month cohorts: one row per (cohort, window complete) with patients and their
/// reattendances. `cohort` is `accepted` (incl. seen in department), `declined` or `none`.
#[derive(QueryableByName, Clone, Debug, PartialEq, Eq)]
pub struct CohortRow {
    #[diesel(sql_type = Text)]
    pub cohort: String,
    #[diesel(sql_type = BigInt)]
    pub complete: i64,
    #[diesel(sql_type = BigInt)]
    pub patients: i64,
    #[diesel(sql_type = BigInt)]
    pub reattendances: i64,
}

/// docs/domain.md §7 12-month reattendance: each patient's first positive PAT attendance in scope is
/// the index; the patient's attendances anywhere in `(index, index + 365 days]`, except those
/// entered in error, are counted
/// through the (patient_key, arrived_at) index, for the index attendances only, and summed per
/// cohort, apart for windows not yet ended at `now`.
#[tracing::instrument(skip_all, fields(
    report = "reattendance",
    periods = scope.periods.len(),
    site_filter = scope.site.is_some(),
    measure = "twelve_month",
    rows = tracing::field::Empty,
))]
pub(super) fn twelve_month(conn: &mut DbConnection, scope: &Scope, now: DateTime<Utc>) -> QueryResult<Vec<CohortRow>> {
    let Some(span) = scope.span() else {
        return Ok(Vec::new());
    };
    let dialect = Dialect::of(conn);
    let window_end = dialect.plus_days("i.arrived_at", TWELVE_MONTH_DAYS);
    let sql = format!(
        "WITH {scoped},
         positives AS (
             SELECT att.patient_key, att.arrived_at, att.decision,
                    row_number() OVER (PARTITION BY att.patient_key ORDER BY att.arrived_at, att.id) AS n
             FROM att
             WHERE att.eligible = 1 AND att.result = 'positive'),
         indexed AS (
             SELECT i.patient_key, i.arrived_at, {window_end} AS window_end,
                    CASE WHEN i.decision IN ('accepted', 'seen_in_department') THEN 'accepted'
                         WHEN i.decision = 'declined' THEN 'declined'
                         ELSE 'none' END AS cohort
             FROM positives i WHERE i.n = 1)
         SELECT x.cohort,
                CAST(CASE WHEN x.window_end <= {now} THEN 1 ELSE 0 END AS bigint) AS complete,
                count(*) AS patients,
                CAST(COALESCE(SUM((SELECT count(*) FROM attendances b
                                   WHERE b.patient_key = x.patient_key
                                     AND b.arrived_at > x.arrived_at AND b.arrived_at <= x.window_end
                                     AND b.entered_in_error_at IS NULL)), 0)
                     AS bigint) AS reattendances
         FROM indexed x
         GROUP BY x.cohort, CASE WHEN x.window_end <= {now} THEN 1 ELSE 0 END",
        scoped = scoped_attendances(dialect, scope, span),
        now = dialect.instant(now),
    );
    run(conn, &sql, scope.site.as_deref())
}

/// The 7-day unplanned reattendance counts.
#[derive(QueryableByName, Clone, Debug, PartialEq, Eq)]
pub struct SevenDayRow {
    #[diesel(sql_type = BigInt)]
    pub attendances: i64,
    #[diesel(sql_type = BigInt)]
    pub reattended: i64,
}

/// docs/domain.md §7 7-day unplanned reattendance: attendances in scope whose stored fact says another,
/// unplanned, attendance of the same patient (any site, possibly after the period) arrived in
/// `(arrival, arrival + 7 days]`.
#[tracing::instrument(skip_all, fields(
    report = "reattendance",
    periods = scope.periods.len(),
    site_filter = scope.site.is_some(),
    measure = "seven_day",
    rows = tracing::field::Empty,
))]
pub(super) fn seven_day(conn: &mut DbConnection, scope: &Scope) -> QueryResult<SevenDayRow> {
    let Some(span) = scope.span() else {
        // No period: no attendance in scope, so none reattended.
        return Ok(SevenDayRow {
            attendances: 0,
            reattended: 0,
        });
    };
    let dialect = Dialect::of(conn);
    let sql = format!(
        "WITH {scoped}
         SELECT count(*) AS attendances, {reattended}
         FROM att",
        scoped = scoped_attendances(dialect, scope, span),
        reattended = count_if("att.unplanned_within_7d = 1", "reattended"),
    );
    let rows: Vec<SevenDayRow> = run(conn, &sql, scope.site.as_deref())?;
    // An aggregate without GROUP BY answers exactly one row, zeros included: a missing row is a
    // failure to report, not a period without attendances.
    rows.into_iter()
        .next()
        .ok_or_else(|| diesel::result::Error::DeserializationError("the 7-day count returned no row".into()))
}

/// Runs `sql` on whichever backend, binding the site when the query names it, and records the
/// number of rows on the current span (the report function's, which declares `rows`).
fn run<T>(conn: &mut DbConnection, sql: &str, site: Option<&str>) -> QueryResult<Vec<T>>
where
    T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    // The SQL holds no patient data (the site is a bound parameter): safe to log for tuning.
    tracing::debug!(sql, "statistics query");
    let rows = match conn {
        DbConnection::Pg(pg) => {
            let query = diesel::sql_query(sql).into_boxed();
            match site {
                Some(site) => query.bind::<Nullable<Text>, _>(site).load(pg),
                None => query.load(pg),
            }
        }
        DbConnection::Sqlite(lite) => {
            let query = diesel::sql_query(sql).into_boxed();
            match site {
                Some(site) => query.bind::<Nullable<Text>, _>(site).load(lite),
                None => query.load(lite),
            }
        }
    }?;
    tracing::Span::current().record("rows", rows.len());
    Ok(rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::calendar::test_support::date;

    fn scope(periods: Vec<PeriodBounds>) -> Scope {
        Scope {
            periods,
            site: None,
            by_condition: false,
        }
    }

    #[test]
    fn a_scope_without_periods_covers_no_range() {
        assert_eq!(scope(vec![]).span(), None);
    }

    #[test]
    fn a_scope_spans_its_earliest_start_to_its_latest_end() {
        let months = crate::domain::financial_year::months(date("2025-03-15"), date("2025-05-10"));
        let bounds: Vec<PeriodBounds> = months.iter().rev().map(PeriodBounds::from).collect();
        let (start, end) = scope(bounds).span().unwrap();
        // 15 March is GMT; 10 May is BST, so its midnight is 23:00 UTC the day before.
        assert_eq!(start.to_rfc3339(), "2025-03-15T00:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2025-05-09T23:00:00+00:00");
    }

    #[test]
    fn a_missing_group_is_a_row_of_zeros() {
        let row = FunnelRow::empty("2025-04");
        assert_eq!(row.gkey, "2025-04");
        let counts = [
            row.attendances,
            row.eligible,
            row.positive,
            row.accepted,
            row.did_not_attend_later,
        ];
        assert_eq!(counts, [0; 5]);
        let referrals = ReferralRow::empty("2024/25");
        assert_eq!((referrals.accepted, referrals.seen_in_department), (0, 0));
    }

    /// A `MakeWriter` that keeps what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_query_runs_in_a_span_with_its_report_and_row_count_but_not_the_site() {
        let mut conn = crate::db::Manager::new("sqlite://:memory:")
            .unwrap()
            .establish()
            .unwrap();
        crate::db::migrate(&mut conn).unwrap();
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .finish();
        let months = crate::domain::financial_year::months(date("2025-01-01"), date("2025-04-01"));
        let scope = Scope {
            periods: months.iter().map(PeriodBounds::from).collect(),
            site: Some("St Mary's".into()),
            by_condition: false,
        };

        let rows = tracing::subscriber::with_default(subscriber, || funnel(&mut conn, &scope)).unwrap();

        assert!(rows.is_empty(), "no attendance recorded");
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        for field in [
            "report=\"funnel\"",
            "periods=3",
            "site_filter=true",
            "by_condition=false",
            "rows=0",
        ] {
            assert!(log.contains(field), "{field}: {log}");
        }
        assert!(!log.contains("St Mary"), "the site is not logged: {log}");
    }
}
