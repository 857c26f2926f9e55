//! The datasets the statistics tests share, built through the API, each described by a table so
//! its figures can be worked out by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;

use super::fixtures::*;
use crate::helpers::TestApp;
use crate::scheduling_helpers::{
    booked, cancel, decide, health_worker, id_of, london_today, next_summer_day, now, set_clock, slot_at,
};

// ---------------------------------------------------------------------------------------------
// Datasets

/// The pathway dataset (test `the_funnel_counts_every_step_of_the_pathway`). The service's clock
/// is moved to D 11:00Z (12:00 BST), D = 15 July next year (`next_summer_day`), so the London
/// calendar is fixed and in BST. Arrivals on D from 06:00Z, 5 minutes apart, in the order below;
/// screenings 10 minutes after arrival (06:10Z–08:05Z = 07:10–09:05 BST). Every attendance is a
/// different patient except R. Site SMH unless said.
///
/// | #  | name | condition         | site | screening (current)          | advice/leaflet | decision | bookings (slot start, UTC)                                   |
/// |----|------|-------------------|------|------------------------------|----------------|----------|--------------------------------------------------------------|
/// | 0  | R0   | other             | SMH  | — (D−30 10:00Z, before range) |               |          |                                                              |
/// | 1  | A1   | other             | WEST | —                            |                |          |                                                              |
/// | 2  | A2   | other             | SMH  | completed negative           |                |          |                                                              |
/// | 3  | A3   | other             | SMH  | completed positive           | yes/yes        | accepted | automatic booking: no slot (409)                             |
/// | 4  | A4   | other             | none | refused                      |                |          |                                                              |
/// | 5  | R    | other (R0's 2nd)  | SMH  | completed negative           |                |          |                                                              |
/// | 6  | T    | repeat_attender   | SMH  | not_asked                    |                |          |                                                              |
/// | 7  | N1   | fall              | SMH  | refused                      |                |          |                                                              |
/// | 8  | N2   | collapse          | SMH  | intoxicated                  |                |          |                                                              |
/// | 9  | N3   | head_injury       | SMH  | lacks_capacity               |                |          |                                                              |
/// | 10 | N4   | assault           | SMH  | too_unwell                   |                |          |                                                              |
/// | 11 | N5   | accident          | SMH  | under_age                    |                |          |                                                              |
/// | 12 | N7   | gastrointestinal  | WEST | — (no screening)             |                |          |                                                              |
/// | 13 | C1   | cardiac           | SMH  | refused, corrected to completed negative |    |          |                                                              |
/// | 14 | P1   | psychiatric       | SMH  | positive                     | yes/yes        | declined |                                                              |
/// | 15 | P2   | fall              | SMH  | positive                     | yes/no         | seen_in_department |                                                    |
/// | 16 | P3   | unwell            | SMH  | positive                     | no/no          | —        |                                                              |
/// | 17 | Q1   | assault           | SMH  | positive                     | yes/yes        | accepted | D 12:00Z (same day) → attended                               |
/// | 18 | Q2   | head_injury       | SMH  | positive                     | yes/yes        | accepted | D+1 06:00Z (07:00 BST next day, 22 h after) → did_not_attend |
/// | 19 | Q3   | collapse          | SMH  | positive                     | yes/yes        | accepted | D 13:00Z → cancelled                                         |
/// | 20 | Q4   | unwell            | SMH  | positive                     | yes/yes        | accepted | D+2 09:00Z (outside, patient_preference) → cancelled; then D 15:00Z (same day) → attended |
/// | 21 | Q5   | cardiac           | SMH  | positive                     | yes/no         | accepted | D+2 10:00Z (outside, no_capacity, later) → attended          |
/// | 22 | Q6   | gastrointestinal  | SMH  | positive                     | yes/yes        | accepted | automatic booking ×2: no slot (409)                          |
/// | 23 | Q7   | accident          | SMH  | positive                     | no/yes         | accepted | D 16:00Z (same day) → no outcome yet                         |
/// | 24 | Q8   | fall              | SMH  | positive                     | yes/yes        | accepted | D 17:00Z (same day) → did_not_attend                         |
/// | 25 | Q9   | psychiatric       | SMH  | positive                     | yes/yes        | accepted | D 12:30Z (same day) → did_not_attend; then D 14:00Z (same day) → attended |
///
/// Bookings are made at D 11:00Z; then the clock moves to D 12:45Z for Q9's did-not-attend and
/// rebooking, and finally to D+2 12:00Z, after every slot has started, for the other outcomes.
/// Answers D.
pub async fn pathway_dataset(app: &TestApp) -> NaiveDate {
    let d = next_summer_day();
    set_clock(app, utc(d, 11, 0));
    let smh = Some("SMH");
    let west = Some("WEST");
    let arrival = |i: i64| utc(d, 6, 0) + Duration::minutes(5 * (i - 1));
    let screened = |i: i64| arrival(i) + Duration::minutes(10);
    let p = |i: u32| Patient::nhs(100 + i);

    // R's first attendance, 30 days earlier: no earlier history, so `other` is not indicated.
    let r = p(5);
    let r0 = attend(app, &r, "other", smh, utc(d - days(30), 10, 0)).await;
    assert_eq!(r0["indications"], json!([]), "R0: other, first attendance");

    // 1–4: `other` with no history — not eligible.
    let a1 = attend(app, &p(1), "other", west, arrival(1)).await;
    assert_eq!(a1["indications"], json!([]), "A1 is not eligible");
    let a2 = visit(app, &p(2), "other", smh, arrival(2)).await;
    screen_negative(app, &a2, screened(2)).await;
    let a3 = visit(app, &p(3), "other", smh, arrival(3)).await;
    screen_positive(app, &a3, screened(3), true, true).await;
    decide(app, &a3, "accepted").await;
    let a4 = visit(app, &p(4), "other", None, arrival(4)).await;
    screen_not_done(app, &a4, "refused", screened(4)).await;

    // 5: R again — a derived repeat attender; 6: T, recorded as a repeat attender.
    let r1 = attend(app, &r, "other", smh, arrival(5)).await;
    assert_eq!(
        r1["indications"],
        json!(["repeat_attender"]),
        "R is a derived repeat attender"
    );
    screen_negative(app, &id_of(&r1), screened(5)).await;
    let t6 = attend(app, &p(6), "repeat_attender", smh, arrival(6)).await;
    assert_eq!(t6["indications"], json!(["repeat_attender"]));
    screen_not_done(app, &id_of(&t6), "not_asked", screened(6)).await;

    // 7–11: eligible, not screened, one of each reason; 12: no screening recorded at all.
    for (i, condition, reason) in [
        (7, "fall", "refused"),
        (8, "collapse", "intoxicated"),
        (9, "head_injury", "lacks_capacity"),
        (10, "assault", "too_unwell"),
        (11, "accident", "under_age"),
    ] {
        let id = visit(app, &p(i as u32), condition, smh, arrival(i)).await;
        screen_not_done(app, &id, reason, screened(i)).await;
    }
    visit(app, &p(12), "gastrointestinal", west, arrival(12)).await;

    // 13: refused, then corrected: the current screening is a completed negative.
    let c1 = visit(app, &p(13), "cardiac", smh, arrival(13)).await;
    screen_not_done(app, &c1, "refused", screened(13)).await;
    correct_to_negative(app, &c1, screened(13) + Duration::minutes(5)).await;

    // 14–24: positives.
    let mut positive = std::collections::HashMap::new();
    for (i, condition, advice, leaflet, decision) in [
        (14, "psychiatric", true, true, Some("declined")),
        (15, "fall", true, false, Some("seen_in_department")),
        (16, "unwell", false, false, None),
        (17, "assault", true, true, Some("accepted")),
        (18, "head_injury", true, true, Some("accepted")),
        (19, "collapse", true, true, Some("accepted")),
        (20, "unwell", true, true, Some("accepted")),
        (21, "cardiac", true, false, Some("accepted")),
        (22, "gastrointestinal", true, true, Some("accepted")),
        (23, "accident", false, true, Some("accepted")),
        (24, "fall", true, true, Some("accepted")),
        (25, "psychiatric", true, true, Some("accepted")),
    ] {
        let id = visit(app, &p(i as u32), condition, smh, arrival(i)).await;
        screen_positive(app, &id, screened(i), advice, leaflet).await;
        if let Some(decision) = decision {
            decide(app, &id, decision).await;
        }
        positive.insert(i, id);
    }

    // Automatic bookings before any slot exists: none found (Q6 twice, and the non-eligible A3).
    no_slot_found(app, &positive[&22]).await;
    no_slot_found(app, &positive[&22]).await;
    no_slot_found(app, &a3).await;

    let hw = health_worker(app).await;
    let d1 = d + days(1);
    let d2 = d + days(2);
    let s1 = slot_at(app, &hw, utc(d, 12, 0)).await;
    let s3 = slot_at(app, &hw, utc(d, 13, 0)).await;
    let s4b = slot_at(app, &hw, utc(d, 15, 0)).await;
    let s7 = slot_at(app, &hw, utc(d, 16, 0)).await;
    let s8 = slot_at(app, &hw, utc(d, 17, 0)).await;
    let s2 = slot_at(app, &hw, utc(d1, 6, 0)).await;
    let s4a = slot_at(app, &hw, utc(d2, 9, 0)).await;
    let s5 = slot_at(app, &hw, utc(d2, 10, 0)).await;
    let s9a = slot_at(app, &hw, utc(d, 12, 30)).await;
    let s9b = slot_at(app, &hw, utc(d, 14, 0)).await;

    let b1 = booked(app, &positive[&17], &s1).await;
    assert_eq!(b1["lead_time"], "same_day");
    let b2 = booked(app, &positive[&18], &s2).await;
    assert_eq!(
        (b2["lead_time"].as_str(), b2["within_window"].as_bool()),
        (Some("next_day"), Some(true)),
        "Q2: 07:00 BST the next day, within 24 h: {b2}"
    );
    let b3 = booked(app, &positive[&19], &s3).await;
    let b4a = booked_outside_window(app, &positive[&20], &s4a, "patient_preference").await;
    assert_eq!(b4a["lead_time"], "later");
    let b5 = booked_outside_window(app, &positive[&21], &s5, "no_capacity").await;
    assert_eq!(b5["lead_time"], "later");
    let b7 = booked(app, &positive[&23], &s7).await;
    assert_eq!(b7["within_window"], true);
    let b8 = booked(app, &positive[&24], &s8).await;
    assert_eq!(b8["lead_time"], "same_day");

    cancel(app, &id_of(&b3)).await;
    cancel(app, &id_of(&b4a)).await;
    let b4b = booked(app, &positive[&20], &s4b).await;
    assert_eq!(b4b["lead_time"], "same_day");
    let b9a = booked(app, &positive[&25], &s9a).await;

    // Q9 does not come at 12:30Z and is rebooked for 14:00Z the same day.
    move_clock(app, utc(d, 11, 0), utc(d, 12, 45));
    record_outcome(app, &id_of(&b9a), "did_not_attend").await;
    let b9b = booked(app, &positive[&25], &s9b).await;
    assert_eq!(b9b["lead_time"], "same_day");

    move_clock(app, utc(d, 12, 45), utc(d2, 12, 0));
    record_outcome(app, &id_of(&b1), "attended").await;
    record_outcome(app, &id_of(&b2), "did_not_attend").await;
    record_outcome(app, &id_of(&b4b), "attended").await;
    record_outcome(app, &id_of(&b5), "attended").await;
    record_outcome(app, &id_of(&b8), "did_not_attend").await;
    record_outcome(app, &id_of(&b9b), "attended").await;
    d
}

