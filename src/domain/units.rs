//! The unit guide printed on the PAT 2009 form (docs/domain.md §3, question 2).
//!
//! A clinician may record "the most you drink in one day" either as a number of UK units or as
//! the drinks the patient names ("four pints and a single"); the guide turns the latter into
//! units. A UK unit is 10 ml (8 g) of pure alcohol.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::FieldError;

/// A kind of drink on the form's guide (docs/domain.md §3). Beer covers lager and cider; fortified
/// wine covers sherry, port and martini.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Drink {
    Beer,
    StrongBeer,
    Wine,
    FortifiedWine,
    Alcopop,
    Spirits,
}

impl Drink {
    /// Every drink, in the order of the form's guide.
    pub const ALL: [Drink; 6] = [
        Drink::Beer,
        Drink::StrongBeer,
        Drink::Wine,
        Drink::FortifiedWine,
        Drink::Alcopop,
        Drink::Spirits,
    ];

    /// The API code (docs/domain.md §3), identical to the serde name.
    pub fn code(&self) -> &'static str {
        match self {
            Drink::Beer => "beer",
            Drink::StrongBeer => "strong_beer",
            Drink::Wine => "wine",
            Drink::FortifiedWine => "fortified_wine",
            Drink::Alcopop => "alcopop",
            Drink::Spirits => "spirits",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.code() == code)
    }
}

/// A measure on the form's guide (docs/domain.md §3): standard pub measures. Home measures are often
/// three times larger, which is why the guide is a prompt, not a calculator the patient uses.
///
/// The 75cl and 330ml bottles carry explicit serde names: serde's `snake_case` only puts an
/// underscore before upper-case letters, so it would spell them `bottle75cl` and `bottle330ml`.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Pint,
    Can,
    LitreBottle,
    Glass,
    #[serde(rename = "bottle_75cl")]
    Bottle75cl,
    #[serde(rename = "bottle_330ml")]
    Bottle330ml,
    Single,
}

impl Measure {
    /// Every measure, in the order they first appear in the form's guide.
    pub const ALL: [Measure; 7] = [
        Measure::Pint,
        Measure::Can,
        Measure::LitreBottle,
        Measure::Glass,
        Measure::Bottle75cl,
        Measure::Bottle330ml,
        Measure::Single,
    ];

    /// The API code (docs/domain.md §3), identical to the serde name.
    pub fn code(&self) -> &'static str {
        match self {
            Measure::Pint => "pint",
            Measure::Can => "can",
            Measure::LitreBottle => "litre_bottle",
            Measure::Glass => "glass",
            Measure::Bottle75cl => "bottle_75cl",
            Measure::Bottle330ml => "bottle_330ml",
            Measure::Single => "single",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == code)
    }
}

/// UK units in one `measure` of `drink`, exactly as the PAT 2009 form's guide prints them
/// (docs/domain.md §3). `None` for a pair the guide does not list (e.g. strong beer by the glass): the
/// service does not invent strengths the form does not give, and the API answers 422.
pub fn units_per(drink: Drink, measure: Measure) -> Option<f64> {
    use Drink::*;
    use Measure::*;
    match (drink, measure) {
        (Beer, Pint) => Some(2.0),
        (Beer, Can) => Some(1.5),
        (Beer, LitreBottle) => Some(4.5),
        (StrongBeer, Pint) => Some(5.0),
        (StrongBeer, Can) => Some(4.0),
        (StrongBeer, LitreBottle) => Some(10.0),
        (Wine, Glass) => Some(1.5),
        (Wine, Bottle75cl) => Some(9.0),
        (FortifiedWine, Glass) => Some(1.0),
        (FortifiedWine, Bottle75cl) => Some(12.0),
        (Alcopop, Bottle330ml) => Some(1.5),
        (Spirits, Single) => Some(1.0),
        (Spirits, Bottle75cl) => Some(30.0),
        _ => None,
    }
}

/// One line of "what is the most you drink in one day": `count` of `measure` of `drink`.
/// Counts may be fractional ("half a bottle of wine", docs/domain.md §3).
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct DrinkEntry {
    pub drink: Drink,
    pub measure: Measure,
    pub count: f64,
}

