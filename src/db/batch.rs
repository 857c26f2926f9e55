//! Group commit for the write path's busiest statements on PostgreSQL.
//!
//! An EPR integration engine sends attendances and screenings from many connections at once.
//! Written one request at a time, each costs PostgreSQL a statement, a transaction and a commit
//! of its own, and costs the service a hop to the blocking pool and a round trip. Here requests
//! that arrive together are written together: a handful of threads each take what is waiting
//! (up to `PAT_WRITE_BATCH_SIZE`) and write it as **one statement**, so one transaction and one
//! commit. A request is answered only after its batch has committed: nothing is acknowledged
//! that is not durable.
//!
//! Four queues, each with its own statements:
//! - new attendances, with their repeat-attender count and audit events;
//! - the reads of an attendance with its current screening, that precede a screening;
//! - first screenings, with their audit events;
//! - the reads before a booking: the referral's context and the slot asked for. Most attempts in a
//!   race for slots end there, with a 409.
//!
//! Each write settles uniqueness with `ON CONFLICT … DO NOTHING` and says which rows it wrote.
//! A request whose row was not written (a retry of a stored attendance, a screening that lost a
//! race) is answered by the ordinary one-request path, which knows how to tell a replay from a
//! clash. If a whole batch fails, nothing of it was written (one statement is atomic), and each
//! of its requests also goes the ordinary way. So the answers are exactly those of the
//! one-request path; only the number of commits changes.
//!
//! Rows are written in patient order, so two batches that both take patients' locks (the
//! attendance triggers take a per-patient advisory lock; a screening updates its attendance's row)
//! take them in the same order and cannot deadlock each other. (Should PostgreSQL still find a
//! deadlock, it fails one batch, whose requests then go one by one.)
//!
//! The batches run on connections of their own (`db::batch_pool`) on which PostgreSQL plans no
//! sequential scan: their statements are prepared once per connection, and a plan made while the
//! tables were small must not become a scan of the whole table per row as they grow.
//!
//! SQLite writes are in-process and serialised anyway, so there is nothing to group: the queues
//! exist only on PostgreSQL.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Double, Integer, Nullable, Text};
use tokio::sync::oneshot;

use super::attendances::{self, IndicationChoice, NewAttendance, WithCurrentScreening};
use super::audit::AuditEvent;
use super::prepared::Prepared;
use super::scheduling::{self, BookingReads};
use super::schema::{attendances as attendance_table, screenings as screening_table};
use super::screenings::Screening;
use super::types::{DbTime, DbUuid, PortableTime, PortableUuid};
use super::{DbConnection, Pool};
use crate::error::ApiError;

/// Threads per queue: while one waits for its commit, the next gathers the requests that arrive.
const THREADS_PER_QUEUE: usize = 2;

/// Connections the queues' threads use: one each.
pub const CONNECTIONS: u32 = 4 * THREADS_PER_QUEUE as u32;

/// Why a batched request got no answer of its own.
#[derive(Debug)]
pub enum BatchError {
    /// No database connection within `PAT_DB_TIMEOUT_SECONDS`: answer 503 (the one-request path
    /// would only wait as long again).
    Unavailable(String),
    /// The batch failed as a whole and wrote nothing: answer by the one-request path.
    Failed,
}

/// A new attendance and its audit event (`attendances::record`'s arguments).
pub struct AttendanceJob {
    pub new: NewAttendance,
    pub choice: IndicationChoice,
    pub event: AuditEvent,
}

/// A first screening and its audit event, with the patient key that orders the batch.
pub struct ScreeningJob {
    pub patient_key: String,
    pub row: Screening,
    pub event: AuditEvent,
}

/// The four queues. Dropping it ends their threads once they finish the batch in hand.
pub struct WriteBatcher {
    attendances: Queue<AttendanceJob, Option<(String, bool)>>,
    reads: Queue<DbUuid, Option<WithCurrentScreening>>,
    screenings: Queue<ScreeningJob, bool>,
    booking_reads: Queue<(DbUuid, Option<DbUuid>), BookingReads>,
}

