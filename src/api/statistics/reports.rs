//! The reports as published: counts from the database, NHS disclosure control applied when
//! asked (docs/domain.md §8), then rates, means and changes computed from the published numbers.
//!
//! These are the statistics endpoints' response bodies (their OpenAPI schemas) and the mapping
//! from the query rows to them; the rules they apply are in `domain::disclosure`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::disclosure::{protect, rate, Relation};
use crate::store::statistics::{CohortRow, FunnelRow, OutcomeRow, ReferralRow, SevenDayRow};

/// How a report groups the funnel.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    None,
    Month,
    FinancialYear,
    PresentingCondition,
}

/// `none`: exact figures for internal audit. `nhs`: NHS Digital's disclosure control for
/// published figures (counts 1–7 suppressed, others rounded to 5, secondary suppression).
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    None,
    Nhs,
}

/// Applies the disclosure level to one table of counts.
fn publish(values: &[i64], relations: &[Relation], disclosure: Disclosure) -> Vec<Option<i64>> {
    match disclosure {
        Disclosure::None => values.iter().copied().map(Some).collect(),
        Disclosure::Nhs => protect(values, relations),
    }
}

/// Sum of published counts: unknown when any is suppressed.
fn sum(cells: &[Option<i64>]) -> Option<i64> {
    cells.iter().try_fold(0, |total, cell| cell.map(|v| total + v))
}

/// Records `path` as suppressed when `value` is absent although it has a meaning (its inputs
/// were suppressed, not a zero denominator).
fn note(suppressed: &mut Vec<String>, path: &str, value: Option<i64>) {
    if value.is_none() {
        suppressed.push(path.to_owned());
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

// ----- Funnel -----

/// Eligible attendances whose current screening was not completed, by reason; `not_recorded`:
/// no screening record at all.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct NotScreened {
    pub refused: Option<i64>,
    pub intoxicated: Option<i64>,
    pub lacks_capacity: Option<i64>,
    pub too_unwell: Option<i64>,
    pub under_age: Option<i64>,
    pub not_asked: Option<i64>,
    pub not_recorded: Option<i64>,
}

/// Attendances with an indication that are not eligible, by reason.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct NotIndicated {
    /// The patient was younger than `PAT_MIN_AGE` on the day of arrival.
    pub under_age: Option<i64>,
}

/// docs/domain.md §7 funnel counts. Everything after `eligible` counts eligible attendances only;
/// `booked` … `did_not_attend_by_lead_time` count accepted referrals. `null` = suppressed.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct FunnelCounts {
    /// Every ED attendance recorded.
    pub attendances: Option<i64>,
    /// PAT-indicated attendances: the stored indications are not empty and the patient was not
    /// under `PAT_MIN_AGE` on the day of arrival.
    pub eligible: Option<i64>,
    /// Eligible attendances without a date of birth, whose age could not be checked.
    pub age_unknown: Option<i64>,
    pub not_indicated: NotIndicated,
    /// Eligible attendances whose current screening is completed.
    pub screened: Option<i64>,
    pub not_screened: NotScreened,
    /// Completed screenings of attendances that were not eligible (not in `screened`).
    pub screened_outside_indications: Option<i64>,
    pub positive: Option<i64>,
    pub advice_given: Option<i64>,
    pub leaflet_given: Option<i64>,
    /// Positives with a referral decision: accepted + declined + seen_in_department.
    pub offered: Option<i64>,
    pub accepted: Option<i64>,
    pub declined: Option<i64>,
    pub seen_in_department: Option<i64>,
    /// Accepted referrals that have had at least one booking.
    pub booked: Option<i64>,
    /// Accepted referrals whose first booking's slot starts within the booking window.
    pub booked_within_24h: Option<i64>,
    /// Accepted referrals for which an automatic booking found no free slot in the window.
    pub no_slot_in_window: Option<i64>,
    /// Accepted referrals whose latest booking was attended.
    pub attended: Option<i64>,
    /// Accepted referrals whose latest booking was not attended.
    pub did_not_attend: Option<i64>,
    /// Accepted referrals all of whose bookings were cancelled.
    pub cancelled: Option<i64>,
    pub attended_by_lead_time: ByLeadTimeCount,
    pub did_not_attend_by_lead_time: ByLeadTimeCount,
}

