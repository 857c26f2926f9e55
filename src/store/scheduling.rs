//! Health workers, slots, referral decisions, bookings, unmet booking attempts and follow-ups.
//! The rules that must hold under concurrency are database constraints (see the migration); the
//! functions here report which one a write broke.

use diesel::prelude::*;
use diesel::result::Error as DieselError;

use diesel::sql_types::{Bool, Double, Nullable, Text};

use super::audit::{AuditEvent, BindAuditEvent};
use super::rows::attendances::Attendance;
use super::rows::screenings::Screening;
use crate::db::prepared::Prepared;
use crate::db::schema::{
    attendances, booking_attempts, bookings, follow_ups, health_workers, referrals, screenings, slots,
};
use crate::db::types::{DbTime, DbUuid, PortableTime, PortableUuid};
use crate::db::DbConnection;
use crate::domain::scheduling::{BookingStatus, LeadTime, OutsideWindowReason, ReferralDecision};

/// Whether `error` is the violation of `constraint` (PostgreSQL names it; SQLite names the
/// columns, `sqlite_hint`, or the trigger's message).
pub fn violates(error: &DieselError, constraint: &str, sqlite_hint: &str) -> bool {
    match error {
        DieselError::DatabaseError(_, info) => {
            info.constraint_name() == Some(constraint)
                || info.message().contains(constraint)
                || (!sqlite_hint.is_empty() && info.message().contains(sqlite_hint))
        }
        _ => false,
    }
}

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = health_workers)]
pub struct HealthWorker {
    pub id: DbUuid,
    pub name: String,
    pub staff_id: Option<String>,
    pub subject: Option<String>,
    pub created_at: DbTime,
    pub created_by: String,
}

columns!(HEALTH_WORKER: HealthWorkerColumns = health_workers { id, name, staff_id, subject, created_at, created_by });

