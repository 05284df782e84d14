//! `/api/v1/jobs`: the background integration jobs. A job can be read by whoever may manage
//! its patient's sync; listing (parked ones, say) and re-running parked jobs is for admins —
//! replay is what operators of integration engines ask for most.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiPath, ApiQuery, AuthUser};
use super::patients;
use crate::app::AppState;
use crate::db::jobs::{Job, JobStatus};
use crate::db::{patient_facts, DbError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use domain::dto::CarepatronState;
use domain::UserType;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// Only jobs in this state (`queued`, `running`, `done`, `parked`).
    status: Option<String>,
    /// At most this many, newest first (1-200, default 50).
    limit: Option<i64>,
}

/// Why anyone but an admin is refused here.
const ADMINS_ONLY: &str = "only admins list and re-run jobs";

fn conflict(detail: &str) -> ApiError {
    ApiError::Conflict {
        code: "job_not_replayable",
        detail: detail.to_owned(),
        existing_id: None,
    }
}

/// A job and its progress.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", operation_id = "get_job", tag = "jobs", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Job), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Job>> {
    let job = app.db.job(id).await?.ok_or(ApiError::NotFound("job"))?;
    if !caller.is(UserType::Admin) {
        // Someone who cannot manage the patient's sync does not learn the job exists (nor
        // of the jobs about no patient: the inquiry emails).
        let patient_id = job.patient_id.ok_or(ApiError::NotFound("job"))?;
        let patient = patients::visible(&app, &caller, patient_id)
            .await
            .map_err(|_| ApiError::NotFound("job"))?;
        caller
            .can_manage_sync(&patient_facts(&patient))
            .map_err(|_| ApiError::NotFound("job"))?;
    }
    Ok(Json(job))
}

/// Jobs, newest first (admins).
#[utoipa::path(get, path = "/api/v1/jobs", operation_id = "list_jobs", tag = "jobs", security(("bearer" = [])),
    params(JobQuery),
    responses((status = 200, body = Vec<Job>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<Json<Vec<Job>>> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    let status = q
        .status
        .as_deref()
        .map(str::parse::<JobStatus>)
        .transpose()
        .map_err(|e| ApiError::invalid("status", e.to_string()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 200"));
    }
    Ok(Json(app.db.list_jobs(status, limit).await?))
}

/// The Carepatron side at a glance (admins): configured or not, when its followers last ran,
/// reconciles waiting and stopped, the newest failure.
#[utoipa::path(get, path = "/api/v1/integrations/carepatron", operation_id = "get_carepatron_state", tag = "jobs", security(("bearer" = [])),
    responses((status = 200, body = CarepatronState), (status = 403, body = Problem)))]
pub async fn carepatron(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
) -> ApiResult<Json<CarepatronState>> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    let configured = app.config.carepatron.is_some();
    Ok(Json(app.db.carepatron_state(configured).await?))
}

/// Re-runs a parked job from its first attempt (admins).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/replay", operation_id = "replay_job", tag = "jobs", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 202, body = Job), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "not parked, or the patient has a job of its kind waiting already")))]
pub async fn replay(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<Job>)> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    match app.db.replay_job(id).await {
        Ok(Some(job)) => {
            app.integrations.wake();
            Ok((StatusCode::ACCEPTED, Json(job)))
        }
        Ok(None) => match app.db.job(id).await? {
            Some(_) => Err(conflict("only a parked job can be re-run")),
            None => Err(ApiError::NotFound("job")),
        },
        Err(DbError::Unique) => Err(conflict(
            "the patient has a job of this kind waiting already",
        )),
        Err(e) => Err(e.into()),
    }
}
