//! Signing in and out. Sign-in by OpenID Connect is not built yet (`src/oidc/`, in progress): until
//! then `/web/sign-in` says so, and `serve --dev` prints a development sign-in link per role
//! (`/web/dev/sign-in?role=…&key=…`), a route that answers 404 without `--dev`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::api::AppState;
use crate::auth::Role;
use crate::web::session::{self, SignedIn};
use crate::web::{html, page, WebError};

/// `GET /web/sign-in`.
pub async fn sign_in(state: web::Data<AppState>) -> HttpResponse {
    let body = if state.settings.dev {
        "<p>This service is running in development mode: sign in with one of the links it printed when it \
         started (one per role).</p>"
    } else {
        "<p>Sign-in is not configured for this service yet. Ask the service's administrators.</p>"
    };
    html(page("Sign in", None, body))
}

/// `GET /web/dev/sign-in?role=ahw&key=…`: development mode only (404 otherwise). Starts a session
/// for `dev-<role>` with that one role when the key is this process's.
pub async fn dev_sign_in(
    state: web::Data<AppState>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    if !state.settings.dev {
        return Err(WebError::NotFound);
    }
    let key_matches = query
        .get("key")
        .is_some_and(|key| key == state.settings.web.dev_sign_in_key.expose());
    if !key_matches {
        return Err(WebError::Forbidden);
    }
    let role = query
        .get("role")
        .and_then(|code| Role::from_code(code))
        .ok_or(WebError::NotFound)?;
    let subject = format!("dev-{}", role.code());
    let cookie = session::start_session(&state, &subject, &format!("Development {}", role.code()), &[role]).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/web/"))
        .cookie(cookie)
        .finish())
}

/// `POST /web/sign-out` (CSRF-checked): the session is removed from the database, so its cookie
/// no longer works anywhere.
pub async fn sign_out(
    state: web::Data<AppState>,
    user: SignedIn,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    user.check_csrf(&form)?;
    let cookie = session::end_session(&state, &user).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/web/sign-in"))
        .cookie(cookie)
        .finish())
}
