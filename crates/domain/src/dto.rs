//! The JSON shapes of `/api/v1`. Field names are the tables' column names
//! (`docs/data-model.md`). Inputs reject unknown fields (a typo should fail loudly, not be ignored);
//! timestamps are RFC 3339 UTC; dates are `YYYY-MM-DD`.

use crate::kinds::{
    DocumentSource, DocumentType, InquiryNotification, InquiryStatus, LinkApproval, LogAction,
    LogStatus, PhpMatch, UserType,
};
use crate::text::{nullable, Email, Label, Password, Text};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub type Name = Label<200>;
pub type Title = Label<300>;
pub type ExternalRef = Label<200>;
pub type ContactDetails = Text<2_000>;
pub type MedicalHistory = Text<20_000>;
pub type DietaryPreferences = Text<5_000>;
pub type Note = Text<2_000>;
pub type Phone = Label<50>;
pub type InquiryMessage = Text<3_000>;

/// The longest `limit` a list accepts.
pub const MAX_PAGE: u32 = 200;
/// The `limit` of a list that names none.
pub const DEFAULT_PAGE: u32 = 50;

// ---------- errors ----------

/// An RFC 9457 problem document: every error the API answers, and what clients match on
/// (`code`, never the HTTP status alone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` says which problem it is.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: u16,
    /// A stable identifier: `validation_failed`, `not_found`, `forbidden`,
    /// `cursor_expired`, …
    #[serde(default)]
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The offending input field, for 400 and 422.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// For `duplicate_patient`: the record that already has this email.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub existing_id: Option<Uuid>,
}

// ---------- auth ----------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(value_type = String, format = "email")]
    pub email: Email,
    #[schema(value_type = String, format = "password")]
    pub password: Text<256>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

// ---------- users ----------

/// A user as their admin, or they themselves, see them. No password or hash, ever.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: UserType,
    pub carepatron_id: Option<String>,
    /// For `provider` users: the PHP they work for.
    pub provider_id: Option<Uuid>,
    /// For `patient` users: their patient record.
    pub patient_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A colleague as other dieticians and practitioners see them (the sharing picker).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UserDirectoryEntry {
    pub id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: UserType,
}

/// `GET /users/{id}`: the full record, or the directory entry of a colleague.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum UserView {
    Full(User),
    Directory(UserDirectoryEntry),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(value_type = String, format = "email")]
    pub email: Email,
    #[schema(value_type = String, max_length = 200)]
    pub name: Name,
    #[serde(rename = "type")]
    pub kind: UserType,
    #[schema(value_type = String, format = "password", min_length = 10, max_length = 256)]
    pub password: Password,
    /// Set by the Carepatron integration only: a request that sends it is refused.
    #[serde(default, deserialize_with = "crate::text::set_by_carepatron")]
    #[schema(ignore)]
    pub carepatron_id: crate::text::SetByIntegration,
    pub provider_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
}

/// `PUT /users/{id}`: absent fields are kept, `null` clears a nullable one.
///
/// Only admins change an account's `email` (anyone may send their own unchanged). Changing
/// one's own `password` needs `current_password`. A new type, provider or patient link, or
/// password ends the account's sessions (one's own password change keeps the session it was
/// made from).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[schema(value_type = Option<String>, format = "email")]
    pub email: Option<Email>,
    #[schema(value_type = Option<String>, max_length = 200)]
    pub name: Option<Name>,
    #[serde(rename = "type")]
    pub kind: Option<UserType>,
    #[schema(value_type = Option<String>, format = "password", min_length = 10, max_length = 256)]
    pub password: Option<Password>,
    /// The caller's current password: required to change their own `password`.
    #[schema(value_type = Option<String>, format = "password", max_length = 256)]
    pub current_password: Option<Text<256>>,
    /// Set by the Carepatron integration only: a request that sends it is refused.
    #[serde(default, deserialize_with = "crate::text::set_by_carepatron")]
    #[schema(ignore)]
    pub carepatron_id: crate::text::SetByIntegration,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub provider_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub patient_id: Option<Option<Uuid>>,
}

