//! The generator: patients one at a time, with everything that follows from their attendances.
//! Pure and deterministic: the seed and the instant the data ends at fix every row.
//!
//! - [`patients`]: who attends (sex, age, drinking, identifiers, attendance rate);
//! - [`arrivals`]: when (hour of day, day of week, month);
//! - [`attendances`]: the attendance rows and their indications;
//! - [`screenings`]: the PAT screening and its answers;
//! - [`pathway`]: referral decisions, bookings and their outcomes, follow-ups;
//! - [`rota`]: the AHW team, their opening hours and slots.

mod arrivals;
mod attendances;
mod pathway;
mod patients;
mod rota;
mod screenings;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Months, SubsecRound, Utc};
use uuid::Uuid;

use self::arrivals::{mean, HOURS, HOURS_DRINKING, MONTHS, SECONDS_PER_YEAR, WEEKDAYS, WEEKDAYS_DRINKING};
use self::pathway::ACCEPTED_RATE_FACTOR;
use self::patients::{Drinker, NhsNumbers};
use super::rng::Rng;
use super::rows::Batch;
use super::{DemoConfig, DemoError, PathwayRules};

/// Generates patients one at a time, with everything that follows from their attendances.
pub(super) struct Generator {
    pub(super) rng: Rng,
    seed: u64,
    rules: PathwayRules,
    pub(super) start: DateTime<Utc>,
    pub(super) now: DateTime<Utc>,
    nhs: NhsNumbers,
    pub(super) attendances: u64,
    /// People simulated, and those of them who attended in the period.
    patients: u64,
    pub(super) attending_patients: u64,
    /// AHWs per team: sized so each has a few appointments a day.
    team: u64,
    /// Bookings already on each 30-minute grid time.
    grid: HashMap<i64, u64>,
    /// (team year, member) → health worker id.
    workers: HashMap<(i64, u64), Uuid>,
    mean_general: f64,
    mean_drinking: f64,
}

/// Expected bookings per attendance, to size the AHW team.
const BOOKINGS_PER_ATTENDANCE: f64 = 0.04;

impl Generator {
    pub(super) fn new(config: &DemoConfig, rules: PathwayRules, now: DateTime<Utc>) -> Generator {
        let now = now.trunc_subsecs(0);
        let start = now
            .checked_sub_months(Months::new(12 * config.years))
            .unwrap_or(now - Duration::days(365 * i64::from(config.years)));
        let mut rng = Rng::from_seed(config.seed);
        let nhs = NhsNumbers::new(&mut rng);
        let per_day = config.attendances as f64 * BOOKINGS_PER_ATTENDANCE / (365.25 * f64::from(config.years));
        Generator {
            rng,
            seed: config.seed,
            rules,
            start,
            now,
            nhs,
            attendances: 0,
            patients: 0,
            attending_patients: 0,
            team: ((per_day / 5.0).ceil() as u64).clamp(3, 200),
            grid: HashMap::new(),
            workers: HashMap::new(),
            mean_general: mean(&HOURS) * mean(&WEEKDAYS) * mean(&MONTHS),
            mean_drinking: mean(&HOURS_DRINKING) * mean(&WEEKDAYS_DRINKING) * mean(&MONTHS),
        }
    }

    fn secs(&mut self, lo: i64, hi: i64) -> Duration {
        Duration::seconds(self.rng.between(lo, hi))
    }

