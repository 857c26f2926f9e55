//! `POST /api/v1/bookings/{id}/outcome` and `POST /api/v1/attendances/{id}/follow-ups` (issue 3,
//! /tmp/scheduling-api.md "Bookings", "Follow-ups"): every transition in every order, the FHIR
//! Appointment status of each state, outcomes that cannot precede the appointment, who cancelled,
//! and the 6- and 12-month follow-up contacts — with their audit events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::scheduling_helpers::{
    accepted_attendance, assert_kind, at, booked, decide, events_about, fields, health_worker, id_of, json_with,
    list_slots, near, now, outcome, outcome_path, positive_attendance, request_id, rfc, slot_at, token_for, BOOKINGS,
    PATIENT_KEY,
};

/// A booking of a 30-minute slot starting `minutes` from now; returns its id.
async fn booking_in(app: &TestApp, hw: &str, minutes: i64) -> String {
    let s = slot_at(app, hw, now() + Duration::minutes(minutes)).await;
    let attendance = accepted_attendance(app).await;
    id_of(&booked(app, &attendance, &s).await)
}

fn attended() -> Value {
    json!({ "status": "attended", "brief_intervention_delivered": true, "units_per_week": 42.5 })
}

fn did_not_attend() -> Value {
    json!({ "status": "did_not_attend" })
}

fn cancelled() -> Value {
    json!({ "status": "cancelled", "reason": "patient unwell" })
}

/// Builds an outcome request body.
type OutcomeBody = fn() -> Value;

async fn get_booking(app: &TestApp, id: &str) -> Value {
    json_with(
        app.get(&format!("{BOOKINGS}/{id}"), "ahw").await,
        200,
        "GET /bookings/{id}",
    )
    .await
}

#[tokio::test]
async fn a_booked_appointment_can_become_attended_did_not_attend_or_cancelled() {
    // Arrange: three bookings whose slots start within the hour; then the clock moves 2 h on, so
    // every appointment has started.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let a = booking_in(&app, &hw, 10).await;
    let b = booking_in(&app, &hw, 40).await;
    let c = booking_in(&app, &hw, 70).await;
    app.advance_clock(Duration::hours(2));
    let service_now = now() + Duration::hours(2);
    // (booking, body, status, fhir_status, why)
    let cases = [
        (&a, attended(), "attended", "fulfilled", "booked → attended"),
        (
            &b,
            did_not_attend(),
            "did_not_attend",
            "noshow",
            "booked → did not attend",
        ),
        (&c, cancelled(), "cancelled", "cancelled", "booked → cancelled"),
    ];

    for (booking, body, status, fhir, why) in cases {
        // Act
        let resp = outcome(&app, booking, &body).await;

        // Assert
        let b = json_with(resp, 200, why).await;
        assert_eq!(b["id"], booking.as_str(), "{why}");
        assert_eq!(b["status"], status, "{why}");
        assert_eq!(b["fhir_status"], fhir, "{why}: FHIR Appointment status");
        assert!(
            near(at(&b["outcome_at"]), service_now, 10),
            "{why}: outcome_at is the service's now: {b}"
        );
        assert_eq!(b["outcome_by"], "test-ahw", "{why}");
        match status {
            "attended" => {
                assert_eq!(b["brief_intervention_delivered"], true, "{why}");
                assert_eq!(b["units_per_week"], 42.5, "{why}");
                assert_eq!(b["cancelled_by"], Value::Null, "{why}");
            }
            "cancelled" => {
                assert_eq!(b["cancel_reason"], "patient unwell", "{why}");
                assert_eq!(b["cancelled_by"], "test-ahw", "{why}");
            }
            _ => {
                assert_eq!(b["brief_intervention_delivered"], Value::Null, "{why}");
                assert_eq!(b["cancelled_by"], Value::Null, "{why}");
            }
        }
        let stored = get_booking(&app, booking).await;
        assert_eq!(stored["status"], status, "{why}: stored");
        assert_eq!(stored["fhir_status"], fhir, "{why}: stored");
    }
}