// ---------- patients ----------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Patient {
    pub id: Uuid,
    /// The patient's dietician.
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub contact_details: Option<String>,
    pub medical_history: Option<String>,
    pub dietary_preferences: Option<String>,
    pub carepatron_patient_id: Option<String>,
    pub birth_date: Option<NaiveDate>,
    /// The patient's Primary Healthcare Provider.
    pub provider_id: Option<Uuid>,
    /// The identifier the PHP knows the patient by.
    pub provider_patient_identifier: Option<String>,
    /// Whether the link to the PHP may be used; `null` when there is none. A new or changed
    /// link waits for an administrator's approval (when the practice requires it) and nothing
    /// is pulled until then. Set by the platform only.
    pub link_approval: Option<LinkApproval>,
    /// What a person can do about the last failed sync with the PHP or Carepatron; `null`
    /// when the last one succeeded.
    pub sync_error: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPatient {
    #[schema(value_type = String, max_length = 200)]
    pub name: Name,
    #[schema(value_type = String, format = "email")]
    pub email: Email,
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub contact_details: Option<ContactDetails>,
    #[schema(value_type = Option<String>, max_length = 20000)]
    pub medical_history: Option<MedicalHistory>,
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub dietary_preferences: Option<DietaryPreferences>,
    /// Set by the Carepatron integration only: a request that sends it is refused.
    #[serde(default, deserialize_with = "crate::text::set_by_carepatron")]
    #[schema(ignore)]
    pub carepatron_patient_id: crate::text::SetByIntegration,
    pub birth_date: Option<NaiveDate>,
    pub provider_id: Option<Uuid>,
    #[schema(value_type = Option<String>, max_length = 200)]
    pub provider_patient_identifier: Option<ExternalRef>,
}

/// `PUT /patients/{id}`: absent fields are kept, `null` clears a nullable one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientUpdate {
    #[schema(value_type = Option<String>, max_length = 200)]
    pub name: Option<Name>,
    #[schema(value_type = Option<String>, format = "email")]
    pub email: Option<Email>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub contact_details: Option<Option<ContactDetails>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 20000)]
    pub medical_history: Option<Option<MedicalHistory>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub dietary_preferences: Option<Option<DietaryPreferences>>,
    /// Set by the Carepatron integration only: a request that sends it is refused.
    #[serde(default, deserialize_with = "crate::text::set_by_carepatron")]
    #[schema(ignore)]
    pub carepatron_patient_id: crate::text::SetByIntegration,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub birth_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub provider_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub provider_patient_identifier: Option<Option<ExternalRef>>,
}

/// `409` body of `POST /patients` when one of the caller's patients has that email already:
/// the client should open the existing record instead.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DuplicatePatient {
    pub existing_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PatientQuery {
    /// Case-insensitive part of the name or email.
    pub q: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

// ---------- links to PHPs, for administrators to approve ----------

/// A patient's link to their PHP, as an administrator reviews it: our demographics beside
/// the record the PHP holds under the link.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LinkReview {
    pub patient_id: Uuid,
    pub patient_name: String,
    pub birth_date: Option<NaiveDate>,
    /// The patient's dietician, who made the link.
    pub dietician_id: Uuid,
    pub dietician_name: String,
    pub provider_id: Uuid,
    pub provider_name: String,
    pub provider_patient_identifier: Option<String>,
    pub link_approval: LinkApproval,
    /// When the patient (and so maybe the link) last changed.
    pub updated_at: DateTime<Utc>,
    /// How looking the patient up at the PHP went; `null` until it has run.
    pub php_match: Option<PhpMatch>,
    /// The name and birth date the PHP holds, when it found one record.
    pub php_name: Option<String>,
    pub php_birth_date: Option<String>,
    /// Names this link (provider, identifier, birth date): a decision sent with it applies
    /// only if the link is still the one reviewed.
    pub fingerprint: String,
}

/// `GET /links` filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// `pending` (the default), `approved` or `refused`.
    pub state: Option<LinkApproval>,
}

/// An administrator's decision on a link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkDecision {
    /// `approved` or `refused`.
    pub decision: LinkApproval,
    /// The reviewed link's [`LinkReview::fingerprint`].
    pub fingerprint: String,
}

