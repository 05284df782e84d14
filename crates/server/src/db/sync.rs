//! The change feed: every row a caller may see that changed after their cursor, in pages.
//!
//! Each synced row carries `change_seq`, stamped by triggers on every write: on SQLite a
//! counter bumped inside the (single) writing transaction, so it commits in order; on
//! PostgreSQL the writing transaction's id. A cursor holds a horizon `h`: every write with
//! `change_seq < h` was already complete when the previous walk began, so a walk sends the rows
//! with `change_seq >= h`. The next horizon is read, in the same snapshot as the walk's first
//! page, as the oldest transaction still running (PostgreSQL: the snapshot's xmin; SQLite: the
//! counter + 1). A transaction that commits late has an id at or above that horizon, so it is
//! sent by the next walk, never skipped; a row may be sent twice, and replicas keep the higher
//! version. Within a walk, pages continue after the last (seq, table, id) sent.
//!
//! Scope follows the REST rules. Rows a caller sees through a share carry the share's
//! `change_seq` too, so a new share sends the document (and its patient) and a revoked one
//! sends `remove`.
//!
//! Any other way out of scope (a patient relinked to another provider or handed to another
//! owner, the caller's type or links changed) moves the caller's `users.scope_epoch` on, in
//! the writing transaction (triggers, migration 0008). A cursor carries the epoch it was
//! issued at, read in the walk's snapshot; a cursor from another epoch is refused
//! ([`Db::feed`] answers `None`, the API 410 `cursor_expired`) and the replica pulls from
//! scratch, dropping every row the new walk does not send.

use super::{
    cursor, documents, inquiries, logs, measurements, patients, shares, users, Backend, Db,
    DbResult, RowExt, Sql,
};
use domain::access::{DocumentScope, InquiryScope, PatientScope};
use domain::dto::{Change, ChangeOp, SyncTable, UserDirectoryEntry};
use domain::{Caller, UserType};
use sqlx::any::AnyRow;
use uuid::Uuid;

/// Where a replica is in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    /// When the server issued it (unix seconds): a cursor older than tombstone retention may
    /// have missed deletions and is refused.
    pub issued_at: i64,
    /// The caller's `users.scope_epoch` when it was issued (0 in cursors from before epochs).
    pub scope_epoch: i64,
    /// Send rows with `change_seq >= horizon`.
    pub horizon: i64,
    /// Mid-walk: the horizon the next walk starts from, and the last key sent.
    pub walk: Option<(i64, FeedKey)>,
    /// How many of [`TABLES`] the replica knew when the cursor was issued (5 in cursors from
    /// before inquiries and measurements). The tables after those are walked from the start,
    /// once, and only they: an upgraded app gets what it did not hold without pulling the
    /// rest again.
    pub tables: usize,
}

/// The order of the feed: (seq, table, id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedKey {
    pub seq: i64,
    pub table: SyncTable,
    pub id: String,
}

impl FeedCursor {
    pub fn start() -> Self {
        Self {
            issued_at: chrono::Utc::now().timestamp(),
            scope_epoch: 0,
            horizon: 0,
            walk: None,
            tables: TABLES.len(),
        }
    }

    pub fn encode(&self) -> String {
        let (issued, horizon) = (self.issued_at.to_string(), self.horizon.to_string());
        let (epoch, tables) = (self.scope_epoch.to_string(), self.tables.to_string());
        match &self.walk {
            None => cursor::encode(&["3", &issued, &horizon, &epoch, &tables]),
            Some((next, key)) => cursor::encode(&[
                "3",
                &issued,
                &horizon,
                &epoch,
                &tables,
                &next.to_string(),
                &key.seq.to_string(),
                &(key.table as u8).to_string(),
                &key.id,
            ]),
        }
    }