impl WriteBatcher {
    /// Starts the queues' threads. `pool` is theirs alone (`db::batch_pool`, `CONNECTIONS`
    /// connections): each batch takes one connection while it runs.
    pub fn start(pool: &Pool, max_batch: usize) -> std::io::Result<WriteBatcher> {
        Ok(WriteBatcher {
            attendances: Queue::start("attendances", pool, max_batch, insert_attendances)?,
            reads: Queue::start("reads", pool, max_batch, read_current_screenings)?,
            screenings: Queue::start("screenings", pool, max_batch, insert_screenings)?,
            booking_reads: Queue::start("booking-reads", pool, max_batch, scheduling::booking_reads)?,
        })
    }

    /// Records the attendance as `attendances::record` does. `Some((indications,
    /// pat_indicated))` when it was written; `None` when (`source_system`, `source_id`) is stored
    /// already.
    pub async fn record_attendance(&self, job: AttendanceJob) -> Result<Option<(String, bool)>, BatchError> {
        self.attendances.submit(job).await
    }

    /// The attendance with its current screening, as `attendances::find_with_current_screening`.
    pub async fn find_with_current_screening(&self, id: DbUuid) -> Result<Option<WithCurrentScreening>, BatchError> {
        self.reads.submit(id).await
    }

    /// Inserts a screening version with its audit event. `false` when that version of that
    /// attendance exists already (another request wrote it first).
    pub async fn record_screening(&self, job: ScreeningJob) -> Result<bool, BatchError> {
        self.screenings.submit(job).await
    }

    /// What a booking request reads before it books: `scheduling::booking_context` of the
    /// attendance and `scheduling::find_live_slot` of the slot it names, if any.
    pub async fn booking_reads(
        &self,
        attendance_id: DbUuid,
        slot_id: Option<DbUuid>,
    ) -> Result<BookingReads, BatchError> {
        self.booking_reads.submit((attendance_id, slot_id)).await
    }
}

impl WriteBatcher {
    /// `pat_write_batches_total`, `pat_write_batch_requests_total` and
    /// `pat_write_batches_failed_total` by queue, in the Prometheus text format: requests ÷ batches
    /// is how many requests share a statement and a commit.
    pub fn render_metrics(&self) -> String {
        let queues = [
            (self.attendances.name, &*self.attendances.counts),
            (self.reads.name, &*self.reads.counts),
            (self.screenings.name, &*self.screenings.counts),
            (self.booking_reads.name, &*self.booking_reads.counts),
        ];
        let mut out = String::new();
        let families = [
            (
                "pat_write_batches_total",
                "Write batches run (PostgreSQL).",
                Family::Batches,
            ),
            (
                "pat_write_batch_requests_total",
                "Requests written or read in write batches.",
                Family::Requests,
            ),
            (
                "pat_write_batches_failed_total",
                "Write batches that failed as a whole; their requests went one by one.",
                Family::Failed,
            ),
        ];
        for (name, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (queue, counts) in queues {
                let _ = writeln!(out, "{name}{{queue=\"{queue}\"}} {}", counts.get(value));
            }
        }
        out
    }
}

type Reply<R> = oneshot::Sender<Result<R, BatchError>>;

/// Writes a batch; answers one result per job, in the jobs' order.
type Runner<J, R> = fn(&mut PgConnection, &[J]) -> QueryResult<Vec<R>>;

struct Queue<J, R> {
    name: &'static str,
    sender: Sender<(J, Reply<R>)>,
    counts: Arc<Counts>,
}

/// One of the counters in `Counts`.
#[derive(Clone, Copy)]
enum Family {
    Batches,
    Requests,
    Failed,
}

/// What a queue has done since the start, for `/metrics`.
#[derive(Default)]
struct Counts {
    batches: AtomicU64,
    rows: AtomicU64,
    failed: AtomicU64,
}

