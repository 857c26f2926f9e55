//! `GET /api/v1/follow-ups?due_before=&limit=`: the AHW worklist of 6- and 12-month follow-up
//! contacts due and not yet made. A follow-up is due `months` calendar months after the
//! Europe/London date of the AHW contact (an attended appointment's slot start, or a
//! `seen_in_department` decision), the month's last day when it has no such day; `due_before` is
//! inclusive. Every due date below is worked out by hand from that definition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Months, Utc};
use chrono_tz::Europe::London;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp};
use crate::scheduling_helpers::{
    accepted_attendance, at, booked, events_about, fields, follow_up_at, health_worker, json_with, now, outcome,
    seen_in_department_at, slot_at,
};

const WORKLIST: &str = "/api/v1/follow-ups";

fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn patient(local_id: &str) -> Value {
    json!({ "local_id": local_id, "sex": "male" })
}

async fn worklist(app: &TestApp, query: &str) -> Vec<Value> {
    let body = json_with(
        app.get(&format!("{WORKLIST}?{query}"), "ahw").await,
        200,
        &format!("GET /follow-ups?{query}"),
    )
    .await;
    body["follow_ups"]
        .as_array()
        .unwrap_or_else(|| panic!("{{follow_ups: [...]}}: {body}"))
        .clone()
}