// ---------- documents ----------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthcareDocument {
    pub id: Uuid,
    pub patient_id: Uuid,
    #[serde(rename = "type")]
    pub kind: DocumentType,
    pub date: NaiveDate,
    pub title: String,
    /// Who wrote it, as the PHP names them (documents pulled from a PHP).
    pub author: Option<String>,
    /// The text of a text document, on `GET /documents/{id}` only (lists leave it out, and
    /// binary documents are read from `/documents/{id}/content`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content: Option<String>,
    pub mime_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the body.
    pub content_hash: String,
    pub source: DocumentSource,
    /// Who uploaded it; `null` for documents pulled from the PHP.
    pub source_user_id: Option<Uuid>,
    /// The document's id at the PHP.
    pub external_id: Option<String>,
    pub carepatron_document_id: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A text document (JSON body of `POST /patients/{id}/documents`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTextDocument {
    #[serde(rename = "type")]
    pub kind: DocumentType,
    pub date: NaiveDate,
    #[schema(value_type = String, max_length = 300)]
    pub title: Title,
    /// The document text (bounded by the request body limit).
    pub content: String,
    /// `text/plain` unless given; `text/markdown` and `text/csv` are taken too.
    pub mime_type: Option<String>,
}

/// The `metadata` part of a multipart upload; the `file` part holds the bytes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFileMetadata {
    #[serde(rename = "type")]
    pub kind: DocumentType,
    pub date: NaiveDate,
    #[schema(value_type = String, max_length = 300)]
    pub title: Title,
}

/// A file document made on a device offline, as its `healthcare_documents` insert is pushed:
/// the file itself was sent ahead (`PUT /uploads/{sha256}`), and `upload` is its SHA-256,
/// the key that makes sending it again harmless.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttachedDocument {
    #[serde(rename = "type")]
    pub kind: DocumentType,
    pub date: NaiveDate,
    #[schema(value_type = String, max_length = 300)]
    pub title: Title,
    /// Lowercase hex SHA-256 of the file sent ahead.
    pub upload: String,
}

/// What `PUT /uploads/{sha256}` kept: the file, waiting for the document that names it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StagedUpload {
    pub content_hash: String,
    pub mime_type: String,
    pub size_bytes: i64,
}

impl PatientUpdate {
    /// What a person edits about a patient (the integration's references aside): an edit of
    /// any of these since a delete was based on makes the delete a conflict, and a restore
    /// writes them back.
    pub const CONTENT_FIELDS: &'static [&'static str] = &[
        "name",
        "email",
        "contact_details",
        "medical_history",
        "dietary_preferences",
        "birth_date",
        "provider_id",
        "provider_patient_identifier",
    ];
}

impl DocumentUpdate {
    /// What a person edits about a document (see [`PatientUpdate::CONTENT_FIELDS`]).
    pub const CONTENT_FIELDS: &'static [&'static str] = &["type", "date", "title", "content"];
}

/// `PUT /documents/{id}`: absent fields are kept.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentUpdate {
    #[serde(rename = "type")]
    pub kind: Option<DocumentType>,
    pub date: Option<NaiveDate>,
    #[schema(value_type = Option<String>, max_length = 300)]
    pub title: Option<Title>,
    /// New text; only for text documents.
    pub content: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    /// Only documents of this type.
    #[serde(rename = "type")]
    #[param(value_type = Option<DocumentType>, rename = "type")]
    pub kind: Option<DocumentType>,
    /// Documents dated on or after this day.
    pub from: Option<NaiveDate>,
    /// Documents dated on or before this day.
    pub to: Option<NaiveDate>,
    /// Case-insensitive keyword in the title or text.
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

// ---------- providers ----------

/// A PHP as the people who link patients to it choose it: its name, nothing of how the
/// platform signs in there (`GET /providers/directory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProviderEntry {
    pub id: Uuid,
    pub name: String,
}

/// How the platform signs in at a PHP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AuthMode {
    /// An open FHIR server.
    None,
    /// A static bearer token issued by the PHP.
    Bearer,
    /// SMART Backend Services: a signed JWT client assertion (RS384 or ES384).
    SmartBackend,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bearer => "bearer",
            Self::SmartBackend => "smart-backend",
        }
    }
}

