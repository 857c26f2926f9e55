//! Slots: when a health worker is free to see a patient. A health worker's slots never overlap
//! (PostgreSQL: the `slots_no_overlap` exclusion constraint; SQLite: a trigger of the same name in
//! the `BEGIN IMMEDIATE` transaction). A slot is live until withdrawn; a booking that is not
//! cancelled holds it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{health_workers, violates};
use crate::db::schema::{bookings, health_workers as health_workers_table, slots};
use crate::db::types::{DbTime, DbUuid};
use crate::db::{lock_row, write_transaction, DbConnection};
use crate::domain::scheduling::{no_health_worker, no_slot, slot_booked, slot_overlap, slots_not_in_past, Span};
use crate::store::{Actor, Store, StoreError};

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

columns!(pub(super) COLUMNS: Columns = slots { id, health_worker_id, starts_at, ends_at, withdrawn_at, created_at, created_by });

/// A live slot with its health worker's name and the booking holding it, if any.
pub type SlotListing = (Slot, String, Option<DbUuid>);

/// Which live slots to list: those starting in `[from, to)`, of one health worker or all, free
/// (`available`), held, or both.
#[derive(Clone, Debug)]
pub struct SlotFilter {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub health_worker_id: Option<uuid::Uuid>,
    pub available: Option<bool>,
}

/// The slots store.
pub struct Slots<'a> {
    store: &'a Store,
}

impl<'a> Slots<'a> {
    pub(in crate::store) fn new(store: &'a Store) -> Self {
        Slots { store }
    }

    /// Publishes `spans` as slots of the health worker, all or nothing, recorded as made by
    /// `actor` at `now`; answers them as listed. The checks run in docs/design.md §4's order: no such
    /// health worker (404), a slot overlapping another of theirs (409), a slot in the past (422,
    /// checked after the insert so a state conflict answers first; nothing is kept).
    #[tracing::instrument(name = "store.slots.publish", skip_all, fields(slots = spans.len()))]
    pub async fn publish(
        &self,
        health_worker_id: uuid::Uuid,
        spans: Vec<Span>,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Vec<SlotListing>, StoreError> {
        let worker = DbUuid(health_worker_id);
        let rows: Vec<Slot> = spans
            .iter()
            .map(|(starts, ends)| Slot {
                id: DbUuid(uuid::Uuid::now_v7()),
                health_worker_id: worker,
                starts_at: DbTime::new(*starts),
                ends_at: DbTime::new(*ends),
                withdrawn_at: None,
                created_at: DbTime::new(now),
                created_by: actor.subject.clone(),
            })
            .collect();
        self.store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    health_workers::find(conn, worker)?.ok_or_else(no_health_worker)?;
                    insert(conn, &rows).map_err(|e| {
                        if violates(&e, "slots_no_overlap", "") {
                            StoreError::Refused(slot_overlap())
                        } else {
                            e.into()
                        }
                    })?;
                    // The transaction is rolled back when this refuses.
                    slots_not_in_past(rows.iter().map(|s| s.starts_at.get()), now)?;
                    let query = SlotQuery {
                        ids: Some(rows.iter().map(|s| s.id).collect()),
                        ..SlotQuery::default()
                    };
                    Ok(list(conn, &query)?)
                })
            })
            .await
    }

    /// Live slots matching the filter, by start time.
    #[tracing::instrument(name = "store.slots.list", skip_all, fields(count))]
    pub async fn list(&self, filter: SlotFilter) -> Result<Vec<SlotListing>, StoreError> {
        let query = SlotQuery {
            from: Some(DbTime::new(filter.from)),
            to: Some(DbTime::new(filter.to)),
            health_worker_id: filter.health_worker_id.map(DbUuid),
            available: filter.available,
            ids: None,
        };
        let rows = self.store.run(move |conn| Ok(list(conn, &query)?)).await?;
        tracing::Span::current().record("count", rows.len());
        Ok(rows)
    }

    /// Withdraws a live slot (at `now`) that no booking holds: no such live slot is a 404, a
    /// booking holding it a 409 (`slot-booked`). The slot's row is locked first, so a booking
    /// being made for it (which share-locks it) finishes and is seen.
    #[tracing::instrument(name = "store.slots.withdraw", skip_all)]
    pub async fn withdraw(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        let id = DbUuid(id);
        let now = DbTime::new(now);
        self.store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    lock(conn, id)?;
                    find_live_slot(conn, id)?.ok_or_else(no_slot)?;
                    if withdraw(conn, id, now)? {
                        Ok(())
                    } else {
                        Err(slot_booked().into())
                    }
                })
            })
            .await
    }
}

fn insert(conn: &mut DbConnection, rows: &[Slot]) -> QueryResult<()> {
    // One statement per slot: SQLite's overlap trigger must see the slots inserted before it.
    for row in rows {
        diesel::insert_into(slots::table).values(row).execute(conn)?;
    }
    Ok(())
}

/// The listing's filters, as stored values.
#[derive(Debug, Default)]
pub struct SlotQuery {
    from: Option<DbTime>,
    to: Option<DbTime>,
    health_worker_id: Option<DbUuid>,
    available: Option<bool>,
    ids: Option<Vec<DbUuid>>,
}

/// Live slots with their health worker's name and the booking holding each, if any: the shape of
/// a `SlotListing`, for every query that lists or finds slots.
#[diesel::dsl::auto_type(no_type_alias)]
pub(super) fn live_slot_listings() -> _ {
    let held_by: diesel::dsl::And<
        diesel::dsl::Eq<bookings::slot_id, slots::id>,
        diesel::dsl::NotEq<bookings::status, &'static str>,
    > = bookings::slot_id.eq(slots::id).and(bookings::status.ne("cancelled"));
    let columns: (Columns, health_workers_table::name, diesel::dsl::Nullable<bookings::id>) =
        (COLUMNS, health_workers_table::name, bookings::id.nullable());
    slots::table
        .inner_join(health_workers_table::table)
        .left_join(bookings::table.on(held_by))
        .filter(slots::withdrawn_at.is_null())
        .select(columns)
}

/// Live slots matching `filter` (the query behind [`Slots::list`]).
pub fn list(conn: &mut DbConnection, filter: &SlotQuery) -> QueryResult<Vec<SlotListing>> {
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

/// One live slot, as `list` lists it. A fixed query (not boxed like `list`), so on PostgreSQL it
/// is prepared once per connection: every booking attempt reads its slot.
pub(super) fn find_live_slot(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<SlotListing>> {
    live_slot_listings().filter(slots::id.eq(id)).first(conn).optional()
}

/// Locks the slot row until the transaction ends: a booking being made for it holds a share
/// lock, so a withdrawal waits for it and then sees it.
fn lock(conn: &mut DbConnection, id: DbUuid) -> QueryResult<()> {
    lock_row(conn, "SELECT id FROM slots WHERE id = $1 FOR UPDATE", id)
}

/// Withdraws a live slot that no booking holds. `Ok(false)`: nothing was withdrawn.
fn withdraw(conn: &mut DbConnection, id: DbUuid, at: DbTime) -> QueryResult<bool> {
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

/// Free live slots starting in `[from, until]`, earliest first.
pub(super) fn free_slots(
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