    /// `None`: not a cursor this feed issued. Version 1 (no epoch) reads as epoch 0, and
    /// versions 1 and 2 (no table count) as knowing the first five tables.
    pub fn decode(s: &str) -> Option<Self> {
        let mut parts = [3, 7, 4, 8, 5, 9]
            .into_iter()
            .find_map(|n| cursor::decode(s, n))?;
        let (scope_epoch, tables) = match (parts[0].as_str(), parts.len()) {
            ("1", 3 | 7) => (0, TABLES_BEFORE_COUNTS),
            ("2", 4 | 8) => (parts.remove(3).parse().ok()?, TABLES_BEFORE_COUNTS),
            ("3", 5 | 9) => {
                let tables = parts.remove(4).parse().ok()?;
                (parts.remove(3).parse().ok()?, tables)
            }
            _ => return None,
        };
        if tables == 0 || tables > TABLES.len() {
            return None;
        }
        let issued_at = parts[1].parse().ok()?;
        let horizon = parts[2].parse().ok()?;
        let walk = match parts.len() {
            3 => None,
            _ => {
                let table = *TABLES.get(parts[5].parse::<usize>().ok()?)?;
                let key = FeedKey {
                    seq: parts[4].parse().ok()?,
                    table,
                    id: parts[6].clone(),
                };
                Some((parts[3].parse().ok()?, key))
            }
        };
        Some(Self {
            issued_at,
            scope_epoch,
            horizon,
            walk,
            tables,
        })
    }
}

/// The tables cursors knew before they counted them (users to the log).
const TABLES_BEFORE_COUNTS: usize = 5;

/// Feed order of the tables (parents before children within one seq).
const TABLES: [SyncTable; 7] = SyncTable::FEED;

/// One page of changes, the cursor after it, and whether more follow.
pub type Page = (Vec<Change>, FeedCursor, bool);

struct FeedRow {
    key: FeedKey,
    change: Change,
}

/// Who reads the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// A signed-in person: what their role lets them see (an admin: the users only).
    Person,
    /// The platform's own followers (the Carepatron integration), which are no user: the
    /// whole practice.
    Platform,
}

impl Db {
    /// One page of the whole practice's changes after `cursor`, and the cursor after it, for
    /// the platform's own followers (`caller` is their stand-in, no user); people pull
    /// through [`Db::feed`].
    pub async fn changes(
        &self,
        caller: &Caller,
        cursor: &FeedCursor,
        limit: usize,
    ) -> DbResult<Page> {
        self.walk(Reader::Platform, caller, cursor, limit, TABLES.len())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the caller's scope changed").into())
    }

    /// One page of the caller's changes after `cursor`, and the cursor after it. `None`: the
    /// cursor was issued for another scope epoch of the caller's (or the caller's type or links
    /// are no longer the session's, or the caller is no user): pull again from scratch.
    /// `reads`: how many of [`TABLES`] the client reads (older apps, fewer).
    pub async fn feed(
        &self,
        caller: &Caller,
        cursor: &FeedCursor,
        limit: usize,
        reads: usize,
    ) -> DbResult<Option<Page>> {
        self.walk(Reader::Person, caller, cursor, limit, reads)
            .await
    }

