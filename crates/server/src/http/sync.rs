//! `/api/v1/sync`: the change feed replicas pull from.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiJson, ApiQuery, AuthUser};
use crate::app::AppState;
use crate::audit::Entity;
use crate::db::FeedCursor;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use domain::dto::{
    Change, ChangeOp, ChangesPage, ChangesQuery, Held, ManifestQuery, RowsRequest, StreamQuery,
    SyncTable, TableChecksum,
};

/// Changes per page unless asked otherwise, and at most.
const DEFAULT_LIMIT: u32 = 1_000;
const MAX_LIMIT: u32 = 5_000;

/// Every row the caller may see that changed after `cursor` (all of them without one):
/// latest version per row, tombstones (`delete`) and rows that left the caller's scope
/// (`remove`). Keep calling with `next_cursor` while `has_more`; afterwards, the same call
/// later returns what changed since.
#[utoipa::path(get, path = "/api/v1/sync/changes", operation_id = "get_changes", tag = "sync", security(("bearer" = [])),
    params(ChangesQuery),
    responses((status = 200, body = ChangesPage), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 410, body = Problem, description = "cursor older than tombstone retention, or issued before the caller's scope changed: re-sync from scratch")))]
pub async fn changes(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> ApiResult<Json<ChangesPage>> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let cursor = match q.cursor.as_deref() {
        None => FeedCursor::start(),
        Some(c) => FeedCursor::decode(c)
            .ok_or_else(|| ApiError::bad_request("cursor", "not a cursor this feed issued"))?,
    };
    let age = chrono::Utc::now().timestamp() - cursor.issued_at;
    if age > app.config.tombstone_retention.as_secs() as i64 {
        return Err(ApiError::Gone {
            code: "cursor_expired",
            detail: "this replica last synced before the server's tombstone retention; push \
                     any pending edits, then sync again without a cursor"
                .into(),
        });
    }
    // The caller's scope may have shrunk since the cursor was issued (a relinked patient, a
    // new type or link): the rows that left it are dropped by pulling again from scratch.
    // On a task of its own, as a push mutation is: a client gone mid-request (killed, timed
    // out) makes hyper drop this handler, and a transaction dropped during its BEGIN can go
    // back to the pool still open on PostgreSQL (the next feed on that connection then failed
    // with "SET TRANSACTION ISOLATION LEVEL must be called before any query"; found by the
    // sync model test). The read finishes; its answer is simply not sent.
    let db = app.db.clone();
    // Clients from before a table's time do not say how many they read: the first five.
    let reads = q.tables.map_or(5, usize::from);
    let feed = tokio::spawn(async move { db.feed(&caller, &cursor, limit as usize, reads).await });
    let Some((changes, next, has_more)) = feed.await.map_err(anyhow::Error::from)?? else {
        return Err(ApiError::Gone {
            code: "cursor_expired",
            detail: "what this account may see has changed since this replica last synced; \
                     push any pending edits, then sync again without a cursor"
                .into(),
        });
    };
    audit_sent(&app, &caller, &changes).await?;
    Ok(Json(ChangesPage {
        changes,
        next_cursor: next.encode(),
        has_more,
    }))
}

/// Rows with health information sent to a replica are reads like any other; a page's
/// measurements once per patient (a first sync sends years of them).
async fn audit_sent(app: &AppState, caller: &domain::Caller, changes: &[Change]) -> ApiResult<()> {
    let mut measured = std::collections::BTreeSet::new();
    for c in changes.iter().filter(|c| c.op == ChangeOp::Upsert) {
        let patient = c
            .row
            .as_ref()
            .and_then(|r| r["patient_id"].as_str())
            .and_then(|p| p.parse::<uuid::Uuid>().ok());
        let (entity, id, patient) = match c.table {
            SyncTable::Patients => (Entity::Patient, Some(c.id), Some(c.id)),
            SyncTable::HealthcareDocuments => (Entity::Document, Some(c.id), patient),
            SyncTable::Inquiries => (Entity::Inquiry, Some(c.id), patient),
            SyncTable::Measurements => match patient {
                Some(p) if measured.insert(p) => (Entity::Measurements, None, Some(p)),
                _ => continue,
            },
            _ => continue,
        };
        app.audit.read(caller, entity, id, patient).await?;
    }
    Ok(())
}

/// Most ids `POST /sync/rows` takes at once.
const MAX_ROWS: usize = 500;

/// Per synced table, what the caller's replica should hold now: a count and a hash over ids
/// and versions ([`TableChecksum::of`]) to compare with its own. No health information.
#[utoipa::path(get, path = "/api/v1/sync/checksums", operation_id = "get_checksums", tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = Vec<TableChecksum>), (status = 401, body = Problem)))]
pub async fn checksums(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
) -> ApiResult<Json<Vec<TableChecksum>>> {
    let mut out = Vec::new();
    for table in SyncTable::FEED {
        // On a task of its own, as the feed's snapshot read is (see `changes`).
        let db = app.db.clone();
        let held = tokio::spawn(async move { db.manifest(&caller, table).await })
            .await
            .map_err(anyhow::Error::from)??;
        out.push(TableChecksum::of(table, held));
    }
    Ok(Json(out))
}

