//! `POST /api/v1/bookings`, `GET /api/v1/bookings`, `GET /api/v1/bookings/{id}` (issue 3,
//! /tmp/scheduling-api.md "Bookings"): booking a given slot or the earliest free one, the 24-hour
//! window at its exact edges, lead time by Europe/London calendar day, one active booking per slot
//! and per referral — under 50 concurrent requests, and on PostgreSQL across two server
//! processes — and the AHW's day list with its audit trail.
//!
//! Times that depend on the calendar are chosen on 15 July of next year (BST, UTC+1) by moving the
//! service's clock there, so the expected lead times and dates are fixed, worked out by hand, and
//! differ from what a service counting UTC days would answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};

use crate::helpers::{free_port, spawn_app, TestApp, AUDIENCE, ISSUER};
use crate::scheduling_helpers::{
    accepted_attendance, accepted_attendance_at, assert_kind, at, attendance_at, attendance_of, book, booked, cancel,
    completed, decide, events_about, health_worker, health_worker_named, id_of, ids, json_with, list_slots, near,
    negative_answers, next_summer_day, now, positive_attendance_at, refer, request_id, rfc, screen, set_clock, slot,
    slot_at, BOOKINGS, PATIENT_KEY,
};

fn utc(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(h, m, 0).unwrap())
}

async fn book_with_reason(app: &TestApp, attendance: &str, slot: &str, reason: &str) -> reqwest::Response {
    app.post_json(
        BOOKINGS,
        "clinician",
        &json!({ "attendance_id": attendance, "slot_id": slot, "outside_window_reason": reason }),
    )
    .await
}

async fn day_list(app: &TestApp, query: &str) -> Value {
    let resp = app.get(&format!("{BOOKINGS}?{query}"), "ahw").await;
    json_with(resp, 200, &format!("GET /bookings?{query}")).await
}

fn booking_ids(list: &Value) -> Vec<String> {
    ids(list["bookings"]
        .as_array()
        .unwrap_or_else(|| panic!("{{bookings: [...]}}: {list}")))
}

/// Read events about bookings.
async fn booking_reads(app: &TestApp) -> Vec<Value> {
    events_about(app, "booking")
        .await
        .into_iter()
        .filter(|e| e["action"] == "read")
        .collect()
}

#[tokio::test]
async fn booking_a_given_slot_answers_the_booking() {
    // Arrange
    let app = spawn_app().await;
    let worker = health_worker_named(&app, "Grace Adeyemi").await;
    let hw = id_of(&worker);
    let starts = now() + Duration::hours(2);
    let ends = starts + Duration::minutes(30);
    let slot_id = slot(&app, &hw, starts, ends).await;
    let attendance = accepted_attendance(&app).await;
    let before = now();

    // Act
    let resp = book(&app, &attendance, Some(&slot_id)).await;

    // Assert
    let b = json_with(resp, 201, "booking a free slot").await;
    assert!(
        uuid::Uuid::parse_str(b["id"].as_str().unwrap_or_default()).is_ok(),
        "{b}"
    );
    assert_eq!(b["attendance_id"], attendance.as_str());
    assert_eq!(b["slot_id"], slot_id.as_str());
    assert_eq!(b["health_worker_id"], hw.as_str());
    assert_eq!(b["health_worker_name"], "Grace Adeyemi");
    assert_eq!(at(&b["starts_at"]), starts);
    assert_eq!(at(&b["ends_at"]), ends);
    assert_eq!(b["status"], "booked");
    assert_eq!(b["fhir_status"], "booked");
    assert_eq!(b["within_window"], true, "2 h after now, 3 h after the screening");
    assert_eq!(b["outside_window_reason"], Value::Null);
    assert!(near(at(&b["booked_at"]), before, 5), "booked_at is now: {b}");
    assert_eq!(b["booked_by"], "test-clinician");
    for field in [
        "brief_intervention_delivered",
        "units_per_week",
        "cancel_reason",
        "cancelled_by",
        "outcome_at",
        "outcome_by",
    ] {
        assert_eq!(b[field], Value::Null, "{field} is null until there is an outcome");
    }
    assert!(
        ["same_day", "next_day"].contains(&b["lead_time"].as_str().unwrap_or_default()),
        "3 h after the screening is the same or the next London day: {b}"
    );
    let listed = list_slots(&app, "").await;
    assert_eq!(listed[0]["available"], false, "the slot is taken");
    assert_eq!(listed[0]["booking_id"], b["id"]);
    let one = json_with(
        app.get(&format!("{BOOKINGS}/{}", id_of(&b)), "admin").await,
        200,
        "GET /bookings/{id}",
    )
    .await;
    for field in [
        "id",
        "slot_id",
        "status",
        "fhir_status",
        "lead_time",
        "within_window",
        "booked_by",
    ] {
        assert_eq!(one[field], b[field], "GET /bookings/{{id}} agrees on {field}");
    }
}

