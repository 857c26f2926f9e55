//! `spawn_app()` and typed request helpers. Each test gets its own database: a temporary SQLite
//! file, or (with `TEST_DATABASE_URL`) a PostgreSQL database cloned from a template migrated once
//! per run, dropped when the test ends (docs/style.md §3).
//!
//! Environment variables:
//!
//! - `TEST_DATABASE_URL=postgres://user@host:port/db`: run on PostgreSQL. The user needs
//!   `CREATEDB`; the databases are made beside `db`, which is left alone.
//! - `TEST_WRITE_BATCH_SIZE=N` (default 32): the `write_batch_size` (`PAT_WRITE_BATCH_SIZE`) of
//!   every app the tests start, including the real binary some tests run. `0` covers the
//!   one-request write path on PostgreSQL, as `.ci/run` does. A test that sets its own size in
//!   `spawn_app_with` (because it is about batches, or about their absence) keeps it.
//!
//! On PostgreSQL, a run (one process of this test binary) has a random id, and its databases are
//! `pat_template_<run>` and `pat_test_<run>_<uuid>`: see `Run` for how they go away when the run
//! ends.

use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use pat_service::app::Application;
use pat_service::auth::{mint_hs256, Role};
use pat_service::config::{JwtKey, JwtSettings, MllpSettings, Secret, Settings};
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
                let name = clone_name(&admin_url);
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
                let name = clone_name(&admin_url);
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

/// A new test database's name: `pat_test_<run>_<uuid>`.
fn clone_name(admin_url: &str) -> String {
    format!("pat_test_{}_{}", run(admin_url).id, uuid::Uuid::new_v4().simple())
}

/// The template database, migrated once per test run: `pat_template_<run>`.
fn template(admin_url: &str) -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("pat_template_{}", run(admin_url).id);
        admin_execute(admin_url, &format!("CREATE DATABASE {name}"));
        {
            let manager = pat_service::db::Manager::new(&database_url(admin_url, &name)).expect("url");
            let mut conn = manager.establish().expect("connect to template");
            pat_service::db::migrate(&mut conn).expect("migrate template");
        }
        name
    })
}

/// This run of the test binary on PostgreSQL, and how its databases (the template, and any test
/// database a killed run could not drop) go away when it ends.
///
/// A libtest binary has no hook that runs when the run ends: statics are never dropped, and
/// registering an exit handler needs `unsafe`, which the crate forbids. So the run starts a
/// second process, the reaper (this binary again, running only `reap_run_databases`), and keeps
/// the write end of the reaper's stdin open for as long as it lives. When the run's process ends,
/// however it ends (tests passed or failed, a panic, Ctrl-C, `kill -9`), the kernel closes that
/// pipe; the reaper reads end-of-file, drops the run's databases and exits, a moment after the
/// run. The reaper has its own process group, so the Ctrl-C that stops the run does not stop it.
///
/// Should the reaper not get its turn (it was killed too, the server was down, the machine
/// stopped), the next run on the same server drops what is left: each run holds a session-level
/// advisory lock, keyed by its id, on a connection open for its whole life, and at start a run
/// drops the databases of every run whose lock it can take (that run's sessions are gone, so the
/// run is). A run that is still going, on this machine or another, keeps its lock and its
/// databases. So after a run ends nothing of it stays, except when its reaper failed, until the
/// next run starts.
struct Run {
    /// Eight hex digits: the second key of the run's advisory lock.
    id: String,
    /// The session holding the run's advisory lock, open until the process ends.
    _lock: Mutex<PgConnection>,
    /// The reaper's stdin (`None` if it could not be started: the next run sweeps instead).
    _reaper: Option<ChildStdin>,
}

/// The first key of every run's advisory lock ("PATT"); the second is the run's id.
const RUN_LOCK_CLASS: i32 = 0x5041_5454;
/// The environment variable that makes `reap_run_databases` the reaper of a run, and names it.
const REAPER_RUN: &str = "PAT_TEST_REAPER_RUN";

fn run(admin_url: &str) -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let key = uuid::Uuid::new_v4().as_u128() as u32;
        let id = format!("{key:08x}");
        let mut lock = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
        diesel::sql_query(format!("SELECT pg_advisory_lock({RUN_LOCK_CLASS}, {})", key as i32))
            .execute(&mut lock)
            .expect("take the run's advisory lock");
        drop_finished_runs(&mut lock, &id);
        Run {
            _reaper: start_reaper(admin_url, &id),
            id,
            _lock: Mutex::new(lock),
        }
    })
}

