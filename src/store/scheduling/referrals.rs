//! Referral decisions: the patient's answer to the AHW offer after a positive PAT, one per
//! attendance (its primary key). A decision stands on the screening result it was made for, and
//! changes only while no booking holds a slot for it. A change is a correction: a new version,
//! with who, when and why, in the row (which the statistics read); the version it replaces is
//! copied to `referral_versions` in the same transaction, whose key (attendance, version) refuses
//! a second copy of the same version.
//!
//! Locks, in this order: the attendance row (a screening correction takes the same lock, so the
//! two take turns and neither misses the other), then the referral row (a booking being made for
//! the referral share-locks it, so a change waits for the booking and then sees it).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{bookings, referral_versions, referrals};
use crate::db::types::{DbTime, DbUuid};
use crate::db::{write_transaction, DbConnection};
use crate::domain::attendance::{attendance_entered_in_error, no_attendance};
use crate::domain::scheduling::{
    decision_change_allowed, decision_time, reason_required, referral_allowed, unknown_health_worker, BookingStatus,
    ReferralDecision, SeenInDepartment,
};
use crate::domain::Reason;
use crate::domain::Refusal;
use crate::store::audit::{self, Action, AuditEvent};
use crate::store::rows::{find_with_current_screening, lock_attendance};
use crate::store::{refused_if_unique, Actor, Store, StoreError};

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = referrals)]
pub struct Referral {
    pub attendance_id: DbUuid,
    pub decision: ReferralDecision,
    pub decided_at: DbTime,
    pub recorded_at: DbTime,
    pub recorded_by: String,
    /// 1 for the first decision; each correction adds one.
    pub version: i32,
    /// Why this version corrected the one before (none for the first).
    pub correction_reason: Option<String>,
    /// Seen in the department only (all three, or none on a decision recorded before they were
    /// asked for): the AHW, whether the brief intervention was delivered, units a week.
    pub health_worker_id: Option<DbUuid>,
    pub brief_intervention_delivered: Option<bool>,
    pub units_per_week: Option<f64>,
}

columns!(pub(super) COLUMNS: Columns = referrals { attendance_id, decision, decided_at, recorded_at, recorded_by, version, correction_reason, health_worker_id, brief_intervention_delivered, units_per_week });

/// An earlier version of a referral decision, as it was recorded. (The same columns as
/// `Referral`: a column added to the decision is added here and copied in `From<&Referral>`.)
#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = referral_versions)]
pub struct ReferralVersion {
    pub attendance_id: DbUuid,
    pub version: i32,
    pub decision: ReferralDecision,
    pub decided_at: DbTime,
    pub recorded_at: DbTime,
    pub recorded_by: String,
    pub correction_reason: Option<String>,
    pub health_worker_id: Option<DbUuid>,
    pub brief_intervention_delivered: Option<bool>,
    pub units_per_week: Option<f64>,
}

columns!(VERSION_COLUMNS: VersionColumns = referral_versions { attendance_id, version, decision, decided_at, recorded_at, recorded_by, correction_reason, health_worker_id, brief_intervention_delivered, units_per_week });

impl From<&Referral> for ReferralVersion {
    fn from(row: &Referral) -> ReferralVersion {
        ReferralVersion {
            attendance_id: row.attendance_id,
            version: row.version,
            decision: row.decision,
            decided_at: row.decided_at,
            recorded_at: row.recorded_at,
            recorded_by: row.recorded_by.clone(),
            correction_reason: row.correction_reason.clone(),
            health_worker_id: row.health_worker_id,
            brief_intervention_delivered: row.brief_intervention_delivered,
            units_per_week: row.units_per_week,
        }
    }
}

/// A referral decision with its earlier versions, newest first.
#[derive(Clone, Debug)]
pub struct ReferralHistory {
    pub current: Referral,
    pub earlier: Vec<ReferralVersion>,
}

/// A decision as the request gives it: the decision with its seen-in-department details, when the
/// patient decided (default: when recorded), and why, when it corrects the recorded one.
#[derive(Clone, Debug)]
pub struct NewDecision {
    pub decision: ReferralDecision,
    pub details: Option<SeenInDepartment>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: Option<Reason>,
}

