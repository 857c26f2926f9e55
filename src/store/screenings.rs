//! The screenings store: recording the PAT for an attendance. Every version is kept; the highest
//! version is the current one. The unique (attendance_id, version) is what stops two
//! simultaneous corrections from both becoming the next version: the second gets a unique
//! violation, reads again and goes on from there.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Double, Integer, Nullable, Text};

use super::audit::{self, Action, AuditColumns, AuditEvent, BindAuditEvent};
pub use super::rows::Screening;
use super::rows::{find_with_current_screening, lock_attendance, Attendance};
use super::scheduling::referrals;
use super::{is_unique_violation, Actor, Store, StoreError};
use crate::db::batch::BatchError;
use crate::db::prepared::Prepared;
use crate::db::schema::screenings;
use crate::db::types::{Codes, DbTime, DbUuid, JsonText, PortableTime, PortableUuid};
use crate::db::{single_write, write_transaction, DbConnection};
use crate::domain::attendance::{attendance_entered_in_error, no_attendance};
use crate::domain::pat::{self, ScreeningInput};
use crate::domain::Refusal;

impl Screening {
    /// A replay of this stored version: the same recorded content. A `screened_at` left to
    /// default is not compared, so a retry without it is still a replay.
    fn same_as(&self, input: &ScreeningInput) -> bool {
        self.status == input.status
            && self.rule == input.rule
            && self.answers.as_ref().map(|a| &a.0) == input.answers.as_ref()
            && self.advice_given == input.advice_given
            && self.leaflet_given == input.leaflet_given
            && input.screened_at.is_none_or(|t| DbTime::new(t) == self.screened_at)
    }
}

/// What recording a screening did.
#[derive(Debug)]
pub enum ScreeningRecorded {
    /// The first version.
    First(Screening),
    /// A correction: a new version; the earlier ones are kept.
    Corrected(Screening),
    /// The current version was sent again unchanged: it is answered again.
    Replay(Screening),
}

/// How often a screening is retried after losing a race to a simultaneous correction: a request
/// loses only when another commits in between, so N requests at once all finish when N <= this.
const MAX_ATTEMPTS: usize = 10;

/// The screenings store.
pub struct Screenings<'a> {
    store: &'a Store,
}

