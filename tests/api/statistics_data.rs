//! Builders and checkers for the statistics tests (`statistics.rs`): patients, attendances,
//! screenings, decisions and bookings made through the API, the datasets the tests share (each
//! described by a table so its figures can be worked out by hand), and checkers that compare an
//! answer with hand-worked figures, apply the NHS disclosure rules of DOMAIN.md §8 independently
//! of the service, and read CSV.
//!
//! Nothing here computes an expected figure from the service's own output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{json, Map, Value};

use crate::helpers::TestApp;
use crate::scheduling_helpers::{
    assert_kind, book, booked, cancel, decide, health_worker, id_of, json_with, london_today, next_summer_day, now,
    outcome, rfc, set_clock, slot_at, BOOKINGS,
};

pub const FUNNEL: &str = "/api/v1/statistics/funnel";
pub const REATTENDANCE: &str = "/api/v1/statistics/reattendance";
pub const REFERRALS: &str = "/api/v1/statistics/referrals";

/// The eleven condition codes of DOMAIN.md §2, in form order.
pub const CONDITIONS: [&str; 11] = [
    "fall",
    "collapse",
    "head_injury",
    "assault",
    "accident",
    "unwell",
    "gastrointestinal",
    "cardiac",
    "psychiatric",
    "repeat_attender",
    "other",
];

// ---------------------------------------------------------------------------------------------
// Time

/// `day` at `h:m` UTC.
pub fn utc(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(h, m, 0).unwrap())
}

/// An RFC 3339 instant written by hand.
pub fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

pub fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// Moves the service's clock from `from` (where this test set it, plus the seconds the test has
/// taken since) to `to`. `set_clock` only works once per test: it adds the distance from the real
/// time to the clock's existing offset.
pub fn move_clock(app: &TestApp, from: DateTime<Utc>, to: DateTime<Utc>) {
    assert!(to > from, "the clock only moves forward");
    app.advance_clock(to - from);
}

// ---------------------------------------------------------------------------------------------
// Patients

/// A valid NHS number (DOMAIN.md §9) made from `seed`: nine digits `4SSSSSSSJ`, the first `J`
/// whose modulus-11 check digit is not 10, then the check digit. Different seeds never collide.
pub fn nhs_number(seed: u32) -> String {
    for j in 0..10u32 {
        let nine = 400_000_000 + seed * 10 + j;
        let digits: Vec<u32> = nine.to_string().chars().map(|c| c.to_digit(10).unwrap()).collect();
        let sum: u32 = digits.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
        let check = match 11 - sum % 11 {
            11 => 0,
            c => c,
        };
        if check != 10 {
            return format!("{nine}{check}");
        }
    }
    unreachable!("one of ten consecutive bases has a valid check digit")
}

/// A patient as the EPR sends them: an NHS number, a local hospital number, or both. Men, so
/// pat-2009 uses the 8-unit threshold (12 units positive, 4 negative).
#[derive(Clone, Debug)]
pub struct Patient {
    pub nhs_number: Option<String>,
    pub local_id: Option<String>,
}

impl Patient {
    pub fn nhs(seed: u32) -> Patient {
        Patient {
            nhs_number: Some(nhs_number(seed)),
            local_id: None,
        }
    }

    /// No NHS number: the local hospital number identifies the patient.
    pub fn local(local_id: &str) -> Patient {
        Patient {
            nhs_number: None,
            local_id: Some(local_id.to_owned()),
        }
    }

    pub fn both(seed: u32, local_id: &str) -> Patient {
        Patient {
            nhs_number: Some(nhs_number(seed)),
            local_id: Some(local_id.to_owned()),
        }
    }

    pub fn json(&self) -> Value {
        let mut p = json!({ "sex": "male" });
        if let Some(n) = &self.nhs_number {
            p["nhs_number"] = json!(n);
        }
        if let Some(l) = &self.local_id {
            p["local_id"] = json!(l);
        }
        p
    }

