//! PAT screenings. Every version is kept; exactly one per attendance is current (a partial
//! unique index holds that).

use diesel::prelude::*;

use super::schema::screenings;
use super::types::{DbTime, DbUuid};
use super::DbConnection;

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = screenings)]
pub struct Screening {
    pub id: DbUuid,
    pub attendance_id: DbUuid,
    pub version: i32,
    pub is_current: bool,
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

pub type Columns = (
    screenings::id,
    screenings::attendance_id,
    screenings::version,
    screenings::is_current,
    screenings::status,
    screenings::rule,
    screenings::result,
    screenings::units,
    screenings::answers,
    screenings::alerts,
    screenings::advice_given,
    screenings::leaflet_given,
    screenings::screened_at,
    screenings::recorded_at,
    screenings::recorded_by,
);

pub const COLUMNS: Columns = (
    screenings::id,
    screenings::attendance_id,
    screenings::version,
    screenings::is_current,
    screenings::status,
    screenings::rule,
    screenings::result,
    screenings::units,
    screenings::answers,
    screenings::alerts,
    screenings::advice_given,
    screenings::leaflet_given,
    screenings::screened_at,
    screenings::recorded_at,
    screenings::recorded_by,
);

/// Every version for the attendance, newest first.
pub fn history(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Vec<Screening>> {
    screenings::table
        .filter(screenings::attendance_id.eq(attendance_id))
        .order(screenings::version.desc())
        .select(COLUMNS)
        .load(conn)
}

pub fn current(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Option<Screening>> {
    screenings::table
        .filter(screenings::attendance_id.eq(attendance_id))
        .filter(screenings::is_current.eq(true))
        .select(COLUMNS)
        .first(conn)
        .optional()
}

/// Makes `new` the current version: the previous current one (if any) stays, no longer current.
pub fn supersede(conn: &mut DbConnection, new: &Screening, has_current: bool) -> QueryResult<()> {
    if has_current {
        diesel::update(
            screenings::table
                .filter(screenings::attendance_id.eq(new.attendance_id))
                .filter(screenings::is_current.eq(true)),
        )
        .set(screenings::is_current.eq(false))
        .execute(conn)?;
    }
    diesel::insert_into(screenings::table)
        .values(new)
        .execute(conn)
        .map(|_| ())
}
