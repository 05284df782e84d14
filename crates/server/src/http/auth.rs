//! `/api/v1/auth`: sign in, refresh (rotating), sign out. Bodies are small (16 KiB at most,
//! 413 beyond, before any parsing or hashing).

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ClientAddr, SmallJson};
use crate::app::AppState;
use crate::auth::{new_refresh_token, refresh_token_hash};
use crate::db::RefreshOutcome;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use domain::dto::{LoginRequest, RefreshRequest, TokenPair, User};
use domain::Caller;
use uuid::Uuid;

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

/// A fresh access token for `user` at session epoch `epoch` in refresh family `family`,
/// paired with `refresh_token`.
fn pair_for(
    app: &AppState,
    user: &User,
    epoch: i64,
    family: Uuid,
    refresh_token: String,
) -> ApiResult<TokenPair> {
    Ok(TokenPair {
        access_token: app.keys.issue(&caller_of(user), epoch, Some(family))?,
        refresh_token,
        token_type: "Bearer".to_owned(),
        expires_in: app.keys.ttl.as_secs(),
    })
}

/// 429 for an attempt the login throttle holds back.
pub(crate) fn throttled(wait: std::time::Duration) -> ApiError {
    ApiError::TooManyRequests {
        // Rounded up: retrying at the advertised time must not be refused again.
        retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    }
}

/// Sign in with email and password. Failed attempts slow further ones from the same address
/// for the same account (429 with `Retry-After`), never the account as a whole.
#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, body = Problem, description = "wrong email or password"),
        (status = 413, body = Problem),
        (status = 422, body = Problem),
        (status = 429, body = Problem, description = "too many failed attempts; see Retry-After"),
    ))]
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    SmallJson(req): SmallJson<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    let email = req.email.as_str();
    let attempt = app.limiter.check(addr, email).map_err(throttled)?;
    let user = app.db.user_by_email(email).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if !app.hasher.verify(hash, req.password.into_inner()).await? {
        tracing::info!("login refused");
        return Err(ApiError::Unauthorized(BAD_LOGIN));
    }
    app.limiter.succeeded(attempt);
    let user = user.ok_or(ApiError::Unauthorized(BAD_LOGIN))?;
    let (refresh_token, hash) = new_refresh_token();
    let expires = Utc::now() + app.config.refresh_ttl;
    let family = domain::new_id();
    app.db
        .insert_refresh_token(
            user.user.id,
            family,
            &hash,
            expires,
            user.session_epoch,
            app.config.session_max_age,
        )
        .await?;
    Ok(Json(pair_for(
        &app,
        &user.user,
        user.session_epoch,
        family,
        refresh_token,
    )?))
}

/// Trade a refresh token for a new pair. Each refresh token works once: presenting one again
/// signs out every session that descends from the same login. A sign-in lasts
/// `RECORDS_SESSION_MAX_DAYS` at most, and ends when the account's rights or password change.
#[utoipa::path(post, path = "/api/v1/auth/refresh", operation_id = "refresh_session", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem), (status = 413, body = Problem)))]
pub async fn refresh(
    State(app): State<AppState>,
    SmallJson(req): SmallJson<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    let (next_token, next_hash) = new_refresh_token();
    let expires = Utc::now() + app.config.refresh_ttl;
    let outcome = app
        .db
        .rotate_refresh_token(
            &refresh_token_hash(&req.refresh_token),
            &next_hash,
            expires,
            app.config.session_max_age,
        )
        .await?;
    let (user_id, family, epoch) =
        match outcome {
            RefreshOutcome::Rotated {
                user_id,
                family_id,
                epoch,
            } => (user_id, family_id, epoch),
            RefreshOutcome::Reused => {
                tracing::warn!("refresh token reused; its family is revoked");
                return Err(ApiError::Unauthorized(
                    "this refresh token was already used; sign in again",
                ));
            }
            RefreshOutcome::Invalid => return Err(ApiError::Unauthorized(
                "the refresh token is invalid or expired, or its session has ended; sign in again",
            )),
        };
    // The rights the new access token carries are read now; a change since the rotation
    // (another epoch) ends this session instead.
    let user = app
        .db
        .user_by_id(user_id)
        .await?
        .filter(|u| u.session_epoch == epoch)
        .ok_or(ApiError::Unauthorized(
            "this session has ended (the account or its rights changed); sign in again",
        ))?;
    Ok(Json(pair_for(&app, &user.user, epoch, family, next_token)?))
}

/// Sign out: the refresh token and every token rotated from the same login stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204), (status = 413, body = Problem)))]
pub async fn logout(
    State(app): State<AppState>,
    SmallJson(req): SmallJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    app.db
        .revoke_refresh_family(&refresh_token_hash(&req.refresh_token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
