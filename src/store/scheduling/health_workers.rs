//! The AHW register: who can be given slots. Unique staff numbers and token subjects are the
//! database's to keep (`health_workers_staff_id_unique`, `health_workers_subject_unique`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::violates;
use crate::db::schema::health_workers;
use crate::db::types::{DbTime, DbUuid};
use crate::db::{write_transaction, DbConnection};
use crate::domain::scheduling::duplicate_health_worker;
use crate::store::{Actor, Store, StoreError};

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

columns!(COLUMNS: Columns = health_workers { id, name, staff_id, subject, created_at, created_by });

/// A health worker to add, as the request gave them (trimmed and checked for length).
#[derive(Clone, Debug)]
pub struct NewHealthWorker {
    pub name: String,
    /// The trust's staff number.
    pub staff_id: Option<String>,
    /// The `sub` of their tokens.
    pub subject: Option<String>,
}

/// The health workers store.
pub struct HealthWorkers<'a> {
    store: &'a Store,
}

impl<'a> HealthWorkers<'a> {
    pub(in crate::store) fn new(store: &'a Store) -> Self {
        HealthWorkers { store }
    }

    /// Adds a health worker to the register, recorded as added by `actor` at `now`. A staff
    /// number or subject registered already is refused (`duplicate-health-worker`).
    #[tracing::instrument(name = "store.health_workers.create", skip_all)]
    pub async fn create(
        &self,
        new: NewHealthWorker,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<HealthWorker, StoreError> {
        let row = HealthWorker {
            id: DbUuid(uuid::Uuid::now_v7()),
            name: new.name,
            staff_id: new.staff_id,
            subject: new.subject,
            created_at: DbTime::new(now),
            created_by: actor.subject.clone(),
        };
        self.store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    diesel::insert_into(health_workers::table).values(&row).execute(conn)
                })
                .map_err(|e| {
                    if violates(&e, "health_workers_staff_id_unique", "health_workers.staff_id")
                        || violates(&e, "health_workers_subject_unique", "health_workers.subject")
                    {
                        StoreError::Refused(duplicate_health_worker())
                    } else {
                        e.into()
                    }
                })?;
                Ok(row.clone())
            })
            .await
    }

    /// The register, by name.
    #[tracing::instrument(name = "store.health_workers.list", skip_all, fields(count))]
    pub async fn list(&self) -> Result<Vec<HealthWorker>, StoreError> {
        let rows = self.store.run(|conn| Ok(list(conn)?)).await?;
        tracing::Span::current().record("count", rows.len());
        Ok(rows)
    }
}

/// The register, by name (the query behind [`HealthWorkers::list`]).
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<HealthWorker>> {
    health_workers::table
        .select(COLUMNS)
        .order((health_workers::name, health_workers::id))
        .load(conn)
}

pub(super) fn find(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<HealthWorker>> {
    health_workers::table.find(id).select(COLUMNS).first(conn).optional()
}
