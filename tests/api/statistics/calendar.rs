//! Calendar boundaries in Europe/London: financial years and months of the funnel, and `from`/`to`
//! as London midnights.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::checks::*;
use super::fixtures::*;
use crate::helpers::spawn_app;

// ---------------------------------------------------------------------------------------------
// 2. Calendar boundaries in Europe/London

/// Only the attendance count (and what follows from it for falls with no screening).
fn unscreened_falls(n: i64) -> (Counts, Rates) {
    // n eligible falls, none screened: all `not_recorded`; screening rate 0/n, or null when n = 0.
    let counts = Counts {
        attendances: n,
        eligible: n,
        not_recorded: n,
        ..Counts::default()
    };
    let rates = Rates {
        screening: (n > 0).then_some(0.0),
        ..Rates::default()
    };
    (counts, rates)
}

#[tokio::test]
async fn financial_years_and_months_follow_the_london_calendar() {
    // Arrange: BST starts on the last Sunday of March at 01:00Z — 31 March 2024 and 30 March
    // 2025 — so 1 April is in BST both years and its local midnight is 23:00Z on 31 March.
    // Falls, no screening, one patient each:
    //   a 2024-03-31T22:59Z = 23:59 BST 31 Mar → 2023/24, 2024-03
    //   b 2024-03-31T23:00Z = 00:00 BST  1 Apr → 2024/25, 2024-04
    //   c 2024-09-30T23:30Z = 00:30 BST  1 Oct → 2024/25, 2024-10
    //   g 2024-11-30T23:30Z = 23:30 GMT 30 Nov → 2024/25, 2024-11 (GMT again since 27 October)
    //   d 2025-03-31T22:59Z = 23:59 BST 31 Mar → 2024/25, 2025-03
    //   e 2025-03-31T23:00Z = 00:00 BST  1 Apr → 2025/26, 2025-04
    //   f 2025-04-01T00:30+01:00 = 2025-03-31T23:30Z  → 2025/26, 2025-04
    let app = spawn_app().await;
    let arrivals = [
        "2024-03-31T22:59:00Z",
        "2024-03-31T23:00:00Z",
        "2024-09-30T23:30:00Z",
        "2024-11-30T23:30:00Z",
        "2025-03-31T22:59:00Z",
        "2025-03-31T23:00:00Z",
        "2025-04-01T00:30:00+01:00",
    ];
    for (i, arrived) in arrivals.iter().enumerate() {
        visit(&app, &Patient::nhs(200 + i as u32), "fall", Some("SMH"), t(arrived)).await;
    }

    // Act + Assert: financial years 2023/24 (a), 2024/25 (b, c, g, d), 2025/26 (e, f).
    let answer = stats(
        &app,
        &format!("{FUNNEL}?from=2023-04-01&to=2026-04-01&group_by=financial_year"),
    )
    .await;
    assert_funnel_header(&answer, "2023-04-01", "2026-04-01", None, "financial_year", "none");
    assert_eq!(keys(&answer), ["2023/24", "2024/25", "2025/26"]);
    for (key, n) in [("2023/24", 1), ("2024/25", 4), ("2025/26", 2)] {
        let (counts, rates) = unscreened_falls(n);
        assert_group(&answer, key, &counts, &rates, "financial years");
    }

    // Act + Assert: a range starting mid-year: from 1 October 2024 (c at 00:30 BST is in) to
    // 2 April 2025: 2024/25 = c, g, d; 2025/26 = e, f.
    let clipped = stats(
        &app,
        &format!("{FUNNEL}?from=2024-10-01&to=2025-04-02&group_by=financial_year"),
    )
    .await;
    assert_eq!(keys(&clipped), ["2024/25", "2025/26"]);
    for (key, n) in [("2024/25", 3), ("2025/26", 2)] {
        let (counts, rates) = unscreened_falls(n);
        assert_group(&clipped, key, &counts, &rates, "financial years from 1 October");
    }

    // Act + Assert: months March 2024 to April 2025, every one listed.
    let monthly = stats(&app, &format!("{FUNNEL}?from=2024-03-01&to=2025-05-01&group_by=month")).await;
    let expected_months = [
        ("2024-03", 1), // a
        ("2024-04", 1), // b
        ("2024-05", 0),
        ("2024-06", 0),
        ("2024-07", 0),
        ("2024-08", 0),
        ("2024-09", 0), // c is 1 October in London
        ("2024-10", 1), // c
        ("2024-11", 1), // g
        ("2024-12", 0),
        ("2025-01", 0),
        ("2025-02", 0),
        ("2025-03", 1), // d
        ("2025-04", 2), // e, f
    ];
    let expected_keys: Vec<&str> = expected_months.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys(&monthly), expected_keys, "every month, in order");
    for (key, n) in expected_months {
        let (counts, rates) = unscreened_falls(n);
        assert_group(&monthly, key, &counts, &rates, "months");
    }

    // Act + Assert: months of a range that does not start on the 1st: 31 March – 2 April 2025
    // lists March (d) and April (e, f).
    let short = stats(&app, &format!("{FUNNEL}?from=2025-03-31&to=2025-04-02&group_by=month")).await;
    assert_eq!(keys(&short), ["2025-03", "2025-04"]);
    for (key, n) in [("2025-03", 1), ("2025-04", 2)] {
        let (counts, rates) = unscreened_falls(n);
        assert_group(&short, key, &counts, &rates, "months of a short range");
    }

    // Act + Assert: `from`/`to` are London midnights: 1 April 2025 starts at 23:00Z on 31 March.
    // (query, attendances, why)
    let cases = [
        ("from=2025-04-01&to=2025-04-02", 2, "e and f are on 1 April in London"),
        (
            "from=2025-03-31&to=2025-04-01",
            1,
            "d at 23:59 BST is the last minute of 31 March",
        ),
        ("from=2024-04-01&to=2025-04-01", 4, "2024/25: b, c, g, d"),
    ];
    for (query, n, why) in cases {
        let answer = stats(&app, &format!("{FUNNEL}?{query}")).await;
        let (counts, rates) = unscreened_falls(n);
        assert_group(&answer, "all", &counts, &rates, why);
    }
}
