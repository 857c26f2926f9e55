//! Server-side sessions of the web pages (docs/design.md §12). The cookie `pat_session` holds a
//! random 32-byte token (hex); the database keeps only its SHA-256 (`store::sessions`), with the
//! subject, roles, CSRF token and when the session started and was last seen. A session idle for
//! longer than `PAT_SESSION_IDLE_MINUTES` is gone. Every instance on the database knows every
//! session.
//!
//! Sign-in itself is not here: `start_session` is the seam the OpenID Connect callback
//! (`web::oidc`) calls once it knows who signed in; the development sign-in calls it too.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use tracing_actix_web::RequestId;

use super::WebError;
use crate::api::AppState;
use crate::auth::Role;
use crate::config::Settings;
use crate::db::types::DbTime;
use crate::store::sessions::WebSession;
use crate::store::{Actor, StoreError};

/// The session cookie's name.
pub const COOKIE: &str = "pat_session";
/// The hidden form field that carries the session's CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The signed-in user of a page request, from a live session.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub subject: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub csrf_token: String,
    token_hash: String,
    request_id: Option<String>,
}

impl SignedIn {
    pub fn has_any(&self, allowed: &[Role]) -> bool {
        self.roles.iter().any(|r| allowed.contains(r))
    }

    /// `Err(Forbidden)` unless the user holds one of `allowed`.
    pub fn require(&self, allowed: &[Role]) -> Result<(), WebError> {
        if self.has_any(allowed) {
            Ok(())
        } else {
            Err(WebError::Forbidden(Some(Box::new(self.clone()))))
        }
    }

    pub fn roles_text(&self) -> String {
        self.roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(",")
    }

    /// Who is acting, as the stores write it into the audit trail (as `Authorized::actor`).
    pub fn actor(&self) -> Actor {
        Actor {
            subject: self.subject.clone(),
            roles: self.roles_text(),
            request_id: self.request_id.clone(),
        }
    }

    /// `Err(Csrf)` unless the form carries this session's CSRF token. Checked before anything
    /// else about a POST, so a forged form does nothing.
    pub fn check_csrf(&self, form: &HashMap<String, String>) -> Result<(), WebError> {
        match form.get(CSRF_FIELD) {
            Some(given) if bool::from(given.as_bytes().ct_eq(self.csrf_token.as_bytes())) => Ok(()),
            _ => Err(WebError::Csrf(Some(Box::new(self.clone())))),
        }
    }

    /// The hash of the session's token (for sign-out).
    pub(super) fn token_hash(&self) -> &str {
        &self.token_hash
    }
}

/// 32 random bytes from the operating system, hex.
pub(super) fn random_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::internal(format!("no randomness: {e}")))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Starts a session for someone who has signed in (the seam for OpenID Connect: call it with the
/// ID token's subject, the name to show and the roles the service gives them) and answers the
/// cookie to set on the response.
pub async fn start_session(
    state: &AppState,
    subject: &str,
    display_name: &str,
    roles: &[Role],
) -> Result<Cookie<'static>, WebError> {
    let token = random_token()?;
    let now = DbTime::new(state.settings.clock.now());
    let session = WebSession {
        token_hash: hash_token(&token),
        subject: subject.to_owned(),
        display_name: display_name.to_owned(),
        roles: roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(","),
        csrf_token: random_token()?,
        created_at: now,
        last_seen_at: now,
    };
    state
        .store
        .sessions()
        .start(session, state.settings.web.session_idle())
        .await?;
    Ok(Cookie::build(COOKIE, token)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(cookie_secure(&state.settings))
        .finish())
}

/// Ends the session (sign-out) and answers the cookie that removes it from the browser.
pub async fn end_session(state: &AppState, user: &SignedIn) -> Result<Cookie<'static>, WebError> {
    state.store.sessions().end(user.token_hash().to_owned()).await?;
    Ok(removal_cookie())
}

/// A cookie that tells the browser to forget `pat_session`.
pub fn removal_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(COOKIE, "").path("/").http_only(true).finish();
    cookie.make_removal();
    cookie
}

/// `Secure` unless the service is in development mode listening on loopback (plain HTTP on the
/// developer's own machine).
pub fn cookie_secure(settings: &Settings) -> bool {
    !(settings.dev && listens_on_loopback(&settings.listen))
}

fn listens_on_loopback(listen: &str) -> bool {
    let host = listen.rsplit_once(':').map_or(listen, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn signed_in(
    state: Option<web::Data<AppState>>,
    token: Option<String>,
    request_id: Option<String>,
    return_to: Option<String>,
) -> Result<SignedIn, WebError> {
    let state = state.ok_or_else(|| WebError::Api(crate::error::ApiError::internal("no state")))?;
    let token = token
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| WebError::SignIn(return_to.clone()))?;
    let session = state
        .store
        .sessions()
        .touch(
            hash_token(&token),
            state.settings.clock.now(),
            state.settings.web.session_idle(),
        )
        .await?
        .ok_or(WebError::SignIn(return_to))?;
    Ok(SignedIn {
        subject: session.subject,
        display_name: session.display_name,
        roles: session.roles.split(',').filter_map(Role::from_code).collect(),
        csrf_token: session.csrf_token,
        token_hash: session.token_hash,
        request_id,
    })
}

impl FromRequest for SignedIn {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<SignedIn, WebError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req.cookie(COOKIE).map(|c| c.value().to_owned());
        let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
        // A page asked for by GET is returned to after signing in; a form POST is not replayed.
        let return_to = (req.method() == actix_web::http::Method::GET)
            .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
            .flatten()
            .and_then(|p| super::return_to(&p));
        Box::pin(signed_in(state, token, request_id, return_to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_recognised() {
        for listen in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.1:0"] {
            assert!(listens_on_loopback(listen), "{listen}");
        }
        for listen in ["0.0.0.0:8080", "10.1.2.3:8080", "[::]:8080", "pat.example.nhs.uk:443"] {
            assert!(!listens_on_loopback(listen), "{listen}");
        }
    }
}
