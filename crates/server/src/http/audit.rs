//! `/api/v1/audit`: the trail of PHI reads, for admins.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{page_params, ApiQuery, AuthUser};
use crate::app::AppState;
use axum::extract::State;
use axum::Json;
use domain::dto::{AuditEntry, AuditQuery, Page};
use domain::{Denied, UserType};

/// Who read which patient's data, newest first (admins only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    if !caller.is(UserType::Admin) {
        return Err(Denied("only admins read the audit trail").into());
    }
    let (limit, after) = page_params(q.limit, q.cursor.as_deref(), 1)?;
    let before = match after.as_deref() {
        Some([seq]) => Some(
            seq.parse::<i64>()
                .map_err(|_| ApiError::bad_request("cursor", "not a cursor this list issued"))?,
        ),
        _ => None,
    };
    // Reads already handed to the writer show up here too.
    app.audit.flush().await;
    let (items, next_cursor) = app
        .db
        .list_audit_entries(q.patient_id, q.user_id, limit, before)
        .await?;
    Ok(Json(Page { items, next_cursor }))
}
