//! `/api/v1/providers`: the PHPs patients link to (admins only). Auth settings for pulling
//! from them arrive with the FHIR integration.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiJson, AuthUser};
use crate::app::AppState;
use crate::db::Provider;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use domain::text::Label;
use domain::{Denied, UserType};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProvider {
    #[schema(value_type = String, max_length = 200)]
    name: Label<200>,
    /// The PHP's FHIR R4 base URL (`https://…`).
    #[schema(value_type = String, max_length = 500)]
    fhir_base_url: Label<500>,
}

fn admin_only(caller: &domain::Caller) -> ApiResult<()> {
    if caller.is(UserType::Admin) {
        Ok(())
    } else {
        Err(Denied("only admins manage providers").into())
    }
}

#[utoipa::path(get, path = "/api/v1/providers", tag = "providers", security(("bearer" = [])),
    responses((status = 200, body = Vec<Provider>), (status = 403, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
) -> ApiResult<Json<Vec<Provider>>> {
    admin_only(&caller)?;
    Ok(Json(app.db.list_providers().await?))
}

#[utoipa::path(post, path = "/api/v1/providers", tag = "providers", security(("bearer" = [])),
    request_body = NewProvider,
    responses((status = 201, body = Provider), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(new): ApiJson<NewProvider>,
) -> ApiResult<(StatusCode, Json<Provider>)> {
    admin_only(&caller)?;
    let url = new.fhir_base_url.as_str();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::invalid("fhir_base_url", "must be an http(s) URL"));
    }
    let provider = app.db.insert_provider(new.name.as_str(), url).await?;
    Ok((StatusCode::CREATED, Json(provider)))
}
