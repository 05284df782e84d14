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
use domain::dto::{MutationOp, MutationResult, MutationStatus, SyncTable};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The most a file may hold, as on the platform.
pub const MAX_FILE_BYTES: usize = 25 * 1024 * 1024;

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
        if !domain::check::FILE_TYPES.contains(&mime.as_str()) {
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

/// At most this many bytes of files go ahead of one push: the platform keeps 200 MiB of one
/// person's files waiting for their documents, and the push frees them.
const FILES_PER_PUSH: usize = 64 * 1024 * 1024;

/// What sending the files of a batch came to.
pub(crate) struct SentAhead {
    /// How many entries of the batch, from the first, go in this push; the rest, whose files
    /// would take it past [`FILES_PER_PUSH`], wait for the next.
    pub keep: usize,
    /// Entries (by their place in the batch) whose file the platform refused, with its
    /// answer as a refusal of the document: they leave the push, and the person sees why.
    pub refused: Vec<(usize, MutationResult)>,
}

/// Sends the files the entries of `batch` name, before the push that names them, telling
/// `events` how far it got in bytes. A file whose bytes are no longer here is left to the
/// push: the platform refuses the document, and the person sees why.
pub(crate) async fn send_ahead(
    replica: &Replica,
    remote: &Remote,
    batch: &[Pending],
    events: &(dyn Fn(SyncEvent) + Send + Sync),
) -> Result<SentAhead> {
    let mut files = Vec::new();
    let mut keep = batch.len();
    let mut bytes_ahead = 0;
    for (n, p) in batch.iter().enumerate() {
        let Some(hash) = named_file(p) else { continue };
        let Some((mime, bytes)) = replica.cached_body(p.row_id).await? else {
            continue;
        };
        if !files.is_empty() && bytes_ahead + bytes.len() > FILES_PER_PUSH {
            keep = n;
            break;
        }
        bytes_ahead += bytes.len();
        files.push((n, hash.to_owned(), mime, bytes));
    }
    let mut refused = Vec::new();
    let mut sent = 0;
    for (n, hash, mime, bytes) in files {
        let len = bytes.len();
        let before = sent;
        let report = move |n: usize| SyncEvent::Sending {
            sent: before + n,
            total: bytes_ahead,
        };
        match remote.send_file(&hash, &mime, bytes, report, events).await {
            Ok(()) => {}
            // The platform will not take this file (its type, its size, the sender's rights):
            // this document is refused, the others go on.
            Err(SyncError::Server {
                status,
                code,
                detail,
                ..
            }) if (400..500).contains(&status) && status != 429 => {
                refused.push((
                    n,
                    MutationResult {
                        mutation_id: batch[n].mutation_id,
                        status: MutationStatus::Rejected,
                        original_status: None,
                        version: None,
                        kind: None,
                        code: Some(code),
                        reason: Some(detail),
                        conflicts: Vec::new(),
                        row: None,
                    },
                ));
            }
            Err(e) => return Err(e),
        }
        sent += len;
    }
    Ok(SentAhead { keep, refused })
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
        // The pieces are views of the one buffer, not copies of it.
        let bytes = bytes::Bytes::from(bytes);
        let len = bytes.len();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(2);
        let body = reqwest::Body::wrap_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        let request = self
            .http
            .put(format!("{}/api/v1/uploads/{hash}", self.base))
            .header(reqwest::header::CONTENT_TYPE, mime)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(body);
        let feed = async {
            let mut handed = 0;
            while handed < len {
                let piece = bytes.slice(handed..len.min(handed + PIECE));
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

/// What this device keeps on its disk, for the person to see (Profile).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DiskUse {
    /// The replica's files (database and write-ahead log), everything below included.
    pub replica_bytes: u64,
    /// Documents whose file (or text) is kept here for offline reading, and its bytes.
    pub files_here: i64,
    pub file_bytes: i64,
    /// Documents whose file is not on this device yet.
    pub files_elsewhere: i64,
    /// Patients whose every file is kept here.
    pub patients_kept: i64,
    /// Files of all one's patients are kept here, newest first, up to this many bytes;
    /// `None`: only those opened, attached here, or of patients kept offline.
    pub budget_bytes: Option<i64>,
}

/// One patient's files on this device, for their page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PatientFiles {
    /// Whether every file of the patient is kept here ("Keep available offline").
    pub kept: bool,
    pub documents: i64,
    /// Of those, the ones whose file is here.
    pub here: i64,
}

/// The documents the platform confirmed, with their patient, size, and the running total of
/// sizes from the newest: the order a budget keeps files in.
const RANKED: &str = "WITH docs AS (SELECT r.id, json_extract(r.data, '$.patient_id') AS patient, \
     COALESCE(json_extract(r.data, '$.size_bytes'), 0) AS size, json_extract(r.data, '$.date') AS date \
     FROM rows r WHERE r.table_name = 'healthcare_documents' AND r.version > 0), \
     ranked AS (SELECT id, patient, size, SUM(size) OVER (ORDER BY date DESC, id DESC) AS running \
     FROM docs)";

const BUDGET_KEY: &str = "file_budget_bytes";

impl Replica {
    /// Keeps every file of `patient` here from now on (fetched after each sync), or stops.
    pub async fn keep_offline(&self, patient: Uuid, keep: bool) -> Result<()> {
        let q = match keep {
            true => sqlx::query(
                "INSERT INTO kept_offline (patient_id, since) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(patient.to_string())
            .bind(domain::time::now()),
            false => sqlx::query("DELETE FROM kept_offline WHERE patient_id = ?")
                .bind(patient.to_string()),
        };
        q.execute(self.pool()).await?;
        Ok(())
    }

    /// The patient's files on this device.
    pub async fn patient_files(&self, patient: Uuid) -> Result<PatientFiles> {
        let (kept, documents, here): (bool, i64, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM kept_offline WHERE patient_id = ?1), count(*), \
             COALESCE(SUM(EXISTS (SELECT 1 FROM document_bodies b WHERE b.doc_id = r.id)), 0) \
             FROM rows r WHERE r.table_name = 'healthcare_documents' \
             AND json_extract(r.data, '$.patient_id') = ?1",
        )
        .bind(patient.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(PatientFiles {
            kept,
            documents,
            here,
        })
    }

    /// Keeps files of all one's patients here, newest first, up to `bytes` (`None`: no
    /// such budget). Files beyond it are given back at the next round ([`keep_files`]).
    pub async fn set_file_budget(&self, bytes: Option<i64>) -> Result<()> {
        match bytes {
            Some(b) => self.set_state(BUDGET_KEY, &b.max(0).to_string()).await,
            None => {
                sqlx::query("DELETE FROM sync_state WHERE key = ?")
                    .bind(BUDGET_KEY)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }
        }
    }

    pub async fn file_budget(&self) -> Result<Option<i64>> {
        Ok(self.state(BUDGET_KEY).await?.and_then(|b| b.parse().ok()))
    }

    /// What this device keeps on its disk.
    pub async fn disk_use(&self) -> Result<DiskUse> {
        let (files_here, file_bytes, files_elsewhere, patients_kept): (i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT (SELECT count(*) FROM document_bodies), \
                 (SELECT COALESCE(SUM(length(data)), 0) FROM document_bodies), \
                 (SELECT count(*) FROM rows r WHERE r.table_name = 'healthcare_documents' \
                  AND NOT EXISTS (SELECT 1 FROM document_bodies b WHERE b.doc_id = r.id)), \
                 (SELECT count(*) FROM kept_offline)",
            )
            .fetch_one(self.pool())
            .await?;
        let file: String =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(self.pool())
                .await?;
        let replica_bytes = crate::replica::replica_files(std::path::Path::new(&file))
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        Ok(DiskUse {
            replica_bytes,
            files_here,
            file_bytes,
            files_elsewhere,
            patients_kept,
            budget_bytes: self.file_budget().await?,
        })
    }

    /// Documents whose file should be here and is not: every one of a patient kept offline,
    /// then the newest within the budget; in that order.
    async fn files_wanted(&self) -> Result<Vec<Uuid>> {
        let ids: Vec<String> = sqlx::query_scalar(&format!(
            "{RANKED} SELECT id FROM ranked r \
             WHERE NOT EXISTS (SELECT 1 FROM document_bodies b WHERE b.doc_id = r.id) \
             AND (r.patient IN (SELECT patient_id FROM kept_offline) OR r.running <= ?) \
             ORDER BY r.patient IN (SELECT patient_id FROM kept_offline) DESC, r.running"
        ))
        .bind(self.file_budget().await?)
        .fetch_all(self.pool())
        .await?;
        ids.iter()
            .map(|id| id.parse().map_err(|_| SyncError::NotFound("row id")))
            .collect()
    }

    /// Gives back the files beyond the budget, oldest first: not those of patients kept
    /// offline, not texts (search reads them), not those with edits on their way. Returns
    /// how many.
    async fn give_back_beyond_budget(&self) -> Result<u64> {
        let Some(budget) = self.file_budget().await? else {
            return Ok(0);
        };
        let done = sqlx::query(&format!(
            "{RANKED} DELETE FROM document_bodies WHERE mime_type NOT LIKE 'text/%' \
             AND doc_id IN (SELECT id FROM ranked WHERE running > ? \
             AND patient NOT IN (SELECT patient_id FROM kept_offline)) \
             AND doc_id NOT IN (SELECT row_id FROM outbox)"
        ))
        .bind(budget)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

/// Fetches the files this device should keep (of patients kept offline, then the newest
/// within the budget), telling `progress` how many of how many are here, and gives back
/// those beyond the budget. Returns how many it fetched, or what cut it off: no connection,
/// or no session (what was fetched stays; the next round carries on).
pub async fn keep_files(
    replica: &Replica,
    remote: &Remote,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<usize> {
    let wanted = replica.files_wanted().await?;
    let total = wanted.len();
    let mut fetched = 0;
    for (n, id) in wanted.into_iter().enumerate() {
        progress(n, total);
        match crate::engine::document_body(replica, remote, id).await {
            Ok(_) => fetched += 1,
            // No connection or no session: the next round carries on from here.
            Err(e @ (SyncError::Offline(_) | SyncError::Unauthorized)) => return Err(e),
            // This one is gone at the platform, not ours to read any more, or failed there:
            // the others still come (the next sync says what became of it).
            Err(e) => tracing::debug!("a file was not kept ahead: {e}"),
        }
    }
    if total > 0 {
        progress(total, total);
    }
    replica.give_back_beyond_budget().await?;
    Ok(fetched)
}
