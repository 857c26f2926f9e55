//! The FHIR R4 facade under `/fhir` (docs/design.md §11): CapabilityStatement, the PAT
//! Questionnaires, Encounter create (conditional), QuestionnaireResponse → Observation, and
//! every error as an OperationOutcome. Expected values are worked out by hand from
//! docs/domain.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::{json, Value};

use chrono::{Duration, Timelike};

use crate::helpers::attendance_body;
use crate::helpers::{spawn_app, TestApp};
use crate::scheduling_helpers::{
    accepted_attendance, cancel, completed, decide, events_about, health_worker, json_with, london, london_today, now,
    positive_answers, rfc, screen, slot_at, BOOKINGS,
};

const FHIR_JSON: &str = "application/fhir+json";
const NHS: &str = "https://fhir.nhs.uk/Id/nhs-number";
const BASE: &str = "https://pat-service.nhs.uk/fhir/";

fn encounter(identifier: &str, nhs_number: &str) -> Value {
    json!({
        "resourceType": "Encounter",
        "identifier": [{ "system": "https://ed.example.nhs.uk/attendance", "value": identifier }],
        "status": "arrived",
        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER" },
        "subject": { "identifier": { "system": NHS, "value": nhs_number } },
        "period": { "start": "2025-03-01T10:00:00Z" },
        // SNOMED CT 161898004 "falls": the ECDS chief complaint.
        "reasonCode": [{ "coding": [{ "system": "http://snomed.info/sct", "code": "161898004" }] }],
    })
}

async fn post_fhir(
    app: &TestApp,
    path: &str,
    role: &str,
    body: &Value,
    if_none_exist: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .bearer_auth(app.token(role))
        .header("content-type", FHIR_JSON)
        .body(body.to_string());
    if let Some(condition) = if_none_exist {
        request = request.header("If-None-Exist", condition);
    }
    request.send().await.unwrap()
}

/// Asserts the status and a FHIR body of `resource_type`; returns it (and the headers).
async fn fhir(response: reqwest::Response, status: u16, resource_type: &str) -> (Value, reqwest::header::HeaderMap) {
    let actual = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "status; body: {text}");
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with(FHIR_JSON),
        "content type {content_type:?}; body: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["resourceType"], resource_type, "{body}");
    (body, headers)
}

async fn outcome(response: reqwest::Response, status: u16) -> Value {
    let (body, _) = fhir(response, status, "OperationOutcome").await;
    let issues = body["issue"].as_array().unwrap();
    assert!(!issues.is_empty(), "{body}");
    for issue in issues {
        assert_eq!(issue["severity"], "error", "{body}");
        assert!(issue["code"].is_string(), "{body}");
    }
    body
}

fn expressions(outcome: &Value) -> Vec<String> {
    outcome["issue"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["expression"].as_array().cloned().unwrap_or_default())
        .map(|e| e.as_str().unwrap().to_owned())
        .collect()
}

