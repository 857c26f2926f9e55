//! The attendances store: recording an ED attendance (idempotent on `source_system` +
//! `source_id`, with its repeat-attender indication decided in the same atomic step) and reading
//! one with everything recorded about it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Nullable, Text};

use super::audit::{self, Action, AuditColumns, AuditEvent, BindAuditEvent};
use super::patients;
use super::rows::{
    current_of, find_attendance, lock_attendance, lock_patient, screening_history, with_screenings, Screening,
    ATTENDANCE_COLUMNS,
};
pub use super::rows::{Attendance, WithCurrentScreening};
use super::scheduling::bookings::OutcomeVersion;
use super::scheduling::referrals::ReferralHistory;
use super::scheduling::{bookings, referrals, BookingListing};
use super::{again_after_deadlock, is_unique_violation, Actor, Changed, Recorded, Store, StoreError};
use crate::db::batch::BatchError;
use crate::db::prepared::Prepared;
use crate::db::schema::{attendances, screenings};
use crate::db::types::{Codes, DbTime, DbUuid, PortableTime, PortableUuid};
use crate::db::{write_transaction, DbConnection};
use crate::domain::attendance::{attended_booking_blocks_error_mark, no_attendance, AttendanceCategory};
use crate::domain::eligibility::{PresentingCondition, RepeatAttenderRule};
use crate::domain::nhs_number::NhsNumber;
use crate::domain::pat::Sex;
use crate::domain::scheduling::BookingStatus;
use crate::domain::Reason;

/// A new attendance as the caller sent it, before the database decides its indications.
#[derive(Clone, Debug)]
pub struct NewAttendance {
    pub id: DbUuid,
    pub source_system: String,
    pub source_id: String,
    pub patient_key: String,
    pub nhs_number: Option<NhsNumber>,
    pub local_id: Option<String>,
    pub local_id_system: Option<String>,
    pub sex: Sex,
    pub date_of_birth: Option<NaiveDate>,
    pub site: Option<String>,
    pub arrived_at: DbTime,
    pub presenting_condition: PresentingCondition,
    pub presenting_condition_detail: Option<String>,
    /// The ECDS chief complaint and the version of the table that read it (both or neither).
    pub presenting_condition_snomed: Option<String>,
    pub presenting_condition_map_version: Option<String>,
    pub attendance_category: AttendanceCategory,
    pub created_at: DbTime,
    pub created_by: String,
}

impl NewAttendance {
    /// The same clinical content as a stored attendance: what a replay must match. The
    /// server-made fields (id, indications, who and when recorded, the person a link made the
    /// patient) are not compared; the identifiers the attendance arrived with are.
    fn same_content_as(&self, stored: &Attendance) -> bool {
        self.source_system == stored.source_system
            && self.source_id == stored.source_id
            && self.nhs_number == stored.nhs_number
            && self.local_id == stored.local_id
            && self.local_id_system == stored.local_id_system
            && self.sex == stored.sex
            && self.date_of_birth == stored.date_of_birth
            && self.site == stored.site
            && self.arrived_at == stored.arrived_at
            && self.presenting_condition == stored.presenting_condition
            && self.presenting_condition_detail == stored.presenting_condition_detail
            // The code as sent; not the table's version, which may change between a request and
            // its retry (a new table in April) without the request being different.
            && self.presenting_condition_snomed == stored.presenting_condition_snomed
            && self.attendance_category == stored.attendance_category
    }

    /// The stored attendance, with the indications the database chose by `rule`, its patient's
    /// registry id and the person it belongs to.
    fn stored(
        self,
        rule: &RepeatAttenderRule,
        indications: Vec<PresentingCondition>,
        patient: Registered,
    ) -> Attendance {
        Attendance {
            id: self.id,
            source_system: self.source_system,
            source_id: self.source_id,
            patient_key: patient.person_key,
            nhs_number: self.nhs_number,
            local_id: self.local_id,
            sex: self.sex,
            date_of_birth: self.date_of_birth,
            site: self.site,
            arrived_at: self.arrived_at,
            presenting_condition: self.presenting_condition,
            presenting_condition_detail: self.presenting_condition_detail,
            attendance_category: self.attendance_category,
            pat_indicated: rule.pat_indicated(&indications),
            indications: Codes(indications),
            created_at: self.created_at,
            created_by: self.created_by,
            entered_in_error_at: None,
            entered_in_error_by: None,
            entered_in_error_reason: None,
            patient_id: patient.patient_id,
            local_id_system: self.local_id_system,
            presenting_condition_snomed: self.presenting_condition_snomed,
            presenting_condition_map_version: self.presenting_condition_map_version,
        }
    }
}

