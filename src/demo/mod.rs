//! `pat-service demo-data`: realistic synthetic data, in bulk, to demonstrate the pathway and to
//! try the statistics (docs/domain.md §7) on a realistic volume.
//!
//! The generator is pure and deterministic: a seed (and the instant the data ends at) fixes every
//! row, uuids included, through a small PRNG of our own (SplitMix64 seeding xoshiro256**), so no
//! crate's algorithm change can alter a published demo. The writer sends the rows as multi-row
//! INSERT statements of about [`BATCH_ROWS`] rows, many per transaction: a row at a time through
//! the pool would take hours for a million attendances, one statement per thousand rows takes
//! minutes.
//!
//! How the data is made (docs/domain.md section by section):
//! - A population of patients, each with a drinking pattern (abstainer, light, hazardous,
//!   harmful) and an attendance rate drawn from a skewed (log-normal) distribution: heavier
//!   drinkers attend more often. Each patient's arrivals are simulated in time order as a
//!   Poisson process thinned by hour of day, day of week and month (evenings, Mondays and winter
//!   are busier; heavy drinkers peak at night and at weekends), plus short-notice unplanned
//!   returns and planned reviews, so reattendance within 7 and 365 days happens as it does in an
//!   ED. The indications are derived exactly as `POST /attendances` derives them (§2).
//! - Screenings (version 1, `pat-2009`) are scored by the service's own [`pat::score`], so the
//!   stored result, units and alerts always agree with the rule (§4).
//! - An accepted referral books a slot on a 30-minute grid within the AHW's opening hours
//!   (Europe/London); same-day appointments are attended far more often than later ones (§6).
//!   Accepting a referral lowers that patient's future attendance rate (Crawford 2004: 1.2 vs
//!   1.7 ED visits in 12 months), so the reattendance figures show the published effect.
//!
//! NHS numbers are drawn from the 999 range, which the NHS reserves for testing and never issues
//! (beyond about 900,000 patients the next blocks, 998 and down, are used): demo data must not
//! carry real patients' identifiers. The rows go straight to the database, never through
//! `POST /attendances`, so they need no `PAT_ACCEPT_TEST_NHS_NUMBERS`; the service reads them back
//! with [`NhsNumber::parse`], which checks only the form and the check digit.
//!
//! The code, one concern a file: `rng` the PRNG, `generator` what is generated (a file for each
//! part of the pathway), `rows` the rows it makes, `sql` those rows as SQL text, `writer` the
//! transactions they are written in; this file the command's options and the run from start to
//! end.
//!
//! [`pat::score`]: crate::domain::pat::score
//! [`NhsNumber::parse`]: crate::domain::nhs_number::NhsNumber::parse

mod generator;
mod rng;
mod rows;
mod sql;
mod writer;

use std::fmt;
use std::time::Instant;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::result::Error as DieselError;

use self::generator::Generator;
pub use self::rng::{Rng, SplitMix64};
pub use self::rows::Counts;
use self::writer::{already_loaded, Writer};
use crate::config::Settings;
use crate::db::{self, DbConnection};

/// `source_system` of every generated attendance; `source_id` is `demo-<seed>-<n>`.
pub const SOURCE_SYSTEM: &str = "demo-data";
/// `created_by`, `recorded_by`, `booked_by` … of every generated row, and the audit actor.
pub const ACTOR: &str = "demo-data";
/// More than this is refused: 20 million attendances is about 80 years of a large ED.
pub const MAX_ATTENDANCES: u64 = 20_000_000;
pub const MAX_YEARS: u32 = 20;
/// Rows per INSERT statement.
pub const BATCH_ROWS: usize = 1000;
/// Attendances per transaction (with their screenings, referrals and the rest: about 1.7 times
/// as many rows in all). Short enough that a service using the same SQLite file waits at most a
/// few seconds for the write lock.
pub const COMMIT_ATTENDANCES: u64 = 25_000;
/// Rows per transaction when writing the slots and bookings at the end.
pub const COMMIT_ROWS: u64 = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "demo data for seed {seed} is already in this database (source_system '{SOURCE_SYSTEM}', source_id \
         '{source_id}' or a health worker 'DEMO{seed}-AHW…' exists); run with another --seed, or use a fresh \
         database"
    )]
    AlreadyLoaded { seed: u64, source_id: String },
    #[error(
        "a generated row already exists (unique violation: {detail}); nothing of the failed transaction was \
         written, {committed} attendances of this run were committed before it — use another --seed or a \
         fresh database"
    )]
    Duplicate { detail: String, committed: u64 },
    #[error("{0}")]
    Setup(#[from] db::DbSetupError),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database error ({committed} attendances of this run were committed before it): {source}")]
    Write { source: DieselError, committed: u64 },
    /// The generator broke one of its own rules (a bug, whatever the database holds): the run
    /// stops rather than write the row.
    #[error("demo-data generator error: {0}")]
    Generator(&'static str),
}

/// What to generate: checked once, so the generator never meets an absurd request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoConfig {
    pub attendances: u64,
    pub years: u32,
    pub seed: u64,
}

impl DemoConfig {
    pub fn new(attendances: u64, years: u32, seed: u64) -> Result<DemoConfig, DemoError> {
        if attendances == 0 {
            return Err(DemoError::Invalid("--attendances must be at least 1".into()));
        }
        if attendances > MAX_ATTENDANCES {
            return Err(DemoError::Invalid(format!(
                "--attendances {attendances} is more than the {MAX_ATTENDANCES} this command generates"
            )));
        }
        if !(1..=MAX_YEARS).contains(&years) {
            return Err(DemoError::Invalid(format!(
                "--years must be from 1 to {MAX_YEARS} (got {years})"
            )));
        }
        Ok(DemoConfig {
            attendances,
            years,
            seed,
        })
    }