async fn create_encounter(app: &TestApp, identifier: &str) -> String {
    let response = post_fhir(
        app,
        "/fhir/Encounter",
        "integration",
        &encounter(identifier, "9434765919"),
        None,
    )
    .await;
    let (body, _) = fhir(response, 201, "Encounter").await;
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn metadata_lists_exactly_what_is_routed() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/fhir/metadata")).send().await.unwrap();
    let (statement, _) = fhir(response, 200, "CapabilityStatement").await;
    assert_eq!(statement["fhirVersion"], "4.0.1");
    let resources = statement["rest"][0]["resource"].as_array().unwrap();
    let listed: BTreeSet<(String, String)> = resources
        .iter()
        .flat_map(|r| {
            let kind = r["type"].as_str().unwrap().to_owned();
            r["interaction"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |i| (kind.clone(), i["code"].as_str().unwrap().to_owned()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("Encounter", "create"),
        ("Encounter", "read"),
        ("Questionnaire", "read"),
        ("QuestionnaireResponse", "create"),
        ("Schedule", "search-type"),
        ("Slot", "search-type"),
        ("Appointment", "search-type"),
        ("Appointment", "create"),
        ("Appointment", "read"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(listed, expected);
    let encounter = resources.iter().find(|r| r["type"] == "Encounter").unwrap();
    assert_eq!(encounter["conditionalCreate"], true);
    // Each listed interaction is routed: a read of something that exists answers 200 (an
    // Appointment: 404 OperationOutcome for a well-formed id nobody has, not 405), a create of an
    // empty resource 422 (not 404 or 405).
    let encounter_id = create_encounter(&app, "ED-0").await;
    for (kind, interaction) in &listed {
        let (response, expected) = match (kind.as_str(), interaction.as_str()) {
            ("Encounter", "read") => (
                app.get(&format!("/fhir/Encounter/{encounter_id}"), "clinician").await,
                200,
            ),
            ("Appointment", "read") => (app.get(&format!("/fhir/Appointment/{encounter_id}"), "ahw").await, 404),
            (_, "read") => (app.get(&format!("/fhir/{kind}/pat-2009"), "clinician").await, 200),
            (_, "search-type") => (app.get(&format!("/fhir/{kind}"), "admin").await, 200),
            _ => (
                post_fhir(&app, &format!("/fhir/{kind}"), "clinician", &json!({}), None).await,
                422,
            ),
        };
        assert_eq!(response.status().as_u16(), expected, "{kind} {interaction}");
    }
    // And one that is not listed is not.
    let response = app.get("/fhir/Patient/1", "clinician").await;
    outcome(response, 404).await;
}

#[tokio::test]
async fn questionnaire_link_ids_are_the_json_apis_answer_names_with_enable_when() {
    let app = spawn_app().await;
    // The JSON API's answer names, from its committed OpenAPI document.
    let document: Value = serde_json::from_str(&std::fs::read_to_string("openapi/openapi.json").unwrap()).unwrap();
    let answer_names: BTreeSet<String> = document["components"]["schemas"]["Answers"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let drink_names: BTreeSet<String> = document["components"]["schemas"]["DrinkEntry"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut all_link_ids = BTreeSet::new();
    for rule in ["pat-2009", "pat-2004", "sips-pat"] {
        let response = app
            .client
            .get(app.url(&format!("/fhir/Questionnaire/{rule}")))
            .send()
            .await
            .unwrap();
        let (questionnaire, _) = fhir(response, 200, "Questionnaire").await;
        assert_eq!(questionnaire["url"], format!("{BASE}Questionnaire/{rule}"));
        assert!(questionnaire["version"].is_string());
        let items = questionnaire["item"].as_array().unwrap();
        for item in items {
            let link_id = item["linkId"].as_str().unwrap().to_owned();
            assert!(
                answer_names.contains(&link_id),
                "{rule}: {link_id} is not an answer name"
            );
            all_link_ids.insert(link_id);
        }
        let item = |link_id: &str| items.iter().find(|i| i["linkId"] == link_id).unwrap().clone();
        let drinks = item("drinks");
        assert_eq!(drinks["repeats"], true);
        let children: BTreeSet<String> = drinks["item"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["linkId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(children, drink_names, "{rule}: the drinks group's items");
        // days_per_week only when drinking_frequency is weekly (docs/domain.md §3).
        let days = item("days_per_week");
        assert_eq!(days["enableWhen"][0]["question"], "drinking_frequency");
        assert_eq!(days["enableWhen"][0]["answerCoding"]["code"], "weekly");
        let frequency_codes: Vec<String> = item("drinking_frequency")["answerOption"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["valueCoding"]["code"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(frequency_codes, ["daily", "weekly", "less_than_weekly"]);
        match rule {
            // A "no" to Q1 ends the test: the other questions only when the patient drinks.
            "pat-2009" | "pat-2004" => {
                let related = item("attendance_related");
                assert_eq!(related["enableWhen"][0]["question"], "drinks_alcohol");
                assert_eq!(related["enableWhen"][0]["answerBoolean"], true);
                assert_eq!(item("drinks_alcohol")["required"], true);
            }
            // sips-pat: heavy drinking is asked only when the attendance is not related.
            _ => {
                let heavy = item("heavy_drinking_frequency");
                assert_eq!(heavy["enableWhen"][0]["question"], "attendance_related");
                assert_eq!(heavy["enableWhen"][0]["answerBoolean"], false);
            }
        }
        if rule == "pat-2009" {
            assert!(items.iter().all(|i| i["linkId"] != "heavy_drinking_frequency"));
        }
    }
    assert_eq!(
        all_link_ids, answer_names,
        "the three Questionnaires together ask every answer"
    );

    let response = app
        .client
        .get(app.url("/fhir/Questionnaire/pat-1996"))
        .send()
        .await
        .unwrap();
    let body = outcome(response, 404).await;
    assert_eq!(body["issue"][0]["code"], "not-found");
}

#[tokio::test]
async fn an_encounter_is_recorded_as_an_attendance_visible_in_the_json_api() {
    let app = spawn_app().await;
    let response = post_fhir(
        &app,
        "/fhir/Encounter",
        "integration",
        &encounter("ED-1", "943 476 5919"),
        None,
    )
    .await;
    let (created, headers) = fhir(response, 201, "Encounter").await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(headers["location"].to_str().unwrap(), format!("/fhir/Encounter/{id}"));
    assert_eq!(created["class"]["code"], "EMER");
    assert_eq!(created["subject"]["identifier"]["value"], "9434765919");
    assert_eq!(
        created["meta"]["profile"][0],
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter"
    );

    let response = app.get(&format!("/api/v1/attendances/{id}"), "clinician").await;
    assert_eq!(response.status().as_u16(), 200);
    let attendance: Value = response.json().await.unwrap();
    assert_eq!(attendance["source_system"], "https://ed.example.nhs.uk/attendance");
    assert_eq!(attendance["source_id"], "ED-1");
    assert_eq!(attendance["patient"]["nhs_number"], "9434765919");
    assert_eq!(attendance["arrived_at"], "2025-03-01T10:00:00Z");
    // 161898004 (falls) is mapped to the PAT condition `fall` (docs/domain.md §9).
    assert_eq!(attendance["presenting_condition"], "fall");
    assert_eq!(attendance["pat_indicated"], true);

    let response = app.get(&format!("/fhir/Encounter/{id}"), "ahw").await;
    let (read, _) = fhir(response, 200, "Encounter").await;
    assert_eq!(read["id"], created["id"]);
    assert_eq!(read["period"]["start"], "2025-03-01T10:00:00Z");
    assert_eq!(read["status"], "unknown");

    // Marked entered-in-error through the JSON API, the Encounter says so (docs/domain.md §10.1).
    let response = app
        .post_json(
            &format!("/api/v1/attendances/{id}/entered-in-error"),
            "clinician",
            &json!({ "reason": "sent twice by the EPR" }),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let response = app.get(&format!("/fhir/Encounter/{id}"), "clinician").await;
    assert_eq!(fhir(response, 200, "Encounter").await.0["status"], "entered-in-error");
}

#[tokio::test]
async fn a_contained_patient_gives_the_local_number_sex_and_date_of_birth() {
    let app = spawn_app().await;
    let mut body = encounter("ED-2", "9434765919");
    body["contained"] = json!([{
        "resourceType": "Patient", "id": "p",
        "identifier": [{ "system": "https://pas.example.nhs.uk", "value": "H123" }],
        "gender": "male", "birthDate": "1980-05-17",
    }]);
    body["subject"] = json!({ "reference": "#p" });
    body["reasonCode"] =
        json!([{ "coding": [{ "system": format!("{BASE}CodeSystem/pat-presenting-condition"), "code": "assault" }] }]);
    let (created, _) = fhir(
        post_fhir(&app, "/fhir/Encounter", "clinician", &body, None).await,
        201,
        "Encounter",
    )
    .await;
    let attendance: Value = app
        .get(
            &format!("/api/v1/attendances/{}", created["id"].as_str().unwrap()),
            "clinician",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attendance["patient"]["local_id"], "H123");
    assert_eq!(attendance["patient"]["local_id_system"], "pas.example.nhs.uk");
    assert_eq!(attendance["patient"]["nhs_number"], Value::Null);
    assert_eq!(attendance["patient"]["sex"], "male");
    assert_eq!(attendance["patient"]["date_of_birth"], "1980-05-17");
    assert_eq!(attendance["presenting_condition"], "assault");
    assert_eq!(created["subject"]["identifier"]["system"], "https://pas.example.nhs.uk");
}

#[tokio::test]
async fn a_conditional_create_replayed_gives_the_same_id_and_one_attendance() {
    let app = spawn_app().await;
    let condition = Some("identifier=https://ed.example.nhs.uk/attendance|ED-3");
    let body = encounter("ED-3", "9434765919");
    let (first, _) = fhir(
        post_fhir(&app, "/fhir/Encounter", "integration", &body, condition).await,
        201,
        "Encounter",
    )
    .await;
    let (again, _) = fhir(
        post_fhir(&app, "/fhir/Encounter", "integration", &body, condition).await,
        200,
        "Encounter",
    )
    .await;
    assert_eq!(first["id"], again["id"]);
    // The same key through the JSON API is the same attendance too.
    let json_body = json!({
        "source_system": "https://ed.example.nhs.uk/attendance", "source_id": "ED-3",
        "patient": { "nhs_number": "9434765919" }, "arrived_at": "2025-03-01T10:00:00Z",
        "presenting_condition_snomed": "161898004",
    });
    let response = app.post_json("/api/v1/attendances", "integration", &json_body).await;
    assert_eq!(response.status().as_u16(), 200);
    let replayed: Value = response.json().await.unwrap();
    assert_eq!(replayed["id"], first["id"]);
    let created = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e["action"] == "create" && e["resource_type"] == "attendance")
        .count();
    assert_eq!(created, 1, "one attendance created");
}

#[tokio::test]
async fn a_different_encounter_under_the_same_identifier_is_a_409_operation_outcome() {
    let app = spawn_app().await;
    create_encounter(&app, "ED-4").await;
    let mut changed = encounter("ED-4", "9434765919");
    changed["period"]["start"] = json!("2025-03-01T11:00:00Z");
    let condition = Some("identifier=https://ed.example.nhs.uk/attendance%7CED-4");
    let body = outcome(
        post_fhir(&app, "/fhir/Encounter", "integration", &changed, condition).await,
        409,
    )
    .await;
    assert_eq!(body["issue"][0]["code"], "duplicate");
    assert_eq!(body["issue"][0]["details"]["coding"][0]["code"], "idempotency-conflict");
}

#[tokio::test]
async fn a_bad_nhs_number_is_a_422_naming_the_element() {
    let app = spawn_app().await;
    // 9434765918: the last digit is not the check digit (9434765919 is valid).
    let response = post_fhir(
        &app,
        "/fhir/Encounter",
        "integration",
        &encounter("ED-5", "9434765918"),
        None,
    )
    .await;
    let body = outcome(response, 422).await;
    assert_eq!(expressions(&body), ["Encounter.subject.identifier.value"]);
    assert_eq!(body["issue"][0]["code"], "invalid");

    // Several problems at once, each named.
    let mut bad = encounter("ED-6", "9434765919");
    bad["class"]["code"] = json!("AMB");
    bad["period"] = json!({});
    bad.as_object_mut().unwrap().remove("identifier");
    let body = outcome(post_fhir(&app, "/fhir/Encounter", "integration", &bad, None).await, 422).await;
    let found: BTreeSet<String> = expressions(&body).into_iter().collect();
    let expected: BTreeSet<String> = ["Encounter.identifier", "Encounter.class", "Encounter.period.start"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, expected);

    // No reasonCode: the problem in the Encounter's words, not the JSON API's field names.
    let mut bare = encounter("ED-9", "9434765919");
    bare.as_object_mut().unwrap().remove("reasonCode");
    let body = outcome(
        post_fhir(&app, "/fhir/Encounter", "integration", &bare, None).await,
        422,
    )
    .await;
    assert_eq!(expressions(&body), ["Encounter.reasonCode"]);
    assert_eq!(
        body["issue"][0]["diagnostics"],
        format!(
            "give reasonCode: a SNOMED CT chief complaint (http://snomed.info/sct) or a PAT presenting \
             condition ({BASE}CodeSystem/pat-presenting-condition), or both"
        ),
        "{body}"
    );
    assert!(!body.to_string().contains("presenting_condition"), "{body}");

    // An If-None-Exist naming another identifier.
    let response = post_fhir(
        &app,
        "/fhir/Encounter",
        "integration",
        &encounter("ED-7", "9434765919"),
        Some("identifier=https://ed.example.nhs.uk/attendance|ED-8"),
    )
    .await;
    assert_eq!(expressions(&outcome(response, 422).await), ["Encounter.identifier"]);
    // A wrong resource type.
    let response = post_fhir(
        &app,
        "/fhir/Encounter",
        "integration",
        &json!({"resourceType": "Patient"}),
        None,
    )
    .await;
    assert_eq!(expressions(&outcome(response, 422).await), ["Encounter.resourceType"]);
}

#[tokio::test]
async fn every_error_under_fhir_is_an_operation_outcome() {
    let app = spawn_app().await;
    let body = encounter("ED-9", "9434765919");
    // 401: no token.
    let response = app
        .client
        .post(app.url("/fhir/Encounter"))
        .header("content-type", FHIR_JSON)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(outcome(response, 401).await["issue"][0]["code"], "login");
    // 403: an auditor may not record attendances.
    let response = post_fhir(&app, "/fhir/Encounter", "auditor", &body, None).await;
    assert_eq!(outcome(response, 403).await["issue"][0]["code"], "forbidden");
    let response = post_fhir(&app, "/fhir/QuestionnaireResponse", "auditor", &json!({}), None).await;
    outcome(response, 403).await;
    // 415: not JSON.
    let response = app
        .client
        .post(app.url("/fhir/Encounter"))
        .bearer_auth(app.token("integration"))
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    outcome(response, 415).await;
    // 413: over the 1 MiB limit.
    let mut big = body.clone();
    big["text"] = json!({ "status": "generated", "div": "x".repeat(1024 * 1024 + 1) });
    let response = post_fhir(&app, "/fhir/Encounter", "integration", &big, None).await;
    assert_eq!(outcome(response, 413).await["issue"][0]["code"], "too-long");
    // 400: not JSON at all.
    let response = app
        .client
        .post(app.url("/fhir/Encounter"))
        .bearer_auth(app.token("integration"))
        .header("content-type", FHIR_JSON)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let body = outcome(response, 400).await;
    assert_eq!(body["issue"][0]["code"], "structure");
    assert!(
        body["issue"][0].get("expression").is_none(),
        "the body is not an element: {body}"
    );
    // 404: no such Encounter.
    let response = app
        .get("/fhir/Encounter/0190f0e2-0000-7000-8000-000000000001", "clinician")
        .await;
    outcome(response, 404).await;
    // 405: a method the path does not serve, with the methods it does.
    let response = app.get("/fhir/QuestionnaireResponse", "clinician").await;
    assert_eq!(response.headers()["allow"].to_str().unwrap(), "POST");
    assert_eq!(outcome(response, 405).await["issue"][0]["code"], "not-supported");
    // The JSON API still answers problem+json.
    let response = app.post_json("/api/v1/attendances", "auditor", &json!({})).await;
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
}

fn answer(link_id: &str, value: Value) -> Value {
    json!({ "linkId": link_id, "answer": [value] })
}

/// POSTs a QuestionnaireResponse of `rule` for the Encounter, as `role`.
async fn send_response(app: &TestApp, role: &str, encounter_id: &str, rule: &str, items: Value) -> reqwest::Response {
    let body = response_for(encounter_id, rule, items);
    post_fhir(app, "/fhir/QuestionnaireResponse", role, &body, None).await
}

fn response_for(encounter_id: &str, rule: &str, items: Value) -> Value {
    json!({
        "resourceType": "QuestionnaireResponse",
        "questionnaire": format!("{BASE}Questionnaire/{rule}"),
        "status": "completed",
        "encounter": { "reference": format!("Encounter/{encounter_id}") },
        "authored": "2025-03-01T11:00:00Z",
        "item": items,
    })
}

#[tokio::test]
async fn a_questionnaire_response_is_scored_as_an_observation() {
    let app = spawn_app().await;
    let id = create_encounter(&app, "ED-10").await;
    // pat-2009, sex unknown (the Encounter gave none): threshold 6, "more than". Two pints
    // (2 × 2 = 4) and a 75cl bottle of wine (9) are 13 units: positive. Daily drinking raises
    // possible_dependence (docs/domain.md §3, §4).
    let items = json!([
        answer("drinks_alcohol", json!({ "valueBoolean": true })),
        { "linkId": "drinks", "item": [
            answer("drink", json!({ "valueCoding": { "code": "beer" } })),
            answer("measure", json!({ "valueCoding": { "code": "pint" } })),
            answer("count", json!({ "valueDecimal": 2 })),
        ]},
        { "linkId": "drinks", "item": [
            answer("drink", json!({ "valueCoding": { "code": "wine" } })),
            answer("measure", json!({ "valueCoding": { "code": "bottle_75cl" } })),
            answer("count", json!({ "valueDecimal": 1 })),
        ]},
        answer("drinking_frequency", json!({ "valueCoding": { "code": "daily" } })),
        answer("attendance_related", json!({ "valueBoolean": false })),
    ]);
    let response = send_response(&app, "clinician", &id, "pat-2009", items).await;
    let (observation, _) = fhir(response, 201, "Observation").await;
    assert_eq!(observation["valueCodeableConcept"]["coding"][0]["code"], "positive");
    assert_eq!(observation["method"]["coding"][0]["code"], "pat-2009");
    assert_eq!(observation["encounter"]["reference"], format!("Encounter/{id}"));
    assert_eq!(observation["status"], "final");
    assert_eq!(observation["derivedFrom"][0]["type"], "QuestionnaireResponse");
    let components = observation["component"].as_array().unwrap();
    let units = components
        .iter()
        .find(|c| c["code"]["coding"][0]["code"] == "442547005")
        .unwrap();
    assert_eq!(units["valueQuantity"]["value"], 13.0);
    let coded = |code: &str| -> Vec<String> {
        components
            .iter()
            .filter(|c| c["code"]["coding"][0]["code"] == code)
            .map(|c| {
                c["valueCodeableConcept"]["coding"][0]["code"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(coded("alert"), ["possible_dependence"]);
    assert_eq!(
        coded("next-step"),
        ["give_advice", "offer_leaflet", "offer_ahw_appointment"]
    );
    assert!(observation["note"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Can we advise that your drinking is harming your health"));

    // The same screening is the JSON API's.
    let attendance: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attendance["screening"]["result"], "positive");
    assert_eq!(attendance["screening"]["units"], 13.0);
}

#[tokio::test]
async fn a_non_drinker_under_sips_pat_is_negative_and_a_missing_answer_is_named() {
    let app = spawn_app().await;
    let id = create_encounter(&app, "ED-11").await;
    // sips-pat: "does not drink" alone is negative (docs/domain.md §4); no next steps.
    let items = json!([answer("drinks_alcohol", json!({ "valueBoolean": false }))]);
    let response = send_response(&app, "integration", &id, "sips-pat", items).await;
    let (observation, _) = fhir(response, 201, "Observation").await;
    assert_eq!(observation["valueCodeableConcept"]["coding"][0]["code"], "negative");
    assert!(observation.get("note").is_none());

    // pat-2004, a drinker without the heavy-drinking frequency: 422 naming that item.
    let id = create_encounter(&app, "ED-12").await;
    let items = json!([
        answer("drinks_alcohol", json!({ "valueBoolean": true })),
        answer("max_units_in_a_day", json!({ "valueDecimal": 9 })),
        answer("attendance_related", json!({ "valueBoolean": false })),
    ]);
    let response = send_response(&app, "integration", &id, "pat-2004", items).await;
    let body = outcome(response, 422).await;
    assert_eq!(
        expressions(&body),
        ["QuestionnaireResponse.item.where(linkId='heavy_drinking_frequency')"]
    );
    // An item pat-2009 does not have, and an unknown Encounter.
    let items = json!([answer(
        "heavy_drinking_frequency",
        json!({ "valueCoding": { "code": "weekly" } })
    )]);
    let response = send_response(&app, "integration", &id, "pat-2009", items).await;
    assert_eq!(
        expressions(&outcome(response, 422).await),
        ["QuestionnaireResponse.item[0].linkId"]
    );
    let items = json!([answer("drinks_alcohol", json!({ "valueBoolean": false }))]);
    let unknown = "0190f0e2-0000-7000-8000-000000000001";
    let response = send_response(&app, "integration", unknown, "pat-2009", items).await;
    outcome(response, 404).await;
}

fn appointment(encounter_id: &str, slot_id: &str) -> Value {
    json!({
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{ "reference": format!("Slot/{slot_id}") }],
        "supportingInformation": [{ "reference": format!("Encounter/{encounter_id}") }],
        "participant": [{ "actor": { "identifier": { "system": NHS, "value": "9434765919" } }, "status": "accepted" }],
    })
}

#[tokio::test]
async fn an_appointment_booked_through_fhir_holds_the_slot_and_a_second_booking_is_a_409() {
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    // Two hours from now: inside the 24-hour window of a screening an hour ago.
    let starts = now().with_second(0).unwrap() + Duration::hours(2);
    let slot = slot_at(&app, &hw, starts).await;
    let first = accepted_attendance(&app).await;
    let second = accepted_attendance(&app).await;

    // The schedule and the free slot, as FHIR.
    let (schedules, _) = fhir(app.get("/fhir/Schedule", "ahw").await, 200, "Bundle").await;
    assert_eq!(schedules["total"], 1);
    assert_eq!(schedules["entry"][0]["resource"]["id"], hw.as_str());
    let search = format!("/fhir/Slot?schedule=Schedule/{hw}&status=free&start=ge{}", rfc(now()));
    let (free, _) = fhir(app.get(&search, "clinician").await, 200, "Bundle").await;
    assert_eq!(free["total"], 1);
    assert_eq!(free["entry"][0]["resource"]["id"], slot.as_str());
    assert_eq!(free["entry"][0]["resource"]["status"], "free");

    let response = post_fhir(
        &app,
        "/fhir/Appointment",
        "clinician",
        &appointment(&first, &slot),
        None,
    )
    .await;
    let (booked, headers) = fhir(response, 201, "Appointment").await;
    assert_eq!(booked["status"], "booked");
    assert_eq!(booked["start"], rfc(starts));
    assert_eq!(booked["slot"][0]["reference"], format!("Slot/{slot}"));
    let id = booked["id"].as_str().unwrap();
    assert_eq!(headers["location"].to_str().unwrap(), format!("/fhir/Appointment/{id}"));
    let (read, _) = fhir(
        app.get(&format!("/fhir/Appointment/{id}"), "ahw").await,
        200,
        "Appointment",
    )
    .await;
    assert_eq!(read["participant"][1]["actor"]["identifier"]["value"], "9434765919");
    // The JSON API sees the same booking.
    let attendance: Value = app
        .get(&format!("/api/v1/attendances/{first}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attendance["bookings"][0]["id"], id);

    // Another patient, the same slot: slot-taken, as POST /api/v1/bookings answers.
    let response = post_fhir(
        &app,
        "/fhir/Appointment",
        "clinician",
        &appointment(&second, &slot),
        None,
    )
    .await;
    let body = outcome(response, 409).await;
    assert_eq!(body["issue"][0]["code"], "conflict");
    assert_eq!(body["issue"][0]["details"]["coding"][0]["code"], "slot-taken");

    // The slot is now busy, and the day's appointments list it with the patient.
    let search = format!("/fhir/Slot?schedule=Schedule/{hw}&status=busy&start=ge{}", rfc(now()));
    let (busy, _) = fhir(app.get(&search, "clinician").await, 200, "Bundle").await;
    assert_eq!(busy["total"], 1);
    let date = starts.with_timezone(&chrono_tz::Europe::London).date_naive();
    let search = format!("/fhir/Appointment?date={date}&patient.identifier={NHS}|9434765919");
    let (listed, _) = fhir(app.get(&search, "ahw").await, 200, "Bundle").await;
    assert_eq!(listed["total"], 2 - 1, "one appointment for this patient that day");
    assert_eq!(listed["entry"][0]["resource"]["id"], id);
    assert_eq!(
        listed["entry"][0]["resource"]["participant"][1]["actor"]["identifier"]["value"],
        "9434765919"
    );
    let search = format!("/fhir/Appointment?date={date}&patient.identifier={NHS}|9876543210");
    let (none, _) = fhir(app.get(&search, "ahw").await, 200, "Bundle").await;
    assert_eq!(none["total"], 0);

    // Cancelled through the JSON API, the Appointment says `cancelled` (docs/domain.md §6).
    cancel(&app, id).await;
    let (read, _) = fhir(
        app.get(&format!("/fhir/Appointment/{id}"), "ahw").await,
        200,
        "Appointment",
    )
    .await;
    assert_eq!(read["status"], "cancelled");

    // A clinician may book but not list appointments (patient identifiers): 403.
    outcome(app.get("/fhir/Appointment", "clinician").await, 403).await;
}

/// An attendance of `patient` that arrived two hours ago, screened PAT positive an hour ago, its
/// referral accepted. Answers (attendance id, patient id).
async fn accepted_attendance_of(app: &TestApp, patient: Value) -> (String, String) {
    let mut body = attendance_body(&format!("appt-{}", uuid::Uuid::new_v4().simple()));
    body["patient"] = patient;
    body["arrived_at"] = json!(rfc(now() - Duration::hours(2)));
    let attendance = app.create_attendance(&body).await;
    let id = attendance["id"].as_str().unwrap().to_owned();
    screen(app, &id, &completed(now() - Duration::hours(1), positive_answers())).await;
    decide(app, &id, "accepted").await;
    (id, attendance["patient"]["id"].as_str().unwrap().to_owned())
}

/// Books `slot` for the attendance through the JSON API (outside the window: the patient's
/// preference); answers the booking's id.
async fn book_later(app: &TestApp, attendance: &str, slot: &str) -> String {
    let body = json!({ "attendance_id": attendance, "slot_id": slot, "outside_window_reason": "patient_preference" });
    let booked = json_with(app.post_json(BOOKINGS, "clinician", &body).await, 201, "booking").await;
    booked["id"].as_str().unwrap().to_owned()
}

/// The ids of a searchset Bundle's entries, in order; asserts `total` is their number.
fn bundle_ids(bundle: &Value) -> Vec<String> {
    let ids: Vec<String> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bundle["total"], ids.len(), "{bundle}");
    ids
}

async fn search_appointments(app: &TestApp, query: &str) -> Vec<String> {
    let (bundle, _) = fhir(
        app.get(&format!("/fhir/Appointment?{query}"), "ahw").await,
        200,
        "Bundle",
    )
    .await;
    bundle_ids(&bundle)
}

#[tokio::test]
async fn an_appointment_search_by_patient_identifier_finds_their_appointments_on_every_day() {
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    // Three future days, two days apart; every slot at 10:00 or 11:00 London time.
    let (d1, d2, d3) = (
        london_today() + Duration::days(2),
        london_today() + Duration::days(4),
        london_today() + Duration::days(6),
    );
    let a_first = slot_at(&app, &hw, london(d1, 10, 0)).await;
    let b_slot = slot_at(&app, &hw, london(d1, 11, 0)).await;
    let a_second = slot_at(&app, &hw, london(d2, 10, 0)).await;
    let l_slot = slot_at(&app, &hw, london(d3, 10, 0)).await;

    // Patient A (NHS 9434765919) twice, patient B (NHS 9434765870) once, patient L (a local
    // number from the PAS, no NHS number) once: one accepted referral each.
    let nhs_a = json!({ "nhs_number": "9434765919", "sex": "male" });
    let nhs_b = json!({ "nhs_number": "9434765870", "sex": "male" });
    let local = json!({ "local_id": "RX-77", "local_id_system": "pas.example.nhs.uk", "sex": "male" });
    let (a1, _) = accepted_attendance_of(&app, nhs_a.clone()).await;
    let (a2, _) = accepted_attendance_of(&app, nhs_a).await;
    let (b1, _) = accepted_attendance_of(&app, nhs_b).await;
    let (l1, l_patient) = accepted_attendance_of(&app, local).await;
    let booking_a1 = book_later(&app, &a1, &a_first).await;
    let booking_b1 = book_later(&app, &b1, &b_slot).await;
    let booking_a2 = book_later(&app, &a2, &a_second).await;
    let booking_l1 = book_later(&app, &l1, &l_slot).await;

    let a = format!("patient.identifier={NHS}|9434765919");
    let b = format!("patient.identifier={NHS}|9434765870");
    let l = "patient.identifier=https://pas.example.nhs.uk|RX-77";
    // A across days: d1 10:00 and d2 10:00, by slot start; not B's (d1 11:00) nor L's.
    let reads_before = events_about(&app, "booking")
        .await
        .iter()
        .filter(|e| e["action"] == "read")
        .count();
    assert_eq!(
        search_appointments(&app, &a).await,
        vec![booking_a1.clone(), booking_a2.clone()]
    );
    let reads_after = events_about(&app, "booking")
        .await
        .iter()
        .filter(|e| e["action"] == "read")
        .count();
    assert_eq!(
        reads_after - reads_before,
        2,
        "each appointment listed is an audited read"
    );
    // With a date: only that day's. d1 holds A's and B's; d3 none of A's.
    assert_eq!(
        search_appointments(&app, &format!("{a}&date={d2}")).await,
        vec![booking_a2.clone()]
    );
    assert_eq!(
        search_appointments(&app, &format!("{a}&date={d1}")).await,
        vec![booking_a1.clone()]
    );
    assert_eq!(
        search_appointments(&app, &format!("{a}&date={d3}")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        search_appointments(&app, &format!("date={d1}")).await,
        vec![booking_a1.clone(), booking_b1.clone()]
    );
    // The NHS number in its printed grouping is the same patient.
    assert_eq!(
        search_appointments(&app, &format!("patient.identifier={NHS}|943%20476%205919")).await,
        vec![booking_a1.clone(), booking_a2.clone()]
    );
    assert_eq!(search_appointments(&app, &b).await, vec![booking_b1.clone()]);
    let (found, _) = fhir(app.get(&format!("/fhir/Appointment?{l}"), "ahw").await, 200, "Bundle").await;
    assert_eq!(bundle_ids(&found), vec![booking_l1.clone()]);
    let subject = &found["entry"][0]["resource"]["participant"][1]["actor"]["identifier"];
    assert_eq!(
        *subject,
        json!({ "system": "https://pas.example.nhs.uk", "value": "RX-77" })
    );
    // No system: a local number of the service's own namespace, which RX-77 is not.
    let own = format!("patient.identifier={BASE}Id/local-number|RX-77");
    assert_eq!(search_appointments(&app, &own).await, Vec::<String>::new());

    // A valid NHS number nobody attended with: an empty Bundle.
    let (none, _) = fhir(
        app.get(&format!("/fhir/Appointment?patient.identifier={NHS}|9876543210"), "ahw")
            .await,
        200,
        "Bundle",
    )
    .await;
    assert_eq!(none["total"], 0);
    assert_eq!(none["entry"], json!([]));

    // Malformed: no system, a check digit that does not match, a system the service does not
    // know. A 422 OperationOutcome naming patient.identifier, never echoing the number.
    for query in [
        "patient.identifier=9434765919".to_owned(),
        format!("patient.identifier={NHS}|9434765918"),
        format!("patient.identifier={NHS}|"),
        "patient.identifier=urn:oid:1.2.3|RX-77".to_owned(),
    ] {
        let body = outcome(app.get(&format!("/fhir/Appointment?{query}"), "ahw").await, 422).await;
        // A search parameter, not an element: named in the diagnostics, not as an expression.
        assert_eq!(body["issue"].as_array().unwrap().len(), 1, "{query}: {body}");
        let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap();
        assert!(diagnostics.starts_with("patient.identifier: "), "{query}: {body}");
        assert!(!body.to_string().contains("943476591"), "{query}: {body}");
    }

    // A PDS trace links L's local number to A's NHS number: one person, so either identifier
    // finds the appointments of both records, by slot start (A's d1, A's d2, L's d3).
    let link = json!({ "nhs_number": "9434765919", "reason": "PDS trace" });
    let linked = app
        .post_json(&format!("/api/v1/patients/{l_patient}/link"), "integration", &link)
        .await;
    json_with(linked, 200, "the trace").await;
    let all = vec![booking_a1.clone(), booking_a2.clone(), booking_l1.clone()];
    assert_eq!(search_appointments(&app, &a).await, all);
    assert_eq!(search_appointments(&app, l).await, all);
    assert_eq!(
        search_appointments(&app, &format!("{l}&date={d3}")).await,
        vec![booking_l1.clone()]
    );
    assert_eq!(
        search_appointments(&app, &b).await,
        vec![booking_b1.clone()],
        "B is not linked"
    );
    // Unlinked, they are two patients again.
    let unlinked = app
        .post_json(
            &format!("/api/v1/patients/{l_patient}/unlink"),
            "admin",
            &json!({ "reason": "wrong person" }),
        )
        .await;
    json_with(unlinked, 200, "the unlink").await;
    assert_eq!(search_appointments(&app, &a).await, vec![booking_a1, booking_a2]);
    assert_eq!(search_appointments(&app, l).await, vec![booking_l1]);
}

/// A validator for one resource type: the R4 schema with its root pointed at that type's
/// definition (the root's `oneOf` over every resource type gives no useful message).
fn validator_for(schema: &Value, resource_type: &str) -> jsonschema::Validator {
    let mut schema = schema.clone();
    let root = schema.as_object_mut().unwrap();
    root.remove("oneOf");
    root.remove("discriminator");
    root.insert("$ref".into(), json!(format!("#/definitions/{resource_type}")));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft6)
        .build(&schema)
        .unwrap()
}

fn assert_valid_r4(schema: &Value, resource: &Value, why: &str) {
    let resource_type = resource["resourceType"].as_str().unwrap();
    let validator = validator_for(schema, resource_type);
    let errors: Vec<String> = validator
        .iter_errors(resource)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{why}: {resource_type} is not valid R4: {errors:#?}\n{resource}"
    );
    // Each entry of a Bundle on its own too (the Bundle's check reaches them through a oneOf).
    for entry in resource["entry"].as_array().into_iter().flatten() {
        assert_valid_r4(schema, &entry["resource"], why);
    }
}

#[tokio::test]
async fn every_resource_the_facade_emits_is_valid_r4_json() {
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/fhir-r4.schema.json").unwrap()).unwrap();
    // The vendored schema is R4's first release (4.0.0): its FHIRVersion list stops at 4.0.0.
    // 4.0.1, the technical correction the facade declares, added itself to that list.
    schema["definitions"]["CapabilityStatement"]["properties"]["fhirVersion"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("4.0.1"));
    // The check can fail: an element R4 does not have, and a code outside its value set.
    let mut wrong = json!({ "resourceType": "Encounter", "status": "unknown", "class": { "code": "EMER" } });
    assert!(validator_for(&schema, "Encounter").is_valid(&wrong));
    wrong["chiefComplaint"] = json!("fall");
    assert!(
        !validator_for(&schema, "Encounter").is_valid(&wrong),
        "an unknown element"
    );
    let wrong = json!({ "resourceType": "Encounter", "status": "admitted", "class": { "code": "EMER" } });
    assert!(
        !validator_for(&schema, "Encounter").is_valid(&wrong),
        "a status R4 does not have"
    );

    let app = spawn_app().await;
    let mut emitted: Vec<(String, Value)> = Vec::new();
    let mut keep = |why: &str, resource: Value| emitted.push((why.to_owned(), resource));

    let metadata = app.client.get(app.url("/fhir/metadata")).send().await.unwrap();
    keep("metadata", fhir(metadata, 200, "CapabilityStatement").await.0);
    for rule in ["pat-2009", "pat-2004", "sips-pat"] {
        let response = app
            .client
            .get(app.url(&format!("/fhir/Questionnaire/{rule}")))
            .send()
            .await
            .unwrap();
        keep(rule, fhir(response, 200, "Questionnaire").await.0);
    }
    let mut contained = encounter("ED-20", "9434765919");
    contained["contained"] = json!([{ "resourceType": "Patient", "id": "p",
        "identifier": [{ "system": "https://pas.example.nhs.uk", "value": "H1" }], "gender": "female" }]);
    contained["subject"] = json!({ "reference": "#p" });
    contained["reasonCode"][0]["text"] = json!("fell from a ladder");
    contained["serviceProvider"] = json!({ "identifier": { "value": "st-marys" } });
    let response = post_fhir(&app, "/fhir/Encounter", "integration", &contained, None).await;
    let (encounter_created, _) = fhir(response, 201, "Encounter").await;
    let id = encounter_created["id"].as_str().unwrap().to_owned();
    keep("Encounter create", encounter_created);
    keep(
        "Encounter read",
        fhir(
            app.get(&format!("/fhir/Encounter/{id}"), "clinician").await,
            200,
            "Encounter",
        )
        .await
        .0,
    );
    let items = json!([
        answer("drinks_alcohol", json!({ "valueBoolean": true })),
        answer("max_units_in_a_day", json!({ "valueDecimal": 7.5 })),
        answer("drinking_frequency", json!({ "valueCoding": { "code": "daily" } })),
        answer("attendance_related", json!({ "valueBoolean": true })),
    ]);
    let mut screening = response_for(&id, "pat-2009", items);
    screening["identifier"] = json!({ "system": "https://ed.example.nhs.uk/form", "value": "F1" });
    let response = post_fhir(&app, "/fhir/QuestionnaireResponse", "clinician", &screening, None).await;
    keep("Observation", fhir(response, 201, "Observation").await.0);

    let hw = health_worker(&app).await;
    let slot = slot_at(&app, &hw, now().with_second(0).unwrap() + Duration::hours(2)).await;
    let accepted = accepted_attendance(&app).await;
    let response = post_fhir(
        &app,
        "/fhir/Appointment",
        "clinician",
        &appointment(&accepted, &slot),
        None,
    )
    .await;
    keep("Appointment create", fhir(response, 201, "Appointment").await.0);
    keep(
        "Schedule search",
        fhir(app.get("/fhir/Schedule", "admin").await, 200, "Bundle").await.0,
    );
    let search = format!("/fhir/Slot?schedule=Schedule/{hw}&start=ge{}", rfc(now()));
    keep(
        "Slot search",
        fhir(app.get(&search, "admin").await, 200, "Bundle").await.0,
    );
    let date = (now() + Duration::hours(2))
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    let (appointments, _) = fhir(
        app.get(&format!("/fhir/Appointment?date={date}"), "ahw").await,
        200,
        "Bundle",
    )
    .await;
    assert_eq!(appointments["total"], 1);
    keep("Appointment search", appointments);

    let response = post_fhir(
        &app,
        "/fhir/Encounter",
        "integration",
        &encounter("ED-21", "9434765918"),
        None,
    )
    .await;
    keep("422", outcome(response, 422).await);
    keep(
        "403",
        outcome(
            post_fhir(&app, "/fhir/Encounter", "auditor", &json!({}), None).await,
            403,
        )
        .await,
    );
    keep(
        "404",
        outcome(app.get("/fhir/Questionnaire/x", "clinician").await, 404).await,
    );

    for (why, resource) in &emitted {
        assert_valid_r4(&schema, resource, why);
    }
    let types: BTreeSet<&str> = emitted
        .iter()
        .map(|(_, r)| r["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Appointment",
            "Bundle",
            "CapabilityStatement",
            "Encounter",
            "Observation",
            "OperationOutcome",
            "Questionnaire"
        ]
        .into_iter()
        .collect()
    );
}
