//! Two replicas of one dietician, edited offline, converge through the real server.

use crate::on_both_backends;
use crate::support::*;
use domain::dto::SyncTable;
use serde_json::{json, Value};
use server::config::Config;
use sync_core::{sync, Remote, Replica};
use uuid::Uuid;

on_both_backends! {
    two_replicas_converge_merge_and_keep_both_sides_of_a_conflict => converge(as_configured);
    a_reply_lost_after_the_server_applied_a_push_changes_nothing_on_retry => lost_reply(as_configured);
    an_expired_cursor_means_a_fresh_sync_that_loses_nothing => expired_cursor(short_retention);
    each_replica_holds_exactly_what_its_user_may_see => scoping(as_configured);
}

fn short_retention(c: &mut Config) {
    c.tombstone_retention = std::time::Duration::from_secs(1);
}

async fn converge(w: World) {
    let remote = Remote::new(&w.base, &w.token);
    let a = Replica::open(&w.dir.join("a.db")).await.expect("replica a");
    let b = Replica::open(&w.dir.join("b.db")).await.expect("replica b");

    let id = a
        .insert(
            SyncTable::Patients,
            fields(json!({"name": "Ana Lima", "email": "ana@example.org"})),
        )
        .await
        .expect("insert");
    assert_eq!(a.pending().await.expect("pending"), 1);
    let s = sync(&a, &remote).await.expect("sync a");
    assert_eq!(s.pushed, 1);
    assert_eq!(a.pending().await.expect("pending"), 0);
    sync(&b, &remote).await.expect("sync b");
    assert_eq!(
        b.row(SyncTable::Patients, id)
            .await
            .expect("row")
            .expect("on b")["name"],
        "Ana Lima"
    );

    // Offline, each edits a different field; both reach the server and each other.
    a.update(
        SyncTable::Patients,
        id,
        fields(json!({"contact_details": "0400 111 222"})),
    )
    .await
    .expect("edit a");
    b.update(
        SyncTable::Patients,
        id,
        fields(json!({"dietary_preferences": "vegetarian"})),
    )
    .await
    .expect("edit b");
    sync(&a, &remote).await.expect("sync a");
    let s = sync(&b, &remote).await.expect("sync b");
    assert_eq!((s.pushed, s.conflicts), (1, 0), "a different field merges");
    sync(&a, &remote).await.expect("sync a");
    let (ra, rb) = (
        a.row(SyncTable::Patients, id).await.expect("a"),
        b.row(SyncTable::Patients, id).await.expect("b"),
    );
    assert_eq!(ra, rb, "converged");
    let row = ra.expect("row");
    assert_eq!(
        (
            row["contact_details"].as_str(),
            row["dietary_preferences"].as_str()
        ),
        (Some("0400 111 222"), Some("vegetarian"))
    );

    // Offline, both rename: the second to sync gets a conflict holding both names.
    a.update(
        SyncTable::Patients,
        id,
        fields(json!({"name": "Ana L. Lima"})),
    )
    .await
    .expect("edit a");
    b.update(
        SyncTable::Patients,
        id,
        fields(json!({"name": "Ana Lima-Souza"})),
    )
    .await
    .expect("edit b");
    sync(&a, &remote).await.expect("sync a");
    let s = sync(&b, &remote).await.expect("sync b");
    assert_eq!(s.conflicts, 1);
    let conflicts = b.conflicts().await.expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(
        (
            conflicts[0].server_value.as_str(),
            conflicts[0].client_value.as_str()
        ),
        (Some("Ana L. Lima"), Some("Ana Lima-Souza"))
    );
    assert_eq!(
        b.row(SyncTable::Patients, id)
            .await
            .expect("b")
            .expect("row")["name"],
        "Ana L. Lima",
        "the server's value, until resolved"
    );

    // Keeping mine is a new edit on the current row; everyone ends with it.
    b.resolve(&conflicts[0], sync_core::Resolution::Mine)
        .await
        .expect("resolve");
    assert!(b.conflicts().await.expect("conflicts").is_empty());
    sync(&b, &remote).await.expect("sync b");
    sync(&a, &remote).await.expect("sync a");
    for r in [&a, &b] {
        assert_eq!(
            r.row(SyncTable::Patients, id)
                .await
                .expect("row")
                .expect("row")["name"],
            "Ana Lima-Souza"
        );
        assert_eq!(r.pending().await.expect("pending"), 0);
    }
}

