//! Builders for the statistics tests: patients, attendances, screenings, decisions and bookings
//! made through the API, and asking for statistics (JSON or CSV) and reading the answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::scheduling_helpers::{assert_kind, book, decide, id_of, json_with, outcome, rfc, BOOKINGS};
pub use crate::scheduling_helpers::{negative_answers, positive_answers};

pub const FUNNEL: &str = "/api/v1/statistics/funnel";
pub const REATTENDANCE: &str = "/api/v1/statistics/reattendance";
pub const REFERRALS: &str = "/api/v1/statistics/referrals";
pub const OUTCOMES: &str = "/api/v1/statistics/outcomes";

/// The eleven condition codes of docs/domain.md §2, in form order.
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

/// A valid NHS number (docs/domain.md §9) made from `seed`: nine digits `4SSSSSSSJ`, the first `J`
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

/// A screening that did not happen, with its reason (docs/domain.md §5).
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