impl<'a> Screenings<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Screenings { store }
    }

    /// Records the PAT for the attendance `id` (or why it was not done), scored for the
    /// patient's sex, with its audit event; `now` is the time of recording.
    ///
    /// A first screening goes lock-free: on PostgreSQL through the write batches when they run
    /// (its read and its insert each share a statement with whatever else arrives), else as one
    /// statement. A correction (rare) runs in a transaction holding the attendance's row lock, so
    /// it takes turns with a referral decision: once a decision is recorded, a correction may not
    /// change the result it answered (docs/design.md §4).
    #[tracing::instrument(name = "store.screenings.record", skip_all, fields(attempts))]
    pub async fn record(
        &self,
        id: uuid::Uuid,
        input: ScreeningInput,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<ScreeningRecorded, StoreError> {
        let id = DbUuid(id);
        if let Some(first) = self.record_first_batched(id, &input, now, actor).await? {
            return Ok(ScreeningRecorded::First(first));
        }
        let actor = actor.clone();
        self.store
            .run(move |conn| {
                let mut locked = false;
                for attempt in 1..=MAX_ATTEMPTS {
                    tracing::Span::current().record("attempts", attempt);
                    let outcome = if locked {
                        write_transaction(conn, |conn| record_once(conn, id, &input, now, &actor, true))?
                    } else {
                        single_write(conn, |conn| record_once(conn, id, &input, now, &actor, false))?
                    };
                    match outcome {
                        Attempt::Done(recorded) => return Ok(recorded),
                        Attempt::NeedsLock => locked = true,
                        Attempt::Raced => {}
                    }
                }
                Err(Refusal::conflict(
                    "concurrent-change",
                    "the screening kept changing while this one was being recorded; retry",
                )
                .into())
            })
            .await
    }

    /// A first screening through the write batches (PostgreSQL). `None` when the batches do not
    /// run, when this is not a first screening (a replay or a correction), when another request
    /// wrote the first version in between, or when a batch failed: the one-request path answers
    /// those.
    async fn record_first_batched(
        &self,
        id: DbUuid,
        input: &ScreeningInput,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Option<Screening>, StoreError> {
        let Some(batches) = self.store.batches() else {
            return Ok(None);
        };
        let attendance = match batches.reads.submit(id).await {
            Ok(None) => return Err(no_attendance().into()),
            Ok(Some((attendance, None))) if attendance.entered_in_error_at.is_none() => attendance,
            // A replay, a correction or a marked attendance: the one-request path answers.
            Ok(Some(_)) | Err(BatchError::Failed) => return Ok(None),
            Err(BatchError::Unavailable(cause)) => return Err(StoreError::Unavailable(cause)),
        };
        let score = score(&attendance, input)?;
        let (row, event) = next_version(&attendance, None, input, score, now, actor)?;
        let job = ScreeningJob {
            patient_key: attendance.patient_key,
            row: row.clone(),
            event,
        };
        match batches.screenings.submit(job).await {
            Ok(true) => Ok(Some(row)),
            Ok(false) | Err(BatchError::Failed) => Ok(None),
            Err(BatchError::Unavailable(cause)) => Err(StoreError::Unavailable(cause)),
        }
    }
}

enum Attempt {
    Done(ScreeningRecorded),
    /// Another version was written between reading the current one and writing the next.
    Raced,
    /// A correction: to be done again holding the attendance's lock.
    NeedsLock,
}

/// Reads the attendance and its current screening, then either answers a replay or writes the
/// next version with its audit event (one write statement; see `db::single_write`).
fn record_once(
    conn: &mut DbConnection,
    id: DbUuid,
    input: &ScreeningInput,
    now: DateTime<Utc>,
    actor: &Actor,
    locked: bool,
) -> Result<Attempt, StoreError> {
    if locked {
        lock_attendance(conn, id)?;
    }
    let (attendance, current) = find_with_current_screening(conn, id)?.ok_or_else(no_attendance)?;
    if let Some(stored) = current.as_ref().filter(|s| s.same_as(input)) {
        let read = AuditEvent::new(actor, Action::Read, "screening", id.0, Some(&attendance.patient_key));
        audit::record(conn, &read)?;
        return Ok(Attempt::Done(ScreeningRecorded::Replay(stored.clone())));
    }
    if attendance.entered_in_error_at.is_some() {
        return Err(attendance_entered_in_error().into());
    }
    if current.is_some() && !locked {
        return Ok(Attempt::NeedsLock);
    }
    let score = score(&attendance, input)?;
    // Once the patient has answered the referral offer, the result it answered stands.
    if let Some(stored) = &current {
        if stored.result != score.as_ref().map(|s| s.result) && referrals::find(conn, stored.attendance_id)?.is_some() {
            return Err(pat::result_fixed_by_referral().into());
        }
    }
    let (row, event) = next_version(&attendance, current.as_ref(), input, score, now, actor)?;
    match insert_with_audit(conn, &row, &event) {
        Ok(()) if current.is_none() => Ok(Attempt::Done(ScreeningRecorded::First(row))),
        Ok(()) => Ok(Attempt::Done(ScreeningRecorded::Corrected(row))),
        Err(e) if is_unique_violation(&e) => Ok(Attempt::Raced),
        Err(other) => Err(other.into()),
    }
}

/// The input scored for the patient's sex; none for a screening not done.
fn score(attendance: &Attendance, input: &ScreeningInput) -> Result<Option<pat::Score>, StoreError> {
    input.score(attendance.sex).map_err(|errors| {
        // The input was scored when it was parsed; the patient's sex moves only the threshold,
        // never which answers are needed.
        StoreError::internal(format!("checked answers failed to score: {} problems", errors.len()))
    })
}

/// The version that follows `current` (the first when there is none), with its audit event,
/// after the time rules: not screened before the arrival nor in the future.
fn next_version(
    attendance: &Attendance,
    current: Option<&Screening>,
    input: &ScreeningInput,
    score: Option<pat::Score>,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<(Screening, AuditEvent), StoreError> {
    let screened_at = pat::screening_time(input.screened_at, attendance.arrived_at.get(), now)?;
    let row = Screening {
        id: DbUuid(uuid::Uuid::now_v7()),
        attendance_id: attendance.id,
        version: current.map_or(1, |s| s.version + 1),
        status: input.status,
        rule: input.rule,
        result: score.as_ref().map(|s| s.result),
        units: score.as_ref().and_then(|s| s.units),
        answers: input.answers.clone().map(JsonText),
        // A PAT not done raises no alert.
        alerts: Codes(score.map(|s| s.alerts).unwrap_or_default()),
        advice_given: input.advice_given,
        leaflet_given: input.leaflet_given,
        screened_at: DbTime::new(screened_at),
        recorded_at: DbTime::new(now),
        recorded_by: actor.subject.clone(),
    };
    let action = if current.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    let event = AuditEvent::new(
        actor,
        action,
        "screening",
        attendance.id.0,
        Some(&attendance.patient_key),
    );
    Ok((row, event))
}

/// Inserts a version and its audit event. On PostgreSQL this is one statement (a data-modifying
/// CTE), so it is atomic without a transaction round trip of its own; elsewhere the caller's
/// transaction makes the two inserts one.
fn insert_with_audit(conn: &mut DbConnection, row: &Screening, event: &AuditEvent) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => Prepared::new(concat!(
            "WITH inserted AS (
                 INSERT INTO screenings (id, attendance_id, version, status, rule, result, units, answers,
                     alerts, advice_given, leaflet_given, screened_at, recorded_at, recorded_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 RETURNING id) ",
            insert_audit_event_from!("inserted", "$15, $16, $17, $18, $19, $20, $21, $22, $23")
        ))
        .bind::<PortableUuid, _>(row.id)
        .bind::<PortableUuid, _>(row.attendance_id)
        .bind::<Integer, _>(row.version)
        .bind::<Text, _>(row.status)
        .bind::<Nullable<Text>, _>(row.rule)
        .bind::<Nullable<Text>, _>(row.result)
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
            audit::record(conn, event)
        }
    }
}

