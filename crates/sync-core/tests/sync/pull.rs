//! A dietician links a patient to their PHP from a replica, an administrator approves the
//! link, and "Sync from the provider now" (`online::sync_patient`, then `online::job`) follows
//! the pull on the platform to its end; the next sync brings what it stored.

use crate::on_both_backends;
use crate::support::*;
use domain::dto::{ProviderEntry, SyncTable};
use domain::UserType;
use domain::{JobCause, JobKind, JobStatus};
use reqwest::Method;
use sandbox::fhir::FhirSandbox;
use sandbox::seed::MRN_SYSTEM;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use sync_core::online;
use sync_core::{Replica, RetryPolicy};

on_both_backends! {
    a_pull_started_from_a_replica_is_followed_to_its_end => linked_and_pulled(server::testing::with_jobs);
}

/// Waits until `check` says yes, for a job of the platform's.
async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(done) = check().await {
            return done;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn linked_and_pulled(w: World) {
    let php = FhirSandbox::default();
    let seeded = sandbox::seed::php(&php, 1, 3, 11);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
    sandbox::seed::add_series(&php, &seeded[0].id, &mut rng);
    let served = php.serve("127.0.0.1:0").await.expect("serve the PHP");
    let admin = w.user("root@example.org", UserType::Admin, None).await;
    let (status, provider) = rest_as(
        &w,
        &admin,
        Method::POST,
        "/providers",
        json!({"name": "Springfield Clinic", "fhir_base_url": served.base}),
    )
    .await;
    assert_eq!(status, 201, "{provider}");

    let store = MemoryStore::default();
    sync_core::login(&store, &w.base, "dee@example.org", "dietician password")
        .await
        .expect("sign in");
    // The dietician chooses the provider by name: nothing of how the platform signs in there.
    let directory = online::provider_directory(&store).await.expect("directory");
    assert_eq!(
        directory,
        [ProviderEntry {
            id: provider["id"].as_str().expect("id").parse().expect("uuid"),
            name: "Springfield Clinic".into(),
        }]
    );

    let r = Replica::open(&w.dir.join("pull.db"))
        .await
        .expect("replica");
    let p = &seeded[0];
    let patient = r
        .insert(
            SyncTable::Patients,
            fields(
                json!({"name": p.name, "email": p.email, "birth_date": p.birth_date,
                          "provider_id": directory[0].id,
                          "provider_patient_identifier": format!("{MRN_SYSTEM}|{}", p.mrn)}),
            ),
        )
        .await
        .expect("patient");
    let sync = || sync_core::sync_signed_in(&r, &store, RetryPolicy::default(), &|_| {});
    sync().await.expect("sync");
    let review: Value = eventually("the lookup at the PHP", || async {
        let (_, queue) = rest_as(&w, &admin, Method::GET, "/links", Value::Null).await;
        queue
            .as_array()?
            .iter()
            .find(|r| r["patient_id"] == json!(patient) && r["php_match"] == "found")
            .cloned()
    })
    .await;
    let (status, body) = rest_as(
        &w,
        &admin,
        Method::POST,
        &format!("/links/{patient}"),
        json!({"decision": "approved", "fingerprint": review["fingerprint"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let started = online::sync_patient(&store, patient)
        .await
        .expect("sync now");
    let done = eventually("the pull", || async {
        let job = online::job(&store, started.id).await.expect("job");
        job.finished().then_some(job)
    })
    .await;
    assert_eq!(done.status, JobStatus::Done, "{done:?}");
    assert_eq!(done.progress.found, 3, "{done:?}");
    // The approval's own pull may have stored them first: either way all three are here.
    assert_eq!(
        done.progress.stored + done.progress.unchanged,
        3,
        "{done:?}"
    );

    // An administrator's list reads the platform's jobs whole; only a stopped one runs again.
    let admin_store = MemoryStore::default();
    sync_core::login(
        &admin_store,
        &w.base,
        "root@example.org",
        "dietician password",
    )
    .await
    .expect("admin signs in");
    let finished = online::jobs(&admin_store, Some(JobStatus::Done))
        .await
        .expect("jobs");
    let listed = finished
        .iter()
        .find(|j| j.id == started.id)
        .expect("the pull among the finished jobs");
    assert_eq!(
        (listed.kind, listed.patient_id),
        (JobKind::Pull, Some(patient))
    );
    // Sync now joins the pull the approval queued when that one has not run yet.
    assert!(
        [JobCause::Manual, JobCause::Approved].contains(&listed.cause),
        "{listed:?}"
    );
    let again = online::replay_job(&admin_store, started.id).await;
    assert!(
        matches!(&again, Err(sync_core::SyncError::Server { code, .. }) if code == "job_not_replayable"),
        "{again:?}"
    );

    // Reads of the patient are in the trail, by day.
    let of_patient = |from: Option<chrono::NaiveDate>| domain::dto::AuditQuery {
        patient_id: Some(patient),
        from,
        to: from,
        ..Default::default()
    };
    let all = online::audit_trail(&admin_store, &of_patient(None))
        .await
        .expect("audit trail");
    // The newest read's day (UTC), as stamped: a run across midnight reads the same.
    let day = all
        .items
        .first()
        .expect("reads of the patient")
        .at
        .date_naive();
    let trail = online::audit_trail(&admin_store, &of_patient(Some(day)))
        .await
        .expect("audit trail");
    assert!(!trail.items.is_empty(), "reads of the patient that day");
    assert!(trail.items.iter().all(|e| e.patient_id == Some(patient)));
    let tomorrow = day.succ_opt().expect("a day");
    let none = online::audit_trail(&admin_store, &of_patient(Some(tomorrow)))
        .await
        .expect("audit trail");
    assert!(none.items.is_empty());

    sync().await.expect("sync");
    let documents = r
        .documents(&sync_core::views::DocumentFilter {
            patient_id: Some(patient),
            ..Default::default()
        })
        .await
        .expect("documents");
    assert_eq!(documents.len(), 3);
    let digest = r.document_digest(patient).await.expect("digest");
    assert_eq!(digest.kinds.iter().map(|k| k.count).sum::<i64>(), 3);
    assert_eq!(digest.new_since_last_visit, 3, "a first visit: all are new");
    let last_pull = digest.last_pull.expect("the pull is in the log");
    assert_eq!(last_pull.status, domain::LogStatus::Success);

    // The results came too, as trends in one unit each: the lipid panel's four, a year of
    // vital signs and labs (glucose in mmol/L whatever the PHP sent).
    let trends = r.trends(patient).await.expect("trends");
    let count = |key: &str| {
        trends
            .iter()
            .find(|t| t.key == key)
            .map_or(0, |t| t.points.len())
    };
    assert_eq!(
        (
            count("weight"),
            count("systolic"),
            count("hba1c"),
            count("glucose"),
            count("ldl")
        ),
        (6, 6, 4, 4, 1),
        "{trends:?}"
    );
    let glucose = trends.iter().find(|t| t.key == "glucose").expect("glucose");
    assert_eq!(glucose.unit, "mmol/L");
    assert_eq!(
        glucose
            .points
            .iter()
            .filter(|p| p.reported.is_some())
            .count(),
        2,
        "the two sent in mg/dL say so"
    );
    assert!(glucose
        .points
        .iter()
        .all(|p| (2.0..15.0).contains(&p.value)));
}
