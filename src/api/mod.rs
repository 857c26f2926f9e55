//! HTTP resources: one module per resource, each with its handlers, request types and utoipa
//! paths; the views several resources answer with are in `views`. A handler reads as: parse
//! (the extractors below, then into domain types), apply the domain rule, make one store call,
//! map the result to a view.

pub mod attendances;
pub mod audit_events;
pub mod bookings;
pub mod follow_ups;
pub mod health;
pub mod health_workers;
pub mod patients;
pub mod problems;
pub mod referrals;
pub mod screenings;
pub mod slots;
pub mod statistics;
pub mod views;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::{Payload, ServiceFactory, ServiceRequest};
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use utoipa_actix_web::{scope, UtoipaApp};

use crate::config::Settings;
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// The identity provider the web pages sign in with (`PAT_OIDC_*`), discovered on first use.
    pub oidc: Arc<crate::oidc::Provider>,
}

/// Every documented route: operations endpoints and `/api/v1`, added to `app` (whose OpenAPI
/// document, `openapi::ApiDoc`, they fill in).
pub fn routes<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.service(health::live)
        .service(health::ready)
        .service(health::metrics)
        .service(v1())
}

/// Every `/api/v1` route, registered through utoipa-actix-web so each appears in the OpenAPI
/// document (a route added with plain `.route()` would silently drop out).
fn v1() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Error = actix_web::Error,
        InitError = (),
        Response = actix_web::dev::ServiceResponse,
    >,
> {
    scope::scope("/api/v1")
        .service(attendances::create)
        .service(attendances::get)
        .service(attendances::mark_entered_in_error)
        .service(patients::get)
        .service(patients::link)
        .service(patients::unlink)
        .service(screenings::record)
        .service(audit_events::list)
        .service(health_workers::create)
        .service(health_workers::list)
        .service(slots::publish)
        .service(slots::list)
        .service(slots::withdraw)
        .service(referrals::record)
        .service(referrals::follow_up)
        .service(follow_ups::worklist)
        .service(bookings::create)
        .service(bookings::list)
        .service(bookings::get)
        .service(bookings::outcome)
        .service(statistics::funnel)
        .service(statistics::referrals)
        .service(statistics::reattendance)
        .service(statistics::outcomes)
}

/// Deserialises a JSON value into a request type, naming the field that was wrong: 422 with
/// `errors: [{field, message}]`.
pub(crate) fn parse_body<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        // serde reports a missing or unknown field at the enclosing object; name the field.
        let field_named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|prefix| message.strip_prefix(prefix))
            .and_then(|rest| rest.split('`').next())
            .map(|name| {
                if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            });
        let field = field_named.unwrap_or_else(|| if path == "." { "body".to_owned() } else { path });
        ApiError::Validation(vec![FieldError::new(field, message)])
    })
}

/// A JSON request body, parsed into `T`: malformed JSON is a 400, a body over 1 MiB a 413, the
/// wrong content type a 415 (the app's `JsonConfig`), and a value of the wrong shape a 422 naming
/// the field by its JSON path (`answers.drinks[1].measure`).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Body<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = json.await?.into_inner();
            parse_body(value).map(Body).map_err(actix_web::Error::from)
        })
    }
}

/// The `{id}` of the path as a UUID: a malformed one is a 400 naming the field.
pub struct PathId(pub uuid::Uuid);

impl FromRequest for PathId {
    type Error = ApiError;
    type Future = std::future::Ready<Result<PathId, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(path_id(req).map(PathId))
    }
}

/// The `{id}` of the path and a JSON body parsed into `T`, checked in docs/design.md §4's order: the
/// body's JSON first (400, 413, 415, as [`Body`]), then the id (400, as [`PathId`]), then the
/// body's values (422). (`PathId` and `Body<T>` as two arguments would answer a malformed id
/// before a malformed body.)
pub struct PathIdAndBody<T>(pub uuid::Uuid, pub T);

impl<T: DeserializeOwned + 'static> FromRequest for PathIdAndBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<PathIdAndBody<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        let id = path_id(req);
        Box::pin(async move {
            let value = json.await?.into_inner();
            let id = id?;
            let body = parse_body(value)?;
            Ok(PathIdAndBody(id, body))
        })
    }
}

fn path_id(req: &HttpRequest) -> Result<uuid::Uuid, ApiError> {
    match req.match_info().get("id") {
        Some(raw) => parse_id(raw),
        None => Err(ApiError::internal("a path id read on a route without {id}")),
    }
}

/// A path id: a malformed one is a 400 naming the field.
fn parse_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest {
        detail: "the id in the path is not a UUID".into(),
        errors: vec![FieldError::new("id", "must be a UUID")],
    })
}

/// Trims a free-text field, refusing one that is blank and one longer than `max` characters as
/// sent (the length the OpenAPI document's `maxLength` counts).
pub fn text_field(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    let sent = value?;
    let value = sent.trim();
    if value.is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
        None
    } else if sent.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
        None
    } else {
        Some(value.to_owned())
    }
}