    async fn walk(
        &self,
        reader: Reader,
        caller: &Caller,
        cursor: &FeedCursor,
        limit: usize,
        reads: usize,
    ) -> DbResult<Option<Page>> {
        let reads = reads.clamp(1, TABLES.len());
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        // In the walk's snapshot: the epoch and the scope the walk uses agree. The caller's
        // type and links come from the session; if they are no longer the row's, the walk
        // would use a scope that has gone.
        let me = sqlx::query(
            "SELECT type, provider_id, patient_id, scope_epoch, deleted_at FROM users WHERE id = $1",
        )
        .bind(caller.id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let scope_epoch = match (me, reader) {
            // Not a user: the platform's own followers.
            (None, Reader::Platform) => 0,
            (None, Reader::Person) => return Ok(None),
            (Some(row), _) => {
                let same = row.opt_text("deleted_at")?.is_none()
                    && super::parse_kind::<UserType>(&row.text("type")?)? == caller.kind
                    && row.opt_id("provider_id")? == caller.provider_id
                    && row.opt_id("patient_id")? == caller.patient_id;
                if !same {
                    return Ok(None);
                }
                row.int("scope_epoch")?
            }
        };
        // Any cursor but a start: `start` has horizon 0, every cursor issued a higher one.
        let resumed = cursor.horizon > 0 || cursor.walk.is_some();
        if resumed && cursor.scope_epoch != scope_epoch {
            return Ok(None);
        }
        let (next_horizon, after) = match &cursor.walk {
            Some((next, key)) => (*next, Some(key)),
            None => {
                let sql = match self.backend {
                    Backend::Sqlite => "SELECT seq + 1 FROM sync_counter",
                    Backend::Postgres => {
                        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
                    }
                };
                (
                    sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(&mut *tx)
                        .await?,
                    None,
                )
            }
        };
        // A cursor from before some tables (an app that did not sync them yet): those are
        // walked from the start, the others from the horizon as always.
        let upgrading = cursor.tables < reads;
        let mut rows: Vec<FeedRow> = Vec::new();
        for (n, table) in TABLES.into_iter().enumerate().take(reads) {
            let new_to_replica = n >= cursor.tables;
            let lower = match after {
                None if new_to_replica => Lower::AtLeast(0),
                None => Lower::AtLeast(cursor.horizon),
                // Keyset on (seq, table, id); the table is fixed per query. Every key of a
                // walk is at or above its horizon (but for tables new to the replica), so the
                // key bounds the rows, with the horizon as a floor while upgrading.
                Some(a) => match table.cmp(&a.table) {
                    std::cmp::Ordering::Greater => Lower::AtLeast(a.seq),
                    std::cmp::Ordering::Less => Lower::Above(a.seq),
                    std::cmp::Ordering::Equal => Lower::AboveKey(a.seq, &a.id),
                },
            };
            let Some(sql) = self.table_query(reader, caller, table, lower) else {
                continue;
            };
            let mut wrapped = Sql::wrap("SELECT * FROM (", sql, ") q WHERE 1 = 1");
            if upgrading && !new_to_replica {
                wrapped.push(" AND q.seq >= ").bind(cursor.horizon);
            }
            // A page holds the first `limit` keys of all tables, and one more says there are
            // more: once the tables walked hold that many, a later table's rows past the last
            // of them would be cut off the page. Not read at all, they cost nothing (they
            // were half of what a page read where patients and documents interleave).
            if let Some(last) = rows.get(limit) {
                wrapped.push(" AND q.seq <= ").bind(last.key.seq);
            }
            wrapped.push(" ORDER BY q.seq, q.id LIMIT ");
            wrapped.bind(limit as i64 + 1);
            for row in wrapped.fetch_all(&mut *tx).await? {
                rows.push(feed_row(caller, table, &row)?);
            }
            rows.sort_by(|a, b| a.key.cmp(&b.key));
            rows.truncate(limit + 1);
        }
        tx.commit().await?;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let issued_at = chrono::Utc::now().timestamp();
        let next = match (has_more, rows.last()) {
            (true, Some(last)) => FeedCursor {
                issued_at,
                scope_epoch,
                horizon: cursor.horizon,
                walk: Some((next_horizon, last.key.clone())),
                tables: cursor.tables,
            },
            _ => FeedCursor {
                issued_at,
                scope_epoch,
                horizon: next_horizon,
                walk: None,
                tables: reads,
            },
        };
        Ok(Some((
            rows.into_iter().map(|r| r.change).collect(),
            next,
            has_more,
        )))
    }

    /// The id and version of every row of `table` the caller's replica should hold now (live,
    /// in scope), read in one snapshot: what `GET /sync/checksums` sums up and
    /// `GET /sync/manifest` lists.
    pub async fn manifest(&self, caller: &Caller, table: SyncTable) -> DbResult<Vec<(Uuid, i64)>> {
        let Some(inner) = self.table_query(Reader::Person, caller, table, Lower::AtLeast(0)) else {
            return Ok(Vec::new());
        };
        let sql = Sql::wrap("SELECT * FROM (", inner, ") q");
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let rows = sql.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut held = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.opt_text("deleted_at")?.is_some() || !live(row) {
                continue;
            }
            held.push((super::parse_id(&row.text("id")?)?, row.int("version")?));
        }
        Ok(held)
    }

    /// The rows of `table` among `ids` that the caller may see, as the change feed would send
    /// them (one the caller may not see, or that is gone, is left out).
    pub async fn rows_by_id(
        &self,
        caller: &Caller,
        table: SyncTable,
        ids: &[Uuid],
    ) -> DbResult<Vec<Change>> {
        let Some(inner) = self.table_query(Reader::Person, caller, table, Lower::AtLeast(0)) else {
            return Ok(Vec::new());
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::wrap("SELECT * FROM (", inner, ") q WHERE q.id IN (");
        for (n, id) in ids.iter().enumerate() {
            if n > 0 {
                sql.push(", ");
            }
            sql.bind(*id);
        }
        sql.push(")");
        let rows = sql.fetch_all(&self.pool).await?;
        let mut changes = Vec::with_capacity(rows.len());
        for row in &rows {
            let change = feed_row(caller, table, row)?.change;
            if change.op == ChangeOp::Upsert {
                changes.push(change);
            }
        }
        Ok(changes)
    }

    /// `max(a, b)` in this engine's SQL.
    fn greatest(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "max",
            Backend::Postgres => "GREATEST",
        }
    }

