//! Patient identity (issue 11 §2): `GET /api/v1/patients/{id}`, `POST /api/v1/patients/{id}/link`
//! (a PDS trace of a local number to an NHS number, an EPR merge) and `unlink`. Every attendance
//! keeps the identifiers it arrived with; a link changes who it belongs to. The statistics side
//! is in `statistics/identity.rs`; the race with new attendances at the end of this file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp};
use crate::scheduling_helpers::{assert_kind, events_about, fields, json_with, now, rfc};

/// A valid NHS number that no other test in this file uses.
const NHS: &str = "9434765919";
const OTHER_NHS: &str = "9434765870";

fn link_path(id: &str) -> String {
    format!("/api/v1/patients/{id}/link")
}

fn unlink_path(id: &str) -> String {
    format!("/api/v1/patients/{id}/unlink")
}

/// Records an attendance of `patient` (an NHS number and/or local number) and answers it.
async fn arrive(app: &TestApp, source_id: &str, patient: Value, condition: &str, at: DateTime<Utc>) -> Value {
    app.create_attendance(&json!({
        "source_system": "identity-test", "source_id": source_id, "patient": patient,
        "arrived_at": rfc(at), "presenting_condition": condition,
    }))
    .await
}

fn patient_of(attendance: &Value) -> String {
    attendance["patient"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no patient id: {attendance}"))
        .to_owned()
}

async fn read_patient(app: &TestApp, id: &str) -> Value {
    json_with(
        app.get(&format!("/api/v1/patients/{id}"), "clinician").await,
        200,
        "reading the patient",
    )
    .await
}

async fn trace(app: &TestApp, id: &str, nhs: &str) -> reqwest::Response {
    app.post_json(
        &link_path(id),
        "integration",
        &json!({ "nhs_number": nhs, "reason": "PDS trace" }),
    )
    .await
}

async fn unlink(app: &TestApp, id: &str) -> reqwest::Response {
    app.post_json(&unlink_path(id), "admin", &json!({ "reason": "wrong person" }))
        .await
}

#[tokio::test]
async fn a_trace_links_a_local_number_to_an_nhs_number_and_an_unlink_undoes_it() {
    let app = spawn_app().await;
    let local = arrive(
        &app,
        "t1",
        json!({ "local_id": "TR-1" }),
        "fall",
        now() - Duration::days(3),
    )
    .await;
    let nhs = arrive(
        &app,
        "t2",
        json!({ "nhs_number": NHS }),
        "fall",
        now() - Duration::days(2),
    )
    .await;
    let local_id = patient_of(&local);
    let nhs_id = patient_of(&nhs);
    assert_ne!(local_id, nhs_id);

    // Before: each is its own person.
    let before = read_patient(&app, &local_id).await;
    assert_eq!(
        before["identifier"],
        json!({ "system": "local", "value": "TR-1", "assigner": null })
    );
    assert_eq!(before["person"]["id"], local_id.as_str());
    assert_eq!(before["links"], json!([]));

    // Link: the local number's person is now the NHS number's.
    let linked = json_with(trace(&app, &local_id, NHS).await, 200, "the trace").await;
    assert_eq!(linked["person"]["id"], nhs_id.as_str());
    assert_eq!(
        linked["person"]["identifier"],
        json!({ "system": "nhs", "value": NHS, "assigner": null })
    );
    let link = &linked["links"][0];
    assert_eq!(link["kind"], "trace");
    assert_eq!(link["trace_status"], "01", "01 when not given");
    assert_eq!(link["status"], "in_force");
    assert_eq!(link["linked_by"], "test-integration");
    assert_eq!(link["patient_id"], local_id.as_str());
    assert_eq!(link["person_id"], nhs_id.as_str());
    // The NHS number's patient shows the link into it.
    assert_eq!(read_patient(&app, &nhs_id).await["links"][0]["id"], link["id"]);
    // The attendance keeps the identifiers it arrived with.
    let read = json_with(
        app.get(
            &format!("/api/v1/attendances/{}", local["id"].as_str().unwrap()),
            "clinician",
        )
        .await,
        200,
        "reading the attendance",
    )
    .await;
    assert_eq!(read["patient"]["local_id"], "TR-1");
    assert_eq!(read["patient"]["nhs_number"], Value::Null);
    assert_eq!(read["patient"]["id"], local_id.as_str());

    // The same link again: 200, the record as it stands, nothing changed.
    let again = json_with(trace(&app, &local_id, NHS).await, 200, "the same trace again").await;
    assert_eq!(again["links"], linked["links"]);

    // Unlink: its own person again; the link is kept, marked.
    let unlinked = json_with(unlink(&app, &local_id).await, 200, "the unlink").await;
    assert_eq!(unlinked["person"]["id"], local_id.as_str());
    let link = &unlinked["links"][0];
    assert_eq!(link["status"], "unlinked");
    assert_eq!(link["unlinked_by"], "test-admin");
    assert_eq!(link["unlink_reason"], "wrong person");
    // Again: 200, as it stands.
    let again = json_with(unlink(&app, &local_id).await, 200, "the same unlink again").await;
    assert_eq!(again["links"], unlinked["links"]);

    // Audit: one update of each patient per change (link, unlink), none for the replays; reads
    // of the patient are audited too.
    let events = events_about(&app, "patient").await;
    let updates = |id: &str| {
        events
            .iter()
            .filter(|e| e["resource_id"] == id && e["action"] == "update")
            .count()
    };
    assert_eq!(updates(&local_id), 2, "{events:?}");
    assert_eq!(updates(&nhs_id), 2, "{events:?}");
    let reads = events.iter().filter(|e| e["action"] == "read").count();
    // 2 GETs of the patient + 1 replayed link + 1 replayed unlink.
    assert_eq!(reads, 4, "{events:?}");
    let update = events
        .iter()
        .find(|e| e["resource_id"] == local_id.as_str() && e["action"] == "update")
        .unwrap();
    assert_eq!(update["patient_key"], "local:TR-1");
}

#[tokio::test]
async fn a_new_attendance_after_a_link_belongs_to_the_person() {
    // The local number is traced to the NHS number, which had an attendance 3 days ago; then an
    // "other" attendance under the local number arrives: the person's earlier attendance makes
    // it a repeat attender, and it is that attendance's 7-day return.
    let app = spawn_app().await;
    let earlier = arrive(
        &app,
        "n1",
        json!({ "nhs_number": NHS }),
        "fall",
        now() - Duration::days(3),
    )
    .await;
    let local = arrive(
        &app,
        "n2",
        json!({ "local_id": "NEW-1" }),
        "fall",
        now() - Duration::days(30),
    )
    .await;
    json_with(trace(&app, &patient_of(&local), NHS).await, 200, "the trace").await;

    let body = json!({
        "source_system": "identity-test", "source_id": "n3", "patient": { "local_id": "NEW-1" },
        "arrived_at": rfc(now() - Duration::days(1)), "presenting_condition": "other",
    });
    let later = app.create_attendance(&body).await;
    assert_eq!(later["indications"], json!(["repeat_attender"]));
    assert_eq!(
        later["patient"]["id"], local["patient"]["id"],
        "the identifiers it arrived with"
    );

    // Sending it again is a replay (the stored key is the person's, the identifiers the same).
    let replay = app.post_json("/api/v1/attendances", "clinician", &body).await;
    let replay = json_with(replay, 200, "the same attendance again").await;
    assert_eq!(replay["id"], later["id"]);

    // The NHS attendance 3 days ago now has an unplanned return within 7 days.
    let facts = seven_day_facts(&app).await;
    assert_eq!(facts[earlier["id"].as_str().unwrap()], (true, true), "{facts:?}");
}

#[tokio::test]
async fn merges_chain_and_an_unlink_takes_the_patients_linked_to_it_along() {
    // R-A merged into R-B, then R-B traced to an NHS number: R-A's person is the NHS number's.
    let app = spawn_app().await;
    let a = patient_of(
        &arrive(
            &app,
            "m1",
            json!({ "local_id": "R-A" }),
            "fall",
            now() - Duration::days(5),
        )
        .await,
    );
    let b = patient_of(
        &arrive(
            &app,
            "m2",
            json!({ "local_id": "R-B" }),
            "fall",
            now() - Duration::days(4),
        )
        .await,
    );
    let n = patient_of(
        &arrive(
            &app,
            "m3",
            json!({ "nhs_number": NHS }),
            "fall",
            now() - Duration::days(3),
        )
        .await,
    );
    let merge = app
        .post_json(
            &link_path(&a),
            "admin",
            &json!({ "patient_id": b, "reason": "EPR merge" }),
        )
        .await;
    let merged = json_with(merge, 200, "the merge").await;
    assert_eq!(merged["person"]["id"], b.as_str());
    assert_eq!(merged["links"][0]["kind"], "merge");
    assert_eq!(merged["links"][0]["trace_status"], Value::Null);
    json_with(trace(&app, &b, NHS).await, 200, "the trace of R-B").await;
    assert_eq!(read_patient(&app, &a).await["person"]["id"], n.as_str());

    // Linking the NHS number's patient to R-A would go round in a circle.
    let circle = app
        .post_json(
            &link_path(&n),
            "admin",
            &json!({ "patient_id": a, "reason": "EPR merge" }),
        )
        .await;
    assert_kind(circle, 409, "same-person", "a link into its own tree").await;

    // Unlinking R-B takes R-A along: both are R-B's again.
    json_with(unlink(&app, &b).await, 200, "unlinking R-B").await;
    assert_eq!(read_patient(&app, &a).await["person"]["id"], b.as_str());
    assert_eq!(read_patient(&app, &b).await["person"]["id"], b.as_str());
    // And the attendances followed: R-A's and R-B's attendances are one person's again, the
    // NHS number's its own (R-A 5 days ago → R-B 4 days ago is a 7-day return; R-B → NHS no more).
    let facts = seven_day_facts(&app).await;
    let by_source: Vec<bool> = ["m1", "m2", "m3"].iter().map(|s| facts_by_source(&facts, s)).collect();
    assert_eq!(by_source, [true, false, false]);
}

#[tokio::test]
async fn conflicts_are_409() {
    let app = spawn_app().await;
    let local = patient_of(
        &arrive(
            &app,
            "c1",
            json!({ "local_id": "C-1" }),
            "fall",
            now() - Duration::days(2),
        )
        .await,
    );
    json_with(trace(&app, &local, NHS).await, 200, "the trace").await;

    // Linked already, to another NHS number.
    assert_kind(
        trace(&app, &local, OTHER_NHS).await,
        409,
        "already-linked",
        "a second link",
    )
    .await;
    // Never linked: nothing to undo.
    let never = patient_of(
        &arrive(
            &app,
            "c2",
            json!({ "local_id": "C-2" }),
            "fall",
            now() - Duration::days(2),
        )
        .await,
    );
    assert_kind(
        unlink(&app, &never).await,
        409,
        "not-linked",
        "unlinking a patient never linked",
    )
    .await;
    // A link id that is not the patient's.
    let wrong = app
        .post_json(
            &unlink_path(&local),
            "admin",
            &json!({ "link_id": uuid::Uuid::now_v7(), "reason": "wrong" }),
        )
        .await;
    assert_kind(wrong, 409, "not-linked", "unlinking a link the patient does not have").await;
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let app = spawn_app().await;
    let local = patient_of(
        &arrive(
            &app,
            "v1",
            json!({ "local_id": "V-1" }),
            "fall",
            now() - Duration::days(2),
        )
        .await,
    );
    let cases = [
        (json!({ "reason": "no target" }), "body"),
        (
            json!({ "nhs_number": NHS, "patient_id": local, "reason": "both" }),
            "body",
        ),
        (
            json!({ "nhs_number": "1234567890", "reason": "bad check digit" }),
            "nhs_number",
        ),
        (
            json!({ "nhs_number": "4444444444", "reason": "placeholder" }),
            "nhs_number",
        ),
        (
            json!({ "nhs_number": NHS, "trace_status": "02", "reason": "not traced" }),
            "trace_status",
        ),
        (
            json!({ "nhs_number": NHS, "trace_status": "9", "reason": "no such code" }),
            "trace_status",
        ),
        (
            json!({ "patient_id": local, "trace_status": "01", "reason": "a merge" }),
            "trace_status",
        ),
        (json!({ "nhs_number": NHS, "reason": "  " }), "reason"),
        (json!({ "nhs_number": NHS, "reason": "x".repeat(501) }), "reason"),
        (json!({ "nhs_number": NHS }), "reason"),
    ];
    for (body, field) in cases {
        let problem = assert_problem(app.post_json(&link_path(&local), "admin", &body).await, 422).await;
        assert!(fields(&problem).contains(&field.to_owned()), "{body}: {problem}");
    }
    // Rules that depend on what is stored: the other patient must exist and not be this one.
    let unknown = app
        .post_json(
            &link_path(&local),
            "admin",
            &json!({ "patient_id": uuid::Uuid::now_v7(), "reason": "merge" }),
        )
        .await;
    let problem = assert_kind(unknown, 422, "unknown-patient", "merging into no one").await;
    assert_eq!(fields(&problem), ["patient_id"]);
    let itself = app
        .post_json(
            &link_path(&local),
            "admin",
            &json!({ "patient_id": local, "reason": "merge" }),
        )
        .await;
    assert_kind(itself, 422, "link-to-itself", "merging into itself").await;
    let empty = app
        .post_json(&unlink_path(&local), "admin", &json!({ "reason": "" }))
        .await;
    assert_eq!(fields(&assert_problem(empty, 422).await), ["reason"]);
    // A malformed id is 400; an unknown one 404, for each operation.
    assert_problem(app.get("/api/v1/patients/nope", "admin").await, 400).await;
    let nobody = uuid::Uuid::now_v7().to_string();
    assert_problem(app.get(&format!("/api/v1/patients/{nobody}"), "admin").await, 404).await;
    assert_problem(trace(&app, &nobody, NHS).await, 404).await;
    assert_problem(unlink(&app, &nobody).await, 404).await;
    // Nothing was written by any of them.
    assert_eq!(read_patient(&app, &local).await["links"], json!([]));
}

#[tokio::test]
async fn roles() {
    let app = spawn_app().await;
    let local = patient_of(
        &arrive(
            &app,
            "r1",
            json!({ "local_id": "RO-1" }),
            "fall",
            now() - Duration::days(2),
        )
        .await,
    );
    for role in ["clinician", "integration", "ahw", "admin"] {
        json_with(app.get(&format!("/api/v1/patients/{local}"), role).await, 200, role).await;
    }
    assert_problem(app.get(&format!("/api/v1/patients/{local}"), "auditor").await, 403).await;
    let body = json!({ "nhs_number": NHS, "reason": "PDS trace" });
    for role in ["clinician", "ahw", "auditor"] {
        assert_problem(app.post_json(&link_path(&local), role, &body).await, 403).await;
        assert_problem(
            app.post_json(&unlink_path(&local), role, &json!({ "reason": "r" }))
                .await,
            403,
        )
        .await;
    }
    let unauthenticated = app
        .client
        .get(app.url(&format!("/api/v1/patients/{local}")))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    assert_eq!(read_patient(&app, &local).await["links"], json!([]), "nothing linked");
}

// --- The 7-day facts, read from the database and recomputed from the attendances alone ---

#[derive(diesel::QueryableByName, Debug)]
struct Fact {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    source_id: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    stored: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    recomputed: bool,
    /// The stored patient_key is not the registry's person of the attendance's own identifiers.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    misplaced: bool,
}

/// Every attendance's stored 7-day fact beside one recomputed here from the source columns alone:
/// the person is the registry's person of the identifiers the attendance arrived with (not the
/// stored `patient_key`), and the fact is whether an unplanned attendance of that person, not
/// entered in error, arrives in (arrival, arrival + 7 days]. Asserts that every attendance's
/// stored `patient_key` is that person.
async fn seven_day_facts(app: &TestApp) -> std::collections::HashMap<String, (bool, bool)> {
    let pg = "
        WITH a AS (
            SELECT x.id, x.source_id, x.arrived_at, x.attendance_category, x.entered_in_error_at,
                   x.unplanned_within_7d, p.person_key, x.patient_key <> p.person_key AS misplaced
            FROM attendances x JOIN patients p ON p.id = x.patient_id)
        SELECT a.id::text AS id, a.source_id, a.unplanned_within_7d AS stored, a.misplaced,
               EXISTS (SELECT 1 FROM a b WHERE b.person_key = a.person_key
                         AND b.arrived_at > a.arrived_at AND b.arrived_at <= a.arrived_at + interval '7 days'
                         AND b.attendance_category = 'unplanned' AND b.entered_in_error_at IS NULL) AS recomputed
        FROM a";
    let sqlite = "
        WITH a AS (
            SELECT x.id, x.source_id, julianday(x.arrived_at) AS arrived, x.attendance_category,
                   x.entered_in_error_at, x.unplanned_within_7d, p.person_key,
                   x.patient_key <> p.person_key AS misplaced
            FROM attendances x JOIN patients p ON p.id = x.patient_id)
        SELECT a.id AS id, a.source_id, a.unplanned_within_7d AS stored, a.misplaced,
               EXISTS (SELECT 1 FROM a b WHERE b.person_key = a.person_key
                         AND b.arrived > a.arrived AND b.arrived <= a.arrived + 7
                         AND b.attendance_category = 'unplanned' AND b.entered_in_error_at IS NULL) AS recomputed
        FROM a";
    use diesel::RunQueryDsl;
    let manager = pat_service::db::Manager::new(&app.database_url).unwrap();
    let rows: Vec<Fact> = match manager.establish().unwrap() {
        pat_service::db::DbConnection::Pg(mut pg_conn) => diesel::sql_query(pg).load(&mut pg_conn),
        pat_service::db::DbConnection::Sqlite(mut lite) => diesel::sql_query(sqlite).load(&mut lite),
    }
    .unwrap();
    let misplaced: Vec<&String> = rows.iter().filter(|f| f.misplaced).map(|f| &f.source_id).collect();
    assert!(
        misplaced.is_empty(),
        "attendances not under their person: {misplaced:?}"
    );
    rows.into_iter()
        .flat_map(|f| {
            [
                (f.id.clone(), (f.stored, f.recomputed)),
                (format!("source:{}", f.source_id), (f.stored, f.recomputed)),
            ]
        })
        .collect()
}

fn facts_by_source(facts: &std::collections::HashMap<String, (bool, bool)>, source_id: &str) -> bool {
    let (stored, recomputed) = facts[&format!("source:{source_id}")];
    assert_eq!(stored, recomputed, "{source_id}: stored and recomputed differ");
    stored
}

#[tokio::test]
async fn a_link_racing_new_attendances_of_both_patients_leaves_the_facts_recomputable() {
    // Arrange: a local-number patient and an NHS-number patient, each with attendances a day
    // apart over the last three weeks.
    let app = spawn_app().await;
    let start = now() - Duration::days(21);
    let local = arrive(&app, "race-l0", json!({ "local_id": "RACE-1" }), "fall", start).await;
    arrive(
        &app,
        "race-n0",
        json!({ "nhs_number": NHS }),
        "fall",
        start + Duration::hours(12),
    )
    .await;

    // Act: the trace, together with 20 new attendances of each patient, interleaved in time
    // with each other (12 hours apart), all sent at once.
    let mut tasks = tokio::task::JoinSet::new();
    let link = app
        .client
        .post(app.url(&link_path(&patient_of(&local))))
        .bearer_auth(app.token("integration"))
        .json(&json!({ "nhs_number": NHS, "reason": "PDS trace" }));
    for i in 1..=20i64 {
        for (prefix, patient, offset) in [
            ("race-l", json!({ "local_id": "RACE-1" }), 0),
            ("race-n", json!({ "nhs_number": NHS }), 12),
        ] {
            let body = json!({
                "source_system": "identity-test", "source_id": format!("{prefix}{i}"), "patient": patient,
                "arrived_at": rfc(start + Duration::hours(24 * i + offset)), "presenting_condition": "other",
            });
            let request = app
                .client
                .post(app.url("/api/v1/attendances"))
                .bearer_auth(app.token("integration"))
                .json(&body);
            tasks.spawn(async move { ("attendance", request.send().await.unwrap().status().as_u16()) });
        }
        if i == 10 {
            let link = link.try_clone().unwrap();
            tasks.spawn(async move { ("link", link.send().await.unwrap().status().as_u16()) });
        }
    }
    let mut statuses = vec![];
    while let Some(joined) = tasks.join_next().await {
        statuses.push(joined.unwrap());
    }
    assert!(statuses.contains(&("link", 200)), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .filter(|(which, status)| *which == "attendance" && *status == 201)
            .count()
            == 40,
        "{statuses:?}"
    );

    // Assert: every attendance's stored fact is the recomputed one, and the attendances are one
    // person's: each but the last is followed within 12 hours by another.
    let facts = seven_day_facts(&app).await;
    let mismatched: Vec<_> = facts.iter().filter(|(_, (s, r))| s != r).collect();
    assert!(mismatched.is_empty(), "{mismatched:?}");
    let followed = facts
        .iter()
        .filter(|(k, (stored, _))| k.starts_with("source:") && *stored)
        .count();
    // 42 attendances; all but the last (race-n20) are followed.
    assert_eq!(followed, 41);
}

#[tokio::test]
async fn a_local_number_belongs_to_its_assigning_system() {
    // Arrange: local number 7001 from the PAS, then the same number from the ED system, then
    // the PAS's again; all "other" (so only repeat attendance can indicate the PAT). Repeat
    // attender: at least 1 earlier attendance of the same patient in 365 days (the tests' rule).
    let app = spawn_app().await;
    let start = now() - Duration::days(3);
    let pas = json!({ "local_id": "7001", "local_id_system": "PAS" });
    let ed = json!({ "local_id": "7001", "local_id_system": "EDIS" });
    let first = arrive(&app, "sys-1", pas.clone(), "other", start).await;

    // Act
    let other_system = arrive(&app, "sys-2", ed, "other", start + Duration::hours(1)).await;
    let same_system = arrive(&app, "sys-3", pas.clone(), "other", start + Duration::hours(2)).await;

    // Assert: the ED system's 7001 is another patient (no earlier attendance); the PAS's second
    // is a repeat attender, and both PAS attendances are one patient.
    assert_eq!(other_system["indications"], json!([]));
    assert_ne!(patient_of(&other_system), patient_of(&first));
    assert_eq!(same_system["indications"], json!(["repeat_attender"]));
    assert_eq!(patient_of(&same_system), patient_of(&first));
    assert_eq!(first["patient"]["local_id_system"], "PAS");
    let patient = read_patient(&app, &patient_of(&first)).await;
    assert_eq!(
        (
            &patient["identifier"]["system"],
            &patient["identifier"]["value"],
            &patient["identifier"]["assigner"]
        ),
        (&json!("local"), &json!("7001"), &json!("PAS")),
        "{patient}"
    );
    // The system is part of what was sent: the same source id with another system is a clash.
    let clash = app
        .post_json(
            "/api/v1/attendances",
            "integration",
            &json!({
                "source_system": "identity-test", "source_id": "sys-1",
                "patient": { "local_id": "7001", "local_id_system": "EDIS" },
                "arrived_at": rfc(start), "presenting_condition": "other",
            }),
        )
        .await;
    assert_eq!(clash.status().as_u16(), 409);
}

#[tokio::test]
async fn a_local_id_system_needs_a_local_id_and_no_colon() {
    let app = spawn_app().await;
    for (patient, why) in [
        (json!({ "local_id": "1", "local_id_system": "PAS:2" }), "a colon"),
        (
            json!({ "nhs_number": "9434765919", "local_id_system": "PAS" }),
            "no local_id",
        ),
        (json!({ "local_id": "1", "local_id_system": "" }), "empty"),
    ] {
        let resp = app
            .post_json(
                "/api/v1/attendances",
                "integration",
                &json!({
                    "source_system": "identity-test", "source_id": format!("bad-{why}"),
                    "patient": patient, "arrived_at": rfc(now() - Duration::hours(1)),
                    "presenting_condition": "fall",
                }),
            )
            .await;
        let problem = assert_problem(resp, 422).await;
        assert_eq!(fields(&problem), vec!["patient.local_id_system"], "{why}: {problem}");
    }
}
