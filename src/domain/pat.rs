//! Scoring the Paddington Alcohol Test: the versioned rule of docs/domain.md §4 applied to the answers
//! of docs/domain.md §3, with the body shape of docs/design.md §4 ("screening").
//!
//! Sources disagree on the threshold and on whether frequency counts, so the rule is a value the
//! caller passes in and stores with the result: changing the default never rewrites history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::units::{total_units, DrinkEntry};
use super::{EventTime, FieldError, Refusal};

/// The feedback a clinician gives when the PAT is positive (docs/domain.md §3). Explicit health
/// feedback raised acceptance of referral from 52% to 64% (Patton, Crawford & Touquet 2003).
pub const POSITIVE_FEEDBACK: &str = "Can we advise that your drinking is harming your health";

/// Which published version of the PAT decides positive or negative (docs/domain.md §4).
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PatRule {
    /// Touquet & Brown 2009: more than 8 (men) / 6 (women) units in one day, or attendance
    /// related to alcohol. The default.
    #[default]
    #[serde(rename = "pat-2009")]
    Pat2009,
    /// Patton 2003 / Crawford 2004: 8 or more (men) / 6 or more (women) units on one occasion at
    /// least weekly, or attendance related to alcohol.
    #[serde(rename = "pat-2004")]
    Pat2004,
    /// The two-question research variant (SIPS): attendance related, else 8/6 or more on one
    /// occasion monthly or more often.
    #[serde(rename = "sips-pat")]
    SipsPat,
}

impl PatRule {
    pub const ALL: [PatRule; 3] = [PatRule::Pat2009, PatRule::Pat2004, PatRule::SipsPat];

    /// The code stored with every result and accepted in `rule` / `PAT_DEFAULT_RULE`.
    pub fn code(&self) -> &'static str {
        match self {
            PatRule::Pat2009 => "pat-2009",
            PatRule::Pat2004 => "pat-2004",
            PatRule::SipsPat => "sips-pat",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The patient's sex as recorded with the attendance (docs/design.md §4), used only to pick the
/// threshold.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
    Other,
    #[default]
    Unknown,
}

impl Sex {
    pub const ALL: [Sex; 4] = [Sex::Male, Sex::Female, Sex::Other, Sex::Unknown];

    pub fn code(&self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Units in one day that count as heavy drinking: 8 for men, 6 for everyone else. Female,
    /// other and unknown all use the lower threshold — the conservative choice (docs/domain.md §4): a
    /// missed positive costs a patient the offer of help, a false positive costs two minutes of
    /// advice. Whether the threshold is "more than" or "or more" depends on the rule.
    pub fn heavy_threshold(&self) -> f64 {
        match self {
            Sex::Male => 8.0,
            Sex::Female | Sex::Other | Sex::Unknown => 6.0,
        }
    }
}

/// "How often do you drink?" (docs/domain.md §3, question 3): required by pat-2009, optional under
/// pat-2004 and sips-pat, where it only raises the possible-dependence alert.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DrinkingFrequency {
    /// Every day: raises the possible-dependence alert.
    Daily,
    /// Some days a week; `days_per_week` (1–6) says how many.
    Weekly,
    LessThanWeekly,
}

impl DrinkingFrequency {
    pub const ALL: [DrinkingFrequency; 3] = [
        DrinkingFrequency::Daily,
        DrinkingFrequency::Weekly,
        DrinkingFrequency::LessThanWeekly,
    ];

    pub fn code(&self) -> &'static str {
        match self {
            DrinkingFrequency::Daily => "daily",
            DrinkingFrequency::Weekly => "weekly",
            DrinkingFrequency::LessThanWeekly => "less_than_weekly",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// "How often do you have 8 (men) / 6 (women) or more units on one occasion?" (docs/domain.md §4;
/// asked by pat-2004 and sips-pat).
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum HeavyDrinkingFrequency {
    Never,
    LessThanMonthly,
    Monthly,
    Weekly,
    /// Raises the possible-dependence alert.
    Daily,
}

impl HeavyDrinkingFrequency {
    pub const ALL: [HeavyDrinkingFrequency; 5] = [
        HeavyDrinkingFrequency::Never,
        HeavyDrinkingFrequency::LessThanMonthly,
        HeavyDrinkingFrequency::Monthly,
        HeavyDrinkingFrequency::Weekly,
        HeavyDrinkingFrequency::Daily,
    ];

    pub fn code(&self) -> &'static str {
        match self {
            HeavyDrinkingFrequency::Never => "never",
            HeavyDrinkingFrequency::LessThanMonthly => "less_than_monthly",
            HeavyDrinkingFrequency::Monthly => "monthly",
            HeavyDrinkingFrequency::Weekly => "weekly",
            HeavyDrinkingFrequency::Daily => "daily",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    /// At least once a week: the frequency condition of pat-2004 (docs/domain.md §4).
    fn at_least_weekly(&self) -> bool {
        matches!(self, HeavyDrinkingFrequency::Weekly | HeavyDrinkingFrequency::Daily)
    }

    /// Monthly or more often: the second question of sips-pat (docs/domain.md §4).
    fn at_least_monthly(&self) -> bool {
        matches!(
            self,
            HeavyDrinkingFrequency::Monthly | HeavyDrinkingFrequency::Weekly | HeavyDrinkingFrequency::Daily
        )
    }
}

/// The PAT answers as recorded (docs/design.md §4, screening `answers`). Every field is optional
/// here because each rule needs a different subset; [`score`] says which are missing. Fields a
/// rule does not need are ignored, and unknown fields are accepted so an EPR that sends more
/// does not break.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Answers {
    /// Q1 "Do you drink alcohol?" — false ends the test, negative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drinks_alcohol: Option<bool>,
    /// Q2 "What is the most you will drink in any one day?" in UK units (≥ 0). Give this or
    /// `drinks`, not both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_units_in_a_day: Option<f64>,
    /// Q2 as the drinks named, converted with the form's unit guide (docs/domain.md §3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drinks: Option<Vec<DrinkEntry>>,
    /// Q3 "How often do you drink?". Required by pat-2009; optional under pat-2004 and sips-pat,
    /// which do not score it, but `daily` raises `possible_dependence` under every rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drinking_frequency: Option<DrinkingFrequency>,
    /// Days a week, 1–6, when `drinking_frequency` is `weekly`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_per_week: Option<u8>,
    /// How often 8 (men) / 6 (women) or more units on one occasion (pat-2004, sips-pat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heavy_drinking_frequency: Option<HeavyDrinkingFrequency>,
    /// Q4 "Do you feel your attendance at A&E is related to alcohol?" — yes is positive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attendance_related: Option<bool>,
}

#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PatResult {
    Positive,
    Negative,
}

impl PatResult {
    pub fn code(&self) -> &'static str {
        match self {
            PatResult::Positive => "positive",
            PatResult::Negative => "negative",
        }
    }
}

/// A clinical alert returned with the result.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    /// Daily drinking: the PAT 2009 form advises against it and tells the clinician to consider
    /// Pabrinex and chlordiazepoxide (docs/domain.md §3, question 3). Raised under every rule.
    PossibleDependence,
}