    /// One patient's attendances in time order (at most `limit`), with their screenings,
    /// referrals, bookings and follow-ups. Returns how many attendances were added.
    pub(super) fn patient(&mut self, limit: u64, out: &mut Batch) -> Result<u64, DemoError> {
        let mut p = self.new_patient()?;
        // Living in the catchment for a while: arrivals only then, and only inside the period.
        let span = (self.now - self.start).num_seconds() as f64;
        let entered = self.start - Duration::days(5 * 365)
            + Duration::seconds((self.rng.unit() * (span + 5.0 * SECONDS_PER_YEAR)) as i64);
        let left = entered + Duration::seconds(self.rng.exponential(6.0 * SECONDS_PER_YEAR) as i64);
        let from = entered.max(self.start);
        let end = left.min(self.now);
        if from >= end {
            return Ok(0);
        }
        // Returns already arranged: (time, planned).
        let mut pending: Vec<(DateTime<Utc>, bool)> = Vec::new();
        let mut added = 0;
        let mut next = self.next_arrival(&p, from, end);
        while added < limit {
            let earliest_pending = pending
                .iter()
                .enumerate()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(i, e)| (i, *e));
            let (at, planned, from_pending) = match (next, earliest_pending) {
                (Some(t), Some((i, (u, planned)))) if u < t => (u, planned, Some(i)),
                (Some(t), _) => (t, false, None),
                (None, Some((i, (u, planned)))) => (u, planned, Some(i)),
                (None, None) => break,
            };
            if at > end {
                break;
            }
            if let Some(i) = from_pending {
                pending.swap_remove(i);
            }
            self.attendance(&mut p, at, planned, out);
            added += 1;
            if !planned {
                // A planned review (fracture clinic, wound check) and an unplanned return
                // within the week: the 7-day indicator's numerator (docs/domain.md §7).
                if self.rng.chance(0.055) {
                    if let Some(review) = self.planned_review(at) {
                        pending.push((review, true));
                    }
                }
                let bounce = if p.drinker == Drinker::Harmful { 0.08 } else { 0.045 };
                let bounce = if p.referral_accepted {
                    bounce * ACCEPTED_RATE_FACTOR
                } else {
                    bounce
                };
                if self.rng.chance(bounce) {
                    let back = at + self.secs(6 * 3600, 7 * 86_400);
                    pending.push((back, false));
                }
            }
            // Arrivals are memoryless: restart from now with the (possibly lowered) rate.
            next = self.next_arrival(&p, at, end);
        }
        if added > 0 {
            self.attending_patients += 1;
        }
        Ok(added)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(super) mod test_support {
    use chrono::{DateTime, TimeZone, Utc};

    use super::Generator;
    use crate::demo::rows::Batch;
    use crate::demo::{DemoConfig, PathwayRules};

    pub(in crate::demo) fn fixed_now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 14, 30, 0).single().unwrap()
    }

    /// Everything a seed generates for `n` attendances, kept in memory.
    pub(in crate::demo) fn generate(seed: u64, n: u64, years: u32) -> (Batch, Generator) {
        let config = DemoConfig::new(n, years, seed).unwrap();
        let mut generator = Generator::new(&config, PathwayRules::default(), fixed_now());
        let mut batch = Batch::default();
        while generator.attendances < n {
            generator.patient(n - generator.attendances, &mut batch).unwrap();
        }
        (batch, generator)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::test_support::generate;
    use super::*;
    use crate::demo::rows::{AttendanceRow, ReferralRow, SlotRow};
    use crate::domain::eligibility::{self, PresentingCondition};
    use crate::domain::pat::{self, Answers, PatRule, Sex};
    use crate::domain::scheduling::LeadTime;
    use chrono::Datelike;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
        let (a, _) = generate(11, 3000, 3);
        let (b, _) = generate(11, 3000, 3);
        let (c, _) = generate(12, 3000, 3);
        assert_eq!(a, b);
        assert_ne!(a.attendances, c.attendances);
        assert_eq!(a.attendances.len(), 3000);
    }

    /// 12-month reattendance (docs/domain.md §7): index = each patient's first positive attendance
    /// with a referral decision; patients whose 365 days have not ended are left out. Accepting
    /// lowers the patient's later rate, so the accepted cohort reattends less (Crawford 2004).
    /// 100k attendances: the cohorts of 20k are too small for a heavy-tailed rate.
    #[test]
    fn accepting_a_referral_lowers_twelve_month_reattendance() {
        let (batch, generator) = generate(2026, 100_000, 5);
        let decisions: HashMap<Uuid, &str> = batch.referrals.iter().map(|r| (r.attendance_id, r.decision)).collect();
        let mut by_patient: HashMap<&str, Vec<&AttendanceRow>> = HashMap::new();
        for a in &batch.attendances {
            by_patient.entry(&a.patient_key).or_default().push(a);
        }
        // (patients, reattendances) for accepted (with seen in department) and declined.
        let mut cohorts: HashMap<bool, (u32, u32)> = HashMap::new();
        for visits in by_patient.values_mut() {
            visits.sort_by_key(|a| a.arrived_at);
            let Some(index) = visits.iter().find(|a| decisions.contains_key(&a.id)) else {
                continue;
            };
            let window_end = index.arrived_at + Duration::days(365);
            if window_end > generator.now {
                continue;
            }
            let later = visits
                .iter()
                .filter(|a| a.arrived_at > index.arrived_at && a.arrived_at <= window_end)
                .count();
            let entry = cohorts.entry(decisions[&index.id] != "declined").or_default();
            entry.0 += 1;
            entry.1 += later as u32;
        }
        let mean = |(n, r): (u32, u32)| f64::from(r) / f64::from(n);
        let (accepted, declined) = (mean(cohorts[&true]), mean(cohorts[&false]));
        println!(
            "12-month reattendance: accepted {accepted:.2} ({:?}), declined {declined:.2} ({:?})",
            cohorts[&true], cohorts[&false]
        );
        assert!(accepted < declined, "accepted {accepted} vs declined {declined}");
    }

    /// Proportions on 20k attendances, the way docs/domain.md §7 counts them.
    #[test]
    fn twenty_thousand_attendances_look_like_an_ed() {
        let mut failures: Vec<String> = Vec::new();
        macro_rules! check {
            ($cond:expr, $($msg:tt)+) => {
                let holds: bool = $cond;
                if !holds {
                    failures.push(format!($($msg)+));
                }
            };
            ($cond:expr) => {
                let holds: bool = $cond;
                if !holds {
                    failures.push(stringify!($cond).to_owned());
                }
            };
        }
        let (batch, generator) = generate(2026, 20_000, 5);
        let now = generator.now;
        let start = generator.start;
        let att: HashMap<Uuid, &AttendanceRow> = batch.attendances.iter().map(|a| (a.id, a)).collect();
        assert_eq!(att.len(), 20_000);

        // Times: inside the period, never in the future.
        for a in &batch.attendances {
            check!(a.arrived_at >= start && a.arrived_at <= now);
            check!(a.created_at >= a.arrived_at && a.created_at <= now);
            check!(
                a.patient_key == format!("nhs:{}", a.nhs_number.clone().unwrap_or_default())
                    || (a.nhs_number.is_none() && a.patient_key == format!("local:{}", a.local_id.clone().unwrap()))
            );
            // Indicated: some indication, and not known to be under 16 on the day (London).
            let under_16 = a.date_of_birth.is_some_and(|born| {
                let day = crate::domain::calendar::london_date(a.arrived_at);
                // 29 February: the birthday is 1 March in a year without one.
                let sixteenth = born
                    .with_year(born.year() + 16)
                    .unwrap_or_else(|| chrono::NaiveDate::from_ymd_opt(born.year() + 16, 3, 1).unwrap());
                day < sixteenth
            });
            assert_eq!(a.pat_indicated, !a.indications.is_empty() && !under_16);
        }
        let children = batch
            .attendances
            .iter()
            .filter(|a| !a.indications.is_empty() && !a.pat_indicated)
            .count();
        check!(children > 0, "some children attend with an indication");
        let with_nhs = batch.attendances.iter().filter(|a| a.nhs_number.is_some()).count() as f64 / 20_000.0;
        check!((0.8..0.95).contains(&with_nhs), "NHS number share {with_nhs}");
        let other = batch
            .attendances
            .iter()
            .filter(|a| a.presenting_condition == "other")
            .count() as f64
            / 20_000.0;
        check!((0.4..0.6).contains(&other), "other share {other}");
        let planned = batch.attendances.iter().filter(|a| a.category == "planned").count() as f64 / 20_000.0;
        check!((0.03..0.08).contains(&planned), "planned share {planned}");

        // Indications recomputed from each patient's history, as the service derives them.
        let mut by_patient: HashMap<&str, Vec<&AttendanceRow>> = HashMap::new();
        for a in &batch.attendances {
            by_patient.entry(&a.patient_key).or_default().push(a);
        }
        let once = by_patient.values().filter(|v| v.len() == 1).count() as f64 / by_patient.len() as f64;
        check!(once > 0.5, "most patients attend once ({once})");
        for visits in by_patient.values_mut() {
            visits.sort_by_key(|a| a.arrived_at);
            for (i, a) in visits.iter().enumerate() {
                let since = a.arrived_at - Duration::days(365);
                let prior = visits[..i]
                    .iter()
                    .filter(|b| b.arrived_at >= since && b.arrived_at < a.arrived_at)
                    .count();
                let condition = PresentingCondition::from_code(a.presenting_condition).unwrap();
                let expected = eligibility::indications(condition, prior as u32, 1)
                    .iter()
                    .map(|c| c.code())
                    .collect::<Vec<_>>()
                    .join(",");
                assert_eq!(a.indications, expected);
            }
        }

        // Screenings: stored result, units and alerts are what the rule gives.
        let mut completed = 0;
        let mut positive = 0;
        let mut eligible_with_row = 0;
        for s in &batch.screenings {
            let a = att[&s.attendance_id];
            check!(s.screened_at >= a.arrived_at && s.screened_at <= now);
            if a.pat_indicated {
                eligible_with_row += 1;
            }
            if s.status == "completed" {
                let answers: Answers = serde_json::from_str(s.answers.as_deref().unwrap()).unwrap();
                let score = pat::score(PatRule::Pat2009, Sex::from_code(a.sex).unwrap(), &answers).unwrap();
                assert_eq!(s.result, Some(score.result.code()));
                assert_eq!(s.units, score.units);
                assert_eq!(
                    s.alerts,
                    score.alerts.iter().map(|x| x.code()).collect::<Vec<_>>().join(",")
                );
                if a.pat_indicated {
                    completed += 1;
                    if s.result == Some("positive") {
                        positive += 1;
                    }
                }
            } else {
                check!(s.result.is_none() && s.answers.is_none());
            }
        }
        let eligible = batch.attendances.iter().filter(|a| a.pat_indicated).count();
        let repeat = batch
            .attendances
            .iter()
            .filter(|a| a.indications.contains("repeat_attender"))
            .count();
        println!(
            "eligible share {:.3}, repeat attender share {:.3}",
            eligible as f64 / 20_000.0,
            repeat as f64 / 20_000.0
        );
        let screening_rate = completed as f64 / eligible as f64;
        check!((0.65..0.8).contains(&screening_rate), "screening rate {screening_rate}");
        check!(
            eligible_with_row < eligible,
            "some eligible attendances have no screening row"
        );
        let positive_rate = positive as f64 / completed as f64;
        check!(
            (0.18..0.26).contains(&positive_rate),
            "positive share of completed {positive_rate}"
        );

        // Referrals: about two thirds accept.
        let decisions: HashMap<Uuid, &ReferralRow> = batch.referrals.iter().map(|r| (r.attendance_id, r)).collect();
        let offered = batch.referrals.len() as f64;
        let accepted = batch.referrals.iter().filter(|r| r.decision == "accepted").count() as f64;
        let seen = batch
            .referrals
            .iter()
            .filter(|r| r.decision == "seen_in_department")
            .count() as f64;
        check!(
            (0.6..0.72).contains(&(accepted / offered)),
            "accepted {}",
            accepted / offered
        );
        check!((0.6..0.75).contains(&((accepted + seen) / offered)), "acceptance rate");

        // Bookings: only for accepted referrals, after the screening, mostly within 24 h.
        let screened_at: HashMap<Uuid, DateTime<Utc>> = batch
            .screenings
            .iter()
            .map(|s| (s.attendance_id, s.screened_at))
            .collect();
        let slots: HashMap<Uuid, &SlotRow> = batch.slots.iter().map(|s| (s.id, s)).collect();
        assert_eq!(slots.len(), batch.bookings.len(), "a slot per booking");
        let mut within = 0;
        let mut outcomes: HashMap<&str, (u32, u32)> = HashMap::new();
        for b in &batch.bookings {
            assert_eq!(decisions[&b.attendance_id].decision, "accepted");
            let slot = slots[&b.slot_id];
            let screened = screened_at[&b.attendance_id];
            check!(slot.starts_at > screened && slot.starts_at > b.booked_at);
            assert_eq!(b.lead_time, LeadTime::between(screened, slot.starts_at).code());
            assert_eq!(b.within_window, slot.starts_at <= screened + Duration::hours(24));
            assert_eq!(b.within_window, b.outside_window_reason.is_none());
            check!(b.booked_at <= now && b.outcome_at.is_none_or(|t| t <= now));
            if b.status == "booked" {
                check!(b.outcome_at.is_none());
            }
            if b.within_window {
                within += 1;
            }
            let entry = outcomes.entry(b.lead_time).or_default();
            match b.status {
                "attended" => entry.0 += 1,
                "did_not_attend" => entry.1 += 1,
                _ => {}
            }
        }
        check!(
            within as f64 / batch.bookings.len() as f64 > 0.8,
            "mostly within the window"
        );
        let rate = |(a, d): (u32, u32)| f64::from(a) / f64::from(a + d);
        let all = outcomes.values().fold((0, 0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
        let attendance = rate(all);
        check!((0.29..0.5).contains(&attendance), "AHW attendance {attendance}");
        let same_day = rate(outcomes["same_day"]);
        let later = rate((
            outcomes["next_day"].0 + outcomes["later"].0,
            outcomes["next_day"].1 + outcomes["later"].1,
        ));
        check!(same_day > 2.0 * later, "same day {same_day} vs later {later}");
        let cancelled = batch.bookings.iter().filter(|b| b.status == "cancelled").count() as f64;
        check!(cancelled / (batch.bookings.len() as f64) < 0.1);

        // A health worker never has two slots at once.
        let mut taken = HashSet::new();
        for s in &batch.slots {
            check!(taken.insert((s.health_worker_id, s.starts_at)), "overlapping slots");
            assert_eq!(s.ends_at - s.starts_at, Duration::minutes(30));
            assert_eq!(s.starts_at.timestamp() % 1800, 0);
        }
        let workers: HashSet<Uuid> = batch.health_workers.iter().map(|w| w.id).collect();
        check!(batch.slots.iter().all(|s| workers.contains(&s.health_worker_id)));
        check!(!batch.attempts.is_empty() && !batch.follow_ups.is_empty());

        // 7-day unplanned reattendance: a plausible ED figure.
        let mut followed = 0;
        for visits in by_patient.values() {
            for (i, a) in visits.iter().enumerate() {
                if visits[i + 1..].iter().any(|b| {
                    b.category == "unplanned"
                        && b.arrived_at > a.arrived_at
                        && b.arrived_at <= a.arrived_at + Duration::days(7)
                }) {
                    followed += 1;
                }
            }
        }
        let seven_day = followed as f64 / 20_000.0;
        check!((0.02..0.12).contains(&seven_day), "7-day reattendance {seven_day}");
        println!(
            "eligible {eligible}, screening {screening_rate:.3}, positive {positive_rate:.3}, accepted {:.3}, \
             AHW attendance {attendance:.3} (same day {same_day:.3}, later {later:.3}), 7-day {seven_day:.3}, patients {}, once {once:.2}",
            accepted / offered,
            by_patient.len()
        );
        assert!(failures.is_empty(), "{failures:#?}");
    }
}
