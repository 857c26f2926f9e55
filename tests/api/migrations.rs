//! Migrations: both backends list the same migrations; each goes up, down and up again; the
//! schema in `schema.rs` matches what they create; instances migrating at once do not race.

use diesel::prelude::*;
use pat_service::db::{self, schema, Manager};
use pat_service::store::rows::{Attendance, Screening, ATTENDANCE_COLUMNS, SCREENING_COLUMNS};
use pat_service::store::scheduling::{bookings, follow_ups, health_workers, referrals, slots};
use pat_service::store::{audit, patients};

use crate::helpers::TestDb;

fn names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations_each_with_up_and_down() {
    let pg = names("postgres");
    let sqlite = names("sqlite");
    assert!(!pg.is_empty());
    assert_eq!(
        pg, sqlite,
        "migrations/postgres and migrations/sqlite must list the same migrations"
    );
    for backend in ["postgres", "sqlite"] {
        for name in &pg {
            for file in ["up.sql", "down.sql"] {
                let path = format!("{}/migrations/{backend}/{name}/{file}", env!("CARGO_MANIFEST_DIR"));
                assert!(std::path::Path::new(&path).is_file(), "{path} is missing");
            }
        }
    }
}

/// Reads every table through the columns `schema.rs` declares: fails if a column is missing or
/// of another type on this backend.
fn read_every_table(conn: &mut db::DbConnection) {
    let _: Vec<Attendance> = schema::attendances::table
        .select(ATTENDANCE_COLUMNS)
        .load(conn)
        .unwrap();
    let _: Vec<Screening> = schema::screenings::table.select(SCREENING_COLUMNS).load(conn).unwrap();
    let _: Vec<audit::AuditEvent> = schema::audit_events::table.select(audit::COLUMNS).load(conn).unwrap();
    let _: Vec<(db::types::DbUuid, String, String, db::types::DbTime)> = schema::patients::table
        .select((
            schema::patients::id,
            schema::patients::key,
            schema::patients::person_key,
            schema::patients::created_at,
        ))
        .load(conn)
        .unwrap();
    let _: Vec<patients::Link> = schema::patient_links::table
        .select(patients::LINK_COLUMNS)
        .load(conn)
        .unwrap();
    // The scheduling tables, through the same listing queries the service runs.
    let _ = health_workers::list(conn).unwrap();
    let _ = slots::list(conn, &slots::SlotQuery::default()).unwrap();
    let _ = bookings::list(conn, &bookings::BookingQuery::default()).unwrap();
    let nobody = db::types::DbUuid(uuid::Uuid::nil());
    assert!(referrals::find(conn, nobody).unwrap().is_none());
    // The corrections' history tables.
    assert!(referrals::versions(conn, nobody).unwrap().is_empty());
    assert!(bookings::outcome_versions(conn, &[nobody]).unwrap().is_empty());
    assert!(follow_ups::find(conn, nobody, 6).unwrap().is_none());
}

#[test]
fn every_migration_goes_up_down_and_up_again() {
    let (_db, url) = TestDb::empty();
    let mut conn = Manager::new(&url).unwrap().establish().unwrap();
    db::migrate(&mut conn).unwrap();
    read_every_table(&mut conn);
    db::revert_all(&mut conn).unwrap();
    let still_there = schema::attendances::table
        .select(ATTENDANCE_COLUMNS)
        .load::<Attendance>(&mut conn);
    assert!(
        still_there.is_err(),
        "after reverting, the attendances table must be gone"
    );
    db::migrate(&mut conn).unwrap();
    read_every_table(&mut conn);
}

#[test]
fn instances_migrating_at_once_do_not_race() {
    let (_db, url) = TestDb::empty();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut conn = Manager::new(&url).unwrap().establish().unwrap();
                db::migrate(&mut conn)
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("a concurrent migration failed: {e}"));
    }
    let mut conn = Manager::new(&url).unwrap().establish().unwrap();
    read_every_table(&mut conn);
}

#[test]
fn audit_events_cannot_be_changed_or_deleted() {
    let (_db, url) = TestDb::migrated();
    let mut conn = Manager::new(&url).unwrap().establish().unwrap();
    let event = audit::AuditEvent {
        id: db::types::DbUuid(uuid::Uuid::now_v7()),
        occurred_at: db::types::DbTime::now(),
        actor: "tester".into(),
        roles: "admin".into(),
        action: "read".into(),
        resource_type: "attendance".into(),
        resource_id: "x".into(),
        patient_key: None,
        request_id: None,
        detail: None,
    };
    audit::record(&mut conn, &event).unwrap();
    let updated = diesel::update(schema::audit_events::table)
        .set(schema::audit_events::actor.eq("someone else"))
        .execute(&mut conn);
    assert!(updated.is_err(), "an audit event must not be updated");
    let deleted = diesel::delete(schema::audit_events::table).execute(&mut conn);
    assert!(deleted.is_err(), "an audit event must not be deleted");
    let remaining: Vec<audit::AuditEvent> = schema::audit_events::table
        .select(audit::COLUMNS)
        .load(&mut conn)
        .unwrap();
    assert_eq!(remaining, vec![event]);
}

#[derive(QueryableByName)]
struct SevenDayFact {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    unplanned_within_7d: bool,
}

/// The 7-day fact the triggers keep for the attendance `source_id` (a test reads the derived
/// column directly: no API shows it).
fn seven_day_fact(conn: &mut db::DbConnection, source_id: &str) -> bool {
    let sql = format!("SELECT unplanned_within_7d FROM attendances WHERE source_id = '{source_id}'");
    diesel::sql_query(sql)
        .get_result::<SevenDayFact>(conn)
        .unwrap()
        .unplanned_within_7d
}

