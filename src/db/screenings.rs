//! PAT screenings. Every version is kept; the highest version is the current one. The unique
//! (attendance_id, version) is what stops two simultaneous corrections from both becoming the
//! next version: the second gets a unique violation and re-reads.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Double, Integer, Nullable, Text};

use super::audit::AuditEvent;
use super::audit::BindAuditEvent;
use super::schema::screenings;
use super::types::{DbTime, DbUuid, PortableTime, PortableUuid};
use super::DbConnection;

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = screenings)]
pub struct Screening {
    pub id: DbUuid,
    pub attendance_id: DbUuid,
    pub version: i32,
    pub status: String,
    pub rule: Option<String>,
    pub result: Option<String>,
    pub units: Option<f64>,
    pub answers: Option<String>,
    pub alerts: String,
    pub advice_given: Option<bool>,
    pub leaflet_given: Option<bool>,
    pub screened_at: DbTime,
    pub recorded_at: DbTime,
    pub recorded_by: String,
}

columns!(pub COLUMNS: Columns = screenings { id, attendance_id, version, status, rule, result, units, answers, alerts, advice_given, leaflet_given, screened_at, recorded_at, recorded_by });

/// Every version for the attendance, newest (current) first.
pub fn history(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Vec<Screening>> {
    screenings::table
        .filter(screenings::attendance_id.eq(attendance_id))
        .order(screenings::version.desc())
        .select(COLUMNS)
        .load(conn)
}

/// Inserts a version and its audit event. On PostgreSQL this is one statement (a data-modifying
/// CTE), so it is atomic without a transaction round trip of its own; elsewhere the caller's
/// transaction makes the two inserts one.
pub fn insert_with_audit(conn: &mut DbConnection, row: &Screening, event: &AuditEvent) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => super::prepared::Prepared::new(
            "WITH inserted AS (
                 INSERT INTO screenings (id, attendance_id, version, status, rule, result, units, answers,
                     alerts, advice_given, leaflet_given, screened_at, recorded_at, recorded_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 RETURNING id)
             INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id,
                 patient_key, request_id)
             SELECT $15, $16, $17, $18, $19, $20, $21, $22, $23 FROM inserted",
        )
        .bind::<PortableUuid, _>(row.id)
        .bind::<PortableUuid, _>(row.attendance_id)
        .bind::<Integer, _>(row.version)
        .bind::<Text, _>(&row.status)
        .bind::<Nullable<Text>, _>(&row.rule)
        .bind::<Nullable<Text>, _>(&row.result)
        .bind::<Nullable<Double>, _>(row.units)
        .bind::<Nullable<Text>, _>(&row.answers)
        .bind::<Text, _>(&row.alerts)
        .bind::<Nullable<Bool>, _>(row.advice_given)
        .bind::<Nullable<Bool>, _>(row.leaflet_given)
        .bind::<PortableTime, _>(row.screened_at)
        .bind::<PortableTime, _>(row.recorded_at)
        .bind::<Text, _>(&row.recorded_by)
        .bind_audit_event(event)
        .execute(pg)
        .map(|_| ()),
        DbConnection::Sqlite(_) => {
            diesel::insert_into(screenings::table).values(row).execute(conn)?;
            super::audit::record(conn, event)
        }
    }
}
