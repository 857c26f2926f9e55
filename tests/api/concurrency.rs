//! Data rules under concurrent requests: enforced by the database, not by check-then-insert.

use serde_json::{json, Value};

use crate::helpers::{attendance_body, spawn_app};

#[tokio::test]
async fn simultaneous_corrections_each_become_their_own_version() {
    // Arrange: one attendance, then 10 different screenings of it sent at once.
    let app = spawn_app().await;
    let attendance = app.create_attendance(&attendance_body("race-screening")).await;
    let id = attendance["id"].as_str().unwrap().to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for units in 1..=10 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/attendances/{id}/screening"));
        let token = app.token("integration");
        tasks.spawn(async move {
            let body = json!({"status": "completed", "answers": {
                "drinks_alcohol": true, "max_units_in_a_day": units,
                "drinking_frequency": "less_than_weekly", "attendance_related": false}});
            let response = client.put(url).bearer_auth(token).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });
    }

    // Act
    let mut statuses = vec![];
    let mut versions = vec![];
    while let Some(joined) = tasks.join_next().await {
        let (status, body) = joined.unwrap();
        statuses.push(status);
        versions.push(body["version"].as_i64().unwrap_or(-1));
    }

    // Assert: one first recording, nine corrections, versions 1..=10 each exactly once.
    statuses.sort();
    let mut expected_statuses = vec![200; 9];
    expected_statuses.push(201);
    assert_eq!(
        statuses, expected_statuses,
        "one 201 for the first version, 200 for each correction"
    );
    versions.sort();
    assert_eq!(
        versions,
        (1..=10).collect::<Vec<i64>>(),
        "no version is written twice or skipped"
    );
    let stored: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stored["screening"]["version"], 10,
        "the latest version is the current screening"
    );
    assert_eq!(
        stored["previous_screenings"].as_array().unwrap().len(),
        9,
        "every earlier version is kept"
    );
}
