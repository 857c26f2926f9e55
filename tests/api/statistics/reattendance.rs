//! Reattendance: the 12-month measure by cohort and the 7-day unplanned reattendance rate, and
//! that neither depends on the order or concurrency in which attendances are recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::json;

use super::checks::*;
use super::datasets::*;
use super::fixtures::*;
use crate::helpers::spawn_app;

// ---------------------------------------------------------------------------------------------
// 4. Reattendance

#[tokio::test]
async fn twelve_month_reattendance_by_cohort() {
    // Arrange (table in datasets.rs, `twelve_month_dataset`)
    let app = spawn_app().await;
    let (period, _) = twelve_month_dataset(&app).await;
    let base = format!("{REATTENDANCE}?from={}&to={}", period.from, period.to);

    // Act
    let answer = stats(&app, &base).await;

    // Assert. Index = first eligible positive in the period; reattendances in (index, index + 365 d].
    //   accepted cohort (accepted or seen in department):
    //     Pa  B+1:  B+31, B+366 (exactly 365 d)                          → 2
    //     Pb  B+2 (seen, local id only): B+12; B+367 + 1 min is outside  → 1
    //     Pc  B+3 (B−20 is before the period): B+40 (positive), B+103 (planned), B+253 → 3
    //     S   B+11 (WEST): B+30, B+200                                   → 2
    //     4 patients, 8 reattendances, mean 8/4 = 2.0
    //   declined cohort:
    //     Pe  B+4: B+24, B+54, B+204, B+368 (364 d)                      → 4
    //     Pf  B+6 (local id only): B+96 (WEST), B+306, B+336 (planned)   → 3
    //     Pg  B+7: B+157, B+257                                           → 2
    //     3 patients, 9 reattendances, mean 9/3 = 3.0
    //   difference 3.0 − 2.0 = 1.0; avoided per two accepted 2 × 1.0 = 2.0
    //   follow_up_incomplete: Pk (now − 30 d, accepted), Pl (now − 100 d, declined) → 2
    //     (Pm, now − 50 d, has no decision: in neither)
    //   no_decision: Ph (B+8, complete window) → 1. Pi is negative; Pj is not eligible.
    // 7-day: the period holds 33 attendances (every one but Pc's B−20):
    //   Pa 3, Pb 3, Pc 4, S 3, Pe 5, Pf 4, Pg 3, Ph 2, Pi 1, Pj 1, Pk 1, Pl 1, Pm 1, Pn 1 = 33;
    //   only Ph's B+8 is followed within 7 days (B+11, unplanned) → 1; rate 1/33 = 0.0303.
    assert_reattendance_header(&answer, &period, None, "none");
    let expected = reattendance_figures(
        (4, 8, Some(2.0)),
        (3, 9, Some(3.0)),
        Some(1.0),
        Some(2.0),
        2,
        1,
        (33, 1, Some(0.0303)),
    );
    assert_figures(&answer, &expected, "", "12-month reattendance, every site");
    assert_eq!(suppressed(&answer), BTreeSet::new());

    // Act + Assert: index attendances at SMH only; reattendances at any site.
    //   accepted: Pa 2, Pb 1, Pc 3 → 3 patients, 6, mean 2.0 (S's only SMH positive is B+30)
    //   declined: Pe 4, Pf 3 (B+96 at WEST counts), Pg 2, S from B+30: B+200 (WEST) → 1
    //     → 4 patients, 10, mean 2.5
    //   difference 2.5 − 2.0 = 0.5, avoided 1.0; follow-up incomplete Pk, Pl → 2; Ph → 1
    // 7-day at SMH: 33 − 3 at WEST (S B+11, S B+200, Pf B+96) = 30; Ph → 1; 1/30 = 0.0333.
    let smh = stats(&app, &format!("{base}&site=SMH")).await;
    assert_reattendance_header(&smh, &period, Some("SMH"), "none");
    let expected = reattendance_figures(
        (3, 6, Some(2.0)),
        (4, 10, Some(2.5)),
        Some(0.5),
        Some(1.0),
        2,
        1,
        (30, 1, Some(0.0333)),
    );
    assert_figures(&smh, &expected, "", "12-month reattendance, indexes at SMH");

    //   WEST: S's B+11 is the only index: accepted 1 patient, 2 reattendances (B+30 at SMH,
    //   B+200), mean 2.0; declined cohort empty → mean, difference, avoided null.
    //   7-day at WEST: S B+11, S B+200, Pf B+96 → 3, none followed within 7 days → 0.0.
    let west = stats(&app, &format!("{base}&site=WEST")).await;
    let expected = reattendance_figures((1, 2, Some(2.0)), (0, 0, None), None, None, 0, 0, (3, 0, Some(0.0)));
    assert_figures(&west, &expected, "", "12-month reattendance, indexes at WEST");

    // Act + Assert: a period of 15 days from F holds every index from B+1 to B+13 but almost
    // none of the reattendances; those after the period still count (the outcome follows the
    // patient for 365 days): the cohorts are as for the whole period — accepted 4, 8, 2.0;
    // declined 3, 9, 3.0; difference 1.0; avoided 2.0. Pk, Pl (and Pm) arrive after the period
    // → follow-up incomplete 0; Ph → no decision 1.
    // 7-day over [F, F+15): Pa B+1; Pb B+2, B+12; Pc B+3; Pe B+4; Pf B+6; Pg B+7; Ph B+8, B+11;
    // Pi B+9; Pj B+10; S B+11; Pn B+13 → 13; Ph's B+8 → 1; 1/13 = 0.076923… → 0.0769.
    let short_to = period.from + days(15);
    let short = stats(&app, &format!("{REATTENDANCE}?from={}&to={short_to}", period.from)).await;
    assert_eq!(short["to"], short_to.to_string());
    let expected = reattendance_figures(
        (4, 8, Some(2.0)),
        (3, 9, Some(3.0)),
        Some(1.0),
        Some(2.0),
        0,
        1,
        (13, 1, Some(0.0769)),
    );
    assert_figures(
        &short,
        &expected,
        "",
        "15-day period: reattendances after it still count",
    );
}