    /// The rows of `table` in the caller's scope from `lower` on, each with a `seq` column
    /// (and `live` where access comes through shares). `None`: no such rows.
    ///
    /// An admin's replica holds what administration needs offline: the users. Patient data
    /// (patients, documents, shares, the log) is read online, where each read is audited: a
    /// clinic's IT laptop carries no PHI, and its first sync does not grow with the practice.
    /// The platform's own followers read as an admin, everything.
    fn table_query(
        &self,
        reader: Reader,
        caller: &Caller,
        table: SyncTable,
        lower: Lower,
    ) -> Option<Sql> {
        if reader == Reader::Person && caller.is(UserType::Admin) && table != SyncTable::Users {
            return None;
        }
        let max = self.greatest();
        let mut sql = Sql::default();
        match table {
            SyncTable::Users => {
                sql.push(&format!(
                    "SELECT {}, u.deleted_at, u.change_seq AS seq FROM users u WHERE ",
                    super::qualify(users::COLS, "u")
                ));
                lower.push(&mut sql, "u");
                match caller.kind {
                    UserType::Admin => {}
                    UserType::Dietician | UserType::Practitioner => {
                        sql.push(" AND (u.id = ").bind(caller.id);
                        sql.push(" OR u.type IN ('dietician', 'practitioner'))");
                    }
                    UserType::Provider | UserType::Patient => {
                        sql.push(" AND u.id = ").bind(caller.id);
                    }
                }
            }
            SyncTable::Patients => {
                let cols = &*patients::P_COLS;
                match caller.patient_scope() {
                    PatientScope::WithDocumentsSharedTo(practitioner) => {
                        sql.push(&format!(
                            "SELECT {cols}, p.deleted_at, {max}(p.change_seq, x.share_seq) AS seq, \
                             x.live FROM patients p JOIN (SELECT d.patient_id, \
                             MAX(s.change_seq) AS share_seq, CAST(MAX(CASE WHEN s.deleted_at IS NULL \
                             AND d.deleted_at IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS live \
                             FROM document_shares s JOIN healthcare_documents d \
                             ON d.id = s.document_id WHERE s.practitioner_id = "
                        ))
                        .bind(practitioner)
                        .push(" GROUP BY d.patient_id) x ON x.patient_id = p.id WHERE 1 = 1");
                    }
                    scope => {
                        sql.push(&format!(
                            "SELECT {cols}, p.deleted_at, p.change_seq AS seq FROM patients p \
                             WHERE 1 = 1"
                        ));
                        patients::push_scope(&mut sql, scope);
                    }
                }
                return Some(wrap_from(sql, lower));
            }
            SyncTable::HealthcareDocuments => {
                let cols = &*documents::D_COLS;
                match caller.document_scope() {
                    DocumentScope::SharedTo(practitioner) => {
                        sql.push(&format!(
                            "SELECT {cols}, d.deleted_at, {max}(d.change_seq, x.share_seq) AS seq, \
                             x.live FROM healthcare_documents d JOIN (SELECT s.document_id, \
                             MAX(s.change_seq) AS share_seq, CAST(MAX(CASE WHEN s.deleted_at IS NULL \
                             THEN 1 ELSE 0 END) AS BIGINT) AS live FROM document_shares s \
                             WHERE s.practitioner_id = "
                        ))
                        .bind(practitioner)
                        .push(" GROUP BY s.document_id) x ON x.document_id = d.id WHERE 1 = 1");
                    }
                    // No join: every other scope is a condition on the document row (a
                    // provider's: and on its patient's link), and a dietician's feed walks
                    // (owner_id, change_seq, id) in feed order.
                    scope => {
                        sql.push(&format!(
                            "SELECT {cols}, d.deleted_at, d.change_seq AS seq FROM \
                             healthcare_documents d WHERE 1 = 1"
                        ));
                        documents::push_scope(&mut sql, scope);
                    }
                }
                return Some(wrap_from(sql, lower));
            }
            SyncTable::DocumentShares => {
                sql.push(&format!(
                    "SELECT {}, s.change_seq AS seq FROM document_shares s JOIN healthcare_documents d \
                     ON d.id = s.document_id JOIN patients p ON p.id = d.patient_id WHERE ",
                    super::qualify(shares::COLS, "s")
                ));
                lower.push(&mut sql, "s");
                match caller.kind {
                    UserType::Admin => {}
                    UserType::Dietician => {
                        sql.push(" AND p.user_id = ").bind(caller.id);
                    }
                    UserType::Practitioner => {
                        sql.push(" AND s.practitioner_id = ").bind(caller.id);
                    }
                    UserType::Provider | UserType::Patient => return None,
                }
            }
            SyncTable::SynchronizationLog => {
                sql.push(&format!(
                    "SELECT {}, l.version, l.deleted_at, l.change_seq AS seq FROM synchronization_log l \
                     JOIN patients p ON p.id = l.patient_id WHERE ",
                    super::qualify(logs::COLS, "l")
                ));
                lower.push(&mut sql, "l");
                match caller.kind {
                    UserType::Admin => {}
                    UserType::Dietician => {
                        sql.push(" AND p.user_id = ").bind(caller.id);
                    }
                    _ => return None,
                }
            }
            // Dieticians' only; the platform's own followers have no use for them. One
            // another dietician converted leaves (`remove`): it is theirs alone from then on.
            SyncTable::Inquiries => {
                let scope = caller.inquiry_scope();
                if reader == Reader::Platform || scope == InquiryScope::Nothing {
                    return None;
                }
                sql.push(&format!(
                    "SELECT {}, i.deleted_at, i.change_seq AS seq, CAST(CASE WHEN ",
                    super::qualify(inquiries::COLS, "i")
                ));
                inquiries::push_live(&mut sql, caller.id);
                sql.push(" THEN 1 ELSE 0 END AS BIGINT) AS live FROM inquiries i WHERE ");
                lower.push(&mut sql, "i");
                inquiries::push_addressed(&mut sql, scope);
            }
            // The patient's dietician's and the patient's own (`can_read_measurements`).
            SyncTable::Measurements => {
                if reader == Reader::Platform {
                    return None;
                }
                sql.push(&format!(
                    "SELECT {}, m.deleted_at, m.change_seq AS seq FROM measurements m WHERE ",
                    super::qualify(measurements::COLS, "m")
                ));
                lower.push(&mut sql, "m");
                match caller.kind {
                    // A probe of the patient per row, so the walk runs down the feed's index:
                    // joined, SQLite started from the dietician's patients and looked each one
                    // up in measurements, on every page (5 s of a 110,000-row first sync).
                    UserType::Dietician => {
                        sql.push(
                            " AND EXISTS (SELECT 1 FROM patients p WHERE p.id = m.patient_id \
                             AND p.user_id = ",
                        )
                        .bind(caller.id)
                        .push(")");
                    }
                    UserType::Patient => match caller.patient_id {
                        Some(own) => {
                            sql.push(" AND m.patient_id = ").bind(own);
                        }
                        None => return None,
                    },
                    _ => return None,
                }
            }
        }
        Some(sql)
    }
}