#[tokio::test]
async fn lead_time_counts_europe_london_calendar_days() {
    // Arrange: the service's "now" is D 20:00 BST (19:00Z), D = 15 July next year. In BST a local
    // time h:mm is (h−1):mm UTC, so 00:30 BST on D+1 is 23:30Z on D.
    let app = spawn_app().await;
    let d = next_summer_day();
    let d1 = d + Duration::days(1);
    let d2 = d + Duration::days(2);
    let dm1 = d - Duration::days(1);
    set_clock(&app, utc(d, 19, 0));
    let hw = health_worker(&app).await;
    // (screened_at, slot start, outside-window reason, lead time, within window, why)
    let cases = [
        (
            utc(d, 18, 0),
            utc(d, 20, 0),
            None,
            "same_day",
            true,
            "screened 19:00 BST, seen 21:00 BST the same day",
        ),
        (
            utc(dm1, 23, 30),
            utc(d, 21, 0),
            None,
            "same_day",
            true,
            "screened 00:30 BST (23:30Z the day before), seen 22:00 BST: the same London day",
        ),
        (
            utc(d, 18, 0),
            utc(d, 23, 30),
            None,
            "next_day",
            true,
            "screened 19:00 BST, seen 00:30 BST after midnight (still D in UTC): next London day",
        ),
        (
            utc(d, 18, 0),
            utc(d1, 17, 0),
            None,
            "next_day",
            true,
            "screened 19:00 BST, seen 18:00 BST the next day (23 h later)",
        ),
        (
            utc(d, 18, 0),
            utc(d2, 9, 0),
            Some("patient_preference"),
            "later",
            false,
            "screened 19:00 BST, seen 10:00 BST two days later (the patient's choice)",
        ),
    ];

    for (screened_at, starts, reason, lead_time, within, why) in cases {
        let attendance = accepted_attendance_at(&app, screened_at).await;
        let slot_id = slot_at(&app, &hw, starts).await;

        // Act
        let resp = match reason {
            Some(reason) => book_with_reason(&app, &attendance, &slot_id, reason).await,
            None => book(&app, &attendance, Some(&slot_id)).await,
        };

        // Assert
        let b = json_with(resp, 201, why).await;
        assert_eq!(b["lead_time"], lead_time, "{why}");
        assert_eq!(b["within_window"], within, "{why}");
        assert_eq!(b["outside_window_reason"], json!(reason), "{why}");
    }
}

#[tokio::test]
async fn the_day_list_follows_europe_london_dates() {
    // Arrange: service now D 20:00 BST; bookings at 21:00 and 22:00 BST on D, at 00:30 BST
    // (23:30Z on D) and 18:00 BST on D+1, and at 10:00 BST on D+2.
    let app = spawn_app().await;
    let d = next_summer_day();
    let d1 = d + Duration::days(1);
    let d2 = d + Duration::days(2);
    set_clock(&app, utc(d, 19, 0));
    let hw = health_worker(&app).await;
    let screened_at = utc(d, 18, 0);
    let mut booking = vec![];
    for (starts, reason) in [
        (utc(d, 20, 0), None),
        (utc(d, 21, 0), None),
        (utc(d, 23, 30), None),
        (utc(d1, 17, 0), None),
        (utc(d2, 9, 0), Some("no_capacity")),
    ] {
        let attendance = accepted_attendance_at(&app, screened_at).await;
        let slot_id = slot_at(&app, &hw, starts).await;
        let resp = match reason {
            Some(reason) => book_with_reason(&app, &attendance, &slot_id, reason).await,
            None => book(&app, &attendance, Some(&slot_id)).await,
        };
        booking.push(id_of(&json_with(resp, 201, "arrange a booking").await));
    }
    // (query, expected bookings in order, why)
    let cases = [
        (
            format!("date={d}"),
            vec![&booking[0], &booking[1]],
            "D: 21:00 and 22:00 BST; 00:30 BST on D+1 is 23:30Z on D but not on D in London",
        ),
        (
            format!("date={d1}"),
            vec![&booking[2], &booking[3]],
            "D+1: 00:30 and 18:00 BST, ordered by start",
        ),
        (format!("date={d2}"), vec![&booking[4]], "D+2"),
        (
            String::new(),
            vec![&booking[0], &booking[1]],
            "no date: the service's today (D)",
        ),
    ];

    for (query, expected, why) in cases {
        // Act
        let list = day_list(&app, &query).await;

        // Assert
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(booking_ids(&list), expected, "{why}");
        if query.is_empty() {
            assert_eq!(list["date"], d.to_string(), "{why}: the date answered");
        }
    }
}

