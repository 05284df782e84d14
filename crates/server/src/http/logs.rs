//! The synchronization log, manual sync and document requests.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{page_params, ApiJson, ApiPath, ApiQuery, AuthUser};
use super::patients;
use crate::app::AppState;
use crate::db::{patient_facts, LogFilter, NewLogEntry};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use domain::dto::{DocumentRequest, LogQuery, NewDocumentRequest, Page, SyncLogEntry};
use domain::{LogAction, LogStatus, UserType};
use uuid::Uuid;

/// A patient's synchronization log, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/patients/{patient_id}/logs", tag = "logs",
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
#[utoipa::path(get, path = "/api/v1/logs/{id}", tag = "logs", security(("bearer" = [])),
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

/// Ask for a sync of the patient now. Recorded in the log and answered at once (202); the
/// PHP and Carepatron integrations act on it.
#[utoipa::path(post, path = "/api/v1/patients/{patient_id}/sync", tag = "logs",
    security(("bearer" = [])), params(("patient_id" = Uuid, Path)),
    responses((status = 202, body = SyncLogEntry), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn manual_sync(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<SyncLogEntry>)> {
    let patient = patients::visible(&app, &caller, patient_id).await?;
    caller.can_manage_sync(&patient_facts(&patient))?;
    let entry = app
        .db
        .insert_log(NewLogEntry {
            patient_id: Some(patient_id),
            document_id: None,
            user_id: Some(caller.id),
            action: LogAction::ManualSync,
            status: LogStatus::Pending,
            details: Some("Manual sync requested.".to_owned()),
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(entry)))
}

/// Ask the patient's PHP for documents. Stored and logged (202).
#[utoipa::path(post, path = "/api/v1/patients/{patient_id}/request-documents", tag = "logs",
    security(("bearer" = [])), params(("patient_id" = Uuid, Path)), request_body = NewDocumentRequest,
    responses((status = 202, body = DocumentRequest), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn request_documents(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewDocumentRequest>,
) -> ApiResult<(StatusCode, Json<DocumentRequest>)> {
    let patient = patients::visible(&app, &caller, patient_id).await?;
    caller.can_manage_sync(&patient_facts(&patient))?;
    if patient.provider_id.is_none() {
        return Err(ApiError::invalid(
            "patient_id",
            "this patient is not linked to a PHP; set provider_id first",
        ));
    }
    let request = app
        .db
        .insert_document_request(patient_id, caller.id, req)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(request)))
}
