//! Data rules under concurrent requests: enforced by the database, not by check-then-insert.

use serde_json::{json, Value};

use crate::helpers::{attendance_body, spawn_app};

#[tokio::test]
async fn simultaneous_corrections_each_become_their_own_version() {
    // Arrange: one attendance, then 10 different screenings of it sent at once.
    let app = spawn_app().await;
    let attendance = app.create_attendance(&attendance_body("race-screening")).await;
    let id = attendance["id"].as_str().unwrap().to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for units in 1..=10 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/attendances/{id}/screening"));
        let token = app.token("integration");
        tasks.spawn(async move {
            let body = json!({"status": "completed", "answers": {
                "drinks_alcohol": true, "max_units_in_a_day": units,
                "drinking_frequency": "less_than_weekly", "attendance_related": false}});
            let response = client.put(url).bearer_auth(token).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });
    }

    // Act
    let mut statuses = vec![];
    let mut versions = vec![];
    while let Some(joined) = tasks.join_next().await {
        let (status, body) = joined.unwrap();
        statuses.push(status);
        versions.push(body["version"].as_i64().unwrap_or(-1));
    }

    // Assert: one first recording, nine corrections, versions 1..=10 each exactly once.
    statuses.sort();
    let mut expected_statuses = vec![200; 9];
    expected_statuses.push(201);
    assert_eq!(
        statuses, expected_statuses,
        "one 201 for the first version, 200 for each correction"
    );
    versions.sort();
    assert_eq!(
        versions,
        (1..=10).collect::<Vec<i64>>(),
        "no version is written twice or skipped"
    );
    let stored: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stored["screening"]["version"], 10,
        "the latest version is the current screening"
    );
    assert_eq!(
        stored["previous_screenings"].as_array().unwrap().len(),
        9,
        "every earlier version is kept"
    );
}

/// `count` accepted referrals, each with a free slot of its own: `(attendance id, slot id)`.
async fn accepted_referrals_with_slots(app: &crate::helpers::TestApp, count: i64) -> Vec<(String, String)> {
    use crate::scheduling_helpers::{accepted_attendance, health_worker, now, slot};
    let worker = health_worker(app).await;
    let mut pairs = vec![];
    for i in 0..count {
        let starts = now() + chrono::Duration::hours(2) + chrono::Duration::minutes(30 * i);
        let slot_id = slot(app, &worker, starts, starts + chrono::Duration::minutes(30)).await;
        pairs.push((accepted_attendance(app).await, slot_id));
    }
    pairs
}

/// (record id, which request, method, path, body).
type Request = (String, &'static str, reqwest::Method, String, Value);

/// Fires every request at once; answers `(attendance id, which request, status)`.
async fn fire_all(app: &crate::helpers::TestApp, requests: Vec<Request>) -> Vec<(String, &'static str, u16)> {
    let mut tasks = tokio::task::JoinSet::new();
    for (id, which, method, path, body) in requests {
        // Withdrawing slots is for AHWs; everything else here a clinician does.
        let role = if method == reqwest::Method::DELETE {
            "ahw"
        } else {
            "clinician"
        };
        let request = app
            .client
            .request(method, app.url(&path))
            .bearer_auth(app.token(role))
            .json(&body);
        tasks.spawn(async move { (id, which, request.send().await.unwrap().status().as_u16()) });
    }
    let mut answers = vec![];
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.unwrap());
    }
    answers
}