#[tokio::test]
async fn the_window_edges_are_exactly_24_hours_after_the_screening() {
    // Arrange: screened an hour ago (whole seconds); the window ends at screened + 24 h, inclusive.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let screened_at = now() - Duration::hours(1);
    let edge = screened_at + Duration::hours(24);
    let beyond = edge + Duration::minutes(1);
    // [edge, edge + 1 min), then [beyond, beyond + 30 min), then the next half hour: touching,
    // never overlapping.
    let at_edge = slot(&app, &hw, edge, beyond).await;
    let after_edge = slot_at(&app, &hw, beyond + Duration::minutes(30)).await;
    let just_after = slot(&app, &hw, beyond, beyond + Duration::minutes(30)).await;

    // Act + Assert: exactly 24 h is inside.
    let a = accepted_attendance_at(&app, screened_at).await;
    let inside = json_with(book(&app, &a, Some(&at_edge)).await, 201, "exactly 24 h").await;
    assert_eq!(inside["within_window"], true, "exactly 24 h is inside the window");
    assert_eq!(inside["outside_window_reason"], Value::Null);

    // Act + Assert: 24 h + 1 min without a reason.
    let b = accepted_attendance_at(&app, screened_at).await;
    let problem = assert_kind(
        book(&app, &b, Some(&just_after)).await,
        422,
        "outside-window",
        "24 h + 1 min without a reason",
    )
    .await;
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        list_slots(&app, "")
            .await
            .iter()
            .find(|s| id_of(s) == just_after)
            .unwrap()["available"],
        true,
        "the refused booking took nothing"
    );

    // Act + Assert: an invalid reason is a validation error.
    let invalid = book_with_reason(&app, &b, &just_after, "too_busy").await;
    let problem = assert_kind(invalid, 422, "validation", "not one of the two reasons").await;
    assert!(
        crate::scheduling_helpers::fields(&problem).contains(&"outside_window_reason".to_owned()),
        "{problem}"
    );

    // Act + Assert: with a reason, it is booked and flagged as a breach.
    // (slot, reason, why)
    let c = accepted_attendance_at(&app, screened_at).await;
    let cases = [
        (
            &just_after,
            &b,
            "patient_preference",
            "24 h + 1 min, the patient's choice",
        ),
        (&after_edge, &c, "no_capacity", "24 h 31 min, no capacity"),
    ];
    for (slot_id, attendance, reason, why) in cases {
        let outside = json_with(book_with_reason(&app, attendance, slot_id, reason).await, 201, why).await;
        assert_eq!(outside["within_window"], false, "{why}");
        assert_eq!(outside["outside_window_reason"], reason, "{why}");
        assert!(outside["lead_time"].is_string(), "{why}");
    }
}

#[tokio::test]
async fn a_slot_that_has_started_cannot_be_booked() {
    // Arrange: a slot 10 minutes ahead, then the service's clock moves 20 minutes on.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let soon = slot_at(&app, &hw, now() + Duration::minutes(10)).await;
    let attendance = accepted_attendance(&app).await;
    app.advance_clock(Duration::minutes(20));

    // Act
    let resp = book(&app, &attendance, Some(&soon)).await;

    // Assert
    assert_kind(resp, 422, "slot-in-past", "the slot started 10 minutes ago").await;
}

#[tokio::test]
async fn booking_needs_an_accepted_referral() {
    // Arrange: (decision or none, why)
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let free = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let cases = [
        (Some("declined"), "the patient declined"),
        (Some("seen_in_department"), "seen in the department: no booking"),
        (None, "no decision recorded"),
    ];

    for (decision, why) in cases {
        let attendance = positive_attendance_at(&app, now() - Duration::hours(1)).await;
        if let Some(decision) = decision {
            decide(&app, &attendance, decision).await;
        }

        // Act
        let resp = book(&app, &attendance, Some(&free)).await;

        // Assert
        assert_kind(resp, 409, "referral-not-accepted", why).await;
    }
    // A negative screening never gets a decision, so never a booking.
    let negative = attendance_at(&app, now() - Duration::hours(2)).await;
    screen(
        &app,
        &negative,
        &completed(now() - Duration::hours(1), negative_answers()),
    )
    .await;
    assert_kind(
        book(&app, &negative, Some(&free)).await,
        409,
        "referral-not-accepted",
        "a negative screening",
    )
    .await;
    // Without a slot_id, the same answer (not no-slot-in-window).
    let declined = positive_attendance_at(&app, now() - Duration::hours(1)).await;
    decide(&app, &declined, "declined").await;
    assert_kind(
        book(&app, &declined, None).await,
        409,
        "referral-not-accepted",
        "declined, no slot_id",
    )
    .await;
    assert_eq!(list_slots(&app, "").await[0]["available"], true, "nothing was booked");
}

