//! `/api/v1/users`: accounts. Admins manage everyone; dieticians create their patients'
//! accounts; everyone manages themselves (name, password with the current one); colleagues see
//! each other's name and type. A change of type, link or password, or a deletion, ends the
//! account's sessions in the same transaction. Bodies are small (16 KiB, 413 beyond).

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{
    page_params, ApiPath, ApiQuery, AuthSession, AuthUser, ClientAddr, IfMatch, SmallJson,
};
use super::versioned;
use crate::app::AppState;
use crate::auth::{hash_password, verify_password, EndSessions};
use crate::db::{Bind, DbError, NewUserRow, Written};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::access::{PatientScope, UserView as Visibility};
use domain::dto::{NewUser, Page, PageQuery, User, UserDirectoryEntry, UserUpdate, UserView};
use domain::{Caller, Denied, UserType};
use uuid::Uuid;

fn email_taken(e: DbError) -> ApiError {
    match e {
        DbError::Unique => ApiError::Conflict {
            code: "email_taken",
            detail: "another account uses this email".into(),
            existing_id: None,
        },
        other => other.into(),
    }
}

fn last_admin() -> ApiError {
    ApiError::Conflict {
        code: "last_admin",
        detail: "this is the last admin; make another admin first".into(),
        existing_id: None,
    }
}

/// Provider accounts need a provider, patient accounts a patient record, and no other type
/// carries either.
fn check_links(
    kind: UserType,
    provider_id: Option<Uuid>,
    patient_id: Option<Uuid>,
) -> ApiResult<()> {
    match (kind, provider_id, patient_id) {
        (UserType::Provider, None, _) => Err(ApiError::invalid(
            "provider_id",
            "provider users need a provider_id",
        )),
        (UserType::Patient, _, None) => Err(ApiError::invalid(
            "patient_id",
            "patient users need a patient_id",
        )),
        (k, Some(_), _) if k != UserType::Provider => Err(ApiError::invalid(
            "provider_id",
            "only provider users have a provider_id",
        )),
        (k, _, Some(_)) if k != UserType::Patient => Err(ApiError::invalid(
            "patient_id",
            "only patient users have a patient_id",
        )),
        _ => Ok(()),
    }
}

/// One's own password change: `current` must be the password now stored. Wrong guesses count
/// against (account, address) as failed sign-ins do, so a stolen access token cannot be used to
/// find the password.
async fn check_current_password(
    app: &AppState,
    addr: std::net::IpAddr,
    target: &User,
    current: Option<domain::text::Text<256>>,
) -> ApiResult<()> {
    let current = current.ok_or_else(|| {
        ApiError::invalid(
            "current_password",
            "send your current password to change it",
        )
    })?;
    let attempt = app
        .limiter
        .check(addr, &target.email)
        .map_err(super::auth::throttled)?;
    let stored = app
        .db
        .user_by_id(target.id)
        .await?
        .ok_or(ApiError::NotFound("user"))?
        .password_hash;
    if !verify_password(stored, current.into_inner()).await? {
        return Err(ApiError::invalid(
            "current_password",
            "is not your current password",
        ));
    }
    app.limiter.succeeded(attempt);
    Ok(())
}

/// The target user if the caller may see them at all (else 404), and how much.
async fn visible(app: &AppState, caller: &Caller, id: Uuid) -> ApiResult<(User, Visibility)> {
    let user = app
        .db
        .user_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("user"))?
        .user;
    let view = caller
        .user_view(user.id, user.kind)
        .ok_or(ApiError::NotFound("user"))?;
    Ok((user, view))
}

/// List users (admins only).
#[utoipa::path(get, path = "/api/v1/users", operation_id = "list_users", tag = "users", params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<User>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<User>>> {
    caller.can_list_users()?;
    let (limit, after) = page_params(q.limit, q.cursor.as_deref(), 2)?;
    let (items, next_cursor) = app.db.list_users(limit, after.as_deref()).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/users/me", operation_id = "get_me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem)))]
pub async fn me(State(app): State<AppState>, AuthUser(caller): AuthUser) -> ApiResult<Response> {
    let user = app
        .db
        .user_by_id(caller.id)
        .await?
        .ok_or(ApiError::Unauthorized("the account no longer exists"))?
        .user;
    Ok(versioned(StatusCode::OK, user.version, user))
}

/// One user: the full record for admins and oneself, name and type for colleagues.
#[utoipa::path(get, path = "/api/v1/users/{id}", operation_id = "get_user", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    Ok(match visible(&app, &caller, id).await? {
        (user, Visibility::Full) => versioned(StatusCode::OK, user.version, user),
        (user, Visibility::Directory) => Json(UserView::Directory(UserDirectoryEntry {
            id: user.id,
            name: user.name,
            kind: user.kind,
        }))
        .into_response(),
    })
}

