//! When the database goes away, requests answer 503 problem+json within the pool timeout — not
//! 500, not a hang — and readiness says so.

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::helpers::{assert_problem, attendance_body, spawn_app_with};

/// Blocks new connections to the app's PostgreSQL database and ends the open ones.
pub(crate) fn take_database_away(database_url: &str) {
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

pub(crate) fn give_database_back(database_url: &str) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_the_database_comes_back_the_first_requests_all_succeed() {
    // A restart or failover ends every connection the service holds. Once the database is back,
    // no request may fail on one of those dead connections left in a pool: the first write, and
    // the reads and writes after it, all succeed.
    let app = spawn_app_with(|s| s.db_timeout = Duration::from_secs(2)).await;
    if app.backend != "postgres" {
        // SQLite is a file inside the process: it cannot go away while the process holds it.
        return;
    }
    let before = app.create_attendance(&attendance_body("before-restart")).await;
    let before_id = before["id"].as_str().unwrap().to_owned();
    // Several reads at once, so that the pool holds several idle connections when they all die.
    let (url, token) = (
        app.url(&format!("/api/v1/attendances/{before_id}")),
        app.token("clinician"),
    );
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, token) = (app.client.clone(), url.clone(), token.clone());
        reads.spawn(async move { client.get(&url).bearer_auth(&token).send().await.unwrap().status() });
    }
    while let Some(status) = reads.join_next().await {
        assert_eq!(status.unwrap().as_u16(), 200);
    }

    take_database_away(&app.database_url);
    let response = app
        .post_json("/api/v1/attendances", "integration", &attendance_body("during-restart"))
        .await;
    assert_problem(response, 503).await;
    give_database_back(&app.database_url);

    let created = app.create_attendance(&attendance_body("after-restart")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    for n in 0..12 {
        for attendance in [&id, &before_id] {
            let response = app.get(&format!("/api/v1/attendances/{attendance}"), "clinician").await;
            assert_eq!(
                response.status().as_u16(),
                200,
                "read {n} of {attendance} after the restart"
            );
        }
        let response = app
            .post_json(
                "/api/v1/attendances",
                "integration",
                &attendance_body(&format!("after-restart-{n}")),
            )
            .await;
        assert_eq!(response.status().as_u16(), 201, "write {n} after the restart");
    }
    let ready = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_write_batch_loses_nothing_of_the_other_requests_in_it() {
    // Arrange: on PostgreSQL, a trigger that refuses one particular attendance stands in for any
    // error that fails a whole batch statement, and makes two others slow. The two slow ones go
    // first and keep both of the attendance queue's threads busy; meanwhile 22 healthy attendances
    // and the refused one queue up and are taken as one batch, which fails as a whole (one
    // statement). Its other requests must then be written one by one (db/batch.rs).
    // Write batches on, whatever TEST_WRITE_BATCH_SIZE says.
    let app = spawn_app_with(|settings| settings.write_batch_size = 32).await;
    if app.backend != "postgres" {
        // SQLite has no write batches.
        return;
    }
    let mut admin = PgConnection::establish(&app.database_url).unwrap();
    diesel::sql_query(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.source_id LIKE 'slow-%' THEN PERFORM pg_sleep(0.5); END IF;
             IF NEW.source_id = 'poison' THEN RAISE EXCEPTION 'refused for the test'; END IF;
             RETURN NEW;
         END $$",
    )
    .execute(&mut admin)
    .unwrap();
    diesel::sql_query(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON attendances FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    )
    .execute(&mut admin)
    .unwrap();
    let token = app.token("integration");
    let url = app.url("/api/v1/attendances");
    let mut tasks = tokio::task::JoinSet::new();
    let mut send = |source_id: String| {
        let (client, token, url) = (app.client.clone(), token.clone(), url.clone());
        tasks.spawn(async move {
            let response = client
                .post(&url)
                .bearer_auth(&token)
                .json(&attendance_body(&source_id))
                .send()
                .await
                .unwrap();
            (source_id, response.status().as_u16())
        });
    };
    send("slow-1".to_owned());
    send("slow-2".to_owned());
    tokio::time::sleep(Duration::from_millis(200)).await;
    for n in 0..23 {
        send(if n == 12 {
            "poison".to_owned()
        } else {
            format!("healthy-{n}")
        });
    }

    // Act
    let mut answers = vec![];
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.unwrap());
    }

    // Assert
    assert_eq!(answers.len(), 25);
    for (source_id, status) in &answers {
        let expected = if source_id == "poison" { 500 } else { 201 };
        assert_eq!(*status, expected, "{source_id}");
    }
    let stored: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM attendances WHERE source_id LIKE 'healthy-%' OR source_id LIKE 'slow-%'",
    )
    .get_result(&mut admin)
    .unwrap();
    assert_eq!(stored, 24, "each of the other 24 is stored, once");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failed = metrics
        .lines()
        .find(|line| line.starts_with("pat_write_batches_failed_total{queue=\"attendances\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<f64>().ok());
    assert_eq!(failed, Some(1.0), "the poisoned batch failed, and only it");
}