/// Who a new attendance turned out to belong to: the registry row of the identifiers it arrived
/// with, and the person (the key its patient's links lead to) it was recorded under.
#[derive(QueryableByName, Clone, Debug)]
pub(super) struct Registered {
    #[diesel(sql_type = PortableUuid)]
    patient_id: DbUuid,
    #[diesel(sql_type = Text)]
    person_key: String,
}

/// An attendance with everything recorded about it: its screenings (current first), its referral
/// decision (with its earlier versions) and its bookings (newest first, with their earlier
/// outcomes).
#[derive(Clone, Debug)]
pub struct AttendanceRecord {
    pub attendance: Attendance,
    /// Every version, newest (current) first.
    pub screenings: Vec<Screening>,
    pub referral: Option<ReferralHistory>,
    pub bookings: Vec<BookingListing>,
    /// The earlier outcomes of the bookings.
    pub earlier_outcomes: Vec<OutcomeVersion>,
}

impl AttendanceRecord {
    /// A new attendance: nothing recorded about it yet.
    fn new(attendance: Attendance) -> Self {
        AttendanceRecord {
            attendance,
            screenings: vec![],
            referral: None,
            bookings: vec![],
            earlier_outcomes: vec![],
        }
    }

    /// Reads what hangs off the attendance.
    fn load(conn: &mut DbConnection, attendance: Attendance) -> QueryResult<Self> {
        let screenings = screening_history(conn, attendance.id)?;
        let referral = match referrals::find(conn, attendance.id)? {
            Some(current) => Some(ReferralHistory {
                current,
                earlier: referrals::versions(conn, attendance.id)?,
            }),
            None => None,
        };
        let mut bookings = if screenings.is_empty() {
            vec![]
        } else {
            bookings::bookings_of(conn, attendance.id)?
        };
        bookings.sort_by_key(|(booking, _, _)| std::cmp::Reverse(booking.booked_at));
        let ids: Vec<_> = bookings.iter().map(|(booking, _, _)| booking.id).collect();
        let earlier_outcomes = bookings::outcome_versions(conn, &ids)?;
        Ok(AttendanceRecord {
            attendance,
            screenings,
            referral,
            bookings,
            earlier_outcomes,
        })
    }
}

/// The attendances store.
pub struct Attendances<'a> {
    store: &'a Store,
}

