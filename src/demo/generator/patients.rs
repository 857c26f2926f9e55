//! Who attends: a population of patients, each with a drinking pattern that drives both how
//! often they attend and how they answer the PAT, and NHS numbers from the test range.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::Generator;
use crate::demo::rng::Rng;
use crate::demo::DemoError;

/// The sites of the demo trust, with the share of patients whose home site each is.
pub(super) const SITES: [(&str, f64); 3] = [("st-marys", 0.45), ("charing-cross", 0.30), ("hammersmith", 0.25)];
use crate::domain::eligibility::PresentingCondition;
use crate::domain::nhs_number::NhsNumber;
use crate::domain::pat::{DrinkingFrequency, Sex};
use crate::domain::patient::patient_key;

/// A patient's drinking, which drives both how often they attend and how they answer the PAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Drinker {
    Abstainer,
    Light,
    Hazardous,
    Harmful,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Habit {
    /// Typical most units in a day.
    pub(super) units: f64,
    pub(super) frequency: DrinkingFrequency,
    pub(super) days_per_week: Option<u8>,
    /// Chance of saying an attendance for an alcohol-associated condition is related.
    pub(super) related: f64,
}

#[derive(Clone, Debug)]
pub(super) struct Patient {
    pub(super) key: String,
    pub(super) nhs_number: Option<NhsNumber>,
    pub(super) local_id: Option<String>,
    pub(super) sex: Sex,
    pub(super) birth: NaiveDate,
    pub(super) dob_known: bool,
    pub(super) home_site: usize,
    pub(super) drinker: Drinker,
    pub(super) habit: Option<Habit>,
    /// Unplanned attendances a year.
    pub(super) rate: f64,
    pub(super) referral_accepted: bool,
    pub(super) history: Vec<DateTime<Utc>>,
    pub(super) last_condition: PresentingCondition,
}

/// Distinct valid NHS numbers from the test range: 999 then six digits, the six a bijection of
/// a counter (multiplier coprime to 10^6, offset from the seed), skipping nine-digit stems whose
/// check digit would be 10 (the check digit is the domain's, [`NhsNumber::from_first_nine`]).
#[derive(Clone, Debug)]
pub(super) struct NhsNumbers {
    next: u64,
    multiplier: u64,
    offset: u64,
}

impl NhsNumbers {
    pub(super) fn new(rng: &mut Rng) -> Self {
        let mut multiplier = rng.below(500_000) * 2 + 1;
        if multiplier % 5 == 0 {
            multiplier += 2;
        }
        NhsNumbers {
            next: 0,
            multiplier,
            offset: rng.below(1_000_000),
        }
    }

    fn next_number(&mut self) -> NhsNumber {
        loop {
            let n = self.next;
            self.next += 1;
            let block = (n / 1_000_000) % 900;
            let six = ((n % 1_000_000) * self.multiplier + self.offset) % 1_000_000;
            let stem = (999 - block) * 1_000_000 + six;
            if let Some(number) = NhsNumber::from_first_nine(&format!("{stem:09}")) {
                return number;
            }
        }
    }
}

