//! `POST /api/v1/attendances` and `GET /api/v1/attendances/{id}` as the EPR integration engine
//! uses them: defaults, idempotent replays under retries, NHS number checking, and the
//! indications (docs/domain.md §2) fixed when the attendance is recorded.
//!
//! Every expected value is worked out by hand from docs/domain.md and docs/design.md §4, never copied from
//! the service's output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, attendance_body, spawn_app, spawn_app_with, TestApp};

const ATTENDANCES: &str = "/api/v1/attendances";

/// The NHS number of `attendance_body`. Checked by hand (docs/domain.md §9): 9·10 + 4·9 + 3·8 + 4·7 +
/// 7·6 + 6·5 + 5·4 + 9·3 + 1·2 = 299; 299 mod 11 = 2; 11 − 2 = 9 = the tenth digit.
const NHS: &str = "9434765919";
/// A second valid NHS number: 4·10 + 0·9 + 1·8 + 0·7 + 2·6 + 3·5 + 2·4 + 1·3 + 3·2 = 92;
/// 92 mod 11 = 4; 11 − 4 = 7 = the tenth digit.
const NHS_2: &str = "4010232137";
/// A third: 9·10 + 8·9 + 7·8 + 6·7 + 5·6 + 4·5 + 3·4 + 2·3 + 1·2 = 330; 330 mod 11 = 0;
/// 11 − 0 = 11, which becomes 0 = the tenth digit.
const NHS_3: &str = "9876543210";
/// The first valid number of the NHS test range (999 000 0000 – 999 999 9999, never issued to a
/// patient): 9·10 + 9·9 + 9·8 + 0·7 + 0·6 + 0·5 + 0·4 + 0·3 + 1·2 = 245; 245 mod 11 = 3;
/// 11 − 3 = 8 = the tenth digit.
const NHS_TEST_RANGE: &str = "9990000018";
/// The last valid number below the test range: 9·10 + 9·9 + 8·8 + 9·(7+6+5+4+3+2) = 478;
/// 478 mod 11 = 5; 11 − 5 = 6 = the tenth digit.
const NHS_BELOW_TEST_RANGE: &str = "9989999996";
const PLACEHOLDER_MESSAGE: &str = "is a placeholder (all digits the same), not a patient's NHS number";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

