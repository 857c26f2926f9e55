//! The audit trail as an auditor checks it (docs/design.md §6): every read or change of patient data
//! writes exactly one event, in the same transaction, naming who (token `sub` and roles), what
//! (action, resource), whose record (`patient_key`) and which request (`x-request-id`); a request
//! that fails writes none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{attendance_body, spawn_app, TestApp, AUDIENCE, ISSUER};

const ATTENDANCES: &str = "/api/v1/attendances";
const PATIENT: &str = "nhs:9434765919";

/// Events about patient data (attendances and screenings), newest first. Reading the trail may
/// itself be audited; those events are left out so each test counts only what it caused.
async fn patient_events(app: &TestApp) -> Vec<Value> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e["resource_type"] == "attendance" || e["resource_type"] == "screening")
        .collect()
}

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .expect("x-request-id header")
        .to_str()
        .unwrap()
        .to_owned()
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time"))
        .unwrap()
        .with_timezone(&Utc)
}

/// What one event must say.
struct Expected<'a> {
    actor: &'a str,
    roles: Value,
    action: &'a str,
    resource_type: &'a str,
    resource_id: &'a str,
    patient_key: &'a str,
    request_id: &'a str,
    between: (DateTime<Utc>, DateTime<Utc>),
}

fn assert_event(event: &Value, expected: &Expected, why: &str) {
    assert!(
        uuid::Uuid::parse_str(event["id"].as_str().unwrap_or_default()).is_ok(),
        "{why}: the event has a UUID id: {event}"
    );
    assert_eq!(event["actor"], expected.actor, "{why}: actor is the token's sub");
    assert_eq!(event["roles"], expected.roles, "{why}: roles of the token");
    assert_eq!(event["action"], expected.action, "{why}: action");
    assert_eq!(event["resource_type"], expected.resource_type, "{why}: resource_type");
    assert_eq!(event["resource_id"], expected.resource_id, "{why}: resource_id");
    assert_eq!(event["patient_key"], expected.patient_key, "{why}: patient_key");
    assert_eq!(
        event["request_id"], expected.request_id,
        "{why}: request_id is the x-request-id answered"
    );
    let when = instant(&event["occurred_at"]);
    let (from, to) = expected.between;
    assert!(
        when >= from - Duration::seconds(1) && when <= to + Duration::seconds(1),
        "{why}: occurred_at {when} is the time of the request ({from} .. {to})"
    );
}

/// A request that must fail: method, path, role (none = no token), body, expected status, why.
type FailingRequest = (Method, String, Option<&'static str>, Option<Value>, u16, &'static str);

fn screening_body(units: f64) -> Value {
    json!({
        "status": "completed",
        "screened_at": "2025-03-01T11:00:00Z",
        "answers": {
            "drinks_alcohol": true,
            "max_units_in_a_day": units,
            "drinking_frequency": "less_than_weekly",
            "attendance_related": false,
        },
    })
}

#[tokio::test]
async fn creating_an_attendance_writes_one_create_event() {
    // Arrange
    let app = spawn_app().await;
    let before = Utc::now();

    // Act
    let resp = app
        .post_json(ATTENDANCES, "integration", &attendance_body("audit-create"))
        .await;
    let after = Utc::now();

    // Assert
    assert_eq!(resp.status().as_u16(), 201);
    let rid = request_id(&resp);
    let created: Value = resp.json().await.unwrap();
    let events = patient_events(&app).await;
    assert_eq!(events.len(), 1, "exactly one event: {events:?}");
    assert_event(
        &events[0],
        &Expected {
            actor: "test-integration",
            roles: json!(["integration"]),
            action: "create",
            resource_type: "attendance",
            resource_id: created["id"].as_str().unwrap(),
            patient_key: PATIENT,
            request_id: &rid,
            between: (before, after),
        },
        "create",
    );
}

