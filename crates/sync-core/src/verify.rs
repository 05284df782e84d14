//! A replica proves it holds what the platform says it should: per table, a count and a hash
//! over ids and versions (`GET /sync/checksums`, [`TableChecksum::of`]) compared with its
//! own. Where they differ, it compares the table's manifest (`GET /sync/manifest`) with what
//! it holds and fetches (`POST /sync/rows`) or drops only the rows that differ: missing,
//! at another version, or no longer in scope. A row with edits still queued is never
//! touched; the next push and pull settle it.
//!
//! Buckets as PowerSync keeps them are the model; a table is the bucket here. A row whose
//! content changed behind the core's back at the same version is not seen: the hash is over
//! ids and versions, which is what the platform can compute without reading every row's
//! JSON.

use crate::engine::Remote;
use crate::replica::Replica;
use crate::Result;
use domain::dto::{Change, ChangeOp, Held, RowsRequest, SyncTable, TableChecksum};
use std::collections::HashMap;
use uuid::Uuid;

/// Ids `POST /sync/rows` takes at once.
const ROWS_PER_REQUEST: usize = 500;

/// What a verification set right in one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    pub table: SyncTable,
    /// Rows fetched again (missing here, or at another version).
    pub fetched: usize,
    /// Rows dropped (no longer in this user's scope, or gone).
    pub dropped: usize,
}

/// Where the time of the last verification is kept (`sync_state`).
const LAST_VERIFIED: &str = "last_verified";

/// Whether the replica was last verified more than `every` ago (or never).
pub async fn due(replica: &Replica, every: std::time::Duration) -> Result<bool> {
    let Some(at) = replica.state(LAST_VERIFIED).await? else {
        return Ok(true);
    };
    let at = chrono::DateTime::parse_from_rfc3339(&at).map(|t| t.with_timezone(&chrono::Utc));
    Ok(at.map_or(true, |t| {
        chrono::Utc::now()
            .signed_duration_since(t)
            .to_std()
            .unwrap_or_default()
            >= every
    }))
}

/// Compares the replica with the platform, table by table, and repairs what differs.
/// Returns the tables repaired (none when all agree).
pub async fn verify(replica: &Replica, remote: &Remote) -> Result<Vec<Repaired>> {
    let sums: Vec<TableChecksum> = remote.get("/sync/checksums").await?;
    let mut repaired = Vec::new();
    for sum in sums {
        let held = replica.held(sum.table).await?;
        let mine = TableChecksum::of(sum.table, held.iter().map(|h| (h.id, h.version)));
        if mine == sum {
            continue;
        }
        let manifest: Vec<Held> = remote
            .get(&format!("/sync/manifest?table={}", sum.table.as_str()))
            .await?;
        let theirs: HashMap<Uuid, i64> = manifest.iter().map(|h| (h.id, h.version)).collect();
        let ours: HashMap<Uuid, &crate::replica::HeldRow> =
            held.iter().map(|h| (h.id, h)).collect();
        // Rows with queued edits are the outbox's: left as they are.
        let settled = |id: &Uuid| ours.get(id).is_none_or(|h| !h.queued);
        let fetch: Vec<Uuid> = theirs
            .iter()
            .filter(|(id, version)| ours.get(id).is_none_or(|h| h.version != **version))
            .map(|(id, _)| *id)
            .filter(settled)
            .collect();
        let drop: Vec<Uuid> = ours
            .keys()
            .filter(|id| !theirs.contains_key(id))
            .copied()
            .filter(settled)
            .collect();
        // What is held at another version goes first, so the platform's row replaces it
        // whatever its version.
        let mut changes: Vec<Change> = drop
            .iter()
            .chain(fetch.iter().filter(|id| ours.contains_key(id)))
            .map(|id| Change {
                table: sum.table,
                id: *id,
                op: ChangeOp::Remove,
                version: 0,
                row: None,
            })
            .collect();
        for chunk in fetch.chunks(ROWS_PER_REQUEST) {
            let request = RowsRequest {
                table: sum.table,
                ids: chunk.to_vec(),
            };
            let rows: Vec<Change> = remote.post("/sync/rows", &request).await?;
            changes.extend(rows);
        }
        if fetch.is_empty() && drop.is_empty() {
            // Only rows with queued edits differ: the next sync settles them.
            continue;
        }
        replica.apply_repair(&changes).await?;
        tracing::info!(
            table = sum.table.as_str(),
            fetched = fetch.len(),
            dropped = drop.len(),
            "the replica differed from the platform; repaired"
        );
        repaired.push(Repaired {
            table: sum.table,
            fetched: fetch.len(),
            dropped: drop.len(),
        });
    }
    replica
        .set_state(LAST_VERIFIED, &domain::time::stamp(chrono::Utc::now()))
        .await?;
    Ok(repaired)
}
