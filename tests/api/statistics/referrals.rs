//! The referral trend: accepted referrals per NHS financial year and the change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::Datelike;
use serde_json::{json, Value};

use super::checks::*;
use super::datasets::*;
use super::fixtures::*;
use crate::helpers::spawn_app;
use crate::scheduling_helpers::london_today;

// ---------------------------------------------------------------------------------------------
// 3. The referral trend

/// (financial year, accepted, seen_in_department) of `trend_dataset`, by hand from its table.
const TREND: [(&str, i64, i64); 4] = [
    ("2021/22", 2, 0), // 2021-06-10, 2022-01-15
    ("2022/23", 0, 0), // only a declined one
    ("2023/24", 3, 1), // 2023-05-01, 2023-12-01, 2024-03-31T22:30Z (23:30 BST); seen 2023-08-01
    ("2024/25", 8, 1), // 2024-03-31T23:30Z (00:30 BST 1 April), 05-01, 06-01, 09-01, 11-01,
                       // 2025-01-10, 02-01, 03-01 (07-01 is `other`, not eligible; 08-01 no
                       // decision); seen 2024-12-01
];

fn assert_year(
    year: &Value,
    label: &str,
    accepted: i64,
    seen: i64,
    change: Option<i64>,
    change_percent: Option<f64>,
    partial: bool,
) {
    let why = format!("financial year {label}");
    assert_eq!(year["financial_year"], label, "{why}: {year}");
    assert_figures(
        year,
        &json!({
            "accepted": accepted,
            "seen_in_department": seen,
            "change": change,
            "change_percent": change_percent,
            "partial": partial,
        }),
        "",
        &why,
    );
    assert_eq!(suppressed(year), BTreeSet::new(), "{why}: nothing suppressed");
}

