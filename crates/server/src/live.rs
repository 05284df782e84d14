//! Live changes: signed-in clients hold `GET /api/v1/sync/stream` and are nudged when a
//! change they may see commits, so they sync at once instead of at their next poll.
//!
//! **What commits.** Every instance learns that something synced committed, whoever wrote
//! it, through the database itself:
//! - PostgreSQL: the change-feed trigger (`stamp_change_seq`, migration 0013) calls
//!   `pg_notify('records_changes', '')`, delivered at commit, once per transaction, to every
//!   instance that `LISTEN`s. A commit on one instance wakes streams on another.
//! - SQLite: one process writes, through one connection, so the watcher reads the feed's
//!   counter (`sync_counter`) every [`SQLITE_POLL`] while a stream is open, and sleeps until
//!   one opens otherwise.
//!
//! **Who is nudged.** A commit wakes each open stream, which walks the change feed from its
//! own cursor in its caller's scope ([`crate::db::Db::feed`]): only a stream whose walk finds
//! a change sends `event: change`. The nudge carries nothing else (no rows, no ids); the
//! client then syncs as usual, audited as usual. A stream whose caller's scope changed gets
//! one last nudge and ends (its sync gets 410 and starts over).

use crate::app::AppState;
use crate::db::Backend;
use std::time::Duration;
use tokio::sync::watch;

/// How often the SQLite watcher reads the feed's counter while a stream is open.
const SQLITE_POLL: Duration = Duration::from_millis(20);

/// The channel PostgreSQL notifies on.
const CHANNEL: &str = "records_changes";

/// This instance's side of live changes: a generation that moves on with every commit seen,
/// and the signal that ends every stream when the instance stops.
pub struct Live {
    generation: watch::Sender<u64>,
    closing: watch::Sender<bool>,
    /// Rung when a stream opens: the SQLite watcher sleeps on it while none is open.
    opened: tokio::sync::Notify,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            generation: watch::Sender::new(0),
            closing: watch::Sender::new(false),
            opened: tokio::sync::Notify::new(),
        }
    }
}

impl Live {
    /// Moves on when something synced committed (anywhere, on PostgreSQL).
    pub fn commits(&self) -> watch::Receiver<u64> {
        let commits = self.generation.subscribe();
        self.opened.notify_one();
        commits
    }

    /// Turns true when the instance stops: streams end so that shutdown does not wait on them.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every stream.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    fn committed(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }
}

/// Watches the database for commits until the instance stops.
pub async fn watch_commits(app: AppState) {
    let live = &app.live;
    // `wait_for`, not `changed`: the instance may have stopped before this task first ran.
    let mut closing = live.closing();
    match app.db.backend() {
        Backend::Postgres => loop {
            if let Err(e) = listen(&app.config.database_url, live, &mut closing).await {
                tracing::warn!(error = %e, "listening for commits failed; trying again");
            }
            if *closing.borrow() {
                return;
            }
            // Whatever committed meanwhile is found by the next walk of each stream.
            live.committed();
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = closing.wait_for(|closed| *closed) => return,
            }
        },
        Backend::Sqlite => {
            let mut last = None;
            loop {
                if live.generation.receiver_count() == 0 {
                    // No stream open: nothing to read until one opens (a permit is kept if
                    // one opened since the count was read).
                    last = None;
                    tokio::select! {
                        () = live.opened.notified() => continue,
                        _ = closing.wait_for(|closed| *closed) => return,
                    }
                }
                match app.db.change_counter().await {
                    Ok(seq) => {
                        if last.is_some_and(|l| l != seq) {
                            live.committed();
                        }
                        last = Some(seq);
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the change counter failed"),
                }
                tokio::select! {
                    () = tokio::time::sleep(SQLITE_POLL) => {}
                    _ = closing.wait_for(|closed| *closed) => return,
                }
            }
        }
    }
}

/// `LISTEN`s until the connection fails or the instance stops.
async fn listen(
    database_url: &str,
    live: &Live,
    closing: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect(database_url).await?;
    listener.listen(CHANNEL).await?;
    loop {
        tokio::select! {
            got = listener.recv() => {
                got?;
                live.committed();
            }
            _ = closing.wait_for(|closed| *closed) => return Ok(()),
        }
    }
}
