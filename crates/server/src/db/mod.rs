//! Storage: one set of queries over SQLite (embedded default) or PostgreSQL (deployments).
//!
//! Both backends get the same schema, column for column (see `migrations/`), with ids and
//! timestamps as text, so the queries here run unchanged on either through sqlx's `Any`
//! driver. The few statements that differ (locking, the sync cursor) match on [`Backend`].

mod audit;
pub mod carepatron;
mod documents;
pub mod inquiries;
pub mod jobs;
pub mod links;
mod logs;
pub mod measurements;
pub mod mutations;
mod patients;
pub mod php;
pub mod providers;
mod shares;
mod sync;
mod tokens;
pub mod uploads;
mod users;

pub use audit::{Entity, Entry};
pub use documents::{
    delete_document_in, digest, insert_document_in, DocumentBody, DocumentFilter, NewDocument,
    StoredDocument,
};
pub use logs::{LogFilter, NewLogEntry};
pub use patients::{delete_patient_in, facts as patient_facts, insert_patient_in};
pub use providers::Provider;
pub use sync::FeedCursor;
pub use tokens::RefreshOutcome;
pub use users::{NewUserRow, StoredUser};

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Executor as _};
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");
static SQLITE_AUDIT_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/sqlite-audit");

/// Which database engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!("unsupported database URL: expected sqlite:PATH or postgres://…")
        }
    }
}

/// A storage error the API layer needs to tell apart; everything else is internal.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("a row with the same unique value exists")]
    Unique,
    #[error("a referenced row does not exist")]
    ForeignKey,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return Self::Unique,
                sqlx::error::ErrorKind::ForeignKeyViolation => return Self::ForeignKey,
                _ => {}
            }
        }
        Self::Other(e.into())
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// The platform database: a pool and the engine behind it.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    /// Where writes go. On SQLite a pool of one connection: writers queue here, in order,
    /// instead of colliding on the database lock and sleeping in SQLite's busy handler (which
    /// put 85 ms on the p99 of concurrent uploads). On PostgreSQL the same pool as reads.
    writer: AnyPool,
    /// Where the audit trail of PHI reads goes. On SQLite a database file of its own: a
    /// commit invalidates the page cache of every reader of that file, and the trail commits
    /// constantly (on the same file it cut single-patient reads by a third). On PostgreSQL
    /// the same pool as everything else.
    audit: AnyPool,
    /// Decides the handful of engine-specific statements.
    backend: Backend,
}

impl Db {
    /// Connects (creating a SQLite file if missing) without migrating.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = |max_connections: u32| {
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // WAL lets readers run beside the writer; busy_timeout queues writers
                            // instead of failing them; foreign keys are off by default in SQLite.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                            )
                            .await?;
                        }
                        Ok(())
                    })
                })
        };
        let pool = options(max_connections)
            .connect(&url)
            .await
            .context("cannot open the database (check RECORDS_DATABASE_URL)")?;
        let (writer, audit) = match backend {
            Backend::Sqlite => (
                options(1)
                    .connect(&url)
                    .await
                    .context("cannot open the database")?,
                options(1)
                    .connect(&sibling_sqlite_url(&url, "audit"))
                    .await
                    .context("cannot open the audit database")?,
            ),
            Backend::Postgres => (pool.clone(), pool.clone()),
        };
        Ok(Self {
            pool,
            writer,
            audit,
            backend,
        })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.writer)
            .await
            .context("database migration failed")?;
        if self.backend == Backend::Sqlite {
            SQLITE_AUDIT_MIGRATIONS
                .run(&self.audit)
                .await
                .context("audit database migration failed")?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// SQLite's change-feed counter: moves on with every synced write (what the live
    /// watcher reads).
    pub async fn change_counter(&self) -> DbResult<i64> {
        Ok(sqlx::query_scalar("SELECT seq FROM sync_counter")
            .fetch_one(&self.pool)
            .await?)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool of the audit trail.
    pub fn audit(&self) -> &AnyPool {
        &self.audit
    }

    /// The pool writes and write transactions use.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Cheap liveness probe for `/readyz`.
    pub async fn ping(&self) -> DbResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// `sqlite:/x/records.db?mode=rwc` -> `sqlite:/x/records-audit.db?mode=rwc`: a database file
/// beside the main one.
fn sibling_sqlite_url(url: &str, name: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if path.contains(":memory:") {
        return url.to_owned();
    }
    let stem = path.strip_suffix(".db").unwrap_or(path);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{stem}-{name}.db{query}")
}

/// A row as a push finds it.
#[derive(Debug)]
pub struct Found<T> {
    pub row: T,
    /// When it was deleted, for a tombstone.
    pub deleted_at: Option<String>,
    /// For a document: its patient is deleted (so it cannot come back on its own).
    pub parent_deleted: bool,
}

impl<T> Found<T> {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// On PostgreSQL, locks the row a push is about to judge and write (`FOR UPDATE OF alias`):
/// nobody writes it between the push's checks and its write, so a delete never removes an
/// edit committed meanwhile, and the versions after the one read are all this push's own.
/// SQLite has one writer at a time already.
pub(crate) fn lock_on_postgres(sql: &mut Sql, conn: &AnyConnection, alias: &str) {
    if conn.backend_name() == "PostgreSQL" {
        sql.push(&format!(" FOR UPDATE OF {alias}"));
    }
}

// ---------- values as stored ----------

pub use domain::time::{now, stamp};

pub(crate) fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("stored timestamp {s:?} is not RFC 3339"))?
        .with_timezone(&Utc))
}