pub fn insert_health_worker(conn: &mut DbConnection, row: &HealthWorker) -> QueryResult<()> {
    diesel::insert_into(health_workers::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn list_health_workers(conn: &mut DbConnection) -> QueryResult<Vec<HealthWorker>> {
    health_workers::table
        .select(HEALTH_WORKER)
        .order((health_workers::name, health_workers::id))
        .load(conn)
}

pub fn find_health_worker(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<HealthWorker>> {
    health_workers::table
        .find(id)
        .select(HEALTH_WORKER)
        .first(conn)
        .optional()
}

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = slots)]
pub struct Slot {
    pub id: DbUuid,
    pub health_worker_id: DbUuid,
    pub starts_at: DbTime,
    pub ends_at: DbTime,
    pub withdrawn_at: Option<DbTime>,
    pub created_at: DbTime,
    pub created_by: String,
}

columns!(SLOT: SlotColumns = slots { id, health_worker_id, starts_at, ends_at, withdrawn_at, created_at, created_by });

/// A live slot with its health worker's name and the booking holding it, if any.
pub type SlotListing = (Slot, String, Option<DbUuid>);

pub fn insert_slots(conn: &mut DbConnection, rows: &[Slot]) -> QueryResult<()> {
    // One statement per slot: SQLite's overlap trigger must see the slots inserted before it.
    for row in rows {
        diesel::insert_into(slots::table).values(row).execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct SlotFilter {
    pub from: Option<DbTime>,
    pub to: Option<DbTime>,
    pub health_worker_id: Option<DbUuid>,
    pub available: Option<bool>,
    pub ids: Option<Vec<DbUuid>>,
}

/// Live slots with their health worker's name and the booking holding each, if any: the shape of
/// a `SlotListing`, for every query that lists or finds slots.
#[diesel::dsl::auto_type(no_type_alias)]
fn live_slot_listings() -> _ {
    let held_by: diesel::dsl::And<
        diesel::dsl::Eq<bookings::slot_id, slots::id>,
        diesel::dsl::NotEq<bookings::status, &'static str>,
    > = bookings::slot_id.eq(slots::id).and(bookings::status.ne("cancelled"));
    let columns: (SlotColumns, health_workers::name, diesel::dsl::Nullable<bookings::id>) =
        (SLOT, health_workers::name, bookings::id.nullable());
    slots::table
        .inner_join(health_workers::table)
        .left_join(bookings::table.on(held_by))
        .filter(slots::withdrawn_at.is_null())
        .select(columns)
}

pub fn list_slots(conn: &mut DbConnection, filter: &SlotFilter) -> QueryResult<Vec<SlotListing>> {
    let mut query = live_slot_listings().into_boxed();
    if let Some(from) = filter.from {
        query = query.filter(slots::starts_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(slots::starts_at.lt(to));
    }
    if let Some(worker) = filter.health_worker_id {
        query = query.filter(slots::health_worker_id.eq(worker));
    }
    match filter.available {
        Some(true) => query = query.filter(bookings::id.is_null()),
        Some(false) => query = query.filter(bookings::id.is_not_null()),
        None => {}
    }
    if let Some(ids) = &filter.ids {
        query = query.filter(slots::id.eq_any(ids.clone()));
    }
    query.order((slots::starts_at, slots::id)).load(conn)
}

/// One live slot, as `list_slots` lists it. A fixed query (not boxed like `list_slots`), so on
/// PostgreSQL it is prepared once per connection: every booking attempt reads its slot.
pub fn find_live_slot(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<SlotListing>> {
    live_slot_listings().filter(slots::id.eq(id)).first(conn).optional()
}

/// Locks the slot row until the transaction ends (PostgreSQL `FOR UPDATE`): a booking being made
/// for it holds a share lock, so a withdrawal waits for it and then sees it. SQLite needs nothing.
pub fn lock_slot(conn: &mut DbConnection, id: DbUuid) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => slots::table
            .find(id)
            .select(slots::id)
            .for_update()
            .first::<DbUuid>(pg)
            .optional()
            .map(|_| ()),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Withdraws a live slot that no booking holds. `Ok(false)`: nothing was withdrawn.
pub fn withdraw_slot(conn: &mut DbConnection, id: DbUuid, at: DbTime) -> QueryResult<bool> {
    let held = bookings::table
        .filter(bookings::slot_id.eq(id))
        .filter(bookings::status.ne("cancelled"))
        .select(bookings::id);
    diesel::update(
        slots::table
            .filter(slots::id.eq(id))
            .filter(slots::withdrawn_at.is_null()),
    )
    .filter(diesel::dsl::not(diesel::dsl::exists(held)))
    .set(slots::withdrawn_at.eq(Some(at)))
    .execute(conn)
    .map(|n| n > 0)
}

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = referrals)]
pub struct Referral {
    pub attendance_id: DbUuid,
    pub decision: ReferralDecision,
    pub decided_at: DbTime,
    pub recorded_at: DbTime,
    pub recorded_by: String,
}

columns!(REFERRAL: ReferralColumns = referrals { attendance_id, decision, decided_at, recorded_at, recorded_by });

pub fn find_referral(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Option<Referral>> {
    referrals::table
        .find(attendance_id)
        .select(REFERRAL)
        .first(conn)
        .optional()
}

/// The referral, locked until the transaction ends (PostgreSQL `FOR UPDATE`): a booking being
/// made for it holds a share lock on the same row, so a decision change waits for it and then
/// sees the booking.
pub fn find_referral_for_update(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Option<Referral>> {
    match conn {
        DbConnection::Pg(pg) => referrals::table
            .find(attendance_id)
            .select(REFERRAL)
            .for_update()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(_) => find_referral(conn, attendance_id),
    }
}

pub fn insert_referral(conn: &mut DbConnection, row: &Referral) -> QueryResult<()> {
    diesel::insert_into(referrals::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn update_referral(conn: &mut DbConnection, row: &Referral) -> QueryResult<()> {
    diesel::update(referrals::table.find(row.attendance_id))
        .set((
            referrals::decision.eq(row.decision),
            referrals::decided_at.eq(row.decided_at),
            referrals::recorded_at.eq(row.recorded_at),
            referrals::recorded_by.eq(&row.recorded_by),
        ))
        .execute(conn)
        .map(|_| ())
}

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
}

columns!(BOOKING: BookingColumns = bookings { id, attendance_id, slot_id, status, within_window, outside_window_reason, booked_at, booked_by, outcome_at, outcome_by, brief_intervention_delivered, units_per_week, cancel_reason, lead_time });

/// A booking with its slot and the slot's health worker's name.
pub type BookingListing = (Booking, Slot, String);

/// Inserts a booking and its audit event atomically, only while the referral is `accepted` and
/// the slot is live. `Ok(false)`: one of them no longer is, and nothing was written. PostgreSQL:
/// one statement (a data-modifying CTE) that share-locks the referral and slot rows, so a
/// simultaneous decision change or withdrawal waits for it and then sees the booking (see
/// `find_referral_for_update`, `lock_slot`). SQLite: statements in the caller's `BEGIN IMMEDIATE`
/// transaction; a unique violation there undoes only the failed statement, so the caller can try
/// another slot.
pub fn insert_booking_with_audit(conn: &mut DbConnection, row: &Booking, event: &AuditEvent) -> QueryResult<bool> {
    match conn {
        DbConnection::Pg(pg) => Prepared::new(
            "WITH accepted AS (
                 SELECT attendance_id FROM referrals
                 WHERE attendance_id = $2 AND decision = 'accepted'
                 FOR SHARE),
             live AS (
                 SELECT id FROM slots WHERE id = $3 AND withdrawn_at IS NULL
                 FOR SHARE),
             inserted AS (
                 INSERT INTO bookings (id, attendance_id, slot_id, status, within_window, outside_window_reason,
                     booked_at, booked_by, lead_time)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $18 FROM accepted, live
                 RETURNING id)
             INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id,
                 patient_key, request_id)
             SELECT $9, $10, $11, $12, $13, $14, $15, $16, $17 FROM inserted",
        )
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
            super::audit::record(conn, event)?;
            Ok(true)
        }
    }
}

/// An attendance with its current screening and referral decision.
pub type BookingContext = (Attendance, Option<Screening>, Option<Referral>);

/// What a booking needs to know about the referral, in one query: the attendance, its current
/// screening and the referral decision.
pub fn booking_context(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Option<BookingContext>> {
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
        super::rows::attendances::Columns,
        diesel::dsl::Nullable<super::rows::screenings::Columns>,
        diesel::dsl::Nullable<ReferralColumns>,
    ) = (
        super::rows::attendances::COLUMNS,
        super::rows::screenings::COLUMNS.nullable(),
        REFERRAL.nullable(),
    );
    attendances::table
        .left_join(screenings::table)
        .left_join(referrals::table)
        .select(columns)
}

/// A booking request's reads: its referral's context, and the slot it names if it names one.
pub type BookingReads = (Option<BookingContext>, Option<SlotListing>);

/// `booking_context` and `find_live_slot` for many booking requests at once, in two queries
/// (PostgreSQL write batches, `batch`). One answer per request, in order.
pub fn booking_reads(
    pg: &mut diesel::pg::PgConnection,
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
        live_slot_listings().filter(slots::id.eq_any(&slot_ids)).load(pg)?
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

#[derive(Debug, Default)]
pub struct BookingFilter {
    pub id: Option<DbUuid>,
    pub attendance_id: Option<DbUuid>,
    pub starts_from: Option<DbTime>,
    pub starts_before: Option<DbTime>,
    pub health_worker_id: Option<DbUuid>,
    pub status: Option<BookingStatus>,
}

/// One booking with its slot and health worker's name, as `list_bookings` lists it. A fixed query
/// (prepared once per connection on PostgreSQL): every outcome reads its booking first.
pub fn find_booking(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<BookingListing>> {
    bookings::table
        .inner_join(slots::table.inner_join(health_workers::table))
        .filter(bookings::id.eq(id))
        .select((BOOKING, SLOT, health_workers::name))
        .first(conn)
        .optional()
}

pub fn list_bookings(conn: &mut DbConnection, filter: &BookingFilter) -> QueryResult<Vec<BookingListing>> {
    let mut query = bookings::table
        .inner_join(slots::table.inner_join(health_workers::table))
        .select((BOOKING, SLOT, health_workers::name))
        .into_boxed();
    if let Some(id) = filter.id {
        query = query.filter(bookings::id.eq(id));
    }
    if let Some(attendance) = filter.attendance_id {
        query = query.filter(bookings::attendance_id.eq(attendance));
    }
    if let Some(from) = filter.starts_from {
        query = query.filter(slots::starts_at.ge(from));
    }
    if let Some(before) = filter.starts_before {
        query = query.filter(slots::starts_at.lt(before));
    }
    if let Some(worker) = filter.health_worker_id {
        query = query.filter(slots::health_worker_id.eq(worker));
    }
    if let Some(status) = &filter.status {
        query = query.filter(bookings::status.eq(*status));
    }
    query
        .order((slots::starts_at, bookings::booked_at, bookings::id))
        .load(conn)
}

/// Every booking of the attendance's referral, with its slot and health worker's name.
pub fn bookings_of(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Vec<BookingListing>> {
    let filter = BookingFilter {
        attendance_id: Some(attendance_id),
        ..BookingFilter::default()
    };
    list_bookings(conn, &filter)
}

/// Whether the referral has a booking still `booked`.
pub fn has_open_booking(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        bookings::table
            .filter(bookings::attendance_id.eq(attendance_id))
            .filter(bookings::status.eq("booked")),
    ))
    .get_result(conn)
}

/// Records an outcome on a booking that is still `booked`, with its audit event. `Ok(false)`: it
/// was not booked (any more) and nothing was written. PostgreSQL: one statement (the audit
/// insert reads the update's result), its own transaction. SQLite: in the caller's transaction.
pub fn record_outcome(conn: &mut DbConnection, row: &Booking, event: &AuditEvent) -> QueryResult<bool> {
    match conn {
        DbConnection::Pg(pg) => Prepared::new(
            "WITH changed AS (
                 UPDATE bookings SET status = $2, outcome_at = $3, outcome_by = $4,
                     brief_intervention_delivered = $5, units_per_week = $6, cancel_reason = $7
                 WHERE id = $1 AND status = 'booked'
                 RETURNING id)
             INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id,
                 patient_key, request_id)
             SELECT $8, $9, $10, $11, $12, $13, $14, $15, $16 FROM changed",
        )
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
                super::audit::record(conn, event)?;
            }
            Ok(changed > 0)
        }
    }
}

