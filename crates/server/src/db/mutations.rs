//! Storage for `POST /sync/push`: each mutation's stored outcome (exactly once), rows as a
//! push finds them (tombstones included: an edit of a deleted row is a conflict, not a 404),
//! which fields others wrote since a version, and bringing tombstoned rows back.
//!
//! Which fields a write changed is recorded by database triggers on every version bump
//! (migration 0005), so no write path (REST, push, the integrations) can forget it. A push
//! then tags its own entries with the device that sent it: a device's later edits are based
//! on its earlier ones even when it never heard back, so those never count against it.

use super::documents::{self, StoredDocument};
/// How a push reads and writes a patient: the one path REST `PUT` takes too.
pub use super::patients::{patient_in as patient, update_patient_in};
use super::{lock_on_postgres, now, DbResult, Found, RowExt, Sql};
use domain::access::DocumentScope;
use domain::dto::SyncTable;
use sqlx::AnyConnection;
use std::collections::BTreeSet;
use uuid::Uuid;

/// The outcome stored for `mutation_id`, with the account that sent it.
pub async fn stored_outcome(
    conn: &mut AnyConnection,
    mutation_id: Uuid,
) -> DbResult<Option<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT user_id, outcome FROM sync_mutations WHERE mutation_id = $1")
            .bind(mutation_id.to_string())
            .fetch_optional(conn)
            .await?,
    )
}

/// Records a mutation's outcome, in the transaction that applied it.
pub async fn store_outcome(
    conn: &mut AnyConnection,
    mutation_id: Uuid,
    user: Uuid,
    device: &str,
    device_seq: i64,
    outcome: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO sync_mutations (mutation_id, user_id, device_id, device_seq, outcome, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(mutation_id.to_string())
    .bind(user.to_string())
    .bind(device)
    .bind(device_seq)
    .bind(outcome)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

/// The document in `scope`, live or deleted, with whether its patient is deleted.
pub async fn document(
    conn: &mut AnyConnection,
    scope: DocumentScope,
    id: Uuid,
) -> DbResult<Option<Found<StoredDocument>>> {
    let mut sql = Sql::new(&format!(
        "SELECT {}, d.content, d.deleted_at, p.deleted_at AS patient_deleted_at, \
         p.user_id AS patient_owner, \
         CASE WHEN p.link_approval = 'approved' THEN p.provider_id END AS patient_provider \
         FROM healthcare_documents d JOIN patients p ON p.id = d.patient_id WHERE d.id = ",
        *documents::D_COLS
    ));
    sql.bind(id);
    documents::push_scope(&mut sql, scope);
    lock_on_postgres(&mut sql, conn, "d");
    let Some(row) = sql.query().fetch_optional(conn).await? else {
        return Ok(None);
    };
    Ok(Some(Found {
        row: documents::stored_from_row(&row)?,
        deleted_at: row.opt_text("deleted_at")?,
        parent_deleted: row.opt_text("patient_deleted_at")?.is_some(),
    }))
}

/// The fields written to a row after `version` by anyone but `device` (for merging a
/// change based on that version).
pub async fn fields_written_since(
    conn: &mut AnyConnection,
    table: SyncTable,
    id: Uuid,
    version: i64,
    device: &str,
) -> DbResult<BTreeSet<String>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT fields FROM row_changes WHERE table_name = $1 AND row_id = $2 AND version > $3 \
         AND (device_id IS NULL OR device_id <> $4)",
    )
    .bind(table.as_str())
    .bind(id.to_string())
    .bind(version)
    .bind(device)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .flat_map(|f| f.split(',').map(str::to_owned))
        .filter(|f| !f.is_empty())
        .collect())
}

/// Marks the writes to a row after `version` as made by `device` (this push's own).
pub async fn tag_device(
    conn: &mut AnyConnection,
    table: SyncTable,
    id: Uuid,
    after_version: i64,
    device: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE row_changes SET device_id = $1 WHERE table_name = $2 AND row_id = $3 \
         AND version > $4 AND device_id IS NULL",
    )
    .bind(device)
    .bind(table.as_str())
    .bind(id.to_string())
    .bind(after_version)
    .execute(conn)
    .await?;
    Ok(())
}

/// The live documents of a patient, with their versions.
pub async fn live_documents(
    conn: &mut AnyConnection,
    patient_id: Uuid,
) -> DbResult<Vec<(Uuid, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, version FROM healthcare_documents WHERE patient_id = $1 AND deleted_at IS NULL",
    )
    .bind(patient_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(id, v)| Ok((super::parse_id(&id)?, v)))
        .collect()
}

/// Brings back a deleted patient, with the documents and shares deleted with it (the same
/// deletion stamp), so "keep my edit" returns the record as it was. Returns its version.
pub async fn restore_patient_in(
    conn: &mut AnyConnection,
    id: Uuid,
    deleted_at: &str,
) -> DbResult<i64> {
    let at = now();
    super::measurements::restore_with_in(conn, super::measurements::With::Patient(id), deleted_at)
        .await?;
    let id = id.to_string();
    let revive = "SET deleted_at = NULL, updated_at = $1, version = version + 1";
    sqlx::query(&format!(
        "UPDATE healthcare_documents {revive} WHERE patient_id = $2 AND deleted_at = $3"
    ))
    .bind(&at)
    .bind(&id)
    .bind(deleted_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "UPDATE document_shares {revive} WHERE deleted_at = $3 AND document_id IN \
         (SELECT d.id FROM healthcare_documents d WHERE d.patient_id = $2)"
    ))
    .bind(&at)
    .bind(&id)
    .bind(deleted_at)
    .execute(&mut *conn)
    .await?;
    revive_row(conn, SyncTable::Patients, &id, &at).await
}

/// Brings back a deleted document (its patient is live) with the shares deleted with it.
pub async fn restore_document_in(
    conn: &mut AnyConnection,
    id: Uuid,
    deleted_at: &str,
) -> DbResult<i64> {
    let at = now();
    super::measurements::restore_with_in(conn, super::measurements::With::Document(id), deleted_at)
        .await?;
    let id = id.to_string();
    sqlx::query(
        "UPDATE document_shares SET deleted_at = NULL, updated_at = $1, version = version + 1 \
         WHERE document_id = $2 AND deleted_at = $3",
    )
    .bind(&at)
    .bind(&id)
    .bind(deleted_at)
    .execute(&mut *conn)
    .await?;
    revive_row(conn, SyncTable::HealthcareDocuments, &id, &at).await
}

async fn revive_row(
    conn: &mut AnyConnection,
    table: SyncTable,
    id: &str,
    at: &str,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(&format!(
        "UPDATE {} SET deleted_at = NULL, updated_at = $1, version = version + 1 \
         WHERE id = $2 AND deleted_at IS NOT NULL RETURNING version",
        table.as_str()
    ))
    .bind(at)
    .bind(id)
    .fetch_one(conn)
    .await?)
}
