//! `GET /api/v1/statistics/outcomes`: per NHS financial year of the AHW contact, brief
//! interventions delivered, follow-ups due and made at 6 and 12 months, and mean units a week at
//! the contact against the follow-up for the pairs with both. Every figure is worked out by hand
//! from the definitions (README "Statistics", the handler's documentation): the working is next
//! to each expected value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use serde_json::{json, Value};

use super::checks::*;
use super::fixtures::*;
use crate::helpers::{assert_problem, spawn_app, TestApp};
use crate::scheduling_helpers::{
    accepted_attendance, booked, follow_up_at, health_worker, json_with, now, outcome, seen_in_department_at, slot_at,
};

/// The year with this label.
fn year<'a>(answer: &'a Value, label: &str) -> &'a Value {
    years(answer)
        .iter()
        .find(|y| y["financial_year"] == label)
        .unwrap_or_else(|| panic!("no year {label}: {answer}"))
}

/// A year's figures, in the answer's shape (`null` where nothing is published).
#[allow(clippy::too_many_arguments)]
fn figures(
    contacts: Option<i64>,
    attended: Option<i64>,
    seen: Option<i64>,
    brief: Option<i64>,
    six: [Value; 6],
    twelve: [Value; 6],
) -> Value {
    let follow_up = |f: [Value; 6]| {
        let [due, made, paired, at_contact, at_follow_up, change] = f;
        json!({
            "due": due, "made": made, "paired": paired,
            "mean_units_per_week_at_contact": at_contact,
            "mean_units_per_week_at_follow_up": at_follow_up,
            "change": change,
        })
    };
    json!({
        "ahw_contacts": contacts, "attended_appointment": attended, "seen_in_department": seen,
        "brief_interventions_delivered": brief,
        "six_months": follow_up(six), "twelve_months": follow_up(twelve),
    })
}

fn patient(seed: u32, site: Option<&str>) -> (Value, Option<String>, Patient) {
    let p = Patient::nhs(seed);
    (p.json(), site.map(str::to_owned), p)
}

/// One row of `outcomes_dataset`.
type Contact = (
    u32,
    &'static str,
    bool,
    f64,
    Option<f64>,
    Option<f64>,
    Option<&'static str>,
);

/// The contacts of `outcomes_dataset`: every patient seen in the department (the decision time
/// is the contact). London dates by hand; `as_of` for the range 2024-04-01 to 2026-04-01 is
/// 2026-03-31 (the range's last day: today is later).
///
/// | | contact (UTC) | London date | FY | BI | units | 6 m due | 6 m recorded | 12 m due | 12 m recorded |
/// |---|---|---|---|---|---|---|---|---|---|
/// | C1 | 2024-05-10 10:00 | 10 May 2024 | 24/25 | yes | 40 | 2024-11-10 | 30 | 2025-05-10 | 20 |
/// | C2 | 2024-06-15 10:00 | 15 Jun 2024 | 24/25 | no | 60 | 2024-12-15 | 50 | 2025-06-15 | — |
/// | C3 | 2024-09-02 10:00 | 2 Sep 2024 | 24/25 | yes | 30 | 2025-03-02 | — | 2025-09-02 | 10 |
/// | C4 | 2025-03-31 22:30 | 31 Mar 2025 (23:30 BST) | 24/25 | yes | 8 | 2025-09-30 | 6 | 2026-03-31 = as_of | 4 |
/// | C5 | 2025-03-31 23:30 | 1 Apr 2025 (00:30 BST) | 25/26 | no | 12 | 2025-10-01 | 9 | 2026-04-01 > as_of | 3 (not due: not made) |
/// | C6 | 2025-09-30 22:30 | 30 Sep 2025 (23:30 BST) | 25/26 | yes | 25 | 2026-03-30 | 20 | 2026-09-30 | — |
/// | C7 | 2025-09-30 23:30 | 1 Oct 2025 (00:30 BST) | 25/26 | yes | 18 | 2026-04-01 > as_of | — | 2026-10-01 | — |
/// | C8 (site CXH) | 2025-11-05 10:00 | 5 Nov 2025 | 25/26 | yes | 50 | 2026-05-05 > as_of | — | 2026-11-05 | — |
///
/// Every other contact is at site SMH.
async fn outcomes_dataset(app: &TestApp) -> Vec<Patient> {
    // (seed, contact, brief intervention, units, 6-month units, 12-month units, site)
    let rows: [Contact; 8] = [
        (
            1,
            "2024-05-10T10:00:00Z",
            true,
            40.0,
            Some(30.0),
            Some(20.0),
            Some("SMH"),
        ),
        (2, "2024-06-15T10:00:00Z", false, 60.0, Some(50.0), None, Some("SMH")),
        (3, "2024-09-02T10:00:00Z", true, 30.0, None, Some(10.0), Some("SMH")),
        (4, "2025-03-31T22:30:00Z", true, 8.0, Some(6.0), Some(4.0), Some("SMH")),
        (
            5,
            "2025-03-31T23:30:00Z",
            false,
            12.0,
            Some(9.0),
            Some(3.0),
            Some("SMH"),
        ),
        (6, "2025-09-30T22:30:00Z", true, 25.0, Some(20.0), None, Some("SMH")),
        (7, "2025-09-30T23:30:00Z", true, 18.0, None, None, Some("SMH")),
        (8, "2025-11-05T10:00:00Z", true, 50.0, None, None, Some("CXH")),
    ];
    let mut patients = vec![];
    for (seed, contact, brief, units, six, twelve, site) in rows {
        let (json, site, p) = patient(9100 + seed, site);
        let seen = t(contact);
        let (id, _) = seen_in_department_at(app, json, site.as_deref(), seen, brief, units).await;
        // Recorded a few days after each due date (C5's 12-month one before it, on 2026-04-02).
        if let Some(units) = six {
            follow_up_at(app, &id, 6, units, seen + days(190)).await;
        }
        if let Some(units) = twelve {
            follow_up_at(app, &id, 12, units, seen + days(367)).await;
        }
        patients.push(p);
    }
    patients
}

