//! `PUT /api/v1/attendances/{id}/referral` (issue 3, /tmp/scheduling-api.md "Referral decision"):
//! only after a PAT-positive screening, replays and changes, no silent change while a booking is
//! active, no screening correction that flips the result once a decision exists, and the
//! attendance showing its referral and bookings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::scheduling_helpers::{
    accepted_attendance, assert_kind, at, attendance_at, book, booked, cancel, completed, decide, decision_body,
    events_about, fields, health_worker, id_of, json_with, near, negative_answers, now, outcome, positive_answers,
    positive_attendance, positive_attendance_at, refer, referral_path, request_id, rfc, screen, slot_at, PATIENT_KEY,
};

async fn attendance_view(app: &crate::helpers::TestApp, id: &str) -> Value {
    let resp = app.get(&format!("/api/v1/attendances/{id}"), "clinician").await;
    json_with(resp, 200, "GET /attendances/{id}").await
}

#[tokio::test]
async fn a_decision_on_a_positive_screening_is_recorded_replayed_and_changed() {
    // Arrange
    let app = spawn_app().await;
    let id = positive_attendance(&app).await;
    let decided_at = now() - Duration::minutes(30);
    let body = json!({ "decision": "accepted", "decided_at": rfc(decided_at) });
    let before = now();

    // Act
    let first = app.put_json(&referral_path(&id), "clinician", &body).await;

    // Assert
    let first = json_with(first, 201, "the first decision").await;
    assert_eq!(first["attendance_id"], id.as_str());
    assert_eq!(first["decision"], "accepted");
    assert_eq!(at(&first["decided_at"]), decided_at, "decided_at as sent");
    assert!(
        near(at(&first["recorded_at"]), before, 5),
        "recorded_at is the time of the request: {first}"
    );
    assert_eq!(first["recorded_by"], "test-clinician", "recorded_by is the token's sub");

    // Act + Assert: the integration engine retries the same request.
    let replay = app.put_json(&referral_path(&id), "integration", &body).await;
    let replay = json_with(replay, 200, "an identical replay").await;
    assert_eq!(replay["decision"], "accepted");
    assert_eq!(at(&replay["decided_at"]), decided_at);
    assert_eq!(
        replay["recorded_by"], "test-clinician",
        "a replay answers the stored record"
    );

    // Act + Assert: the patient changes their mind, then an AHW sees them in the department.
    // (decision, role, why)
    let changes = [
        ("declined", "ahw", "accepted → declined"),
        ("seen_in_department", "clinician", "declined → seen_in_department"),
        ("accepted", "integration", "seen_in_department → accepted"),
    ];
    for (i, (decision, role, why)) in changes.into_iter().enumerate() {
        let mut body = decision_body(&app, decision).await;
        body["reason"] = json!(why);
        let resp = app.put_json(&referral_path(&id), role, &body).await;
        let changed = json_with(resp, 200, why).await;
        assert_eq!(changed["decision"], decision, "{why}");
        assert_eq!(changed["recorded_by"], format!("test-{role}"), "{why}: who changed it");
        assert_eq!(changed["version"], i + 2, "{why}: each correction is a new version");
        assert_eq!(changed["correction_reason"], why, "{why}: and says why");
        let view = attendance_view(&app, &id).await;
        assert_eq!(view["referral"]["decision"], decision, "{why}: the attendance shows it");
    }
}

#[tokio::test]
async fn decided_at_defaults_to_now() {
    // Arrange
    let app = spawn_app().await;
    let id = positive_attendance(&app).await;
    let before = now();

    // Act
    let decision = decide(&app, &id, "declined").await;

    // Assert
    assert!(near(at(&decision["decided_at"]), before, 5), "{decision}");
}

