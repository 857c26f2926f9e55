//! Two instances of the service on one database, as behind a load balancer (docs/design.md §6,
//! §8): each has its own port, connection pool and (PostgreSQL) write-batch queues, so nothing in
//! one process can keep the other from breaking a rule; only the database can. Requests fired at
//! once (a barrier) are split between the two. On SQLite the two share one file; on PostgreSQL
//! (`TEST_DATABASE_URL`) one database, with write batches on unless `TEST_WRITE_BATCH_SIZE=0`.

use std::collections::BTreeMap;
use std::sync::Arc;

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{attendance_body, spawn_app, TestApp};
use crate::scheduling_helpers::{accepted_attendance, health_worker, id_of, list_slots, now, slot_at, BOOKINGS};

const ATTENDANCES: &str = "/api/v1/attendances";

/// One request of a burst: which instance (0 or 1) gets it, the role, the path and the body.
struct Shot {
    instance: usize,
    role: &'static str,
    path: String,
    body: Value,
}

/// Fires every POST at once (a barrier holds each until all are ready); answers, in the order
/// given, which instance answered, the status and the JSON body.
async fn fire(instances: [&TestApp; 2], shots: Vec<Shot>) -> Vec<(usize, u16, Value)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(shots.len()));
    let mut tasks = Vec::new();
    for shot in shots {
        let app = instances[shot.instance];
        let request = app
            .client
            .post(app.url(&shot.path))
            .bearer_auth(app.token(shot.role))
            .json(&shot.body);
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let resp = request.send().await.expect("the request is answered");
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.expect("a JSON answer");
            (shot.instance, status, body)
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// A direct connection to the test database both instances use.
fn connect(app: &TestApp) -> pat_service::db::DbConnection {
    pat_service::db::Manager::new(&app.database_url)
        .unwrap()
        .establish()
        .unwrap()
}

/// `SELECT COUNT(*) ...` on the shared database.
fn count(conn: &mut pat_service::db::DbConnection, sql: &str) -> i64 {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("({sql})")))
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_book_one_slot_once() {
    // Arrange: 40 accepted referrals (40 attendances of one patient, each screened positive an
    // hour ago) and one free slot two hours from now, all made through instance A.
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let hw = health_worker(&a).await;
    let contested = slot_at(&a, &hw, now() + chrono::Duration::hours(2)).await;
    let mut referrals = Vec::new();
    for _ in 0..40 {
        referrals.push(accepted_attendance(&a).await);
    }
    let shots = referrals
        .iter()
        .enumerate()
        .map(|(i, attendance)| Shot {
            instance: i % 2,
            role: "clinician",
            path: BOOKINGS.to_owned(),
            body: json!({ "attendance_id": attendance, "slot_id": contested }),
        })
        .collect();

    // Act
    let answers = fire([&a, &b], shots).await;

    // Assert: one booking; the 39 others the documented 409 slot-taken, from either instance.
    let backend = a.backend;
    let winners: Vec<&(usize, u16, Value)> = answers.iter().filter(|(_, s, _)| *s == 201).collect();
    assert_eq!(winners.len(), 1, "{backend}: exactly one booking: {answers:?}");
    for (instance, status, body) in answers.iter().filter(|(_, s, _)| *s != 201) {
        assert_eq!(*status, 409, "{backend}: instance {instance}: a conflict: {body}");
        assert_eq!(body["type"], "urn:pat-service:problem:slot-taken", "{body}");
    }
    assert_eq!(
        answers.iter().filter(|(i, _, _)| *i == 1).count(),
        20,
        "half the requests went to instance B"
    );
    let winner = &winners[0].2;
    assert_eq!(winner["slot_id"], json!(contested));
    // Both instances show the slot held by the one winner.
    for app in [&a, &b] {
        let slots = list_slots(app, &format!("health_worker_id={hw}")).await;
        assert_eq!(slots.len(), 1);
        assert_eq!(
            slots[0]["booking_id"], winner["id"],
            "{}: the slot names the winner",
            app.address
        );
    }
    // The database: one booking row at all, and it is active.
    let mut conn = connect(&a);
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM bookings"), 1, "{backend}");
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM bookings WHERE status = 'booked'"),
        1,
        "{backend}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_record_one_attendance_from_fifty_retries() {
    // Arrange: an integration engine retrying one attendance 50 times at once, through a load
    // balancer that alternates between the instances.
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let body = attendance_body("two-instances-retry");
    let shots = (0..50)
        .map(|i| Shot {
            instance: i % 2,
            role: "integration",
            path: ATTENDANCES.to_owned(),
            body: body.clone(),
        })
        .collect();

    // Act
    let answers = fire([&a, &b], shots).await;

    // Assert: one 201, 49 replays (200), every answer the same attendance.
    let backend = a.backend;
    let statuses: Vec<u16> = answers.iter().map(|(_, s, _)| *s).collect();
    assert_eq!(
        (
            statuses.iter().filter(|s| **s == 201).count(),
            statuses.iter().filter(|s| **s == 200).count()
        ),
        (1, 49),
        "{backend}: one created, 49 replayed: {statuses:?}"
    );
    let id = &answers[0].2["id"];
    assert!(id.is_string(), "{:?}", answers[0]);
    for (instance, _, answer) in &answers {
        assert_eq!(
            &answer["id"], id,
            "{backend}: instance {instance} names the same attendance"
        );
        assert_eq!(answer["source_id"], "two-instances-retry");
    }
    let mut conn = connect(&a);
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM attendances"), 1, "{backend}");
    for app in [&a, &b] {
        let resp = app
            .get(&format!("{ATTENDANCES}/{}", id.as_str().unwrap()), "clinician")
            .await;
        assert_eq!(resp.status().as_u16(), 200, "{}", app.address);
    }
}

