//! CSV answers: a header, a row per group, `*` for a suppressed count, and text escaped against
//! formula injection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::Datelike;
use serde_json::json;

use super::checks::*;
use super::datasets::*;
use super::fixtures::*;
use super::hand_working::*;
use crate::helpers::spawn_app;

// ---------------------------------------------------------------------------------------------
// 6. CSV

/// Columns that describe a row rather than hold a figure.
const NOT_FIGURES: [&str; 7] = ["from", "to", "site", "group_by", "disclosure", "key", "suppressed"];

#[tokio::test]
async fn csv_has_a_header_a_row_per_group_stars_and_escaped_formulas() {
    // Arrange: the disclosure dataset sits at site `=cmd` (a spreadsheet formula); three more
    // attendances at `+1`, `-1` and `@x`.
    let app = spawn_app().await;
    let d = disclosure_dataset(&app).await;
    for (i, site) in ["+1", "-1", "@x", "Ward \"A\", Paddington"].iter().enumerate() {
        visit(&app, &Patient::nhs(950 + i as u32), "other", Some(site), utc(d, 9, 0)).await;
    }
    let (from, to) = (d - days(2), d + days(2));
    let base = format!("{FUNNEL}?from={from}&to={to}&site=%3Dcmd");

    // Act
    let text = stats_csv(&app, &base).await;

    // Assert: a header, then one row (group_by none); the leading scalars; every figure as in
    // `disclosure_truth`.
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 2, "header + one group: {text}");
    let header = &rows[0];
    assert_eq!(
        header[..5],
        ["from", "to", "site", "group_by", "disclosure"],
        "the top-level scalars come first: {header:?}"
    );
    for column in [
        "key",
        "counts.attendances",
        "counts.not_screened.refused",
        "counts.attended_by_lead_time.same_day",
        "rates.screening",
        "rates.ahw_attendance_by_lead_time.later",
    ] {
        assert!(header.contains(&column.to_owned()), "column {column}: {header:?}");
    }
    let row = &rows[1];
    assert_eq!(cell(header, row, "from"), from.to_string());
    assert_eq!(cell(header, row, "to"), to.to_string());
    assert_eq!(cell(header, row, "site"), "'=cmd", "a formula-like site is escaped");
    assert_eq!(cell(header, row, "group_by"), "none");
    assert_eq!(cell(header, row, "disclosure"), "none");
    assert_eq!(cell(header, row, "key"), "all");
    assert_eq!(
        cell(header, row, "rates.ahw_attendance_by_lead_time.later"),
        "",
        "null is empty"
    );
    let (truth, rates) = disclosure_truth();
    let figures = csv_row_json(header, row, &NOT_FIGURES);
    assert_figures(&figures, &expected_group(&truth, &rates), "", "CSV, disclosure none");
    assert_eq!(figures["suppressed"], json!([]), "no `*` without disclosure control");

    // Act + Assert: published: `*` for suppressed counts, rounded numbers elsewhere.
    let text = stats_csv(&app, &format!("{base}&disclosure=nhs")).await;
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 2, "{text}");
    let (header, row) = (&rows[0], &rows[1]);
    assert_eq!(cell(header, row, "disclosure"), "nhs");
    for column in [
        "counts.not_screened.refused",
        "counts.declined",
        "counts.attended_by_lead_time.next_day",
    ] {
        assert_eq!(cell(header, row, column), "*", "{column} = 1 is `*`");
    }
    assert_eq!(cell(header, row, "counts.attendances"), "10", "12 rounds to 10");
    let figures = csv_row_json(header, row, &NOT_FIGURES);
    assert_published_group(&figures, &truth, "CSV, nhs", true);

    // Act + Assert: one row per group — eleven conditions.
    let text = stats_csv(&app, &format!("{base}&group_by=presenting_condition")).await;
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 12, "header + 11 conditions: {text}");
    let row_keys: BTreeSet<String> = rows[1..].iter().map(|r| cell(&rows[0], r, "key").to_owned()).collect();
    assert_eq!(row_keys, CONDITIONS.iter().map(|c| c.to_string()).collect());
    for r in &rows[1..] {
        let key = cell(&rows[0], r, "key");
        let (counts, rates) = if key == "fall" {
            disclosure_truth()
        } else {
            (Counts::default(), Rates::default())
        };
        let figures = csv_row_json(&rows[0], r, &NOT_FIGURES);
        assert_figures(&figures, &expected_group(&counts, &rates), "", &format!("CSV {key}"));
        assert_eq!(cell(&rows[0], r, "group_by"), "presenting_condition");
    }

    // Act + Assert: every formula prefix is escaped.
    for (site, query, shown) in [("+1", "%2B1", "'+1"), ("-1", "-1", "'-1"), ("@x", "%40x", "'@x")] {
        let text = stats_csv(&app, &format!("{FUNNEL}?from={from}&to={to}&site={query}")).await;
        let rows = parse_csv(&text);
        assert_eq!(rows.len(), 2, "{site}: {text}");
        assert_eq!(cell(&rows[0], &rows[1], "site"), shown, "site {site}");
        assert_eq!(cell(&rows[0], &rows[1], "counts.attendances"), "1", "site {site}");
    }

    // Act + Assert: a site with a comma and quotes is quoted (RFC 4180), so the row still has
    // one cell per column and the site reads back whole.
    let text = stats_csv(
        &app,
        &format!("{FUNNEL}?from={from}&to={to}&site=Ward%20%22A%22%2C%20Paddington"),
    )
    .await;
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(cell(&rows[0], &rows[1], "site"), "Ward \"A\", Paddington", "{text}");
    assert_eq!(cell(&rows[0], &rows[1], "counts.attendances"), "1");

    // Act + Assert: reattendance, one row. Ten positive indexes on D, all with a decision, none
    // with a complete 365-day window (D is in the future of the real now and the clock reads
    // D+1): both cohorts empty (means null → empty cells), follow-up incomplete 9 + 1 = 10;
    // 7-day: 12 attendances, none returning → 0, rate 0.0.
    let text = stats_csv(&app, &format!("{REATTENDANCE}?from={from}&to={to}&site=%3Dcmd")).await;
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 2, "header + one row: {text}");
    let (header, row) = (&rows[0], &rows[1]);
    assert_eq!(header[..4], ["from", "to", "site", "disclosure"], "{header:?}");
    assert_eq!(cell(header, row, "site"), "'=cmd");
    let figures = csv_row_json(header, row, &["from", "to", "site", "disclosure", "suppressed"]);
    let expected = reattendance_figures((0, 0, None), (0, 0, None), None, None, 10, 0, (12, 0, Some(0.0)));
    assert_figures(&figures, &expected, "", "reattendance CSV");
    assert_eq!(
        cell(header, row, "twelve_month.accepted.mean"),
        "",
        "null is an empty cell"
    );

    // Act + Assert: referrals, one row per year: the year of D, from 1 April: 9 accepted, no
    // year before, not ended (partial).
    let fy = d.year();
    let text = stats_csv(
        &app,
        &format!("{REFERRALS}?from={fy}-04-01&to={}-04-01&site=%3Dcmd", fy + 1),
    )
    .await;
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 2, "header + one year: {text}");
    let (header, row) = (&rows[0], &rows[1]);
    assert_eq!(cell(header, row, "financial_year"), fy_label(fy));
    assert_eq!(cell(header, row, "accepted"), "9");
    assert_eq!(cell(header, row, "seen_in_department"), "0");
    assert_eq!(cell(header, row, "change"), "");
    assert_eq!(cell(header, row, "change_percent"), "");
    assert_eq!(cell(header, row, "partial"), "true", "the year has not ended");
    assert_eq!(cell(header, row, "site"), "'=cmd");
}