/// What recording a decision did.
#[derive(Debug)]
pub enum ReferralRecorded {
    /// The first decision for the attendance.
    Created(ReferralHistory),
    /// A correction: a different decision, or the same one at another time, is the new version;
    /// the earlier ones are kept.
    Corrected(ReferralHistory),
    /// The stored decision was sent again: it is answered again.
    Replay(ReferralHistory),
}

/// The referrals store.
pub struct Referrals<'a> {
    store: &'a Store,
}

impl<'a> Referrals<'a> {
    pub(in crate::store) fn new(store: &'a Store) -> Self {
        Referrals { store }
    }

    /// Records the patient's `decision` on the AHW offer for the attendance `id`, made at
    /// `decided_at` (default `now`, the time of recording), with its audit event.
    ///
    /// In docs/design.md §4's order: no such attendance (404); no completed positive PAT (409); the
    /// same decision again (with the same details) is a replay (an audited read); a different
    /// decision while a booking holds a slot (409); a correction (another decision, time or
    /// details) without a `reason` (422); a time before the screening or in the future (422); a
    /// `health_worker_id` not on the register (422, refused by the foreign key).
    ///
    /// One `BEGIN IMMEDIATE` transaction (SQLite) or transaction holding the attendance's and the
    /// referral's row locks (PostgreSQL). Two first decisions at once: the primary key lets one
    /// in; the other goes again and finds it.
    #[tracing::instrument(name = "store.referrals.record", skip_all, fields(attempts))]
    pub async fn record(
        &self,
        id: uuid::Uuid,
        new: NewDecision,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<ReferralRecorded, StoreError> {
        let id = DbUuid(id);
        let actor = actor.clone();
        // This span, recorded from the blocking thread the work runs on.
        let span = tracing::Span::current();
        self.store
            .run(move |conn| {
                let mut attempt = |n: usize| {
                    span.record("attempts", n);
                    write_transaction(conn, |conn| record_once(conn, id, &new, now, &actor))
                };
                match attempt(1) {
                    Err(StoreError::Refused(Refusal::Conflict { kind: RACED, .. })) => attempt(2),
                    other => other,
                }
            })
            .await
    }
}

/// The kind of the answer when a first decision lost the race to another: the first attempt goes
/// again; losing twice answers it (as a unique violation was answered before the stores).
const RACED: &str = "conflict";

fn raced() -> Refusal {
    Refusal::conflict(RACED, "the change conflicts with a record that already exists")
}

fn record_once(
    conn: &mut DbConnection,
    id: DbUuid,
    new: &NewDecision,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<ReferralRecorded, StoreError> {
    let (decision, details, decided_at, reason) = (new.decision, new.details, new.decided_at, new.reason.as_ref());
    // Take turns with a screening correction of the same attendance, so neither misses the other
    // (a decision stands on the result it was made for).
    lock_attendance(conn, id)?;
    let (attendance, current) = find_with_current_screening(conn, id)?.ok_or_else(no_attendance)?;
    if attendance.entered_in_error_at.is_some() {
        return Err(attendance_entered_in_error().into());
    }
    referral_allowed(current.as_ref().map(|s| (s.status, s.result)))?;
    let screened_at = current
        .map(|s| s.screened_at)
        .ok_or_else(|| StoreError::internal("a referral allowed without a screening"))?;
    let decided = decided_at.unwrap_or(now);
    // Locked: a booking being made for this referral finishes first, and is seen.
    let existing = find_for_update(conn, id)?;
    let row = Referral {
        attendance_id: id,
        decision,
        decided_at: DbTime::new(decided),
        recorded_at: DbTime::new(now),
        recorded_by: actor.subject.clone(),
        version: existing.as_ref().map_or(1, |stored| stored.version + 1),
        // A reason on a first decision corrects nothing: not kept.
        correction_reason: existing.as_ref().and(reason).map(|r| r.as_str().to_owned()),
        health_worker_id: details.map(|d| DbUuid(d.health_worker_id)),
        brief_intervention_delivered: details.map(|d| d.brief_intervention_delivered),
        units_per_week: details.map(|d| d.units_per_week),
    };
    let key = Some(attendance.patient_key.as_str());
    if let Some(stored) = &existing {
        let same = stored.decision == row.decision
            && decided_at.is_none_or(|_| stored.decided_at == row.decided_at)
            && stored.health_worker_id == row.health_worker_id
            && stored.brief_intervention_delivered == row.brief_intervention_delivered
            && stored.units_per_week == row.units_per_week;
        if same {
            audit::record(conn, &AuditEvent::new(actor, Action::Read, "referral", id.0, key))?;
            let earlier = versions(conn, id)?;
            return Ok(ReferralRecorded::Replay(ReferralHistory {
                current: stored.clone(),
                earlier,
            }));
        }
        decision_change_allowed(
            stored.decision,
            row.decision,
            has_booking(conn, id, &BookingStatus::HOLDING_A_SLOT)?,
        )?;
        if reason.is_none() {
            return Err(reason_required("reason", "decision").into());
        }
    }
    decision_time(decided, screened_at.get(), now)?;
    if let Some(stored) = existing {
        // The version replaced is kept; its key refuses a second copy (a correction that read the
        // same version, had the locks not made it wait).
        diesel::insert_into(referral_versions::table)
            .values(ReferralVersion::from(&stored))
            .execute(conn)
            .map_err(refused_if_unique(raced))?;
        if !update(conn, &row, stored.version).map_err(refused_if_unknown_health_worker)? {
            return Err(raced().into());
        }
        let event = AuditEvent::new(actor, Action::Correct, "referral", id.0, key)
            .with_detail(format!("version {}", row.version));
        audit::record(conn, &event)?;
        let earlier = versions(conn, id)?;
        Ok(ReferralRecorded::Corrected(ReferralHistory { current: row, earlier }))
    } else {
        diesel::insert_into(referrals::table)
            .values(&row)
            .execute(conn)
            .map_err(|error| match is_foreign_key_violation(&error) {
                true => refused_if_unknown_health_worker(error),
                false => refused_if_unique(raced)(error),
            })?;
        audit::record(conn, &AuditEvent::new(actor, Action::Create, "referral", id.0, key))?;
        Ok(ReferralRecorded::Created(ReferralHistory {
            current: row,
            earlier: vec![],
        }))
    }
}

/// The earlier versions of the attendance's referral decision, newest first.
pub fn versions(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Vec<ReferralVersion>> {
    referral_versions::table
        .filter(referral_versions::attendance_id.eq(attendance_id))
        .select(VERSION_COLUMNS)
        .order(referral_versions::version.desc())
        .load(conn)
}

/// The attendance's referral decision, if one is recorded.
pub fn find(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Option<Referral>> {
    referrals::table
        .find(attendance_id)
        .select(COLUMNS)
        .first(conn)
        .optional()
}

/// The referral, locked until the transaction ends (PostgreSQL `FOR UPDATE`): a booking being
/// made for it holds a share lock on the same row, so a decision change waits for it and then
/// sees the booking.
fn find_for_update(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<Option<Referral>> {
    match conn {
        DbConnection::Pg(pg) => referrals::table
            .find(attendance_id)
            .select(COLUMNS)
            .for_update()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(_) => find(conn, attendance_id),
    }
}

/// Whether the referral has a booking in one of `statuses`. (Read here, not through the bookings
/// store, which depends on this one.)
pub(in crate::store) fn has_booking(
    conn: &mut DbConnection,
    attendance_id: DbUuid,
    statuses: &[BookingStatus],
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        bookings::table
            .filter(bookings::attendance_id.eq(attendance_id))
            .filter(bookings::status.eq_any(statuses)),
    ))
    .get_result(conn)
}

/// Whether the referral's attendance was marked entered-in-error (false without a referral).
pub(in crate::store) fn marked_in_error(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<bool> {
    referrals::table
        .find(attendance_id)
        .select(referrals::entered_in_error)
        .first(conn)
        .optional()
        .map(|marked| marked.unwrap_or(false))
}

/// Marks the attendance's referral, if it has one, entered-in-error: from then on no booking is
/// made for it (a booking's insert share-locks the referral and books only while unmarked, so one
/// made at the same moment waits for this and then finds the mark).
pub(in crate::store) fn mark_in_error(conn: &mut DbConnection, attendance_id: DbUuid) -> QueryResult<()> {
    diesel::update(referrals::table.find(attendance_id))
        .set(referrals::entered_in_error.eq(true))
        .execute(conn)
        .map(|_| ())
}

/// Writes `row` over the stored decision while it is still version `replaced`. `Ok(false)`: it no
/// longer is, and nothing was written.
fn update(conn: &mut DbConnection, row: &Referral, replaced: i32) -> QueryResult<bool> {
    diesel::update(
        referrals::table
            .find(row.attendance_id)
            .filter(referrals::version.eq(replaced)),
    )
    .set((
        referrals::decision.eq(row.decision),
        referrals::decided_at.eq(row.decided_at),
        referrals::recorded_at.eq(row.recorded_at),
        referrals::recorded_by.eq(&row.recorded_by),
        referrals::version.eq(row.version),
        referrals::correction_reason.eq(&row.correction_reason),
        referrals::health_worker_id.eq(row.health_worker_id),
        referrals::brief_intervention_delivered.eq(row.brief_intervention_delivered),
        referrals::units_per_week.eq(row.units_per_week),
    ))
    .execute(conn)
    .map(|changed| changed > 0)
}

/// Whether a failed write broke a foreign key: the only one a decision can break is its
/// `health_worker_id` (the attendance is locked and exists).
fn is_foreign_key_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::ForeignKeyViolation, _)
    )
}

/// A write refused for a `health_worker_id` not on the register is that refusal (422); any other
/// failure is the database's.
fn refused_if_unknown_health_worker(error: diesel::result::Error) -> StoreError {
    if is_foreign_key_violation(&error) {
        unknown_health_worker().into()
    } else {
        error.into()
    }
}

/// An accepted referral waiting for a booking, with its attendance and current screening.
#[derive(Clone, Debug)]
pub struct QueuedReferral {
    pub referral: Referral,
    pub attendance: crate::store::rows::Attendance,
    pub screening: Option<crate::store::rows::Screening>,
}

impl<'a> Referrals<'a> {
    /// The referral queue: accepted referrals whose attendance is not entered in error and that
    /// hold no booking other than cancelled ones, oldest decision first, at most `limit`. Each
    /// referral read is an audit event (they carry patient identifiers), written with the read.
    #[tracing::instrument(name = "store.referrals.queue", skip_all, fields(count))]
    pub async fn queue(&self, limit: i64, actor: &Actor) -> Result<Vec<QueuedReferral>, StoreError> {
        let actor = actor.clone();
        let queued = self
            .store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    use crate::db::schema::attendances;
                    let live_booking = bookings::table
                        .filter(bookings::attendance_id.eq(referrals::attendance_id))
                        .filter(bookings::status.ne("cancelled"));
                    let waiting: Vec<Referral> = referrals::table
                        .inner_join(attendances::table)
                        .filter(referrals::decision.eq(ReferralDecision::Accepted))
                        .filter(attendances::entered_in_error_at.is_null())
                        .filter(diesel::dsl::not(diesel::dsl::exists(live_booking)))
                        .order((referrals::decided_at.asc(), referrals::attendance_id.asc()))
                        .limit(limit)
                        .select(COLUMNS)
                        .load(conn)?;
                    let ids: Vec<DbUuid> = waiting.iter().map(|r| r.attendance_id).collect();
                    let mut found = crate::store::rows::find_many_with_current_screening(conn, &ids)?;
                    let mut queued = Vec::with_capacity(waiting.len());
                    let mut events = Vec::with_capacity(waiting.len());
                    for referral in waiting {
                        let Some((attendance, screening)) = found.remove(&referral.attendance_id) else {
                            continue;
                        };
                        events.push(AuditEvent::new(
                            &actor,
                            Action::Read,
                            "referral",
                            referral.attendance_id.0,
                            Some(&attendance.patient_key),
                        ));
                        queued.push(QueuedReferral {
                            referral,
                            attendance,
                            screening,
                        });
                    }
                    audit::record_all(conn, &events)?;
                    Ok::<_, StoreError>(queued)
                })
            })
            .await?;
        tracing::Span::current().record("count", queued.len());
        Ok(queued)
    }
}
