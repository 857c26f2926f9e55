//! `GET /api/v1/follow-ups`: the alcohol health workers' worklist of 6- and 12-month follow-up
//! contacts that are due and not yet made, with who the patient is (every attendance listed is an
//! audited read).

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problems::{Problems, QueryProblems};
use super::views::PatientView;
use super::AppState;
use crate::auth::Authorized;
use crate::domain::calendar::london_date;
use crate::domain::scheduling::{follow_up_due_date, AhwContact};
use crate::error::{ApiError, Problem};
use crate::role_set;
use crate::store::scheduling::follow_ups::DueFollowUp;

role_set!(
    /// Who reads the follow-up worklist, with patient identifiers: the AHW team, and
    /// administrators (who read bookings too).
    ReadFollowUps: Ahw, Admin
);

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Deserialize, IntoParams, Debug)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FollowUpQuery {
    /// Europe/London date: follow-ups due on this day or before it (inclusive); default today.
    pub due_before: Option<NaiveDate>,
    /// At most this many follow-ups, oldest due first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// A follow-up contact that is due and not yet recorded.
#[derive(Serialize, ToSchema, Debug)]
pub struct DueFollowUpView {
    /// The attendance the patient was referred from (record the contact with
    /// `POST /api/v1/attendances/{id}/follow-ups`).
    pub attendance_id: uuid::Uuid,
    pub arrived_at: DateTime<Utc>,
    pub site: Option<String>,
    pub patient: PatientView,
    /// 6 or 12.
    pub months: u32,
    /// Europe/London date the follow-up is due: `contact_date` plus `months` calendar months
    /// (the month's last day when it has no such day).
    #[schema(value_type = String, format = Date)]
    pub due_date: NaiveDate,
    /// How the AHW saw the patient.
    pub contact: AhwContact,
    /// When: the attended appointment's slot start, or the `seen_in_department` decision time.
    pub contact_at: DateTime<Utc>,
    /// `contact_at` as a Europe/London date.
    #[schema(value_type = String, format = Date)]
    pub contact_date: NaiveDate,
    /// The AHW of the contact (null for a `seen_in_department` recorded before it was asked for).
    pub health_worker_id: Option<uuid::Uuid>,
    /// Units a week recorded at the contact, if any: what the follow-up is compared with.
    pub units_per_week_at_contact: Option<f64>,
}

impl From<&DueFollowUp> for DueFollowUpView {
    fn from(item: &DueFollowUp) -> DueFollowUpView {
        let contact_date = london_date(item.contact_at);
        DueFollowUpView {
            attendance_id: item.attendance.id.0,
            arrived_at: item.attendance.arrived_at.get(),
            site: item.attendance.site.clone(),
            patient: PatientView::from(&item.attendance),
            months: item.months,
            due_date: follow_up_due_date(contact_date, item.months),
            contact: item.contact,
            contact_at: item.contact_at,
            contact_date,
            health_worker_id: item.health_worker_id,
            units_per_week_at_contact: item.units_per_week,
        }
    }
}

#[derive(Serialize, ToSchema, Debug)]
pub struct FollowUpWorklist {
    /// The Europe/London date listed up to (inclusive).
    #[schema(value_type = String, format = Date)]
    pub due_before: NaiveDate,
    /// Oldest due first (then by contact time, 6 before 12 months, attendance id).
    pub follow_ups: Vec<DueFollowUpView>,
}

/// The 6- and 12-month follow-up contacts due on or before `due_before` and not yet recorded.
///
/// A follow-up is due for every patient an AHW saw — an attended appointment (its slot start) or
/// a `seen_in_department` decision (its `decided_at`) — 6 and 12 calendar months after that
/// contact's Europe/London date; it stops being listed once recorded. The whole team's patients
/// are listed; each attendance listed is an audit event.
#[utoipa::path(
    operation_id = "listFollowUps",
    tag = "scheduling",
    params(FollowUpQuery),
    responses(
        (status = 200, description = "The follow-ups due", body = FollowUpWorklist),
        QueryProblems,
        (status = 422, description = "Invalid limit", body = Problem, content_type = "application/problem+json"),
        Problems,
    ),
    security(("bearerAuth" = []))
)]
#[get("/follow-ups")]
pub async fn worklist(
    auth: Authorized<ReadFollowUps>,
    state: web::Data<AppState>,
    query: web::Query<FollowUpQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", format!("must be from 1 to {MAX_LIMIT}")));
    }
    let due_before = query
        .due_before
        .unwrap_or_else(|| london_date(state.settings.clock.now()));
    let due = state.store.follow_ups().due(due_before, limit, &auth.actor()).await?;
    Ok(HttpResponse::Ok().json(FollowUpWorklist {
        due_before,
        follow_ups: due.iter().map(DueFollowUpView::from).collect(),
    }))
}
