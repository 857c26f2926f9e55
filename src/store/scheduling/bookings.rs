//! Bookings: AHW appointments for accepted referrals, and the unmet booking attempts. A slot holds
//! at most one booking that is not cancelled (`bookings_one_active_per_slot`) and a referral at
//! most one that is `booked` (`bookings_one_open_per_referral`): partial unique indexes on both
//! backends decide who wins a race, never a read before the insert (docs/design.md §6).
//!
//! A booking's reads (its referral's context and the slot asked for) go through the PostgreSQL
//! write batch when it runs, so most attempts in a race for slots are refused there without a
//! trip to the blocking pool. A booking request refused (409, 422) is unmet demand: it leaves an
//! audit event (`unmet`, with the refusal's kind) although nothing was booked — except a slot
//! lost to another booking (`slot-taken`), a race whose loser books another slot.
//!
//! An outcome, once recorded, changes only by a correction: a new version in the row (which the
//! statistics read), the version it replaces copied to `booking_outcome_versions` in the same
//! statement (PostgreSQL) or transaction (SQLite), keyed by (booking, version).

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Double, Nullable, Text};

use super::slots::{self, find_live_slot, free_slots, live_slot_listings, Slot, SlotListing};
use super::{referrals, violates, Referral};
use crate::db::batch::BatchError;
use crate::db::prepared::Prepared;
use crate::db::schema::{
    attendances, booking_attempts, booking_outcome_versions, bookings, health_workers, patients, screenings,
    slots as slots_table,
};
use crate::db::types::{DbTime, DbUuid, PortableTime, PortableUuid};
use crate::db::{single_write, write_transaction, DbConnection};
use crate::domain::attendance::{attendance_entered_in_error, ENTERED_IN_ERROR_CANCEL_REASON};
use crate::domain::scheduling::{
    already_booked, booking_admissible, booking_time, no_booking, no_slot, outcome_change, referral_not_accepted,
    revives_booking, slot_taken, slot_withdrawn, window_end, BookingStatus, LeadTime, Outcome, OutcomeChange,
    OutsideWindowReason, ReferralDecision, ReferralFound, SlotFound, SLOT_TAKEN,
};
use crate::domain::Reason;
use crate::domain::Refusal;
use crate::store::audit::{self, Action, AuditEvent, BindAuditEvent};
use crate::store::rows::{
    find_attendance, find_many_with_current_screening, find_with_current_screening, Attendance, AttendanceColumns,
    Screening, ScreeningColumns, ATTENDANCE_COLUMNS, SCREENING_COLUMNS,
};
use crate::store::{Actor, Store, StoreError};
use diesel::sql_types::Integer;

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = bookings)]
pub struct Booking {
    pub id: DbUuid,
    pub attendance_id: DbUuid,
    pub slot_id: DbUuid,
    pub status: BookingStatus,
    pub within_window: bool,
    pub outside_window_reason: Option<OutsideWindowReason>,
    pub booked_at: DbTime,
    pub booked_by: String,
    pub outcome_at: Option<DbTime>,
    pub outcome_by: Option<String>,
    pub brief_intervention_delivered: Option<bool>,
    pub units_per_week: Option<f64>,
    pub cancel_reason: Option<String>,
    /// `same_day`, `next_day` or `later` (Europe/London calendar days from screening to slot).
    pub lead_time: Option<LeadTime>,
    /// 1 while booked and for the first outcome; each correction of the outcome adds one.
    pub version: i32,
    /// Why this outcome corrected the one before (none for the first).
    pub correction_reason: Option<String>,
}

columns!(COLUMNS: Columns = bookings { id, attendance_id, slot_id, status, within_window, outside_window_reason, booked_at, booked_by, outcome_at, outcome_by, brief_intervention_delivered, units_per_week, cancel_reason, lead_time, version, correction_reason });

impl Booking {
    /// The recorded outcome; none while booked.
    fn outcome(&self) -> Option<Outcome> {
        (self.status != BookingStatus::Booked).then(|| Outcome {
            status: self.status,
            brief_intervention_delivered: self.brief_intervention_delivered,
            units_per_week: self.units_per_week,
            reason: self.cancel_reason.clone(),
        })
    }
}

/// An earlier outcome of a booking, as it was recorded. (The outcome columns of `Booking`: a
/// column added to the outcome is added here and copied in `OutcomeVersion::of` and in
/// `CORRECT_OUTCOME`.)
#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = booking_outcome_versions)]
pub struct OutcomeVersion {
    pub booking_id: DbUuid,
    pub version: i32,
    pub status: BookingStatus,
    pub outcome_at: DbTime,
    pub outcome_by: String,
    pub brief_intervention_delivered: Option<bool>,
    pub units_per_week: Option<f64>,
    pub cancel_reason: Option<String>,
    pub correction_reason: Option<String>,
}

columns!(VERSION_COLUMNS: VersionColumns = booking_outcome_versions { booking_id, version, status, outcome_at, outcome_by, brief_intervention_delivered, units_per_week, cancel_reason, correction_reason });

impl OutcomeVersion {
    /// The booking's recorded outcome as an earlier version; none while booked.
    fn of(booking: &Booking) -> Option<OutcomeVersion> {
        Some(OutcomeVersion {
            booking_id: booking.id,
            version: booking.version,
            status: booking.outcome()?.status,
            outcome_at: booking.outcome_at?,
            outcome_by: booking.outcome_by.clone()?,
            brief_intervention_delivered: booking.brief_intervention_delivered,
            units_per_week: booking.units_per_week,
            cancel_reason: booking.cancel_reason.clone(),
            correction_reason: booking.correction_reason.clone(),
        })
    }
}