#[tokio::test]
async fn nothing_leaves_a_final_state_but_a_correction() {
    // Arrange: for each final state, each other outcome without `corrects` → 409; the same one
    // again is a replay.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let finals: [(&str, OutcomeBody); 3] = [
        ("attended", attended),
        ("did_not_attend", did_not_attend),
        ("cancelled", cancelled),
    ];
    let mut bookings = vec![];
    for (i, _) in finals.iter().enumerate() {
        bookings.push(booking_in(&app, &hw, 10 + 30 * i as i64).await);
    }
    app.advance_clock(Duration::hours(2));
    for ((status, body), booking) in finals.iter().zip(&bookings) {
        let done = json_with(outcome(&app, booking, &body()).await, 200, status).await;
        assert_eq!(done["status"], *status);
    }

    for ((from, _), booking) in finals.iter().zip(&bookings) {
        for (to, body) in &finals {
            let why = format!("{from} → {to}");

            // Act
            let resp = outcome(&app, booking, &body()).await;

            // Assert
            if from == to {
                let replay = json_with(resp, 200, &why).await;
                assert_eq!(replay["version"], 1, "{why}: a replay makes no version");
            } else {
                let problem = assert_kind(resp, 409, "invalid-transition", &why).await;
                assert!(
                    problem["detail"].as_str().unwrap().contains("corrects: true"),
                    "{why}: the detail says how to correct: {problem}"
                );
            }
            let stored = get_booking(&app, booking).await;
            assert_eq!(stored["status"], *from, "{why}: unchanged");
            assert_eq!(stored["earlier_outcomes"], json!([]), "{why}: no version kept");
        }
    }
}

#[tokio::test]
async fn attended_or_did_not_attend_before_the_slot_starts_is_422_until_it_starts() {
    // Arrange: a slot starting in an hour.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let booking = booking_in(&app, &hw, 60).await;
    // (body, why)
    let early = [
        (attended(), "attended an hour before the appointment"),
        (did_not_attend(), "did not attend an hour before the appointment"),
    ];

    for (body, why) in early {
        // Act
        let resp = outcome(&app, &booking, &body).await;

        // Assert
        assert_kind(resp, 422, "outcome-before-slot", why).await;
        assert_eq!(
            get_booking(&app, &booking).await["status"],
            "booked",
            "{why}: unchanged"
        );
    }

    // Act + Assert: 1 h 1 min later the appointment has started.
    app.advance_clock(Duration::minutes(61));
    let resp = outcome(&app, &booking, &attended()).await;
    let b = json_with(resp, 200, "attended once the slot has started").await;
    assert_eq!(b["status"], "attended");
    assert_eq!(b["fhir_status"], "fulfilled");
}

#[tokio::test]
async fn did_not_attend_is_recorded_once_the_slot_has_started() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let booking = booking_in(&app, &hw, 30).await;
    assert_kind(
        outcome(&app, &booking, &did_not_attend()).await,
        422,
        "outcome-before-slot",
        "too early",
    )
    .await;
    app.advance_clock(Duration::minutes(31));

    // Act
    let resp = outcome(&app, &booking, &did_not_attend()).await;

    // Assert
    let b = json_with(resp, 200, "did not attend").await;
    assert_eq!(b["fhir_status"], "noshow");
}

#[tokio::test]
async fn cancelling_before_the_slot_starts_records_who_and_frees_the_slot() {
    // Arrange: an AHW whose token says `sub` = ahw-jane.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let booking = booking_in(&app, &hw, 120).await;
    let token = token_for(&app, "ahw-jane", &["ahw"]);

    // Act
    let resp = app
        .client
        .post(app.url(&outcome_path(&booking)))
        .bearer_auth(token)
        .json(&json!({ "status": "cancelled", "reason": "patient asked for another day" }))
        .send()
        .await
        .unwrap();

    // Assert
    let b = json_with(resp, 200, "cancel two hours ahead").await;
    assert_eq!(b["status"], "cancelled");
    assert_eq!(b["fhir_status"], "cancelled");
    assert_eq!(b["cancelled_by"], "ahw-jane", "who cancelled comes from the token");
    assert_eq!(b["cancel_reason"], "patient asked for another day");
    let slots = list_slots(&app, "").await;
    assert_eq!(slots[0]["available"], true, "the slot is free at once");
}

#[tokio::test]
async fn a_cancelled_booking_is_409_even_before_its_slot_starts() {
    // Arrange: check order — a state conflict (409) answers before a time rule (422).
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let booking = booking_in(&app, &hw, 120).await;
    json_with(outcome(&app, &booking, &cancelled()).await, 200, "cancelled").await;

    // Act
    let resp = outcome(&app, &booking, &attended()).await;

    // Assert
    assert_kind(resp, 409, "invalid-transition", "cancelled → attended, before the slot").await;
}