pub(crate) fn parse_opt_time(s: Option<&str>) -> anyhow::Result<Option<DateTime<Utc>>> {
    s.map(parse_time).transpose()
}

pub(crate) fn parse_id(s: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(s).with_context(|| format!("stored id {s:?} is not a UUID"))
}

pub(crate) fn parse_opt_id(s: Option<&str>) -> anyhow::Result<Option<Uuid>> {
    s.map(parse_id).transpose()
}

pub(crate) fn parse_date(s: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| format!("stored date {s:?}"))
}

pub(crate) fn parse_kind<T: FromStr>(s: &str) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.parse::<T>()
        .context("stored value outside its vocabulary")
}

/// `a, b` -> `t.a, t.b`: a column list for a query that joins.
pub(crate) fn qualify(cols: &str, alias: &str) -> String {
    cols.split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `LIKE` pattern matching `needle` anywhere, case-insensitively (compare with `lower(col)`).
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

// ---------- a small SQL builder ----------

/// A value to bind. `Any` takes only a few primitive types, which is all the schema uses.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(Option<String>),
    Int(i64),
    Blob(Vec<u8>),
}

impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(Some(v))
    }
}
impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Self {
        Bind::Text(v)
    }
}
impl From<Uuid> for Bind {
    fn from(v: Uuid) -> Self {
        Bind::Text(Some(v.to_string()))
    }
}
impl From<Option<Uuid>> for Bind {
    fn from(v: Option<Uuid>) -> Self {
        Bind::Text(v.map(|u| u.to_string()))
    }
}
impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(v)
    }
}
impl From<Vec<u8>> for Bind {
    fn from(v: Vec<u8>) -> Self {
        Bind::Blob(v)
    }
}

/// SQL text with numbered `$n` placeholders (which both SQLite and PostgreSQL read), built up
/// piece by piece for the filtered lists. sqlx's own `QueryBuilder` writes `?` for `Any`,
/// which PostgreSQL rejects.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            binds: Vec::new(),
        }
    }

    /// `prefix inner suffix`, keeping `inner`'s binds (and so its placeholder numbers).
    pub fn wrap(prefix: &str, inner: Sql, suffix: &str) -> Self {
        Self {
            text: format!("{prefix}{}{suffix}", inner.text),
            binds: inner.binds,
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Bind>) -> &mut Self {
        self.binds.push(value.into());
        let _ = write!(self.text, "${}", self.binds.len());
        self
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        bind_all(sqlx::query(&self.text), &self.binds)
    }

    pub async fn fetch_all<'e, E>(&self, executor: E) -> DbResult<Vec<AnyRow>>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        Ok(self.query().fetch_all(executor).await?)
    }
}

pub(crate) fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    binds: &'q [Bind],
) -> Query<'q, Any, AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(v) => q.bind(v.as_deref()),
            Bind::Int(v) => q.bind(*v),
            Bind::Blob(v) => q.bind(v.as_slice()),
        };
    }
    q
}

/// Keyset pagination: the sort key of the last row of a page, opaque to clients.
pub mod cursor {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    const SEP: char = '\u{1f}';

    pub fn encode(keys: &[&str]) -> String {
        URL_SAFE_NO_PAD.encode(keys.join(&SEP.to_string()))
    }

    /// `None` for a cursor this server did not make (the API answers 400).
    pub fn decode(cursor: &str, parts: usize) -> Option<Vec<String>> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let keys: Vec<String> = text.split(SEP).map(str::to_owned).collect();
        (keys.len() == parts && keys.iter().all(|k| !k.is_empty())).then_some(keys)
    }
}

