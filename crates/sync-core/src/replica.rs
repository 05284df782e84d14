//! The local replica: rows as the server sent them with local edits on top, and the outbox.

use crate::{Result, SyncError};
use domain::dto::{Change, ChangeOp, ConflictKind, MutationOp, MutationResult, SyncTable};
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr as _;
use std::sync::LazyLock;
use uuid::Uuid;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/replica");

use crate::stored::{Id, Table};
use domain::time::now;

/// An edit made here that the server could not take as it was, kept until a person decides.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRecord {
    pub id: i64,
    pub table: SyncTable,
    pub row_id: Uuid,
    pub kind: ConflictKind,
    /// For [`ConflictKind::Fields`]: the field both sides wrote; empty otherwise.
    pub field: String,
    /// The field's value at the server; for a row conflict the row the server kept (or
    /// `null` when it deleted it).
    pub server_value: Value,
    /// The value written here; for a row conflict the row as edited here (or `null` when it
    /// was deleted here).
    pub client_value: Value,
    /// The row's version at the server when the conflict was found.
    pub server_version: i64,
}

/// How a person settles a conflict.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// What was done here wins: the field's value, the delete, or the edited row (restored).
    Mine,
    /// What the server holds stays.
    Theirs,
    /// A value written by the person (a merge of both); for field conflicts only.
    Value(Value),
}

/// An outbox entry on its way to the server.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// The outbox's order: the device's own order of its edits (`device_seq`).
    pub seq: i64,
    /// An earlier push carried it already (its answer never came back).
    pub sent_before: bool,
    pub mutation_id: Uuid,
    pub table: SyncTable,
    pub row_id: Uuid,
    pub op: MutationOp,
    pub base_version: i64,
    pub fields: Map<String, Value>,
}

fn options(path: &Path) -> Result<SqliteConnectOptions> {
    Ok(
        SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5)),
    )
}

/// The key a replica is encrypted with: 256 random bits, kept in the OS keyring by the app.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplicaKey([u8; 32]);

impl ReplicaKey {
    pub fn generate() -> Self {
        Self(rand::random())
    }

    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = hex::decode(hex.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Keys never reach logs.
impl std::fmt::Debug for ReplicaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplicaKey(..)")
    }
}

/// A replica's files: the database, its write-ahead log and its shared-memory index.
pub fn replica_files(path: &Path) -> [std::path::PathBuf; 3] {
    ["", "-wal", "-shm"].map(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    })
}

/// Moves a replica that cannot be opened (its key is gone) out of the way, with its WAL,
/// rather than deleting it: should the key turn up again, nothing was destroyed.
/// Returns where it went.
pub fn set_aside(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".unreadable-{stamp}"));
    let aside = std::path::PathBuf::from(aside);
    std::fs::rename(path, &aside)?;
    let [_, from_wal, from_shm] = replica_files(path);
    let [_, to_wal, to_shm] = replica_files(&aside);
    for (from, to) in [(from_wal, to_wal), (from_shm, to_shm)] {
        match std::fs::rename(&from, &to) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(aside)
}

/// The replica file.
#[derive(Clone)]
pub struct Replica {
    pool: SqlitePool,
    device_id: String,
}

impl Replica {
    /// Opens (creating if needed) and migrates the unencrypted replica at `path` (the CLI, and
    /// tests).
    pub async fn open(path: &Path) -> Result<Self> {
        Self::connect(options(path)?).await
    }

    /// Opens (creating if needed) the replica at `path`, encrypted with `key` (SQLCipher).
    /// A file this key does not open is [`SyncError::Unreadable`]: the caller sets it aside
    /// with [`set_aside`] and starts afresh; the next sync fills the new one.
    pub async fn open_encrypted(path: &Path, key: &ReplicaKey) -> Result<Self> {
        // `key` must be the first statement on each connection; sqlx issues it first.
        let options = options(path)?.pragma("key", format!("\"x'{}'\"", key.to_hex()));
        match Self::connect(options).await {
            Err(SyncError::Replica(sqlx::Error::Database(e)))
                if e.message().contains("file is not a database") =>
            {
                Err(SyncError::Unreadable)
            }
            other => other,
        }
    }