/// The disclosure dataset (NHS rounding and secondary suppression): twelve patients, every one a
/// fall at site `=cmd` (a site a spreadsheet would read as a formula). Clock at D 11:00Z, D =
/// 15 July next year (BST); arrivals on D from 06:00Z, 5 minutes apart; screened 10 minutes later.
///
/// | #     | screening          | decision | booking (slot start, UTC)                          | outcome  |
/// |-------|--------------------|----------|----------------------------------------------------|----------|
/// | 0–7   | positive (yes/yes) | accepted | D 12:00Z + 30 min × # (13:00–16:30 BST, same day)   | attended |
/// | 8     | positive (yes/yes) | accepted | D+1 05:00Z (06:00 BST next day; screened D 06:50Z)  | attended |
/// | 9     | positive (yes/yes) | declined |                                                    |          |
/// | 10    | negative           |          |                                                    |          |
/// | 11    | refused            |          |                                                    |          |
///
/// The outcomes are recorded with the clock at D+1 12:00Z. Answers D.
pub async fn disclosure_dataset(app: &TestApp) -> NaiveDate {
    let d = next_summer_day();
    set_clock(app, utc(d, 11, 0));
    let site = Some("=cmd");
    let hw = health_worker(app).await;
    let mut bookings = vec![];
    for i in 0..12i64 {
        let arrived = utc(d, 6, 0) + Duration::minutes(5 * i);
        let screened = arrived + Duration::minutes(10);
        let id = visit(app, &Patient::nhs(300 + i as u32), "fall", site, arrived).await;
        match i {
            0..=9 => screen_positive(app, &id, screened, true, true).await,
            10 => screen_negative(app, &id, screened).await,
            _ => screen_not_done(app, &id, "refused", screened).await,
        }
        match i {
            0..=8 => {
                decide(app, &id, "accepted").await;
                let starts = if i < 8 {
                    utc(d, 12, 0) + Duration::minutes(30 * i)
                } else {
                    utc(d + days(1), 5, 0)
                };
                let slot = slot_at(app, &hw, starts).await;
                let b = booked(app, &id, &slot).await;
                let lead = if i < 8 { "same_day" } else { "next_day" };
                assert_eq!(b["lead_time"], lead, "booking {i}: {b}");
                bookings.push(id_of(&b));
            }
            9 => {
                decide(app, &id, "declined").await;
            }
            _ => {}
        }
    }
    move_clock(app, utc(d, 11, 0), utc(d + days(1), 12, 0));
    for b in &bookings {
        record_outcome(app, b, "attended").await;
    }
    d
}

