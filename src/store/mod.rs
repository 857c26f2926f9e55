//! Stores: one per aggregate (attendances, patients, screenings, health workers, slots, referrals, bookings,
//! follow-ups, audit, statistics). A handler makes one store call and gets a domain result back;
//! it never sees a connection, a transaction, a write batch or a stored string.
//!
//! Each store owns, for its aggregate:
//! - the backend path: one PostgreSQL statement (a row and its audit event written together), a
//!   SQLite `BEGIN IMMEDIATE` transaction, or the PostgreSQL group-commit queues (`db::batch`);
//! - the mapping between rows and domain values (rows carry typed columns, `db::types`);
//! - the audit events of what it reads and writes, in the same transaction as the read or write;
//! - the answers the database decides: created, a replay of what is stored, a clash, a slot
//!   taken first.
//!
//! Stores speak domain types and their own [`StoreError`]; they never import the HTTP layer
//! (`error.rs` maps a `StoreError` to a problem+json answer).

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

/// Inserts one audit event, bound as nine parameters in `BindAuditEvent` order starting at
/// `$placeholders` (e.g. `"$9, $10, $11, $12, $13, $14, $15, $16, $17"`), for each row of the
/// statement's CTE `$source`: a one-row write and its audit event as one statement. A macro, so
/// `concat!` can build the whole statement with it.
macro_rules! insert_audit_event_from {
    ($source:literal, $placeholders:literal) => {
        concat!(
            "INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id,
                 patient_key, request_id)
             SELECT ",
            $placeholders,
            " FROM ",
            $source
        )
    };
}

/// As `insert_audit_event_from!`, with the event's `detail` bound after the nine (ten
/// `$placeholders`).
macro_rules! insert_audit_event_with_detail_from {
    ($source:literal, $placeholders:literal) => {
        concat!(
            "INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id,
                 patient_key, request_id, detail)
             SELECT ",
            $placeholders,
            " FROM ",
            $source
        )
    };
}

/// The names of the audit columns that `AuditColumns::bind` appends to a batch's `unnest`.
macro_rules! audit_input_columns {
    () => {
        "audit_id, audit_occurred_at, audit_actor, audit_roles, audit_action, audit_resource_type,
         audit_resource_id, audit_patient_key, audit_request_id"
    };
}

pub mod attendances;
pub mod audit;
pub mod batches;
pub mod oidc_sign_ins;
pub mod patients;
pub mod retention;
pub mod rows;
pub mod scheduling;
pub mod screenings;
pub mod sessions;
pub mod statistics;

use std::sync::Arc;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::batch::BatchError;
use crate::db::{self, DbConnection, Pool};
use crate::domain::Refusal;

/// Who is acting, for the audit trail: the token's subject and roles, and the request.
#[derive(Clone, Debug)]
pub struct Actor {
    pub subject: String,
    /// The roles, comma-joined, as the audit trail keeps them.
    pub roles: String,
    /// The `x-request-id` of the request acting.
    pub request_id: Option<String>,
}

/// What an idempotent write found: it wrote the record, the same record was stored already (a
/// retry: answer it again), or something different is stored under the same key.
#[derive(Debug)]
pub enum Recorded<T> {
    Created(T),
    Replay(T),
    Clash,
}

/// What a change that is made once found (a link, an unlink, an entered-in-error mark): done
/// now, or done already by an earlier request (a retry: the record as it stands).
#[derive(Debug)]
pub enum Changed<T> {
    Now(T),
    Already(T),
}

/// Why a store call gave no domain answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The domain refuses the request given what is stored (not found, a conflicting state, a
    /// rule that depends on the stored state or time).
    #[error("refused: {0:?}")]
    Refused(Refusal),
    /// No database connection in `PAT_DB_TIMEOUT_SECONDS`, or the database refused to work
    /// (locked, closed): answer 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database closed the connection (a restart, a failover): the store drops the
    /// connection and tries once more on another before giving up with `Unavailable`.
    #[error("database connection lost: {0}")]
    ConnectionLost(String),
    /// Anything else: a bug or stored data that breaks an invariant. Logged, answered opaquely.
    #[error("internal: {0}")]
    Internal(String),
}

impl StoreError {
    pub fn internal(cause: impl std::fmt::Display) -> StoreError {
        StoreError::Internal(cause.to_string())
    }
}

impl From<Refusal> for StoreError {
    fn from(refusal: Refusal) -> StoreError {
        StoreError::Refused(refusal)
    }
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> StoreError {
        match db::failure_of(&error) {
            db::Failure::ConnectionLost => StoreError::ConnectionLost(error.to_string()),
            db::Failure::Unavailable => StoreError::Unavailable(error.to_string()),
            db::Failure::SerializationFailure => StoreError::Refused(Refusal::Conflict {
                kind: "concurrent-change",
                detail: "another change to the same record happened at the same time; retry".into(),
            }),
            db::Failure::Other => StoreError::Internal(error.to_string()),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(error: diesel::r2d2::PoolError) -> StoreError {
        StoreError::Unavailable(error.to_string())
    }
}

impl From<BatchError> for StoreError {
    fn from(error: BatchError) -> StoreError {
        match error {
            BatchError::Unavailable(cause) => StoreError::Unavailable(cause),
            BatchError::Failed => StoreError::Internal("a write batch failed".into()),
        }
    }
}

/// The database behind every store: the pool, the statistics' pool (a replica, or the same pool)
/// and, on PostgreSQL with `PAT_WRITE_BATCH_SIZE` > 0, the group-commit queues.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    statistics_pool: Pool,
    batches: Option<Arc<batches::Batches>>,
}

impl Store {
    pub fn new(pool: Pool, statistics_pool: Pool, batches: Option<Arc<batches::Batches>>) -> Store {
        Store {
            pool,
            statistics_pool,
            batches,
        }
    }