impl<'a> Attendances<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Attendances { store }
    }

    /// Records a new attendance with its audit event, the repeat-attender rule applied in the
    /// same atomic step as the insert. A retry with the same content is a `Replay` (and an
    /// audited read); different content under the same (`source_system`, `source_id`) a `Clash`.
    ///
    /// PostgreSQL: through the attendance write batch when it runs (one statement and one commit
    /// for whatever arrives together), else one statement of its own. SQLite: a `BEGIN
    /// IMMEDIATE` transaction. A row the batch did not write (stored already) or a batch that
    /// failed goes the one-request way, which tells a replay from a clash.
    #[tracing::instrument(name = "store.attendances.record", skip_all, fields(created))]
    pub async fn record(
        &self,
        new: NewAttendance,
        rule: RepeatAttenderRule,
        actor: &Actor,
    ) -> Result<Recorded<AttendanceRecord>, StoreError> {
        let event = AuditEvent::new(actor, Action::Create, "attendance", new.id.0, Some(&new.patient_key));
        if let Some(batches) = self.store.batches() {
            let job = AttendanceJob {
                new: new.clone(),
                rule: rule.clone(),
                event: event.clone(),
            };
            match batches.attendances.submit(job).await {
                Ok(Some((indications, patient))) => {
                    tracing::Span::current().record("created", true);
                    return Ok(Recorded::Created(AttendanceRecord::new(new.stored(
                        &rule,
                        indications.0,
                        patient,
                    ))));
                }
                Err(BatchError::Unavailable(cause)) => return Err(StoreError::Unavailable(cause)),
                // Stored already (a retry, or a clash), or the batch failed: below tells which.
                Ok(None) | Err(BatchError::Failed) => {}
            }
        }
        let actor = actor.clone();
        let recorded = self
            .store
            // A new attendance locks its own key, then its person's: on PostgreSQL it can lose a
            // deadlock to a purge batch or to a batch recording another key of the same person.
            .run(move |conn| {
                again_after_deadlock(|| match insert(conn, &new, &rule, &event) {
                    Ok(row) => Ok(Recorded::Created(AttendanceRecord::new(row))),
                    // The same (source_system, source_id) exists: a retry, or a clash.
                    Err(e) if is_unique_violation(&e) => write_transaction(conn, |conn| {
                        let stored = find_by_source(conn, &new.source_system, &new.source_id)?
                            .ok_or_else(|| StoreError::internal("attendance vanished after a unique violation"))?;
                        if !new.same_content_as(&stored) {
                            return Ok(Recorded::Clash);
                        }
                        let read = AuditEvent::new(
                            &actor,
                            Action::Read,
                            "attendance",
                            stored.id.0,
                            Some(&stored.patient_key),
                        );
                        audit::record(conn, &read)?;
                        Ok(Recorded::Replay(AttendanceRecord::load(conn, stored)?))
                    }),
                    Err(other) => Err(other.into()),
                })
            })
            .await?;
        tracing::Span::current().record("created", matches!(recorded, Recorded::Created(_)));
        Ok(recorded)
    }

    /// The attendance with everything recorded about it (an audited read).
    #[tracing::instrument(name = "store.attendances.find", skip_all)]
    pub async fn find(&self, id: uuid::Uuid, actor: &Actor) -> Result<AttendanceRecord, StoreError> {
        let actor = actor.clone();
        self.store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let row = find_attendance(conn, DbUuid(id))?.ok_or_else(no_attendance)?;
                    let read = AuditEvent::new(&actor, Action::Read, "attendance", id, Some(&row.patient_key));
                    audit::record(conn, &read)?;
                    Ok(AttendanceRecord::load(conn, row)?)
                })
            })
            .await
    }
}

impl Attendances<'_> {
    /// Marks the attendance `id` entered-in-error (at `now`, by `actor`, for `reason`), with its
    /// audit events: its open bookings are cancelled (their slots freed), and the database drops
    /// it from the 7-day facts of the patient's other attendances (trigger
    /// `attendances_pathway_entered_in_error`); the statistics and the repeat-attender count leave
    /// it out. Marking again is an audited read answering the first mark. No such attendance is a
    /// 404; an attended appointment a 409 (`outcome-recorded`).
    ///
    /// One transaction holding the patient's advisory lock and then the attendance row (as a
    /// screening or a referral decision locks it): the cancellation comes before the check for an attended appointment, so an
    /// outcome recorded at the same moment is either seen by the check or finds its booking
    /// cancelled.
    #[tracing::instrument(name = "store.attendances.mark_entered_in_error", skip_all, fields(already))]
    pub async fn mark_entered_in_error(
        &self,
        id: uuid::Uuid,
        reason: Reason,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Changed<AttendanceRecord>, StoreError> {
        let actor = actor.clone();
        let marked = self
            .store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let id = DbUuid(id);
                    // The patient's lock before the row's, as a new attendance or a link of the
                    // patient takes them (the 7-day recheck the mark sets off takes the patient's
                    // lock): read the patient, lock it, lock the row, and go again in the rare
                    // case that a link moved the attendance to another person in between.
                    let mut held: Vec<String> = vec![];
                    let row = loop {
                        let seen = find_attendance(conn, id)?.ok_or_else(no_attendance)?;
                        if !held.contains(&seen.patient_key) {
                            lock_patient(conn, &seen.patient_key)?;
                            held.push(seen.patient_key);
                        }
                        lock_attendance(conn, id)?;
                        let row = find_attendance(conn, id)?.ok_or_else(no_attendance)?;
                        if held.contains(&row.patient_key) {
                            break row;
                        }
                    };
                    if row.entered_in_error_at.is_some() {
                        let read = AuditEvent::new(&actor, Action::Read, "attendance", id.0, Some(&row.patient_key));
                        audit::record(conn, &read)?;
                        return Ok(Changed::Already(AttendanceRecord::load(conn, row)?));
                    }
                    referrals::mark_in_error(conn, id)?;
                    bookings::cancel_open_bookings(conn, &row, now, &actor)?;
                    if referrals::has_booking(conn, id, &[BookingStatus::Attended])? {
                        return Err(attended_booking_blocks_error_mark().into());
                    }
                    diesel::update(attendances::table.find(id))
                        .set((
                            attendances::entered_in_error_at.eq(Some(DbTime::new(now))),
                            attendances::entered_in_error_by.eq(Some(&actor.subject)),
                            attendances::entered_in_error_reason.eq(Some(reason.as_str())),
                        ))
                        .execute(conn)?;
                    let event = AuditEvent::new(&actor, Action::Update, "attendance", id.0, Some(&row.patient_key));
                    audit::record(conn, &event)?;
                    let row = find_attendance(conn, id)?
                        .ok_or_else(|| StoreError::internal("a marked attendance vanished"))?;
                    Ok::<_, StoreError>(Changed::Now(AttendanceRecord::load(conn, row)?))
                })
            })
            .await?;
        tracing::Span::current().record("already", matches!(marked, Changed::Already(_)));
        Ok(marked)
    }
}

