//! Sync: push the outbox, then pull the change feed, page by page.

use crate::replica::Replica;
use crate::{Result, SyncError};
use domain::dto::{ChangesPage, Mutation, MutationStatus, PushRequest, PushResponse};
use serde::de::DeserializeOwned;

/// Outbox entries per push.
const PUSH_BATCH: i64 = 500;
/// Changes per pulled page.
const PULL_PAGE: u32 = 1_000;

/// The platform, as this device reaches it.
#[derive(Clone)]
pub struct Remote {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncSummary {
    pub pushed: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub pulled: usize,
}

impl Remote {
    /// `base`: the platform's URL (`http://host:port`); `token`: an access token.
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let res = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| SyncError::Offline(e.without_url().to_string()))?;
        let status = res.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(SyncError::Unauthorized);
        }
        if !status.is_success() {
            let detail = res
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["detail"].as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(SyncError::Server {
                status: status.as_u16(),
                detail,
            });
        }
        res.json()
            .await
            .map_err(|e| SyncError::Offline(e.without_url().to_string()))
    }
}

/// Pushes every queued edit, then pulls every change; safe to interrupt at any point.
pub async fn sync(replica: &Replica, remote: &Remote) -> Result<SyncSummary> {
    let mut summary = SyncSummary::default();
    loop {
        let batch = replica.take_outbox(PUSH_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        let request = PushRequest {
            device_id: replica.device_id().to_owned(),
            mutations: batch
                .iter()
                .enumerate()
                .map(|(i, p)| Mutation {
                    mutation_id: p.mutation_id,
                    device_seq: i as i64,
                    table: p.table,
                    row_id: p.row_id,
                    op: p.op,
                    base_version: p.base_version,
                    fields: p.fields.clone(),
                })
                .collect(),
        };
        let response: PushResponse = remote
            .send(
                remote
                    .http
                    .post(format!("{}/api/v1/sync/push", remote.base))
                    .json(&request),
            )
            .await?;
        for (pending, result) in batch.iter().zip(&response.results) {
            replica.settle(pending, result).await?;
            let status = match result.status {
                MutationStatus::Duplicate => {
                    result.original_status.unwrap_or(MutationStatus::Applied)
                }
                s => s,
            };
            match status {
                MutationStatus::Conflict => summary.conflicts += 1,
                MutationStatus::Rejected => summary.rejected += 1,
                _ => summary.pushed += 1,
            }
        }
    }
    loop {
        let cursor = replica.state("cursor").await?;
        let mut url = format!("{}/api/v1/sync/changes?limit={PULL_PAGE}", remote.base);
        if let Some(c) = &cursor {
            url.push_str("&cursor=");
            url.push_str(c);
        }
        let page: ChangesPage = match remote.send(remote.http.get(url)).await {
            // The cursor predates the server's tombstone retention: deletions may have been
            // missed. The outbox was drained above, so start over from an empty replica.
            Err(SyncError::Server { status: 410, .. }) if cursor.is_some() => {
                tracing::info!("replica cursor expired; re-syncing from scratch");
                replica.reset_rows().await?;
                continue;
            }
            other => other?,
        };
        summary.pulled += replica.apply_page(&page.changes, &page.next_cursor).await?;
        if !page.has_more {
            break;
        }
    }
    Ok(summary)
}
