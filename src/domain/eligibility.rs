//! Is the PAT indicated for this attendance? (DOMAIN.md §2)

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The presenting condition recorded at triage, as ticked on the PAT 2009 form (DOMAIN.md §2).
/// The first ten are the conditions "often associated with alcohol" that make the PAT indicated;
/// `Other` is recorded (with free text kept elsewhere) but is not an indication by itself.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PresentingCondition {
    Fall,
    Collapse,
    HeadInjury,
    Assault,
    Accident,
    Unwell,
    Gastrointestinal,
    Cardiac,
    Psychiatric,
    RepeatAttender,
    Other,
}

impl PresentingCondition {
    /// Every condition, in the order of the PAT 2009 form.
    pub const ALL: [PresentingCondition; 11] = [
        PresentingCondition::Fall,
        PresentingCondition::Collapse,
        PresentingCondition::HeadInjury,
        PresentingCondition::Assault,
        PresentingCondition::Accident,
        PresentingCondition::Unwell,
        PresentingCondition::Gastrointestinal,
        PresentingCondition::Cardiac,
        PresentingCondition::Psychiatric,
        PresentingCondition::RepeatAttender,
        PresentingCondition::Other,
    ];

    /// The API code (DOMAIN.md §2), identical to the serde name.
    pub fn code(&self) -> &'static str {
        match self {
            PresentingCondition::Fall => "fall",
            PresentingCondition::Collapse => "collapse",
            PresentingCondition::HeadInjury => "head_injury",
            PresentingCondition::Assault => "assault",
            PresentingCondition::Accident => "accident",
            PresentingCondition::Unwell => "unwell",
            PresentingCondition::Gastrointestinal => "gastrointestinal",
            PresentingCondition::Cardiac => "cardiac",
            PresentingCondition::Psychiatric => "psychiatric",
            PresentingCondition::RepeatAttender => "repeat_attender",
            PresentingCondition::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The wording printed on the PAT 2009 form (DOMAIN.md §2), for forms and reports that must
    /// look like the paper the clinicians know.
    pub fn form_wording(&self) -> &'static str {
        match self {
            PresentingCondition::Fall => "FALL (incl. trip)",
            PresentingCondition::Collapse => "COLLAPSE (incl. fits)",
            PresentingCondition::HeadInjury => "HEAD INJURY",
            PresentingCondition::Assault => "ASSAULT",
            PresentingCondition::Accident => "ACCIDENT",
            PresentingCondition::Unwell => "UNWELL",
            PresentingCondition::Gastrointestinal => "GASTRO-INTESTINAL",
            PresentingCondition::Cardiac => "CARDIAC (incl. chest pain)",
            PresentingCondition::Psychiatric => "PSYCHIATRIC (incl. deliberate self-harm and overdose)",
            PresentingCondition::RepeatAttender => "REPEAT ATTENDER",
            PresentingCondition::Other => "Other (please state)",
        }
    }

    /// One of the ten conditions that make the PAT indicated (DOMAIN.md §2): all but `Other`.
    pub fn is_indication(&self) -> bool {
        !matches!(self, PresentingCondition::Other)
    }
}

/// The indications for the PAT at an attendance, fixed when the attendance is recorded (it is what
/// the nurse was told, and statistics use the stored value, DOMAIN.md §2 and §7). Empty means the
/// PAT is not indicated.
///
/// - The recorded condition, if it is one of the ten.
/// - `RepeatAttender`, derived from the history the service holds, when the patient had at least
///   `repeat_attender_min_prior` earlier attendances in the configured window (DOMAIN.md §2:
///   "repeat attender" has no published numeric definition, so the threshold is configuration,
///   default 1 in 365 days). It is added whatever the recorded condition, once only.
///
/// The caller counts `prior_attendances_in_window`; this function does not know the window.
/// A `repeat_attender_min_prior` of 0 makes every attendance a repeat attender.
pub fn indications(
    recorded: PresentingCondition,
    prior_attendances_in_window: u32,
    repeat_attender_min_prior: u32,
) -> Vec<PresentingCondition> {
    let mut found = Vec::with_capacity(2);
    if recorded.is_indication() {
        found.push(recorded);
    }
    if prior_attendances_in_window >= repeat_attender_min_prior && !found.contains(&PresentingCondition::RepeatAttender)
    {
        found.push(PresentingCondition::RepeatAttender);
    }
    found
}