impl Counts {
    fn get(&self, family: Family) -> u64 {
        match family {
            Family::Batches => &self.batches,
            Family::Requests => &self.rows,
            Family::Failed => &self.failed,
        }
        .load(Ordering::Relaxed)
    }
}

impl<J: Send + 'static, R: Send + 'static> Queue<J, R> {
    fn start(name: &'static str, pool: &Pool, max_batch: usize, run: Runner<J, R>) -> std::io::Result<Queue<J, R>> {
        let (sender, receiver) = mpsc::channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let counts = Arc::new(Counts::default());
        for n in 0..THREADS_PER_QUEUE {
            let receiver = Arc::clone(&receiver);
            let counts = Arc::clone(&counts);
            let pool = pool.clone();
            std::thread::Builder::new()
                .name(format!("batch-{name}-{n}"))
                .spawn(move || work(&receiver, &pool, &counts, max_batch.max(1), run))?;
        }
        Ok(Queue { name, sender, counts })
    }

    async fn submit(&self, job: J) -> Result<R, BatchError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send((job, reply)).map_err(|_| BatchError::Failed)?;
        // A dropped reply means the thread died: the one-request path still works.
        answer.await.unwrap_or(Err(BatchError::Failed))
    }
}

/// One queue thread: waits for a request, takes whatever else is waiting, writes them all.
fn work<J, R>(
    receiver: &Mutex<Receiver<(J, Reply<R>)>>,
    pool: &Pool,
    counts: &Counts,
    max_batch: usize,
    run: Runner<J, R>,
) {
    loop {
        let batch = {
            let receiver = receiver.lock().unwrap_or_else(PoisonError::into_inner);
            let Ok(first) = receiver.recv() else {
                return; // the service is shutting down
            };
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match receiver.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        let (jobs, replies): (Vec<J>, Vec<Reply<R>>) = batch.into_iter().unzip();
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts.rows.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let outcome = write(pool, &jobs, run);
        if outcome.is_err() {
            counts.failed.fetch_add(1, Ordering::Relaxed);
        }
        match outcome {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(result)); // the client may have gone: nothing to do
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(match &error {
                        BatchError::Unavailable(cause) => BatchError::Unavailable(cause.clone()),
                        BatchError::Failed => BatchError::Failed,
                    }));
                }
            }
        }
    }
}

fn write<J, R>(pool: &Pool, jobs: &[J], run: Runner<J, R>) -> Result<Vec<R>, BatchError> {
    let mut conn = pool.get().map_err(|error| BatchError::Unavailable(error.to_string()))?;
    let DbConnection::Pg(pg) = &mut conn.inner else {
        return Err(BatchError::Failed);
    };
    match run(pg, jobs) {
        Ok(results) if results.len() == jobs.len() => Ok(results),
        Ok(_) => {
            tracing::error!(size = jobs.len(), "a write batch answered the wrong number of results");
            Err(BatchError::Failed)
        }
        Err(error) => {
            // The error's text may quote row values, so only its kind is logged.
            let lost = matches!(
                ApiError::from(error),
                ApiError::ConnectionLost(_) | ApiError::Unavailable(_)
            );
            if lost {
                conn.mark_lost();
            }
            tracing::warn!(
                size = jobs.len(),
                connection_lost = lost,
                "a write batch failed; its requests are written one by one"
            );
            Err(BatchError::Failed)
        }
    }
}

/// The audit event columns, one array each, bound after a batch's own columns.
#[derive(Default)]
struct AuditColumns {
    id: Vec<DbUuid>,
    occurred_at: Vec<DbTime>,
    actor: Vec<String>,
    roles: Vec<String>,
    action: Vec<String>,
    resource_type: Vec<String>,
    resource_id: Vec<String>,
    patient_key: Vec<Option<String>>,
    request_id: Vec<Option<String>>,
}

