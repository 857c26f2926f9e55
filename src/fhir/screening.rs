//! `POST /fhir/QuestionnaireResponse`: a completed PAT, answered with its scored result as an
//! Observation.
//!
//! The response names the rule by its Questionnaire (`questionnaire`, a canonical of
//! `questionnaire`), the attendance by `encounter` (`Encounter/{id}`), and gives the answers by
//! linkId, which are the JSON API's answer names. It becomes the JSON API's
//! `RecordScreeningRequest` and is recorded by the same store call as
//! `PUT /api/v1/attendances/{id}/screening`: the same scoring, corrections and audit events.
//! First recording 201; a correction or an unchanged replay 200.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::questionnaire::{self, answer_system};
use super::resources::{coding, meta, Coding, Identifier, Reference};
use super::{canonical, parse_resource, profile, reference_id, rename_fields, respond};
use crate::api::parse_body;
use crate::api::screenings::{RecordScreening, RecordScreeningRequest};
use crate::api::views::ScreeningView;
use crate::api::AppState;
use crate::auth::Authorized;
use crate::domain::pat::{Answers, PatResult, ScreeningStatus, POSITIVE_FEEDBACK};
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::store::screenings::ScreeningRecorded;

/// SNOMED CT 442547005, "number of alcohol units consumed on heaviest drinking day"
/// (docs/domain.md §9): the code of the units component.
const UNITS_ON_HEAVIEST_DAY: &str = "442547005";

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct QuestionnaireResponseIn {
    #[serde(default)]
    identifier: Option<Identifier>,
    #[serde(default)]
    questionnaire: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    encounter: Option<Reference>,
    #[serde(default)]
    authored: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    item: Vec<Item>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Item {
    link_id: String,
    #[serde(default)]
    answer: Vec<Answer>,
    #[serde(default)]
    item: Vec<Item>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    value_boolean: Option<bool>,
    #[serde(default)]
    value_decimal: Option<f64>,
    #[serde(default)]
    value_integer: Option<i64>,
    #[serde(default)]
    value_coding: Option<Coding>,
    #[serde(default)]
    value_string: Option<String>,
}

impl Answer {
    /// The answer as the JSON API's value: a boolean, a number, or a code.
    fn value(&self) -> Value {
        if let Some(b) = self.value_boolean {
            json!(b)
        } else if let Some(n) = self.value_decimal {
            json!(n)
        } else if let Some(n) = self.value_integer {
            json!(n)
        } else if let Some(code) = self.value_coding.as_ref().and_then(|c| c.code.clone()) {
            json!(code)
        } else if let Some(text) = &self.value_string {
            json!(text)
        } else {
            Value::Null
        }
    }
}

/// The item of `linkId` (`…item.where(linkId='drinks')[1].item.where(linkId='count')`).
fn item_expression(path: &str) -> String {
    let mut expression = "QuestionnaireResponse".to_owned();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, Some(rest.trim_end_matches(']'))),
            None => (part, None),
        };
        expression.push_str(&format!(".item.where(linkId='{name}')"));
        if let Some(index) = index {
            expression.push_str(&format!("[{index}]"));
        }
    }
    expression
}

/// The JSON API's field → the response's element.
fn expression(field: &str) -> String {
    match field {
        "answers" => "QuestionnaireResponse.item".into(),
        "screened_at" => "QuestionnaireResponse.authored".into(),
        other => item_expression(other.strip_prefix("answers.").unwrap_or(other)),
    }
}

/// The items as the JSON API's `answers` object; a linkId the Questionnaire does not have is an
/// error.
fn answers_json(items: &[Item], known: &[String], errors: &mut Vec<FieldError>) -> Value {
    let mut answers = Map::new();
    let mut drinks = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if !known.contains(&item.link_id) {
            errors.push(FieldError::new(
                format!("QuestionnaireResponse.item[{i}].linkId"),
                "not an item of the Questionnaire",
            ));
        } else if item.link_id == "drinks" {
            let mut drink = Map::new();
            for child in &item.item {
                if let Some(answer) = child.answer.first() {
                    drink.insert(child.link_id.clone(), answer.value());
                }
            }
            drinks.push(Value::Object(drink));
        } else if let Some(answer) = item.answer.first() {
            answers.insert(item.link_id.clone(), answer.value());
        }
    }
    if !drinks.is_empty() {
        answers.insert("drinks".into(), Value::Array(drinks));
    }
    Value::Object(answers)
}

