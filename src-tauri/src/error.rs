//! What a command returns when it fails: a stable `code` the UI branches on and a sentence
//! for the person. Never a secret or PHI (sync-core's messages carry neither).
//!
//! The platform's own problem codes (`duplicate_patient`, `link_not_approved`,
//! `validation_failed`, `audit_unavailable`, …) and the field it blames reach the UI as they
//! came; the app's own failures have codes of their own (`offline`, `unauthorized`,
//! `keyring`, `replica`, …).

use serde::Serialize;
use std::borrow::Cow;
use sync_core::SyncError;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppError {
    pub code: Cow<'static, str>,
    pub message: String,
    /// The form field to blame, as the platform names it (`email`, `birth_date`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub field: Option<String>,
}

impl AppError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code: Cow::Borrowed(code),
            message: message.into(),
            field: None,
        }
    }
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> Self {
        let code: Cow<'static, str> = match &e {
            SyncError::Offline(_) => "offline".into(),
            SyncError::Unauthorized => "unauthorized".into(),
            SyncError::Server { code, .. } => code.clone().into(),
            SyncError::NotFound(_) => "not_found".into(),
            // The platform's own check, run here: the platform's code for it.
            SyncError::Invalid(_) | SyncError::Field(_) => "validation_failed".into(),
            SyncError::Credentials(_) => "keyring".into(),
            SyncError::Unsent { .. } => "unsent_changes".into(),
            SyncError::Unreadable => "replica_locked".into(),
            SyncError::Replica(_) | SyncError::Migrate(_) | SyncError::Data(_) => "replica".into(),
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
        if matches!(code.as_ref(), "replica" | "keyring") {
            tracing::error!(code = code.as_ref(), "{e}");
        }
        let field = match e {
            SyncError::Field(f) => f.field,
            SyncError::Server { field, .. } => field,
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
        // The platform's code and field come through as they were sent.
        let e = AppError::from(SyncError::Server {
            status: 409,
            code: "duplicate_patient".into(),
            detail: "one of your patients already has this email".into(),
            field: None,
        });
        assert_eq!(
            (e.code.as_ref(), e.message.as_str()),
            (
                "duplicate_patient",
                "one of your patients already has this email"
            )
        );
        let e = AppError::from(SyncError::Server {
            status: 422,
            code: "validation_failed".into(),
            detail: "must be an email address like name@example.org".into(),
            field: Some("email".into()),
        });
        assert_eq!(
            (e.code.as_ref(), e.field.as_deref()),
            ("validation_failed", Some("email"))
        );
        let e = AppError::from(SyncError::Field(domain::check::FieldError {
            field: Some("birth_date".into()),
            detail: "input contains invalid characters".into(),
        }));
        assert_eq!(
            (e.code.as_ref(), e.message.as_str(), e.field.as_deref()),
            (
                "validation_failed",
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