#[tokio::test]
async fn invalid_outcomes_are_422_and_unknown_bookings_404() {
    // Arrange: the appointment has started, so only the body can be wrong.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let booking = booking_in(&app, &hw, 10).await;
    app.advance_clock(Duration::minutes(20));
    // (body, field the problem names, why)
    let cases = [
        (
            json!({ "status": "attended" }),
            "brief_intervention_delivered",
            "attended needs brief_intervention_delivered",
        ),
        (
            json!({ "status": "attended", "brief_intervention_delivered": true, "units_per_week": -1 }),
            "units_per_week",
            "negative units per week",
        ),
        (
            json!({ "status": "attended", "brief_intervention_delivered": true, "reason": "why not" }),
            "reason",
            "a reason is only for a cancellation",
        ),
        (json!({ "status": "booked" }), "status", "booked is not an outcome"),
        (
            json!({ "status": "arrived" }),
            "status",
            "not one of the three outcomes",
        ),
        (json!({}), "status", "no status"),
    ];

    for (body, field, why) in cases {
        // Act
        let resp = outcome(&app, &booking, &body).await;

        // Assert
        let problem = crate::helpers::assert_problem(resp, 422).await;
        assert!(
            fields(&problem).contains(&field.to_owned()),
            "{why}: names {field}: {problem}"
        );
    }
    assert_eq!(get_booking(&app, &booking).await["status"], "booked", "nothing changed");
    let resp = outcome(&app, &uuid::Uuid::new_v4().to_string(), &did_not_attend()).await;
    assert_kind(resp, 404, "not-found", "an unknown booking").await;

    // Act + Assert: zero units per week and no units at all are both fine.
    let resp = outcome(
        &app,
        &booking,
        &json!({ "status": "attended", "brief_intervention_delivered": false, "units_per_week": 0 }),
    )
    .await;
    let b = json_with(resp, 200, "0 units, no intervention delivered").await;
    assert_eq!(b["brief_intervention_delivered"], false);
    assert_eq!(b["units_per_week"], 0.0);
}

#[tokio::test]
async fn each_outcome_writes_one_update_event() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let booking = booking_in(&app, &hw, 10).await;
    let other = booking_in(&app, &hw, 40).await;
    app.advance_clock(Duration::hours(1));
    let before = events_about(&app, "booking").await.len();

    for (id, body, why) in [(&booking, attended(), "attended"), (&other, cancelled(), "cancelled")] {
        // Act
        let resp = outcome(&app, id, &body).await;
        let rid = request_id(&resp);
        json_with(resp, 200, why).await;

        // Assert
        let events = events_about(&app, "booking").await;
        let e = &events[0];
        assert_eq!(e["action"], "update", "{why}");
        assert_eq!(e["actor"], "test-ahw", "{why}");
        assert_eq!(e["patient_key"], PATIENT_KEY, "{why}");
        assert_eq!(e["request_id"], rid.as_str(), "{why}");
    }
    assert_eq!(events_about(&app, "booking").await.len() - before, 2);

    // Act + Assert: a refused transition writes nothing.
    outcome(&app, &booking, &did_not_attend()).await;
    assert_eq!(
        events_about(&app, "booking").await.len() - before,
        2,
        "a 409 writes no event"
    );
}

// --- follow-ups -----------------------------------------------------------------------------

fn follow_ups(id: &str) -> String {
    format!("/api/v1/attendances/{id}/follow-ups")
}