    /// [`Replica::open_encrypted`], and when `key` does not open the file (its key was lost):
    /// sets the file aside and opens a fresh one, which the next sync fills. Returns where
    /// the old file went, if it had to go: the caller tells the person.
    pub async fn open_encrypted_or_start_over(
        path: &Path,
        key: &ReplicaKey,
    ) -> Result<(Self, Option<std::path::PathBuf>)> {
        match Self::open_encrypted(path, key).await {
            Err(SyncError::Unreadable) => {
                let aside = set_aside(path).map_err(|e| {
                    SyncError::Credentials(format!("setting the unreadable local copy aside: {e}"))
                })?;
                tracing::warn!(aside = %aside.display(), "replica key lost; starting a new replica");
                Ok((Self::open_encrypted(path, key).await?, Some(aside)))
            }
            other => Ok((other?, None)),
        }
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self> {
        // One connection: the replica has one user, and writes then never wait on a lock.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        MIGRATIONS.run(&pool).await?;
        let replica = Self {
            pool,
            device_id: String::new(),
        };
        let device_id = match replica.state("device_id").await? {
            Some(id) => id,
            None => {
                let id = Uuid::now_v7().to_string();
                replica.set_state("device_id", &id).await?;
                id
            }
        };
        Ok(Self {
            device_id,
            ..replica
        })
    }

    /// Closes the file (before it is deleted).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    pub async fn state(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM sync_state WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Records that a sync just finished (`last_sync`, which the app and `records status`
    /// show), in the stored timestamp format.
    pub async fn record_sync(&self) -> Result<()> {
        self.set_state("last_sync", &now()).await
    }

    pub async fn set_state(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A row as this replica sees it (server state with local edits on top).
    pub async fn row(&self, table: SyncTable, id: Uuid) -> Result<Option<Value>> {
        let data: Option<String> =
            sqlx::query_scalar("SELECT data FROM rows WHERE table_name = ? AND id = ?")
                .bind(table.as_str())
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
    }

    /// Every row of a table.
    pub async fn rows(&self, table: SyncTable) -> Result<Vec<Value>> {
        let data: Vec<String> =
            sqlx::query_scalar("SELECT data FROM rows WHERE table_name = ? ORDER BY id")
                .bind(table.as_str())
                .fetch_all(&self.pool)
                .await?;
        data.iter().map(|d| Ok(serde_json::from_str(d)?)).collect()
    }

    /// Edits waiting for the server.
    pub async fn pending(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Creates a row here; it reaches the server at the next sync.
    pub async fn insert(&self, table: SyncTable, fields: Map<String, Value>) -> Result<Uuid> {
        check(table, MutationOp::Insert, &fields)?;
        let id = Uuid::now_v7();
        let mut data = fields.clone();
        data.insert("id".into(), Value::String(id.to_string()));
        let mut tx = self.pool.begin().await?;
        if table == SyncTable::HealthcareDocuments {
            require_patient(&mut tx, &data).await?;
        }
        sqlx::query("INSERT INTO rows (table_name, id, version, data) VALUES (?, ?, 0, ?)")
            .bind(table.as_str())
            .bind(id.to_string())
            .bind(Value::Object(data).to_string())
            .execute(&mut *tx)
            .await?;
        if table == SyncTable::HealthcareDocuments {
            keep_local_text(&mut tx, id, &fields).await?;
        }
        enqueue(&mut tx, table, id, MutationOp::Insert, 0, fields).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The person has seen a refusal: it leaves the open ones (and stays in the sync log). A
    /// refused creation is a draft the platform never had: dismissing it discards the row here.
    pub async fn dismiss_refusal(&self, mutation_id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let open: Option<(Table, Id, String)> = sqlx::query_as(
            "SELECT table_name, row_id, op FROM rejected WHERE mutation_id = ? AND settled_at IS NULL",
        )
        .bind(mutation_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (Table(table), Id(row_id), op) = open.ok_or(SyncError::NotFound("refused change"))?;
        settle_refusal(&mut tx, mutation_id).await?;
        if op == "insert" {
            drop_draft(&mut tx, table, row_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Changes fields of a row here; the change reaches the server at the next sync.
    pub async fn update(
        &self,
        table: SyncTable,
        id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        update_in(&mut tx, table, id, fields).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a row here; the deletion reaches the server at the next sync. A row created
    /// (or restored) here and never sent simply disappears with its queued insert.
    pub async fn delete(&self, table: SyncTable, id: Uuid) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        delete_in(&mut tx, table, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rebuilds the document search index from the replica in one statement (after a first,
    /// bulk sync).
    pub(crate) async fn rebuild_search(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM document_search")
            .execute(&mut *tx)
            .await?;
        sqlx::query(INDEX_DOCUMENTS).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A fetched body, if this replica has it.
    pub async fn cached_body(&self, doc_id: Uuid) -> Result<Option<(String, Vec<u8>)>> {
        Ok(
            sqlx::query_as("SELECT mime_type, data FROM document_bodies WHERE doc_id = ?")
                .bind(doc_id.to_string())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Text documents of at most `max_bytes` whose body is not kept here, newest first.
    pub(crate) async fn unfetched_text_documents(
        &self,
        limit: i64,
        max_bytes: i64,
    ) -> Result<Vec<Uuid>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT r.id FROM rows r WHERE r.table_name = 'healthcare_documents' \
             AND json_extract(r.data, '$.mime_type') LIKE 'text/%' \
             AND json_extract(r.data, '$.size_bytes') <= ? \
             AND NOT EXISTS (SELECT 1 FROM document_bodies b WHERE b.doc_id = r.id) \
             ORDER BY json_extract(r.data, '$.date') DESC, r.id DESC LIMIT ?",
        )
        .bind(max_bytes)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        ids.iter()
            .map(|id| id.parse().map_err(|_| SyncError::NotFound("row id")))
            .collect()
    }

    /// Keeps a fetched body for offline reading, and makes its text searchable.
    pub(crate) async fn store_body(
        &self,
        doc_id: Uuid,
        content_hash: &str,
        mime: &str,
        data: &[u8],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        put_body(&mut tx, doc_id, content_hash, mime, data).await?;
        reindex_documents(&mut tx, &[doc_id]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets every pulled row and the cursor (for a re-sync from scratch). Rows with edits
    /// still queued, and new rows the platform refused (waiting for their writer), are kept:
    /// nothing typed here is dropped. The bodies and search entries of the documents dropped go
    /// with them: a row that left the caller's scope leaves no health data behind; those of
    /// rows the pull sends again are fetched and indexed again.
    pub(crate) async fn reset_rows(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM rows WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.table_name = rows.table_name \
             AND o.row_id = rows.id) AND NOT EXISTS (SELECT 1 FROM rejected x WHERE x.table_name = rows.table_name \
             AND x.row_id = rows.id AND x.op = 'insert' AND x.settled_at IS NULL)",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM document_bodies WHERE doc_id NOT IN \
             (SELECT id FROM rows WHERE table_name = 'healthcare_documents')",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM document_search WHERE doc_id NOT IN \
             (SELECT id FROM rows WHERE table_name = 'healthcare_documents')",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sync_state WHERE key = 'cursor'")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Conflicts nobody has resolved yet.
    pub async fn conflicts(&self) -> Result<Vec<ConflictRecord>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: i64,
            table_name: Table,
            row_id: Id,
            kind: String,
            field: String,
            server_value: String,
            client_value: String,
            server_version: i64,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, table_name, row_id, kind, field, server_value, client_value, server_version \
             FROM conflicts WHERE resolved_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ConflictRecord {
                    id: r.id,
                    table: r.table_name.0,
                    row_id: r.row_id.0,
                    kind: serde_json::from_value(Value::String(r.kind))?,
                    field: r.field,
                    server_value: serde_json::from_str(&r.server_value)?,
                    client_value: serde_json::from_str(&r.client_value)?,
                    server_version: r.server_version,
                })
            })
            .collect()
    }

    /// Settles a conflict as the person chose; what that takes reaches the server at the next
    /// sync, as any edit made here.
    pub async fn resolve(&self, conflict: &ConflictRecord, choice: Resolution) -> Result<()> {
        let (table, id) = (conflict.table, conflict.row_id);
        let mut tx = self.pool.begin().await?;
        match (conflict.kind, choice) {
            (ConflictKind::Fields, choice) => {
                let value = match choice {
                    Resolution::Mine => conflict.client_value.clone(),
                    Resolution::Theirs => conflict.server_value.clone(),
                    Resolution::Value(v) => v,
                };
                // Taking the server's value needs no edit: the replica already holds it.
                if value != conflict.server_value {
                    let mut fields = Map::new();
                    fields.insert(conflict.field.clone(), value);
                    update_in(&mut tx, table, id, fields).await?;
                }
            }
            // Deleted here, edited there: the edited row is back here; delete it after all.
            (ConflictKind::EditedOnServer, Resolution::Mine) => {
                if has_row(&mut tx, table, id).await? {
                    delete_in(&mut tx, table, id).await?;
                }
            }
            // Edited here, deleted there: bring the row back as it was edited here.
            (ConflictKind::DeletedOnServer, Resolution::Mine) => {
                let row = conflict
                    .client_value
                    .as_object()
                    .cloned()
                    .ok_or(SyncError::NotFound("row edited here"))?;
                let fields = table.content_of(&row);
                upsert(
                    &mut tx,
                    &UPSERT_ONE,
                    &[(
                        table.as_str(),
                        id.to_string(),
                        conflict.server_version,
                        Value::Object(row).to_string(),
                    )],
                )
                .await?;
                if table == SyncTable::HealthcareDocuments {
                    keep_local_text(&mut tx, id, &fields).await?;
                }
                let base = conflict.server_version;
                enqueue(&mut tx, table, id, MutationOp::Restore, base, fields).await?;
            }
            (_, Resolution::Theirs) => {}
            (_, Resolution::Value(_)) => {
                return Err(SyncError::Invalid(
                    "a deleted record is kept or let go; it has no value to merge".into(),
                ))
            }
        }
        sqlx::query("UPDATE conflicts SET resolved_at = ? WHERE id = ?")
            .bind(now())
            .bind(conflict.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Outbox entries not yet confirmed, oldest first, marked as sent (in the same
    /// transaction that reads them, so an edit made meanwhile is never merged into an entry
    /// already on its way). If the push then never leaves this machine, [`Replica::unsend`]
    /// takes the mark back.
    pub(crate) async fn take_outbox(&self, limit: i64) -> Result<Vec<Pending>> {
        let mut tx = self.pool.begin().await?;
        #[derive(sqlx::FromRow)]
        struct Entry {
            seq: i64,
            mutation_id: Id,
            table_name: Table,
            row_id: Id,
            op: String,
            base_version: i64,
            fields: String,
            sent: bool,
        }
        let rows: Vec<Entry> = sqlx::query_as(
            "SELECT seq, mutation_id, table_name, row_id, op, base_version, fields, sent \
             FROM outbox ORDER BY seq LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE outbox SET sent = 1 WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
        )
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|e| {
                Ok(Pending {
                    seq: e.seq,
                    sent_before: e.sent,
                    mutation_id: e.mutation_id.0,
                    table: e.table_name.0,
                    row_id: e.row_id.0,
                    op: serde_json::from_value(Value::String(e.op))?,
                    base_version: e.base_version,
                    fields: serde_json::from_str(&e.fields)?,
                })
            })
            .collect()
    }

    /// The push carrying `batch` never reached the server (no connection could be made):
    /// its entries are unsent again, so later edits merge into them. Not those an earlier
    /// push may have delivered: the server may hold them under their id already, and an edit
    /// merged in would come back as that earlier duplicate, unapplied.
    pub(crate) async fn unsend(&self, batch: &[Pending]) -> Result<()> {
        let seqs: Vec<i64> = batch
            .iter()
            .filter(|p| !p.sent_before)
            .map(|p| p.seq)
            .collect();
        sqlx::query("UPDATE outbox SET sent = 0 WHERE seq IN (SELECT value FROM json_each(?))")
            .bind(serde_json::to_string(&seqs)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the server's answer to an outbox entry, in one transaction: confirmed edits
    /// leave the outbox; conflicts and refusals are kept for the person, and the row returns
    /// to what the server holds (with edits still queued on top), so nothing shown here is
    /// an edit the server does not have.
    pub(crate) async fn settle(&self, p: &Pending, result: &MutationResult) -> Result<()> {
        use domain::dto::MutationStatus as S;
        let mut tx = self.pool.begin().await?;
        let status = match result.status {
            S::Duplicate => result.original_status.unwrap_or(S::Applied),
            s => s,
        };
        let table = p.table.as_str();
        let id = p.row_id.to_string();
        // The row as edited here, before it returns to the server's: a conflict keeps it.
        let edited: Option<String> =
            sqlx::query_scalar("SELECT data FROM rows WHERE table_name = ? AND id = ?")
                .bind(table)
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM outbox WHERE mutation_id = ?")
            .bind(p.mutation_id.to_string())
            .execute(&mut *tx)
            .await?;
        let version = result.version.unwrap_or_default();
        // An edit of a row whose creation was refused is refused for want of the row: the
        // creation's refusal speaks for it (and lists this edit's fields too, as what the
        // platform does not have), and the row here (with this edit) waits for the person's
        // correction or discard.
        if status == S::Rejected {
            if let Some(refusal) = refused_insert(&mut tx, p.table, p.row_id).await? {
                fold_into_refusal(&mut tx, &refusal, &p.fields).await?;
                tx.commit().await?;
                return Ok(());
            }
        }
        match status {
            // The row here is its base plus this edit. That is the new version only when
            // nobody wrote between (one step up; an insert's first): otherwise the server
            // merged in what others wrote, which this row does not show yet, and claiming
            // the new version would base later edits on values never seen here (they would
            // overwrite those unseen). The pull brings that version with its values. Edits
            // queued after this one keep their own base too: the server knows this device's
            // earlier edits come before them.
            S::Applied | S::Duplicate if version == p.base_version + 1 => {
                sqlx::query(
                    "UPDATE rows SET version = ? WHERE table_name = ? AND id = ? AND version < ?",
                )
                .bind(version)
                .bind(table)
                .bind(&id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            }
            S::Applied | S::Duplicate => {}
            S::Conflict => {
                let kind = result.kind.unwrap_or(ConflictKind::Fields);
                let kind_name = serde_json::to_value(kind)?
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let record = |field: &str, server: &Value, client: &Value| {
                    sqlx::query(
                        "INSERT INTO conflicts (mutation_id, table_name, row_id, kind, field, \
                         server_value, client_value, server_version, created_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(p.mutation_id.to_string())
                    .bind(table)
                    .bind(id.clone())
                    .bind(kind_name.clone())
                    .bind(field.to_owned())
                    .bind(server.to_string())
                    .bind(client.to_string())
                    .bind(version)
                    .bind(now())
                };
                match kind {
                    ConflictKind::Fields => {
                        for c in &result.conflicts {
                            record(&c.field, &c.server_value, &c.client_value)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    ConflictKind::EditedOnServer => {
                        let server = result.row.clone().unwrap_or(Value::Null);
                        record("", &server, &Value::Null).execute(&mut *tx).await?;
                    }
                    ConflictKind::DeletedOnServer => {
                        let mine: Value = match &edited {
                            Some(data) => serde_json::from_str(data)?,
                            None => Value::Null,
                        };
                        // One decision per row: later edits of it join the open conflict
                        // (the row here holds them all).
                        let open = sqlx::query(
                            "UPDATE conflicts SET client_value = CASE WHEN ?1 = 'null' \
                             THEN client_value ELSE ?1 END, server_version = ?2 \
                             WHERE table_name = ?3 AND row_id = ?4 AND kind = 'deleted_on_server' \
                             AND resolved_at IS NULL",
                        )
                        .bind(mine.to_string())
                        .bind(version)
                        .bind(table)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if open == 0 {
                            record("", &Value::Null, &mine).execute(&mut *tx).await?;
                        }
                    }
                }
                return_to_server(&mut tx, p.table, p.row_id, result.row.as_ref()).await?;
            }
            S::Rejected => {
                sqlx::query(
                    "INSERT INTO rejected (mutation_id, table_name, row_id, op, fields, code, reason, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mutation_id) DO NOTHING",
                )
                .bind(p.mutation_id.to_string())
                .bind(table)
                .bind(&id)
                .bind(serde_json::to_value(p.op)?.as_str().unwrap_or_default())
                .bind(Value::Object(p.fields.clone()).to_string())
                .bind(result.code.clone().unwrap_or_default())
                .bind(result.reason.clone().unwrap_or_default())
                .bind(now())
                .execute(&mut *tx)
                .await?;
                if p.op == MutationOp::Insert {
                    // Nothing there to return to: the row stays here as the person wrote it,
                    // marked refused, until they correct it (sent again as a creation) or
                    // discard it. Edits queued after it are in the row already. One they
                    // deleted here meanwhile needs nothing more from them.
                    sqlx::query(
                        "DELETE FROM outbox WHERE table_name = ? AND row_id = ? AND sent = 0",
                    )
                    .bind(table)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                    if edited.is_none() {
                        settle_refusal(&mut tx, &p.mutation_id.to_string()).await?;
                    }
                } else {
                    return_to_server(&mut tx, p.table, p.row_id, result.row.as_ref()).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies one page of the change feed and its cursor, in one transaction: a sync
    /// interrupted between pages resumes from the last page stored. Upserts go out in
    /// multi-row statements, each guarded so an older version never replaces a newer one.
    pub(crate) async fn apply_page(
        &self,
        changes: &[Change],
        cursor: &str,
        index_now: bool,
    ) -> Result<PageApplied> {
        self.apply(changes, Some(cursor), index_now).await
    }

    /// The rows of `table` the platform confirmed (version above 0: not one made here and
    /// not yet sent), with whether edits of them wait in the outbox.
    pub(crate) async fn held(&self, table: SyncTable) -> Result<Vec<HeldRow>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT r.id, r.version, EXISTS (SELECT 1 FROM outbox o WHERE o.table_name = r.table_name \
             AND o.row_id = r.id) FROM rows r WHERE r.table_name = ? AND r.version > 0",
        )
        .bind(table.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, version, queued)| {
                Ok(HeldRow {
                    id: id.parse().map_err(|_| SyncError::NotFound("row id"))?,
                    version,
                    queued: queued != 0,
                })
            })
            .collect()
    }

    /// Applies what a verification found to differ ([`crate::verify`]): removals and the
    /// platform's rows, in one transaction, the feed's cursor untouched.
    pub(crate) async fn apply_repair(&self, changes: &[Change]) -> Result<()> {
        self.apply(changes, None, true).await.map(drop)
    }

    /// Keeps a row the platform just answered with (a patient made of an inquiry), as the
    /// change feed would bring it: a screen can open it before the next sync, which then
    /// finds it held (the higher version wins either way).
    pub async fn keep_from_platform(
        &self,
        table: SyncTable,
        row: &impl serde::Serialize,
    ) -> Result<()> {
        let row = serde_json::to_value(row)?;
        let id = row["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or(SyncError::NotFound("row id"))?;
        let version = row["version"].as_i64().unwrap_or(1);
        let change = Change {
            table,
            id,
            op: ChangeOp::Upsert,
            version,
            row: Some(row),
        };
        self.apply(std::slice::from_ref(&change), None, true)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        changes: &[Change],
        cursor: Option<&str>,
        index_now: bool,
    ) -> Result<PageApplied> {
        let mut tx = self.pool.begin().await?;
        // What "new documents" and "new inquiries" mean to a person.
        let new_documents =
            unseen(&mut tx, changes, SyncTable::HealthcareDocuments, |_| true).await?;
        let new_inquiries = unseen(&mut tx, changes, SyncTable::Inquiries, |row| {
            row["status"] == "new"
        })
        .await?;
        // Edits still queued (usually none) stay on top of what the server sends ([`rebase`]).
        let queued: Vec<(String, String, String, String)> =
            sqlx::query_as("SELECT table_name, row_id, op, fields FROM outbox ORDER BY seq")
                .fetch_all(&mut *tx)
                .await?;
        let mut pending: HashMap<(String, String), Queued> = HashMap::new();
        for (table, id, op, fields) in queued {
            let entry = pending.entry((table, id)).or_default();
            entry.deleting |= op == "delete";
            entry.fields.push(serde_json::from_str(&fields)?);
        }
        // Rows whose field conflicts wait for a person: their "theirs" follows the server.
        let contested: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT table_name, row_id FROM conflicts WHERE resolved_at IS NULL AND kind = 'fields'",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut upserts = Vec::with_capacity(changes.len());
        for c in changes {
            let table = c.table.as_str();
            let id = c.id.to_string();
            let server = match (c.op, &c.row) {
                (ChangeOp::Upsert, Some(row)) => Some(row),
                _ => None,
            };
            match rebase(server, pending.get(&(table.to_owned(), id.clone()))) {
                Rebased::Upsert(data) => {
                    if let Some(row) =
                        server.filter(|_| contested.contains(&(table.to_owned(), id.clone())))
                    {
                        refresh_conflicts(&mut tx, c.table, c.id, row).await?;
                    }
                    upserts.push((table, id, c.version, data));
                }
                Rebased::Keep => {}
                Rebased::Remove => {
                    sqlx::query("DELETE FROM rows WHERE table_name = ? AND id = ?")
                        .bind(table)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        let mut chunks = upserts.chunks_exact(UPSERT_CHUNK);
        for chunk in chunks.by_ref() {
            upsert(&mut tx, &UPSERT_MANY, chunk).await?;
        }
        for row in chunks.remainder() {
            upsert(&mut tx, &UPSERT_ONE, std::slice::from_ref(row)).await?;
        }
        let documents: Vec<Uuid> = changes
            .iter()
            .filter(|c| c.table == SyncTable::HealthcareDocuments)
            .map(|c| c.id)
            .collect();
        drop_stale_bodies(&mut tx, &documents).await?;
        if index_now {
            reindex_documents(&mut tx, &documents).await?;
        }
        if let Some(cursor) = cursor {
            sqlx::query("INSERT INTO sync_state (key, value) VALUES ('cursor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .bind(cursor)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(PageApplied {
            rows: changes.len(),
            new_documents,
            new_inquiries,
        })
    }
}

/// Rows of `table` that `changes` upsert, that `counts`, and that this replica has not held
/// before.
async fn unseen(
    tx: &mut SqliteConnection,
    changes: &[Change],
    table: SyncTable,
    counts: impl Fn(&Value) -> bool,
) -> Result<usize> {
    let incoming: Vec<String> = changes
        .iter()
        .filter(|c| c.table == table && c.op == ChangeOp::Upsert)
        .filter(|c| c.row.as_ref().is_some_and(&counts))
        .map(|c| c.id.to_string())
        .collect();
    if incoming.is_empty() {
        return Ok(0);
    }
    let known: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rows WHERE table_name = ? AND id IN (SELECT value FROM json_each(?))",
    )
    .bind(table.as_str())
    .bind(serde_json::to_string(&incoming)?)
    .fetch_one(&mut *tx)
    .await?;
    Ok(incoming.len().saturating_sub(known.max(0) as usize))
}

/// The edits still queued for one row.
#[derive(Default)]
struct Queued {
    fields: Vec<Map<String, Value>>,
    deleting: bool,
}

/// What a row here becomes when the server's version of it meets the edits still queued
/// for it.
enum Rebased {
    /// The server's row with the queued fields on top, as the JSON text stored.
    Upsert(String),
    /// Left as it is here.
    Keep,
    Remove,
}

/// The rebase, for pulled pages and push answers alike: `server` is the row as the server
/// holds it (`None`: deleted, or out of sight). A row deleted here stays deleted, and one
/// gone there but with edits queued here stays (with them), until the server has answered
/// those edits: their answer (a conflict, a refusal) decides, and still has the row.
fn rebase(server: Option<&Value>, queued: Option<&Queued>) -> Rebased {
    match (server, queued) {
        (_, Some(q)) if q.deleting => Rebased::Keep,
        // The common case, every row of a first sync: the server's row as it came.
        (Some(row), None) => Rebased::Upsert(row.to_string()),
        (Some(row), Some(q)) => {
            let mut data = row.as_object().cloned().unwrap_or_default();
            for fields in &q.fields {
                data.extend(fields.clone());
            }
            Rebased::Upsert(Value::Object(data).to_string())
        }
        (None, Some(_)) => Rebased::Keep,
        (None, None) => Rebased::Remove,
    }
}

/// A row the replica holds, as a verification compares it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeldRow {
    pub id: Uuid,
    pub version: i64,
    /// Edits of it wait to be sent: a repair leaves it alone.
    pub queued: bool,
}

/// What applying one page of the change feed did.
pub(crate) struct PageApplied {
    pub rows: usize,
    pub new_documents: usize,
    pub new_inquiries: usize,
}

/// Rows per multi-row upsert when applying a pulled page.
const UPSERT_CHUNK: usize = 100;

fn upsert_statement(rows: usize) -> String {
    let values = vec!["(?, ?, ?, ?)"; rows].join(", ");
    format!(
        "INSERT INTO rows (table_name, id, version, data) VALUES {values} \
         ON CONFLICT (table_name, id) DO UPDATE SET version = excluded.version, data = excluded.data \
         WHERE excluded.version >= rows.version"
    )
}

static UPSERT_MANY: LazyLock<String> = LazyLock::new(|| upsert_statement(UPSERT_CHUNK));
static UPSERT_ONE: LazyLock<String> = LazyLock::new(|| upsert_statement(1));

async fn upsert(
    tx: &mut SqliteConnection,
    sql: &str,
    rows: &[(&str, String, i64, String)],
) -> Result<()> {
    let mut q = sqlx::query(sql);
    for (table, id, version, data) in rows {
        q = q
            .bind(*table)
            .bind(id.as_str())
            .bind(*version)
            .bind(data.as_str());
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// A text document written or edited here: its text is kept as the document's body (readable
/// offline, and still there once the platform's copy comes back without it) and indexed.
async fn keep_local_text(
    tx: &mut SqliteConnection,
    id: Uuid,
    fields: &Map<String, Value>,
) -> Result<()> {
    if let Some(text) = fields.get("content").and_then(Value::as_str) {
        use sha2::Digest as _;
        // The platform's content_hash is the SHA-256 of the same bytes: the body stays valid
        // when the document returns from the platform.
        let hash = hex::encode(sha2::Sha256::digest(text.as_bytes()));
        let mime = fields
            .get("mime_type")
            .and_then(Value::as_str)
            .unwrap_or("text/plain");
        put_body(tx, id, &hash, mime, text.as_bytes()).await?;
    }
    reindex_documents(tx, &[id]).await
}

pub(crate) async fn put_body(
    tx: &mut SqliteConnection,
    doc_id: Uuid,
    content_hash: &str,
    mime: &str,
    data: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO document_bodies (doc_id, content_hash, mime_type, data) VALUES (?, ?, ?, ?) \
         ON CONFLICT (doc_id) DO UPDATE SET content_hash = excluded.content_hash, \
         mime_type = excluded.mime_type, data = excluded.data",
    )
    .bind(doc_id.to_string())
    .bind(content_hash)
    .bind(mime)
    .bind(data)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Search index entries for documents: the title, and the text of a text body if kept here.
const INDEX_DOCUMENTS: &str = "INSERT INTO document_search (doc_id, title, body) \
     SELECT r.id, json_extract(r.data, '$.title'), COALESCE(CAST(b.data AS TEXT), '') \
     FROM rows r LEFT JOIN document_bodies b ON b.doc_id = r.id AND b.mime_type LIKE 'text/%' \
     WHERE r.table_name = 'healthcare_documents'";
static INDEX_SOME_DOCUMENTS: LazyLock<String> =
    LazyLock::new(|| format!("{INDEX_DOCUMENTS} AND r.id IN (SELECT value FROM json_each(?))"));

/// The ids as one JSON array: a statement takes a whole page's ids through `json_each`, in
/// one round trip to SQLite's thread rather than one per row.
fn id_list(ids: &[Uuid]) -> String {
    serde_json::to_string(ids).expect("uuids serialize")
}

/// Brings the search index entries of documents in line with their rows and bodies.
pub(crate) async fn reindex_documents(tx: &mut SqliteConnection, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids = id_list(ids);
    sqlx::query("DELETE FROM document_search WHERE doc_id IN (SELECT value FROM json_each(?))")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&INDEX_SOME_DOCUMENTS)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn update_in(
    tx: &mut SqliteConnection,
    table: SyncTable,
    id: Uuid,
    fields: Map<String, Value>,
) -> Result<()> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT version, data FROM rows WHERE table_name = ? AND id = ?")
            .bind(table.as_str())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
    let (version, data) = row.ok_or(SyncError::NotFound("row"))?;
    check(table, MutationOp::Update, &fields)?;
    let mut data: Map<String, Value> = serde_json::from_str(&data)?;
    if table == SyncTable::HealthcareDocuments {
        require_patient(tx, &data).await?;
    }
    data.extend(fields.clone());
    // A correction of a row the platform refused to create: the whole row goes out as a
    // creation again, if it now passes the check the platform runs.
    let resend = match refused_insert(tx, table, id).await? {
        Some(refusal) => {
            let created = creation_of(&data);
            check(table, MutationOp::Insert, &created)?;
            Some((refusal, created))
        }
        None => None,
    };
    sqlx::query("UPDATE rows SET data = ? WHERE table_name = ? AND id = ?")
        .bind(Value::Object(data).to_string())
        .bind(table.as_str())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    if table == SyncTable::HealthcareDocuments {
        keep_local_text(tx, id, &fields).await?;
    }
    if let Some((refusal, created)) = resend {
        return resend_refused(tx, table, id, &refusal, created).await;
    }
    // A field with an edit still unconfirmed shows that edit, not what the server has written
    // to it since: an edit of it knows no more than that earlier one's base, and says so (the
    // server then reports what it holds as a conflict instead of overwriting it unseen).
    let queued: Vec<(i64, String)> = sqlx::query_as(
        "SELECT base_version, fields FROM outbox WHERE table_name = ? AND row_id = ? \
         AND op IN ('update', 'restore')",
    )
    .bind(table.as_str())
    .bind(id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    let mut base = version;
    for (queued_base, queued_fields) in queued {
        let queued_fields: Map<String, Value> = serde_json::from_str(&queued_fields)?;
        if queued_fields.keys().any(|k| fields.contains_key(k)) {
            base = base.min(queued_base);
        }
    }
    enqueue(tx, table, id, MutationOp::Update, base, fields).await
}

async fn delete_in(tx: &mut SqliteConnection, table: SyncTable, id: Uuid) -> Result<()> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT version FROM rows WHERE table_name = ? AND id = ?")
            .bind(table.as_str())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
    let version = version.ok_or(SyncError::NotFound("row"))?;
    if let Some(refusal) = refused_insert(tx, table, id).await? {
        // Never created there: nothing to tell the platform.
        settle_refusal(tx, &refusal).await?;
        return drop_draft(tx, table, id).await;
    }
    sqlx::query("DELETE FROM rows WHERE table_name = ? AND id = ?")
        .bind(table.as_str())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    let unsent_insert = sqlx::query(
        "DELETE FROM outbox WHERE table_name = ? AND row_id = ? AND sent = 0 \
         AND op IN ('insert', 'restore', 'update') AND EXISTS (SELECT 1 FROM outbox o \
         WHERE o.table_name = outbox.table_name AND o.row_id = outbox.row_id \
         AND o.op IN ('insert', 'restore') AND o.sent = 0)",
    )
    .bind(table.as_str())
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if unsent_insert == 0 {
        let mut fields = Map::new();
        if table == SyncTable::Patients {
            // The documents deleted with it, as known here: the server refuses to delete ones
            // added or edited elsewhere unseen (a conflict instead).
            let known: Vec<(String, i64)> = sqlx::query_as(
                "SELECT id, version FROM rows WHERE table_name = 'healthcare_documents' \
                 AND json_extract(data, '$.patient_id') = ?",
            )
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await?;
            let known: Map<String, Value> = known
                .into_iter()
                .map(|(d, v)| (d, Value::from(v)))
                .collect();
            fields.insert("documents".into(), Value::Object(known));
        }
        enqueue(tx, table, id, MutationOp::Delete, version, fields).await?;
    }
    if table == SyncTable::HealthcareDocuments {
        reindex_documents(tx, &[id]).await?;
    }
    Ok(())
}

/// A document is written here only while its patient is here: one whose patient was deleted
/// here goes with it at the platform, and an edit made after that delete would be deleted
/// unseen.
pub(crate) async fn require_patient(
    tx: &mut SqliteConnection,
    document: &Map<String, Value>,
) -> Result<()> {
    let patient = document
        .get("patient_id")
        .and_then(Value::as_str)
        .and_then(|p| p.parse::<Uuid>().ok())
        .ok_or(SyncError::NotFound("patient"))?;
    if has_row(tx, SyncTable::Patients, patient).await? {
        Ok(())
    } else {
        Err(SyncError::NotFound("patient"))
    }
}

/// Puts a row back to what the server holds (`None`: nothing, the row is gone or out of
/// sight), with the edits still queued for it on top: after the server refused an edit or
/// found it in conflict, the replica shows the truth plus what is still on its way.
async fn return_to_server(
    tx: &mut SqliteConnection,
    table: SyncTable,
    id: Uuid,
    server: Option<&Value>,
) -> Result<()> {
    let entries: Vec<(String, String)> = sqlx::query_as(
        "SELECT op, fields FROM outbox WHERE table_name = ? AND row_id = ? ORDER BY seq",
    )
    .bind(table.as_str())
    .bind(id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    let mut queued: Option<Queued> = None;
    for (op, fields) in entries {
        let q = queued.get_or_insert_with(Queued::default);
        q.deleting |= op == "delete";
        q.fields.push(serde_json::from_str(&fields)?);
    }
    match (rebase(server, queued.as_ref()), server) {
        (Rebased::Upsert(data), Some(row)) => {
            refresh_conflicts(tx, table, id, row).await?;
            let version = row["version"].as_i64().unwrap_or_default();
            // A repeated answer may be older than what a pull already brought: keep the newer.
            upsert(
                tx,
                &UPSERT_ONE,
                &[(table.as_str(), id.to_string(), version, data)],
            )
            .await?;
        }
        (Rebased::Remove, _) => {
            sqlx::query("DELETE FROM rows WHERE table_name = ? AND id = ?")
                .bind(table.as_str())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        _ => {}
    }
    if table == SyncTable::HealthcareDocuments {
        drop_stale_bodies(tx, &[id]).await?;
        reindex_documents(tx, &[id]).await?;
    }
    Ok(())
}

/// Brings the server's side of a row's open field conflicts up to `row` (a newer version the
/// server sent): the person deciding sees what the platform holds now, not what it held when
/// the conflict was found, and "mine" never overwrites a later value unseen. Fields the row
/// does not carry (a document's text: the feed sends none) keep the value the push reported.
async fn refresh_conflicts(
    tx: &mut SqliteConnection,
    table: SyncTable,
    id: Uuid,
    row: &Value,
) -> Result<()> {
    let version = row["version"].as_i64().unwrap_or_default();
    sqlx::query(
        "UPDATE conflicts SET server_value = COALESCE(?1 -> ('$.' || field), 'null'), \
         server_version = ?2 WHERE table_name = ?3 AND row_id = ?4 AND kind = 'fields' \
         AND resolved_at IS NULL AND server_version <= ?2 \
         AND json_type(?1, '$.' || field) IS NOT NULL",
    )
    .bind(row.to_string())
    .bind(version)
    .bind(table.as_str())
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Forgets kept bodies that no longer match their documents (changed, or gone).
async fn drop_stale_bodies(tx: &mut SqliteConnection, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "DELETE FROM document_bodies WHERE doc_id IN (SELECT value FROM json_each(?)) \
         AND content_hash <> COALESCE((SELECT json_extract(r.data, '$.content_hash') FROM rows r \
         WHERE r.table_name = 'healthcare_documents' AND r.id = document_bodies.doc_id), '')",
    )
    .bind(id_list(ids))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The most text a document written or attached here may hold: a push carries it whole, in
/// JSON, under the platform's request limit.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// The check the platform runs on a pushed edit (the domain's request types), run before the
/// edit is queued: what this replica accepts offline is not refused a minute later.
pub(crate) fn check(table: SyncTable, op: MutationOp, fields: &Map<String, Value>) -> Result<()> {
    use domain::check::parse_fields;
    use domain::dto::{
        DocumentUpdate, NewAttachedDocument, NewPatient, NewTextDocument, PatientUpdate,
    };
    match (table, op) {
        (SyncTable::Patients, MutationOp::Insert) => {
            parse_fields::<NewPatient>(fields)?;
        }
        (SyncTable::Patients, MutationOp::Update) => {
            parse_fields::<PatientUpdate>(fields)?;
        }
        // A file attached here names the file sent ahead ([`crate::files`]).
        (SyncTable::HealthcareDocuments, MutationOp::Insert | MutationOp::Update)
            if fields
                .get("content")
                .and_then(Value::as_str)
                .is_some_and(|text| text.len() > MAX_TEXT_BYTES) =>
        {
            return Err(SyncError::Field(domain::check::FieldError {
                field: Some("content".into()),
                detail: format!(
                    "a text may hold at most {} MiB here; attach a longer one as a PDF",
                    MAX_TEXT_BYTES / (1024 * 1024)
                ),
            }));
        }
        (SyncTable::HealthcareDocuments, MutationOp::Insert) => {
            let mut document = fields.clone();
            document.remove("patient_id");
            if document.contains_key("upload") {
                parse_fields::<NewAttachedDocument>(&document)?;
            } else {
                parse_fields::<NewTextDocument>(&document)?;
            }
        }
        (SyncTable::HealthcareDocuments, MutationOp::Update) => {
            parse_fields::<DocumentUpdate>(fields)?;
        }
        _ => {}
    }
    Ok(())
}

/// The open refusal of this row's creation (its mutation id), if the platform refused to
/// create it and the person has not dealt with that yet.
pub(crate) async fn refused_insert(
    tx: &mut SqliteConnection,
    table: SyncTable,
    id: Uuid,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT mutation_id FROM rejected WHERE table_name = ? AND row_id = ? AND op = 'insert' \
         AND settled_at IS NULL LIMIT 1",
    )
    .bind(table.as_str())
    .bind(id.to_string())
    .fetch_optional(&mut *tx)
    .await?)
}

/// Queues a refused creation again as `created` and settles its refusal; for a patient, its
/// documents refused for want of it go out after it (those that pass the check).
/// The creation a row made here (and refused) is sent as again: its fields but the id; for a
/// document made from a file, the file named by its hash (the bytes are still kept here).
fn creation_of(data: &Map<String, Value>) -> Map<String, Value> {
    let mut created = data.clone();
    created.remove("id");
    let from_file = !created.contains_key("content") && created.contains_key("content_hash");
    if from_file {
        created.remove("mime_type");
        created.remove("size_bytes");
        if let Some(hash) = created.remove("content_hash") {
            created.insert("upload".into(), hash);
        }
    }
    created
}

async fn resend_refused(
    tx: &mut SqliteConnection,
    table: SyncTable,
    id: Uuid,
    refusal: &str,
    created: Map<String, Value>,
) -> Result<()> {
    settle_refusal(tx, refusal).await?;
    enqueue(tx, table, id, MutationOp::Insert, 0, created).await?;
    if table != SyncTable::Patients {
        return Ok(());
    }
    // Documents written for the patient since its refusal wait in the outbox ahead of it:
    // they go to the back, after the patient they need (unsent entries only; an entry keeps
    // its mutation id).
    let queued: Vec<i64> = sqlx::query_scalar(
        "SELECT o.seq FROM outbox o JOIN rows r ON r.table_name = o.table_name AND r.id = o.row_id \
         WHERE o.table_name = 'healthcare_documents' AND o.sent = 0 \
         AND json_extract(r.data, '$.patient_id') = ? ORDER BY o.seq",
    )
    .bind(id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    for seq in queued {
        type Entry = (String, String, String, String, i64, String, String);
        let e: Entry = sqlx::query_as(
            "DELETE FROM outbox WHERE seq = ? RETURNING mutation_id, table_name, row_id, op, \
             base_version, fields, created_at",
        )
        .bind(seq)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO outbox (mutation_id, table_name, row_id, op, base_version, fields, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.0)
        .bind(e.1)
        .bind(e.2)
        .bind(e.3)
        .bind(e.4)
        .bind(e.5)
        .bind(e.6)
        .execute(&mut *tx)
        .await?;
    }
    let documents: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT x.mutation_id, r.id, r.data FROM rejected x JOIN rows r \
         ON r.table_name = x.table_name AND r.id = x.row_id \
         WHERE x.table_name = 'healthcare_documents' AND x.op = 'insert' AND x.settled_at IS NULL \
         AND json_extract(r.data, '$.patient_id') = ? ORDER BY x.created_at",
    )
    .bind(id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    for (mutation_id, doc_id, data) in documents {
        let created = creation_of(&serde_json::from_str(&data)?);
        if check(SyncTable::HealthcareDocuments, MutationOp::Insert, &created).is_ok() {
            settle_refusal(tx, &mutation_id).await?;
            enqueue(
                tx,
                SyncTable::HealthcareDocuments,
                uuid_of(&doc_id)?,
                MutationOp::Insert,
                0,
                created,
            )
            .await?;
        }
    }
    Ok(())
}

/// Removes a row the platform never created, with its queued edits and kept text; for a
/// patient, every document written here for them too (the platform cannot have any), their
/// refusals settled.
async fn drop_draft(tx: &mut SqliteConnection, table: SyncTable, id: Uuid) -> Result<()> {
    let mut drafts = vec![(table, id)];
    if table == SyncTable::Patients {
        let documents: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM rows WHERE table_name = 'healthcare_documents' \
             AND json_extract(data, '$.patient_id') = ?",
        )
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await?;
        for doc_id in documents {
            drafts.push((SyncTable::HealthcareDocuments, uuid_of(&doc_id)?));
        }
    }
    for (table, id) in drafts {
        let open: Vec<String> = sqlx::query_scalar(
            "SELECT mutation_id FROM rejected WHERE table_name = ? AND row_id = ? AND settled_at IS NULL",
        )
        .bind(table.as_str())
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await?;
        for mutation_id in open {
            settle_refusal(tx, &mutation_id).await?;
        }
        for sql in [
            "DELETE FROM rows WHERE table_name = ? AND id = ?",
            "DELETE FROM outbox WHERE table_name = ? AND row_id = ? AND sent = 0",
        ] {
            sqlx::query(sql)
                .bind(table.as_str())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        if table == SyncTable::HealthcareDocuments {
            sqlx::query("DELETE FROM document_bodies WHERE doc_id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            reindex_documents(tx, &[id]).await?;
        }
    }
    Ok(())
}

/// Adds `fields` (a later edit of the same refused row) to what refusal `mutation_id` says
/// was not accepted.
async fn fold_into_refusal(
    tx: &mut SqliteConnection,
    mutation_id: &str,
    fields: &Map<String, Value>,
) -> Result<()> {
    let kept: String = sqlx::query_scalar("SELECT fields FROM rejected WHERE mutation_id = ?")
        .bind(mutation_id)
        .fetch_one(&mut *tx)
        .await?;
    let mut kept: Map<String, Value> = serde_json::from_str(&kept)?;
    kept.extend(fields.clone());
    sqlx::query("UPDATE rejected SET fields = ? WHERE mutation_id = ?")
        .bind(Value::Object(kept).to_string())
        .bind(mutation_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Marks a refusal dealt with: it leaves the open ones and stays in the sync log, without
/// what was sent (the log needs the table, the operation and the reason; the values are
/// health data that would outlive a discard).
pub(crate) async fn settle_refusal(tx: &mut SqliteConnection, mutation_id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE rejected SET settled_at = ?, fields = '{}' WHERE mutation_id = ? AND settled_at IS NULL",
    )
        .bind(now())
        .bind(mutation_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn uuid_of(s: &str) -> Result<Uuid> {
    s.parse().map_err(|_| SyncError::NotFound("row id"))
}

async fn has_row(tx: &mut SqliteConnection, table: SyncTable, id: Uuid) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM rows WHERE table_name = ? AND id = ?")
        .bind(table.as_str())
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
    Ok(n > 0)
}

/// Adds an edit to the outbox, merging it into an unsent edit of the same row (one mutation
/// per row and push keeps a replica from conflicting with itself).
pub(crate) async fn enqueue(
    tx: &mut SqliteConnection,
    table: SyncTable,
    id: Uuid,
    op: MutationOp,
    base_version: i64,
    fields: Map<String, Value>,
) -> Result<()> {
    // Only into an entry made on the same version: an edit made after a pull brought a newer
    // one knows more than the entry's base says, and merging would report what it knew as
    // conflicts.
    let open: Option<(i64, String)> = sqlx::query_as(
        "SELECT seq, fields FROM outbox WHERE table_name = ? AND row_id = ? AND sent = 0 \
         AND op IN ('insert', 'restore', 'update') AND base_version = ? ORDER BY seq DESC LIMIT 1",
    )
    .bind(table.as_str())
    .bind(id.to_string())
    .bind(base_version)
    .fetch_optional(&mut *tx)
    .await?;
    if let (MutationOp::Update, Some((seq, existing))) = (op, open) {
        let mut merged: Map<String, Value> = serde_json::from_str(&existing)?;
        merged.extend(fields);
        sqlx::query("UPDATE outbox SET fields = ? WHERE seq = ?")
            .bind(Value::Object(merged).to_string())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO outbox (mutation_id, table_name, row_id, op, base_version, fields, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(table.as_str())
    .bind(id.to_string())
    .bind(serde_json::to_value(op)?.as_str().unwrap_or_default())
    .bind(base_version)
    .bind(Value::Object(fields).to_string())
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("replica-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        dir.join("replica.db")
    }

    fn bytes_hold(path: &Path, needle: &str) -> bool {
        replica_files(path).iter().any(|file| {
            std::fs::read(file)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
    }

    #[tokio::test]
    async fn an_encrypted_replica_keeps_no_text_in_clear_and_another_key_cannot_open_it() {
        let path = scratch();
        let key = ReplicaKey::generate();
        let replica = Replica::open_encrypted(&path, &key).await.expect("open");
        let mut fields = Map::new();
        fields.insert("name".into(), Value::String("Philippa Wrenhaven".into()));
        fields.insert("email".into(), Value::String("pw@example.org".into()));
        let id = replica
            .insert(SyncTable::Patients, fields)
            .await
            .expect("insert");
        assert!(!bytes_hold(&path, "Philippa Wrenhaven"));
        replica.close().await;

        // The same key opens it again.
        let replica = Replica::open_encrypted(&path, &key).await.expect("reopen");
        assert!(replica
            .row(SyncTable::Patients, id)
            .await
            .expect("row")
            .is_some());
        replica.close().await;

        // Another key (the old one lost): a clear error, then a fresh start beside the old.
        let other = ReplicaKey::generate();
        assert!(matches!(
            Replica::open_encrypted(&path, &other).await,
            Err(SyncError::Unreadable)
        ));
        let aside = set_aside(&path).expect("set aside");
        assert!(aside.exists() && !path.exists());
        let fresh = Replica::open_encrypted(&path, &other).await.expect("fresh");
        assert_eq!(fresh.pending().await.expect("pending"), 0);
        std::fs::remove_dir_all(path.parent().expect("dir")).expect("clean up");
    }

    #[test]
    fn keys_round_trip_through_hex_and_never_print() {
        let key = ReplicaKey::generate();
        assert_eq!(ReplicaKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert_eq!(ReplicaKey::from_hex("abc"), None);
        assert_eq!(format!("{key:?}"), "ReplicaKey(..)");
    }
}