/// A provider as the API shows it: never the private key or token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ProviderSettings"))]
pub struct Provider {
    pub id: Uuid,
    pub name: String,
    pub fhir_base_url: String,
    pub auth_mode: AuthMode,
    /// SMART: the client id the PHP registered for the platform.
    pub client_id: Option<String>,
    /// SMART: the token endpoint, when not the one the PHP publishes.
    pub token_url: Option<String>,
    pub scope: Option<String>,
    /// SMART: the signing key's id (`kid`) and algorithm.
    pub key_id: Option<String>,
    pub key_algorithm: Option<String>,
    /// SMART: the public key set to register at the PHP (also served, unauthenticated, at
    /// `/api/v1/providers/{id}/jwks.json`).
    #[schema(value_type = Option<Object>)]
    #[cfg_attr(
        feature = "ts",
        ts(type = "{ keys: Array<Record<string, unknown>> } | null")
    )]
    pub public_jwks: Option<serde_json::Value>,
    pub version: i64,
}

/// A provider's settings as an admin gives them (`POST`/`PUT /providers`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewProvider {
    #[schema(value_type = String, max_length = 200)]
    #[cfg_attr(feature = "ts", ts(as = "String"))]
    pub name: Label<200>,
    /// The PHP's FHIR R4 base URL (`https://…`).
    #[schema(value_type = String, max_length = 500)]
    #[cfg_attr(feature = "ts", ts(as = "String"))]
    pub fhir_base_url: Label<500>,
    /// How the platform signs in there; an open server when absent.
    #[serde(default)]
    pub auth: ProviderAuth,
}

/// Sign-in settings. Secrets go in, never come out.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ProviderAuth {
    #[default]
    None,
    Bearer {
        #[schema(value_type = String, max_length = 4096)]
        #[cfg_attr(feature = "ts", ts(as = "String"))]
        token: Label<4096>,
    },
    SmartBackend {
        /// The client id the PHP registered for the platform.
        #[schema(value_type = String, max_length = 200)]
        #[cfg_attr(feature = "ts", ts(as = "String"))]
        client_id: Label<200>,
        /// Defaults to read access to patients, documents, reports, observations and
        /// binaries, and writing Tasks.
        #[schema(value_type = Option<String>, max_length = 1000)]
        #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
        scope: Option<Label<1000>>,
        /// Only when the PHP does not publish `.well-known/smart-configuration`.
        #[schema(value_type = Option<String>, max_length = 500)]
        #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
        token_url: Option<Label<500>>,
        /// A PKCS#8 PEM private key (P-384 or RSA ≥ 2048). Absent: the platform generates a
        /// P-384 (ES384) key and shows its public half.
        #[schema(value_type = Option<String>, max_length = 20000)]
        #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
        private_key_pem: Option<Text<20000>>,
        /// The key's `kid`; generated when absent.
        #[schema(value_type = Option<String>, max_length = 200)]
        #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
        key_id: Option<Label<200>>,
    },
}

/// One step of reaching a PHP as the platform does, as "Test connection" reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConnectionStep {
    /// `Discovery`, `Token`, `Search`.
    pub step: String,
    pub ok: bool,
    /// What happened, in words an administrator can act on.
    pub detail: String,
}

/// The Carepatron side at a glance, for administrators (`GET /integrations/carepatron`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CarepatronState {
    /// Whether the platform has a Carepatron workspace to keep in line.
    pub configured: bool,
    /// When the follower that asks Carepatron for clients changed there last ran (took its
    /// turn: a run that then failed counts too; failures show in the logs).
    pub last_poll: Option<String>,
    /// When the follower that reads the platform's own changes for Carepatron last ran.
    pub last_feed: Option<String>,
    /// Reconciles waiting or running.
    pub waiting: i64,
    /// Reconciles stopped, waiting for a person (the Jobs screen runs them again).
    pub parked: i64,
    /// What the newest reconcile that failed said.
    pub last_error: Option<String>,
}

// ---------- sharing and requests ----------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// A user of type `practitioner`.
    pub practitioner_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocumentShare {
    pub id: Uuid,
    pub document_id: Uuid,
    pub practitioner_id: Uuid,
    pub shared_by: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// Set when the share was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether the share reached the practice's Carepatron workspace: `pending` (not tried
    /// yet), `delivered`, `not_on_team` (the practitioner is not on the Carepatron team under
    /// their email address), `not_configured` (no Carepatron integration: nothing expected) or
    /// `failed` (another error; retried). A revoked share keeps the state it had.
    pub carepatron_delivery: crate::kinds::ShareDelivery,
}