/// The period of the reattendance datasets: from F = the London date 500 days ago, to London
/// tomorrow (exclusive), and B = F at 12:00Z, the base time of the index attendances.
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub b: DateTime<Utc>,
}

pub fn reattendance_period() -> Period {
    let from = (now() - days(500))
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    Period {
        from,
        to: london_today() + days(1),
        b: utc(from, 12, 0),
    }
}

/// The 12-month dataset (test `twelve_month_reattendance_by_cohort`). Times are B + n days
/// (24-hour days, UTC arithmetic) unless said; "now" is the real time (the clock is not moved).
/// Every attendance is unplanned and a fall unless said; site SMH unless said.
///
/// | patient | identifier   | attendances                                                                                   |
/// |---------|--------------|-----------------------------------------------------------------------------------------------|
/// | Pa      | NHS + local  | B+1 positive accepted; B+31; B+366 (= index + exactly 365 days)                               |
/// | Pb      | local only   | B+2 positive seen_in_department; B+12; B+367 + 1 minute (= index + 365 days + 1 minute)      |
/// | Pc      | NHS          | B−20 positive declined (before the period); B+3 positive accepted; B+40 positive declined; B+103 planned; B+253 |
/// | S       | NHS          | B+11 WEST positive accepted; B+30 positive declined; B+200 WEST                               |
/// | Pe      | NHS          | B+4 positive declined; B+24; B+54; B+204; B+368                                               |
/// | Pf      | local only   | B+6 positive declined; B+96 WEST; B+306; B+336 planned                                        |
/// | Pg      | NHS          | B+7 positive declined; B+157; B+257                                                           |
/// | Ph      | NHS          | B+8 positive, no decision; B+11 (unplanned, 3 days later)                                     |
/// | Pi      | NHS          | B+9 negative                                                                                  |
/// | Pj      | NHS          | B+10 `other` (not eligible) positive accepted                                                 |
/// | Pk      | NHS          | now − 30 days positive accepted                                                               |
/// | Pl      | local only   | now − 100 days positive declined                                                              |
/// | Pm      | NHS          | now − 50 days positive, no decision                                                           |
/// | Pn      | NHS          | B+13 `other`, no screening                                                                    |
///
/// Attendances are recorded in arrival order per patient (repeat-attender derivation looks back).
pub async fn twelve_month_dataset(app: &TestApp) -> (Period, Vec<Patient>) {
    let period = reattendance_period();
    let b = period.b;
    let smh = Some("SMH");
    let west = Some("WEST");
    let n = now();
    let minute = Duration::minutes(1);

    let pa = Patient::both(501, "PA-LOCAL-501");
    positive_visit(app, &pa, "fall", smh, b + days(1), Some("accepted")).await;
    visit(app, &pa, "fall", smh, b + days(31)).await;
    visit(app, &pa, "fall", smh, b + days(366)).await;

    let pb = Patient::local("PB-LOCAL-502");
    positive_visit(app, &pb, "fall", smh, b + days(2), Some("seen_in_department")).await;
    visit(app, &pb, "fall", smh, b + days(12)).await;
    visit(app, &pb, "fall", smh, b + days(367) + minute).await;

    let pc = Patient::nhs(503);
    positive_visit(app, &pc, "fall", smh, b - days(20), Some("declined")).await;
    positive_visit(app, &pc, "fall", smh, b + days(3), Some("accepted")).await;
    positive_visit(app, &pc, "fall", smh, b + days(40), Some("declined")).await;
    planned_visit(app, &pc, "fall", smh, b + days(103)).await;
    visit(app, &pc, "fall", smh, b + days(253)).await;

    let s = Patient::nhs(504);
    positive_visit(app, &s, "fall", west, b + days(11), Some("accepted")).await;
    positive_visit(app, &s, "fall", smh, b + days(30), Some("declined")).await;
    visit(app, &s, "fall", west, b + days(200)).await;

    let pe = Patient::nhs(505);
    positive_visit(app, &pe, "fall", smh, b + days(4), Some("declined")).await;
    for offset in [24, 54, 204, 368] {
        visit(app, &pe, "fall", smh, b + days(offset)).await;
    }

    let pf = Patient::local("PF-LOCAL-506");
    positive_visit(app, &pf, "fall", smh, b + days(6), Some("declined")).await;
    visit(app, &pf, "fall", west, b + days(96)).await;
    visit(app, &pf, "fall", smh, b + days(306)).await;
    planned_visit(app, &pf, "fall", smh, b + days(336)).await;

    let pg = Patient::nhs(507);
    positive_visit(app, &pg, "fall", smh, b + days(7), Some("declined")).await;
    visit(app, &pg, "fall", smh, b + days(157)).await;
    visit(app, &pg, "fall", smh, b + days(257)).await;

    let ph = Patient::nhs(508);
    positive_visit(app, &ph, "fall", smh, b + days(8), None).await;
    visit(app, &ph, "fall", smh, b + days(11)).await;

    let pi = Patient::nhs(509);
    let id = visit(app, &pi, "fall", smh, b + days(9)).await;
    screen_negative(app, &id, b + days(9) + Duration::minutes(30)).await;

    let pj = Patient::nhs(510);
    let id = visit(app, &pj, "other", smh, b + days(10)).await;
    screen_positive(app, &id, b + days(10) + Duration::minutes(30), true, true).await;
    decide(app, &id, "accepted").await;

    let pk = Patient::nhs(511);
    positive_visit(app, &pk, "fall", smh, n - days(30), Some("accepted")).await;
    let pl = Patient::local("PL-LOCAL-512");
    positive_visit(app, &pl, "fall", smh, n - days(100), Some("declined")).await;
    let pm = Patient::nhs(513);
    positive_visit(app, &pm, "fall", smh, n - days(50), None).await;

    let pn = Patient::nhs(514);
    visit(app, &pn, "other", smh, b + days(13)).await;

    (period, vec![pa, pb, pc, s, pe, pf, pg, ph, pi, pj, pk, pl, pm, pn])
}