// Accepted referrals by the lead time of their latest booking (Europe/London calendar days from
// screening to appointment), as counted and as rates (the doc comments are the API's descriptions).
/// Counts by lead time (`null` = suppressed).
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct ByLeadTimeCount {
    pub same_day: Option<i64>,
    pub next_day: Option<i64>,
    pub later: Option<i64>,
}

/// Rates by lead time (`null` = zero denominator or suppressed input).
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct ByLeadTimeRate {
    pub same_day: Option<f64>,
    pub next_day: Option<f64>,
    pub later: Option<f64>,
}

/// Rates (0–1, four decimals), from the published counts; `null` when the denominator is zero
/// or an input is suppressed.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct FunnelRates {
    /// screened / eligible
    pub screening: Option<f64>,
    /// positive / screened
    pub positive: Option<f64>,
    /// (accepted + seen_in_department) / offered
    pub acceptance: Option<f64>,
    /// attended / (attended + did_not_attend)
    pub ahw_attendance: Option<f64>,
    pub ahw_attendance_by_lead_time: ByLeadTimeRate,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct FunnelGroup {
    /// `all`, a month (`2025-04`), a financial year (`2025/26`) or a presenting condition code.
    pub key: String,
    pub counts: FunnelCounts,
    pub rates: FunnelRates,
    /// Paths of the figures withheld by disclosure control (e.g. `counts.not_screened.refused`).
    pub suppressed: Vec<String>,
}

/// The relations a reader could use to recover a withheld funnel cell (indices into
/// `FunnelRow::values`): each must never hold exactly one suppressed cell.
fn funnel_relations() -> Vec<Relation> {
    vec![
        Relation {
            total: 1,
            parts: (2..=9).collect(),
        },
        Relation {
            total: 14,
            parts: vec![15, 16, 17],
        },
        Relation {
            total: 21,
            parts: vec![24, 25, 26],
        },
        Relation {
            total: 22,
            parts: vec![27, 28, 29],
        },
    ]
}

const FUNNEL_PATHS: [&str; 32] = [
    "counts.attendances",
    "counts.eligible",
    "counts.screened",
    "counts.not_screened.refused",
    "counts.not_screened.intoxicated",
    "counts.not_screened.lacks_capacity",
    "counts.not_screened.too_unwell",
    "counts.not_screened.under_age",
    "counts.not_screened.not_asked",
    "counts.not_screened.not_recorded",
    "counts.screened_outside_indications",
    "counts.positive",
    "counts.advice_given",
    "counts.leaflet_given",
    "counts.offered",
    "counts.accepted",
    "counts.declined",
    "counts.seen_in_department",
    "counts.booked",
    "counts.booked_within_24h",
    "counts.no_slot_in_window",
    "counts.attended",
    "counts.did_not_attend",
    "counts.cancelled",
    "counts.attended_by_lead_time.same_day",
    "counts.attended_by_lead_time.next_day",
    "counts.attended_by_lead_time.later",
    "counts.did_not_attend_by_lead_time.same_day",
    "counts.did_not_attend_by_lead_time.next_day",
    "counts.did_not_attend_by_lead_time.later",
    "counts.not_indicated.under_age",
    "counts.age_unknown",
];

impl FunnelRow {
    /// The counts in the order of `FUNNEL_PATHS`.
    pub fn values(&self) -> [i64; 32] {
        [
            self.attendances,
            self.eligible,
            self.screened,
            self.refused,
            self.intoxicated,
            self.lacks_capacity,
            self.too_unwell,
            self.under_age,
            self.not_asked,
            self.not_recorded,
            self.screened_outside_indications,
            self.positive,
            self.advice_given,
            self.leaflet_given,
            self.offered,
            self.accepted,
            self.declined,
            self.seen_in_department,
            self.booked,
            self.booked_within_24h,
            self.no_slot_in_window,
            self.attended,
            self.did_not_attend,
            self.cancelled,
            self.attended_same_day,
            self.attended_next_day,
            self.attended_later,
            self.did_not_attend_same_day,
            self.did_not_attend_next_day,
            self.did_not_attend_later,
            self.not_indicated_under_age,
            self.age_unknown,
        ]
    }
}

