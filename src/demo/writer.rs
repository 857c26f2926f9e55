//! Writing to the database: the check that a seed is not loaded yet, and the transactions the
//! generated rows are written in (the same SQL on PostgreSQL and SQLite; only `BEGIN` differs).

use std::time::Instant;

use chrono::{SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;

use super::generator::Generator;
use super::rows::{Batch, Counts};
use super::sql::{quote, tuple, Table};
use super::{
    staff_id_prefix, DemoConfig, DemoError, ACTOR, BATCH_ROWS, COMMIT_ATTENDANCES, COMMIT_ROWS, SOURCE_SYSTEM,
};
use crate::db::DbConnection;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Has this seed been loaded (even in part)? Its first attendance's source id, or one of its
/// health workers' staff ids, says: found now, before anything is written.
pub(super) fn already_loaded(conn: &mut DbConnection, config: &DemoConfig) -> Result<bool, DieselError> {
    let mut sql = String::from("SELECT (SELECT count(*) FROM attendances WHERE source_system = ");
    quote(SOURCE_SYSTEM, &mut sql);
    sql.push_str(" AND source_id = ");
    quote(&config.first_source_id(), &mut sql);
    sql.push_str(") + (SELECT count(*) FROM health_workers WHERE staff_id LIKE ");
    quote(&format!("{}%", staff_id_prefix(config.seed)), &mut sql);
    sql.push_str(") AS n");
    let found: Count = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(sql).get_result(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql).get_result(lite)?,
    };
    Ok(found.n > 0)
}

/// Writes the generated rows in transactions, and knows how many attendances are committed.
pub(super) struct Writer<'c> {
    pub(super) conn: &'c mut DbConnection,
    pub(super) counts: Counts,
    /// Attendances committed so far.
    pub(super) committed: u64,
    pub(super) in_transaction: bool,
}

impl Writer<'_> {
    fn error(&self, source: DieselError) -> DemoError {
        match source {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => DemoError::Duplicate {
                detail: info.message().to_owned(),
                committed: self.committed,
            },
            source => DemoError::Write {
                source,
                committed: self.committed,
            },
        }
    }

    fn execute(&mut self, sql: &str) -> Result<(), DemoError> {
        self.conn.batch_execute(sql).map_err(|e| self.error(e))
    }

    fn begin(&mut self) -> Result<(), DemoError> {
        let begin = match self.conn {
            DbConnection::Pg(_) => "BEGIN",
            // Take the write lock first (docs/design.md §9).
            DbConnection::Sqlite(_) => "BEGIN IMMEDIATE",
        };
        self.execute(begin)?;
        self.in_transaction = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), DemoError> {
        self.execute("COMMIT")?;
        self.in_transaction = false;
        self.committed = self.counts.attendances;
        Ok(())
    }

    pub(super) fn rollback(&mut self) {
        if self.in_transaction {
            // The error that stopped the run is the one reported.
            let _ = self.conn.batch_execute("ROLLBACK");
            self.in_transaction = false;
        }
    }

    fn flush(&mut self, batch: &mut Batch, all: bool) -> Result<(), DemoError> {
        for table in batch.due(all) {
            let sql = batch.take_sql(table, usize::MAX, &mut self.counts);
            self.execute(&sql)?;
        }
        Ok(())
    }

    /// Writes the deferred tables: health workers, then slots latest first, then bookings, in
    /// statements of `BATCH_ROWS` and transactions of about `COMMIT_ROWS` rows.
    fn write_deferred(&mut self, batch: &mut Batch) -> Result<(), DemoError> {
        batch.slots.sort_by_key(|slot| slot.starts_at);
        let mut in_transaction = 0;
        for table in [Table::HealthWorkers, Table::Slots, Table::Bookings] {
            while batch.len(table) > 0 {
                let before = self.counts.total();
                let sql = batch.take_sql(table, BATCH_ROWS, &mut self.counts);
                self.execute(&sql)?;
                in_transaction += self.counts.total() - before;
                if in_transaction >= COMMIT_ROWS {
                    self.commit()?;
                    self.begin()?;
                    in_transaction = 0;
                }
            }
        }
        Ok(())
    }

    pub(super) fn fill(
        &mut self,
        generator: &mut Generator,
        config: &DemoConfig,
        began: &Instant,
        progress: &mut impl FnMut(&str),
    ) -> Result<(), DemoError> {
        let mut batch = Batch::default();
        let step = (config.attendances / 10).max(1);
        let mut next_report = step;
        self.begin()?;
        while generator.attendances < config.attendances {
            generator.patient(config.attendances - generator.attendances, &mut batch)?;
            self.flush(&mut batch, false)?;
            if generator.attendances - self.committed >= COMMIT_ATTENDANCES {
                self.flush(&mut batch, true)?;
                self.commit()?;
                if self.committed >= next_report && self.committed < config.attendances {
                    progress(&format!(
                        "demo-data: {} / {} attendances ({:.0}%), {} rows, {:.1} s",
                        self.committed,
                        config.attendances,
                        100.0 * self.committed as f64 / config.attendances as f64,
                        self.counts.total(),
                        began.elapsed().as_secs_f64()
                    ));
                    next_report = (self.committed / step + 1) * step;
                }
                self.begin()?;
            }
        }
        self.flush(&mut batch, true)?;
        progress(&format!(
            "demo-data: {} attendances written, {:.1} s; now {} health workers, {} slots and {} bookings",
            generator.attendances,
            began.elapsed().as_secs_f64(),
            batch.health_workers.len(),
            batch.slots.len(),
            batch.bookings.len()
        ));
        self.write_deferred(&mut batch)?;
        // One audit event for the whole run, no patient key: who loaded what, when.
        let event = format!(
            "seed={} attendances={} years={} until={}",
            config.seed,
            config.attendances,
            config.years,
            generator.now.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let mut sql = String::from(
            "INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id, \
             patient_key, request_id) VALUES ",
        );
        let id = generator.rng.uuid();
        let occurred_at = Utc::now().trunc_subsecs(6);
        tuple(
            &mut sql,
            &[
                &id,
                &occurred_at,
                &ACTOR,
                &"",
                &"create",
                &"demo_data",
                &event,
                &None::<&str>,
                &None::<&str>,
            ],
        );
        self.execute(&sql)?;
        self.counts.audit_events += 1;
        self.commit()
    }
}