/// Where a page starts in one table.
#[derive(Clone, Copy)]
enum Lower<'a> {
    /// `seq >= n`: a walk's first page.
    AtLeast(i64),
    /// `seq > n`: tables before the last key's table in feed order.
    Above(i64),
    /// `(seq, id) > (n, id)`: the last key's table. A row value, so both engines seek their
    /// `(…, change_seq, id)` index straight to it, even when one transaction wrote every row.
    AboveKey(i64, &'a str),
}

impl Lower<'_> {
    /// Appends the bound on `alias`'s `change_seq` (or computed `seq`) and `id`.
    fn push(self, sql: &mut Sql, alias: &str) {
        let seq = match alias {
            "w" => "w.seq".to_owned(),
            table => format!("{table}.change_seq"),
        };
        match self {
            Self::AtLeast(n) => sql.push(&format!("{seq} >= ")).bind(n),
            Self::Above(n) => sql.push(&format!("{seq} > ")).bind(n),
            Self::AboveKey(n, id) => sql
                .push(&format!("({seq}, {alias}.id) > ("))
                .bind(n)
                .push(", ")
                .bind(id)
                .push(")"),
        };
    }
}

/// Wraps a query whose `seq` may be computed, so the bound applies to it in either engine.
fn wrap_from(inner: Sql, lower: Lower) -> Sql {
    let mut sql = Sql::wrap("SELECT * FROM (", inner, ") w WHERE ");
    lower.push(&mut sql, "w");
    sql
}