#[derive(QueryableByName)]
struct Chosen {
    #[diesel(sql_type = Text)]
    indications: Codes<PresentingCondition>,
    #[diesel(embed)]
    patient: Registered,
}

/// Inserts the attendance with its audit event, counting the patient's earlier attendances in
/// the same atomic step. A unique violation means (`source_system`, `source_id`) exists already.
/// `new.patient_key` is the key of the identifiers the attendance arrived with; the row is
/// recorded under the person that key is linked to (itself, unless a link says otherwise), and
/// the earlier attendances counted are that person's.
///
/// PostgreSQL: one statement (data-modifying CTEs), its own transaction: one round trip and one
/// commit; the person is read in the statement for the count, and the trigger
/// `attendances_patient` registers the key and sets the person again under the person's lock
/// (migration 2026-12-05-000010 says why). SQLite: a `BEGIN IMMEDIATE` transaction (no round
/// trips to save in-process), which registers the key and reads its person itself.
fn insert(
    conn: &mut DbConnection,
    new: &NewAttendance,
    rule: &RepeatAttenderRule,
    event: &AuditEvent,
) -> QueryResult<Attendance> {
    let if_repeat = Codes(rule.if_repeat.clone());
    let otherwise = Codes(rule.otherwise.clone());
    let since = DbTime::new(rule.since);
    let indications = match conn {
        DbConnection::Pg(pg) => {
            let chosen: Chosen = Prepared::new(concat!(
                // The row comparison keeps every plan on the (patient_key, arrived_at) index
                // (see `count_prior_attendances`).
                "WITH person AS (
                     SELECT COALESCE((SELECT person_key FROM patients WHERE key = $4), $4) AS key),
                 prior AS (
                     SELECT count(*) AS n FROM attendances
                     WHERE patient_key = (SELECT key FROM person)
                       AND (patient_key, arrived_at) >= ((SELECT key FROM person), $16)
                       AND (patient_key, arrived_at) < ((SELECT key FROM person), $10)
                       AND entered_in_error_at IS NULL),
                 inserted AS (
                     INSERT INTO attendances (id, source_system, source_id, patient_key, nhs_number, local_id,
                         sex, date_of_birth, site, arrived_at, presenting_condition, presenting_condition_detail,
                         attendance_category, indications, pat_indicated, created_at, created_by, local_id_system,
                         presenting_condition_snomed, presenting_condition_map_version)
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                         CASE WHEN prior.n >= $17 THEN $18 ELSE $20 END,
                         CASE WHEN prior.n >= $17 THEN $19 ELSE $21 END,
                         $14, $15, $31, $32, $33
                     FROM prior
                     RETURNING indications, patient_id, patient_key AS person_key),
                 audited AS (",
                insert_audit_event_from!("inserted", "$22, $23, $24, $25, $26, $27, $28, $29, $30"),
                ")
                 SELECT indications, patient_id, person_key FROM inserted",
            ))
            .bind::<PortableUuid, _>(new.id)
            .bind::<Text, _>(&new.source_system)
            .bind::<Text, _>(&new.source_id)
            .bind::<Text, _>(&new.patient_key)
            .bind::<Nullable<Text>, _>(&new.nhs_number)
            .bind::<Nullable<Text>, _>(&new.local_id)
            .bind::<Text, _>(new.sex)
            .bind::<Nullable<Date>, _>(new.date_of_birth)
            .bind::<Nullable<Text>, _>(&new.site)
            .bind::<PortableTime, _>(new.arrived_at)
            .bind::<Text, _>(new.presenting_condition)
            .bind::<Nullable<Text>, _>(&new.presenting_condition_detail)
            .bind::<Text, _>(new.attendance_category)
            .bind::<PortableTime, _>(new.created_at)
            .bind::<Text, _>(&new.created_by)
            .bind::<PortableTime, _>(since)
            .bind::<BigInt, _>(i64::from(rule.min_prior))
            .bind::<Text, _>(&if_repeat)
            .bind::<Bool, _>(rule.pat_indicated(&rule.if_repeat))
            .bind::<Text, _>(&otherwise)
            .bind::<Bool, _>(rule.pat_indicated(&rule.otherwise))
            .bind_audit_event(event)
            .bind::<Nullable<Text>, _>(&new.local_id_system)
            .bind::<Nullable<Text>, _>(&new.presenting_condition_snomed)
            .bind::<Nullable<Text>, _>(&new.presenting_condition_map_version)
            .get_result(pg)?;
            (chosen.indications.0, chosen.patient)
        }
        DbConnection::Sqlite(_) => write_transaction(conn, |conn| {
            let patient = patients::register(conn, &new.patient_key, new.created_at)?;
            let patient = Registered {
                patient_id: patient.id,
                person_key: patient.person_key,
            };
            let prior = count_in_window(conn, &patient.person_key, since, new.arrived_at)?;
            let indications = rule.indications(prior).to_vec();
            let row = new.clone().stored(rule, indications.clone(), patient.clone());
            diesel::insert_into(attendances::table).values(&row).execute(conn)?;
            audit::record(conn, event)?;
            Ok::<_, diesel::result::Error>((indications, patient))
        })?,
    };
    let (indications, patient) = indications;
    Ok(new.clone().stored(rule, indications, patient))
}

