//! What the Carepatron reconcile reads and records: a patient's rows with their Carepatron
//! ids and fingerprints. Recording an id or fingerprint does not bump a row's `version`:
//! it is bookkeeping, not an edit. A share's delivery state (`carepatron_delivery`) is for
//! people to see, so a change of it does.

use super::logs::{insert_log, NewLogEntry};
use super::{now, patients, Bind, Db, DbResult, RowExt, Sql};
use chrono::{DateTime, Utc};
use connectors::carepatron::PatientView;
use domain::dto::{Patient, SyncTable};
use domain::kinds::ShareDelivery;
use uuid::Uuid;

/// Where a row stands with Carepatron (`carepatron_synced` of patients, documents and shares),
/// converted to and from its stored text here only (the queries bind [`Mark::to_stored`] too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// As recorded: the client or share is there, with the id the row holds.
    Done,
    /// A document as last pushed: fingerprints of its metadata and of its content, so a
    /// change of either sends only that part.
    Pushed { meta: String, content: String },
    /// A create is under way or went unanswered, the last moment it could have landed being
    /// `since`: look for it before creating again.
    Creating { since: DateTime<Utc> },
    /// The client changed in Carepatron since the platform last read it (the poll saw it).
    Stale,
    /// The client was archived there (the patient was deleted here).
    Archived,
    /// Deleted there (a document or a share).
    Deleted,
}

impl Mark {
    /// The stored text: `done`, `stale`, `archived`, `deleted`, `creating <RFC 3339>`, or
    /// `<meta>:<content>`.
    fn to_stored(&self) -> String {
        match self {
            Self::Done => "done".into(),
            Self::Stale => "stale".into(),
            Self::Archived => "archived".into(),
            Self::Deleted => "deleted".into(),
            Self::Creating { since } => format!("creating {}", domain::time::stamp(*since)),
            Self::Pushed { meta, content } => format!("{meta}:{content}"),
        }
    }

    fn from_stored(s: &str) -> Self {
        match s {
            "done" => Self::Done,
            "stale" => Self::Stale,
            "archived" => Self::Archived,
            "deleted" => Self::Deleted,
            _ => match s.strip_prefix("creating") {
                Some(at) => Self::Creating {
                    // A time that cannot be read is taken as long past: its lag is over.
                    since: DateTime::parse_from_rfc3339(at.trim())
                        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.to_utc()),
                },
                None => {
                    let (meta, content) = s.split_once(':').unwrap_or((s, ""));
                    Self::Pushed {
                        meta: meta.to_owned(),
                        content: content.to_owned(),
                    }
                }
            },
        }
    }

    fn read(row: &sqlx::any::AnyRow) -> anyhow::Result<Option<Self>> {
        Ok(row
            .opt_text("carepatron_synced")?
            .as_deref()
            .map(Self::from_stored))
    }
}

/// A patient (deleted ones too) with its Carepatron state.
#[derive(Debug, Clone)]
pub struct PatientState {
    pub patient: Patient,
    pub deleted: bool,
    /// The fields as both sides last agreed.
    pub snapshot: Option<PatientView>,
    pub synced: Option<Mark>,
}

/// A document of the patient, with what Carepatron has of it.
#[derive(Debug, Clone)]
pub struct DocumentState {
    pub id: Uuid,
    pub kind: String,
    pub date: String,
    pub title: String,
    pub author: Option<String>,
    pub mime_type: String,
    pub source: String,
    pub content_hash: String,
    pub remote_id: Option<String>,
    pub synced: Option<Mark>,
    pub deleted: bool,
}

/// A share of one of the patient's documents.
#[derive(Debug, Clone)]
pub struct ShareState {
    pub id: Uuid,
    pub document_id: Uuid,
    pub practitioner_id: Uuid,
    pub practitioner_email: String,
    pub practitioner_member_id: Option<String>,
    pub remote_id: Option<String>,
    pub synced: Option<Mark>,
    pub deleted: bool,
}