#[tokio::test]
async fn unknown_attendances_and_slots_are_404() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let free = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let attendance = accepted_attendance(&app).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    // (attendance, slot, why)
    let cases = [
        (unknown.as_str(), Some(free.as_str()), "an unknown attendance"),
        (attendance.as_str(), Some(unknown.as_str()), "an unknown slot"),
        (unknown.as_str(), None, "an unknown attendance, no slot_id"),
    ];

    for (attendance, slot_id, why) in cases {
        // Act
        let resp = book(&app, attendance, slot_id).await;

        // Assert
        assert_kind(resp, 404, "not-found", why).await;
    }
    let resp = app.get(&format!("{BOOKINGS}/{unknown}"), "ahw").await;
    assert_kind(resp, 404, "not-found", "GET an unknown booking").await;
}

#[tokio::test]
async fn without_a_slot_id_the_earliest_free_slot_in_the_window_is_booked() {
    // Arrange: screened 1 h ago, window to now + 23 h. Slots: +10 min (started by the time we
    // book: the clock moves 20 min), +2 h (taken), +3 h 30 (other worker), +4 h, and +23 h 30
    // (outside the window). The earliest free slot in [now, screened + 24 h] is +3 h 30.
    let app = spawn_app().await;
    let hw1 = health_worker(&app).await;
    let hw2 = health_worker(&app).await;
    let t = now();
    let m = Duration::minutes;
    let started = slot_at(&app, &hw1, t + m(10)).await;
    let taken = slot_at(&app, &hw1, t + m(120)).await;
    let earliest_free = slot_at(&app, &hw2, t + m(210)).await;
    let later_free = slot_at(&app, &hw1, t + m(240)).await;
    let outside = slot_at(&app, &hw1, t + m(23 * 60 + 30)).await;
    let other = accepted_attendance_at(&app, t - Duration::hours(1)).await;
    booked(&app, &other, &taken).await;
    let attendance = accepted_attendance_at(&app, t - Duration::hours(1)).await;
    app.advance_clock(m(20));

    // Act
    let resp = book(&app, &attendance, None).await;

    // Assert
    let b = json_with(resp, 201, "automatic booking").await;
    assert_eq!(
        b["slot_id"],
        earliest_free.as_str(),
        "not the started one ({started}), not the taken one ({taken}), not the later one \
         ({later_free}) or the one outside the window ({outside})"
    );
    assert_eq!(b["health_worker_id"], hw2.as_str(), "whichever worker has it");
    assert_eq!(b["within_window"], true);
    assert_eq!(at(&b["starts_at"]), t + m(210));
}

#[tokio::test]
async fn the_automatic_choice_includes_a_slot_at_exactly_24_hours() {
    // Arrange: the only free slot starts exactly 24 h after the screening.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let screened_at = now() - Duration::hours(1);
    let edge = slot_at(&app, &hw, screened_at + Duration::hours(24)).await;
    let attendance = accepted_attendance_at(&app, screened_at).await;

    // Act
    let resp = book(&app, &attendance, None).await;

    // Assert
    let b = json_with(resp, 201, "the window end is inclusive").await;
    assert_eq!(b["slot_id"], edge.as_str());
    assert_eq!(b["within_window"], true);
}

#[tokio::test]
async fn no_free_slot_in_the_window_is_409() {
    // Arrange: one slot in the window, already taken; one a minute beyond the window.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let screened_at = now() - Duration::hours(1);
    let taken = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let beyond = slot_at(&app, &hw, screened_at + Duration::hours(24) + Duration::minutes(1)).await;
    let other = accepted_attendance_at(&app, screened_at).await;
    booked(&app, &other, &taken).await;
    let attendance = accepted_attendance_at(&app, screened_at).await;

    // Act
    let resp = book(&app, &attendance, None).await;

    // Assert
    assert_kind(resp, 409, "no-slot-in-window", "nothing free in the window").await;
    let free = list_slots(&app, "available=true").await;
    assert_eq!(ids(&free), vec![beyond], "the slot beyond the window was not taken");
}

#[tokio::test]
async fn a_taken_slot_is_409() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let s = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let first = accepted_attendance(&app).await;
    let second = accepted_attendance(&app).await;
    let winner = booked(&app, &first, &s).await;

    // Act
    let resp = book(&app, &second, Some(&s)).await;

    // Assert
    assert_kind(resp, 409, "slot-taken", "another patient holds the slot").await;
    assert_eq!(list_slots(&app, "").await[0]["booking_id"], winner["id"]);
}

