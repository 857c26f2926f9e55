//! NHS disclosure control (docs/domain.md §8) on each report: rounding, primary and secondary
//! suppression.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::checks::*;
use super::datasets::*;
use super::fixtures::*;
use super::hand_working::*;
use crate::helpers::spawn_app;

// ---------------------------------------------------------------------------------------------
// 5. NHS disclosure control

#[tokio::test]
async fn nhs_disclosure_rounds_suppresses_and_protects_the_relations() {
    // Arrange
    let app = spawn_app().await;
    let d = disclosure_dataset(&app).await;
    let (from, to) = (d - days(2), d + days(2));
    let base = format!("{FUNNEL}?from={from}&to={to}");
    let (truth, true_rates) = disclosure_truth();

    // Act + Assert: without disclosure control, the true figures.
    let plain = stats(&app, &base).await;
    assert_group(&plain, "all", &truth, &true_rates, "disclosure none");

    // Act
    let published = stats(&app, &format!("{base}&disclosure=nhs")).await;

    // Assert: rounded to the nearest 5 — attendances 12 → 10, positive 10, advice 10,
    // leaflet 10, booked 9 → 10, within 24 h 9 → 10 (cells in no relation, never hidden); zero
    // stays zero.
    assert_funnel_header(&published, &from.to_string(), &to.to_string(), None, "none", "nhs");
    let g = group(&published, "all");
    let sure = json!({ "counts": {
        "attendances": 10, "positive": 10, "advice_given": 10, "leaflet_given": 10, "booked": 10,
        "booked_within_24h": 10, "no_slot_in_window": 0, "cancelled": 0, "screened_outside_indications": 0,
    }});
    assert_figures(g, &sure, "", "published counts");
    // Primary suppression: refused 1, declined 1, attended next day 1 → null and listed.
    let listed = suppressed(g);
    for path in [
        "counts.not_screened.refused",
        "counts.declined",
        "counts.attended_by_lead_time.next_day",
    ] {
        assert!(at_path(g, path).is_null(), "{path} = 1 is suppressed: {g}");
        assert!(listed.contains(path), "{path} is listed: {listed:?}");
    }
    // Each of those three leaves its relation with one hidden cell, which the others would give
    // away (e.g. 10 − 10 − 0 − … for refused): a second cell in each must be hidden too.
    for (name, cells) in RELATIONS.iter().take(3) {
        let hidden = cells.iter().filter(|c| listed.contains(**c)).count();
        assert!(
            hidden >= 2,
            "{name}: secondary suppression hides a second cell: {listed:?}"
        );
    }
    // did_not_attend = Σ by lead time is all zeros: nothing to hide.
    for cell in RELATIONS[3].1 {
        assert!(same_number_or(at_path(g, cell), 0.0), "{cell} = 0 stays 0: {g}");
    }
    // Everything else, rates included (from the rounded counts: screening 10/10 = 1.0 where the
    // true rate is 11/12 = 0.9167; acceptance (10 + 0)/10; next-day rate null as its input is
    // suppressed), by the rules applied independently of the service.
    assert_published_group(g, &truth, "disclosure dataset, nhs", false);

    // Act + Assert: by condition — all in `fall`; the ten other groups are all zeros, nothing
    // suppressed, every rate 0/0.
    let by_condition = stats(&app, &format!("{base}&disclosure=nhs&group_by=presenting_condition")).await;
    assert_eq!(keys(&by_condition).len(), 11);
    for key in CONDITIONS {
        let expected = if key == "fall" {
            truth.clone()
        } else {
            Counts::default()
        };
        let g = group(&by_condition, key);
        assert_published_group(g, &expected, &format!("nhs, {key}"), false);
        if key != "fall" {
            assert_eq!(suppressed(g), BTreeSet::new(), "{key}: all zero, nothing to hide");
        }
    }
}

fn same_number_or(value: &Value, n: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - n).abs() < 1e-9)
}

