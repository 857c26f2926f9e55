//! The attendance rows: site, presenting condition and category, and the indications derived
//! exactly as `POST /attendances` derives them (docs/domain.md §2).

use chrono::{DateTime, Duration, Utc};

use super::patients::{Drinker, Patient, SITES};
use super::Generator;
use crate::demo::rows::{AttendanceRow, Batch};
use crate::demo::source_id;
use crate::domain::eligibility::{self, PresentingCondition};

/// The presenting conditions of unplanned attendances, each with its weight for a patient who
/// drinks little or not at all, then for a hazardous or harmful drinker.
const CONDITIONS: [(PresentingCondition, f64, f64); 11] = [
    (PresentingCondition::Fall, 11.0, 14.0),
    (PresentingCondition::Collapse, 5.0, 7.0),
    (PresentingCondition::HeadInjury, 3.0, 7.0),
    (PresentingCondition::Assault, 1.0, 6.0),
    (PresentingCondition::Accident, 8.0, 7.0),
    (PresentingCondition::Unwell, 9.0, 6.0),
    (PresentingCondition::Gastrointestinal, 5.0, 6.0),
    (PresentingCondition::Cardiac, 5.0, 3.0),
    (PresentingCondition::Psychiatric, 1.5, 4.0),
    (PresentingCondition::RepeatAttender, 0.5, 1.0),
    (PresentingCondition::Other, 52.0, 39.0),
];

const OTHER_DETAILS: [(&str, f64); 10] = [
    ("ankle sprain", 3.0),
    ("minor wound", 3.0),
    ("back pain", 2.0),
    ("rash", 1.0),
    ("urinary symptoms", 1.0),
    ("allergic reaction", 1.0),
    ("eye problem", 1.0),
    ("dental pain", 1.0),
    ("wrist injury", 2.0),
    ("headache", 1.0),
];

impl Generator {
    pub(super) fn attendance(&mut self, p: &mut Patient, at: DateTime<Utc>, planned: bool, out: &mut Batch) {
        self.attendances += 1;
        let id = self.rng.uuid();
        let drinking = matches!(p.drinker, Drinker::Hazardous | Drinker::Harmful);
        let condition = if planned {
            if self.rng.chance(0.7) {
                PresentingCondition::Other
            } else {
                p.last_condition
            }
        } else {
            let weighted =
                CONDITIONS.map(|(condition, light, heavy)| (condition, if drinking { heavy } else { light }));
            self.rng.pick(&weighted)
        };
        let detail = match (planned, condition) {
            (true, PresentingCondition::Other) => Some("planned review"),
            (false, PresentingCondition::Other) => Some(self.rng.pick(&OTHER_DETAILS)),
            _ => None,
        };
        if !planned {
            p.last_condition = condition;
        }
        // Indications exactly as `POST /attendances` fixes them (docs/domain.md §2).
        let since = at - Duration::days(self.rules.repeat_attender_window_days);
        let prior = p.history.iter().rev().take_while(|t| **t >= since).count();
        let prior = u32::try_from(prior).unwrap_or(u32::MAX);
        let found = eligibility::indications(condition, prior, self.rules.repeat_attender_min_prior);
        let date_of_birth = p.dob_known.then_some(p.birth);
        let under_age = eligibility::under_min_age(date_of_birth, at, self.rules.min_age).unwrap_or(false);
        let eligible = !found.is_empty() && !under_age;
        let indications = found.iter().map(|c| c.code()).collect::<Vec<_>>().join(",");
        p.history.push(at);
        let site = if self.rng.chance(0.85) {
            SITES[p.home_site].0
        } else {
            SITES[self.rng.below(3) as usize].0
        };
        let created_at = (at + self.secs(60, 900)).min(self.now);
        out.attendances.push(AttendanceRow {
            id,
            source_id: source_id(self.seed, self.attendances),
            patient_key: p.key.clone(),
            nhs_number: p.nhs_number.as_ref().map(|n| n.as_str().to_owned()),
            local_id: p.local_id.clone(),
            sex: p.sex.code(),
            date_of_birth,
            site,
            arrived_at: at,
            presenting_condition: condition.code(),
            detail,
            category: if planned { "planned" } else { "unplanned" },
            indications,
            pat_indicated: eligible,
            created_at,
        });
        self.screening(p, id, at, condition, eligible, out);
    }
}