fn find_by_source(conn: &mut DbConnection, source_system: &str, source_id: &str) -> QueryResult<Option<Attendance>> {
    attendances::table
        .filter(attendances::source_system.eq(source_system))
        .filter(attendances::source_id.eq(source_id))
        .select(ATTENDANCE_COLUMNS)
        .first(conn)
        .optional()
}

/// How many attendances this patient had with arrival in `[since, before)`, leaving out those
/// entered in error.
fn count_in_window(conn: &mut DbConnection, patient_key: &str, since: DbTime, before: DbTime) -> QueryResult<i64> {
    attendances::table
        .filter(attendances::patient_key.eq(patient_key))
        .filter(attendances::arrived_at.ge(since))
        .filter(attendances::arrived_at.lt(before))
        .filter(attendances::entered_in_error_at.is_null())
        .count()
        .get_result(conn)
}

// --- The PostgreSQL write batches: many new attendances, and many reads before a screening ---

/// A new attendance, the rule that decides its indications, and its audit event.
pub(super) struct AttendanceJob {
    new: NewAttendance,
    rule: RepeatAttenderRule,
    event: AuditEvent,
}

/// How many attendances the patient of `input` had in `[input.since, input.arrived_at)`, leaving
/// out those entered in error (the index carries the mark, so it still answers alone). The time
/// bounds are row comparisons, which only the `(patient_key, arrived_at)` index can answer: a plan
/// cached while the table was small cannot walk the arrival-time index instead and filter by
/// patient, which costs a scan of the whole year per row once the table is large. The equality
/// keeps the planner's estimate at one patient's rows (it reads a row comparison as a range over
/// all patients).
macro_rules! count_prior_attendances {
    () => {
        "SELECT count(*) AS n FROM attendances a
         WHERE a.patient_key = input.person_key
           AND (a.patient_key, a.arrived_at) >= (input.person_key, input.since)
           AND (a.patient_key, a.arrived_at) < (input.person_key, input.arrived_at)
           AND a.entered_in_error_at IS NULL"
    };
}

