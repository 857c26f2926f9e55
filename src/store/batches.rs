//! The four PostgreSQL group-commit queues the stores write and read through (`db::batch` is the
//! queue machinery; the statements belong to the stores of their aggregates):
//!
//! - new attendances, with their repeat-attender count and audit events (`attendances`);
//! - the reads of an attendance with its current screening, that precede a screening
//!   (`attendances`);
//! - first screenings, with their audit events (`screenings`);
//! - the reads before a booking: the referral's context and the slot asked for (`bookings`).
//!   Most attempts in a race for slots end there, with a 409.

use super::attendances::{self, AttendanceJob, WithCurrentScreening};
use super::scheduling::bookings::{self, BookingReads};
use super::screenings::{self, ScreeningJob};
use crate::db::batch::{render_metrics, Queue, THREADS_PER_QUEUE};
use crate::db::types::DbUuid;
use crate::db::Pool;

/// Connections the queues' threads use: one each (`db::batch_pool`).
pub const CONNECTIONS: u32 = 4 * THREADS_PER_QUEUE as u32;

/// The four queues. Dropping them ends their threads once they finish the batch in hand.
pub struct Batches {
    pub(super) attendances: Queue<AttendanceJob, Option<attendances::BatchInserted>>,
    pub(super) reads: Queue<DbUuid, Option<WithCurrentScreening>>,
    pub(super) screenings: Queue<ScreeningJob, bool>,
    pub(super) booking_reads: Queue<(DbUuid, Option<DbUuid>), BookingReads>,
}

impl Batches {
    /// Starts the queues' threads. `pool` is theirs alone (`db::batch_pool` with
    /// [`CONNECTIONS`] connections): each batch takes one connection while it runs.
    pub fn start(pool: &Pool, max_batch: usize) -> std::io::Result<Batches> {
        Ok(Batches {
            attendances: Queue::start("attendances", pool, max_batch, attendances::insert_batch)?,
            reads: Queue::start("reads", pool, max_batch, attendances::read_current_screenings)?,
            screenings: Queue::start("screenings", pool, max_batch, screenings::insert_batch)?,
            booking_reads: Queue::start("booking-reads", pool, max_batch, bookings::read_batch)?,
        })
    }

    /// The queues' counters in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        render_metrics(&[
            self.attendances.counts(),
            self.reads.counts(),
            self.screenings.counts(),
            self.booking_reads.counts(),
        ])
    }
}