impl Alert {
    pub fn code(&self) -> &'static str {
        match self {
            Alert::PossibleDependence => "possible_dependence",
        }
    }
}

/// What the clinician does next (docs/domain.md §1 and §6), in this order.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum NextStep {
    /// Brief advice, two minutes or less, opening with [`POSITIVE_FEEDBACK`].
    GiveAdvice,
    OfferLeaflet,
    /// An Alcohol Health Worker appointment within 24 hours (or now, if sober and one is free).
    OfferAhwAppointment,
}

impl NextStep {
    pub fn code(&self) -> &'static str {
        match self {
            NextStep::GiveAdvice => "give_advice",
            NextStep::OfferLeaflet => "offer_leaflet",
            NextStep::OfferAhwAppointment => "offer_ahw_appointment",
        }
    }
}

/// `completed`, or why the PAT was not done (docs/domain.md §5). Not-done screenings count in the
/// denominator of the screening rate.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScreeningStatus {
    Completed,
    Refused,
    Intoxicated,
    LacksCapacity,
    TooUnwell,
    UnderAge,
    NotAsked,
}

impl ScreeningStatus {
    pub fn code(self) -> &'static str {
        match self {
            ScreeningStatus::Completed => "completed",
            ScreeningStatus::Refused => "refused",
            ScreeningStatus::Intoxicated => "intoxicated",
            ScreeningStatus::LacksCapacity => "lacks_capacity",
            ScreeningStatus::TooUnwell => "too_unwell",
            ScreeningStatus::UnderAge => "under_age",
            ScreeningStatus::NotAsked => "not_asked",
        }
    }
}

/// What the clinician does next after a screening (docs/domain.md §1, §6): advice, the leaflet and the
/// AHW offer, in that order, when positive; nothing otherwise.
pub fn next_steps_for(result: Option<PatResult>) -> Vec<NextStep> {
    match result {
        Some(PatResult::Positive) => vec![
            NextStep::GiveAdvice,
            NextStep::OfferLeaflet,
            NextStep::OfferAhwAppointment,
        ],
        _ => vec![],
    }
}

/// A screening as recorded, checked for shape before the attendance is looked up: answers
/// present exactly when completed, and complete for the rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ScreeningInput {
    pub status: ScreeningStatus,
    /// When the PAT was asked; `None`: now.
    pub screened_at: Option<DateTime<Utc>>,
    /// The rule; `None` when not completed.
    pub rule: Option<PatRule>,
    pub answers: Option<Answers>,
    pub advice_given: Option<bool>,
    pub leaflet_given: Option<bool>,
}

impl ScreeningInput {
    /// Checks the recorded screening: `answers` required when completed and refused otherwise,
    /// and complete for `rule` (default `default_rule`). Every problem is listed.
    pub fn new(
        status: ScreeningStatus,
        screened_at: Option<DateTime<Utc>>,
        rule: Option<PatRule>,
        answers: Option<Answers>,
        advice_given: Option<bool>,
        leaflet_given: Option<bool>,
        default_rule: PatRule,
    ) -> Result<ScreeningInput, Vec<FieldError>> {
        let completed = status == ScreeningStatus::Completed;
        let (rule, answers) = match (completed, answers) {
            (true, None) => return Err(vec![FieldError::new("answers", "required when status is completed")]),
            (false, Some(_)) => {
                return Err(vec![FieldError::new(
                    "answers",
                    "must be absent when the PAT was not completed",
                )])
            }
            (false, None) => (None, None),
            (true, Some(answers)) => {
                let rule = rule.unwrap_or(default_rule);
                // Sex only moves the threshold; which answers are needed does not depend on it.
                score(rule, Sex::Unknown, &answers)?;
                (Some(rule), Some(answers))
            }
        };
        Ok(ScreeningInput {
            status,
            screened_at,
            rule,
            answers,
            advice_given,
            leaflet_given,
        })
    }

