//! Documents pulled from a PHP, stored once: a resource already held at the same version is
//! left alone, a new version updates ours (logged as an automatic update), a retraction
//! (`entered-in-error`) tombstones ours, and a new resource whose body we already hold from
//! the PHP (the same report as a DocumentReference and a DiagnosticReport) is not stored
//! twice. Each change and its log entry commit together.

use super::documents::{digest, insert_pulled_document_in, store_body, DocumentBody, NewDocument};
use super::logs::{insert_log, NewLogEntry};
use super::patients::{bind_link, reset_pull_state_in, same_link};
use super::{delete_document_in, lock_on_postgres, measurements, now, Db, DbResult, RowExt, Sql};
use connectors::fhir::mapping::{Incoming, IncomingDocument};
use connectors::fhir::PhpPatient;
use domain::dto::Patient;
use domain::{DocumentSource, LogAction, LogStatus, PhpMatch};
use uuid::Uuid;

/// What storing one pulled item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Stored,
    Updated,
    Unchanged,
    Removed,
    /// Not usable; logged.
    Skipped,
    /// The same body is held already under another PHP resource.
    Duplicate,
    /// Values of followed measures reported on their own (vital signs), stored or withdrawn.
    Measured,
    /// Not stored: the patient's link is no longer approved for this PHP record (refused,
    /// revoked or changed while the pull ran). The pull stops.
    Unlinked,
}

impl Applied {
    /// The progress counter this outcome adds to.
    pub fn counter(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Removed => "removed",
            Self::Skipped => "skipped",
            Self::Duplicate => "duplicates",
            Self::Measured => "results",
            Self::Unlinked => "unlinked",
        }
    }
}

/// The pull's state for one patient.
#[derive(Debug, Clone, Default)]
pub struct PullState {
    pub php_patient_id: Option<String>,
    /// How the last lookup went; `None` before one ran under the current link.
    pub php_match: Option<PhpMatch>,
    pub watermark: Option<String>,
}

/// What the patient's log says of a document kept as a download because the type its PHP
/// declared was not kept (see `connectors::fhir::mapping::stored_type`).
fn type_note(why: &str) -> String {
    format!("Kept as a file to download (application/octet-stream): {why}.")
}

fn with_type_note(details: String, doc: &IncomingDocument) -> String {
    match &doc.retyped {
        Some(why) => format!("{details} {}", type_note(why)),
        None => details,
    }
}

fn body_of(doc: &IncomingDocument) -> DocumentBody {
    match std::str::from_utf8(&doc.content) {
        Ok(text) if doc.mime_type.starts_with("text/") => DocumentBody::Text(text.to_owned()),
        _ => DocumentBody::Binary(doc.content.clone()),
    }
}

fn log(
    patient_id: Uuid,
    document_id: Option<Uuid>,
    action: LogAction,
    status: LogStatus,
    details: &str,
) -> NewLogEntry {
    NewLogEntry {
        patient_id: Some(patient_id),
        document_id,
        user_id: None,
        action,
        status,
        details: Some(details.to_owned()),
    }
}

