//! What the app's screens read from the replica: pages of patients with their sync state,
//! filtered documents, the sync log, counts for the status bar. Plain queries over the
//! replica; nothing here needs a connection.

use crate::replica::Replica;
use crate::{Result, SyncError};
use domain::dto::SyncTable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Where a row stands between this replica and the platform, as a badge shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// The platform has every edit made here.
    Synced,
    /// Edits made here wait for the next sync.
    Pending,
    /// The platform kept a different value of a field edited here: a person must choose.
    Conflict,
    /// The platform refused an edit made here, or its own sync with the PHP or Carepatron
    /// failed (`sync_error`).
    Error,
}

/// A patient in the list.
#[derive(Debug, Clone, Serialize)]
pub struct PatientSummary {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub sync_state: SyncState,
}

/// One page of the patient list.
#[derive(Debug, Clone, Serialize)]
pub struct PatientPage {
    /// Patients matching the search, all pages together.
    pub total: i64,
    pub offset: i64,
    pub items: Vec<PatientSummary>,
}

/// A patient with everything the detail screen shows.
#[derive(Debug, Clone, Serialize)]
pub struct PatientDetail {
    pub patient: Value,
    pub sync_state: SyncState,
    /// Fields with an open conflict.
    pub conflicted_fields: Vec<String>,
    /// Deleted here but changed on the platform since, so it is back until the person
    /// decides (the conflicts screen says how).
    pub deletion_in_question: bool,
}

/// Filters of the document list; all optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DocumentFilter {
    pub patient_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
    /// Words matched against titles and the text of documents fetched so far (full text).
    pub text: Option<String>,
    pub limit: Option<i64>,
}

/// A document in a list (no body).
#[derive(Debug, Clone, Serialize)]
pub struct DocumentSummary {
    #[serde(flatten)]
    pub document: Value,
    pub sync_state: SyncState,
}

/// Filters of the sync log.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LogFilter {
    pub status: Option<String>,
    pub action: Option<String>,
    pub patient_id: Option<Uuid>,
    /// A word in the details.
    pub text: Option<String>,
    pub limit: Option<i64>,
}

/// What the status bar shows.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaStatus {
    /// Edits waiting for the platform.
    pub pending: i64,
    pub conflicts: i64,
    /// Edits the platform refused, kept with its reason.
    pub rejected: i64,
    pub last_sync: Option<String>,
}

/// An edit the platform refused.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedEdit {
    pub mutation_id: String,
    pub table: String,
    pub row_id: Uuid,
    pub op: String,
    pub fields: Value,
    pub code: String,
    pub reason: String,
    pub created_at: String,
}

/// The outcome of creating a patient.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum NewPatientOutcome {
    Created {
        id: Uuid,
    },
    /// One of the user's patients has this email already: open it instead.
    Duplicate {
        existing_id: Uuid,
        name: String,
    },
}

const LIST_LIMIT: i64 = 500;

/// SQL for the sync state of row `r` of `table`, for the documents of a patient included.
fn state_sql(table: &str, with_documents: bool) -> String {
    let documents = if with_documents {
        " OR EXISTS (SELECT 1 FROM outbox o JOIN rows d ON d.table_name = o.table_name AND d.id = o.row_id \
         WHERE o.table_name = 'healthcare_documents' AND json_extract(d.data, '$.patient_id') = r.id)"
    } else {
        ""
    };
    format!(
        "CASE \
         WHEN EXISTS (SELECT 1 FROM conflicts c WHERE c.table_name = '{table}' AND c.row_id = r.id AND c.resolved_at IS NULL) THEN 'conflict' \
         WHEN EXISTS (SELECT 1 FROM rejected x WHERE x.table_name = '{table}' AND x.row_id = r.id) \
              OR json_extract(r.data, '$.sync_error') IS NOT NULL THEN 'error' \
         WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.table_name = '{table}' AND o.row_id = r.id){documents} THEN 'pending' \
         ELSE 'synced' END"
    )
}

fn parse_state(s: &str) -> SyncState {
    match s {
        "conflict" => SyncState::Conflict,
        "error" => SyncState::Error,
        "pending" => SyncState::Pending,
        _ => SyncState::Synced,
    }
}

