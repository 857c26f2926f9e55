//! Retention (`pat-service purge`): removes the attendances that arrived before a cutoff, with
//! every row that hangs off them, in batches, and records one audit event per run
//! (`docs/domain.md §7` for what the statistics count; README "Retention").
//!
//! What goes, for each attendance arriving before the cutoff: its screenings (every version), its
//! referral with its earlier versions (`referral_versions`), bookings with their earlier outcomes
//! (`booking_outcome_versions`), unmet booking attempts, the booking summary the triggers keep,
//! follow-ups, and the attendance (entered in error or not). Then the patient registry: a group of
//! patients joined by links (in force or undone) none of whom has an attendance left goes, with
//! the links between them; a group with any attendance left stays whole, so the history of a kept
//! person's links stays readable. What stays: audit events (append-only: the database refuses to
//! change them), health workers and slots (not patient data: a slot whose booking went stays as
//! the record of the clinic that was held), and every attendance arriving at or after the cutoff
//! with its rows untouched.
//!
//! Every remaining statistic equals a recomputation from what remains, with no rewrite needed:
//! - the 7-day fact of an attendance looks forward, at the patient's attendances in
//!   `(arrival, arrival + 7 days]`; for a remaining attendance those all arrived after the cutoff
//!   and remain, so no remaining fact changes. (An attendance within 7 days after the cutoff was
//!   the return of a removed one: that fact belonged to the removed attendance and went with it.)
//! - the screening, referral and booking summaries are per attendance: they go with it.
//! - the reports are computed live from the rows that remain: a 12-month cohort straddling the
//!   cutoff takes as index each patient's first remaining positive attendance in the period, and
//!   counts the remaining attendances in its window.
//! - the repeat-attender indication stored on a remaining attendance is not a statistic but what
//!   the nurse was told at the time (as when two patients are linked, `store::patients`): it
//!   stays as recorded.
//!
//! Each batch is one transaction under the locks a new attendance and a link take (PostgreSQL:
//! the per-patient advisory locks, then the attendance rows, their referrals and bookings
//! `FOR UPDATE`; SQLite:
//! `BEGIN IMMEDIATE`), so a purge can run while the service takes attendances, can be stopped at
//! any point, and run again: a second run finds nothing more to remove and records a run that
//! removed nothing. The run's audit event is written after the last batch, in a transaction of
//! its own; a run stopped before it is recorded by the events of the run that finishes the job.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::again_after_deadlock;
use super::audit::{self, AuditEvent};
use super::rows::lock_patient;
use crate::db::schema::{
    attendances, booking_attempts, booking_outcome_versions, booking_summaries, bookings, follow_ups, patient_links,
    patients, referral_versions, referrals, screenings,
};
use crate::db::types::{DbTime, DbUuid};
use crate::db::{write_transaction, DbConnection};

/// Most values bound in one `IN (...)` list: within SQLite's limit on bound parameters whatever
/// the batch size.
const IN_LIST_CHUNK: usize = 4_000;

/// What to purge.
#[derive(Clone, Debug)]
pub struct PurgeRequest {
    /// The London date given: attendances arriving before its midnight go.
    pub before: NaiveDate,
    /// Midnight Europe/London at the start of `before` (`domain::retention::cutoff`).
    pub cutoff: DateTime<Utc>,
    /// Attendances per transaction.
    pub batch_size: usize,
    /// Count what would go; remove nothing and record no audit event.
    pub dry_run: bool,
    /// The operator, for the audit event.
    pub actor: String,
}

/// Rows removed (or, in a dry run, that would be), per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub attendances: u64,
    pub screenings: u64,
    pub referrals: u64,
    pub referral_versions: u64,
    pub bookings: u64,
    pub booking_outcome_versions: u64,
    pub booking_attempts: u64,
    pub booking_summaries: u64,
    pub follow_ups: u64,
    pub patients: u64,
    pub patient_links: u64,
}