#[tokio::test]
async fn seven_day_unplanned_reattendance() {
    // Arrange: period 6 January – 3 February 2025 (GMT: London = UTC). One patient per row;
    // falls at SMH unless said; nobody screened.
    //   V1 2025-01-10T10:00Z; planned return 01-13T10:00Z            → V1a no (planned), V1b no
    //   V2 2025-01-10T10:00Z; unplanned 01-17T10:00Z (exactly 7 d)   → V2a yes, V2b no
    //   V3 2025-01-10T10:00Z; unplanned 01-17T10:01Z (7 d + 1 min)   → V3a no, V3b no
    //   V4 2025-02-02T10:00Z; unplanned 02-04T10:00Z (after period)  → V4a yes; V4b not in period
    //   V5 2025-01-04T10:00Z (before period); unplanned 01-07T10:00Z → V5a not in period; V5b no
    //   V6 2025-01-20T10:00Z; unplanned 01-22T10:00Z at WEST         → V6a yes (any site), V6b no
    //   V7 planned 2025-01-25T10:00Z; unplanned 01-27T10:00Z         → V7a yes, V7b no
    //   V8 (local id only) 2025-01-28T10:00Z; unplanned 01-29T10:00Z → V8a yes, V8b no
    // In the period: V1a V1b V2a V2b V3a V3b V4a V5b V6a V6b V7a V7b V8a V8b = 14; reattended:
    // V2a, V4a, V6a, V7a, V8a = 5; rate 5/14 = 0.357142… → 0.3571.
    let app = spawn_app().await;
    let smh = Some("SMH");
    let at = |text: &str| t(&format!("2025-{text}:00Z"));
    let v1 = Patient::nhs(901);
    visit(&app, &v1, "fall", smh, at("01-10T10:00")).await;
    planned_visit(&app, &v1, "fall", smh, at("01-13T10:00")).await;
    let v2 = Patient::nhs(902);
    visit(&app, &v2, "fall", smh, at("01-10T10:00")).await;
    visit(&app, &v2, "fall", smh, at("01-17T10:00")).await;
    let v3 = Patient::nhs(903);
    visit(&app, &v3, "fall", smh, at("01-10T10:00")).await;
    visit(&app, &v3, "fall", smh, at("01-17T10:01")).await;
    let v4 = Patient::nhs(904);
    visit(&app, &v4, "fall", smh, at("02-02T10:00")).await;
    visit(&app, &v4, "fall", smh, at("02-04T10:00")).await;
    let v5 = Patient::nhs(905);
    visit(&app, &v5, "fall", smh, at("01-04T10:00")).await;
    visit(&app, &v5, "fall", smh, at("01-07T10:00")).await;
    let v6 = Patient::nhs(906);
    visit(&app, &v6, "fall", smh, at("01-20T10:00")).await;
    visit(&app, &v6, "fall", Some("WEST"), at("01-22T10:00")).await;
    let v7 = Patient::nhs(907);
    planned_visit(&app, &v7, "fall", smh, at("01-25T10:00")).await;
    visit(&app, &v7, "fall", smh, at("01-27T10:00")).await;
    let v8 = Patient::local("V8-LOCAL-908");
    visit(&app, &v8, "fall", smh, at("01-28T10:00")).await;
    visit(&app, &v8, "fall", smh, at("01-29T10:00")).await;
    let period = Period {
        from: date("2025-01-06"),
        to: date("2025-02-03"),
        b: t("2025-01-06T12:00:00Z"),
    };
    let base = format!("{REATTENDANCE}?from=2025-01-06&to=2025-02-03");

    // Act
    let answer = stats(&app, &base).await;

    // Assert: no positive screening → both cohorts empty, nothing to compare.
    assert_reattendance_header(&answer, &period, None, "none");
    let expected = reattendance_figures((0, 0, None), (0, 0, None), None, None, 0, 0, (14, 5, Some(0.3571)));
    assert_figures(&answer, &expected, "", "7-day reattendance");

    // Act + Assert: SMH only: V6b (WEST) leaves → 13; V6a still counts (its return may be at any
    // site) → 5; 5/13 = 0.384615… → 0.3846.
    let smh_only = stats(&app, &format!("{base}&site=SMH")).await;
    let expected = reattendance_figures((0, 0, None), (0, 0, None), None, None, 0, 0, (13, 5, Some(0.3846)));
    assert_figures(&smh_only, &expected, "", "7-day reattendance at SMH");
}

