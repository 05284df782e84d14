//! Storage of the PHI read audit trail: what an entry is, and writing and reading them (see
//! `crate::audit` for how entries arrive).

use super::{cursor, paginate, Db, DbResult, RowExt, Sql};
use domain::dto::{AuditEntry, AuditQuery};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;
use std::sync::LazyLock;
use uuid::Uuid;

/// What was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Patient,
    Document,
    DocumentContent,
    DocumentList,
    SharedDocuments,
    /// A patient's measurements over time (a list, or a page's values sent to a replica).
    Measurements,
    /// A new-patient inquiry (read, listed, or sent to a replica).
    Inquiry,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Patient => "patient",
            Entity::Document => "document",
            Entity::DocumentContent => "document content",
            Entity::DocumentList => "document list",
            Entity::SharedDocuments => "shared documents",
            Entity::Measurements => "measurements",
            Entity::Inquiry => "inquiry",
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

/// Rows per multi-row insert (6 parameters each).
const CHUNK: usize = 32;

fn insert_statement(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p: Vec<String> = (1..=6).map(|c| format!("${}", r * 6 + c)).collect();
            format!("({})", p.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO phi_access_log (user_id, action, entity, entity_id, patient_id, at) VALUES {}",
        values.join(", ")
    )
}

static CHUNK_INSERT: LazyLock<String> = LazyLock::new(|| insert_statement(CHUNK));
static ROW_INSERT: LazyLock<String> = LazyLock::new(|| insert_statement(1));

fn bind_entries<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    entries: &'q [Entry],
) -> Query<'q, Any, AnyArguments<'q>> {
    for e in entries {
        q = q
            .bind(e.user_id.to_string())
            .bind("read")
            .bind(e.entity.as_str())
            .bind(e.entity_id.map(|u| u.to_string()))
            .bind(e.patient_id.map(|u| u.to_string()))
            .bind(e.at.as_str());
    }
    q
}

impl Db {
    /// Stores a batch of entries in one transaction: full chunks of [`CHUNK`] rows through one
    /// multi-row statement, the rest one row at a time. Both statement texts are fixed, so they
    /// stay prepared. (Passing the batch as one JSON parameter cost SQLite ~50,000 instructions
    /// per entry in JSON parsing; this costs a small fraction of that.)
    pub async fn insert_audit_entries(&self, batch: &[Entry]) -> DbResult<()> {
        let mut tx = self.audit().begin().await?;
        let mut chunks = batch.chunks_exact(CHUNK);
        for chunk in chunks.by_ref() {
            bind_entries(sqlx::query(&CHUNK_INSERT), chunk)
                .execute(&mut *tx)
                .await?;
        }
        for entry in chunks.remainder() {
            bind_entries(sqlx::query(&ROW_INSERT), std::slice::from_ref(entry))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The trail, newest first, optionally about one patient or by one user.
    pub async fn list_audit_entries(
        &self,
        filter: &AuditQuery,
        limit: usize,
        before: Option<i64>,
    ) -> DbResult<(Vec<AuditEntry>, Option<String>)> {
        let mut sql = Sql::new(
            "SELECT seq, user_id, action, entity, entity_id, patient_id, at FROM phi_access_log \
             WHERE 1 = 1",
        );
        if let Some(p) = filter.patient_id {
            sql.push(" AND patient_id = ").bind(p);
        }
        if let Some(u) = filter.user_id {
            sql.push(" AND user_id = ").bind(u);
        }
        // `at` is stored as RFC 3339 in UTC (domain::time::stamp): a day's reads sort between
        // that day and the next as text.
        if let Some(from) = filter.from {
            sql.push(" AND at >= ").bind(from.to_string());
        }
        if let Some(next) = filter.to.and_then(|to| to.succ_opt()) {
            sql.push(" AND at < ").bind(next.to_string());
        }
        if let Some(seq) = before {
            sql.push(" AND seq < ").bind(seq);
        }
        sql.push(" ORDER BY seq DESC LIMIT ").bind(limit as i64 + 1);
        let rows = sql
            .fetch_all(self.audit())
            .await?
            .iter()
            .map(|row| {
                Ok(AuditEntry {
                    seq: row.int("seq")?,
                    user_id: row.id("user_id")?,
                    action: row.text("action")?,
                    entity: row.text("entity")?,
                    entity_id: row.opt_id("entity_id")?,
                    patient_id: row.opt_id("patient_id")?,
                    at: row.time("at")?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(paginate(rows, limit, |e| {
            cursor::encode(&[&e.seq.to_string()])
        }))
    }
}