#[derive(QueryableByName)]
struct SevenDayFact {
    #[diesel(sql_type = diesel::sql_types::Text)]
    source_id: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    unplanned_within_7d: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_simultaneous_arrivals_keep_seven_day_facts() {
    // Arrange: ten attendances of one patient (NHS 9434765919), each sent twice (once to each
    // instance, as a retry would), all 20 at once. Winter: London = UTC. The 7-day fact
    // (docs/domain.md §7): followed by an unplanned attendance of the same patient in
    // (arrival, arrival + 7 days]; a planned return does not count, a planned attendance can be
    // followed by one.
    //   a0 2025-01-05T12:00 unplanned  a1 within 1d20h           → yes (before the period)
    //   a1 2025-01-07T08:00 unplanned  a2 within 2d12h           → yes
    //   a2 2025-01-09T20:00 unplanned  a3 exactly 7 days later   → yes
    //   a3 2025-01-16T20:00 unplanned  only a4 (planned) within; a5 is 7d + 1 min → no
    //   a4 2025-01-20T10:00 planned    a5 within 3d10h01m        → yes
    //   a5 2025-01-23T20:01 unplanned  a6 planned; a7 within 6d12h59m → yes
    //   a6 2025-01-24T09:00 planned    a7 within 6d              → yes
    //   a7 2025-01-30T09:00 unplanned  a8 within 3d14h30m        → yes
    //   a8 2025-02-02T23:30 unplanned  a9 is 7d + 1 min later    → no
    //   a9 2025-02-09T23:31 unplanned  nothing after             → no (after the period)
    // Period [2025-01-06, 2025-02-03): a1..a8 = 8 attendances; reattended a1 a2 a4 a5 a6 a7 = 6;
    // rate 6/8 = 0.75.
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let arrivals = [
        ("a0", "2025-01-05T12:00:00Z", "unplanned", true),
        ("a1", "2025-01-07T08:00:00Z", "unplanned", true),
        ("a2", "2025-01-09T20:00:00Z", "unplanned", true),
        ("a3", "2025-01-16T20:00:00Z", "unplanned", false),
        ("a4", "2025-01-20T10:00:00Z", "planned", true),
        ("a5", "2025-01-23T20:01:00Z", "unplanned", true),
        ("a6", "2025-01-24T09:00:00Z", "planned", true),
        ("a7", "2025-01-30T09:00:00Z", "unplanned", true),
        ("a8", "2025-02-02T23:30:00Z", "unplanned", false),
        ("a9", "2025-02-09T23:31:00Z", "unplanned", false),
    ];
    let mut shots = Vec::new();
    for (instance_first, (source_id, arrived_at, category, _)) in arrivals.iter().enumerate() {
        let mut body = attendance_body(source_id);
        body["arrived_at"] = json!(arrived_at);
        body["attendance_category"] = json!(category);
        // The first copy alternates between the instances; the retry goes to the other one.
        for instance in [instance_first % 2, (instance_first + 1) % 2] {
            shots.push(Shot {
                instance,
                role: "integration",
                path: ATTENDANCES.to_owned(),
                body: body.clone(),
            });
        }
    }

    // Act
    let answers = fire([&a, &b], shots).await;

    // Assert: each attendance created once (one 201, one 200 naming the same id).
    let backend = a.backend;
    let mut by_source: BTreeMap<String, Vec<(u16, Value)>> = BTreeMap::new();
    for (_, status, body) in answers {
        let source_id = body["source_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{backend}: {status} {body}"))
            .to_owned();
        by_source.entry(source_id).or_default().push((status, body));
    }
    assert_eq!(by_source.len(), 10);
    for (source_id, answers) in &by_source {
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 201],
            "{backend}: {source_id}: created once, replayed once"
        );
        assert_eq!(answers[0].1["id"], answers[1].1["id"], "{backend}: {source_id}");
        assert_eq!(answers[0].1["patient"], answers[1].1["patient"]);
    }
    let ids: std::collections::BTreeSet<String> = by_source.values().map(|answers| id_of(&answers[0].1)).collect();
    assert_eq!(ids.len(), 10, "ten different attendances");

    // The facts the triggers keep, one per attendance, as sequential arrival gives them.
    let mut conn = connect(&a);
    let facts: BTreeMap<String, bool> = diesel::sql_query("SELECT source_id, unplanned_within_7d FROM attendances")
        .load::<SevenDayFact>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|f| (f.source_id, f.unplanned_within_7d))
        .collect();
    let expected: BTreeMap<String, bool> = arrivals
        .iter()
        .map(|(source_id, _, _, fact)| (source_id.to_string(), *fact))
        .collect();
    assert_eq!(facts, expected, "{backend}: the 7-day fact of each attendance");

    // The indicator, through the statistics API of each instance.
    for app in [&a, &b] {
        let resp = app
            .get(
                "/api/v1/statistics/reattendance?from=2025-01-06&to=2025-02-03",
                "auditor",
            )
            .await;
        assert_eq!(resp.status().as_u16(), 200, "{}", app.address);
        let report: Value = resp.json().await.unwrap();
        assert_eq!(
            report["seven_day"],
            json!({
                "measure": report["seven_day"]["measure"],
                "window_days": 7,
                "attendances": 8,
                "reattended_within_7_days": 6,
                "rate": 0.75,
            }),
            "{backend}: the 7-day indicator on {}",
            app.address
        );
    }
}
