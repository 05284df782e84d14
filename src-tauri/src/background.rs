//! The background sync: when the connection comes back, on a timer while online, and on
//! demand. Progress and status go to the UI as events; results worth knowing about away from
//! the window (new documents, conflicts, failures) as desktop notifications, in counts only.

use crate::events::Progress;
use crate::notify;
use crate::state::Desk;
use std::sync::atomic::Ordering;
use std::time::Instant;
use sync_core::{RetryPolicy, SyncError, SyncEvent, TokenStore as _};
use tauri::{AppHandle, Manager as _};

/// How often, after a sync, the replica checks that it holds what the platform says it
/// should (`sync_core::verify`): a checksum per table, and a repair of what differs.
const VERIFY_EVERY: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Tells the UI what changed in the status bar.
pub async fn emit_status(app: &AppHandle) {
    let desk = app.state::<Desk>();
    match desk.status().await {
        Ok(status) => {
            crate::events::STATUS.emit(app, status);
        }
        Err(e) => tracing::warn!("status unavailable: {e}"),
    }
}

/// Starts the sync task.
pub fn spawn(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let desk = app.state::<Desk>();
        let mut last_sync: Option<Instant> = None;
        // First pass at once: sync at start when signed in and reachable.
        let mut manual = false;
        loop {
            let Ok(Some(session)) = desk.keystore.load() else {
                wait(&desk, &mut manual).await;
                continue;
            };
            let reachable = manual || sync_core::online::reachable(&session.server).await;
            let came_back = reachable && !desk.sync.online();
            if desk.sync.set_online(reachable) {
                emit_status(&app).await;
            }
            let due = last_sync.is_none_or(|t| t.elapsed() >= desk.settings.sync_interval);
            if manual || (reachable && (came_back || due)) {
                sync_once(&app, manual).await;
                last_sync = Some(Instant::now());
            }
            wait(&desk, &mut manual).await;
        }
    });
}

/// Holds the platform's live stream while signed in and online: a change this account may see
/// wakes a sync as it commits, instead of at the next poll (which stays, for when the stream
/// is not held). Reconnects after a pause that doubles to 30 s while it keeps failing.
pub fn follow_changes(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let desk = app.state::<Desk>();
        let mut pause = std::time::Duration::from_secs(1);
        loop {
            let signed_in = matches!(desk.keystore.load(), Ok(Some(_)));
            if !(signed_in && desk.sync.online()) {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
            // A replica that never pulled has no cursor to hold the stream from: it syncs first.
            let Some(cursor) = desk.replica().await.state("cursor").await.ok().flatten() else {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            };
            let held = Instant::now();
            let nudged = || desk.sync.wake();
            if let Err(e) = sync_core::follow_signed_in(&desk.keystore, &cursor, &nudged).await {
                tracing::debug!("the live stream ended: {e}");
            }
            if held.elapsed() > std::time::Duration::from_secs(60) {
                pause = std::time::Duration::from_secs(1);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(30));
        }
    });
}

/// Until the next probe, or a request for a sync (then `manual` is set).
async fn wait(desk: &Desk, manual: &mut bool) {
    *manual = tokio::select! {
        () = desk.sync.wake.notified() => true,
        () = tokio::time::sleep(desk.settings.probe_interval) => false,
    };
}