/// Whether the caller still sees a row through a share (`live`, where access comes that way).
fn live(row: &AnyRow) -> bool {
    sqlx::Row::try_get::<i64, _>(row, "live").map_or(true, |l| l != 0)
}

/// A row of `table` as the change the caller gets.
fn feed_row(caller: &Caller, table: SyncTable, row: &AnyRow) -> DbResult<FeedRow> {
    let id = row.text("id")?;
    let seq = row.int("seq")?;
    let deleted = row.opt_text("deleted_at")?.is_some();
    // Present only where access comes through shares (and inquiries): 0 once no live share
    // is left.
    let live = live(row);
    let (version, op, value) = match table {
        SyncTable::Users => {
            let user = users::user_from_row(row)?.user;
            let value = if caller.is(UserType::Admin) || user.id == caller.id {
                serde_json::to_value(&user)
            } else {
                serde_json::to_value(UserDirectoryEntry {
                    id: user.id,
                    name: user.name,
                    kind: user.kind,
                })
            };
            (
                user.version,
                ChangeOp::Upsert,
                value.map_err(anyhow::Error::from)?,
            )
        }
        SyncTable::Patients => {
            let p = patients::patient_from_row(row)?;
            (
                p.version,
                ChangeOp::Upsert,
                serde_json::to_value(&p).map_err(anyhow::Error::from)?,
            )
        }
        SyncTable::HealthcareDocuments => {
            let d = documents::document_from_row(row, false)?;
            (
                d.version,
                ChangeOp::Upsert,
                serde_json::to_value(&d).map_err(anyhow::Error::from)?,
            )
        }
        SyncTable::DocumentShares => {
            let s = shares::share_from_row(row)?;
            (
                s.version,
                ChangeOp::Upsert,
                serde_json::to_value(&s).map_err(anyhow::Error::from)?,
            )
        }
        SyncTable::SynchronizationLog => {
            let l = logs::entry_from_row(row)?;
            (
                row.int("version")?,
                ChangeOp::Upsert,
                serde_json::to_value(&l).map_err(anyhow::Error::from)?,
            )
        }
        SyncTable::Measurements => {
            let m = measurements::measurement_from_row(row)?;
            (
                m.version,
                ChangeOp::Upsert,
                serde_json::to_value(&m).map_err(anyhow::Error::from)?,
            )
        }
        SyncTable::Inquiries => {
            let i = inquiries::inquiry_from_row(row)?;
            (
                i.version,
                ChangeOp::Upsert,
                serde_json::to_value(&i).map_err(anyhow::Error::from)?,
            )
        }
    };
    let op = if deleted {
        ChangeOp::Delete
    } else if !live {
        ChangeOp::Remove
    } else {
        op
    };
    let row = (op == ChangeOp::Upsert).then_some(value);
    let change = Change {
        table,
        id: super::parse_id(&id)?,
        op,
        version,
        row,
    };
    Ok(FeedRow {
        key: FeedKey { seq, table, id },
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let start = FeedCursor {
            issued_at: 1_700_000_000,
            scope_epoch: 3,
            horizon: 42,
            walk: None,
            tables: TABLES.len(),
        };
        assert_eq!(FeedCursor::decode(&start.encode()), Some(start));
        let mid = FeedCursor {
            issued_at: 1_700_000_000,
            scope_epoch: 3,
            horizon: 42,
            walk: Some((
                99,
                FeedKey {
                    seq: 50,
                    table: SyncTable::DocumentShares,
                    id: "x".into(),
                },
            )),
            tables: 5,
        };
        assert_eq!(FeedCursor::decode(&mid.encode()), Some(mid));
        assert_eq!(
            FeedCursor::decode(&cursor::encode(&["4", "1", "1", "1"])),
            None
        );
        // Cursors from before scope epochs read as epoch 0, and those from before table
        // counts as knowing the first five tables.
        let old = FeedCursor::decode(&cursor::encode(&["1", "1", "42"])).unwrap();
        assert_eq!((old.scope_epoch, old.horizon, old.tables), (0, 42, 5));
        let v2 = FeedCursor::decode(&cursor::encode(&["2", "1", "42", "7"])).unwrap();
        assert_eq!((v2.scope_epoch, v2.horizon, v2.tables), (7, 42, 5));
        assert_eq!(
            FeedCursor::decode(&cursor::encode(&["3", "1", "42", "7", "99"])),
            None,
            "more tables than there are"
        );
    }
}
