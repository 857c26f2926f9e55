//! The patients store: the registry of the identifiers attendances arrive with, and the links
//! that say two of them are one person (a PDS trace, an EPR merge), made and undone.
//!
//! A link or an unlink is one transaction, under the per-patient advisory locks of every key
//! involved (PostgreSQL: the patient's key, then its person's, the order a new attendance takes
//! them in; SQLite: `BEGIN IMMEDIATE`). It writes the link,
//! moves the attendances' `patient_key` to the person they belong to now, and recomputes the
//! 7-day reattendance facts of every person involved by the rule of the 7-day trigger, so every
//! derived fact is what it would have been had the identity been known from the start. The
//! repeat-attender indication stored on each attendance stays as it was: it is what the nurse was
//! told at the time. Migration 2026-12-05-000010 says how a link and a new attendance racing
//! each other end.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::audit::{self, Action, AuditEvent};
use super::{again_after_deadlock, is_unique_violation, Actor, Changed, Store, StoreError};
use crate::db::schema::{attendances, patient_links, patients};
use crate::db::types::{DbTime, DbUuid, PortableTime, PortableUuid};
use crate::db::{write_transaction, DbConnection};
use crate::domain::nhs_number::NhsNumber;
use crate::domain::patient::{
    already_linked, link_to_itself, no_link_target, no_patient, not_linked, patient_key, same_person, LinkKind,
};
use crate::domain::Reason;

/// A registry row: the key of an identifier, and the key of the person it belongs to now.
#[derive(Queryable, Clone, Debug, PartialEq)]
pub struct Patient {
    pub id: DbUuid,
    pub key: String,
    /// Its own key while it is linked to no one.
    pub person_key: String,
    pub created_at: DbTime,
}

columns!(PATIENT_COLUMNS: PatientColumns = patients { id, key, person_key, created_at });

/// A link: `patient_id` is the same person as `person_id`; in force until unlinked.
#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = patient_links)]
pub struct Link {
    pub id: DbUuid,
    pub patient_id: DbUuid,
    pub person_id: DbUuid,
    pub kind: String,
    pub trace_status: Option<String>,
    pub reason: String,
    pub linked_at: DbTime,
    pub linked_by: String,
    pub unlinked_at: Option<DbTime>,
    pub unlinked_by: Option<String>,
    pub unlink_reason: Option<String>,
}

columns!(pub LINK_COLUMNS: LinkColumns = patient_links { id, patient_id, person_id, kind, trace_status, reason, linked_at, linked_by, unlinked_at, unlinked_by, unlink_reason });

impl Link {
    pub fn kind(&self) -> LinkKind {
        LinkKind::from_code(&self.kind).unwrap_or(LinkKind::Merge)
    }
}

/// A patient with the person it belongs to and every link from or to it (newest first).
#[derive(Clone, Debug)]
pub struct PatientRecord {
    pub patient: Patient,
    /// The registry row of the person (the patient itself when linked to no one).
    pub person: Patient,
    pub links: Vec<Link>,
}

/// Who a patient is linked to: the patient with an NHS number (a PDS trace of a local number;
/// registered now if no attendance brought it yet), or another patient (an EPR merge).
#[derive(Clone, Debug)]
pub enum LinkTarget {
    Trace {
        nhs_number: NhsNumber,
        trace_status: &'static str,
    },
    Merge {
        patient_id: uuid::Uuid,
    },
}

/// The patients store.
pub struct Patients<'a> {
    store: &'a Store,
}