impl Db {
    pub async fn carepatron_patient(&self, id: Uuid) -> DbResult<Option<PatientState>> {
        let row = sqlx::query(&format!(
            "SELECT {}, deleted_at, carepatron_snapshot, carepatron_synced FROM patients WHERE id = $1",
            patients::COLS
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(PatientState {
            patient: patients::patient_from_row(&row)?,
            deleted: row.opt_text("deleted_at")?.is_some(),
            snapshot: row
                .opt_text("carepatron_snapshot")?
                .map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(anyhow::Error::from)?,
            synced: Mark::read(&row)?,
        }))
    }

    /// Records the patient's client: its id (once known), state and agreed fields.
    pub async fn set_client(
        &self,
        patient_id: Uuid,
        client_id: Option<&str>,
        synced: &Mark,
        snapshot: Option<&PatientView>,
    ) -> DbResult<()> {
        let snapshot = snapshot.map(|s| serde_json::to_string(s).expect("a view serialises"));
        sqlx::query(
            "UPDATE patients SET carepatron_patient_id = COALESCE($1, carepatron_patient_id), \
             carepatron_synced = $2, carepatron_snapshot = COALESCE($3, carepatron_snapshot) WHERE id = $4",
        )
        .bind(client_id)
        .bind(synced.to_stored())
        .bind(snapshot)
        .bind(patient_id.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Records the fields both sides now agree on. A `stale` mark the poll set while this
    /// reconcile ran stays (its change may not have been read); one it saw is cleared.
    pub async fn client_agreed(
        &self,
        patient_id: Uuid,
        view: &PatientView,
        saw_stale: bool,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE patients SET carepatron_snapshot = $1, carepatron_synced = CASE \
             WHEN carepatron_synced = $4 AND $2 = 0 THEN $4 ELSE $5 END WHERE id = $3",
        )
        .bind(serde_json::to_string(view).expect("a view serialises"))
        .bind(i64::from(saw_stale))
        .bind(patient_id.to_string())
        .bind(Mark::Stale.to_stored())
        .bind(Mark::Done.to_stored())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Takes client details changed in Carepatron into the patient: an edit like any other
    /// (version bumped, replicas receive it).
    pub async fn take_client_details(&self, patient_id: Uuid, view: &PatientView) -> DbResult<()> {
        let mut sql = Sql::new("UPDATE patients SET name = ");
        sql.bind(view.name.as_str())
            .push(", email = ")
            .bind(view.email.as_str())
            .push(", contact_details = ")
            .bind(Bind::from(view.contact_details.clone()))
            .push(", medical_history = ")
            .bind(Bind::from(view.medical_history.clone()))
            .push(", dietary_preferences = ")
            .bind(Bind::from(view.dietary_preferences.clone()))
            .push(", updated_at = ")
            .bind(now())
            .push(", version = version + 1 WHERE id = ")
            .bind(patient_id);
        sql.query().execute(self.writer()).await?;
        Ok(())
    }

    /// The patient's documents: live ones, and deleted ones Carepatron may still hold.
    pub async fn carepatron_documents(&self, patient_id: Uuid) -> DbResult<Vec<DocumentState>> {
        let rows = sqlx::query(
            "SELECT id, type, date, title, author, mime_type, source, content_hash, \
             carepatron_document_id, carepatron_synced, deleted_at FROM healthcare_documents \
             WHERE patient_id = $1 AND (deleted_at IS NULL OR (carepatron_document_id IS NOT NULL \
             AND (carepatron_synced IS NULL OR carepatron_synced <> $2))) ORDER BY id",
        )
        .bind(patient_id.to_string())
        .bind(Mark::Deleted.to_stored())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DocumentState {
                    id: r.id("id")?,
                    kind: r.text("type")?,
                    date: r.text("date")?,
                    title: r.text("title")?,
                    author: r.opt_text("author")?,
                    mime_type: r.text("mime_type")?,
                    source: r.text("source")?,
                    content_hash: r.text("content_hash")?,
                    remote_id: r.opt_text("carepatron_document_id")?,
                    synced: Mark::read(r)?,
                    deleted: r.opt_text("deleted_at")?.is_some(),
                })
            })
            .collect()
    }

