//! What only the platform can do, so only with a connection: sharing, asking the PHP for
//! documents, user management, the profile, and an administrator's reads of
//! patient data (their replica keeps none). Each call runs as the stored
//! session ([`crate::session::signed_in`]) and returns the platform's JSON.

use crate::engine::Remote;
use crate::session::signed_in;
use crate::{Result, TokenStore};
use domain::dto::{
    AuditEntry, AuditQuery, CarepatronState, ConnectionStep, LinkReview, NewProvider, Page,
    Provider, ProviderEntry,
};
use domain::{JobCause, JobKind, JobStatus, LinkApproval};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

/// The signed-in user.
pub async fn me(store: &dyn TokenStore) -> Result<Value> {
    call(store, reqwest::Method::GET, "/users/me".into(), None).await
}

/// Shares a document with a practitioner.
pub async fn share(store: &dyn TokenStore, document: Uuid, practitioner: Uuid) -> Result<Value> {
    let body = json!({ "practitioner_id": practitioner });
    call(
        store,
        reqwest::Method::POST,
        format!("/documents/{document}/share"),
        Some(body),
    )
    .await
}

/// Revokes a share.
pub async fn revoke_share(store: &dyn TokenStore, document: Uuid, share: Uuid) -> Result<Value> {
    let path = format!("/documents/{document}/shares/{share}");
    call(store, reqwest::Method::DELETE, path, None).await
}

/// Asks the patient's PHP for documents (`note` for their staff, `types` to narrow it).
pub async fn request_documents(
    store: &dyn TokenStore,
    patient: Uuid,
    note: Option<String>,
    types: Vec<String>,
) -> Result<Value> {
    let body = json!({ "note": note.filter(|n| !n.trim().is_empty()), "types": types });
    let path = format!("/patients/{patient}/request-documents");
    call(store, reqwest::Method::POST, path, Some(body)).await
}

/// Admin: patients read from the platform (an administrator's replica keeps none), up to
/// `limit` (at most 200) whose name or email contains `search`. Each read is audited there.
pub async fn patients(store: &dyn TokenStore, search: &str, limit: i64) -> Result<Value> {
    let mut url = reqwest::Url::parse("http://platform/patients").expect("a fixed URL");
    url.query_pairs_mut()
        .append_pair("limit", &limit.clamp(1, 200).to_string());
    if !search.trim().is_empty() {
        url.query_pairs_mut().append_pair("q", search.trim());
    }
    let path = format!("/patients?{}", url.query().unwrap_or_default());
    call(store, reqwest::Method::GET, path, None).await
}

/// Admin: one patient, read from the platform.
pub async fn patient(store: &dyn TokenStore, id: Uuid) -> Result<Value> {
    call(store, reqwest::Method::GET, format!("/patients/{id}"), None).await
}

/// Admin: a patient's documents (no bodies), newest first, read from the platform.
pub async fn patient_documents(store: &dyn TokenStore, id: Uuid) -> Result<Value> {
    let path = format!("/patients/{id}/documents?limit=200");
    call(store, reqwest::Method::GET, path, None).await
}

/// Admin: a patient's measurements (`views::trends_of` draws them), read from the platform.
pub async fn measurements(
    store: &dyn TokenStore,
    patient: Uuid,
) -> Result<Vec<domain::dto::Measurement>> {
    let path = format!("/patients/{patient}/measurements");
    read(store, reqwest::Method::GET, path, None).await
}

/// Admin: one document's metadata, read from the platform.
pub async fn document(store: &dyn TokenStore, id: Uuid) -> Result<Value> {
    call(
        store,
        reqwest::Method::GET,
        format!("/documents/{id}"),
        None,
    )
    .await
}

/// Admin: deletes a document on the platform (their replica does not hold it).
pub async fn delete_document(store: &dyn TokenStore, id: Uuid) -> Result<Value> {
    call(
        store,
        reqwest::Method::DELETE,
        format!("/documents/{id}"),
        None,
    )
    .await
}

/// Admin: every user.
pub async fn users(store: &dyn TokenStore) -> Result<Value> {
    call(store, reqwest::Method::GET, "/users?limit=200".into(), None).await
}

/// The Primary Healthcare Providers' names (dieticians and admins): to choose a patient's
/// PHP, or the one a provider's staff work for.
pub async fn provider_directory(store: &dyn TokenStore) -> Result<Vec<ProviderEntry>> {
    read(
        store,
        reqwest::Method::GET,
        "/providers/directory".into(),
        None,
    )
    .await
}

