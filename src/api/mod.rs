//! HTTP resources: one module per resource, each with its handlers, request and response types
//! and utoipa paths. Handlers are thin: parse into domain types, call domain functions, run the
//! database work in one transaction on the blocking pool, map to a response.

pub mod attendances;
pub mod audit_events;
pub mod bookings;
pub mod health;
pub mod health_workers;
pub mod referrals;
pub mod screenings;
pub mod slots;
pub mod statistics;

use std::sync::Arc;

use actix_web::web;
use serde::de::DeserializeOwned;
use utoipa_actix_web::scope;

use crate::auth::AuthUser;
use crate::config::Settings;
use crate::db::audit::AuditEvent;
use crate::db::batch::WriteBatcher;
use crate::db::types::{DbTime, DbUuid};
use crate::db::{DbConnection, Pool};
use crate::domain::FieldError;
use crate::error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    /// Where the statistics read: the replica of `PAT_STATISTICS_DATABASE_URL`, or `pool`.
    pub statistics_pool: Pool,
    /// PostgreSQL with `PAT_WRITE_BATCH_SIZE` > 0: the queues that write attendances and
    /// screenings arriving together in one statement (`db::batch`).
    pub batcher: Option<Arc<WriteBatcher>>,
    pub settings: Arc<Settings>,
}

impl AppState {
    /// Runs `work` with a pooled connection on the blocking thread pool. A pool that cannot give
    /// a connection in `PAT_DB_TIMEOUT_SECONDS` answers 503.
    ///
    /// When the connection turns out to be lost (the database restarted or failed over), it is
    /// dropped and `work` runs again on another. That is safe because every write is idempotent:
    /// a write that did commit before the connection died is found and answered as a replay.
    pub async fn db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: Fn(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        run_on(self.pool.clone(), work).await
    }

    /// As [`AppState::db`], on the statistics' connections (read only when they are a replica).
    pub async fn statistics_db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: Fn(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        run_on(self.statistics_pool.clone(), work).await
    }
}

async fn run_on<T, F>(pool: Pool, work: F) -> Result<T, ApiError>
where
    F: Fn(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    web::block(move || {
        let attempts = pool.max_size() + 1;
        let mut outcome = Err(ApiError::Unavailable("no connection was tried".into()));
        for _ in 0..attempts {
            let mut conn = pool.get()?;
            outcome = work(&mut conn.inner);
            match outcome {
                Err(ApiError::ConnectionLost(_)) => conn.mark_lost(),
                _ => break,
            }
        }
        outcome
    })
    .await?
}

/// Every `/api/v1` route, registered through utoipa-actix-web so each appears in the OpenAPI
/// document (a route added with plain `.route()` would silently drop out).
pub fn v1() -> utoipa_actix_web::scope::Scope<
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
        .service(screenings::record)
        .service(audit_events::list)
        .service(health_workers::create)
        .service(health_workers::list)
        .service(slots::publish)
        .service(slots::list)
        .service(slots::withdraw)
        .service(referrals::record)
        .service(referrals::follow_up)
        .service(bookings::create)
        .service(bookings::list)
        .service(bookings::get)
        .service(bookings::outcome)
        .service(statistics::funnel)
        .service(statistics::referrals)
        .service(statistics::reattendance)
}

/// Deserialises a JSON value into a request type, naming the field that was wrong: 422 with
/// `errors: [{field, message}]`.
pub fn parse_body<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
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

/// One audit event for `user` acting on a resource of `patient_key`, in `request_id`.
pub fn audit_event(
    user: &AuthUser,
    request_id: &str,
    action: &str,
    resource_type: &str,
    resource_id: impl ToString,
    patient_key: Option<&str>,
) -> AuditEvent {
    AuditEvent {
        id: DbUuid(uuid::Uuid::now_v7()),
        occurred_at: DbTime::now(),
        actor: user.subject.clone(),
        roles: user.roles_text(),
        action: action.to_owned(),
        resource_type: resource_type.to_owned(),
        resource_id: resource_id.to_string(),
        patient_key: patient_key.map(str::to_owned),
        request_id: Some(request_id.to_owned()),
    }
}

/// A path id: a malformed one is a 400 naming the field.
pub fn parse_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest {
        detail: "the id in the path is not a UUID".into(),
        errors: vec![FieldError::new("id", "must be a UUID")],
    })
}

/// Reads back a code stored as TEXT (e.g. `"head_injury"`) into its enum; a value the enum does
/// not know means the database holds something the code never wrote: an internal error.
pub fn decode_code<T: DeserializeOwned>(code: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(code.to_owned()))
        .map_err(|_| ApiError::internal(format!("unexpected stored code {code:?}")))
}

/// Trims a free-text field, refusing an empty one and one longer than `max` characters.
pub fn text_field(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    let value = value?.trim();
    if value.is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
        None
    } else if value.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
        None
    } else {
        Some(value.to_owned())
    }
}
