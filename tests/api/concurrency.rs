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

    // Assert: whichever came first wins and the other is refused (docs/design.md §4): the decision is
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
            json!({"decision": "declined", "reason": "changed their mind"}),
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
async fn a_booking_and_an_entered_in_error_mark_at_once_never_leave_a_live_booking_on_a_marked_attendance() {
    // Arrange: 12 accepted referrals, each with a free slot of its own.
    let app = spawn_app().await;
    let pairs = accepted_referrals_with_slots(&app, 12).await;

    // Act: for each, a booking and an entered-in-error mark, at once.
    let mut requests = vec![];
    for (id, slot_id) in &pairs {
        requests.push((
            id.clone(),
            "book",
            reqwest::Method::POST,
            "/api/v1/bookings".to_owned(),
            json!({"attendance_id": id, "slot_id": slot_id}),
        ));
        requests.push((
            id.clone(),
            "mark",
            reqwest::Method::POST,
            format!("/api/v1/attendances/{id}/entered-in-error"),
            json!({"reason": "duplicate"}),
        ));
    }
    let answers = fire_all(&app, requests).await;

    // Assert: the mark always stands; a booking either came first (and the mark cancelled it,
    // freeing the slot) or was refused. No marked attendance holds a slot.
    for (id, _) in &pairs {
        let (book, mark) = (status_of(&answers, id, "book"), status_of(&answers, id, "mark"));
        assert_eq!(mark, 200, "the mark always succeeds");
        assert!(book == 201 || book == 409, "booking answered {book}");
        let stored: Value = app
            .get(&format!("/api/v1/attendances/{id}"), "clinician")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stored["record_status"], "entered_in_error");
        let statuses: Vec<&Value> = stored["bookings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| &b["status"])
            .collect();
        let expected: Vec<Value> = if book == 201 { vec![json!("cancelled")] } else { vec![] };
        assert_eq!(
            statuses,
            expected.iter().collect::<Vec<_>>(),
            "a booking that came first is cancelled; none is left booked"
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

/// One pair's worth of requests: the attendance body and the screening answers of patient `p`,
/// attendance `n`. Even patients are men answering 8.5 units, odd ones women answering 6: on the
/// pat-2009 thresholds (docs/domain.md §4: more than 8 for men, more than 6 for women) the men are
/// positive and the women negative, so a screening scored with the wrong patient's sex shows.
fn burst_pair(p: usize, n: usize) -> (Value, Value) {
    let (sex, units) = if p % 2 == 0 { ("male", 8.5) } else { ("female", 6.0) };
    let attendance = json!({
        "source_system": "burst-epr",
        "source_id": format!("burst-{p}-{n}"),
        "patient": { "local_id": format!("BURST-{p}"), "sex": sex },
        "arrived_at": format!("2025-03-02T{:02}:{:02}:00Z", 8 + n, p),
        "presenting_condition": "fall"
    });
    let screening = json!({
        "status": "completed",
        "rule": "pat-2009",
        "screened_at": format!("2025-03-02T{:02}:{:02}:30Z", 8 + n, p),
        "answers": {
            "drinks_alcohol": true, "max_units_in_a_day": units,
            "drinking_frequency": "less_than_weekly", "attendance_related": false
        }
    });
    (attendance, screening)
}

/// Sends the request; its status and JSON body.
async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_patients_attendances_and_screenings_at_once_are_each_answered_as_alone() {
    // Arrange: 8 patients, each with one attendance recorded beforehand (so every later one is a
    // repeat attender, docs/domain.md §2), then 5 more attendances each, 40 in all, each followed by
    // its screening, all 40 pairs sent at once. On PostgreSQL these share write batches
    // (db/batch.rs); every answer must still be the one a lone request would get.
    let app = spawn_app().await;
    for p in 0..8 {
        let (mut first, _) = burst_pair(p, 0);
        first["source_id"] = json!(format!("burst-{p}-earlier"));
        first["arrived_at"] = json!("2025-03-01T10:00:00Z");
        app.create_attendance(&first).await;
    }
    let token = app.token("integration");
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..8 {
        for n in 1..=5 {
            let (client, token) = (app.client.clone(), token.clone());
            let attendances_url = app.url("/api/v1/attendances");
            let base = app.url("");
            tasks.spawn(async move {
                let (attendance, screening) = burst_pair(p, n);
                let request = client.post(&attendances_url).bearer_auth(&token).json(&attendance);
                let (created_status, created) = answer(request).await;
                let id = created["id"].as_str().unwrap_or_default().to_owned();
                let url = format!("{base}/api/v1/attendances/{id}/screening");
                let (screened_status, screened) = answer(client.put(&url).bearer_auth(&token).json(&screening)).await;
                (p, created_status, created, screened_status, screened)
            });
        }
    }

    // Act
    let mut answers = vec![];
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.unwrap());
    }

    // Assert
    assert_eq!(answers.len(), 40);
    let mut ids = std::collections::HashSet::new();
    for (p, created_status, created, screened_status, screened) in &answers {
        assert_eq!(*created_status, 201, "patient {p}: {created}");
        assert!(ids.insert(created["id"].clone()), "each attendance is new: {created}");
        assert_eq!(
            created["indications"],
            json!(["fall", "repeat_attender"]),
            "patient {p} attended before: a repeat attender"
        );
        assert_eq!(*screened_status, 201, "patient {p}: {screened}");
        assert_eq!(screened["version"], 1);
        let expected = if p % 2 == 0 { "positive" } else { "negative" };
        assert_eq!(
            screened["result"], expected,
            "patient {p} scored by their own sex: {screened}"
        );
    }
    let events = app.audit_events().await;
    for (_, _, created, _, _) in &answers {
        let id = &created["id"];
        let of = |kind: &str| {
            events
                .iter()
                .filter(|e| e["resource_id"] == *id && e["resource_type"] == kind && e["action"] == "create")
                .count()
        };
        assert_eq!(
            (of("attendance"), of("screening")),
            (1, 1),
            "one create event each for attendance {id} and its screening"
        );
    }
    for (p, _, created, _, _) in answers.iter().take(4) {
        let id = created["id"].as_str().unwrap();
        let stored: Value = app
            .get(&format!("/api/v1/attendances/{id}"), "clinician")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stored["patient"]["local_id"], format!("BURST-{p}"), "stored as sent");
        assert_eq!(stored["screening"]["version"], 1);
    }
}

#[tokio::test]
async fn without_write_batches_a_pair_and_its_replays_answer_the_same() {
    // Arrange: PAT_WRITE_BATCH_SIZE=0 writes each request on its own (on SQLite there are no
    // batches anyway).
    let app = crate::helpers::spawn_app_with(|settings| settings.write_batch_size = 0).await;
    let body = attendance_body("unbatched-1");

    // Act
    let first = app.post_json("/api/v1/attendances", "integration", &body).await;
    let first_status = first.status().as_u16();
    let first: Value = first.json().await.unwrap();
    let again = app.post_json("/api/v1/attendances", "integration", &body).await;
    let again_status = again.status().as_u16();
    let again: Value = again.json().await.unwrap();
    let id = first["id"].as_str().unwrap();
    let (_, screening) = burst_pair(0, 1);
    let screened = app.record_screening(id, &screening).await;

    // Assert
    assert_eq!((first_status, again_status), (201, 200), "created, then a replay");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(screened.status().as_u16(), 201);
    let screened: Value = screened.json().await.unwrap();
    assert_eq!(screened["result"], "positive", "male 8.5 is more than 8");
}