/// Rate with the suppressed path noted when an input was withheld.
fn published_rate(
    suppressed: &mut Vec<String>,
    path: &str,
    numerator: Option<i64>,
    denominator: Option<i64>,
) -> Option<f64> {
    if numerator.is_none() || denominator.is_none() {
        suppressed.push(path.to_owned());
    }
    rate(numerator, denominator)
}

/// One funnel group as published.
pub fn funnel_group(key: String, row: &FunnelRow, disclosure: Disclosure) -> FunnelGroup {
    let c = publish(&row.values(), &funnel_relations(), disclosure);
    let mut suppressed: Vec<String> = Vec::new();
    for (path, cell) in FUNNEL_PATHS.iter().zip(&c) {
        note(&mut suppressed, path, *cell);
    }
    let lead_rate = |suppressed: &mut Vec<String>, lead: &str, attended: Option<i64>, dna: Option<i64>| {
        let path = format!("rates.ahw_attendance_by_lead_time.{lead}");
        published_rate(suppressed, &path, attended, sum(&[attended, dna]))
    };
    let rates = FunnelRates {
        screening: published_rate(&mut suppressed, "rates.screening", c[2], c[1]),
        positive: published_rate(&mut suppressed, "rates.positive", c[11], c[2]),
        acceptance: published_rate(&mut suppressed, "rates.acceptance", sum(&[c[15], c[17]]), c[14]),
        ahw_attendance: published_rate(&mut suppressed, "rates.ahw_attendance", c[21], sum(&[c[21], c[22]])),
        ahw_attendance_by_lead_time: ByLeadTimeRate {
            same_day: lead_rate(&mut suppressed, "same_day", c[24], c[27]),
            next_day: lead_rate(&mut suppressed, "next_day", c[25], c[28]),
            later: lead_rate(&mut suppressed, "later", c[26], c[29]),
        },
    };
    FunnelGroup {
        key,
        counts: FunnelCounts {
            attendances: c[0],
            eligible: c[1],
            age_unknown: c[31],
            not_indicated: NotIndicated { under_age: c[30] },
            screened: c[2],
            not_screened: NotScreened {
                refused: c[3],
                intoxicated: c[4],
                lacks_capacity: c[5],
                too_unwell: c[6],
                under_age: c[7],
                not_asked: c[8],
                not_recorded: c[9],
            },
            screened_outside_indications: c[10],
            positive: c[11],
            advice_given: c[12],
            leaflet_given: c[13],
            offered: c[14],
            accepted: c[15],
            declined: c[16],
            seen_in_department: c[17],
            booked: c[18],
            booked_within_24h: c[19],
            no_slot_in_window: c[20],
            attended: c[21],
            did_not_attend: c[22],
            cancelled: c[23],
            attended_by_lead_time: ByLeadTimeCount {
                same_day: c[24],
                next_day: c[25],
                later: c[26],
            },
            did_not_attend_by_lead_time: ByLeadTimeCount {
                same_day: c[27],
                next_day: c[28],
                later: c[29],
            },
        },
        rates,
        suppressed,
    }
}

// ----- Referral trend -----

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct ReferralYear {
    /// `2024/25`
    pub financial_year: String,
    /// First day counted (Europe/London date).
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Day after the last day counted.
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The year is cut short by `from`/`to`, or has not ended yet.
    pub partial: bool,
    /// Referrals accepted for an AHW appointment (the funnel's `accepted` for the same year).
    pub accepted: Option<i64>,
    /// Brief intervention given at once by an AHW in the department (not in `accepted`).
    pub seen_in_department: Option<i64>,
    /// `accepted` minus the year before's (`null` for the first year or when either is withheld).
    pub change: Option<i64>,
    /// `change` as a percentage of the year before's, one decimal (`null` when that was 0).
    pub change_percent: Option<f64>,
    /// Paths of the withheld figures of this year.
    pub suppressed: Vec<String>,
}