fn status_of(answers: &[(String, &'static str, u16)], id: &str, which: &str) -> u16 {
    answers
        .iter()
        .find(|(i, w, _)| i == id && *w == which)
        .map(|(_, _, s)| *s)
        .unwrap()
}

#[tokio::test]
async fn a_correction_and_a_referral_decision_at_once_never_leave_a_decision_on_a_changed_result() {
    use crate::scheduling_helpers::{completed, negative_answers, now, positive_attendance_at, referral_path};
    // Arrange: 12 positive screenings.
    let app = spawn_app().await;
    let screened = now() - chrono::Duration::hours(1);
    let mut ids = vec![];
    for _ in 0..12 {
        ids.push(positive_attendance_at(&app, screened).await);
    }

    // Act: for each, a correction to a negative result and an "accepted" decision, all at once.
    let mut requests = vec![];
    for id in &ids {
        let screening = format!("/api/v1/attendances/{id}/screening");
        requests.push((
            id.clone(),
            "correct",
            reqwest::Method::PUT,
            screening,
            completed(screened, negative_answers()),
        ));
        requests.push((
            id.clone(),
            "refer",
            reqwest::Method::PUT,
            referral_path(id),
            json!({"decision": "accepted"}),
        ));
    }
    let answers = fire_all(&app, requests).await;

    // Assert: whichever came first wins and the other is refused (DESIGN.md §4): the decision is
    // never left standing on a result that changed under it.
    for id in &ids {
        let (correct, refer) = (status_of(&answers, id, "correct"), status_of(&answers, id, "refer"));
        assert!(
            (correct == 200 && refer == 409) || (correct == 409 && refer == 201),
            "one of the two must win: correction {correct}, decision {refer}"
        );
        let stored: Value = app
            .get(&format!("/api/v1/attendances/{id}"), "clinician")
            .await
            .json()
            .await
            .unwrap();
        let expected = if stored["referral"].is_null() {
            "negative"
        } else {
            "positive"
        };
        assert_eq!(
            stored["screening"]["result"], expected,
            "a recorded decision keeps its positive result"
        );
    }
}

#[tokio::test]
async fn a_booking_and_a_declined_decision_at_once_never_leave_a_booking_on_a_declined_referral() {
    use crate::scheduling_helpers::referral_path;
    // Arrange: 12 accepted referrals, each with a free slot of its own.
    let app = spawn_app().await;
    let pairs = accepted_referrals_with_slots(&app, 12).await;

    // Act: for each, a booking and a change of mind to "declined", at once.
    let mut requests = vec![];
    for (id, slot_id) in &pairs {
        let booking = json!({"attendance_id": id, "slot_id": slot_id});
        requests.push((
            id.clone(),
            "book",
            reqwest::Method::POST,
            "/api/v1/bookings".to_owned(),
            booking,
        ));
        requests.push((
            id.clone(),
            "decline",
            reqwest::Method::PUT,
            referral_path(id),
            json!({"decision": "declined"}),
        ));
    }
    let answers = fire_all(&app, requests).await;

    // Assert: the booking and the decision change never both succeed.
    for (id, _) in &pairs {
        let (book, decline) = (status_of(&answers, id, "book"), status_of(&answers, id, "decline"));
        assert!(
            (book == 201 && decline == 409) || (book == 409 && decline == 200),
            "one of the two must win: booking {book}, decline {decline}"
        );
        let stored: Value = app
            .get(&format!("/api/v1/attendances/{id}"), "clinician")
            .await
            .json()
            .await
            .unwrap();
        let booked = stored["bookings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["status"] == "booked");
        assert_eq!(
            stored["referral"]["decision"] == "declined",
            !booked,
            "declined exactly when not booked"
        );
    }
}

#[tokio::test]
async fn a_booking_and_a_withdrawal_of_its_slot_at_once_never_leave_a_booking_on_a_withdrawn_slot() {
    // Arrange: 12 accepted referrals, each with a free slot of its own.
    let app = spawn_app().await;
    let pairs = accepted_referrals_with_slots(&app, 12).await;

    // Act: for each, a booking of the slot and its withdrawal, at once.
    let mut requests = vec![];
    for (id, slot_id) in &pairs {
        let booking = json!({"attendance_id": id, "slot_id": slot_id});
        requests.push((
            id.clone(),
            "book",
            reqwest::Method::POST,
            "/api/v1/bookings".to_owned(),
            booking,
        ));
        requests.push((
            id.clone(),
            "withdraw",
            reqwest::Method::DELETE,
            format!("/api/v1/slots/{slot_id}"),
            json!({}),
        ));
    }
    let answers = fire_all(&app, requests).await;

    // Assert: either the booking holds the slot (withdrawal 409) or the slot is gone (booking 404).
    for (id, _) in &pairs {
        let (book, withdraw) = (status_of(&answers, id, "book"), status_of(&answers, id, "withdraw"));
        assert!(
            (book == 201 && withdraw == 409) || (book == 404 && withdraw == 204),
            "one of the two must win: booking {book}, withdrawal {withdraw}"
        );
        let stored: Value = app
            .get(&format!("/api/v1/attendances/{id}"), "clinician")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            stored["bookings"].as_array().unwrap().len(),
            usize::from(book == 201),
            "booked exactly when it won"
        );
    }
}