#[tokio::test]
async fn a_referral_has_one_active_booking_and_rebooking_is_cancel_then_book() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let first_slot = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let second_slot = slot_at(&app, &hw, now() + Duration::hours(3)).await;
    let attendance = accepted_attendance(&app).await;
    let someone_else = accepted_attendance(&app).await;
    let first = booked(&app, &attendance, &first_slot).await;

    // Act + Assert: a second booking for the same referral, given or automatic.
    assert_kind(
        book(&app, &attendance, Some(&second_slot)).await,
        409,
        "already-booked",
        "a second slot for one referral",
    )
    .await;
    assert_kind(
        book(&app, &attendance, None).await,
        409,
        "already-booked",
        "a second, automatic booking",
    )
    .await;

    // Act + Assert: cancel, and the cancelled slot is free at once, for anyone.
    let cancelled = cancel(&app, &id_of(&first)).await;
    assert_eq!(cancelled["status"], "cancelled");
    let slots = list_slots(&app, "").await;
    assert_eq!(slots[0]["available"], true, "freed at once");
    assert_eq!(slots[0]["booking_id"], Value::Null);
    let theirs = booked(&app, &someone_else, &first_slot).await;
    assert_eq!(
        theirs["slot_id"],
        first_slot.as_str(),
        "another patient takes the freed slot"
    );

    // Act + Assert: the referral books again.
    let rebooked = booked(&app, &attendance, &second_slot).await;
    assert_ne!(rebooked["id"], first["id"], "a new booking");
    assert_eq!(rebooked["status"], "booked");
}

#[tokio::test]
async fn a_referral_can_rebook_its_own_cancelled_slot() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let s = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let attendance = accepted_attendance(&app).await;
    let first = booked(&app, &attendance, &s).await;
    cancel(&app, &id_of(&first)).await;

    // Act
    let resp = book(&app, &attendance, Some(&s)).await;

    // Assert
    let again = json_with(resp, 201, "the cancelled booking no longer holds the slot").await;
    assert_ne!(again["id"], first["id"]);
}

#[tokio::test]
async fn fifty_concurrent_requests_for_one_slot_book_it_once() {
    // Arrange: 50 patients, each with their own accepted referral, and one slot.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let contested = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let mut attendances = vec![];
    for _ in 0..50 {
        attendances.push(accepted_attendance(&app).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = tokio::task::JoinSet::new();
    for attendance in attendances {
        let client = app.client.clone();
        let url = app.url(BOOKINGS);
        let token = app.token("integration");
        let barrier = barrier.clone();
        let body = json!({ "attendance_id": attendance, "slot_id": contested });
        tasks.spawn(async move {
            barrier.wait().await;
            let resp = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        });
    }

    // Act
    let mut answers = vec![];
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.unwrap());
    }

    // Assert
    let winners: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b).collect();
    let losers: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s != 201).collect();
    assert_eq!(winners.len(), 1, "exactly one booking on {}: {answers:?}", app.backend);
    assert_eq!(losers.len(), 49);
    for (status, body) in &losers {
        assert_eq!(
            *status, 409,
            "{}: every other request is a conflict: {body}",
            app.backend
        );
        assert_eq!(body["type"], "urn:pat-service:problem:slot-taken", "{body}");
    }
    let slots = list_slots(&app, "").await;
    assert_eq!(
        slots[0]["booking_id"], winners[0]["id"],
        "the slot names the one winner"
    );
    let creates = events_about(&app, "booking")
        .await
        .into_iter()
        .filter(|e| e["action"] == "create")
        .count();
    assert_eq!(creates, 1, "the 49 refused requests wrote no booking event");
}

