//! `spawn_app()` and typed request helpers. Each test gets its own database: a temporary SQLite
//! file, or (with `TEST_DATABASE_URL`) a PostgreSQL database cloned from a template migrated once
//! per run, dropped when the test ends (STYLE.md §3).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use pat_service::app::Application;
use pat_service::auth::{mint_hs256, Role};
use pat_service::config::{JwtKey, JwtSettings, Secret, Settings};
use pat_service::domain::pat::PatRule;
use serde_json::{json, Value};

pub const ISSUER: &str = "pat-service";
pub const AUDIENCE: &str = "pat-service";
pub const ROLES: [&str; 5] = ["clinician", "integration", "ahw", "auditor", "admin"];

/// Where a test's database lives; removed on drop.
pub enum TestDb {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh, empty (unmigrated) database and its URL.
    pub fn empty() -> (TestDb, String) {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("pat_test_{}", uuid::Uuid::new_v4().simple());
                admin_execute(&admin_url, &format!("CREATE DATABASE {name}"));
                let url = database_url(&admin_url, &name);
                (TestDb::Postgres { admin_url, name }, url)
            }
            _ => {
                let path = std::env::temp_dir().join(format!("pat-test-{}.db", uuid::Uuid::new_v4().simple()));
                let url = format!("sqlite://{}", path.display());
                (TestDb::Sqlite(path), url)
            }
        }
    }

    /// A fresh database with every migration applied (PostgreSQL: cloned from the template).
    pub fn migrated() -> (TestDb, String) {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let template = template(&admin_url);
                let name = format!("pat_test_{}", uuid::Uuid::new_v4().simple());
                // Two clones of one template at the same instant can collide; retry briefly.
                let sql = format!("CREATE DATABASE {name} TEMPLATE {template}");
                let mut attempt = 0;
                loop {
                    let mut conn = PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
                    match diesel::sql_query(&sql).execute(&mut conn) {
                        Ok(_) => break,
                        Err(e) if attempt < 50 => {
                            attempt += 1;
                            let _ = e;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        Err(e) => panic!("cannot create test database: {e}"),
                    }
                }
                let url = database_url(&admin_url, &name);
                (TestDb::Postgres { admin_url, name }, url)
            }
            _ => {
                let (db, url) = TestDb::empty();
                let manager = pat_service::db::Manager::new(&url).expect("url");
                pat_service::db::migrate(&mut manager.establish().expect("connect")).expect("migrate");
                (db, url)
            }
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            TestDb::Sqlite(_) => "sqlite",
            TestDb::Postgres { .. } => "postgres",
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            TestDb::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            TestDb::Postgres { admin_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
                }
            }
        }
    }
}

fn database_url(admin_url: &str, name: &str) -> String {
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL must name a database");
    format!("{base}/{name}")
}

fn admin_execute(admin_url: &str, sql: &str) {
    let mut conn = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
    diesel::sql_query(sql)
        .execute(&mut conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The template database, migrated once per test run.
fn template(admin_url: &str) -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("pat_template_{}", std::process::id());
        admin_execute(admin_url, &format!("DROP DATABASE IF EXISTS {name}"));
        admin_execute(admin_url, &format!("CREATE DATABASE {name}"));
        {
            let manager = pat_service::db::Manager::new(&database_url(admin_url, &name)).expect("url");
            let mut conn = manager.establish().expect("connect to template");
            pat_service::db::migrate(&mut conn).expect("migrate template");
        }
        name
    })
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub backend: &'static str,
    pub database_url: String,
    secret: String,
    clock: pat_service::clock::Clock,
    _db: TestDb,
}

pub fn test_settings(database_url: String, secret: &str) -> Settings {
    Settings {
        database_url: database_url.into(),
        listen: "127.0.0.1:0".into(),
        jwt: JwtSettings {
            key: JwtKey::Hs256(Secret::new(secret.to_owned())),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
        },
        default_rule: PatRule::Pat2009,
        booking_window_hours: 24,
        repeat_attender_min_prior: 1,
        repeat_attender_window_days: 365,
        db_pool_size: 10,
        write_batch_size: 32,
        statistics_database_url: None,
        statistics_pool_size: 2,
        db_timeout: Duration::from_secs(5),
        clock: pat_service::clock::Clock::system(),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (db, url) = TestDb::migrated();
    let secret = format!("test-secret-{}", uuid::Uuid::new_v4().simple());
    let mut settings = test_settings(url.clone(), &secret);
    configure(&mut settings);
    let clock = settings.clock.clone();
    let application = Application::build(settings).await.expect("the app starts");
    let port = application.port();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        backend: db.backend(),
        database_url: url,
        secret,
        clock,
        _db: db,
    }
}

impl TestApp {
    /// A valid HS256 token for one role, `sub` = `test-<role>`.
    pub fn token(&self, role: &str) -> String {
        let role = Role::from_code(role).unwrap_or_else(|| panic!("unknown role {role}"));
        let settings = JwtSettings {
            key: JwtKey::Hs256(Secret::new(self.secret.clone())),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
        };
        mint_hs256(&self.secret, &settings, &format!("test-{}", role.code()), &[role], 3600).unwrap()
    }

    /// Signs any claims with the app's HS256 secret.
    pub fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .unwrap()
    }

    /// Moves the service's clock forward (e.g. to when an appointment has started).
    pub fn advance_clock(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str, role: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(self.token(role))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, role: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(self.token(role))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_json(&self, path: &str, role: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(self.token(role))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs an attendance as a clinician; asserts 201.
    pub async fn create_attendance(&self, body: &Value) -> Value {
        let response = self.post_json("/api/v1/attendances", "clinician", body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 201, "creating an attendance: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// PUTs a screening as a clinician.
    pub async fn record_screening(&self, attendance_id: &str, body: &Value) -> reqwest::Response {
        self.put_json(
            &format!("/api/v1/attendances/{attendance_id}/screening"),
            "clinician",
            body,
        )
        .await
    }

    /// The whole audit trail (as admin), newest first.
    pub async fn audit_events(&self) -> Vec<Value> {
        let response = self.get("/api/v1/audit-events?limit=1000", "admin").await;
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().await.unwrap();
        body["events"].as_array().unwrap().clone()
    }
}

/// A valid attendance body.
pub fn attendance_body(source_id: &str) -> Value {
    json!({
        "source_system": "test-epr",
        "source_id": source_id,
        "patient": { "nhs_number": "9434765919", "sex": "male" },
        "arrived_at": "2025-03-01T10:00:00Z",
        "presenting_condition": "fall"
    })
}

/// Asserts the status and a problem+json body; returns the body.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "status; body: {text}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "content type {content_type:?}; body: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], status, "problem status field");
    assert!(
        body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}
