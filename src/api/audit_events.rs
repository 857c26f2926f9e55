//! `GET /api/v1/audit-events`: who read or changed whose records, and when.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{Problems, QueryProblems};
use super::AppState;
use crate::auth::Authorized;
use crate::db::types::DbTime;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::audit::AuditFilter;

role_set!(
    /// Only administrators read the audit trail.
    ReadAudit: Admin
);

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Deserialize, IntoParams, Debug)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `nhs:<NHS number>` or `local:<hospital number>`.
    pub patient_key: Option<String>,
    /// The token subject of the person or system.
    pub actor: Option<String>,
    /// Events at or after this time (RFC 3339).
    pub from: Option<DateTime<FixedOffset>>,
    /// Events before this time (RFC 3339).
    pub to: Option<DateTime<FixedOffset>>,
    /// At most this many events, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct AuditEventView {
    pub id: uuid::Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The token subject.
    pub actor: String,
    pub roles: Vec<String>,
    /// `create`, `read`, `update`, `correct` (a new version of a referral decision or a booking's
    /// outcome; the earlier one is kept) or `unmet` (a booking request refused).
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    /// Whose record: `nhs:<NHS number>` or `local:<hospital number>`.
    pub patient_key: Option<String>,
    /// The `x-request-id` of the request that caused it.
    pub request_id: Option<String>,
    /// For `unmet`, why nothing was booked (`no-slot-in-window`, `slot-taken`, `outside-window`,
    /// …); for `correct`, the version made (`version 2`).
    pub detail: Option<String>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct AuditEventsView {
    pub events: Vec<AuditEventView>,
}

/// The audit trail, newest first.
#[utoipa::path(
    operation_id = "listAuditEvents",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Events", body = AuditEventsView),
        QueryProblems,
        (status = 422, description = "Invalid limit", body = Problem, content_type = "application/problem+json"),
        Problems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/audit-events")]
pub async fn list(
    auth: Authorized<ReadAudit>,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", format!("must be from 1 to {MAX_LIMIT}")));
    }
    let filter = AuditFilter {
        patient_key: query.patient_key,
        actor: query.actor,
        from: query.from.map(|t| DbTime::new(t.with_timezone(&Utc))),
        to: query.to.map(|t| DbTime::new(t.with_timezone(&Utc))),
        limit,
    };
    let events = state.store.audit().list(filter, &auth.actor()).await?;
    let events = events
        .into_iter()
        .map(|e| AuditEventView {
            id: e.id.0,
            occurred_at: e.occurred_at.get(),
            actor: e.actor,
            roles: e
                .roles
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            patient_key: e.patient_key,
            request_id: e.request_id,
            detail: e.detail,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditEventsView { events }))
}
