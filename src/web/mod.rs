//! Server-rendered web pages for alcohol health workers (issue 13; docs/design.md §12), under
//! `/web`, in the same process as the JSON API and on the same stores: each page is an adapter
//! beside `src/api/`, calling the functions the JSON handlers call, so the rules, idempotency and
//! audit events are the API's. Signed in with a server-side session (`session`); every form POST
//! carries the session's CSRF token; every response carries the security headers below. No
//! JavaScript, no inline style or script, nothing fetched from elsewhere.

pub mod chart;
pub mod html;
pub mod oidc;
pub mod pages;
pub mod session;

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpResponse, ResponseError};

use crate::error::ApiError;
use crate::store::StoreError;
use html::escape;
use session::SignedIn;

/// The service's name as the pages show it.
pub const SERVICE_NAME: &str = "PAT service";

/// The Content-Security-Policy of every page: nothing but the service's own files, no inline
/// script or style, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The form field (and sign-in page query parameter) naming the page to return to.
pub const NEXT_FIELD: &str = "next";

/// `next` if it is a page of this service to return to after signing in: a path under `/web/`,
/// with no scheme, host, backslash, `//` or control character (nothing that could send the
/// browser to another site), at most 512 bytes. Anything else is ignored.
pub fn return_to(next: &str) -> Option<String> {
    let safe = next.starts_with("/web/")
        && next.len() <= 512
        && !next.contains("//")
        && !next.contains('\\')
        && !next.starts_with("/web/oidc/")
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    safe.then(|| next.to_owned())
}

/// True for a path the web pages answer (the error handler leaves their HTML alone).
pub fn is_web_path(path: &str) -> bool {
    path == "/web" || path.starts_with("/web/")
}

/// The `/web` routes, with the security headers on every response under them.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(
        web::scope("/web")
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .route("", web::get().to(pages::home))
            .route("/", web::get().to(pages::home))
            .route("/static/app.css", web::get().to(stylesheet))
            .route("/sign-in", web::get().to(pages::sign_in::sign_in))
            .route("/sign-in", web::post().to(oidc::start))
            .route("/oidc/callback", web::get().to(oidc::callback))
            .route("/dev/sign-in", web::get().to(pages::sign_in::dev_sign_in))
            .route("/sign-out", web::post().to(pages::sign_in::sign_out))
            .route("/today", web::get().to(pages::today::today))
            .route("/bookings/{id}/outcome", web::post().to(pages::today::record_outcome))
            .route("/referrals", web::get().to(pages::referrals::queue))
            .route("/referrals/{attendance_id}", web::get().to(pages::referrals::choose))
            .route(
                "/referrals/{attendance_id}/book",
                web::post().to(pages::referrals::book),
            )
            .route("/audit", web::get().to(pages::audit::audit))
            .route("/audit/funnel.csv", web::get().to(pages::audit::funnel_csv))
            .route("/audit/referrals.csv", web::get().to(pages::audit::referrals_csv))
            .route("/audit/reattendance.csv", web::get().to(pages::audit::reattendance_csv))
            .route("/slots", web::get().to(pages::slots::week))
            .route("/slots", web::post().to(pages::slots::publish))
            .route("/slots/{id}/withdraw", web::post().to(pages::slots::withdraw))
            .route("/follow-ups", web::get().to(pages::follow_ups::due))
            .route("/follow-ups/{attendance_id}", web::post().to(pages::follow_ups::record))
            .default_service(web::to(not_found)),
    );
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("static/app.css"))
}

async fn not_found() -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound)
}

/// Why a page was not shown, as an HTML page (or, not signed in, a redirect to sign in).
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not signed in (or the session is gone): to the sign-in page, with the page asked for when
    /// it was a GET of a page that may be returned to (`return_to`).
    #[error("not signed in")]
    SignIn(Option<String>),
    /// The signed-in user's roles cannot use the page (the user, when known, for the page's
    /// header: their own pages and "Sign out").
    #[error("forbidden for the role")]
    Forbidden(Option<Box<SignedIn>>),
    /// A form POST without this session's CSRF token (the user, for the page's header).
    #[error("the form's CSRF token is missing or wrong")]
    Csrf(Option<Box<SignedIn>>),
    #[error("not found")]
    NotFound,
    /// What the JSON API would answer as a problem, in words.
    #[error("{0}")]
    Api(ApiError),
}