/// The earlier outcomes of the bookings `ids`.
pub fn outcome_versions(conn: &mut DbConnection, ids: &[DbUuid]) -> QueryResult<Vec<OutcomeVersion>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    booking_outcome_versions::table
        .filter(booking_outcome_versions::booking_id.eq_any(ids))
        .select(VERSION_COLUMNS)
        .order((
            booking_outcome_versions::booking_id,
            booking_outcome_versions::version.desc(),
        ))
        .load(conn)
}

/// A booking with its slot and the slot's health worker's name.
pub type BookingListing = (Booking, Slot, String);

/// A booking request: the accepted referral (by its attendance) and the slot to book, or none
/// for the earliest free slot in the window; at `now`, with the window `window_hours` long.
#[derive(Clone, Debug)]
pub struct NewBooking {
    pub attendance_id: uuid::Uuid,
    pub slot_id: Option<uuid::Uuid>,
    /// Required when the slot starts after the window.
    pub outside_window_reason: Option<OutsideWindowReason>,
    pub window_hours: i64,
    pub now: DateTime<Utc>,
}

/// A booking as its view answers it, with the time of the screening its lead time counts from
/// and its earlier outcomes.
#[derive(Clone, Debug)]
pub struct Appointment {
    pub listing: BookingListing,
    pub screened_at: DateTime<Utc>,
    pub earlier_outcomes: Vec<OutcomeVersion>,
}

/// An outcome to record: what happened, and whether it corrects the recorded one (and why).
#[derive(Clone, Debug)]
pub struct OutcomeRecording {
    pub outcome: Outcome,
    pub corrects: bool,
    pub correction_reason: Option<Reason>,
}

/// What a booking request did.
#[derive(Debug)]
pub enum Booked {
    Made(Box<Appointment>),
    /// An automatic booking found no free slot in the window; the unmet attempt is recorded.
    NoSlotInWindow,
}

/// A booking with its attendance (who the patient is, why they were referred) and the
/// attendance's current screening, as the AHW reads it.
#[derive(Clone, Debug)]
pub struct BookingRecord {
    pub listing: BookingListing,
    pub earlier_outcomes: Vec<OutcomeVersion>,
    pub attendance: Attendance,
    pub screening: Option<Screening>,
}

/// Which bookings to list: those whose slot starts in `[starts_from, starts_before)` (either
/// bound open when none), of one health worker or all, in one state or any, of one person or
/// anyone.
#[derive(Clone, Debug, Default)]
pub struct BookingFilter {
    pub starts_from: Option<DateTime<Utc>>,
    pub starts_before: Option<DateTime<Utc>>,
    pub health_worker_id: Option<uuid::Uuid>,
    pub status: Option<BookingStatus>,
    /// Patient keys (`nhs:<number>`, `local@<system>:<number>`, `local:<number>`,
    /// docs/domain.md §9): the bookings of the persons they belong to, links followed — a local
    /// number traced to an NHS number finds the bookings of both records, by either key. A key
    /// no attendance brought finds nothing. `Some(vec![])` finds nothing.
    pub patient_keys: Option<Vec<String>>,
}

/// How many free slots an automatic booking tries before answering that none is free: each try
/// can lose only to a booking made at the same moment.
const AUTOMATIC_TRIES: i64 = 20;

/// How often an outcome is recorded again after losing a race to a simultaneous one (a request
/// loses only when another commits in between, so N requests at once all finish when N <= this).
const MAX_OUTCOME_ATTEMPTS: usize = 10;

/// The bookings store.
pub struct Bookings<'a> {
    store: &'a Store,
}

impl<'a> Bookings<'a> {
    pub(in crate::store) fn new(store: &'a Store) -> Self {
        Bookings { store }
    }

