//! The change feed: scope, increments, tombstones, removals, paging, and no skipped rows under
//! concurrent writers.

use crate::both_backends;
use crate::helpers::{TestApp, TestUser};
use domain::UserType;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// (table, id) -> (op, version) after applying every page from `cursor` until `has_more` is
/// false; returns the state and the final cursor.
async fn pull(
    app: &TestApp,
    who: &TestUser,
    cursor: Option<String>,
    limit: u32,
) -> (Vec<Value>, String) {
    let mut changes = Vec::new();
    let mut cursor = cursor;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/sync/changes?limit={limit}&tables=7&cursor={c}"),
            None => format!("/api/v1/sync/changes?limit={limit}&tables=7"),
        };
        let page = app.get(&path, who).await.expect(200);
        changes.extend(
            page.body["changes"]
                .as_array()
                .expect("changes")
                .iter()
                .cloned(),
        );
        cursor = Some(
            page.body["next_cursor"]
                .as_str()
                .expect("cursor")
                .to_owned(),
        );
        if !page.body["has_more"].as_bool().expect("has_more") {
            return (changes, cursor.expect("set"));
        }
    }
}

/// The replica a list of changes builds: (table, id) -> (op, version), keeping the highest version.
fn replica(changes: &[Value]) -> BTreeMap<(String, String), (String, i64)> {
    let mut state: BTreeMap<(String, String), (String, i64)> = BTreeMap::new();
    for c in changes {
        let key = (
            c["table"].as_str().expect("t").to_owned(),
            c["id"].as_str().expect("id").to_owned(),
        );
        let value = (
            c["op"].as_str().expect("op").to_owned(),
            c["version"].as_i64().expect("v"),
        );
        match state.get(&key) {
            Some((_, v)) if *v > value.1 => {}
            _ => {
                state.insert(key, value);
            }
        }
    }
    state
}

