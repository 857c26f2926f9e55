//! The one connection type: PostgreSQL or SQLite behind diesel's `MultiConnection`.

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

/// A connection to either backend. Queries written against this type run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}
