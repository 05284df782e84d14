//! The practice's Carepatron workspace, over the contract in `docs/carepatron.md` and
//! nothing more. Every request waits its turn under the workspace's rate limit (requests are
//! spaced, never burst past it); a 429 pauses all requests for its `Retry-After`. Reads and
//! replacing writes (PUT, DELETE) are retried briefly; creates are not — the contract has no
//! idempotency keys, so the caller looks a resource up by `externalId` before creating it, and
//! a create whose answer was lost is retried by the job queue only after that lookup.
//!
//! The mapping between the platform's rows and Carepatron's shapes is [`mapping`]'s alone: the
//! day the real API ships, this module and that one are what change.

mod mapping;

pub use mapping::{client_fields, file_name, merge, patient_view, Merged, PatientView};

use crate::http::{read_capped, send, status_error, CallRetry};
use crate::{ConnectorError, Result};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const REMOTE: &str = "Carepatron";

/// A client's writable fields, as Carepatron takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientFields {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone_number: Option<String>,
    pub address: Option<String>,
    #[serde(default)]
    pub custom_fields: CustomFields,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomFields {
    pub medical_history: Option<String>,
    pub dietary_preferences: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub id: String,
    #[serde(flatten)]
    pub fields: ClientFields,
    #[serde(default)]
    pub archived: bool,
    pub updated_date_time_utc: Option<String>,
}