async fn sync_once(app: &AppHandle, manual: bool) {
    let desk = app.state::<Desk>();
    let replica = desk.replica().await;
    desk.sync.syncing.store(true, Ordering::Relaxed);
    emit_status(app).await;
    let report = |event: SyncEvent| {
        let progress = match event {
            SyncEvent::Started => Progress::Started,
            SyncEvent::Pushed { done, total } => Progress::Pushed { done, total },
            SyncEvent::Sending { sent, total } => Progress::Sending { sent, total },
            SyncEvent::Pulled { rows } => Progress::Pulled { rows },
            // Conflicts are counted in the summary; the rest is reported below.
            SyncEvent::Conflict { .. } | SyncEvent::Finished(_) | SyncEvent::Failed { .. } => {
                return
            }
        };
        crate::events::SYNC_PROGRESS.emit(app, progress);
    };
    let policy = RetryPolicy {
        attempts: 1,
        ..RetryPolicy::default()
    };
    let result = sync_core::sync_signed_in(&replica, &desk.keystore, policy, &report).await;
    let progress = match result {
        Ok(summary) => {
            desk.sync.set_online(true);
            if summary.pulled > 0 {
                desk.sync.prefetch_due.store(true, Ordering::Relaxed);
            }
            let _ = replica.record_sync().await;
            notify::sync_finished(&summary);
            // Now and then, that the replica holds what the platform says it should.
            if sync_core::verify::due(&replica, VERIFY_EVERY)
                .await
                .unwrap_or(false)
            {
                match sync_core::verify_signed_in(&replica, &desk.keystore).await {
                    Ok(repaired) if !repaired.is_empty() => {
                        tracing::warn!(tables = repaired.len(), "the replica was repaired");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("verifying the replica failed: {e}"),
                }
            }
            Progress::Finished {
                pushed: summary.pushed,
                pulled: summary.pulled,
                conflicts: summary.conflicts,
                rejected: summary.rejected,
                new_documents: summary.new_documents,
                new_inquiries: summary.new_inquiries,
            }
        }
        Err(e) => {
            if matches!(e, SyncError::Offline(_)) {
                desk.sync.set_online(false);
            }
            // Being offline in the background is the normal state of a laptop, not news.
            if manual || !matches!(e, SyncError::Offline(_)) {
                notify::sync_failed(&e);
            }
            let e = crate::error::AppError::from(e);
            Progress::Failed {
                code: e.code,
                message: e.message,
            }
        }
    };
    crate::events::SYNC_PROGRESS.emit(app, progress);
    desk.sync.syncing.store(false, Ordering::Relaxed);
    emit_status(app).await;
    if desk.sync.online() && desk.sync.prefetch_due.load(Ordering::Relaxed) {
        prefetch(app, &desk, &replica).await;
    }
}

/// Text documents per sync whose bodies are fetched ahead, and their size cap: enough to read
/// and search a caseload's notes and reports offline without downloading every file.
const PREFETCH_PER_SYNC: i64 = 200;
const PREFETCH_MAX_BYTES: i64 = 256 * 1024;

/// Fetches ahead what should be readable offline: texts (for search), then the files of
/// patients kept offline and the newest within the file budget, with progress.
async fn prefetch(app: &AppHandle, desk: &Desk, replica: &sync_core::Replica) {
    let progress = |done: usize, total: usize| {
        crate::events::SYNC_PROGRESS.emit(app, Progress::Keeping { done, total });
    };
    let kept = sync_core::signed_in(&desk.keystore, |remote| {
        let replica = replica.clone();
        let progress = &progress;
        async move {
            let texts = sync_core::prefetch_text_bodies(
                &replica,
                &remote,
                PREFETCH_PER_SYNC,
                PREFETCH_MAX_BYTES,
            )
            .await?;
            let files = sync_core::files::keep_files(&replica, &remote, progress).await?;
            Ok(texts + files)
        }
    })
    .await;
    let due = match kept {
        Ok(kept) => kept > 0,
        Err(e) => {
            tracing::debug!("prefetch cut off: {e}");
            true
        }
    };
    desk.sync.prefetch_due.store(due, Ordering::Relaxed);
}

/// How often a pull's progress is read while it runs, and for how long at the most.
const PULL_POLL: std::time::Duration = std::time::Duration::from_millis(700);
const PULL_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Follows a pull started from this app: its progress to the UI as it changes, a notification
/// of what it brought once done, and a sync that brings that here. A pull that outlasts our
/// patience goes on on the platform; its documents come with a later sync.
pub fn follow_pull(app: AppHandle, patient_id: uuid::Uuid, mut job: sync_core::online::Job) {
    use crate::events::{PullProgress, PULL_PROGRESS};
    /// Reads of the job in a row that may fail (a moment offline) before the app stops
    /// following it.
    const MISSES: u32 = 5;
    tauri::async_runtime::spawn(async move {
        let started = Instant::now();
        let tell = |job: &sync_core::online::Job, following: bool| {
            PULL_PROGRESS.emit(
                &app,
                PullProgress {
                    patient_id,
                    job: job.clone(),
                    following,
                },
            );
        };
        tell(&job, true);
        let mut misses = 0;
        while !job.finished() && started.elapsed() < PULL_PATIENCE && misses < MISSES {
            tokio::time::sleep(PULL_POLL).await;
            let desk = app.state::<Desk>();
            match sync_core::online::job(&desk.keystore, job.id).await {
                Ok(now) => {
                    misses = 0;
                    if now != job {
                        job = now;
                        tell(&job, !job.finished());
                    }
                }
                Err(e) => {
                    misses += 1;
                    tracing::info!("could not read a pull's progress: {e}");
                }
            }
        }
        if job.finished() {
            notify::pull_finished(&job);
            app.state::<Desk>().sync.wake();
        } else {
            // Offline, signed out or slow: the platform goes on without us, and its documents
            // come with a later sync. The screen stops waiting.
            tell(&job, false);
        }
    });
}
