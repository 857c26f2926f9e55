//! Signing in to the pages with OpenID Connect (docs/design.md §13): `POST /web/sign-in` starts a
//! sign-in at the identity provider, `GET /web/oidc/callback` finishes it and starts a session.
//!
//! ```text
//! POST /web/sign-in ──► begin(): pending sign-in stored (oidc_sign_ins), handle in a cookie
//!        │ 303 to the provider
//! GET /web/oidc/callback?code&state ──► take the pending sign-in (once) ──► complete()
//!        │ roles less `integration`  ──► start_session ──► 303 to /web/ (or the page asked for)
//! ```
//!
//! The PKCE verifier and nonce stay on the server: the browser holds only a random handle, in a
//! `pat_oidc_sign_in` cookie (HttpOnly, SameSite=Lax because the provider's redirect back is a
//! cross-site top-level GET, Secure except in development on loopback, 10 minutes). Every
//! answer of the callback removes that cookie, and a failure is a page saying why in words with
//! a "Sign in again" link. No code, state or token is written to a log.

use std::collections::HashMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError as _};
use chrono::Duration;

use super::html::escape;
use super::session::{self, hash_token, random_token};
use super::{page, return_to, WebError, NEXT_FIELD};
use crate::api::AppState;
use crate::auth::Role;
use crate::db::types::DbTime;
use crate::error::ApiError;
use crate::oidc::{OidcError, PendingSignIn};
use crate::store::oidc_sign_ins::PendingSignInRow;
use crate::store::StoreError;

/// The cookie holding the handle of the sign-in in progress.
pub const PENDING_COOKIE: &str = "pat_oidc_sign_in";
/// How long a started sign-in can be finished.
pub const PENDING_MINUTES: i64 = 10;

/// `POST /web/sign-in`: starts an OpenID Connect sign-in and sends the browser to the provider.
/// 404 when OpenID Connect is not configured; a 503 page when the provider cannot be reached.
pub async fn start(state: web::Data<AppState>, form: Option<web::Form<HashMap<String, String>>>) -> HttpResponse {
    if !state.oidc.is_configured() {
        return WebError::NotFound.error_response();
    }
    let client = match state.oidc.client().await {
        Ok(client) => client,
        Err(error) => return Failure::oidc(&error).response(),
    };
    let return_to = form.as_ref().and_then(|f| f.get(NEXT_FIELD)).and_then(|n| return_to(n));
    let (url, pending) = client.begin();
    match remember(&state, &pending, return_to).await {
        Ok(handle) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url.as_str()))
            .cookie(pending_cookie(&state, handle))
            .finish(),
        Err(failure) => failure.response(),
    }
}

/// Stores the pending sign-in; answers the handle for the browser's cookie.
async fn remember(state: &AppState, pending: &PendingSignIn, return_to: Option<String>) -> Result<String, Failure> {
    let handle = random_token().map_err(Failure::store)?;
    let now = state.settings.clock.now();
    let row = PendingSignInRow {
        handle_hash: hash_token(&handle),
        pending: serde_json::to_string(pending).map_err(|e| Failure::store(StoreError::internal(e.to_string())))?,
        return_to,
        expires_at: DbTime::new(now + Duration::minutes(PENDING_MINUTES)),
    };
    state
        .store
        .oidc_sign_ins()
        .start(row, now)
        .await
        .map_err(Failure::store)?;
    Ok(handle)
}

fn pending_cookie(state: &AppState, handle: String) -> Cookie<'static> {
    Cookie::build(PENDING_COOKIE, handle)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/web")
        .max_age(actix_web::cookie::time::Duration::minutes(PENDING_MINUTES))
        .secure(session::cookie_secure(&state.settings))
        .finish()
}

/// A cookie that tells the browser to forget `pat_oidc_sign_in`.
fn pending_removal() -> Cookie<'static> {
    let mut cookie = Cookie::build(PENDING_COOKIE, "").path("/web").http_only(true).finish();
    cookie.make_removal();
    cookie
}

/// `GET /web/oidc/callback?code=…&state=…` (or `?error=…` from the provider): finishes the sign-in
/// this browser started, once.
pub async fn callback(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    match finish(&state, &request).await {
        Ok((session_cookie, to)) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .cookie(session_cookie)
            .cookie(pending_removal())
            .finish(),
        Err(failure) => failure.response(),
    }
}

async fn finish(state: &AppState, request: &HttpRequest) -> Result<(Cookie<'static>, String), Failure> {
    let handle = request
        .cookie(PENDING_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| Failure::bad("No sign-in was started in this browser, or it has already been finished."))?;
    // Taken before anything else is looked at, so that whatever the answer, this sign-in is over.
    let row = state
        .store
        .oidc_sign_ins()
        .take(hash_token(&handle))
        .await
        .map_err(Failure::store)?
        .ok_or_else(|| {
            Failure::bad(
                "This sign-in has already been finished, or was not started here: each sign-in can be used once.",
            )
        })?;
    let query = web::Query::<HashMap<String, String>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    if let Some(error) = query.get("error") {
        return Err(Failure::provider_refused(error));
    }
    if row.expires_at.get() < state.settings.clock.now() {
        tracing::info!("web sign-in: the pending sign-in had expired");
        return Err(Failure::bad(&format!(
            "This sign-in was started more than {PENDING_MINUTES} minutes ago and has expired."
        )));
    }
    let (Some(code), Some(returned_state)) = (query.get("code"), query.get("state")) else {
        return Err(Failure::bad("The identity provider's answer is incomplete."));
    };
    let pending: PendingSignIn = serde_json::from_str(&row.pending)
        .map_err(|e| Failure::store(StoreError::internal(format!("a pending sign-in cannot be read: {e}"))))?;
    let client = state.oidc.client().await.map_err(|e| Failure::oidc(&e))?;
    let signed_in = client
        .complete(code, returned_state, pending)
        .await
        .map_err(|e| Failure::oidc(&e))?;
    // `integration` is the EPR engine's role, never a person's: a person given it gets nothing
    // from it on the pages.
    let roles: Vec<Role> = signed_in
        .roles
        .into_iter()
        .filter(|role| *role != Role::Integration)
        .collect();
    if roles.is_empty() {
        return Err(Failure::oidc(&OidcError::NoRole));
    }
    let name = signed_in.name.unwrap_or_else(|| signed_in.subject.clone());
    let cookie = session::start_session(state, &signed_in.subject, &name, &roles)
        .await
        .map_err(|error| match error {
            WebError::Api(api) => Failure::api(api),
            _ => Failure::store(StoreError::internal("the session could not be started")),
        })?;
    let to = row
        .return_to
        .and_then(|r| return_to(&r))
        .unwrap_or_else(|| "/web/".to_owned());
    Ok((cookie, to))
}