#[tokio::test]
async fn accepted_referrals_per_financial_year_and_the_change() {
    // Arrange
    let app = spawn_app().await;
    trend_dataset(&app).await;

    // Act
    let answer = stats(&app, &format!("{REFERRALS}?from=2021-04-01&to=2025-04-01")).await;

    // Assert
    assert_eq!(answer["from"], "2021-04-01");
    assert_eq!(answer["to"], "2025-04-01");
    assert_eq!(answer["site"], Value::Null);
    assert_eq!(answer["disclosure"], "none");
    assert!(
        answer["definition"].as_str().is_some_and(|s| !s.is_empty()),
        "the answer says what it counts: {answer}"
    );
    let y = years(&answer);
    assert_eq!(y.len(), 4, "2021/22 to 2024/25: {answer}");
    // change = accepted − the year before; change_percent = 100 × change / the year before, 1 dp.
    assert_year(&y[0], "2021/22", 2, 0, None, None, false); // the first year: no change
    assert_year(&y[1], "2022/23", 0, 0, Some(-2), Some(-100.0), false); // 0 − 2; 100 × −2 / 2
    assert_year(&y[2], "2023/24", 3, 1, Some(3), None, false); // 3 − 0; the year before is 0
    assert_year(&y[3], "2024/25", 8, 1, Some(5), Some(166.7), false); // 8 − 3; 100 × 5 / 3 = 166.66…
    for (year, start) in y.iter().zip(2021..) {
        assert_eq!(year["from"], format!("{start}-04-01"), "a whole year starts on 1 April");
        assert_eq!(year["to"], format!("{}-04-01", start + 1));
    }

    // Assert: the funnel's `accepted` (and `seen_in_department`) per financial year agrees.
    // Funnel figures per year, by hand: every row is an eligible positive (advice and leaflet)
    // but the `other` one in 2024/25 (screened outside indications); none booked.
    let funnel = stats(
        &app,
        &format!("{FUNNEL}?from=2021-04-01&to=2025-04-01&group_by=financial_year"),
    )
    .await;
    assert_eq!(keys(&funnel), ["2021/22", "2022/23", "2023/24", "2024/25"]);
    // (eligible positives, positives outside indications, declined, seen, no decision,
    // acceptance rate); accepted comes from TREND.
    let funnel_years = [
        // 2 accepted
        (2, 0, 0, 0, 0, Some(1.0)),
        // 1 declined: acceptance 0/1
        (1, 0, 1, 0, 0, Some(0.0)),
        // 3 accepted + 1 seen: (3 + 1)/4
        (4, 0, 0, 1, 0, Some(1.0)),
        // 10 eligible positives (+ the `other` one): 8 accepted, 1 seen, 1 no decision:
        // offered 9, acceptance (8 + 1)/9
        (10, 1, 0, 1, 1, Some(1.0)),
    ];
    for (i, (n, outside, declined, seen, undecided, acceptance)) in funnel_years.into_iter().enumerate() {
        let (label, accepted, seen_trend) = TREND[i];
        assert_eq!(seen, seen_trend, "hand working agrees with itself");
        let counts = Counts {
            attendances: n + outside,
            eligible: n,
            screened: n,
            screened_outside_indications: outside,
            positive: n,
            advice_given: n,
            leaflet_given: n,
            offered: n - undecided,
            accepted,
            declined,
            seen_in_department: seen,
            ..Counts::default()
        };
        let rates = Rates {
            screening: Some(1.0),
            positive: Some(1.0),
            acceptance,
            ..Rates::default()
        };
        assert_group(&funnel, label, &counts, &rates, "funnel by financial year");
        let g = group(&funnel, label);
        assert_eq!(
            g["counts"]["accepted"], y[i]["accepted"],
            "{label}: funnel accepted = referrals accepted"
        );
        assert_eq!(
            g["counts"]["seen_in_department"], y[i]["seen_in_department"],
            "{label}: funnel seen_in_department = referrals seen_in_department"
        );
    }

    // Act + Assert: a clipped range, 1 January 2022 to 1 October 2024.
    //   2021/22 from 2022-01-01: 2022-01-15 → 1, partial
    //   2022/23: 0, change 0 − 1 = −1, −100.0
    //   2023/24: 3 (seen 1), change 3, percent null (the year before is 0)
    //   2024/25 to 2024-10-01 (= 23:00Z on 30 September): 2024-03-31T23:30Z, 05-01, 06-01,
    //   09-01 → 4, seen 0 (12-01 is after), change 4 − 3 = 1, 100 × 1 / 3 = 33.3, partial
    // The `from`/`to` of a clipped year are not asserted: the contract does not say whether
    // they are the year's or the clipped dates.
    let clipped = stats(&app, &format!("{REFERRALS}?from=2022-01-01&to=2024-10-01")).await;
    let y = years(&clipped);
    assert_eq!(y.len(), 4, "{clipped}");
    assert_year(&y[0], "2021/22", 1, 0, None, None, true);
    assert_year(&y[1], "2022/23", 0, 0, Some(-1), Some(-100.0), false);
    assert_year(&y[2], "2023/24", 3, 1, Some(3), None, false);
    assert_year(&y[3], "2024/25", 4, 0, Some(1), Some(33.3), true);

    // Act + Assert: no range: from 1 April of the earliest attendance's year (2021-06-10 →
    // 2021-04-01) to 1 April after the current financial year; the current year is partial.
    let today = london_today();
    let current = if today.month() >= 4 {
        today.year()
    } else {
        today.year() - 1
    };
    assert!(current >= 2025, "this test was written in 2026");
    let default = stats(&app, REFERRALS).await;
    assert_eq!(default["from"], "2021-04-01");
    assert_eq!(default["to"], format!("{}-04-01", current + 1));
    let y = years(&default);
    assert_eq!(
        y.len() as i32,
        current - 2021 + 1,
        "2021/22 to the current year: {default}"
    );
    assert_year(&y[0], "2021/22", 2, 0, None, None, false);
    assert_year(&y[1], "2022/23", 0, 0, Some(-2), Some(-100.0), false);
    assert_year(&y[2], "2023/24", 3, 1, Some(3), None, false);
    assert_year(&y[3], "2024/25", 8, 1, Some(5), Some(166.7), current == 2024);
    // 2025/26: nobody; 0 − 8 = −8, −100.0. Later years: 0 − 0 = 0, percent null.
    assert_year(&y[4], "2025/26", 0, 0, Some(-8), Some(-100.0), current == 2025);
    for (year, start) in y.iter().zip(2021..).skip(5) {
        assert_year(year, &fy_label(start), 0, 0, Some(0), None, start == current);
    }

    // Act + Assert: `from` alone: `to` defaults as above; 2024/25 is the first year listed, so it
    // has no change; then 2025/26 0 − 8 = −8, −100.0; later years 0, percent null.
    let from_only = stats(&app, &format!("{REFERRALS}?from=2024-04-01")).await;
    assert_eq!(from_only["from"], "2024-04-01");
    assert_eq!(from_only["to"], format!("{}-04-01", current + 1));
    let y = years(&from_only);
    assert_eq!(y.len() as i32, current - 2024 + 1, "{from_only}");
    assert_year(&y[0], "2024/25", 8, 1, None, None, current == 2024);
    assert_year(&y[1], "2025/26", 0, 0, Some(-8), Some(-100.0), current == 2025);
    for (year, start) in y.iter().zip(2024..).skip(2) {
        assert_year(year, &fy_label(start), 0, 0, Some(0), None, start == current);
    }
}