impl<'a> Patients<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Patients { store }
    }

    /// The patient with its person and links (an audited read).
    #[tracing::instrument(name = "store.patients.find", skip_all)]
    pub async fn find(&self, id: uuid::Uuid, actor: &Actor) -> Result<PatientRecord, StoreError> {
        let actor = actor.clone();
        self.store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let patient = find(conn, DbUuid(id))?.ok_or_else(no_patient)?;
                    let read = AuditEvent::new(&actor, Action::Read, "patient", id, Some(&patient.key));
                    audit::record(conn, &read)?;
                    Ok(load(conn, patient)?)
                })
            })
            .await
    }

    /// Links patient `id` to `target`: they are one person from now on, and every attendance of
    /// `id` (and of the patients linked to it) belongs to the target's person. Linking again to
    /// the same patient is an audited read of the record; a patient linked elsewhere already is a
    /// 409 (`already-linked`), a target that is `id`'s person already a 409 (`same-person`).
    #[tracing::instrument(name = "store.patients.link", skip_all, fields(already))]
    pub async fn link(
        &self,
        id: uuid::Uuid,
        target: LinkTarget,
        reason: Reason,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Changed<PatientRecord>, StoreError> {
        let actor = actor.clone();
        let changed = self
            .store
            .run(move |conn| {
                again_after_deadlock(|| {
                    write_transaction(conn, |conn| link(conn, DbUuid(id), &target, &reason, now, &actor))
                })
            })
            .await?;
        tracing::Span::current().record("already", matches!(changed, Changed::Already(_)));
        Ok(changed)
    }

    /// Ends the link in force of patient `id` (or the link `link_id`, when named): its
    /// attendances, and those of the patients linked to it, belong to it again. Unlinking a link
    /// ended already is an audited read; a patient with no link a 409 (`not-linked`).
    #[tracing::instrument(name = "store.patients.unlink", skip_all, fields(already))]
    pub async fn unlink(
        &self,
        id: uuid::Uuid,
        link_id: Option<uuid::Uuid>,
        reason: Reason,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Changed<PatientRecord>, StoreError> {
        let actor = actor.clone();
        let changed = self
            .store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    unlink(conn, DbUuid(id), link_id.map(DbUuid), &reason, now, &actor)
                })
            })
            .await?;
        tracing::Span::current().record("already", matches!(changed, Changed::Already(_)));
        Ok(changed)
    }
}

fn find(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<Patient>> {
    patients::table.find(id).select(PATIENT_COLUMNS).first(conn).optional()
}

fn find_by_key(conn: &mut DbConnection, key: &str) -> QueryResult<Option<Patient>> {
    patients::table
        .filter(patients::key.eq(key))
        .select(PATIENT_COLUMNS)
        .first(conn)
        .optional()
}

/// The link in force from the patient, if any (at most one: a partial unique index).
fn link_in_force(conn: &mut DbConnection, patient: DbUuid) -> QueryResult<Option<Link>> {
    patient_links::table
        .filter(patient_links::patient_id.eq(patient))
        .filter(patient_links::unlinked_at.is_null())
        .select(LINK_COLUMNS)
        .first(conn)
        .optional()
}

/// The patient with its person and every link from or to it, newest first.
fn load(conn: &mut DbConnection, patient: Patient) -> QueryResult<PatientRecord> {
    let person = if patient.person_key == patient.key {
        patient.clone()
    } else {
        find_by_key(conn, &patient.person_key)?.ok_or(diesel::result::Error::NotFound)?
    };
    let mut links: Vec<Link> = patient_links::table
        .filter(
            patient_links::patient_id
                .eq(patient.id)
                .or(patient_links::person_id.eq(patient.id)),
        )
        .select(LINK_COLUMNS)
        .load(conn)?;
    links.sort_by_key(|l| std::cmp::Reverse((l.linked_at, l.id.0)));
    Ok(PatientRecord { patient, person, links })
}

/// Takes the per-patient advisory lock of every key in `keys` not held yet, in the order given:
/// the key being linked or unlinked first, then its person (the order a new attendance takes
/// them in, migration 2026-12-05-000010). Answers whether it took any. PostgreSQL only: SQLite's
/// `BEGIN IMMEDIATE` holds the whole database already.
fn lock_keys(conn: &mut DbConnection, held: &mut Vec<String>, keys: &[&str]) -> QueryResult<bool> {
    let mut took = false;
    for key in keys {
        if held.iter().any(|k| k == key) {
            continue;
        }
        if let DbConnection::Pg(pg) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('pat-service patient ' || $1, 0))")
                .bind::<Text, _>(*key)
                .execute(pg)?;
        }
        held.push((*key).to_owned());
        took = true;
    }
    Ok(took)
}