#[tokio::test]
async fn only_a_pat_positive_attendance_can_have_a_decision() {
    // Arrange: (screening or none, why). Each gets its own attendance.
    let app = spawn_app().await;
    let screened_at = now() - Duration::hours(1);
    let cases: [(Option<Value>, &str); 3] = [
        (Some(completed(screened_at, negative_answers())), "a negative screening"),
        (
            Some(json!({ "status": "refused", "screened_at": rfc(screened_at) })),
            "a screening that did not happen (refused)",
        ),
        (None, "no screening at all"),
    ];
    let mut details = vec![];

    for (screening, why) in cases {
        let id = attendance_at(&app, screened_at - Duration::hours(1)).await;
        if let Some(screening) = screening {
            screen(&app, &id, &screening).await;
        }

        // Act
        let resp = refer(&app, &id, "accepted").await;

        // Assert
        let problem = assert_kind(resp, 409, "not-pat-positive", why).await;
        let detail = problem["detail"].as_str().unwrap().to_owned();
        assert!(!detail.is_empty(), "{why}: the body says why");
        details.push((detail, why));
        let view = attendance_view(&app, &id).await;
        assert_eq!(view["referral"], Value::Null, "{why}: nothing recorded");
    }
    for (i, (detail, why)) in details.iter().enumerate() {
        for (other, other_why) in &details[i + 1..] {
            assert_ne!(
                detail, other,
                "the body says why: {why:?} and {other_why:?} give different reasons"
            );
        }
    }
}

#[tokio::test]
async fn the_current_screening_decides_whether_a_decision_is_allowed() {
    // Arrange: a positive screening corrected to negative before any decision (allowed then),
    // and a negative one corrected to positive.
    let app = spawn_app().await;
    let screened_at = now() - Duration::hours(1);
    let was_positive = positive_attendance_at(&app, screened_at).await;
    let corrected = app
        .record_screening(&was_positive, &completed(screened_at, negative_answers()))
        .await;
    json_with(corrected, 200, "a correction before any decision").await;
    let was_negative = attendance_at(&app, screened_at - Duration::hours(1)).await;
    screen(&app, &was_negative, &completed(screened_at, negative_answers())).await;
    let corrected = app
        .record_screening(&was_negative, &completed(screened_at, positive_answers()))
        .await;
    json_with(corrected, 200, "corrected to positive").await;

    // Act
    let refused = refer(&app, &was_positive, "accepted").await;
    let allowed = refer(&app, &was_negative, "accepted").await;

    // Assert
    assert_kind(refused, 409, "not-pat-positive", "the current version is negative").await;
    json_with(allowed, 201, "the current version is positive").await;
}

#[tokio::test]
async fn an_unknown_attendance_is_404_and_a_bad_decision_422() {
    // Arrange
    let app = spawn_app().await;
    let id = positive_attendance(&app).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    // (attendance, body, status, slug, why)
    let cases = [
        (
            unknown.clone(),
            json!({ "decision": "accepted" }),
            404,
            "not-found",
            "an unknown attendance",
        ),
        (
            id.clone(),
            json!({ "decision": "maybe" }),
            422,
            "validation",
            "not one of the three decisions",
        ),
        (id.clone(), json!({}), 422, "validation", "no decision"),
        (
            unknown.clone(),
            json!({ "decision": "maybe" }),
            422,
            "validation",
            "an invalid body is 422 before the unknown id is looked up",
        ),
    ];

    for (attendance, body, status, slug, why) in cases {
        // Act
        let resp = app.put_json(&referral_path(&attendance), "clinician", &body).await;

        // Assert
        let problem = assert_kind(resp, status, slug, why).await;
        if status == 422 {
            assert!(fields(&problem).contains(&"decision".to_owned()), "{why}: {problem}");
        }
    }
}

