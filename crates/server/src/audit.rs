//! The audit trail of PHI reads: who read which patient's data, and when.
//!
//! A read must not wait for a write (a single SQLite writer would cap reads at the write
//! rate), so handlers hand entries to a background task that inserts them in batches, one
//! commit per [`FLUSH_WINDOW`] at most. The channel is bounded: when the writer falls
//! behind, readers wait rather than entries being dropped. [`AuditLog::flush`] writes
//! everything queued (at shutdown, and before the trail is read back).
//!
//! Nothing is dropped and nothing goes unrecorded: a batch that cannot be written is retried
//! (with a growing pause, up to [`RETRY_MAX`]) until it is, and while it cannot be, the trail
//! is down and [`AuditLog::read`] refuses ([`AuditDown`]): handlers answer 503 instead of
//! showing PHI. Reads handed over in the moment before a failure was seen are in the retried
//! batch.

use crate::db::{now, Db};
pub use crate::db::{Entity, Entry};
use domain::Caller;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// The audit trail cannot be written: PHI must not be served.
#[derive(Debug, Clone, Copy)]
pub struct AuditDown;

/// The longest pause between two attempts at a failing batch.
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(5);

/// A write of a batch taking longer counts as failed (a store that hangs rather than
/// errors), and so does a read waiting longer for room in the queue: PHI is refused rather
/// than served unrecorded, or left waiting without end.
const STALL: Duration = Duration::from_secs(5);

enum Message {
    Read(Entry),
    Flush(oneshot::Sender<()>),
}

/// How long an entry may wait for others to share its commit. Each commit costs far more
/// than a row: at one commit per handful of reads, the trail took a third of read throughput.
/// The price is that a crash can lose the last fraction of a second of entries.
const FLUSH_WINDOW: std::time::Duration = std::time::Duration::from_millis(100);

/// Most entries written by one transaction.
const BATCH: usize = 5_000;

/// The handle handlers record reads through.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Message>,
    /// Set by the writer while a batch cannot be written.
    down: Arc<AtomicBool>,
}

impl AuditLog {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel(10_000);
        let down = Arc::new(AtomicBool::new(false));
        tokio::spawn(writer(db, rx, Arc::clone(&down)));
        Self { tx, down }
    }

    /// Records that `caller` read `entity`; `Err` while the trail cannot be written, and
    /// then the read must not be served.
    pub async fn read(
        &self,
        caller: &Caller,
        entity: Entity,
        entity_id: Option<Uuid>,
        patient_id: Option<Uuid>,
    ) -> Result<(), AuditDown> {
        if self.down.load(Ordering::Acquire) {
            return Err(AuditDown);
        }
        let entry = Entry {
            user_id: caller.id,
            entity,
            entity_id,
            patient_id,
            at: now(),
        };
        match tokio::time::timeout(STALL, self.tx.send(Message::Read(entry))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                tracing::error!("the audit writer is gone; PHI reads are refused");
                Err(AuditDown)
            }
            Err(_) => Err(AuditDown),
        }
    }

    /// Returns once everything recorded before the call is stored; `Err` at once while the
    /// trail cannot be written.
    pub async fn flush(&self) -> Result<(), AuditDown> {
        if self.down.load(Ordering::Acquire) {
            return Err(AuditDown);
        }
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Message::Flush(done))
            .await
            .map_err(|_| AuditDown)?;
        wait.await.map_err(|_| AuditDown)
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Message>, down: Arc<AtomicBool>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut acks = Vec::new();
    // Wake on the first entry, then sleep out the window instead of waiting on the channel:
    // entries sent meanwhile queue without waking this task (a wake per read was measurable).
    // Then drain what queued and write it in one transaction. A flush skips the sleep.
    while let Some(first) = rx.recv().await {
        let mut slept = false;
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Message::Read(entry)) => batch.push(entry),
                Some(Message::Flush(ack)) => acks.push(ack),
                None => {}
            }
            if batch.len() >= BATCH {
                break;
            }
            next = rx.try_recv().ok();
            if next.is_none() {
                if slept || !acks.is_empty() {
                    break;
                }
                tokio::time::sleep(FLUSH_WINDOW).await;
                slept = true;
            }
        }
        if !batch.is_empty() {
            store(&db, &batch, &down).await;
            batch.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

/// Writes `batch`, retrying until it is stored; the trail is `down` meanwhile. (A write that
/// timed out may have committed after all: then the retry stores the batch twice. The trail
/// may repeat an entry; it never misses one.)
async fn store(db: &Db, batch: &[Entry], down: &AtomicBool) {
    let mut pause = FLUSH_WINDOW;
    loop {
        let e = match tokio::time::timeout(STALL, db.insert_audit_entries(batch)).await {
            Ok(Ok(())) => break,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer in {} s", STALL.as_secs()),
        };
        if !down.swap(true, Ordering::AcqRel) {
            tracing::error!(
                error = e,
                entries = batch.len(),
                "the PHI read audit trail cannot be written; PHI reads are refused until it can"
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
    if down.swap(false, Ordering::AcqRel) {
        tracing::warn!(
            entries = batch.len(),
            "the PHI read audit trail is written again"
        );
    }
}
