//! Corrections that keep history (issue 11): a referral decision and a booking's outcome are
//! versioned like screenings. A correction is a new version with who, when and why; the earlier
//! one stays visible in the answers and in the audit trail; the statistics use the current one.
//! A booking request that books nothing leaves an audit event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Datelike, Duration};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::scheduling_helpers::{
    accepted_attendance, assert_kind, book, booked, cancel, decide, decision_body, events_about, fields, health_worker,
    id_of, json_with, now, outcome, positive_attendance, referral_path, slot_at, BOOKINGS, PATIENT_KEY,
};
use pat_service::domain::calendar::london_date;

async fn attendance_view(app: &TestApp, id: &str) -> Value {
    json_with(
        app.get(&format!("/api/v1/attendances/{id}"), "clinician").await,
        200,
        "GET /attendances/{id}",
    )
    .await
}

async fn get_booking(app: &TestApp, id: &str) -> Value {
    json_with(
        app.get(&format!("{BOOKINGS}/{id}"), "ahw").await,
        200,
        "GET /bookings/{id}",
    )
    .await
}

async fn put_referral(app: &TestApp, id: &str, role: &str, body: Value) -> reqwest::Response {
    app.put_json(&referral_path(id), role, &body).await
}

/// The funnel's counts and rates for one group covering today (Europe/London), all attendances.
async fn funnel_today(app: &TestApp) -> Value {
    let today = london_date(now());
    let (from, to) = (today - Duration::days(1), today + Duration::days(2));
    let answer = json_with(
        app.get(&format!("/api/v1/statistics/funnel?from={from}&to={to}"), "auditor")
            .await,
        200,
        "GET /statistics/funnel",
    )
    .await;
    answer["groups"][0].clone()
}

/// The number of accepted referrals the referral trend gives for this financial year.
async fn accepted_this_financial_year(app: &TestApp) -> Value {
    let today = london_date(now());
    let first = if today.month() >= 4 {
        today.year()
    } else {
        today.year() - 1
    };
    let path = format!("/api/v1/statistics/referrals?from={first}-04-01&to={}-04-01", first + 1);
    let answer = json_with(app.get(&path, "auditor").await, 200, "GET /statistics/referrals").await;
    let years = answer["years"].as_array().unwrap();
    assert_eq!(years.len(), 1, "one financial year: {answer}");
    years[0]["accepted"].clone()
}

fn rate(group: &Value, name: &str) -> f64 {
    group["rates"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("rate {name} in {group}"))
}

// ---------------------------------------------------------------------------------------------
// Referral decisions