#[derive(QueryableByName)]
struct InsertedAttendance {
    #[diesel(sql_type = PortableUuid)]
    id: DbUuid,
    #[diesel(sql_type = Text)]
    indications: Codes<PresentingCondition>,
    #[diesel(embed)]
    patient: Registered,
}

/// What the batch wrote for one attendance: the indications chosen and who it belongs to.
pub(super) type BatchInserted = (Codes<PresentingCondition>, Registered);

/// `insert` for many: each row's earlier attendances are counted in the statement's snapshot,
/// exactly as the one-row statement counts them (the person of each row read as it reads it).
/// `None` for a row stored already.
pub(super) fn insert_batch(pg: &mut PgConnection, jobs: &[AttendanceJob]) -> QueryResult<Vec<Option<BatchInserted>>> {
    let mut id = Vec::with_capacity(jobs.len());
    let mut source_system = Vec::with_capacity(jobs.len());
    let mut source_id = Vec::with_capacity(jobs.len());
    let mut patient_key = Vec::with_capacity(jobs.len());
    let mut nhs_number = Vec::with_capacity(jobs.len());
    let mut local_id = Vec::with_capacity(jobs.len());
    let mut local_id_system = Vec::with_capacity(jobs.len());
    let mut snomed = Vec::with_capacity(jobs.len());
    let mut map_version = Vec::with_capacity(jobs.len());
    let mut sex = Vec::with_capacity(jobs.len());
    let mut date_of_birth = Vec::with_capacity(jobs.len());
    let mut site = Vec::with_capacity(jobs.len());
    let mut arrived_at = Vec::with_capacity(jobs.len());
    let mut condition = Vec::with_capacity(jobs.len());
    let mut condition_detail = Vec::with_capacity(jobs.len());
    let mut category = Vec::with_capacity(jobs.len());
    let mut created_at = Vec::with_capacity(jobs.len());
    let mut created_by = Vec::with_capacity(jobs.len());
    let mut since = Vec::with_capacity(jobs.len());
    let mut min_prior = Vec::with_capacity(jobs.len());
    let mut if_repeat = Vec::with_capacity(jobs.len());
    let mut if_repeat_indicated = Vec::with_capacity(jobs.len());
    let mut otherwise = Vec::with_capacity(jobs.len());
    let mut otherwise_indicated = Vec::with_capacity(jobs.len());
    let mut audit = AuditColumns::default();
    for AttendanceJob { new, rule, event } in jobs {
        id.push(new.id);
        source_system.push(new.source_system.clone());
        source_id.push(new.source_id.clone());
        patient_key.push(new.patient_key.clone());
        nhs_number.push(new.nhs_number.clone());
        local_id.push(new.local_id.clone());
        local_id_system.push(new.local_id_system.clone());
        snomed.push(new.presenting_condition_snomed.clone());
        map_version.push(new.presenting_condition_map_version.clone());
        sex.push(new.sex);
        date_of_birth.push(new.date_of_birth);
        site.push(new.site.clone());
        arrived_at.push(new.arrived_at);
        condition.push(new.presenting_condition);
        condition_detail.push(new.presenting_condition_detail.clone());
        category.push(new.attendance_category);
        created_at.push(new.created_at);
        created_by.push(new.created_by.clone());
        since.push(DbTime::new(rule.since));
        min_prior.push(i64::from(rule.min_prior));
        if_repeat_indicated.push(rule.pat_indicated(&rule.if_repeat));
        if_repeat.push(Codes(rule.if_repeat.clone()));
        otherwise_indicated.push(rule.pat_indicated(&rule.otherwise));
        otherwise.push(Codes(rule.otherwise.clone()));
        audit.push(event);
    }
    let statement = Prepared::new(INSERT_ATTENDANCES)
        .bind::<Array<PortableUuid>, _>(id)
        .bind::<Array<Text>, _>(source_system)
        .bind::<Array<Text>, _>(source_id)
        .bind::<Array<Text>, _>(patient_key)
        .bind::<Array<Nullable<Text>>, _>(nhs_number)
        .bind::<Array<Nullable<Text>>, _>(local_id)
        .bind::<Array<Text>, _>(sex)
        .bind::<Array<Nullable<Date>>, _>(date_of_birth)
        .bind::<Array<Nullable<Text>>, _>(site)
        .bind::<Array<PortableTime>, _>(arrived_at)
        .bind::<Array<Text>, _>(condition)
        .bind::<Array<Nullable<Text>>, _>(condition_detail)
        .bind::<Array<Text>, _>(category)
        .bind::<Array<PortableTime>, _>(created_at)
        .bind::<Array<Text>, _>(created_by)
        .bind::<Array<PortableTime>, _>(since)
        .bind::<Array<BigInt>, _>(min_prior)
        .bind::<Array<Text>, _>(if_repeat)
        .bind::<Array<Bool>, _>(if_repeat_indicated)
        .bind::<Array<Text>, _>(otherwise)
        .bind::<Array<Bool>, _>(otherwise_indicated);
    let inserted: Vec<InsertedAttendance> = audit
        .bind(statement)
        .bind::<Array<Nullable<Text>>, _>(local_id_system)
        .bind::<Array<Nullable<Text>>, _>(snomed)
        .bind::<Array<Nullable<Text>>, _>(map_version)
        .load(pg)?;
    let mut by_id: HashMap<DbUuid, BatchInserted> = inserted
        .into_iter()
        .map(|row| (row.id, (row.indications, row.patient)))
        .collect();
    Ok(jobs.iter().map(|job| by_id.remove(&job.new.id)).collect())
}

