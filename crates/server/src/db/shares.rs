//! Document shares (a dietician lets a practitioner read a document) and document requests
//! (asking the patient's PHP for more).

use super::logs::{insert_log, NewLogEntry};
use super::{now, Db, DbResult, RowExt};
use domain::dto::{DocumentRequest, DocumentShare, NewDocumentRequest, SharedDocument};
use domain::kinds::ShareDelivery;
use domain::{DocumentType, LogAction, LogStatus};
use sqlx::any::AnyRow;
use uuid::Uuid;

pub(crate) const COLS: &str = "id, document_id, practitioner_id, shared_by, version, created_at, \
     deleted_at, carepatron_delivery";

pub(crate) fn share_from_row(row: &AnyRow) -> anyhow::Result<DocumentShare> {
    Ok(DocumentShare {
        id: row.id("id")?,
        document_id: row.id("document_id")?,
        practitioner_id: row.id("practitioner_id")?,
        shared_by: row.id("shared_by")?,
        version: row.int("version")?,
        created_at: row.time("created_at")?,
        revoked_at: super::parse_opt_time(row.opt_text("deleted_at")?.as_deref())?,
        carepatron_delivery: super::parse_kind(&row.text("carepatron_delivery")?)?,
    })
}

impl Db {
    /// Shares the document with the practitioner, logging it. Sharing twice returns the live
    /// share (`false`: nothing new was made). `delivery`: the new share's Carepatron state
    /// (`pending`, or `not_configured` when the platform has no Carepatron integration).
    pub async fn share_document(
        &self,
        patient_id: Uuid,
        document_id: Uuid,
        practitioner_id: Uuid,
        shared_by: Uuid,
        delivery: ShareDelivery,
    ) -> DbResult<(DocumentShare, bool)> {
        let mut tx = self.writer().begin().await?;
        let existing = sqlx::query(&format!(
            "SELECT {COLS} FROM document_shares WHERE document_id = $1 AND practitioner_id = $2 \
             AND deleted_at IS NULL"
        ))
        .bind(document_id.to_string())
        .bind(practitioner_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            return Ok((share_from_row(&row)?, false));
        }
        let at = now();
        let row = sqlx::query(&format!(
            "INSERT INTO document_shares (id, document_id, practitioner_id, shared_by, created_at, \
             updated_at, carepatron_delivery) VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING {COLS}"
        ))
        .bind(domain::new_id().to_string())
        .bind(document_id.to_string())
        .bind(practitioner_id.to_string())
        .bind(shared_by.to_string())
        .bind(at)
        .bind(delivery.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let with = practitioner(&mut tx, practitioner_id).await?;
        insert_log(
            &mut *tx,
            NewLogEntry {
                patient_id: Some(patient_id),
                document_id: Some(document_id),
                user_id: Some(shared_by),
                action: LogAction::DocumentShared,
                status: LogStatus::Success,
                details: Some(format!("Shared with {with}.")),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((share_from_row(&row)?, true))
    }

    /// Revokes a live share of the document. `None`: no such share. Its Carepatron delivery
    /// state stays what it was (the Carepatron reconcile then removes a delivered share there).
    pub async fn revoke_share(
        &self,
        patient_id: Uuid,
        document_id: Uuid,
        share_id: Uuid,
        revoked_by: Uuid,
    ) -> DbResult<Option<DocumentShare>> {
        let mut tx = self.writer().begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE document_shares SET deleted_at = $1, updated_at = $1, version = version + 1 \
             WHERE id = $2 AND document_id = $3 AND deleted_at IS NULL RETURNING {COLS}"
        ))
        .bind(now())
        .bind(share_id.to_string())
        .bind(document_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let share = share_from_row(&row)?;
        let with = practitioner(&mut tx, share.practitioner_id).await?;
        insert_log(
            &mut *tx,
            NewLogEntry {
                patient_id: Some(patient_id),
                document_id: Some(document_id),
                user_id: Some(revoked_by),
                action: LogAction::ShareRevoked,
                status: LogStatus::Success,
                details: Some(format!("Share with {with} revoked.")),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(share))
    }

    /// Live shares of a patient's documents, optionally only those to one practitioner.
    pub async fn shared_documents(
        &self,
        patient_id: Uuid,
        practitioner: Option<Uuid>,
    ) -> DbResult<Vec<SharedDocument>> {
        let mut sql = super::Sql::new(&format!(
            "SELECT {}, s.id AS share_id, s.practitioner_id, s.shared_by, \
             s.version AS share_version, s.created_at AS shared_at, s.carepatron_delivery \
             FROM document_shares s JOIN healthcare_documents d ON d.id = s.document_id \
             WHERE s.deleted_at IS NULL AND d.deleted_at IS NULL AND d.patient_id = ",
            *super::documents::D_COLS
        ));
        sql.bind(patient_id);
        if let Some(p) = practitioner {
            sql.push(" AND s.practitioner_id = ").bind(p);
        }
        sql.push(" ORDER BY s.created_at DESC, s.id DESC");
        let rows = sql.fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(|row| -> anyhow::Result<SharedDocument> {
                let document = super::documents::document_from_row(row, false)?;
                let share = DocumentShare {
                    id: row.id("share_id")?,
                    document_id: document.id,
                    practitioner_id: row.id("practitioner_id")?,
                    shared_by: row.id("shared_by")?,
                    version: row.int("share_version")?,
                    created_at: row.time("shared_at")?,
                    revoked_at: None,
                    carepatron_delivery: super::parse_kind(&row.text("carepatron_delivery")?)?,
                };
                Ok(SharedDocument { share, document })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(items)
    }

    /// Records a request for documents from the patient's PHP, with its log entry.
    pub async fn insert_document_request(
        &self,
        patient_id: Uuid,
        requested_by: Uuid,
        request: NewDocumentRequest,
    ) -> DbResult<DocumentRequest> {
        let mut tx = self.writer().begin().await?;
        let what = if request.types.is_empty() {
            "all document types".to_owned()
        } else {
            request
                .types
                .iter()
                .map(|&t| plural(t))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let provider = super::providers::patient_provider_name(&mut tx, patient_id)
            .await?
            .unwrap_or_else(|| "the patient's healthcare provider".to_owned());
        let log = insert_log(
            &mut *tx,
            NewLogEntry {
                patient_id: Some(patient_id),
                document_id: None,
                user_id: Some(requested_by),
                action: LogAction::DocumentRequest,
                status: LogStatus::Pending,
                details: Some(format!("Documents requested from {provider} ({what}).")),
            },
        )
        .await?;
        let id = domain::new_id();
        let at = now();
        let types = request
            .types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let note = request.note.map(String::from);
        sqlx::query(
            "INSERT INTO document_requests (id, patient_id, requested_by, status, note, types, \
             log_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(id.to_string())
        .bind(patient_id.to_string())
        .bind(requested_by.to_string())
        .bind(LogStatus::Pending.as_str())
        .bind(note.clone())
        .bind(types)
        .bind(log.id.to_string())
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DocumentRequest {
            id,
            patient_id,
            requested_by,
            status: LogStatus::Pending,
            note,
            types: request.types,
            created_at: super::parse_time(&at)?,
            log_id: log.id,
        })
    }
}

/// A document type in the plural, as a request asks for it ("lab reports").
fn plural(kind: DocumentType) -> String {
    match kind {
        DocumentType::DischargeSummary => "discharge summaries".to_owned(),
        DocumentType::Other => "other documents".to_owned(),
        _ => format!("{}s", kind.as_str()),
    }
}

/// A practitioner as the log names them: by name (staff, not a patient), never by id.
async fn practitioner(conn: &mut sqlx::AnyConnection, id: Uuid) -> DbResult<String> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(match name {
        Some(name) => format!("practitioner {name}"),
        None => "a practitioner".to_owned(),
    })
}