    /// The bytes of a document's body (text or blob).
    pub async fn document_bytes(&self, id: Uuid) -> DbResult<Vec<u8>> {
        let row =
            sqlx::query("SELECT content, content_hash FROM healthcare_documents WHERE id = $1")
                .bind(id.to_string())
                .fetch_one(&self.pool)
                .await?;
        if let Some(text) = row.opt_text("content")? {
            return Ok(text.into_bytes());
        }
        Ok(self
            .blob(&row.text("content_hash")?)
            .await?
            .unwrap_or_default())
    }

    pub async fn set_document_remote(
        &self,
        id: Uuid,
        remote_id: Option<&str>,
        synced: &Mark,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE healthcare_documents SET carepatron_document_id = COALESCE($1, carepatron_document_id), \
             carepatron_synced = $2 WHERE id = $3",
        )
        .bind(remote_id)
        .bind(synced.to_stored())
        .bind(id.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Shares of the patient's documents: live ones not yet in Carepatron, revoked ones
    /// Carepatron may still hold.
    pub async fn carepatron_shares(&self, patient_id: Uuid) -> DbResult<Vec<ShareState>> {
        let rows = sqlx::query(
            "SELECT s.id, s.document_id, s.practitioner_id, u.email, u.carepatron_id, \
             s.carepatron_share_id, s.carepatron_synced, s.deleted_at FROM document_shares s \
             JOIN healthcare_documents d ON d.id = s.document_id JOIN users u ON u.id = s.practitioner_id \
             WHERE d.patient_id = $1 AND ((s.deleted_at IS NULL AND s.carepatron_share_id IS NULL) \
             OR (s.deleted_at IS NOT NULL AND s.carepatron_share_id IS NOT NULL \
             AND (s.carepatron_synced IS NULL OR s.carepatron_synced <> $2))) ORDER BY s.id",
        )
        .bind(patient_id.to_string())
        .bind(Mark::Deleted.to_stored())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ShareState {
                    id: r.id("id")?,
                    document_id: r.id("document_id")?,
                    practitioner_id: r.id("practitioner_id")?,
                    practitioner_email: r.text("email")?,
                    practitioner_member_id: r.opt_text("carepatron_id")?,
                    remote_id: r.opt_text("carepatron_share_id")?,
                    synced: Mark::read(r)?,
                    deleted: r.opt_text("deleted_at")?.is_some(),
                })
            })
            .collect()
    }

    pub async fn set_share_remote(
        &self,
        id: Uuid,
        remote_id: Option<&str>,
        synced: &Mark,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE document_shares SET carepatron_share_id = COALESCE($1, carepatron_share_id), \
             carepatron_synced = $2 WHERE id = $3",
        )
        .bind(remote_id)
        .bind(synced.to_stored())
        .bind(id.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Records whether a share reached Carepatron (with its id there once delivered). A change
    /// of state is an edit replicas receive (version bumped, so the change feed carries it),
    /// and `log`, given the state it had, may add an entry in the same transaction. Returns
    /// the state it had when it changed; `None` when it stays (nothing bumped or logged).
    pub async fn set_share_delivery(
        &self,
        id: Uuid,
        delivery: ShareDelivery,
        remote_id: Option<&str>,
        log: impl FnOnce(ShareDelivery) -> Option<NewLogEntry>,
    ) -> DbResult<Option<ShareDelivery>> {
        let mut tx = self.writer().begin().await?;
        let had: Option<String> =
            sqlx::query_scalar("SELECT carepatron_delivery FROM document_shares WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(had) = had else {
            return Ok(None);
        };
        let had: ShareDelivery = super::parse_kind(&had)?;
        if let Some(remote) = remote_id {
            sqlx::query(
                "UPDATE document_shares SET carepatron_share_id = $1, carepatron_synced = $3 \
                 WHERE id = $2",
            )
            .bind(remote)
            .bind(id.to_string())
            .bind(Mark::Done.to_stored())
            .execute(&mut *tx)
            .await?;
        }
        if had == delivery {
            tx.commit().await?;
            return Ok(None);
        }
        sqlx::query(
            "UPDATE document_shares SET carepatron_delivery = $1, updated_at = $2, \
             version = version + 1 WHERE id = $3",
        )
        .bind(delivery.as_str())
        .bind(now())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if let Some(entry) = log(had) {
            insert_log(&mut *tx, entry).await?;
        }
        tx.commit().await?;
        Ok(Some(had))
    }

    /// Aligns the live shares not in Carepatron with whether the platform has a Carepatron
    /// integration (`configured`): without one they are `not_configured` (nothing is
    /// expected); with one, those left `not_configured` are `pending` again (the reconcile their
    /// new version queues pushes them). Only `patient`'s shares when given. Each share changed
    /// is an edit replicas receive. Returns how many changed.
    pub async fn align_share_delivery(
        &self,
        configured: bool,
        patient: Option<Uuid>,
    ) -> DbResult<u64> {
        let (to, from) = if configured {
            ("'pending'", "('not_configured')")
        } else {
            ("'not_configured'", "('pending', 'not_on_team', 'failed')")
        };
        let mut sql = Sql::new(&format!(
            "UPDATE document_shares SET carepatron_delivery = {to}, version = version + 1, \
             updated_at = "
        ));
        sql.bind(now()).push(&format!(
            " WHERE deleted_at IS NULL AND carepatron_share_id IS NULL \
             AND carepatron_delivery IN {from}"
        ));
        if let Some(patient) = patient {
            sql.push(
                " AND document_id IN (SELECT id FROM healthcare_documents WHERE patient_id = ",
            )
            .bind(patient)
            .push(")");
        }
        Ok(sql.query().execute(self.writer()).await?.rows_affected())
    }

    /// Remembers which Carepatron team member a practitioner is.
    pub async fn set_team_member(&self, user_id: Uuid, member_id: &str) -> DbResult<()> {
        sqlx::query("UPDATE users SET carepatron_id = $1 WHERE id = $2")
            .bind(member_id)
            .bind(user_id.to_string())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The patients whose rows a page of the change feed touched.
    pub async fn patients_touched(&self, changes: &[(SyncTable, Uuid)]) -> DbResult<Vec<Uuid>> {
        let mut out = Vec::new();
        for (table, id) in changes {
            let sql = match table {
                SyncTable::Patients => {
                    out.push(*id);
                    continue;
                }
                SyncTable::HealthcareDocuments => {
                    "SELECT patient_id FROM healthcare_documents WHERE id = $1"
                }
                SyncTable::DocumentShares => {
                    "SELECT d.patient_id FROM document_shares s JOIN healthcare_documents d \
                     ON d.id = s.document_id WHERE s.id = $1"
                }
                SyncTable::Users
                | SyncTable::SynchronizationLog
                | SyncTable::Inquiries
                | SyncTable::Measurements => continue,
            };
            let patient: Option<String> = sqlx::query_scalar(sql)
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
            out.extend(patient.and_then(|p| p.parse::<Uuid>().ok()));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// `(patient id, client id, agreed fields)` of a live patient pushed to Carepatron.
    pub async fn client_link(
        &self,
        patient_id: Uuid,
    ) -> DbResult<Option<(String, Option<PatientView>)>> {
        let row = sqlx::query(
            "SELECT carepatron_patient_id, carepatron_snapshot FROM patients \
             WHERE id = $1 AND deleted_at IS NULL AND carepatron_patient_id IS NOT NULL",
        )
        .bind(patient_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let snapshot = row
            .opt_text("carepatron_snapshot")?
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(anyhow::Error::from)?;
        Ok(Some((row.text("carepatron_patient_id")?, snapshot)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mark_reads_back_as_written() {
        let since = DateTime::parse_from_rfc3339("2026-11-30T10:15:02.123Z")
            .expect("time")
            .to_utc();
        for mark in [
            Mark::Done,
            Mark::Stale,
            Mark::Archived,
            Mark::Deleted,
            Mark::Creating { since },
            Mark::Pushed {
                meta: "9f2c0e11aa03b4d5".into(),
                content: "e3b0c44298fc1c14".into(),
            },
        ] {
            assert_eq!(Mark::from_stored(&mark.to_stored()), mark);
        }
        // Marks written before the type existed (milliseconds, or a time that is not one).
        assert_eq!(
            Mark::from_stored("creating 2026-11-30T10:15:02.123Z"),
            Mark::Creating { since }
        );
        assert_eq!(
            Mark::from_stored("creating soon"),
            Mark::Creating {
                since: DateTime::<Utc>::MIN_UTC
            }
        );
    }
}
