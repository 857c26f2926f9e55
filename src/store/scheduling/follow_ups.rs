//! Follow-ups: the 6- and 12-month contacts of a referred patient, one each per attendance
//! (`follow_ups_once`), and the worklist of those due and not yet made.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Double, Nullable, Text};

use super::referrals;
use crate::db::schema::{attendances, follow_ups};
use crate::db::types::{DbTime, DbUuid, PortableTime, PortableUuid};
use crate::db::{write_transaction, DbConnection};
use crate::domain::attendance::{attendance_entered_in_error, no_attendance};
use crate::domain::calendar::london_date;
use crate::domain::scheduling::{
    follow_up_allowed, follow_up_due_date, follow_up_recorded_meanwhile, follow_ups_due_by, AhwContact,
    FollowUpContact, FOLLOW_UP_MONTHS,
};
use crate::store::audit::{self, Action, AuditEvent};
use crate::store::rows::{find_attendance, lock_attendance, Attendance, ATTENDANCE_COLUMNS};
use crate::store::{refused_if_unique, Actor, Recorded, Store, StoreError};

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

columns!(COLUMNS: Columns = follow_ups { id, attendance_id, months, units_per_week, contacted_at, recorded_at, recorded_by });

impl FollowUp {
    /// A retry of this stored contact: the same units, and the same time when one is given.
    fn same_as(&self, contact: &FollowUp, contacted_at_given: bool) -> bool {
        self.units_per_week == contact.units_per_week
            && (!contacted_at_given || self.contacted_at == contact.contacted_at)
    }
}

/// The follow-ups store.
pub struct FollowUps<'a> {
    store: &'a Store,
}

impl<'a> FollowUps<'a> {
    pub(in crate::store) fn new(store: &'a Store) -> Self {
        FollowUps { store }
    }

    /// Records the follow-up `contact` of the attendance `id` at `now`, with its audit event.
    /// No such attendance is a 404, a patient not referred a 409 (`not-referred`), an attendance
    /// entered in error a 409 (`entered-in-error`, except a replay). The same
    /// contact again is a `Replay` (an audited read); different content for the same months a
    /// `Clash`; the same months recorded by another request at the same moment a 409
    /// (`follow-up-exists`).
    #[tracing::instrument(name = "store.follow_ups.record", skip_all, fields(months = contact.months, created))]
    pub async fn record(
        &self,
        id: uuid::Uuid,
        contact: FollowUpContact,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Recorded<FollowUp>, StoreError> {
        let id = DbUuid(id);
        let row = FollowUp {
            id: DbUuid(uuid::Uuid::now_v7()),
            attendance_id: id,
            months: contact.months,
            units_per_week: contact.units_per_week,
            contacted_at: DbTime::new(contact.contacted_at),
            recorded_at: DbTime::new(now),
            recorded_by: actor.subject.clone(),
        };
        let contacted_at_given = contact.contacted_at_given;
        let actor = actor.clone();
        let recorded = self
            .store
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // Locked as a mark entered-in-error locks it: one of the two sees the other.
                    lock_attendance(conn, id)?;
                    let attendance = find_attendance(conn, id)?.ok_or_else(no_attendance)?;
                    follow_up_allowed(referrals::find(conn, id)?.map(|r| r.decision))?;
                    let key = Some(attendance.patient_key.as_str());
                    if let Some(stored) = find(conn, id, row.months)? {
                        if !stored.same_as(&row, contacted_at_given) {
                            return Ok(Recorded::Clash);
                        }
                        audit::record(
                            conn,
                            &AuditEvent::new(&actor, Action::Read, "follow_up", stored.id.0, key),
                        )?;
                        return Ok(Recorded::Replay(stored));
                    }
                    if attendance.entered_in_error_at.is_some() {
                        return Err(attendance_entered_in_error().into());
                    }
                    diesel::insert_into(follow_ups::table)
                        .values(&row)
                        .execute(conn)
                        .map_err(refused_if_unique(follow_up_recorded_meanwhile))?;
                    audit::record(
                        conn,
                        &AuditEvent::new(&actor, Action::Create, "follow_up", row.id.0, key),
                    )?;
                    Ok(Recorded::Created(row.clone()))
                })
            })
            .await?;
        tracing::Span::current().record("created", matches!(recorded, Recorded::Created(_)));
        Ok(recorded)
    }
}