/// One year as counted, before disclosure control: a year of the referral trend
/// (`ReferralRow`) or of the outcomes (`OutcomeRow`).
pub struct YearCount<R> {
    pub financial_year: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub partial: bool,
    pub counts: R,
}

/// The referral trend as published: one table (every year's counts), changes from the
/// published numbers.
pub fn referral_years(years: &[YearCount<ReferralRow>], disclosure: Disclosure) -> Vec<ReferralYear> {
    let values: Vec<i64> = years
        .iter()
        .flat_map(|y| [y.counts.accepted, y.counts.seen_in_department])
        .collect();
    let published = publish(&values, &[], disclosure);
    let mut previous: Option<Option<i64>> = None;
    let mut out = Vec::with_capacity(years.len());
    for (i, year) in years.iter().enumerate() {
        let accepted = published.get(2 * i).copied().flatten();
        let seen = published.get(2 * i + 1).copied().flatten();
        let mut suppressed = Vec::new();
        note(&mut suppressed, "accepted", accepted);
        note(&mut suppressed, "seen_in_department", seen);
        let (change, change_percent) = match previous {
            None => (None, None),
            Some(before) => {
                let change = accepted.zip(before).map(|(now, before)| now - before);
                if change.is_none() {
                    suppressed.push("change".to_owned());
                    suppressed.push("change_percent".to_owned());
                }
                let percent = change
                    .zip(before)
                    .filter(|(_, before)| *before != 0)
                    .map(|(change, before)| (1000.0 * change as f64 / before as f64).round() / 10.0);
                (change, percent)
            }
        };
        previous = Some(accepted);
        out.push(ReferralYear {
            financial_year: year.financial_year.clone(),
            from: year.from,
            to: year.to,
            partial: year.partial,
            accepted,
            seen_in_department: seen,
            change,
            change_percent,
            suppressed,
        });
    }
    out
}

