//! `GET /fhir/Questionnaire/{id}`: the PAT as an R4 Questionnaire, one per rule (`pat-2009`,
//! `pat-2004`, `sips-pat`; docs/domain.md §3–§4). Each item's `linkId` is the JSON API's answer
//! field (`drinks_alcohol`, `max_units_in_a_day`, …, and `drink`, `measure`, `count` inside the
//! repeating `drinks` group), so a QuestionnaireResponse maps onto `answers` one to one. The
//! follow-on questions carry `enableWhen`: under pat-2009 and pat-2004 everything after Q1 only
//! when the patient drinks; `days_per_week` only when `drinking_frequency` is `weekly`; under
//! sips-pat `heavy_drinking_frequency` only when the attendance is not related.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::resources::meta;
use super::{canonical, profile, respond};
use crate::domain::pat::{DrinkingFrequency, HeavyDrinkingFrequency, PatRule};
use crate::domain::units::{Drink, Measure};
use crate::error::ApiError;

/// The Questionnaires' version: bump it when an item changes (a response names the version it
/// answered).
pub const VERSION: &str = "1.0.0";

/// The canonical URL of a rule's Questionnaire.
pub fn url(rule: PatRule) -> String {
    canonical(&format!("Questionnaire/{}", rule.code()))
}

/// The rule a `questionnaire` canonical names (`…/Questionnaire/pat-2009`, optionally
/// `|version`).
pub fn rule_of(questionnaire: &str) -> Option<PatRule> {
    let url = questionnaire.split('|').next().unwrap_or_default();
    PatRule::ALL.into_iter().find(|rule| self::url(*rule) == url)
}

/// The code system of a choice question's answers, e.g. `…/CodeSystem/drinking-frequency`.
pub fn answer_system(name: &str) -> String {
    canonical(&format!("CodeSystem/{name}"))
}

fn options(system: &str, codes: &[(&str, &str)]) -> Value {
    let system = answer_system(system);
    codes
        .iter()
        .map(|(code, display)| json!({ "valueCoding": { "system": system, "code": code, "display": display } }))
        .collect()
}

fn when_boolean(question: &str, operator: &str, answer: bool) -> Value {
    json!([{ "question": question, "operator": operator, "answerBoolean": answer }])
}

fn when_coding(question: &str, system: &str, code: &str) -> Value {
    json!([{ "question": question, "operator": "=",
             "answerCoding": { "system": answer_system(system), "code": code } }])
}

fn item(link_id: &str, text: &str, kind: &str, required: bool) -> Value {
    json!({ "linkId": link_id, "text": text, "type": kind, "required": required })
}

fn with(mut item: Value, key: &str, value: Value) -> Value {
    if let Some(object) = item.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
    item
}

fn drinking_frequency() -> Value {
    let codes: Vec<(&str, &str)> = DrinkingFrequency::ALL
        .iter()
        .map(|f| {
            (
                f.code(),
                match f {
                    DrinkingFrequency::Daily => "Every day",
                    DrinkingFrequency::Weekly => "Some days a week",
                    DrinkingFrequency::LessThanWeekly => "Less than weekly",
                },
            )
        })
        .collect();
    options("drinking-frequency", &codes)
}

fn heavy_drinking_frequency() -> Value {
    let codes: Vec<(&str, &str)> = HeavyDrinkingFrequency::ALL
        .iter()
        .map(|f| {
            (
                f.code(),
                match f {
                    HeavyDrinkingFrequency::Never => "Never",
                    HeavyDrinkingFrequency::LessThanMonthly => "Less than monthly",
                    HeavyDrinkingFrequency::Monthly => "Monthly",
                    HeavyDrinkingFrequency::Weekly => "Weekly",
                    HeavyDrinkingFrequency::Daily => "Daily or almost daily",
                },
            )
        })
        .collect();
    options("heavy-drinking-frequency", &codes)
}

/// Q2 as the drinks named (docs/domain.md §3's guide): a repeating group of drink, measure and
/// count.
fn drinks_group() -> Value {
    let drinks: Vec<(&str, &str)> = Drink::ALL.iter().map(|d| (d.code(), d.code())).collect();
    let measures: Vec<(&str, &str)> = Measure::ALL.iter().map(|m| (m.code(), m.code())).collect();
    let mut group = item(
        "drinks",
        "Or the drinks named, from the form's unit guide (give this or max_units_in_a_day, not both)",
        "group",
        false,
    );
    group = with(group, "repeats", json!(true));
    with(
        group,
        "item",
        json!([
            with(
                item("drink", "Drink", "choice", true),
                "answerOption",
                options("drink", &drinks)
            ),
            with(
                item("measure", "Measure", "choice", true),
                "answerOption",
                options("measure", &measures)
            ),
            item("count", "How many (may be fractional, not negative)", "decimal", true),
        ]),
    )
}

