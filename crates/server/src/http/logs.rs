//! The synchronization log, manual sync and document requests.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{page_params, ApiJson, ApiPath, ApiQuery, AuthUser};
use super::patients;
use crate::app::AppState;
use crate::db::jobs::{Job, JobCause, JobKind};
use crate::db::{patient_facts, LogFilter};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use domain::dto::{DocumentRequest, LogQuery, NewDocumentRequest, Page, SyncLogEntry};
use domain::UserType;
use uuid::Uuid;

/// A patient's synchronization log, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/patients/{patient_id}/logs", operation_id = "list_patient_logs", tag = "logs",
    security(("bearer" = [])), params(("patient_id" = Uuid, Path), LogQuery),
    responses((status = 200, body = Page<SyncLogEntry>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Json<Page<SyncLogEntry>>> {
    let patient = patients::visible(&app, &caller, patient_id).await?;
    caller.can_manage_sync(&patient_facts(&patient))?;
    let (limit, after) = page_params(q.limit, q.cursor.as_deref(), 1)?;
    let filter = LogFilter {
        status: q.status,
        action: q.action,
        from: q.from,
        to: q.to,
        q: q.q.as_deref(),
    };
    let (items, next_cursor) = app
        .db
        .list_logs(patient_id, &filter, limit, after.as_deref())
        .await?;
    Ok(Json(Page { items, next_cursor }))
}

/// One log entry: admins see all, dieticians those of their own patients.
#[utoipa::path(get, path = "/api/v1/logs/{id}", operation_id = "get_log_entry", tag = "logs", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SyncLogEntry), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<SyncLogEntry>> {
    let (entry, owner) = app
        .db
        .log_entry(id)
        .await?
        .ok_or(ApiError::NotFound("log entry"))?;
    let visible =
        caller.is(UserType::Admin) || (caller.is(UserType::Dietician) && owner == Some(caller.id));
    if !visible {
        return Err(ApiError::NotFound("log entry"));
    }
    Ok(Json(entry))
}

/// Pull the patient's documents from their PHP now: 202 with the job (also at `Location`),
/// whose `progress` counts what was found and stored. A pull already waiting or running is
/// joined rather than doubled.
#[utoipa::path(post, path = "/api/v1/patients/{patient_id}/sync", operation_id = "sync_patient", tag = "logs",
    security(("bearer" = [])), params(("patient_id" = Uuid, Path)),
    responses((status = 202, body = Job), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem, description = "the patient is not linked to a healthcare provider")))]
pub async fn manual_sync(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let patient = patients::visible(&app, &caller, patient_id).await?;
    caller.can_manage_sync(&patient_facts(&patient))?;
    if patient.provider_id.is_none() {
        return Err(not_linked());
    }
    let job = app
        .enqueue(
            JobKind::Pull,
            patient_id,
            None,
            JobCause::Manual,
            Some(caller.id),
        )
        .await?;
    let location = format!("/api/v1/jobs/{}", job.id);
    Ok(super::with_location(
        (StatusCode::ACCEPTED, Json(job)).into_response(),
        &location,
    ))
}

fn not_linked() -> ApiError {
    ApiError::invalid(
        "patient_id",
        "this patient is not linked to a healthcare provider; choose their provider first",
    )
}

/// Ask the patient's PHP for documents (202). A job sends it as a FHIR Task (or a
/// CommunicationRequest) and follows it; the request's log entry shows where it is, and the
/// documents it brings are pulled when the PHP completes it.
#[utoipa::path(post, path = "/api/v1/patients/{patient_id}/request-documents", operation_id = "request_documents", tag = "logs",
    security(("bearer" = [])), params(("patient_id" = Uuid, Path)), request_body = NewDocumentRequest,
    responses((status = 202, body = DocumentRequest), (status = 403, body = Problem),
              (status = 404, body = Problem),
              (status = 409, body = Problem, description = "link_not_approved"),
              (status = 422, body = Problem)))]
pub async fn request_documents(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewDocumentRequest>,
) -> ApiResult<(StatusCode, Json<DocumentRequest>)> {
    let patient = patients::visible(&app, &caller, patient_id).await?;
    caller.can_manage_sync(&patient_facts(&patient))?;
    if patient.provider_id.is_none() {
        return Err(not_linked());
    }
    let unapproved = match patient.link_approval {
        Some(domain::LinkApproval::Approved) => None,
        Some(domain::LinkApproval::Refused) => Some(
            "an administrator refused the patient's link to their provider; correct the link and ask once it is approved",
        ),
        _ => Some("the patient's link to their provider awaits an administrator's approval; ask once it is approved"),
    };
    if let Some(detail) = unapproved {
        return Err(ApiError::Conflict {
            code: "link_not_approved",
            detail: detail.into(),
            existing_id: None,
        });
    }
    let request = app
        .db
        .insert_document_request(patient_id, caller.id, req)
        .await?;
    app.enqueue(
        JobKind::Request,
        patient_id,
        Some(request.id),
        JobCause::Request,
        Some(caller.id),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(request)))
}
