//! OpenID Connect sign-ins in progress (docs/design.md §13): what the callback needs to finish a
//! sign-in the "Sign in" button started, kept in the database (so any instance can finish it) under
//! the SHA-256 of the handle in the browser's cookie. A sign-in is taken once: `take` deletes the
//! row and answers it in one statement, so two callbacks with the same handle cannot both have
//! it, whatever instance each reaches. Expired rows are removed whenever a sign-in starts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::oidc_sign_ins;
use crate::db::types::DbTime;
use crate::db::write_transaction;
use crate::store::{Store, StoreError};

#[derive(Queryable, Insertable, Clone, Debug, PartialEq)]
#[diesel(table_name = oidc_sign_ins)]
pub struct PendingSignInRow {
    /// The SHA-256 of the cookie's handle, lower-case hex.
    pub handle_hash: String,
    /// `oidc::PendingSignIn` as JSON (state, nonce, PKCE verifier).
    pub pending: String,
    /// The `/web/` page to show once signed in.
    pub return_to: Option<String>,
    pub expires_at: DbTime,
}

/// The pending sign-ins store.
pub struct OidcSignIns<'a> {
    store: &'a Store,
}

impl<'a> OidcSignIns<'a> {
    pub(in crate::store) fn new(store: &'a Store) -> Self {
        OidcSignIns { store }
    }

    /// Stores a sign-in that has just started, and removes every one that expired before `now`.
    #[tracing::instrument(name = "store.oidc_sign_ins.start", skip_all)]
    pub async fn start(&self, row: PendingSignInRow, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.store
            .run(move |conn| {
                let row = row.clone();
                write_transaction(conn, |conn| {
                    diesel::delete(oidc_sign_ins::table.filter(oidc_sign_ins::expires_at.lt(DbTime::new(now))))
                        .execute(conn)?;
                    diesel::insert_into(oidc_sign_ins::table).values(&row).execute(conn)?;
                    Ok::<_, StoreError>(())
                })
            })
            .await
    }

    /// Removes the sign-in whose handle hashes to `handle_hash` and answers it: `None` when there
    /// is none (never started, already taken, or purged). One `DELETE … RETURNING`, so of two
    /// callbacks racing with the same handle only one gets the row. Expiry is the caller's to
    /// check (an expired row is removed all the same).
    #[tracing::instrument(name = "store.oidc_sign_ins.take", skip_all)]
    pub async fn take(&self, handle_hash: String) -> Result<Option<PendingSignInRow>, StoreError> {
        self.store
            .run(move |conn| {
                let taken = diesel::delete(oidc_sign_ins::table.filter(oidc_sign_ins::handle_hash.eq(&handle_hash)))
                    .returning((
                        oidc_sign_ins::handle_hash,
                        oidc_sign_ins::pending,
                        oidc_sign_ins::return_to,
                        oidc_sign_ins::expires_at,
                    ))
                    .get_result::<PendingSignInRow>(conn)
                    .optional()?;
                Ok(taken)
            })
            .await
    }
}