    /// The group-commit queues, when they run.
    fn batches(&self) -> Option<&batches::Batches> {
        self.batches.as_deref()
    }

    /// Checks the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        // A lost connection is dropped and the ping tried on another, as for any work; any
        // other failure means the database does not answer.
        self.run(|conn| {
            db::ping(conn).map_err(|error| match StoreError::from(error) {
                lost @ StoreError::ConnectionLost(_) => lost,
                other => StoreError::Unavailable(other.to_string()),
            })
        })
        .await
    }

    /// The write batches' counters in the Prometheus text format; empty when they do not run.
    pub fn render_metrics(&self) -> String {
        self.batches.as_ref().map_or_else(String::new, |b| b.render_metrics())
    }

    /// Runs `work` with a pooled connection on the blocking thread pool. A pool that cannot give
    /// a connection in `PAT_DB_TIMEOUT_SECONDS` is `Unavailable`.
    ///
    /// When the connection turns out to be lost (the database restarted or failed over), it is
    /// dropped and `work` runs again on another. That is safe because every write is idempotent:
    /// a write that did commit before the connection died is found and answered as a replay.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: Fn(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        run_on(self.pool.clone(), work).await
    }

    /// As [`Store::run`], on the statistics' connections (read only when they are a replica).
    pub(crate) async fn run_statistics<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: Fn(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        run_on(self.statistics_pool.clone(), work).await
    }
}

/// One accessor on `Store` per aggregate's store (`store.attendances()`, `store.bookings()`, …),
/// each made with the store's `new(&Store)`.
macro_rules! store_accessors {
    ($($name:ident: $module:ident::$store:ident),* $(,)?) => {
        impl Store {
            $(
                pub fn $name(&self) -> $module::$store<'_> {
                    $module::$store::new(self)
                }
            )*
        }
    };
}

store_accessors! {
    attendances: attendances::Attendances,
    patients: patients::Patients,
    screenings: screenings::Screenings,
    statistics: statistics::Statistics,
    audit: audit::AuditTrail,
    health_workers: scheduling::HealthWorkers,
    slots: scheduling::Slots,
    referrals: scheduling::Referrals,
    bookings: scheduling::Bookings,
    follow_ups: scheduling::FollowUps,
    sessions: sessions::Sessions,
    oidc_sign_ins: oidc_sign_ins::OidcSignIns,
}

async fn run_on<T, F>(pool: Pool, work: F) -> Result<T, StoreError>
where
    F: Fn(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    // The work runs inside the caller's span (a store call's), so what it records (attempts,
    // batch sizes) and the spans it opens belong to that call.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let attempts = pool.max_size() + 1;
        let mut outcome = Err(StoreError::Unavailable("no connection was tried".into()));
        for _ in 0..attempts {
            let mut conn = pool.get()?;
            outcome = work(&mut conn.inner);
            match &outcome {
                Err(StoreError::ConnectionLost(_)) => conn.mark_lost(),
                _ => break,
            }
        }
        match outcome {
            Err(StoreError::ConnectionLost(cause)) => Err(StoreError::Unavailable(cause)),
            other => other,
        }
    })
    .await
    .map_err(StoreError::internal)?
}

/// Whether a failed insert broke a unique constraint (the record, or its key, exists already).
/// An error that may be PostgreSQL breaking a deadlock (SQLSTATE 40P01) by failing this
/// transaction: nothing of it was written, so running it again is safe.
pub(crate) trait MaybeDeadlock {
    fn is_deadlock(&self) -> bool;
}

impl MaybeDeadlock for DieselError {
    fn is_deadlock(&self) -> bool {
        matches!(self, DieselError::DatabaseError(_, info) if info.message().contains("deadlock detected"))
    }
}

impl MaybeDeadlock for StoreError {
    fn is_deadlock(&self) -> bool {
        matches!(self, StoreError::Internal(cause) if cause.contains("deadlock detected"))
    }
}

/// Runs a write transaction again (up to three times in all) when PostgreSQL broke a deadlock
/// by failing it. Two writes taking the same per-patient locks in different orders (two links
/// of the same patients at the same instant; a purge batch and a new attendance of a linked
/// patient) may each hold a lock the other wants; PostgreSQL fails one of them.
pub(crate) fn again_after_deadlock<T, E: MaybeDeadlock>(mut work: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let mut attempts = 1;
    loop {
        match work() {
            Err(error) if error.is_deadlock() && attempts < 3 => attempts += 1,
            other => return other,
        }
    }
}

pub(crate) fn is_unique_violation(error: &DieselError) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
}

/// For `map_err` on an insert that another request may have made first: a unique violation is
/// `refusal` (what the caller answers when it lost that race), any other failure is the
/// database's.
pub(crate) fn refused_if_unique(refusal: fn() -> Refusal) -> impl FnOnce(DieselError) -> StoreError {
    move |error| {
        if is_unique_violation(&error) {
            StoreError::Refused(refusal())
        } else {
            error.into()
        }
    }
}