impl AuditColumns {
    fn push(&mut self, event: &AuditEvent) {
        self.id.push(event.id);
        self.occurred_at.push(event.occurred_at);
        self.actor.push(event.actor.clone());
        self.roles.push(event.roles.clone());
        self.action.push(event.action.clone());
        self.resource_type.push(event.resource_type.clone());
        self.resource_id.push(event.resource_id.clone());
        self.patient_key.push(event.patient_key.clone());
        self.request_id.push(event.request_id.clone());
    }

    fn bind(self, statement: Prepared<'_>) -> Prepared<'_> {
        statement
            .bind::<Array<PortableUuid>, _>(self.id)
            .bind::<Array<PortableTime>, _>(self.occurred_at)
            .bind::<Array<Text>, _>(self.actor)
            .bind::<Array<Text>, _>(self.roles)
            .bind::<Array<Text>, _>(self.action)
            .bind::<Array<Text>, _>(self.resource_type)
            .bind::<Array<Text>, _>(self.resource_id)
            .bind::<Array<Nullable<Text>>, _>(self.patient_key)
            .bind::<Array<Nullable<Text>>, _>(self.request_id)
    }
}

/// Inserts the audit events of the rows a batch statement wrote (`inserted`), from the `audit_*`
/// columns of its `input`. A macro, so `concat!` can build whole statements with it.
macro_rules! insert_audit_events {
    () => {
        "INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id,
             patient_key, request_id)
         SELECT input.audit_id, input.audit_occurred_at, input.audit_actor, input.audit_roles,
             input.audit_action, input.audit_resource_type, input.audit_resource_id, input.audit_patient_key,
             input.audit_request_id
         FROM inserted JOIN input ON input.id = inserted.id"
    };
}

/// How many attendances the patient of `input` had in `[input.since, input.arrived_at)`. The time
/// bounds are row comparisons, which only the `(patient_key, arrived_at)` index can answer: a plan
/// cached while the table was small cannot walk the arrival-time index instead and filter by
/// patient, which costs a scan of the whole year per row once the table is large. The equality
/// keeps the planner's estimate at one patient's rows (it reads a row comparison as a range over
/// all patients).
macro_rules! count_prior_attendances {
    () => {
        "SELECT count(*) AS n FROM attendances a
         WHERE a.patient_key = input.patient_key
           AND (a.patient_key, a.arrived_at) >= (input.patient_key, input.since)
           AND (a.patient_key, a.arrived_at) < (input.patient_key, input.arrived_at)"
    };
}

/// The names of the audit columns that `AuditColumns::bind` appends to a batch's `unnest`.
macro_rules! audit_input_columns {
    () => {
        "audit_id, audit_occurred_at, audit_actor, audit_roles, audit_action, audit_resource_type,
         audit_resource_id, audit_patient_key, audit_request_id"
    };
}

#[derive(QueryableByName)]
struct InsertedAttendance {
    #[diesel(sql_type = PortableUuid)]
    id: DbUuid,
    #[diesel(sql_type = Text)]
    indications: String,
    #[diesel(sql_type = Bool)]
    pat_indicated: bool,
}

