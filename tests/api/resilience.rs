//! When the database goes away, requests answer 503 problem+json within the pool timeout — not
//! 500, not a hang — and readiness says so.

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::helpers::{assert_problem, attendance_body, spawn_app_with};

/// Blocks new connections to the app's PostgreSQL database and ends the open ones.
fn take_database_away(database_url: &str) {
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
    let name = database_url.rsplit('/').next().unwrap();
    let mut admin = PgConnection::establish(&admin_url).unwrap();
    diesel::sql_query(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut admin)
    .unwrap();
}

fn give_database_back(database_url: &str) {
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
    let name = database_url.rsplit('/').next().unwrap();
    let mut admin = PgConnection::establish(&admin_url).unwrap();
    diesel::sql_query(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .unwrap();
}

#[tokio::test]
async fn database_unavailable_is_503_not_500_and_not_a_hang() {
    let app = spawn_app_with(|s| s.db_timeout = Duration::from_secs(2)).await;
    if app.backend != "postgres" {
        // SQLite is a file inside the process: it cannot go away while the process holds it.
        return;
    }
    let before = app.create_attendance(&attendance_body("before-outage")).await;
    let id = before["id"].as_str().unwrap().to_owned();
    take_database_away(&app.database_url);

    // Each of the write path's calls (on PostgreSQL they go through the write batches first).
    let screening = serde_json::json!({"status": "refused"});
    let booking = serde_json::json!({"attendance_id": id});
    let calls = [
        (
            "POST",
            "/api/v1/attendances".to_owned(),
            attendance_body("during-outage"),
        ),
        ("PUT", format!("/api/v1/attendances/{id}/screening"), screening),
        ("POST", "/api/v1/bookings".to_owned(), booking),
    ];
    for (method, path, body) in calls {
        let started = Instant::now();
        let response = match method {
            "PUT" => app.put_json(&path, "integration", &body).await,
            _ => app.post_json(&path, "integration", &body).await,
        };
        assert_problem(response, 503).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{method} {path}: a 503 must come within the pool timeout"
        );
    }
    let ready = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_problem(ready, 503).await;

    give_database_back(&app.database_url);
    let response = app
        .post_json("/api/v1/attendances", "integration", &attendance_body("after-outage"))
        .await;
    assert_eq!(
        response.status().as_u16(),
        201,
        "the service recovers when the database is back"
    );
}
