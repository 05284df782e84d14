//! The values of followed measures (`domain::measures`) pulled from a patient's PHP: one row
//! per Observation (or component), keyed by the PHP's id so that pulling it again updates
//! it instead of adding a second. Written by the pull, in the transaction that stores the
//! report they came with; withdrawn with it.

use super::{now, Db, DbResult, RowExt, Sql};
use connectors::fhir::mapping::IncomingResult;
use domain::dto::Measurement;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use uuid::Uuid;

pub(crate) const COLS: &str =
    "id, patient_id, document_id, code, value, unit, date, version, created_at, updated_at";

pub(crate) fn measurement_from_row(row: &AnyRow) -> anyhow::Result<Measurement> {
    Ok(Measurement {
        id: row.id("id")?,
        patient_id: row.id("patient_id")?,
        document_id: row.opt_id("document_id")?,
        code: row.text("code")?,
        value: sqlx::Row::try_get(row, "value")?,
        unit: row.text("unit")?,
        date: super::parse_date(&row.text("date")?)?,
        version: row.int("version")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// Stores `results` of `patient_id` (from report `document_id`, if any): new ones added,
/// changed ones updated (a report's link kept when the same value comes again on its own),
/// the same ones untouched. A value met on its own never brings back one withdrawn with its
/// report; the report's next version does, if it still lists it. With a report, its values
/// it no longer lists are withdrawn.
pub async fn upsert_in(
    conn: &mut AnyConnection,
    patient_id: Uuid,
    document_id: Option<Uuid>,
    results: &[IncomingResult],
) -> DbResult<()> {
    for r in results {
        sqlx::query(
            "INSERT INTO measurements (id, patient_id, document_id, external_id, code, value, unit, \
             date, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             ON CONFLICT (patient_id, external_id) DO UPDATE SET \
             document_id = COALESCE(excluded.document_id, measurements.document_id), \
             code = excluded.code, value = excluded.value, unit = excluded.unit, \
             date = excluded.date, deleted_at = NULL, updated_at = excluded.updated_at, \
             version = measurements.version + 1 \
             WHERE (excluded.document_id IS NOT NULL OR measurements.document_id IS NULL \
                 OR NOT EXISTS (SELECT 1 FROM healthcare_documents d \
                 WHERE d.id = measurements.document_id AND d.deleted_at IS NOT NULL)) \
             AND (measurements.value <> excluded.value OR measurements.unit <> excluded.unit \
             OR measurements.date <> excluded.date OR measurements.code <> excluded.code \
             OR measurements.deleted_at IS NOT NULL \
             OR (excluded.document_id IS NOT NULL AND (measurements.document_id IS NULL \
                 OR measurements.document_id <> excluded.document_id)))",
        )
        .bind(domain::new_id().to_string())
        .bind(patient_id.to_string())
        .bind(document_id.map(|d| d.to_string()))
        .bind(&r.external_id)
        .bind(&r.code)
        .bind(r.value)
        .bind(&r.unit)
        .bind(&r.date)
        .bind(now())
        .execute(&mut *conn)
        .await?;
    }
    if let Some(document) = document_id {
        let at = now();
        let mut dropped = Sql::new("UPDATE measurements SET version = version + 1, deleted_at = ");
        dropped
            .bind(at.clone())
            .push(", updated_at = ")
            .bind(at)
            .push(" WHERE deleted_at IS NULL AND document_id = ")
            .bind(document);
        if !results.is_empty() {
            dropped.push(" AND external_id NOT IN (");
            for (n, r) in results.iter().enumerate() {
                if n > 0 {
                    dropped.push(", ");
                }
                dropped.bind(r.external_id.clone());
            }
            dropped.push(")");
        }
        dropped.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Withdraws the values of Observation `external_id` (and its components).
pub async fn retract_in(
    conn: &mut AnyConnection,
    patient_id: Uuid,
    external_id: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE measurements SET deleted_at = $1, updated_at = $1, version = version + 1 \
         WHERE patient_id = $2 AND deleted_at IS NULL AND (external_id = $3 OR external_id LIKE $4)",
    )
    .bind(now())
    .bind(patient_id.to_string())
    .bind(external_id)
    .bind(format!("{external_id}#%"))
    .execute(conn)
    .await?;
    Ok(())
}

/// Whose values a deletion or a restore concerns.
#[derive(Debug, Clone, Copy)]
pub enum With {
    /// Those that came with a document.
    Document(Uuid),
    /// All of a patient's.
    Patient(Uuid),
}

impl With {
    fn column_and_id(self) -> (&'static str, String) {
        match self {
            Self::Document(id) => ("document_id", id.to_string()),
            Self::Patient(id) => ("patient_id", id.to_string()),
        }
    }
}

/// Withdraws the values of a deleted document or patient, stamped `at` as it is (a restore
/// brings back what was deleted with it: [`restore_with_in`]).
pub async fn delete_with_in(conn: &mut AnyConnection, with: With, at: &str) -> DbResult<()> {
    let (column, id) = with.column_and_id();
    sqlx::query(&format!(
        "UPDATE measurements SET deleted_at = $1, updated_at = $1, version = version + 1 \
         WHERE deleted_at IS NULL AND {column} = $2"
    ))
    .bind(at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Brings back the values deleted with a document or patient (`deleted_at` theirs).
pub async fn restore_with_in(
    conn: &mut AnyConnection,
    with: With,
    deleted_at: &str,
) -> DbResult<()> {
    let (column, id) = with.column_and_id();
    sqlx::query(&format!(
        "UPDATE measurements SET deleted_at = NULL, updated_at = $1, version = version + 1 \
         WHERE deleted_at = $2 AND {column} = $3"
    ))
    .bind(now())
    .bind(deleted_at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

impl Db {
    /// A patient's live measurements, by code and date.
    pub async fn measurements(&self, patient_id: Uuid) -> DbResult<Vec<Measurement>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM measurements WHERE patient_id = $1 AND deleted_at IS NULL \
             ORDER BY code, date, id"
        ))
        .bind(patient_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(measurement_from_row)
            .collect::<anyhow::Result<_>>()?)
    }
}
