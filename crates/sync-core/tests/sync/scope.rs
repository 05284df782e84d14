//! A row leaves a replica when it leaves its user's scope, whatever the reason (issue 12,
//! "What each role's replica holds"): with the row go its documents, their kept bodies and
//! their search index entries, while what is still in scope stays. Each on SQLite and
//! PostgreSQL.

use crate::on_both_backends;
use crate::support::*;
use domain::dto::SyncTable;
use domain::UserType;
use reqwest::Method;
use serde_json::{json, Value};
use sync_core::{sync, Remote, Replica};
use uuid::Uuid;

on_both_backends! {
    a_patient_relinked_to_another_provider_leaves_the_old_providers_replicas => relinked_patient(as_configured);
    a_patient_user_linked_to_another_patient_keeps_only_the_new_one => patient_link_changed(as_configured);
    a_dietician_made_practitioner_keeps_none_of_their_patients => type_changed(as_configured);
    an_admins_replica_holds_users_and_no_patient_data => admin_replica(as_configured);
}

async fn admin(w: &World) -> String {
    w.user("root@example.org", UserType::Admin, None).await
}

async fn provider(w: &World, name: &str) -> Uuid {
    w.db.insert_provider(server::db::providers::ProviderRow::open(
        name,
        "https://fhir.example.org/r4",
    ))
    .await
    .expect("provider")
    .id
}

async fn patient(r: &Replica, name: &str, provider: Option<Uuid>) -> Uuid {
    r.insert(
        SyncTable::Patients,
        fields(json!({
            "name": name,
            "email": format!("{}@example.org", name.to_lowercase()),
            "provider_id": provider,
        })),
    )
    .await
    .expect("insert patient")
}

/// A text document written on `r`: its body is kept there and indexed.
async fn document(r: &Replica, patient: Uuid, title: &str, content: &str) -> Uuid {
    r.insert(
        SyncTable::HealthcareDocuments,
        fields(
            json!({"patient_id": patient, "type": "lab report", "date": "2026-11-01",
                      "title": title, "content": content}),
        ),
    )
    .await
    .expect("insert document")
}

async fn has_row(r: &Replica, table: SyncTable, id: Uuid) -> bool {
    r.row(table, id).await.expect("row").is_some()
}

async fn hits(r: &Replica, query: &str) -> usize {
    r.search_documents(query, 10).await.expect("search").len()
}

/// Everything of `patient` (and its document `doc`, searchable by `word`) is gone from `r`.
async fn assert_gone(r: &Replica, patient: Uuid, doc: Uuid, word: &str) {
    assert!(
        !has_row(r, SyncTable::Patients, patient).await,
        "patient row left"
    );
    assert!(
        !has_row(r, SyncTable::HealthcareDocuments, doc).await,
        "document row left"
    );
    assert!(
        r.cached_body(doc).await.expect("body").is_none(),
        "document body left"
    );
    assert_eq!(hits(r, word).await, 0, "search hits left for {word}");
}

/// `patient` and its document `doc` are on `r`, `doc` searchable by `word` and readable.
async fn assert_held(r: &Replica, remote: &Remote, patient: Uuid, doc: Uuid, word: &str) {
    assert!(
        has_row(r, SyncTable::Patients, patient).await,
        "patient row missing"
    );
    assert!(
        has_row(r, SyncTable::HealthcareDocuments, doc).await,
        "document row missing"
    );
    assert_eq!(hits(r, word).await, 1, "no search hit for {word}");
    sync_core::document_body(r, remote, doc)
        .await
        .expect("body");
    assert!(r.cached_body(doc).await.expect("body").is_some());
}

