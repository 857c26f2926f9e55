//! `POST /api/v1/attendances/{id}/entered-in-error` (issue 11 §1): an attendance recorded by
//! mistake is marked, stays readable with who, when and why, frees its slot, leaves the
//! repeat-attender count of later attendances, and is refused while an appointment of it was
//! attended. The statistics side is in `statistics/entered_in_error.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp};
use crate::scheduling_helpers::{
    accepted_attendance, assert_kind, attendance_of, book, booked, events_about, fields, health_worker, id_of,
    json_with, negative_answers, now, outcome, referral_path, slot_at, BOOKINGS,
};

fn mark_path(id: &str) -> String {
    format!("/api/v1/attendances/{id}/entered-in-error")
}

async fn mark_as(app: &TestApp, id: &str, role: &str, reason: &str) -> reqwest::Response {
    app.post_json(&mark_path(id), role, &json!({ "reason": reason })).await
}

/// Marks the attendance as a clinician; asserts 200; answers the attendance.
async fn mark(app: &TestApp, id: &str, reason: &str) -> Value {
    json_with(
        mark_as(app, id, "clinician", reason).await,
        200,
        "marking entered-in-error",
    )
    .await
}

async fn read(app: &TestApp, id: &str) -> Value {
    json_with(
        app.get(&format!("/api/v1/attendances/{id}"), "clinician").await,
        200,
        "reading the attendance",
    )
    .await
}

async fn read_booking(app: &TestApp, id: &str) -> Value {
    json_with(
        app.get(&format!("{BOOKINGS}/{id}"), "ahw").await,
        200,
        "reading the booking",
    )
    .await
}

#[tokio::test]
async fn a_marked_attendance_stays_readable_with_who_when_and_why() {
    let app = spawn_app().await;
    let id = attendance_of(&app, json!({ "local_id": "EIE-1" }), "fall", now() - Duration::hours(2)).await;
    assert_eq!(read(&app, &id).await["record_status"], "current");
    assert_eq!(read(&app, &id).await["entered_in_error"], Value::Null);

    let marked = mark(&app, &id, "  duplicate of the 10:02 message  ").await;

    assert_eq!(marked["record_status"], "entered_in_error");
    let mark = &marked["entered_in_error"];
    assert_eq!(mark["by"], "test-clinician");
    assert_eq!(mark["reason"], "duplicate of the 10:02 message", "trimmed");
    let at: chrono::DateTime<chrono::Utc> = serde_json::from_value(mark["at"].clone()).unwrap();
    assert!((at - now()).num_seconds().abs() < 60, "marked now: {mark}");
    // The clinical content is unchanged and still shown.
    assert_eq!(marked["presenting_condition"], "fall");
    assert_eq!(marked["patient"]["local_id"], "EIE-1");
    assert_eq!(read(&app, &id).await["entered_in_error"], *mark);

    // The change is in the audit trail, as an update of the attendance.
    let updates: Vec<Value> = events_about(&app, "attendance")
        .await
        .into_iter()
        .filter(|e| e["resource_id"] == id.as_str() && e["action"] == "update")
        .collect();
    assert_eq!(updates.len(), 1, "one audited change: {updates:?}");
    assert_eq!(updates[0]["actor"], "test-clinician");
}

#[tokio::test]
async fn marking_again_answers_the_first_mark() {
    let app = spawn_app().await;
    let id = attendance_of(
        &app,
        json!({ "local_id": "EIE-2" }),
        "collapse",
        now() - Duration::hours(1),
    )
    .await;
    let first = mark(&app, &id, "wrong patient").await;

    // A retry (or a second person) with another reason: the first mark stands, nothing changes.
    let again = json_with(
        mark_as(&app, &id, "integration", "duplicate").await,
        200,
        "marking a marked attendance",
    )
    .await;
    assert_eq!(again["entered_in_error"], first["entered_in_error"]);
    assert_eq!(again["entered_in_error"]["reason"], "wrong patient");
    let updates = events_about(&app, "attendance")
        .await
        .into_iter()
        .filter(|e| e["resource_id"] == id.as_str() && e["action"] == "update")
        .count();
    assert_eq!(updates, 1, "the repeat changed nothing");
}

#[tokio::test]
async fn marking_cancels_the_booking_and_frees_its_slot() {
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::hours(3)).await;
    let first = accepted_attendance(&app).await;
    let booking = id_of(&booked(&app, &first, &slot).await);

    let marked = mark(&app, &first, "duplicate").await;

    let cancelled = read_booking(&app, &booking).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(marked["bookings"][0]["status"], "cancelled", "{marked}");
    // The slot is free again: another patient's accepted referral books it.
    let second = accepted_attendance(&app).await;
    let rebooked = booked(&app, &second, &slot).await;
    assert_eq!(rebooked["status"], "booked");
    // Nothing more is recorded against the marked attendance: no booking, no referral decision,
    // no screening correction.
    assert_kind(
        book(&app, &first, None).await,
        409,
        "entered-in-error",
        "booking for an attendance entered in error",
    )
    .await;
    assert_kind(
        app.put_json(&referral_path(&first), "clinician", &json!({ "decision": "declined" }))
            .await,
        409,
        "entered-in-error",
        "a referral decision for an attendance entered in error",
    )
    .await;
    assert_kind(
        app.post_json(
            &format!("/api/v1/attendances/{first}/follow-ups"),
            "ahw",
            &json!({ "months": 6, "units_per_week": 10 }),
        )
        .await,
        409,
        "entered-in-error",
        "a follow-up for an attendance entered in error",
    )
    .await;
    let correction = json!({ "status": "completed", "rule": "pat-2009", "answers": negative_answers() });
    assert_kind(
        app.record_screening(&first, &correction).await,
        409,
        "entered-in-error",
        "a screening correction for an attendance entered in error",
    )
    .await;
}