/// 2024/25 by hand: contacts C1–C4 = 4, all seen in the department, BI C1 C3 C4 = 3.
///   6 m: due C1–C4 = 4; made C1 C2 C4 = 3, all with contact units: paired 3;
///        at contact (40 + 60 + 8) / 3 = 36.0; at follow-up (30 + 50 + 6) / 3 = 28.67 → 28.7;
///        change 28.7 − 36.0 = −7.3.
///   12 m: due C1–C4 = 4 (C4 on as_of itself); made C1 C3 C4 = 3, paired 3;
///        at contact (40 + 30 + 8) / 3 = 26.0; at follow-up (20 + 10 + 4) / 3 = 11.33 → 11.3;
///        change 11.3 − 26.0 = −14.7.
fn year_2024_25() -> Value {
    figures(
        Some(4),
        Some(0),
        Some(4),
        Some(3),
        [json!(4), json!(3), json!(3), json!(36.0), json!(28.7), json!(-7.3)],
        [json!(4), json!(3), json!(3), json!(26.0), json!(11.3), json!(-14.7)],
    )
}

/// 2025/26 by hand: contacts C5–C8 = 4, all seen, BI C6 C7 C8 = 3.
///   6 m: due C5 C6 = 2 (C7 and C8 due after as_of); made 2, paired 2;
///        at contact (12 + 25) / 2 = 18.5; at follow-up (9 + 20) / 2 = 14.5; change −4.0.
///   12 m: none due (C5's is 2026-04-01): 0, 0, 0, no means. C5's recorded 12-month contact
///        is not made: it is not due.
fn year_2025_26() -> Value {
    figures(
        Some(4),
        Some(0),
        Some(4),
        Some(3),
        [json!(2), json!(2), json!(2), json!(18.5), json!(14.5), json!(-4.0)],
        [json!(0), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
    )
}

#[tokio::test]
async fn outcomes_per_financial_year_of_the_contact_worked_by_hand() {
    // Arrange
    let app = spawn_app().await;
    let patients = outcomes_dataset(&app).await;
    let path = format!("{OUTCOMES}?from=2024-04-01&to=2026-04-01");

    // Act
    let answer = stats(&app, &path).await;

    // Assert
    assert_eq!(answer["as_of"], "2026-03-31", "the range's last day (today is later)");
    assert_eq!(answer["observational"], true);
    assert!(
        answer["note"].as_str().is_some_and(|n| n.contains("not a trial")),
        "the answer says it is observational: {answer}"
    );
    assert_eq!(answer["disclosure"], "none");
    assert_eq!(years(&answer).len(), 2, "{answer}");
    for (label, expected) in [("2024/25", year_2024_25()), ("2025/26", year_2025_26())] {
        let y = year(&answer, label);
        assert_figures(y, &expected, "", label);
        assert_eq!(y["suppressed"], json!([]), "{label}: nothing withheld");
        assert_eq!(y["partial"], false, "{label}: a whole year");
    }

    // Act + Assert: CSV, one row per year, the same figures; an empty cell for a mean without
    // pairs.
    let csv = parse_csv(&stats_csv(&app, &path).await);
    let header = &csv[0];
    assert_eq!(csv.len(), 3, "a header and two years: {csv:?}");
    for column in [
        "as_of",
        "observational",
        "financial_year",
        "ahw_contacts",
        "brief_interventions_delivered",
        "six_months.due",
        "six_months.made",
        "six_months.paired",
        "six_months.mean_units_per_week_at_contact",
        "twelve_months.mean_units_per_week_at_follow_up",
        "twelve_months.change",
    ] {
        assert!(header.contains(&column.to_owned()), "CSV column {column}: {header:?}");
    }
    let row = &csv[1];
    assert_eq!(cell(header, row, "financial_year"), "2024/25");
    assert_eq!(cell(header, row, "six_months.mean_units_per_week_at_follow_up"), "28.7");
    assert_eq!(cell(header, row, "twelve_months.change"), "-14.7");
    let row = &csv[2];
    assert_eq!(cell(header, row, "six_months.due"), "2");
    assert_eq!(cell(header, row, "twelve_months.mean_units_per_week_at_contact"), "");

    // Act + Assert: site CXH: only C8 (2025/26): 1 contact, BI 1, its 6-month due after as_of.
    let cxh = stats(&app, &format!("{path}&site=CXH")).await;
    assert_figures(
        year(&cxh, "2025/26"),
        &figures(
            Some(1),
            Some(0),
            Some(1),
            Some(1),
            [json!(0), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
            [json!(0), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
        ),
        "",
        "site CXH",
    );
    assert_eq!(year(&cxh, "2024/25")["ahw_contacts"], 0);

    // Act + Assert: a range ending 2025-10-01: as_of 2025-09-30. 2024/25's 6-month contacts are
    // all due by then (C4's on 2025-09-30 itself); of the 12-month ones C1 (2025-05-10), C2
    // (2025-06-15) and C3 (2025-09-02) are due, C4's (2026-03-31) not: due 3, made C1 C3 = 2,
    // at contact (40 + 30) / 2 = 35.0, at follow-up (20 + 10) / 2 = 15.0, change −20.0.
    // 2025/26 to 2025-10-01 holds C5 and C6 only (BI C6): C5's 6-month (2025-10-01) and C6's are
    // due after as_of.
    let early = stats(&app, &format!("{OUTCOMES}?from=2024-04-01&to=2025-10-01")).await;
    assert_eq!(early["as_of"], "2025-09-30");
    assert_figures(
        year(&early, "2024/25"),
        &figures(
            Some(4),
            Some(0),
            Some(4),
            Some(3),
            [json!(4), json!(3), json!(3), json!(36.0), json!(28.7), json!(-7.3)],
            [json!(3), json!(2), json!(2), json!(35.0), json!(15.0), json!(-20.0)],
        ),
        "",
        "as of 2025-09-30",
    );
    let partial = year(&early, "2025/26");
    assert_eq!(partial["partial"], true);
    assert_figures(
        partial,
        &figures(
            Some(2),
            Some(0),
            Some(2),
            Some(1),
            [json!(0), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
            [json!(0), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
        ),
        "",
        "2025/26 cut at 2025-10-01",
    );

    // Act + Assert: disclosure=nhs. Every non-zero count of both years is 1–7: withheld, and so
    // is every mean and change (their pair counts are withheld); the zeros stay.
    let published = stats(&app, &format!("{path}&disclosure=nhs")).await;
    let y = year(&published, "2024/25");
    assert_eq!(y["ahw_contacts"], Value::Null);
    assert_eq!(y["attended_appointment"], 0, "zero stays zero");
    assert_eq!(y["six_months"]["mean_units_per_week_at_contact"], Value::Null);
    let listed = suppressed(y);
    for path in [
        "ahw_contacts",
        "seen_in_department",
        "brief_interventions_delivered",
        "six_months.paired",
        "six_months.mean_units_per_week_at_contact",
        "six_months.mean_units_per_week_at_follow_up",
        "six_months.change",
        "twelve_months.change",
    ] {
        assert!(listed.contains(path), "2024/25 withholds {path}: {listed:?}");
    }
    assert!(!listed.contains("attended_appointment"), "a zero is not withheld");
    let csv = parse_csv(&stats_csv(&app, &format!("{path}&disclosure=nhs")).await);
    assert_eq!(cell(&csv[0], &csv[1], "six_months.mean_units_per_week_at_contact"), "*");
    assert_eq!(cell(&csv[0], &csv[1], "attended_appointment"), "0");

    // Assert: no patient identifier in any answer.
    for p in [
        path.clone(),
        format!("{path}&disclosure=nhs"),
        format!("{path}&site=CXH"),
    ] {
        let json = stats(&app, &p).await.to_string();
        let csv = stats_csv(&app, &p).await;
        for id in patients.iter().flat_map(|p| p.identifiers()) {
            assert!(!json.contains(&id) && !csv.contains(&id), "{p} carries {id}");
        }
    }
}

#[tokio::test]
async fn published_outcomes_are_rounded_and_a_small_cell_is_withheld() {
    // Arrange: nine patients seen in the department in 2024/25 (on the 1st of May to January),
    // units at the contact 10, 20, …, 90 and at the 6-month follow-up 6, 12, …, 54; the brief
    // intervention delivered for the first two only. No 12-month follow-up recorded.
    let app = spawn_app().await;
    for i in 1..=9u32 {
        let month = (4 + i) % 12 + if (4 + i) % 12 == 0 { 12 } else { 0 };
        let yr = if month >= 5 { 2024 } else { 2025 };
        let seen = t(&format!("{yr}-{month:02}-01T10:00:00Z"));
        let (id, _) = seen_in_department_at(
            &app,
            Patient::nhs(9200 + i).json(),
            None,
            seen,
            i <= 2,
            f64::from(10 * i),
        )
        .await;
        follow_up_at(&app, &id, 6, f64::from(6 * i), seen + days(190)).await;
    }

    // Act
    let path = format!("{OUTCOMES}?from=2024-04-01&to=2026-04-01&disclosure=nhs");
    let answer = stats(&app, &path).await;

    // Assert: by hand. Contacts 9 → 10; seen 9 → 10; attended 0; BI 2 → withheld. 6 months:
    // every contact (May 2024 – January 2025) is due by 2026-03-31: due 9 → 10, made 9 → 10,
    // paired 9 → 10; means over all nine: (10 + … + 90) / 9 = 450 / 9 = 50.0 and
    // (6 + … + 54) / 9 = 270 / 9 = 30.0, change −20.0. 12 months: all nine due (May 2025 –
    // January 2026): 9 → 10; none made: 0, 0, no means.
    let y = year(&answer, "2024/25");
    assert_figures(
        y,
        &figures(
            Some(10),
            Some(0),
            Some(10),
            None,
            [json!(10), json!(10), json!(10), json!(50.0), json!(30.0), json!(-20.0)],
            [json!(10), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
        ),
        "",
        "published",
    );
    assert_eq!(suppressed(y), ["brief_interventions_delivered".to_owned()].into());
    // The other year has nothing: zeros, nothing withheld.
    assert_eq!(year(&answer, "2025/26")["ahw_contacts"], 0);
}

#[tokio::test]
async fn an_attended_appointment_is_a_contact_of_the_year_it_happened() {
    // Arrange: an appointment 10 minutes from now, attended with the brief intervention.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::minutes(10)).await;
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

    // Act: the default range is the earliest attendance's financial year to the end of the
    // current one, which holds the appointment.
    let answer = stats(&app, OUTCOMES).await;

    // Assert: one contact, an attended appointment with the brief intervention; its follow-ups
    // are due 6 and 12 months from now: none due.
    let current = years(&answer).last().unwrap();
    assert_eq!(current["partial"], true, "the current year: {answer}");
    assert_figures(
        current,
        &figures(
            Some(1),
            Some(1),
            Some(0),
            Some(1),
            [json!(0), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
            [json!(0), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
        ),
        "",
        "an attended appointment",
    );
}

#[tokio::test]
async fn an_attendance_entered_in_error_is_not_a_contact() {
    // Arrange: two patients seen in the department in 2024/25; the first attendance is then
    // marked entered-in-error.
    let app = spawn_app().await;
    let (wrong, _) = seen_in_department_at(
        &app,
        Patient::nhs(9301).json(),
        None,
        t("2024-05-01T10:00:00Z"),
        true,
        30.0,
    )
    .await;
    seen_in_department_at(
        &app,
        Patient::nhs(9302).json(),
        None,
        t("2024-06-01T10:00:00Z"),
        false,
        20.0,
    )
    .await;
    let resp = app
        .post_json(
            &format!("/api/v1/attendances/{wrong}/entered-in-error"),
            "clinician",
            &json!({ "reason": "duplicate" }),
        )
        .await;
    json_with(resp, 200, "marking entered-in-error").await;

    // Act
    let answer = stats(&app, &format!("{OUTCOMES}?from=2024-04-01&to=2025-04-01")).await;

    // Assert: one contact (the second, 1 June 2024), without the brief intervention. as_of is
    // 2025-03-31: its 6-month follow-up (due 2024-12-01) is due and not made; its 12-month one
    // (due 2025-06-01) is not due yet. (With the first counted: 2 contacts, BI 1, 6 m due 2.)
    assert_figures(
        year(&answer, "2024/25"),
        &figures(
            Some(1),
            Some(0),
            Some(1),
            Some(0),
            [json!(1), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
            [json!(0), json!(0), json!(0), Value::Null, Value::Null, Value::Null],
        ),
        "",
        "the attendance entered in error is left out",
    );
}

#[tokio::test]
async fn clinicians_and_ahws_cannot_read_the_outcomes() {
    let app = spawn_app().await;
    for role in ["clinician", "integration", "ahw"] {
        assert_problem(app.get(OUTCOMES, role).await, 403).await;
    }
}
