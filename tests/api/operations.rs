//! What an operator relies on (docs/design.md §1, §4, §7): health and readiness, Prometheus metrics by
//! route pattern, Swagger UI and the OpenAPI document, a request id on every response, and the
//! real binary: configured from the environment, JSON logs without patient identifiers, and a
//! clean exit on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::{attendance_body, free_port, spawn_app, spawn_app_with, KillOnDrop, TestApp, AUDIENCE, ISSUER};

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or_default().to_owned())
}

async fn metrics_text(app: &TestApp) -> String {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "/metrics needs no token");
    let content_type = header(&resp, "content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain"),
        "Prometheus text exposition format, got {content_type:?}"
    );
    resp.text().await.unwrap()
}

/// The value of the sample whose name is `name` and whose labels include every one of `labels`.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|label| l.contains(label)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
}

#[tokio::test]
async fn health_endpoints_answer_without_a_token() {
    // Arrange
    let app = spawn_app().await;

    for path in ["/health/live", "/health/ready"] {
        // Act
        let resp = app.client.get(app.url(path)).send().await.unwrap();

        // Assert
        assert_eq!(resp.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_never_by_raw_path() {
    // Arrange
    let app = spawn_app().await;
    let id = app.create_attendance(&attendance_body("metrics-1")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = uuid::Uuid::now_v7();
    let route = r#"route="/api/v1/attendances/{id}""#;

    // Act
    for _ in 0..2 {
        let resp = app.get(&format!("/api/v1/attendances/{id}"), "clinician").await;
        assert_eq!(resp.status().as_u16(), 200);
    }
    let resp = app.get(&format!("/api/v1/attendances/{unknown}"), "clinician").await;
    assert_eq!(resp.status().as_u16(), 404);
    let text = metrics_text(&app).await;

    // Assert
    assert_eq!(
        sample(
            &text,
            "http_requests_total",
            &[route, r#"method="GET""#, r#"status="200""#]
        ),
        Some(2.0),
        "two GETs of one attendance are counted under the route pattern:\n{text}"
    );
    assert_eq!(
        sample(
            &text,
            "http_requests_total",
            &[route, r#"method="GET""#, r#"status="404""#]
        ),
        Some(1.0),
        "the 404 is counted under the same pattern:\n{text}"
    );
    assert_eq!(
        sample(
            &text,
            "http_requests_total",
            &[r#"route="/api/v1/attendances""#, r#"method="POST""#, r#"status="201""#]
        ),
        Some(1.0),
        "the create is counted:\n{text}"
    );
    assert_eq!(
        sample(
            &text,
            "http_request_duration_seconds_count",
            &[route, r#"method="GET""#, r#"status="200""#]
        ),
        Some(2.0),
        "the latency histogram has the same labels:\n{text}"
    );
    assert_eq!(
        sample(
            &text,
            "http_request_duration_seconds_bucket",
            &[route, r#"method="GET""#, r#"status="200""#, r#"le="+Inf""#]
        ),
        Some(2.0),
        "the +Inf bucket holds every observation"
    );
    assert!(text.contains("# TYPE http_requests_total counter"));
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    assert!(
        !text.contains(&id) && !text.contains(&unknown.to_string()),
        "no raw id is a label (cardinality, and ids lead to patients)"
    );
}

#[tokio::test]
async fn docs_redirects_to_swagger_ui() {
    // Arrange
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Act
    let redirect = no_redirects.get(app.url("/docs")).send().await.unwrap();
    let page = no_redirects.get(app.url("/docs/")).send().await.unwrap();

    // Assert
    assert!(
        redirect.status().is_redirection(),
        "/docs redirects, got {}",
        redirect.status()
    );
    let location = header(&redirect, "location").unwrap_or_default();
    assert!(location.ends_with("/docs/"), "to /docs/, got {location:?}");
    assert_eq!(page.status().as_u16(), 200);
    let content_type = header(&page, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{content_type:?}");
    let html = page.text().await.unwrap();
    assert!(html.to_lowercase().contains("swagger"), "the Swagger UI page");
}

#[tokio::test]
async fn the_openapi_document_lists_the_api_and_its_bearer_security() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let resp = app.client.get(app.url("/api-docs/openapi.json")).send().await.unwrap();

    // Assert
    assert_eq!(resp.status().as_u16(), 200, "the document needs no token");
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap_or_default().starts_with('3'));
    let cases = [
        ("/api/v1/attendances", "post"),
        ("/api/v1/attendances/{id}", "get"),
        ("/api/v1/attendances/{id}/screening", "put"),
        ("/api/v1/audit-events", "get"),
    ];
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("components.securitySchemes");
    let bearer: Vec<&String> = schemes
        .iter()
        .filter(|(_, s)| s["type"] == "http" && s["scheme"].as_str().unwrap_or_default().eq_ignore_ascii_case("bearer"))
        .map(|(name, _)| name)
        .collect();
    assert!(!bearer.is_empty(), "an HTTP bearer scheme is declared: {schemes:?}");
    assert!(schemes.contains_key("bearerAuth"), "named bearerAuth: {schemes:?}");
    for (path, method) in cases {
        let operation = &doc["paths"][path][method];
        assert!(
            operation.is_object(),
            "{method} {path} is documented with its full path"
        );
        let security = operation["security"]
            .as_array()
            .or_else(|| doc["security"].as_array())
            .unwrap_or_else(|| panic!("{method} {path} declares its security"));
        assert!(
            security
                .iter()
                .any(|req| bearer.iter().any(|name| req.get(name.as_str()).is_some())),
            "{method} {path} requires the bearer scheme: {security:?}"
        );
    }
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        !paths.contains_key("/attendances") && !paths.contains_key("/attendances/{id}"),
        "no path is documented without its /api/v1 prefix"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    // Arrange: successes, client errors, operations endpoints.
    let app = spawn_app().await;
    let body = attendance_body("rid-1");
    let requests = vec![
        ("GET /health/live", app.client.get(app.url("/health/live"))),
        ("GET /metrics", app.client.get(app.url("/metrics"))),
        (
            "POST 201",
            app.client
                .post(app.url("/api/v1/attendances"))
                .bearer_auth(app.token("clinician"))
                .json(&body),
        ),
        ("POST 401", app.client.post(app.url("/api/v1/attendances")).json(&body)),
        (
            "POST 403",
            app.client
                .post(app.url("/api/v1/attendances"))
                .bearer_auth(app.token("auditor"))
                .json(&body),
        ),
        (
            "POST 422",
            app.client
                .post(app.url("/api/v1/attendances"))
                .bearer_auth(app.token("clinician"))
                .json(&json!({})),
        ),
        ("GET 404", app.client.get(app.url("/nowhere"))),
    ];
    let mut seen = std::collections::HashSet::new();

    for (what, request) in requests {
        // Act
        let resp = request.send().await.unwrap();

        // Assert
        let id = header(&resp, "x-request-id").unwrap_or_default();
        assert!(!id.is_empty(), "{what}: x-request-id is set");
        assert!(seen.insert(id.clone()), "{what}: each request gets its own id ({id})");
    }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[tokio::test]
async fn the_binary_logs_json_without_patient_identifiers_and_stops_on_sigterm() {
    // Arrange: identifiers that appear nowhere else. 4857773457 is a valid NHS number:
    // 4·10 + 8·9 + 5·8 + 7·7 + 7·6 + 7·5 + 3·4 + 4·3 + 5·2 = 312; 312 mod 11 = 4; 11 − 4 = 7.
    // 4857773458 differs only in its check digit, so it is refused (and must not be echoed).
    const NHS: &str = "4857773457";
    const NHS_SPACED: &str = "485 777 3457";
    const BAD_NHS: &str = "4857773458";
    const LOCAL_ID: &str = "LOGLEAK-88413";
    const DATE_OF_BIRTH: &str = "1961-07-13";
    const SECRET: &str = "binary-test-secret-0123456789abcdefghijk";
    assert_eq!(SECRET.len(), 40);
    let db_path = std::env::temp_dir().join(format!("pat-bin-{}.db", uuid::Uuid::new_v4().simple()));
    let port = free_port();
    let mut server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_pat-service"))
            .arg("serve")
            .env("DATABASE_URL", format!("sqlite://{}", db_path.display()))
            .env("PAT_JWT_SECRET", SECRET)
            .env("PAT_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "debug")
            .env_remove("PAT_JWT_PUBLIC_KEY_FILE")
            .env_remove("PAT_JWT_ALGORITHM")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    );
    let stdout = read_all(server.0.stdout.take().unwrap());
    let stderr = read_all(server.0.stderr.take().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(resp) = client.get(format!("{base}/health/ready")).send().await {
            if resp.status().is_success() {
                break;
            }
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "the server exited early with {status}: {}{}",
                stdout.join().unwrap(),
                stderr.join().unwrap()
            );
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the server became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = encode(
        &Header::new(Algorithm::HS256),
        &json!({
            "sub": "bin-test", "roles": ["clinician", "admin"],
            "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600,
        }),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let attendance = json!({
        "source_system": "bin-epr",
        "source_id": "bin-1",
        "patient": { "nhs_number": NHS_SPACED, "local_id": LOCAL_ID, "sex": "female", "date_of_birth": DATE_OF_BIRTH },
        "arrived_at": "2025-03-01T10:00:00Z",
        "presenting_condition": "assault",
    });

    // Act: create, replay, conflict, read, screen, audit query, and a refused NHS number.
    let post = |body: &Value| {
        client
            .post(format!("{base}/api/v1/attendances"))
            .bearer_auth(&token)
            .json(body)
            .send()
    };
    let created = post(&attendance).await.unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(post(&attendance).await.unwrap().status().as_u16(), 200);
    let mut conflicting = attendance.clone();
    conflicting["presenting_condition"] = json!("fall");
    assert_eq!(post(&conflicting).await.unwrap().status().as_u16(), 409);
    let mut refused = attendance.clone();
    refused["source_id"] = json!("bin-2");
    refused["patient"]["nhs_number"] = json!(BAD_NHS);
    assert_eq!(post(&refused).await.unwrap().status().as_u16(), 422);
    let read = client
        .get(format!("{base}/api/v1/attendances/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    let screened = client
        .put(format!("{base}/api/v1/attendances/{id}/screening"))
        .bearer_auth(&token)
        .json(&json!({
            "status": "completed",
            "screened_at": "2025-03-01T11:00:00Z",
            "answers": { "drinks_alcohol": true, "max_units_in_a_day": 12,
                         "drinking_frequency": "daily", "attendance_related": true },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(screened.status().as_u16(), 201);
    let audit = client
        .get(format!("{base}/api/v1/audit-events?patient_key=nhs:{NHS}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(audit.status().as_u16(), 200);
    let pid = server.0.id().to_string();
    let signalled = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(signalled.success(), "kill -TERM {pid}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let exit = match exit {
        Some(status) => status,
        None => {
            drop(server);
            panic!("the server did not exit within 10 s of SIGTERM");
        }
    };
    let logs = format!("{}{}", stdout.join().unwrap(), stderr.join().unwrap());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db_path.display()));
    }

    // Assert
    assert!(exit.success(), "SIGTERM is a clean shutdown, exit {exit}:\n{logs}");
    let json_lines = logs
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v.is_object()))
        .count();
    assert!(
        json_lines >= 5,
        "the logs were captured and are JSON lines (found {json_lines}):\n{logs}"
    );
    for (secret, what) in [
        (NHS, "the NHS number"),
        (NHS_SPACED, "the NHS number as typed"),
        (BAD_NHS, "a refused NHS number"),
        (LOCAL_ID, "the local hospital number"),
        (DATE_OF_BIRTH, "the date of birth"),
        (token.as_str(), "the bearer token"),
    ] {
        let leaking: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).take(3).collect();
        assert!(
            leaking.is_empty(),
            "{what} appears in the logs:\n{}",
            leaking.join("\n")
        );
    }
}

#[tokio::test]
async fn metrics_count_the_write_batches_on_postgresql() {
    // Arrange: three attendances, one after another, and a screening of the first, with write
    // batches on whatever TEST_WRITE_BATCH_SIZE says.
    let app = spawn_app_with(|settings| settings.write_batch_size = 32).await;
    let mut ids = vec![];
    for n in 0..3 {
        ids.push(
            app.create_attendance(&attendance_body(&format!("batch-metrics-{n}")))
                .await["id"]
                .clone(),
        );
    }
    let body = serde_json::json!({"status": "refused"});
    let screened = app.record_screening(ids[0].as_str().unwrap(), &body).await;
    assert_eq!(screened.status().as_u16(), 201);

    // Act
    let text = metrics_text(&app).await;

    // Assert
    let requests = |queue: &str| {
        sample(
            &text,
            "pat_write_batch_requests_total",
            &[&format!("queue=\"{queue}\"")],
        )
    };
    if app.backend == "postgres" {
        // Sent one at a time, each is a batch of its own: 3 attendances, 1 read and 1 screening.
        assert_eq!(requests("attendances"), Some(3.0));
        assert_eq!(requests("reads"), Some(1.0));
        assert_eq!(requests("screenings"), Some(1.0));
        assert_eq!(requests("booking-reads"), Some(0.0));
        let batches = sample(&text, "pat_write_batches_total", &["queue=\"attendances\""]);
        assert_eq!(batches, Some(3.0), "one request in flight at a time: three batches");
        let failed = sample(&text, "pat_write_batches_failed_total", &["queue=\"attendances\""]);
        assert_eq!(failed, Some(0.0));
    } else {
        // SQLite writes in-process, one request at a time: there are no batches to count.
        assert!(!text.contains("pat_write_batch"), "no batch metrics on SQLite");
    }
}
