//! Holding the platform's live stream (`GET /api/v1/sync/stream`): a nudge whenever a change
//! this account may see commits after the replica's cursor, so the app syncs at once instead
//! of at its next poll. The stream carries nudges and heartbeats, never rows; polling stays
//! the fallback whenever it is not held.

use crate::engine::Remote;
use crate::{Result, SyncError};

/// Holds the stream from `cursor` (the replica's feed cursor: a replica that never pulled
/// syncs first) and calls `nudged` for each change, until the platform ends it (the access
/// token's time is up, the account's scope changed, the instance stops) — `Ok` — or the
/// connection fails.
pub async fn follow(
    remote: &Remote,
    cursor: &str,
    nudged: &(dyn Fn() + Send + Sync),
) -> Result<()> {
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/sync/stream", remote.base))
        .map_err(|_| SyncError::bad_answer("the server's address is not a URL".into()))?;
    url.query_pairs_mut().append_pair("cursor", cursor);
    let mut res = remote
        .http
        .get(url)
        .bearer_auth(&remote.token)
        .send()
        .await
        .map_err(|e| SyncError::Offline(e.without_url().to_string()))?;
    let status = res.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(SyncError::Unauthorized);
    }
    if !status.is_success() {
        let body = res.bytes().await.unwrap_or_default();
        return Err(SyncError::from_answer(status.as_u16(), &body));
    }
    let mut text = String::new();
    loop {
        let chunk = res
            .chunk()
            .await
            .map_err(|e| SyncError::Offline(e.without_url().to_string()))?;
        let Some(chunk) = chunk else {
            return Ok(());
        };
        text.push_str(&String::from_utf8_lossy(&chunk));
        // Events end with a blank line; a heartbeat is a comment (`:`) and says nothing.
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            if block.lines().any(|l| l.trim() == "event: change") {
                nudged();
            }
        }
    }
}
