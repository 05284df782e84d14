//! Push: offline edits applied exactly once, merged or reported as conflicts, authorized like
//! REST, and never blocked by a rejected neighbour.

use crate::both_backends;
use crate::helpers::{TestApp, TestUser};
use domain::UserType;
use serde_json::{json, Value};
use uuid::Uuid;

#[allow(clippy::needless_pass_by_value)] // reads better at the call sites
fn mutation(table: &str, row: Uuid, op: &str, base: i64, fields: Value) -> Value {
    json!({"mutation_id": Uuid::now_v7(), "device_seq": 1, "table": table, "row_id": row,
           "op": op, "base_version": base, "fields": fields})
}

async fn push(app: &TestApp, who: &TestUser, mutations: &[Value]) -> Vec<Value> {
    let res = app
        .post(
            "/api/v1/sync/push",
            who,
            json!({"device_id": "laptop-1", "mutations": mutations}),
        )
        .await
        .expect(200);
    res.body["results"].as_array().expect("results").clone()
}

both_backends! {
    async fn inserts_apply_once_and_repeats_are_duplicates(app) {
        let d = app.user(UserType::Dietician).await;
        let id = Uuid::now_v7();
        let m = mutation("patients", id, "insert", 0, json!({"name": "Offline Olga", "email": "olga@example.org"}));
        let first = push(&app, &d, std::slice::from_ref(&m)).await;
        assert_eq!(first[0]["status"], "applied", "{first:?}");
        assert_eq!(first[0]["version"], 1);
        let again = push(&app, &d, std::slice::from_ref(&m)).await;
        assert_eq!(again[0]["status"], "duplicate");
        assert_eq!(again[0]["original_status"], "applied");
        let got = app.get(&format!("/api/v1/patients/{id}"), &d).await.expect(200);
        assert_eq!(got.body["name"], "Offline Olga");
        assert_eq!(got.body["version"], 1, "applied once");
        assert_eq!(app.get("/api/v1/patients", &d).await.expect(200).ids(), vec![id]);
        // Another account replaying the id gets nothing of it.
        let other = app.user(UserType::Dietician).await;
        let theirs = push(&app, &other, std::slice::from_ref(&m)).await;
        assert_eq!(theirs[0]["status"], "rejected");
    }

    async fn edits_to_other_fields_merge_and_same_field_edits_conflict(app) {
        let d = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({"contact_details": "old phone"})).await;
        // Online, someone changes the dietary preferences (version 2).
        app.put(&format!("/api/v1/patients/{p}"), &d, json!({"dietary_preferences": "low sodium"})).await.expect(200);
        // Offline, based on version 1: a different field merges...
        let merged = push(&app, &d, &[mutation("patients", p, "update", 1, json!({"contact_details": "new phone"}))]).await;
        assert_eq!(merged[0]["status"], "applied", "{merged:?}");
        assert_eq!(merged[0]["version"], 3);
        let row = app.get(&format!("/api/v1/patients/{p}"), &d).await.expect(200);
        assert_eq!(row.body["contact_details"], "new phone");
        assert_eq!(row.body["dietary_preferences"], "low sodium");
        // ...the same field is a conflict carrying both values, and writes nothing.
        let clash = push(&app, &d, &[mutation("patients", p, "update", 1, json!({"dietary_preferences": "vegan"}))]).await;
        assert_eq!(clash[0]["status"], "conflict", "{clash:?}");
        assert_eq!(clash[0]["version"], 3);
        assert_eq!(clash[0]["conflicts"][0], json!({"field": "dietary_preferences", "server_value": "low sodium", "client_value": "vegan"}));
        let row = app.get(&format!("/api/v1/patients/{p}"), &d).await.expect(200);
        assert_eq!(row.body["dietary_preferences"], "low sodium");
        assert_eq!(row.body["version"], 3);
        // Resolving is a new mutation on the current version.
        let resolved = push(&app, &d, &[mutation("patients", p, "update", 3, json!({"dietary_preferences": "vegan, low sodium"}))]).await;
        assert_eq!(resolved[0]["status"], "applied");
    }

    async fn each_mutation_is_authorized_and_a_rejection_blocks_nothing(app) {
        let d = app.user(UserType::Dietician).await;
        let other = app.user(UserType::Dietician).await;
        let prac = app.user(UserType::Practitioner).await;
        let theirs = app.patient(&other, json!({})).await;
        let mine = app.patient(&d, json!({})).await;
        let results = push(&app, &d, &[
            mutation("patients", theirs, "update", 1, json!({"name": "Hijacked"})),
            mutation("patients", mine, "update", 1, json!({"email": "not-an-email"})),
            mutation("patients", mine, "update", 1, json!({"name": "Renamed"})),
            mutation("users", d.id, "update", 1, json!({"name": "x"})),
        ]).await;
        let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().expect("s")).collect();
        assert_eq!(statuses, ["rejected", "rejected", "applied", "rejected"]);
        assert_eq!(results[0]["code"], "not_found");
        assert_eq!(results[1]["code"], "validation_failed");
        assert!(results[1]["reason"].as_str().expect("r").starts_with("email:"), "{}", results[1]);
        assert_eq!(app.get(&format!("/api/v1/patients/{theirs}"), &other).await.expect(200).body["name"], "Ana Lima");
        // A practitioner may not create patients offline either.
        let r = push(&app, &prac, &[mutation("patients", Uuid::now_v7(), "insert", 0, json!({"name": "P", "email": "p@example.org"}))]).await;
        assert_eq!((r[0]["status"].as_str(), r[0]["code"].as_str()), (Some("rejected"), Some("forbidden")));
    }

    async fn documents_are_written_and_deleted_offline(app) {
        let d = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({})).await;
        let doc = Uuid::now_v7();
        let r = push(&app, &d, &[mutation("healthcare_documents", doc, "insert", 0, json!({
            "patient_id": p, "type": "progress note", "date": "2026-11-20", "title": "Written on the train",
            "content": "Discussed meal timing."}))]).await;
        assert_eq!(r[0]["status"], "applied", "{r:?}");
        let got = app.get(&format!("/api/v1/documents/{doc}"), &d).await.expect(200);
        assert_eq!(got.body["content"], "Discussed meal timing.");
        assert_eq!(got.body["source_user_id"], d.id.to_string());
        let r = push(&app, &d, &[mutation("healthcare_documents", doc, "update", 1, json!({"content": "Discussed meal timing and fibre."}))]).await;
        assert_eq!(r[0]["version"], 2);
        // Edited on the web since: a delete based on the older version is a conflict that
        // keeps the row and hands it back; on the current version, a tombstone.
        app.put(&format!("/api/v1/documents/{doc}"), &d, json!({"title": "Written on the train (edited)"})).await.expect(200);
        let r = push(&app, &d, &[mutation("healthcare_documents", doc, "delete", 2, json!({}))]).await;
        assert_eq!((r[0]["status"].as_str(), r[0]["kind"].as_str()), (Some("conflict"), Some("edited_on_server")), "{r:?}");
        assert_eq!(r[0]["row"]["title"], "Written on the train (edited)");
        assert_eq!(r[0]["row"]["version"], 3);
        let r = push(&app, &d, &[mutation("healthcare_documents", doc, "delete", 3, json!({}))]).await;
        assert_eq!(r[0]["status"], "applied");
        app.get(&format!("/api/v1/documents/{doc}"), &d).await.expect(404);
        // Bad pushes as a whole are refused with a problem.
        app.post("/api/v1/sync/push", &d, json!({"device_id": "", "mutations": []})).await.problem(422, "validation_failed");
        app.post("/api/v1/sync/push", &d, json!({"device_id": "x", "mutations": [{"op": "insert"}]})).await.problem(422, "validation_failed");
    }

    async fn a_restore_is_an_upload_again_and_needs_the_link_to_the_patient(app) {
        let d = app.user(UserType::Dietician).await;
        let clinic = |name: &str| server::db::providers::ProviderRow::open(name, "https://php.example.org/fhir");
        let riverside = app.db.insert_provider(clinic("Riverside")).await.expect("provider");
        let hillcrest = app.db.insert_provider(clinic("Hillcrest")).await.expect("provider");
        let prov = app.user_with(UserType::Provider, Some(riverside.id), None).await;
        let p = app.patient(&d, json!({"provider_id": riverside.id, "provider_patient_identifier": "MRN-7"})).await;
        app.approve_link_found_as(&app.user(UserType::Admin).await, p, "riverside-7").await;
        let doc = app.text_document(&prov, p, "Lab letter").await;
        let r = push(&app, &prov, &[mutation("healthcare_documents", doc, "delete", 1, json!({}))]).await;
        assert_eq!(r[0]["status"], "applied", "{r:?}");
        // The patient moves to another practice: the old provider may not bring the letter back
        // (it left their sight with the patient: not found, as any row out of sight).
        app.put(&format!("/api/v1/patients/{p}"), &d, json!({"provider_id": hillcrest.id})).await.expect(200);
        let r = push(&app, &prov, &[mutation("healthcare_documents", doc, "restore", 2, json!({"title": "Lab letter"}))]).await;
        assert_eq!((r[0]["status"].as_str(), r[0]["code"].as_str()), (Some("rejected"), Some("not_found")), "{r:?}");
        assert!(r[0].get("row").is_none(), "nothing of the record handed back");
        app.get(&format!("/api/v1/documents/{doc}"), &d).await.expect(404);
    }

    async fn a_providers_staff_see_a_patient_only_under_an_approved_link(app) {
        let d = app.user(UserType::Dietician).await;
        let clinic = |name: &str| server::db::providers::ProviderRow::open(name, "https://php.example.org/fhir");
        let riverside = app.db.insert_provider(clinic("Riverside")).await.expect("provider");
        let hillcrest = app.db.insert_provider(clinic("Hillcrest")).await.expect("provider");
        let prov = app.user_with(UserType::Provider, Some(riverside.id), None).await;
        let p = app.patient(&d, json!({"provider_id": riverside.id})).await;
        // Pending, the provider's staff do not see the patient at all.
        app.get(&format!("/api/v1/patients/{p}"), &prov).await.expect(404);
        app.post(&format!("/api/v1/patients/{p}/documents"), &prov,
                 json!({"type": "lab report", "date": "2026-11-01", "title": "Early", "content": "x"})).await.expect(404);
        app.approve_link_found_as(&app.user(UserType::Admin).await, p, "riverside-8").await;
        app.get(&format!("/api/v1/patients/{p}"), &prov).await.expect(200);
        let doc = app.text_document(&prov, p, "Lab letter").await;
        app.get(&format!("/api/v1/documents/{doc}"), &prov).await.expect(200);
        app.put(&format!("/api/v1/patients/{p}"), &d, json!({"provider_id": hillcrest.id})).await.expect(200);
        // Their upload went with the patient: not read, listed or served to them any more.
        app.get(&format!("/api/v1/documents/{doc}"), &prov).await.expect(404);
        app.get(&format!("/api/v1/documents/{doc}/content"), &prov).await.expect(404);
        app.get(&format!("/api/v1/patients/{p}/documents"), &prov).await.expect(404);
        let listed = app.get("/api/v1/sync/changes?limit=500", &prov).await.expect(200).body;
        assert!(!listed.to_string().contains(&doc.to_string()), "{listed}");
        // The patient's dietician still has it.
        app.get(&format!("/api/v1/documents/{doc}"), &d).await.expect(200);
    }

    async fn what_a_conflict_hands_back_is_an_audited_read(app) {
        let admin = app.user(UserType::Admin).await;
        let d = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({})).await;
        app.put(&format!("/api/v1/patients/{p}"), &d, json!({"medical_history": "Coeliac disease"})).await.expect(200);
        let r = push(&app, &d, &[mutation("patients", p, "update", 1, json!({"medical_history": "none"}))]).await;
        assert_eq!(r[0]["status"], "conflict");
        assert_eq!(r[0]["row"]["medical_history"], "Coeliac disease");
        let trail = app.get(&format!("/api/v1/audit?patient_id={p}&user_id={}", d.id), &admin).await.expect(200);
        let entities: Vec<&str> = trail.body["items"].as_array().expect("items").iter()
            .filter_map(|e| e["entity"].as_str()).collect();
        assert_eq!(entities, ["patient", "patient"], "the push's answer and the PUT's (newest first), the reads of the record here");
    }
}

/// SQLite's triggers name the columns whose change they record (PostgreSQL's find them
/// generically): a column added to a synced table without its line in the trigger would be
/// written unrecorded on SQLite alone, and merged over unseen.
#[tokio::test]
async fn sqlite_records_a_change_of_every_column_as_postgres_does() {
    let database = server::testing::ScratchDatabase::sqlite();
    let db = server::db::Db::connect(&database.url, 1)
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    // Bookkeeping that changes on every write, left out on both databases.
    let skipped = [
        "id",
        "version",
        "updated_at",
        "change_seq",
        "owner_id",
        "created_at",
    ];
    for table in ["patients", "healthcare_documents"] {
        let trigger: String = sqlx::query_scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = $1",
        )
        .bind(format!("{table}_fields_written"))
        .fetch_one(db.pool())
        .await
        .expect("trigger");
        let columns: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(db.pool())
                .await
                .expect("columns");
        for column in columns.iter().filter(|c| !skipped.contains(&c.as_str())) {
            assert!(
                trigger.contains(&format!(
                    "NEW.{column} IS NOT OLD.{column} THEN '{column},'"
                )),
                "{table}.{column} is missing from {table}_fields_written"
            );
        }
    }
}