/// The AHW contacts (docs/domain.md §6), one per attendance at most, as a CTE for the follow-up
/// worklist and the outcomes report:
/// `ahw_contacts (attendance_id, contact, contact_at, health_worker_id, brief_intervention_delivered,
/// units_per_week)`.
///
/// - `seen_in_department`: the referral decision is `seen_in_department`; the contact is its
///   `decided_at`, with the details recorded with the decision (all null on a decision recorded
///   before they were asked for).
/// - `attended_appointment`: the referral's first attended booking by slot start (a referral with
///   an attended booking stays `accepted`: a booking holding a slot stops the decision changing);
///   the contact is the slot's start, with the outcome's brief intervention and units.
pub(crate) const AHW_CONTACTS: &str = "ahw_contacts (attendance_id, contact, contact_at, health_worker_id,
         brief_intervention_delivered, units_per_week) AS (
     SELECT r.attendance_id, 'seen_in_department', r.decided_at, r.health_worker_id,
            r.brief_intervention_delivered, r.units_per_week
     FROM referrals r
     WHERE r.decision = 'seen_in_department'
     UNION ALL
     SELECT x.attendance_id, 'attended_appointment', x.starts_at, x.health_worker_id,
            x.brief_intervention_delivered, x.units_per_week
     FROM (SELECT b.attendance_id, s.starts_at, s.health_worker_id, b.brief_intervention_delivered,
                  b.units_per_week,
                  row_number() OVER (PARTITION BY b.attendance_id ORDER BY s.starts_at, b.id) AS n
           FROM bookings b JOIN slots s ON s.id = b.slot_id
           WHERE b.status = 'attended') x
     WHERE x.n = 1)";

/// A follow-up contact due and not yet recorded: the AHW contact it follows, and the patient.
#[derive(Clone, Debug)]
pub struct DueFollowUp {
    pub attendance: Attendance,
    /// 6 or 12.
    pub months: u32,
    pub contact: AhwContact,
    pub contact_at: DateTime<Utc>,
    /// The AHW of the contact (none on a `seen_in_department` recorded before it was asked for).
    pub health_worker_id: Option<uuid::Uuid>,
    /// Units a week at the contact, when recorded.
    pub units_per_week: Option<f64>,
}

/// One row of the worklist query.
#[derive(QueryableByName, Clone, Debug)]
struct DueRow {
    #[diesel(sql_type = PortableUuid)]
    attendance_id: DbUuid,
    #[diesel(sql_type = Text)]
    contact: AhwContact,
    #[diesel(sql_type = PortableTime)]
    contact_at: DbTime,
    #[diesel(sql_type = Nullable<PortableUuid>)]
    health_worker_id: Option<DbUuid>,
    #[diesel(sql_type = Nullable<Double>)]
    units_per_week: Option<f64>,
}

impl FollowUps<'_> {
    /// The 6- and 12-month follow-ups due on or before the Europe/London date `due_by` and not yet
    /// recorded, oldest first (by due date, then contact time, months, attendance), at most
    /// `limit` of them, each with its patient; every attendance listed is an audited read, written
    /// with the read.
    #[tracing::instrument(name = "store.follow_ups.due", skip_all, fields(limit, count))]
    pub async fn due(
        &self,
        due_by: chrono::NaiveDate,
        limit: i64,
        actor: &Actor,
    ) -> Result<Vec<DueFollowUp>, StoreError> {
        tracing::Span::current().record("limit", limit);
        let actor = actor.clone();
        let due = self
            .store
            .run(move |conn| write_transaction(conn, |conn| read_due(conn, due_by, limit, &actor)))
            .await?;
        tracing::Span::current().record("count", due.len());
        Ok(due)
    }
}

