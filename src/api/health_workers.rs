//! `POST /api/v1/health-workers`, `GET /api/v1/health-workers`: the AHW register.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::problems::{BodyProblems, InvalidValues, Problems};
use super::{text_field, AppState, Body};
use crate::auth::Authorized;
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::scheduling::health_workers::{HealthWorker, NewHealthWorker};

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

impl CreateHealthWorker {
    /// Trimmed and checked for length, every problem at once.
    fn into_new(self) -> Result<NewHealthWorker, ApiError> {
        let mut errors = Vec::new();
        let name = text_field(&mut errors, "name", Some(&self.name), 100);
        let staff_id = text_field(&mut errors, "staff_id", self.staff_id.as_deref(), 50);
        let subject = text_field(&mut errors, "subject", self.subject.as_deref(), 200);
        match name {
            Some(name) if errors.is_empty() => Ok(NewHealthWorker {
                name,
                staff_id,
                subject,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
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
    operation_id = "createHealthWorker",
    tag = "scheduling",
    request_body = CreateHealthWorker,
    responses(
        (status = 201, description = "Added", body = HealthWorkerView),
        (status = 409, description = "staff_id or subject already registered", body = Problem, content_type = "application/problem+json"),
        InvalidValues,
        Problems,
        BodyProblems,
    ),
    security(("bearerAuth" = []))
)]
#[post("/health-workers")]
pub async fn create(
    auth: Authorized<ManageHealthWorkers>,
    state: web::Data<AppState>,
    Body(input): Body<CreateHealthWorker>,
) -> Result<HttpResponse, ApiError> {
    let new = input.into_new()?;
    let now = state.settings.clock.now();
    let worker = state.store.health_workers().create(new, now, &auth.actor()).await?;
    Ok(HttpResponse::Created().json(HealthWorkerView::from(worker)))
}

/// The register, by name.
#[utoipa::path(
    operation_id = "listHealthWorkers",
    tag = "scheduling",
    responses(
        (status = 200, description = "The register", body = HealthWorkersView),
        Problems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/health-workers")]
pub async fn list(_auth: Authorized<ReadHealthWorkers>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let workers = state.store.health_workers().list().await?;
    Ok(HttpResponse::Ok().json(HealthWorkersView {
        health_workers: workers.into_iter().map(Into::into).collect(),
    }))
}
