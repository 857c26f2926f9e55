//! Patient identity (issue 11 §2): after a link, every derived figure is what it would have been
//! had the identity been known from the start — the 7-day and 12-month reattendance answers equal
//! those of the same attendances loaded with the NHS number from the start — and an unlink
//! restores the earlier answers exactly. The funnel keeps the stored repeat-attender indication:
//! what the nurse was told when the attendance was recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::fixtures::*;
use crate::helpers::{spawn_app, TestApp};
use crate::scheduling_helpers::json_with;

const PERIOD: &str = "from=2024-03-01&to=2024-07-01";

/// One person P (NHS number from seed 5201, local number ID-L1) and another patient Q. GMT
/// dates, every window long complete. `known` says whether P's local-number attendances (L1,
/// L2) are sent with the NHS number (the identity known from the start) or with the local
/// number only. Recorded in arrival order:
///   L1 2024-03-04 12:00 fall, positive, accepted   (P's 12-month index)
///   N0 2024-03-06 12:00 other                     (NHS number)
///   N1 2024-03-08 12:00 collapse                  (NHS number)
///   Q1 2024-03-10 12:00 fall, positive, accepted  (Q's index)
///   Q2 2024-03-12 12:00 other
///   L2 2024-03-20 12:00 other
///   N2 2024-05-01 12:00 assault, positive, declined
/// Answers the id of L1's patient (the local number's registry entry when not known).
async fn load(app: &TestApp, known: bool) -> (String, Value) {
    let p_nhs = Patient::nhs(5201);
    let p_local = if known {
        Patient::nhs(5201)
    } else {
        Patient::local("ID-L1")
    };
    let q = Patient::nhs(5203);
    let l1 = positive_visit(app, &p_local, "fall", None, t("2024-03-04T12:00:00Z"), Some("accepted")).await;
    let n0 = attend(app, &p_nhs, "other", None, t("2024-03-06T12:00:00Z")).await;
    visit(app, &p_nhs, "collapse", None, t("2024-03-08T12:00:00Z")).await;
    positive_visit(app, &q, "fall", None, t("2024-03-10T12:00:00Z"), Some("accepted")).await;
    attend(app, &q, "other", None, t("2024-03-12T12:00:00Z")).await;
    attend(app, &p_local, "other", None, t("2024-03-20T12:00:00Z")).await;
    positive_visit(
        app,
        &p_nhs,
        "assault",
        None,
        t("2024-05-01T12:00:00Z"),
        Some("declined"),
    )
    .await;
    let l1 = json_with(
        app.get(&format!("/api/v1/attendances/{l1}"), "clinician").await,
        200,
        "reading L1",
    )
    .await;
    (l1["patient"]["id"].as_str().unwrap().to_owned(), n0)
}

async fn answers(app: &TestApp) -> (Value, Value) {
    (
        stats(app, &format!("{FUNNEL}?{PERIOD}")).await,
        stats(app, &format!("{REATTENDANCE}?{PERIOD}")).await,
    )
}

fn n(v: &Value, path: &str) -> i64 {
    at_path(v, path).as_i64().unwrap_or_else(|| panic!("{path}: {v}"))
}

/// (12-month accepted patients, their reattendances, declined patients, their reattendances,
/// 7-day attendances, followed within 7 days).
fn reattendance_figures(answer: &Value) -> [i64; 6] {
    [
        n(answer, "twelve_month.accepted.patients"),
        n(answer, "twelve_month.accepted.reattendances"),
        n(answer, "twelve_month.declined.patients"),
        n(answer, "twelve_month.declined.reattendances"),
        n(answer, "seven_day.attendances"),
        n(answer, "seven_day.reattended_within_7_days"),
    ]
}