#[tokio::test]
async fn nhs_disclosure_on_the_pathway_dataset() {
    // Arrange
    let app = spawn_app().await;
    let d = pathway_dataset(&app).await;
    let base = format!("{FUNNEL}?from={}&to={}&disclosure=nhs", d - days(2), d + days(2));

    // Act
    let all = stats(&app, &base).await;

    // Assert: published by hand from `pathway_all`: attendances 25 → 25, eligible 21 → 20,
    // screened 14 → 15, positive 12 → 10, advice 10, leaflet 9 → 10, offered 11 → 10, accepted
    // 9 → 10, booked 8 → 10; every not-screened reason (1 each), outside indications (2),
    // declined, seen, within 24 h (6), no slot, attended (4), did not attend (2), cancelled and
    // every non-zero lead-time cell are 1–7.
    let g = group(&all, "all");
    let sure = json!({ "counts": {
        "attendances": 25, "positive": 10, "advice_given": 10, "leaflet_given": 10, "booked": 10,
        "booked_within_24h": null, "no_slot_in_window": null, "cancelled": null,
        "screened_outside_indications": null,
    }});
    assert_figures(g, &sure, "", "pathway, nhs");
    assert_published_group(g, &pathway_all().0, "pathway, nhs", false);

    // Act + Assert: by condition, every group follows the same rules.
    let by_condition = stats(&app, &format!("{base}&group_by=presenting_condition")).await;
    for (key, counts, _) in pathway_by_condition() {
        assert_published_group(
            group(&by_condition, key),
            &counts,
            &format!("pathway, nhs, {key}"),
            false,
        );
    }
}

#[tokio::test]
async fn nhs_disclosure_on_reattendance() {
    // Arrange: the cohort dataset (datasets.rs, `cohort_dataset`).
    let app = spawn_app().await;
    let period = cohort_dataset(&app).await;
    let base = format!("{REATTENDANCE}?from={}&to={}", period.from, period.to);

    // Act + Assert: without disclosure control.
    //   accepted: 10 patients; A0–A8 1 each + A9 3 = 12; mean 12/10 = 1.2
    //   declined: 8 patients; D0–D6 2 each + D7 3 = 17; mean 17/8 = 2.125
    //   difference 2.125 − 1.2 = 0.925; avoided 2 × 0.925 = 1.85
    //   7-day: 10 + 12 + 8 + 17 = 47 attendances; A0–A8's index followed 5 days later → 9;
    //   9/47 = 0.19148… → 0.1915
    let plain = stats(&app, &base).await;
    let expected = reattendance_figures(
        (10, 12, Some(1.2)),
        (8, 17, Some(2.125)),
        Some(0.925),
        Some(1.85),
        0,
        0,
        (47, 9, Some(0.1915)),
    );
    assert_figures(&plain, &expected, "", "cohorts, disclosure none");

    // Act + Assert: published: patients 10 → 10, 12 → 10, mean 10/10 = 1.0; 8 → 10, 17 → 15,
    // mean 15/10 = 1.5; difference 1.5 − 1.0 = 0.5; avoided 1.0 (all from the rounded numbers);
    // 7-day 47 → 45, 9 → 10, rate 10/45 = 0.2222. Nothing is 1–7: nothing suppressed.
    let published = stats(&app, &format!("{base}&disclosure=nhs")).await;
    assert_reattendance_header(&published, &period, None, "nhs");
    let expected = reattendance_figures(
        (10, 10, Some(1.0)),
        (10, 15, Some(1.5)),
        Some(0.5),
        Some(1.0),
        0,
        0,
        (45, 10, Some(0.2222)),
    );
    assert_figures(&published, &expected, "", "cohorts, nhs");
    assert_eq!(suppressed(&published), BTreeSet::new());
}