/// The cohort dataset for disclosure control on the 12-month measure: big enough cohorts that
/// rounding, not suppression, applies. Same period as `twelve_month_dataset`; site SMH; falls.
///
/// - accepted A0–A9: positive accepted at B + i hours; A0–A8 return once, unplanned, 5 days
///   later; A9 returns at +30, +60 and +90 days.
/// - declined D0–D7: positive declined at B + 12 h + i hours; D0–D6 return at +20 and +40
///   days; D7 at +20, +40 and +60 days.
pub async fn cohort_dataset(app: &TestApp) -> Period {
    let period = reattendance_period();
    let b = period.b;
    let smh = Some("SMH");
    for i in 0..10u32 {
        let p = Patient::nhs(600 + i);
        let index = b + Duration::hours(i64::from(i));
        positive_visit(app, &p, "fall", smh, index, Some("accepted")).await;
        let returns: &[i64] = if i < 9 { &[5] } else { &[30, 60, 90] };
        for r in returns {
            visit(app, &p, "fall", smh, index + days(*r)).await;
        }
    }
    for i in 0..8u32 {
        let p = Patient::nhs(700 + i);
        let index = b + Duration::hours(12 + i64::from(i));
        positive_visit(app, &p, "fall", smh, index, Some("declined")).await;
        let returns: &[i64] = if i < 7 { &[20, 40] } else { &[20, 40, 60] };
        for r in returns {
            visit(app, &p, "fall", smh, index + days(*r)).await;
        }
    }
    period
}

