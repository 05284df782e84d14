//! One error type for the API, answered as RFC 9457 `application/problem+json`.
//!
//! Every problem carries a stable `code` for clients to branch on; `detail` is for people and
//! never contains stored data. Internal errors are logged (without PHI) and answered with a
//! bare 500.

use crate::db::DbError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::Denied;
use uuid::Uuid;

pub use domain::dto::Problem;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthorized(&'static str),
    #[error("forbidden")]
    Forbidden(#[from] Denied),
    #[error("not found")]
    NotFound(&'static str),
    #[error("bad request")]
    BadRequest {
        detail: String,
        field: Option<String>,
    },
    #[error("validation failed")]
    Invalid {
        detail: String,
        field: Option<String>,
    },
    #[error("conflict")]
    Conflict {
        code: &'static str,
        detail: String,
        existing_id: Option<Uuid>,
    },
    #[error("precondition failed")]
    Stale,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("gone")]
    Gone { code: &'static str, detail: String },
    #[error("payload too large")]
    TooLarge(String),
    #[error("unsupported media type")]
    UnsupportedMediaType(&'static str),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// PHI is not served while the audit trail cannot record who read it.
    #[error("audit trail unavailable")]
    AuditUnavailable,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Invalid {
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    pub fn bad_request(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Stale => StatusCode::PRECONDITION_FAILED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Gone { .. } => StatusCode::GONE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem(self) -> Problem {
        let status = self.status();
        let (code, detail, field, existing_id) = match self {
            Self::Unauthorized(why) => ("unauthorized", Some(why.to_owned()), None, None),
            Self::Forbidden(Denied(why)) => ("forbidden", Some(why.to_owned()), None, None),
            Self::NotFound(what) => ("not_found", Some(format!("{what} not found")), None, None),
            Self::BadRequest { detail, field } => ("bad_request", Some(detail), field, None),
            Self::Invalid { detail, field } => ("validation_failed", Some(detail), field, None),
            Self::Conflict {
                code,
                detail,
                existing_id,
            } => (code, Some(detail), None, existing_id),
            Self::Stale => (
                "stale_version",
                Some("the row changed since you read it; fetch it again and retry".to_owned()),
                None,
                None,
            ),
            Self::MethodNotAllowed => (
                "method_not_allowed",
                Some("this route does not take that method".to_owned()),
                None,
                None,
            ),
            Self::Gone { code, detail } => (code, Some(detail), None, None),
            Self::TooLarge(detail) => ("payload_too_large", Some(detail), None, None),
            Self::UnsupportedMediaType(detail) => (
                "unsupported_media_type",
                Some(detail.to_owned()),
                None,
                None,
            ),
            Self::TooManyRequests { retry_after_secs } => (
                "too_many_requests",
                Some(format!("too many attempts; retry in {retry_after_secs} s")),
                None,
                None,
            ),
            Self::AuditUnavailable => (
                "audit_unavailable",
                Some("patient data cannot be shown while the platform cannot record who reads it; try again in a moment".to_owned()),
                None,
                None,
            ),
            Self::Internal(_) => ("internal_error", None, None, None),
        };
        Problem {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail,
            field,
            existing_id,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unique => Self::Conflict {
                code: "conflict",
                detail: "a record with the same unique value exists".to_owned(),
                existing_id: None,
            },
            DbError::ForeignKey => Self::Invalid {
                detail: "refers to a record that does not exist".to_owned(),
                field: None,
            },
            DbError::Other(e) => Self::Internal(e),
        }
    }
}

/// The problem+json response for a status and problem.
pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            // The chain names what failed (a query, a column), never row values.
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let status = self.status();
        let retry_after = match &self {
            Self::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            Self::AuditUnavailable => Some(AUDIT_RETRY_AFTER_SECS),
            _ => None,
        };
        let unauthorized = matches!(self, Self::Unauthorized(_));
        let mut res = problem_response(status, &self.problem());
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if unauthorized {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `Retry-After` of an [`ApiError::AuditUnavailable`]: the audit writer retries at least
/// this often.
const AUDIT_RETRY_AFTER_SECS: u64 = crate::audit::RETRY_MAX.as_secs();

impl From<crate::audit::AuditDown> for ApiError {
    fn from(_: crate::audit::AuditDown) -> Self {
        Self::AuditUnavailable
    }
}