#[tokio::test]
async fn nhs_disclosure_suppresses_small_cohorts() {
    // Arrange: the 12-month dataset, whose figures (see `twelve_month_reattendance_by_cohort`)
    // are small.
    let app = spawn_app().await;
    let (period, _) = twelve_month_dataset(&app).await;

    // Act
    let published = stats(
        &app,
        &format!("{REATTENDANCE}?from={}&to={}&disclosure=nhs", period.from, period.to),
    )
    .await;

    // Assert: accepted 4 patients → suppressed, 8 reattendances → 10, mean null (input
    // suppressed); declined 3 → suppressed, 9 → 10, mean null; difference and avoided null;
    // follow-up incomplete 2 and no decision 1 suppressed; 7-day 33 → 35, 1 suppressed, rate null.
    let expected = json!({
        "twelve_month": {
            "accepted": { "patients": null, "reattendances": 10, "mean": null },
            "declined": { "patients": null, "reattendances": 10, "mean": null },
            "difference": null,
            "avoided_per_two_accepted": null,
            "follow_up_incomplete": null,
            "no_decision": null,
        },
        "seven_day": { "attendances": 35, "reattended_within_7_days": null, "rate": null },
    });
    assert_figures(&published, &expected, "", "12-month dataset, nhs");
    let listed = suppressed(&published);
    for path in [
        "twelve_month.accepted.patients",
        "twelve_month.accepted.mean",
        "twelve_month.declined.patients",
        "twelve_month.declined.mean",
        "twelve_month.difference",
        "twelve_month.avoided_per_two_accepted",
        "twelve_month.follow_up_incomplete",
        "twelve_month.no_decision",
        "seven_day.reattended_within_7_days",
        "seven_day.rate",
    ] {
        assert!(listed.contains(path), "{path} is listed: {listed:?}");
    }
    for path in &listed {
        assert!(at_path(&published, path).is_null(), "listed {path} is null");
    }
    for path in [
        "twelve_month.accepted.reattendances",
        "twelve_month.declined.reattendances",
        "seven_day.attendances",
    ] {
        assert!(!listed.contains(path), "{path} is published rounded, not listed");
    }
}

/// (financial year, accepted, seen_in_department, change, change_percent, paths that must be
/// listed as suppressed); `None` = null.
type PublishedYear = (
    &'static str,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<f64>,
    &'static [&'static str],
);

#[tokio::test]
async fn nhs_disclosure_on_the_referral_trend() {
    // Arrange
    let app = spawn_app().await;
    trend_dataset(&app).await;

    // Act
    let published = stats(
        &app,
        &format!("{REFERRALS}?from=2021-04-01&to=2026-04-01&disclosure=nhs"),
    )
    .await;

    // Assert: accepted 2, 0, 3, 8, 0 → *, 0, *, 10, 0; seen 0, 0, 1, 1, 0 → 0, 0, *, *, 0.
    //   2021/22: accepted suppressed; change null (first year)
    //   2022/23: 0; change null (the year before is suppressed)
    //   2023/24: suppressed; change null
    //   2024/25: 10; change null (the year before is suppressed)
    //   2025/26: 0; change 0 − 10 = −10, 100 × −10 / 10 = −100.0 (from the rounded numbers)
    assert_eq!(published["disclosure"], "nhs");
    let y = years(&published);
    assert_eq!(y.len(), 5, "{published}");
    let cases: [PublishedYear; 5] = [
        ("2021/22", None, Some(0), None, None, &["accepted"]),
        ("2022/23", Some(0), Some(0), None, None, &["change", "change_percent"]),
        (
            "2023/24",
            None,
            None,
            None,
            None,
            &["accepted", "seen_in_department", "change", "change_percent"],
        ),
        (
            "2024/25",
            Some(10),
            None,
            None,
            None,
            &["seen_in_department", "change", "change_percent"],
        ),
        ("2025/26", Some(0), Some(0), Some(-10), Some(-100.0), &[]),
    ];
    for (year, (label, accepted, seen, change, percent, must_list)) in y.iter().zip(cases) {
        assert_eq!(year["financial_year"], label);
        assert_figures(
            year,
            &json!({ "accepted": accepted, "seen_in_department": seen, "change": change,
                     "change_percent": percent, "partial": false }),
            "",
            &format!("{label}, nhs"),
        );
        let listed = suppressed(year);
        for path in must_list {
            assert!(listed.contains(*path), "{label}: {path} is listed: {listed:?}");
        }
        for path in &listed {
            assert!(year[path.as_str()].is_null(), "{label}: listed {path} is null: {year}");
        }
    }
    assert!(!suppressed(&y[3]).contains("accepted"), "2024/25 accepted is published");
    assert_eq!(suppressed(&y[4]), BTreeSet::new(), "2025/26: nothing hidden");
}
