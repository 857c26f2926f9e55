//! Follow-ups: the 6- and 12-month contacts of a referred patient, one each per attendance
//! (`follow_ups_once`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::referrals;
use crate::db::schema::follow_ups;
use crate::db::types::{DbTime, DbUuid};
use crate::db::{write_transaction, DbConnection};
use crate::domain::attendance::no_attendance;
use crate::domain::scheduling::{follow_up_allowed, follow_up_recorded_meanwhile, FollowUpContact};
use crate::store::audit::{self, Action, AuditEvent};
use crate::store::rows::find_attendance;
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
    /// No such attendance is a 404, a patient not referred a 409 (`not-referred`). The same
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

/// The attendance's follow-up at `months`, if recorded.
pub fn find(conn: &mut DbConnection, attendance_id: DbUuid, months: i32) -> QueryResult<Option<FollowUp>> {
    follow_ups::table
        .filter(follow_ups::attendance_id.eq(attendance_id))
        .filter(follow_ups::months.eq(months))
        .select(COLUMNS)
        .first(conn)
        .optional()
}