#[tokio::test]
async fn an_attended_appointment_blocks_the_mark_and_nothing_changes() {
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::minutes(10)).await;
    let id = accepted_attendance(&app).await;
    let booking = id_of(&booked(&app, &id, &slot).await);
    app.advance_clock(Duration::hours(1));
    let attended = json!({ "status": "attended", "brief_intervention_delivered": true, "units_per_week": 20 });
    json_with(outcome(&app, &booking, &attended).await, 200, "attended").await;

    assert_kind(
        mark_as(&app, &id, "clinician", "duplicate").await,
        409,
        "outcome-recorded",
        "marking an attendance whose appointment was attended",
    )
    .await;

    let after = read(&app, &id).await;
    assert_eq!(after["record_status"], "current");
    assert_eq!(read_booking(&app, &booking).await["status"], "attended");
}

#[tokio::test]
async fn a_did_not_attend_appointment_does_not_block_the_mark() {
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::minutes(10)).await;
    let id = accepted_attendance(&app).await;
    let booking = id_of(&booked(&app, &id, &slot).await);
    app.advance_clock(Duration::hours(1));
    json_with(
        outcome(&app, &booking, &json!({ "status": "did_not_attend" })).await,
        200,
        "did not attend",
    )
    .await;

    let marked = mark(&app, &id, "wrong patient").await;

    assert_eq!(marked["record_status"], "entered_in_error");
    // The recorded outcome is history, not an open booking: it stays as it was.
    assert_eq!(read_booking(&app, &booking).await["status"], "did_not_attend");
}

#[tokio::test]
async fn a_marked_attendance_leaves_the_repeat_attender_count() {
    // Repeat attender: at least 1 attendance in the 365 days before (the tests' setting).
    let app = spawn_app().await;
    let start = now() - Duration::days(3);
    // Control: an earlier attendance that stands makes the next one a repeat attender.
    let p = json!({ "local_id": "EIE-REPEAT-P" });
    attendance_of(&app, p.clone(), "other", start).await;
    let control = app
        .create_attendance(&with_patient(p, "other", start + Duration::days(1)))
        .await;
    assert_eq!(control["indications"], json!(["repeat_attender"]));

    // The same history, but the earlier attendance was entered in error: no repeat.
    let q = json!({ "local_id": "EIE-REPEAT-Q" });
    let wrong = attendance_of(&app, q.clone(), "other", start).await;
    mark(&app, &wrong, "wrong patient").await;
    let later = app
        .create_attendance(&with_patient(q, "other", start + Duration::days(1)))
        .await;
    assert_eq!(later["indications"], json!([]));
    assert_eq!(later["pat_indicated"], false);
}

fn with_patient(patient: Value, condition: &str, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "source_system": "eie-test",
        "source_id": format!("eie-{}", uuid::Uuid::new_v4().simple()),
        "patient": patient,
        "arrived_at": crate::scheduling_helpers::rfc(at),
        "presenting_condition": condition,
    })
}

#[tokio::test]
async fn bad_requests_get_clear_answers_and_change_nothing() {
    let app = spawn_app().await;
    let id = attendance_of(&app, json!({ "local_id": "EIE-3" }), "fall", now() - Duration::hours(1)).await;

    // No such attendance.
    let missing = uuid::Uuid::new_v4();
    assert_problem(mark_as(&app, &missing.to_string(), "clinician", "duplicate").await, 404).await;
    // An empty or blank reason, or one too long: 422 naming the field.
    for reason in ["", "   ", &"x".repeat(501)] {
        let problem = assert_problem(mark_as(&app, &id, "clinician", reason).await, 422).await;
        assert_eq!(fields(&problem), vec!["reason"], "{problem}");
    }
    // No reason at all, or an unknown field: 422/400 problem, nothing written.
    let resp = app.post_json(&mark_path(&id), "clinician", &json!({})).await;
    assert!(resp.status().is_client_error());
    // Roles: an AHW and an auditor cannot mark; admin and integration can (below).
    assert_problem(mark_as(&app, &id, "auditor", "duplicate").await, 403).await;
    assert_problem(mark_as(&app, &id, "ahw", "duplicate").await, 403).await;
    assert_eq!(read(&app, &id).await["record_status"], "current");

    let by_admin = json_with(mark_as(&app, &id, "admin", "duplicate").await, 200, "admin marks").await;
    assert_eq!(by_admin["entered_in_error"]["by"], "test-admin");
}