#[tokio::test]
async fn reattendance_does_not_depend_on_the_order_attendances_are_recorded() {
    // Arrange: period 6 January – 3 February 2025 (GMT). Each patient's attendances are recorded
    // latest first, as an EPR catching up on a backlog might send them.
    //   R1 (accepted): index 01-10T10:00, recorded after 01-17T10:00 (unplanned, exactly 7 d),
    //      2026-01-10T10:00 (exactly 365 d) and 2026-01-10T10:01 (365 d + 1 min).
    //   R2 (declined): 01-20T10:00, 01-14T10:00 (planned), index 01-12T10:00, then 01-08T10:00
    //      (not screened), in that order.
    let app = spawn_app().await;
    let smh = Some("SMH");
    let at = |text: &str| t(&format!("{text}:00Z"));
    let r1 = Patient::nhs(951);
    visit(&app, &r1, "fall", smh, at("2026-01-10T10:01")).await;
    visit(&app, &r1, "fall", smh, at("2026-01-10T10:00")).await;
    visit(&app, &r1, "fall", smh, at("2025-01-17T10:00")).await;
    positive_visit(&app, &r1, "fall", smh, at("2025-01-10T10:00"), Some("accepted")).await;
    let r2 = Patient::nhs(952);
    visit(&app, &r2, "fall", smh, at("2025-01-20T10:00")).await;
    planned_visit(&app, &r2, "fall", smh, at("2025-01-14T10:00")).await;
    positive_visit(&app, &r2, "fall", smh, at("2025-01-12T10:00"), Some("declined")).await;
    visit(&app, &r2, "fall", smh, at("2025-01-08T10:00")).await;
    let period = Period {
        from: date("2025-01-06"),
        to: date("2025-02-03"),
        b: t("2025-01-06T12:00:00Z"),
    };

    // Act
    let answer = stats(&app, &format!("{REATTENDANCE}?from=2025-01-06&to=2025-02-03")).await;

    // Assert. 12-month, (index, index + 365 d]:
    //   R1 index 01-10: 01-17 and 2026-01-10T10:00 count, 10:01 does not → accepted 1, 2, 2.0
    //   R2 index 01-12 (01-08 was not screened): 01-14, 01-20 → declined 1, 2, 2.0
    //   difference 0.0, avoided 0.0; both windows ended in January 2026.
    // 7-day, unplanned in (arrival, arrival + 7 d]; in the period R1 01-10, 01-17 and R2 01-08,
    // 01-12, 01-14, 01-20 = 6:
    //   R1 01-10 ← 01-17 (exactly 7 d) yes; R1 01-17 no (next in 2026)
    //   R2 01-08 ← 01-12 yes; 01-12: 01-14 is planned, 01-20 is 8 d later → no;
    //   R2 01-14 ← 01-20 yes; 01-20 no → 3; rate 3/6 = 0.5.
    assert_reattendance_header(&answer, &period, None, "none");
    let expected = reattendance_figures(
        (1, 2, Some(2.0)),
        (1, 2, Some(2.0)),
        Some(0.0),
        Some(0.0),
        0,
        0,
        (6, 3, Some(0.5)),
    );
    assert_figures(&answer, &expected, "", "attendances recorded latest first");
}

#[tokio::test]
async fn attendances_of_one_patient_recorded_at_once_leave_the_reattendance_right() {
    // Arrange: twelve unplanned attendances of one patient, two days apart from
    // 2025-01-07T10:00Z, all sent at once.
    let app = spawn_app().await;
    let patient = Patient::nhs(961);
    let first = t("2025-01-07T10:00:00Z");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let client = app.client.clone();
        let url = app.url("/api/v1/attendances");
        let token = app.token("integration");
        let body = json!({
            "source_system": "stats-test",
            "source_id": format!("at-once-{i}"),
            "patient": patient.json(),
            "arrived_at": crate::scheduling_helpers::rfc(first + days(2 * i)),
            "presenting_condition": "fall",
            "attendance_category": "unplanned",
        });
        tasks.spawn(async move {
            let response = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            response.status().as_u16()
        });
    }
    while let Some(joined) = tasks.join_next().await {
        assert_eq!(joined.unwrap(), 201, "each attendance is recorded");
    }

    // Act
    let answer = stats(&app, &format!("{REATTENDANCE}?from=2025-01-06&to=2025-02-03")).await;

    // Assert: all twelve (01-07 … 01-29) are in the period; each but the last is followed by the
    // next, unplanned, two days later → 11 of 12; 11/12 = 0.91666… → 0.9167. No screening, so
    // both 12-month cohorts are empty.
    let expected = reattendance_figures((0, 0, None), (0, 0, None), None, None, 0, 0, (12, 11, Some(0.9167)));
    assert_figures(&answer, &expected, "", "attendances recorded at once");
}