#[tokio::test]
async fn decided_at_before_the_screening_or_in_the_future_is_422() {
    // Arrange
    let app = spawn_app().await;
    let screened_at = now() - Duration::hours(1);
    let id = positive_attendance_at(&app, screened_at).await;
    // (decided_at, why)
    let cases = [
        (screened_at - Duration::minutes(1), "a minute before the screening"),
        (now() + Duration::hours(2), "two hours in the future"),
    ];

    for (decided_at, why) in cases {
        // Act
        let resp = app
            .put_json(
                &referral_path(&id),
                "clinician",
                &json!({ "decision": "accepted", "decided_at": rfc(decided_at) }),
            )
            .await;

        // Assert
        let problem = crate::helpers::assert_problem(resp, 422).await;
        assert!(fields(&problem).contains(&"decided_at".to_owned()), "{why}: {problem}");
    }
    // Act + Assert: exactly at the screening is fine.
    let resp = app
        .put_json(
            &referral_path(&id),
            "clinician",
            &json!({ "decision": "accepted", "decided_at": rfc(screened_at) }),
        )
        .await;
    json_with(resp, 201, "decided at the moment of the screening").await;
}

#[tokio::test]
async fn a_decision_cannot_change_while_a_booking_is_active() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let id = accepted_attendance(&app).await;
    let booking = booked(&app, &id, &slot).await;

    for decision in ["declined", "seen_in_department"] {
        // Act
        let resp = refer(&app, &id, decision).await;

        // Assert
        assert_kind(
            resp,
            409,
            "referral-has-booking",
            &format!("accepted → {decision} with a booking"),
        )
        .await;
    }
    let view = attendance_view(&app, &id).await;
    assert_eq!(view["referral"]["decision"], "accepted", "the decision is unchanged");
    assert_eq!(
        view["bookings"][0]["status"], "booked",
        "and the booking was not cancelled silently"
    );

    // Act + Assert: repeating the same decision is not a change.
    let same = app
        .put_json(&referral_path(&id), "integration", &json!({ "decision": "accepted" }))
        .await;
    assert!(
        same.status().as_u16() == 200,
        "the same decision again is a replay, not a change: {}",
        same.status()
    );

    // Act + Assert: cancel first, then the change is allowed.
    cancel(&app, &id_of(&booking)).await;
    let resp = app
        .put_json(
            &referral_path(&id),
            "clinician",
            &json!({ "decision": "declined", "reason": "changed their mind" }),
        )
        .await;
    let changed = json_with(resp, 200, "after cancelling").await;
    assert_eq!(changed["decision"], "declined");
}

#[tokio::test]
async fn a_decision_cannot_change_once_the_appointment_was_kept() {
    // Arrange: an attended booking is not cancelled, so it still holds the decision.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::hours(1)).await;
    let id = accepted_attendance(&app).await;
    let booking = booked(&app, &id, &slot).await;
    app.advance_clock(Duration::hours(2));
    let attended = outcome(
        &app,
        &id_of(&booking),
        &json!({ "status": "attended", "brief_intervention_delivered": true }),
    )
    .await;
    json_with(attended, 200, "attended").await;

    // Act
    let resp = refer(&app, &id, "declined").await;

    // Assert
    assert_kind(
        resp,
        409,
        "referral-has-booking",
        "an attended booking is non-cancelled",
    )
    .await;
}

#[tokio::test]
async fn a_screening_correction_that_would_flip_the_result_is_409_once_decided() {
    // Arrange
    let app = spawn_app().await;
    let screened_at = now() - Duration::hours(1);
    let positive = completed(screened_at, positive_answers());
    let id = positive_attendance_at(&app, screened_at).await;
    decide(&app, &id, "declined").await;
    let mut still_positive = positive.clone();
    still_positive["answers"]["max_units_in_a_day"] = json!(14);
    // (body, status, why) — rows run in order.
    let cases = [
        (
            completed(screened_at, negative_answers()),
            409,
            "positive → negative after a decision",
        ),
        (
            json!({ "status": "refused", "screened_at": rfc(screened_at) }),
            409,
            "positive → not completed (no result) after a decision",
        ),
        (positive.clone(), 200, "an identical replay is still fine"),
        (
            still_positive,
            200,
            "a correction that keeps the result positive (12 → 14 units) is allowed",
        ),
    ];

    for (body, status, why) in cases {
        // Act
        let resp = app.record_screening(&id, &body).await;

        // Assert
        if status == 409 {
            assert_kind(resp, 409, "referral-recorded", why).await;
        } else {
            let s = json_with(resp, status, why).await;
            assert_eq!(s["result"], "positive", "{why}");
        }
    }
    let view = attendance_view(&app, &id).await;
    assert_eq!(view["screening"]["result"], "positive");
    assert_eq!(view["screening"]["units"], 14.0, "the allowed correction is current");
    assert_eq!(view["referral"]["decision"], "declined");
}

