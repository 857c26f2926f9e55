//! Arrange-step helpers for the scheduling tests (issue 3): health workers, slots, attendances
//! with a PAT-positive screening, referral decisions and bookings, plus time helpers.
//!
//! Times are built from `Utc::now()` (the service's clock starts at the real time) and truncated to
//! whole seconds, so what a test sends is exactly what both databases store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Europe::London;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, attendance_body, TestApp};

pub const HEALTH_WORKERS: &str = "/api/v1/health-workers";
pub const SLOTS: &str = "/api/v1/slots";
pub const BOOKINGS: &str = "/api/v1/bookings";

/// The NHS number of `attendance_body` (valid: see attendances.rs) and its audit key.
pub const PATIENT_KEY: &str = "nhs:9434765919";

/// Now, truncated to whole seconds.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t.with_nanosecond(0).unwrap()
}

/// RFC 3339 in UTC with a `Z`, whole seconds.
pub fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a time the service answered.
pub fn at(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 time, got {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// A Europe/London wall-clock time as a UTC instant. Only for local times that exist exactly once
/// (tests avoid 01:00–02:00 on clock-change days).
pub fn london(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let local = date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap());
    London
        .from_local_datetime(&local)
        .single()
        .unwrap_or_else(|| panic!("{local} is not a unique Europe/London time"))
        .with_timezone(&Utc)
}

/// Today's date in Europe/London.
pub fn london_today() -> NaiveDate {
    Utc::now().with_timezone(&London).date_naive()
}

/// 15 July of next year: always in the future, always British Summer Time (UTC+1), so a
/// Europe/London day and a UTC day differ by an hour and a service that confuses them is caught.
pub fn next_summer_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(london_today().year() + 1, 7, 15).unwrap()
}

/// Moves the service's clock forward so that its "now" is `target` (plus the few milliseconds the
/// test takes afterwards).
pub fn set_clock(app: &TestApp, target: DateTime<Utc>) {
    let offset = target - Utc::now();
    assert!(offset > Duration::zero(), "the clock only moves forward ({target})");
    app.advance_clock(offset);
}

/// The problem type for a slug.
pub fn problem_type(slug: &str) -> String {
    format!("urn:pat-service:problem:{slug}")
}

/// Asserts status, problem+json and the problem type; returns the body.
pub async fn assert_kind(response: reqwest::Response, status: u16, slug: &str, why: &str) -> Value {
    let body = assert_problem(response, status).await;
    assert_eq!(body["type"], problem_type(slug), "{why}: problem type; body: {body}");
    body
}

/// The fields a validation problem names.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts the status and returns the JSON body, showing the body when the status is wrong.
pub async fn json_with(response: reqwest::Response, status: u16, why: &str) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{why}: status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{why}: not JSON ({e}): {text}"))
}

pub fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

pub async fn delete(app: &TestApp, path: &str, role: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(app.token(role))
        .send()
        .await
        .unwrap()
}

