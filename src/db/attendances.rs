//! ED attendances.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::schema::attendances;
use super::types::{DbTime, DbUuid};
use super::DbConnection;

/// A stored attendance.
#[derive(Queryable, Clone, Debug, PartialEq)]
pub struct Attendance {
    pub id: DbUuid,
    pub source_system: String,
    pub source_id: String,
    pub patient_key: String,
    pub nhs_number: Option<String>,
    pub local_id: Option<String>,
    pub sex: String,
    pub date_of_birth: Option<NaiveDate>,
    pub site: Option<String>,
    pub arrived_at: DbTime,
    pub presenting_condition: String,
    pub presenting_condition_detail: Option<String>,
    pub attendance_category: String,
    pub indications: String,
    pub pat_indicated: bool,
    pub created_at: DbTime,
    pub created_by: String,
}

/// Columns in `Attendance` order (`as_select` does not compile through the MultiConnection).
pub type Columns = (
    attendances::id,
    attendances::source_system,
    attendances::source_id,
    attendances::patient_key,
    attendances::nhs_number,
    attendances::local_id,
    attendances::sex,
    attendances::date_of_birth,
    attendances::site,
    attendances::arrived_at,
    attendances::presenting_condition,
    attendances::presenting_condition_detail,
    attendances::attendance_category,
    attendances::indications,
    attendances::pat_indicated,
    attendances::created_at,
    attendances::created_by,
);

pub const COLUMNS: Columns = (
    attendances::id,
    attendances::source_system,
    attendances::source_id,
    attendances::patient_key,
    attendances::nhs_number,
    attendances::local_id,
    attendances::sex,
    attendances::date_of_birth,
    attendances::site,
    attendances::arrived_at,
    attendances::presenting_condition,
    attendances::presenting_condition_detail,
    attendances::attendance_category,
    attendances::indications,
    attendances::pat_indicated,
    attendances::created_at,
    attendances::created_by,
);

#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = attendances)]
pub struct NewAttendance {
    pub id: DbUuid,
    pub source_system: String,
    pub source_id: String,
    pub patient_key: String,
    pub nhs_number: Option<String>,
    pub local_id: Option<String>,
    pub sex: String,
    pub date_of_birth: Option<NaiveDate>,
    pub site: Option<String>,
    pub arrived_at: DbTime,
    pub presenting_condition: String,
    pub presenting_condition_detail: Option<String>,
    pub attendance_category: String,
    pub indications: String,
    pub pat_indicated: bool,
    pub created_at: DbTime,
    pub created_by: String,
}

impl NewAttendance {
    /// The same clinical content as a stored attendance: what a replay must match. The
    /// server-made fields (id, indications, who and when recorded) are not compared.
    pub fn same_content_as(&self, stored: &Attendance) -> bool {
        self.source_system == stored.source_system
            && self.source_id == stored.source_id
            && self.patient_key == stored.patient_key
            && self.nhs_number == stored.nhs_number
            && self.local_id == stored.local_id
            && self.sex == stored.sex
            && self.date_of_birth == stored.date_of_birth
            && self.site == stored.site
            && self.arrived_at == stored.arrived_at
            && self.presenting_condition == stored.presenting_condition
            && self.presenting_condition_detail == stored.presenting_condition_detail
            && self.attendance_category == stored.attendance_category
    }
}

pub fn insert(conn: &mut DbConnection, new: &NewAttendance) -> QueryResult<()> {
    diesel::insert_into(attendances::table)
        .values(new)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<Attendance>> {
    attendances::table.find(id).select(COLUMNS).first(conn).optional()
}

pub fn find_by_source(
    conn: &mut DbConnection,
    source_system: &str,
    source_id: &str,
) -> QueryResult<Option<Attendance>> {
    attendances::table
        .filter(attendances::source_system.eq(source_system))
        .filter(attendances::source_id.eq(source_id))
        .select(COLUMNS)
        .first(conn)
        .optional()
}

/// How many attendances this patient had with arrival in `[since, before)`.
pub fn count_in_window(conn: &mut DbConnection, patient_key: &str, since: DbTime, before: DbTime) -> QueryResult<i64> {
    attendances::table
        .filter(attendances::patient_key.eq(patient_key))
        .filter(attendances::arrived_at.ge(since))
        .filter(attendances::arrived_at.lt(before))
        .count()
        .get_result(conn)
}

/// Reads the attendance and locks its row until the transaction ends, so two changes to the same
/// attendance take turns. PostgreSQL: `SELECT … FOR UPDATE`. SQLite needs no lock: its write
/// transactions (`BEGIN IMMEDIATE`) already run one at a time.
pub fn find_for_update(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<Attendance>> {
    match conn {
        DbConnection::Pg(pg) => attendances::table
            .find(id)
            .select(COLUMNS)
            .for_update()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(_) => find(conn, id),
    }
}

impl From<NewAttendance> for Attendance {
    fn from(new: NewAttendance) -> Attendance {
        Attendance {
            id: new.id,
            source_system: new.source_system,
            source_id: new.source_id,
            patient_key: new.patient_key,
            nhs_number: new.nhs_number,
            local_id: new.local_id,
            sex: new.sex,
            date_of_birth: new.date_of_birth,
            site: new.site,
            arrived_at: new.arrived_at,
            presenting_condition: new.presenting_condition,
            presenting_condition_detail: new.presenting_condition_detail,
            attendance_category: new.attendance_category,
            indications: new.indications,
            pat_indicated: new.pat_indicated,
            created_at: new.created_at,
            created_by: new.created_by,
        }
    }
}
