//! `migrations/sqlite` and `migrations/postgres` build the same schema, column for column: the
//! queries run unchanged on either (`db/mod.rs`), so a column or index added to one set only
//! would work on one engine and fail, or crawl, on the other. Both are migrated fresh and
//! their live schemas compared: tables, columns and whether they take NULL, primary keys and
//! indexes (by columns, uniqueness and whether partial). What triggers do is compared by
//! behaviour elsewhere (`push::sqlite_records_a_change_of_every_column_as_postgres_does`, the
//! change feed and scope tests, which run on both).

use server::db::Db;
use server::testing::ScratchDatabase;
use sqlx::AnyPool;
use std::collections::{BTreeMap, BTreeSet};

/// What one engine's schema is, engine-neutrally.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    /// Table → column → takes NULL.
    columns: BTreeMap<String, BTreeMap<String, bool>>,
    /// (table, primary | unique | index, partial, columns in order).
    indexes: BTreeSet<(String, &'static str, bool, String)>,
}

/// Tables one engine has by design: SQLite's in-order write counter (PostgreSQL's change feed
/// uses transaction ids instead, `db/sync.rs`), and each engine's own bookkeeping.
const ENGINE_ONLY: &[&str] = &["sync_counter", "_sqlx_migrations", "sqlite_sequence"];