/// A token for `roles` with a chosen `sub`.
pub fn token_for(app: &TestApp, sub: &str, roles: &[&str]) -> String {
    let exp = (Utc::now() + Duration::hours(1)).timestamp();
    app.sign(&json!({
        "sub": sub,
        "roles": roles,
        "iss": crate::helpers::ISSUER,
        "aud": crate::helpers::AUDIENCE,
        "exp": exp,
    }))
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Registers a health worker as admin; returns the stored record.
pub async fn health_worker_named(app: &TestApp, name: &str) -> Value {
    let resp = app
        .post_json(
            HEALTH_WORKERS,
            "admin",
            &json!({ "name": name, "staff_id": unique("staff") }),
        )
        .await;
    json_with(resp, 201, "registering a health worker").await
}

/// Registers a health worker; returns its id.
pub async fn health_worker(app: &TestApp) -> String {
    id_of(&health_worker_named(app, "Alex Morgan").await)
}

pub fn slot_body(hw: &str, starts: DateTime<Utc>, ends: DateTime<Utc>) -> Value {
    json!({ "health_worker_id": hw, "starts_at": rfc(starts), "ends_at": rfc(ends) })
}

/// POSTs one slot as admin.
pub async fn try_slot(app: &TestApp, hw: &str, starts: DateTime<Utc>, ends: DateTime<Utc>) -> reqwest::Response {
    app.post_json(SLOTS, "admin", &slot_body(hw, starts, ends)).await
}

/// Creates one slot; asserts 201 and that exactly one slot came back; returns it.
pub async fn slot_value(app: &TestApp, hw: &str, starts: DateTime<Utc>, ends: DateTime<Utc>) -> Value {
    let body = json_with(try_slot(app, hw, starts, ends).await, 201, "creating a slot").await;
    let slots = body["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("{{slots: [...]}}: {body}"));
    assert_eq!(slots.len(), 1, "one slot requested, one created: {body}");
    slots[0].clone()
}

/// Creates one slot; returns its id.
pub async fn slot(app: &TestApp, hw: &str, starts: DateTime<Utc>, ends: DateTime<Utc>) -> String {
    id_of(&slot_value(app, hw, starts, ends).await)
}

/// A 30-minute slot starting at `starts`; returns its id.
pub async fn slot_at(app: &TestApp, hw: &str, starts: DateTime<Utc>) -> String {
    slot(app, hw, starts, starts + Duration::minutes(30)).await
}

/// Records an attendance of `patient` arriving at `arrived_at`; returns its id.
pub async fn attendance_of(app: &TestApp, patient: Value, condition: &str, arrived_at: DateTime<Utc>) -> String {
    let mut body = attendance_body(&unique("sched"));
    body["patient"] = patient;
    body["presenting_condition"] = json!(condition);
    body["arrived_at"] = json!(rfc(arrived_at));
    id_of(&app.create_attendance(&body).await)
}

/// Records an attendance of the default patient (male, NHS 9434765919, a fall).
pub async fn attendance_at(app: &TestApp, arrived_at: DateTime<Utc>) -> String {
    let mut body = attendance_body(&unique("sched"));
    body["arrived_at"] = json!(rfc(arrived_at));
    id_of(&app.create_attendance(&body).await)
}

/// pat-2009 answers of a man: 12 units in a day is more than 8 → positive (docs/domain.md §4).
pub fn positive_answers() -> Value {
    json!({
        "drinks_alcohol": true,
        "max_units_in_a_day": 12,
        "drinking_frequency": "less_than_weekly",
        "attendance_related": false,
    })
}

/// pat-2009 answers of a man: 4 units, less than weekly, not related → negative (docs/domain.md §4).
pub fn negative_answers() -> Value {
    json!({
        "drinks_alcohol": true,
        "max_units_in_a_day": 4,
        "drinking_frequency": "less_than_weekly",
        "attendance_related": false,
    })
}

pub fn completed(screened_at: DateTime<Utc>, answers: Value) -> Value {
    json!({ "status": "completed", "screened_at": rfc(screened_at), "answers": answers })
}

/// Records a screening; asserts 201.
pub async fn screen(app: &TestApp, id: &str, body: &Value) {
    let resp = app.record_screening(id, body).await;
    json_with(resp, 201, "recording the screening").await;
}

/// An attendance that arrived an hour before `screened_at` with a positive pat-2009 screening at
/// `screened_at`.
pub async fn positive_attendance_at(app: &TestApp, screened_at: DateTime<Utc>) -> String {
    let id = attendance_at(app, screened_at - Duration::hours(1)).await;
    screen(app, &id, &completed(screened_at, positive_answers())).await;
    id
}

/// An attendance that arrived 2 h ago, screened PAT positive 1 h ago.
pub async fn positive_attendance(app: &TestApp) -> String {
    positive_attendance_at(app, now() - Duration::hours(1)).await
}

pub fn referral_path(id: &str) -> String {
    format!("/api/v1/attendances/{id}/referral")
}

/// The details an AHW records with `seen_in_department`: who (a health worker registered for
/// it), the brief intervention delivered, and `units_per_week`.
pub async fn seen_details(app: &TestApp, units_per_week: f64) -> Value {
    let hw = health_worker(app).await;
    json!({
        "decision": "seen_in_department",
        "health_worker_id": hw,
        "brief_intervention_delivered": true,
        "units_per_week": units_per_week,
    })
}

/// A decision's request body: `seen_in_department` with its details (20 units a week).
pub async fn decision_body(app: &TestApp, decision: &str) -> Value {
    match decision {
        "seen_in_department" => seen_details(app, 20.0).await,
        other => json!({ "decision": other }),
    }
}

/// PUTs a referral decision as a clinician (`seen_in_department` with its details).
pub async fn refer(app: &TestApp, id: &str, decision: &str) -> reqwest::Response {
    let body = decision_body(app, decision).await;
    app.put_json(&referral_path(id), "clinician", &body).await
}

/// Records a decision; asserts 201.
pub async fn decide(app: &TestApp, id: &str, decision: &str) -> Value {
    json_with(refer(app, id, decision).await, 201, "recording the referral decision").await
}

/// A positive attendance screened at `screened_at` whose patient accepted an AHW appointment.
pub async fn accepted_attendance_at(app: &TestApp, screened_at: DateTime<Utc>) -> String {
    let id = positive_attendance_at(app, screened_at).await;
    decide(app, &id, "accepted").await;
    id
}

/// Screened positive an hour ago, referral accepted.
pub async fn accepted_attendance(app: &TestApp) -> String {
    accepted_attendance_at(app, now() - Duration::hours(1)).await
}

/// POSTs a booking of `slot` (None: the earliest free slot) as a clinician.
pub async fn book(app: &TestApp, attendance: &str, slot: Option<&str>) -> reqwest::Response {
    let mut body = json!({ "attendance_id": attendance });
    if let Some(slot) = slot {
        body["slot_id"] = json!(slot);
    }
    app.post_json(BOOKINGS, "clinician", &body).await
}

/// Books a slot; asserts 201; returns the booking.
pub async fn booked(app: &TestApp, attendance: &str, slot: &str) -> Value {
    json_with(book(app, attendance, Some(slot)).await, 201, "booking a slot").await
}

pub fn outcome_path(booking: &str) -> String {
    format!("{BOOKINGS}/{booking}/outcome")
}

/// POSTs an outcome as an AHW.
pub async fn outcome(app: &TestApp, booking: &str, body: &Value) -> reqwest::Response {
    app.post_json(&outcome_path(booking), "ahw", body).await
}

/// Cancels a booking as an AHW; asserts 200.
pub async fn cancel(app: &TestApp, booking: &str) -> Value {
    let resp = outcome(
        app,
        booking,
        &json!({ "status": "cancelled", "reason": "patient rang" }),
    )
    .await;
    json_with(resp, 200, "cancelling a booking").await
}

/// GET /slots with a query string; returns the slots.
pub async fn list_slots(app: &TestApp, query: &str) -> Vec<Value> {
    let resp = app.get(&format!("{SLOTS}?{query}"), "clinician").await;
    let body = json_with(resp, 200, &format!("GET /slots?{query}")).await;
    body["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("{{slots: [...]}}: {body}"))
        .clone()
}

/// The ids of a list of records.
pub fn ids(values: &[Value]) -> Vec<String> {
    values.iter().map(id_of).collect()
}

/// Query-string value for a time (RFC 3339 with `Z` needs no escaping).
pub fn q(t: DateTime<Utc>) -> String {
    rfc(t)
}

/// The audit events about one kind of record, newest first.
pub async fn events_about(app: &TestApp, resource_type: &str) -> Vec<Value> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e["resource_type"] == resource_type)
        .collect()
}

/// The `x-request-id` a response carries.
pub fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .expect("x-request-id header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Whether two instants are within `seconds` of each other.
pub fn near(a: DateTime<Utc>, b: DateTime<Utc>, seconds: i64) -> bool {
    (a - b).num_seconds().abs() <= seconds
}

/// A PAT-positive attendance of `patient` (at `site`) arriving an hour before `seen_at`, screened
/// half an hour before it, and seen in the department at `seen_at` by a newly registered AHW who
/// recorded the brief intervention and the units a week. Answers (attendance id, health worker
/// id).
pub async fn seen_in_department_at(
    app: &TestApp,
    patient: Value,
    site: Option<&str>,
    seen_at: DateTime<Utc>,
    brief_intervention_delivered: bool,
    units_per_week: f64,
) -> (String, String) {
    let mut body = attendance_body(&unique("seen"));
    body["patient"] = patient;
    body["arrived_at"] = json!(rfc(seen_at - Duration::hours(1)));
    if let Some(site) = site {
        body["site"] = json!(site);
    }
    let id = id_of(&app.create_attendance(&body).await);
    screen(
        app,
        &id,
        &completed(seen_at - Duration::minutes(30), positive_answers()),
    )
    .await;
    let hw = health_worker(app).await;
    let decision = json!({
        "decision": "seen_in_department",
        "decided_at": rfc(seen_at),
        "health_worker_id": hw,
        "brief_intervention_delivered": brief_intervention_delivered,
        "units_per_week": units_per_week,
    });
    let resp = app.put_json(&referral_path(&id), "ahw", &decision).await;
    json_with(resp, 201, "recording a patient seen in the department").await;
    (id, hw)
}

/// Records the follow-up at `months` of the attendance `id` as an AHW; asserts 201.
pub async fn follow_up_at(app: &TestApp, id: &str, months: u32, units_per_week: f64, contacted_at: DateTime<Utc>) {
    let body = json!({ "months": months, "units_per_week": units_per_week, "contacted_at": rfc(contacted_at) });
    let resp = app
        .post_json(&format!("/api/v1/attendances/{id}/follow-ups"), "ahw", &body)
        .await;
    json_with(resp, 201, "recording a follow-up").await;
}