    /// The identifiers that must never appear in a statistics answer.
    pub fn identifiers(&self) -> Vec<String> {
        self.nhs_number.iter().chain(self.local_id.iter()).cloned().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Attendances, screenings, decisions, bookings

async fn attend_as(
    app: &TestApp,
    patient: &Patient,
    condition: &str,
    site: Option<&str>,
    arrived_at: DateTime<Utc>,
    category: &str,
) -> Value {
    let mut body = json!({
        "source_system": "stats-test",
        "source_id": format!("stats-{}", uuid::Uuid::new_v4().simple()),
        "patient": patient.json(),
        "arrived_at": rfc(arrived_at),
        "presenting_condition": condition,
        "attendance_category": category,
    });
    if let Some(site) = site {
        body["site"] = json!(site);
    }
    app.create_attendance(&body).await
}

/// An unplanned attendance; answers the stored attendance (with `indications`).
pub async fn attend(
    app: &TestApp,
    patient: &Patient,
    condition: &str,
    site: Option<&str>,
    arrived_at: DateTime<Utc>,
) -> Value {
    attend_as(app, patient, condition, site, arrived_at, "unplanned").await
}

/// An unplanned attendance; answers its id.
pub async fn visit(
    app: &TestApp,
    patient: &Patient,
    condition: &str,
    site: Option<&str>,
    arrived_at: DateTime<Utc>,
) -> String {
    id_of(&attend(app, patient, condition, site, arrived_at).await)
}

/// A planned (booked) return; answers its id.
pub async fn planned_visit(
    app: &TestApp,
    patient: &Patient,
    condition: &str,
    site: Option<&str>,
    arrived_at: DateTime<Utc>,
) -> String {
    id_of(&attend_as(app, patient, condition, site, arrived_at, "planned").await)
}

/// pat-2009, a man: 12 units in a day is more than 8 → positive (DOMAIN.md §4).
pub fn positive_answers() -> Value {
    json!({
        "drinks_alcohol": true,
        "max_units_in_a_day": 12,
        "drinking_frequency": "less_than_weekly",
        "attendance_related": false,
    })
}

/// pat-2009, a man: 4 units, less than weekly, not related → negative (DOMAIN.md §4).
pub fn negative_answers() -> Value {
    json!({
        "drinks_alcohol": true,
        "max_units_in_a_day": 4,
        "drinking_frequency": "less_than_weekly",
        "attendance_related": false,
    })
}

async fn put_screening(app: &TestApp, id: &str, body: &Value, status: u16) -> Value {
    let resp = app.record_screening(id, body).await;
    json_with(resp, status, "recording a screening").await
}

/// A completed pat-2009 screening with the positive answers and these flags; asserts positive.
pub async fn screen_positive(app: &TestApp, id: &str, at: DateTime<Utc>, advice: bool, leaflet: bool) {
    let body = json!({
        "status": "completed", "rule": "pat-2009", "screened_at": rfc(at), "answers": positive_answers(),
        "advice_given": advice, "leaflet_given": leaflet,
    });
    let s = put_screening(app, id, &body, 201).await;
    assert_eq!(s["result"], "positive", "arranging a positive screening: {s}");
}

/// A completed pat-2009 screening with the negative answers; asserts negative.
pub async fn screen_negative(app: &TestApp, id: &str, at: DateTime<Utc>) {
    let body = json!({
        "status": "completed", "rule": "pat-2009", "screened_at": rfc(at), "answers": negative_answers(),
    });
    let s = put_screening(app, id, &body, 201).await;
    assert_eq!(s["result"], "negative", "arranging a negative screening: {s}");
}

/// A screening that did not happen, with its reason (DOMAIN.md §5).
pub async fn screen_not_done(app: &TestApp, id: &str, reason: &str, at: DateTime<Utc>) {
    let body = json!({ "status": reason, "screened_at": rfc(at) });
    put_screening(app, id, &body, 201).await;
}

/// A correction to a completed negative screening (the current version from then on).
pub async fn correct_to_negative(app: &TestApp, id: &str, at: DateTime<Utc>) {
    let body = json!({
        "status": "completed", "rule": "pat-2009", "screened_at": rfc(at), "answers": negative_answers(),
    });
    let s = put_screening(app, id, &body, 200).await;
    assert_eq!(s["version"], 2, "a correction is version 2: {s}");
    assert_eq!(s["result"], "negative");
}

/// An unplanned attendance screened positive 30 minutes after arrival (advice and leaflet given),
/// with a referral decision if given (decided at the service's now); answers its id.
pub async fn positive_visit(
    app: &TestApp,
    patient: &Patient,
    condition: &str,
    site: Option<&str>,
    arrived_at: DateTime<Utc>,
    decision: Option<&str>,
) -> String {
    let id = visit(app, patient, condition, site, arrived_at).await;
    screen_positive(app, &id, arrived_at + Duration::minutes(30), true, true).await;
    if let Some(decision) = decision {
        decide(app, &id, decision).await;
    }
    id
}

/// Books a slot outside the 24-hour window with a reason; answers the booking.
pub async fn booked_outside_window(app: &TestApp, attendance: &str, slot: &str, reason: &str) -> Value {
    let resp = app
        .post_json(
            BOOKINGS,
            "clinician",
            &json!({ "attendance_id": attendance, "slot_id": slot, "outside_window_reason": reason }),
        )
        .await;
    let b = json_with(resp, 201, "booking outside the window with a reason").await;
    assert_eq!(b["within_window"], false, "{b}");
    b
}

/// An automatic booking (no slot_id) that finds no free slot in the window: 409.
pub async fn no_slot_found(app: &TestApp, attendance: &str) {
    assert_kind(
        book(app, attendance, None).await,
        409,
        "no-slot-in-window",
        "an automatic booking with no free slot in the window",
    )
    .await;
}

pub async fn record_outcome(app: &TestApp, booking: &str, status: &str) {
    let body = match status {
        "attended" => json!({ "status": "attended", "brief_intervention_delivered": true, "units_per_week": 30 }),
        other => json!({ "status": other }),
    };
    let b = json_with(outcome(app, booking, &body).await, 200, "recording an outcome").await;
    assert_eq!(b["status"], status);
}

// ---------------------------------------------------------------------------------------------
// Asking for statistics

async fn get_as(app: &TestApp, path: &str, role: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(app.token(role))
        .header("Accept", accept)
        .send()
        .await
        .unwrap()
}

/// GETs a statistics answer as an auditor; asserts 200 and JSON.
pub async fn stats(app: &TestApp, path: &str) -> Value {
    stats_as(app, path, "auditor").await
}

pub async fn stats_as(app: &TestApp, path: &str, role: &str) -> Value {
    let resp = get_as(app, path, role, "application/json").await;
    let content_type = content_type(&resp);
    let body = json_with(resp, 200, &format!("GET {path} as {role}")).await;
    assert!(
        content_type.starts_with("application/json"),
        "GET {path}: JSON by default, got {content_type:?}"
    );
    body
}

/// GETs a statistics answer with `Accept: text/csv`; asserts 200 and `text/csv`; answers the text.
pub async fn stats_csv(app: &TestApp, path: &str) -> String {
    let resp = get_as(app, path, "auditor", "text/csv").await;
    let status = resp.status().as_u16();
    let content_type = content_type(&resp);
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "GET {path} as CSV: {text}");
    assert!(
        content_type.starts_with("text/csv"),
        "GET {path} with Accept: text/csv answers text/csv, got {content_type:?}"
    );
    text
}

pub fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// The group with this key; panics with the keys present when there is none.
pub fn group<'a>(answer: &'a Value, key: &str) -> &'a Value {
    let groups = answer["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("{{groups: [...]}}: {answer}"));
    groups.iter().find(|g| g["key"] == key).unwrap_or_else(|| {
        let keys: Vec<&Value> = groups.iter().map(|g| &g["key"]).collect();
        panic!("no group {key:?}; keys {keys:?}")
    })
}