    /// The result for a patient of `sex`; `None` when the PAT was not completed.
    pub fn score(&self, sex: Sex) -> Result<Option<Score>, Vec<FieldError>> {
        match (&self.answers, self.rule) {
            (Some(answers), Some(rule)) => score(rule, sex, answers).map(Some),
            _ => Ok(None),
        }
    }
}

/// When the PAT was asked (`screened_at`, default `now`), checked against the arrival and the
/// clock: not before the patient arrived, and not in the future beyond clock skew.
pub fn screening_time(
    screened_at: Option<DateTime<Utc>>,
    arrived_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Refusal> {
    let screened_at = screened_at.unwrap_or(now);
    EventTime {
        field: "screened_at",
        before_kind: "screened-before-arrival",
        before_detail: "screened_at is before the patient arrived",
        before_message: "must not be before arrived_at",
        future_kind: "screened-in-future",
    }
    .check(screened_at, arrived_at, now)?;
    Ok(screened_at)
}

/// Once the patient has answered the referral offer, the result it answered stands: a correction
/// that would change it is refused (docs/design.md §4).
pub fn result_fixed_by_referral() -> Refusal {
    Refusal::conflict(
        "referral-recorded",
        "a referral decision is recorded for this result; a correction may not change the result",
    )
}

/// The outcome of a completed PAT.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct Score {
    pub result: PatResult,
    /// Most units in one day, as given or computed from `drinks`; `None` when the patient does
    /// not drink or (sips-pat) none were given.
    pub units: Option<f64>,
    pub alerts: Vec<Alert>,
    /// `give_advice`, `offer_leaflet`, `offer_ahw_appointment` when positive; empty when negative.
    pub next_steps: Vec<NextStep>,
}

/// Scores a completed PAT under `rule` (docs/domain.md §4, docs/design.md §4).
///
/// - `pat-2009`: `drinks_alcohol`; if true also units, `drinking_frequency` (with
///   `days_per_week` 1–6 when weekly) and `attendance_related`. Positive if units are **more
///   than** the threshold or the attendance is related.
/// - `pat-2004`: `drinks_alcohol`; if true also units, `heavy_drinking_frequency` and
///   `attendance_related`. Positive if units are **at least** the threshold and heavy drinking is
///   weekly or daily, or the attendance is related.
/// - `sips-pat`: `drinks_alcohol: false` alone is negative; otherwise `attendance_related`, and
///   if that is false `heavy_drinking_frequency`: monthly or more often is positive. Units are
///   reported when given but not needed.
///
/// The threshold comes from [`Sex::heavy_threshold`]. Every missing or invalid answer is
/// returned at once, named `answers.<field>`, so the API answers one 422 listing them all.
/// Answers a rule does not need are ignored; an answer that is given and then used (units under
/// sips-pat) is still checked.
///
/// The `possible_dependence` alert is raised under every rule when the patient drinks and says
/// they drink daily (`drinking_frequency`) or drink heavily daily (`heavy_drinking_frequency`):
/// it is a clinical safety prompt (docs/domain.md §3, question 3), not part of the scoring rule, so
/// it must not depend on which rule the hospital chose.
pub fn score(rule: PatRule, sex: Sex, answers: &Answers) -> Result<Score, Vec<FieldError>> {
    let mut check = Check {
        rule,
        answers,
        errors: Vec::new(),
    };
    let threshold = sex.heavy_threshold();
    let decided = match rule {
        PatRule::Pat2009 => check.pat_2009(threshold),
        PatRule::Pat2004 => check.pat_2004(threshold),
        PatRule::SipsPat => check.sips_pat(),
    };
    let (positive, units) = match decided {
        Some(d) if check.errors.is_empty() => d,
        _ => return Err(check.errors),
    };

    let mut alerts = Vec::new();
    let drinks_daily = answers.drinking_frequency == Some(DrinkingFrequency::Daily)
        || answers.heavy_drinking_frequency == Some(HeavyDrinkingFrequency::Daily);
    if answers.drinks_alcohol != Some(false) && drinks_daily {
        alerts.push(Alert::PossibleDependence);
    }

    let result = if positive {
        PatResult::Positive
    } else {
        PatResult::Negative
    };
    Ok(Score {
        result,
        units,
        alerts,
        next_steps: next_steps_for(Some(result)),
    })
}

/// `(positive, units)` once a rule has what it needs.
type Decision = (bool, Option<f64>);

/// Collects every problem with the answers while a rule reads them.
struct Check<'a> {
    rule: PatRule,
    answers: &'a Answers,
    errors: Vec<FieldError>,
}