    /// The `source_id` of the run's first attendance: its presence means the seed was loaded.
    pub fn first_source_id(&self) -> String {
        source_id(self.seed, 1)
    }
}

fn source_id(seed: u64, n: u64) -> String {
    format!("demo-{seed}-{n:08}")
}

/// Health workers' staff ids are this and a number.
fn staff_id_prefix(seed: u64) -> String {
    format!("DEMO{seed}-AHW")
}

/// The service settings the generated data must agree with (docs/domain.md §2, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathwayRules {
    pub repeat_attender_min_prior: u32,
    pub repeat_attender_window_days: i64,
    pub booking_window_hours: i64,
    /// `PAT_MIN_AGE`: younger patients (with a known date of birth) are not PAT-indicated.
    pub min_age: u32,
}

impl Default for PathwayRules {
    fn default() -> Self {
        PathwayRules {
            repeat_attender_min_prior: 1,
            repeat_attender_window_days: 365,
            booking_window_hours: 24,
            min_age: crate::domain::eligibility::DEFAULT_MIN_AGE,
        }
    }
}

impl From<&Settings> for PathwayRules {
    fn from(s: &Settings) -> Self {
        PathwayRules {
            repeat_attender_min_prior: s.repeat_attender_min_prior,
            repeat_attender_window_days: s.repeat_attender_window_days,
            booking_window_hours: s.booking_window_hours,
            min_age: s.min_age,
        }
    }
}

/// What a run wrote.
#[derive(Clone, Debug)]
pub struct Summary {
    pub backend: &'static str,
    pub seed: u64,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub patients: u64,
    pub counts: Counts,
    pub seconds: f64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "demo-data: seed {} on {}: {} patients, arrivals {} to {}",
            self.seed,
            self.backend,
            self.patients,
            self.from.format("%Y-%m-%d"),
            self.until.format("%Y-%m-%d %H:%M:%SZ")
        )?;
        for (table, n) in self.counts.rows() {
            writeln!(f, "  {table:<17} {n:>10}")?;
        }
        let rate = self.counts.total() as f64 / self.seconds.max(1e-9);
        write!(
            f,
            "  {:<17} {:>10} rows in {:.1} s ({:.0} rows/s)",
            "total",
            self.counts.total(),
            self.seconds,
            rate
        )
    }
}

/// Runs migrations, then generates and writes the demo data ending at `until` (default now),
/// reporting progress through `progress`.
pub fn run(
    database_url: &str,
    rules: PathwayRules,
    config: &DemoConfig,
    until: Option<DateTime<Utc>>,
    mut progress: impl FnMut(&str),
) -> Result<Summary, DemoError> {
    let began = Instant::now();
    let now = Utc::now();
    let until = until.unwrap_or(now);
    if until > now {
        return Err(DemoError::Invalid("--until must not be in the future".into()));
    }
    let manager = db::Manager::new(database_url)?;
    let mut conn = manager.establish()?;
    db::migrate(&mut conn)?;
    let backend = match &mut conn {
        DbConnection::Pg(_) => "PostgreSQL",
        DbConnection::Sqlite(lite) => {
            // A bigger page cache for this one bulk session: the indexes take random inserts.
            lite.batch_execute("PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;")
                .map_err(|source| DemoError::Write { source, committed: 0 })?;
            "SQLite"
        }
    };
    if already_loaded(&mut conn, config).map_err(|source| DemoError::Write { source, committed: 0 })? {
        return Err(DemoError::AlreadyLoaded {
            seed: config.seed,
            source_id: config.first_source_id(),
        });
    }
    let mut generator = Generator::new(config, rules, until);
    progress(&format!(
        "demo-data: seed {}, {} attendances over {} years ({} to {}) into {backend}",
        config.seed,
        config.attendances,
        config.years,
        generator.start.format("%Y-%m-%d"),
        generator.now.format("%Y-%m-%d %H:%M:%SZ"),
    ));
    let mut writer = Writer {
        conn: &mut conn,
        counts: Counts::default(),
        committed: 0,
        in_transaction: false,
    };
    let outcome = writer.fill(&mut generator, config, &began, &mut progress);
    if outcome.is_err() {
        writer.rollback();
    }
    outcome?;
    let counts = writer.counts;
    // A real ED's rows arrive in arrival order, so a year of attendances sits together on disk.
    // The generator writes patient by patient; put the table back in arrival order (PostgreSQL)
    // and refresh the planner's statistics so reports read the data as they would in service.
    progress("demo-data: ordering attendances by arrival and updating planner statistics");
    let tidy = match &conn {
        DbConnection::Pg(_) => "CLUSTER attendances USING attendances_arrived; ANALYZE;",
        DbConnection::Sqlite(_) => "ANALYZE;",
    };
    conn.batch_execute(tidy).map_err(|source| DemoError::Write {
        source,
        committed: counts.attendances,
    })?;
    Ok(Summary {
        backend,
        seed: config.seed,
        from: generator.start,
        until: generator.now,
        patients: generator.attending_patients,
        counts,
        seconds: began.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_config_refuses_absurd_requests() {
        assert!(DemoConfig::new(0, 5, 1).is_err());
        assert!(DemoConfig::new(MAX_ATTENDANCES + 1, 5, 1).is_err());
        assert!(DemoConfig::new(1000, 0, 1).is_err());
        assert!(DemoConfig::new(1000, 21, 1).is_err());
        assert!(DemoConfig::new(MAX_ATTENDANCES, 20, 1).is_ok());
        assert_eq!(DemoConfig::new(1, 1, 9).unwrap().first_source_id(), "demo-9-00000001");
    }
}