fn ids_of(changes: &[Value], table: &str) -> BTreeSet<String> {
    changes
        .iter()
        .filter(|c| c["table"] == table)
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

both_backends! {
    async fn a_cursor_from_before_new_tables_walks_only_those_from_the_start(app) {
        let dee = app.user(UserType::Dietician).await;
        for n in 0..4 {
            app.patient(&dee, json!({"name": format!("Patient {n}")})).await;
        }
        for n in 0..3 {
            app.call(reqwest::Method::POST, "/api/v1/inquiries", None,
                     Some(json!({"name": format!("Asker {n}"), "email": format!("a{n}@example.net")})))
                .await
                .expect(202);
        }
        let (held, cursor) = pull(&app, &dee, None, 1000).await;
        let held = replica(&held);
        // The same position as an app from before table counts stored it.
        let c = server::db::FeedCursor::decode(&cursor).expect("cursor");
        let older = server::db::cursor::encode(&[
            "2", &c.issued_at.to_string(), &c.horizon.to_string(), &c.scope_epoch.to_string(),
        ]);
        // Page by page (one row a page, so the walk crosses tables and seqs): the three
        // inquiries, and no patient again. (On PostgreSQL a row may come again at the version
        // held while a transaction anywhere in the cluster that began before it is open.)
        let (changes, next) = pull(&app, &dee, Some(older), 1).await;
        let inquiries = changes.iter().filter(|c| c["table"] == "inquiries").count();
        assert_eq!(inquiries, 3, "{changes:?}");
        let (again, _) = pull(&app, &dee, Some(next), 1).await;
        let sqlite = app.db.backend() == server::db::Backend::Sqlite;
        for (pulled, upgraded) in [(&changes, true), (&again, false)] {
            for (key, value) in replica(pulled) {
                if upgraded && key.0 == "inquiries" {
                    continue;
                }
                assert!(!sqlite, "{key:?} came again on SQLite");
                assert_eq!(held.get(&key), Some(&value), "{key:?} changed without a write");
            }
        }
        // An app from before inquiries says nothing of tables: it is sent none it cannot read.
        let old_app = app.get("/api/v1/sync/changes?limit=1000", &dee).await.expect(200).body;
        let tables: BTreeSet<&str> = old_app["changes"].as_array().unwrap().iter()
            .filter_map(|c| c["table"].as_str()).collect();
        assert_eq!(tables, ["patients", "users"].into(), "{old_app}");
    }

    async fn checksums_manifests_and_rows_by_id_keep_to_the_callers_scope(app) {
        let ana = app.user(UserType::Dietician).await;
        let ben = app.user(UserType::Dietician).await;
        let anas = app.patient(&ana, json!({})).await;
        let bens = app.patient(&ben, json!({"name": "Bea Rocha"})).await;
        let doc = app.text_document(&ana, anas, "Ana's note").await;

        // The checksums sum up exactly what the feed gives: the same count, in every table.
        let sums = app.get("/api/v1/sync/checksums", &ana).await.expect(200).body;
        let sum = |table: &str| {
            sums.as_array().unwrap().iter().find(|s| s["table"] == table).cloned().expect(table)
        };
        assert_eq!(sum("patients")["count"], 1);
        assert_eq!(sum("healthcare_documents")["count"], 1);
        assert_eq!(sum("patients")["hash"].as_str().unwrap().len(), 32);
        let (fed, _) = pull(&app, &ana, None, 1000).await;
        let fed_patients = fed.iter().filter(|c| c["table"] == "patients" && c["op"] == "upsert").count();
        assert_eq!(sum("patients")["count"], fed_patients);

        // The manifest lists Ana's patient, never Ben's; asking by id for Ben's gets nothing.
        let manifest = app.get("/api/v1/sync/manifest?table=patients", &ana).await.expect(200).body;
        assert_eq!(manifest, json!([{"id": anas, "version": 1}]));
        let rows = app.post("/api/v1/sync/rows", &ana,
                            json!({"table": "patients", "ids": [anas, bens]})).await.expect(200).body;
        let ids: Vec<&str> = rows.as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
        assert_eq!(ids, [anas.to_string()]);
        assert_eq!(rows[0]["op"], "upsert");
        let bens_view = app.post("/api/v1/sync/rows", &ben,
                                 json!({"table": "healthcare_documents", "ids": [doc]})).await.expect(200).body;
        assert_eq!(bens_view, json!([]), "Ana's document is not Ben's to fetch");

        // A different replica state shows in the hash; a deleted row leaves the manifest.
        app.delete(&format!("/api/v1/documents/{doc}"), &ana).await.expect(204);
        let after = app.get("/api/v1/sync/checksums", &ana).await.expect(200).body;
        let docs_after = after.as_array().unwrap().iter().find(|s| s["table"] == "healthcare_documents").unwrap().clone();
        assert_eq!(docs_after["count"], 0);
        assert_ne!(docs_after["hash"], sum("healthcare_documents")["hash"]);

        let too_many: Vec<Uuid> = (0..501).map(|_| Uuid::now_v7()).collect();
        app.post("/api/v1/sync/rows", &ana, json!({"table": "patients", "ids": too_many}))
            .await
            .problem(422, "validation_failed");
    }

    async fn a_dietician_pulls_exactly_their_scope_then_only_what_changed(app) {
        let d = app.user(UserType::Dietician).await;
        let other = app.user(UserType::Dietician).await;
        let prac = app.user(UserType::Practitioner).await;
        let _patient_user_elsewhere = app.user(UserType::Admin).await;
        let p1 = app.patient(&d, json!({})).await;
        let p2 = app.patient(&d, json!({})).await;
        let theirs = app.patient(&other, json!({})).await;
        let doc = app.text_document(&d, p1, "Note").await;
        app.text_document(&other, theirs, "Not yours").await;
        app.post(&format!("/api/v1/documents/{doc}/share"), &d, json!({"practitioner_id": prac.id})).await.expect(201);

        let (changes, cursor) = pull(&app, &d, None, 1000).await;
        assert_eq!(ids_of(&changes, "patients"), BTreeSet::from([p1.to_string(), p2.to_string()]));
        assert_eq!(ids_of(&changes, "healthcare_documents"), BTreeSet::from([doc.to_string()]));
        assert_eq!(ids_of(&changes, "document_shares").len(), 1);
        assert_eq!(ids_of(&changes, "synchronization_log").len(), 2, "upload and share of p1");
        let users = ids_of(&changes, "users");
        assert!(users.contains(&d.id.to_string()) && users.contains(&prac.id.to_string()) && users.contains(&other.id.to_string()));
        assert_eq!(users.len(), 3, "self and colleagues, not admins: {users:?}");
        let colleague = changes.iter().find(|c| c["id"] == other.id.to_string()).expect("colleague");
        assert!(colleague["row"].get("email").is_none(), "colleagues are directory entries");
        let doc_row = changes.iter().find(|c| c["id"] == doc.to_string()).expect("doc");
        assert!(doc_row["row"].get("content").is_none(), "metadata only");
        // What the replica received is in the audit trail of PHI reads.
        let admin = app.user(UserType::Admin).await;
        let trail = app.get(&format!("/api/v1/audit?user_id={}&patient_id={p1}", d.id), &admin).await.expect(200);
        let entities: BTreeSet<String> = trail.body["items"].as_array().expect("items").iter()
            .map(|e| e["entity"].as_str().expect("entity").to_owned()).collect();
        assert_eq!(entities, BTreeSet::from(["patient".to_owned(), "document".to_owned()]));

        // Nothing changed: nothing new. (On PostgreSQL a row may come again, at the same
        // version, while any transaction in the cluster that began before it is still open.)
        let (again, cursor) = pull(&app, &d, Some(cursor), 1000).await;
        let before = replica(&changes);
        for (key, value) in replica(&again) {
            assert_eq!(before.get(&key), Some(&value), "{key:?} changed without a write");
        }

        // An edit and a delete arrive as the row's latest version and a tombstone.
        app.put(&format!("/api/v1/patients/{p2}"), &d, json!({"dietary_preferences": "vegan"})).await.expect(200);
        app.delete(&format!("/api/v1/documents/{doc}"), &d).await.expect(204);
        let (delta, _) = pull(&app, &d, Some(cursor), 1000).await;
        let state = replica(&delta);
        assert_eq!(state.get(&("patients".into(), p2.to_string())), Some(&("upsert".into(), 2)));
        assert_eq!(state.get(&("healthcare_documents".into(), doc.to_string())), Some(&("delete".into(), 2)));
        assert_eq!(state.get(&("document_shares".into(), ids_of(&changes, "document_shares").into_iter().next().expect("share"))).map(|s| s.0.as_str()), Some("delete"));
        if let Some(p1_state) = state.get(&("patients".into(), p1.to_string())) {
            assert_eq!(p1_state, &("upsert".to_owned(), 1), "an untouched row comes back unchanged, if at all");
        }
    }

    async fn a_practitioner_gets_shared_documents_and_loses_them_on_revocation(app) {
        let d = app.user(UserType::Dietician).await;
        let prac = app.user(UserType::Practitioner).await;
        let p = app.patient(&d, json!({})).await;
        let shared = app.text_document(&d, p, "Shared").await;
        let unshared = app.text_document(&d, p, "Private").await;
        let (changes, cursor) = pull(&app, &prac, None, 1000).await;
        assert!(ids_of(&changes, "patients").is_empty() && ids_of(&changes, "healthcare_documents").is_empty());

        let share = app.post(&format!("/api/v1/documents/{shared}/share"), &d, json!({"practitioner_id": prac.id})).await.expect(201).id();
        let (changes, cursor) = pull(&app, &prac, Some(cursor), 1000).await;
        let state = replica(&changes);
        assert_eq!(state.get(&("healthcare_documents".into(), shared.to_string())).map(|s| s.0.as_str()), Some("upsert"));
        assert_eq!(state.get(&("patients".into(), p.to_string())).map(|s| s.0.as_str()), Some("upsert"));
        assert_eq!(state.get(&("document_shares".into(), share.to_string())).map(|s| s.0.as_str()), Some("upsert"));
        assert!(!ids_of(&changes, "healthcare_documents").contains(&unshared.to_string()));
        assert!(ids_of(&changes, "synchronization_log").is_empty(), "practitioners see no logs");

        app.delete(&format!("/api/v1/documents/{shared}/shares/{share}"), &d).await.expect(204);
        let (changes, _) = pull(&app, &prac, Some(cursor), 1000).await;
        let state = replica(&changes);
        assert_eq!(state.get(&("healthcare_documents".into(), shared.to_string())).map(|s| s.0.as_str()), Some("remove"));
        assert_eq!(state.get(&("patients".into(), p.to_string())).map(|s| s.0.as_str()), Some("remove"));
        assert_eq!(state.get(&("document_shares".into(), share.to_string())).map(|s| s.0.as_str()), Some("delete"));
        for c in &changes {
            if c["op"] != "upsert" {
                assert!(c.get("row").is_none(), "no data with a removal: {c}");
            }
        }
    }

    async fn small_pages_walk_the_same_feed(app) {
        let d = app.user(UserType::Dietician).await;
        for i in 0..7 {
            let p = app.patient(&d, json!({})).await;
            if i % 2 == 0 {
                app.text_document(&d, p, "Note").await;
            }
        }
        let (whole, _) = pull(&app, &d, None, 1000).await;
        let (paged, _) = pull(&app, &d, None, 2).await;
        assert_eq!(replica(&whole), replica(&paged));
        let unique: BTreeSet<(String, String)> = paged.iter().map(|c| (c["table"].to_string(), c["id"].to_string())).collect();
        assert_eq!(unique.len(), paged.len(), "a quiet walk sends each row once");
        app.get("/api/v1/sync/changes?cursor=bogus", &d).await.problem(400, "bad_request");
        app.get("/api/v1/sync/changes?limit=0", &d).await.problem(400, "bad_request");
    }

    async fn concurrent_writers_never_make_the_feed_skip_a_row(app) {
        let d = app.user(UserType::Dietician).await;
        let writers = 24;
        let per_writer = 8;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Walks the puller finished: each writer waits for a new one before its next write, so
        // walks and commits interleave however slow the machine is.
        let walked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let app = std::sync::Arc::new(app);
        // The writers' own connections, so the server's pool stays free for the puller.
        let writer_db = server::db::Db::connect(&app.database_url, writers as u32).await.expect("writer pool");
        let mut tasks = Vec::new();
        for w in 0..writers {
            let (db, d, walked) = (writer_db.clone(), d.clone(), walked.clone());
            tasks.push(tokio::spawn(async move {
                // Each write is a transaction that stays open a few milliseconds after its
                // insert, so transactions commit in a different order than they began: the
                // case where a "highest id seen" cursor skips rows.
                let mut ids = Vec::new();
                let mut last_walk = walked.load(std::sync::atomic::Ordering::SeqCst);
                for i in 0..per_writer {
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                    while i > 0 && walked.load(std::sync::atomic::Ordering::SeqCst) == last_walk
                        && std::time::Instant::now() < deadline
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                    last_walk = walked.load(std::sync::atomic::Ordering::SeqCst);
                    let id = Uuid::now_v7().to_string();
                    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                    let mut tx = db.pool().begin().await.expect("begin");
                    sqlx::query("INSERT INTO patients (id, user_id, name, email, created_at, updated_at) \
                                 VALUES ($1, $2, $3, $4, $5, $5)")
                        .bind(&id).bind(d.id.to_string()).bind(format!("W{w} P{i}"))
                        .bind(format!("w{w}p{i}@example.org")).bind(now)
                        .execute(&mut *tx).await.expect("insert");
                    tokio::time::sleep(std::time::Duration::from_millis(((w * 7 + i * 3) % 11) as u64)).await;
                    tx.commit().await.expect("commit");
                    ids.push(id);
                }
                ids
            }));
        }
        // Pull continuously while they write.
        let puller = {
            let (app, d, done, walked) = (app.clone(), d.clone(), done.clone(), walked.clone());
            tokio::spawn(async move {
                let mut all = Vec::new();
                let mut cursor = None;
                let mut walks = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    // Many short walks: each takes a fresh horizon while transactions are open.
                    let (changes, next) = pull(&app, &d, cursor, 1000).await;
                    all.extend(changes);
                    cursor = Some(next);
                    walks += 1;
                    walked.store(walks, std::sync::atomic::Ordering::SeqCst);
                }
                assert!(walks >= 3, "the puller should walk often while writers run ({walks})");
                // One more walk after the last commit.
                let (changes, _) = pull(&app, &d, cursor, 1000).await;
                all.extend(changes);
                all
            })
        };
        let mut written = BTreeSet::new();
        for t in tasks {
            written.extend(t.await.expect("writer"));
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = ids_of(&puller.await.expect("puller"), "patients");
        assert_eq!(written.len(), writers * per_writer);
        let missing: Vec<_> = written.difference(&seen).collect();
        assert!(missing.is_empty(), "{} committed patients never reached the replica: {missing:?}", missing.len());
    }
}

#[tokio::test]
async fn a_cursor_older_than_tombstone_retention_is_gone() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |c| {
        c.tombstone_retention = std::time::Duration::from_secs(1);
    })
    .await
    .expect("app");
    let d = app.user(UserType::Dietician).await;
    app.patient(&d, json!({})).await;
    let (_, cursor) = pull(&app, &d, None, 1000).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let res = app
        .get(&format!("/api/v1/sync/changes?cursor={cursor}"), &d)
        .await
        .problem(410, "cursor_expired");
    assert!(res.body["detail"]
        .as_str()
        .expect("detail")
        .contains("without a cursor"));
    // Starting over works, and brings everything.
    let (all, _) = pull(&app, &d, None, 1000).await;
    assert_eq!(ids_of(&all, "patients").len(), 1);
}