/// Free live slots starting in `[from, until]`, earliest first.
pub fn free_slots(
    conn: &mut DbConnection,
    from: DbTime,
    until: DbTime,
    limit: i64,
) -> QueryResult<Vec<(DbUuid, DbTime)>> {
    let held = bookings::table
        .filter(bookings::slot_id.eq(slots::id))
        .filter(bookings::status.ne("cancelled"))
        .select(bookings::id);
    slots::table
        .filter(slots::withdrawn_at.is_null())
        .filter(slots::starts_at.ge(from))
        .filter(slots::starts_at.le(until))
        .filter(diesel::dsl::not(diesel::dsl::exists(held)))
        .order((slots::starts_at, slots::id))
        .select((slots::id, slots::starts_at))
        .limit(limit)
        .load(conn)
}

#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = booking_attempts)]
pub struct BookingAttempt {
    pub id: DbUuid,
    pub attendance_id: DbUuid,
    pub attempted_at: DbTime,
    pub window_ends_at: DbTime,
    pub attempted_by: String,
}

pub fn insert_attempt(conn: &mut DbConnection, row: &BookingAttempt) -> QueryResult<()> {
    diesel::insert_into(booking_attempts::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = follow_ups)]
pub struct FollowUp {
    pub id: DbUuid,
    pub attendance_id: DbUuid,
    pub months: i32,
    pub units_per_week: f64,
    pub contacted_at: DbTime,
    pub recorded_at: DbTime,
    pub recorded_by: String,
}

pub fn insert_follow_up(conn: &mut DbConnection, row: &FollowUp) -> QueryResult<()> {
    diesel::insert_into(follow_ups::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_follow_up(conn: &mut DbConnection, attendance_id: DbUuid, months: i32) -> QueryResult<Option<FollowUp>> {
    follow_ups::table
        .filter(follow_ups::attendance_id.eq(attendance_id))
        .filter(follow_ups::months.eq(months))
        .select((
            follow_ups::id,
            follow_ups::attendance_id,
            follow_ups::months,
            follow_ups::units_per_week,
            follow_ups::contacted_at,
            follow_ups::recorded_at,
            follow_ups::recorded_by,
        ))
        .first(conn)
        .optional()
}
