//! `PUT /uploads/{sha256}`: a file sent ahead of the document a device made offline. The
//! device pushes the document insert naming the hash next (`upload` in its fields); the push
//! takes the file. Keyed by the content's hash, sending it again (a reply lost, a sync cut off
//! and retried, even after the document was made of it) keeps nothing new and answers 200.

use super::documents::check_file;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{body_problem, ApiPath, AuthUser};
use crate::app::AppState;
use crate::db::uploads::Sent;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::dto::StagedUpload;
use sha2::{Digest as _, Sha256};

/// Send a file ahead of the document that will name it: the body is the file, its
/// `Content-Type` the file's type (PDF, PNG, JPEG, GIF or WebP; text goes in the document
/// itself), or `application/octet-stream` to have it read from the bytes. 201 when kept, 200
/// when this person had sent the same bytes already.
#[utoipa::path(put, path = "/api/v1/uploads/{sha256}", operation_id = "send_file", tag = "documents",
    security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lowercase hex SHA-256 of the body")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the file; `Content-Type` may also be its own type (`application/pdf`, `image/png`…)"),
    responses((status = 201, body = StagedUpload), (status = 200, body = StagedUpload),
              (status = 403, body = Problem), (status = 413, body = Problem),
              (status = 422, body = Problem)))]
pub async fn send(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(sha256): ApiPath<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    caller.can_send_files()?;
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(ApiError::invalid(
            "sha256",
            "must be the body's SHA-256 in lowercase hex (64 characters)",
        ));
    }
    let body = body.map_err(|e| body_problem(e.status(), app.config.max_body_bytes))?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(domain::check::mime_essence)
        .unwrap_or_default();
    // Bytes of no stated type are what their magic number says.
    let mime = match declared.as_str() {
        "" | "application/octet-stream" => domain::check::FILE_TYPES
            .iter()
            .find(|t| domain::check::content_is(t, &body) == Some(true))
            .map_or(declared, |t| (*t).to_owned()),
        _ => declared,
    };
    check_file(&mime, &body, domain::check::FILE_TYPES)?;
    if hex::encode(Sha256::digest(&body)) != sha256 {
        return Err(ApiError::invalid(
            "sha256",
            "the body's SHA-256 is not the one named: it changed on the way, send it again",
        ));
    }
    match app
        .db
        .send_file(caller.id, &sha256, &mime, body.to_vec())
        .await?
    {
        Sent::Kept(staged) => Ok((StatusCode::CREATED, Json(staged)).into_response()),
        Sent::Again(staged) => Ok((StatusCode::OK, Json(staged)).into_response()),
        Sent::OverQuota => Err(ApiError::TooLarge(format!(
            "files waiting for their documents would be more than {} or hold more than {} \
             MiB: send the documents that name them first",
            crate::db::uploads::WAITING_FILES,
            crate::db::uploads::WAITING_BYTES / (1024 * 1024)
        ))),
    }
}