    /// Books the slot asked for, or the earliest free one within the window, with its audit
    /// event. Refusals, in docs/design.md §4's order: no such attendance or live slot (404); no
    /// accepted referral, the slot held, an open booking of the referral (409); the slot started,
    /// or outside the window without a reason (422, but `already-booked` first when the referral
    /// has an open booking). An automatic booking that finds no free slot records the unmet
    /// attempt and answers `NoSlotInWindow`.
    ///
    /// On PostgreSQL the reads share a query with the other booking requests of the moment, and a
    /// request they refuse is answered at once. The write is one statement (PostgreSQL, share-
    /// locking the referral and the slot) or a `BEGIN IMMEDIATE` transaction (SQLite); losing a
    /// slot to a booking made at the same moment tries the next free one.
    ///
    /// Unmet demand is audited: the unmet attempt of an automatic booking with its event, in the
    /// same statement or transaction; any other refusal but a 404 or a slot lost to another
    /// booking (outside the window, the referral not accepted, …) with an event written after the
    /// refused work was undone.
    #[tracing::instrument(
        name = "store.bookings.book",
        skip_all,
        fields(automatic = new.slot_id.is_none(), batched)
    )]
    pub async fn book(&self, new: NewBooking, actor: &Actor) -> Result<Booked, StoreError> {
        let attendance_id = DbUuid(new.attendance_id);
        match self.try_book(new, actor).await {
            Err(StoreError::Refused(refusal)) => {
                match &refusal {
                    // Losing one slot to another booking is a race, not unmet demand: the
                    // requester books another slot at once. Not audited, so a busy moment's
                    // losers (most attempts in a race) cost no write.
                    Refusal::Conflict { kind, .. } if *kind == SLOT_TAKEN => {}
                    Refusal::Conflict { kind, .. } | Refusal::Rule { kind, .. } => {
                        self.record_unmet(attendance_id, kind, actor).await?;
                    }
                    Refusal::NotFound(_) => {}
                }
                Err(StoreError::Refused(refusal))
            }
            other => other,
        }
    }

    /// Audits a refused booking request for the attendance (an existing one: a 404 is answered
    /// first): who asked, and why nothing was booked (`kind`).
    async fn record_unmet(&self, attendance_id: DbUuid, kind: &'static str, actor: &Actor) -> Result<(), StoreError> {
        let actor = actor.clone();
        self.store
            .run(move |conn| {
                single_write(conn, |conn| {
                    if let Some(attendance) = find_attendance(conn, attendance_id)? {
                        let event = unmet_event(&actor, &attendance, kind);
                        audit::record(conn, &event)?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn try_book(&self, new: NewBooking, actor: &Actor) -> Result<Booked, StoreError> {
        let attendance_id = DbUuid(new.attendance_id);
        let slot_id = new.slot_id.map(DbUuid);
        let admitted = self.read_batched(attendance_id, slot_id).await?;
        tracing::Span::current().record("batched", admitted.is_some());
        let actor = actor.clone();
        self.store
            .run(move |conn| single_write(conn, |conn| book(conn, &new, admitted.clone(), &actor)))
            .await
    }

    /// A booking request's reads through the write batch, judged by the admissibility rules.
    /// `None` when the batches do not run or the batch failed: the request reads one at a time.
    async fn read_batched(
        &self,
        attendance_id: DbUuid,
        slot_id: Option<DbUuid>,
    ) -> Result<Option<Admitted>, StoreError> {
        let Some(batches) = self.store.batches() else {
            return Ok(None);
        };
        match batches.booking_reads.submit((attendance_id, slot_id)).await {
            Ok((context, slot)) => admitted(context, slot_id, slot).map(Some),
            Err(BatchError::Failed) => Ok(None),
            Err(BatchError::Unavailable(cause)) => Err(StoreError::Unavailable(cause)),
        }
    }

    /// The bookings whose slots match the filter, by start time, each with its attendance and
    /// current screening; each booking read is an audit event, written with the read.
    #[tracing::instrument(name = "store.bookings.list", skip_all, fields(count))]
    pub async fn list(&self, filter: BookingFilter, actor: &Actor) -> Result<Vec<BookingRecord>, StoreError> {
        let query = BookingQuery {
            starts_from: filter.starts_from.map(DbTime::new),
            starts_before: filter.starts_before.map(DbTime::new),
            health_worker_id: filter.health_worker_id.map(DbUuid),
            status: filter.status,
            patient_keys: filter.patient_keys,
            ..BookingQuery::default()
        };
        let records = self.read(query, actor).await?;
        tracing::Span::current().record("count", records.len());
        Ok(records)
    }

    /// One booking with its attendance and current screening (an audited read).
    #[tracing::instrument(name = "store.bookings.find", skip_all)]
    pub async fn find(&self, id: uuid::Uuid, actor: &Actor) -> Result<BookingRecord, StoreError> {
        let query = BookingQuery {
            id: Some(DbUuid(id)),
            ..BookingQuery::default()
        };
        self.read(query, actor).await?.pop().ok_or_else(|| no_booking().into())
    }

    async fn read(&self, query: BookingQuery, actor: &Actor) -> Result<Vec<BookingRecord>, StoreError> {
        let actor = actor.clone();
        self.store
            .run(move |conn| write_transaction(conn, |conn| read_records(conn, &query, &actor)))
            .await
    }

    /// Records what happened at the appointment `id` (at `now`, by `actor`), with its audit
    /// event, in docs/design.md §4's order: no such booking (404); a state conflict (409: the outcome
    /// recorded differently without `corrects`, `corrects` with no outcome yet, undoing a
    /// cancellation whose slot was taken or withdrawn or whose referral is no longer accepted); a
    /// correction without a reason (422); an outcome other than a cancellation before the slot
    /// starts (422). The recorded outcome sent again is a replay (an audited read).
    ///
    /// PostgreSQL: reads and one write statement (the change only while the booking is still as
    /// read, the earlier version's copy and the audit event). SQLite: a `BEGIN IMMEDIATE`
    /// transaction. A change lost to a simultaneous one is judged again against what won.
    #[tracing::instrument(
        name = "store.bookings.record_outcome",
        skip_all,
        fields(status = recording.outcome.status.code(), corrects = recording.corrects, attempts)
    )]
    pub async fn record_outcome(
        &self,
        id: uuid::Uuid,
        recording: OutcomeRecording,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Appointment, StoreError> {
        let id = DbUuid(id);
        let actor = actor.clone();
        self.store
            .run(move |conn| {
                for attempt in 1..=MAX_OUTCOME_ATTEMPTS {
                    tracing::Span::current().record("attempts", attempt);
                    if let Some(appointment) =
                        single_write(conn, |conn| record_outcome_once(conn, id, &recording, now, &actor))?
                    {
                        return Ok(appointment);
                    }
                }
                Err(Refusal::conflict(
                    "concurrent-change",
                    "the outcome kept changing while this one was being recorded; retry",
                )
                .into())
            })
            .await
    }
}

/// Reads the booking and judges the request: a replay, the first outcome or a correction, each
/// with its audit event. `Ok(None)`: another change came first; read again.
fn record_outcome_once(
    conn: &mut DbConnection,
    id: DbUuid,
    recording: &OutcomeRecording,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<Option<Appointment>, StoreError> {
    let (booking, slot, name) = find_booking(conn, id)?.ok_or_else(no_booking)?;
    let change = outcome_change(
        booking.outcome().as_ref(),
        &recording.outcome,
        recording.corrects,
        recording.correction_reason.is_some(),
        slot.starts_at.get(),
        now,
    )?;
    let (attendance, screening) = find_with_current_screening(conn, booking.attendance_id)?
        .ok_or_else(|| StoreError::internal("a booking's attendance is missing"))?;
    let screened_at = screening.map_or(booking.booked_at.get(), |s| s.screened_at.get());
    let key = Some(attendance.patient_key.as_str());
    // A booking still `booked` has no earlier outcome (a correction needs a recorded one).
    let mut earlier_outcomes = match change {
        OutcomeChange::First => vec![],
        OutcomeChange::Replay | OutcomeChange::Correction => outcome_versions(conn, &[id])?,
    };
    let outcome = &recording.outcome;
    let changed = Booking {
        status: outcome.status,
        outcome_at: Some(DbTime::new(now)),
        outcome_by: Some(actor.subject.clone()),
        brief_intervention_delivered: outcome.brief_intervention_delivered,
        units_per_week: outcome.units_per_week,
        cancel_reason: outcome.reason.clone(),
        ..booking.clone()
    };
    let written = match change {
        OutcomeChange::Replay => {
            audit::record(conn, &AuditEvent::new(actor, Action::Read, "booking", id.0, key))?;
            Some(booking)
        }
        OutcomeChange::First => {
            let event = AuditEvent::new(actor, Action::Update, "booking", id.0, key);
            update_outcome(conn, &changed, &event)?.then_some(changed)
        }
        OutcomeChange::Correction => {
            // Nothing more is recorded against an attendance entered in error.
            if attendance.entered_in_error_at.is_some() {
                return Err(attendance_entered_in_error().into());
            }
            let revives = revives_booking(booking.status, outcome.status);
            if revives {
                let accepted = referrals::find(conn, booking.attendance_id)?
                    .is_some_and(|r| r.decision == ReferralDecision::Accepted);
                if !accepted {
                    return Err(referral_not_accepted().into());
                }
                if slot.withdrawn_at.is_some() {
                    return Err(slot_withdrawn().into());
                }
            }
            let corrected = Booking {
                version: booking.version + 1,
                correction_reason: recording.correction_reason.as_ref().map(|r| r.as_str().to_owned()),
                ..changed
            };
            let replaced = OutcomeVersion::of(&booking)
                .ok_or_else(|| StoreError::internal("a correction of a booking without an outcome"))?;
            let event = AuditEvent::new(actor, Action::Correct, "booking", id.0, key)
                .with_detail(format!("version {}", corrected.version));
            match correct_outcome(conn, &replaced, &corrected, revives, &event) {
                Ok(true) => {
                    earlier_outcomes.insert(0, replaced);
                    Some(corrected)
                }
                Ok(false) => None,
                Err(e) if violates(&e, "bookings_one_active_per_slot", "bookings.slot_id") => {
                    return Err(slot_taken().into())
                }
                Err(e)
                    if violates(
                        &e,
                        "booking_outcome_versions_pkey",
                        "booking_outcome_versions.booking_id",
                    ) =>
                {
                    None
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    Ok(written.map(|booking| Appointment {
        listing: (booking, slot, name),
        screened_at,
        earlier_outcomes,
    }))
}

/// What a booking request's reads admitted: the attendance, its current screening, and the slot
/// asked for, if one was.
type Admitted = (Attendance, Screening, Option<SlotListing>);

/// The reads judged by [`booking_admissible`]: what it refuses, or what the booking goes on with.
fn admitted(
    context: Option<BookingContext>,
    slot_id: Option<DbUuid>,
    slot: Option<SlotListing>,
) -> Result<Admitted, StoreError> {
    let found = context.as_ref().map(|(attendance, screening, referral)| ReferralFound {
        entered_in_error: attendance.entered_in_error_at.is_some(),
        screened: screening.is_some(),
        decision: referral.as_ref().map(|r| r.decision),
    });
    let slot_found = match (&slot, slot_id) {
        (Some((_, _, Some(_))), _) => SlotFound::Held,
        (Some(_), _) => SlotFound::Free,
        (None, Some(_)) => SlotFound::Missing,
        (None, None) => SlotFound::NotNamed,
    };
    booking_admissible(found, slot_found)?;
    match context {
        Some((attendance, Some(screening), _)) => Ok((attendance, screening, slot)),
        _ => Err(StoreError::internal("a booking admitted without a screening")),
    }
}

/// One booking request, from its reads (`admitted` by the write batch, or read here) to the
/// booking or the unmet attempt; its writes are one statement on PostgreSQL (`single_write`).
fn book(
    conn: &mut DbConnection,
    new: &NewBooking,
    admitted_by_batch: Option<Admitted>,
    actor: &Actor,
) -> Result<Booked, StoreError> {
    let attendance_id = DbUuid(new.attendance_id);
    let (attendance, screening, chosen) = match admitted_by_batch {
        Some(admitted) => admitted,
        None => {
            let context = booking_context(conn, attendance_id)?;
            let slot = match new.slot_id {
                Some(slot_id) => find_live_slot(conn, DbUuid(slot_id))?,
                None => None,
            };
            admitted(context, new.slot_id.map(DbUuid), slot)?
        }
    };
    let now = new.now;
    let screened_at = screening.screened_at.get();
    let window_ends = window_end(screened_at, new.window_hours);
    let mut row = Booking {
        id: DbUuid(uuid::Uuid::now_v7()),
        attendance_id,
        slot_id: DbUuid(uuid::Uuid::nil()),
        status: BookingStatus::Booked,
        within_window: true,
        outside_window_reason: new.outside_window_reason,
        booked_at: DbTime::new(now),
        booked_by: actor.subject.clone(),
        outcome_at: None,
        outcome_by: None,
        brief_intervention_delivered: None,
        units_per_week: None,
        cancel_reason: None,
        lead_time: None,
        version: 1,
        correction_reason: None,
    };
    let event = AuditEvent::new(
        actor,
        Action::Create,
        "booking",
        row.id.0,
        Some(&attendance.patient_key),
    );
    // The unique indexes decide slot-taken and already-booked; the reads before the insert only
    // pick which answer comes first (409 before a time rule's 422).
    let booked: Option<(Slot, String)> = match chosen {
        Some((slot, name, _)) => {
            let starts = slot.starts_at.get();
            match booking_time(starts, screened_at, now, new.window_hours, row.outside_window_reason) {
                Ok(within_window) => row.within_window = within_window,
                Err(rule) => {
                    let answer = if referrals::has_booking(conn, attendance_id, &[BookingStatus::Booked])? {
                        already_booked()
                    } else {
                        rule
                    };
                    return Err(answer.into());
                }
            }
            row.slot_id = slot.id;
            row.lead_time = Some(LeadTime::between(screened_at, starts));
            if !try_insert(conn, &row, &event)? {
                // Taken by a booking made at the same moment, or withdrawn since read.
                return Err(match find_live_slot(conn, slot.id)? {
                    None => no_slot(),
                    Some(_) => slot_taken(),
                }
                .into());
            }
            Some((slot, name))
        }
        None => {
            if referrals::has_booking(conn, attendance_id, &[BookingStatus::Booked])? {
                return Err(already_booked().into());
            }
            let from = DbTime::new(now.max(screened_at));
            let mut booked = None;
            for (slot_id, starts) in free_slots(conn, from, DbTime::new(window_ends), AUTOMATIC_TRIES)? {
                row.slot_id = slot_id;
                row.lead_time = Some(LeadTime::between(screened_at, starts.get()));
                if try_insert(conn, &row, &event)? {
                    booked = find_live_slot(conn, slot_id)?.map(|(slot, name, _)| (slot, name));
                    break;
                }
            }
            booked
        }
    };
    let Some((slot, name)) = booked else {
        insert_attempt(
            conn,
            &BookingAttempt {
                id: DbUuid(uuid::Uuid::now_v7()),
                attendance_id,
                attempted_at: DbTime::new(now),
                window_ends_at: DbTime::new(window_ends),
                attempted_by: actor.subject.clone(),
            },
            &unmet_event(actor, &attendance, "no-slot-in-window"),
        )?;
        return Ok(Booked::NoSlotInWindow);
    };
    Ok(Booked::Made(Box::new(Appointment {
        listing: (row, slot, name),
        screened_at,
        earlier_outcomes: vec![],
    })))
}

/// Inserts the booking with its audit event; losing the slot to a simultaneous booking or
/// withdrawal leaves the connection usable for the next slot (see `insert_with_audit`).
/// `Ok(false)`: the slot was taken or withdrawn.
fn try_insert(conn: &mut DbConnection, row: &Booking, event: &AuditEvent) -> Result<bool, StoreError> {
    match insert_with_audit(conn, row, event) {
        Ok(true) => Ok(true),
        // The referral changed, its attendance was marked entered-in-error, or the slot was
        // withdrawn, since they were read.
        Ok(false) => match referrals::find(conn, row.attendance_id)? {
            _ if referrals::marked_in_error(conn, row.attendance_id)? => Err(attendance_entered_in_error().into()),
            Some(referral) if referral.decision == ReferralDecision::Accepted => Ok(false),
            _ => Err(referral_not_accepted().into()),
        },
        Err(e) if violates(&e, "bookings_one_active_per_slot", "bookings.slot_id") => Ok(false),
        Err(e) if violates(&e, "bookings_one_open_per_referral", "bookings.attendance_id") => {
            Err(already_booked().into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Inserts a booking and its audit event atomically, only while the referral is `accepted` and
/// the slot is live. `Ok(false)`: one of them no longer is, and nothing was written. PostgreSQL:
/// one statement (a data-modifying CTE) that share-locks the referral and slot rows, so a
/// simultaneous decision change or withdrawal waits for it and then sees the booking (see
/// `referrals::find_for_update`, `slots::lock`). SQLite: statements in the caller's `BEGIN
/// IMMEDIATE` transaction; a unique violation there undoes only the failed statement, so the
/// caller can try another slot.
fn insert_with_audit(conn: &mut DbConnection, row: &Booking, event: &AuditEvent) -> QueryResult<bool> {
    match conn {
        DbConnection::Pg(pg) => Prepared::new(concat!(
            "WITH accepted AS (
                 SELECT attendance_id FROM referrals
                 WHERE attendance_id = $2 AND decision = 'accepted' AND NOT entered_in_error
                 FOR SHARE),
             live AS (
                 SELECT id FROM slots WHERE id = $3 AND withdrawn_at IS NULL
                 FOR SHARE),
             inserted AS (
                 INSERT INTO bookings (id, attendance_id, slot_id, status, within_window, outside_window_reason,
                     booked_at, booked_by, lead_time)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $18 FROM accepted, live
                 RETURNING id) ",
            insert_audit_event_from!("inserted", "$9, $10, $11, $12, $13, $14, $15, $16, $17")
        ))
        .bind::<PortableUuid, _>(row.id)
        .bind::<PortableUuid, _>(row.attendance_id)
        .bind::<PortableUuid, _>(row.slot_id)
        .bind::<Text, _>(row.status)
        .bind::<Bool, _>(row.within_window)
        .bind::<Nullable<Text>, _>(row.outside_window_reason)
        .bind::<PortableTime, _>(row.booked_at)
        .bind::<Text, _>(&row.booked_by)
        .bind_audit_event(event)
        .bind::<Nullable<Text>, _>(row.lead_time)
        .execute(pg)
        .map(|inserted| inserted > 0),
        DbConnection::Sqlite(_) => {
            diesel::insert_into(bookings::table).values(row).execute(conn)?;
            audit::record(conn, event)?;
            Ok(true)
        }
    }
}

/// Records an outcome on a booking that is still `booked`, with its audit event. `Ok(false)`: it
/// was not booked (any more) and nothing was written. PostgreSQL: one statement (the audit
/// insert reads the update's result), its own transaction. SQLite: in the caller's transaction.
fn update_outcome(conn: &mut DbConnection, row: &Booking, event: &AuditEvent) -> QueryResult<bool> {
    match conn {
        DbConnection::Pg(pg) => Prepared::new(concat!(
            "WITH changed AS (
                 UPDATE bookings SET status = $2, outcome_at = $3, outcome_by = $4,
                     brief_intervention_delivered = $5, units_per_week = $6, cancel_reason = $7
                 WHERE id = $1 AND status = 'booked'
                 RETURNING id) ",
            insert_audit_event_from!("changed", "$8, $9, $10, $11, $12, $13, $14, $15, $16")
        ))
        .bind::<PortableUuid, _>(row.id)
        .bind::<Text, _>(row.status)
        .bind::<Nullable<PortableTime>, _>(row.outcome_at)
        .bind::<Nullable<Text>, _>(&row.outcome_by)
        .bind::<Nullable<Bool>, _>(row.brief_intervention_delivered)
        .bind::<Nullable<Double>, _>(row.units_per_week)
        .bind::<Nullable<Text>, _>(&row.cancel_reason)
        .bind_audit_event(event)
        .execute(pg)
        .map(|inserted| inserted > 0),
        DbConnection::Sqlite(_) => {
            let changed = diesel::update(
                bookings::table
                    .filter(bookings::id.eq(row.id))
                    .filter(bookings::status.eq("booked")),
            )
            .set((
                bookings::status.eq(row.status),
                bookings::outcome_at.eq(row.outcome_at),
                bookings::outcome_by.eq(&row.outcome_by),
                bookings::brief_intervention_delivered.eq(row.brief_intervention_delivered),
                bookings::units_per_week.eq(row.units_per_week),
                bookings::cancel_reason.eq(&row.cancel_reason),
            ))
            .execute(conn)?;
            if changed > 0 {
                audit::record(conn, event)?;
            }
            Ok(changed > 0)
        }
    }
}

/// Writes the correction `row` over the booking while it is still the version `replaced` (and,
/// when it `revives` a cancelled booking, while the referral is accepted and the slot live), keeps
/// `replaced` and writes the audit event. `Ok(false)`: the booking changed since it was read, and
/// nothing was written. A slot another booking holds is the unique index's violation.
///
/// PostgreSQL: one statement. The update re-checks the version against the newest row when it
/// waits for a simultaneous change, and the copy is made only of the row it updated; the referral
/// and slot are share-locked as for a new booking, so a decision change or a withdrawal waits for
/// it and then sees the booking. SQLite: in the caller's transaction.
fn correct_outcome(
    conn: &mut DbConnection,
    replaced: &OutcomeVersion,
    row: &Booking,
    revives: bool,
    event: &AuditEvent,
) -> QueryResult<bool> {
    match conn {
        DbConnection::Pg(pg) => Prepared::new(CORRECT_OUTCOME)
            .bind::<PortableUuid, _>(row.id)
            .bind::<Integer, _>(replaced.version)
            .bind::<PortableUuid, _>(row.attendance_id)
            .bind::<PortableUuid, _>(row.slot_id)
            .bind::<Bool, _>(revives)
            .bind::<Text, _>(row.status)
            .bind::<Nullable<PortableTime>, _>(row.outcome_at)
            .bind::<Nullable<Text>, _>(&row.outcome_by)
            .bind::<Nullable<Bool>, _>(row.brief_intervention_delivered)
            .bind::<Nullable<Double>, _>(row.units_per_week)
            .bind::<Nullable<Text>, _>(&row.cancel_reason)
            .bind::<Nullable<Text>, _>(&row.correction_reason)
            .bind_audit_event(event)
            .bind::<Nullable<Text>, _>(&event.detail)
            .execute(pg)
            .map(|inserted| inserted > 0),
        DbConnection::Sqlite(_) => {
            let changed = diesel::update(
                bookings::table
                    .filter(bookings::id.eq(row.id))
                    .filter(bookings::version.eq(replaced.version)),
            )
            .set((
                bookings::status.eq(row.status),
                bookings::outcome_at.eq(row.outcome_at),
                bookings::outcome_by.eq(&row.outcome_by),
                bookings::brief_intervention_delivered.eq(row.brief_intervention_delivered),
                bookings::units_per_week.eq(row.units_per_week),
                bookings::cancel_reason.eq(&row.cancel_reason),
                bookings::version.eq(row.version),
                bookings::correction_reason.eq(&row.correction_reason),
            ))
            .execute(conn)?;
            if changed == 0 {
                return Ok(false);
            }
            diesel::insert_into(booking_outcome_versions::table)
                .values(replaced)
                .execute(conn)?;
            audit::record(conn, event)?;
            Ok(true)
        }
    }
}

/// `correct_outcome` on PostgreSQL: the update (only of version $2 while the attendance is not
/// marked entered-in-error, and for a revival only while the referral is accepted and the slot
/// live), the copy of the version it replaced, as the statement's snapshot read it, and the audit
/// event. The referral row's share lock makes an entered-in-error mark wait and then see the
/// corrected booking (an attended one blocks the mark).
const CORRECT_OUTCOME: &str = concat!(
    "WITH replaced AS (
         SELECT id, version, status, outcome_at, outcome_by, brief_intervention_delivered, units_per_week,
             cancel_reason, correction_reason
         FROM bookings WHERE id = $1 AND version = $2 AND status <> 'booked'),
     referral AS (
         SELECT decision FROM referrals WHERE attendance_id = $3 AND NOT entered_in_error FOR SHARE),
     live AS (
         SELECT id FROM slots WHERE id = $4 AND withdrawn_at IS NULL FOR SHARE),
     changed AS (
         UPDATE bookings SET status = $6, outcome_at = $7, outcome_by = $8, brief_intervention_delivered = $9,
             units_per_week = $10, cancel_reason = $11, correction_reason = $12, version = $2 + 1
         WHERE id = $1 AND version = $2 AND status <> 'booked'
           AND EXISTS (SELECT 1 FROM referral)
           AND (NOT $5 OR (EXISTS (SELECT 1 FROM referral WHERE decision = 'accepted')
                           AND EXISTS (SELECT 1 FROM live)))
         RETURNING id),
     kept AS (
         INSERT INTO booking_outcome_versions (booking_id, version, status, outcome_at, outcome_by,
             brief_intervention_delivered, units_per_week, cancel_reason, correction_reason)
         SELECT r.id, r.version, r.status, r.outcome_at, r.outcome_by, r.brief_intervention_delivered,
             r.units_per_week, r.cancel_reason, r.correction_reason
         FROM replaced r JOIN changed c ON c.id = r.id) ",
    insert_audit_event_with_detail_from!("changed", "$13, $14, $15, $16, $17, $18, $19, $20, $21, $22")
);

/// Cancels the attendance's open (`booked`) bookings, freeing their slots, with an audit event
/// each: its attendance was entered in error. In the caller's transaction; the rows are locked by
/// the update, so an outcome recorded at the same moment either came first (the booking is no
/// longer `booked` and is left alone) or waits and then finds it cancelled.
pub(in crate::store) fn cancel_open_bookings(
    conn: &mut DbConnection,
    attendance: &Attendance,
    now: DateTime<Utc>,
    actor: &Actor,
) -> QueryResult<usize> {
    let cancelled: Vec<DbUuid> = diesel::update(
        bookings::table
            .filter(bookings::attendance_id.eq(attendance.id))
            .filter(bookings::status.eq(BookingStatus::Booked)),
    )
    .set((
        bookings::status.eq(BookingStatus::Cancelled),
        bookings::outcome_at.eq(Some(DbTime::new(now))),
        bookings::outcome_by.eq(Some(&actor.subject)),
        bookings::cancel_reason.eq(Some(ENTERED_IN_ERROR_CANCEL_REASON)),
    ))
    .returning(bookings::id)
    .get_results(conn)?;
    for id in &cancelled {
        let event = AuditEvent::new(actor, Action::Update, "booking", id.0, Some(&attendance.patient_key));
        audit::record(conn, &event)?;
    }
    Ok(cancelled.len())
}

// --- Reading bookings ---

/// The listing's filters, as stored values.
#[derive(Debug, Default)]
pub struct BookingQuery {
    id: Option<DbUuid>,
    attendance_id: Option<DbUuid>,
    starts_from: Option<DbTime>,
    starts_before: Option<DbTime>,
    health_worker_id: Option<DbUuid>,
    status: Option<BookingStatus>,
    patient_keys: Option<Vec<String>>,
}

/// The bookings matching `query`, each with its attendance and current screening (one query for
/// all the attendances), and their audit events (one statement on PostgreSQL).
fn read_records(
    conn: &mut DbConnection,
    query: &BookingQuery,
    actor: &Actor,
) -> Result<Vec<BookingRecord>, StoreError> {
    let listings = list(conn, query)?;
    let ids: Vec<DbUuid> = listings.iter().map(|listing| listing.0.attendance_id).collect();
    let current = find_many_with_current_screening(conn, &ids)?;
    let booking_ids: Vec<DbUuid> = listings.iter().map(|listing| listing.0.id).collect();
    let earlier = outcome_versions(conn, &booking_ids)?;
    let mut events = Vec::with_capacity(listings.len());
    let mut records = Vec::with_capacity(listings.len());
    for listing in listings {
        let (attendance, screening) = current
            .get(&listing.0.attendance_id)
            .cloned()
            .ok_or_else(|| StoreError::internal("a booking's attendance is missing"))?;
        events.push(AuditEvent::new(
            actor,
            Action::Read,
            "booking",
            listing.0.id.0,
            Some(&attendance.patient_key),
        ));
        let earlier_outcomes = earlier
            .iter()
            .filter(|version| version.booking_id == listing.0.id)
            .cloned()
            .collect();
        records.push(BookingRecord {
            listing,
            earlier_outcomes,
            attendance,
            screening,
        });
    }
    audit::record_all(conn, &events)?;
    Ok(records)
}

/// One booking with its slot and health worker's name, as `list` lists it. A fixed query
/// (prepared once per connection on PostgreSQL): every outcome reads its booking first.
fn find_booking(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<BookingListing>> {
    bookings::table
        .inner_join(slots_table::table.inner_join(health_workers::table))
        .filter(bookings::id.eq(id))
        .select((COLUMNS, slots::COLUMNS, health_workers::name))
        .first(conn)
        .optional()
}

/// Bookings matching `filter` (the query behind [`Bookings::list`]).
pub fn list(conn: &mut DbConnection, filter: &BookingQuery) -> QueryResult<Vec<BookingListing>> {
    let mut query = bookings::table
        .inner_join(slots_table::table.inner_join(health_workers::table))
        .select((COLUMNS, slots::COLUMNS, health_workers::name))
        .into_boxed();
    if let Some(id) = filter.id {
        query = query.filter(bookings::id.eq(id));
    }
    if let Some(attendance) = filter.attendance_id {
        query = query.filter(bookings::attendance_id.eq(attendance));
    }
    if let Some(from) = filter.starts_from {
        query = query.filter(slots_table::starts_at.ge(from));
    }
    if let Some(before) = filter.starts_before {
        query = query.filter(slots_table::starts_at.lt(before));
    }
    if let Some(worker) = filter.health_worker_id {
        query = query.filter(slots_table::health_worker_id.eq(worker));
    }
    if let Some(status) = &filter.status {
        query = query.filter(bookings::status.eq(*status));
    }
    if let Some(keys) = &filter.patient_keys {
        // An attendance's `patient_key` is its person's key (a link moves it, store::patients),
        // and the registry row of every key says its person now: the keys' persons are the
        // persons whose attendances these are, whichever of their keys was asked for.
        let persons = patients::table
            .filter(patients::key.eq_any(keys))
            .select(patients::person_key);
        let of_persons = attendances::table
            .filter(attendances::patient_key.eq_any(persons))
            .select(attendances::id);
        query = query.filter(bookings::attendance_id.eq_any(of_persons));
    }
    query
        .order((slots_table::starts_at, bookings::booked_at, bookings::id))
        .load(conn)
}

/// Every booking of the attendance's referral, with its slot and health worker's name.
pub fn bookings_of(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Vec<BookingListing>> {
    let filter = BookingQuery {
        attendance_id: Some(attendance_id),
        ..BookingQuery::default()
    };
    list(conn, &filter)
}

// --- A booking's reads, one request at a time or through the write batch ---

/// An attendance with its current screening and referral decision.
pub type BookingContext = (Attendance, Option<Screening>, Option<Referral>);

/// What a booking needs to know about the referral, in one query: the attendance, its current
/// screening and the referral decision.
fn booking_context(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Option<BookingContext>> {
    booking_contexts()
        .filter(attendances::id.eq(attendance_id))
        .order(screenings::version.desc())
        .first(conn)
        .optional()
}

/// Attendances with each of their screenings and their referral: the shape of a `BookingContext`
/// (the row with the highest screening version is the context).
#[diesel::dsl::auto_type(no_type_alias)]
fn booking_contexts() -> _ {
    let columns: (
        AttendanceColumns,
        diesel::dsl::Nullable<ScreeningColumns>,
        diesel::dsl::Nullable<referrals::Columns>,
    ) = (
        ATTENDANCE_COLUMNS,
        SCREENING_COLUMNS.nullable(),
        referrals::COLUMNS.nullable(),
    );
    attendances::table
        .left_join(screenings::table)
        .left_join(crate::db::schema::referrals::table)
        .select(columns)
}

/// A booking request's reads: its referral's context, and the slot it names if it names one.
pub type BookingReads = (Option<BookingContext>, Option<SlotListing>);

/// `booking_context` and `find_live_slot` for many booking requests at once, in two queries
/// (the PostgreSQL write batch, `store::batches`). One answer per request, in order.
pub(in crate::store) fn read_batch(
    pg: &mut PgConnection,
    requests: &[(DbUuid, Option<DbUuid>)],
) -> QueryResult<Vec<BookingReads>> {
    let attendance_ids: Vec<DbUuid> = requests.iter().map(|(id, _)| *id).collect();
    let slot_ids: Vec<DbUuid> = requests.iter().filter_map(|(_, slot)| *slot).collect();
    let contexts: Vec<BookingContext> = booking_contexts()
        .filter(attendances::id.eq_any(&attendance_ids))
        .order((attendances::id, screenings::version.desc()))
        .load(pg)?;
    let mut by_attendance = std::collections::HashMap::with_capacity(contexts.len());
    for context in contexts {
        // Highest screening version first: the first row of each attendance is its context.
        by_attendance.entry(context.0.id).or_insert(context);
    }
    let slots: Vec<SlotListing> = if slot_ids.is_empty() {
        Vec::new()
    } else {
        live_slot_listings()
            .filter(slots_table::id.eq_any(&slot_ids))
            .load(pg)?
    };
    let by_slot: std::collections::HashMap<DbUuid, SlotListing> =
        slots.into_iter().map(|listing| (listing.0.id, listing)).collect();
    Ok(requests
        .iter()
        .map(|(attendance, slot)| {
            (
                by_attendance.get(attendance).cloned(),
                slot.and_then(|slot| by_slot.get(&slot).cloned()),
            )
        })
        .collect())
}

// --- Unmet booking attempts ---

/// An automatic booking that found no free slot in the window (counted by the statistics).
#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = booking_attempts)]
struct BookingAttempt {
    id: DbUuid,
    attendance_id: DbUuid,
    attempted_at: DbTime,
    window_ends_at: DbTime,
    attempted_by: String,
}

/// Records the unmet attempt with its audit event: one statement on PostgreSQL (a data-modifying
/// CTE); on SQLite, in the caller's transaction.
fn insert_attempt(conn: &mut DbConnection, row: &BookingAttempt, event: &AuditEvent) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => Prepared::new(concat!(
            "WITH inserted AS (
                 INSERT INTO booking_attempts (id, attendance_id, attempted_at, window_ends_at, attempted_by)
                 VALUES ($1, $2, $3, $4, $5)
                 RETURNING id) ",
            insert_audit_event_with_detail_from!("inserted", "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15")
        ))
        .bind::<PortableUuid, _>(row.id)
        .bind::<PortableUuid, _>(row.attendance_id)
        .bind::<PortableTime, _>(row.attempted_at)
        .bind::<PortableTime, _>(row.window_ends_at)
        .bind::<Text, _>(&row.attempted_by)
        .bind_audit_event(event)
        .bind::<Nullable<Text>, _>(&event.detail)
        .execute(pg)
        .map(|_| ()),
        DbConnection::Sqlite(_) => {
            diesel::insert_into(booking_attempts::table).values(row).execute(conn)?;
            audit::record(conn, event)
        }
    }
}

/// The audit event of a booking request for the attendance that booked nothing, and why (`kind`,
/// the refusal's). Its record is the referral's (an attendance id): no booking exists.
fn unmet_event(actor: &Actor, attendance: &Attendance, kind: &str) -> AuditEvent {
    AuditEvent::new(
        actor,
        Action::Unmet,
        "booking",
        attendance.id.0,
        Some(&attendance.patient_key),
    )
    .with_detail(kind)
}