/// Reverts the newest migrations, down to and including the one whose folder starts with
/// `version` (e.g. `2026-12-05-000007`), on either backend.
fn revert_through(conn: &mut db::DbConnection, version: &str) {
    use diesel_migrations::MigrationHarness;
    let wanted = version.replace('-', "");
    loop {
        let reverted = match conn {
            db::DbConnection::Pg(pg) => pg.revert_last_migration(db::PG_MIGRATIONS),
            db::DbConnection::Sqlite(lite) => lite.revert_last_migration(db::SQLITE_MIGRATIONS),
        }
        .unwrap()
        .to_string();
        assert!(
            reverted.as_str() >= wanted.as_str(),
            "reverted past {version}: {reverted}"
        );
        if reverted == wanted {
            return;
        }
    }
}

#[tokio::test]
async fn the_entered_in_error_migration_goes_down_and_up_with_data() {
    use crate::helpers::spawn_app;
    use serde_json::json;

    // A1, then an unplanned A2 two days later (A1's 7-day return), which is then marked
    // entered-in-error: A1's fact is false while the mark stands.
    let app = spawn_app().await;
    let attendance = |source_id: &str, at: &str| {
        json!({
            "source_system": "migration-test", "source_id": source_id,
            "patient": { "local_id": "MIG-1" }, "arrived_at": at, "presenting_condition": "fall",
        })
    };
    app.create_attendance(&attendance("a1", "2025-02-01T10:00:00Z")).await;
    let a2 = app.create_attendance(&attendance("a2", "2025-02-03T10:00:00Z")).await;
    let mut conn = Manager::new(&app.database_url).unwrap().establish().unwrap();
    assert!(seven_day_fact(&mut conn, "a1"), "A2 is A1's 7-day return");
    let resp = app
        .post_json(
            &format!("/api/v1/attendances/{}/entered-in-error", a2["id"].as_str().unwrap()),
            "clinician",
            &json!({ "reason": "duplicate" }),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(!seven_day_fact(&mut conn, "a1"), "the marked A2 no longer counts");

    // Down: without the marks, A2 counts again and A1's fact is recomputed.
    revert_through(&mut conn, "2026-12-05-000007");
    assert!(seven_day_fact(&mut conn, "a1"), "after down, A1's fact counts A2 again");
    // Up again: the schema is whole and every table reads through schema.rs.
    db::migrate(&mut conn).unwrap();
    read_every_table(&mut conn);
    assert!(seven_day_fact(&mut conn, "a1"));
}

#[derive(QueryableByName)]
struct Keys {
    #[diesel(sql_type = diesel::sql_types::Text)]
    patient_key: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    registered_key: String,
}

/// The attendance `source_id`'s patient_key, and the key of the registry row it arrived with.
fn keys_of(conn: &mut db::DbConnection, source_id: &str) -> (String, String) {
    let sql = format!(
        "SELECT a.patient_key, p.key AS registered_key FROM attendances a JOIN patients p ON p.id = a.patient_id
         WHERE a.source_id = '{source_id}'"
    );
    let keys = diesel::sql_query(sql).get_result::<Keys>(conn).unwrap();
    (keys.patient_key, keys.registered_key)
}

#[tokio::test]
async fn the_patient_identity_migration_goes_down_and_up_with_data() {
    use crate::helpers::spawn_app;
    use serde_json::json;

    // L1 under a local number, N1 under an NHS number two days later; the local number is then
    // traced to the NHS number: one person, and N1 is L1's 7-day return.
    let app = spawn_app().await;
    let attendance = |source_id: &str, patient: serde_json::Value, at: &str| {
        json!({
            "source_system": "migration-test", "source_id": source_id,
            "patient": patient, "arrived_at": at, "presenting_condition": "fall",
        })
    };
    let l1 = app
        .create_attendance(&attendance(
            "l1",
            json!({ "local_id": "MIG-L" }),
            "2025-02-01T10:00:00Z",
        ))
        .await;
    app.create_attendance(&attendance(
        "n1",
        json!({ "nhs_number": "9434765919" }),
        "2025-02-03T10:00:00Z",
    ))
    .await;
    let mut conn = Manager::new(&app.database_url).unwrap().establish().unwrap();
    assert!(!seven_day_fact(&mut conn, "l1"), "two patients: no return");
    let resp = app
        .post_json(
            &format!("/api/v1/patients/{}/link", l1["patient"]["id"].as_str().unwrap()),
            "integration",
            &json!({ "nhs_number": "9434765919", "reason": "PDS trace" }),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(seven_day_fact(&mut conn, "l1"), "one person: N1 is L1's return");
    assert_eq!(
        keys_of(&mut conn, "l1"),
        ("nhs:9434765919".to_owned(), "local:MIG-L".to_owned())
    );

    // Down: every attendance belongs to the key of its own identifiers again, facts recomputed.
    revert_through(&mut conn, "2026-12-05-000010");
    assert!(!seven_day_fact(&mut conn, "l1"), "after down, two patients again");
    let key: Vec<String> = schema::attendances::table
        .filter(schema::attendances::source_id.eq("l1"))
        .select(schema::attendances::patient_key)
        .load(&mut conn)
        .unwrap();
    assert_eq!(key, ["local:MIG-L"]);
    // Up again: the registry is backfilled from the attendances (each key its own person).
    db::migrate(&mut conn).unwrap();
    read_every_table(&mut conn);
    assert_eq!(
        keys_of(&mut conn, "l1"),
        ("local:MIG-L".to_owned(), "local:MIG-L".to_owned())
    );
    assert_eq!(
        keys_of(&mut conn, "n1"),
        ("nhs:9434765919".to_owned(), "nhs:9434765919".to_owned())
    );
    assert!(!seven_day_fact(&mut conn, "l1"));
}
