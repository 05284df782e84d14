//! Request extractors that answer bad input with a problem naming the field, instead of
//! axum's plain-text rejections.

use super::error::ApiError;
use crate::app::AppState;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use bytes::Bytes;
use domain::check::FieldError;
use domain::Caller;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Turns a serde error (with its path) into a 400 (malformed) or 422 (well-formed but invalid)
/// naming the field.
fn deserialize_problem(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    if !matches!(e.inner().classify(), serde_json::error::Category::Data) {
        return ApiError::BadRequest {
            detail: format!("malformed JSON: {}", e.inner()),
            field: None,
        };
    }
    let FieldError { field, detail } = e.into();
    ApiError::Invalid { detail, field }
}

/// Parses a JSON document into `T`, with errors that name the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(deserialize_problem)?;
    de.end().map_err(|e| ApiError::BadRequest {
        detail: format!("malformed JSON: {e}"),
        field: None,
    })?;
    Ok(value)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// A body that could not be read: over the limit (413) or broken.
pub fn body_problem(status: StatusCode, limit: usize) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!(
            "the request body is over the limit of {limit} bytes"
        ))
    } else {
        ApiError::BadRequest {
            detail: "the request body could not be read".into(),
            field: None,
        }
    }
}

/// A JSON body (`Content-Type: application/json`).
pub struct ApiJson<T>(pub T);

/// The largest body [`SmallJson`] takes: sign-in, refresh, sign-out and account bodies are a
/// few hundred bytes.
pub const SMALL_BODY_BYTES: usize = 16 * 1024;

/// A small JSON body, at most [`SMALL_BODY_BYTES`]: for the endpoints that hash or check
/// passwords. A larger one gets 413 before anything is parsed or hashed: at once when its
/// `Content-Length` says so, else as soon as that many bytes have arrived (the rest is never
/// read).
pub struct SmallJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for SmallJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, ApiError> {
        use futures::StreamExt as _;
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json",
            ));
        }
        let too_large = || body_problem(StatusCode::PAYLOAD_TOO_LARGE, SMALL_BODY_BYTES);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > SMALL_BODY_BYTES as u64) {
            return Err(too_large());
        }
        let mut body = req.into_body().into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| body_problem(StatusCode::BAD_REQUEST, 0))?;
            if bytes.len() + chunk.len() > SMALL_BODY_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        parse_json(&bytes).map(SmallJson)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_problem(e.status(), state.config.max_body_bytes))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Query parameters, strictly: unknown parameters and bad values are 400 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                let named = message
                    .strip_prefix("unknown field `")
                    .and_then(|rest| rest.split('`').next());
                let field = named.map(str::to_owned).or((path != ".").then_some(path));
                ApiError::BadRequest {
                    detail: format!("bad query parameter: {message}"),
                    field,
                }
            })
    }
}

/// Path parameters; a malformed id is a 400 (not axum's plain-text rejection).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|_| ApiError::bad_request("id", "path ids must be UUIDs"))
    }
}

/// The authenticated caller, from `Authorization: Bearer <access token>`.
pub struct AuthUser(pub Caller);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        AuthSession::from_request_parts(parts, state)
            .await
            .map(|s| AuthUser(s.caller))
    }
}

/// The authenticated caller and the sign-in (refresh family) their token belongs to.
///
/// A token is accepted only while its session epoch is still the user's: deleting the user,
/// or changing their type, links or password, ends it within [`crate::auth::EPOCH_TTL`] on
/// every instance (at once on the one that made the change).
pub struct AuthSession {
    pub caller: Caller,
    pub family: Option<uuid::Uuid>,
}

impl FromRequestParts<AppState> for AuthSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized(
                "send an access token: Authorization: Bearer <token>",
            ))?;
        let v = state
            .keys
            .verify(token.trim())
            .ok_or(ApiError::Unauthorized(
                "the access token is invalid or expired",
            ))?;
        let current = state.keys.sessions.current(&state.db, v.caller.id).await?;
        if current != Some(v.epoch) {
            return Err(ApiError::Unauthorized(
                "this session has ended (the account or its rights changed); sign in again",
            ));
        }
        Ok(AuthSession {
            caller: v.caller,
            family: v.family,
        })
    }
}

/// `If-Match`: the version a write is based on. `None`: no precondition (absent or `*`).
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let v = v.to_str().unwrap_or_default().trim();
        if v == "*" {
            return Ok(IfMatch(None));
        }
        let tag = v.trim_start_matches("W/").trim_matches('"');
        // An ETag we never issued matches nothing: 0 is no row's version.
        Ok(IfMatch(Some(tag.parse().unwrap_or(0))))
    }
}

/// The strong ETag of a row version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The client's address, for login throttling: the TCP peer, or, when the peer is one of
/// `RECORDS_TRUSTED_PROXIES`, the client its `X-Forwarded-For` names (see
/// [`crate::auth::client_addr`]).
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Ok(ClientAddr(crate::auth::client_addr(
            peer,
            &state.config.trusted_proxies,
            forwarded,
        )))
    }
}

/// `limit` within 1..=200 (default 50), and the decoded `cursor`.
pub fn page_params(
    limit: Option<u32>,
    cursor: Option<&str>,
    parts: usize,
) -> Result<(usize, Option<Vec<String>>), ApiError> {
    let limit = limit.unwrap_or(domain::dto::DEFAULT_PAGE);
    if limit == 0 || limit > domain::dto::MAX_PAGE {
        return Err(ApiError::bad_request(
            "limit",
            format!("must be between 1 and {}", domain::dto::MAX_PAGE),
        ));
    }
    let after = match cursor {
        None => None,
        Some(c) => Some(
            crate::db::cursor::decode(c, parts)
                .ok_or_else(|| ApiError::bad_request("cursor", "not a cursor this list issued"))?,
        ),
    };
    Ok((limit as usize, after))
}