#[tokio::test]
async fn the_attendance_shows_its_referral_and_bookings_newest_first() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let first_slot = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let second_slot = slot_at(&app, &hw, now() + Duration::hours(3)).await;
    let id = positive_attendance(&app).await;

    // Act + Assert: nothing yet.
    let view = attendance_view(&app, &id).await;
    assert_eq!(view["referral"], Value::Null, "no decision yet");
    assert_eq!(view["bookings"], json!([]), "no bookings yet");

    // Act
    let decision = decide(&app, &id, "accepted").await;
    let first = booked(&app, &id, &first_slot).await;
    cancel(&app, &id_of(&first)).await;
    let second = booked(&app, &id, &second_slot).await;
    let view = attendance_view(&app, &id).await;

    // Assert
    assert_eq!(view["referral"], decision, "the decision body");
    let bookings = view["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 2, "both bookings: {view}");
    assert_eq!(bookings[0]["id"], second["id"], "newest first");
    assert_eq!(bookings[0]["status"], "booked");
    assert_eq!(bookings[0]["slot_id"], second_slot.as_str());
    assert_eq!(bookings[1]["id"], first["id"]);
    assert_eq!(bookings[1]["status"], "cancelled");
    assert_eq!(bookings[1]["fhir_status"], "cancelled");
}