async fn strings(pool: &AnyPool, sql: &str) -> Vec<Vec<String>> {
    sqlx::query(sql)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| {
            (0..sqlx::Row::len(row))
                .map(|i| {
                    sqlx::Row::try_get::<String, _>(row, i)
                        .or_else(|_| sqlx::Row::try_get::<i64, _>(row, i).map(|n| n.to_string()))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

/// The SQLite schema: the platform's file and the audit trail's (a file of its own there).
async fn sqlite(db: &Db) -> Schema {
    let mut schema = Schema::default();
    for pool in [db.pool(), db.audit()] {
        let tables = strings(pool, "SELECT name FROM sqlite_master WHERE type = 'table'").await;
        for [table] in tables.iter().map(|t| [t[0].clone()]) {
            if ENGINE_ONLY.contains(&table.as_str()) {
                continue;
            }
            let columns = strings(
                pool,
                &format!(
                    "SELECT name, CAST(\"notnull\" AS INTEGER), CAST(pk AS INTEGER) \
                     FROM pragma_table_info('{table}') ORDER BY pk, cid"
                ),
            )
            .await;
            let mut key = Vec::new();
            for c in &columns {
                // A primary key never holds NULL here (SQLite would let a non-integer one).
                let nullable = c[1] == "0" && c[2] == "0";
                schema
                    .columns
                    .entry(table.clone())
                    .or_default()
                    .insert(c[0].clone(), nullable);
                if c[2] != "0" {
                    key.push(c[0].clone());
                }
            }
            if !key.is_empty() {
                schema
                    .indexes
                    .insert((table.clone(), "primary", false, key.join(",")));
            }
            let indexes = strings(
                pool,
                &format!(
                    "SELECT name, CAST(\"unique\" AS INTEGER), origin, CAST(partial AS INTEGER) \
                     FROM pragma_index_list('{table}')"
                ),
            )
            .await;
            for ix in indexes.iter().filter(|ix| ix[2] != "pk") {
                let cols = strings(
                    pool,
                    &format!(
                        "SELECT COALESCE(name, '(expression)') FROM pragma_index_info('{}') ORDER BY seqno",
                        ix[0]
                    ),
                )
                .await;
                let cols: Vec<String> = cols.into_iter().map(|c| c[0].clone()).collect();
                let kind = if ix[1] == "1" { "unique" } else { "index" };
                schema
                    .indexes
                    .insert((table.clone(), kind, ix[3] == "1", cols.join(",")));
            }
        }
    }
    schema
}

async fn postgres(db: &Db) -> Schema {
    let mut schema = Schema::default();
    let columns = strings(
        db.pool(),
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = current_schema()",
    )
    .await;
    for c in columns {
        if !ENGINE_ONLY.contains(&c[0].as_str()) {
            schema
                .columns
                .entry(c[0].clone())
                .or_default()
                .insert(c[1].clone(), c[2] == "YES");
        }
    }
    let indexes = strings(
        db.pool(),
        "SELECT t.relname::text, ix.indisprimary::int::bigint, ix.indisunique::int::bigint, \
         (ix.indpred IS NOT NULL)::int::bigint, \
         array_to_string(ARRAY(SELECT COALESCE(a.attname::text, '(expression)') \
             FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord) \
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             ORDER BY k.ord), ',') \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema()",
    )
    .await;
    for ix in indexes {
        if ENGINE_ONLY.contains(&ix[0].as_str()) {
            continue;
        }
        let kind = match (ix[1].as_str(), ix[2].as_str()) {
            ("1", _) => "primary",
            (_, "1") => "unique",
            _ => "index",
        };
        schema
            .indexes
            .insert((ix[0].clone(), kind, ix[3] == "1", ix[4].clone()));
    }
    schema
}

/// What `a` has that `b` has not, in words.
fn missing(a: &Schema, b: &Schema, b_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (table, columns) in &a.columns {
        match b.columns.get(table) {
            None => out.push(format!("table {table} is missing on {b_name}")),
            Some(theirs) => {
                for (column, nullable) in columns {
                    match theirs.get(column) {
                        None => out.push(format!("{table}.{column} is missing on {b_name}")),
                        Some(n) if n != nullable => out.push(format!(
                            "{table}.{column} is {} on {b_name}",
                            if *n { "nullable" } else { "NOT NULL" }
                        )),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    for ix in a.indexes.difference(&b.indexes) {
        out.push(format!(
            "{} {} on {}({}){} is missing on {b_name}",
            ix.1,
            "index",
            ix.0,
            ix.3,
            if ix.2 { " (partial)" } else { "" }
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_migrate_to_the_same_schema() {
    let lite = ScratchDatabase::sqlite();
    let Some(pg) = ScratchDatabase::postgres().await else {
        return;
    };
    let (lite_db, pg_db) = (
        Db::connect(&lite.url, 2).await.expect("sqlite"),
        Db::connect(&pg.url, 2).await.expect("postgres"),
    );
    lite_db.migrate().await.expect("migrate sqlite");
    pg_db.migrate().await.expect("migrate postgres");
    let (a, b) = (sqlite(&lite_db).await, postgres(&pg_db).await);
    // The comparison sees what it should: every synced table, with its feed index.
    assert!(a.columns.len() >= 15, "{:?}", a.columns.keys());
    assert_eq!(a.columns["patients"].get("link_approval"), Some(&true));
    assert!(
        b.indexes
            .iter()
            .any(|ix| ix.0 == "patients" && ix.3 == "change_seq,id"),
        "{:?}",
        b.indexes
    );
    let mut differences = missing(&a, &b, "PostgreSQL");
    differences.extend(missing(&b, &a, "SQLite"));
    assert!(
        differences.is_empty(),
        "the schemas differ:\n{}",
        differences.join("\n")
    );
}

#[test]
fn each_kind_of_difference_is_named() {
    let mut a = Schema::default();
    a.columns
        .entry("patients".into())
        .or_default()
        .insert("link_approval".into(), true);
    a.columns
        .entry("patients".into())
        .or_default()
        .insert("name".into(), false);
    a.indexes
        .insert(("patients".into(), "index", false, "provider_id".into()));
    let mut b = Schema::default();
    b.columns
        .entry("patients".into())
        .or_default()
        .insert("name".into(), true);
    assert_eq!(
        missing(&a, &b, "PostgreSQL"),
        [
            "patients.link_approval is missing on PostgreSQL",
            "patients.name is nullable on PostgreSQL",
            "index index on patients(provider_id) is missing on PostgreSQL",
        ]
    );
    assert!(missing(&a, &a, "itself").is_empty());
}