/// The items of a rule's Questionnaire, in the order of the form.
pub fn items(rule: PatRule) -> Vec<Value> {
    let drinks = when_boolean("drinks_alcohol", "=", true);
    let drinks_alcohol = item(
        "drinks_alcohol",
        "Do you drink alcohol?",
        "boolean",
        rule != PatRule::SipsPat,
    );
    let units = with(
        item(
            "max_units_in_a_day",
            "What is the most you will drink in any one day? (UK units; or answer drinks)",
            "decimal",
            false,
        ),
        "enableWhen",
        drinks.clone(),
    );
    let drinks_named = with(drinks_group(), "enableWhen", drinks.clone());
    let frequency = with(
        with(
            item(
                "drinking_frequency",
                "How often do you drink?",
                "choice",
                rule == PatRule::Pat2009,
            ),
            "answerOption",
            drinking_frequency(),
        ),
        "enableWhen",
        drinks.clone(),
    );
    let days = with(
        item("days_per_week", "How many days a week? (1 to 6)", "integer", true),
        "enableWhen",
        when_coding(
            "drinking_frequency",
            "drinking-frequency",
            DrinkingFrequency::Weekly.code(),
        ),
    );
    let heavy = with(
        item(
            "heavy_drinking_frequency",
            "How often do you have 8 (men) / 6 (women) or more units on one occasion?",
            "choice",
            true,
        ),
        "answerOption",
        heavy_drinking_frequency(),
    );
    let related = item(
        "attendance_related",
        "Do you feel your attendance at A&E is related to alcohol?",
        "boolean",
        true,
    );
    match rule {
        PatRule::Pat2009 => vec![
            drinks_alcohol,
            units,
            drinks_named,
            frequency,
            days,
            with(related, "enableWhen", drinks),
        ],
        PatRule::Pat2004 => vec![
            drinks_alcohol,
            units,
            drinks_named,
            with(heavy, "enableWhen", drinks.clone()),
            frequency,
            days,
            with(related, "enableWhen", drinks),
        ],
        PatRule::SipsPat => {
            let drinks_or_unanswered = when_boolean("drinks_alcohol", "!=", false);
            vec![
                drinks_alcohol,
                with(related, "enableWhen", drinks_or_unanswered.clone()),
                with(heavy, "enableWhen", when_boolean("attendance_related", "=", false)),
                units,
                drinks_named,
                frequency,
                days,
            ]
        }
    }
}

/// A rule's Questionnaire.
pub fn questionnaire(rule: PatRule) -> Value {
    let title = match rule {
        PatRule::Pat2009 => "Paddington Alcohol Test (PAT 2009)",
        PatRule::Pat2004 => "Paddington Alcohol Test (2004 rule: 8/6 or more at least weekly)",
        PatRule::SipsPat => "Paddington Alcohol Test (SIPS two-question variant)",
    };
    json!({
        "resourceType": "Questionnaire",
        "id": rule.code(),
        "meta": meta(profile::QUESTIONNAIRE),
        "url": url(rule),
        "version": VERSION,
        "name": rule.code().replace('-', "_").to_uppercase(),
        "title": title,
        "status": "active",
        "subjectType": ["Patient"],
        "item": items(rule),
    })
}

/// `GET /fhir/Questionnaire/{id}`: no authentication (a form definition carries no patient
/// data). An unknown id is a 404 OperationOutcome.
pub async fn read(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let rule = PatRule::from_code(&id)
        .ok_or_else(|| ApiError::NotFound("no Questionnaire with that id (pat-2009, pat-2004, sips-pat)".into()))?;
    Ok(respond(StatusCode::OK, &questionnaire(rule)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canonical_with_or_without_its_version_names_its_rule() {
        assert_eq!(
            rule_of("https://pat-service.nhs.uk/fhir/Questionnaire/pat-2004|1.0.0"),
            Some(PatRule::Pat2004)
        );
        assert_eq!(
            rule_of("https://pat-service.nhs.uk/fhir/Questionnaire/sips-pat"),
            Some(PatRule::SipsPat)
        );
        assert_eq!(rule_of("https://elsewhere.example/Questionnaire/pat-2009"), None);
    }
}
