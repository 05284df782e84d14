//! The audit trail of PHI reads: who read which patient's data, and when.
//!
//! A read must not wait for a write (a single SQLite writer would cap reads at the write
//! rate), so handlers hand entries to a background task that inserts them in batches, one
//! commit per [`FLUSH_WINDOW`] at most. The channel is bounded: when the writer falls
//! behind, readers wait rather than entries being dropped. [`AuditLog::flush`] writes
//! everything queued (at shutdown, and before the trail is read back).

use crate::db::{now, Db};
use domain::Caller;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// What was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Patient,
    PatientList,
    Document,
    DocumentContent,
    DocumentList,
    SharedDocuments,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Patient => "patient",
            Entity::PatientList => "patient list",
            Entity::Document => "document",
            Entity::DocumentContent => "document content",
            Entity::DocumentList => "document list",
            Entity::SharedDocuments => "shared documents",
        }
    }
}

/// A read to record.
#[derive(Debug)]
pub struct Entry {
    pub user_id: Uuid,
    pub entity: Entity,
    pub entity_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub at: String,
}

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
}

impl AuditLog {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel(10_000);
        tokio::spawn(writer(db, rx));
        Self { tx }
    }

    /// Records that `caller` read `entity`.
    pub async fn read(
        &self,
        caller: &Caller,
        entity: Entity,
        entity_id: Option<Uuid>,
        patient_id: Option<Uuid>,
    ) {
        let entry = Entry {
            user_id: caller.id,
            entity,
            entity_id,
            patient_id,
            at: now(),
        };
        if self.tx.send(Message::Read(entry)).await.is_err() {
            tracing::error!("audit writer is gone; a PHI read went unrecorded");
        }
    }

    /// Returns once everything recorded before the call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Message>) {
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
            if let Err(e) = db.insert_audit_entries(&batch).await {
                tracing::error!(error = %e, entries = batch.len(), "could not store PHI read audit entries");
            }
            batch.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}