async fn lost_reply(w: World) {
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let via_proxy = lossy_proxy(
        w.base.trim_start_matches("http://").to_owned(),
        armed.clone(),
    )
    .await;
    let remote = Remote::new(&via_proxy, &w.token);
    let direct = Remote::new(&w.base, &w.token);
    let a = Replica::open(&w.dir.join("a.db")).await.expect("replica");
    let existing = a
        .insert(
            SyncTable::Patients,
            fields(json!({"name": "Bea", "email": "bea@example.org"})),
        )
        .await
        .expect("insert");
    sync(&a, &remote).await.expect("first sync");

    for i in 0..3 {
        a.insert(
            SyncTable::Patients,
            fields(json!({"name": format!("New {i}"), "email": format!("new{i}@example.org")})),
        )
        .await
        .expect("insert");
    }
    a.update(
        SyncTable::Patients,
        existing,
        fields(json!({"dietary_preferences": "gluten free"})),
    )
    .await
    .expect("edit");
    armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let lost = sync(&a, &remote).await;
    assert!(
        matches!(lost, Err(sync_core::SyncError::Offline(_))),
        "{lost:?}"
    );
    assert_eq!(
        a.pending().await.expect("pending"),
        4,
        "nothing confirmed, nothing dropped"
    );

    // The server did apply them; a second replica sees it.
    let observer = Replica::open(&w.dir.join("observer.db"))
        .await
        .expect("observer");
    sync(&observer, &direct).await.expect("observer sync");
    assert_eq!(
        observer
            .rows(SyncTable::Patients)
            .await
            .expect("rows")
            .len(),
        4
    );

    // The retry sends the same mutations: each comes back as a duplicate, applied once.
    let s = sync(&a, &remote).await.expect("retry");
    assert_eq!((s.pushed, s.conflicts, s.rejected), (4, 0, 0));
    assert_eq!(a.pending().await.expect("pending"), 0);
    sync(&observer, &direct).await.expect("observer sync");
    let rows = observer.rows(SyncTable::Patients).await.expect("rows");
    assert_eq!(rows.len(), 4, "no duplicate patients");
    let bea = observer
        .row(SyncTable::Patients, existing)
        .await
        .expect("row")
        .expect("bea");
    assert_eq!(bea["version"], 2, "the edit applied exactly once");
    assert_eq!(bea["dietary_preferences"], "gluten free");
}

