//! Sync: push the outbox, then pull the change feed, page by page.

use crate::replica::Replica;
use crate::{Result, SyncError};
use domain::dto::{
    ChangesPage, ConflictKind, Mutation, MutationStatus, PushRequest, PushResponse, SyncTable,
};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Outbox entries per push.
const PUSH_BATCH: i64 = 500;
/// Changes per pulled page.
const PULL_PAGE: u32 = 1_000;

/// The platform, as this device reaches it.
#[derive(Clone)]
pub struct Remote {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
}

/// What the engine reports while it works: for the app's progress bar and notifications and
/// the CLI's messages. Counts and ids only: no health information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    Started,
    /// Queued edits sent so far, of how many.
    Pushed {
        done: usize,
        total: usize,
    },
    /// Bytes of files attached here sent so far, of how many, before the push that names
    /// them.
    Sending {
        sent: usize,
        total: usize,
    },
    /// Changes applied so far in this pull.
    Pulled {
        rows: usize,
    },
    /// An edit the server could not take as it was; the replica's conflicts table has both
    /// sides. `field` for a field conflict; a row conflict (delete against edit) has none.
    Conflict {
        table: SyncTable,
        row_id: uuid::Uuid,
        kind: ConflictKind,
        field: Option<String>,
    },
    Finished(SyncSummary),
    /// This attempt failed: `reason` says what to do; `retry_in` when a retry is scheduled.
    Failed {
        reason: String,
        retry_in: Option<Duration>,
    },
}

/// How `sync_with_retry` waits between attempts when the server cannot be reached:
/// exponential backoff from `first` up to `max`, with full jitter, for at most `attempts`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub first: Duration,
    pub max: Duration,
    pub attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
            attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `n` (0-based): uniform in [0, min(max, first * 2^n)].
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = self
            .first
            .saturating_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
            .min(self.max);
        ceiling.mul_f64(rand::random::<f64>())
    }
}

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncSummary {
    pub pushed: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub pulled: usize,
    /// Pulled documents this replica did not hold before.
    pub new_documents: usize,
    /// Pulled new-patient inquiries this replica did not hold before.
    pub new_inquiries: usize,
}

impl Remote {
    /// `base`: the platform's URL (`http://host:port`); `token`: an access token.
    pub fn new(base: &str, token: &str) -> Self {
        // A connection that stalls (a laptop changing networks, a half-open socket) ends in an
        // error the engine reports and retries, never in a sync that waits forever.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    /// `GET /api/v1{path}`, read as a `T`.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(self.http.get(format!("{}/api/v1{path}", self.base)))
            .await
    }

    /// `POST /api/v1{path}` with `body` as JSON, the answer read as a `T`.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T> {
        self.send(
            self.http
                .post(format!("{}/api/v1{path}", self.base))
                .json(body),
        )
        .await
    }

    /// Sends `req` with the access token; the JSON answer (`null` when empty), or the error
    /// the status means.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T> {
        self.try_send(req).await.map_err(|(e, _)| e)
    }

    /// One page of the change feed from `cursor` (from the start without one).
    async fn changes(&self, cursor: Option<&str>) -> Result<ChangesPage> {
        let mut url = format!(
            "{}/api/v1/sync/changes?limit={PULL_PAGE}&tables={}",
            self.base,
            SyncTable::FEED.len()
        );
        if let Some(c) = cursor {
            url.push_str("&cursor=");
            url.push_str(c);
        }
        self.send(self.http.get(url)).await
    }

    /// [`Remote::send`], saying on failure whether the request may have reached the server
    /// (`false`: no connection was made, so nothing was sent).
    pub(crate) async fn try_send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> std::result::Result<T, (SyncError, bool)> {
        let res = req.bearer_auth(&self.token).send().await.map_err(|e| {
            let sent = !e.is_connect();
            (SyncError::Offline(e.without_url().to_string()), sent)
        })?;
        let status = res.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err((SyncError::Unauthorized, true));
        }
        let body = res
            .bytes()
            .await
            .map_err(|e| (SyncError::Offline(e.without_url().to_string()), true))?;
        if !status.is_success() {
            return Err((SyncError::from_answer(status.as_u16(), &body), true));
        }
        let parsed = if body.is_empty() {
            serde_json::from_value(serde_json::Value::Null)
        } else {
            serde_json::from_slice(&body)
        };
        parsed.map_err(|e| (e.into(), true))
    }
}

/// Pushes every queued edit, then pulls every change; safe to interrupt at any point.
pub async fn sync(replica: &Replica, remote: &Remote) -> Result<SyncSummary> {
    sync_reporting(replica, remote, &|_| {}).await
}