/// Admin: links to a PHP in `state` (pending when `None`), with what the PHP holds beside ours.
pub async fn link_reviews(
    store: &dyn TokenStore,
    state: Option<LinkApproval>,
) -> Result<Vec<LinkReview>> {
    let path = format!("/links?state={}", state.unwrap_or(LinkApproval::Pending));
    read(store, reqwest::Method::GET, path, None).await
}

/// Admin: approves or refuses the link reviewed as `fingerprint` (refused with
/// `link_changed` when it changed since).
pub async fn decide_link(
    store: &dyn TokenStore,
    patient: Uuid,
    decision: LinkApproval,
    fingerprint: &str,
) -> Result<()> {
    let body = json!({ "decision": decision, "fingerprint": fingerprint });
    call(
        store,
        reqwest::Method::POST,
        format!("/links/{patient}"),
        Some(body),
    )
    .await?;
    Ok(())
}

/// Admin: every provider with how the platform signs in there (never a secret).
pub async fn provider_settings(store: &dyn TokenStore) -> Result<Vec<Provider>> {
    read(store, reqwest::Method::GET, "/providers".into(), None).await
}

/// Admin: a new provider (`id` absent), or new settings for one.
pub async fn save_provider(
    store: &dyn TokenStore,
    id: Option<Uuid>,
    provider: &NewProvider,
) -> Result<Provider> {
    let body = serde_json::to_value(provider)?;
    let (method, path) = match id {
        None => (reqwest::Method::POST, "/providers".to_owned()),
        Some(id) => (reqwest::Method::PUT, format!("/providers/{id}")),
    };
    read(store, method, path, Some(body)).await
}

/// Admin: removes a provider nothing links to any more.
pub async fn delete_provider(store: &dyn TokenStore, id: Uuid) -> Result<()> {
    call(
        store,
        reqwest::Method::DELETE,
        format!("/providers/{id}"),
        None,
    )
    .await?;
    Ok(())
}

/// Admin: "Test connection": the provider's settings tried as a pull uses them.
pub async fn test_provider(store: &dyn TokenStore, id: Uuid) -> Result<Vec<ConnectionStep>> {
    let path = format!("/providers/{id}/test");
    read(store, reqwest::Method::POST, path, None).await
}

/// Starts pulling the patient's documents from their PHP now (or joins the pull already
/// waiting or running): the job to follow with [`job`].
pub async fn sync_patient(store: &dyn TokenStore, patient: Uuid) -> Result<Job> {
    let path = format!("/patients/{patient}/sync");
    read(store, reqwest::Method::POST, path, None).await
}

/// Admin: jobs, newest first, in `status` (all when `None`).
pub async fn jobs(store: &dyn TokenStore, status: Option<JobStatus>) -> Result<Vec<Job>> {
    let path = match status {
        Some(s) => format!("/jobs?limit=200&status={}", s.as_str()),
        None => "/jobs?limit=200".to_owned(),
    };
    read(store, reqwest::Method::GET, path, None).await
}

/// Who read which patient's data, newest first, a page at a time (`cursor` from the page
/// before): all of it for an administrator, one of their patients' for a dietician.
pub async fn audit_trail(store: &dyn TokenStore, filter: &AuditQuery) -> Result<Page<AuditEntry>> {
    let mut url = reqwest::Url::parse("http://platform/audit").expect("a fixed URL");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("limit", &filter.limit.unwrap_or(100).to_string());
        for (key, value) in [
            ("user_id", filter.user_id.map(|u| u.to_string())),
            ("patient_id", filter.patient_id.map(|p| p.to_string())),
            ("from", filter.from.map(|d| d.to_string())),
            ("to", filter.to.map(|d| d.to_string())),
            ("cursor", filter.cursor.clone()),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                q.append_pair(key, &value);
            }
        }
    }
    let path = format!("/audit?{}", url.query().unwrap_or_default());
    read(store, reqwest::Method::GET, path, None).await
}

/// Admin: the Carepatron side at a glance.
pub async fn carepatron_state(store: &dyn TokenStore) -> Result<CarepatronState> {
    let path = "/integrations/carepatron".to_owned();
    read(store, reqwest::Method::GET, path, None).await
}