impl Check<'_> {
    /// pat-2009: more than the threshold, or related (docs/domain.md §4).
    fn pat_2009(&mut self, threshold: f64) -> Option<Decision> {
        let drinks = self.drinks_alcohol()?;
        if !drinks {
            return Some((false, None));
        }
        let when = "when answers.drinks_alcohol is true";
        let units = self.units(true, when);
        let frequency = self.require(self.answers.drinking_frequency, "answers.drinking_frequency", when);
        if frequency == Some(DrinkingFrequency::Weekly) {
            self.days_per_week();
        }
        let related = self.require(self.answers.attendance_related, "answers.attendance_related", when);
        let (units, related) = (units?, related?);
        frequency?;
        Some((units > threshold || related, Some(units)))
    }

    /// pat-2004: at least the threshold, at least weekly; or related (docs/domain.md §4).
    fn pat_2004(&mut self, threshold: f64) -> Option<Decision> {
        let drinks = self.drinks_alcohol()?;
        if !drinks {
            return Some((false, None));
        }
        let when = "when answers.drinks_alcohol is true";
        let units = self.units(true, when);
        let heavy = self.require(
            self.answers.heavy_drinking_frequency,
            "answers.heavy_drinking_frequency",
            when,
        );
        let related = self.require(self.answers.attendance_related, "answers.attendance_related", when);
        let (units, heavy, related) = (units?, heavy?, related?);
        let positive = (units >= threshold && heavy.at_least_weekly()) || related;
        Some((positive, Some(units)))
    }

    /// sips-pat: related, else heavy drinking monthly or more often (docs/domain.md §4).
    fn sips_pat(&mut self) -> Option<Decision> {
        if self.answers.drinks_alcohol == Some(false) {
            return Some((false, None));
        }
        // Not needed by the rule, but reported (and so checked) when given.
        let given_units = self.units(false, "");
        let related = self.require(self.answers.attendance_related, "answers.attendance_related", "")?;
        let positive = related
            || self
                .require(
                    self.answers.heavy_drinking_frequency,
                    "answers.heavy_drinking_frequency",
                    "when answers.attendance_related is false",
                )?
                .at_least_monthly();
        // A units error was recorded in `self.errors`; `score` returns it.
        Some((positive, given_units))
    }

    /// Q1. Missing is an error; the other answers are then not required (a "no" would end the
    /// test) but any that were given are still checked, so a second attempt only has to add
    /// the answer to Q1.
    fn drinks_alcohol(&mut self) -> Option<bool> {
        let value = self.require(self.answers.drinks_alcohol, "answers.drinks_alcohol", "");
        if value.is_none() {
            self.units(false, "");
            if self.answers.drinking_frequency == Some(DrinkingFrequency::Weekly) {
                self.days_per_week();
            }
        }
        value
    }

    /// Q2: exactly one of `max_units_in_a_day` and `drinks`. Returns the units, or `None` when
    /// they are missing or invalid (with the error recorded only if `required`, or invalid).
    fn units(&mut self, required: bool, when: &str) -> Option<f64> {
        match (self.answers.max_units_in_a_day, &self.answers.drinks) {
            (Some(_), Some(_)) => {
                self.errors.push(FieldError::new(
                    "answers",
                    "give max_units_in_a_day or drinks, not both",
                ));
                None
            }
            (Some(units), None) => {
                if units.is_finite() && units >= 0.0 {
                    Some(units)
                } else {
                    self.errors.push(FieldError::new(
                        "answers.max_units_in_a_day",
                        "must be a number of 0 or more",
                    ));
                    None
                }
            }
            (None, Some(drinks)) if drinks.is_empty() => {
                // A blank drinks list is more likely an unfilled form than a deliberate zero;
                // a zero is said explicitly with max_units_in_a_day: 0.
                self.errors.push(FieldError::new(
                    "answers.drinks",
                    "must list at least one drink (or give answers.max_units_in_a_day)",
                ));
                None
            }
            (None, Some(drinks)) => match total_units(drinks) {
                Ok(units) => Some(units),
                Err(errors) => {
                    self.errors.extend(errors);
                    None
                }
            },
            (None, None) => {
                if required {
                    self.errors.push(FieldError::new(
                        "answers.max_units_in_a_day",
                        format!("{} (or answers.drinks)", self.required_message(when)),
                    ));
                }
                None
            }
        }
    }

    /// Q3 "weekly": how many days, 1–6 (7 would be daily, 0 less than weekly).
    fn days_per_week(&mut self) {
        match self.answers.days_per_week {
            Some(1..=6) => {}
            Some(_) => self.errors.push(FieldError::new(
                "answers.days_per_week",
                "must be from 1 to 6 (every day is drinking_frequency daily)",
            )),
            None => self.errors.push(FieldError::new(
                "answers.days_per_week",
                format!(
                    "{} (1 to 6)",
                    self.required_message("when answers.drinking_frequency is weekly")
                ),
            )),
        }
    }

    fn require<T>(&mut self, value: Option<T>, field: &str, when: &str) -> Option<T> {
        if value.is_none() {
            let message = self.required_message(when);
            self.errors.push(FieldError::new(field, message));
        }
        value
    }

    fn required_message(&self, when: &str) -> String {
        if when.is_empty() {
            format!("required by {}", self.rule.code())
        } else {
            format!("required by {} {when}", self.rule.code())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::test_support::assert_codes_are_the_serde_names;
    use crate::domain::units::{Drink, Measure};
    use HeavyDrinkingFrequency as H;

    const ALL_SEXES: [Sex; 4] = Sex::ALL;
    const NOT_MALE: [Sex; 3] = [Sex::Female, Sex::Other, Sex::Unknown];

    /// A drinker under pat-2009 who drinks less than weekly and says the attendance is unrelated.
    fn pat2009(units: f64) -> Answers {
        Answers {
            drinks_alcohol: Some(true),
            max_units_in_a_day: Some(units),
            drinking_frequency: Some(DrinkingFrequency::LessThanWeekly),
            attendance_related: Some(false),
            ..Answers::default()
        }
    }

    fn pat2004(units: f64, heavy: HeavyDrinkingFrequency) -> Answers {
        Answers {
            drinks_alcohol: Some(true),
            max_units_in_a_day: Some(units),
            heavy_drinking_frequency: Some(heavy),
            attendance_related: Some(false),
            ..Answers::default()
        }
    }

    fn sips(related: bool, heavy: Option<HeavyDrinkingFrequency>) -> Answers {
        Answers {
            attendance_related: Some(related),
            heavy_drinking_frequency: heavy,
            ..Answers::default()
        }
    }

    fn related(mut answers: Answers) -> Answers {
        answers.attendance_related = Some(true);
        answers
    }

    fn drinks(list: &[(Drink, Measure, f64)]) -> Answers {
        Answers {
            max_units_in_a_day: None,
            drinks: Some(
                list.iter()
                    .map(|&(drink, measure, count)| DrinkEntry { drink, measure, count })
                    .collect(),
            ),
            ..pat2009(0.0)
        }
    }

    fn non_drinker() -> Answers {
        Answers {
            drinks_alcohol: Some(false),
            ..Answers::default()
        }
    }

    use PatResult::{Negative as Neg, Positive as Pos};

    #[test]
    fn results_at_every_threshold_edge() {
        // (rule, sexes, answers, expected, why) — each derived by hand from docs/domain.md §4.
        let cases: Vec<(PatRule, &[Sex], Answers, PatResult, &str)> = vec![
            // pat-2009: strictly more than 8 (men) / 6 (others).
            (
                PatRule::Pat2009,
                &[Sex::Male],
                pat2009(8.0),
                Neg,
                "pat-2009: a man at exactly 8 is not more than 8",
            ),
            (
                PatRule::Pat2009,
                &[Sex::Male],
                pat2009(8.5),
                Pos,
                "pat-2009: a man at 8.5 is more than 8",
            ),
            (
                PatRule::Pat2009,
                &NOT_MALE,
                pat2009(6.0),
                Neg,
                "pat-2009: female/other/unknown at exactly 6 is not more than 6",
            ),
            (
                PatRule::Pat2009,
                &NOT_MALE,
                pat2009(6.5),
                Pos,
                "pat-2009: female/other/unknown at 6.5 is more than 6",
            ),
            (
                PatRule::Pat2009,
                &[Sex::Male],
                pat2009(7.0),
                Neg,
                "pat-2009: a man at 7 is judged by the male threshold, not 6",
            ),
            (
                PatRule::Pat2009,
                &NOT_MALE,
                pat2009(7.0),
                Pos,
                "pat-2009: 7 units is positive for everyone but men (conservative)",
            ),
            (
                PatRule::Pat2009,
                &ALL_SEXES,
                related(pat2009(0.0)),
                Pos,
                "pat-2009: attendance related alone is positive",
            ),
            (
                PatRule::Pat2009,
                &ALL_SEXES,
                non_drinker(),
                Neg,
                "pat-2009: does not drink ends the test",
            ),
            (
                PatRule::Pat2009,
                &ALL_SEXES,
                Answers {
                    attendance_related: Some(true),
                    ..non_drinker()
                },
                Neg,
                "pat-2009: 'no' ends the test even if related is also sent",
            ),
            (
                PatRule::Pat2009,
                &[Sex::Male],
                drinks(&[(Drink::Beer, Measure::Pint, 4.0)]),
                Neg,
                "pat-2009: 4 pints of beer = 8 units, not more than 8 for a man",
            ),
            (
                PatRule::Pat2009,
                &[Sex::Male],
                drinks(&[
                    (Drink::Beer, Measure::Pint, 4.0),
                    (Drink::Spirits, Measure::Single, 1.0),
                ]),
                Pos,
                "pat-2009: 4 pints and a single = 9 units, positive for a man",
            ),
            (
                PatRule::Pat2009,
                &NOT_MALE,
                drinks(&[
                    (Drink::Wine, Measure::Bottle75cl, 0.5),
                    (Drink::Wine, Measure::Glass, 1.0),
                ]),
                Neg,
                "pat-2009: half a bottle and a glass of wine = 6, not more than 6",
            ),
            // pat-2004: at least 8 / 6, at least weekly.
            (
                PatRule::Pat2004,
                &[Sex::Male],
                pat2004(8.0, H::Weekly),
                Pos,
                "pat-2004: a man at exactly 8, weekly, is 8 or more at least weekly",
            ),
            (
                PatRule::Pat2004,
                &[Sex::Male],
                pat2004(8.0, H::Daily),
                Pos,
                "pat-2004: daily is at least weekly",
            ),
            (
                PatRule::Pat2004,
                &[Sex::Male],
                pat2004(8.0, H::Monthly),
                Neg,
                "pat-2004: monthly is not at least weekly",
            ),
            (
                PatRule::Pat2004,
                &[Sex::Male],
                pat2004(8.0, H::LessThanMonthly),
                Neg,
                "pat-2004: less than monthly is not at least weekly",
            ),
            (
                PatRule::Pat2004,
                &[Sex::Male],
                pat2004(7.5, H::Weekly),
                Neg,
                "pat-2004: a man at 7.5 is under 8",
            ),
            (
                PatRule::Pat2004,
                &NOT_MALE,
                pat2004(6.0, H::Weekly),
                Pos,
                "pat-2004: female/other/unknown at exactly 6, weekly, is 6 or more",
            ),
            (
                PatRule::Pat2004,
                &NOT_MALE,
                pat2004(5.5, H::Weekly),
                Neg,
                "pat-2004: female/other/unknown at 5.5 is under 6",
            ),
            (
                PatRule::Pat2004,
                &ALL_SEXES,
                related(pat2004(0.0, H::Never)),
                Pos,
                "pat-2004: attendance related alone is positive",
            ),
            (
                PatRule::Pat2004,
                &ALL_SEXES,
                non_drinker(),
                Neg,
                "pat-2004: does not drink ends the test",
            ),
            // sips-pat: related, else heavy drinking monthly or more often.
            (
                PatRule::SipsPat,
                &ALL_SEXES,
                sips(false, Some(H::Monthly)),
                Pos,
                "sips-pat: monthly is monthly or more often",
            ),
            (
                PatRule::SipsPat,
                &ALL_SEXES,
                sips(false, Some(H::Weekly)),
                Pos,
                "sips-pat: weekly is more often than monthly",
            ),
            (
                PatRule::SipsPat,
                &ALL_SEXES,
                sips(false, Some(H::LessThanMonthly)),
                Neg,
                "sips-pat: less than monthly is negative",
            ),
            (
                PatRule::SipsPat,
                &ALL_SEXES,
                sips(false, Some(H::Never)),
                Neg,
                "sips-pat: never is negative",
            ),
            (
                PatRule::SipsPat,
                &ALL_SEXES,
                sips(true, None),
                Pos,
                "sips-pat: related is positive without the second question",
            ),
            (
                PatRule::SipsPat,
                &ALL_SEXES,
                non_drinker(),
                Neg,
                "sips-pat: drinks_alcohol false alone is negative",
            ),
            (
                PatRule::SipsPat,
                &[Sex::Male],
                Answers {
                    max_units_in_a_day: Some(20.0),
                    ..sips(false, Some(H::Never))
                },
                Neg,
                "sips-pat: units are not part of the rule",
            ),
        ];
        for (rule, sexes, answers, expected, why) in &cases {
            for sex in *sexes {
                let got = score(*rule, *sex, answers);
                assert_eq!(
                    got.as_ref().map(|s| s.result),
                    Ok(*expected),
                    "{why} (sex {})",
                    sex.code()
                );
            }
        }
    }

    #[test]
    fn units_next_steps_and_alerts() {
        // (rule, answers, units, alerts, why)
        type Row = (PatRule, Answers, Option<f64>, &'static [Alert], &'static str);
        let cases: Vec<Row> = vec![
            (
                PatRule::Pat2009,
                pat2009(8.5),
                Some(8.5),
                &[],
                "given units are reported",
            ),
            (
                PatRule::Pat2009,
                drinks(&[(Drink::Beer, Measure::Can, 3.0)]),
                Some(4.5),
                &[],
                "computed units are reported",
            ),
            (PatRule::Pat2009, non_drinker(), None, &[], "a non-drinker has no units"),
            (
                PatRule::SipsPat,
                sips(true, None),
                None,
                &[],
                "sips-pat without units reports none",
            ),
            (
                PatRule::SipsPat,
                Answers {
                    max_units_in_a_day: Some(3.0),
                    ..sips(true, None)
                },
                Some(3.0),
                &[],
                "sips-pat reports units when given",
            ),
            (
                PatRule::Pat2009,
                Answers {
                    drinking_frequency: Some(DrinkingFrequency::Daily),
                    ..pat2009(2.0)
                },
                Some(2.0),
                &[Alert::PossibleDependence],
                "pat-2009: daily drinking alerts even when negative",
            ),
            (
                PatRule::Pat2004,
                pat2004(2.0, H::Daily),
                Some(2.0),
                &[Alert::PossibleDependence],
                "pat-2004: daily heavy drinking alerts",
            ),
            (
                PatRule::Pat2004,
                Answers {
                    drinking_frequency: Some(DrinkingFrequency::Daily),
                    ..pat2004(2.0, H::Never)
                },
                Some(2.0),
                &[Alert::PossibleDependence],
                "pat-2004: daily drinking alerts whichever rule",
            ),
            (
                PatRule::SipsPat,
                sips(true, Some(H::Daily)),
                None,
                &[Alert::PossibleDependence],
                "sips-pat: daily heavy drinking alerts",
            ),
            (
                PatRule::SipsPat,
                Answers {
                    drinking_frequency: Some(DrinkingFrequency::Daily),
                    ..sips(false, Some(H::Never))
                },
                None,
                &[Alert::PossibleDependence],
                "sips-pat: daily drinking alerts whichever rule, even when negative",
            ),
            (
                PatRule::SipsPat,
                Answers {
                    drinking_frequency: Some(DrinkingFrequency::Daily),
                    ..non_drinker()
                },
                None,
                &[],
                "sips-pat: no alert for someone who does not drink",
            ),
            (
                PatRule::Pat2004,
                Answers {
                    drinking_frequency: Some(DrinkingFrequency::Daily),
                    ..non_drinker()
                },
                None,
                &[],
                "pat-2004: no alert for someone who does not drink",
            ),
            (
                PatRule::Pat2004,
                Answers {
                    drinking_frequency: Some(DrinkingFrequency::Weekly),
                    days_per_week: Some(6),
                    ..pat2004(2.0, H::Never)
                },
                Some(2.0),
                &[],
                "pat-2004: drinking weekly is no alert",
            ),
            (
                PatRule::Pat2004,
                pat2004(2.0, H::Never),
                Some(2.0),
                &[],
                "pat-2004: without drinking_frequency, no alert",
            ),
            (
                PatRule::SipsPat,
                sips(false, Some(H::Never)),
                None,
                &[],
                "sips-pat: without drinking_frequency, no alert",
            ),
            (
                PatRule::Pat2009,
                Answers {
                    drinking_frequency: Some(DrinkingFrequency::Daily),
                    ..non_drinker()
                },
                None,
                &[],
                "no alert for someone who does not drink",
            ),
            (
                PatRule::Pat2009,
                Answers {
                    drinking_frequency: Some(DrinkingFrequency::Weekly),
                    days_per_week: Some(6),
                    ..pat2009(2.0)
                },
                Some(2.0),
                &[],
                "six days a week is not daily",
            ),
        ];
        for (rule, answers, units, alerts, why) in &cases {
            let got = score(*rule, Sex::Male, answers).unwrap_or_else(|e| panic!("{why}: {e:?}"));
            assert_eq!(got.units, *units, "{why}");
            assert_eq!(got.alerts, alerts.to_vec(), "{why}");
            let expected_steps = match got.result {
                PatResult::Positive => vec![
                    NextStep::GiveAdvice,
                    NextStep::OfferLeaflet,
                    NextStep::OfferAhwAppointment,
                ],
                PatResult::Negative => vec![],
            };
            assert_eq!(got.next_steps, expected_steps, "{why}: next steps follow the result");
        }
    }

    #[test]
    fn drinking_frequency_never_changes_the_result_of_pat_2004_or_sips_pat() {
        // (rule, sex, answers without drinking_frequency, result, why), each by hand from docs/domain.md §4.
        let cases: Vec<(PatRule, Sex, Answers, PatResult, &str)> = vec![
            (
                PatRule::Pat2004,
                Sex::Male,
                pat2004(2.0, H::Never),
                Neg,
                "2 units, never heavy",
            ),
            (
                PatRule::Pat2004,
                Sex::Male,
                pat2004(8.0, H::Weekly),
                Pos,
                "8 or more weekly",
            ),
            (
                PatRule::Pat2004,
                Sex::Male,
                pat2004(8.0, H::Monthly),
                Neg,
                "8 monthly is not weekly",
            ),
            (
                PatRule::Pat2004,
                Sex::Female,
                pat2004(5.5, H::Daily),
                Neg,
                "5.5 is below 6",
            ),
            (
                PatRule::Pat2004,
                Sex::Male,
                related(pat2004(1.0, H::Never)),
                Pos,
                "related",
            ),
            (
                PatRule::SipsPat,
                Sex::Male,
                sips(false, Some(H::Never)),
                Neg,
                "never heavy",
            ),
            (
                PatRule::SipsPat,
                Sex::Male,
                sips(false, Some(H::LessThanMonthly)),
                Neg,
                "less than monthly",
            ),
            (
                PatRule::SipsPat,
                Sex::Female,
                sips(false, Some(H::Monthly)),
                Pos,
                "monthly",
            ),
            (PatRule::SipsPat, Sex::Male, sips(true, None), Pos, "related"),
        ];
        let frequencies = [
            None,
            Some(DrinkingFrequency::Daily),
            Some(DrinkingFrequency::Weekly),
            Some(DrinkingFrequency::LessThanWeekly),
        ];
        for (rule, sex, answers, expected, why) in cases {
            let without = score(rule, sex, &answers).unwrap_or_else(|e| panic!("{why}: {e:?}"));
            assert_eq!(without.result, expected, "{}: {why}", rule.code());
            for frequency in frequencies {
                let with = Answers {
                    drinking_frequency: frequency,
                    ..answers.clone()
                };
                let got = score(rule, sex, &with).unwrap_or_else(|e| panic!("{why}: {e:?}"));
                assert_eq!(
                    got.result,
                    expected,
                    "{}: {why}, drinking_frequency {frequency:?}",
                    rule.code()
                );
                assert_eq!(got.units, without.units, "{}: {why}, {frequency:?}", rule.code());
                // The alert: daily drinking, or daily heavy drinking (the pat-2004 row at 5.5 units).
                let daily =
                    frequency == Some(DrinkingFrequency::Daily) || answers.heavy_drinking_frequency == Some(H::Daily);
                let alerts = if daily { vec![Alert::PossibleDependence] } else { vec![] };
                assert_eq!(got.alerts, alerts, "{}: {why}, {frequency:?}", rule.code());
            }
        }
    }

    #[test]
    fn every_problem_is_listed_together() {
        let weekly_no_days = Answers {
            drinking_frequency: Some(DrinkingFrequency::Weekly),
            ..pat2009(2.0)
        };
        let both_forms = Answers {
            drinks: Some(vec![]),
            ..pat2009(2.0)
        };
        let bad_drinks = Answers {
            attendance_related: None,
            ..drinks(&[
                (Drink::StrongBeer, Measure::Glass, 1.0),
                (Drink::Beer, Measure::Pint, -2.0),
            ])
        };
        // (rule, answers, fields in error, why)
        let cases: Vec<(PatRule, Answers, &[&str], &str)> = vec![
            (
                PatRule::Pat2009,
                Answers::default(),
                &["answers.drinks_alcohol"],
                "pat-2009 needs Q1 first",
            ),
            (
                PatRule::Pat2004,
                Answers::default(),
                &["answers.drinks_alcohol"],
                "pat-2004 needs Q1 first",
            ),
            (
                PatRule::SipsPat,
                Answers::default(),
                &["answers.attendance_related"],
                "sips-pat needs attendance_related",
            ),
            (
                PatRule::Pat2009,
                Answers {
                    drinks_alcohol: Some(true),
                    ..Answers::default()
                },
                &[
                    "answers.max_units_in_a_day",
                    "answers.drinking_frequency",
                    "answers.attendance_related",
                ],
                "pat-2009: a drinker's missing answers are listed together",
            ),
            (
                PatRule::Pat2004,
                Answers {
                    drinks_alcohol: Some(true),
                    ..Answers::default()
                },
                &[
                    "answers.max_units_in_a_day",
                    "answers.heavy_drinking_frequency",
                    "answers.attendance_related",
                ],
                "pat-2004: a drinker's missing answers are listed together",
            ),
            (
                PatRule::SipsPat,
                sips(false, None),
                &["answers.heavy_drinking_frequency"],
                "sips-pat: not related needs the second question",
            ),
            (
                PatRule::Pat2009,
                weekly_no_days.clone(),
                &["answers.days_per_week"],
                "pat-2009: weekly needs days_per_week",
            ),
            (
                PatRule::Pat2009,
                Answers {
                    days_per_week: Some(7),
                    ..weekly_no_days.clone()
                },
                &["answers.days_per_week"],
                "pat-2009: 7 days a week is daily, not weekly",
            ),
            (
                PatRule::Pat2009,
                Answers {
                    days_per_week: Some(0),
                    ..weekly_no_days.clone()
                },
                &["answers.days_per_week"],
                "pat-2009: 0 days a week is not weekly",
            ),
            (
                PatRule::Pat2009,
                both_forms,
                &["answers"],
                "both units forms are refused",
            ),
            (
                PatRule::Pat2004,
                Answers {
                    drinks: Some(vec![]),
                    ..pat2004(2.0, H::Weekly)
                },
                &["answers"],
                "both units forms are refused under pat-2004 too",
            ),
            (
                PatRule::Pat2009,
                Answers {
                    drinks: Some(vec![]),
                    max_units_in_a_day: None,
                    ..pat2009(0.0)
                },
                &["answers.drinks"],
                "an empty drinks list is not an answer",
            ),
            (
                PatRule::Pat2009,
                pat2009(-1.0),
                &["answers.max_units_in_a_day"],
                "negative units are refused",
            ),
            (
                PatRule::Pat2009,
                pat2009(f64::NAN),
                &["answers.max_units_in_a_day"],
                "NaN units are refused",
            ),
            (
                PatRule::Pat2009,
                bad_drinks,
                &[
                    "answers.drinks[0]",
                    "answers.drinks[1].count",
                    "answers.attendance_related",
                ],
                "drink entry errors come with the other missing answers",
            ),
            (
                PatRule::Pat2009,
                Answers {
                    drinks_alcohol: None,
                    max_units_in_a_day: Some(-1.0),
                    ..weekly_no_days
                },
                &[
                    "answers.drinks_alcohol",
                    "answers.max_units_in_a_day",
                    "answers.days_per_week",
                ],
                "without Q1, answers that were given are still checked",
            ),
            (
                PatRule::SipsPat,
                Answers {
                    max_units_in_a_day: Some(-3.0),
                    ..sips(true, None)
                },
                &["answers.max_units_in_a_day"],
                "sips-pat checks units it would report",
            ),
        ];
        for (rule, answers, fields, why) in &cases {
            let errors = score(*rule, Sex::Female, answers).expect_err(why);
            let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(got, fields.to_vec(), "{why}");
        }
    }

    #[test]
    fn error_messages() {
        let errors = score(
            PatRule::Pat2009,
            Sex::Male,
            &Answers {
                drinks_alcohol: Some(true),
                ..Answers::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            errors[0],
            FieldError::new(
                "answers.max_units_in_a_day",
                "required by pat-2009 when answers.drinks_alcohol is true (or answers.drinks)"
            )
        );
        let errors = score(
            PatRule::Pat2009,
            Sex::Male,
            &Answers {
                drinks: Some(vec![]),
                ..pat2009(1.0)
            },
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [FieldError::new(
                "answers",
                "give max_units_in_a_day or drinks, not both"
            )]
        );
    }

    #[test]
    fn codes_are_the_serde_names() {
        fn same<T: Serialize>(value: T, code: &str) {
            assert_eq!(serde_json::to_value(value).unwrap(), serde_json::json!(code));
        }
        assert_codes_are_the_serde_names(&PatRule::ALL, PatRule::code, PatRule::from_code);
        assert_codes_are_the_serde_names(&Sex::ALL, Sex::code, Sex::from_code);
        assert_codes_are_the_serde_names(
            &DrinkingFrequency::ALL,
            DrinkingFrequency::code,
            DrinkingFrequency::from_code,
        );
        assert_codes_are_the_serde_names(
            &HeavyDrinkingFrequency::ALL,
            HeavyDrinkingFrequency::code,
            HeavyDrinkingFrequency::from_code,
        );
        for r in [PatResult::Positive, PatResult::Negative] {
            same(r, r.code());
        }
        same(Alert::PossibleDependence, Alert::PossibleDependence.code());
        for n in [
            NextStep::GiveAdvice,
            NextStep::OfferLeaflet,
            NextStep::OfferAhwAppointment,
        ] {
            same(n, n.code());
        }
        assert_eq!(PatRule::default(), PatRule::Pat2009);
        assert_eq!(Sex::default(), Sex::Unknown);
        assert_eq!(PatRule::from_code("pat_2009"), None);
    }

    #[test]
    fn answers_json_shape() {
        let parsed: Answers = serde_json::from_str(
            r#"{"drinks_alcohol": true,
                "drinks": [{"drink": "beer", "measure": "pint", "count": 4}],
                "drinking_frequency": "weekly", "days_per_week": 2,
                "attendance_related": false, "not_a_pat_question": 1}"#,
        )
        .unwrap();
        assert_eq!(parsed.days_per_week, Some(2), "unknown fields are ignored");
        assert_eq!(score(PatRule::Pat2009, Sex::Male, &parsed).unwrap().units, Some(8.0));
        let empty: Answers = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, Answers::default(), "every answer is optional");
        assert_eq!(
            serde_json::to_string(&non_drinker()).unwrap(),
            r#"{"drinks_alcohol":false}"#,
            "absent answers are not serialised"
        );
    }

    #[test]
    fn thresholds() {
        assert_eq!(Sex::Male.heavy_threshold(), 8.0);
        for sex in NOT_MALE {
            assert_eq!(sex.heavy_threshold(), 6.0, "{}", sex.code());
        }
    }
}
