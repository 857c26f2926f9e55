//! Signing in and out. The sign-in page offers OpenID Connect when `PAT_OIDC_*` is set (the button
//! posts to `/web/sign-in`, `web::oidc`); `serve --dev` also prints a development sign-in link per
//! role (`/web/dev/sign-in?role=…&key=…`), a route that answers 404 without `--dev`.

use std::collections::HashMap;

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::AppState;
use crate::auth::Role;
use crate::web::html::escape;
use crate::web::session::{self, SignedIn};
use crate::web::{html, page, WebError, CONTENT_SECURITY_POLICY};
use crate::web::{return_to, NEXT_FIELD};

const DEV_LINKS: &str = "<p>This service is running in development mode: the development sign-in links it printed \
     when it started (one per role) also work.</p>";

/// `GET /web/sign-in[?next=/web/…]`: the "Sign in" button when OpenID Connect is configured (the
/// provider is discovered now if it has not been yet: when it cannot be reached the page says so,
/// 503); in development mode, a word about the development links; otherwise, that sign-in is not
/// configured.
pub async fn sign_in(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    // Read by hand: a malformed query is no `next`, not an error.
    let query = web::Query::<HashMap<String, String>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let dev_links = if state.settings.dev { DEV_LINKS } else { "" };
    if !state.oidc.is_configured() {
        let body = if state.settings.dev {
            "<p>This service is running in development mode: sign in with one of the links it printed when it \
             started (one per role).</p>"
        } else {
            "<p>Sign-in is not configured for this service yet. Ask the service's administrators.</p>"
        };
        return html(page("Sign in", None, body));
    }
    match state.oidc.client().await {
        Ok(client) => {
            let next = query
                .get(NEXT_FIELD)
                .and_then(|n| return_to(n))
                .map(|n| format!("<input type=\"hidden\" name=\"{NEXT_FIELD}\" value=\"{}\">", escape(&n)))
                .unwrap_or_default();
            let body = format!(
                "<p>Sign in with your organisation's account: you will be taken to its sign-in page and \
                 brought back here.</p>\
                 <form method=\"post\" action=\"/web/sign-in\">{next}<button type=\"submit\">Sign in</button></form>\
                 {dev_links}"
            );
            HttpResponse::Ok()
                .content_type(ContentType::html())
                .insert_header((
                    header::CONTENT_SECURITY_POLICY,
                    policy_allowing_form_to(&client.authorization_origin()),
                ))
                .body(page("Sign in", None, &body))
        }
        Err(error) => {
            let body = format!(
                "<p>Signing in is not possible just now: {}. Try again in a few minutes; if it goes on, tell \
                 the service's administrators.</p><p><a href=\"/web/sign-in\">Try again</a></p>{dev_links}",
                escape(&error.to_string())
            );
            HttpResponse::ServiceUnavailable()
                .content_type(ContentType::html())
                .body(page("Sign in", None, &body))
        }
    }
}

/// The pages' Content-Security-Policy with the provider's authorization endpoint allowed as a
/// form target: browsers check `form-action` against the redirect that answers the sign-in form,
/// so `'self'` alone would stop the browser on its way to the provider. An origin that is not a
/// plain `scheme://host[:port]` is not added.
fn policy_allowing_form_to(origin: &str) -> String {
    let plain = (origin.starts_with("https://") || origin.starts_with("http://"))
        && origin
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:/[]".contains(&b));
    if !plain {
        return CONTENT_SECURITY_POLICY.to_owned();
    }
    CONTENT_SECURITY_POLICY.replace("form-action 'self'", &format!("form-action 'self' {origin}"))
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
        return Err(WebError::Forbidden(None));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_form_may_go_to_the_provider_and_nothing_else_changes() {
        let policy = policy_allowing_form_to("https://login.microsoftonline.com");
        assert!(
            policy.contains("form-action 'self' https://login.microsoftonline.com"),
            "{policy}"
        );
        assert_eq!(
            policy.replace(" https://login.microsoftonline.com", ""),
            CONTENT_SECURITY_POLICY,
            "only form-action changes"
        );
        for odd in [
            "null",
            "https://a.example; script-src *",
            "https://a.example 'unsafe-inline'",
            "javascript:x",
        ] {
            assert_eq!(policy_allowing_form_to(odd), CONTENT_SECURITY_POLICY, "{odd}");
        }
    }
}
