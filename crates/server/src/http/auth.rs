//! `/api/v1/auth`: sign in, refresh (rotating), sign out.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiJson, ClientAddr};
use crate::app::AppState;
use crate::auth::{new_refresh_token, refresh_token_hash};
use crate::db::RefreshOutcome;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use domain::dto::{LoginRequest, RefreshRequest, TokenPair, User};
use domain::Caller;

const BAD_LOGIN: &str = "wrong email or password";

/// The caller an account signs in as.
pub(crate) fn caller_of(user: &User) -> Caller {
    Caller {
        id: user.id,
        kind: user.kind,
        provider_id: user.provider_id,
        patient_id: user.patient_id,
    }
}

/// A fresh access token for `user`, paired with `refresh_token`.
fn pair_for(app: &AppState, user: &User, refresh_token: String) -> ApiResult<TokenPair> {
    Ok(TokenPair {
        access_token: app.keys.issue(&caller_of(user))?,
        refresh_token,
        token_type: "Bearer".to_owned(),
        expires_in: app.keys.ttl.as_secs(),
    })
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, body = Problem, description = "wrong email or password"),
        (status = 422, body = Problem),
        (status = 429, body = Problem, description = "too many attempts; see Retry-After"),
    ))]
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    let email = req.email.as_str();
    app.limiter
        .check(addr, email)
        .map_err(|wait| ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        })?;
    let user = app.db.user_by_email(email).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !app.hasher.verify(hash, req.password.into_inner()).await? {
        app.limiter.failed(email);
        tracing::info!("login refused");
        return Err(ApiError::Unauthorized(BAD_LOGIN));
    }
    app.limiter.succeeded(email);
    let user = user.ok_or(ApiError::Unauthorized(BAD_LOGIN))?.user;
    let (refresh_token, hash) = new_refresh_token();
    let expires = Utc::now() + app.config.refresh_ttl;
    app.db
        .insert_refresh_token(user.id, domain::new_id(), &hash, expires)
        .await?;
    Ok(Json(pair_for(&app, &user, refresh_token)?))
}

/// Trade a refresh token for a new pair. Each refresh token works once: presenting one again
/// signs out every session that descends from the same login.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem)))]
pub async fn refresh(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    let (next_token, next_hash) = new_refresh_token();
    let expires = Utc::now() + app.config.refresh_ttl;
    let outcome = app
        .db
        .rotate_refresh_token(&refresh_token_hash(&req.refresh_token), &next_hash, expires)
        .await?;
    let user_id = match outcome {
        RefreshOutcome::Rotated { user_id } => user_id,
        RefreshOutcome::Reused => {
            tracing::warn!("refresh token reused; its family is revoked");
            return Err(ApiError::Unauthorized(
                "this refresh token was already used; sign in again",
            ));
        }
        RefreshOutcome::Invalid => {
            return Err(ApiError::Unauthorized(
                "the refresh token is invalid or expired",
            ))
        }
    };
    let user = app
        .db
        .user_by_id(user_id)
        .await?
        .ok_or(ApiError::Unauthorized("the account no longer exists"))?
        .user;
    Ok(Json(pair_for(&app, &user, next_token)?))
}

/// Sign out: the refresh token and every token rotated from the same login stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204)))]
pub async fn logout(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    app.db
        .revoke_refresh_family(&refresh_token_hash(&req.refresh_token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
