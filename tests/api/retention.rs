//! Retention (issue 14): `pat-service purge --before DATE` removes the attendances that arrived
//! before London midnight of DATE with everything hanging off them, in batches, writes one audit
//! event per run with the counts, never touches audit events, and leaves every statistic equal
//! to a recomputation: the reports of the purged database equal those of a second database loaded
//! with only the kept data (`src/store/retention.rs` says why no stored fact needs a rewrite).
//!
//! The tests call the store function the command calls, on the test's database; one runs the
//! binary itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use pat_service::db::{schema, DbConnection, Manager};
use pat_service::domain::calendar::london_midnight;
use pat_service::store::audit::{self, AuditEvent};
use pat_service::store::retention::{purge, PurgeCounts, PurgeReport, PurgeRequest};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::scheduling_helpers::{health_worker, id_of, json_with, london_today, now, outcome, slot_at};
use crate::statistics::fixtures::{
    booked_outside_window, nhs_number, no_slot_found, positive_visit, stats, visit, Patient, FUNNEL, OUTCOMES,
    REATTENDANCE, REFERRALS,
};

/// The purge date of every test: five London days ago (the fixture's data is around it).
fn before_date() -> NaiveDate {
    london_today() - Duration::days(5)
}

fn cutoff() -> DateTime<Utc> {
    london_midnight(before_date())
}

fn connect(app: &TestApp) -> DbConnection {
    Manager::new(&app.database_url)
        .expect("url")
        .establish()
        .expect("connect to the test database")
}

fn request(dry_run: bool, batch_size: usize) -> PurgeRequest {
    PurgeRequest {
        before: before_date(),
        cutoff: cutoff(),
        batch_size,
        dry_run,
        actor: "records-manager".into(),
    }
}

fn run_purge(app: &TestApp, dry_run: bool, batch_size: usize) -> PurgeReport {
    purge(&mut connect(app), &request(dry_run, batch_size), Utc::now()).expect("the purge runs")
}

const TABLES: [&str; 12] = [
    "attendances",
    "screenings",
    "referrals",
    "referral_versions",
    "bookings",
    "booking_outcome_versions",
    "booking_attempts",
    "booking_summaries",
    "follow_ups",
    "patients",
    "patient_links",
    "audit_events",
];

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Rows per table, read directly.
fn table_counts(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let mut conn = connect(app);
    TABLES
        .iter()
        .map(|table| {
            let c: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
                .get_result(&mut conn)
                .unwrap();
            (*table, c.n)
        })
        .collect()
}