/// The repeat-attender rule applied to one new attendance: the two possible answers, decided
/// before the database is asked, and the window the database counts earlier attendances in.
///
/// The count and the insert must be one atomic step (two attendances of a patient arriving
/// together must each see the other, or not, consistently), so the database counts and picks;
/// this value says what it picks between.
#[derive(Clone, Debug, PartialEq)]
pub struct RepeatAttenderRule {
    /// Earlier attendances arriving in `[since, arrived_at)` count.
    pub since: DateTime<Utc>,
    /// At least this many earlier attendances make a repeat attender.
    pub min_prior: u32,
    /// The indications when the patient is a repeat attender.
    pub if_repeat: Vec<PresentingCondition>,
    /// The indications otherwise.
    pub otherwise: Vec<PresentingCondition>,
}

impl RepeatAttenderRule {
    /// The rule for an attendance of `recorded` arriving at `arrived_at`, with the configured
    /// threshold (`PAT_REPEAT_ATTENDER_MIN_PRIOR`) and window (`PAT_REPEAT_ATTENDER_WINDOW_DAYS`).
    pub fn new(recorded: PresentingCondition, arrived_at: DateTime<Utc>, min_prior: u32, window_days: i64) -> Self {
        RepeatAttenderRule {
            since: arrived_at - Duration::days(window_days),
            min_prior,
            if_repeat: indications(recorded, min_prior, min_prior),
            otherwise: indications(recorded, 0, min_prior),
        }
    }

    /// The indications given `prior` earlier attendances in the window.
    pub fn indications(&self, prior: i64) -> &[PresentingCondition] {
        if prior >= i64::from(self.min_prior) {
            &self.if_repeat
        } else {
            &self.otherwise
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::PresentingCondition::*;
    use super::*;
    use crate::domain::test_support::assert_codes_are_the_serde_names;

    #[test]
    fn indications_table() {
        let cases: &[(PresentingCondition, u32, u32, &[PresentingCondition], &str)] = &[
            (Fall, 0, 1, &[Fall], "one of the ten, first attendance"),
            (
                Psychiatric,
                0,
                1,
                &[Psychiatric],
                "the last of the nine clinical conditions",
            ),
            (Other, 0, 1, &[], "other is not an indication by itself"),
            (
                Other,
                1,
                1,
                &[RepeatAttender],
                "other becomes indicated by a derived repeat attendance",
            ),
            (
                Fall,
                1,
                1,
                &[Fall, RepeatAttender],
                "recorded condition first, then the derived repeat attender",
            ),
            (
                Fall,
                3,
                4,
                &[Fall],
                "below a configured threshold is not a repeat attender",
            ),
            (
                Fall,
                4,
                4,
                &[Fall, RepeatAttender],
                "at the threshold is a repeat attender (at least N prior)",
            ),
            (
                RepeatAttender,
                0,
                1,
                &[RepeatAttender],
                "recorded repeat attender stands without history",
            ),
            (
                RepeatAttender,
                5,
                1,
                &[RepeatAttender],
                "recorded and derived repeat attender is listed once",
            ),
            (
                Other,
                0,
                0,
                &[RepeatAttender],
                "a threshold of 0 makes everyone a repeat attender",
            ),
        ];
        for (recorded, prior, min_prior, expected, why) in cases {
            assert_eq!(indications(*recorded, *prior, *min_prior), expected.to_vec(), "{why}");
        }
    }

    #[test]
    fn ten_indications_and_other_in_form_order() {
        let codes: Vec<&str> = PresentingCondition::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(
            codes,
            [
                "fall",
                "collapse",
                "head_injury",
                "assault",
                "accident",
                "unwell",
                "gastrointestinal",
                "cardiac",
                "psychiatric",
                "repeat_attender",
                "other"
            ]
        );
        let indicated = PresentingCondition::ALL.iter().filter(|c| c.is_indication()).count();
        assert_eq!(indicated, 10, "DOMAIN.md §2: ten presenting conditions");
        assert_eq!(Cardiac.form_wording(), "CARDIAC (incl. chest pain)");
        assert_eq!(Gastrointestinal.form_wording(), "GASTRO-INTESTINAL");
    }

    #[test]
    fn codes_are_the_serde_names() {
        assert_codes_are_the_serde_names(
            &PresentingCondition::ALL,
            PresentingCondition::code,
            PresentingCondition::from_code,
        );
        assert_eq!(PresentingCondition::from_code("FALL"), None);
    }
}
