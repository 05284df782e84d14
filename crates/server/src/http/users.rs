//! `/api/v1/users`: accounts. Admins manage everyone; dieticians create their patients'
//! accounts; everyone manages themselves; colleagues see each other's name and type.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{page_params, ApiJson, ApiPath, ApiQuery, AuthUser, IfMatch};
use super::versioned;
use crate::app::AppState;
use crate::auth::hash_password;
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
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageQuery),
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
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
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
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
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
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    request_body = NewUser,
    responses((status = 201, body = User), (status = 403, body = Problem),
              (status = 409, body = Problem, description = "email taken"), (status = 422, body = Problem)))]
pub async fn create(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(new): ApiJson<NewUser>,
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
            carepatron_id: new.carepatron_id.map(String::from),
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
/// type or links. Honours `If-Match`.
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version this edit is based on")),
    request_body = UserUpdate,
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(expected): IfMatch,
    ApiJson(change): ApiJson<UserUpdate>,
) -> ApiResult<Response> {
    let (target, _) = visible(&app, &caller, id).await?;
    let new_kind = change.kind.unwrap_or(target.kind);
    caller.can_update_user(target.id, new_kind != target.kind)?;
    if !caller.is(UserType::Admin) && (change.provider_id.is_some() || change.patient_id.is_some())
    {
        return Err(Denied("only admins may change an account's provider or patient link").into());
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

    let mut sets: Vec<(&'static str, Bind)> = Vec::new();
    if let Some(email) = change.email {
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
    if let Some(v) = change.carepatron_id {
        sets.push(("carepatron_id", v.map(String::from).into()));
    }
    if let Some(v) = change.provider_id {
        sets.push(("provider_id", v.into()));
    }
    if let Some(v) = change.patient_id {
        sets.push(("patient_id", v.into()));
    }
    match app
        .db
        .update_user(id, expected, sets)
        .await
        .map_err(email_taken)?
    {
        Written::Done(user) => Ok(versioned(StatusCode::OK, user.version, user)),
        Written::Missing => Err(ApiError::NotFound("user")),
        Written::Stale => Err(ApiError::Stale),
    }
}

/// Delete a user (admins only; never the last admin). Their sessions end.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
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
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(last_admin())
    }
}
