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
//!
//! This module is the queue machinery only: a [`Queue`] of jobs, its threads and counters. What
//! each queue writes, and how its rows are encoded, belongs to the store of that aggregate
//! (`store::batches` names the four queues); callers outside the stores never see a queue.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use diesel::pg::PgConnection;
use diesel::QueryResult;
use tokio::sync::oneshot;

use super::{failure_of, DbConnection, Failure, Pool};

/// Threads per queue: while one waits for its commit, the next gathers the requests that arrive.
pub const THREADS_PER_QUEUE: usize = 2;

/// Why a batched request got no answer of its own.
#[derive(Debug)]
pub enum BatchError {
    /// No database connection within `PAT_DB_TIMEOUT_SECONDS`: answer 503 (the one-request path
    /// would only wait as long again).
    Unavailable(String),
    /// The batch failed as a whole and wrote nothing: answer by the one-request path.
    Failed,
}

type Reply<R> = oneshot::Sender<Result<R, BatchError>>;

/// Writes a batch; answers one result per job, in the jobs' order.
pub type Runner<J, R> = fn(&mut PgConnection, &[J]) -> QueryResult<Vec<R>>;

/// One queue: jobs of type `J` answered with `R`, written in batches by its threads.
pub struct Queue<J, R> {
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
pub struct Counts {
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
    /// Starts the queue's threads, each taking one connection of `pool` while it writes a batch.
    pub fn start(name: &'static str, pool: &Pool, max_batch: usize, run: Runner<J, R>) -> std::io::Result<Queue<J, R>> {
        let (sender, receiver) = mpsc::channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let counts = Arc::new(Counts::default());
        for n in 0..THREADS_PER_QUEUE {
            let receiver = Arc::clone(&receiver);
            let counts = Arc::clone(&counts);
            let pool = pool.clone();
            std::thread::Builder::new()
                .name(format!("batch-{name}-{n}"))
                .spawn(move || work(name, &receiver, &pool, &counts, max_batch.max(1), run))?;
        }
        Ok(Queue { name, sender, counts })
    }

    /// Queues the job and waits for its batch to commit (or fail).
    pub async fn submit(&self, job: J) -> Result<R, BatchError> {
        let (reply, answer) = oneshot::channel();
        self.sender.send((job, reply)).map_err(|_| BatchError::Failed)?;
        // A dropped reply means the thread died: the one-request path still works.
        answer.await.unwrap_or(Err(BatchError::Failed))
    }
}

/// One queue thread: waits for a request, takes whatever else is waiting, writes them all.
fn work<J, R>(
    name: &'static str,
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
        let outcome = write(name, pool, &jobs, run);
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

/// Writes one batch on a connection of its own: one statement, one commit.
#[tracing::instrument(name = "db.batch.commit", skip_all, fields(queue = name, size = jobs.len()))]
fn write<J, R>(name: &'static str, pool: &Pool, jobs: &[J], run: Runner<J, R>) -> Result<Vec<R>, BatchError> {
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
            let lost = matches!(failure_of(&error), Failure::ConnectionLost | Failure::Unavailable);
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

/// `pat_write_batches_total`, `pat_write_batch_requests_total` and
/// `pat_write_batches_failed_total` by queue, in the Prometheus text format: requests ÷ batches is
/// how many requests share a statement and a commit.
pub fn render_metrics(queues: &[(&'static str, &Counts)]) -> String {
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

impl<J, R> Queue<J, R> {
    /// The queue's name and counters, for [`render_metrics`].
    pub fn counts(&self) -> (&'static str, &Counts) {
        (self.name, &self.counts)
    }
}