fn like_pattern(search: &str) -> String {
    let escaped = search
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn uuid(s: &str) -> Result<Uuid> {
    s.parse().map_err(|_| SyncError::NotFound("row id"))
}

impl Replica {
    /// Patients by name, `limit` from `offset`, whose name or email contains `search`.
    pub async fn patient_page(&self, search: &str, offset: i64, limit: i64) -> Result<PatientPage> {
        let pattern = like_pattern(search);
        let filter = "r.table_name = 'patients' AND (?1 = '%%' OR lower(json_extract(r.data, '$.name')) LIKE ?1 ESCAPE '\\' \
                      OR lower(json_extract(r.data, '$.email')) LIKE ?1 ESCAPE '\\')";
        let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM rows r WHERE {filter}"))
            .bind(&pattern)
            .fetch_one(self.pool())
            .await?;
        let rows: Vec<(String, Option<String>, Option<String>, String)> = sqlx::query_as(&format!(
            "SELECT r.id, json_extract(r.data, '$.name'), json_extract(r.data, '$.email'), {} \
             FROM rows r WHERE {filter} \
             ORDER BY lower(json_extract(r.data, '$.name')), r.id LIMIT ?2 OFFSET ?3",
            state_sql("patients", true)
        ))
        .bind(&pattern)
        .bind(limit.clamp(1, LIST_LIMIT))
        .bind(offset.max(0))
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .into_iter()
            .map(|(id, name, email, state)| {
                Ok(PatientSummary {
                    id: uuid(&id)?,
                    name: name.unwrap_or_default(),
                    email: email.unwrap_or_default(),
                    sync_state: parse_state(&state),
                })
            })
            .collect::<Result<_>>()?;
        Ok(PatientPage {
            total,
            offset: offset.max(0),
            items,
        })
    }

    /// One patient, with its sync state and conflicted fields.
    pub async fn patient_detail(&self, id: Uuid) -> Result<PatientDetail> {
        let row: Option<(String, String)> = sqlx::query_as(&format!(
            "SELECT r.data, {} FROM rows r WHERE r.table_name = 'patients' AND r.id = ?",
            state_sql("patients", true)
        ))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        let (data, state) = row.ok_or(SyncError::NotFound("patient"))?;
        let open: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT kind, field FROM conflicts WHERE table_name = 'patients' AND row_id = ? \
             AND resolved_at IS NULL",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(PatientDetail {
            patient: serde_json::from_str(&data)?,
            sync_state: parse_state(&state),
            deletion_in_question: open.iter().any(|(kind, _)| kind == "edited_on_server"),
            conflicted_fields: open
                .into_iter()
                .filter(|(kind, _)| kind == "fields")
                .map(|(_, field)| field)
                .collect(),
        })
    }

    /// Creates a patient, unless one with this email (case-insensitively) is here already.
    pub async fn create_patient(&self, fields: Map<String, Value>) -> Result<NewPatientOutcome> {
        let email = fields
            .get("email")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        let name = fields
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        if name.is_empty() || !email.contains('@') {
            return Err(SyncError::Invalid(
                "a patient needs a name and an email address".into(),
            ));
        }
        let existing: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, json_extract(data, '$.name') FROM rows WHERE table_name = 'patients' \
             AND lower(json_extract(data, '$.email')) = lower(?) LIMIT 1",
        )
        .bind(email)
        .fetch_optional(self.pool())
        .await?;
        if let Some((id, name)) = existing {
            return Ok(NewPatientOutcome::Duplicate {
                existing_id: uuid(&id)?,
                name: name.unwrap_or_default(),
            });
        }
        let id = self.insert(SyncTable::Patients, fields).await?;
        Ok(NewPatientOutcome::Created { id })
    }

    /// Documents matching `filter`: newest first, or most recently added or changed first
    /// when only words are given.
    pub async fn documents(&self, filter: &DocumentFilter) -> Result<Vec<DocumentSummary>> {
        let state = state_sql("healthcare_documents", false);
        let terms = filter.text.as_deref().map(fts_terms).unwrap_or_default();
        let narrowed = filter.patient_id.is_some()
            || filter.kind.is_some()
            || filter.from.is_some()
            || filter.to.is_some();
        let sql = if !terms.is_empty() && !narrowed {
            // Words alone: matches straight from the index, most recently added or changed
            // first (the index's own order, so a word in every title reads `limit` entries,
            // not all of them: ranking by relevance scored every match, 280 ms at 100,000),
            // and only those rows read: CROSS JOIN keeps SQLite from scanning every row and
            // probing the matches instead (100 ms, not 5, at 100,000 encrypted documents).
            format!(
                "SELECT r.data, {state} FROM (SELECT rowid AS n, doc_id FROM document_search \
                 WHERE document_search MATCH ?1 ORDER BY rowid DESC LIMIT ?6) s \
                 CROSS JOIN rows r ON r.table_name = 'healthcare_documents' AND r.id = s.doc_id \
                 ORDER BY s.n DESC"
            )
        } else {
            let mut sql = format!(
                "SELECT r.data, {state} FROM rows r WHERE r.table_name = 'healthcare_documents'"
            );
            let conditions = [
                (
                    !terms.is_empty(),
                    " AND r.id IN (SELECT doc_id FROM document_search WHERE document_search MATCH ?1)",
                ),
                (
                    filter.patient_id.is_some(),
                    " AND json_extract(r.data, '$.patient_id') = ?2",
                ),
                (
                    filter.kind.is_some(),
                    " AND json_extract(r.data, '$.type') = ?3",
                ),
                (
                    filter.from.is_some(),
                    " AND json_extract(r.data, '$.date') >= ?4",
                ),
                (
                    filter.to.is_some(),
                    " AND json_extract(r.data, '$.date') <= ?5",
                ),
            ];
            for (on, condition) in conditions {
                if on {
                    sql.push_str(condition);
                }
            }
            // Newest first, walking the date index (no sort of every document).
            sql.push_str(" ORDER BY json_extract(r.data, '$.date') DESC, r.id DESC LIMIT ?6");
            sql
        };
        let rows: Vec<(String, String)> = sqlx::query_as(&sql)
            .bind(&terms)
            .bind(filter.patient_id.map(|p| p.to_string()))
            .bind(&filter.kind)
            .bind(&filter.from)
            .bind(&filter.to)
            .bind(filter.limit.unwrap_or(LIST_LIMIT).clamp(1, 5_000))
            .fetch_all(self.pool())
            .await?;
        rows.into_iter()
            .map(|(data, state)| {
                Ok(DocumentSummary {
                    document: serde_json::from_str(&data)?,
                    sync_state: parse_state(&state),
                })
            })
            .collect()
    }

    /// The synchronization log as the platform reported it, newest first.
    pub async fn sync_log(&self, filter: &LogFilter) -> Result<Vec<Value>> {
        let mut sql =
            String::from("SELECT data FROM rows WHERE table_name = 'synchronization_log'");
        let conditions = [
            (
                filter.status.is_some(),
                " AND json_extract(data, '$.status') = ?1",
            ),
            (
                filter.action.is_some(),
                " AND json_extract(data, '$.action') = ?2",
            ),
            (
                filter.patient_id.is_some(),
                " AND json_extract(data, '$.patient_id') = ?3",
            ),
            (
                filter.text.as_deref().is_some_and(|t| !t.trim().is_empty()),
                " AND lower(json_extract(data, '$.details')) LIKE ?4 ESCAPE '\\'",
            ),
        ];
        for (on, condition) in conditions {
            if on {
                sql.push_str(condition);
            }
        }
        sql.push_str(" ORDER BY json_extract(data, '$.timestamp') DESC LIMIT ?5");
        let rows: Vec<String> = sqlx::query_scalar(&sql)
            .bind(&filter.status)
            .bind(&filter.action)
            .bind(filter.patient_id.map(|p| p.to_string()))
            .bind(like_pattern(filter.text.as_deref().unwrap_or_default()))
            .bind(filter.limit.unwrap_or(LIST_LIMIT).clamp(1, 5_000))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|d| Ok(serde_json::from_str(d)?)).collect()
    }

    /// Counts for the status bar.
    pub async fn status(&self) -> Result<ReplicaStatus> {
        let (pending, conflicts, rejected): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM outbox), \
             (SELECT count(*) FROM conflicts WHERE resolved_at IS NULL), \
             (SELECT count(*) FROM rejected)",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(ReplicaStatus {
            pending,
            conflicts,
            rejected,
            last_sync: self.state("last_sync").await?,
        })
    }

    /// Practitioners a document can be shared with (the directory in the replica), by name.
    pub async fn practitioners(&self) -> Result<Vec<Value>> {
        self.json_rows(
            "SELECT data FROM rows WHERE table_name = 'users' \
             AND json_extract(data, '$.type') = 'practitioner' ORDER BY json_extract(data, '$.name')",
            None,
        )
        .await
    }

    /// The live (not revoked) shares of a document.
    pub async fn live_shares(&self, document: Uuid) -> Result<Vec<Value>> {
        self.json_rows(
            "SELECT data FROM rows WHERE table_name = 'document_shares' \
             AND json_extract(data, '$.document_id') = ? AND json_extract(data, '$.revoked_at') IS NULL",
            Some(document.to_string()),
        )
        .await
    }

    async fn json_rows(&self, sql: &str, arg: Option<String>) -> Result<Vec<Value>> {
        let data: Vec<String> = sqlx::query_scalar(sql)
            .bind(arg)
            .fetch_all(self.pool())
            .await?;
        data.iter().map(|d| Ok(serde_json::from_str(d)?)).collect()
    }

    /// Edits the platform refused, newest first.
    pub async fn rejected_edits(&self) -> Result<Vec<RejectedEdit>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            mutation_id: String,
            table_name: String,
            row_id: String,
            op: String,
            fields: String,
            code: String,
            reason: String,
            created_at: String,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT mutation_id, table_name, row_id, op, fields, code, reason, created_at \
             FROM rejected ORDER BY created_at DESC",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(RejectedEdit {
                    row_id: uuid(&r.row_id)?,
                    fields: serde_json::from_str(&r.fields)?,
                    mutation_id: r.mutation_id,
                    table: r.table_name,
                    op: r.op,
                    code: r.code,
                    reason: r.reason,
                    created_at: r.created_at,
                })
            })
            .collect()
    }

    /// Forgets a refused edit once its owner has read it (what it held is shown until then).
    pub async fn dismiss_rejected(&self, mutation_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM rejected WHERE mutation_id = ?")
            .bind(mutation_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// Each word quoted (FTS syntax characters in user input are text), as a prefix.
fn fts_terms(query: &str) -> String {
    query
        .split_whitespace()
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn replica() -> (Replica, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("views-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        (Replica::open(&dir.join("r.db")).await.expect("open"), dir)
    }

    fn fields(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[tokio::test]
    async fn patients_page_by_name_search_and_refuse_a_duplicate_email() {
        let (r, dir) = replica().await;
        for (name, email) in [
            ("Cleo", "c@x.org"),
            ("ana", "a@x.org"),
            ("Bruno", "b@x.org"),
        ] {
            let out = r
                .create_patient(fields(json!({"name": name, "email": email})))
                .await
                .expect("create");
            assert!(matches!(out, NewPatientOutcome::Created { .. }));
        }
        let page = r.patient_page("", 1, 2).await.expect("page");
        assert_eq!(page.total, 3);
        let names: Vec<_> = page.items.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["Bruno", "Cleo"],
            "case-insensitive order, from offset 1"
        );
        assert!(page
            .items
            .iter()
            .all(|p| p.sync_state == SyncState::Pending));
        let found = r.patient_page("B@X", 0, 10).await.expect("search");
        assert_eq!((found.total, found.items[0].name.as_str()), (1, "Bruno"));
        // LIKE wildcards in the search are text.
        assert_eq!(r.patient_page("%", 0, 10).await.expect("search").total, 0);

        let dup = r
            .create_patient(fields(json!({"name": "Ana again", "email": "A@x.org"})))
            .await
            .expect("duplicate check");
        match dup {
            NewPatientOutcome::Duplicate { name, .. } => assert_eq!(name, "ana"),
            other => panic!("expected a duplicate, got {other:?}"),
        }
        assert!(matches!(
            r.create_patient(fields(json!({"name": "", "email": "e@x.org"})))
                .await,
            Err(SyncError::Invalid(_))
        ));
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[tokio::test]
    async fn documents_filter_by_patient_type_dates_and_words() {
        let (r, dir) = replica().await;
        let p = r
            .insert(
                SyncTable::Patients,
                fields(json!({"name": "Ana Lima", "email": "ana@example.org"})),
            )
            .await
            .expect("patient")
            .to_string();
        let docs = [
            (
                "lab report",
                "2026-01-10",
                "Lipid panel",
                "cholesterol high",
            ),
            ("progress note", "2026-02-01", "Follow-up", "weight stable"),
            ("lab report", "2026-03-05", "Iron", "ferritin low"),
        ];
        let mut ids = Vec::new();
        for (kind, date, title, content) in docs {
            let id = r.insert(
                SyncTable::HealthcareDocuments,
                fields(json!({"patient_id": p, "type": kind, "date": date, "title": title, "content": content})),
            )
            .await
            .expect("insert");
            ids.push(id);
        }
        // Written here, readable here at once: the text is kept as the body.
        let (mime, body) = r.cached_body(ids[2]).await.expect("body").expect("kept");
        assert_eq!(
            (mime.as_str(), body.as_slice()),
            ("text/plain", b"ferritin low".as_slice())
        );
        let titles = |v: Vec<DocumentSummary>| -> Vec<String> {
            v.iter()
                .map(|d| d.document["title"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        let all = DocumentFilter {
            patient_id: Some(p.parse().expect("uuid")),
            ..Default::default()
        };
        assert_eq!(
            titles(r.documents(&all).await.expect("all")),
            ["Iron", "Follow-up", "Lipid panel"],
            "newest first"
        );
        let labs_since_feb = DocumentFilter {
            kind: Some("lab report".into()),
            from: Some("2026-02-01".into()),
            ..all.clone()
        };
        assert_eq!(
            titles(r.documents(&labs_since_feb).await.expect("labs")),
            ["Iron"]
        );
        let words = DocumentFilter {
            text: Some("lipid".into()),
            ..all.clone()
        };
        assert_eq!(
            titles(r.documents(&words).await.expect("fts")),
            ["Lipid panel"]
        );
        let in_text = DocumentFilter {
            text: Some("ferrit".into()),
            ..all.clone()
        };
        assert_eq!(
            titles(r.documents(&in_text).await.expect("text")),
            ["Iron"],
            "words of a document's text, as prefixes"
        );
        let words_alone = DocumentFilter {
            text: Some("ferrit".into()),
            ..Default::default()
        };
        assert_eq!(
            titles(r.documents(&words_alone).await.expect("text")),
            ["Iron"]
        );
        let other_patient = DocumentFilter {
            patient_id: Some(Uuid::now_v7()),
            ..Default::default()
        };
        assert!(r.documents(&other_patient).await.expect("none").is_empty());
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[tokio::test]
    async fn the_share_picker_lists_practitioners_by_name_and_a_documents_live_shares() {
        let (r, dir) = replica().await;
        for (name, kind) in [
            ("Zed", "practitioner"),
            ("Dee", "dietician"),
            ("Amy", "practitioner"),
        ] {
            r.insert(
                SyncTable::Users,
                fields(json!({"name": name, "type": kind})),
            )
            .await
            .expect("user");
        }
        let names: Vec<_> = r
            .practitioners()
            .await
            .expect("practitioners")
            .iter()
            .map(|u| u["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, ["Amy", "Zed"]);

        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        for (doc, revoked) in [
            (a, json!(null)),
            (a, json!("2026-11-01T00:00:00Z")),
            (b, json!(null)),
        ] {
            r.insert(
                SyncTable::DocumentShares,
                fields(json!({"document_id": doc.to_string(), "revoked_at": revoked})),
            )
            .await
            .expect("share");
        }
        let live = r.live_shares(a).await.expect("shares");
        assert_eq!(
            live.len(),
            1,
            "the revoked share and the other document's are left out"
        );
        assert_eq!(live[0]["document_id"], a.to_string());
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}
