//! The offline core of the desktop app: a local SQLite replica of what the user may see, an
//! outbox of their edits, and the engine that reconciles both with the platform.
//!
//! # Layout
//! - [`replica`]: the local database: rows, outbox, conflicts, refused edits, sync state. An
//!   edit and its outbox entry are written in one transaction, so no edit is ever lost.
//! - [`engine`]: sync = push the outbox, then pull the change feed in resumable pages,
//!   rebasing pulled rows under edits still pending; events and retries.
//! - [`views`]: what the app's screens read: patient pages with sync badges, filtered
//!   documents, the sync log, status counts.
//! - [`online`]: what needs the platform itself (sharing, requests to the PHP, uploads,
//!   users).
//! - [`session`]: signing in and rotating tokens through a [`TokenStore`] the caller provides
//!   (the OS keyring in the app): this crate holds no credentials.
//!
//! No Tauri, no axum: the app and the `records` CLI drive this crate.

pub mod engine;
pub mod files;
pub mod live;
pub mod online;
pub mod replica;
pub mod rows;
pub mod session;
mod stored;
pub mod verify;
pub mod views;

pub use engine::{
    document_body, online_body, prefetch_text_bodies, sync, sync_reporting, sync_with_retry,
    Remote, RetryPolicy, SyncEvent, SyncSummary,
};
pub use replica::{replica_files, set_aside, ConflictRecord, Replica, ReplicaKey, Resolution};
pub use session::{
    check_server, follow_signed_in, login, login_with, logout, refresh, signed_in, sync_signed_in,
    verify_signed_in, PlainHttp, Session, TokenStore,
};

/// What can go wrong, worded for the person who has to act on it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the local replica could not be read or written: {0}")]
    Replica(#[from] sqlx::Error),
    #[error("the local replica's schema could not be set up: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the server cannot be reached; edits stay queued and go out when it can ({0})")]
    Offline(String),
    #[error("the server refused the sign-in; sign in again")]
    Unauthorized,
    /// The platform refused or failed: its problem document's stable `code` (what callers
    /// match on), its sentence, and the field to blame when it names one.
    #[error("the server answered {status}: {detail}")]
    Server {
        status: u16,
        code: String,
        detail: String,
        field: Option<String>,
    },
    #[error("no such {0} in the replica")]
    NotFound(&'static str),
    #[error("the data could not be read: {0}")]
    Data(#[from] serde_json::Error),
    #[error("the saved session could not be read or written: {0}")]
    Credentials(String),
    #[error("the local copy could not be unlocked with the key in the keyring")]
    Unreadable,
    #[error("{0}")]
    Invalid(String),
    /// Signing out would discard edits the platform does not have: unsent, refused (shown
    /// until dealt with) or in conflict (a decision waits).
    #[error("{}: sync or settle them first, or sign out and discard them", unsent(*.pending, *.refused, *.undecided))]
    Unsent {
        pending: i64,
        refused: i64,
        undecided: i64,
    },
    /// An edit the platform would refuse, caught before it is queued (the same check).
    #[error("{0}")]
    Field(#[from] domain::check::FieldError),
}

pub type Result<T> = std::result::Result<T, SyncError>;

impl SyncError {
    /// The platform's answer `body` with `status`, as its problem document says (a body that
    /// is none gets the code `http_<status>`).
    pub(crate) fn from_answer(status: u16, body: &[u8]) -> Self {
        let problem: domain::dto::Problem = serde_json::from_slice(body).unwrap_or_default();
        Self::Server {
            status,
            code: if problem.code.is_empty() {
                format!("http_{status}")
            } else {
                problem.code
            },
            detail: problem.detail.unwrap_or_default(),
            field: problem.field,
        }
    }

    /// An answer the client could not use (a sign-in answer without its tokens…).
    pub(crate) fn bad_answer(detail: String) -> Self {
        Self::Server {
            status: 200,
            code: "bad_answer".into(),
            detail,
            field: None,
        }
    }

    /// The platform's problem code, for errors that carry one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// "2 changes not sent, 1 refused change and 1 conflict", for [`SyncError::Unsent`].
fn unsent(pending: i64, refused: i64, undecided: i64) -> String {
    let n = |k: i64, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    let parts: Vec<String> = [
        (pending, "change not sent", "changes not sent"),
        (refused, "refused change", "refused changes"),
        (undecided, "conflict", "conflicts"),
    ]
    .into_iter()
    .filter(|(k, ..)| *k > 0)
    .map(|(k, one, many)| n(k, one, many))
    .collect();
    match parts.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::SyncError;

    #[test]
    fn a_refused_sign_out_names_what_would_be_lost() {
        let e = SyncError::Unsent {
            pending: 2,
            refused: 1,
            undecided: 0,
        };
        assert_eq!(
            e.to_string(),
            "2 changes not sent and 1 refused change: sync or settle them first, or sign out and discard them"
        );
        let e = SyncError::Unsent {
            pending: 0,
            refused: 0,
            undecided: 1,
        };
        assert!(e.to_string().starts_with("1 conflict: "), "{e}");
    }
}
