//! What a command returns when it fails: a stable `code` the UI branches on and a sentence
//! for the person. Never a secret or PHI (sync-core's messages carry neither).

use serde::Serialize;
use sync_core::SyncError;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: &'static str,
    pub message: String,
    /// The form field to blame, as the platform names it (`email`, `birth_date`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> Self {
        let code = match &e {
            SyncError::Offline(_) => "offline",
            SyncError::Unauthorized => "unauthorized",
            SyncError::Server { status: 403, .. } => "forbidden",
            SyncError::Server { status: 404, .. } | SyncError::NotFound(_) => "not_found",
            SyncError::Server { status: 409, .. } => "conflict",
            SyncError::Server {
                status: 400 | 422, ..
            }
            | SyncError::Invalid(_)
            | SyncError::Field(_) => "invalid",
            SyncError::Server { .. } => "server",
            SyncError::Credentials(_) => "keyring",
            SyncError::Unsent { .. } => "unsent_changes",
            SyncError::Unreadable => "replica_locked",
            SyncError::Replica(_) | SyncError::Migrate(_) | SyncError::Data(_) => "replica",
        };
        let message = match &e {
            SyncError::Offline(_) => {
                "The server cannot be reached. Your changes are kept and go out when it can."
                    .to_owned()
            }
            SyncError::Server { detail, .. } if !detail.is_empty() => detail.clone(),
            SyncError::Credentials(why) => format!("{}.", sentence(why)),
            // "Birth date: must be…", the field in words.
            SyncError::Field(f) => match &f.field {
                Some(field) => format!("{}: {}.", sentence(&field.replace('_', " ")), f.detail),
                None => format!("{}.", sentence(&f.detail)),
            },
            other => sentence(&other.to_string()),
        };
        if matches!(code, "replica" | "keyring") {
            tracing::error!(code, "{e}");
        }
        let field = match e {
            SyncError::Field(f) => f.field,
            _ => None,
        };
        Self {
            code,
            message,
            field,
        }
    }
}

pub type CommandResult<T> = Result<T, AppError>;

/// `text` with a capital first letter.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_a_stable_code_and_a_sentence() {
        let e = AppError::from(SyncError::Offline("connection refused".into()));
        assert_eq!(e.code, "offline");
        assert!(e.message.starts_with("The server cannot be reached"));
        let e = AppError::from(SyncError::Server {
            status: 409,
            detail: "a patient with this email exists".into(),
        });
        assert_eq!(
            (e.code, e.message.as_str()),
            ("conflict", "a patient with this email exists")
        );
        let e = AppError::from(SyncError::Field(domain::check::FieldError {
            field: Some("birth_date".into()),
            detail: "input contains invalid characters".into(),
        }));
        assert_eq!(
            (e.code, e.message.as_str(), e.field.as_deref()),
            (
                "invalid",
                "Birth date: input contains invalid characters.",
                Some("birth_date")
            )
        );
        let json = serde_json::to_value(AppError::from(SyncError::Unauthorized)).unwrap();
        assert_eq!(json["code"], "unauthorized");
        assert!(json["message"]
            .as_str()
            .unwrap()
            .starts_with("The server refused"));
    }
}
