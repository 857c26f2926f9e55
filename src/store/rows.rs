//! Rows that more than one aggregate reads, with the reads they share: an attendance, with its
//! current screening (a screening, a referral decision and a booking each read that first); a
//! screening's versions (every version is kept; the highest is the current one). The
//! aggregates' stores use these; these use nothing of the stores, so no store imports another
//! that imports it back.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{attendances, screenings};
use crate::db::types::{Codes, DbTime, DbUuid, JsonText};
use crate::db::{lock_row, DbConnection};
use crate::domain::attendance::AttendanceCategory;
use crate::domain::eligibility::PresentingCondition;
use crate::domain::nhs_number::NhsNumber;
use crate::domain::pat::{Alert, Answers, PatResult, PatRule, ScreeningStatus, Sex};

/// A stored attendance.
#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = attendances)]
pub struct Attendance {
    pub id: DbUuid,
    pub source_system: String,
    pub source_id: String,
    /// The person the attendance belongs to now: the key of its identifiers (`nhs:…`, else
    /// `local:…`), or of the patient a link made them one person with. Everything derived (the
    /// 7-day facts, the repeat-attender count, the 12-month report) goes by it.
    pub patient_key: String,
    pub nhs_number: Option<NhsNumber>,
    pub local_id: Option<String>,
    pub sex: Sex,
    pub date_of_birth: Option<NaiveDate>,
    pub site: Option<String>,
    pub arrived_at: DbTime,
    pub presenting_condition: PresentingCondition,
    pub presenting_condition_detail: Option<String>,
    pub attendance_category: AttendanceCategory,
    /// What the nurse was told, fixed when recorded: the condition if one of the ten, then
    /// `repeat_attender` (docs/domain.md §2).
    pub indications: Codes<PresentingCondition>,
    pub pat_indicated: bool,
    pub created_at: DbTime,
    pub created_by: String,
    /// Marked entered-in-error (by whom, why): kept and readable, left out of everything derived.
    pub entered_in_error_at: Option<DbTime>,
    pub entered_in_error_by: Option<String>,
    pub entered_in_error_reason: Option<String>,
    /// The registry row of the identifiers the attendance arrived with (never changes; a link
    /// changes `patient_key`, the person it belongs to now).
    pub patient_id: DbUuid,
    /// The hospital system that assigned `local_id`, when the EPR said.
    pub local_id_system: Option<String>,
    /// The ECDS chief complaint the attendance arrived with (docs/domain.md §11) and the version
    /// of the table that read it: both or neither.
    pub presenting_condition_snomed: Option<String>,
    pub presenting_condition_map_version: Option<String>,
}

// Columns in `Attendance` order.
columns!(pub ATTENDANCE_COLUMNS: AttendanceColumns = attendances { id, source_system, source_id, patient_key, nhs_number, local_id, sex, date_of_birth, site, arrived_at, presenting_condition, presenting_condition_detail, attendance_category, indications, pat_indicated, created_at, created_by, entered_in_error_at, entered_in_error_by, entered_in_error_reason, patient_id, local_id_system, presenting_condition_snomed, presenting_condition_map_version });

pub fn find_attendance(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<Attendance>> {
    attendances::table
        .find(id)
        .select(ATTENDANCE_COLUMNS)
        .first(conn)
        .optional()
}

/// The attendance with its current (latest) screening, in one query.
pub fn find_with_current_screening(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<WithCurrentScreening>> {
    with_screenings()
        .filter(attendances::id.eq(id))
        .order(screenings::version.desc())
        .first(conn)
        .optional()
}

/// Attendances with each of their screenings (none: one row with no screening). Ordered by
/// version, highest first, an attendance's first row holds its current screening.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn with_screenings() -> _ {
    let columns: (AttendanceColumns, diesel::dsl::Nullable<ScreeningColumns>) =
        (ATTENDANCE_COLUMNS, SCREENING_COLUMNS.nullable());
    attendances::table.left_join(screenings::table).select(columns)
}

/// An attendance with its current screening, if it has one.
pub type WithCurrentScreening = (Attendance, Option<Screening>);

/// `find_with_current_screening` for many attendances, in one query. Unknown ids are left out.
pub fn find_many_with_current_screening(
    conn: &mut DbConnection,
    ids: &[DbUuid],
) -> QueryResult<HashMap<DbUuid, WithCurrentScreening>> {
    let rows = with_screenings()
        .filter(attendances::id.eq_any(ids))
        .order((attendances::id, screenings::version.desc()))
        .load(conn)?;
    Ok(current_of(rows))
}

/// From rows of attendances with each of their screenings, highest version first: each
/// attendance with its current screening.
pub fn current_of(rows: Vec<WithCurrentScreening>) -> HashMap<DbUuid, WithCurrentScreening> {
    let mut current = HashMap::with_capacity(rows.len());
    for (attendance, screening) in rows {
        current.entry(attendance.id).or_insert((attendance, screening));
    }
    current
}

/// Takes the per-patient advisory lock of `patient_key` until the transaction ends (PostgreSQL;
/// SQLite's `BEGIN IMMEDIATE` holds the whole database): the lock the 7-day trigger takes for a
/// new attendance and a link takes for the patients it joins. A change that then locks one of the
/// patient's attendance rows takes it first, in the same order as they, so the two cannot wait
/// for each other.
pub fn lock_patient(conn: &mut DbConnection, patient_key: &str) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('pat-service patient ' || $1, 0))")
                .bind::<diesel::sql_types::Text, _>(patient_key)
                .execute(pg)
                .map(|_| ())
        }
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Locks the attendance row until the transaction ends, so changes that must see each other
/// (a screening correction and a referral decision) take turns.
pub fn lock_attendance(conn: &mut DbConnection, id: DbUuid) -> QueryResult<()> {
    lock_row(conn, "SELECT id FROM attendances WHERE id = $1 FOR UPDATE", id)
}

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

columns!(pub SCREENING_COLUMNS: ScreeningColumns = screenings { id, attendance_id, version, status, rule, result, units, answers, alerts, advice_given, leaflet_given, screened_at, recorded_at, recorded_by });

/// Every version for the attendance, newest (current) first.
pub fn screening_history(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Vec<Screening>> {
    screenings::table
        .filter(screenings::attendance_id.eq(attendance_id))
        .order(screenings::version.desc())
        .select(SCREENING_COLUMNS)
        .load(conn)
}