#[tokio::test]
async fn referral_writes_are_audited_create_read_correct() {
    // Arrange
    let app = spawn_app().await;
    let id = positive_attendance(&app).await;
    let body = json!({ "decision": "accepted", "decided_at": rfc(now() - Duration::minutes(5)) });
    // (body, role, status, action, why)
    let steps = [
        (body.clone(), "clinician", 201, "create", "the first decision"),
        (
            body.clone(),
            "integration",
            200,
            "read",
            "a replay answers the stored record",
        ),
        (
            json!({ "decision": "declined", "reason": "changed their mind" }),
            "ahw",
            200,
            "correct",
            "a change",
        ),
    ];

    for (i, (body, role, status, action, why)) in steps.into_iter().enumerate() {
        // Act
        let resp = app.put_json(&referral_path(&id), role, &body).await;

        // Assert
        assert_eq!(resp.status().as_u16(), status, "{why}");
        let rid = request_id(&resp);
        let events = events_about(&app, "referral").await;
        assert_eq!(events.len(), i + 1, "{why}: one event per request: {events:?}");
        let event = &events[0];
        assert_eq!(event["action"], action, "{why}");
        assert_eq!(event["actor"], format!("test-{role}"), "{why}");
        assert_eq!(event["patient_key"], PATIENT_KEY, "{why}");
        assert_eq!(event["request_id"], rid.as_str(), "{why}");
    }

    // Act + Assert: a refused change writes nothing.
    let hw = health_worker(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let resp = app
        .put_json(
            &referral_path(&id),
            "clinician",
            &json!({ "decision": "accepted", "reason": "changed back" }),
        )
        .await;
    json_with(resp, 200, "accepted again").await;
    let before = events_about(&app, "referral").await.len();
    book(&app, &id, Some(&slot)).await;
    let resp = app
        .put_json(
            &referral_path(&id),
            "clinician",
            &json!({ "decision": "declined", "reason": "changed their mind" }),
        )
        .await;
    assert_kind(resp, 409, "referral-has-booking", "refused").await;
    assert_eq!(
        events_about(&app, "referral").await.len(),
        before,
        "a refused change writes no referral event"
    );
}

#[tokio::test]
async fn seen_in_department_records_who_saw_the_patient_the_brief_intervention_and_units() {
    // Arrange
    let app = spawn_app().await;
    let id = positive_attendance(&app).await;
    let hw = health_worker(&app).await;
    let body = json!({
        "decision": "seen_in_department", "health_worker_id": hw,
        "brief_intervention_delivered": true, "units_per_week": 35.5,
    });

    // Act
    let first = json_with(
        app.put_json(&referral_path(&id), "ahw", &body).await,
        201,
        "seen in the department",
    )
    .await;
    let replay = app.put_json(&referral_path(&id), "ahw", &body).await;

    // Assert: the decision and the attendance show the details; the same again is a replay.
    for shown in [&first, &attendance_view(&app, &id).await["referral"]] {
        assert_eq!(shown["decision"], "seen_in_department");
        assert_eq!(shown["health_worker_id"], hw.as_str());
        assert_eq!(shown["brief_intervention_delivered"], true);
        assert_eq!(shown["units_per_week"], 35.5);
    }
    json_with(replay, 200, "the same details again").await;

    // Act + Assert: other details are a correction (200, with a reason); declining clears them.
    let mut changed = body.clone();
    changed["units_per_week"] = json!(30);
    changed["reason"] = json!("units mis-keyed");
    let changed = json_with(
        app.put_json(&referral_path(&id), "ahw", &changed).await,
        200,
        "corrected units",
    )
    .await;
    assert_eq!(changed["units_per_week"], 30.0);
    let declined = json_with(
        app.put_json(
            &referral_path(&id),
            "ahw",
            &json!({ "decision": "declined", "reason": "declined after all" }),
        )
        .await,
        200,
        "declined after all",
    )
    .await;
    // The corrected versions are kept with their details.
    assert_eq!(declined["earlier_versions"][0]["units_per_week"], 30.0);
    assert_eq!(declined["earlier_versions"][1]["units_per_week"], 35.5);
    for field in ["health_worker_id", "brief_intervention_delivered", "units_per_week"] {
        assert_eq!(declined[field], Value::Null, "{field}: only with seen_in_department");
    }
    // Accepted and declined decisions show the three as null.
    assert_eq!(
        attendance_view(&app, &id).await["referral"]["health_worker_id"],
        Value::Null
    );
}

#[tokio::test]
async fn seen_in_department_details_are_required_then_and_refused_otherwise() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let id = positive_attendance(&app).await;
    let unregistered = uuid::Uuid::now_v7().to_string();
    // (body, fields named, why)
    let cases = [
        (
            json!({ "decision": "seen_in_department" }),
            vec!["health_worker_id", "brief_intervention_delivered", "units_per_week"],
            "seen without any detail: all three named",
        ),
        (
            json!({ "decision": "seen_in_department", "health_worker_id": hw, "brief_intervention_delivered": true }),
            vec!["units_per_week"],
            "seen without units",
        ),
        (
            json!({ "decision": "seen_in_department", "health_worker_id": hw,
                    "brief_intervention_delivered": true, "units_per_week": -1 }),
            vec!["units_per_week"],
            "negative units (the booking outcome's bound)",
        ),
        (
            json!({ "decision": "accepted", "health_worker_id": hw, "units_per_week": 10 }),
            vec!["health_worker_id", "units_per_week"],
            "details with accepted",
        ),
        (
            json!({ "decision": "declined", "brief_intervention_delivered": false }),
            vec!["brief_intervention_delivered"],
            "details with declined",
        ),
        (
            json!({ "decision": "seen_in_department", "health_worker_id": unregistered,
                    "brief_intervention_delivered": true, "units_per_week": 10 }),
            vec!["health_worker_id"],
            "a health worker not on the register",
        ),
    ];

    for (body, named, why) in cases {
        // Act
        let resp = app.put_json(&referral_path(&id), "clinician", &body).await;

        // Assert
        let problem = crate::helpers::assert_problem(resp, 422).await;
        assert_eq!(fields(&problem), named, "{why}: {problem}");
    }
    // Nothing was written: the attendance still has no decision.
    assert_eq!(attendance_view(&app, &id).await["referral"], Value::Null);
}