pub fn keys(answer: &Value) -> Vec<String> {
    answer["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("{{groups: [...]}}: {answer}"))
        .iter()
        .map(|g| g["key"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The value at a dotted path (`counts.not_screened.refused`).
pub fn at_path<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |v, part| &v[part])
}

pub fn suppressed(value: &Value) -> BTreeSet<String> {
    value["suppressed"]
        .as_array()
        .unwrap_or_else(|| panic!("`suppressed` is a list: {value}"))
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Expected figures

/// One funnel group's counts, worked out by hand (DOMAIN.md §7).
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub attendances: i64,
    pub eligible: i64,
    pub screened: i64,
    pub refused: i64,
    pub intoxicated: i64,
    pub lacks_capacity: i64,
    pub too_unwell: i64,
    pub under_age: i64,
    pub not_asked: i64,
    pub not_recorded: i64,
    pub screened_outside_indications: i64,
    pub positive: i64,
    pub advice_given: i64,
    pub leaflet_given: i64,
    pub offered: i64,
    pub accepted: i64,
    pub declined: i64,
    pub seen_in_department: i64,
    pub booked: i64,
    pub booked_within_24h: i64,
    pub no_slot_in_window: i64,
    pub attended: i64,
    pub did_not_attend: i64,
    pub cancelled: i64,
    pub attended_same_day: i64,
    pub attended_next_day: i64,
    pub attended_later: i64,
    pub did_not_attend_same_day: i64,
    pub did_not_attend_next_day: i64,
    pub did_not_attend_later: i64,
}

impl Counts {
    /// Every count with its path in the answer.
    pub fn paths(&self) -> Vec<(&'static str, i64)> {
        vec![
            ("counts.attendances", self.attendances),
            ("counts.eligible", self.eligible),
            ("counts.screened", self.screened),
            ("counts.not_screened.refused", self.refused),
            ("counts.not_screened.intoxicated", self.intoxicated),
            ("counts.not_screened.lacks_capacity", self.lacks_capacity),
            ("counts.not_screened.too_unwell", self.too_unwell),
            ("counts.not_screened.under_age", self.under_age),
            ("counts.not_screened.not_asked", self.not_asked),
            ("counts.not_screened.not_recorded", self.not_recorded),
            ("counts.screened_outside_indications", self.screened_outside_indications),
            ("counts.positive", self.positive),
            ("counts.advice_given", self.advice_given),
            ("counts.leaflet_given", self.leaflet_given),
            ("counts.offered", self.offered),
            ("counts.accepted", self.accepted),
            ("counts.declined", self.declined),
            ("counts.seen_in_department", self.seen_in_department),
            ("counts.booked", self.booked),
            ("counts.booked_within_24h", self.booked_within_24h),
            ("counts.no_slot_in_window", self.no_slot_in_window),
            ("counts.attended", self.attended),
            ("counts.did_not_attend", self.did_not_attend),
            ("counts.cancelled", self.cancelled),
            ("counts.attended_by_lead_time.same_day", self.attended_same_day),
            ("counts.attended_by_lead_time.next_day", self.attended_next_day),
            ("counts.attended_by_lead_time.later", self.attended_later),
            (
                "counts.did_not_attend_by_lead_time.same_day",
                self.did_not_attend_same_day,
            ),
            (
                "counts.did_not_attend_by_lead_time.next_day",
                self.did_not_attend_next_day,
            ),
            ("counts.did_not_attend_by_lead_time.later", self.did_not_attend_later),
        ]
    }

    /// The group's internal sums hold (a check on the hand working itself).
    pub fn check_sums(&self, why: &str) {
        let not_screened = self.refused
            + self.intoxicated
            + self.lacks_capacity
            + self.too_unwell
            + self.under_age
            + self.not_asked
            + self.not_recorded;
        assert_eq!(
            self.eligible,
            self.screened + not_screened,
            "{why}: hand working, eligible"
        );
        assert_eq!(
            self.offered,
            self.accepted + self.declined + self.seen_in_department,
            "{why}: hand working, offered"
        );
        assert_eq!(
            self.attended,
            self.attended_same_day + self.attended_next_day + self.attended_later,
            "{why}: hand working, attended"
        );
        assert_eq!(
            self.did_not_attend,
            self.did_not_attend_same_day + self.did_not_attend_next_day + self.did_not_attend_later,
            "{why}: hand working, did not attend"
        );
    }
}

/// One funnel group's rates, worked out by hand; `None` for a zero denominator.
#[derive(Clone, Debug, Default)]
pub struct Rates {
    pub screening: Option<f64>,
    pub positive: Option<f64>,
    pub acceptance: Option<f64>,
    pub ahw_attendance: Option<f64>,
    pub same_day: Option<f64>,
    pub next_day: Option<f64>,
    pub later: Option<f64>,
}

impl Rates {
    pub fn paths(&self) -> Vec<(&'static str, Option<f64>)> {
        vec![
            ("rates.screening", self.screening),
            ("rates.positive", self.positive),
            ("rates.acceptance", self.acceptance),
            ("rates.ahw_attendance", self.ahw_attendance),
            ("rates.ahw_attendance_by_lead_time.same_day", self.same_day),
            ("rates.ahw_attendance_by_lead_time.next_day", self.next_day),
            ("rates.ahw_attendance_by_lead_time.later", self.later),
        ]
    }
}

/// Nested JSON from dotted paths.
pub fn nest(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    let mut root = Value::Object(Map::new());
    for (path, value) in pairs {
        let parts: Vec<&str> = path.split('.').collect();
        let mut node = &mut root;
        for part in &parts[..parts.len() - 1] {
            node = node
                .as_object_mut()
                .unwrap()
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        node.as_object_mut()
            .unwrap()
            .insert(parts[parts.len() - 1].to_owned(), value);
    }
    root
}

/// The expected group (disclosure none): counts and rates as JSON.
pub fn expected_group(counts: &Counts, rates: &Rates) -> Value {
    nest(
        counts
            .paths()
            .into_iter()
            .map(|(p, v)| (p.to_owned(), json!(v)))
            .chain(rates.paths().into_iter().map(|(p, v)| (p.to_owned(), json!(v)))),
    )
}

fn same_number(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|a| (a - expected).abs() < 1e-9)
}

/// Every leaf of `expected` is in `actual` with the same value (numbers to 1e-9, so `1` and
/// `1.0` agree; `null` must be `null`). Fields the service adds beyond these are allowed.
pub fn assert_figures(actual: &Value, expected: &Value, path: &str, why: &str) {
    match expected {
        Value::Object(fields) => {
            for (k, v) in fields {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                assert!(
                    actual.get(k).is_some(),
                    "{why}: `{p}` is missing from the answer: {actual}"
                );
                assert_figures(&actual[k], v, &p, why);
            }
        }
        Value::Number(n) => {
            let e = n.as_f64().unwrap();
            assert!(same_number(actual, e), "{why}: `{path}` expected {e}, got {actual}");
        }
        other => assert_eq!(actual, other, "{why}: `{path}`"),
    }
}

/// A funnel group against hand-worked figures, disclosure none: nothing suppressed.
pub fn assert_group(answer: &Value, key: &str, counts: &Counts, rates: &Rates, why: &str) {
    counts.check_sums(why);
    let g = group(answer, key);
    let why = format!("{why} [group {key}]");
    assert_figures(g, &expected_group(counts, rates), "", &why);
    assert_eq!(
        suppressed(g),
        BTreeSet::new(),
        "{why}: nothing is suppressed without disclosure control"
    );
}

// ---------------------------------------------------------------------------------------------
// NHS disclosure control, applied by the test (DOMAIN.md §8)

/// What NHS disclosure control publishes for a count: 1–7 suppressed (`None`), others rounded
/// to the nearest 5 (counts are whole, so there is never a tie), 0 stays 0.
pub fn publish(n: i64) -> Option<i64> {
    match n {
        1..=7 => None,
        n => Some((n + 2) / 5 * 5),
    }
}

pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The relations within one group that must never have exactly one suppressed cell.
pub const RELATIONS: [(&str, &[&str]); 4] = [
    (
        "eligible = screened + Σ not_screened",
        &[
            "counts.eligible",
            "counts.screened",
            "counts.not_screened.refused",
            "counts.not_screened.intoxicated",
            "counts.not_screened.lacks_capacity",
            "counts.not_screened.too_unwell",
            "counts.not_screened.under_age",
            "counts.not_screened.not_asked",
            "counts.not_screened.not_recorded",
        ],
    ),
    (
        "offered = accepted + declined + seen_in_department",
        &[
            "counts.offered",
            "counts.accepted",
            "counts.declined",
            "counts.seen_in_department",
        ],
    ),
    (
        "attended = Σ attended_by_lead_time",
        &[
            "counts.attended",
            "counts.attended_by_lead_time.same_day",
            "counts.attended_by_lead_time.next_day",
            "counts.attended_by_lead_time.later",
        ],
    ),
    (
        "did_not_attend = Σ did_not_attend_by_lead_time",
        &[
            "counts.did_not_attend",
            "counts.did_not_attend_by_lead_time.same_day",
            "counts.did_not_attend_by_lead_time.next_day",
            "counts.did_not_attend_by_lead_time.later",
        ],
    ),
];

/// How each rate is made from counts: (rate path, numerator paths, denominator paths).
pub const RATE_INPUTS: [(&str, &[&str], &[&str]); 7] = [
    ("rates.screening", &["counts.screened"], &["counts.eligible"]),
    ("rates.positive", &["counts.positive"], &["counts.screened"]),
    (
        "rates.acceptance",
        &["counts.accepted", "counts.seen_in_department"],
        &["counts.offered"],
    ),
    (
        "rates.ahw_attendance",
        &["counts.attended"],
        &["counts.attended", "counts.did_not_attend"],
    ),
    (
        "rates.ahw_attendance_by_lead_time.same_day",
        &["counts.attended_by_lead_time.same_day"],
        &[
            "counts.attended_by_lead_time.same_day",
            "counts.did_not_attend_by_lead_time.same_day",
        ],
    ),
    (
        "rates.ahw_attendance_by_lead_time.next_day",
        &["counts.attended_by_lead_time.next_day"],
        &[
            "counts.attended_by_lead_time.next_day",
            "counts.did_not_attend_by_lead_time.next_day",
        ],
    ),
    (
        "rates.ahw_attendance_by_lead_time.later",
        &["counts.attended_by_lead_time.later"],
        &[
            "counts.attended_by_lead_time.later",
            "counts.did_not_attend_by_lead_time.later",
        ],
    ),
];

/// A published funnel group (`disclosure=nhs`) against the true counts worked out by hand:
///
/// - a count of 1–7 is null and listed (primary suppression);
/// - any other listed count is null and belongs to one of the four relations (secondary
///   suppression, the only reason to hide a count that is not small);
/// - every other count is the true count rounded to the nearest 5;
/// - within each relation, the number of suppressed cells is never exactly one;
/// - a rate with a suppressed input is null and (in JSON) listed; any other rate is computed from
///   the rounded counts, rounded to 4 places, null on a zero denominator;
/// - every listed path is null.
///
/// `csv`: the group was read from CSV, where a suppressed rate may show as `*` or empty (the
/// contract only says a suppressed *count* is `*`), so suppressed rates need not be listed.
pub fn assert_published_group(g: &Value, truth: &Counts, why: &str, csv: bool) {
    truth.check_sums(why);
    let listed = suppressed(g);
    let truth_of = |path: &str| truth.paths().into_iter().find(|(p, _)| *p == path).unwrap().1;
    let in_relation = |path: &str| RELATIONS.iter().any(|(_, cells)| cells.contains(&path));
    for (path, n) in truth.paths() {
        let actual = at_path(g, path);
        match publish(n) {
            None => {
                assert!(
                    actual.is_null(),
                    "{why}: `{path}` = {n} (1–7) is suppressed, got {actual}"
                );
                assert!(
                    listed.contains(path),
                    "{why}: `{path}` = {n} is listed in suppressed: {listed:?}"
                );
            }
            Some(_) if listed.contains(path) => {
                assert!(
                    actual.is_null(),
                    "{why}: `{path}` is listed, so it is null, got {actual}"
                );
                assert!(
                    in_relation(path),
                    "{why}: `{path}` = {n} is not small and in no relation, yet suppressed"
                );
            }
            Some(rounded) => assert!(
                same_number(actual, rounded as f64),
                "{why}: `{path}` = {n} is published rounded to {rounded}, got {actual}"
            ),
        }
    }
    for (name, cells) in RELATIONS {
        let hidden: Vec<&str> = cells.iter().copied().filter(|c| listed.contains(*c)).collect();
        assert_ne!(
            hidden.len(),
            1,
            "{why}: relation {name} has exactly one suppressed cell ({hidden:?}), which the others recover"
        );
    }
    for (rate, numerator, denominator) in RATE_INPUTS {
        let actual = at_path(g, rate);
        let inputs: Vec<&str> = numerator.iter().chain(denominator.iter()).copied().collect();
        if inputs.iter().any(|p| listed.contains(*p)) {
            assert!(
                actual.is_null(),
                "{why}: `{rate}` has a suppressed input, so it is null, got {actual}"
            );
            if !csv {
                assert!(listed.contains(rate), "{why}: `{rate}` is listed: {listed:?}");
            }
            continue;
        }
        let sum = |paths: &[&str]| -> i64 { paths.iter().map(|p| publish(truth_of(p)).unwrap()).sum() };
        let (num, den) = (sum(numerator), sum(denominator));
        if den == 0 {
            assert!(actual.is_null(), "{why}: `{rate}` has a zero denominator, got {actual}");
        } else {
            let expected = round4(num as f64 / den as f64);
            assert!(
                same_number(actual, expected),
                "{why}: `{rate}` from the rounded counts {num}/{den} = {expected}, got {actual}"
            );
        }
        assert!(!listed.contains(rate), "{why}: `{rate}` is published, so not listed");
    }
    for path in &listed {
        assert!(at_path(g, path).is_null(), "{why}: listed `{path}` is null");
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

/// Parses RFC 4180 CSV (quoted fields, `""` escapes, CRLF or LF line ends).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// One CSV data row as nested JSON: `*` → null and listed under `suppressed`, empty → null,
/// numbers → numbers, other text kept. Columns listed in `skip` are left out.
pub fn csv_row_json(header: &[String], row: &[String], skip: &[&str]) -> Value {
    assert_eq!(
        header.len(),
        row.len(),
        "a row has one cell per column: {header:?} / {row:?}"
    );
    let mut listed = vec![];
    let mut pairs = vec![];
    for (column, cell) in header.iter().zip(row) {
        if skip.contains(&column.as_str()) {
            continue;
        }
        let value = if cell == "*" {
            listed.push(json!(column));
            Value::Null
        } else if cell.is_empty() {
            Value::Null
        } else if let Ok(n) = cell.parse::<f64>() {
            json!(n)
        } else {
            json!(cell)
        };
        pairs.push((column.clone(), value));
    }
    let mut value = nest(pairs);
    value["suppressed"] = Value::Array(listed);
    value
}

/// The cell of `column` in `row`.
pub fn cell<'a>(header: &[String], row: &'a [String], column: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no CSV column {column:?} in {header:?}"));
    &row[i]
}

// ---------------------------------------------------------------------------------------------
// Datasets

/// The pathway dataset (test `the_funnel_counts_every_step_of_the_pathway`). The service's clock
/// is moved to D 11:00Z (12:00 BST), D = 15 July next year (`next_summer_day`), so the London
/// calendar is fixed and in BST. Arrivals on D from 06:00Z, 5 minutes apart, in the order below;
/// screenings 10 minutes after arrival (06:10Z–08:05Z = 07:10–09:05 BST). Every attendance is a
/// different patient except R. Site SMH unless said.
///
/// | #  | name | condition         | site | screening (current)          | advice/leaflet | decision | bookings (slot start, UTC)                                   |
/// |----|------|-------------------|------|------------------------------|----------------|----------|--------------------------------------------------------------|
/// | 0  | R0   | other             | SMH  | — (D−30 10:00Z, before range) |               |          |                                                              |
/// | 1  | A1   | other             | WEST | —                            |                |          |                                                              |
/// | 2  | A2   | other             | SMH  | completed negative           |                |          |                                                              |
/// | 3  | A3   | other             | SMH  | completed positive           | yes/yes        | accepted | automatic booking: no slot (409)                             |
/// | 4  | A4   | other             | none | refused                      |                |          |                                                              |
/// | 5  | R    | other (R0's 2nd)  | SMH  | completed negative           |                |          |                                                              |
/// | 6  | T    | repeat_attender   | SMH  | not_asked                    |                |          |                                                              |
/// | 7  | N1   | fall              | SMH  | refused                      |                |          |                                                              |
/// | 8  | N2   | collapse          | SMH  | intoxicated                  |                |          |                                                              |
/// | 9  | N3   | head_injury       | SMH  | lacks_capacity               |                |          |                                                              |
/// | 10 | N4   | assault           | SMH  | too_unwell                   |                |          |                                                              |
/// | 11 | N5   | accident          | SMH  | under_age                    |                |          |                                                              |
/// | 12 | N7   | gastrointestinal  | WEST | — (no screening)             |                |          |                                                              |
/// | 13 | C1   | cardiac           | SMH  | refused, corrected to completed negative |    |          |                                                              |
/// | 14 | P1   | psychiatric       | SMH  | positive                     | yes/yes        | declined |                                                              |
/// | 15 | P2   | fall              | SMH  | positive                     | yes/no         | seen_in_department |                                                    |
/// | 16 | P3   | unwell            | SMH  | positive                     | no/no          | —        |                                                              |
/// | 17 | Q1   | assault           | SMH  | positive                     | yes/yes        | accepted | D 12:00Z (same day) → attended                               |
/// | 18 | Q2   | head_injury       | SMH  | positive                     | yes/yes        | accepted | D+1 06:00Z (07:00 BST next day, 22 h after) → did_not_attend |
/// | 19 | Q3   | collapse          | SMH  | positive                     | yes/yes        | accepted | D 13:00Z → cancelled                                         |
/// | 20 | Q4   | unwell            | SMH  | positive                     | yes/yes        | accepted | D+2 09:00Z (outside, patient_preference) → cancelled; then D 15:00Z (same day) → attended |
/// | 21 | Q5   | cardiac           | SMH  | positive                     | yes/no         | accepted | D+2 10:00Z (outside, no_capacity, later) → attended          |
/// | 22 | Q6   | gastrointestinal  | SMH  | positive                     | yes/yes        | accepted | automatic booking ×2: no slot (409)                          |
/// | 23 | Q7   | accident          | SMH  | positive                     | no/yes         | accepted | D 16:00Z (same day) → no outcome yet                         |
/// | 24 | Q8   | fall              | SMH  | positive                     | yes/yes        | accepted | D 17:00Z (same day) → did_not_attend                         |
/// | 25 | Q9   | psychiatric       | SMH  | positive                     | yes/yes        | accepted | D 12:30Z (same day) → did_not_attend; then D 14:00Z (same day) → attended |
///
/// Bookings are made at D 11:00Z; then the clock moves to D 12:45Z for Q9's did-not-attend and
/// rebooking, and finally to D+2 12:00Z, after every slot has started, for the other outcomes.
/// Answers D.
pub async fn pathway_dataset(app: &TestApp) -> NaiveDate {
    let d = next_summer_day();
    set_clock(app, utc(d, 11, 0));
    let smh = Some("SMH");
    let west = Some("WEST");
    let arrival = |i: i64| utc(d, 6, 0) + Duration::minutes(5 * (i - 1));
    let screened = |i: i64| arrival(i) + Duration::minutes(10);
    let p = |i: u32| Patient::nhs(100 + i);

    // R's first attendance, 30 days earlier: no earlier history, so `other` is not indicated.
    let r = p(5);
    let r0 = attend(app, &r, "other", smh, utc(d - days(30), 10, 0)).await;
    assert_eq!(r0["indications"], json!([]), "R0: other, first attendance");

    // 1–4: `other` with no history — not eligible.
    let a1 = attend(app, &p(1), "other", west, arrival(1)).await;
    assert_eq!(a1["indications"], json!([]), "A1 is not eligible");
    let a2 = visit(app, &p(2), "other", smh, arrival(2)).await;
    screen_negative(app, &a2, screened(2)).await;
    let a3 = visit(app, &p(3), "other", smh, arrival(3)).await;
    screen_positive(app, &a3, screened(3), true, true).await;
    decide(app, &a3, "accepted").await;
    let a4 = visit(app, &p(4), "other", None, arrival(4)).await;
    screen_not_done(app, &a4, "refused", screened(4)).await;

    // 5: R again — a derived repeat attender; 6: T, recorded as a repeat attender.
    let r1 = attend(app, &r, "other", smh, arrival(5)).await;
    assert_eq!(
        r1["indications"],
        json!(["repeat_attender"]),
        "R is a derived repeat attender"
    );
    screen_negative(app, &id_of(&r1), screened(5)).await;
    let t6 = attend(app, &p(6), "repeat_attender", smh, arrival(6)).await;
    assert_eq!(t6["indications"], json!(["repeat_attender"]));
    screen_not_done(app, &id_of(&t6), "not_asked", screened(6)).await;

    // 7–11: eligible, not screened, one of each reason; 12: no screening recorded at all.
    for (i, condition, reason) in [
        (7, "fall", "refused"),
        (8, "collapse", "intoxicated"),
        (9, "head_injury", "lacks_capacity"),
        (10, "assault", "too_unwell"),
        (11, "accident", "under_age"),
    ] {
        let id = visit(app, &p(i as u32), condition, smh, arrival(i)).await;
        screen_not_done(app, &id, reason, screened(i)).await;
    }
    visit(app, &p(12), "gastrointestinal", west, arrival(12)).await;

    // 13: refused, then corrected: the current screening is a completed negative.
    let c1 = visit(app, &p(13), "cardiac", smh, arrival(13)).await;
    screen_not_done(app, &c1, "refused", screened(13)).await;
    correct_to_negative(app, &c1, screened(13) + Duration::minutes(5)).await;

    // 14–24: positives.
    let mut positive = std::collections::HashMap::new();
    for (i, condition, advice, leaflet, decision) in [
        (14, "psychiatric", true, true, Some("declined")),
        (15, "fall", true, false, Some("seen_in_department")),
        (16, "unwell", false, false, None),
        (17, "assault", true, true, Some("accepted")),
        (18, "head_injury", true, true, Some("accepted")),
        (19, "collapse", true, true, Some("accepted")),
        (20, "unwell", true, true, Some("accepted")),
        (21, "cardiac", true, false, Some("accepted")),
        (22, "gastrointestinal", true, true, Some("accepted")),
        (23, "accident", false, true, Some("accepted")),
        (24, "fall", true, true, Some("accepted")),
        (25, "psychiatric", true, true, Some("accepted")),
    ] {
        let id = visit(app, &p(i as u32), condition, smh, arrival(i)).await;
        screen_positive(app, &id, screened(i), advice, leaflet).await;
        if let Some(decision) = decision {
            decide(app, &id, decision).await;
        }
        positive.insert(i, id);
    }

    // Automatic bookings before any slot exists: none found (Q6 twice, and the non-eligible A3).
    no_slot_found(app, &positive[&22]).await;
    no_slot_found(app, &positive[&22]).await;
    no_slot_found(app, &a3).await;

    let hw = health_worker(app).await;
    let d1 = d + days(1);
    let d2 = d + days(2);
    let s1 = slot_at(app, &hw, utc(d, 12, 0)).await;
    let s3 = slot_at(app, &hw, utc(d, 13, 0)).await;
    let s4b = slot_at(app, &hw, utc(d, 15, 0)).await;
    let s7 = slot_at(app, &hw, utc(d, 16, 0)).await;
    let s8 = slot_at(app, &hw, utc(d, 17, 0)).await;
    let s2 = slot_at(app, &hw, utc(d1, 6, 0)).await;
    let s4a = slot_at(app, &hw, utc(d2, 9, 0)).await;
    let s5 = slot_at(app, &hw, utc(d2, 10, 0)).await;
    let s9a = slot_at(app, &hw, utc(d, 12, 30)).await;
    let s9b = slot_at(app, &hw, utc(d, 14, 0)).await;

    let b1 = booked(app, &positive[&17], &s1).await;
    assert_eq!(b1["lead_time"], "same_day");
    let b2 = booked(app, &positive[&18], &s2).await;
    assert_eq!(
        (b2["lead_time"].as_str(), b2["within_window"].as_bool()),
        (Some("next_day"), Some(true)),
        "Q2: 07:00 BST the next day, within 24 h: {b2}"
    );
    let b3 = booked(app, &positive[&19], &s3).await;
    let b4a = booked_outside_window(app, &positive[&20], &s4a, "patient_preference").await;
    assert_eq!(b4a["lead_time"], "later");
    let b5 = booked_outside_window(app, &positive[&21], &s5, "no_capacity").await;
    assert_eq!(b5["lead_time"], "later");
    let b7 = booked(app, &positive[&23], &s7).await;
    assert_eq!(b7["within_window"], true);
    let b8 = booked(app, &positive[&24], &s8).await;
    assert_eq!(b8["lead_time"], "same_day");

    cancel(app, &id_of(&b3)).await;
    cancel(app, &id_of(&b4a)).await;
    let b4b = booked(app, &positive[&20], &s4b).await;
    assert_eq!(b4b["lead_time"], "same_day");
    let b9a = booked(app, &positive[&25], &s9a).await;

    // Q9 does not come at 12:30Z and is rebooked for 14:00Z the same day.
    move_clock(app, utc(d, 11, 0), utc(d, 12, 45));
    record_outcome(app, &id_of(&b9a), "did_not_attend").await;
    let b9b = booked(app, &positive[&25], &s9b).await;
    assert_eq!(b9b["lead_time"], "same_day");

    move_clock(app, utc(d, 12, 45), utc(d2, 12, 0));
    record_outcome(app, &id_of(&b1), "attended").await;
    record_outcome(app, &id_of(&b2), "did_not_attend").await;
    record_outcome(app, &id_of(&b4b), "attended").await;
    record_outcome(app, &id_of(&b5), "attended").await;
    record_outcome(app, &id_of(&b8), "did_not_attend").await;
    record_outcome(app, &id_of(&b9b), "attended").await;
    d
}

/// The disclosure dataset (NHS rounding and secondary suppression): twelve patients, every one a
/// fall at site `=cmd` (a site a spreadsheet would read as a formula). Clock at D 11:00Z, D =
/// 15 July next year (BST); arrivals on D from 06:00Z, 5 minutes apart; screened 10 minutes later.
///
/// | #     | screening          | decision | booking (slot start, UTC)                          | outcome  |
/// |-------|--------------------|----------|----------------------------------------------------|----------|
/// | 0–7   | positive (yes/yes) | accepted | D 12:00Z + 30 min × # (13:00–16:30 BST, same day)   | attended |
/// | 8     | positive (yes/yes) | accepted | D+1 05:00Z (06:00 BST next day; screened D 06:50Z)  | attended |
/// | 9     | positive (yes/yes) | declined |                                                    |          |
/// | 10    | negative           |          |                                                    |          |
/// | 11    | refused            |          |                                                    |          |
///
/// The outcomes are recorded with the clock at D+1 12:00Z. Answers D.
pub async fn disclosure_dataset(app: &TestApp) -> NaiveDate {
    let d = next_summer_day();
    set_clock(app, utc(d, 11, 0));
    let site = Some("=cmd");
    let hw = health_worker(app).await;
    let mut bookings = vec![];
    for i in 0..12i64 {
        let arrived = utc(d, 6, 0) + Duration::minutes(5 * i);
        let screened = arrived + Duration::minutes(10);
        let id = visit(app, &Patient::nhs(300 + i as u32), "fall", site, arrived).await;
        match i {
            0..=9 => screen_positive(app, &id, screened, true, true).await,
            10 => screen_negative(app, &id, screened).await,
            _ => screen_not_done(app, &id, "refused", screened).await,
        }
        match i {
            0..=8 => {
                decide(app, &id, "accepted").await;
                let starts = if i < 8 {
                    utc(d, 12, 0) + Duration::minutes(30 * i)
                } else {
                    utc(d + days(1), 5, 0)
                };
                let slot = slot_at(app, &hw, starts).await;
                let b = booked(app, &id, &slot).await;
                let lead = if i < 8 { "same_day" } else { "next_day" };
                assert_eq!(b["lead_time"], lead, "booking {i}: {b}");
                bookings.push(id_of(&b));
            }
            9 => {
                decide(app, &id, "declined").await;
            }
            _ => {}
        }
    }
    move_clock(app, utc(d, 11, 0), utc(d + days(1), 12, 0));
    for b in &bookings {
        record_outcome(app, b, "attended").await;
    }
    d
}

/// The period of the reattendance datasets: from F = the London date 500 days ago, to London
/// tomorrow (exclusive), and B = F at 12:00Z, the base time of the index attendances.
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub b: DateTime<Utc>,
}

pub fn reattendance_period() -> Period {
    let from = (now() - days(500))
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    Period {
        from,
        to: london_today() + days(1),
        b: utc(from, 12, 0),
    }
}

/// The 12-month dataset (test `twelve_month_reattendance_by_cohort`). Times are B + n days
/// (24-hour days, UTC arithmetic) unless said; "now" is the real time (the clock is not moved).
/// Every attendance is unplanned and a fall unless said; site SMH unless said.
///
/// | patient | identifier   | attendances                                                                                   |
/// |---------|--------------|-----------------------------------------------------------------------------------------------|
/// | Pa      | NHS + local  | B+1 positive accepted; B+31; B+366 (= index + exactly 365 days)                               |
/// | Pb      | local only   | B+2 positive seen_in_department; B+12; B+367 + 1 minute (= index + 365 days + 1 minute)      |
/// | Pc      | NHS          | B−20 positive declined (before the period); B+3 positive accepted; B+40 positive declined; B+103 planned; B+253 |
/// | S       | NHS          | B+11 WEST positive accepted; B+30 positive declined; B+200 WEST                               |
/// | Pe      | NHS          | B+4 positive declined; B+24; B+54; B+204; B+368                                               |
/// | Pf      | local only   | B+6 positive declined; B+96 WEST; B+306; B+336 planned                                        |
/// | Pg      | NHS          | B+7 positive declined; B+157; B+257                                                           |
/// | Ph      | NHS          | B+8 positive, no decision; B+11 (unplanned, 3 days later)                                     |
/// | Pi      | NHS          | B+9 negative                                                                                  |
/// | Pj      | NHS          | B+10 `other` (not eligible) positive accepted                                                 |
/// | Pk      | NHS          | now − 30 days positive accepted                                                               |
/// | Pl      | local only   | now − 100 days positive declined                                                              |
/// | Pm      | NHS          | now − 50 days positive, no decision                                                           |
/// | Pn      | NHS          | B+13 `other`, no screening                                                                    |
///
/// Attendances are recorded in arrival order per patient (repeat-attender derivation looks back).
pub async fn twelve_month_dataset(app: &TestApp) -> (Period, Vec<Patient>) {
    let period = reattendance_period();
    let b = period.b;
    let smh = Some("SMH");
    let west = Some("WEST");
    let n = now();
    let minute = Duration::minutes(1);

    let pa = Patient::both(501, "PA-LOCAL-501");
    positive_visit(app, &pa, "fall", smh, b + days(1), Some("accepted")).await;
    visit(app, &pa, "fall", smh, b + days(31)).await;
    visit(app, &pa, "fall", smh, b + days(366)).await;

    let pb = Patient::local("PB-LOCAL-502");
    positive_visit(app, &pb, "fall", smh, b + days(2), Some("seen_in_department")).await;
    visit(app, &pb, "fall", smh, b + days(12)).await;
    visit(app, &pb, "fall", smh, b + days(367) + minute).await;

    let pc = Patient::nhs(503);
    positive_visit(app, &pc, "fall", smh, b - days(20), Some("declined")).await;
    positive_visit(app, &pc, "fall", smh, b + days(3), Some("accepted")).await;
    positive_visit(app, &pc, "fall", smh, b + days(40), Some("declined")).await;
    planned_visit(app, &pc, "fall", smh, b + days(103)).await;
    visit(app, &pc, "fall", smh, b + days(253)).await;

    let s = Patient::nhs(504);
    positive_visit(app, &s, "fall", west, b + days(11), Some("accepted")).await;
    positive_visit(app, &s, "fall", smh, b + days(30), Some("declined")).await;
    visit(app, &s, "fall", west, b + days(200)).await;

    let pe = Patient::nhs(505);
    positive_visit(app, &pe, "fall", smh, b + days(4), Some("declined")).await;
    for offset in [24, 54, 204, 368] {
        visit(app, &pe, "fall", smh, b + days(offset)).await;
    }

    let pf = Patient::local("PF-LOCAL-506");
    positive_visit(app, &pf, "fall", smh, b + days(6), Some("declined")).await;
    visit(app, &pf, "fall", west, b + days(96)).await;
    visit(app, &pf, "fall", smh, b + days(306)).await;
    planned_visit(app, &pf, "fall", smh, b + days(336)).await;

    let pg = Patient::nhs(507);
    positive_visit(app, &pg, "fall", smh, b + days(7), Some("declined")).await;
    visit(app, &pg, "fall", smh, b + days(157)).await;
    visit(app, &pg, "fall", smh, b + days(257)).await;

    let ph = Patient::nhs(508);
    positive_visit(app, &ph, "fall", smh, b + days(8), None).await;
    visit(app, &ph, "fall", smh, b + days(11)).await;

    let pi = Patient::nhs(509);
    let id = visit(app, &pi, "fall", smh, b + days(9)).await;
    screen_negative(app, &id, b + days(9) + Duration::minutes(30)).await;

    let pj = Patient::nhs(510);
    let id = visit(app, &pj, "other", smh, b + days(10)).await;
    screen_positive(app, &id, b + days(10) + Duration::minutes(30), true, true).await;
    decide(app, &id, "accepted").await;

    let pk = Patient::nhs(511);
    positive_visit(app, &pk, "fall", smh, n - days(30), Some("accepted")).await;
    let pl = Patient::local("PL-LOCAL-512");
    positive_visit(app, &pl, "fall", smh, n - days(100), Some("declined")).await;
    let pm = Patient::nhs(513);
    positive_visit(app, &pm, "fall", smh, n - days(50), None).await;

    let pn = Patient::nhs(514);
    visit(app, &pn, "other", smh, b + days(13)).await;

    (period, vec![pa, pb, pc, s, pe, pf, pg, ph, pi, pj, pk, pl, pm, pn])
}

/// The cohort dataset for disclosure control on the 12-month measure: big enough cohorts that
/// rounding, not suppression, applies. Same period as `twelve_month_dataset`; site SMH; falls.
///
/// - accepted A0–A9: positive accepted at B + i hours; A0–A8 return once, unplanned, 5 days
///   later; A9 returns at +30, +60 and +90 days.
/// - declined D0–D7: positive declined at B + 12 h + i hours; D0–D6 return at +20 and +40
///   days; D7 at +20, +40 and +60 days.
pub async fn cohort_dataset(app: &TestApp) -> Period {
    let period = reattendance_period();
    let b = period.b;
    let smh = Some("SMH");
    for i in 0..10u32 {
        let p = Patient::nhs(600 + i);
        let index = b + Duration::hours(i64::from(i));
        positive_visit(app, &p, "fall", smh, index, Some("accepted")).await;
        let returns: &[i64] = if i < 9 { &[5] } else { &[30, 60, 90] };
        for r in returns {
            visit(app, &p, "fall", smh, index + days(*r)).await;
        }
    }
    for i in 0..8u32 {
        let p = Patient::nhs(700 + i);
        let index = b + Duration::hours(12 + i64::from(i));
        positive_visit(app, &p, "fall", smh, index, Some("declined")).await;
        let returns: &[i64] = if i < 7 { &[20, 40] } else { &[20, 40, 60] };
        for r in returns {
            visit(app, &p, "fall", smh, index + days(*r)).await;
        }
    }
    period
}

/// The referral-trend dataset: every row a different patient, a fall at SMH screened positive
/// 30 minutes after arrival, with the decision shown (decided at the service's now).
///
/// | arrival (UTC)        | London                 | financial year | decision                     |
/// |----------------------|------------------------|----------------|------------------------------|
/// | 2021-06-10T10:00Z    |                        | 2021/22        | accepted                     |
/// | 2022-01-15T10:00Z    | GMT                    | 2021/22        | accepted                     |
/// | 2022-11-01T10:00Z    |                        | 2022/23        | declined                     |
/// | 2023-05-01T10:00Z    |                        | 2023/24        | accepted                     |
/// | 2023-08-01T10:00Z    |                        | 2023/24        | seen_in_department           |
/// | 2023-12-01T10:00Z    |                        | 2023/24        | accepted                     |
/// | 2024-03-31T22:30Z    | 23:30 BST 31 March     | 2023/24        | accepted                     |
/// | 2024-03-31T23:30Z    | 00:30 BST 1 April      | 2024/25        | accepted                     |
/// | 2024-05-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2024-06-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2024-07-01T10:00Z    | condition `other`, not eligible | 2024/25 | accepted (not counted)    |
/// | 2024-08-01T10:00Z    |                        | 2024/25        | — (positive, no decision)    |
/// | 2024-09-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2024-11-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2024-12-01T10:00Z    |                        | 2024/25        | seen_in_department           |
/// | 2025-01-10T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2025-02-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2025-03-01T10:00Z    |                        | 2024/25        | accepted                     |
///
/// BST 2024 began on Sunday 31 March 2024 at 01:00Z, so 22:30Z and 23:30Z that evening are
/// 23:30 and 00:30 BST.
pub async fn trend_dataset(app: &TestApp) {
    let rows: [(&str, &str, Option<&str>); 18] = [
        ("2021-06-10T10:00:00Z", "fall", Some("accepted")),
        ("2022-01-15T10:00:00Z", "fall", Some("accepted")),
        ("2022-11-01T10:00:00Z", "fall", Some("declined")),
        ("2023-05-01T10:00:00Z", "fall", Some("accepted")),
        ("2023-08-01T10:00:00Z", "fall", Some("seen_in_department")),
        ("2023-12-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-03-31T22:30:00Z", "fall", Some("accepted")),
        ("2024-03-31T23:30:00Z", "fall", Some("accepted")),
        ("2024-05-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-06-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-07-01T10:00:00Z", "other", Some("accepted")),
        ("2024-08-01T10:00:00Z", "fall", None),
        ("2024-09-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-11-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-12-01T10:00:00Z", "fall", Some("seen_in_department")),
        ("2025-01-10T10:00:00Z", "fall", Some("accepted")),
        ("2025-02-01T10:00:00Z", "fall", Some("accepted")),
        ("2025-03-01T10:00:00Z", "fall", Some("accepted")),
    ];
    for (i, (arrived, condition, decision)) in rows.into_iter().enumerate() {
        let p = Patient::nhs(800 + i as u32);
        positive_visit(app, &p, condition, Some("SMH"), t(arrived), decision).await;
    }
}