/// A `pat-service serve` process; killed when dropped.
struct ServerProcess {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Starts the real binary on `database_url` and waits until `/health/ready` answers 200.
async fn start_server(database_url: &str, secret: &str) -> (ServerProcess, String) {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("pat-two-servers-{}.log", uuid::Uuid::new_v4().simple()));
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_pat-service"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("PAT_JWT_SECRET", secret)
        .env("PAT_LISTEN", format!("127.0.0.1:{port}"))
        .env("PAT_DB_POOL_SIZE", "10")
        .env("PAT_WRITE_BATCH_SIZE", crate::helpers::write_batch_size().to_string())
        .env("RUST_LOG", "warn")
        .env_remove("PAT_JWT_PUBLIC_KEY_FILE")
        .env_remove("PAT_JWT_ALGORITHM")
        .env_remove("PAT_JWT_ISSUER")
        .env_remove("PAT_JWT_AUDIENCE")
        .env_remove("PAT_BOOKING_WINDOW_HOURS")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("the binary starts");
    let mut server = ServerProcess { child, log };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(resp) = client.get(format!("{base}/health/ready")).send().await {
            if resp.status().is_success() {
                break;
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            panic!("the server exited early with {status}: {log}");
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(60),
            "the server became ready"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    (server, base)
}

#[tokio::test]
async fn two_server_processes_on_one_postgresql_never_double_book() {
    // SQLite is for one instance (the README says so): two processes on one SQLite file is not a
    // supported deployment, so this runs only when TEST_DATABASE_URL names a PostgreSQL server.
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {}
        _ => return,
    }
    // Arrange: one migrated database, two processes of the real binary sharing it.
    let (_db, url) = crate::helpers::TestDb::migrated();
    const SECRET: &str = "two-servers-test-secret-0123456789abcdef";
    assert_eq!(SECRET.len(), 40);
    let (_a, base_a) = start_server(&url, SECRET).await;
    let (_b, base_b) = start_server(&url, SECRET).await;
    let mint = |sub: &str, role: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({
                "sub": sub, "roles": [role], "iss": ISSUER, "aud": AUDIENCE,
                "exp": (Utc::now() + Duration::hours(1)).timestamp(),
            }),
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let admin = mint("two-servers-admin", "admin");
    let clinician = mint("two-servers-clinician", "clinician");
    let client = reqwest::Client::new();
    let post = |base: &str, path: &str, token: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    let hw = post(
        &base_a,
        "/api/v1/health-workers",
        &admin,
        json!({ "name": "Two Servers" }),
    )
    .await
    .unwrap();
    let hw = id_of(&json_with(hw, 201, "health worker").await);
    let starts = now() + Duration::hours(2);
    let s = post(
        &base_a,
        "/api/v1/slots",
        &admin,
        json!({ "health_worker_id": hw, "starts_at": rfc(starts), "ends_at": rfc(starts + Duration::minutes(30)) }),
    )
    .await
    .unwrap();
    let contested = id_of(&json_with(s, 201, "slot").await["slots"][0]);
    let screened_at = now() - Duration::hours(1);
    let mut attendances = vec![];
    for i in 0..50 {
        let mut body = crate::helpers::attendance_body(&format!("two-servers-{i}"));
        body["arrived_at"] = json!(rfc(screened_at - Duration::hours(1)));
        let created = post(&base_a, "/api/v1/attendances", &clinician, body).await.unwrap();
        let id = id_of(&json_with(created, 201, "attendance").await);
        let screened = client
            .put(format!("{base_a}/api/v1/attendances/{id}/screening"))
            .bearer_auth(&clinician)
            .json(&completed(screened_at, crate::scheduling_helpers::positive_answers()))
            .send()
            .await
            .unwrap();
        json_with(screened, 201, "screening").await;
        let referred = client
            .put(format!("{base_a}/api/v1/attendances/{id}/referral"))
            .bearer_auth(&clinician)
            .json(&json!({ "decision": "accepted" }))
            .send()
            .await
            .unwrap();
        json_with(referred, 201, "referral").await;
        attendances.push(id);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, attendance) in attendances.into_iter().enumerate() {
        let base = if i % 2 == 0 { base_a.clone() } else { base_b.clone() };
        let client = client.clone();
        let token = clinician.clone();
        let barrier = barrier.clone();
        let body = json!({ "attendance_id": attendance, "slot_id": contested });
        tasks.spawn(async move {
            barrier.wait().await;
            let resp = client
                .post(format!("{base}/api/v1/bookings"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (i % 2, status, resp.json::<Value>().await.unwrap())
        });
    }

    // Act
    let mut answers = vec![];
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.unwrap());
    }

    // Assert
    let winners: Vec<&(usize, u16, Value)> = answers.iter().filter(|(_, s, _)| *s == 201).collect();
    assert_eq!(winners.len(), 1, "one booking across both processes: {answers:?}");
    for (process, status, body) in answers.iter().filter(|(_, s, _)| *s != 201) {
        assert_eq!(*status, 409, "process {process}: a conflict, not an error: {body}");
        assert_eq!(body["type"], "urn:pat-service:problem:slot-taken", "{body}");
    }
    assert_eq!(
        answers.iter().filter(|(p, _, _)| *p == 1).count(),
        25,
        "half of the requests went to the second process"
    );
    for base in [&base_a, &base_b] {
        let listed: Value = client
            .get(format!("{base}/api/v1/slots?health_worker_id={hw}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            listed["slots"][0]["booking_id"], winners[0].2["id"],
            "{base}: both processes see the one booking"
        );
    }
}

#[tokio::test]
async fn the_day_list_shows_patient_screening_and_alerts_and_audits_each_booking() {
    // Arrange: service now D 10:00 BST (09:00Z). Two patients booked for D with two workers.
    let app = spawn_app().await;
    let d = next_summer_day();
    set_clock(&app, utc(d, 9, 0));
    let hw1 = health_worker(&app).await;
    let hw2 = health_worker(&app).await;
    // A woman, NHS 4857773457 (valid: 4·10+8·9+5·8+7·7+7·6+7·5+3·4+4·3+5·2 = 312, 312 mod 11 =
    // 4, 11 − 4 = 7), after an assault: 12 units > 6 (female threshold) → positive; drinks every
    // day → possible dependence.
    let woman = attendance_of(
        &app,
        json!({ "nhs_number": "4857773457", "local_id": "RH-20931", "sex": "female", "date_of_birth": "1970-05-04" }),
        "assault",
        utc(d, 7, 0),
    )
    .await;
    let daily = json!({
        "drinks_alcohol": true,
        "max_units_in_a_day": 12,
        "drinking_frequency": "daily",
        "attendance_related": false,
    });
    screen(&app, &woman, &completed(utc(d, 8, 0), daily)).await;
    decide(&app, &woman, "accepted").await;
    // A man known only by a local number, after a head injury: 2 units, but he says the attendance
    // is related to alcohol → positive, no alert (weekly drinker).
    let man = attendance_of(
        &app,
        json!({ "local_id": "RH-77", "sex": "male" }),
        "head_injury",
        utc(d, 7, 30),
    )
    .await;
    let related = json!({
        "drinks_alcohol": true,
        "max_units_in_a_day": 2,
        "drinking_frequency": "weekly",
        "days_per_week": 2,
        "attendance_related": true,
    });
    screen(&app, &man, &completed(utc(d, 8, 15), related)).await;
    decide(&app, &man, "accepted").await;
    let woman_slot = slot_at(&app, &hw1, utc(d, 12, 0)).await;
    let man_slot = slot_at(&app, &hw2, utc(d, 11, 0)).await;
    let woman_booking = id_of(&booked(&app, &woman, &woman_slot).await);
    let man_booking = id_of(&booked(&app, &man, &man_slot).await);
    let reads_before = booking_reads(&app).await.len();

    // Act
    let resp = app.get(&format!("{BOOKINGS}?date={d}"), "ahw").await;
    let rid = request_id(&resp);
    let list = json_with(resp, 200, "the day list").await;

    // Assert
    assert_eq!(list["date"], d.to_string());
    assert_eq!(
        booking_ids(&list),
        vec![man_booking.clone(), woman_booking.clone()],
        "ordered by start: 12:00 BST before 13:00 BST"
    );
    let her = &list["bookings"][1];
    assert!(her["patient"]["id"].is_string(), "the patient's registry id: {her}");
    let mut patient = her["patient"].clone();
    patient.as_object_mut().unwrap().remove("id");
    assert_eq!(
        patient,
        json!({ "nhs_number": "4857773457", "local_id": "RH-20931", "local_id_system": null, "sex": "female", "date_of_birth": "1970-05-04" })
    );
    assert_eq!(her["presenting_condition"], "assault");
    assert_eq!(her["indications"], json!(["assault"]));
    assert_eq!(her["screening"]["result"], "positive");
    assert_eq!(her["screening"]["rule"], "pat-2009");
    assert_eq!(her["screening"]["units"], 12.0);
    assert_eq!(her["screening"]["alerts"], json!(["possible_dependence"]));
    assert_eq!(her["screening"]["answers"]["drinking_frequency"], "daily");
    assert_eq!(her["screening"]["answers"]["max_units_in_a_day"], 12.0);
    assert_eq!(her["status"], "booked");
    assert_eq!(her["lead_time"], "same_day", "screened 09:00 BST, seen 13:00 BST");
    assert_eq!(at(&her["starts_at"]), utc(d, 12, 0));
    assert_eq!(her["health_worker_id"], hw1.as_str());
    let him = &list["bookings"][0];
    assert_eq!(him["patient"]["nhs_number"], Value::Null);
    assert_eq!(him["patient"]["local_id"], "RH-77");
    assert_eq!(him["patient"]["sex"], "male");
    assert_eq!(him["presenting_condition"], "head_injury");
    assert_eq!(him["screening"]["units"], 2.0);
    assert_eq!(him["screening"]["alerts"], json!([]));
    assert_eq!(him["screening"]["answers"]["attendance_related"], true);
    let reads = booking_reads(&app).await;
    assert_eq!(reads.len() - reads_before, 2, "one read event per booking returned");
    let mut keys: Vec<&str> = reads[..2].iter().map(|e| e["patient_key"].as_str().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, ["local:RH-77", "nhs:4857773457"], "each names its patient");
    for event in &reads[..2] {
        assert_eq!(event["actor"], "test-ahw");
        assert_eq!(event["request_id"], rid.as_str());
    }

    // Act + Assert: the filters, each returning only what it names, each read audited.
    cancel(&app, &man_booking).await;
    // (query, expected, why)
    let cases = [
        (
            format!("date={d}&health_worker_id={hw1}"),
            vec![&woman_booking],
            "hw1's day",
        ),
        (
            format!("date={d}&health_worker_id={hw2}"),
            vec![&man_booking],
            "hw2's day",
        ),
        (format!("date={d}&status=booked"), vec![&woman_booking], "still booked"),
        (format!("date={d}&status=cancelled"), vec![&man_booking], "cancelled"),
        (
            format!("date={d}"),
            vec![&man_booking, &woman_booking],
            "no status filter: every booking of the day",
        ),
        (
            format!("date={d}&health_worker_id={hw2}&status=booked"),
            vec![],
            "filters combine",
        ),
        (format!("date={}", d + Duration::days(1)), vec![], "another day"),
    ];
    for (query, expected, why) in cases {
        let before = booking_reads(&app).await.len();
        let list = day_list(&app, &query).await;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(booking_ids(&list), expected, "{why}");
        assert_eq!(
            booking_reads(&app).await.len() - before,
            expected.len(),
            "{why}: one audit event per booking returned"
        );
    }
}

#[tokio::test]
async fn get_one_booking_shows_the_item_and_is_audited() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let s = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let attendance = accepted_attendance(&app).await;
    let b = booked(&app, &attendance, &s).await;
    let before = booking_reads(&app).await.len();

    // Act
    let resp = app.get(&format!("{BOOKINGS}/{}", id_of(&b)), "ahw").await;
    let rid = request_id(&resp);
    let item = json_with(resp, 200, "GET /bookings/{id}").await;

    // Assert
    assert_eq!(item["id"], b["id"]);
    assert_eq!(item["patient"]["nhs_number"], "9434765919");
    assert_eq!(item["patient"]["sex"], "male");
    assert_eq!(item["presenting_condition"], "fall");
    assert_eq!(item["screening"]["result"], "positive");
    assert_eq!(item["screening"]["units"], 12.0);
    assert_eq!(item["screening"]["alerts"], json!([]), "less than weekly: no alert");
    let reads = booking_reads(&app).await;
    assert_eq!(reads.len() - before, 1, "one read event");
    assert_eq!(reads[0]["patient_key"], PATIENT_KEY);
    assert_eq!(reads[0]["request_id"], rid.as_str());
}

#[tokio::test]
async fn booking_writes_one_create_event_and_unmet_demand_an_unmet_event() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let s = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let attendance = accepted_attendance(&app).await;
    let declined = positive_attendance_at(&app, now() - Duration::hours(1)).await;
    refer(&app, &declined, "declined").await;

