//! The shapes of the rows the app's screens read as JSON: a patient, a document and a sync
//! log line as this replica holds them.
//!
//! The replica keeps each row as the JSON the platform sent (the REST shape in `domain::dto`),
//! or, for a record written here and not yet synced, the fields the person gave and its id:
//! the fields only the platform sets are then absent. The views pass that JSON through; these
//! types say what it holds, for the UI's TypeScript declarations (feature `ts`), and tests
//! read real rows of both kinds into them with unknown fields refused, so a field the
//! platform adds, renames or drops fails here before it fails on a screen.

use domain::{DocumentSource, DocumentType, LinkApproval, LogAction, LogStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A patient as the replica holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
pub struct PatientRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    /// The patient's dietician (set by the platform).
    pub user_id: Option<Uuid>,
    pub contact_details: Option<String>,
    pub medical_history: Option<String>,
    pub dietary_preferences: Option<String>,
    pub carepatron_patient_id: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub provider_id: Option<Uuid>,
    pub provider_patient_identifier: Option<String>,
    /// Whether the link to the provider may be used (set by the platform).
    pub link_approval: Option<LinkApproval>,
    pub sync_error: Option<String>,
    pub version: Option<i64>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// A document as the replica holds it (lists leave `content` out). The document lists read
/// rows into it, so a field absent from the row stays absent on the way to the screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
pub struct DocumentRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    #[serde(rename = "type")]
    pub kind: DocumentType,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DocumentSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carepatron_document_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// A line of the sync log: the platform's entry, or an edit made here that it refused, with
/// the names this computer knows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
pub struct LogLine {
    /// The entry's id, or the refused edit's mutation id.
    pub id: String,
    pub patient_id: Option<String>,
    pub document_id: Option<String>,
    pub user_id: Option<String>,
    pub action: LogLineAction,
    pub timestamp: String,
    pub status: LogStatus,
    pub details: Option<String>,
    /// `null` when this computer does not hold the patient.
    pub patient_name: Option<String>,
    /// `null` when this computer does not hold the user, or for background work.
    pub user_name: Option<String>,
}

/// What a log line records: one of the platform's actions, or an edit made here it refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LogLineAction {
    Platform(LogAction),
    Here(OfflineEdit),
}

/// The sync log's action for an edit made on this device that the platform refused (spelled
/// as `views::OFFLINE_EDIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum OfflineEdit {
    #[serde(rename = "offline edit")]
    OfflineEdit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_edit_is_logged_under_the_views_spelling() {
        let spelled = serde_json::to_value(LogLineAction::Here(OfflineEdit::OfflineEdit));
        assert_eq!(spelled.expect("json"), crate::views::OFFLINE_EDIT);
        let platform: LogLineAction =
            serde_json::from_value("document uploaded".into()).expect("a platform action");
        assert_eq!(
            platform,
            LogLineAction::Platform(LogAction::DocumentUploaded)
        );
    }
}
