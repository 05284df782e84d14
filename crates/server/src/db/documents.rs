//! Healthcare documents. Text bodies sit in the row (searchable); binary bodies (PDF, images)
//! in `document_blobs`, keyed by their SHA-256.

use super::logs::{insert_log, NewLogEntry};
use super::{cursor, now, paginate, parse_date, Bind, Db, DbResult, RowExt, Sql, Written};
use domain::access::{DocumentFacts, DocumentScope, PatientFacts};
use domain::dto::HealthcareDocument;
use domain::{DocumentSource, DocumentType, LogAction, LogStatus};
use sha2::{Digest as _, Sha256};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use std::sync::LazyLock;
use uuid::Uuid;

pub(crate) const COLS: &str =
    "id, patient_id, type, date, title, author, mime_type, size_bytes, content_hash, \
    source, source_user_id, external_id, carepatron_document_id, version, created_at, updated_at";

pub(crate) static D_COLS: LazyLock<String> = LazyLock::new(|| super::qualify(COLS, "d"));

/// A document with the facts its permissions depend on.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    pub document: HealthcareDocument,
    pub facts: DocumentFacts,
}

pub(crate) fn document_from_row(
    row: &AnyRow,
    with_content: bool,
) -> anyhow::Result<HealthcareDocument> {
    Ok(HealthcareDocument {
        id: row.id("id")?,
        patient_id: row.id("patient_id")?,
        kind: super::parse_kind(&row.text("type")?)?,
        date: parse_date(&row.text("date")?)?,
        title: row.text("title")?,
        author: row.opt_text("author")?,
        content: if with_content {
            row.opt_text("content")?
        } else {
            None
        },
        mime_type: row.text("mime_type")?,
        size_bytes: row.int("size_bytes")?,
        content_hash: row.text("content_hash")?,
        source: super::parse_kind(&row.text("source")?)?,
        source_user_id: row.opt_id("source_user_id")?,
        external_id: row.opt_text("external_id")?,
        carepatron_document_id: row.opt_text("carepatron_document_id")?,
        version: row.int("version")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(super) fn stored_from_row(row: &AnyRow) -> anyhow::Result<StoredDocument> {
    let document = document_from_row(row, true)?;
    let facts = DocumentFacts {
        patient: PatientFacts {
            owner_id: row.id("patient_owner")?,
            provider_id: row.opt_id("patient_provider")?,
        },
        source: document.source,
        source_user_id: document.source_user_id,
    };
    Ok(StoredDocument { document, facts })
}

/// Appends `AND <the caller may see document d (of patient p)>`.
pub(crate) fn push_scope(sql: &mut Sql, scope: DocumentScope) {
    match scope {
        DocumentScope::All => {}
        // owner_id: the patient's dietician, kept by triggers (migration 0003).
        DocumentScope::OfPatientsOwnedBy(user) => {
            sql.push(" AND d.owner_id = ").bind(user);
        }
        DocumentScope::SharedTo(user) => {
            sql.push(
                " AND EXISTS (SELECT 1 FROM document_shares s WHERE s.document_id = d.id \
                 AND s.deleted_at IS NULL AND s.practitioner_id = ",
            )
            .bind(user)
            .push(")");
        }
        DocumentScope::UploadedToLinkedPatients {
            uploader,
            provider: Some(provider),
        } => {
            sql.push(" AND d.source_user_id = ").bind(uploader);
            sql.push(
                " AND d.patient_id IN (SELECT p.id FROM patients p \
                 WHERE p.link_approval = 'approved' AND p.provider_id = ",
            )
            .bind(provider)
            .push(")");
        }
        DocumentScope::UploadedToLinkedPatients { provider: None, .. } => {
            sql.push(" AND 1 = 0");
        }
        DocumentScope::OfPatient(Some(patient)) => {
            sql.push(" AND d.patient_id = ").bind(patient);
        }
        DocumentScope::OfPatient(None) => {
            sql.push(" AND 1 = 0");
        }
    }
}

/// The body of a document.
#[derive(Debug)]
pub enum DocumentBody {
    Text(String),
    Binary(Vec<u8>),
    /// Bytes already in `document_blobs`: a file sent ahead of its document
    /// ([`super::uploads`]).
    Stored {
        content_hash: String,
        size: i64,
    },
}

impl DocumentBody {
    /// Hex SHA-256 and size of the body.
    pub fn digest(&self) -> (String, i64) {
        match self {
            DocumentBody::Text(t) => digest(t.as_bytes()),
            DocumentBody::Binary(b) => digest(b),
            DocumentBody::Stored { content_hash, size } => (content_hash.clone(), *size),
        }
    }
}

/// Hex SHA-256 and size of a body.
pub fn digest(bytes: &[u8]) -> (String, i64) {
    (hex::encode(Sha256::digest(bytes)), bytes.len() as i64)
}

/// A new document, validated.
#[derive(Debug)]
pub struct NewDocument {
    /// Made by whoever created the document (a laptop too).
    pub id: Uuid,
    pub patient_id: Uuid,
    pub kind: DocumentType,
    pub date: chrono::NaiveDate,
    pub title: String,
    pub mime_type: String,
    pub body: DocumentBody,
    pub source: DocumentSource,
    pub source_user_id: Option<Uuid>,
    /// Documents pulled from a PHP: who wrote it, and the resource and version it came from.
    pub author: Option<String>,
    pub external_id: Option<String>,
    pub external_version: Option<String>,
}

/// The list filters of `GET /patients/{id}/documents`.
#[derive(Debug, Default)]
pub struct DocumentFilter<'a> {
    pub kind: Option<DocumentType>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub q: Option<&'a str>,
}

impl Db {
    fn document_query(scope: DocumentScope) -> Sql {
        let mut sql = Sql::new(&format!(
            "SELECT {}, d.content, p.user_id AS patient_owner, \
             CASE WHEN p.link_approval = 'approved' THEN p.provider_id END AS patient_provider \
             FROM healthcare_documents d JOIN patients p ON p.id = d.patient_id \
             WHERE d.deleted_at IS NULL AND p.deleted_at IS NULL",
            *D_COLS
        ));
        push_scope(&mut sql, scope);
        sql
    }

    /// The document, if it is live and inside `scope`.
    pub async fn document(
        &self,
        scope: DocumentScope,
        id: Uuid,
    ) -> DbResult<Option<StoredDocument>> {
        let mut sql = Self::document_query(scope);
        sql.push(" AND d.id = ").bind(id);
        let row = sql.query().fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(stored_from_row).transpose()?)
    }

    /// A patient's documents in `scope`, newest first.
    pub async fn list_documents(
        &self,
        scope: DocumentScope,
        patient_id: Uuid,
        filter: &DocumentFilter<'_>,
        limit: usize,
        after: Option<&[String]>,
    ) -> DbResult<(Vec<HealthcareDocument>, Option<String>)> {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM healthcare_documents d JOIN patients p ON p.id = d.patient_id \
             WHERE d.deleted_at IS NULL AND p.deleted_at IS NULL AND d.patient_id = ",
            *D_COLS
        ));
        sql.bind(patient_id);
        push_scope(&mut sql, scope);
        if let Some(kind) = filter.kind {
            sql.push(" AND d.type = ").bind(kind.as_str());
        }
        if let Some(from) = filter.from {
            sql.push(" AND d.date >= ").bind(from.to_string());
        }
        if let Some(to) = filter.to {
            sql.push(" AND d.date <= ").bind(to.to_string());
        }
        if let Some(q) = filter.q.map(str::trim).filter(|q| !q.is_empty()) {
            let pattern = super::contains_pattern(q);
            sql.push(" AND (lower(d.title) LIKE ")
                .bind(pattern.as_str());
            sql.push(" ESCAPE '\\' OR lower(d.content) LIKE ")
                .bind(pattern);
            sql.push(" ESCAPE '\\')");
        }
        if let Some([date, id]) = after {
            sql.push(" AND (d.date < ").bind(date.as_str());
            sql.push(" OR (d.date = ").bind(date.as_str());
            sql.push(" AND d.id < ").bind(id.as_str()).push("))");
        }
        sql.push(" ORDER BY d.date DESC, d.id DESC LIMIT ")
            .bind(limit as i64 + 1);
        let rows = sql
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| document_from_row(r, false))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(paginate(rows, limit, |d| {
            cursor::encode(&[&d.date.to_string(), &d.id.to_string()])
        }))
    }

    /// Stores the document, its body and a "document uploaded" log entry in one transaction.
    pub async fn insert_document(&self, new: NewDocument) -> DbResult<HealthcareDocument> {
        let mut tx = self.writer().begin().await?;
        let done = insert_document_in(&mut tx, new).await?;
        tx.commit().await?;
        Ok(done)
    }

    pub async fn update_document(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        sets: Vec<(&'static str, Bind)>,
    ) -> DbResult<Written<HealthcareDocument>> {
        let returning = format!("{COLS}, content");
        Ok(
            match self
                .update_row(
                    "healthcare_documents",
                    id,
                    expected_version,
                    sets,
                    &returning,
                )
                .await?
            {
                Written::Done(row) => Written::Done(document_from_row(&row, true)?),
                Written::Missing => Written::Missing,
                Written::Stale => Written::Stale,
            },
        )
    }

    /// Tombstones the document and its shares.
    pub async fn delete_document(&self, id: Uuid) -> DbResult<bool> {
        let mut tx = self.writer().begin().await?;
        let done = delete_document_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The bytes of a binary document's body.
    pub async fn blob(&self, content_hash: &str) -> DbResult<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT data FROM document_blobs WHERE content_hash = $1")
                .bind(content_hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

/// [`Db::delete_document`] inside the caller's transaction.
pub async fn delete_document_in(conn: &mut AnyConnection, id: Uuid) -> DbResult<bool> {
    let at = now();
    sqlx::query(
        "UPDATE document_shares SET deleted_at = $1, updated_at = $1, version = version + 1 \
         WHERE document_id = $2 AND deleted_at IS NULL",
    )
    .bind(&at)
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    super::measurements::delete_with_in(conn, super::measurements::With::Document(id), &at).await?;
    let done = sqlx::query(
        "UPDATE healthcare_documents SET deleted_at = $1, updated_at = $1, \
         version = version + 1 WHERE id = $2 AND deleted_at IS NULL",
    )
    .bind(&at)
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done > 0)
}

/// Keeps a body where it belongs: returns the row's `content` for text; binary bytes go to
/// `document_blobs` (once per hash).
pub(crate) async fn store_body(
    conn: &mut AnyConnection,
    body: DocumentBody,
    hash: &str,
) -> DbResult<Option<String>> {
    Ok(match body {
        DocumentBody::Text(text) => Some(text),
        DocumentBody::Binary(bytes) => {
            sqlx::query(
                "INSERT INTO document_blobs (content_hash, data, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (content_hash) DO NOTHING",
            )
            .bind(hash)
            .bind(bytes)
            .bind(now())
            .execute(&mut *conn)
            .await?;
            None
        }
        DocumentBody::Stored { .. } => None,
    })
}

/// [`Db::insert_document`] inside the caller's transaction.
pub async fn insert_document_in(
    conn: &mut AnyConnection,
    new: NewDocument,
) -> DbResult<HealthcareDocument> {
    insert_logged(conn, new, None, None).await
}

/// A document pulled from the patient's PHP (no uploader), stored inside the caller's
/// transaction; its log entry names the provider it came from, and adds `note` (why its
/// declared type was not kept) when there is one.
pub async fn insert_pulled_document_in(
    conn: &mut AnyConnection,
    new: NewDocument,
    provider: &str,
    note: Option<&str>,
) -> DbResult<HealthcareDocument> {
    insert_logged(conn, new, Some(provider), note).await
}

/// Stores the document and its log entry: "document uploaded" for one with an uploader, else
/// received from `provider` (by name, when known).
async fn insert_logged(
    conn: &mut AnyConnection,
    new: NewDocument,
    provider: Option<&str>,
    note: Option<&str>,
) -> DbResult<HealthcareDocument> {
    let (hash, size) = new.body.digest();
    let at = now();
    let id = new.id;
    let content = store_body(conn, new.body, &hash).await?;
    let row = sqlx::query(&format!(
        "INSERT INTO healthcare_documents (id, patient_id, type, date, title, content, \
         mime_type, size_bytes, content_hash, source, source_user_id, author, external_id, \
         external_version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
         RETURNING {COLS}, content"
    ))
    .bind(id.to_string())
    .bind(new.patient_id.to_string())
    .bind(new.kind.as_str())
    .bind(new.date.to_string())
    .bind(new.title)
    .bind(content)
    .bind(new.mime_type)
    .bind(size)
    .bind(&hash)
    .bind(new.source.as_str())
    .bind(new.source_user_id.map(|u| u.to_string()))
    .bind(new.author)
    .bind(new.external_id)
    .bind(new.external_version)
    .bind(&at)
    .fetch_one(&mut *conn)
    .await?;
    let document = document_from_row(&row, true)?;
    // Pulled documents arrive with no uploader.
    let (action, details) = match new.source_user_id {
        Some(_) => (
            LogAction::DocumentUploaded,
            format!("Document stored ({}, {size} bytes).", document.mime_type),
        ),
        None => (
            LogAction::AutomaticSync,
            format!(
                "Received from {} ({}).{}",
                provider.unwrap_or("the patient's healthcare provider"),
                document.kind.as_str(),
                note.map(|n| format!(" {n}")).unwrap_or_default()
            ),
        ),
    };
    insert_log(
        &mut *conn,
        NewLogEntry {
            patient_id: Some(new.patient_id),
            document_id: Some(id),
            user_id: new.source_user_id,
            action,
            status: LogStatus::Success,
            details: Some(details),
        },
    )
    .await?;
    Ok(document)
}