/// (local id, months, due date) of each item, in order.
fn listed(items: &[Value]) -> Vec<(String, u64, String)> {
    items
        .iter()
        .map(|i| {
            (
                i["patient"]["local_id"].as_str().unwrap().to_owned(),
                i["months"].as_u64().unwrap(),
                i["due_date"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn item(local_id: &str, months: u64, due: &str) -> (String, u64, String) {
    (local_id.to_owned(), months, due.to_owned())
}

#[tokio::test]
async fn follow_ups_due_are_listed_oldest_first_until_recorded() {
    // Arrange: four patients seen in the department (London dates by hand):
    //   W1 2025-01-10T10:00Z = 10 Jan 2025 (GMT):  6 m due 2025-07-10, 12 m due 2026-01-10
    //   W2 2024-08-31T10:00Z = 31 Aug 2024 (BST):  6 m due 2025-02-28 (no 31 Feb), 12 m 2025-08-31
    //   W3 2025-02-28T23:30Z = 28 Feb 2025 (GMT):  6 m due 2025-08-28, 12 m 2026-02-28
    //   W4 2025-06-30T23:30Z = 00:30 BST 1 Jul 2025: 6 m due 2026-01-01, 12 m 2026-07-01
    // W1's 6-month and W2's 12-month follow-ups are already recorded.
    let app = spawn_app().await;
    let (w1, hw1) =
        seen_in_department_at(&app, patient("W1"), Some("SMH"), t("2025-01-10T10:00:00Z"), true, 40.0).await;
    let (w2, _) = seen_in_department_at(&app, patient("W2"), None, t("2024-08-31T10:00:00Z"), false, 12.5).await;
    seen_in_department_at(&app, patient("W3"), None, t("2025-02-28T23:30:00Z"), true, 30.0).await;
    seen_in_department_at(&app, patient("W4"), None, t("2025-06-30T23:30:00Z"), true, 22.0).await;
    follow_up_at(&app, &w1, 6, 35.0, t("2025-07-12T10:00:00Z")).await;
    follow_up_at(&app, &w2, 12, 10.0, t("2025-09-01T10:00:00Z")).await;

    // Act + Assert: (due_before, expected, why)
    let cases = [
        (
            "2025-08-31",
            vec![item("W2", 6, "2025-02-28"), item("W3", 6, "2025-08-28")],
            "W1 6 m and W2 12 m are recorded; the rest are due later",
        ),
        (
            "2026-01-10",
            vec![
                item("W2", 6, "2025-02-28"),
                item("W3", 6, "2025-08-28"),
                item("W4", 6, "2026-01-01"),
                item("W1", 12, "2026-01-10"),
            ],
            "6- and 12-month contacts merged by due date; the due date itself is included",
        ),
        (
            "2026-01-09",
            vec![
                item("W2", 6, "2025-02-28"),
                item("W3", 6, "2025-08-28"),
                item("W4", 6, "2026-01-01"),
            ],
            "the day before W1's 12-month date",
        ),
        (
            "2025-12-31",
            vec![item("W2", 6, "2025-02-28"), item("W3", 6, "2025-08-28")],
            "W4 was seen on 1 July London time (30 June UTC): due 1 January, not 31 December",
        ),
        ("2025-02-27", vec![], "nothing is due yet"),
    ];
    for (due_before, expected, why) in cases {
        let items = worklist(&app, &format!("due_before={due_before}")).await;
        assert_eq!(listed(&items), expected, "due_before={due_before}: {why}");
    }

    // Assert: what an item carries.
    let items = worklist(&app, "due_before=2026-01-10").await;
    let w1_item = &items[3];
    assert_eq!(w1_item["attendance_id"], w1.as_str());
    assert_eq!(w1_item["contact"], "seen_in_department");
    assert_eq!(at(&w1_item["contact_at"]), t("2025-01-10T10:00:00Z"));
    assert_eq!(w1_item["contact_date"], "2025-01-10");
    assert_eq!(w1_item["health_worker_id"], hw1.as_str());
    assert_eq!(w1_item["units_per_week_at_contact"], 40.0);
    assert_eq!(w1_item["site"], "SMH");
    assert_eq!(at(&w1_item["arrived_at"]), t("2025-01-10T09:00:00Z"));
    assert_eq!(
        w1_item["patient"]["local_id"], "W1",
        "a clinical worklist names the patient"
    );
    assert_eq!(items[0]["contact_date"], "2024-08-31");
    assert_eq!(
        items[2]["contact_date"], "2025-07-01",
        "W4: the London date of 23:30 UTC in summer"
    );

    // Act + Assert: the limit keeps the oldest.
    let limited = worklist(&app, "due_before=2026-01-10&limit=2").await;
    assert_eq!(
        listed(&limited),
        vec![item("W2", 6, "2025-02-28"), item("W3", 6, "2025-08-28")]
    );

    // Act + Assert: recording W3's 6-month contact takes it off the list.
    follow_up_at(&app, items[1]["attendance_id"].as_str().unwrap(), 6, 20.0, now()).await;
    assert_eq!(
        listed(&worklist(&app, "due_before=2025-08-31").await),
        vec![item("W2", 6, "2025-02-28")]
    );
}

#[tokio::test]
async fn reading_the_worklist_is_audited_per_patient() {
    // Arrange: two patients due (seen 2024-05-01 and 2024-06-01: 6 m due in November and
    // December 2024).
    let app = spawn_app().await;
    let (a, _) = seen_in_department_at(&app, patient("A1"), None, t("2024-05-01T10:00:00Z"), true, 10.0).await;
    let (b, _) = seen_in_department_at(&app, patient("B1"), None, t("2024-06-01T10:00:00Z"), true, 10.0).await;

    // Act: both are listed twice (6 and 12 months due by 2025-06-30).
    let items = worklist(&app, "due_before=2025-06-30").await;

    // Assert: one read event per attendance listed, with its patient, by the AHW.
    assert_eq!(items.len(), 4, "{items:?}");
    let events = events_about(&app, "follow_up_worklist").await;
    let mut read: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["action"], "read");
            assert_eq!(e["actor"], "test-ahw");
            (
                e["resource_id"].as_str().unwrap().to_owned(),
                e["patient_key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    read.sort();
    let mut expected = vec![(a, "local:A1".to_owned()), (b, "local:B1".to_owned())];
    expected.sort();
    assert_eq!(read, expected);
}

#[tokio::test]
async fn an_attended_appointment_is_followed_up_from_its_slot_start() {
    // Arrange: an appointment 10 minutes from now, attended with the brief intervention and
    // 42.5 units a week.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let starts = now() + Duration::minutes(10);
    let slot = slot_at(&app, &hw, starts).await;
    let attendance = accepted_attendance(&app).await;
    let booking = booked(&app, &attendance, &slot).await;
    app.advance_clock(Duration::minutes(45));
    let body = json!({ "status": "attended", "brief_intervention_delivered": true, "units_per_week": 42.5 });
    json_with(
        outcome(&app, booking["id"].as_str().unwrap(), &body).await,
        200,
        "attended",
    )
    .await;
    // Due dates by the definition: the slot start's London date plus 6 and 12 calendar months.
    let contact_date = starts.with_timezone(&London).date_naive();
    let six = contact_date.checked_add_months(Months::new(6)).unwrap();
    let twelve = contact_date.checked_add_months(Months::new(12)).unwrap();

    // Act
    let items = worklist(&app, &format!("due_before={twelve}")).await;
    let before_six = worklist(&app, &format!("due_before={}", six.pred_opt().unwrap())).await;

    // Assert
    assert_eq!(items.len(), 2, "{items:?}");
    for (item, months, due) in [(&items[0], 6, six), (&items[1], 12, twelve)] {
        assert_eq!(item["attendance_id"], attendance.as_str());
        assert_eq!(item["months"], months);
        assert_eq!(item["due_date"], due.to_string());
        assert_eq!(item["contact"], "attended_appointment");
        assert_eq!(at(&item["contact_at"]), starts, "the contact is the slot's start");
        assert_eq!(item["contact_date"], contact_date.to_string());
        assert_eq!(item["health_worker_id"], hw.as_str(), "the slot's health worker");
        assert_eq!(item["units_per_week_at_contact"], 42.5, "the outcome's units");
    }
    assert!(before_six.is_empty(), "nothing due before 6 months: {before_six:?}");
}

#[tokio::test]
async fn a_limit_outside_1_to_1000_is_422_and_a_bad_date_400() {
    // Arrange
    let app = spawn_app().await;

    for limit in ["0", "1001", "-1"] {
        // Act
        let resp = app.get(&format!("{WORKLIST}?limit={limit}"), "ahw").await;

        // Assert
        let problem = assert_problem(resp, 422).await;
        assert_eq!(fields(&problem), ["limit"], "limit={limit}: {problem}");
    }
    let resp = app.get(&format!("{WORKLIST}?due_before=2025-02-30"), "ahw").await;
    assert_problem(resp, 400).await;
    // The default lists what is due by today: nothing recorded, nothing due.
    assert!(worklist(&app, "").await.is_empty());
}

#[tokio::test]
async fn an_attendance_entered_in_error_leaves_the_worklist() {
    // Arrange: two patients seen in the department on 1 May 2024 (6 m due 2024-11-01); E1's
    // attendance was recorded by mistake.
    let app = spawn_app().await;
    let (e1, _) = seen_in_department_at(&app, patient("E1"), None, t("2024-05-01T10:00:00Z"), true, 10.0).await;
    seen_in_department_at(&app, patient("E2"), None, t("2024-05-01T11:00:00Z"), true, 10.0).await;
    let resp = app
        .post_json(
            &format!("/api/v1/attendances/{e1}/entered-in-error"),
            "clinician",
            &json!({ "reason": "wrong patient" }),
        )
        .await;
    json_with(resp, 200, "marking entered-in-error").await;

    // Act
    let items = worklist(&app, "due_before=2024-11-01").await;

    // Assert: only E2 is listed.
    assert_eq!(listed(&items), vec![item("E2", 6, "2024-11-01")]);
}