#[tokio::test]
async fn a_link_gives_the_figures_of_the_identity_known_from_the_start_and_an_unlink_restores_them() {
    // B: the identity known from the start (L1 and L2 sent with the NHS number). One person P:
    //   7-day: L1 → N0 (2 d) yes; N0 → N1 (2 d) yes; N1 → L2 (12 d) no; L2 → N2 no; N2 no;
    //          Q1 → Q2 (2 d) yes; Q2 no → 7 attendances, 3 followed.
    //   12-month: P's index L1 (accepted), later N0, N1, L2, N2 → 4; Q's index Q1 (accepted),
    //          later Q2 → 1. Accepted 2 patients, 5; declined none.
    let known = spawn_app().await;
    load(&known, true).await;
    let (known_funnel, known_reattendance) = answers(&known).await;
    assert_eq!(reattendance_figures(&known_reattendance), [2, 5, 0, 0, 7, 3]);

    // A: L1 and L2 under the local number, N0–N2 under the NHS number: two patients.
    //   7-day: L1 → L2 (16 d) no; N0 → N1 yes; N1 → N2 no; Q1 → Q2 yes → 7 attendances, 2.
    //   12-month: L's index L1 (accepted), later L2 → 1; N's first positive N2 (declined),
    //          nothing later → 0; Q → 1. Accepted 2 patients, 2; declined 1 patient, 0.
    let app = spawn_app().await;
    let (local_patient, n0) = load(&app, false).await;
    let (before_funnel, before_reattendance) = answers(&app).await;
    assert_eq!(reattendance_figures(&before_reattendance), [2, 2, 1, 0, 7, 2]);

    // The stored indications: N0 ("other") was no repeat attender when recorded under the NHS
    // number (no earlier attendance under it); with the identity known it was (L1 before it).
    assert_eq!(n0["indications"], json!([]));
    //   Funnel eligible: B 7 (every one: L1 fall, N0 repeat, N1 collapse, Q1 fall, Q2 repeat,
    //   L2 repeat, N2 assault); A 6 (N0 not).
    assert_eq!(n(group(&known_funnel, "all"), "counts.eligible"), 7);
    assert_eq!(n(group(&before_funnel, "all"), "counts.eligible"), 6);

    // Act: the PDS trace of the local number to P's NHS number.
    let linked = app
        .post_json(
            &format!("/api/v1/patients/{local_patient}/link"),
            "integration",
            &json!({ "nhs_number": nhs_number(5201), "trace_status": "01", "reason": "PDS trace" }),
        )
        .await;
    json_with(linked, 200, "linking the local number to the NHS number").await;

    // Assert: the reattendance answer is the one of the identity known from the start, in full.
    let (after_funnel, after_reattendance) = answers(&app).await;
    assert_eq!(after_reattendance, known_reattendance);
    // The funnel reads the stored indications: unchanged by the link (N0 stays not eligible).
    assert_eq!(after_funnel, before_funnel);

    // Act: the link was wrong.
    let unlinked = app
        .post_json(
            &format!("/api/v1/patients/{local_patient}/unlink"),
            "admin",
            &json!({ "reason": "traced to the wrong person" }),
        )
        .await;
    json_with(unlinked, 200, "unlinking").await;

    // Assert: exactly the answers before the link.
    let (restored_funnel, restored_reattendance) = answers(&app).await;
    assert_eq!(restored_reattendance, before_reattendance);
    assert_eq!(restored_funnel, before_funnel);
}

#[tokio::test]
async fn a_merge_of_two_local_records_joins_their_reattendance() {
    // Two local records of one person, R-A and R-B, merged by the EPR:
    //   A1 2024-04-02 12:00 fall, positive, accepted (R-A)    A2 2024-04-05 12:00 other (R-B)
    // Before: 7-day 2 attendances, none followed (two patients); 12-month accepted 1 patient, 0.
    // After: A1 → A2 (3 d) → 1 followed; A1's 12-month window holds A2 → accepted 1, 1.
    let app = spawn_app().await;
    let a = Patient::local("ID-RA");
    let b = Patient::local("ID-RB");
    let a1 = positive_visit(&app, &a, "fall", None, t("2024-04-02T12:00:00Z"), Some("accepted")).await;
    let a2 = attend(&app, &b, "other", None, t("2024-04-05T12:00:00Z")).await;
    let (_, before) = answers(&app).await;
    assert_eq!(reattendance_figures(&before), [1, 0, 0, 0, 2, 0]);

    let a1 = json_with(
        app.get(&format!("/api/v1/attendances/{a1}"), "clinician").await,
        200,
        "A1",
    )
    .await;
    let merged = app
        .post_json(
            &format!("/api/v1/patients/{}/link", a2["patient"]["id"].as_str().unwrap()),
            "admin",
            &json!({ "patient_id": a1["patient"]["id"], "reason": "EPR merge" }),
        )
        .await;
    json_with(merged, 200, "merging R-B into R-A").await;

    let (_, after) = answers(&app).await;
    assert_eq!(reattendance_figures(&after), [1, 1, 0, 0, 2, 1]);
}
