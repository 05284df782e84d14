//! Files (PDFs, photos, scans) attached on this device, with or without a connection.
//!
//! Attaching writes, in one transaction: the document's row (pending, version 0), the file's
//! bytes as its kept body (in the encrypted replica: viewable at once, offline), and the
//! document's insert in the outbox, naming the file by its SHA-256 (`upload`). A push first
//! sends each such file to `PUT /uploads/{sha256}`, then the insert, which takes it. Both steps
//! are keyed (the hash, the mutation id), so a push cut off anywhere (a lost reply, a
//! SIGKILL, the app closed mid-file) is sent again whole and makes one document.

use crate::engine::{Remote, SyncEvent};
use crate::replica::{enqueue, put_body, reindex_documents, require_patient, Pending, Replica};
use crate::{Result, SyncError};
use domain::dto::{MutationOp, SyncTable};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The most a file may hold, as on the platform.
pub const MAX_FILE_BYTES: usize = 25 * 1024 * 1024;

/// What a file may be; text goes in as a text document, its words searchable.
pub const FILE_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
];

/// Bytes per piece of a file on its way: how often sending reports progress.
const PIECE: usize = 256 * 1024;

/// A file to attach to a patient as a new document.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub patient_id: Uuid,
    /// The document type (`lab report`, `assessment`…).
    pub kind: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub title: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// The platform's checks on a file, with its words: size, type, and bytes that are what
    /// the type says.
    fn check(&self) -> Result<String> {
        let mime = domain::check::mime_essence(&self.mime_type);
        if !FILE_TYPES.contains(&mime.as_str()) {
            return Err(SyncError::Invalid(
                "This kind of file cannot be attached: PDF, PNG, JPEG, GIF or WebP can.".into(),
            ));
        }
        if self.bytes.is_empty() {
            return Err(SyncError::Invalid("The file is empty.".into()));
        }
        if self.bytes.len() > MAX_FILE_BYTES {
            return Err(SyncError::Invalid(format!(
                "The file holds {:.1} MiB; a document may hold at most {} MiB.",
                self.bytes.len() as f64 / (1024.0 * 1024.0),
                MAX_FILE_BYTES / (1024 * 1024)
            )));
        }
        if domain::check::content_is(&mime, &self.bytes) != Some(true) {
            return Err(SyncError::Invalid(format!(
                "The file's content is not what its type ({mime}) says."
            )));
        }
        Ok(mime)
    }
}

impl Replica {
    /// Attaches a file to a patient as a new document: kept here at once (pending, viewable)
    /// and sent at the next sync. Returns the document's id.
    pub async fn attach(&self, file: Attachment) -> Result<Uuid> {
        use sha2::Digest as _;
        let mime = file.check()?;
        let hash = hex::encode(sha2::Sha256::digest(&file.bytes));
        let fields = match json!({
            "patient_id": file.patient_id,
            "type": file.kind,
            "date": file.date,
            "title": file.title,
            "upload": hash,
        }) {
            Value::Object(map) => map,
            _ => unreachable!("an object literal"),
        };
        crate::replica::check(SyncTable::HealthcareDocuments, MutationOp::Insert, &fields)?;
        let id = Uuid::now_v7();
        // The row as the screens read it until the platform's comes back: what the platform
        // will say of the file, bar what only it sets.
        let mut row: Map<String, Value> = fields.clone();
        row.remove("upload");
        row.insert("id".into(), json!(id));
        row.insert("mime_type".into(), json!(mime));
        row.insert("size_bytes".into(), json!(file.bytes.len()));
        row.insert("content_hash".into(), json!(hash));
        let mut tx = self.pool().begin().await?;
        require_patient(&mut tx, &row).await?;
        sqlx::query("INSERT INTO rows (table_name, id, version, data) VALUES (?, ?, 0, ?)")
            .bind(SyncTable::HealthcareDocuments.as_str())
            .bind(id.to_string())
            .bind(Value::Object(row).to_string())
            .execute(&mut *tx)
            .await?;
        put_body(&mut tx, id, &hash, &mime, &file.bytes).await?;
        reindex_documents(&mut tx, &[id]).await?;
        enqueue(
            &mut tx,
            SyncTable::HealthcareDocuments,
            id,
            MutationOp::Insert,
            0,
            fields,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

/// The file an outbox entry names (`upload`): a document made here from a file.
fn named_file(p: &Pending) -> Option<&str> {
    match (p.table, p.op) {
        (SyncTable::HealthcareDocuments, MutationOp::Insert) => {
            p.fields.get("upload").and_then(Value::as_str)
        }
        _ => None,
    }
}

/// Sends the files the entries of `batch` name, before the push that names them, telling
/// `events` how far it got in bytes. A file whose bytes are no longer here is left to the
/// push: the platform refuses the document, and the person sees why.
pub(crate) async fn send_ahead(
    replica: &Replica,
    remote: &Remote,
    batch: &[Pending],
    events: &(dyn Fn(SyncEvent) + Send + Sync),
) -> Result<()> {
    let mut files = Vec::new();
    for p in batch {
        if let Some(hash) = named_file(p) {
            if let Some((mime, bytes)) = replica.cached_body(p.row_id).await? {
                files.push((hash.to_owned(), mime, bytes));
            }
        }
    }
    let total: usize = files.iter().map(|(_, _, bytes)| bytes.len()).sum();
    let mut sent = 0;
    for (hash, mime, bytes) in files {
        let len = bytes.len();
        let before = sent;
        let report = move |n: usize| SyncEvent::Sending {
            sent: before + n,
            total,
        };
        remote
            .send_file(&hash, &mime, bytes, report, events)
            .await?;
        sent += len;
    }
    Ok(())
}

impl Remote {
    /// `PUT /uploads/{hash}`: one file, in pieces, each reported as sent.
    async fn send_file(
        &self,
        hash: &str,
        mime: &str,
        bytes: Vec<u8>,
        report: impl Fn(usize) -> SyncEvent + Send + Sync + 'static,
        events: &(dyn Fn(SyncEvent) + Send + Sync),
    ) -> Result<()> {
        // The pieces go as the connection takes them; progress is reported from here, as each
        // one is handed over.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(2);
        let pieces: Vec<Vec<u8>> = bytes.chunks(PIECE).map(<[u8]>::to_vec).collect();
        let body = reqwest::Body::wrap_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        let request = self
            .http
            .put(format!("{}/api/v1/uploads/{hash}", self.base))
            .header(reqwest::header::CONTENT_TYPE, mime)
            .header(reqwest::header::CONTENT_LENGTH, bytes.len())
            .body(body);
        let feed = async {
            let mut handed = 0;
            for piece in pieces {
                handed += piece.len();
                if tx.send(Ok(piece)).await.is_err() {
                    break;
                }
                events(report(handed));
            }
            drop(tx);
        };
        let (answer, ()) = tokio::join!(self.send::<Value>(request), feed);
        answer.map(drop)
    }
}