/// A share together with the document it opens (`GET /patients/{id}/shared-documents`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SharedDocument {
    pub share: DocumentShare,
    pub document: HealthcareDocument,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocumentRequest {
    /// What is wanted, for the PHP's staff to read.
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub note: Option<Note>,
    /// Only these document types (all if absent).
    #[serde(default)]
    pub types: Vec<DocumentType>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DocumentRequest {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub requested_by: Uuid,
    pub status: LogStatus,
    pub note: Option<String>,
    pub types: Vec<DocumentType>,
    pub created_at: DateTime<Utc>,
    /// The log entry that records the request.
    pub log_id: Uuid,
}

// ---------- measurements ----------

/// One value of a followed measure (`domain::measures`) from the patient's PHP, as reported
/// there: clients convert `unit` into the measure's own for display.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Measurement {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// The report it came with; `null` for a vital sign reported on its own.
    pub document_id: Option<Uuid>,
    /// The LOINC code.
    pub code: String,
    pub value: f64,
    pub unit: String,
    /// When it was measured (`YYYY-MM-DD`).
    pub date: NaiveDate,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// ---------- new-patient inquiries ----------

/// `POST /inquiries`: what a person asking to become a patient tells the practice, from its
/// website and without an account. The whole body stays under the public endpoint's 16 KiB.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInquiry {
    #[schema(value_type = String, max_length = 200)]
    pub name: Name,
    #[schema(value_type = String, format = "email")]
    pub email: Email,
    #[schema(value_type = Option<String>, max_length = 50)]
    pub phone: Option<Phone>,
    #[schema(value_type = Option<String>, max_length = 3000)]
    pub message: Option<InquiryMessage>,
    /// A dietician of the practice the person would like to see (from the inquiry page's list).
    pub practitioner_id: Option<Uuid>,
    /// Leave out or empty. People never see this field on the inquiry page; software that
    /// fills in every field does, and what it sends is accepted and dropped.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub website: Option<String>,
}

/// What the public inquiry endpoint answers: a reference the person can quote, and nothing
/// they did not send.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InquiryReceipt {
    pub reference: String,
    pub message: String,
}

/// A new-patient inquiry. Dieticians see those naming them and those naming nobody; nobody
/// else reads them (`docs/access.md`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Inquiry {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub message: Option<String>,
    /// The dietician asked for, if any.
    pub practitioner_id: Option<Uuid>,
    pub status: InquiryStatus,
    /// The patient it was converted into.
    pub patient_id: Option<Uuid>,
    /// Who converted or dismissed it.
    pub handled_by: Option<Uuid>,
    /// Whether the email telling the practice went out.
    pub notification: InquiryNotification,
    /// What the person and the practice's email quote ([`Inquiry::reference_of`]).
    pub reference: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Inquiry {
    /// The short reference of inquiry `id`, as its email and the thanks page quote it: the
    /// id's last 8 hex digits (random bits; the first are its time, shared by neighbours).
    pub fn reference_of(id: Uuid) -> String {
        let hex = id.simple().to_string();
        hex[hex.len() - 8..].to_owned()
    }
}

/// `GET /inquiries`: newest first, optionally of one status.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InquiryQuery {
    #[param(value_type = Option<InquiryStatus>)]
    pub status: Option<InquiryStatus>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