impl PurgeCounts {
    /// (table, rows), in the order the tables are reported.
    pub fn rows(&self) -> [(&'static str, u64); 11] {
        [
            ("attendances", self.attendances),
            ("screenings", self.screenings),
            ("referrals", self.referrals),
            ("referral_versions", self.referral_versions),
            ("bookings", self.bookings),
            ("booking_outcome_versions", self.booking_outcome_versions),
            ("booking_attempts", self.booking_attempts),
            ("booking_summaries", self.booking_summaries),
            ("follow_ups", self.follow_ups),
            ("patients", self.patients),
            ("patient_links", self.patient_links),
        ]
    }

    fn add(&mut self, other: &PurgeCounts) {
        self.attendances += other.attendances;
        self.screenings += other.screenings;
        self.referrals += other.referrals;
        self.referral_versions += other.referral_versions;
        self.bookings += other.bookings;
        self.booking_outcome_versions += other.booking_outcome_versions;
        self.booking_attempts += other.booking_attempts;
        self.booking_summaries += other.booking_summaries;
        self.follow_ups += other.follow_ups;
        self.patients += other.patients;
        self.patient_links += other.patient_links;
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct PurgeReport {
    pub counts: PurgeCounts,
    /// Transactions that removed (or counted) attendances.
    pub batches: u64,
    /// The run's audit event (none for a dry run).
    pub audit_event: Option<AuditEvent>,
}

/// Runs the purge on `conn`: batches until no attendance before the cutoff is left (a dry run:
/// counts them all in batches of the same size), then the run's audit event. `now` is when the
/// event is recorded.
pub fn purge(conn: &mut DbConnection, request: &PurgeRequest, now: DateTime<Utc>) -> QueryResult<PurgeReport> {
    let cutoff = DbTime::new(request.cutoff);
    let limit = i64::try_from(request.batch_size).unwrap_or(i64::MAX);
    let mut counts = PurgeCounts::default();
    let mut batches = 0;
    if request.dry_run {
        let mut seen = Seen::default();
        let mut after: Option<(DbTime, DbUuid)> = None;
        loop {
            // A read: no write lock (SQLite's BEGIN IMMEDIATE) for counting.
            let page = conn.transaction(|conn| count_batch(conn, cutoff, limit, after, &mut seen))?;
            let Some((batch, last)) = page else { break };
            counts.add(&batch);
            batches += 1;
            after = Some(last);
        }
        return Ok(PurgeReport {
            counts,
            batches,
            audit_event: None,
        });
    }
    loop {
        // A batch takes the per-patient locks a new attendance of a linked patient takes too.
        let batch = again_after_deadlock(|| write_transaction(conn, |conn| remove_batch(conn, cutoff, limit)))?;
        let Some(batch) = batch else { break };
        counts.add(&batch);
        batches += 1;
    }
    let event = AuditEvent {
        id: DbUuid(uuid::Uuid::now_v7()),
        occurred_at: DbTime::new(now),
        actor: request.actor.clone(),
        // Not a token's roles: an operator with the database's credentials, on the command line.
        roles: String::new(),
        action: "purge".into(),
        resource_type: "attendances".into(),
        resource_id: format!("before {}", request.before),
        patient_key: None,
        request_id: None,
        detail: Some(detail(request, &counts, batches)),
    };
    write_transaction(conn, |conn| audit::record(conn, &event))?;
    Ok(PurgeReport {
        counts,
        batches,
        audit_event: Some(event),
    })
}

/// The audit event's detail: the cutoff, the batching and the rows removed per table (counts
/// only: no identifiers).
fn detail(request: &PurgeRequest, counts: &PurgeCounts, batches: u64) -> String {
    let removed: serde_json::Map<String, serde_json::Value> = counts
        .rows()
        .iter()
        .map(|(table, n)| ((*table).to_owned(), serde_json::Value::from(*n)))
        .collect();
    serde_json::json!({
        "before": request.before.to_string(),
        "cutoff": request.cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "batch_size": request.batch_size,
        "batches": batches,
        "removed": removed,
    })
    .to_string()
}

/// One batch: the first `limit` attendances before the cutoff, under their patients' locks,
/// removed with everything hanging off them, then the patients left with no attendance. `None`
/// when none is left.
fn remove_batch(conn: &mut DbConnection, cutoff: DbTime, limit: i64) -> QueryResult<Option<PurgeCounts>> {
    let candidates: Vec<(DbUuid, String)> = attendances::table
        .filter(attendances::arrived_at.lt(cutoff))
        .order((attendances::arrived_at, attendances::id))
        .limit(limit)
        .select((attendances::id, attendances::patient_key))
        .load(conn)?;
    if candidates.is_empty() {
        return Ok(None);
    }
    // The patients' advisory locks first, then the rows: the order a new attendance and a link
    // take them in. A new attendance locks its own key before its person's (the key its rows
    // carry), so the keys linked to these persons go first, then the persons; each sorted, so two
    // purges take them in one order. (A link made meanwhile can still cross this order: then
    // PostgreSQL fails one side and the batch runs again.)
    let mut persons: Vec<String> = candidates.iter().map(|(_, key)| key.clone()).collect();
    persons.sort_unstable();
    persons.dedup();
    let mut members: Vec<String> = Vec::new();
    for chunk in persons.chunks(IN_LIST_CHUNK) {
        let found: Vec<String> = patients::table
            .filter(patients::person_key.eq_any(chunk))
            .filter(patients::key.ne(patients::person_key))
            .select(patients::key)
            .load(conn)?;
        members.extend(found);
    }
    members.sort_unstable();
    members.dedup();
    let mut locked: HashSet<String> = HashSet::new();
    for key in members.into_iter().chain(persons) {
        if !locked.contains(&key) {
            lock_patient(conn, &key)?;
            locked.insert(key);
        }
    }
    let ids: Vec<DbUuid> = candidates.iter().map(|(id, _)| *id).collect();
    // Read again under the locks: a row a link moved meanwhile, or one removed by another purge,
    // is taken as it is now. `FOR UPDATE` keeps a screening, referral or booking from being
    // added to a row being removed (their foreign keys share-lock it).
    let rows: Vec<(DbUuid, String, DbUuid)> = match conn {
        DbConnection::Pg(pg) => attendances::table
            .filter(attendances::id.eq_any(&ids))
            .filter(attendances::arrived_at.lt(cutoff))
            .order(attendances::id)
            .select((attendances::id, attendances::patient_key, attendances::patient_id))
            .for_update()
            .load(pg)?,
        DbConnection::Sqlite(lite) => attendances::table
            .filter(attendances::id.eq_any(&ids))
            .filter(attendances::arrived_at.lt(cutoff))
            .select((attendances::id, attendances::patient_key, attendances::patient_id))
            .load(lite)?,
    };
    let ids: Vec<DbUuid> = rows.iter().map(|(id, _, _)| *id).collect();
    if let DbConnection::Pg(pg) = conn {
        // A booking or an unmet attempt share-locks its referral, and an outcome updates its
        // booking: locked here, one waits for the purge and then finds its record gone, rather
        // than being added after its siblings were removed and before its parent is.
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            referrals::table
                .filter(referrals::attendance_id.eq_any(chunk))
                .order(referrals::attendance_id)
                .select(referrals::attendance_id)
                .for_update()
                .load::<DbUuid>(pg)?;
            bookings::table
                .filter(bookings::attendance_id.eq_any(chunk))
                .order(bookings::id)
                .select(bookings::id)
                .for_update()
                .load::<DbUuid>(pg)?;
        }
    }
    let mut counts = pathway(conn, &ids, Mode::Remove)?;
    let seed_keys: Vec<String> = rows.iter().map(|(_, key, _)| key.clone()).collect();
    let seed_ids: Vec<DbUuid> = rows.iter().map(|(_, _, patient)| *patient).collect();
    let (patients, links) = retire_patients(conn, &seed_ids, &seed_keys, Liveness::Remaining { locked })?;
    counts.patients = patients;
    counts.patient_links = links;
    Ok(Some(counts))
}

/// A dry run's batch: the next `limit` attendances before the cutoff after `after`, and what
/// removing them would remove. `None` when none is left; else the counts and the last row read.
fn count_batch(
    conn: &mut DbConnection,
    cutoff: DbTime,
    limit: i64,
    after: Option<(DbTime, DbUuid)>,
    seen: &mut Seen,
) -> QueryResult<Option<(PurgeCounts, (DbTime, DbUuid))>> {
    let mut query = attendances::table
        .filter(attendances::arrived_at.lt(cutoff))
        .order((attendances::arrived_at, attendances::id))
        .limit(limit)
        .select((
            attendances::id,
            attendances::patient_key,
            attendances::patient_id,
            attendances::arrived_at,
        ))
        .into_boxed();
    if let Some((t, id)) = after {
        query = query.filter(
            attendances::arrived_at
                .gt(t)
                .or(attendances::arrived_at.eq(t).and(attendances::id.gt(id))),
        );
    }
    let rows: Vec<(DbUuid, String, DbUuid, DbTime)> = query.load(conn)?;
    let Some(&(last_id, _, _, last_at)) = rows.last() else {
        return Ok(None);
    };
    let ids: Vec<DbUuid> = rows.iter().map(|(id, _, _, _)| *id).collect();
    let mut counts = pathway(conn, &ids, Mode::Count)?;
    let seed_keys: Vec<String> = rows.iter().map(|(_, key, _, _)| key.clone()).collect();
    let seed_ids: Vec<DbUuid> = rows.iter().map(|(_, _, patient, _)| *patient).collect();
    let (patients, links) = retire_patients(conn, &seed_ids, &seed_keys, Liveness::AsIfPurged { cutoff, seen })?;
    counts.patients = patients;
    counts.patient_links = links;
    Ok(Some((counts, (last_at, last_id))))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Count,
    Remove,
}

/// Counts, or deletes, the rows of the query's table it selects; the rows either way.
macro_rules! count_or_delete {
    ($conn:expr, $mode:expr, $query:expr) => {
        match $mode {
            Mode::Count => $query.count().get_result::<i64>($conn).map(|n| n.unsigned_abs())?,
            Mode::Remove => diesel::delete($query).execute($conn).map(|n| n as u64)?,
        }
    };
}

/// The attendances `ids` and every row that hangs off them, children first (the foreign keys
/// refuse a parent removed before its children).
fn pathway(conn: &mut DbConnection, ids: &[DbUuid], mode: Mode) -> QueryResult<PurgeCounts> {
    let mut counts = PurgeCounts::default();
    for ids in ids.chunks(IN_LIST_CHUNK) {
        let booking_ids: Vec<DbUuid> = bookings::table
            .filter(bookings::attendance_id.eq_any(ids))
            .select(bookings::id)
            .load(conn)?;
        for booking_ids in booking_ids.chunks(IN_LIST_CHUNK) {
            counts.booking_outcome_versions += count_or_delete!(
                conn,
                mode,
                booking_outcome_versions::table.filter(booking_outcome_versions::booking_id.eq_any(booking_ids))
            );
        }
        counts.bookings += count_or_delete!(conn, mode, bookings::table.filter(bookings::attendance_id.eq_any(ids)));
        counts.booking_attempts += count_or_delete!(
            conn,
            mode,
            booking_attempts::table.filter(booking_attempts::attendance_id.eq_any(ids))
        );
        counts.booking_summaries += count_or_delete!(
            conn,
            mode,
            booking_summaries::table.filter(booking_summaries::attendance_id.eq_any(ids))
        );
        counts.referral_versions += count_or_delete!(
            conn,
            mode,
            referral_versions::table.filter(referral_versions::attendance_id.eq_any(ids))
        );
        counts.referrals += count_or_delete!(
            conn,
            mode,
            referrals::table.filter(referrals::attendance_id.eq_any(ids))
        );
        counts.follow_ups += count_or_delete!(
            conn,
            mode,
            follow_ups::table.filter(follow_ups::attendance_id.eq_any(ids))
        );
        counts.screenings += count_or_delete!(
            conn,
            mode,
            screenings::table.filter(screenings::attendance_id.eq_any(ids))
        );
        counts.attendances += count_or_delete!(conn, mode, attendances::table.filter(attendances::id.eq_any(ids)));
    }
    Ok(counts)
}

/// The patients and links a dry run has counted already (a patient of several batches is counted
/// once, in the first).
#[derive(Default)]
struct Seen {
    patients: HashSet<DbUuid>,
    links: HashSet<DbUuid>,
}

/// Which patients still have a record.
enum Liveness<'a> {
    /// Those with an attendance in the database (a real run, after the batch's removals); the
    /// keys whose advisory locks the transaction holds already.
    Remaining { locked: HashSet<String> },
    /// Those with an attendance arriving at or after the cutoff (a dry run).
    AsIfPurged { cutoff: DbTime, seen: &'a mut Seen },
}

/// The patients of the registry rows `seed_ids` and the keys `seed_keys` (the batch's
/// attendances', as they arrived and as the person they belong to now), with every patient joined
/// to them by a link, in force or undone: each group joined by links none of whose keys has an
/// attendance left goes, with its links. Answers (patients, links) removed (or counted).
///
/// A real run takes the advisory lock of every key in the groups (a new attendance of one of
/// them, or a link to one, waits), then reads the groups again, until no new key turns up: so no
/// attendance or link can join a group between the check and the removal.
fn retire_patients(
    conn: &mut DbConnection,
    seed_ids: &[DbUuid],
    seed_keys: &[String],
    mut liveness: Liveness<'_>,
) -> QueryResult<(u64, u64)> {
    let mut members: HashMap<DbUuid, String> = HashMap::new();
    for chunk in seed_ids.chunks(IN_LIST_CHUNK) {
        let rows: Vec<(DbUuid, String)> = patients::table
            .filter(patients::id.eq_any(chunk))
            .select((patients::id, patients::key))
            .load(conn)?;
        members.extend(rows);
    }
    for chunk in seed_keys.chunks(IN_LIST_CHUNK) {
        let rows: Vec<(DbUuid, String)> = patients::table
            .filter(patients::key.eq_any(chunk))
            .select((patients::id, patients::key))
            .load(conn)?;
        members.extend(rows);
    }
    let mut links: HashMap<DbUuid, (DbUuid, DbUuid)> = HashMap::new();
    loop {
        close_over_links(conn, &mut members, &mut links)?;
        let Liveness::Remaining { locked } = &mut liveness else {
            break;
        };
        let mut keys: Vec<String> = members.values().filter(|k| !locked.contains(*k)).cloned().collect();
        if keys.is_empty() {
            break;
        }
        keys.sort_unstable();
        for key in keys {
            lock_patient(conn, &key)?;
            locked.insert(key);
        }
    }
    // Keys with an attendance left.
    let keys: Vec<String> = members.values().cloned().collect();
    let mut live: HashSet<String> = HashSet::new();
    for chunk in keys.chunks(IN_LIST_CHUNK) {
        let query = attendances::table
            .filter(attendances::patient_key.eq_any(chunk))
            .select(attendances::patient_key)
            .distinct();
        let found: Vec<String> = match &liveness {
            Liveness::Remaining { .. } => query.load(conn)?,
            Liveness::AsIfPurged { cutoff, .. } => query.filter(attendances::arrived_at.ge(*cutoff)).load(conn)?,
        };
        live.extend(found);
    }
    // The groups: patients joined by links (union-find).
    let mut parent: HashMap<DbUuid, DbUuid> = members.keys().map(|id| (*id, *id)).collect();
    fn root(parent: &HashMap<DbUuid, DbUuid>, mut id: DbUuid) -> DbUuid {
        while let Some(&up) = parent.get(&id) {
            if up == id {
                break;
            }
            id = up;
        }
        id
    }
    for (a, b) in links.values() {
        let (ra, rb) = (root(&parent, *a), root(&parent, *b));
        if ra != rb {
            parent.insert(ra, rb);
        }
    }
    let live_groups: HashSet<DbUuid> = members
        .iter()
        .filter(|(_, key)| live.contains(*key))
        .map(|(id, _)| root(&parent, *id))
        .collect();
    let mut gone: Vec<DbUuid> = members
        .keys()
        .filter(|id| !live_groups.contains(&root(&parent, **id)))
        .copied()
        .collect();
    gone.sort_unstable();
    let gone_set: HashSet<DbUuid> = gone.iter().copied().collect();
    let mut gone_links: Vec<DbUuid> = links
        .iter()
        .filter(|(_, (a, b))| gone_set.contains(a) || gone_set.contains(b))
        .map(|(id, _)| *id)
        .collect();
    gone_links.sort_unstable();
    match liveness {
        Liveness::AsIfPurged { seen, .. } => {
            let patients = gone.into_iter().filter(|id| seen.patients.insert(*id)).count();
            let links = gone_links.into_iter().filter(|id| seen.links.insert(*id)).count();
            Ok((patients as u64, links as u64))
        }
        Liveness::Remaining { .. } => {
            let mut removed = (0, 0);
            for chunk in gone_links.chunks(IN_LIST_CHUNK) {
                removed.1 +=
                    diesel::delete(patient_links::table.filter(patient_links::id.eq_any(chunk))).execute(conn)? as u64;
            }
            for chunk in gone.chunks(IN_LIST_CHUNK) {
                removed.0 += diesel::delete(patients::table.filter(patients::id.eq_any(chunk))).execute(conn)? as u64;
            }
            Ok(removed)
        }
    }
}

/// Adds to `members` every patient joined to one of them by a link (in force or undone), and the
/// links to `links`, until none is new.
fn close_over_links(
    conn: &mut DbConnection,
    members: &mut HashMap<DbUuid, String>,
    links: &mut HashMap<DbUuid, (DbUuid, DbUuid)>,
) -> QueryResult<()> {
    let mut frontier: Vec<DbUuid> = members.keys().copied().collect();
    while !frontier.is_empty() {
        let mut new: Vec<DbUuid> = Vec::new();
        for chunk in frontier.chunks(IN_LIST_CHUNK / 2) {
            let found: Vec<(DbUuid, DbUuid, DbUuid)> = patient_links::table
                .filter(
                    patient_links::patient_id
                        .eq_any(chunk)
                        .or(patient_links::person_id.eq_any(chunk)),
                )
                .select((patient_links::id, patient_links::patient_id, patient_links::person_id))
                .load(conn)?;
            for (id, a, b) in found {
                links.insert(id, (a, b));
                for end in [a, b] {
                    if !members.contains_key(&end) {
                        new.push(end);
                    }
                }
            }
        }
        new.sort_unstable();
        new.dedup();
        let mut next = Vec::with_capacity(new.len());
        for chunk in new.chunks(IN_LIST_CHUNK) {
            let rows: Vec<(DbUuid, String)> = patients::table
                .filter(patients::id.eq_any(chunk))
                .select((patients::id, patients::key))
                .load(conn)?;
            for (id, key) in rows {
                members.insert(id, key);
                next.push(id);
            }
        }
        frontier = next;
    }
    Ok(())
}
