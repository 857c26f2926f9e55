//! Errors as an integration engine meets them (docs/design.md §4, docs/style.md §5): every error is
//! `application/problem+json` with `type`, `title`, `status`, `detail`; validation errors name
//! the field; and the checks answer in the documented order — token (401), role (403), request
//! shape (400, 413, 422), existence (404), conflicts (409).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, attendance_body, spawn_app, TestApp};

const ATTENDANCES: &str = "/api/v1/attendances";
const MIB: usize = 1024 * 1024;

/// Sends `body` as raw text with a JSON content type, so malformed JSON can be sent.
async fn send_raw(app: &TestApp, method: Method, path: &str, role: Option<&str>, body: String) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(role) = role {
        req = req.bearer_auth(app.token(role));
    }
    req.send().await.expect("the request is answered")
}

/// Asserts the status, content type and the four RFC 9457 members; returns the body.
async fn problem(resp: reqwest::Response, status: u16, why: &str) -> Value {
    let body = assert_problem(resp, status).await;
    assert!(body["type"].is_string(), "{why}: `type` is a string: {body}");
    assert!(body["title"].is_string(), "{why}: `title` is a string: {body}");
    assert_eq!(body["status"], status, "{why}: `status` repeats the HTTP status");
    assert!(body["detail"].is_string(), "{why}: `detail` is a string: {body}");
    body
}