// ---------- synchronization log ----------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncLogEntry {
    pub id: Uuid,
    pub patient_id: Option<Uuid>,
    pub document_id: Option<Uuid>,
    /// Who triggered it; `null` for background work.
    pub user_id: Option<Uuid>,
    pub action: LogAction,
    pub timestamp: DateTime<Utc>,
    pub status: LogStatus,
    /// A sentence for a person: what happened and what to do. Never PHI.
    pub details: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    #[param(value_type = Option<LogStatus>)]
    pub status: Option<LogStatus>,
    #[param(value_type = Option<LogAction>)]
    pub action: Option<LogAction>,
    /// Entries on or after this day.
    pub from: Option<NaiveDate>,
    /// Entries on or before this day.
    pub to: Option<NaiveDate>,
    /// Case-insensitive keyword in the details.
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One entry of the audit trail of PHI reads (ids only, never content).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEntry {
    /// Position in the trail (ascending with time).
    pub seq: i64,
    /// Who read.
    pub user_id: Uuid,
    pub action: String,
    /// What was read: `patient`, `patient list`, `document`, `document content`, …
    pub entity: String,
    pub entity_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// Which reads of the audit trail to list (`GET /audit`, and the app's Audit trail screen);
/// all absent for every one.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
pub struct AuditQuery {
    /// Reads of this patient's data.
    pub patient_id: Option<Uuid>,
    /// Reads by this user.
    pub user_id: Option<Uuid>,
    /// Reads on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// Reads on or before this day (UTC).
    pub to: Option<NaiveDate>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One page of a list. Pass `next_cursor` back as `cursor` for the next page; `null` means
/// this was the last.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_tells_absent_from_null() {
        let u: PatientUpdate =
            serde_json::from_str(r#"{"contact_details": null}"#).expect("parses");
        assert!(matches!(u.contact_details, Some(None)));
        assert!(u.medical_history.is_none());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<NewPatient>(r#"{"name":"A","email":"a@b.co","nmae":1}"#);
        assert!(e.is_err());
    }
}

// ---------- sync ----------

/// The tables a replica holds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SyncTable {
    Users,
    Patients,
    HealthcareDocuments,
    DocumentShares,
    SynchronizationLog,
    Inquiries,
    Measurements,
}

impl SyncTable {
    /// Every table in the change feed's order: parents before children, and a table added
    /// later after all before it (a client says how many of these it reads).
    pub const FEED: [SyncTable; 7] = [
        Self::Users,
        Self::Patients,
        Self::HealthcareDocuments,
        Self::DocumentShares,
        Self::SynchronizationLog,
        Self::Inquiries,
        Self::Measurements,
    ];

    /// The table's name, in the platform's schema and in replicas alike.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Patients => "patients",
            Self::HealthcareDocuments => "healthcare_documents",
            Self::DocumentShares => "document_shares",
            Self::SynchronizationLog => "synchronization_log",
            Self::Inquiries => "inquiries",
            Self::Measurements => "measurements",
        }
    }

    /// The fields a person edits in this table's rows (none where replicas cannot write).
    pub fn content_fields(self) -> &'static [&'static str] {
        match self {
            Self::Patients => PatientUpdate::CONTENT_FIELDS,
            Self::HealthcareDocuments => DocumentUpdate::CONTENT_FIELDS,
            _ => &[],
        }
    }

    /// The [`content_fields`](Self::content_fields) of `fields`: what a restore writes back.
    pub fn content_of(
        self,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> serde_json::Map<String, serde_json::Value> {
        fields
            .iter()
            .filter(|(k, _)| self.content_fields().contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl std::str::FromStr for SyncTable {
    type Err = UnknownTable;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::FEED
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(UnknownTable)
    }
}

/// A table name that is not one of [`SyncTable`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a synced table")]
pub struct UnknownTable;

/// What a replica should hold of one table (its caller's scope, live rows): how many, and a
/// hash over their ids and versions that does not depend on order, so the replica can compute
/// the same over what it holds and compare (`GET /sync/checksums`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TableChecksum {
    pub table: SyncTable,
    pub count: u64,
    /// 32 hex digits.
    pub hash: String,
}

impl TableChecksum {
    pub fn of(table: SyncTable, rows: impl IntoIterator<Item = (Uuid, i64)>) -> Self {
        // SplitMix64's finaliser: every input bit reaches every output bit.
        fn mix(mut z: u64) -> u64 {
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        let (mut count, mut sum, mut xor) = (0u64, 0u64, 0u64);
        for (id, version) in rows {
            let (hi, lo) = id.as_u64_pair();
            let h = mix(hi ^ mix(lo ^ mix(version as u64)));
            count += 1;
            sum = sum.wrapping_add(h);
            xor ^= h.rotate_left(29);
        }
        Self {
            table,
            count,
            hash: format!("{sum:016x}{xor:016x}"),
        }
    }
}

/// A row a replica should hold, by id and version (`GET /sync/manifest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Held {
    pub id: Uuid,
    pub version: i64,
}

/// `GET /sync/stream`: the replica's cursor, from which a change wakes it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// The `next_cursor` of the replica's last pull: changes after it wake the stream. A
    /// replica that never pulled pulls first.
    pub cursor: String,
}