/// [`sync`], retried with backoff and jitter while the server cannot be reached. Other errors
/// (a refused sign-in, a server error) end it at once: retrying would not help.
pub async fn sync_with_retry(
    replica: &Replica,
    remote: &Remote,
    policy: RetryPolicy,
    events: &(dyn Fn(SyncEvent) + Send + Sync),
) -> Result<SyncSummary> {
    let mut attempt = 0;
    loop {
        match sync_reporting(replica, remote, events).await {
            Err(SyncError::Offline(why)) if attempt + 1 < policy.attempts => {
                let wait = policy.delay(attempt);
                events(SyncEvent::Failed {
                    reason: format!("offline ({why})"),
                    retry_in: Some(wait),
                });
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// [`sync`], telling `events` what happens.
pub async fn sync_reporting(
    replica: &Replica,
    remote: &Remote,
    events: &(dyn Fn(SyncEvent) + Send + Sync),
) -> Result<SyncSummary> {
    events(SyncEvent::Started);
    let result = run(replica, remote, events).await;
    match &result {
        Ok(summary) => events(SyncEvent::Finished(summary.clone())),
        Err(e) => events(SyncEvent::Failed {
            reason: e.to_string(),
            retry_in: None,
        }),
    }
    result
}

async fn run(
    replica: &Replica,
    remote: &Remote,
    events: &(dyn Fn(SyncEvent) + Send + Sync),
) -> Result<SyncSummary> {
    let mut summary = SyncSummary::default();
    let total = replica.pending().await?.max(0) as usize;
    loop {
        let batch = replica.take_outbox(PUSH_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        // Files first. If that fails, the push below never left: later edits may still merge
        // into these.
        let ahead = match crate::files::send_ahead(replica, remote, &batch, events).await {
            Ok(ahead) => ahead,
            Err(e) => {
                replica.unsend(&batch).await?;
                return Err(e);
            }
        };
        replica.unsend(&batch[ahead.keep..]).await?;
        let mut batch = batch;
        batch.truncate(ahead.keep);
        for (n, refusal) in ahead.refused.iter().rev() {
            let pending = batch.remove(*n);
            replica.settle(&pending, refusal).await?;
            summary.rejected += 1;
        }
        if batch.is_empty() {
            continue;
        }
        let request = PushRequest {
            device_id: replica.device_id().to_owned(),
            mutations: batch
                .iter()
                .map(|p| Mutation {
                    mutation_id: p.mutation_id,
                    device_seq: p.seq,
                    table: p.table,
                    row_id: p.row_id,
                    op: p.op,
                    base_version: p.base_version,
                    fields: p.fields.clone(),
                })
                .collect(),
        };
        let sent = remote
            .try_send::<PushResponse>(
                remote
                    .http
                    .post(format!("{}/api/v1/sync/push", remote.base))
                    .json(&request),
            )
            .await;
        let response = match sent {
            Ok(response) => response,
            Err((e, false)) => {
                // Nothing left this machine: later edits may still merge into these.
                replica.unsend(&batch).await?;
                return Err(e);
            }
            Err((e, true)) => return Err(e),
        };
        for (pending, result) in batch.iter().zip(&response.results) {
            replica.settle(pending, result).await?;
            let status = match result.status {
                MutationStatus::Duplicate => {
                    result.original_status.unwrap_or(MutationStatus::Applied)
                }
                s => s,
            };
            match status {
                MutationStatus::Conflict => {
                    summary.conflicts += 1;
                    let kind = result.kind.unwrap_or(ConflictKind::Fields);
                    let fields: Vec<Option<String>> = match kind {
                        ConflictKind::Fields => result
                            .conflicts
                            .iter()
                            .map(|c| Some(c.field.clone()))
                            .collect(),
                        _ => vec![None],
                    };
                    for field in fields {
                        events(SyncEvent::Conflict {
                            table: pending.table,
                            row_id: pending.row_id,
                            kind,
                            field,
                        });
                    }
                }
                MutationStatus::Rejected => summary.rejected += 1,
                _ => summary.pushed += 1,
            }
        }
        let done = summary.pushed + summary.conflicts + summary.rejected;
        events(SyncEvent::Pushed {
            done,
            total: total.max(done),
        });
    }
    // A first sync fills the search index once at the end; later ones page by page.
    let mut cursor = replica.state("cursor").await?;
    let bulk = cursor.is_none();
    let mut fetched = remote.changes(cursor.as_deref()).await;
    loop {
        let page = match fetched {
            // The cursor predates the server's tombstone retention (deletions may have been
            // missed), or what the user may see has shrunk since (rows that left their scope
            // are not sent as removals). The outbox was drained above, so start over from an
            // empty replica: rows, kept bodies and search entries not sent again are gone.
            Err(e) if e.code() == Some("cursor_expired") && cursor.is_some() => {
                tracing::info!("replica cursor expired; re-syncing from scratch");
                replica.reset_rows().await?;
                cursor = None;
                fetched = remote.changes(None).await;
                continue;
            }
            other => other?,
        };
        // The next page is asked for while this one is written: the platform builds it, and
        // this process reads it, while SQLite's thread applies this one.
        let ahead = async {
            match page.has_more {
                true => Some(remote.changes(Some(&page.next_cursor)).await),
                false => None,
            }
        };
        let (applied, ahead) = tokio::join!(
            replica.apply_page(&page.changes, &page.next_cursor, !bulk),
            ahead
        );
        let applied = applied?;
        summary.pulled += applied.rows;
        summary.new_documents += applied.new_documents;
        summary.new_inquiries += applied.new_inquiries;
        events(SyncEvent::Pulled {
            rows: summary.pulled,
        });
        match ahead {
            Some(next) => {
                cursor = Some(page.next_cursor);
                fetched = next;
            }
            None => break,
        }
    }
    if bulk {
        replica.rebuild_search().await?;
    }
    Ok(summary)
}

/// A document's body: from the replica if fetched before, else from the server (then kept
/// for offline reading). Returns its Content-Type and bytes.
pub async fn document_body(
    replica: &Replica,
    remote: &Remote,
    doc_id: uuid::Uuid,
) -> Result<(String, Vec<u8>)> {
    if let Some(cached) = replica.cached_body(doc_id).await? {
        return Ok(cached);
    }
    let (mime, hash, bytes) = fetch_body(remote, doc_id).await?;
    replica.store_body(doc_id, &hash, &mime, &bytes).await?;
    Ok((mime, bytes))
}

/// A document's body read from the platform and kept nowhere: an administrator's (their
/// replica keeps no patient data).
pub async fn online_body(remote: &Remote, doc_id: uuid::Uuid) -> Result<(String, Vec<u8>)> {
    let (mime, _, bytes) = fetch_body(remote, doc_id).await?;
    Ok((mime, bytes))
}

/// A document's body from the platform: its MIME type, content hash and bytes.
async fn fetch_body(remote: &Remote, doc_id: uuid::Uuid) -> Result<(String, String, Vec<u8>)> {
    let res = remote
        .http
        .get(format!("{}/api/v1/documents/{doc_id}/content", remote.base))
        .bearer_auth(&remote.token)
        .send()
        .await
        .map_err(|e| SyncError::Offline(e.without_url().to_string()))?;
    match res.status().as_u16() {
        200 => {}
        401 => return Err(SyncError::Unauthorized),
        404 => return Err(SyncError::NotFound("document")),
        status => {
            let body = res.bytes().await.unwrap_or_default();
            return Err(SyncError::from_answer(status, &body));
        }
    }
    let mime = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .unwrap_or_else(|| "application/octet-stream".into());
    let hash = res
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_default();
    let bytes = res
        .bytes()
        .await
        .map_err(|e| SyncError::Offline(e.without_url().to_string()))?
        .to_vec();
    Ok((mime, hash, bytes))
}

/// Keeps, for offline reading and full-text search, the bodies of up to `limit` text documents
/// of at most `max_bytes` this replica has not kept yet, newest first. Returns how many it
/// kept, or the failure that cut it off (what was kept stays; the next round carries on).
pub async fn prefetch_text_bodies(
    replica: &Replica,
    remote: &Remote,
    limit: i64,
    max_bytes: i64,
) -> Result<usize> {
    let mut kept = 0;
    for id in replica.unfetched_text_documents(limit, max_bytes).await? {
        match document_body(replica, remote, id).await {
            Ok(_) => kept += 1,
            // Gone at the platform since, or not ours to read any more: the next sync says.
            Err(SyncError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_below_it() {
        let p = RetryPolicy {
            first: Duration::from_millis(100),
            max: Duration::from_secs(2),
            attempts: 10,
        };
        for n in 0..40 {
            let ceiling =
                Duration::from_millis(100 * (1u64 << n.min(20))).min(Duration::from_secs(2));
            let d = p.delay(n);
            assert!(d <= ceiling, "retry {n}: {d:?} over {ceiling:?}");
        }
        // Jitter: many draws at the cap are not all the same.
        let draws: std::collections::BTreeSet<u128> =
            (0..20).map(|_| p.delay(10).as_micros()).collect();
        assert!(draws.len() > 10);
    }
}
