//! The funnel (docs/domain.md §7): every step of the pathway, by site, month, financial year and
//! presenting condition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};

use super::checks::*;
use super::datasets::*;
use super::fixtures::*;
use super::hand_working::*;
use crate::helpers::spawn_app;

// ---------------------------------------------------------------------------------------------
// 1. The funnel

fn month_label(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

fn first_of_month(day: NaiveDate, months_back: u32) -> NaiveDate {
    let mut y = day.year();
    let mut m = day.month() as i32 - months_back as i32;
    while m < 1 {
        m += 12;
        y -= 1;
    }
    NaiveDate::from_ymd_opt(y, m as u32, 1).unwrap()
}

#[tokio::test]
async fn the_funnel_counts_every_step_of_the_pathway() {
    // Arrange
    let app = spawn_app().await;
    let d = pathway_dataset(&app).await;
    let (from, to) = (d - days(2), d + days(2));

    // Act
    let answer = stats(&app, &format!("{FUNNEL}?from={from}&to={to}")).await;

    // Assert
    assert_funnel_header(&answer, &from.to_string(), &to.to_string(), None, "none", "none");
    assert_eq!(keys(&answer), ["all"], "group_by none: one group");
    let (counts, rates) = pathway_all();
    assert_group(&answer, "all", &counts, &rates, "the whole pathway");

    // Act + Assert: the site filter is an exact match; WEST holds A1 (other) and N7 (no
    // screening): 2 attendances, 1 eligible, not recorded; screening 0/1, other rates 0/0.
    let west = stats(&app, &format!("{FUNNEL}?from={from}&to={to}&site=WEST")).await;
    assert_funnel_header(&west, &from.to_string(), &to.to_string(), Some("WEST"), "none", "none");
    let west_counts = Counts {
        attendances: 2,
        eligible: 1,
        not_recorded: 1,
        ..Counts::default()
    };
    let west_rates = Rates {
        screening: Some(0.0),
        ..Rates::default()
    };
    assert_group(&west, "all", &west_counts, &west_rates, "site WEST");
    let nowhere = stats(&app, &format!("{FUNNEL}?from={from}&to={to}&site=SM")).await;
    assert_group(
        &nowhere,
        "all",
        &Counts::default(),
        &Rates::default(),
        "site SM is not SMH",
    );

    // Act + Assert: by month, May to July: May is empty but listed; June holds R0 only (other,
    // first attendance: not eligible, every rate 0/0); July is the whole pathway.
    let (may, aug) = (first_of_month(d, 2), first_of_month(d, 0) + chrono::Months::new(1));
    let monthly = stats(&app, &format!("{FUNNEL}?from={may}&to={aug}&group_by=month")).await;
    assert_funnel_header(&monthly, &may.to_string(), &aug.to_string(), None, "month", "none");
    let june = first_of_month(d, 1);
    assert_eq!(
        keys(&monthly),
        [month_label(may), month_label(june), month_label(d)],
        "every month of the range, in order"
    );
    assert_group(
        &monthly,
        &month_label(may),
        &Counts::default(),
        &Rates::default(),
        "May: empty",
    );
    let r0_only = Counts {
        attendances: 1,
        ..Counts::default()
    };
    assert_group(&monthly, &month_label(june), &r0_only, &Rates::default(), "June: R0");
    assert_group(&monthly, &month_label(d), &counts, &rates, "July: the pathway");

    // Act + Assert: by financial year, the same range is one year (D is 15 July) with R0 too:
    // 25 + 1 = 26 attendances, every other figure as the pathway.
    let yearly = stats(&app, &format!("{FUNNEL}?from={may}&to={aug}&group_by=financial_year")).await;
    assert_eq!(keys(&yearly), [fy_label(d.year())]);
    let with_r0 = Counts {
        attendances: 26,
        ..counts.clone()
    };
    assert_group(&yearly, &fy_label(d.year()), &with_r0, &rates, "the financial year");
}

#[tokio::test]
async fn the_funnel_by_presenting_condition_lists_all_eleven_conditions() {
    // Arrange
    let app = spawn_app().await;
    let d = pathway_dataset(&app).await;
    let (from, to) = (d - days(2), d + days(2));

    // Act
    let answer = stats(
        &app,
        &format!("{FUNNEL}?from={from}&to={to}&group_by=presenting_condition"),
    )
    .await;

    // Assert
    assert_funnel_header(
        &answer,
        &from.to_string(),
        &to.to_string(),
        None,
        "presenting_condition",
        "none",
    );
    let listed: BTreeSet<String> = keys(&answer).into_iter().collect();
    let expected: BTreeSet<String> = CONDITIONS.iter().map(|c| c.to_string()).collect();
    assert_eq!(listed, expected, "all eleven condition codes, other included");
    assert_eq!(keys(&answer).len(), 11, "each once");
    for (key, counts, rates) in pathway_by_condition() {
        assert_group(&answer, key, &counts, &rates, "by recorded condition");
    }
    // The groups add up to the whole (a check on the hand working).
    let total: i64 = pathway_by_condition().iter().map(|(_, c, _)| c.attendances).sum();
    assert_eq!(total, pathway_all().0.attendances);
}
