//! ECDS chief complaints (SNOMED CT) on `POST /api/v1/attendances` (docs/domain.md §11): mapped
//! to the PAT condition by the trust's table when no condition is given, stored with the table's
//! version, part of what a replay must match, refused with the field and the reason when the
//! code cannot be a SNOMED CT concept id, and invisible to the funnel by presenting condition,
//! which still groups by the condition.
//!
//! The expected conditions are the examples and the rows of
//! `data/ecds-chief-complaint-pat.csv`; the table versions are `sha256sum` of the table files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use crate::helpers::{assert_problem, attendance_body, spawn_app, spawn_app_with, TestApp};
use crate::statistics::fixtures::{group, stats, FUNNEL};

const ATTENDANCES: &str = "/api/v1/attendances";

/// `sha256sum data/ecds-chief-complaint-pat.csv`, first 16 hex digits. Changes with the table:
/// update it (by running `sha256sum`, not from the service's output) when the table changes.
const SHIPPED_VERSION: &str = "sha256:c6a7cc4b4daa46d3";

/// An attendance coded only by its chief complaint.
fn coded(source_id: &str, code: &str) -> Value {
    let mut body = attendance_body(source_id);
    body.as_object_mut().unwrap().remove("presenting_condition");
    body["presenting_condition_snomed"] = json!(code);
    body
}

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.post_json(ATTENDANCES, "integration", body).await
}

#[tokio::test]
async fn a_chief_complaint_alone_gives_the_mapped_condition_and_is_stored_with_the_table_version() {
    let app = spawn_app().await;
    for (code, condition) in [
        ("161898004", "fall"),
        ("271594007", "collapse"),
        ("82271004", "head_injury"),
        ("29857009", "cardiac"),
        ("21522001", "gastrointestinal"),
    ] {
        let created = app.create_attendance(&coded(&format!("cc-{code}"), code)).await;
        assert_eq!(created["presenting_condition"], condition, "{code}");
        assert_eq!(created["indications"], json!([condition]), "{code}: one of the ten");
        assert_eq!(created["pat_indicated"], true, "{code}");
        assert_eq!(created["presenting_condition_snomed"], code);
        assert_eq!(created["presenting_condition_map_version"], SHIPPED_VERSION);
        // What was stored, read back.
        let read: Value = app
            .get(
                &format!("{ATTENDANCES}/{}", created["id"].as_str().unwrap()),
                "clinician",
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["presenting_condition"], condition);
        assert_eq!(read["presenting_condition_snomed"], code);
        assert_eq!(read["presenting_condition_map_version"], SHIPPED_VERSION);
    }
}

#[tokio::test]
async fn an_unmapped_code_is_other_with_the_code_kept() {
    let app = spawn_app().await;
    // 25064002 |Headache (finding)|: a valid concept id the starter table does not map.
    let created = app.create_attendance(&coded("cc-headache", "25064002")).await;
    assert_eq!(created["presenting_condition"], "other");
    assert_eq!(created["indications"], json!([]), "other is not an indication");
    assert_eq!(created["pat_indicated"], false);
    assert_eq!(created["presenting_condition_snomed"], "25064002");
    assert_eq!(created["presenting_condition_map_version"], SHIPPED_VERSION);
}

#[tokio::test]
async fn a_given_condition_wins_over_the_code_and_both_are_kept() {
    let app = spawn_app().await;
    // The ED coded a fall, and the nurse knows it was an assault (intent, not the complaint).
    let mut body = coded("cc-assault", "161898004");
    body["presenting_condition"] = json!("assault");
    let created = app.create_attendance(&body).await;
    assert_eq!(created["presenting_condition"], "assault");
    assert_eq!(created["presenting_condition_snomed"], "161898004");
    assert_eq!(created["presenting_condition_map_version"], SHIPPED_VERSION);
    // Without a code, neither is stored.
    let plain = app.create_attendance(&attendance_body("cc-plain")).await;
    assert_eq!(plain["presenting_condition_snomed"], Value::Null);
    assert_eq!(plain["presenting_condition_map_version"], Value::Null);
}