/// A document's metadata, as Carepatron takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentMeta {
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub date: String,
    pub source: String,
    pub author: Option<String>,
    pub file_name: String,
    pub content_type: String,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteDocument {
    pub id: String,
    pub client_id: String,
    #[serde(flatten)]
    pub meta: DocumentMeta,
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamMember {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    pub id: String,
    pub document_id: String,
    pub team_member_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage<T> {
    items: Vec<T>,
    total_count: Option<u64>,
}

/// Spaces requests at the workspace's rate; a 429 holds every request back.
struct Pace {
    next: Instant,
}

pub struct Carepatron {
    http: reqwest::Client,
    base: String,
    api_key: String,
    interval: Duration,
    pace: Mutex<Pace>,
    retry: CallRetry,
}

impl std::fmt::Debug for Carepatron {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carepatron")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Carepatron {
    /// `base`: the workspace's API root (paths are under `/v1`); `rate`: requests per second
    /// the workspace's key allows.
    pub fn new(base: &str, api_key: &str, rate: f64) -> Result<Self> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ConnectorError::Config(
                "the Carepatron URL must be http(s)".into(),
            ));
        }
        if api_key.is_empty() {
            return Err(ConnectorError::Config(
                "the Carepatron API key is empty".into(),
            ));
        }
        if !rate.is_finite() || rate <= 0.0 {
            return Err(ConnectorError::Config(
                "the Carepatron rate limit must be positive".into(),
            ));
        }
        Ok(Self {
            http: reqwest::Client::new(),
            base: format!("{}/v1", base.trim_end_matches('/')),
            api_key: api_key.to_owned(),
            interval: Duration::from_secs_f64(1.0 / rate),
            pace: Mutex::new(Pace {
                next: Instant::now(),
            }),
            retry: CallRetry::default(),
        })
    }

    /// Waits for this request's slot.
    async fn turn(&self) {
        let at = {
            let mut pace = self.pace.lock().await;
            let at = pace.next.max(Instant::now());
            pace.next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }

    /// After a 429: nobody sends before `Retry-After` is over.
    async fn hold(&self, wait: Duration) {
        let mut pace = self.pace.lock().await;
        pace.next = pace.next.max(Instant::now() + wait);
    }

    /// One request, paced, its answer as JSON (`Null` for 204).
    async fn once(&self, method: Method, path: &str, body: Body<'_>, doing: &str) -> Result<Value> {
        self.turn().await;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.api_key);
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Bytes(bytes, kind) => req.header(CONTENT_TYPE, kind).body(bytes.to_vec()),
            Body::Form(form) => req.multipart(form),
        };
        let res = send(req, REMOTE).await?;
        let status = res.status();
        if !status.is_success() {
            let err = status_error(status, res.headers(), REMOTE, doing);
            if status.as_u16() == 429 {
                self.hold(err.retry_after().unwrap_or(Duration::from_secs(1)))
                    .await;
            }
            return Err(err);
        }
        if status.as_u16() == 204 {
            return Ok(Value::Null);
        }
        let bytes = read_capped(res, 4 << 20, REMOTE).await?;
        serde_json::from_slice(&bytes).map_err(|_| {
            ConnectorError::Invalid(format!("{REMOTE} answered with malformed JSON ({doing})"))
        })
    }

    /// A request that may safely be repeated (GET, PUT, DELETE), retried briefly.
    async fn idempotent(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        doing: &str,
    ) -> Result<Value> {
        self.retry
            .run(true, || {
                let body = body.map_or(Body::None, Body::Json);
                self.once(method.clone(), path, body, doing)
            })
            .await
    }

    fn parse<T: for<'de> Deserialize<'de>>(value: Value, what: &str) -> Result<T> {
        serde_json::from_value(value).map_err(|_| {
            ConnectorError::Invalid(format!("{REMOTE} sent {what} not as its contract says"))
        })
    }

    /// The client an earlier attempt may have created for this platform id.
    pub async fn find_client(&self, external_id: &str) -> Result<Option<Client>> {
        let path = format!("/clients?externalId={}&pageSize=100", enc(external_id));
        let page: ListPage<Client> = Self::parse(
            self.idempotent(Method::GET, &path, None, "finding a client")
                .await?,
            "a client list",
        )?;
        Ok(page
            .items
            .into_iter()
            .find(|c| c.fields.external_id.as_deref() == Some(external_id)))
    }

    /// Creates a client, retrying only answers that say nothing was done (5xx, 429). An
    /// [`ConnectorError::Unsure`] failure may have created it: look it up with
    /// [`Self::find_client`] before creating again.
    pub async fn create_client(&self, fields: &ClientFields) -> Result<Client> {
        let body =
            serde_json::to_value(fields).map_err(|e| ConnectorError::Config(e.to_string()))?;
        let created = self
            .retry
            .run(false, || {
                self.once(
                    Method::POST,
                    "/clients",
                    Body::Json(&body),
                    "creating a client",
                )
            })
            .await?;
        Self::parse(created, "a client")
    }

    /// `None`: no such client (deleted in Carepatron).
    pub async fn client(&self, id: &str) -> Result<Option<Client>> {
        match self
            .idempotent(
                Method::GET,
                &format!("/clients/{}", enc(id)),
                None,
                "reading a client",
            )
            .await
        {
            Ok(v) => Self::parse(v, "a client").map(Some),
            Err(ConnectorError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces a client's writable fields. A full replace is not safe to repeat blindly:
    /// if its answer was lost, someone may have edited the client since, and repeating it
    /// would undo that. So only answers that say nothing was done are retried; after an
    /// [`ConnectorError::Unsure`] failure, read the client again and merge afresh.
    pub async fn replace_client(&self, id: &str, fields: &ClientFields) -> Result<Client> {
        let body =
            serde_json::to_value(fields).map_err(|e| ConnectorError::Config(e.to_string()))?;
        let path = format!("/clients/{}", enc(id));
        let v = self
            .retry
            .run(false, || {
                self.once(Method::PUT, &path, Body::Json(&body), "updating a client")
            })
            .await?;
        Self::parse(v, "a client")
    }

    /// Archives a client; one already gone is fine.
    pub async fn archive_client(&self, id: &str) -> Result<()> {
        match self
            .idempotent(
                Method::DELETE,
                &format!("/clients/{}", enc(id)),
                None,
                "archiving a client",
            )
            .await
        {
            Ok(_) | Err(ConnectorError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One page (from 1) of clients changed at or after `since` (Carepatron's clock).
    pub async fn clients_updated_since(
        &self,
        since: &str,
        page: u32,
    ) -> Result<(Vec<Client>, bool)> {
        let path = format!(
            "/clients?updatedSince={}&page={page}&pageSize=100",
            enc(since)
        );
        let list: ListPage<Client> = Self::parse(
            self.idempotent(Method::GET, &path, None, "listing changed clients")
                .await?,
            "a client list",
        )?;
        let more = list.total_count.is_some_and(|t| u64::from(page) * 100 < t);
        Ok((list.items, more))
    }

    pub async fn find_document(
        &self,
        client_id: &str,
        external_id: &str,
    ) -> Result<Option<RemoteDocument>> {
        let path = format!(
            "/clients/{}/documents?externalId={}&pageSize=100",
            enc(client_id),
            enc(external_id)
        );
        let page: ListPage<RemoteDocument> = Self::parse(
            self.idempotent(Method::GET, &path, None, "finding a document")
                .await?,
            "a document list",
        )?;
        Ok(page
            .items
            .into_iter()
            .find(|d| d.meta.external_id.as_deref() == Some(external_id)))
    }

    /// Uploads a document (multipart: `metadata` JSON and `file`), retrying only answers that
    /// say nothing was done. After an [`ConnectorError::Unsure`] failure, look it up with
    /// [`Self::find_document`] before uploading again.
    pub async fn upload_document(
        &self,
        client_id: &str,
        meta: &DocumentMeta,
        bytes: Vec<u8>,
    ) -> Result<RemoteDocument> {
        let metadata =
            serde_json::to_string(meta).map_err(|e| ConnectorError::Config(e.to_string()))?;
        let form = || -> Result<reqwest::multipart::Form> {
            let bad =
                |_| ConnectorError::Config("a document's content type is not a MIME type".into());
            let file = reqwest::multipart::Part::bytes(bytes.clone())
                .file_name(meta.file_name.clone())
                .mime_str(&meta.content_type)
                .map_err(bad)?;
            let metadata = reqwest::multipart::Part::text(metadata.clone())
                .mime_str("application/json")
                .map_err(bad)?;
            Ok(reqwest::multipart::Form::new()
                .part("metadata", metadata)
                .part("file", file))
        };
        let path = format!("/clients/{}/documents", enc(client_id));
        let v = self
            .retry
            .run(false, || async {
                self.once(
                    Method::POST,
                    &path,
                    Body::Form(form()?),
                    "uploading a document",
                )
                .await
            })
            .await?;
        Self::parse(v, "a document")
    }

    pub async fn replace_document_meta(&self, id: &str, meta: &DocumentMeta) -> Result<()> {
        let body = serde_json::to_value(meta).map_err(|e| ConnectorError::Config(e.to_string()))?;
        self.idempotent(
            Method::PUT,
            &format!("/documents/{}", enc(id)),
            Some(&body),
            "updating a document",
        )
        .await
        .map(drop)
    }

    pub async fn replace_document_content(
        &self,
        id: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let path = format!("/documents/{}/content", enc(id));
        self.retry
            .run(true, || {
                self.once(
                    Method::PUT,
                    &path,
                    Body::Bytes(bytes, content_type),
                    "replacing a document's file",
                )
            })
            .await
            .map(drop)
    }

    /// Deletes a document; one already gone is fine.
    pub async fn delete_document(&self, id: &str) -> Result<()> {
        match self
            .idempotent(
                Method::DELETE,
                &format!("/documents/{}", enc(id)),
                None,
                "deleting a document",
            )
            .await
        {
            Ok(_) | Err(ConnectorError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn team_members(&self) -> Result<Vec<TeamMember>> {
        let v = self
            .idempotent(Method::GET, "/team-members", None, "listing team members")
            .await?;
        // The contract says "a list"; take a bare array or a page.
        let items = match v {
            Value::Array(_) => v,
            mut page => page["items"].take(),
        };
        Self::parse(items, "a team member list")
    }

    pub async fn shares(&self, document_id: &str) -> Result<Vec<Share>> {
        let v = self
            .idempotent(
                Method::GET,
                &format!("/documents/{}/shares", enc(document_id)),
                None,
                "listing shares",
            )
            .await?;
        let items = match v {
            Value::Array(_) => v,
            mut page => page["items"].take(),
        };
        Self::parse(items, "a share list")
    }

    /// Shares a document, retrying only answers that say nothing was done. After an
    /// [`ConnectorError::Unsure`] failure, list the document's shares before sharing again.
    pub async fn share(&self, document_id: &str, team_member_id: &str) -> Result<Share> {
        let body = json!({ "teamMemberId": team_member_id });
        let path = format!("/documents/{}/shares", enc(document_id));
        let v = self
            .retry
            .run(false, || {
                self.once(Method::POST, &path, Body::Json(&body), "sharing a document")
            })
            .await?;
        Self::parse(v, "a share")
    }

    /// Revokes a share; one already gone is fine.
    pub async fn unshare(&self, document_id: &str, share_id: &str) -> Result<()> {
        let path = format!("/documents/{}/shares/{}", enc(document_id), enc(share_id));
        match self
            .idempotent(Method::DELETE, &path, None, "revoking a share")
            .await
        {
            Ok(_) | Err(ConnectorError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

enum Body<'a> {
    None,
    Json(&'a Value),
    Bytes(&'a [u8], &'a str),
    Form(reqwest::multipart::Form),
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
