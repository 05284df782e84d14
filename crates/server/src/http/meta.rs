//! Health probes and the browsable API docs.

use super::error::{ApiError, ApiResult};
use crate::app::AppState;
use axum::extract::State;
use axum::response::Html;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", operation_id = "health", tag = "meta", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", operation_id = "readiness", tag = "meta",
    responses((status = 200, body = String), (status = 500, body = super::error::Problem)))]
pub async fn readyz(State(app): State<AppState>) -> ApiResult<&'static str> {
    app.db.ping().await.map_err(ApiError::from)?;
    Ok("ready")
}

/// A self-contained page that renders `/api/v1/openapi.json` (no CDN: clinics run offline).
pub async fn docs_page() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