/// The referral-trend dataset: every row a different patient, a fall at SMH screened positive
/// 30 minutes after arrival, with the decision shown (decided at the service's now).
///
/// | arrival (UTC)        | London                 | financial year | decision                     |
/// |----------------------|------------------------|----------------|------------------------------|
/// | 2021-06-10T10:00Z    |                        | 2021/22        | accepted                     |
/// | 2022-01-15T10:00Z    | GMT                    | 2021/22        | accepted                     |
/// | 2022-11-01T10:00Z    |                        | 2022/23        | declined                     |
/// | 2023-05-01T10:00Z    |                        | 2023/24        | accepted                     |
/// | 2023-08-01T10:00Z    |                        | 2023/24        | seen_in_department           |
/// | 2023-12-01T10:00Z    |                        | 2023/24        | accepted                     |
/// | 2024-03-31T22:30Z    | 23:30 BST 31 March     | 2023/24        | accepted                     |
/// | 2024-03-31T23:30Z    | 00:30 BST 1 April      | 2024/25        | accepted                     |
/// | 2024-05-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2024-06-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2024-07-01T10:00Z    | condition `other`, not eligible | 2024/25 | accepted (not counted)    |
/// | 2024-08-01T10:00Z    |                        | 2024/25        | — (positive, no decision)    |
/// | 2024-09-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2024-11-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2024-12-01T10:00Z    |                        | 2024/25        | seen_in_department           |
/// | 2025-01-10T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2025-02-01T10:00Z    |                        | 2024/25        | accepted                     |
/// | 2025-03-01T10:00Z    |                        | 2024/25        | accepted                     |
///
/// BST 2024 began on Sunday 31 March 2024 at 01:00Z, so 22:30Z and 23:30Z that evening are
/// 23:30 and 00:30 BST.
pub async fn trend_dataset(app: &TestApp) {
    let rows: [(&str, &str, Option<&str>); 18] = [
        ("2021-06-10T10:00:00Z", "fall", Some("accepted")),
        ("2022-01-15T10:00:00Z", "fall", Some("accepted")),
        ("2022-11-01T10:00:00Z", "fall", Some("declined")),
        ("2023-05-01T10:00:00Z", "fall", Some("accepted")),
        ("2023-08-01T10:00:00Z", "fall", Some("seen_in_department")),
        ("2023-12-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-03-31T22:30:00Z", "fall", Some("accepted")),
        ("2024-03-31T23:30:00Z", "fall", Some("accepted")),
        ("2024-05-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-06-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-07-01T10:00:00Z", "other", Some("accepted")),
        ("2024-08-01T10:00:00Z", "fall", None),
        ("2024-09-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-11-01T10:00:00Z", "fall", Some("accepted")),
        ("2024-12-01T10:00:00Z", "fall", Some("seen_in_department")),
        ("2025-01-10T10:00:00Z", "fall", Some("accepted")),
        ("2025-02-01T10:00:00Z", "fall", Some("accepted")),
        ("2025-03-01T10:00:00Z", "fall", Some("accepted")),
    ];
    for (i, (arrived, condition, decision)) in rows.into_iter().enumerate() {
        let p = Patient::nhs(800 + i as u32);
        positive_visit(app, &p, condition, Some("SMH"), t(arrived), decision).await;
    }
}