/// Create a user. Admins create any type; dieticians create accounts for their own patients.
/// `carepatron_id` is the Carepatron integration's to set: sent, it is refused (422).
#[utoipa::path(post, path = "/api/v1/users", operation_id = "create_user", tag = "users", security(("bearer" = [])),
    request_body = NewUser,
    responses((status = 201, body = User), (status = 403, body = Problem),
              (status = 409, body = Problem, description = "email taken"), (status = 413, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    SmallJson(new): SmallJson<NewUser>,
) -> ApiResult<Response> {
    caller.can_create_user(new.kind)?;
    check_links(new.kind, new.provider_id, new.patient_id)?;
    if let (UserType::Dietician, Some(patient)) = (caller.kind, new.patient_id) {
        app.db
            .patient(PatientScope::OwnedBy(caller.id), patient)
            .await?
            .ok_or_else(|| ApiError::invalid("patient_id", "not one of your patients"))?;
    }
    let hash = hash_password(new.password.expose().to_owned()).await?;
    let user = app
        .db
        .insert_user(NewUserRow {
            email: new.email.as_str(),
            name: new.name.as_str(),
            kind: new.kind,
            password_hash: &hash,
            carepatron_id: None,
            provider_id: new.provider_id,
            patient_id: new.patient_id,
        })
        .await
        .map_err(|e| match e {
            DbError::ForeignKey => ApiError::invalid("provider_id", "no such provider or patient"),
            DbError::Unique if new.patient_id.is_some() => ApiError::Conflict {
                code: "conflict",
                detail: "this email, or this patient record, already has an account".into(),
                existing_id: None,
            },
            other => email_taken(other),
        })?;
    let location = format!("/api/v1/users/{}", user.id);
    Ok(super::with_location(
        versioned(StatusCode::CREATED, user.version, user),
        &location,
    ))
}

/// Update a user; absent fields are kept. Non-admins update only themselves, and never their
/// type, links or email. Changing one's own password needs `current_password` (422 naming it
/// when missing or wrong; wrong guesses are throttled like sign-ins). A new type, link or
/// password ends the account's sessions: every access and refresh token is refused from the
/// next request on, except that one's own password change keeps the sign-in it was made from
/// (its next refresh issues tokens for the new session). Honours `If-Match`.
#[utoipa::path(put, path = "/api/v1/users/{id}", operation_id = "update_user", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version this edit is based on")),
    request_body = UserUpdate,
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 413, body = Problem),
              (status = 422, body = Problem),
              (status = 429, body = Problem, description = "too many wrong current passwords; see Retry-After")))]
pub async fn update(
    State(app): State<AppState>,
    session: AuthSession,
    ClientAddr(addr): ClientAddr,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(expected): IfMatch,
    SmallJson(change): SmallJson<UserUpdate>,
) -> ApiResult<Response> {
    let caller = session.caller;
    let (target, _) = visible(&app, &caller, id).await?;
    let new_kind = change.kind.unwrap_or(target.kind);
    caller.can_update_user(target.id, new_kind != target.kind)?;
    if !caller.is(UserType::Admin) && (change.provider_id.is_some() || change.patient_id.is_some())
    {
        return Err(Denied("only admins may change an account's provider or patient link").into());
    }
    // Refused whatever the address: the answer must not depend on whether it is taken.
    let new_email = change.email.as_ref().filter(|e| e.as_str() != target.email);
    if new_email.is_some() {
        caller.can_change_email()?;
    }
    if target.kind == UserType::Admin
        && new_kind != UserType::Admin
        && app.db.other_admins(target.id).await? == 0
    {
        return Err(last_admin());
    }
    let provider_id = change.provider_id.unwrap_or(target.provider_id);
    let patient_id = change.patient_id.unwrap_or(target.patient_id);
    check_links(new_kind, provider_id, patient_id)?;

    let own_password = change.password.is_some() && caller.id == target.id;
    if own_password {
        check_current_password(&app, addr, &target, change.current_password).await?;
    }
    let rights_change = new_kind != target.kind
        || provider_id != target.provider_id
        || patient_id != target.patient_id;
    let end = match (rights_change, change.password.is_some(), session.family) {
        (true, _, _) => EndSessions::All,
        (false, true, Some(family)) if own_password => EndSessions::AllBut(family),
        (false, true, _) => EndSessions::All,
        (false, false, _) => EndSessions::No,
    };

    let mut sets: Vec<(&'static str, Bind)> = Vec::new();
    if let Some(email) = new_email {
        sets.push(("email", email.as_str().into()));
    }
    if let Some(name) = change.name {
        sets.push(("name", name.into_inner().into()));
    }
    if let Some(kind) = change.kind {
        sets.push(("type", kind.as_str().into()));
    }
    if let Some(password) = change.password {
        sets.push((
            "password_hash",
            hash_password(password.expose().to_owned()).await?.into(),
        ));
    }
    if let Some(v) = change.provider_id {
        sets.push(("provider_id", v.into()));
    }
    if let Some(v) = change.patient_id {
        sets.push(("patient_id", v.into()));
    }
    let written = app
        .db
        .update_user(id, expected, sets, end)
        .await
        .map_err(email_taken)?;
    if end != EndSessions::No {
        app.keys.sessions.forget(id);
    }
    match written {
        Written::Done(user) => Ok(versioned(StatusCode::OK, user.version, user)),
        Written::Missing => Err(ApiError::NotFound("user")),
        Written::Stale => Err(ApiError::Stale),
    }
}

/// Delete a user (admins only; never the last admin). Their sessions end.
#[utoipa::path(delete, path = "/api/v1/users/{id}", operation_id = "delete_user", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "the last admin")))]
pub async fn delete(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    visible(&app, &caller, id).await?;
    caller.can_delete_user()?;
    if app.db.delete_user(id).await? {
        app.keys.sessions.forget(id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(last_admin())
    }
}