/// `attendances::record` for many: each row's earlier attendances are counted in the statement's
/// snapshot, exactly as the one-row statement counts them.
fn insert_attendances(pg: &mut PgConnection, jobs: &[AttendanceJob]) -> QueryResult<Vec<Option<(String, bool)>>> {
    let mut id = Vec::with_capacity(jobs.len());
    let mut source_system = Vec::with_capacity(jobs.len());
    let mut source_id = Vec::with_capacity(jobs.len());
    let mut patient_key = Vec::with_capacity(jobs.len());
    let mut nhs_number = Vec::with_capacity(jobs.len());
    let mut local_id = Vec::with_capacity(jobs.len());
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
    for AttendanceJob { new, choice, event } in jobs {
        id.push(new.id);
        source_system.push(new.source_system.clone());
        source_id.push(new.source_id.clone());
        patient_key.push(new.patient_key.clone());
        nhs_number.push(new.nhs_number.clone());
        local_id.push(new.local_id.clone());
        sex.push(new.sex.clone());
        date_of_birth.push(new.date_of_birth);
        site.push(new.site.clone());
        arrived_at.push(new.arrived_at);
        condition.push(new.presenting_condition.clone());
        condition_detail.push(new.presenting_condition_detail.clone());
        category.push(new.attendance_category.clone());
        created_at.push(new.created_at);
        created_by.push(new.created_by.clone());
        since.push(choice.since);
        min_prior.push(choice.min_prior);
        if_repeat.push(choice.if_repeat.0.clone());
        if_repeat_indicated.push(choice.if_repeat.1);
        otherwise.push(choice.otherwise.0.clone());
        otherwise_indicated.push(choice.otherwise.1);
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
    let inserted: Vec<InsertedAttendance> = audit.bind(statement).load(pg)?;
    let mut by_id: HashMap<DbUuid, (String, bool)> = inserted
        .into_iter()
        .map(|row| (row.id, (row.indications, row.pat_indicated)))
        .collect();
    Ok(jobs.iter().map(|job| by_id.remove(&job.new.id)).collect())
}

const INSERT_ATTENDANCES: &str = concat!(
    "WITH input AS (
         SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)
         AS t(id, source_system, source_id, patient_key, nhs_number, local_id, sex, date_of_birth, site,
             arrived_at, presenting_condition, presenting_condition_detail, attendance_category, created_at,
             created_by, since, min_prior, if_repeat, if_repeat_indicated, otherwise, otherwise_indicated, ",
    audit_input_columns!(),
    ")),
     chosen AS (
         SELECT input.*, prior.n >= input.min_prior AS is_repeat
         FROM input CROSS JOIN LATERAL (",
    count_prior_attendances!(),
    ") AS prior),
     inserted AS (
         INSERT INTO attendances (id, source_system, source_id, patient_key, nhs_number, local_id, sex,
             date_of_birth, site, arrived_at, presenting_condition, presenting_condition_detail,
             attendance_category, indications, pat_indicated, created_at, created_by)
         SELECT id, source_system, source_id, patient_key, nhs_number, local_id, sex, date_of_birth, site,
             arrived_at, presenting_condition, presenting_condition_detail, attendance_category,
             CASE WHEN is_repeat THEN if_repeat ELSE otherwise END,
             CASE WHEN is_repeat THEN if_repeat_indicated ELSE otherwise_indicated END,
             created_at, created_by
         FROM chosen
         ORDER BY patient_key, id
         ON CONFLICT (source_system, source_id) DO NOTHING
         RETURNING id, indications, pat_indicated),
     audited AS (",
    insert_audit_events!(),
    ")
     SELECT id, indications, pat_indicated FROM inserted"
);

/// `attendances::find_with_current_screening` for many, in one query. Every version of each
/// attendance's screenings is read (there is one, or a few after corrections) and the highest kept.
fn read_current_screenings(pg: &mut PgConnection, ids: &[DbUuid]) -> QueryResult<Vec<Option<WithCurrentScreening>>> {
    // On the PostgreSQL connection itself, not through the two-backend one: there `eq_any` is
    // `= ANY($1)`, one statement for any number of ids, prepared once.
    let rows: Vec<WithCurrentScreening> = attendances::with_screenings()
        .filter(attendance_table::id.eq_any(ids))
        .order((attendance_table::id, screening_table::version.desc()))
        .load(pg)?;
    let current = attendances::current_of(rows);
    Ok(ids.iter().map(|id| current.get(id).cloned()).collect())
}

#[derive(QueryableByName)]
struct InsertedScreening {
    #[diesel(sql_type = PortableUuid)]
    id: DbUuid,
}

/// `screenings::insert_with_audit` for many. `false` for a version that exists already.
fn insert_screenings(pg: &mut PgConnection, jobs: &[ScreeningJob]) -> QueryResult<Vec<bool>> {
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
        status.push(row.status.clone());
        rule.push(row.rule.clone());
        result.push(row.result.clone());
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
