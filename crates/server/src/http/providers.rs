//! `/api/v1/providers`: the PHPs patients link to, and how the platform signs in at each
//! (admins only). A SMART key can be uploaded or generated here; its public half is served at
//! `/api/v1/providers/{id}/jwks.json` for the PHP to register, without a token.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::app::AppState;
use crate::db::providers::{AuthMode, ProviderAccess, ProviderRow};
use crate::db::Provider;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use connectors::fhir::keys::SigningKey;
use domain::dto::{ConnectionStep, NewProvider, ProviderAuth, ProviderEntry};
use uuid::Uuid;

/// Why anyone but an admin is refused here.
const ADMINS_ONLY: &str = "only admins manage providers";

fn http_url(field: &'static str, url: &str) -> ApiResult<()> {
    let host_and_path = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match host_and_path {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => {
            Ok(())
        }
        _ => Err(ApiError::invalid(field, "must be an http(s) URL")),
    }
}

/// The row to store for validated input: secrets sealed, a key generated when asked.
fn provider_row(app: &AppState, new: NewProvider) -> ApiResult<ProviderRow> {
    http_url("fhir_base_url", new.fhir_base_url.as_str())?;
    let mut row = ProviderRow {
        name: new.name.into(),
        fhir_base_url: String::from(new.fhir_base_url)
            .trim_end_matches('/')
            .to_owned(),
        auth_mode: AuthMode::None,
        client_id: None,
        token_url: None,
        scope: None,
        key_id: None,
        sealed_secret: None,
        public_jwks: None,
    };
    match new.auth {
        ProviderAuth::None => {}
        ProviderAuth::Bearer { token } => {
            row.auth_mode = AuthMode::Bearer;
            row.sealed_secret = Some(app.cipher.seal(token.as_str()));
        }
        ProviderAuth::SmartBackend {
            client_id,
            scope,
            token_url,
            private_key_pem,
            key_id,
        } => {
            if let Some(url) = &token_url {
                http_url("auth.token_url", url.as_str())?;
            }
            let kid = key_id.map_or_else(
                || format!("records-{}", &Uuid::now_v7().simple().to_string()[..12]),
                String::from,
            );
            let key = match private_key_pem {
                Some(pem) => SigningKey::from_pem(pem.as_str(), &kid)
                    .map_err(|e| ApiError::invalid("auth.private_key_pem", e.to_string()))?,
                None => SigningKey::generate_es384(&kid),
            };
            row.auth_mode = AuthMode::SmartBackend;
            row.client_id = Some(client_id.into());
            row.scope = scope.map(String::from);
            row.token_url = token_url.map(String::from);
            row.key_id = Some(kid);
            row.sealed_secret = Some(app.cipher.seal(key.pem()));
            row.public_jwks = Some(key.jwks());
        }
    }
    Ok(row)
}

#[utoipa::path(get, path = "/api/v1/providers", operation_id = "list_providers", tag = "providers", security(("bearer" = [])),
    responses((status = 200, body = Vec<Provider>), (status = 403, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
) -> ApiResult<Json<Vec<Provider>>> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    Ok(Json(app.db.list_providers().await?))
}

/// The providers' names, for choosing a patient's PHP (dieticians and admins).
#[utoipa::path(get, path = "/api/v1/providers/directory", operation_id = "list_provider_directory", tag = "providers", security(("bearer" = [])),
    responses((status = 200, body = Vec<ProviderEntry>), (status = 403, body = Problem)))]