// --- The PostgreSQL write batch of first screenings ---

/// A first screening and its audit event, with the patient key that orders the batch.
pub(super) struct ScreeningJob {
    patient_key: String,
    row: Screening,
    event: AuditEvent,
}

#[derive(QueryableByName)]
struct InsertedScreening {
    #[diesel(sql_type = PortableUuid)]
    id: DbUuid,
}

/// `insert_with_audit` for many. `false` for a version that exists already.
pub(super) fn insert_batch(pg: &mut PgConnection, jobs: &[ScreeningJob]) -> QueryResult<Vec<bool>> {
    let mut id = Vec::with_capacity(jobs.len());
    let mut attendance_id = Vec::with_capacity(jobs.len());
    let mut version = Vec::with_capacity(jobs.len());
    let mut status = Vec::with_capacity(jobs.len());
    let mut rule = Vec::with_capacity(jobs.len());
    let mut result = Vec::with_capacity(jobs.len());
    let mut units = Vec::with_capacity(jobs.len());
    let mut answers = Vec::with_capacity(jobs.len());
    let mut alerts = Vec::with_capacity(jobs.len());
    let mut advice_given = Vec::with_capacity(jobs.len());
    let mut leaflet_given = Vec::with_capacity(jobs.len());
    let mut screened_at = Vec::with_capacity(jobs.len());
    let mut recorded_at = Vec::with_capacity(jobs.len());
    let mut recorded_by = Vec::with_capacity(jobs.len());
    let mut patient_key = Vec::with_capacity(jobs.len());
    let mut audit = AuditColumns::default();
    for ScreeningJob {
        patient_key: key,
        row,
        event,
    } in jobs
    {
        id.push(row.id);
        attendance_id.push(row.attendance_id);
        version.push(row.version);
        status.push(row.status);
        rule.push(row.rule);
        result.push(row.result);
        units.push(row.units);
        answers.push(row.answers.clone());
        alerts.push(row.alerts.clone());
        advice_given.push(row.advice_given);
        leaflet_given.push(row.leaflet_given);
        screened_at.push(row.screened_at);
        recorded_at.push(row.recorded_at);
        recorded_by.push(row.recorded_by.clone());
        patient_key.push(key.clone());
        audit.push(event);
    }
    let statement = Prepared::new(INSERT_SCREENINGS)
        .bind::<Array<PortableUuid>, _>(id)
        .bind::<Array<PortableUuid>, _>(attendance_id)
        .bind::<Array<Integer>, _>(version)
        .bind::<Array<Text>, _>(status)
        .bind::<Array<Nullable<Text>>, _>(rule)
        .bind::<Array<Nullable<Text>>, _>(result)
        .bind::<Array<Nullable<Double>>, _>(units)
        .bind::<Array<Nullable<Text>>, _>(answers)
        .bind::<Array<Text>, _>(alerts)
        .bind::<Array<Nullable<Bool>>, _>(advice_given)
        .bind::<Array<Nullable<Bool>>, _>(leaflet_given)
        .bind::<Array<PortableTime>, _>(screened_at)
        .bind::<Array<PortableTime>, _>(recorded_at)
        .bind::<Array<Text>, _>(recorded_by)
        .bind::<Array<Text>, _>(patient_key);
    let inserted: Vec<InsertedScreening> = audit.bind(statement).load(pg)?;
    let written: std::collections::HashSet<DbUuid> = inserted.into_iter().map(|row| row.id).collect();
    Ok(jobs.iter().map(|job| written.contains(&job.row.id)).collect())
}

const INSERT_SCREENINGS: &str = concat!(
    "WITH input AS (
         SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22, $23, $24)
         AS t(id, attendance_id, version, status, rule, result, units, answers, alerts, advice_given,
             leaflet_given, screened_at, recorded_at, recorded_by, patient_key, ",
    audit_input_columns!(),
    ")),
     inserted AS (
         INSERT INTO screenings (id, attendance_id, version, status, rule, result, units, answers, alerts,
             advice_given, leaflet_given, screened_at, recorded_at, recorded_by)
         SELECT id, attendance_id, version, status, rule, result, units, answers, alerts, advice_given,
             leaflet_given, screened_at, recorded_at, recorded_by
         FROM input
         ORDER BY patient_key, attendance_id
         ON CONFLICT (attendance_id, version) DO NOTHING
         RETURNING id),
     audited AS (",
    insert_audit_events!(),
    ")
     SELECT id FROM inserted"
);
