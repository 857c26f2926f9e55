//! Web page sessions (docs/design.md §12), kept in the database so that every instance behind a
//! load balancer knows every session. Only the SHA-256 of the cookie's token is stored: the
//! table signs nobody in. A session idle longer than the configured time is removed when it is
//! next presented (and with the others that are idle when any session starts).

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::schema::web_sessions;
use crate::db::types::DbTime;
use crate::db::write_transaction;
use crate::store::{Store, StoreError};

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = web_sessions)]
pub struct WebSession {
    /// The SHA-256 of the cookie's token, lower-case hex.
    pub token_hash: String,
    pub subject: String,
    pub display_name: String,
    /// The roles, comma-joined (as the audit trail keeps them).
    pub roles: String,
    pub csrf_token: String,
    pub created_at: DbTime,
    pub last_seen_at: DbTime,
}

/// The sessions store.
pub struct Sessions<'a> {
    store: &'a Store,
}

impl<'a> Sessions<'a> {
    pub(in crate::store) fn new(store: &'a Store) -> Self {
        Sessions { store }
    }

    /// Stores a new session, and removes every session idle for longer than `idle` (so the table
    /// holds only live sessions and those idle since the last sign-in).
    #[tracing::instrument(name = "store.sessions.start", skip_all)]
    pub async fn start(&self, session: WebSession, idle: Duration) -> Result<(), StoreError> {
        self.store
            .run(move |conn| {
                let session = session.clone();
                write_transaction(conn, |conn| {
                    let stale = DbTime::new(session.last_seen_at.get() - idle);
                    diesel::delete(web_sessions::table.filter(web_sessions::last_seen_at.lt(stale))).execute(conn)?;
                    diesel::insert_into(web_sessions::table)
                        .values(&session)
                        .execute(conn)?;
                    Ok::<_, StoreError>(())
                })
            })
            .await
    }

    /// The session whose token hashes to `token_hash`, seen now: `None` when there is none or it
    /// has been idle for longer than `idle` (then it is removed).
    #[tracing::instrument(name = "store.sessions.touch", skip_all)]
    pub async fn touch(
        &self,
        token_hash: String,
        now: DateTime<Utc>,
        idle: Duration,
    ) -> Result<Option<WebSession>, StoreError> {
        self.store
            .run(move |conn| {
                let token_hash = token_hash.clone();
                write_transaction(conn, |conn| {
                    let found = web_sessions::table
                        .filter(web_sessions::token_hash.eq(&token_hash))
                        .first::<WebSession>(conn)
                        .optional()?;
                    let Some(mut session) = found else {
                        return Ok::<_, StoreError>(None);
                    };
                    let row = web_sessions::table.filter(web_sessions::token_hash.eq(&token_hash));
                    if now - session.last_seen_at.get() > idle {
                        diesel::delete(row).execute(conn)?;
                        return Ok(None);
                    }
                    session.last_seen_at = DbTime::new(now);
                    // The update finds no row when a sign-out deleted the session after the read
                    // above (PostgreSQL waits for that delete's lock, then sees it): not signed in.
                    let updated = diesel::update(row)
                        .set(web_sessions::last_seen_at.eq(session.last_seen_at))
                        .execute(conn)?;
                    Ok((updated == 1).then_some(session))
                })
            })
            .await
    }

    /// Removes the session (sign-out). Removing one that is gone already is not an error.
    #[tracing::instrument(name = "store.sessions.end", skip_all)]
    pub async fn end(&self, token_hash: String) -> Result<(), StoreError> {
        self.store
            .run(move |conn| {
                diesel::delete(web_sessions::table.filter(web_sessions::token_hash.eq(&token_hash))).execute(conn)?;
                Ok(())
            })
            .await
    }
}