pub async fn directory(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
) -> ApiResult<Json<Vec<ProviderEntry>>> {
    caller.can_read_provider_directory()?;
    let providers = app.db.list_providers().await?;
    Ok(Json(
        providers
            .into_iter()
            .map(|p| ProviderEntry {
                id: p.id,
                name: p.name,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/providers", operation_id = "create_provider", tag = "providers", security(("bearer" = [])),
    request_body = NewProvider,
    responses((status = 201, body = Provider), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(new): ApiJson<NewProvider>,
) -> ApiResult<(StatusCode, Json<Provider>)> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    let row = provider_row(&app, new)?;
    let provider = app.db.insert_provider(row).await?;
    Ok((StatusCode::CREATED, Json(provider)))
}

#[utoipa::path(get, path = "/api/v1/providers/{provider_id}", operation_id = "get_provider", tag = "providers", security(("bearer" = [])),
    params(("provider_id" = Uuid, Path)),
    responses((status = 200, body = Provider), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Provider>> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    let access = app
        .db
        .provider_access(id)
        .await?
        .ok_or(ApiError::NotFound("provider"))?;
    Ok(Json(access.provider))
}

/// Replaces the provider's settings. A SMART provider keeps its signing key unless a key (or
/// a key id) is given; one that was not SMART before gets a new key to register at the PHP.
#[utoipa::path(put, path = "/api/v1/providers/{provider_id}", operation_id = "replace_provider", tag = "providers", security(("bearer" = [])),
    params(("provider_id" = Uuid, Path)), request_body = NewProvider,
    responses((status = 200, body = Provider), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn replace(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewProvider>,
) -> ApiResult<Json<Provider>> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    // Changing a SMART provider's other settings keeps its signing key: a new one would stop
    // every pull there until the PHP registers it. A key (or a key id) given replaces it.
    let keeps_key = matches!(
        &new.auth,
        ProviderAuth::SmartBackend {
            private_key_pem: None,
            key_id: None,
            ..
        }
    );
    let mut row = provider_row(&app, new)?;
    if keeps_key {
        let existing = app.db.provider_access(id).await?;
        if let Some(ProviderAccess {
            provider:
                Provider {
                    auth_mode: AuthMode::SmartBackend,
                    key_id: Some(kid),
                    public_jwks,
                    ..
                },
            sealed_secret: Some(sealed),
        }) = existing
        {
            row.key_id = Some(kid);
            row.sealed_secret = Some(sealed);
            row.public_jwks = public_jwks;
        }
    }
    let provider = app
        .db
        .replace_provider(id, row)
        .await?
        .ok_or(ApiError::NotFound("provider"))?;
    Ok(Json(provider))
}

/// Tries the provider's settings as a pull would (discovery, a token, a count-only search),
/// step by step up to the first that fails; each step says what happened.
#[utoipa::path(post, path = "/api/v1/providers/{provider_id}/test", operation_id = "test_provider", tag = "providers", security(("bearer" = [])),
    params(("provider_id" = Uuid, Path)),
    responses((status = 200, body = Vec<ConnectionStep>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn test(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<ConnectionStep>>> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    let access = app
        .db
        .provider_access(id)
        .await?
        .ok_or(ApiError::NotFound("provider"))?;
    Ok(Json(
        crate::integrations::check_connection(&app, &access).await,
    ))
}

/// Removes a provider (and its stored credential). One that patients or provider staff still
/// link to answers 409: link them elsewhere first.
#[utoipa::path(delete, path = "/api/v1/providers/{provider_id}", operation_id = "delete_provider", tag = "providers", security(("bearer" = [])),
    params(("provider_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "patients or users still link to it")))]
pub async fn delete(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    match app.db.delete_provider(id).await? {
        Some(true) => Ok(StatusCode::NO_CONTENT),
        Some(false) => Err(ApiError::Conflict {
            code: "provider_in_use",
            detail: "patients or users still link to this provider; link them elsewhere first"
                .into(),
            existing_id: None,
        }),
        None => Err(ApiError::NotFound("provider")),
    }
}

/// The provider's public signing key as a JWK Set: what the PHP registers (or fetches as the
/// client's `jwks_url`). Public by design: no token needed.
#[utoipa::path(get, path = "/api/v1/providers/{provider_id}/jwks.json", operation_id = "get_provider_jwks", tag = "providers",
    params(("provider_id" = Uuid, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn jwks(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<serde_json::Value>> {
    app.db
        .provider_access(id)
        .await?
        .and_then(|a| a.provider.public_jwks)
        .map(Json)
        .ok_or(ApiError::NotFound("signing key"))
}
