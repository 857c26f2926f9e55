//! Database plumbing under the stores: the connection pool over both backends, migrations,
//! transactions, the portable and typed column types, the schema, prepared statements and the
//! group-commit queue machinery. What is read and written, per aggregate, is in `store`.

pub mod batch;
mod conn;
pub mod prepared;
pub mod schema;
pub mod types;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use conn::DbConnection;

pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Key of the PostgreSQL advisory lock held while migrations run, so that several instances
/// starting at once do not race (docs/design.md §6).
const MIGRATION_LOCK_KEY: i64 = 0x5041_545f_4d49_4752; // "PAT_MIGR"

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// Which backend a `DATABASE_URL` names. The scheme decides; nothing is guessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    /// Holds the URL without its password (`config::redact_url`).
    #[error("DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got {0:?})")]
    UnknownScheme(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("cannot create the connection pool: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, DbSetupError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite://") {
            Ok(Backend::Sqlite)
        } else {
            Err(DbSetupError::UnknownScheme(crate::config::redact_url(url)))
        }
    }
}

/// The r2d2 manager: establishes the variant named by the URL scheme and sets up SQLite
/// connections (WAL, busy timeout, foreign keys) the same way every time.
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Backend,
    url: String,
}

impl Manager {
    pub fn new(url: &str) -> Result<Manager, DbSetupError> {
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Postgres => url.to_owned(),
            Backend::Sqlite => url.trim_start_matches("sqlite://").to_owned(),
        };
        Ok(Manager { backend, url })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Opens one connection, outside any pool.
    pub fn establish(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url)?;
                // JIT compilation never pays here: the write path's statements are too cheap to
                // reach its threshold, and for a year of statistics it cost more (about 1 s at
                // 1M attendances) than the query itself.
                conn.batch_execute("SET jit = off")
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Pg(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url)?;
                let setup = diesel::ConnectionError::CouldntSetupConfiguration;
                // The busy timeout makes a second writer wait instead of failing; foreign keys
                // are off in SQLite unless asked.
                conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                    .map_err(setup)?;
                // Reads through memory-mapped pages (shared by every connection through the OS
                // page cache) instead of copying each page into a private 2 MB cache: a year of
                // statistics reads hundreds of thousands of index pages.
                conn.batch_execute("PRAGMA mmap_size = 1073741824;").map_err(setup)?;
                // WAL lets readers run beside the one writer. `synchronous = FULL` syncs the WAL at
                // every commit, so an acknowledged write survives a power cut or an operating-system
                // crash, not only a crash of the process (NORMAL, SQLite's WAL default, can lose the
                // last commits then). Switching a new file to WAL can
                // answer "database is locked" at once (the busy handler is not used for it) when
                // another process opens the file at the same moment: retry briefly.
                let mut attempts = 0;
                while let Err(error) = conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;") {
                    attempts += 1;
                    if attempts > 200 || !error.to_string().contains("locked") {
                        return Err(setup(error));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// A pooled connection, and whether it was found lost (the database closed it: a restart, a
/// failover). A lost connection is dropped when it goes back to the pool.
pub struct Conn {
    pub inner: DbConnection,
    lost: bool,
}

impl Conn {
    pub fn mark_lost(&mut self) {
        self.lost = true;
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        let inner = self.establish().map_err(diesel::r2d2::Error::ConnectionError)?;
        Ok(Conn { inner, lost: false })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        ping(&mut conn.inner).map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.lost
            || std::thread::panicking()
            || <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(&mut conn.inner)
    }
}

/// Builds the pool. Connections are made lazily, so a database that is down at this moment
/// gives 503s (and a failing readiness check) rather than a process that will not start.
/// Connections are not tested on checkout (a round trip per request on the hot path); instead a
/// connection that fails as lost is marked and dropped, and the request tries another
/// (`store::Store::run`).
pub fn pool(url: &str, size: u32, timeout: Duration) -> Result<Pool, DbSetupError> {
    let manager = Manager::new(url)?;
    Ok(pool_builder(size, timeout).build_unchecked(manager))
}

/// Connections for the write batches (`batch`) only, kept apart from the pool: on them
/// PostgreSQL may not plan a sequential scan while an index serves. A batch's statement, and the
/// trigger statements it fires, are planned once per connection, and a plan made while the table
/// was small (a new database) would otherwise scan the table for every row for the life of the
/// connection. Every statement run on these connections is an index lookup by design.
pub fn batch_pool(url: &str, size: u32, timeout: Duration) -> Result<Pool, DbSetupError> {
    let manager = Manager::new(url)?;
    Ok(pool_builder(size, timeout)
        .connection_customizer(Box::new(IndexPlansOnly))
        .build_unchecked(manager))
}

fn pool_builder(size: u32, timeout: Duration) -> r2d2::Builder<Manager> {
    r2d2::Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .test_on_check_out(false)
}

#[derive(Debug)]
struct IndexPlansOnly;

impl r2d2::CustomizeConnection<Conn, diesel::r2d2::Error> for IndexPlansOnly {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        conn.inner
            .batch_execute("SET enable_seqscan = off")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Runs pending migrations for the connection's backend. On PostgreSQL they run under an
/// advisory lock, so instances starting together take turns and the later ones find nothing
/// to do.
pub fn migrate(conn: &mut DbConnection) -> Result<(), DbSetupError> {
    let migration_error = |e: Box<dyn std::error::Error + Send + Sync>| DbSetupError::Migration(e.to_string());
    match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(pg)?;
            let outcome = pg
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|_| ())
                .map_err(migration_error);
            let unlocked = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(pg);
            outcome?;
            unlocked?;
            Ok(())
        }
        // SQLite: all pending migrations in one `BEGIN IMMEDIATE` transaction (each migration a
        // savepoint inside it), so a second process opening the same file waits its turn.
        DbConnection::Sqlite(_) => write_transaction(conn, |conn| match conn {
            DbConnection::Sqlite(lite) => lite
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|_| ())
                .map_err(migration_error),
            DbConnection::Pg(_) => Ok(()),
        }),
    }
}