/// The worklist (see [`FollowUps::due`]): each list (6, 12 months) by contact time, at most
/// `limit` rows each — within one list contact time orders the due dates too — then merged by
/// due date and cut to `limit`.
fn read_due(
    conn: &mut DbConnection,
    due_by: chrono::NaiveDate,
    limit: i64,
    actor: &Actor,
) -> Result<Vec<DueFollowUp>, StoreError> {
    let mut rows: Vec<(u32, DueRow)> = Vec::new();
    for months in FOLLOW_UP_MONTHS {
        let before = DbTime::new(follow_ups_due_by(due_by, months));
        rows.extend(
            due_rows(conn, months, before, limit)?
                .into_iter()
                .map(|row| (months, row)),
        );
    }
    rows.sort_by_key(|(months, row)| {
        let due = follow_up_due_date(london_date(row.contact_at.get()), *months);
        (due, row.contact_at.get(), *months, row.attendance_id.0)
    });
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let ids: Vec<DbUuid> = rows.iter().map(|(_, row)| row.attendance_id).collect();
    let patients: std::collections::HashMap<DbUuid, Attendance> = attendances::table
        .filter(attendances::id.eq_any(&ids))
        .select(ATTENDANCE_COLUMNS)
        .load::<Attendance>(conn)?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let mut events: Vec<AuditEvent> = Vec::new();
    let mut audited = std::collections::HashSet::new();
    let mut due = Vec::with_capacity(rows.len());
    for (months, row) in rows {
        let attendance = patients
            .get(&row.attendance_id)
            .cloned()
            .ok_or_else(|| StoreError::internal("an AHW contact's attendance is missing"))?;
        // One read event per attendance, however many of its follow-ups are listed.
        if audited.insert(attendance.id) {
            events.push(AuditEvent::new(
                actor,
                Action::Read,
                "follow_up_worklist",
                attendance.id.0,
                Some(&attendance.patient_key),
            ));
        }
        due.push(DueFollowUp {
            attendance,
            months,
            contact: row.contact,
            contact_at: row.contact_at.get(),
            health_worker_id: row.health_worker_id.map(|id| id.0),
            units_per_week: row.units_per_week,
        });
    }
    audit::record_all(conn, &events)?;
    Ok(due)
}

/// The AHW contacts before `before` without a follow-up at `months`, by contact time; none of an
/// attendance entered in error (nothing more is recorded against it).
fn due_rows(conn: &mut DbConnection, months: u32, before: DbTime, limit: i64) -> QueryResult<Vec<DueRow>> {
    let sql = |param: &str| {
        format!(
            "WITH {AHW_CONTACTS}
             SELECT c.attendance_id, c.contact, c.contact_at, c.health_worker_id, c.units_per_week
             FROM ahw_contacts c
             JOIN attendances a ON a.id = c.attendance_id
             WHERE c.contact_at < {param} AND a.entered_in_error_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE f.attendance_id = c.attendance_id AND f.months = {months})
             ORDER BY c.contact_at, c.attendance_id
             LIMIT {limit}"
        )
    };
    match conn {
        DbConnection::Pg(pg) => diesel::sql_query(sql("$1")).bind::<PortableTime, _>(before).load(pg),
        DbConnection::Sqlite(lite) => diesel::sql_query(sql("?")).bind::<PortableTime, _>(before).load(lite),
    }
}

/// The attendance's follow-up at `months`, if recorded.
pub fn find(conn: &mut DbConnection, attendance_id: DbUuid, months: i32) -> QueryResult<Option<FollowUp>> {
    follow_ups::table
        .filter(follow_ups::attendance_id.eq(attendance_id))
        .filter(follow_ups::months.eq(months))
        .select(COLUMNS)
        .first(conn)
        .optional()
}
