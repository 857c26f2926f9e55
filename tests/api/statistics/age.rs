//! The PAT's adult population (`PAT_MIN_AGE`, default 16): a child with one of the ten
//! conditions is not PAT-indicated, is left out of `eligible` and counted apart as
//! `not_indicated.under_age`; without a date of birth the presentation alone decides, and the
//! funnel counts the eligible attendances whose age could not be checked (`age_unknown`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::fixtures::*;
use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::scheduling_helpers::rfc;

/// An unplanned attendance of a new patient (NHS number from `seed`) with this date of birth.
async fn attend_aged(app: &TestApp, seed: u32, born: Option<&str>, condition: &str, at: DateTime<Utc>) -> Value {
    let mut patient = json!({ "nhs_number": nhs_number(seed), "sex": "male" });
    if let Some(born) = born {
        patient["date_of_birth"] = json!(born);
    }
    app.create_attendance(&json!({
        "source_system": "age-test",
        "source_id": format!("age-{seed}"),
        "patient": patient,
        "arrived_at": rfc(at),
        "presenting_condition": condition,
    }))
    .await
}

fn indicated(attendance: &Value) -> (bool, bool, Value) {
    (
        attendance["pat_indicated"].as_bool().unwrap(),
        attendance["under_min_age"].as_bool().unwrap(),
        attendance["indications"].clone(),
    )
}

#[tokio::test]
async fn a_childs_head_injury_is_not_indicated_and_the_sixteenth_birthday_counts_in_london() {
    let app = spawn_app().await;
    // 12:00 UTC on 10 July 2025 (13:00 BST).
    let noon = t("2025-07-10T12:00:00Z");

    // Born 2015: 10 years old. The head injury is recorded as an indication, but the PAT is not
    // indicated.
    let child = attend_aged(&app, 7001, Some("2015-03-02"), "head_injury", noon).await;
    assert_eq!(indicated(&child), (false, true, json!(["head_injury"])));

    // 16 today: 10 July 2009 + 16 years = 10 July 2025.
    let sixteen = attend_aged(&app, 7002, Some("2009-07-10"), "head_injury", noon).await;
    assert_eq!(indicated(&sixteen), (true, false, json!(["head_injury"])));

    // Turns 16 on 11 July: 23:30 UTC on 10 July is 00:30 BST on 11 July, the birthday in
    // London, so indicated; at 22:30 UTC (23:30 BST on the 10th) still 15.
    let before = attend_aged(&app, 7003, Some("2009-07-11"), "fall", t("2025-07-10T22:30:00Z")).await;
    assert_eq!(indicated(&before), (false, true, json!(["fall"])));
    let after = attend_aged(&app, 7004, Some("2009-07-11"), "fall", t("2025-07-10T23:30:00Z")).await;
    assert_eq!(indicated(&after), (true, false, json!(["fall"])));

    // No date of birth: the presentation decides, as before.
    let unknown = attend_aged(&app, 7005, None, "head_injury", noon).await;
    assert_eq!(indicated(&unknown), (true, false, json!(["head_injury"])));

    // A child with no indication is simply not indicated (not "under age").
    let other = attend_aged(&app, 7006, Some("2015-03-02"), "other", noon).await;
    assert_eq!(indicated(&other), (false, false, json!([])));

    // The stored answer is what a later read shows.
    let id = child["id"].as_str().unwrap();
    let read: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(indicated(&read), (false, true, json!(["head_injury"])));
}

#[tokio::test]
async fn the_minimum_age_is_configuration() {
    let app = spawn_app_with(|s| s.min_age = 18).await;
    let noon = t("2025-07-10T12:00:00Z");
    // 17 years old (born 10 Jan 2008): under 18.
    let seventeen = attend_aged(&app, 7101, Some("2008-01-10"), "assault", noon).await;
    assert_eq!(indicated(&seventeen), (false, true, json!(["assault"])));
    // 18 (born 10 Jan 2007).
    let eighteen = attend_aged(&app, 7102, Some("2007-01-10"), "assault", noon).await;
    assert_eq!(indicated(&eighteen), (true, false, json!(["assault"])));
}

#[tokio::test]
async fn children_leave_the_screening_denominator_and_unknown_ages_are_counted() {
    // Arrange: on 10 July 2025,
    //   C1 10-year-old, head injury, screened anyway (negative) → not eligible; under_age;
    //      a completed screening outside the indications
    //   C2 14-year-old, fall, no screening                     → not eligible; under_age
    //   A1 adult with a date of birth, fall, negative          → eligible, screened
    //   A2 adult without a date of birth, collapse, none       → eligible, not recorded, age unknown
    //   A3 adult without a date of birth, other                → not eligible (no indication)
    let app = spawn_app().await;
    let noon = t("2025-07-10T12:00:00Z");
    let c1 = attend_aged(&app, 7201, Some("2015-01-01"), "head_injury", noon).await;
    screen_negative(&app, c1["id"].as_str().unwrap(), noon).await;
    attend_aged(&app, 7202, Some("2011-01-01"), "fall", noon).await;
    let a1 = attend_aged(&app, 7203, Some("1980-01-01"), "fall", noon).await;
    screen_negative(&app, a1["id"].as_str().unwrap(), noon).await;
    attend_aged(&app, 7204, None, "collapse", noon).await;
    attend_aged(&app, 7205, None, "other", noon).await;

    // Act
    let answer = stats(&app, &format!("{FUNNEL}?from=2025-07-01&to=2025-08-01")).await;

    // Assert: 5 attendances; eligible A1, A2 = 2; under_age C1, C2 = 2; age unknown among the
    // eligible: A2 = 1; screened A1 = 1 (rate 1/2); not recorded A2 = 1; outside the
    // indications C1 = 1.
    let all = group(&answer, "all");
    let count = |path: &str| at_path(all, path).as_i64().unwrap_or_else(|| panic!("{path}: {all}"));
    assert_eq!(count("counts.attendances"), 5);
    assert_eq!(count("counts.eligible"), 2);
    assert_eq!(count("counts.not_indicated.under_age"), 2);
    assert_eq!(count("counts.age_unknown"), 1);
    assert_eq!(count("counts.screened"), 1);
    assert_eq!(count("counts.not_screened.not_recorded"), 1);
    assert_eq!(count("counts.screened_outside_indications"), 1);
    assert_eq!(at_path(all, "rates.screening").as_f64(), Some(0.5));

    // The CSV carries the same columns.
    let csv = stats_csv(&app, &format!("{FUNNEL}?from=2025-07-01&to=2025-08-01")).await;
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let cell = |name: &str| {
        row[header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name}: {csv}"))]
    };
    assert_eq!(cell("counts.not_indicated.under_age"), "2");
    assert_eq!(cell("counts.age_unknown"), "1");
}
