//! The audit trail: who read or changed whose records. Append-only (database triggers refuse
//! UPDATE and DELETE); each event is written in the same transaction as the read or change.

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::schema::audit_events;
use super::types::{DbTime, DbUuid, PortableTime, PortableUuid};
use super::DbConnection;

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
}

columns!(pub COLUMNS: Columns = audit_events { id, occurred_at, actor, roles, action, resource_type, resource_id, patient_key, request_id });

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
pub fn list(conn: &mut DbConnection, filter: &AuditFilter) -> QueryResult<Vec<AuditEvent>> {
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

/// Appends an audit event's nine values, in `audit_events` column order, as the last binds of a
/// PostgreSQL statement that writes a record and its audit event together.
pub trait BindAuditEvent<'a> {
    fn bind_audit_event(self, event: &'a AuditEvent) -> Self;
}

impl<'a> BindAuditEvent<'a> for super::prepared::Prepared<'a> {
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
