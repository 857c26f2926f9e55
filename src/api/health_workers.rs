//! `POST /api/v1/health-workers`, `GET /api/v1/health-workers`: the AHW register.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{parse_body, text_field, AppState};
use crate::auth::Authorized;
use crate::db::types::{DbTime, DbUuid};
use crate::db::write_transaction;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::scheduling::{self, violates, HealthWorker};

role_set!(
    /// Who keeps the register.
    ManageHealthWorkers: Admin
);
role_set!(
    /// Who reads the register.
    ReadHealthWorkers: Admin, Ahw, Clinician
);

#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct CreateHealthWorker {
    pub name: String,
    /// The trust's staff number; unique.
    #[serde(default)]
    pub staff_id: Option<String>,
    /// The `sub` of this person's tokens, linking them to their slots; unique.
    #[serde(default)]
    pub subject: Option<String>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct HealthWorkerView {
    pub id: uuid::Uuid,
    pub name: String,
    pub staff_id: Option<String>,
    pub subject: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct HealthWorkersView {
    pub health_workers: Vec<HealthWorkerView>,
}

impl From<HealthWorker> for HealthWorkerView {
    fn from(row: HealthWorker) -> Self {
        HealthWorkerView {
            id: row.id.0,
            name: row.name,
            staff_id: row.staff_id,
            subject: row.subject,
            created_at: row.created_at.get(),
        }
    }
}

/// Add an alcohol health worker to the register.
#[utoipa::path(
    tag = "scheduling",
    request_body = CreateHealthWorker,
    responses(
        (status = 201, description = "Added", body = HealthWorkerView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "staff_id or subject already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[post("/health-workers")]
pub async fn create(
    auth: Authorized<ManageHealthWorkers>,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let input: CreateHealthWorker = parse_body(body.into_inner())?;
    let mut errors = Vec::new();
    let name = text_field(&mut errors, "name", Some(&input.name), 100);
    let staff_id = text_field(&mut errors, "staff_id", input.staff_id.as_deref(), 50);
    let subject = text_field(&mut errors, "subject", input.subject.as_deref(), 200);
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let row = HealthWorker {
        id: DbUuid(uuid::Uuid::now_v7()),
        name,
        staff_id,
        subject,
        created_at: DbTime::new(state.settings.clock.now()),
        created_by: auth.user.subject,
    };
    let view = state
        .db(move |conn| {
            write_transaction(conn, |conn| scheduling::insert_health_worker(conn, &row)).map_err(|e| {
                if violates(&e, "health_workers_staff_id_unique", "health_workers.staff_id")
                    || violates(&e, "health_workers_subject_unique", "health_workers.subject")
                {
                    ApiError::Conflict {
                        kind: "duplicate-health-worker",
                        detail: "a health worker with this staff_id or subject is already registered".into(),
                    }
                } else {
                    e.into()
                }
            })?;
            Ok(HealthWorkerView::from(row.clone()))
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The register, by name.
#[utoipa::path(
    tag = "scheduling",
    responses(
        (status = 200, description = "The register", body = HealthWorkersView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearerAuth" = []))
)]
#[get("/health-workers")]
pub async fn list(_auth: Authorized<ReadHealthWorkers>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state.db(|conn| Ok(scheduling::list_health_workers(conn)?)).await?;
    Ok(HttpResponse::Ok().json(HealthWorkersView {
        health_workers: rows.into_iter().map(Into::into).collect(),
    }))
}