/// Admin: runs a parked job again from its first attempt.
pub async fn replay_job(store: &dyn TokenStore, id: Uuid) -> Result<Job> {
    let path = format!("/jobs/{id}/replay");
    read(store, reqwest::Method::POST, path, None).await
}

/// Where a job stands.
pub async fn job(store: &dyn TokenStore, id: Uuid) -> Result<Job> {
    read(store, reqwest::Method::GET, format!("/jobs/{id}"), None).await
}

/// A background job of the platform's (a pull from a PHP, a request to one, a Carepatron
/// reconcile, the email announcing an inquiry) as it reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Job {
    pub id: Uuid,
    pub kind: JobKind,
    /// The patient it is about; `None` for an inquiry's email.
    pub patient_id: Option<Uuid>,
    /// The inquiry an email job announces.
    #[serde(default)]
    pub inquiry_id: Option<Uuid>,
    /// Why it was queued.
    pub cause: JobCause,
    pub attempts: u32,
    /// When it runs (next).
    pub run_at: String,
    pub updated_at: String,
    pub status: JobStatus,
    pub progress: PullCounts,
    /// What went wrong last, in words a person can act on.
    pub last_error: Option<String>,
}

impl Job {
    /// Done, or waiting for a person: nothing more happens by itself.
    pub fn finished(&self) -> bool {
        matches!(self.status, JobStatus::Done | JobStatus::Parked)
    }
}

/// What a pull has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PullCounts {
    /// Documents the PHP listed.
    pub found: u32,
    /// New here.
    pub stored: u32,
    /// Changed at the PHP since the last pull.
    pub updated: u32,
    pub unchanged: u32,
    /// Withdrawn at the PHP.
    pub removed: u32,
    /// Not kept (not the patient's, or unreadable).
    pub skipped: u32,
}

/// Admin: a new user (`email`, `name`, `type`, `password`; `provider_id` for a provider's
/// staff, `patient_id` for a patient).
pub async fn create_user(store: &dyn TokenStore, user: Value) -> Result<Value> {
    call(store, reqwest::Method::POST, "/users".into(), Some(user)).await
}

/// Admin (or oneself): changes fields of a user.
pub async fn update_user(store: &dyn TokenStore, id: Uuid, fields: Value) -> Result<Value> {
    call(
        store,
        reqwest::Method::PUT,
        format!("/users/{id}"),
        Some(fields),
    )
    .await
}

/// Admin: removes a user.
pub async fn delete_user(store: &dyn TokenStore, id: Uuid) -> Result<Value> {
    call(store, reqwest::Method::DELETE, format!("/users/{id}"), None).await
}

/// [`call`], its answer read as a `T` (the platform's own type for it).
async fn read<T: DeserializeOwned>(
    store: &dyn TokenStore,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
) -> Result<T> {
    Ok(serde_json::from_value(
        call(store, method, path, body).await?,
    )?)
}

async fn call(
    store: &dyn TokenStore,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
) -> Result<Value> {
    signed_in(store, |r| {
        let (method, path, body) = (method.clone(), path.clone(), body.clone());
        async move { r.call(method, &path, body).await }
    })
    .await
}

/// A dietician makes a patient of a new-patient inquiry, on the platform (`fields` as a new
/// patient's): one patient however many dieticians press Convert. The patient reaches the
/// replica with the next sync.
pub async fn convert_inquiry(
    store: &dyn TokenStore,
    id: Uuid,
    fields: serde_json::Map<String, Value>,
) -> Result<domain::dto::Patient> {
    let path = format!("/inquiries/{id}/convert");
    read(
        store,
        reqwest::Method::POST,
        path,
        Some(Value::Object(fields)),
    )
    .await
}

/// A dietician sets an inquiry aside, on the platform.
pub async fn dismiss_inquiry(store: &dyn TokenStore, id: Uuid) -> Result<domain::dto::Inquiry> {
    let path = format!("/inquiries/{id}/dismiss");
    read(store, reqwest::Method::POST, path, None).await
}

/// Whether the platform answers at all (no session needed).
pub async fn reachable(server: &str) -> bool {
    let probe = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map(|c| c.get(format!("{}/healthz", server.trim_end_matches('/'))));
    match probe {
        Ok(req) => req.send().await.is_ok_and(|r| r.status().is_success()),
        Err(_) => false,
    }
}

impl Remote {
    /// One call to `/api/v1{path}`; JSON in and out (`null` for an empty answer).
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.send(req).await
    }
}