impl Generator {
    pub(super) fn new_patient(&mut self) -> Result<Patient, DemoError> {
        self.patients += 1;
        let index = self.patients;
        let rng = &mut self.rng;
        let sex = rng.pick(&[
            (Sex::Male, 0.49),
            (Sex::Female, 0.49),
            (Sex::Other, 0.005),
            (Sex::Unknown, 0.015),
        ]);
        let drinker = if sex == Sex::Male {
            rng.pick(&[
                (Drinker::Abstainer, 0.20),
                (Drinker::Light, 0.62),
                (Drinker::Hazardous, 0.14),
                (Drinker::Harmful, 0.04),
            ])
        } else {
            rng.pick(&[
                (Drinker::Abstainer, 0.28),
                (Drinker::Light, 0.60),
                (Drinker::Hazardous, 0.10),
                (Drinker::Harmful, 0.02),
            ])
        };
        let (lo, hi) = rng.pick(&[
            ((14, 17), 0.04),
            ((18, 29), 0.22),
            ((30, 44), 0.24),
            ((45, 64), 0.26),
            ((65, 95), 0.24),
        ]);
        let age_days = rng.between(lo * 365, hi * 365 + 364);
        let birth = self.now.date_naive() - Duration::days(age_days);
        let has_nhs = rng.chance(0.88);
        let local = !has_nhs || rng.chance(0.6);
        let nhs_number = has_nhs.then(|| self.nhs.next_number());
        let local_id = local.then(|| format!("D{}-{index:07}", self.seed));
        // Never `None`: a patient without an NHS number always has a local number.
        let key = patient_key(nhs_number.as_ref().map(NhsNumber::as_str), local_id.as_deref(), None).ok_or(
            DemoError::Generator("a patient with neither an NHS number nor a local number"),
        )?;
        let rng = &mut self.rng;
        let dob_known = rng.chance(0.97);
        let home_site = rng.pick(&[(0, SITES[0].1), (1, SITES[1].1), (2, SITES[2].1)]);
        let female_scale = if sex == Sex::Male { 1.0 } else { 0.75 };
        let habit = match drinker {
            Drinker::Abstainer => None,
            Drinker::Light => {
                let (frequency, days) = rng.pick(&[
                    ((DrinkingFrequency::LessThanWeekly, None), 0.5),
                    ((DrinkingFrequency::Weekly, Some((1, 3))), 0.45),
                    ((DrinkingFrequency::Daily, None), 0.05),
                ]);
                Some(habit(rng, 2.5 * female_scale, 0.45, frequency, days, 0.02))
            }
            Drinker::Hazardous => {
                let (frequency, days) = rng.pick(&[
                    ((DrinkingFrequency::LessThanWeekly, None), 0.15),
                    ((DrinkingFrequency::Weekly, Some((2, 5))), 0.65),
                    ((DrinkingFrequency::Daily, None), 0.2),
                ]);
                Some(habit(rng, 6.5 * female_scale, 0.35, frequency, days, 0.12))
            }
            Drinker::Harmful => {
                let (frequency, days) = rng.pick(&[
                    ((DrinkingFrequency::Weekly, Some((4, 6))), 0.45),
                    ((DrinkingFrequency::Daily, None), 0.55),
                ]);
                Some(habit(rng, 16.0 * female_scale, 0.45, frequency, days, 0.4))
            }
        };
        // Skewed: most attend rarely, a few often; heavy drinkers more often and more unevenly.
        let (median_rate, spread) = match drinker {
            Drinker::Abstainer | Drinker::Light => (0.1, 0.7),
            Drinker::Hazardous => (0.15, 1.2),
            Drinker::Harmful => (0.25, 1.3),
        };
        let rate = rng.lognormal(median_rate, spread).min(24.0);
        Ok(Patient {
            key,
            nhs_number,
            local_id,
            sex,
            birth,
            dob_known,
            home_site,
            drinker,
            habit,
            rate,
            referral_accepted: false,
            history: Vec::new(),
            last_condition: PresentingCondition::Other,
        })
    }
}

fn habit(
    rng: &mut Rng,
    median_units: f64,
    sigma: f64,
    frequency: DrinkingFrequency,
    days: Option<(i64, i64)>,
    related: f64,
) -> Habit {
    Habit {
        units: rng.lognormal(median_units, sigma).clamp(0.5, 60.0),
        frequency,
        days_per_week: days.map(|(lo, hi)| rng.between(lo, hi) as u8),
        related,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nhs_numbers_are_valid_distinct_and_in_the_test_range() {
        let mut numbers = NhsNumbers::new(&mut Rng::from_seed(3));
        let mut seen = HashSet::new();
        for _ in 0..50_000 {
            let n = numbers.next_number();
            assert_eq!(
                NhsNumber::parse(n.as_str()),
                Ok(n.clone()),
                "{n:?} is not a valid NHS number"
            );
            assert!(n.as_str().starts_with("999"), "{n:?} is outside the test range");
            assert!(seen.insert(n), "duplicate NHS number");
        }
    }
}