/// A screening's result as a UK Core Observation: the result (positive or negative) as
/// `valueCodeableConcept`, the rule as `method`, the units, alerts and next steps as components,
/// and the feedback wording and next steps as a note.
pub fn render(view: &ScreeningView, source: Option<&Identifier>) -> Value {
    let observation_code = |code: &str, display: &str| json!({ "coding": [coding(&canonical("CodeSystem/pat-observation"), code, Some(display))] });
    let mut components = Vec::new();
    if let Some(units) = view.units {
        components.push(json!({
            "code": { "coding": [coding(super::encounter::SNOMED, UNITS_ON_HEAVIEST_DAY, None)],
                      "text": "Units of alcohol on the heaviest drinking day" },
            "valueQuantity": { "value": units, "unit": "UK units" },
        }));
    }
    for alert in &view.alerts {
        components.push(json!({
            "code": observation_code("alert", "Clinical alert"),
            "valueCodeableConcept": { "coding": [coding(&answer_system("pat-alert"), alert.code(), None)] },
        }));
    }
    for step in &view.next_steps {
        components.push(json!({
            "code": observation_code("next-step", "Next step"),
            "valueCodeableConcept": { "coding": [coding(&answer_system("pat-next-step"), step.code(), None)] },
        }));
    }
    let steps: Vec<&str> = view.next_steps.iter().map(|s| s.code()).collect();
    let mut notes = Vec::new();
    if view.result == Some(PatResult::Positive) {
        notes.push(json!({ "text": format!("Feedback: \"{POSITIVE_FEEDBACK}\"") }));
    }
    if !steps.is_empty() {
        notes.push(json!({ "text": format!("Next steps: {}", steps.join(", ")) }));
    }
    let mut derived_from = json!({
        "type": "QuestionnaireResponse",
        "display": format!("PAT answers ({})", view.rule.map(|r| r.code()).unwrap_or("not completed")),
    });
    if let Some(identifier) = source {
        derived_from["identifier"] = json!({ "system": identifier.system, "value": identifier.value });
    }
    let mut observation = json!({
        "resourceType": "Observation",
        "id": format!("{}-screening-{}", view.attendance_id, view.version),
        "meta": meta(profile::OBSERVATION),
        "status": if view.version > 1 { "amended" } else { "final" },
        "category": [{ "coding": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "survey", Some("Survey"))] }],
        "code": observation_code("pat-result", "Paddington Alcohol Test result"),
        "encounter": { "reference": format!("Encounter/{}", view.attendance_id) },
        "effectiveDateTime": view.screened_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "issued": view.recorded_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "derivedFrom": [derived_from],
    });
    if let Some(result) = view.result {
        observation["valueCodeableConcept"] = json!({
            "coding": [coding(&answer_system("pat-result"), result.code(), None)],
            "text": result.code(),
        });
    }
    if let Some(rule) = view.rule {
        observation["method"] = json!({
            "coding": [coding(&answer_system("pat-rule"), rule.code(), None)],
            "text": questionnaire::url(rule),
        });
    }
    if !components.is_empty() {
        observation["component"] = Value::Array(components);
    }
    if !notes.is_empty() {
        observation["note"] = Value::Array(notes);
    }
    observation
}

/// `POST /fhir/QuestionnaireResponse`.
pub async fn create(
    auth: Authorized<RecordScreening>,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let response: QuestionnaireResponseIn = parse_resource("QuestionnaireResponse", body.into_inner())?;
    let mut errors = Vec::new();
    let rule = response.questionnaire.as_deref().and_then(questionnaire::rule_of);
    if rule.is_none() {
        errors.push(FieldError::new(
            "QuestionnaireResponse.questionnaire",
            format!(
                "must be {}, {} or {}",
                questionnaire::url(crate::domain::pat::PatRule::Pat2009),
                questionnaire::url(crate::domain::pat::PatRule::Pat2004),
                questionnaire::url(crate::domain::pat::PatRule::SipsPat)
            ),
        ));
    }
    if !matches!(response.status.as_deref(), Some("completed" | "amended")) {
        errors.push(FieldError::new(
            "QuestionnaireResponse.status",
            "must be completed or amended (a PAT not done is recorded through the JSON API)",
        ));
    }
    let attendance = reference_id(
        "QuestionnaireResponse.encounter",
        "Encounter",
        response.encounter.as_ref().and_then(|r| r.reference.as_deref()),
    );
    if let Err(ApiError::Validation(e)) = &attendance {
        errors.extend(e.iter().cloned());
    }
    let known: Vec<String> = rule
        .map(|rule| {
            questionnaire::items(rule)
                .iter()
                .filter_map(|i| i["linkId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let answers = answers_json(&response.item, &known, &mut errors);
    let (Some(rule), Ok(attendance), true) = (rule, attendance, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let answers: Answers = parse_body(answers).map_err(|e| rename_fields(e, item_expression))?;
    let request = RecordScreeningRequest {
        status: ScreeningStatus::Completed,
        screened_at: response.authored,
        rule: Some(rule),
        answers: Some(answers),
        advice_given: None,
        leaflet_given: None,
    };
    let input = request
        .into_input(state.settings.default_rule)
        .map_err(|e| rename_fields(e, expression))?;
    let now = state.settings.clock.now();
    let (status, row) = match state
        .store
        .screenings()
        .record(attendance, input, now, &auth.actor())
        .await
        .map_err(|e| rename_fields(e.into(), expression))?
    {
        ScreeningRecorded::First(row) => (StatusCode::CREATED, row),
        ScreeningRecorded::Corrected(row) | ScreeningRecorded::Replay(row) => (StatusCode::OK, row),
    };
    Ok(respond(
        status,
        &render(&ScreeningView::from(&row), response.identifier.as_ref()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_field_is_named_by_its_items_link_ids() {
        assert_eq!(
            expression("answers.drinks[1].count"),
            "QuestionnaireResponse.item.where(linkId='drinks')[1].item.where(linkId='count')"
        );
        assert_eq!(
            expression("answers.drinks_alcohol"),
            "QuestionnaireResponse.item.where(linkId='drinks_alcohol')"
        );
        assert_eq!(expression("screened_at"), "QuestionnaireResponse.authored");
    }
}