// ----- Reattendance -----

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct Cohort {
    /// Index patients in the cohort whose 365-day window has ended.
    pub patients: Option<i64>,
    /// Their attendances in the 365 days after the index attendance.
    pub reattendances: Option<i64>,
    /// reattendances / patients, four decimals.
    pub mean: Option<f64>,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct TwelveMonth {
    /// What this figure is, in words.
    pub measure: String,
    /// Referral accepted, including seen in the department.
    pub accepted: Cohort,
    /// Referral declined.
    pub declined: Cohort,
    /// mean(declined) − mean(accepted).
    pub difference: Option<f64>,
    /// 2 × difference: "for every two patients referred, one fewer reattendance" (Crawford 2004).
    pub avoided_per_two_accepted: Option<f64>,
    /// Index patients with a decision whose 365-day window has not ended yet (left out above).
    pub follow_up_incomplete: Option<i64>,
    /// Index patients with a complete window but no referral decision (in neither cohort).
    pub no_decision: Option<i64>,
    /// That the comparison is observational.
    pub note: String,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct SevenDay {
    /// What this figure is, in words.
    pub measure: String,
    pub window_days: u32,
    /// Attendances arriving in the period.
    pub attendances: Option<i64>,
    /// Of those, the ones followed by an unplanned attendance of the same patient within 7 days.
    pub reattended_within_7_days: Option<i64>,
    /// reattended_within_7_days / attendances, four decimals (good practice: under 0.05).
    pub rate: Option<f64>,
}

/// What the reattendance report publishes, built from the query rows.
pub fn reattendance(
    cohorts: &[CohortRow],
    seven: &SevenDayRow,
    disclosure: Disclosure,
) -> (TwelveMonth, SevenDay, Vec<String>) {
    let total = |cohort: &str, complete: bool, field: fn(&CohortRow) -> i64| -> i64 {
        cohorts
            .iter()
            .filter(|r| r.cohort == cohort && (r.complete == 1) == complete)
            .map(field)
            .sum()
    };
    let incomplete = total("accepted", false, |r| r.patients) + total("declined", false, |r| r.patients);
    let values = [
        total("accepted", true, |r| r.patients),
        total("accepted", true, |r| r.reattendances),
        total("declined", true, |r| r.patients),
        total("declined", true, |r| r.reattendances),
        incomplete,
        total("none", true, |r| r.patients),
        seven.attendances,
        seven.reattended,
    ];
    let paths = [
        "twelve_month.accepted.patients",
        "twelve_month.accepted.reattendances",
        "twelve_month.declined.patients",
        "twelve_month.declined.reattendances",
        "twelve_month.follow_up_incomplete",
        "twelve_month.no_decision",
        "seven_day.attendances",
        "seven_day.reattended_within_7_days",
    ];
    let p = publish(&values, &[], disclosure);
    let mut suppressed = Vec::new();
    for (path, cell) in paths.iter().zip(&p) {
        note(&mut suppressed, path, *cell);
    }
    let mut mean = |path: &str, reattendances: Option<i64>, patients: Option<i64>| -> Option<f64> {
        match (reattendances, patients) {
            (Some(r), Some(n)) if n > 0 => Some(r as f64 / n as f64),
            (Some(_), Some(_)) => None,
            _ => {
                suppressed.push(path.to_owned());
                None
            }
        }
    };
    let accepted_mean = mean("twelve_month.accepted.mean", p[1], p[0]);
    let declined_mean = mean("twelve_month.declined.mean", p[3], p[2]);
    let difference = accepted_mean.zip(declined_mean).map(|(a, d)| d - a);
    if difference.is_none() && (p[0].is_none() || p[1].is_none() || p[2].is_none() || p[3].is_none()) {
        suppressed.push("twelve_month.difference".to_owned());
        suppressed.push("twelve_month.avoided_per_two_accepted".to_owned());
    }
    let seven_rate = published_rate(&mut suppressed, "seven_day.rate", p[7], p[6]);
    let twelve = TwelveMonth {
        measure: "12-month reattendance (the PAT literature's outcome): for each patient's first positive PAT \
                  attendance in the period (the index), the patient's ED attendances at any site in the 365 days \
                  after it, by the referral decision recorded at the index attendance"
            .into(),
        accepted: Cohort {
            patients: p[0],
            reattendances: p[1],
            mean: accepted_mean.map(round4),
        },
        declined: Cohort {
            patients: p[2],
            reattendances: p[3],
            mean: declined_mean.map(round4),
        },
        difference: difference.map(round4),
        avoided_per_two_accepted: difference.map(|d| round4(2.0 * d)),
        follow_up_incomplete: p[4],
        no_decision: p[5],
        note: "Observational comparison, not a trial: patients chose whether to accept the referral, so the \
               cohorts may differ in other ways. Crawford 2004 (a randomised trial) found 1.2 vs 1.7 mean ED \
               attendances over 12 months."
            .into(),
    };
    let seven_day = SevenDay {
        measure: "7-day unplanned reattendance (NHS A&E quality indicator): share of attendances in the period \
                  followed by another unplanned attendance of the same patient, at any site, within 7 days"
            .into(),
        window_days: crate::store::statistics::SEVEN_DAYS,
        attendances: p[6],
        reattended_within_7_days: p[7],
        rate: seven_rate,
    };
    (twelve, seven_day, suppressed)
}

// ----- Outcomes -----

/// The follow-ups at 6 or at 12 months of a year's AHW contacts.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct FollowUpOutcome {
    /// Contacts whose follow-up falls due on or before `as_of` (contact date + the months).
    pub due: Option<i64>,
    /// Of those, the ones whose follow-up is recorded.
    pub made: Option<i64>,
    /// Of those, the ones whose units a week at the contact are recorded too: the pairs the
    /// means are over.
    pub paired: Option<i64>,
    /// Mean units a week at the AHW contact, over the pairs (one decimal; `null` without pairs,
    /// or withheld with a suppressed `paired`).
    pub mean_units_per_week_at_contact: Option<f64>,
    /// Mean units a week at the follow-up, over the same pairs (one decimal).
    pub mean_units_per_week_at_follow_up: Option<f64>,
    /// The published follow-up mean minus the published contact mean (one decimal).
    pub change: Option<f64>,
}

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct OutcomeYear {
    /// The NHS financial year of the AHW contacts: `2024/25`.
    pub financial_year: String,
    /// First day counted (Europe/London date).
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Day after the last day counted.
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The year is cut short by `from`/`to`, or has not ended yet.
    pub partial: bool,
    /// Patients seen by an AHW in the year: `attended_appointment` + `seen_in_department`.
    pub ahw_contacts: Option<i64>,
    /// Accepted referrals whose appointment was attended (the first attended one).
    pub attended_appointment: Option<i64>,
    /// Seen by an AHW in the department at once.
    pub seen_in_department: Option<i64>,
    /// Contacts at which the brief intervention was delivered (attended appointments and seen in
    /// the department).
    pub brief_interventions_delivered: Option<i64>,
    pub six_months: FollowUpOutcome,
    pub twelve_months: FollowUpOutcome,
    /// Paths of the withheld figures of this year.
    pub suppressed: Vec<String>,
}

/// The relation a reader could use to recover a withheld cell of a year's outcomes (indices into
/// the year's published counts): contacts = attended appointments + seen in the department.
fn outcome_relations() -> Vec<Relation> {
    vec![Relation {
        total: 0,
        parts: vec![1, 2],
    }]
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// One follow-up's figures as published: counts `[due, made, paired]` already protected, the
/// means withheld (and listed) when `paired` is, `null` when there is no pair.
fn follow_up_outcome(
    suppressed: &mut Vec<String>,
    prefix: &str,
    counts: &[Option<i64>],
    means: (Option<f64>, Option<f64>),
) -> FollowUpOutcome {
    let (due, made, paired) = (counts[0], counts[1], counts[2]);
    for (name, cell) in [("due", due), ("made", made), ("paired", paired)] {
        note(suppressed, &format!("{prefix}.{name}"), cell);
    }
    let (at_contact, at_follow_up) = match paired {
        Some(_) => (means.0.map(round1), means.1.map(round1)),
        None => {
            for name in [
                "mean_units_per_week_at_contact",
                "mean_units_per_week_at_follow_up",
                "change",
            ] {
                suppressed.push(format!("{prefix}.{name}"));
            }
            (None, None)
        }
    };
    FollowUpOutcome {
        due,
        made,
        paired,
        mean_units_per_week_at_contact: at_contact,
        mean_units_per_week_at_follow_up: at_follow_up,
        change: at_contact.zip(at_follow_up).map(|(c, f)| round1(f - c)),
    }
}

/// The outcomes per financial year as published: each year's counts one table (contacts =
/// attended + seen in the department), the means over the pairs rounded to one decimal and
/// withheld with their pair count.
pub fn outcome_years(years: &[YearCount<OutcomeRow>], disclosure: Disclosure) -> Vec<OutcomeYear> {
    years
        .iter()
        .map(|year| {
            let r = &year.counts;
            let values = [
                r.contacts,
                r.attended_appointment,
                r.seen_in_department,
                r.brief_interventions_delivered,
                r.due_6,
                r.made_6,
                r.paired_6,
                r.due_12,
                r.made_12,
                r.paired_12,
            ];
            let c = publish(&values, &outcome_relations(), disclosure);
            let mut suppressed = Vec::new();
            for (path, cell) in [
                "ahw_contacts",
                "attended_appointment",
                "seen_in_department",
                "brief_interventions_delivered",
            ]
            .iter()
            .zip(&c)
            {
                note(&mut suppressed, path, *cell);
            }
            let six_months = follow_up_outcome(
                &mut suppressed,
                "six_months",
                &c[4..7],
                (r.at_contact_6, r.at_follow_up_6),
            );
            let twelve_months = follow_up_outcome(
                &mut suppressed,
                "twelve_months",
                &c[7..10],
                (r.at_contact_12, r.at_follow_up_12),
            );
            OutcomeYear {
                financial_year: year.financial_year.clone(),
                from: year.from,
                to: year.to,
                partial: year.partial,
                ahw_contacts: c[0],
                attended_appointment: c[1],
                seen_in_department: c[2],
                brief_interventions_delivered: c[3],
                six_months,
                twelve_months,
                suppressed,
            }
        })
        .collect()
}
