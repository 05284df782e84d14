//! Storage of the PHI read audit trail (see `crate::audit` for how entries arrive).

use super::{cursor, paginate, Backend, Db, DbResult, RowExt, Sql};
use crate::audit::Entry;
use domain::dto::AuditEntry;
use uuid::Uuid;

impl Db {
    /// Stores a batch of entries in one statement. The batch travels as one JSON parameter,
    /// so the statement text never changes and stays prepared whatever the batch size.
    pub async fn insert_audit_entries(&self, batch: &[Entry]) -> DbResult<()> {
        let rows: Vec<serde_json::Value> = batch
            .iter()
            .map(|e| {
                serde_json::json!({
                    "user_id": e.user_id, "entity": e.entity.as_str(), "entity_id": e.entity_id,
                    "patient_id": e.patient_id, "at": e.at,
                })
            })
            .collect();
        let sql = match self.backend {
            Backend::Sqlite => {
                "INSERT INTO phi_access_log (user_id, action, entity, entity_id, patient_id, at) \
                 SELECT value ->> 'user_id', 'read', value ->> 'entity', \
                 value ->> 'entity_id', value ->> 'patient_id', value ->> 'at' FROM json_each($1)"
            }
            Backend::Postgres => {
                "INSERT INTO phi_access_log (user_id, action, entity, entity_id, patient_id, at) \
                 SELECT r.user_id, 'read', r.entity, r.entity_id, r.patient_id, r.at \
                 FROM json_to_recordset($1::json) AS r(user_id text, entity text, \
                 entity_id text, patient_id text, at text)"
            }
        };
        sqlx::query(sql)
            .bind(serde_json::Value::Array(rows).to_string())
            .execute(self.audit())
            .await?;
        Ok(())
    }

    /// The trail, newest first, optionally about one patient or by one user.
    pub async fn list_audit_entries(
        &self,
        patient_id: Option<Uuid>,
        user_id: Option<Uuid>,
        limit: usize,
        after: Option<&[String]>,
    ) -> DbResult<(Vec<AuditEntry>, Option<String>)> {
        let mut sql = Sql::new(
            "SELECT seq, user_id, action, entity, entity_id, patient_id, at FROM phi_access_log \
             WHERE 1 = 1",
        );
        if let Some(p) = patient_id {
            sql.push(" AND patient_id = ").bind(p);
        }
        if let Some(u) = user_id {
            sql.push(" AND user_id = ").bind(u);
        }
        if let Some([seq]) = after {
            let seq: i64 = seq
                .parse()
                .map_err(|_| anyhow::anyhow!("audit cursor is not a number"))?;
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
