//! The four PostgreSQL group-commit queues the stores write and read through (`db::batch` is the
//! queue machinery; the statements belong to the stores of their aggregates):
//!
//! - new attendances, with their repeat-attender count and audit events (`attendances`);
//! - the reads of an attendance with its current screening, that precede a screening
//!   (`attendances`);
//! - first screenings, with their audit events (`screenings`);
//! - the reads before a booking: the referral's context and the slot asked for (`bookings`).
//!   Most attempts in a race for slots end there, with a 409.

use diesel::sql_types::{Array, Nullable, Text};

use super::attendances::{self, AttendanceJob, WithCurrentScreening};
use super::audit::AuditEvent;
use super::scheduling::bookings::{self, BookingReads};
use super::screenings::{self, ScreeningJob};
use crate::db::batch::{render_metrics, Queue, THREADS_PER_QUEUE};
use crate::db::prepared::Prepared;
use crate::db::types::{Codes, DbTime, DbUuid, PortableTime, PortableUuid};
use crate::db::Pool;
use crate::domain::eligibility::PresentingCondition;

/// Connections the queues' threads use: one each (`db::batch_pool`).
pub const CONNECTIONS: u32 = 4 * THREADS_PER_QUEUE as u32;

/// The four queues. Dropping them ends their threads once they finish the batch in hand.
pub struct Batches {
    pub(super) attendances: Queue<AttendanceJob, Option<Codes<PresentingCondition>>>,
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

/// The audit event columns, one array each, bound after a batch's own columns.
#[derive(Default)]
pub(super) struct AuditColumns {
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
    pub(super) fn push(&mut self, event: &AuditEvent) {
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

    pub(super) fn bind(self, statement: Prepared<'_>) -> Prepared<'_> {
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