const INSERT_ATTENDANCES: &str = concat!(
    "WITH input AS (
         SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)
         AS t(id, source_system, source_id, patient_key, nhs_number, local_id, sex, date_of_birth, site,
             arrived_at, presenting_condition, presenting_condition_detail, attendance_category, created_at,
             created_by, since, min_prior, if_repeat, if_repeat_indicated, otherwise, otherwise_indicated, ",
    audit_input_columns!(),
    ", local_id_system, presenting_condition_snomed, presenting_condition_map_version)),
     keyed AS (
         SELECT input.*, COALESCE(p.person_key, input.patient_key) AS person_key
         FROM input LEFT JOIN patients p ON p.key = input.patient_key),
     chosen AS (
         SELECT input.*, prior.n >= input.min_prior AS is_repeat
         FROM keyed AS input CROSS JOIN LATERAL (",
    count_prior_attendances!(),
    ") AS prior),
     inserted AS (
         INSERT INTO attendances (id, source_system, source_id, patient_key, nhs_number, local_id, sex,
             date_of_birth, site, arrived_at, presenting_condition, presenting_condition_detail,
             attendance_category, indications, pat_indicated, created_at, created_by, local_id_system,
             presenting_condition_snomed, presenting_condition_map_version)
         SELECT id, source_system, source_id, patient_key, nhs_number, local_id, sex, date_of_birth, site,
             arrived_at, presenting_condition, presenting_condition_detail, attendance_category,
             CASE WHEN is_repeat THEN if_repeat ELSE otherwise END,
             CASE WHEN is_repeat THEN if_repeat_indicated ELSE otherwise_indicated END,
             created_at, created_by, local_id_system, presenting_condition_snomed, presenting_condition_map_version
         FROM chosen
         ORDER BY patient_key, id
         ON CONFLICT (source_system, source_id) DO NOTHING
         RETURNING id, indications, pat_indicated, patient_id, patient_key AS person_key),
     audited AS (",
    insert_audit_events!(),
    ")
     SELECT id, indications, patient_id, person_key FROM inserted"
);

/// `find_with_current_screening` for many, in one query. Every version of each attendance's
/// screenings is read (there is one, or a few after corrections) and the highest kept.
pub(super) fn read_current_screenings(
    pg: &mut PgConnection,
    ids: &[DbUuid],
) -> QueryResult<Vec<Option<WithCurrentScreening>>> {
    // On the PostgreSQL connection itself, not through the two-backend one: there `eq_any` is
    // `= ANY($1)`, one statement for any number of ids, prepared once.
    let rows: Vec<WithCurrentScreening> = with_screenings()
        .filter(attendances::id.eq_any(ids))
        .order((attendances::id, screenings::version.desc()))
        .load(pg)?;
    let current = current_of(rows);
    Ok(ids.iter().map(|id| current.get(id).cloned()).collect())
}