impl From<StoreError> for WebError {
    fn from(error: StoreError) -> WebError {
        WebError::Api(error.into())
    }
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> WebError {
        WebError::Api(error)
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn(_) => StatusCode::SEE_OTHER,
            WebError::Forbidden(_) | WebError::Csrf(_) => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Api(error) => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let user = match self {
            WebError::Forbidden(user) | WebError::Csrf(user) => user.as_deref(),
            _ => None,
        };
        let (title, body) = match self {
            WebError::SignIn(next) => {
                let location = match next {
                    Some(next) => format!("/web/sign-in?next={}", html::query_component(next)),
                    None => "/web/sign-in".to_owned(),
                };
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .cookie(session::removal_cookie())
                    .finish();
            }
            WebError::Forbidden(_) => (
                "Your role cannot use this page".to_owned(),
                "<p>Your role cannot use this page. <a href=\"/web/\">Go to the pages you can use</a>.</p>".to_owned(),
            ),
            WebError::Csrf(_) => (
                "The form could not be accepted".to_owned(),
                "<p>The form was not sent from this service's page, or your session changed since the page was \
                 shown: nothing was done. <a href=\"/web/\">Start again</a>.</p>"
                    .to_owned(),
            ),
            WebError::NotFound => (
                "Page not found".to_owned(),
                "<p>There is no such page. <a href=\"/web/\">Go to the start</a>.</p>".to_owned(),
            ),
            WebError::Api(error) => {
                if matches!(error, ApiError::Internal(_)) {
                    tracing::error!(error = %error, "web page failed");
                }
                let problem = error.problem();
                let mut body = format!("<p>{}</p>", escape(&problem.detail));
                if !problem.errors.is_empty() {
                    body.push_str("<ul>");
                    for field in &problem.errors {
                        body.push_str(&format!(
                            "<li><strong>{}</strong>: {}</li>",
                            escape(&field.field),
                            escape(&field.message)
                        ));
                    }
                    body.push_str("</ul>");
                }
                body.push_str("<p><a href=\"/web/\">Go back to the start</a>. Nothing was changed.</p>");
                (problem.title, body)
            }
        };
        HttpResponse::build(self.status_code())
            .content_type(ContentType::html())
            .body(page(&title, user, &body))
    }
}

/// A whole page: the layout (header with the service's name, the signed-in user, their role's
/// pages and the sign-out button) around `main`, which must be escaped already.
pub fn page(title: &str, user: Option<&SignedIn>, main: &str) -> String {
    let header = match user {
        None => format!("<header><a class=\"service\" href=\"/web/\">{SERVICE_NAME}</a></header>"),
        Some(user) => {
            let links: String = pages::links_for(user)
                .iter()
                .map(|(href, text)| format!("<a href=\"{href}\">{text}</a>"))
                .collect();
            format!(
                "<header><a class=\"service\" href=\"/web/\">{SERVICE_NAME}</a>\
                 <nav aria-label=\"Pages\">{links}</nav>\
                 <span class=\"who\">Signed in as {name} ({roles})</span>\
                 <form method=\"post\" action=\"/web/sign-out\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <button type=\"submit\">Sign out</button></form></header>",
                name = escape(&user.display_name),
                roles = escape(&user.roles_text()),
                csrf = escape(&user.csrf_token),
            )
        }
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} – {SERVICE_NAME}</title>\
         <link rel=\"stylesheet\" href=\"/web/static/app.css\"></head>\
         <body>{header}<main><h1>{title}</h1>{main}</main></body></html>\n",
        title = escape(title),
    )
}

/// An HTML 200.
pub fn html(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::html()).body(body)
}
