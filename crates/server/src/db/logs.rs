//! The synchronization log: one row per sync action, for people to read. `details` is written
//! by the platform, never copied from health data.

use super::{cursor, now, paginate, Db, DbResult, RowExt, Sql};
use domain::dto::SyncLogEntry;
use domain::{LogAction, LogStatus};
use sqlx::any::AnyRow;
use sqlx::Any;
use uuid::Uuid;

pub(crate) const COLS: &str =
    "id, patient_id, document_id, user_id, action, timestamp, status, details";

/// A log entry to write.
#[derive(Debug)]
pub struct NewLogEntry {
    pub patient_id: Option<Uuid>,
    pub document_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub action: LogAction,
    pub status: LogStatus,
    pub details: Option<String>,
}

/// The list filters of `GET /patients/{id}/logs`.
#[derive(Debug, Default)]
pub struct LogFilter<'a> {
    pub status: Option<LogStatus>,
    pub action: Option<LogAction>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub q: Option<&'a str>,
}

pub(crate) fn entry_from_row(row: &AnyRow) -> anyhow::Result<SyncLogEntry> {
    Ok(SyncLogEntry {
        id: row.id("id")?,
        patient_id: row.opt_id("patient_id")?,
        document_id: row.opt_id("document_id")?,
        user_id: row.opt_id("user_id")?,
        action: super::parse_kind(&row.text("action")?)?,
        timestamp: row.time("timestamp")?,
        status: super::parse_kind(&row.text("status")?)?,
        details: row.opt_text("details")?,
    })
}

/// Writes a log entry with whatever executor the caller holds (a pool, or the transaction of
/// the change it records).
pub(crate) async fn insert_log<'e, E>(executor: E, entry: NewLogEntry) -> DbResult<SyncLogEntry>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let at = now();
    let row = sqlx::query(&format!(
        "INSERT INTO synchronization_log (id, patient_id, document_id, user_id, action, \
         timestamp, status, details, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $6) RETURNING {COLS}"
    ))
    .bind(domain::new_id().to_string())
    .bind(entry.patient_id.map(|u| u.to_string()))
    .bind(entry.document_id.map(|u| u.to_string()))
    .bind(entry.user_id.map(|u| u.to_string()))
    .bind(entry.action.as_str())
    .bind(at)
    .bind(entry.status.as_str())
    .bind(entry.details)
    .fetch_one(executor)
    .await?;
    Ok(entry_from_row(&row)?)
}

impl Db {
    pub async fn insert_log(&self, entry: NewLogEntry) -> DbResult<SyncLogEntry> {
        insert_log(self.writer(), entry).await
    }

    /// A log entry with the owner of its patient (`None` for entries about no patient).
    pub async fn log_entry(&self, id: Uuid) -> DbResult<Option<(SyncLogEntry, Option<Uuid>)>> {
        let row = sqlx::query(&format!(
            "SELECT {}, p.user_id AS patient_owner FROM synchronization_log l \
             LEFT JOIN patients p ON p.id = l.patient_id AND p.deleted_at IS NULL \
             WHERE l.id = $1 AND l.deleted_at IS NULL",
            super::qualify(COLS, "l")
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some((entry_from_row(&row)?, row.opt_id("patient_owner")?)))
    }

    /// A patient's log, newest first.
    pub async fn list_logs(
        &self,
        patient_id: Uuid,
        filter: &LogFilter<'_>,
        limit: usize,
        after: Option<&[String]>,
    ) -> DbResult<(Vec<SyncLogEntry>, Option<String>)> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLS} FROM synchronization_log WHERE deleted_at IS NULL AND patient_id = "
        ));
        sql.bind(patient_id);
        if let Some(status) = filter.status {
            sql.push(" AND status = ").bind(status.as_str());
        }
        if let Some(action) = filter.action {
            sql.push(" AND action = ").bind(action.as_str());
        }
        if let Some(from) = filter.from {
            sql.push(" AND timestamp >= ").bind(from.to_string());
        }
        if let Some(to) = filter.to.and_then(|d| d.succ_opt()) {
            sql.push(" AND timestamp < ").bind(to.to_string());
        }
        if let Some(q) = filter.q.map(str::trim).filter(|q| !q.is_empty()) {
            sql.push(" AND lower(details) LIKE ")
                .bind(super::contains_pattern(q))
                .push(" ESCAPE '\\'");
        }
        if let Some([id]) = after {
            sql.push(" AND id < ").bind(id.as_str());
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(limit as i64 + 1);
        let rows = sql
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(paginate(rows, limit, |e| {
            cursor::encode(&[&e.id.to_string()])
        }))
    }
}