#[tokio::test]
async fn a_referral_correction_needs_a_reason_and_keeps_the_earlier_version() {
    // Arrange
    let app = spawn_app().await;
    let id = positive_attendance(&app).await;
    let first = decide(&app, &id, "accepted").await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["correction_reason"], Value::Null);
    assert_eq!(first["earlier_versions"], json!([]));

    // Act + Assert: a change without a reason (or an empty one) is refused and changes nothing.
    // (body, why)
    let refused = [
        (json!({ "decision": "declined" }), "no reason"),
        (json!({ "decision": "declined", "reason": "  " }), "a blank reason"),
        (
            json!({ "decision": "declined", "reason": "x".repeat(501) }),
            "a reason over 500 characters",
        ),
    ];
    for (body, why) in refused {
        let resp = put_referral(&app, &id, "ahw", body).await;
        let problem = json_with(resp, 422, why).await;
        assert_eq!(fields(&problem), ["reason"], "{why}: names the field: {problem}");
        let view = attendance_view(&app, &id).await;
        assert_eq!(view["referral"]["decision"], "accepted", "{why}: unchanged");
        assert_eq!(view["referral"]["version"], 1, "{why}: no new version");
    }

    // Act: the correction, with its reason.
    let resp = put_referral(
        &app,
        &id,
        "ahw",
        json!({ "decision": "declined", "reason": "recorded against the wrong patient" }),
    )
    .await;

    // Assert: a new version, who and why; the first kept as it was.
    let corrected = json_with(resp, 200, "the correction").await;
    assert_eq!(corrected["decision"], "declined");
    assert_eq!(corrected["version"], 2);
    assert_eq!(corrected["recorded_by"], "test-ahw");
    assert_eq!(corrected["correction_reason"], "recorded against the wrong patient");
    let earlier = corrected["earlier_versions"].as_array().unwrap();
    assert_eq!(earlier.len(), 1, "{corrected}");
    assert_eq!(earlier[0]["version"], 1);
    assert_eq!(earlier[0]["decision"], "accepted");
    assert_eq!(earlier[0]["recorded_by"], "test-clinician");
    assert_eq!(earlier[0]["decided_at"], first["decided_at"]);
    assert_eq!(earlier[0]["correction_reason"], Value::Null);

    // Act + Assert: the integration engine retries it (without the reason): a replay.
    let replay = put_referral(&app, &id, "integration", json!({ "decision": "declined" })).await;
    let replay = json_with(replay, 200, "the replay").await;
    assert_eq!(replay["version"], 2, "a replay makes no version");
    assert_eq!(replay["recorded_by"], "test-ahw", "a replay answers the stored version");

    // Assert: GET shows the current version and the earlier one.
    let view = attendance_view(&app, &id).await;
    assert_eq!(view["referral"]["decision"], "declined");
    assert_eq!(view["referral"]["version"], 2);
    assert_eq!(view["referral"]["earlier_versions"], corrected["earlier_versions"]);

    // Act + Assert: a reason sent with a first decision corrects nothing and is not kept.
    let other = positive_attendance(&app).await;
    let resp = put_referral(
        &app,
        &other,
        "clinician",
        json!({ "decision": "accepted", "reason": "why" }),
    )
    .await;
    let created = json_with(resp, 201, "a first decision with a reason").await;
    assert_eq!(
        (created["version"].as_i64(), &created["correction_reason"]),
        (Some(1), &Value::Null)
    );

    // Assert: the audit trail, newest first: the replay's read, the correction, the first
    // decision; the refusals wrote nothing.
    let events: Vec<Value> = events_about(&app, "referral")
        .await
        .into_iter()
        .filter(|e| e["resource_id"] == id.as_str())
        .collect();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["read", "correct", "create"], "{events:?}");
    assert_eq!(events[1]["actor"], "test-ahw");
    assert_eq!(events[1]["detail"], "version 2");
    assert_eq!(events[1]["patient_key"], PATIENT_KEY);
    assert_eq!(events[1]["resource_id"], id.as_str());
}

#[tokio::test]
async fn funnel_and_referral_statistics_follow_the_current_decision() {
    // Arrange: three positive attendances today.
    //   A: accepted, corrected to declined
    //   B: accepted
    //   C: declined, corrected to seen_in_department
    let app = spawn_app().await;
    let (a, b, c) = (
        positive_attendance(&app).await,
        positive_attendance(&app).await,
        positive_attendance(&app).await,
    );
    decide(&app, &a, "accepted").await;
    decide(&app, &b, "accepted").await;
    decide(&app, &c, "declined").await;
    // Before the corrections (docs/domain.md §7): offered 3 = accepted 2 + declined 1;
    // acceptance = (2 + 0) / 3.
    let before = funnel_today(&app).await;
    assert_eq!(before["counts"]["offered"], 3, "{before}");
    assert_eq!(before["counts"]["accepted"], 2);
    assert_eq!(before["counts"]["declined"], 1);
    assert_eq!(before["counts"]["seen_in_department"], 0);
    assert!((rate(&before, "acceptance") - 2.0 / 3.0).abs() < 1e-3, "{before}");
    assert_eq!(accepted_this_financial_year(&app).await, 2);

    // Act
    for (id, decision) in [(&a, "declined"), (&c, "seen_in_department")] {
        let mut body = decision_body(&app, decision).await;
        body["reason"] = json!("entered wrongly");
        let resp = put_referral(&app, id, "clinician", body).await;
        json_with(resp, 200, "a correction").await;
    }

    // Assert: the current versions count. Offered still 3 = accepted 1 (B) + declined 1 (A) +
    // seen in department 1 (C); acceptance = (1 + 1) / 3; accepted referrals this year: 1.
    let after = funnel_today(&app).await;
    assert_eq!(after["counts"]["offered"], 3, "{after}");
    assert_eq!(after["counts"]["accepted"], 1);
    assert_eq!(after["counts"]["declined"], 1);
    assert_eq!(after["counts"]["seen_in_department"], 1);
    assert!((rate(&after, "acceptance") - 2.0 / 3.0).abs() < 1e-3, "{after}");
    assert_eq!(accepted_this_financial_year(&app).await, 1);
}

