//! Entered-in-error (issue 11 §1): a marked attendance leaves every figure — the funnel, the
//! 12-month reattendance of the patient's index attendance, and the 7-day fact of the attendance
//! before it — and the figures are what they would have been had it never been recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::fixtures::*;
use crate::helpers::spawn_app;
use crate::scheduling_helpers::json_with;

const PERIOD: &str = "from=2024-03-01&to=2024-07-01";

fn figures(funnel: &Value, reattendance: &Value) -> [i64; 7] {
    let n = |v: &Value, path: &str| at_path(v, path).as_i64().unwrap_or_else(|| panic!("{path}: {v}"));
    let funnel = group(funnel, "all");
    [
        n(funnel, "counts.attendances"),
        n(funnel, "counts.eligible"),
        n(funnel, "counts.positive"),
        n(reattendance, "twelve_month.accepted.patients"),
        n(reattendance, "twelve_month.accepted.reattendances"),
        n(reattendance, "seven_day.attendances"),
        n(reattendance, "seven_day.reattended_within_7_days"),
    ]
}

#[tokio::test]
async fn a_marked_attendance_leaves_every_figure() {
    // Arrange: one patient, GMT dates (London = UTC), every window long complete.
    //   A1 2024-03-04 12:00 fall, positive, accepted   (the 12-month index)
    //   A2 2024-03-06 12:00 collapse, unplanned        (2 days after A1: A1's 7-day return)
    //   A3 2024-06-01 12:00 other                      (repeat attender: A1, A2 before it)
    let app = spawn_app().await;
    let p = Patient::nhs(5101);
    positive_visit(&app, &p, "fall", None, t("2024-03-04T12:00:00Z"), Some("accepted")).await;
    let a2 = visit(&app, &p, "collapse", None, t("2024-03-06T12:00:00Z")).await;
    let a3 = attend(&app, &p, "other", None, t("2024-06-01T12:00:00Z")).await;
    assert_eq!(a3["indications"], json!(["repeat_attender"]));
    let funnel = format!("{FUNNEL}?{PERIOD}");
    let reattendance = format!("{REATTENDANCE}?{PERIOD}");

    // Before: attendances 3; eligible 3 (fall, collapse, repeat attender); positive 1 (A1).
    //   12-month: index A1, accepted: 1 patient; A2 and A3 within (A1, A1 + 365 d] → 2.
    //   7-day: 3 attendances; A1 is followed by A2 (unplanned, 2 d) → 1; A2 and A3 are not.
    let before = figures(&stats(&app, &funnel).await, &stats(&app, &reattendance).await);
    assert_eq!(before, [3, 3, 1, 1, 2, 3, 1]);

    // Act: A2 was a duplicate.
    let marked = app
        .post_json(
            &format!("/api/v1/attendances/{a2}/entered-in-error"),
            "integration",
            &json!({ "reason": "duplicate registration" }),
        )
        .await;
    json_with(marked, 200, "marking A2").await;

    // After: as if A2 had never been recorded: attendances 2 (A1, A3); eligible 2 (A3's stored
    // repeat-attender indication is what the nurse was told, and stays); positive 1.
    //   12-month: A1's window holds A3 only → 1. 7-day: 2 attendances, none followed within 7 days.
    let after = figures(&stats(&app, &funnel).await, &stats(&app, &reattendance).await);
    assert_eq!(after, [2, 2, 1, 1, 1, 2, 0]);
}

#[tokio::test]
async fn a_marked_index_attendance_gives_way_to_the_next_positive() {
    // Arrange: B1 2024-04-01 positive, declined; B2 2024-04-20 positive, accepted; one patient.
    //   Before: index B1 (declined cohort), B2 its one reattendance; accepted cohort empty.
    //   After B1 is marked: index B2 (accepted), nothing after it → accepted 1 patient, 0.
    let app = spawn_app().await;
    let p = Patient::nhs(5102);
    let b1 = positive_visit(&app, &p, "assault", None, t("2024-04-01T12:00:00Z"), Some("declined")).await;
    positive_visit(&app, &p, "fall", None, t("2024-04-20T12:00:00Z"), Some("accepted")).await;
    let path = format!("{REATTENDANCE}?{PERIOD}");
    let n = |v: &Value, path: &str| at_path(v, path).as_i64().unwrap();

    let before = stats(&app, &path).await;
    assert_eq!(
        (
            n(&before, "twelve_month.declined.patients"),
            n(&before, "twelve_month.declined.reattendances"),
            n(&before, "twelve_month.accepted.patients")
        ),
        (1, 1, 0)
    );

    let resp = app
        .post_json(
            &format!("/api/v1/attendances/{b1}/entered-in-error"),
            "clinician",
            &json!({ "reason": "wrong patient" }),
        )
        .await;
    json_with(resp, 200, "marking B1").await;

    let after = stats(&app, &path).await;
    assert_eq!(
        (
            n(&after, "twelve_month.declined.patients"),
            n(&after, "twelve_month.accepted.patients"),
            n(&after, "twelve_month.accepted.reattendances")
        ),
        (0, 1, 0)
    );
    // The funnel: the positives 2 → 1 (B2), declined 1 → 0, accepted 1 → 1.
    let answer = stats(&app, &format!("{FUNNEL}?{PERIOD}")).await;
    let funnel = group(&answer, "all");
    assert_eq!(
        (
            n(funnel, "counts.positive"),
            n(funnel, "counts.declined"),
            n(funnel, "counts.accepted")
        ),
        (1, 0, 1)
    );
}