/// The ids and versions of one table the caller's replica should hold: what a replica whose
/// checksum differs compares with its own, to fetch (`POST /sync/rows`) or drop only what
/// differs.
#[utoipa::path(get, path = "/api/v1/sync/manifest", operation_id = "get_manifest", tag = "sync", security(("bearer" = [])),
    params(ManifestQuery),
    responses((status = 200, body = Vec<Held>), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn manifest(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<ManifestQuery>,
) -> ApiResult<Json<Vec<Held>>> {
    let db = app.db.clone();
    let held = tokio::spawn(async move { db.manifest(&caller, q.table).await })
        .await
        .map_err(anyhow::Error::from)??;
    Ok(Json(
        held.into_iter()
            .map(|(id, version)| Held { id, version })
            .collect(),
    ))
}

/// Rows of one table by id (at most 500), as the change feed sends them: those the caller
/// may see and that are live; the others are left out. Audited as the feed is.
#[utoipa::path(post, path = "/api/v1/sync/rows", operation_id = "get_rows", tag = "sync", security(("bearer" = [])),
    request_body = RowsRequest,
    responses((status = 200, body = Vec<Change>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn rows(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(req): ApiJson<RowsRequest>,
) -> ApiResult<Json<Vec<Change>>> {
    if req.ids.len() > MAX_ROWS {
        return Err(ApiError::invalid(
            "ids",
            format!("at most {MAX_ROWS} at once"),
        ));
    }
    let changes = app.db.rows_by_id(&caller, req.table, &req.ids).await?;
    audit_sent(&app, &caller, &changes).await?;
    Ok(Json(changes))
}

/// A nudge whenever a change this account may see commits, as it commits: Server-Sent Events
/// (`event: change`, no data beyond that), heartbeats (`:` comments) every 15 s so proxies
/// keep it open. Never rows: the replica then pulls `/sync/changes` as usual. The stream ends
/// when the access token would expire (reconnect with a fresh one), when the account's scope
/// changes (after one last nudge), and when the instance stops.
#[utoipa::path(get, path = "/api/v1/sync/stream", operation_id = "get_change_stream", tag = "sync", security(("bearer" = [])),
    params(StreamQuery),
    responses((status = 200, content_type = "text/event-stream", body = String,
               description = "`event: change` when a change in the caller's scope commits; `:` heartbeats"),
              (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn stream(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> ApiResult<Sse<impl futures::Stream<Item = Result<Event, std::convert::Infallible>>>> {
    let cursor = FeedCursor::decode(&q.cursor)
        .ok_or_else(|| ApiError::bad_request("cursor", "not a cursor this feed issued"))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(4);
    tokio::spawn(nudge(app.clone(), caller, cursor, tx));
    let events =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(app.config.live_heartbeat)))
}

/// Sends `change` on `tx` each time a commit brings the caller something new after `cursor`,
/// until the client goes, its token would expire, its scope changes or the instance stops.
async fn nudge(
    app: AppState,
    caller: domain::Caller,
    mut cursor: FeedCursor,
    tx: tokio::sync::mpsc::Sender<Event>,
) {
    let mut commits = app.live.commits();
    let mut closing = app.live.closing();
    let until = tokio::time::Instant::now() + app.config.access_ttl;
    let mut seen = Seen::default();
    loop {
        // Marked seen before the walk: a commit during it wakes another.
        commits.borrow_and_update();
        let news = match news_after(&app, &caller, &mut cursor, &mut seen).await {
            Ok(news) => news,
            Err(e) => {
                tracing::warn!(error = %e, "a live stream's walk failed; it ends");
                return;
            }
        };
        if news != News::Nothing
            && tx
                .send(Event::default().event("change").data("{}"))
                .await
                .is_err()
        {
            return;
        }
        if news == News::ScopeChanged {
            return;
        }
        tokio::select! {
            changed = commits.changed() => if changed.is_err() { return },
            _ = closing.wait_for(|closed| *closed) => return,
            () = tx.closed() => return,
            () = tokio::time::sleep_until(until) => return,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum News {
    Nothing,
    Changes,
    /// The cursor is no longer the caller's scope's: their replica starts over.
    ScopeChanged,
}

/// The rows (and versions) a stream already nudged for. The feed may send a row twice (on
/// PostgreSQL its horizon is the oldest transaction running anywhere in the cluster), and a
/// row sent again is no news.
#[derive(Default)]
struct Seen(std::collections::HashMap<(SyncTable, uuid::Uuid), i64>);

impl Seen {
    /// Whether `c` is new to this stream (and now seen).
    fn news(&mut self, c: &Change) -> bool {
        if self.0.len() > 10_000 {
            self.0.clear();
        }
        self.0.insert((c.table, c.id), c.version) != Some(c.version)
    }
}

/// Walks the caller's feed from `cursor` to its end (moving `cursor` there): whether
/// anything came that the stream had not nudged for. The rows stay here: only the nudge goes
/// out.
async fn news_after(
    app: &AppState,
    caller: &domain::Caller,
    cursor: &mut FeedCursor,
    seen: &mut Seen,
) -> Result<News, crate::db::DbError> {
    let mut news = News::Nothing;
    loop {
        let db = app.db.clone();
        let (caller, from) = (*caller, cursor.clone());
        // On a task of its own, as the feed's snapshot read is (see `changes`).
        let walked =
            tokio::spawn(
                async move { db.feed(&caller, &from, 1_000, SyncTable::FEED.len()).await },
            )
            .await
            .map_err(anyhow::Error::from)??;
        let Some((changes, next, more)) = walked else {
            return Ok(News::ScopeChanged);
        };
        // Every change is marked seen, not just the first new one.
        let fresh = changes.iter().filter(|c| seen.news(c)).count();
        if fresh > 0 {
            news = News::Changes;
        }
        *cursor = next;
        if !more {
            return Ok(news);
        }
    }
}
