//! ED attendances.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use diesel::sql_types::{BigInt, Bool, Date, Nullable, Text};

use super::audit::AuditEvent;
use super::audit::BindAuditEvent;
use super::schema::{attendances, screenings};
use super::screenings::Screening;
use super::types::{DbTime, DbUuid, PortableTime, PortableUuid};
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

// Columns in `Attendance` order.
columns!(pub COLUMNS: Columns = attendances { id, source_system, source_id, patient_key, nhs_number, local_id, sex, date_of_birth, site, arrived_at, presenting_condition, presenting_condition_detail, attendance_category, indications, pat_indicated, created_at, created_by });

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

/// What to store as the indications, decided by the patient's earlier attendances: the domain
/// computes both answers up front, the database picks one by the count it sees when it inserts.
#[derive(Clone, Debug)]
pub struct IndicationChoice {
    /// Earlier attendances in `[since, arrived_at)` that make a repeat attender.
    pub min_prior: i64,
    pub since: DbTime,
    /// `(indications, pat_indicated)` for a repeat attender.
    pub if_repeat: (String, bool),
    /// `(indications, pat_indicated)` otherwise.
    pub otherwise: (String, bool),
}

#[derive(QueryableByName)]
struct Chosen {
    #[diesel(sql_type = Text)]
    indications: String,
    #[diesel(sql_type = Bool)]
    pat_indicated: bool,
}

/// Records a new attendance with its audit event, counting the patient's earlier attendances in
/// the same atomic step. A unique violation means (`source_system`, `source_id`) exists already.
///
/// PostgreSQL: one statement (data-modifying CTEs), its own transaction: one round trip and one
/// commit. SQLite: a `BEGIN IMMEDIATE` transaction (no round trips to save in-process).
pub fn record(
    conn: &mut DbConnection,
    new: &NewAttendance,
    choice: &IndicationChoice,
    event: &AuditEvent,
) -> QueryResult<Attendance> {
    let (indications, pat_indicated) = match conn {
        DbConnection::Pg(pg) => {
            let chosen: Chosen = super::prepared::Prepared::new(
                // The row comparison keeps every plan on the (patient_key, arrived_at) index
                // (see `batch::count_prior_attendances`).
                "WITH prior AS (
                     SELECT count(*) AS n FROM attendances
                     WHERE patient_key = $4
                       AND (patient_key, arrived_at) >= ($4, $16) AND (patient_key, arrived_at) < ($4, $10)),
                 inserted AS (
                     INSERT INTO attendances (id, source_system, source_id, patient_key, nhs_number, local_id,
                         sex, date_of_birth, site, arrived_at, presenting_condition, presenting_condition_detail,
                         attendance_category, indications, pat_indicated, created_at, created_by)
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                         CASE WHEN prior.n >= $17 THEN $18 ELSE $20 END,
                         CASE WHEN prior.n >= $17 THEN $19 ELSE $21 END,
                         $14, $15
                     FROM prior
                     RETURNING indications, pat_indicated),
                 audited AS (
                     INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id,
                         patient_key, request_id)
                     SELECT $22, $23, $24, $25, $26, $27, $28, $29, $30 FROM inserted)
                 SELECT indications, pat_indicated FROM inserted",
            )
            .bind::<PortableUuid, _>(new.id)
            .bind::<Text, _>(&new.source_system)
            .bind::<Text, _>(&new.source_id)
            .bind::<Text, _>(&new.patient_key)
            .bind::<Nullable<Text>, _>(&new.nhs_number)
            .bind::<Nullable<Text>, _>(&new.local_id)
            .bind::<Text, _>(&new.sex)
            .bind::<Nullable<Date>, _>(new.date_of_birth)
            .bind::<Nullable<Text>, _>(&new.site)
            .bind::<PortableTime, _>(new.arrived_at)
            .bind::<Text, _>(&new.presenting_condition)
            .bind::<Nullable<Text>, _>(&new.presenting_condition_detail)
            .bind::<Text, _>(&new.attendance_category)
            .bind::<PortableTime, _>(new.created_at)
            .bind::<Text, _>(&new.created_by)
            .bind::<PortableTime, _>(choice.since)
            .bind::<BigInt, _>(choice.min_prior)
            .bind::<Text, _>(&choice.if_repeat.0)
            .bind::<Bool, _>(choice.if_repeat.1)
            .bind::<Text, _>(&choice.otherwise.0)
            .bind::<Bool, _>(choice.otherwise.1)
            .bind_audit_event(event)
            .get_result(pg)?;
            (chosen.indications, chosen.pat_indicated)
        }
        DbConnection::Sqlite(_) => super::write_transaction(conn, |conn| {
            let prior = count_in_window(conn, &new.patient_key, choice.since, new.arrived_at)?;
            let (indications, pat_indicated) = if prior >= choice.min_prior {
                choice.if_repeat.clone()
            } else {
                choice.otherwise.clone()
            };
            let row = NewAttendance {
                indications: indications.clone(),
                pat_indicated,
                ..new.clone()
            };
            diesel::insert_into(attendances::table).values(&row).execute(conn)?;
            super::audit::record(conn, event)?;
            Ok::<_, diesel::result::Error>((indications, pat_indicated))
        })?,
    };
    Ok(Attendance::from(NewAttendance {
        indications,
        pat_indicated,
        ..new.clone()
    }))
}

pub fn find(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<Attendance>> {
    attendances::table.find(id).select(COLUMNS).first(conn).optional()
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
    let columns: (Columns, diesel::dsl::Nullable<super::screenings::Columns>) =
        (COLUMNS, super::screenings::COLUMNS.nullable());
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

/// Locks the attendance row until the transaction ends, so changes that must see each other
/// (a screening correction and a referral decision) take turns. PostgreSQL: `SELECT … FOR
/// UPDATE`; SQLite needs nothing, its write transactions already run one at a time.
pub fn lock(conn: &mut DbConnection, id: DbUuid) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => attendances::table
            .find(id)
            .select(attendances::id)
            .for_update()
            .first::<DbUuid>(pg)
            .optional()
            .map(|_| ()),
        DbConnection::Sqlite(_) => Ok(()),
    }
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