impl Db {
    pub async fn pull_state(&self, patient_id: Uuid) -> DbResult<PullState> {
        let row = sqlx::query(
            "SELECT php_patient_id, php_match, watermark FROM php_pull_state WHERE patient_id = $1",
        )
        .bind(patient_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => PullState {
                php_patient_id: row.opt_text("php_patient_id")?,
                php_match: row
                    .opt_text("php_match")?
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(anyhow::Error::from)?,
                watermark: row.opt_text("watermark")?,
            },
            None => PullState::default(),
        })
    }

    /// Records how looking `searched` (the patient as the search used them) up at the PHP
    /// went, with the record found (its id is kept only when it agrees with the patient:
    /// [`PhpMatch::Found`]; its name and birth date for the administrator reviewing the link),
    /// unless the link changed meanwhile (a relink while the search ran): then nothing is
    /// recorded and `false` comes back, so a match made for the old link never outlives the
    /// reset ([`super::patients::relink_in`]).
    pub async fn set_php_match(
        &self,
        searched: &Patient,
        outcome: PhpMatch,
        record: Option<&PhpPatient>,
    ) -> DbResult<bool> {
        let php_patient_id = record
            .filter(|_| outcome == PhpMatch::Found)
            .map(|r| r.id.as_str());
        let sql = format!(
            "INSERT INTO php_pull_state (patient_id, php_patient_id, php_match, php_name, \
             php_birth_date, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6 FROM patients WHERE id = $1 AND deleted_at IS NULL{} \
             ON CONFLICT (patient_id) DO UPDATE SET \
             php_patient_id = excluded.php_patient_id, php_match = excluded.php_match, \
             php_name = excluded.php_name, php_birth_date = excluded.php_birth_date, \
             updated_at = excluded.updated_at",
            same_link(7)
        );
        let query = sqlx::query(&sql)
            .bind(searched.id.to_string())
            .bind(php_patient_id)
            .bind(outcome.as_str())
            .bind(record.map(|r| r.name.as_str()))
            .bind(record.and_then(|r| r.birth_date.as_deref()))
            .bind(now());
        let recorded = bind_link(query, searched)
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(recorded > 0)
    }

    /// After a complete pull: the next one starts from `watermark` (the PHP's clock).
    pub async fn set_watermark(&self, patient_id: Uuid, watermark: &str) -> DbResult<()> {
        sqlx::query(
            "UPDATE php_pull_state SET watermark = $1, updated_at = $2 WHERE patient_id = $3",
        )
        .bind(watermark)
        .bind(now())
        .bind(patient_id.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Forgets what the pull knew (the patient's link to their PHP changed).
    pub async fn reset_pull_state(&self, patient_id: Uuid) -> DbResult<()> {
        let mut conn = self.writer().acquire().await?;
        reset_pull_state_in(&mut conn, patient_id).await
    }

    /// Shows (or, with `None`, clears) what a person can do about the patient's sync. Only
    /// writes when it changes: every replica syncs the patient row.
    pub async fn set_sync_error(&self, patient_id: Uuid, error: Option<&str>) -> DbResult<()> {
        sqlx::query(
            "UPDATE patients SET sync_error = $1, updated_at = $2, version = version + 1 \
             WHERE id = $3 AND (sync_error IS NULL AND $1 IS NOT NULL OR sync_error IS NOT NULL \
             AND $1 IS NULL OR sync_error <> $1)",
        )
        .bind(error)
        .bind(now())
        .bind(patient_id.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Stores one item of a pull for `patient_id` from their PHP (named `provider` in the
    /// log), found under their record `php_patient_id` there: only while their link is still
    /// approved for that record, checked (and on PostgreSQL the patient row locked against a
    /// relink or a refusal) in the storing transaction.
    pub async fn apply_pulled(
        &self,
        patient_id: Uuid,
        php_patient_id: &str,
        provider: &str,
        item: &Incoming,
    ) -> DbResult<Applied> {
        let mut tx = self.writer().begin().await?;
        let mut linked = Sql::new(
            "SELECT 1 FROM patients p JOIN php_pull_state s ON s.patient_id = p.id \
             WHERE p.deleted_at IS NULL AND p.link_approval = 'approved' AND p.id = ",
        );
        linked
            .bind(patient_id)
            .push(" AND s.php_patient_id = ")
            .bind(php_patient_id);
        lock_on_postgres(&mut linked, &tx, "p");
        let linked = linked.query().fetch_optional(&mut *tx).await?;
        if linked.is_none() {
            return Ok(Applied::Unlinked);
        }
        let held = sqlx::query(
            "SELECT id, external_version, content_hash, type, title, date, author, mime_type \
             FROM healthcare_documents WHERE patient_id = $1 AND external_id = $2 AND deleted_at IS NULL",
        )
        .bind(patient_id.to_string())
        .bind(item.external_id())
        .fetch_optional(&mut *tx)
        .await?;
        // The report a document item is stored as: its followed values go with it (none for
        // a duplicate of one held).
        let mut stored_as = None;
        let applied = match (item, held) {
            (
                Incoming::Results {
                    external_id,
                    results,
                    retracted,
                },
                _,
            ) => {
                if *retracted {
                    measurements::retract_in(&mut tx, patient_id, external_id).await?;
                } else {
                    measurements::upsert_in(&mut tx, patient_id, None, results).await?;
                }
                Applied::Measured
            }
            (Incoming::Skipped { reason, .. }, _) => {
                let details = format!("A document from {provider} was not stored: {reason}.");
                insert_log(
                    &mut *tx,
                    log(
                        patient_id,
                        None,
                        LogAction::AutomaticSync,
                        LogStatus::Failure,
                        &details,
                    ),
                )
                .await?;
                Applied::Skipped
            }
            (Incoming::Retracted { .. }, None) => Applied::Unchanged,
            (Incoming::Retracted { .. }, Some(row)) => {
                let id = row.id("id")?;
                delete_document_in(&mut tx, id).await?;
                let details =
                    format!("{provider} withdrew this document as entered in error; removed here.");
                insert_log(
                    &mut *tx,
                    log(
                        patient_id,
                        Some(id),
                        LogAction::AutomaticUpdate,
                        LogStatus::Success,
                        &details,
                    ),
                )
                .await?;
                Applied::Removed
            }
            (Incoming::Document(doc), Some(row)) => {
                stored_as = Some(row.id("id")?);
                if row.opt_text("external_version")?.as_deref() == Some(doc.version.as_str()) {
                    Applied::Unchanged
                } else {
                    let id = row.id("id")?;
                    let (hash, size) = digest(&doc.content);
                    let same = row.text("content_hash")? == hash
                        && row.text("type")? == doc.doc_type.as_str()
                        && row.text("title")? == doc.title
                        && row.text("date")? == doc.date
                        && row.opt_text("author")? == doc.author
                        && row.text("mime_type")? == doc.mime_type;
                    if same {
                        // A new version with nothing we keep changed: remember the version only.
                        sqlx::query(
                            "UPDATE healthcare_documents SET external_version = $1 WHERE id = $2",
                        )
                        .bind(&doc.version)
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?;
                        Applied::Unchanged
                    } else {
                        let content = store_body(&mut tx, body_of(doc), &hash).await?;
                        sqlx::query(
                            "UPDATE healthcare_documents SET type = $1, title = $2, date = $3, author = $4, \
                             mime_type = $5, content = $6, content_hash = $7, size_bytes = $8, \
                             external_version = $9, updated_at = $10, version = version + 1 WHERE id = $11",
                        )
                        .bind(doc.doc_type.as_str())
                        .bind(&doc.title)
                        .bind(&doc.date)
                        .bind(&doc.author)
                        .bind(&doc.mime_type)
                        .bind(content)
                        .bind(&hash)
                        .bind(size)
                        .bind(&doc.version)
                        .bind(now())
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?;
                        let details = with_type_note(
                            format!("Updated at {provider}; the new version replaced this one."),
                            doc,
                        );
                        insert_log(
                            &mut *tx,
                            log(
                                patient_id,
                                Some(id),
                                LogAction::AutomaticUpdate,
                                LogStatus::Success,
                                &details,
                            ),
                        )
                        .await?;
                        Applied::Updated
                    }
                }
            }
            (Incoming::Document(doc), None) => {
                let (hash, _) = digest(&doc.content);
                let duplicate: Option<String> = sqlx::query_scalar(
                    "SELECT id FROM healthcare_documents WHERE patient_id = $1 AND content_hash = $2 \
                     AND source = $3 AND deleted_at IS NULL LIMIT 1",
                )
                .bind(patient_id.to_string())
                .bind(&hash)
                .bind(DocumentSource::PrimaryHealthcareProvider.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if duplicate.is_some() {
                    // Its values are kept, naming no report: the one held lists its own.
                    Applied::Duplicate
                } else {
                    let date = chrono::NaiveDate::parse_from_str(&doc.date, "%Y-%m-%d")
                        .map_err(|e| anyhow::anyhow!("a pulled document's date: {e}"))?;
                    let note = doc.retyped.as_ref().map(|why| type_note(why));
                    let stored = insert_pulled_document_in(
                        &mut tx,
                        NewDocument {
                            id: domain::new_id(),
                            patient_id,
                            kind: doc.doc_type,
                            date,
                            title: doc.title.clone(),
                            mime_type: doc.mime_type.clone(),
                            body: body_of(doc),
                            source: DocumentSource::PrimaryHealthcareProvider,
                            source_user_id: None,
                            author: doc.author.clone(),
                            external_id: Some(doc.external_id.clone()),
                            external_version: Some(doc.version.clone()),
                        },
                        provider,
                        note.as_deref(),
                    )
                    .await?;
                    stored_as = Some(stored.id);
                    Applied::Stored
                }
            }
        };
        if let Incoming::Document(doc) = item {
            measurements::upsert_in(&mut tx, patient_id, stored_as, &doc.results).await?;
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// Rewrites a log entry's outcome (a job's attempt, once it ends).
    pub async fn settle_log(&self, id: Uuid, status: LogStatus, details: &str) -> DbResult<()> {
        sqlx::query(
            "UPDATE synchronization_log SET status = $1, details = $2, updated_at = $3, \
             version = version + 1 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(details)
        .bind(now())
        .bind(id.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }
}

/// A request for documents, as the job that carries it out needs it.
#[derive(Debug, Clone)]
pub struct RequestState {
    pub types: Vec<domain::DocumentType>,
    pub note: Option<String>,
    pub status: LogStatus,
    /// The Task (or CommunicationRequest) at the PHP, once sent: `Type/id`.
    pub php_reference: Option<String>,
    pub log_id: Uuid,
}

impl Db {
    pub async fn request_state(&self, id: Uuid) -> DbResult<Option<RequestState>> {
        let row = sqlx::query("SELECT types, note, status, php_reference, log_id FROM document_requests WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let types = row
            .text("types")?
            .split(',')
            .filter(|t| !t.is_empty())
            .map(super::parse_kind)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(RequestState {
            types,
            note: row.opt_text("note")?,
            status: super::parse_kind(&row.text("status")?)?,
            php_reference: row.opt_text("php_reference")?,
            log_id: row.id("log_id")?,
        }))
    }

    /// Moves a request on, and its log entry with it.
    pub async fn settle_request(
        &self,
        id: Uuid,
        status: LogStatus,
        php_reference: Option<&str>,
        details: &str,
    ) -> DbResult<()> {
        let mut tx = self.writer().begin().await?;
        let log_id: String = sqlx::query_scalar(
            "UPDATE document_requests SET status = $1, php_reference = COALESCE($2, php_reference), \
             updated_at = $3, version = version + 1 WHERE id = $4 RETURNING log_id",
        )
        .bind(status.as_str())
        .bind(php_reference)
        .bind(now())
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE synchronization_log SET status = $1, details = $2, updated_at = $3, \
             version = version + 1 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(details)
        .bind(now())
        .bind(log_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
