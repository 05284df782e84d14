//! The platform's integrations, as clients of systems it does not run:
//! - [`fhir`]: a Primary Healthcare Provider's FHIR R4 server, with SMART Backend Services
//!   auth, as the source of patients' documents;
//! - [`carepatron`]: the practice's Carepatron workspace, over the contract in
//!   `docs/carepatron.md`, as the target.
//!
//! No storage and no HTTP server here: the platform's jobs call these clients and keep the
//! state. Errors say what a person can do and carry no PHI (no response bodies, no names).

pub mod carepatron;
pub mod fhir;
mod http;

pub use http::{CallRetry, Limits};
use std::time::Duration;

/// Why a call to a remote system failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Worth retrying, and nothing was done: unreachable, 5xx, 429. The second field is the
    /// remote's own `Retry-After`, when it sent one.
    #[error("{0}")]
    Transient(String, Option<Duration>),
    /// Worth retrying, but the request may have been applied: it timed out, or the answer
    /// broke off. A create must look for what it may have made before trying again.
    #[error("{0}")]
    Unsure(String),
    /// The remote refused the platform's credentials.
    #[error("{0}")]
    Auth(String),
    /// The remote answered with something unusable: malformed, too large, or not what the
    /// standard allows.
    #[error("{0}")]
    Invalid(String),
    /// The remote refused the request (a 4xx other than 401/404/429).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    /// Our own settings are wrong (a key that does not load, a URL that is not one).
    #[error("{0}")]
    Config(String),
}

impl ConnectorError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(..) | Self::Unsure(_))
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient(_, after) => *after,
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ConnectorError>;
