//! The statistics store: the audit teams' reports (docs/domain.md §7), read on the statistics'
//! connections (a PostgreSQL streaming replica when `PAT_STATISTICS_DATABASE_URL` is set), and
//! who pulled which report recorded on the primary. The figures are answered only once that
//! audit event is written.

mod queries;

use chrono::{DateTime, Utc};

pub use queries::{
    CohortRow, FunnelRow, GroupRow, OutcomeRow, PeriodBounds, ReferralRow, Scope, SevenDayRow, SEVEN_DAYS,
    TWELVE_MONTH_DAYS,
};

use super::audit::{self, Action, AuditEvent};
use super::{Actor, Store, StoreError};
use crate::db::{single_write, DbConnection};

/// The statistics store.
pub struct Statistics<'a> {
    store: &'a Store,
}

impl<'a> Statistics<'a> {
    pub(in crate::store) fn new(store: &'a Store) -> Self {
        Statistics { store }
    }

    /// The funnel's counts, one row per group (period, or presenting condition).
    pub async fn funnel(&self, scope: Scope, actor: &Actor) -> Result<Vec<FunnelRow>, StoreError> {
        self.audited("funnel", actor, move |conn| Ok(queries::funnel(conn, &scope)?))
            .await
    }

    /// Accepted referrals per financial year of the scope.
    pub async fn referrals(&self, scope: Scope, actor: &Actor) -> Result<Vec<ReferralRow>, StoreError> {
        self.audited("referrals", actor, move |conn| Ok(queries::referrals(conn, &scope)?))
            .await
    }

    /// The 12-month cohorts (followed up to `now`) and the 7-day indicator.
    pub async fn reattendance(
        &self,
        scope: Scope,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<(Vec<CohortRow>, SevenDayRow), StoreError> {
        self.audited("reattendance", actor, move |conn| {
            Ok((
                queries::twelve_month(conn, &scope, now)?,
                queries::seven_day(conn, &scope)?,
            ))
        })
        .await
    }

    /// The outcomes of the AHW contacts per period of the scope, follow-ups counted as due up to
    /// the Europe/London date `as_of`.
    pub async fn outcomes(
        &self,
        scope: Scope,
        as_of: chrono::NaiveDate,
        actor: &Actor,
    ) -> Result<Vec<OutcomeRow>, StoreError> {
        self.audited("outcomes", actor, move |conn| {
            Ok(queries::outcomes(conn, &scope, as_of)?)
        })
        .await
    }

    /// The arrival of the earliest attendance recorded, if any (where the referral trend starts).
    pub async fn earliest_arrival(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let earliest = self
            .store
            .run_statistics(|conn| Ok(queries::earliest_arrival(conn)?))
            .await?;
        Ok(earliest.map(|t| t.get()))
    }

    /// Runs a report's queries on the statistics' connections, then records who pulled it on
    /// the primary (no patient key: the figures identify no one).
    async fn audited<T, F>(&self, report: &'static str, actor: &Actor, queries: F) -> Result<T, StoreError>
    where
        F: Fn(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let figures = self.store.run_statistics(queries).await?;
        let event = AuditEvent::new(actor, Action::Read, "statistics", report, None);
        self.store
            .run(move |conn| Ok(single_write(conn, |conn| audit::record(conn, &event))?))
            .await?;
        Ok(figures)
    }
}