#[tokio::test]
async fn concurrent_referral_corrections_keep_every_version_in_order() {
    // Arrange
    let app = spawn_app().await;
    let id = positive_attendance(&app).await;
    decide(&app, &id, "accepted").await;
    let decisions = ["declined", "seen_in_department", "accepted"];

    // Act: twelve corrections at once, cycling through the decisions.
    let mut tasks = tokio::task::JoinSet::new();
    // One body per decision (the same AHW and details each time a decision comes round).
    let mut bodies = vec![];
    for decision in decisions {
        bodies.push(decision_body(&app, decision).await);
    }
    for i in 0..12 {
        let mut body = bodies[i % 3].clone();
        body["reason"] = json!(format!("correction {i}"));
        let request = app
            .client
            .put(app.url(&referral_path(&id)))
            .bearer_auth(app.token("clinician"))
            .json(&body);
        tasks.spawn(async move {
            let resp = request.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        });
    }
    let mut answers = vec![];
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.unwrap());
    }

    // Assert: every request answered 200 (a correction, or a replay of the decision it found).
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    let view = attendance_view(&app, &id).await;
    let current = &view["referral"];
    let top = current["version"].as_i64().unwrap();
    let earlier = current["earlier_versions"].as_array().unwrap();
    // Versions 1..top, each kept once, newest first: nothing lost, nothing skipped.
    let kept: Vec<i64> = earlier.iter().map(|v| v["version"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = (1..top).rev().collect();
    assert_eq!(kept, expected, "consecutive versions: {current}");
    assert!(top >= 2, "at least one correction: {current}");
    // Each version differs from the one before (the same decision again is a replay).
    let mut chain: Vec<&Value> = earlier.iter().rev().collect();
    chain.push(current);
    for pair in chain.windows(2) {
        assert_ne!(pair[0]["decision"], pair[1]["decision"], "{current}");
    }
    // Every answer names a version that is kept with the decision it answered.
    for (_, body) in &answers {
        let version = body["version"].as_i64().unwrap();
        let stored = chain[(version - 1) as usize];
        assert_eq!(stored["decision"], body["decision"], "version {version}: {current}");
    }
    // One correction event per version made.
    let corrections = events_about(&app, "referral")
        .await
        .into_iter()
        .filter(|e| e["action"] == "correct")
        .count();
    assert_eq!(corrections as i64, top - 1);
}

// ---------------------------------------------------------------------------------------------
// Booking outcomes

/// An accepted referral booked into a slot starting in 10 minutes, the clock then moved past the
/// slot; answers (attendance id, booking id).
async fn appointment_held(app: &TestApp) -> (String, String) {
    let hw = health_worker(app).await;
    let slot = slot_at(app, &hw, now() + Duration::minutes(10)).await;
    let attendance = accepted_attendance(app).await;
    let booking = id_of(&booked(app, &attendance, &slot).await);
    app.advance_clock(Duration::hours(2));
    (attendance, booking)
}

fn attended(units: f64) -> Value {
    json!({ "status": "attended", "brief_intervention_delivered": true, "units_per_week": units })
}

fn correction(mut body: Value, reason: &str) -> Value {
    body["corrects"] = json!(true);
    body["correction_reason"] = json!(reason);
    body
}

#[tokio::test]
async fn a_correction_of_an_outcome_shows_both_versions_and_statistics_follow() {
    // Arrange: attended, with the brief intervention and 30 units a week.
    let app = spawn_app().await;
    let (attendance, booking) = appointment_held(&app).await;
    let first = json_with(outcome(&app, &booking, &attended(30.0)).await, 200, "attended").await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["earlier_outcomes"], json!([]));
    // AHW attendance rate = attended / (attended + did not attend) = 1 / 1.
    let before = funnel_today(&app).await;
    assert_eq!(
        (&before["counts"]["attended"], &before["counts"]["did_not_attend"]),
        (&json!(1), &json!(0)),
        "{before}"
    );
    assert!((rate(&before, "ahw_attendance") - 1.0).abs() < 1e-9);

    // Act + Assert: without `corrects` it is still 409, and says how to correct.
    let dna = json!({ "status": "did_not_attend" });
    let problem = assert_kind(
        outcome(&app, &booking, &dna).await,
        409,
        "invalid-transition",
        "a different outcome without corrects",
    )
    .await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("corrects: true") && detail.contains("correction_reason"),
        "{problem}"
    );

    // Act + Assert: `corrects` without a reason is 422 naming it; a reason without `corrects`
    // too.
    let mut no_reason = dna.clone();
    no_reason["corrects"] = json!(true);
    let problem = assert_kind(
        outcome(&app, &booking, &no_reason).await,
        422,
        "reason-required",
        "corrects without a reason",
    )
    .await;
    assert_eq!(fields(&problem), ["correction_reason"]);
    let mut reason_only = dna.clone();
    reason_only["correction_reason"] = json!("wrong patient");
    let problem = json_with(outcome(&app, &booking, &reason_only).await, 422, "a reason alone").await;
    assert_eq!(fields(&problem), ["correction_reason"]);
    assert_eq!(get_booking(&app, &booking).await["status"], "attended", "unchanged");

    // Act: the correction.
    let body = correction(dna.clone(), "attended was recorded against the wrong patient");
    let corrected = json_with(outcome(&app, &booking, &body).await, 200, "the correction").await;

    // Assert: both versions, in the answer and in every read.
    assert_eq!(corrected["status"], "did_not_attend");
    assert_eq!(corrected["fhir_status"], "noshow");
    assert_eq!(corrected["version"], 2);
    assert_eq!(corrected["brief_intervention_delivered"], Value::Null);
    assert_eq!(corrected["units_per_week"], Value::Null);
    assert_eq!(corrected["outcome_by"], "test-ahw");
    assert_eq!(
        corrected["correction_reason"],
        "attended was recorded against the wrong patient"
    );
    let earlier = corrected["earlier_outcomes"].as_array().unwrap();
    assert_eq!(earlier.len(), 1, "{corrected}");
    assert_eq!(earlier[0]["version"], 1);
    assert_eq!(earlier[0]["status"], "attended");
    assert_eq!(earlier[0]["brief_intervention_delivered"], true);
    assert_eq!(earlier[0]["units_per_week"], 30.0);
    assert_eq!(earlier[0]["outcome_by"], "test-ahw");
    assert_eq!(earlier[0]["outcome_at"], first["outcome_at"]);
    assert_eq!(earlier[0]["correction_reason"], Value::Null);
    let one = get_booking(&app, &booking).await;
    assert_eq!(one["version"], 2);
    assert_eq!(
        one["earlier_outcomes"], corrected["earlier_outcomes"],
        "GET /bookings/{{id}}"
    );
    let date = london_date(
        chrono::DateTime::parse_from_rfc3339(one["starts_at"].as_str().unwrap())
            .unwrap()
            .into(),
    );
    let day = json_with(
        app.get(&format!("{BOOKINGS}?date={date}"), "ahw").await,
        200,
        "GET /bookings",
    )
    .await;
    let listed = &day["bookings"][0];
    assert_eq!(listed["id"], booking.as_str());
    assert_eq!(
        listed["earlier_outcomes"], corrected["earlier_outcomes"],
        "the day list"
    );
    let view = attendance_view(&app, &attendance).await;
    assert_eq!(
        view["bookings"][0]["earlier_outcomes"], corrected["earlier_outcomes"],
        "the attendance"
    );

    // Act + Assert: the correction retried is a replay, not a third version.
    let replay = json_with(outcome(&app, &booking, &body).await, 200, "the replay").await;
    assert_eq!(replay["version"], 2);
    assert_eq!(
        get_booking(&app, &booking).await["earlier_outcomes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Assert: the statistics use the current outcome: attended 0, did not attend 1; the AHW
    // attendance rate 0 / (0 + 1) = 0.
    let after = funnel_today(&app).await;
    assert_eq!(
        (&after["counts"]["attended"], &after["counts"]["did_not_attend"]),
        (&json!(0), &json!(1)),
        "{after}"
    );
    assert!(rate(&after, "ahw_attendance").abs() < 1e-9);

    // Assert: the audit trail keeps the first outcome and the correction.
    let events = events_about(&app, "booking").await;
    let changes: Vec<(&str, &Value)> = events
        .iter()
        .filter(|e| e["action"] != "read")
        .map(|e| (e["action"].as_str().unwrap(), &e["detail"]))
        .collect();
    assert_eq!(
        changes,
        [
            ("correct", &json!("version 2")),
            ("update", &Value::Null),
            ("create", &Value::Null)
        ],
        "{events:?}"
    );
}

#[tokio::test]
async fn corrects_on_a_booking_without_an_outcome_is_409() {
    // Arrange
    let app = spawn_app().await;
    let (_, booking) = appointment_held(&app).await;

    // Act
    let resp = outcome(&app, &booking, &correction(attended(10.0), "typo")).await;

    // Assert
    assert_kind(resp, 409, "no-outcome-to-correct", "nothing to correct").await;
    let stored = get_booking(&app, &booking).await;
    assert_eq!(stored["status"], "booked");
    assert_eq!(stored["version"], 1);
}

#[tokio::test]
async fn undoing_a_cancellation_never_double_books_the_slot() {
    // Arrange: A booked the slot and was cancelled; B booked the freed slot.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::minutes(10)).await;
    let a = accepted_attendance(&app).await;
    let first = id_of(&booked(&app, &a, &slot).await);
    cancel(&app, &first).await;
    let b = accepted_attendance(&app).await;
    let second = id_of(&booked(&app, &b, &slot).await);
    app.advance_clock(Duration::hours(2));

    // Act: A's cancellation "corrected" to attended while B holds the slot.
    let resp = outcome(&app, &first, &correction(attended(20.0), "was not cancelled")).await;

    // Assert
    assert_kind(resp, 409, "slot-taken", "the slot is held by another booking").await;
    let stored = get_booking(&app, &first).await;
    assert_eq!(
        (stored["status"].as_str(), stored["version"].as_i64()),
        (Some("cancelled"), Some(1))
    );
    assert_eq!(stored["earlier_outcomes"], json!([]), "nothing partial kept");
    assert_eq!(get_booking(&app, &second).await["status"], "booked");

    // Act + Assert: once B is cancelled the slot is free, and the correction goes through.
    cancel(&app, &second).await;
    let resp = outcome(&app, &first, &correction(attended(20.0), "was not cancelled")).await;
    let corrected = json_with(resp, 200, "the slot is free again").await;
    assert_eq!(corrected["status"], "attended");
    assert_eq!(corrected["version"], 2);
    assert_eq!(corrected["earlier_outcomes"][0]["status"], "cancelled");
    assert_eq!(corrected["earlier_outcomes"][0]["cancel_reason"], "patient rang");
}

#[tokio::test]
async fn concurrent_outcome_corrections_end_with_consecutive_versions() {
    // Arrange: attended with 30 units a week.
    let app = spawn_app().await;
    let (_, booking) = appointment_held(&app).await;
    json_with(outcome(&app, &booking, &attended(30.0)).await, 200, "attended").await;

    // Act: eight corrections at once, each with other units (so each is a change).
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let body = correction(attended(100.0 + f64::from(i)), &format!("units fixed {i}"));
        let request = app
            .client
            .post(app.url(&format!("{BOOKINGS}/{booking}/outcome")))
            .bearer_auth(app.token("ahw"))
            .json(&body);
        tasks.spawn(async move {
            let resp = request.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        });
    }
    let mut answers = vec![];
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.unwrap());
    }

    // Assert: each made its own version (2..=9, once each) and nothing was lost: version 1 (30
    // units) and the eight others are all kept, in order.
    let mut made: Vec<i64> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["version"].as_i64().unwrap()
        })
        .collect();
    made.sort_unstable();
    assert_eq!(made, (2..=9).collect::<Vec<i64>>());
    let stored = get_booking(&app, &booking).await;
    assert_eq!(stored["version"], 9);
    let earlier = stored["earlier_outcomes"].as_array().unwrap();
    let versions: Vec<i64> = earlier.iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, (1..=8).rev().collect::<Vec<i64>>(), "{stored}");
    let mut units: Vec<f64> = earlier.iter().map(|v| v["units_per_week"].as_f64().unwrap()).collect();
    units.push(stored["units_per_week"].as_f64().unwrap());
    units.sort_by(f64::total_cmp);
    let expected: Vec<f64> = std::iter::once(30.0)
        .chain((0..8).map(|i| 100.0 + f64::from(i)))
        .collect();
    assert_eq!(units, expected, "every version's content is kept once");
    // Each answer is the version stored under its number.
    for (_, body) in &answers {
        let version = body["version"].as_i64().unwrap();
        if version < 9 {
            let kept = &earlier[(8 - version) as usize];
            assert_eq!(kept["units_per_week"], body["units_per_week"], "version {version}");
        } else {
            assert_eq!(stored["units_per_week"], body["units_per_week"]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Unmet booking attempts

/// The `unmet` audit events, newest first.
async fn unmet_events(app: &TestApp) -> Vec<Value> {
    events_about(app, "booking")
        .await
        .into_iter()
        .filter(|e| e["action"] == "unmet")
        .collect()
}

#[tokio::test]
async fn an_unmet_booking_attempt_writes_an_audit_event() {
    // Arrange: an accepted referral and no slot at all.
    let app = spawn_app().await;
    let attendance = accepted_attendance(&app).await;

    // Act: an automatic booking finds no free slot.
    let resp = book(&app, &attendance, None).await;

    // Assert
    assert_kind(resp, 409, "no-slot-in-window", "no slot").await;
    let events = unmet_events(&app).await;
    assert_eq!(events.len(), 1, "one event per unmet attempt: {events:?}");
    assert_eq!(events[0]["detail"], "no-slot-in-window");
    assert_eq!(events[0]["resource_id"], attendance.as_str());
    assert_eq!(events[0]["patient_key"], PATIENT_KEY);
    assert_eq!(events[0]["actor"], "test-clinician");

    // Act + Assert: a slot outside the window without a reason (422) is unmet too.
    let hw = health_worker(&app).await;
    let late = slot_at(&app, &hw, now() + Duration::hours(30)).await;
    assert_kind(
        book(&app, &attendance, Some(&late)).await,
        422,
        "outside-window",
        "outside the window",
    )
    .await;
    let events = unmet_events(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["detail"], "outside-window");

    // Act + Assert: a booking for an unknown attendance (404) names no one: no event.
    let unknown = uuid::Uuid::now_v7().to_string();
    let resp = book(&app, &unknown, None).await;
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(unmet_events(&app).await.len(), 2);

    // Act + Assert: a replayed unmet attempt is recorded again (each request is demand).
    assert_kind(
        book(&app, &attendance, None).await,
        409,
        "no-slot-in-window",
        "no slot again",
    )
    .await;
    assert_eq!(unmet_events(&app).await.len(), 3);
}

#[tokio::test]
async fn no_outcome_of_an_attendance_entered_in_error_is_corrected() {
    // Arrange: did not attend, then the attendance marked entered-in-error (a missed appointment
    // stays as it was).
    let app = spawn_app().await;
    let (attendance, booking) = appointment_held(&app).await;
    let dna = json!({ "status": "did_not_attend" });
    json_with(outcome(&app, &booking, &dna).await, 200, "did not attend").await;
    let resp = app
        .post_json(
            &format!("/api/v1/attendances/{attendance}/entered-in-error"),
            "clinician",
            &json!({ "reason": "duplicate" }),
        )
        .await;
    json_with(resp, 200, "marked entered-in-error").await;

    // Act
    let resp = outcome(&app, &booking, &correction(attended(10.0), "came after all")).await;

    // Assert
    assert_kind(resp, 409, "entered-in-error", "nothing more is recorded").await;
    let stored = get_booking(&app, &booking).await;
    assert_eq!(
        (stored["status"].as_str(), stored["version"].as_i64()),
        (Some("did_not_attend"), Some(1))
    );
    // The same outcome again is still answered (a replay records nothing).
    json_with(outcome(&app, &booking, &dna).await, 200, "a replay").await;
}