/// A request breaking two rules: method, path, role (none = no token), raw body, the status of
/// the rule checked first, why.
type OrderCase = (Method, String, Option<&'static str>, String, u16, &'static str);

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn attendance_id(app: &TestApp) -> String {
    app.create_attendance(&attendance_body("errors-target")).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn screening_body() -> Value {
    json!({
        "status": "completed",
        "screened_at": "2025-03-01T11:00:00Z",
        "answers": {
            "drinks_alcohol": true,
            "max_units_in_a_day": 3,
            "drinking_frequency": "less_than_weekly",
            "attendance_related": false,
        },
    })
}

/// An attendance whose free text makes the JSON body about `size` bytes long.
fn attendance_of_size(source_id: &str, size: usize) -> String {
    let mut body = attendance_body(source_id);
    body["presenting_condition_detail"] = json!("");
    let overhead = body.to_string().len();
    body["presenting_condition_detail"] = json!("x".repeat(size.saturating_sub(overhead)));
    body.to_string()
}

#[tokio::test]
async fn malformed_json_is_400() {
    // Arrange
    let app = spawn_app().await;
    let id = attendance_id(&app).await;
    let cases = [
        (
            Method::POST,
            ATTENDANCES.to_owned(),
            r#"{"source_id": "#,
            "truncated JSON",
        ),
        (
            Method::POST,
            ATTENDANCES.to_owned(),
            "{source_id: 'x'}",
            "JavaScript, not JSON",
        ),
        (Method::POST, ATTENDANCES.to_owned(), "", "an empty body"),
        (
            Method::PUT,
            format!("{ATTENDANCES}/{id}/screening"),
            r#"{"status": "completed",,}"#,
            "a screening that is not JSON",
        ),
    ];

    for (method, path, body, why) in cases {
        // Act
        let resp = send_raw(&app, method, &path, Some("clinician"), body.to_owned()).await;

        // Assert
        problem(resp, 400, why).await;
    }
}

#[tokio::test]
async fn a_wrong_value_is_422_naming_the_field() {
    // Arrange: (change to a valid attendance, field the error must name, why).
    let app = spawn_app().await;
    let base = attendance_body("errors-type");
    let mut cases: Vec<(Value, &str, &str)> = Vec::new();
    let mut with = |path: &[&str], value: Value, field: &'static str, why: &'static str| {
        let mut body = base.clone();
        let mut target = &mut body;
        for key in &path[..path.len() - 1] {
            target = &mut target[*key];
        }
        target[path[path.len() - 1]] = value;
        cases.push((body, field, why));
    };
    with(&["source_id"], json!(7), "source_id", "a number where text is expected");
    with(
        &["arrived_at"],
        json!("yesterday"),
        "arrived_at",
        "not an RFC 3339 time",
    );
    with(
        &["arrived_at"],
        json!(1_740_823_200),
        "arrived_at",
        "a Unix time, not RFC 3339",
    );
    with(
        &["presenting_condition"],
        json!(["fall"]),
        "presenting_condition",
        "an array, not a code",
    );
    with(
        &["patient"],
        json!("9434765919"),
        "patient",
        "a string, not a patient object",
    );
    with(
        &["patient", "sex"],
        json!("martian"),
        "patient.sex",
        "not one of the four codes",
    );
    with(
        &["patient", "date_of_birth"],
        json!("29/02/1980"),
        "patient.date_of_birth",
        "not a date",
    );
    with(
        &["patient", "nhs_number"],
        json!(9434765919_u64),
        "patient.nhs_number",
        "a number, not text",
    );
    with(
        &["attendance_category"],
        json!("emergency"),
        "attendance_category",
        "not planned/unplanned",
    );
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("source_id");
    cases.push((missing, "source_id", "a required field is missing"));
    let mut missing_arrival = base.clone();
    missing_arrival.as_object_mut().unwrap().remove("arrived_at");
    cases.push((missing_arrival, "arrived_at", "a required time is missing"));

    for (body, field, why) in cases {
        // Act
        let resp = app.post_json(ATTENDANCES, "clinician", &body).await;

        // Assert
        let body = problem(resp, 422, why).await;
        assert!(
            fields(&body).iter().any(|f| f == field),
            "{why}: errors name {field:?}: {body}"
        );
    }
}

#[tokio::test]
async fn a_wrong_value_in_a_screening_is_422_naming_the_field() {
    // Arrange
    let app = spawn_app().await;
    let id = attendance_id(&app).await;
    let mut units_text = screening_body();
    units_text["answers"]["max_units_in_a_day"] = json!("lots");
    let mut when_text = screening_body();
    when_text["screened_at"] = json!("after lunch");
    let mut advice_text = screening_body();
    advice_text["advice_given"] = json!("yes");
    let cases = [
        (units_text, "answers.max_units_in_a_day", "units must be a number"),
        (when_text, "screened_at", "screened_at must be RFC 3339"),
        (advice_text, "advice_given", "advice_given is a boolean"),
    ];

    for (body, field, why) in cases {
        // Act
        let resp = app.record_screening(&id, &body).await;

        // Assert
        let body = problem(resp, 422, why).await;
        assert!(
            fields(&body).iter().any(|f| f == field),
            "{why}: errors name {field:?}: {body}"
        );
    }
}

#[tokio::test]
async fn a_body_over_1_mib_is_413_and_one_under_is_not() {
    // Arrange: docs/design.md §4 limits JSON bodies to 1 MiB.
    let app = spawn_app().await;
    let over = attendance_of_size("errors-big", MIB + 1024);
    let under = attendance_of_size("errors-under", 900 * 1024);
    assert!(over.len() > MIB && under.len() < MIB);

    // Act
    let resp_over = send_raw(&app, Method::POST, ATTENDANCES, Some("clinician"), over).await;
    let resp_under = send_raw(&app, Method::POST, ATTENDANCES, Some("clinician"), under).await;

    // Assert
    problem(resp_over, 413, "just over 1 MiB").await;
    let status = resp_under.status().as_u16();
    assert!(
        status != 413 && status < 500,
        "900 KiB is under the 1 MiB limit (a smaller default limit would refuse it): got {status}"
    );
}

#[tokio::test]
async fn an_unknown_route_is_404_problem_json() {
    // Arrange
    let app = spawn_app().await;
    let token = app.token("admin");
    let cases = [
        ("/api/v1/nothing-here", true, "an unknown API path with a token"),
        ("/api/v1/nothing-here", false, "an unknown API path without a token"),
        ("/no-such-page", false, "an unknown path outside the API"),
        ("/api/v2/attendances", true, "a version that does not exist"),
    ];

    for (path, with_token, why) in cases {
        let mut req = app.client.get(app.url(path));
        if with_token {
            req = req.bearer_auth(&token);
        }

        // Act
        let resp = req.send().await.unwrap();

        // Assert
        problem(resp, 404, why).await;
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_problem_json() {
    // Arrange
    let app = spawn_app().await;
    let id = attendance_id(&app).await;
    // The Allow header (RFC 9110 §15.5.6) names the methods the path does support.
    let cases = [
        (
            Method::GET,
            ATTENDANCES.to_owned(),
            "POST",
            "there is no list of attendances",
        ),
        (
            Method::DELETE,
            format!("{ATTENDANCES}/{id}"),
            "GET",
            "attendances are never deleted",
        ),
        (
            Method::PATCH,
            format!("{ATTENDANCES}/{id}/screening"),
            "PUT",
            "a screening is PUT",
        ),
        (
            Method::POST,
            "/api/v1/audit-events".to_owned(),
            "GET",
            "the audit trail is append-only from inside",
        ),
        (
            Method::PUT,
            "/api/v1/slots".to_owned(),
            "GET, POST",
            "slots are listed and published",
        ),
        (
            Method::GET,
            format!("/api/v1/slots/{id}"),
            "DELETE",
            "a slot is only withdrawn by id",
        ),
        (
            Method::OPTIONS,
            "/api/v1/bookings".to_owned(),
            "GET, POST",
            "bookings are listed and made",
        ),
        (Method::POST, "/health/live".to_owned(), "GET", "liveness is read"),
    ];

    for (method, path, allow, why) in cases {
        // Act
        let resp = app
            .client
            .request(method, app.url(&path))
            .bearer_auth(app.token("admin"))
            .send()
            .await
            .unwrap();

        // Assert
        assert_eq!(
            resp.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "Allow: {why}"
        );
        problem(resp, 405, why).await;
    }
}

#[tokio::test]
async fn checks_answer_in_the_documented_order() {
    // Arrange: docs/design.md §4 — token (401), role (403), shape (400/413/422), existence (404),
    // conflict (409). Each row breaks two rules; the earlier one must answer.
    let app = spawn_app().await;
    let stored = app.create_attendance(&attendance_body("order-1")).await;
    let id = stored["id"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::now_v7();
    let bad_value = json!({ "status": "completed", "answers": { "drinks_alcohol": "perhaps" } }).to_string();
    let mut conflicting_and_invalid = attendance_body("order-1");
    conflicting_and_invalid["patient"]["nhs_number"] = json!("9434765918");
    let big = attendance_of_size("order-big", MIB + 1024);
    let cases: Vec<OrderCase> = vec![
        (
            Method::POST,
            ATTENDANCES.into(),
            None,
            "{not json".into(),
            401,
            "no token + malformed JSON → 401",
        ),
        (
            Method::POST,
            ATTENDANCES.into(),
            None,
            json!({}).to_string(),
            401,
            "no token + invalid body → 401",
        ),
        (
            Method::POST,
            ATTENDANCES.into(),
            None,
            big.clone(),
            401,
            "no token + body too large → 401",
        ),
        (
            Method::POST,
            ATTENDANCES.into(),
            Some("ahw"),
            "{not json".into(),
            403,
            "wrong role + malformed JSON → 403",
        ),
        (
            Method::POST,
            ATTENDANCES.into(),
            Some("auditor"),
            json!({}).to_string(),
            403,
            "wrong role + invalid body → 403",
        ),
        (
            Method::POST,
            ATTENDANCES.into(),
            Some("ahw"),
            big,
            403,
            "wrong role + body too large → 403",
        ),
        (
            Method::PUT,
            format!("{ATTENDANCES}/{unknown}/screening"),
            None,
            bad_value.clone(),
            401,
            "no token + invalid body + unknown id → 401",
        ),
        (
            Method::PUT,
            format!("{ATTENDANCES}/{unknown}/screening"),
            Some("ahw"),
            bad_value.clone(),
            403,
            "wrong role + invalid body + unknown id → 403",
        ),
        (
            Method::PUT,
            format!("{ATTENDANCES}/{unknown}/screening"),
            Some("clinician"),
            bad_value,
            422,
            "invalid body + unknown id → 422",
        ),
        (
            Method::PUT,
            format!("{ATTENDANCES}/{unknown}/screening"),
            Some("clinician"),
            "{not json".into(),
            400,
            "malformed JSON + unknown id → 400",
        ),
        (
            Method::POST,
            ATTENDANCES.into(),
            Some("clinician"),
            conflicting_and_invalid.to_string(),
            422,
            "a replay with different content that is also invalid → 422, not 409",
        ),
    ];

    for (method, path, role, body, status, why) in cases {
        // Act
        let resp = send_raw(&app, method, &path, role, body).await;

        // Assert
        problem(resp, status, why).await;
    }
    let unchanged: Value = app
        .get(&format!("{ATTENDANCES}/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged, stored, "none of the refused requests changed the attendance");
}

#[tokio::test]
async fn a_bad_query_is_400() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app.get("/api/v1/audit-events?limit=lots", "admin").await;

    // Assert
    problem(resp, 400, "limit must be a number").await;
}

#[tokio::test]
async fn json_with_a_charset_is_accepted_and_other_media_types_are_problem_json() {
    // Arrange
    let app = spawn_app().await;
    let body = attendance_body("errors-ct").to_string();

    // Act
    let with_charset = app
        .client
        .post(app.url(ATTENDANCES))
        .bearer_auth(app.token("clinician"))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let as_text = app
        .client
        .post(app.url(ATTENDANCES))
        .bearer_auth(app.token("clinician"))
        .header("Content-Type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(
        with_charset.status().as_u16(),
        201,
        "an explicit UTF-8 charset is still JSON"
    );
    let status = as_text.status().as_u16();
    assert!((400..500).contains(&status), "text/plain is refused, got {status}");
    problem(as_text, status, "every error is problem+json").await;
}

#[tokio::test]
async fn an_arrival_without_an_offset_is_422() {
    // Arrange: "10:00" without an offset is ambiguous twice a year in Europe/London; RFC 3339
    // requires the offset.
    let app = spawn_app().await;
    let mut body = attendance_body("errors-naive");
    body["arrived_at"] = json!("2025-03-01T10:00:00");

    // Act
    let resp = app.post_json(ATTENDANCES, "clinician", &body).await;

    // Assert
    let body = problem(resp, 422, "a local time without offset").await;
    assert!(fields(&body).iter().any(|f| f == "arrived_at"), "{body}");
}

#[tokio::test]
async fn an_out_of_range_limit_is_422_naming_it() {
    // Arrange
    let app = spawn_app().await;

    for query in ["limit=0", "limit=-5", "limit=1000000"] {
        // Act
        let resp = app.get(&format!("/api/v1/audit-events?{query}"), "admin").await;

        // Assert
        let body = problem(resp, 422, query).await;
        assert!(fields(&body).iter().any(|f| f == "limit"), "{query}: {body}");
    }
}

#[tokio::test]
async fn problems_never_echo_patient_identifiers() {
    // Arrange: integration engines log error bodies; an identifier in one leaks into their logs.
    let app = spawn_app().await;
    let mut stored = attendance_body("errors-echo");
    stored["patient"]["local_id"] = json!("RH-ECHO-5521");
    app.create_attendance(&stored).await;
    let mut bad_nhs = attendance_body("errors-echo-2");
    bad_nhs["patient"]["nhs_number"] = json!("9434765918");
    let mut conflicting = stored.clone();
    conflicting["presenting_condition"] = json!("assault");
    let cases = [
        (bad_nhs, 422, "9434765918", "a refused NHS number"),
        (
            conflicting.clone(),
            409,
            "9434765919",
            "the NHS number of a conflicting replay",
        ),
        (conflicting, 409, "RH-ECHO-5521", "the local id of a conflicting replay"),
    ];

    for (body, status, identifier, why) in cases {
        // Act
        let resp = app.post_json(ATTENDANCES, "clinician", &body).await;

        // Assert
        let problem = problem(resp, status, why).await;
        assert!(!problem.to_string().contains(identifier), "{why} is echoed: {problem}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_on_every_operation_that_takes_one() {
    // Arrange: the 11 operations that take a body (the document says 415 for each).
    let app = spawn_app().await;
    let id = uuid::Uuid::now_v7();
    // Each with a role it allows: the role is checked before the body.
    let cases = [
        (Method::POST, ATTENDANCES.to_owned(), "integration"),
        (
            Method::POST,
            format!("{ATTENDANCES}/{id}/entered-in-error"),
            "clinician",
        ),
        (Method::PUT, format!("{ATTENDANCES}/{id}/screening"), "clinician"),
        (Method::PUT, format!("{ATTENDANCES}/{id}/referral"), "clinician"),
        (Method::POST, format!("{ATTENDANCES}/{id}/follow-ups"), "ahw"),
        (Method::POST, format!("/api/v1/patients/{id}/link"), "integration"),
        (Method::POST, format!("/api/v1/patients/{id}/unlink"), "integration"),
        (Method::POST, "/api/v1/health-workers".to_owned(), "admin"),
        (Method::POST, "/api/v1/slots".to_owned(), "admin"),
        (Method::POST, "/api/v1/bookings".to_owned(), "clinician"),
        (Method::POST, format!("/api/v1/bookings/{id}/outcome"), "ahw"),
    ];

    for (method, path, role) in cases {
        // Act
        let resp = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(app.token(role))
            .header("Content-Type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();

        // Assert
        problem(resp, 415, &format!("{method} {path}")).await;
    }
}

#[tokio::test]
async fn group_by_is_an_unknown_parameter_on_the_reports_that_are_not_grouped() {
    // Arrange
    let app = spawn_app().await;

    for report in ["referrals", "reattendance", "outcomes"] {
        // Act
        let resp = app
            .get(&format!("/api/v1/statistics/{report}?group_by=month"), "auditor")
            .await;

        // Assert: the document does not list group_by for these, and the service does not take it.
        let body = problem(resp, 400, report).await;
        assert!(
            body["detail"].as_str().unwrap().contains("group_by"),
            "{report}: {body}"
        );
    }
    // The funnel takes it.
    let resp = app.get("/api/v1/statistics/funnel?group_by=month", "auditor").await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn text_is_measured_as_sent_and_blank_text_is_refused() {
    // Arrange: the document says maxLength 200 and a non-blank pattern for source_id.
    let app = spawn_app().await;
    let padded = format!(" {} ", "a".repeat(199)); // 201 characters sent, 199 after trimming
    let blank = "\u{3000}\u{2003} ".to_owned(); // ideographic and em spaces: white space to trim

    for (source_id, why) in [(padded, "201 characters as sent"), (blank, "only white space")] {
        let mut body = attendance_body("x");
        body["source_id"] = json!(source_id);

        // Act
        let resp = app.post_json(ATTENDANCES, "integration", &body).await;

        // Assert
        let problem = problem(resp, 422, why).await;
        assert_eq!(problem["errors"][0]["field"], "source_id", "{why}: {problem}");
    }
}