/// An admin decides on `patient`'s link (`from` the queue in that state), as if the lookup
/// at the PHP had found their record (no background jobs run here).
async fn decide(w: &World, admin: &str, patient: Uuid, from: &str, decision: &str) {
    let row =
        w.db.patient(domain::access::PatientScope::All, patient)
            .await
            .expect("read")
            .expect("patient");
    let record = connectors::fhir::PhpPatient {
        id: format!("php-{}", &patient.simple().to_string()[..8]),
        name: row.name.clone(),
        family: Some(row.name.clone()),
        birth_date: None,
    };
    if from == "pending" {
        assert!(w
            .db
            .set_php_match(&row, domain::PhpMatch::Found, Some(&record))
            .await
            .expect("match"));
    }
    let (status, queue) = rest_as(
        w,
        admin,
        Method::GET,
        &format!("/links?state={from}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{queue}");
    let review = queue
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["patient_id"] == json!(patient))
        .expect("in the queue")
        .clone();
    let (status, body) = rest_as(
        w,
        admin,
        Method::POST,
        &format!("/links/{patient}"),
        json!({"decision": decision, "fingerprint": review["fingerprint"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn relinked_patient(w: World) {
    let (old, new) = (
        provider(&w, "Old clinic").await,
        provider(&w, "New clinic").await,
    );
    let dietician = Remote::new(&w.base, &w.token);
    let writer = Replica::open(&w.dir.join("writer.db"))
        .await
        .expect("writer");
    let moving = patient(&writer, "Mara", Some(old)).await;
    let staying = patient(&writer, "Stan", Some(old)).await;
    let refused = patient(&writer, "Rhea", Some(old)).await;
    sync(&writer, &dietician).await.expect("sync writer");
    let root = admin(&w).await;
    for p in [moving, staying, refused] {
        decide(&w, &root, p, "pending", "approved").await;
    }

    let staff_token = {
        let links = server::auth::AccountLinks {
            provider_id: Some(old),
            patient_id: None,
        };
        server::auth::create_account(
            &w.db,
            UserType::Provider,
            "staff@example.org",
            "Staff",
            "dietician password",
            links,
        )
        .await
        .expect("staff");
        login(&w.base, "staff@example.org").await
    };
    let staff = Remote::new(&w.base, &staff_token);
    let laptop = Replica::open(&w.dir.join("staff.db")).await.expect("staff");
    sync(&laptop, &staff).await.expect("sync staff");
    let leaving = document(&laptop, moving, "Audiogram", "mild loss bilateral").await;
    let kept = document(&laptop, staying, "Spirometry", "normal flow volume").await;
    let withdrawn = document(&laptop, refused, "Echo", "valves competent").await;
    sync(&laptop, &staff).await.expect("push staff");
    assert_held(&laptop, &staff, moving, leaving, "audiogram").await;
    assert!(laptop.cached_body(leaving).await.expect("body").is_some());
    assert_eq!(hits(&laptop, "bilateral").await, 1);

    let (status, _) = w
        .rest(
            Method::PUT,
            &format!("/patients/{moving}"),
            Some(json!({"provider_id": new})),
        )
        .await;
    assert_eq!(status, 200, "relink");
    // The staff's session goes on: nothing of theirs changed.
    sync(&laptop, &staff)
        .await
        .expect("sync staff after relink");
    assert_gone(&laptop, moving, leaving, "audiogram").await;
    assert_eq!(hits(&laptop, "bilateral").await, 0);
    assert_held(&laptop, &staff, staying, kept, "spirometry").await;

    // An approved link the admin then refuses takes the patient out of sight the same way.
    assert_held(&laptop, &staff, refused, withdrawn, "echo").await;
    decide(&w, &root, refused, "approved", "refused").await;
    sync(&laptop, &staff)
        .await
        .expect("sync staff after the refusal");
    assert_gone(&laptop, refused, withdrawn, "echo").await;
    assert_held(&laptop, &staff, staying, kept, "spirometry").await;
}

async fn patient_link_changed(w: World) {
    let dietician = Remote::new(&w.base, &w.token);
    let writer = Replica::open(&w.dir.join("writer.db"))
        .await
        .expect("writer");
    let first = patient(&writer, "Fern", None).await;
    let second = patient(&writer, "Gil", None).await;
    let first_doc = document(&writer, first, "Thyroid panel", "TSH elevated").await;
    let second_doc = document(&writer, second, "Ferritin", "iron stores low").await;
    sync(&writer, &dietician).await.expect("sync writer");

    let token = w
        .user("pat@example.org", UserType::Patient, Some(first))
        .await;
    let laptop = Replica::open(&w.dir.join("pat.db")).await.expect("pat");
    sync(&laptop, &Remote::new(&w.base, &token))
        .await
        .expect("sync pat");
    assert_held(
        &laptop,
        &Remote::new(&w.base, &token),
        first,
        first_doc,
        "thyroid",
    )
    .await;
    assert_eq!(
        hits(&laptop, "elevated").await,
        1,
        "the fetched body is indexed"
    );
    assert!(!has_row(&laptop, SyncTable::Patients, second).await);
    let me = laptop
        .row(SyncTable::Users, my_id(&w, &token).await)
        .await
        .expect("row");
    assert!(me.is_some());

    let root = admin(&w).await;
    let user = my_id(&w, &token).await;
    let (status, body) = rest_as(
        &w,
        &root,
        Method::PUT,
        &format!("/users/{user}"),
        json!({"patient_id": second}),
    )
    .await;
    assert_eq!(status, 200, "relink user: {body}");
    // The change ended the patient's sessions: they sign in again.
    let token = login(&w.base, "pat@example.org").await;
    let remote = Remote::new(&w.base, &token);
    sync(&laptop, &remote)
        .await
        .expect("sync pat after the change");
    assert_gone(&laptop, first, first_doc, "thyroid").await;
    assert_eq!(hits(&laptop, "elevated").await, 0);
    assert!(
        has_row(&laptop, SyncTable::Users, user).await,
        "own user row stays"
    );
    assert_held(&laptop, &remote, second, second_doc, "ferritin").await;
}

/// The signed-in user's id.
async fn my_id(w: &World, token: &str) -> Uuid {
    let (status, me) = rest_as(w, token, Method::GET, "/users/me", Value::Null).await;
    assert_eq!(status, 200, "me: {me}");
    me["id"].as_str().expect("id").parse().expect("uuid")
}

async fn type_changed(w: World) {
    let token = w.user("dan@example.org", UserType::Dietician, None).await;
    let remote = Remote::new(&w.base, &token);
    let laptop = Replica::open(&w.dir.join("dan.db")).await.expect("dan");
    let own = patient(&laptop, "Hana", None).await;
    let doc = document(&laptop, own, "Meal plan", "low sodium week one").await;
    sync(&laptop, &remote).await.expect("sync dan");
    assert_held(&laptop, &remote, own, doc, "meal").await;
    assert_eq!(hits(&laptop, "sodium").await, 1);
    let dan = my_id(&w, &token).await;
    let colleague = my_id(&w, &w.token).await;
    assert!(has_row(&laptop, SyncTable::Users, colleague).await);

    let root = admin(&w).await;
    let (status, body) = rest_as(
        &w,
        &root,
        Method::PUT,
        &format!("/users/{dan}"),
        json!({"type": "practitioner"}),
    )
    .await;
    assert_eq!(status, 200, "type change: {body}");
    let token = login(&w.base, "dan@example.org").await;
    sync(&laptop, &Remote::new(&w.base, &token))
        .await
        .expect("sync dan after the change");
    assert_gone(&laptop, own, doc, "meal").await;
    assert_eq!(hits(&laptop, "sodium").await, 0);
    // Still in scope: their own row and their colleagues' directory entries.
    assert!(has_row(&laptop, SyncTable::Users, dan).await);
    assert!(has_row(&laptop, SyncTable::Users, colleague).await);
}

/// "Minimum necessary" on laptops: an admin's replica holds the users, and patient data is
/// read online, audited. A dietician made admin (as a replica from before this rule held
/// everything) keeps none of what they held.
async fn admin_replica(w: World) {
    let token = w.user("eve@example.org", UserType::Dietician, None).await;
    let remote = Remote::new(&w.base, &token);
    let laptop = Replica::open(&w.dir.join("eve.db")).await.expect("eve");
    let own = patient(&laptop, "Ines", None).await;
    let doc = document(&laptop, own, "Lipid panel", "LDL raised").await;
    sync(&laptop, &remote).await.expect("sync eve");
    assert_held(&laptop, &remote, own, doc, "lipid").await;
    let eve = my_id(&w, &token).await;
    let colleague = my_id(&w, &w.token).await;
    let logs_of = |r: &Replica| {
        let r = r.clone();
        async move { r.sync_log(&Default::default()).await.expect("log").len() }
    };
    assert!(
        logs_of(&laptop).await > 0,
        "a dietician's log is on their laptop"
    );

    let root = admin(&w).await;
    let (status, body) = rest_as(
        &w,
        &root,
        Method::PUT,
        &format!("/users/{eve}"),
        json!({"type": "admin"}),
    )
    .await;
    assert_eq!(status, 200, "type change: {body}");
    let token = login(&w.base, "eve@example.org").await;
    sync(&laptop, &Remote::new(&w.base, &token))
        .await
        .expect("sync eve as admin");
    assert_gone(&laptop, own, doc, "lipid").await;
    assert_eq!(logs_of(&laptop).await, 0, "no log entry of any patient");
    // What administration needs stays: every user, in full.
    for user in [eve, colleague, my_id(&w, &root).await] {
        assert!(has_row(&laptop, SyncTable::Users, user).await, "{user}");
    }
    let colleague_row = laptop
        .row(SyncTable::Users, colleague)
        .await
        .expect("row")
        .expect("held");
    assert!(
        colleague_row.get("email").is_some(),
        "an admin sees users in full: {colleague_row}"
    );

    // A fresh admin laptop gets the same, however many patients the practice has.
    let fresh = Replica::open(&w.dir.join("root.db")).await.expect("root");
    let writer = Replica::open(&w.dir.join("writer.db"))
        .await
        .expect("writer");
    let written = patient(&writer, "Jon", None).await;
    sync(&writer, &Remote::new(&w.base, &w.token))
        .await
        .expect("sync writer");
    sync(&fresh, &Remote::new(&w.base, &root))
        .await
        .expect("sync root");
    assert!(!has_row(&fresh, SyncTable::Patients, written).await);
    assert!(has_row(&fresh, SyncTable::Users, colleague).await);
    // Patient data is read online, and the read is on the audit trail.
    let (status, read) = rest_as(
        &w,
        &root,
        Method::GET,
        &format!("/patients/{written}"),
        Value::Null,
    )
    .await;
    assert_eq!((status, read["name"].as_str()), (200, Some("Jon")));
}
