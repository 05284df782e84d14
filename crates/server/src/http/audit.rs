//! `/api/v1/audit`: the trail of PHI reads: all of it for admins, one of their patients' for
//! a dietician.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{page_params, ApiQuery, AuthUser};
use crate::app::AppState;
use crate::db::patient_facts;
use axum::extract::State;
use axum::Json;
use domain::dto::{AuditEntry, AuditQuery, Page};
use domain::UserType;

/// Who read which patient's data, newest first. Admins read all of it; a dietician reads
/// who read one of their own patients (`patient_id` required).
#[utoipa::path(get, path = "/api/v1/audit", operation_id = "list_audit_entries", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    match q.patient_id {
        Some(id) if !caller.is(UserType::Admin) => {
            let patient = super::patients::visible(&app, &caller, id).await?;
            caller.can_read_patient_audit(&patient_facts(&patient))?;
        }
        _ => caller.can_read_audit_trail()?,
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
    app.audit.flush().await?;
    let (items, next_cursor) = app.db.list_audit_entries(&q, limit, before).await?;
    Ok(Json(Page { items, next_cursor }))
}