/// Reverts every migration (tests prove each goes down cleanly).
pub fn revert_all(conn: &mut DbConnection) -> Result<(), DbSetupError> {
    let migration_error = |e: Box<dyn std::error::Error + Send + Sync>| DbSetupError::Migration(e.to_string());
    match conn {
        DbConnection::Pg(pg) => pg
            .revert_all_migrations(PG_MIGRATIONS)
            .map(|_| ())
            .map_err(migration_error),
        DbConnection::Sqlite(lite) => lite
            .revert_all_migrations(SQLITE_MIGRATIONS)
            .map(|_| ())
            .map_err(migration_error),
    }
}

/// Locks one row until the transaction ends, so changes that must see each other take turns:
/// on PostgreSQL `select_for_update` (`SELECT … WHERE id = $1 FOR UPDATE`) runs with `id`;
/// SQLite needs nothing, its write transactions already run one at a time.
pub fn lock_row(conn: &mut DbConnection, select_for_update: &'static str, id: types::DbUuid) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => prepared::Prepared::new(select_for_update)
            .bind::<types::PortableUuid, _>(id)
            .execute(pg)
            .map(|_| ()),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Runs `f` in a write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking the write
/// lock before the first read: a plain `BEGIN` that reads and then writes fails with "database
/// is locked" when two writers meet (docs/design.md §9). On PostgreSQL it is an ordinary transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(lite) => {
            AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
        }
        DbConnection::Pg(_) => {
            <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?;
        }
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // The error that ended the work is the one to report; a failed rollback leaves the
            // connection marked broken and the pool discards it.
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(error)
        }
    }
}

/// Runs `f`, whose writes are one statement on PostgreSQL, atomically. PostgreSQL: `f` runs as
/// it is — its single write statement is its own transaction, and races are settled by unique
/// constraints (the caller retries), which saves the BEGIN and COMMIT round trips on the hot
/// path. SQLite: `f` runs inside a `BEGIN IMMEDIATE` transaction, since there its writes are
/// several statements.
pub fn single_write<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Pg(_) => f(conn),
        DbConnection::Sqlite(_) => write_transaction(conn, f),
    }
}

/// What a failed statement means for the caller, as far as the database tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The database closed this connection (a restart, a failover, a connection error): drop it
    /// and use another.
    ConnectionLost,
    /// The database cannot do the work now (SQLite locked past its busy timeout): answer 503.
    Unavailable,
    /// PostgreSQL gave up a transaction to keep concurrent ones serialisable: retry.
    SerializationFailure,
    Other,
}

/// Classifies a database error, in one place for every caller (the stores, the write batches).
///
/// A connection PostgreSQL terminated (`57P01 admin_shutdown`: a restart, a failover, a killed
/// backend) is found dead only by the first statement sent on it afterwards. diesel reports that
/// statement's error as `ClosedConnection` once libpq has marked the connection bad (and as
/// `ClosedConnection` for the `08…` connection-exception codes); an older libpq or diesel may
/// still report it as an unknown error that only the server's message tells apart, so the
/// message is read here too. Either way the connection is lost, never merely unavailable: it must
/// not go back to the pool, where every later request handed it would fail (docs/design.md §6,
/// "Lost connections").
pub fn failure_of(error: &diesel::result::Error) -> Failure {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => Failure::ConnectionLost,
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => Failure::SerializationFailure,
        Error::DatabaseError(_, info)
            if info.message().contains("terminating connection")
                || info.message().contains("server closed the connection")
                || info.message().contains("no connection to the server") =>
        {
            Failure::ConnectionLost
        }
        Error::DatabaseError(_, info) if info.message().contains("database is locked") => Failure::Unavailable,
        _ => Failure::Other,
    }
}

/// Checks the database answers (readiness).
pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::{failure_of, Failure};

    fn database_error(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_closed_or_terminated_connection_is_lost_not_merely_unavailable() {
        // How diesel reports the first statement on a connection PostgreSQL terminated.
        let closed = database_error(
            DatabaseErrorKind::ClosedConnection,
            "terminating connection due to administrator command",
        );
        assert_eq!(failure_of(&closed), Failure::ConnectionLost);
        let unknown = database_error(DatabaseErrorKind::Unknown, "server closed the connection unexpectedly");
        assert_eq!(failure_of(&unknown), Failure::ConnectionLost);
        let locked = database_error(DatabaseErrorKind::Unknown, "database is locked");
        assert_eq!(failure_of(&locked), Failure::Unavailable);
    }
}
