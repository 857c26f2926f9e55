//! Screening rows: every version is kept; the highest version is the current one.

use diesel::prelude::*;

use crate::db::schema::screenings;
use crate::db::types::{Codes, DbTime, DbUuid, JsonText};
use crate::db::DbConnection;
use crate::domain::pat::{Alert, Answers, PatResult, PatRule, ScreeningStatus};

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = screenings)]
pub struct Screening {
    pub id: DbUuid,
    pub attendance_id: DbUuid,
    pub version: i32,
    pub status: ScreeningStatus,
    pub rule: Option<PatRule>,
    pub result: Option<PatResult>,
    pub units: Option<f64>,
    pub answers: Option<JsonText<Answers>>,
    pub alerts: Codes<Alert>,
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