#[tokio::test]
async fn reading_an_attendance_writes_one_read_event() {
    // Arrange
    let app = spawn_app().await;
    let created = app.create_attendance(&attendance_body("audit-read")).await;
    let id = created["id"].as_str().unwrap();
    let before = Utc::now();

    // Act: an alcohol health worker looks the patient up.
    let resp = app.get(&format!("{ATTENDANCES}/{id}"), "ahw").await;
    let after = Utc::now();

    // Assert
    assert_eq!(resp.status().as_u16(), 200);
    let rid = request_id(&resp);
    let events = patient_events(&app).await;
    assert_eq!(events.len(), 2, "the create, then the read: {events:?}");
    assert_event(
        &events[0],
        &Expected {
            actor: "test-ahw",
            roles: json!(["ahw"]),
            action: "read",
            resource_type: "attendance",
            resource_id: id,
            patient_key: PATIENT,
            request_id: &rid,
            between: (before, after),
        },
        "read (newest first)",
    );
    assert_eq!(events[1]["action"], "create", "the earlier create comes second");
}

#[tokio::test]
async fn replaying_a_create_writes_a_read() {
    // Arrange: the replay answers the stored record, so it is a read of patient data.
    let app = spawn_app().await;
    let body = attendance_body("audit-replay");
    let created = app.create_attendance(&body).await;
    let before = Utc::now();

    // Act
    let resp = app.post_json(ATTENDANCES, "clinician", &body).await;
    let after = Utc::now();

    // Assert
    assert_eq!(resp.status().as_u16(), 200);
    let rid = request_id(&resp);
    let events = patient_events(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_event(
        &events[0],
        &Expected {
            actor: "test-clinician",
            roles: json!(["clinician"]),
            action: "read",
            resource_type: "attendance",
            resource_id: created["id"].as_str().unwrap(),
            patient_key: PATIENT,
            request_id: &rid,
            between: (before, after),
        },
        "replay",
    );
}

#[tokio::test]
async fn screening_record_replay_and_correction_are_create_read_update() {
    // Arrange
    let app = spawn_app().await;
    let created = app.create_attendance(&attendance_body("audit-screening")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("{ATTENDANCES}/{id}/screening");
    // (body, role, expected status, expected action, why)
    let steps = [
        (
            screening_body(4.0),
            "clinician",
            201,
            "create",
            "the first recording creates",
        ),
        (
            screening_body(4.0),
            "integration",
            200,
            "read",
            "an identical replay reads",
        ),
        (screening_body(14.0), "clinician", 200, "update", "a correction updates"),
    ];

    for (body, role, status, action, why) in steps {
        let before = Utc::now();

        // Act
        let resp = app.put_json(&path, role, &body).await;
        let after = Utc::now();

        // Assert
        assert_eq!(resp.status().as_u16(), status, "{why}");
        let rid = request_id(&resp);
        let events = patient_events(&app).await;
        assert_event(
            &events[0],
            &Expected {
                actor: &format!("test-{role}"),
                roles: json!([role]),
                action,
                resource_type: "screening",
                resource_id: &id,
                patient_key: PATIENT,
                request_id: &rid,
                between: (before, after),
            },
            why,
        );
    }
    let events = patient_events(&app).await;
    assert_eq!(
        events.len(),
        4,
        "one create of the attendance and three screening events"
    );
}

#[tokio::test]
async fn the_patient_key_names_the_nhs_number_or_else_the_local_id() {
    // Arrange: (patient, expected key, why).
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "nhs_number": "943 476 5919", "sex": "male" }),
            "nhs:9434765919",
            "the NHS number as stored, without spaces",
        ),
        (
            json!({ "nhs_number": "9434765919", "local_id": "RH-AUDIT-1" }),
            "nhs:9434765919",
            "the NHS number wins over a local id",
        ),
        (
            json!({ "local_id": "RH-AUDIT-2" }),
            "local:RH-AUDIT-2",
            "without an NHS number, the local id",
        ),
    ];

    for (i, (patient, key, why)) in cases.into_iter().enumerate() {
        let mut body = attendance_body(&format!("audit-key-{i}"));
        body["patient"] = patient;

        // Act
        let created = app.create_attendance(&body).await;

        // Assert
        let events = patient_events(&app).await;
        assert_eq!(events[0]["resource_id"], created["id"], "{why}");
        assert_eq!(events[0]["patient_key"], key, "{why}");
    }
}