#[tokio::test]
async fn a_retry_with_the_same_code_is_a_replay_and_another_code_a_conflict() {
    let app = spawn_app().await;
    let first = post(&app, &coded("cc-retry", "29857009")).await;
    assert_eq!(first.status().as_u16(), 201);
    let first: Value = first.json().await.unwrap();
    let again = post(&app, &coded("cc-retry", "29857009")).await;
    assert_eq!(again.status().as_u16(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    // 80313002 |Palpitations| maps to cardiac too: the condition is the same, the code is not.
    let clash = post(&app, &coded("cc-retry", "80313002")).await;
    assert_problem(clash, 409).await;
}

#[tokio::test]
async fn codes_that_cannot_be_snomed_concepts_are_refused_naming_the_field() {
    let app = spawn_app().await;
    for (code, reason) in [
        // 161898004 with its last digit changed: the Verhoeff check fails.
        ("161898005", "check digit"),
        // Two adjacent digits swapped: Verhoeff catches every such swap.
        ("168198004", "check digit"),
        ("12345", "6 to 18 digits"),
        ("falls", "6 to 18 digits"),
        // The shape of a description id (partition 01, valid check digit), not a concept.
        ("754749013", "partition"),
    ] {
        let problem = assert_problem(post(&app, &coded(&format!("bad-{code}"), code)).await, 422).await;
        let errors = problem["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{code}: {problem}");
        assert_eq!(errors[0]["field"], "presenting_condition_snomed", "{code}");
        assert!(
            errors[0]["message"].as_str().unwrap_or_default().contains(reason),
            "{code}: {problem}"
        );
    }
    // A bad code is refused even beside a condition: it would be stored.
    let mut body = coded("bad-beside", "161898005");
    body["presenting_condition"] = json!("fall");
    assert_problem(post(&app, &body).await, 422).await;
    // Neither condition nor code.
    let mut body = attendance_body("bad-neither");
    body.as_object_mut().unwrap().remove("presenting_condition");
    let problem = assert_problem(post(&app, &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "presenting_condition");
    // Nothing was written.
    let funnel = stats(&app, &format!("{FUNNEL}?from=2025-02-01&to=2025-04-01")).await;
    assert_eq!(group(&funnel, "all")["counts"]["attendances"], 0, "{funnel}");
}

#[tokio::test]
async fn a_trusts_own_table_maps_by_arrival_date_and_its_version_is_stored() {
    // The trust's table: headache is `unwell` from 1 April 2025 (London); before, unmapped.
    let table = "snomed_id,pat_condition,valid_from,valid_to,term\n25064002,unwell,2025-04-01,,Headache\n";
    let path = std::env::temp_dir().join(format!("pat-cc-{}.csv", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, table).unwrap();
    let settings = pat_service::config::Settings::from_lookup(
        |name| match name {
            "PAT_JWT_SECRET" => Some("x".repeat(32)),
            "PAT_CHIEF_COMPLAINT_MAP" => Some(path.display().to_string()),
            _ => None,
        },
        false,
    )
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    let map = settings.chief_complaints.clone();
    let app = spawn_app_with(move |s| s.chief_complaints = map).await;
    // `printf 'snomed_id,…Headache\n' | sha256sum`, first 16 hex digits.
    let version = "sha256:87662de0cccbebd3";

    // 31 March 2025 23:30 UTC is 31 March in London (BST begins on 30 March: 00:30 on 1 April).
    let mut before = coded("cc-before", "25064002");
    before["arrived_at"] = json!("2025-03-31T22:30:00Z");
    let before = app.create_attendance(&before).await;
    assert_eq!(before["presenting_condition"], "other");
    assert_eq!(before["presenting_condition_map_version"], version);
    let mut after = coded("cc-after", "25064002");
    after["arrived_at"] = json!("2025-03-31T23:30:00Z");
    let after = app.create_attendance(&after).await;
    assert_eq!(after["presenting_condition"], "unwell");
    assert_eq!(after["presenting_condition_map_version"], version);
    // The starter table's fall is not in this trust's table.
    let fall = app.create_attendance(&coded("cc-fall", "161898004")).await;
    assert_eq!(fall["presenting_condition"], "other");
}

#[tokio::test]
async fn a_table_that_cannot_be_read_stops_the_service_naming_the_line() {
    let path = std::env::temp_dir().join(format!("pat-cc-{}.csv", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &path,
        "snomed_id,pat_condition,valid_from,valid_to,term\n161898004,fall,,,Falls\n161898005,fall,,,Typo\n",
    )
    .unwrap();
    let error = pat_service::config::Settings::from_lookup(
        |name| match name {
            "PAT_JWT_SECRET" => Some("x".repeat(32)),
            "PAT_CHIEF_COMPLAINT_MAP" => Some(path.display().to_string()),
            _ => None,
        },
        false,
    )
    .unwrap_err()
    .to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(error.starts_with("PAT_CHIEF_COMPLAINT_MAP"), "{error}");
    assert!(error.contains("line 3") && error.contains("check digit"), "{error}");
}

#[tokio::test]
async fn the_funnel_by_presenting_condition_counts_coded_attendances_under_their_condition() {
    let app = spawn_app().await;
    // Two falls (one coded, one by condition), one coded gastro-intestinal, one unmapped code.
    app.create_attendance(&coded("f-1", "161898004")).await;
    app.create_attendance(&attendance_body("f-2")).await;
    app.create_attendance(&coded("g-1", "21522001")).await;
    app.create_attendance(&coded("o-1", "25064002")).await;
    let answer = stats(
        &app,
        &format!("{FUNNEL}?from=2025-02-01&to=2025-04-01&group_by=presenting_condition"),
    )
    .await;
    assert_eq!(group(&answer, "fall")["counts"]["attendances"], 2, "{answer}");
    assert_eq!(group(&answer, "gastrointestinal")["counts"]["attendances"], 1);
    assert_eq!(group(&answer, "other")["counts"]["attendances"], 1);
    assert_eq!(group(&answer, "cardiac")["counts"]["attendances"], 0);
    // No group is keyed by a code.
    let keys: Vec<&str> = answer["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert!(!keys.iter().any(|k| k.chars().all(|c| c.is_ascii_digit())), "{keys:?}");
}

#[tokio::test]
async fn a_fhir_encounter_keeps_the_chief_complaint_code_beside_the_condition() {
    let app = spawn_app().await;
    // SNOMED CT 29857009 |Chest pain|: `cardiac` in the shipped table.
    let encounter = json!({
        "resourceType": "Encounter",
        "identifier": [{ "system": "https://ed.example.nhs.uk/attendance", "value": "cc-fhir-1" }],
        "status": "arrived",
        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER" },
        "subject": { "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919" } },
        "period": { "start": "2025-03-01T10:00:00Z" },
        "reasonCode": [{ "coding": [{ "system": "http://snomed.info/sct", "code": "29857009" }] }],
    });
    let response = app
        .client
        .post(app.url("/fhir/Encounter"))
        .bearer_auth(app.token("integration"))
        .header("content-type", "application/fhir+json")
        .body(encounter.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    let codings = body["reasonCode"][0]["coding"].as_array().unwrap();
    let codes: Vec<(&str, &str)> = codings
        .iter()
        .map(|c| (c["system"].as_str().unwrap(), c["code"].as_str().unwrap()))
        .collect();
    assert!(codes.contains(&("http://snomed.info/sct", "29857009")), "{body}");
    assert!(codes.iter().any(|(_, code)| *code == "cardiac"), "{body}");
    // The JSON API shows the same attendance with the code and the table's version.
    let id = body["id"].as_str().unwrap();
    let json: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["presenting_condition"], "cardiac");
    assert_eq!(json["presenting_condition_snomed"], "29857009");
    assert_eq!(json["presenting_condition_map_version"], SHIPPED_VERSION);
}