/// Why a sign-in did not happen, as a page.
struct Failure {
    status: StatusCode,
    title: &'static str,
    /// Plain text (escaped when shown).
    message: String,
}

impl Failure {
    fn bad(message: &str) -> Failure {
        tracing::info!(reason = message, "web sign-in refused");
        Failure {
            status: StatusCode::BAD_REQUEST,
            title: "Sign-in failed",
            message: format!("{message} Nobody was signed in."),
        }
    }

    fn oidc(error: &OidcError) -> Failure {
        let (status, title) = match error {
            OidcError::NoRole | OidcError::InvalidRolesClaim => (StatusCode::FORBIDDEN, "No access to this service"),
            OidcError::Discovery => (StatusCode::SERVICE_UNAVAILABLE, "Signing in is not possible just now"),
            OidcError::TokenEndpoint
            | OidcError::MissingIdToken
            | OidcError::InvalidSignature
            | OidcError::WrongIssuer
            | OidcError::WrongAudience
            | OidcError::InvalidIdToken => (StatusCode::BAD_GATEWAY, "Sign-in failed"),
            OidcError::StateMismatch | OidcError::CodeRefused | OidcError::Expired | OidcError::NonceMismatch => {
                (StatusCode::BAD_REQUEST, "Sign-in failed")
            }
            OidcError::Configuration => (StatusCode::INTERNAL_SERVER_ERROR, "Signing in is not possible just now"),
        };
        tracing::info!(error = ?error, "web sign-in refused");
        let mut message = capitalised(&error.to_string());
        message.push('.');
        if status == StatusCode::SERVICE_UNAVAILABLE {
            message.push_str(" Try again in a few minutes; if it goes on, tell the service's administrators.");
        }
        Failure { status, title, message }
    }

    /// The provider sent the browser back with an error (RFC 6749 §4.1.2.1) instead of a code. The
    /// provider's `error_description` is not shown: its words are not checked.
    fn provider_refused(error: &str) -> Failure {
        let (status, message) = match error {
            "access_denied" => (
                StatusCode::FORBIDDEN,
                "The identity provider did not sign you in to this service (access was denied there).",
            ),
            "server_error" | "temporarily_unavailable" => (
                StatusCode::BAD_GATEWAY,
                "The identity provider could not sign you in just now. Try again in a few minutes.",
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                "The identity provider refused this sign-in request. If it goes on, tell the service's administrators.",
            ),
        };
        // The error code is one word from a fixed list; anything else is logged as "other".
        let known = [
            "access_denied",
            "server_error",
            "temporarily_unavailable",
            "invalid_request",
            "unauthorized_client",
            "unsupported_response_type",
            "invalid_scope",
            "login_required",
            "interaction_required",
            "consent_required",
        ];
        let logged = known.iter().find(|k| **k == error).copied().unwrap_or("other");
        tracing::info!(provider_error = logged, "web sign-in refused by the identity provider");
        Failure {
            status,
            title: "Sign-in failed",
            message: message.to_owned(),
        }
    }

    fn api(error: ApiError) -> Failure {
        if matches!(error, ApiError::Internal(_)) {
            tracing::error!(error = %error, "web sign-in failed");
        }
        Failure {
            status: error.status_code(),
            title: "Sign-in failed",
            message: format!("{} Nobody was signed in.", error.problem().detail),
        }
    }

    fn store(error: StoreError) -> Failure {
        Failure::api(error.into())
    }

    fn response(&self) -> HttpResponse {
        let body = format!(
            "<p>{}</p><p><a href=\"/web/sign-in\">Sign in again</a></p>",
            escape(&self.message)
        );
        HttpResponse::build(self.status)
            .content_type(ContentType::html())
            .cookie(pending_removal())
            .body(page(self.title, None, &body))
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pages_of_this_service_are_returned_to() {
        for good in ["/web/today", "/web/today?date=2026-12-07", "/web/referrals"] {
            assert_eq!(return_to(good).as_deref(), Some(good), "{good}");
        }
        for bad in [
            "https://evil.example/web/",
            "//evil.example/web/",
            "/web//evil.example",
            "/web/\\evil.example",
            "/api/v1/bookings",
            "/web",
            "web/today",
            "/web/today\r\nSet-Cookie: x=y",
            "/web/oidc/callback?code=x",
            "",
        ] {
            assert_eq!(return_to(bad), None, "{bad:?}");
        }
        assert_eq!(return_to(&format!("/web/{}", "a".repeat(600))), None, "too long");
    }

    #[test]
    fn messages_start_with_a_capital() {
        assert_eq!(capitalised("the provider"), "The provider");
        assert_eq!(capitalised(""), "");
    }
}
