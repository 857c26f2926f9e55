//! The audit trail: who read or changed whose records. Append-only (database triggers refuse
//! UPDATE and DELETE, and TRUNCATE on PostgreSQL and INSERT OR REPLACE on SQLite: migrations
//! `core` and `audit_append_only`); each event is written in the same transaction as the read or
//! change.

use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Text};

use super::{Actor, Store, StoreError};
use crate::db::prepared::Prepared;
use crate::db::schema::audit_events;
use crate::db::types::{DbTime, DbUuid, PortableTime, PortableUuid};
use crate::db::{write_transaction, DbConnection};

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: DbUuid,
    pub occurred_at: DbTime,
    pub actor: String,
    pub roles: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub patient_key: Option<String>,
    pub request_id: Option<String>,
    /// What the event was about beyond its record: the refusal of an unmet booking attempt
    /// (`slot-taken`, `no-slot-in-window`, …), the version a correction made (`version 2`).
    pub detail: Option<String>,
}

columns!(pub COLUMNS: Columns = audit_events { id, occurred_at, actor, roles, action, resource_type, resource_id, patient_key, request_id, detail });

/// What was done to a record, as the audit trail names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Read,
    Update,
    /// A new version of a referral decision or of a booking's outcome; the earlier one is kept.
    Correct,
    /// A booking request refused (no free slot, the slot taken, outside the window, …): unmet
    /// demand, recorded although nothing was booked.
    Unmet,
}

impl Action {
    fn code(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Correct => "correct",
            Action::Unmet => "unmet",
        }
    }
}

impl AuditEvent {
    /// `actor` did `action` to the `resource_type` record `resource_id` of the patient
    /// `patient_key` (none for records that are no one's, such as a statistics report).
    pub fn new(
        actor: &Actor,
        action: Action,
        resource_type: &str,
        resource_id: impl ToString,
        patient_key: Option<&str>,
    ) -> AuditEvent {
        AuditEvent {
            id: DbUuid(uuid::Uuid::now_v7()),
            occurred_at: DbTime::now(),
            actor: actor.subject.clone(),
            roles: actor.roles.clone(),
            action: action.code().to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.to_string(),
            patient_key: patient_key.map(str::to_owned),
            request_id: actor.request_id.clone(),
            detail: None,
        }
    }

    /// The event with its `detail`.
    pub fn with_detail(self, detail: impl Into<String>) -> AuditEvent {
        AuditEvent {
            detail: Some(detail.into()),
            ..self
        }
    }
}

/// The audit trail's own store: reading it (itself an audited read).
pub struct AuditTrail<'a> {
    store: &'a Store,
}

impl<'a> AuditTrail<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        AuditTrail { store }
    }

    /// Events matching the filter, newest first. Reading the trail is itself recorded: it shows
    /// whose records were looked at.
    #[tracing::instrument(name = "store.audit.list", skip_all, fields(limit = filter.limit))]
    pub async fn list(&self, filter: AuditFilter, actor: &Actor) -> Result<Vec<AuditEvent>, StoreError> {
        let actor = actor.clone();
        self.store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let events = list(conn, &filter)?;
                    let read = AuditEvent::new(
                        &actor,
                        Action::Read,
                        "audit_events",
                        "query",
                        filter.patient_key.as_deref(),
                    );
                    record(conn, &read)?;
                    Ok(events)
                })
            })
            .await
    }
}

pub fn record(conn: &mut DbConnection, event: &AuditEvent) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)
        .map(|_| ())
}

/// Several events at once (a list of records read together). PostgreSQL: one statement. SQLite:
/// one statement each (it has no multi-row insert through the two-backend connection, and no
/// round trips to save in-process).
pub fn record_all(conn: &mut DbConnection, events: &[AuditEvent]) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(_) if events.is_empty() => Ok(()),
        DbConnection::Pg(pg) => diesel::insert_into(audit_events::table)
            .values(events)
            .execute(pg)
            .map(|_| ()),
        DbConnection::Sqlite(_) => events.iter().try_for_each(|event| record(conn, event)),
    }
}

/// Filters for listing events; every one optional.
#[derive(Default, Debug)]
pub struct AuditFilter {
    pub patient_key: Option<String>,
    pub actor: Option<String>,
    pub from: Option<DbTime>,
    pub to: Option<DbTime>,
    pub limit: i64,
}

/// Events matching the filter, newest first.
fn list(conn: &mut DbConnection, filter: &AuditFilter) -> QueryResult<Vec<AuditEvent>> {
    let mut query = audit_events::table.select(COLUMNS).into_boxed();
    if let Some(key) = &filter.patient_key {
        query = query.filter(audit_events::patient_key.eq(key.clone()));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_events::actor.eq(actor.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(to));
    }
    query
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(filter.limit)
        .load(conn)
}

/// Appends an audit event's first nine values, in `audit_events` column order, as the last binds of
/// a PostgreSQL statement that writes a record and its audit event together (`detail`, when the
/// statement writes it, is bound after them by hand).
pub trait BindAuditEvent<'a> {
    fn bind_audit_event(self, event: &'a AuditEvent) -> Self;
}

impl<'a> BindAuditEvent<'a> for Prepared<'a> {
    fn bind_audit_event(self, event: &'a AuditEvent) -> Self {
        self.bind::<PortableUuid, _>(event.id)
            .bind::<PortableTime, _>(event.occurred_at)
            .bind::<Text, _>(&event.actor)
            .bind::<Text, _>(&event.roles)
            .bind::<Text, _>(&event.action)
            .bind::<Text, _>(&event.resource_type)
            .bind::<Text, _>(&event.resource_id)
            .bind::<Nullable<Text>, _>(&event.patient_key)
            .bind::<Nullable<Text>, _>(&event.request_id)
    }
}

/// The audit event columns, one array each, bound after a batch's own columns.
#[derive(Default)]
pub(in crate::store) struct AuditColumns {
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
    pub(in crate::store) fn push(&mut self, event: &AuditEvent) {
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

    pub(in crate::store) fn bind(self, statement: Prepared<'_>) -> Prepared<'_> {
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