#[tokio::test]
async fn follow_ups_at_6_and_12_months_are_recorded_once_each() {
    // Arrange
    let app = spawn_app().await;
    let id = accepted_attendance(&app).await;
    let contacted_at = now() - Duration::minutes(10);
    let six = json!({ "months": 6, "units_per_week": 59.7, "contacted_at": rfc(contacted_at) });
    let before = now();

    // Act
    let resp = app.post_json(&follow_ups(&id), "ahw", &six).await;

    // Assert
    let rid = request_id(&resp);
    let f = json_with(resp, 201, "the 6-month contact").await;
    assert!(
        uuid::Uuid::parse_str(f["id"].as_str().unwrap_or_default()).is_ok(),
        "{f}"
    );
    assert_eq!(f["attendance_id"], id.as_str());
    assert_eq!(f["months"], 6);
    assert_eq!(f["units_per_week"], 59.7);
    assert_eq!(at(&f["contacted_at"]), contacted_at);
    assert!(near(at(&f["recorded_at"]), before, 5));
    assert_eq!(f["recorded_by"], "test-ahw");
    let events = events_about(&app, "follow_up").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "create");
    assert_eq!(events[0]["patient_key"], PATIENT_KEY);
    assert_eq!(events[0]["request_id"], rid.as_str());

    // Act + Assert: (body, status, why) in order.
    let mut different = six.clone();
    different["units_per_week"] = json!(83.1);
    let cases = [
        (six.clone(), 200, "the same contact again is a replay"),
        (different, 409, "a different 6-month contact"),
        (
            json!({ "months": 12, "units_per_week": 40 }),
            201,
            "the 12-month contact, contacted_at defaulting to now",
        ),
    ];
    for (body, status, why) in cases {
        let resp = app.post_json(&follow_ups(&id), "ahw", &body).await;
        if status == 409 {
            assert_kind(resp, 409, "follow-up-exists", why).await;
        } else {
            let f = json_with(resp, status, why).await;
            assert_eq!(f["months"], body["months"], "{why}");
            assert_eq!(f["units_per_week"].as_f64(), body["units_per_week"].as_f64(), "{why}");
            if status == 200 {
                assert_eq!(at(&f["contacted_at"]), contacted_at, "{why}: the stored contact");
            } else {
                assert!(near(at(&f["contacted_at"]), now(), 5), "{why}: {f}");
            }
        }
    }
    let actions: Vec<Value> = events_about(&app, "follow_up")
        .await
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(
        actions,
        vec![json!("create"), json!("read"), json!("create")],
        "newest first: create (12), read (the replay), create (6); the 409 wrote none"
    );
}

#[tokio::test]
async fn seen_in_department_counts_as_referred_for_follow_up() {
    // Arrange
    let app = spawn_app().await;
    let id = positive_attendance(&app).await;
    decide(&app, &id, "seen_in_department").await;

    // Act
    let resp = app
        .post_json(&follow_ups(&id), "ahw", &json!({ "months": 6, "units_per_week": 20 }))
        .await;

    // Assert
    json_with(resp, 201, "the brief intervention happened in the department").await;
}

#[tokio::test]
async fn a_follow_up_needs_an_accepted_or_seen_referral() {
    // Arrange: (decision or none, why)
    let app = spawn_app().await;
    let cases = [(Some("declined"), "the patient declined"), (None, "no decision")];

    for (decision, why) in cases {
        let id = positive_attendance(&app).await;
        if let Some(decision) = decision {
            decide(&app, &id, decision).await;
        }

        // Act
        let resp = app
            .post_json(&follow_ups(&id), "ahw", &json!({ "months": 6, "units_per_week": 20 }))
            .await;

        // Assert
        assert_kind(resp, 409, "not-referred", why).await;
    }
}

#[tokio::test]
async fn invalid_follow_ups_are_422_and_unknown_attendances_404() {
    // Arrange
    let app = spawn_app().await;
    let id = accepted_attendance(&app).await;
    // (body, field, why)
    let cases = [
        (
            json!({ "months": 6, "units_per_week": -0.5 }),
            "units_per_week",
            "negative units",
        ),
        (
            json!({ "months": 3, "units_per_week": 10 }),
            "months",
            "only 6 or 12 months",
        ),
        (json!({ "months": 0, "units_per_week": 10 }), "months", "zero months"),
        (json!({ "units_per_week": 10 }), "months", "no months"),
        (json!({ "months": 6 }), "units_per_week", "no units"),
        (
            json!({ "months": 6, "units_per_week": 10, "contacted_at": rfc(now() + Duration::hours(2)) }),
            "contacted_at",
            "contacted two hours from now",
        ),
    ];

    for (body, field, why) in cases {
        // Act
        let resp = app.post_json(&follow_ups(&id), "ahw", &body).await;

        // Assert
        let problem = crate::helpers::assert_problem(resp, 422).await;
        assert!(
            fields(&problem).contains(&field.to_owned()),
            "{why}: names {field}: {problem}"
        );
    }
    assert_eq!(
        events_about(&app, "follow_up").await,
        Vec::<Value>::new(),
        "nothing stored"
    );
    let resp = app
        .post_json(
            &follow_ups(&uuid::Uuid::new_v4().to_string()),
            "ahw",
            &json!({ "months": 6, "units_per_week": 10 }),
        )
        .await;
    assert_kind(resp, 404, "not-found", "an unknown attendance").await;
}