/// The databases of every run (its id and the name), found by their names.
fn run_databases(conn: &mut PgConnection) -> Vec<(String, String)> {
    #[derive(diesel::QueryableByName)]
    struct Database {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    diesel::sql_query(
        "SELECT datname FROM pg_database \
         WHERE datname ~ '^pat_(template_[0-9a-f]{8}|test_[0-9a-f]{8}_[0-9a-f]{32})$'",
    )
    .load::<Database>(conn)
    .expect("list the test databases")
    .into_iter()
    .map(|d| {
        let id = d
            .datname
            .trim_start_matches("pat_template_")
            .trim_start_matches("pat_test_");
        (id[..8].to_owned(), d.datname)
    })
    .collect()
}

fn drop_databases(conn: &mut PgConnection, names: &[String]) {
    for name in names {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(conn);
    }
}

/// Drops the databases of runs that have ended (see `Run`), but not those of `this` run.
fn drop_finished_runs(conn: &mut PgConnection, this: &str) {
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let mut runs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (id, name) in run_databases(conn) {
        runs.entry(id).or_default().push(name);
    }
    for (id, names) in runs {
        let Ok(key) = u32::from_str_radix(&id, 16) else {
            continue;
        };
        if id == this {
            continue;
        }
        let lock = |function: &str| format!("SELECT {function}({RUN_LOCK_CLASS}, {}) AS locked", key as i32);
        let ended = diesel::sql_query(lock("pg_try_advisory_lock"))
            .get_result::<Locked>(conn)
            .is_ok_and(|l| l.locked);
        if ended {
            drop_databases(conn, &names);
            let _ = diesel::sql_query(lock("pg_advisory_unlock")).execute(conn);
        }
    }
}

/// Starts this binary again as the run's reaper; returns the write end of its stdin.
fn start_reaper(admin_url: &str, id: &str) -> Option<ChildStdin> {
    let mut command = Command::new(std::env::current_exe().ok()?);
    command
        .args([
            "helpers::reap_run_databases",
            "--exact",
            "--ignored",
            "--test-threads=1",
            "--quiet",
        ])
        .env(REAPER_RUN, id)
        .env("TEST_DATABASE_URL", admin_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.spawn().ok()?.stdin.take()
}

/// Not a test: the reaper of a run (see `Run`), which libtest runs only when asked by name.
#[test]
#[ignore = "not a test: a PostgreSQL test run starts it to drop the run's databases when the run ends"]
fn reap_run_databases() {
    let (Ok(id), Ok(admin_url)) = (std::env::var(REAPER_RUN), std::env::var("TEST_DATABASE_URL")) else {
        return;
    };
    // Returns when the run's process has ended and the kernel has closed the other end.
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    let Ok(mut conn) = PgConnection::establish(&admin_url) else {
        return;
    };
    let names: Vec<String> = run_databases(&mut conn)
        .into_iter()
        .filter(|(run, _)| *run == id)
        .map(|(_, name)| name)
        .collect();
    drop_databases(&mut conn, &names);
}

/// `TEST_WRITE_BATCH_SIZE`, or 32 (the service's default).
pub fn write_batch_size() -> usize {
    match std::env::var("TEST_WRITE_BATCH_SIZE") {
        Ok(size) if !size.is_empty() => size
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("TEST_WRITE_BATCH_SIZE={size:?} is not a whole number")),
        _ => 32,
    }
}

pub struct TestApp {
    pub address: String,
    /// The HL7 v2 listener's address, when the test turned it on (`settings.mllp.listen`).
    pub mllp_addr: Option<std::net::SocketAddr>,
    pub client: reqwest::Client,
    pub backend: &'static str,
    pub database_url: String,
    secret: String,
    clock: pat_service::clock::Clock,
    /// The database, dropped with the app; `None` for `another_instance`, which shares it.
    _db: Option<TestDb>,
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
        // As in production: no test uses a number from the NHS test range unless it says so.
        accept_test_nhs_numbers: false,
        booking_window_hours: 24,
        repeat_attender_min_prior: 1,
        repeat_attender_window_days: 365,
        min_age: 16,
        db_pool_size: 10,
        write_batch_size: write_batch_size(),
        statistics_database_url: None,
        statistics_pool_size: 2,
        db_timeout: Duration::from_secs(5),
        clock: pat_service::clock::Clock::system(),
        chief_complaints: std::sync::Arc::new(
            pat_service::domain::chief_complaint::ChiefComplaintMap::shipped().expect("the shipped table reads"),
        ),
        // Off, as in production unless configured; `tests/api/hl7.rs` turns it on at port 0.
        mllp: MllpSettings::default(),
        oidc: None,
        // Off, as in production; `tests/api/web.rs` turns it on for the development sign-in.
        dev: false,
        web: pat_service::config::WebSettings::default(),
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
    let mllp_addr = application.mllp_addr();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        mllp_addr,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        backend: db.backend(),
        database_url: url,
        secret,
        clock,
        _db: Some(db),
    }
}

impl TestApp {
    /// A second instance of the service on this app's database, as a load balancer would have
    /// beside it: its own port, connection pool and (PostgreSQL) write-batch queues; the same
    /// token secret and clock. It takes the test settings (not any changes the first app was
    /// spawned with), and must not outlive this app, which owns the database.
    pub async fn another_instance(&self) -> TestApp {
        let mut settings = test_settings(self.database_url.clone(), &self.secret);
        settings.clock = self.clock.clone();
        let application = Application::build(settings).await.expect("the second instance starts");
        let port = application.port();
        tokio::spawn(application.run_until_stopped());
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            mllp_addr: None,
            client: self.client.clone(),
            backend: self.backend,
            database_url: self.database_url.clone(),
            secret: self.secret.clone(),
            clock: self.clock.clone(),
            _db: None,
        }
    }

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

/// A free loopback port, for a process a test starts itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process a test started: killed and reaped when dropped, so a failing test leaves none behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