/// A page of rows plus the cursor of the next, from a query that fetched `limit + 1` rows.
pub(crate) fn paginate<T>(
    mut rows: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(key);
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_database_sits_beside_the_main_one() {
        assert_eq!(
            sibling_sqlite_url("sqlite:/d/records.db?mode=rwc", "audit"),
            "sqlite:/d/records-audit.db?mode=rwc"
        );
        assert_eq!(
            sibling_sqlite_url("sqlite:/d/data", "audit"),
            "sqlite:/d/data-audit.db"
        );
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
        assert_eq!(contains_pattern("ANA"), "%ana%");
    }

    #[test]
    fn cursors_round_trip_and_reject_foreign_input() {
        let c = cursor::encode(&["Ana Lima", "0190-id"]);
        assert_eq!(
            cursor::decode(&c, 2),
            Some(vec!["Ana Lima".into(), "0190-id".into()])
        );
        assert_eq!(cursor::decode(&c, 1), None);
        assert_eq!(cursor::decode("not base64!", 2), None);
        assert_eq!(cursor::decode("", 1), None);
    }

    #[test]
    fn stamps_sort_as_text() {
        let a = stamp(DateTime::from_timestamp(1_000_000_000, 5_000).expect("valid"));
        let b = stamp(DateTime::from_timestamp(1_000_000_000, 50_000).expect("valid"));
        assert!(a < b, "{a} {b}");
        assert_eq!(parse_time(&a).expect("parses").timestamp(), 1_000_000_000);
    }
}

// ---------- shared statements ----------

/// What a guarded write found.
#[derive(Debug)]
pub enum Written<T> {
    Done(T),
    /// The row is gone (or was never there).
    Missing,
    /// The row moved on past the version the caller based the change on (`If-Match`).
    Stale,
}

impl Db {
    /// `UPDATE table SET <sets>, version + 1, updated_at` on a live row, optionally only at
    /// `expected_version`, returning `returning`; in a transaction of its own.
    pub(crate) async fn update_row(
        &self,
        table: &str,
        id: Uuid,
        expected_version: Option<i64>,
        sets: Vec<(&'static str, Bind)>,
        returning: &str,
    ) -> DbResult<Written<AnyRow>> {
        let mut tx = self.writer().begin().await?;
        let written = update_row_in(&mut tx, table, id, expected_version, sets, returning).await?;
        tx.commit().await?;
        Ok(written)
    }
}

/// [`Db::update_row`] inside the caller's transaction. (Which fields it changed is recorded by
/// the tables' triggers in `row_changes`, as for every write that bumps a version.)
pub async fn update_row_in(
    conn: &mut AnyConnection,
    table: &str,
    id: Uuid,
    expected_version: Option<i64>,
    sets: Vec<(&'static str, Bind)>,
    returning: &str,
) -> DbResult<Written<AnyRow>> {
    let mut sql = Sql::new(&format!(
        "UPDATE {table} SET version = version + 1, updated_at = "
    ));
    sql.bind(now());
    for (col, value) in sets {
        sql.push(", ").push(col).push(" = ").bind(value);
    }
    sql.push(" WHERE id = ")
        .bind(id)
        .push(" AND deleted_at IS NULL");
    if let Some(v) = expected_version {
        sql.push(" AND version = ").bind(v);
    }
    sql.push(" RETURNING version, ").push(returning);
    if let Some(row) = sql.query().fetch_optional(&mut *conn).await? {
        return Ok(Written::Done(row));
    }
    // Tell a stale version from a missing row, for 412 versus 404.
    let live: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT version FROM {table} WHERE id = $1 AND deleted_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(if live.is_some() {
        Written::Stale
    } else {
        Written::Missing
    })
}

/// Typed reads from an `AnyRow`, with errors that name the column.
pub trait RowExt {
    fn text(&self, col: &str) -> anyhow::Result<String>;
    fn opt_text(&self, col: &str) -> anyhow::Result<Option<String>>;
    fn int(&self, col: &str) -> anyhow::Result<i64>;
    fn id(&self, col: &str) -> anyhow::Result<Uuid> {
        parse_id(&self.text(col)?)
    }
    fn opt_id(&self, col: &str) -> anyhow::Result<Option<Uuid>> {
        parse_opt_id(self.opt_text(col)?.as_deref())
    }
    fn time(&self, col: &str) -> anyhow::Result<DateTime<Utc>> {
        parse_time(&self.text(col)?)
    }
}

impl RowExt for AnyRow {
    fn text(&self, col: &str) -> anyhow::Result<String> {
        sqlx::Row::try_get(self, col).with_context(|| format!("column {col}"))
    }
    fn opt_text(&self, col: &str) -> anyhow::Result<Option<String>> {
        sqlx::Row::try_get(self, col).with_context(|| format!("column {col}"))
    }
    fn int(&self, col: &str) -> anyhow::Result<i64> {
        sqlx::Row::try_get(self, col).with_context(|| format!("column {col}"))
    }
}