async fn expired_cursor(w: World) {
    let remote = Remote::new(&w.base, &w.token);
    let a = Replica::open(&w.dir.join("a.db")).await.expect("replica");
    let b = Replica::open(&w.dir.join("b.db")).await.expect("replica");
    let kept = a
        .insert(
            SyncTable::Patients,
            fields(json!({"name": "Kept", "email": "kept@example.org"})),
        )
        .await
        .expect("insert");
    let gone = a
        .insert(
            SyncTable::Patients,
            fields(json!({"name": "Gone", "email": "gone@example.org"})),
        )
        .await
        .expect("insert");
    sync(&a, &remote).await.expect("sync a");
    sync(&b, &remote).await.expect("sync b");
    assert_eq!(b.rows(SyncTable::Patients).await.expect("rows").len(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    a.delete(SyncTable::Patients, gone).await.expect("delete");
    sync(&a, &remote).await.expect("sync a");
    // b's cursor is past retention and b has an edit queued: the edit goes out first, then b
    // starts over and ends with exactly the server's rows.
    b.update(
        SyncTable::Patients,
        kept,
        fields(json!({"dietary_preferences": "low fat"})),
    )
    .await
    .expect("edit");
    let s = sync(&b, &remote).await.expect("sync b");
    assert_eq!(s.pushed, 1);
    let rows = b.rows(SyncTable::Patients).await.expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["dietary_preferences"], "low fat");
}

async fn scoping(w: World) {
    let dietician = Remote::new(&w.base, &w.token);
    let d = Replica::open(&w.dir.join("dietician.db"))
        .await
        .expect("replica");
    let p = d
        .insert(
            SyncTable::Patients,
            fields(json!({"name": "Ana", "email": "ana@example.org"})),
        )
        .await
        .expect("p");
    let q = d
        .insert(
            SyncTable::Patients,
            fields(json!({"name": "Bea", "email": "bea@example.org"})),
        )
        .await
        .expect("q");
    let doc = |patient: Uuid, title: &str| {
        fields(
            json!({"patient_id": patient, "type": "progress note", "date": "2026-11-01", "title": title, "content": "text"}),
        )
    };
    let shared = d
        .insert(SyncTable::HealthcareDocuments, doc(p, "Shared"))
        .await
        .expect("doc");
    d.insert(SyncTable::HealthcareDocuments, doc(p, "Private"))
        .await
        .expect("doc");
    d.insert(SyncTable::HealthcareDocuments, doc(q, "Other patient"))
        .await
        .expect("doc");
    sync(&d, &dietician).await.expect("sync");

    let prac_token = w
        .user("prac@example.org", domain::UserType::Practitioner, None)
        .await;
    let prac_id: String =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'prac@example.org'")
            .fetch_one(w.db.pool())
            .await
            .expect("id");
    let share: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/documents/{shared}/share", w.base))
        .bearer_auth(&w.token)
        .json(&json!({"practitioner_id": prac_id}))
        .send()
        .await
        .expect("share")
        .json()
        .await
        .expect("json");
    let patient_token = w
        .user("ana@example.org", domain::UserType::Patient, Some(p))
        .await;

    let practitioner = Replica::open(&w.dir.join("practitioner.db"))
        .await
        .expect("replica");
    let prac_remote = Remote::new(&w.base, &prac_token);
    sync(&practitioner, &prac_remote).await.expect("sync");
    let ids = |rows: Vec<Value>| -> Vec<String> {
        rows.iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(
        ids(practitioner
            .rows(SyncTable::HealthcareDocuments)
            .await
            .expect("docs")),
        vec![shared.to_string()]
    );
    assert_eq!(
        ids(practitioner
            .rows(SyncTable::Patients)
            .await
            .expect("patients")),
        vec![p.to_string()]
    );

    let own = Replica::open(&w.dir.join("patient.db"))
        .await
        .expect("replica");
    sync(&own, &Remote::new(&w.base, &patient_token))
        .await
        .expect("sync");
    assert_eq!(
        ids(own.rows(SyncTable::Patients).await.expect("patients")),
        vec![p.to_string()]
    );
    assert_eq!(
        own.rows(SyncTable::HealthcareDocuments)
            .await
            .expect("docs")
            .len(),
        2,
        "both of their own documents, not Bea's"
    );

    // Revoking the share takes the document, and the patient, off the practitioner's laptop.
    let res = reqwest::Client::new()
        .delete(format!(
            "{}/api/v1/documents/{shared}/shares/{}",
            w.base,
            share["id"].as_str().expect("share id")
        ))
        .bearer_auth(&w.token)
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), 204);
    sync(&practitioner, &prac_remote).await.expect("sync");
    assert!(practitioner
        .rows(SyncTable::HealthcareDocuments)
        .await
        .expect("docs")
        .is_empty());
    assert!(practitioner
        .rows(SyncTable::Patients)
        .await
        .expect("patients")
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_retries_with_backoff_until_the_server_answers_and_says_so() {
    let w = world().await;
    // An address where nothing listens yet; in a moment a forwarder to the server opens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let target = w.base.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let listener = tokio::net::TcpListener::bind(free).await.expect("rebind");
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    let a = Replica::open(&w.dir.join("a.db")).await.expect("replica");
    a.insert(
        SyncTable::Patients,
        fields(json!({"name": "Queued", "email": "queued@example.org"})),
    )
    .await
    .expect("insert");
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |e: sync_core::SyncEvent| seen.lock().expect("lock").push(e);
    let policy = sync_core::RetryPolicy {
        first: std::time::Duration::from_millis(50),
        max: std::time::Duration::from_millis(200),
        attempts: 100,
    };
    let summary = sync_core::sync_with_retry(
        &a,
        &Remote::new(&format!("http://{free}"), &w.token),
        policy,
        &record,
    )
    .await
    .expect("eventually synced");
    assert_eq!(summary.pushed, 1);
    let events = seen.into_inner().expect("events");
    let retries = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                sync_core::SyncEvent::Failed {
                    retry_in: Some(_),
                    ..
                }
            )
        })
        .count();
    assert!(retries >= 1, "it had to wait for the server: {events:?}");
    assert!(
        matches!(events.last(), Some(sync_core::SyncEvent::Finished(s)) if s.pushed == 1),
        "{events:?}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, sync_core::SyncEvent::Pushed { done: 1, total: 1 })));
    for e in &events {
        assert!(
            !format!("{e:?}").contains("Queued"),
            "no health information in events: {e:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_searchable_locally_and_bodies_stay_readable_offline() {
    let w = world().await;
    let remote = Remote::new(&w.base, &w.token);
    let writer = Replica::open(&w.dir.join("writer.db"))
        .await
        .expect("replica");
    let p = writer
        .insert(
            SyncTable::Patients,
            fields(json!({"name": "Ana", "email": "ana@example.org"})),
        )
        .await
        .expect("p");
    let doc = |title: &str, content: &str| {
        fields(
            json!({"patient_id": p, "type": "lab report", "date": "2026-11-01", "title": title, "content": content}),
        )
    };
    let lipids = writer
        .insert(
            SyncTable::HealthcareDocuments,
            doc("Lipid panel", "LDL cholesterol 3.4 mmol/L"),
        )
        .await
        .expect("doc");
    writer
        .insert(
            SyncTable::HealthcareDocuments,
            doc("Follow-up", "Weight stable"),
        )
        .await
        .expect("doc");
    sync(&writer, &remote).await.expect("sync");

    // A first sync indexes titles in bulk.
    let laptop = Replica::open(&w.dir.join("laptop.db"))
        .await
        .expect("replica");
    sync(&laptop, &remote).await.expect("sync");
    let titles = |rows: Vec<Value>| -> Vec<String> {
        rows.iter()
            .map(|r| r["title"].as_str().expect("title").to_owned())
            .collect()
    };
    assert_eq!(
        titles(laptop.search_documents("lipid", 10).await.expect("search")),
        ["Lipid panel"]
    );
    assert!(
        laptop
            .search_documents("cholesterol", 10)
            .await
            .expect("search")
            .is_empty(),
        "bodies are not fetched yet"
    );
    assert!(laptop
        .search_documents("\"unbalanced AND (", 10)
        .await
        .expect("odd input is text")
        .is_empty());

    // A body fetched once is searchable and readable with no server.
    let (mime, bytes) = sync_core::document_body(&laptop, &remote, lipids)
        .await
        .expect("fetch");
    assert_eq!(
        (mime.as_str(), bytes.as_slice()),
        ("text/plain", b"LDL cholesterol 3.4 mmol/L".as_slice())
    );
    assert_eq!(
        titles(
            laptop
                .search_documents("cholest", 10)
                .await
                .expect("search")
        ),
        ["Lipid panel"]
    );
    let nowhere = Remote::new("http://127.0.0.1:9", &w.token);
    let (_, offline) = sync_core::document_body(&laptop, &nowhere, lipids)
        .await
        .expect("from the replica");
    assert_eq!(offline, bytes);

    // Later syncs index what they bring, page by page.
    writer
        .insert(SyncTable::HealthcareDocuments, doc("HbA1c result", "6.1%"))
        .await
        .expect("doc");
    sync(&writer, &remote).await.expect("sync");
    sync(&laptop, &remote).await.expect("sync");
    assert_eq!(
        titles(laptop.search_documents("hba1c", 10).await.expect("search")),
        ["HbA1c result"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_access_token_is_refreshed_through_the_store_and_a_dead_session_is_cleared() {
    let w = world().await;
    let store = MemoryStore::default();
    let session = sync_core::login(&store, &w.base, "dee@example.org", "dietician password")
        .await
        .expect("login");
    assert_eq!(store.load_clone(), Some(session.clone()));
    assert!(
        !format!("{session:?}").contains(&session.access_token),
        "tokens never reach Debug output"
    );
    // The access token no longer works (expired, say): the sync refreshes it and carries on.
    let stale = sync_core::Session {
        access_token: "stale".into(),
        ..session.clone()
    };
    sync_core::TokenStore::save(&store, &stale).expect("save");
    let a = Replica::open(&w.dir.join("a.db")).await.expect("replica");
    a.insert(
        SyncTable::Patients,
        fields(json!({"name": "Ana", "email": "ana@example.org"})),
    )
    .await
    .expect("insert");
    let s = sync_core::sync_signed_in(&a, &store, sync_core::RetryPolicy::default(), &|_| {})
        .await
        .expect("sync");
    assert_eq!(s.pushed, 1);
    let rotated = store.load_clone().expect("still signed in");
    assert_ne!(rotated.refresh_token, session.refresh_token, "rotated");
    // Signing out ends it; a later sync says to sign in again.
    sync_core::logout(&store).await.expect("logout");
    assert!(store.load_clone().is_none());
    let after =
        sync_core::sync_signed_in(&a, &store, sync_core::RetryPolicy::default(), &|_| {}).await;
    assert!(matches!(after, Err(sync_core::SyncError::Unauthorized)));
}