/// The registry row of `key`, made now if no attendance brought it yet (the insert of a
/// concurrent first attendance may make it first: then the one it made is read).
pub(super) fn register(conn: &mut DbConnection, key: &str, now: DbTime) -> QueryResult<Patient> {
    let id = DbUuid(uuid::Uuid::now_v7());
    match conn {
        DbConnection::Pg(pg) => diesel::sql_query(
            "INSERT INTO patients (id, key, person_key, created_at) VALUES ($1, $2, $2, $3)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind::<PortableUuid, _>(id)
        .bind::<Text, _>(key)
        .bind::<PortableTime, _>(now)
        .execute(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "INSERT INTO patients (id, key, person_key, created_at) VALUES (?1, ?2, ?2, ?3)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind::<PortableUuid, _>(id)
        .bind::<Text, _>(key)
        .bind::<PortableTime, _>(now)
        .execute(lite)?,
    };
    find_by_key(conn, key)?.ok_or(diesel::result::Error::NotFound)
}

fn link(
    conn: &mut DbConnection,
    id: DbUuid,
    target: &LinkTarget,
    reason: &Reason,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<Changed<PatientRecord>, StoreError> {
    let now = DbTime::new(now);
    let target_field = match target {
        LinkTarget::Trace { .. } => "nhs_number",
        LinkTarget::Merge { .. } => "patient_id",
    };
    // Read both patients, lock the keys of their persons, and read again until what was read is
    // what is locked: a statement after a lock sees every change committed under it.
    let mut held = Vec::new();
    let (patient, other) = loop {
        let patient = find(conn, id)?.ok_or_else(no_patient)?;
        let other = match target {
            LinkTarget::Trace { nhs_number, .. } => register(
                conn,
                &patient_key(Some(nhs_number.as_str()), None, None).unwrap_or_default(),
                now,
            )?,
            LinkTarget::Merge { patient_id } => find(conn, DbUuid(*patient_id))?.ok_or_else(no_link_target)?,
        };
        if !lock_keys(conn, &mut held, &[&patient.person_key, &other.person_key])? {
            break (patient, other);
        }
    };
    if other.id == patient.id {
        return Err(link_to_itself(target_field).into());
    }
    if let Some(existing) = link_in_force(conn, patient.id)? {
        if existing.person_id == other.id {
            let read = AuditEvent::new(actor, Action::Read, "patient", patient.id.0, Some(&patient.key));
            audit::record(conn, &read)?;
            return Ok(Changed::Already(load(conn, patient)?));
        }
        return Err(already_linked().into());
    }
    // Linked to no one, the patient is its own person; its tree of links all carries its key.
    let old = patient.key.clone();
    let person = other.person_key.clone();
    if person == old {
        return Err(same_person().into());
    }
    let (kind, trace_status) = match target {
        LinkTarget::Trace { trace_status, .. } => (LinkKind::Trace, Some((*trace_status).to_owned())),
        LinkTarget::Merge { .. } => (LinkKind::Merge, None),
    };
    let row = Link {
        id: DbUuid(uuid::Uuid::now_v7()),
        patient_id: patient.id,
        person_id: other.id,
        kind: kind.code().to_owned(),
        trace_status,
        reason: reason.as_str().to_owned(),
        linked_at: now,
        linked_by: actor.subject.clone(),
        unlinked_at: None,
        unlinked_by: None,
        unlink_reason: None,
    };
    match diesel::insert_into(patient_links::table).values(&row).execute(conn) {
        Err(e) if is_unique_violation(&e) => return Err(already_linked().into()),
        other => other?,
    };
    diesel::update(patients::table.filter(patients::person_key.eq(&old)))
        .set(patients::person_key.eq(&person))
        .execute(conn)?;
    diesel::update(attendances::table.filter(attendances::patient_key.eq(&old)))
        .set(attendances::patient_key.eq(&person))
        .execute(conn)?;
    recompute_7_day_facts(conn, &person)?;
    for (who, key) in [(patient.id, &patient.key), (other.id, &other.key)] {
        audit::record(
            conn,
            &AuditEvent::new(actor, Action::Update, "patient", who.0, Some(key)),
        )?;
    }
    let patient = find(conn, id)?.ok_or_else(|| StoreError::internal("a linked patient vanished"))?;
    Ok(Changed::Now(load(conn, patient)?))
}

fn unlink(
    conn: &mut DbConnection,
    id: DbUuid,
    link_id: Option<DbUuid>,
    reason: &Reason,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<Changed<PatientRecord>, StoreError> {
    let mut held = Vec::new();
    let patient = loop {
        let patient = find(conn, id)?.ok_or_else(no_patient)?;
        if !lock_keys(conn, &mut held, &[&patient.key, &patient.person_key])? {
            break patient;
        }
    };
    let in_force = link_in_force(conn, patient.id)?;
    let named_and_ended = |conn: &mut DbConnection| -> QueryResult<bool> {
        let ended = patient_links::table
            .filter(patient_links::patient_id.eq(patient.id))
            .filter(patient_links::unlinked_at.is_not_null());
        match link_id {
            Some(link_id) => ended
                .filter(patient_links::id.eq(link_id))
                .count()
                .get_result::<i64>(conn)
                .map(|n| n > 0),
            None => ended.count().get_result::<i64>(conn).map(|n| n > 0),
        }
    };
    let link = match in_force {
        Some(link) if link_id.is_none_or(|named| named == link.id) => link,
        _ if named_and_ended(conn)? => {
            let read = AuditEvent::new(actor, Action::Read, "patient", patient.id.0, Some(&patient.key));
            audit::record(conn, &read)?;
            return Ok(Changed::Already(load(conn, patient)?));
        }
        _ => return Err(not_linked().into()),
    };
    let person = patient.person_key.clone();
    let own = patient.key.clone();
    diesel::update(patient_links::table.find(link.id))
        .set((
            patient_links::unlinked_at.eq(Some(DbTime::new(now))),
            patient_links::unlinked_by.eq(Some(&actor.subject)),
            patient_links::unlink_reason.eq(Some(reason.as_str())),
        ))
        .execute(conn)?;
    // The patient's tree: itself and every patient whose links in force lead to it.
    let mut tree = vec![patient.id];
    let mut frontier = vec![patient.id];
    while !frontier.is_empty() {
        let next: Vec<DbUuid> = patient_links::table
            .filter(patient_links::person_id.eq_any(&frontier))
            .filter(patient_links::unlinked_at.is_null())
            .select(patient_links::patient_id)
            .load(conn)?;
        tree.extend(next.iter().copied());
        frontier = next;
    }
    diesel::update(patients::table.filter(patients::id.eq_any(&tree)))
        .set(patients::person_key.eq(&own))
        .execute(conn)?;
    diesel::update(
        attendances::table
            .filter(attendances::patient_key.eq(&person))
            .filter(attendances::patient_id.eq_any(&tree)),
    )
    .set(attendances::patient_key.eq(&own))
    .execute(conn)?;
    recompute_7_day_facts(conn, &person)?;
    recompute_7_day_facts(conn, &own)?;
    let other = find(conn, link.person_id)?.ok_or_else(|| StoreError::internal("a linked patient vanished"))?;
    for (who, key) in [(patient.id, &patient.key), (other.id, &other.key)] {
        audit::record(
            conn,
            &AuditEvent::new(actor, Action::Update, "patient", who.0, Some(key)),
        )?;
    }
    let patient = find(conn, id)?.ok_or_else(|| StoreError::internal("an unlinked patient vanished"))?;
    Ok(Changed::Now(load(conn, patient)?))
}

/// Sets `unplanned_within_7d` of every attendance of the person `key` by the rule of the 7-day
/// triggers (migration 2026-12-05-000007): whether an unplanned attendance of the same person,
/// not entered in error, falls in (arrival, arrival + 168 h]. The same statements as the
/// triggers', over all the person's attendances instead of the 7 days before a new one.
fn recompute_7_day_facts(conn: &mut DbConnection, key: &str) -> QueryResult<usize> {
    match conn {
        DbConnection::Pg(pg) => diesel::sql_query(
            "UPDATE attendances x
             SET unplanned_within_7d = NOT x.unplanned_within_7d  -- for the rows where it is wrong
             WHERE x.patient_key = $1
               AND x.unplanned_within_7d IS DISTINCT FROM EXISTS (
                       SELECT 1 FROM attendances b
                       WHERE b.patient_key = x.patient_key
                         AND (b.patient_key, b.arrived_at) > (x.patient_key, x.arrived_at)
                         AND (b.patient_key, b.arrived_at) <= (x.patient_key, x.arrived_at + interval '168 hours')
                         AND b.attendance_category = 'unplanned'
                         AND b.entered_in_error_at IS NULL)",
        )
        .bind::<Text, _>(key)
        .execute(pg),
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "UPDATE attendances SET
                 unplanned_within_7d = EXISTS (
                     SELECT 1 FROM attendances b
                     WHERE b.patient_key = attendances.patient_key AND b.attendance_category = 'unplanned'
                       AND b.arrived_at > attendances.arrived_at
                       AND b.arrived_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(attendances.arrived_at, 1, 19), '+7 days')
                                           || substr(attendances.arrived_at, 20)
                       AND b.entered_in_error_at IS NULL)
             WHERE patient_key = ?",
        )
        .bind::<Text, _>(key)
        .execute(lite),
    }
}