    // Act
    let resp = book(&app, &attendance, Some(&s)).await;
    let rid = request_id(&resp);
    let b = json_with(resp, 201, "booked").await;
    book(&app, &attendance, Some(&s)).await;
    book(&app, &declined, Some(&s)).await;

    // Assert: newest first — the refusal of the declined referral (unmet demand, no booking),
    // then the booking. The slot lost to a booking (slot-taken) is a race, not unmet demand: no
    // event.
    let events = events_about(&app, "booking").await;
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["detail"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        actions,
        vec![("unmet", "referral-not-accepted"), ("create", "")],
        "{events:?}"
    );
    assert_eq!(
        events[0]["resource_id"],
        declined.as_str(),
        "an unmet attempt names the attendance"
    );
    let events = &events[1..];
    assert_eq!(events[0]["action"], "create");
    assert_eq!(events[0]["actor"], "test-clinician");
    assert_eq!(events[0]["patient_key"], PATIENT_KEY);
    assert_eq!(events[0]["request_id"], rid.as_str());
    assert!(
        events[0]["resource_id"] == b["id"] || events[0]["resource_id"] == json!(attendance),
        "the event names the booking or its attendance: {}",
        events[0]
    );
}

#[tokio::test]
async fn booking_checks_answer_in_the_documented_order() {
    // Arrange: docs/design.md §4 — shape (422) before existence (404) before state (409) before rules
    // that depend on time (422). Each row breaks two rules; the earlier one answers.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let screened_at = now() - Duration::hours(1);
    let accepted = accepted_attendance_at(&app, screened_at).await;
    let holder = accepted_attendance_at(&app, screened_at).await;
    let declined = positive_attendance_at(&app, screened_at).await;
    decide(&app, &declined, "declined").await;
    let soon = slot_at(&app, &hw, now() + Duration::minutes(10)).await;
    let beyond = slot_at(&app, &hw, screened_at + Duration::hours(30)).await;
    json_with(
        book_with_reason(&app, &holder, &beyond, "patient_preference").await,
        201,
        "arrange: another patient holds the slot beyond the window",
    )
    .await;
    app.advance_clock(Duration::minutes(20));
    let unknown = uuid::Uuid::new_v4().to_string();
    // (body, status, problem slug, why)
    let cases = [
        (
            json!({ "attendance_id": unknown, "slot_id": soon, "outside_window_reason": "whenever" }),
            422,
            "validation",
            "an invalid reason (422) before an unknown attendance (404)",
        ),
        (
            json!({ "attendance_id": declined, "slot_id": unknown }),
            404,
            "not-found",
            "an unknown slot (404) before a declined referral (409)",
        ),
        (
            json!({ "attendance_id": declined, "slot_id": soon }),
            409,
            "referral-not-accepted",
            "a declined referral (409) before a slot that has started (422)",
        ),
        (
            json!({ "attendance_id": accepted, "slot_id": beyond }),
            409,
            "slot-taken",
            "a taken slot (409) before the missing outside-window reason (422)",
        ),
    ];

    for (body, status, slug, why) in cases {
        // Act
        let resp = app.post_json(BOOKINGS, "clinician", &body).await;

        // Assert
        assert_kind(resp, status, slug, why).await;
    }
}