fn instant(value: &Value) -> DateTime<Utc> {
    at(value
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, got {value}")))
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("a validation problem lists `errors`: {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// An attendance of the patient with this NHS number, arriving at `arrived_at`.
fn nhs_visit(source_id: &str, nhs: &str, arrived_at: &str, condition: &str) -> Value {
    let mut body = attendance_body(source_id);
    body["patient"]["nhs_number"] = json!(nhs);
    body["arrived_at"] = json!(arrived_at);
    body["presenting_condition"] = json!(condition);
    body
}

/// An attendance of a patient known only by a local hospital number.
fn local_visit(source_id: &str, local_id: &str, arrived_at: &str, condition: &str) -> Value {
    json!({
        "source_system": "test-epr",
        "source_id": source_id,
        "patient": { "local_id": local_id, "sex": "female" },
        "arrived_at": arrived_at,
        "presenting_condition": condition,
    })
}

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.post_json(ATTENDANCES, "clinician", body).await
}

#[tokio::test]
async fn create_answers_201_with_the_record_and_its_defaults() {
    // Arrange: only the required fields (docs/design.md §4): source_id, patient, arrived_at,
    // presenting_condition.
    let app = spawn_app().await;
    let body = json!({
        "source_id": "epr-1001",
        "patient": { "nhs_number": NHS },
        "arrived_at": "2025-03-01T10:00:00Z",
        "presenting_condition": "fall",
    });
    let before = Utc::now();

    // Act
    let resp = post(&app, &body).await;
    let after = Utc::now();

    // Assert
    assert_eq!(resp.status().as_u16(), 201, "the first create answers 201");
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().expect("an id");
    let uuid = uuid::Uuid::parse_str(id).expect("the id is a UUID");
    assert_eq!(uuid.get_version_num(), 7, "ids are UUID v7 (docs/design.md §2)");
    assert_eq!(
        created["source_system"], "default",
        "source_system defaults to \"default\""
    );
    assert_eq!(created["source_id"], "epr-1001");
    assert_eq!(created["patient"]["nhs_number"], NHS);
    assert_eq!(created["patient"]["local_id"], Value::Null);
    assert_eq!(created["patient"]["sex"], "unknown", "sex defaults to unknown");
    assert_eq!(created["patient"]["date_of_birth"], Value::Null);
    assert_eq!(created["site"], Value::Null);
    assert_eq!(instant(&created["arrived_at"]), at("2025-03-01T10:00:00Z"));
    assert_eq!(created["presenting_condition"], "fall");
    assert_eq!(created["presenting_condition_detail"], Value::Null);
    assert_eq!(
        created["attendance_category"], "unplanned",
        "attendance_category defaults to unplanned"
    );
    assert_eq!(created["pat_indicated"], true, "a fall is one of the ten");
    assert_eq!(created["indications"], json!(["fall"]), "first attendance: fall only");
    let recorded_at = instant(&created["recorded_at"]);
    assert!(
        recorded_at >= before - Duration::seconds(1) && recorded_at <= after + Duration::seconds(1),
        "recorded_at {recorded_at} is the time of the request ({before} .. {after})"
    );
    assert_eq!(
        created["recorded_by"], "test-clinician",
        "recorded_by is the token's sub"
    );
    assert_eq!(created["screening"], Value::Null, "no screening yet");
    assert_eq!(created["previous_screenings"], json!([]));
}

#[tokio::test]
async fn create_keeps_every_optional_field_given() {
    // Arrange
    let app = spawn_app().await;
    let body = json!({
        "source_system": "cerner-stmarys",
        "source_id": "ED-2025-000042",
        "patient": {
            "nhs_number": NHS_2,
            "local_id": "RH-0042",
            "sex": "female",
            "date_of_birth": "1980-02-29",
        },
        "site": "st-marys",
        "arrived_at": "2025-03-01T23:45:00Z",
        "presenting_condition": "other",
        "presenting_condition_detail": "finger caught in door",
        "attendance_category": "planned",
    });

    // Act
    let resp = app.post_json(ATTENDANCES, "integration", &body).await;

    // Assert
    assert_eq!(resp.status().as_u16(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["source_system"], "cerner-stmarys");
    assert_eq!(created["source_id"], "ED-2025-000042");
    assert_eq!(created["patient"]["nhs_number"], NHS_2);
    assert_eq!(created["patient"]["local_id"], "RH-0042");
    assert_eq!(created["patient"]["sex"], "female");
    assert_eq!(created["patient"]["date_of_birth"], "1980-02-29");
    assert_eq!(created["site"], "st-marys");
    assert_eq!(instant(&created["arrived_at"]), at("2025-03-01T23:45:00Z"));
    assert_eq!(created["presenting_condition"], "other");
    assert_eq!(created["presenting_condition_detail"], "finger caught in door");
    assert_eq!(created["attendance_category"], "planned");
    assert_eq!(created["pat_indicated"], false, "other alone is not an indication");
    assert_eq!(created["indications"], json!([]));
    assert_eq!(created["recorded_by"], "test-integration");
}

#[tokio::test]
async fn get_returns_the_record_that_was_created() {
    // Arrange
    let app = spawn_app().await;
    let created = app.create_attendance(&attendance_body("epr-get-1")).await;
    let id = created["id"].as_str().unwrap();

    // Act: every role allowed to read (docs/design.md §4) sees the same record.
    for role in ["clinician", "integration", "ahw", "admin"] {
        let resp = app.get(&format!("{ATTENDANCES}/{id}"), role).await;

        // Assert
        assert_eq!(resp.status().as_u16(), 200, "{role} reads the attendance");
        let read: Value = resp.json().await.unwrap();
        assert_eq!(read, created, "{role} reads exactly what was stored");
    }
}

#[tokio::test]
async fn replaying_the_same_create_answers_200_with_the_stored_record() {
    // Arrange: the integration engine retries on timeout (docs/design.md §1).
    let app = spawn_app().await;
    let body = attendance_body("epr-replay-1");
    let first = app.create_attendance(&body).await;

    // Act
    let resp = post(&app, &body).await;

    // Assert
    assert_eq!(resp.status().as_u16(), 200, "same source and same content is a replay");
    let replay: Value = resp.json().await.unwrap();
    assert_eq!(replay["id"], first["id"], "the replay answers the same attendance");
    assert_eq!(replay, first, "the replay answers the stored record, unchanged");
}

#[tokio::test]
async fn replay_by_another_caller_role_is_still_a_replay() {
    // Arrange: a form (clinician) created it, the integration engine sends it again.
    let app = spawn_app().await;
    let body = attendance_body("epr-replay-2");
    let first = app.create_attendance(&body).await;

    // Act
    let resp = app.post_json(ATTENDANCES, "integration", &body).await;

    // Assert
    assert_eq!(resp.status().as_u16(), 200);
    let replay: Value = resp.json().await.unwrap();
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(
        replay["recorded_by"], "test-clinician",
        "the stored record is not rewritten"
    );
}

#[tokio::test]
async fn same_source_id_with_different_content_is_409_and_changes_nothing() {
    // Arrange
    let app = spawn_app().await;
    let original = attendance_body("epr-conflict-1");
    let created = app.create_attendance(&original).await;
    let id = created["id"].as_str().unwrap().to_owned();

    let mut other_condition = original.clone();
    other_condition["presenting_condition"] = json!("assault");
    let mut other_arrival = original.clone();
    other_arrival["arrived_at"] = json!("2025-03-01T10:05:00Z");
    let mut other_patient = original.clone();
    other_patient["patient"]["nhs_number"] = json!(NHS_2);
    let mut other_sex = original.clone();
    other_sex["patient"]["sex"] = json!("female");
    let mut other_category = original.clone();
    other_category["attendance_category"] = json!("planned");
    let cases = [
        (other_condition, "a different presenting condition"),
        (other_arrival, "a different arrival time"),
        (other_patient, "a different patient"),
        (other_sex, "a different sex"),
        (other_category, "a different attendance category"),
    ];

    for (body, why) in cases {
        // Act
        let resp = post(&app, &body).await;

        // Assert
        let problem = assert_problem(resp, 409).await;
        assert_eq!(problem["status"], 409, "{why}: the problem repeats the status");
    }
    let resp = app.get(&format!("{ATTENDANCES}/{id}"), "clinician").await;
    assert_eq!(resp.status().as_u16(), 200);
    let stored: Value = resp.json().await.unwrap();
    assert_eq!(stored, created, "a refused conflicting replay changed nothing");
}

#[tokio::test]
async fn the_same_source_id_from_another_source_system_is_another_attendance() {
    // Arrange: uniqueness is on the pair (source_system, source_id), docs/design.md §6.
    let app = spawn_app().await;
    let mut from_a = attendance_body("ED-1");
    from_a["source_system"] = json!("epr-a");
    let mut from_b = attendance_body("ED-1");
    from_b["source_system"] = json!("epr-b");
    let a = app.create_attendance(&from_a).await;

    // Act
    let resp = post(&app, &from_b).await;

    // Assert
    assert_eq!(resp.status().as_u16(), 201, "another source system's ED-1 is new");
    let b: Value = resp.json().await.unwrap();
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_identical_creates_at_once_make_exactly_one_attendance() {
    // Arrange: an integration engine that retries aggressively (docs/design.md §6: insert-or-compare,
    // never check-then-insert).
    let app = spawn_app().await;
    let body = attendance_body("epr-race-1");
    let url = app.url(ATTENDANCES);
    let token = app.token("integration");

    // Act
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let (url, token, body) = (url.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(&url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("the request is answered");
            let status = resp.status().as_u16();
            let answer: Value = resp.json().await.expect("a JSON answer");
            (status, answer)
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }

    // Assert
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let replayed = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(
        (created, replayed),
        (1, 49),
        "exactly one 201 and 49 × 200; statuses: {:?}",
        answers.iter().map(|(s, _)| *s).collect::<Vec<_>>()
    );
    let id = answers[0].1["id"].as_str().unwrap().to_owned();
    assert!(
        answers.iter().all(|(_, a)| a["id"] == json!(id)),
        "every answer names the same attendance"
    );
    let resp = app.get(&format!("{ATTENDANCES}/{id}"), "clinician").await;
    assert_eq!(resp.status().as_u16(), 200);
    let stored: Value = resp.json().await.unwrap();
    assert_eq!(stored["source_id"], "epr-race-1");

    let events = app.audit_events().await;
    let on_attendances: Vec<&Value> = events.iter().filter(|e| e["resource_type"] == "attendance").collect();
    assert!(
        on_attendances.iter().all(|e| e["resource_id"] == json!(id)),
        "every audit event is about the one attendance"
    );
    let creates = on_attendances.iter().filter(|e| e["action"] == "create").count();
    let reads = on_attendances.iter().filter(|e| e["action"] == "read").count();
    assert_eq!(creates, 1, "exactly one create is audited");
    assert_eq!(reads, 50, "49 replays and one GET are audited as reads");
}

#[tokio::test]
async fn nhs_numbers_are_checked_with_modulus_11() {
    // Arrange: docs/domain.md §9. The check digit of 000000006: 6·2 = 12; 12 mod 11 = 1; 11 − 1 = 10,
    // which means no valid number starts with these nine digits.
    let app = spawn_app().await;
    let cases: [(&str, Option<&str>, &str); 9] = [
        (NHS, Some(NHS), "a valid number is stored as given"),
        (NHS_3, Some(NHS_3), "check value 11 becomes 0"),
        (
            "943 476 5919",
            Some(NHS),
            "the printed 3-3-4 spacing is accepted and stored bare",
        ),
        ("9434765918", None, "a wrong check digit is refused"),
        ("4010232173", None, "two digits swapped (a typing slip) is refused"),
        ("0000000060", None, "a check value of 10 is never valid"),
        ("943476591", None, "9 digits is refused"),
        ("94347659190", None, "11 digits is refused"),
        ("94347A5919", None, "a letter is refused"),
    ];

    for (i, (given, stored, why)) in cases.into_iter().enumerate() {
        let mut body = attendance_body(&format!("epr-nhs-{i}"));
        body["patient"]["nhs_number"] = json!(given);

        // Act
        let resp = post(&app, &body).await;

        // Assert
        match stored {
            Some(stored) => {
                assert_eq!(resp.status().as_u16(), 201, "{why}");
                let created: Value = resp.json().await.unwrap();
                assert_eq!(created["patient"]["nhs_number"], stored, "{why}");
            }
            None => {
                let problem = assert_problem(resp, 422).await;
                assert_eq!(fields(&problem), ["patient.nhs_number"], "{why}");
            }
        }
    }
}

/// Posts `body`, expects 422 naming `patient.nhs_number` with a message starting `message`, then
/// shows nothing was written: the same `source_id` with a real NHS number is a new attendance
/// (201), not a replay (200) or a clash with stored content (409).
async fn assert_nhs_number_refused_and_nothing_written(app: &TestApp, mut body: Value, message: &str) {
    let given = body["patient"]["nhs_number"].clone();
    let problem = assert_problem(post(app, &body).await, 422).await;
    assert_eq!(fields(&problem), ["patient.nhs_number"], "{given}: {problem}");
    let said = problem["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(said.starts_with(message), "{given}: {said:?}");

    body["patient"]["nhs_number"] = json!(NHS);
    let retry = post(app, &body).await;
    let status = retry.status().as_u16();
    let text = retry.text().await.unwrap();
    assert_eq!(
        status, 201,
        "after refusing {given}, the same source_id is still free: {text}"
    );
}

#[tokio::test]
async fn placeholder_nhs_numbers_are_refused_and_nothing_is_written() {
    // Arrange: ten equal digits pass modulus 11 (0000000000: sum 0, 11 − 0 = 11 becomes 0;
    // 9999999999: sum 9·(10+9+…+2) = 486 = 44·11 + 2, 11 − 2 = 9), but EPRs send them for
    // "unknown": taken as a patient's number they would make strangers one patient.
    let app = spawn_app().await;
    for (i, placeholder) in ["0000000000", "9999999999", "000 000 0000"].into_iter().enumerate() {
        let body = nhs_visit(
            &format!("epr-placeholder-{i}"),
            placeholder,
            "2025-03-01T10:00:00Z",
            "fall",
        );

        // Act + Assert
        assert_nhs_number_refused_and_nothing_written(&app, body, PLACEHOLDER_MESSAGE).await;
    }
}

#[tokio::test]
async fn a_test_range_nhs_number_is_refused_unless_test_numbers_are_accepted() {
    // Arrange: the default (PAT_ACCEPT_TEST_NHS_NUMBERS=false), and a test environment.
    let app = spawn_app().await;
    let testing = spawn_app_with(|s| s.accept_test_nhs_numbers = true).await;
    let test_number = nhs_visit("epr-test-range", NHS_TEST_RANGE, "2025-03-01T10:00:00Z", "fall");

    // Act + Assert: refused by default, and nothing written.
    assert_nhs_number_refused_and_nothing_written(&app, test_number.clone(), "is a test number").await;
    // The number just below the range is an ordinary one.
    let below = nhs_visit(
        "epr-below-test-range",
        NHS_BELOW_TEST_RANGE,
        "2025-03-01T10:00:00Z",
        "fall",
    );
    let created = app.create_attendance(&below).await;
    assert_eq!(created["patient"]["nhs_number"], NHS_BELOW_TEST_RANGE);

    // Act + Assert: accepted when configured, stored and read back as given.
    let created = testing.create_attendance(&test_number).await;
    assert_eq!(created["patient"]["nhs_number"], NHS_TEST_RANGE);
    let id = created["id"].as_str().unwrap();
    let read = testing.get(&format!("{ATTENDANCES}/{id}"), "clinician").await;
    assert_eq!(read.status().as_u16(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["patient"]["nhs_number"], NHS_TEST_RANGE);

    // A placeholder is refused even where test numbers are accepted (9999999999 is in the range).
    for (i, placeholder) in ["9999999999", "0000000000"].into_iter().enumerate() {
        let body = nhs_visit(
            &format!("epr-testing-placeholder-{i}"),
            placeholder,
            "2025-03-01T10:00:00Z",
            "fall",
        );
        assert_nhs_number_refused_and_nothing_written(&testing, body, PLACEHOLDER_MESSAGE).await;
    }
}

#[tokio::test]
async fn a_patient_needs_an_nhs_number_or_a_local_id() {
    // Arrange
    let app = spawn_app().await;
    let local_only = json!({
        "source_id": "epr-id-1",
        "patient": { "local_id": "RH-7781", "sex": "male" },
        "arrived_at": "2025-03-01T10:00:00Z",
        "presenting_condition": "fall",
    });
    let neither = json!({
        "source_id": "epr-id-2",
        "patient": { "sex": "male" },
        "arrived_at": "2025-03-01T10:00:00Z",
        "presenting_condition": "fall",
    });
    let both_null = json!({
        "source_id": "epr-id-3",
        "patient": { "nhs_number": null, "local_id": null },
        "arrived_at": "2025-03-01T10:00:00Z",
        "presenting_condition": "fall",
    });

    // Act + Assert
    let resp = post(&app, &local_only).await;
    assert_eq!(resp.status().as_u16(), 201, "a local hospital number alone identifies");
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["patient"]["local_id"], "RH-7781");
    assert_eq!(created["patient"]["nhs_number"], Value::Null);

    for (body, why) in [(neither, "no identifier at all"), (both_null, "both identifiers null")] {
        let problem = assert_problem(post(&app, &body).await, 422).await;
        assert!(
            fields(&problem).iter().any(|f| f == "patient"),
            "{why}: the error names `patient`: {problem}"
        );
    }
}

#[tokio::test]
async fn each_of_the_ten_conditions_is_an_indication_and_other_is_not() {
    // Arrange: docs/domain.md §2. Each attendance is a different patient, so none is a derived repeat
    // attender.
    let app = spawn_app().await;
    let cases: [(&str, bool, Value); 11] = [
        ("fall", true, json!(["fall"])),
        ("collapse", true, json!(["collapse"])),
        ("head_injury", true, json!(["head_injury"])),
        ("assault", true, json!(["assault"])),
        ("accident", true, json!(["accident"])),
        ("unwell", true, json!(["unwell"])),
        ("gastrointestinal", true, json!(["gastrointestinal"])),
        ("cardiac", true, json!(["cardiac"])),
        ("psychiatric", true, json!(["psychiatric"])),
        ("repeat_attender", true, json!(["repeat_attender"])),
        ("other", false, json!([])),
    ];

    for (condition, indicated, indications) in cases {
        let body = local_visit(
            &format!("epr-cond-{condition}"),
            &format!("RH-{condition}"),
            "2025-03-01T10:00:00Z",
            condition,
        );

        // Act
        let created = app.create_attendance(&body).await;

        // Assert
        assert_eq!(created["pat_indicated"], indicated, "{condition}: pat_indicated");
        assert_eq!(created["indications"], indications, "{condition}: indications");
    }
}

#[tokio::test]
async fn an_unknown_presenting_condition_is_422() {
    // Arrange
    let app = spawn_app().await;
    let mut body = attendance_body("epr-cond-bad");
    body["presenting_condition"] = json!("broken_leg");

    // Act
    let problem = assert_problem(post(&app, &body).await, 422).await;

    // Assert
    assert_eq!(fields(&problem), ["presenting_condition"]);
}

#[tokio::test]
async fn repeat_attender_is_derived_from_the_365_days_before_arrival() {
    // Arrange: docs/domain.md §2, window [arrival − 365 days, arrival). 2024-03-01 to 2025-03-01 is
    // exactly 365 days: the span holds no 29 February (that was 2024-02-29, before it).
    let app = spawn_app().await;
    let first = |source: &str, local: &str, arrived: &str| local_visit(source, local, arrived, "fall");

    // (earlier attendance, later attendance, expected indications of the later, why)
    let cases: [(Value, Value, Value, &str); 5] = [
        (
            first("w-a1", "RH-A", "2025-03-01T10:00:00Z"),
            first("w-a2", "RH-A", "2025-06-01T10:00:00Z"),
            json!(["fall", "repeat_attender"]),
            "a second attendance three months later is a repeat attender",
        ),
        (
            first("w-b1", "RH-B", "2024-03-01T10:00:00Z"),
            first("w-b2", "RH-B", "2025-03-01T10:00:00Z"),
            json!(["fall", "repeat_attender"]),
            "an attendance exactly 365 days earlier is inside the window (closed start)",
        ),
        (
            first("w-c1", "RH-C", "2024-03-01T10:00:00Z"),
            first("w-c2", "RH-C", "2025-03-01T10:01:00Z"),
            json!(["fall"]),
            "365 days and 1 minute earlier is outside the window",
        ),
        (
            first("w-d1", "RH-D", "2025-03-01T10:00:00Z"),
            first("w-d2", "RH-D", "2025-03-01T10:00:00Z"),
            json!(["fall"]),
            "an attendance at the same instant is not earlier (open end)",
        ),
        (
            first("w-e1", "RH-E", "2025-03-01T10:00:00Z"),
            local_visit("w-e2", "RH-E", "2025-04-01T10:00:00Z", "other"),
            json!(["repeat_attender"]),
            "`other` with a prior attendance is indicated as a repeat attender",
        ),
    ];

    for (earlier, later, expected, why) in cases {
        app.create_attendance(&earlier).await;

        // Act
        let created = app.create_attendance(&later).await;

        // Assert
        assert_eq!(created["indications"], expected, "{why}");
        assert_eq!(created["pat_indicated"], true, "{why}");
    }
}

#[tokio::test]
async fn a_recorded_repeat_attender_with_history_is_listed_once() {
    // Arrange
    let app = spawn_app().await;
    app.create_attendance(&local_visit("ra-1", "RH-R", "2025-01-10T09:00:00Z", "fall"))
        .await;

    // Act
    let created = app
        .create_attendance(&local_visit("ra-2", "RH-R", "2025-02-10T09:00:00Z", "repeat_attender"))
        .await;

    // Assert
    assert_eq!(created["indications"], json!(["repeat_attender"]));
}

#[tokio::test]
async fn a_later_attendance_does_not_make_an_earlier_one_a_repeat_attender() {
    // Arrange: the EPR may send attendances out of order; only *earlier* arrivals count, and the
    // indications are fixed when recorded (docs/domain.md §2).
    let app = spawn_app().await;
    let june = app
        .create_attendance(&nhs_visit("ooo-june", NHS_2, "2025-06-01T10:00:00Z", "fall"))
        .await;
    assert_eq!(june["indications"], json!(["fall"]), "no history yet");

    // Act
    let march = app
        .create_attendance(&nhs_visit("ooo-march", NHS_2, "2025-03-01T10:00:00Z", "fall"))
        .await;

    // Assert
    assert_eq!(
        march["indications"],
        json!(["fall"]),
        "the June attendance is after March, not before"
    );
    let resp = app
        .get(&format!("{ATTENDANCES}/{}", june["id"].as_str().unwrap()), "clinician")
        .await;
    let june_now: Value = resp.json().await.unwrap();
    assert_eq!(
        june_now["indications"],
        json!(["fall"]),
        "stored indications are what the nurse was told, never recomputed"
    );
}

#[tokio::test]
async fn patients_are_matched_by_nhs_number_and_without_one_by_local_id() {
    // Arrange: (earlier, later, expected indications of the later, why).
    let app = spawn_app().await;
    let mut nhs_a_local_x = nhs_visit("m-1a", NHS, "2025-01-01T10:00:00Z", "fall");
    nhs_a_local_x["patient"]["local_id"] = json!("RH-X");
    let mut nhs_a_local_y = nhs_visit("m-1b", NHS, "2025-02-01T10:00:00Z", "fall");
    nhs_a_local_y["patient"]["local_id"] = json!("RH-Y");
    let mut nhs_b_local_z = nhs_visit("m-2a", NHS_2, "2025-01-01T10:00:00Z", "fall");
    nhs_b_local_z["patient"]["local_id"] = json!("RH-Z");
    let mut nhs_c_local_z = nhs_visit("m-2b", NHS_3, "2025-02-01T10:00:00Z", "fall");
    nhs_c_local_z["patient"]["local_id"] = json!("RH-Z");
    let cases: [(Value, Value, Value, &str); 4] = [
        (
            local_visit("m-3a", "RH-0042", "2025-01-01T10:00:00Z", "fall"),
            local_visit("m-3b", "RH-0042", "2025-02-01T10:00:00Z", "fall"),
            json!(["fall", "repeat_attender"]),
            "two attendances with the same local id and no NHS number are one patient",
        ),
        (
            local_visit("m-4a", "RH-0050", "2025-01-01T10:00:00Z", "fall"),
            local_visit("m-4b", "RH-0051", "2025-02-01T10:00:00Z", "fall"),
            json!(["fall"]),
            "different local ids are different patients",
        ),
        (
            nhs_a_local_x,
            nhs_a_local_y,
            json!(["fall", "repeat_attender"]),
            "the same NHS number is the same patient whatever the local ids",
        ),
        (
            nhs_b_local_z,
            nhs_c_local_z,
            json!(["fall"]),
            "different NHS numbers are different patients even with the same local id",
        ),
    ];

    for (earlier, later, expected, why) in cases {
        app.create_attendance(&earlier).await;

        // Act
        let created = app.create_attendance(&later).await;

        // Assert
        assert_eq!(created["indications"], expected, "{why}");
    }
}

#[tokio::test]
async fn spaced_and_bare_nhs_numbers_are_the_same_patient() {
    // Arrange: "943 476 5919" is stored as 9434765919 and so matches it.
    let app = spawn_app().await;
    app.create_attendance(&nhs_visit("sp-1", NHS, "2025-01-01T10:00:00Z", "fall"))
        .await;

    // Act
    let created = app
        .create_attendance(&nhs_visit("sp-2", "943 476 5919", "2025-02-01T10:00:00Z", "cardiac"))
        .await;

    // Assert
    assert_eq!(created["indications"], json!(["cardiac", "repeat_attender"]));
}

#[tokio::test]
async fn repeat_attender_minimum_prior_is_configuration() {
    // Arrange: PAT_REPEAT_ATTENDER_MIN_PRIOR = 2 — at least two earlier attendances.
    let app = spawn_app_with(|s| s.repeat_attender_min_prior = 2).await;
    let visits = [
        (
            "min-1",
            "2025-01-01T10:00:00Z",
            json!(["fall"]),
            "no earlier attendance",
        ),
        (
            "min-2",
            "2025-02-01T10:00:00Z",
            json!(["fall"]),
            "one earlier attendance is below 2",
        ),
        (
            "min-3",
            "2025-03-01T10:00:00Z",
            json!(["fall", "repeat_attender"]),
            "two earlier attendances reach the minimum",
        ),
    ];

    for (source, arrived, expected, why) in visits {
        // Act
        let created = app.create_attendance(&nhs_visit(source, NHS, arrived, "fall")).await;

        // Assert
        assert_eq!(created["indications"], expected, "{why}");
    }
}

#[tokio::test]
async fn repeat_attender_window_is_configuration() {
    // Arrange: PAT_REPEAT_ATTENDER_WINDOW_DAYS = 30. 2025-01-01 + 30 days = 2025-01-31.
    let app = spawn_app_with(|s| s.repeat_attender_window_days = 30).await;
    let cases = [
        (
            "RH-W1",
            "2025-01-31T10:00:00Z",
            json!(["fall", "repeat_attender"]),
            "exactly 30 days earlier is inside a 30-day window",
        ),
        (
            "RH-W2",
            "2025-02-01T10:00:00Z",
            json!(["fall"]),
            "31 days earlier is outside a 30-day window (it would count with the default 365)",
        ),
    ];

    for (local, later, expected, why) in cases {
        app.create_attendance(&local_visit(
            &format!("{local}-a"),
            local,
            "2025-01-01T10:00:00Z",
            "fall",
        ))
        .await;

        // Act
        let created = app
            .create_attendance(&local_visit(&format!("{local}-b"), local, later, "fall"))
            .await;

        // Assert
        assert_eq!(created["indications"], expected, "{why}");
    }
}

#[tokio::test]
async fn unknown_fields_are_refused_with_422() {
    // Arrange: a misspelt field must not be silently dropped from a clinical record.
    let app = spawn_app().await;
    let mut top_level = attendance_body("epr-unknown-1");
    top_level["presenting_complaint"] = json!("fall");
    let mut in_patient = attendance_body("epr-unknown-2");
    in_patient["patient"]["postcode"] = json!("W2 1NY");
    let cases = [
        (top_level, "an unknown top-level field"),
        (in_patient, "an unknown patient field"),
    ];

    for (body, why) in cases {
        // Act
        let resp = post(&app, &body).await;

        // Assert
        let problem = assert_problem(resp, 422).await;
        assert_eq!(problem["status"], 422, "{why}");
    }
}

#[tokio::test]
async fn an_arrival_more_than_15_minutes_in_the_future_is_refused() {
    // Arrange
    let app = spawn_app().await;
    let future = |minutes: i64| (Utc::now() + Duration::minutes(minutes)).to_rfc3339();
    let mut far = attendance_body("epr-future-1");
    far["arrived_at"] = json!(future(20));
    let mut near = attendance_body("epr-future-2");
    near["arrived_at"] = json!(future(5));

    // Act + Assert
    let problem = assert_problem(post(&app, &far).await, 422).await;
    assert_eq!(fields(&problem), ["arrived_at"], "20 minutes ahead is refused");
    assert_eq!(
        post(&app, &near).await.status().as_u16(),
        201,
        "5 minutes ahead is clock skew between systems and is accepted"
    );
}

#[tokio::test]
async fn get_unknown_id_is_404_and_malformed_id_is_400() {
    // Arrange
    let app = spawn_app().await;
    let unknown = uuid::Uuid::now_v7();
    let cases = [
        (format!("{ATTENDANCES}/{unknown}"), 404, "a well-formed id nobody has"),
        (format!("{ATTENDANCES}/not-a-uuid"), 400, "an id that is not a UUID"),
        (format!("{ATTENDANCES}/12345"), 400, "a number is not a UUID"),
    ];

    for (path, status, why) in cases {
        // Act
        let resp = app.get(&path, "clinician").await;

        // Assert
        let problem = assert_problem(resp, status).await;
        assert_eq!(problem["status"], status, "{why}");
    }
}

#[tokio::test]
async fn the_same_arrival_written_with_another_offset_is_a_replay() {
    // Arrange: one instant, spelt three ways; "same content" is about the instant, not the text.
    let app = spawn_app().await;
    let body = attendance_body("epr-offset-1");
    let first = app.create_attendance(&body).await;
    let spellings = [
        ("2025-03-01T10:00:00+00:00", "+00:00 instead of Z"),
        ("2025-03-01T11:00:00+01:00", "the same instant in UTC+1"),
        ("2025-03-01T10:00:00.000Z", "with zero fractional seconds"),
    ];

    for (arrived_at, why) in spellings {
        let mut replay = body.clone();
        replay["arrived_at"] = json!(arrived_at);

        // Act
        let resp = post(&app, &replay).await;

        // Assert
        assert_eq!(resp.status().as_u16(), 200, "{why}");
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["id"], first["id"], "{why}");
    }
}

#[tokio::test]
async fn arrivals_are_compared_as_instants_whatever_their_offset() {
    // Arrange: 2025-07-01T11:00:00+01:00 (BST) is 10:00 UTC. An attendance at 10:30 UTC is
    // *after* it even though its text sorts first; one at 09:30 UTC is before it.
    let app = spawn_app().await;
    let cases = [
        (
            "RH-TZ-1",
            "2025-07-01T10:30:00Z",
            json!(["fall"]),
            "10:30Z is after 11:00+01:00 (= 10:00Z): not an earlier attendance",
        ),
        (
            "RH-TZ-2",
            "2025-07-01T09:30:00Z",
            json!(["fall", "repeat_attender"]),
            "09:30Z is before 11:00+01:00 (= 10:00Z): an earlier attendance",
        ),
    ];

    for (local, other_arrival, expected, why) in cases {
        app.create_attendance(&local_visit(&format!("{local}-a"), local, other_arrival, "fall"))
            .await;

        // Act
        let created = app
            .create_attendance(&local_visit(
                &format!("{local}-b"),
                local,
                "2025-07-01T11:00:00+01:00",
                "fall",
            ))
            .await;

        // Assert
        assert_eq!(instant(&created["arrived_at"]), at("2025-07-01T10:00:00Z"), "{why}");
        assert_eq!(created["indications"], expected, "{why}");
    }
}

#[tokio::test]
async fn an_upper_case_id_names_the_same_attendance() {
    // Arrange: UUIDs are case-insensitive (RFC 9562); some EPRs send GUIDs in upper case.
    let app = spawn_app().await;
    let created = app.create_attendance(&attendance_body("epr-upper")).await;
    let upper = created["id"].as_str().unwrap().to_uppercase();

    // Act
    let resp = app.get(&format!("{ATTENDANCES}/{upper}"), "clinician").await;

    // Assert
    assert_eq!(resp.status().as_u16(), 200);
    let read: Value = resp.json().await.unwrap();
    assert_eq!(read["id"], created["id"], "answered with the canonical lower-case id");
}
