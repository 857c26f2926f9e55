//! Is the PAT indicated for this attendance? (docs/domain.md §2)

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::calendar::london_date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The presenting condition recorded at triage, as ticked on the PAT 2009 form (docs/domain.md §2).
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

    /// The API code (docs/domain.md §2), identical to the serde name.
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

    /// The wording printed on the PAT 2009 form (docs/domain.md §2), for forms and reports that must
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

    /// One of the ten conditions that make the PAT indicated (docs/domain.md §2): all but `Other`.
    pub fn is_indication(&self) -> bool {
        !matches!(self, PresentingCondition::Other)
    }
}

/// The indications for the PAT at an attendance, fixed when the attendance is recorded (it is what
/// the nurse was told, and statistics use the stored value, docs/domain.md §2 and §7). Empty means the
/// PAT is not indicated.
///
/// - The recorded condition, if it is one of the ten.
/// - `RepeatAttender`, derived from the history the service holds, when the patient had at least
///   `repeat_attender_min_prior` earlier attendances in the configured window (docs/domain.md §2:
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

/// `PAT_MIN_AGE` by default: the PAT's adult population. The studies included adults (18+);
/// NICE PH24 recommends FAST or the PAT for 16–17-year-olds in an ED, so 16 and over are asked.
pub const DEFAULT_MIN_AGE: u32 = 16;

/// Age in completed years on `on` of someone born on `born`; 0 before the first birthday (and
/// for a birth date after `on`, which validation refuses). Someone born on 29 February is a year
/// older on 1 March in a year without one, as in UK law.
pub fn age_on(born: NaiveDate, on: NaiveDate) -> u32 {
    let years = on.year() - born.year() - i32::from((on.month(), on.day()) < (born.month(), born.day()));
    u32::try_from(years).unwrap_or(0)
}

/// Whether a patient born on `date_of_birth` was younger than `min_age` on the Europe/London day
/// of `arrived_at` (ages count in local days: a patient who turns 16 at 00:30 BST on the day of
/// arrival is 16). `None` without a date of birth: the age is unknown and the PAT stays indicated
/// by the presentation alone.
pub fn under_min_age(date_of_birth: Option<NaiveDate>, arrived_at: DateTime<Utc>, min_age: u32) -> Option<bool> {
    date_of_birth.map(|born| age_on(born, london_date(arrived_at)) < min_age)
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
    /// The patient was younger than `PAT_MIN_AGE` on the day of arrival (known only with a date
    /// of birth): the indications are still recorded, but the PAT is not indicated.
    pub under_age: bool,
}

impl RepeatAttenderRule {
    /// The rule for an attendance of `recorded` arriving at `arrived_at`, with the configured
    /// threshold (`PAT_REPEAT_ATTENDER_MIN_PRIOR`) and window (`PAT_REPEAT_ATTENDER_WINDOW_DAYS`).
    /// `under_age` comes from [`under_min_age`]; `false` when the date of birth is unknown.
    pub fn new(
        recorded: PresentingCondition,
        arrived_at: DateTime<Utc>,
        min_prior: u32,
        window_days: i64,
        under_age: bool,
    ) -> Self {
        RepeatAttenderRule {
            since: arrived_at - Duration::days(window_days),
            min_prior,
            if_repeat: indications(recorded, min_prior, min_prior),
            otherwise: indications(recorded, 0, min_prior),
            under_age,
        }
    }

    /// Whether the PAT is indicated with these `indications` (one of this rule's two answers):
    /// some indication, and the patient is not under the minimum age.
    pub fn pat_indicated(&self, indications: &[PresentingCondition]) -> bool {
        !indications.is_empty() && !self.under_age
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

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn age_counts_completed_years() {
        let born = date(2010, 6, 15);
        assert_eq!(age_on(born, date(2026, 6, 14)), 15, "the day before the 16th birthday");
        assert_eq!(age_on(born, date(2026, 6, 15)), 16, "on the birthday");
        assert_eq!(age_on(born, date(2010, 6, 15)), 0, "the day of birth");
        assert_eq!(
            age_on(born, date(2009, 1, 1)),
            0,
            "before birth (refused elsewhere) is 0"
        );
        let leap = date(2008, 2, 29);
        assert_eq!(
            age_on(leap, date(2025, 2, 28)),
            16,
            "16 on 29/2/2024, still 16 on 28/2/2025"
        );
        assert_eq!(
            age_on(leap, date(2026, 2, 28)),
            17,
            "17 on 1 March 2025: 28/2/2026 is before 18"
        );
        assert_eq!(
            age_on(leap, date(2024, 2, 28)),
            15,
            "the day before a leap-year birthday"
        );
        assert_eq!(
            age_on(leap, date(2023, 3, 1)),
            15,
            "15 from 1 March 2023 in a year without 29/2"
        );
        assert_eq!(age_on(leap, date(2023, 2, 28)), 14, "and 14 the day before");
    }

    #[test]
    fn under_age_is_judged_on_the_london_day_of_arrival() {
        let born = Some(date(2010, 6, 15));
        // 23:30 UTC on 14 June 2026 is 00:30 BST on 15 June, the 16th birthday.
        let just_after_midnight = DateTime::parse_from_rfc3339("2026-06-14T23:30:00Z").unwrap().to_utc();
        assert_eq!(under_min_age(born, just_after_midnight, 16), Some(false));
        let evening_before = DateTime::parse_from_rfc3339("2026-06-14T22:30:00Z").unwrap().to_utc();
        assert_eq!(under_min_age(born, evening_before, 16), Some(true));
        assert_eq!(
            under_min_age(None, evening_before, 16),
            None,
            "no date of birth: unknown"
        );
        assert_eq!(
            under_min_age(born, evening_before, 0),
            Some(false),
            "a minimum of 0 excludes no one"
        );
    }

    #[test]
    fn under_age_keeps_the_indications_but_the_pat_is_not_indicated() {
        let at = DateTime::parse_from_rfc3339("2026-06-14T12:00:00Z").unwrap().to_utc();
        let child = RepeatAttenderRule::new(HeadInjury, at, 1, 365, true);
        assert_eq!(child.indications(0), &[HeadInjury]);
        assert!(!child.pat_indicated(child.indications(0)));
        assert!(!child.pat_indicated(child.indications(1)));
        let adult = RepeatAttenderRule::new(HeadInjury, at, 1, 365, false);
        assert!(adult.pat_indicated(adult.indications(0)));
        let other = RepeatAttenderRule::new(Other, at, 1, 365, false);
        assert!(
            !other.pat_indicated(other.indications(0)),
            "no indication: not indicated"
        );
        assert!(
            other.pat_indicated(other.indications(1)),
            "a repeat attender is indicated"
        );
    }

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
        assert_eq!(indicated, 10, "docs/domain.md §2: ten presenting conditions");
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