/// Total UK units of a day's drinks, using the form's guide (docs/domain.md §3).
///
/// Every entry is checked and every problem returned, each named by its JSON path under
/// `answers.drinks` so the API can list them all in one 422.
///
/// The total is rounded to 2 decimal places. Binary floating point cannot represent most
/// decimal fractions, so sums such as 0.1 × 1.5 + 0.2 × 1.5 come out as 0.45000000000000007;
/// the stored and reported figure should be what a nurse would add up on paper, and the
/// thresholds of docs/domain.md §4 (6 and 8 units) are whole numbers far from that noise.
pub fn total_units(entries: &[DrinkEntry]) -> Result<f64, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut total = 0.0;
    for (i, entry) in entries.iter().enumerate() {
        if !entry.count.is_finite() || entry.count < 0.0 {
            errors.push(FieldError::new(
                format!("answers.drinks[{i}].count"),
                "must be a number of 0 or more",
            ));
        }
        match units_per(entry.drink, entry.measure) {
            Some(units) => total += entry.count * units,
            None => errors.push(FieldError::new(
                format!("answers.drinks[{i}]"),
                format!(
                    "{} by {} is not in the PAT unit guide",
                    entry.drink.code(),
                    entry.measure.code()
                ),
            )),
        }
    }
    if errors.is_empty() && !total.is_finite() {
        errors.push(FieldError::new(
            "answers.drinks",
            "the counts add up to more units than can be recorded",
        ));
    }
    if errors.is_empty() {
        Ok((total * 100.0).round() / 100.0)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::test_support::assert_codes_are_the_serde_names;

    fn entry(drink: Drink, measure: Measure, count: f64) -> DrinkEntry {
        DrinkEntry { drink, measure, count }
    }

    /// docs/domain.md §3, row by row.
    const GUIDE: [(Drink, Measure, f64); 13] = [
        (Drink::Beer, Measure::Pint, 2.0),
        (Drink::Beer, Measure::Can, 1.5),
        (Drink::Beer, Measure::LitreBottle, 4.5),
        (Drink::StrongBeer, Measure::Pint, 5.0),
        (Drink::StrongBeer, Measure::Can, 4.0),
        (Drink::StrongBeer, Measure::LitreBottle, 10.0),
        (Drink::Wine, Measure::Glass, 1.5),
        (Drink::Wine, Measure::Bottle75cl, 9.0),
        (Drink::FortifiedWine, Measure::Glass, 1.0),
        (Drink::FortifiedWine, Measure::Bottle75cl, 12.0),
        (Drink::Alcopop, Measure::Bottle330ml, 1.5),
        (Drink::Spirits, Measure::Single, 1.0),
        (Drink::Spirits, Measure::Bottle75cl, 30.0),
    ];

    #[test]
    fn every_row_of_the_guide_and_no_other_pair() {
        for drink in Drink::ALL {
            for measure in Measure::ALL {
                let expected = GUIDE
                    .iter()
                    .find(|(d, m, _)| *d == drink && *m == measure)
                    .map(|(_, _, u)| *u);
                assert_eq!(
                    units_per(drink, measure),
                    expected,
                    "{} by {}",
                    drink.code(),
                    measure.code()
                );
            }
        }
    }

    #[test]
    fn totals() {
        let cases: &[(&[DrinkEntry], f64, &str)] = &[
            (&[], 0.0, "no drinks is 0 units"),
            (
                &[entry(Drink::Wine, Measure::Bottle75cl, 0.5)],
                4.5,
                "half a 75cl bottle of wine is 4.5 (fractional count)",
            ),
            (&[entry(Drink::Beer, Measure::Pint, 4.0)], 8.0, "4 pints of beer"),
            (
                &[
                    entry(Drink::Beer, Measure::Pint, 4.0),
                    entry(Drink::Spirits, Measure::Single, 1.0),
                ],
                9.0,
                "entries add up",
            ),
            (&[entry(Drink::Beer, Measure::Can, 3.0)], 4.5, "3 cans at 1.5"),
            (
                &[
                    entry(Drink::Wine, Measure::Glass, 0.1),
                    entry(Drink::Wine, Measure::Glass, 0.2),
                ],
                0.45,
                "float noise (0.45000000000000007) is rounded away",
            ),
            (
                &[entry(Drink::Spirits, Measure::Bottle75cl, 0.0)],
                0.0,
                "a zero count is allowed",
            ),
        ];
        for (entries, expected, why) in cases {
            assert_eq!(total_units(entries), Ok(*expected), "{why}");
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let entries = [
            entry(Drink::Beer, Measure::Pint, 1.0),
            entry(Drink::StrongBeer, Measure::Glass, 1.0),
            entry(Drink::Wine, Measure::Glass, -1.0),
            entry(Drink::Wine, Measure::Glass, f64::NAN),
            entry(Drink::Spirits, Measure::Pint, f64::INFINITY),
        ];
        let errors = total_units(&entries).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "answers.drinks[1]",
                "answers.drinks[2].count",
                "answers.drinks[3].count",
                "answers.drinks[4].count",
                "answers.drinks[4]",
            ]
        );
        assert_eq!(errors[0].message, "strong_beer by glass is not in the PAT unit guide");
    }

    #[test]
    fn an_overflowing_total_is_an_error_not_infinity() {
        let entries = [entry(Drink::Spirits, Measure::Bottle75cl, f64::MAX)];
        let errors = total_units(&entries).unwrap_err();
        assert_eq!(errors[0].field, "answers.drinks");
    }

    #[test]
    fn the_openapi_schema_uses_the_serde_names() {
        let schema = serde_json::to_value(<Measure as utoipa::PartialSchema>::schema()).unwrap();
        let names: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let codes: Vec<&str> = Measure::ALL.iter().map(|m| m.code()).collect();
        assert_eq!(names, codes);
    }

    #[test]
    fn codes_are_the_serde_names() {
        assert_codes_are_the_serde_names(&Drink::ALL, Drink::code, Drink::from_code);
        assert_codes_are_the_serde_names(&Measure::ALL, Measure::code, Measure::from_code);
        assert_eq!(serde_json::to_string(&Measure::Bottle75cl).unwrap(), "\"bottle_75cl\"");
        assert_eq!(
            serde_json::to_string(&Measure::Bottle330ml).unwrap(),
            "\"bottle_330ml\""
        );
        let parsed: DrinkEntry =
            serde_json::from_str(r#"{"drink":"fortified_wine","measure":"bottle_75cl","count":0.5}"#).unwrap();
        assert_eq!(parsed, entry(Drink::FortifiedWine, Measure::Bottle75cl, 0.5));
        assert_eq!(Drink::from_code("lager"), None);
        assert_eq!(Measure::from_code("bottle75cl"), None);
    }
}