fn counts_of(rows: [(&'static str, i64); 11]) -> PurgeCounts {
    let n = |t: &str| rows.iter().find(|(name, _)| *name == t).unwrap().1 as u64;
    PurgeCounts {
        attendances: n("attendances"),
        screenings: n("screenings"),
        referrals: n("referrals"),
        referral_versions: n("referral_versions"),
        bookings: n("bookings"),
        booking_outcome_versions: n("booking_outcome_versions"),
        booking_attempts: n("booking_attempts"),
        booking_summaries: n("booking_summaries"),
        follow_ups: n("follow_ups"),
        patients: n("patients"),
        patient_links: n("patient_links"),
    }
}

/// What the fixture's purge removes, by hand (see `load`):
///   attendances A1 A2 B1 K1 L1 M1 = 6; screenings A1 A2 B1 = 3; referrals A1 B1 = 2, A1's
///   first decision = 1 referral version; A1's booking = 1, its first outcome = 1 outcome
///   version, its unmet attempt = 1, its booking summary = 1; B1's follow-up = 1; patients B,
///   L, M = 3 (K stays: linked to A, who has attendances left); the link L→M = 1.
fn removed_by_hand() -> PurgeCounts {
    counts_of([
        ("attendances", 6),
        ("screenings", 3),
        ("referrals", 2),
        ("referral_versions", 1),
        ("bookings", 1),
        ("booking_outcome_versions", 1),
        ("booking_attempts", 1),
        ("booking_summaries", 1),
        ("follow_ups", 1),
        ("patients", 3),
        ("patient_links", 1),
    ])
}

/// The rows before the purge, by hand: attendances A1–A4, B1, K1, L1, M1, C1 = 9; screenings
/// A1 A2 A3 B1 C1 = 5; referrals A1 A3 B1 C1 = 4; referral versions 1 (A1's first); bookings
/// A1 C1 = 2; outcome versions 1 (A1's first); attempts 1 (A1); summaries A1 C1 = 2 (A3 was
/// declined: nothing booked or tried); follow-ups 1 (B1); patients A B C K L M = 6; links
/// K→A, L→M = 2.
fn rows_before_by_hand() -> [(&'static str, i64); 11] {
    [
        ("attendances", 9),
        ("screenings", 5),
        ("referrals", 4),
        ("referral_versions", 1),
        ("bookings", 2),
        ("booking_outcome_versions", 1),
        ("booking_attempts", 1),
        ("booking_summaries", 2),
        ("follow_ups", 1),
        ("patients", 6),
        ("patient_links", 2),
    ]
}

/// The kept rows: before minus removed.
fn rows_after_by_hand() -> [(&'static str, i64); 11] {
    let removed = removed_by_hand().rows();
    let mut rows = rows_before_by_hand();
    for (i, (table, n)) in rows.iter_mut().enumerate() {
        assert_eq!(removed[i].0, *table);
        *n -= removed[i].1 as i64;
    }
    rows
}

/// The attendances the fixture keeps (arriving after the cutoff).
struct Kept {
    a3: String,
    a4: String,
    c1: String,
    /// C1's booking.
    c1_booking: String,
}

/// Patients by NHS-number seed: A 7101, B 7102, C 7104, M 7103; by local number: K, L.
fn patient_a() -> Patient {
    Patient::nhs(7101)
}

fn patient_c() -> Patient {
    Patient::nhs(7104)
}

/// The kept data (cutoff = London midnight five days ago, X = cutoff):
///   A3 X + 1 d 12:00 fall, positive, declined      (patient A)
///   A4 X + 4 d 12:00 other (a repeat attender: A3 is earlier)
///   C1 X + 2 d 10:00 fall, positive, accepted, booked outside the window into a slot starting
///      in 50 minutes (patient C); attended once the clock is past the slot.
/// 7-day facts: A3 → A4 (3 days) yes; A4 none; C1 none.
async fn load_kept(app: &TestApp, hw: &str) -> Kept {
    let x = cutoff();
    let a3 = positive_visit(
        app,
        &patient_a(),
        "fall",
        None,
        x + Duration::days(1) + Duration::hours(12),
        Some("declined"),
    )
    .await;
    let a4 = visit(
        app,
        &patient_a(),
        "other",
        None,
        x + Duration::days(4) + Duration::hours(12),
    )
    .await;
    let c1 = positive_visit(
        app,
        &patient_c(),
        "fall",
        None,
        x + Duration::days(2) + Duration::hours(10),
        Some("accepted"),
    )
    .await;
    let slot = slot_at(app, hw, now() + Duration::minutes(50)).await;
    let c1_booking = id_of(&booked_outside_window(app, &c1, &slot, "patient_preference").await);
    Kept { a3, a4, c1, c1_booking }
}

async fn attended(app: &TestApp, booking: &str) {
    let body = json!({ "status": "attended", "brief_intervention_delivered": true, "units_per_week": 30 });
    json_with(outcome(app, booking, &body).await, 200, "recording attended").await;
}

async fn patient_id_of(app: &TestApp, attendance: &str) -> String {
    let a = json_with(
        app.get(&format!("/api/v1/attendances/{attendance}"), "clinician").await,
        200,
        "reading an attendance",
    )
    .await;
    a["patient"]["id"].as_str().unwrap().to_owned()
}

async fn trace(app: &TestApp, patient: &str, nhs: &str) {
    let resp = app
        .post_json(
            &format!("/api/v1/patients/{patient}/link"),
            "integration",
            &json!({ "nhs_number": nhs, "reason": "PDS trace" }),
        )
        .await;
    json_with(resp, 200, "linking").await;
}

/// The ids of the removed attendances.
struct Removed {
    a1: String,
    a2: String,
}

/// The whole fixture: the removed data, then the kept (`load_kept`), then the links, then the
/// outcomes once the clock is past both slots.
///   A1 X − 20 d 12:00 fall, positive; declined, corrected to accepted (2 versions); an
///      automatic booking finding no slot in the long-past window (an unmet attempt); booked
///      outside the window into a slot starting in 10 minutes; did not attend, corrected to
///      attended (2 versions)
///   K1 X − 15 d 12:00 other (local number K, traced to A's NHS number: one person with A)
///   B1 X − 10 d 12:00 fall, positive, seen in the department at 13:00 with a 6-month follow-up
///   L1 X − 8 d 12:00 fall (local number L, traced to M's NHS number)
///   M1 X − 7 d 12:00 fall (patient M)
///   A2 X − 2 d 12:00 other, screening refused (A2 → A3 in 3 days: A2 reattended within 7 days)
async fn load(app: &TestApp) -> (Removed, Kept) {
    let x = cutoff();
    let noon = |days: i64| x - Duration::days(days) + Duration::hours(12);
    let hw = health_worker(app).await;
    let a1 = positive_visit(app, &patient_a(), "fall", None, noon(20), Some("declined")).await;
    let corrected = app
        .put_json(
            &format!("/api/v1/attendances/{a1}/referral"),
            "ahw",
            &json!({ "decision": "accepted", "reason": "the patient changed their mind" }),
        )
        .await;
    json_with(corrected, 200, "correcting A1's decision").await;
    no_slot_found(app, &a1).await;
    let s1 = slot_at(app, &hw, now() + Duration::minutes(10)).await;
    let a1_booking = id_of(&booked_outside_window(app, &a1, &s1, "patient_preference").await);
    let k1 = visit(app, &Patient::local("PURGE-K1"), "other", None, noon(15)).await;
    let b1 = positive_visit(app, &Patient::nhs(7102), "fall", None, noon(10), None).await;
    let seen = json!({
        "decision": "seen_in_department", "decided_at": (noon(10) + Duration::hours(1)).to_rfc3339(),
        "health_worker_id": hw, "brief_intervention_delivered": true, "units_per_week": 20,
    });
    json_with(
        app.put_json(&format!("/api/v1/attendances/{b1}/referral"), "ahw", &seen)
            .await,
        201,
        "B1 seen in the department",
    )
    .await;
    let follow_up = json!({ "months": 6, "units_per_week": 10, "contacted_at": now().to_rfc3339() });
    json_with(
        app.post_json(&format!("/api/v1/attendances/{b1}/follow-ups"), "ahw", &follow_up)
            .await,
        201,
        "B1's follow-up",
    )
    .await;
    let l1 = visit(app, &Patient::local("PURGE-L1"), "fall", None, noon(8)).await;
    visit(app, &Patient::nhs(7103), "fall", None, noon(7)).await;
    let a2 = visit(app, &patient_a(), "other", None, noon(2)).await;
    json_with(
        app.record_screening(
            &a2,
            &json!({ "status": "refused", "screened_at": noon(2).to_rfc3339() }),
        )
        .await,
        201,
        "A2's screening refused",
    )
    .await;
    let kept = load_kept(app, &hw).await;
    trace(app, &patient_id_of(app, &k1).await, &nhs_number(7101)).await;
    trace(app, &patient_id_of(app, &l1).await, &nhs_number(7103)).await;
    // Both slots have started and ended.
    app.advance_clock(Duration::hours(2));
    json_with(
        outcome(app, &a1_booking, &json!({ "status": "did_not_attend" })).await,
        200,
        "A1 did not attend",
    )
    .await;
    let body = json!({
        "status": "attended", "brief_intervention_delivered": true, "units_per_week": 30,
        "corrects": true, "correction_reason": "the patient came after all",
    });
    json_with(outcome(app, &a1_booking, &body).await, 200, "A1's outcome corrected").await;
    attended(app, &kept.c1_booking).await;
    (Removed { a1, a2 }, kept)
}

/// The kept data alone, in a database of its own: the recomputation.
async fn rebuild() -> TestApp {
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let kept = load_kept(&app, &hw).await;
    app.advance_clock(Duration::hours(2));
    attended(&app, &kept.c1_booking).await;
    app
}

/// Every statistics report over a range covering all the data (from 40 days before the cutoff to
/// a month from now), as JSON.
async fn reports(app: &TestApp) -> Vec<Value> {
    let range = format!(
        "from={}&to={}",
        before_date() - Duration::days(40),
        london_today() + Duration::days(30)
    );
    let mut answers = vec![];
    for path in [FUNNEL, REATTENDANCE, REFERRALS, OUTCOMES] {
        answers.push(stats(app, &format!("{path}?{range}")).await);
    }
    answers.push(stats(app, &format!("{FUNNEL}?{range}&group_by=month")).await);
    answers.push(stats(app, &format!("{FUNNEL}?{range}&group_by=presenting_condition")).await);
    answers
}

/// (attendance id, stored 7-day fact) of every attendance.
fn seven_day_facts(app: &TestApp) -> BTreeMap<String, bool> {
    #[derive(QueryableByName)]
    struct Fact {
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = BigInt)]
        fact: i64,
    }
    let facts: Vec<Fact> = diesel::sql_query(
        "SELECT CAST(id AS text) AS id, CAST(CASE WHEN unplanned_within_7d THEN 1 ELSE 0 END AS bigint) AS fact \
         FROM attendances",
    )
    .load(&mut connect(app))
    .unwrap();
    facts.into_iter().map(|f| (f.id, f.fact == 1)).collect()
}

fn audit_trail(app: &TestApp) -> Vec<AuditEvent> {
    schema::audit_events::table
        .select(audit::COLUMNS)
        .order(schema::audit_events::id)
        .load(&mut connect(app))
        .unwrap()
}

fn rows_now(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let mut counts = table_counts(app);
    counts.remove("audit_events");
    counts
}

fn map(rows: [(&'static str, i64); 11]) -> BTreeMap<&'static str, i64> {
    rows.into_iter().collect()
}

/// The detail a purge event carries, as JSON.
fn event_detail(event: &AuditEvent) -> Value {
    serde_json::from_str(event.detail.as_deref().expect("a purge event has a detail")).unwrap()
}

fn removed_json(counts: &PurgeCounts) -> Value {
    let mut removed = serde_json::Map::new();
    for (table, n) in counts.rows() {
        removed.insert(table.to_owned(), json!(n));
    }
    Value::Object(removed)
}

#[tokio::test]
async fn purge_removes_attendances_before_the_cutoff_and_keeps_statistics_true() {
    // Arrange: the fixture, and a second database with only the kept data.
    let app = spawn_app().await;
    let (removed, kept) = load(&app).await;
    assert_eq!(rows_now(&app), map(rows_before_by_hand()), "the fixture's rows");
    let facts = seven_day_facts(&app);
    // A2 (X − 2 d) was followed by A3 (X + 1 d): a 7-day return of an attendance that goes.
    assert!(facts[&removed.a2], "A2 reattended within 7 days");
    let recomputed = rebuild().await;
    let expected = reports(&recomputed).await;
    // The comparison can fail: before the purge the figures differ (the removed attendances
    // count in the 40 days before the cutoff).
    assert_ne!(
        reports(&app).await,
        expected,
        "the removed data shows in the reports before the purge"
    );
    let kept_rows: Vec<Value> = {
        let mut rows = vec![];
        for id in [&kept.a3, &kept.a4, &kept.c1] {
            rows.push(
                json_with(
                    app.get(&format!("/api/v1/attendances/{id}"), "clinician").await,
                    200,
                    "a kept attendance",
                )
                .await,
            );
        }
        rows
    };
    let trail_before = audit_trail(&app);

    // Act
    let report = run_purge(&app, false, 1000);
    // (Read now: the reads below are audited, and add events of their own.)
    let trail_after = audit_trail(&app);

    // Assert: the counts by hand, in the report and in the tables.
    assert_eq!(report.counts, removed_by_hand());
    assert_eq!(report.batches, 1, "six attendances: one batch of up to 1000");
    assert_eq!(rows_now(&app), map(rows_after_by_hand()));
    for id in [&removed.a1, &removed.a2] {
        let gone = app.get(&format!("/api/v1/attendances/{id}"), "clinician").await;
        assert_eq!(gone.status().as_u16(), 404, "a removed attendance is gone");
    }
    // The kept attendances read exactly as before (their screenings, decisions and indications:
    // A3 stays a repeat attender, which the nurse was told at the time).
    for (id, before) in [&kept.a3, &kept.a4, &kept.c1].into_iter().zip(&kept_rows) {
        let after = json_with(
            app.get(&format!("/api/v1/attendances/{id}"), "clinician").await,
            200,
            "a kept attendance after the purge",
        )
        .await;
        assert_eq!(&after, before, "a kept attendance is untouched");
    }
    assert_eq!(kept_rows[0]["indications"], json!(["fall", "repeat_attender"]));
    // The 7-day facts: A3 → A4 yes, A4 no, C1 no; nothing else left.
    let facts = seven_day_facts(&app);
    let expected_facts: BTreeMap<String, bool> = [
        (kept.a3.clone(), true),
        (kept.a4.clone(), false),
        (kept.c1.clone(), false),
    ]
    .into_iter()
    .collect();
    assert_eq!(facts, expected_facts);
    // Every report equals the recomputation from the kept data alone.
    assert_eq!(reports(&app).await, expected);
    // The audit trail: every event as it was, plus exactly one purge event with the counts.
    assert_eq!(trail_after.len(), trail_before.len() + 1);
    let new: Vec<&AuditEvent> = trail_after.iter().filter(|e| !trail_before.contains(e)).collect();
    assert_eq!(new.len(), 1, "one new event");
    let event = new[0];
    assert_eq!(Some(event), report.audit_event.as_ref());
    assert_eq!(
        (
            event.action.as_str(),
            event.resource_type.as_str(),
            event.actor.as_str()
        ),
        ("purge", "attendances", "records-manager")
    );
    assert_eq!(event.resource_id, format!("before {}", before_date()));
    assert_eq!(event.patient_key, None);
    assert_eq!(
        event_detail(event),
        json!({
            "before": before_date().to_string(),
            "cutoff": cutoff().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "batch_size": 1000,
            "batches": 1,
            "removed": removed_json(&removed_by_hand()),
        })
    );

    // Act: again.
    let trail_before = audit_trail(&app);
    let again = run_purge(&app, false, 1000);
    let trail_after = audit_trail(&app);

    // Assert: nothing more; a zero-count event all the same.
    assert_eq!(again.counts, PurgeCounts::default());
    assert_eq!(again.batches, 0);
    assert_eq!(rows_now(&app), map(rows_after_by_hand()));
    let event = again.audit_event.expect("a second run records its event too");
    assert_eq!(event_detail(&event)["removed"], removed_json(&PurgeCounts::default()));
    assert_eq!(trail_after.len(), trail_before.len() + 1);
    assert_eq!(
        trail_after.last(),
        Some(&event),
        "the newest event (ids are time-ordered)"
    );
}

#[tokio::test]
async fn purge_dry_run_removes_nothing() {
    // Arrange
    let app = spawn_app().await;
    load(&app).await;
    let rows_before = rows_now(&app);
    let trail_before = audit_trail(&app);
    let facts_before = seven_day_facts(&app);

    // Act: a dry run in batches of 1 and in batches of 1000.
    let one = run_purge(&app, true, 1);
    let thousand = run_purge(&app, true, 1000);

    // Assert: the counts of a real run, nothing removed, no event.
    assert_eq!(one.counts, removed_by_hand(), "batches of 1");
    assert_eq!(thousand.counts, removed_by_hand(), "batches of 1000");
    assert_eq!((one.batches, thousand.batches), (6, 1));
    assert_eq!(one.audit_event, None);
    assert_eq!(rows_now(&app), rows_before);
    assert_eq!(audit_trail(&app), trail_before, "a dry run records no event");
    assert_eq!(seven_day_facts(&app), facts_before);

    // Act: the real run, one attendance per transaction.
    let real = run_purge(&app, false, 1);

    // Assert: what the dry run said, and the rows of a run in batches of 1000.
    assert_eq!(real.counts, removed_by_hand());
    assert_eq!(real.batches, 6, "one batch per attendance");
    assert_eq!(rows_now(&app), map(rows_after_by_hand()));
}

#[tokio::test]
async fn purge_never_touches_audit_events() {
    // Arrange: the fixture; its audit trail names the removed attendances.
    let app = spawn_app().await;
    let (removed, _) = load(&app).await;
    let trail_before = audit_trail(&app);
    let about_a1 = trail_before.iter().filter(|e| e.resource_id == removed.a1).count();
    assert!(about_a1 >= 1, "A1's creation is in the trail");

    // Act
    run_purge(&app, false, 2);

    // Assert: every earlier event is still there, unchanged, including those about A1.
    let trail_after = audit_trail(&app);
    for event in &trail_before {
        assert!(
            trail_after.contains(event),
            "kept: {} {}",
            event.action,
            event.resource_type
        );
    }
    assert_eq!(
        trail_after.iter().filter(|e| e.resource_id == removed.a1).count(),
        about_a1
    );
    // And the database itself refuses to remove one.
    let refused = diesel::sql_query("DELETE FROM audit_events").execute(&mut connect(&app));
    assert!(refused.is_err(), "the trail is append-only");
    assert_eq!(audit_trail(&app).len(), trail_before.len() + 1);
}

/// The command: a date after today is refused with a clear message and changes nothing; a dry
/// run prints the table; a run prints the removed rows and records its event.
#[tokio::test]
async fn the_purge_command_refuses_a_future_date_and_prints_its_counts() {
    let app = spawn_app().await;
    load(&app).await;
    let rows_before = rows_now(&app);
    let trail_before = audit_trail(&app).len();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pat-service"))
            .arg("purge")
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .env_remove("PAT_JWT_SECRET")
            .output()
            .expect("the binary runs")
    };
    let tomorrow = (london_today() + Duration::days(1)).to_string();

    let future = run(&["--before", &tomorrow, "--actor", "records-manager"]);
    assert!(!future.status.success());
    let stderr = String::from_utf8_lossy(&future.stderr);
    assert!(stderr.contains("is after today"), "{stderr}");
    assert_eq!(rows_now(&app), rows_before);

    let dry = run(&[
        "--before",
        &before_date().to_string(),
        "--dry-run",
        "--actor",
        "records-manager",
    ]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(stdout.contains("would remove"), "{stdout}");
    assert!(line_says(&stdout, "attendances", 6), "{stdout}");
    assert_eq!(rows_now(&app), rows_before);
    assert_eq!(audit_trail(&app).len(), trail_before);

    let real = run(&["--before", &before_date().to_string(), "--actor", "records-manager"]);
    let stdout = String::from_utf8_lossy(&real.stdout);
    assert!(
        real.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&real.stderr)
    );
    assert!(line_says(&stdout, "attendances", 6), "{stdout}");
    assert!(line_says(&stdout, "patients", 3), "{stdout}");
    assert_eq!(rows_now(&app), map(rows_after_by_hand()));
    assert_eq!(audit_trail(&app).len(), trail_before + 1);
}

/// Whether `output` has the line `<table> <n>` (spaces between).
fn line_says(output: &str, table: &str, n: u64) -> bool {
    output.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words == [table, &n.to_string()]
    })
}

/// One attendance of local number `local` arriving at `at`, as the JSON API records it.
fn local_attendance(local: &str, source_id: &str, at: DateTime<Utc>) -> Value {
    json!({
        "source_system": "race-epr",
        "source_id": source_id,
        "patient": { "local_id": local, "sex": "female" },
        "arrived_at": at.to_rfc3339(),
        "presenting_condition": "fall"
    })
}

#[tokio::test]
async fn a_purge_racing_new_attendances_of_linked_patients_removes_only_the_old_ones() {
    // Arrange: local numbers K and L, traced to one NHS number (one person), with 15 attendances
    // each before the cutoff. A new attendance of either locks both patients, as a purge batch
    // of an old one does: on PostgreSQL the two may deadlock, and the loser runs again.
    let app = spawn_app().await;
    let x = cutoff();
    let mut patients = vec![];
    for local in ["RACE-K", "RACE-L"] {
        for i in 0..15 {
            let at = x - Duration::days(3) + Duration::hours(i);
            let old = app
                .create_attendance(&local_attendance(local, &format!("old-{local}-{i}"), at))
                .await;
            if i == 0 {
                patients.push(old["patient"]["id"].as_str().unwrap().to_owned());
            }
        }
    }
    let nhs = nhs_number(7301);
    for patient in &patients {
        trace(&app, patient, &nhs).await;
    }

    // Act: the purge, one attendance per transaction, while 40 new attendances arrive.
    let database_url = app.database_url.clone();
    let purge_run = tokio::task::spawn_blocking(move || {
        let mut conn = Manager::new(&database_url).expect("url").establish().expect("connect");
        purge(&mut conn, &request(false, 1), Utc::now())
    });
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..40 {
        let client = app.client.clone();
        let url = app.url("/api/v1/attendances");
        let token = app.token("integration");
        let local = if i % 2 == 0 { "RACE-K" } else { "RACE-L" };
        let body = local_attendance(local, &format!("new-{i}"), Utc::now() - Duration::minutes(i));
        posts.spawn(async move {
            let response = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    let mut new_ids = vec![];
    while let Some(joined) = posts.join_next().await {
        let (status, body) = joined.unwrap();
        assert_eq!(status, 201, "every new attendance is recorded: {body}");
        new_ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let report = purge_run.await.unwrap().expect("the purge runs to its end");

    // Assert: the 30 old attendances went, in 30 batches; the 40 new ones are all there.
    assert_eq!(report.counts.attendances, 30);
    assert_eq!(report.batches, 30);
    assert_eq!(table_counts(&app)["attendances"], 40);
    for id in &new_ids {
        let read = app.get(&format!("/api/v1/attendances/{id}"), "clinician").await;
        assert_eq!(read.status().as_u16(), 200, "attendance {id} is kept");
    }
}
