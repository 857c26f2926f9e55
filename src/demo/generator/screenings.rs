//! The PAT screening of an attendance: whether and when it is done, and the answers, scored by
//! the service's own rule (docs/domain.md §3, §4).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::patients::{Drinker, Patient};
use super::Generator;
use crate::demo::rng::Rng;
use crate::demo::rows::{Batch, ScreeningRow};
use crate::domain::eligibility::PresentingCondition;
use crate::domain::pat::{self, Answers, DrinkingFrequency, PatResult, PatRule};
use crate::domain::units::{units_per, Drink, DrinkEntry, Measure};

/// Conditions the patient is more likely to say are related to alcohol.
fn alcohol_associated(c: PresentingCondition) -> bool {
    matches!(
        c,
        PresentingCondition::Fall
            | PresentingCondition::Collapse
            | PresentingCondition::HeadInjury
            | PresentingCondition::Assault
            | PresentingCondition::Gastrointestinal
            | PresentingCondition::Psychiatric
    )
}

const NOT_SCREENED: [(&str, f64); 5] = [
    ("refused", 0.045),
    ("intoxicated", 0.035),
    ("lacks_capacity", 0.007),
    ("too_unwell", 0.030),
    ("not_asked", 0.053),
];

impl Generator {
    pub(super) fn screening(
        &mut self,
        p: &mut Patient,
        attendance_id: Uuid,
        arrived_at: DateTime<Utc>,
        condition: PresentingCondition,
        eligible: bool,
        out: &mut Batch,
    ) {
        let screened_at = arrived_at + Duration::seconds(self.rng.lognormal(75.0 * 60.0, 0.6).min(8.0 * 3600.0) as i64);
        if screened_at > self.now {
            return; // still in the department, not yet asked
        }
        let age_days = (arrived_at.date_naive() - p.birth).num_days();
        let status = if eligible {
            if age_days < 18 * 365 && self.rng.chance(0.75) {
                Some("under_age")
            } else {
                let intoxicated = if p.drinker == Drinker::Harmful { 0.105 } else { 0.035 };
                self.rng.pick(&[
                    (Some("completed"), 0.75),
                    (Some(NOT_SCREENED[0].0), NOT_SCREENED[0].1),
                    (Some("intoxicated"), intoxicated),
                    (Some(NOT_SCREENED[2].0), NOT_SCREENED[2].1),
                    (Some(NOT_SCREENED[3].0), NOT_SCREENED[3].1),
                    (Some(NOT_SCREENED[4].0), NOT_SCREENED[4].1),
                    (None, 0.08),
                ])
            }
        } else if self.rng.chance(0.004) {
            Some("completed") // screened outside the indications (docs/domain.md §7)
        } else {
            None
        };
        let Some(status) = status else { return };
        let id = self.rng.uuid();
        let recorded_at = (screened_at + self.secs(0, 600)).min(self.now);
        let scored = if status == "completed" {
            let answers = self.answers(p, condition);
            pat::score(PatRule::Pat2009, p.sex, &answers)
                .ok()
                .map(|score| (answers, score))
        } else {
            None
        };
        let Some((answers, score)) = scored else {
            out.screenings.push(ScreeningRow {
                id,
                attendance_id,
                // An unscorable answer set cannot happen (tested); if it did, the row says so.
                status: if status == "completed" { "not_asked" } else { status },
                rule: None,
                result: None,
                units: None,
                answers: None,
                alerts: String::new(),
                advice_given: None,
                leaflet_given: None,
                screened_at,
                recorded_at,
            });
            return;
        };
        let positive = score.result == PatResult::Positive;
        let (advice, leaflet) = if positive {
            (Some(self.rng.chance(0.96)), Some(self.rng.chance(0.9)))
        } else {
            (None, None)
        };
        out.screenings.push(ScreeningRow {
            id,
            attendance_id,
            status,
            rule: Some(PatRule::Pat2009.code()),
            result: Some(score.result.code()),
            units: score.units,
            answers: serde_json::to_string(&answers).ok(),
            alerts: score.alerts.iter().map(|a| a.code()).collect::<Vec<_>>().join(","),
            advice_given: advice,
            leaflet_given: leaflet,
            screened_at,
            recorded_at,
        });
        if positive && self.rng.chance(0.95) {
            self.referral(p, attendance_id, screened_at, advice == Some(true), out);
        }
    }

    /// The PAT 2009 answers of this attendance, from the patient's habit with day-to-day
    /// variation (docs/domain.md §3).
    fn answers(&mut self, p: &Patient, condition: PresentingCondition) -> Answers {
        let Some(habit) = p.habit else {
            return Answers {
                drinks_alcohol: Some(false),
                ..Answers::default()
            };
        };
        let rng = &mut self.rng;
        let units = ((habit.units * rng.lognormal(1.0, 0.2)) * 2.0).round().max(1.0) / 2.0;
        let (frequency, days) = if rng.chance(0.9) {
            (habit.frequency, habit.days_per_week)
        } else {
            let some_days = Some(rng.between(1, 6) as u8);
            rng.pick(&[
                ((DrinkingFrequency::LessThanWeekly, None), 1.0),
                ((DrinkingFrequency::Weekly, some_days), 1.0),
                ((DrinkingFrequency::Daily, None), 0.3),
            ])
        };
        let related_p = habit.related * if alcohol_associated(condition) { 1.5 } else { 0.5 };
        let related = rng.chance(related_p.min(0.9));
        let (max_units, drinks) = if rng.chance(0.35) {
            (None, Some(drinks_for(rng, units)))
        } else {
            (Some(units), None)
        };
        Answers {
            drinks_alcohol: Some(true),
            max_units_in_a_day: max_units,
            drinks,
            drinking_frequency: Some(frequency),
            days_per_week: days,
            heavy_drinking_frequency: None,
            attendance_related: Some(related),
        }
    }
}

/// The drinks named for a day of about `units` units, from the form's guide (docs/domain.md §3).
fn drinks_for(rng: &mut Rng, units: f64) -> Vec<DrinkEntry> {
    let choices = [
        ((Drink::Beer, Measure::Pint), 5.0),
        ((Drink::Beer, Measure::Can), 2.0),
        ((Drink::Beer, Measure::LitreBottle), 0.5),
        ((Drink::StrongBeer, Measure::Can), 1.5),
        ((Drink::StrongBeer, Measure::LitreBottle), 0.5),
        ((Drink::Wine, Measure::Glass), 3.0),
        ((Drink::Wine, Measure::Bottle75cl), 1.5),
        ((Drink::FortifiedWine, Measure::Glass), 0.3),
        ((Drink::Alcopop, Measure::Bottle330ml), 0.7),
        ((Drink::Spirits, Measure::Single), 2.0),
        ((Drink::Spirits, Measure::Bottle75cl), 0.2),
    ];
    let two = units >= 4.0 && rng.chance(0.3);
    let shares: &[f64] = if two { &[0.7, 0.3] } else { &[1.0] };
    let mut entries = Vec::with_capacity(shares.len());
    for share in shares {
        let (drink, measure) = rng.pick(&choices);
        let per = units_per(drink, measure).unwrap_or(1.0);
        let count = ((units * share / per) * 2.0).round().max(1.0) / 2.0;
        entries.push(DrinkEntry { drink, measure, count });
    }
    entries
}