/// `GET /sync/manifest`: the ids and versions a replica should hold of one table.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ManifestQuery {
    #[param(value_type = SyncTable)]
    pub table: SyncTable,
}

/// `POST /sync/rows`: rows of one table by id, as the change feed would send them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowsRequest {
    pub table: SyncTable,
    /// At most 500.
    pub ids: Vec<Uuid>,
}

/// What a change asks of a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// Insert or replace the row with `row` (keep the higher `version`).
    Upsert,
    /// The row was deleted (a tombstone): drop it.
    Delete,
    /// The row still exists but the caller may no longer see it: drop it.
    Remove,
}

/// One entry of the change feed: the latest state of one row.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Change {
    pub table: SyncTable,
    pub id: Uuid,
    pub op: ChangeOp,
    pub version: i64,
    /// The row as `GET` on its REST endpoint shows it (documents without their text;
    /// colleagues as directory entries); only for `upsert`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<Object>)]
    pub row: Option<serde_json::Value>,
}

/// A page of `GET /sync/changes`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    /// Pass back as `cursor`, whether or not there is more.
    pub next_cursor: String,
    /// More changes are ready now: ask again at once.
    pub has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// `next_cursor` of the previous page; absent for a first, full sync.
    pub cursor: Option<String>,
    /// Changes per page, 1 to 5000 (default 1000).
    pub limit: Option<u32>,
    /// How many of the feed's tables, in [`SyncTable::FEED`] order, the client reads; absent:
    /// the first five (users to the log), as clients from before inquiries and measurements
    /// read, so they are never sent a table they cannot parse.
    pub tables: Option<u8>,
}

/// What a mutation does to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MutationOp {
    Insert,
    Update,
    Delete,
    /// Brings back a row deleted on the server, with `fields` written over it: how a person
    /// keeps their edit of a row someone else deleted.
    Restore,
}

/// One offline edit, as queued in a replica's outbox.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mutation {
    /// Made by the device; the same id sent twice is applied once.
    pub mutation_id: Uuid,
    /// The device's own order of its edits.
    pub device_seq: i64,
    /// `patients` or `healthcare_documents`.
    pub table: SyncTable,
    pub row_id: Uuid,
    pub op: MutationOp,
    /// The row version the edit was made on (0 for an insert).
    #[serde(default)]
    pub base_version: i64,
    /// The fields written, as in the REST bodies (a document insert also names `patient_id`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// Names the device (one laptop's replica).
    pub device_id: String,
    /// Applied in order; a rejected one does not stop the rest.
    pub mutations: Vec<Mutation>,
}

/// How a mutation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MutationStatus {
    /// Written; `version` is the row's new version.
    Applied,
    /// Sent before: `original_status` and the rest are the first answer.
    Duplicate,
    /// Someone else wrote the row since `base_version` in a way this edit cannot merge with;
    /// `kind` says how. For `fields`, the other fields of the edit were written (`version` is
    /// the row's new version) and `conflicts` has both values of each overlapping one.
    Conflict,
    /// Refused (`code`, `reason`): not allowed, invalid, or no such row. Nothing written;
    /// `row` is what the server holds, for the replica to return to.
    Rejected,
}

/// What a conflict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ConflictKind {
    /// Fields of an update were written by someone else since its base version.
    Fields,
    /// A delete, but the row was edited by someone else since: it was not deleted.
    EditedOnServer,
    /// An update, but the row was deleted by someone else since (a `restore` is how the
    /// person keeps their edit).
    DeletedOnServer,
}

/// One field both sides changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldConflict {
    pub field: String,
    #[schema(value_type = Object)]
    pub server_value: serde_json::Value,
    #[schema(value_type = Object)]
    pub client_value: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MutationResult {
    pub mutation_id: Uuid,
    pub status: MutationStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub original_status: Option<MutationStatus>,
    /// The row's version after this mutation (applied, or the merged part of a conflict) or
    /// now.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<i64>,
    /// For a conflict: what it is about.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<ConflictKind>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub conflicts: Vec<FieldConflict>,
    /// For a conflict or a refusal: the row as the server holds it now, as the change feed
    /// would send it (absent when it is gone or out of the caller's sight). The replica
    /// returns to it, so that what it shows is never an edit the server does not have.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<Object>)]
    pub row: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushResponse {
    pub results: Vec<MutationResult>,
}