#[tokio::test]
async fn failed_requests_write_no_event() {
    // Arrange
    let app = spawn_app().await;
    let stored = app.create_attendance(&attendance_body("audit-fail")).await;
    let id = stored["id"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::now_v7();
    let mut invalid_nhs = attendance_body("audit-fail-2");
    invalid_nhs["patient"]["nhs_number"] = json!("9434765918");
    let mut conflicting = attendance_body("audit-fail");
    conflicting["presenting_condition"] = json!("assault");
    let mut early = screening_body(3.0);
    early["screened_at"] = json!("2025-03-01T09:00:00Z");
    let cases: Vec<FailingRequest> = vec![
        (
            Method::POST,
            ATTENDANCES.into(),
            Some("clinician"),
            Some(invalid_nhs),
            422,
            "an invalid NHS number",
        ),
        (
            Method::POST,
            ATTENDANCES.into(),
            Some("clinician"),
            Some(conflicting),
            409,
            "a conflicting replay",
        ),
        (
            Method::POST,
            ATTENDANCES.into(),
            Some("ahw"),
            Some(attendance_body("audit-fail-3")),
            403,
            "a role that may not create",
        ),
        (
            Method::POST,
            ATTENDANCES.into(),
            None,
            Some(attendance_body("audit-fail-4")),
            401,
            "no token",
        ),
        (
            Method::GET,
            format!("{ATTENDANCES}/{id}"),
            Some("auditor"),
            None,
            403,
            "auditors never see identifiers",
        ),
        (Method::GET, format!("{ATTENDANCES}/{id}"), None, None, 401, "no token"),
        (
            Method::GET,
            format!("{ATTENDANCES}/{unknown}"),
            Some("clinician"),
            None,
            404,
            "an unknown attendance",
        ),
        (
            Method::PUT,
            format!("{ATTENDANCES}/{id}/screening"),
            Some("clinician"),
            Some(early),
            422,
            "screened before arrival",
        ),
        (
            Method::PUT,
            format!("{ATTENDANCES}/{id}/screening"),
            Some("clinician"),
            Some(json!({ "status": "completed" })),
            422,
            "a completed screening without answers",
        ),
        (
            Method::PUT,
            format!("{ATTENDANCES}/{id}/screening"),
            Some("ahw"),
            Some(screening_body(3.0)),
            403,
            "a role that may not screen",
        ),
        (
            Method::PUT,
            format!("{ATTENDANCES}/{unknown}/screening"),
            Some("clinician"),
            Some(screening_body(3.0)),
            404,
            "screening an unknown attendance",
        ),
    ];
    let before = patient_events(&app).await;
    assert_eq!(before.len(), 1, "only the create so far");

    for (method, path, role, body, status, why) in cases {
        let mut req = app.client.request(method, app.url(&path));
        if let Some(role) = role {
            req = req.bearer_auth(app.token(role));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }

        // Act
        let resp = req.send().await.unwrap();

        // Assert
        assert_eq!(resp.status().as_u16(), status, "{why}");
        let after = patient_events(&app).await;
        assert_eq!(after, before, "{why}: a failed request writes no audit event");
    }
}

#[tokio::test]
async fn roles_recorded_are_the_known_roles_of_the_token() {
    // Arrange: a person with two roles and one the service does not know.
    let app = spawn_app().await;
    let exp = Utc::now().timestamp() + 3600;
    let token = app.sign(&json!({
        "sub": "dr-jones", "roles": ["clinician", "admin", "superuser"],
        "iss": ISSUER, "aud": AUDIENCE, "exp": exp,
    }));

    // Act
    let resp = app
        .client
        .post(app.url(ATTENDANCES))
        .bearer_auth(token)
        .json(&attendance_body("audit-roles"))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(resp.status().as_u16(), 201);
    let events = patient_events(&app).await;
    assert_eq!(events[0]["actor"], "dr-jones");
    let mut roles: Vec<String> = events[0]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    roles.sort();
    assert_eq!(roles, ["admin", "clinician"], "known roles only, all of them");
}

#[tokio::test]
async fn the_trail_filters_by_patient_and_actor_newest_first() {
    // Arrange: two patients, two actors.
    let app = spawn_app().await;
    let a = app.create_attendance(&attendance_body("audit-filter-a")).await;
    let mut other = attendance_body("audit-filter-b");
    other["patient"] = json!({ "local_id": "RH-FILTER-9" });
    let b = app.create_attendance(&other).await;
    let a_id = a["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("{ATTENDANCES}/{a_id}"), "ahw").await.status().as_u16(),
        200
    );
    assert_eq!(
        app.get(&format!("{ATTENDANCES}/{a_id}"), "integration")
            .await
            .status()
            .as_u16(),
        200
    );
    let query = |q: &str| {
        let app = &app;
        let q = q.to_owned();
        async move {
            let resp = app.get(&format!("/api/v1/audit-events?{q}"), "admin").await;
            assert_eq!(resp.status().as_u16(), 200, "{q}");
            let body: Value = resp.json().await.unwrap();
            body["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["resource_type"] == "attendance")
                .cloned()
                .collect::<Vec<Value>>()
        }
    };

    // Act
    let by_patient = query("patient_key=nhs:9434765919").await;
    let by_local = query("patient_key=local:RH-FILTER-9").await;
    let by_actor = query("actor=test-ahw").await;
    let everything = query("limit=1000").await;
    let newest = app.get("/api/v1/audit-events?limit=1", "admin").await;

    // Assert
    let actions = |events: &[Value]| {
        events
            .iter()
            .map(|e| {
                (
                    e["actor"].as_str().unwrap().to_owned(),
                    e["action"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        actions(&by_patient),
        [
            ("test-integration".to_owned(), "read".to_owned()),
            ("test-ahw".to_owned(), "read".to_owned()),
            ("test-clinician".to_owned(), "create".to_owned()),
        ],
        "patient A's trail, newest first"
    );
    assert!(by_patient.iter().all(|e| e["patient_key"] == PATIENT));
    assert_eq!(by_local.len(), 1, "patient B has only the create");
    assert_eq!(by_local[0]["resource_id"], b["id"]);
    assert_eq!(actions(&by_actor), [("test-ahw".to_owned(), "read".to_owned())]);
    assert_eq!(everything.len(), 4);
    let times: Vec<DateTime<Utc>> = everything.iter().map(|e| instant(&e["occurred_at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    assert_eq!(newest.status().as_u16(), 200);
    let newest: Value = newest.json().await.unwrap();
    assert_eq!(
        newest["events"].as_array().unwrap().len(),
        1,
        "limit=1 answers one event"
    );
}

#[tokio::test]
async fn reading_a_screened_attendance_writes_one_event() {
    // Arrange: the GET returns the attendance with its screening; that is one read.
    let app = spawn_app().await;
    let created = app.create_attendance(&attendance_body("audit-one-read")).await;
    let id = created["id"].as_str().unwrap();
    let resp = app.record_screening(id, &screening_body(9.0)).await;
    assert_eq!(resp.status().as_u16(), 201);
    let before = patient_events(&app).await.len();

    // Act
    let resp = app.get(&format!("{ATTENDANCES}/{id}"), "clinician").await;

    // Assert
    assert_eq!(resp.status().as_u16(), 200);
    let events = patient_events(&app).await;
    assert_eq!(events.len(), before + 1, "exactly one event for one read");
    assert_eq!(events[0]["action"], "read");
    assert_eq!(events[0]["resource_id"], id);
}

// ---------------------------------------------------------------------------------------------
// Append-only in the database (docs/design.md §6): whoever connects, not only the service.

/// The SQL that picks the one `create` event of the attendance `source_id` in the tests below
/// (backend-neutral: no UUID literal, whose stored form differs between the backends).
const CREATE_EVENT: &str = "(SELECT id FROM audit_events WHERE action = 'create' AND resource_type = 'attendance')";

/// Creates an attendance through the API (one `create` event), connects to the test database
/// directly and answers the connection and every audit event as stored.
async fn one_event_written_through_the_api(
    app: &TestApp,
    source_id: &str,
) -> (
    pat_service::db::DbConnection,
    Vec<pat_service::store::audit::AuditEvent>,
) {
    use diesel::prelude::*;
    let created = app.create_attendance(&attendance_body(source_id)).await;
    let mut conn = pat_service::db::Manager::new(&app.database_url)
        .unwrap()
        .establish()
        .unwrap();
    let stored = stored_events(&mut conn);
    let creates: Vec<_> = stored
        .iter()
        .filter(|e| e.action == "create" && e.resource_type == "attendance")
        .collect();
    assert_eq!(creates.len(), 1, "one create event: {stored:?}");
    assert_eq!(json!(creates[0].resource_id), created["id"]);
    assert_eq!(creates[0].actor, "test-clinician");
    // The event's row is found by the SQL the tests use.
    let found: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "(SELECT COUNT(*) FROM audit_events WHERE id = {CREATE_EVENT})"
    )))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(found, 1);
    (conn, stored)
}

fn stored_events(conn: &mut pat_service::db::DbConnection) -> Vec<pat_service::store::audit::AuditEvent> {
    use diesel::prelude::*;
    use pat_service::db::schema::audit_events;
    audit_events::table
        .select(pat_service::store::audit::COLUMNS)
        .order(audit_events::id)
        .load(conn)
        .unwrap()
}

/// Runs `sql` and asserts the database refuses it with the append-only error.
fn assert_refused(conn: &mut pat_service::db::DbConnection, sql: &str, backend: &str) {
    use diesel::RunQueryDsl;
    match diesel::sql_query(sql).execute(conn) {
        Ok(rows) => panic!("{backend}: `{sql}` was accepted ({rows} rows)"),
        Err(e) => assert!(
            e.to_string().contains("audit_events is append-only"),
            "{backend}: `{sql}` refused by the trigger, not for another reason: {e}"
        ),
    }
}

#[tokio::test]
async fn audit_events_refuse_update() {
    // Arrange: one event written by the service, and a direct connection to its database.
    let app = spawn_app().await;
    let (mut conn, before) = one_event_written_through_the_api(&app, "audit-append-update").await;

    // Act + Assert: one column of the one event, every row, and an upsert that would update.
    for sql in [
        format!("UPDATE audit_events SET actor = 'someone else' WHERE id = {CREATE_EVENT}"),
        "UPDATE audit_events SET patient_key = NULL".to_owned(),
        "INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id) \
         SELECT id, occurred_at, actor, roles, action, resource_type, resource_id FROM audit_events \
         WHERE true ON CONFLICT (id) DO UPDATE SET actor = 'someone else'"
            .to_owned(),
    ] {
        assert_refused(&mut conn, &sql, app.backend);
    }

    // Assert: every row as it was, and the service still shows the event as written.
    assert_eq!(stored_events(&mut conn), before, "{}: nothing changed", app.backend);
    let events = patient_events(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "test-clinician");
    assert_eq!(events[0]["patient_key"], PATIENT);
}

#[tokio::test]
async fn audit_events_refuse_delete() {
    // Arrange
    let app = spawn_app().await;
    let (mut conn, before) = one_event_written_through_the_api(&app, "audit-append-delete").await;

    // Act + Assert: the one event, every event, and (the ways around a row trigger) TRUNCATE on
    // PostgreSQL, INSERT OR REPLACE (a delete that fires no delete trigger) on SQLite.
    let mut attempts = vec![
        format!("DELETE FROM audit_events WHERE id = {CREATE_EVENT}"),
        "DELETE FROM audit_events".to_owned(),
    ];
    attempts.push(match app.backend {
        "postgres" => "TRUNCATE audit_events".to_owned(),
        _ => "INSERT OR REPLACE INTO audit_events \
              (id, occurred_at, actor, roles, action, resource_type, resource_id) \
              SELECT id, occurred_at, 'someone else', roles, action, resource_type, resource_id \
              FROM audit_events"
            .to_owned(),
    });
    for sql in &attempts {
        assert_refused(&mut conn, sql, app.backend);
    }

    // Assert
    assert_eq!(stored_events(&mut conn), before, "{}: nothing removed", app.backend);
    let events = patient_events(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "test-clinician");
}
