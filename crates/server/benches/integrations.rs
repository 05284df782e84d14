//! Documents per second from a PHP through the platform into Carepatron: 200 patients with
//! 10 documents each at the stand-in PHP, both stand-ins answering with 50 ms latency,
//! Carepatron allowing 20 requests/s. The platform (in process, SQLite) links every patient
//! at once and its background jobs do the rest; the clock stops when Carepatron holds every
//! document. Run with `cargo bench -p server --bench integrations` (`BENCH_PATIENTS`,
//! `BENCH_DOCUMENTS`, `BENCH_RATE`, `BENCH_LATENCY_MS`, `BENCH_WORKERS` to vary it).

use sandbox::carepatron::CarepatronSandbox;
use sandbox::fhir::FhirSandbox;
use serde_json::json;
use server::config::{CarepatronSettings, Secret};
use server::testing::{with_jobs, Platform, ScratchDatabase};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[allow(clippy::print_stdout)]
fn main() {
    let patients: usize = env_or("BENCH_PATIENTS", 200);
    let documents: usize = env_or("BENCH_DOCUMENTS", 10);
    let rate: f64 = env_or("BENCH_RATE", 20.0);
    let latency: u64 = env_or("BENCH_LATENCY_MS", 50);
    let workers: usize = env_or("BENCH_WORKERS", 8);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let php = FhirSandbox::default();
        let seeded = sandbox::seed::php(&php, patients, documents, 3);
        php.faults().update(|f| f.latency_ms = latency);
        let php_served = php.serve("127.0.0.1:0").await.expect("php");
        let carepatron = CarepatronSandbox::new("bench key");
        carepatron.faults().update(|f| {
            f.latency_ms = latency;
            f.rate_limit_per_sec = Some(rate);
        });
        let cp_served = carepatron.serve("127.0.0.1:0").await.expect("carepatron");

        let database = ScratchDatabase::sqlite();
        let mut config = database.config();
        with_jobs(&mut config);
        config.jobs.workers = workers;
        config.jobs.attempts = 10;
        // Measures the pipeline, not an administrator: links are pulled as made.
        config.links = domain::LinkPolicy::Trusted;
        config.carepatron = Some(CarepatronSettings {
            base_url: cp_served.base.clone(),
            api_key: Secret::new(b"bench key".to_vec()),
            rate,
            poll: Duration::from_secs(30),
            list_lag: Duration::from_secs(60),
        });
        let platform = Platform::start(config, "127.0.0.1:0").await;
        let db = &platform.db;
        let owner = server::auth::create_account(db, domain::UserType::Dietician, "dee@bench.example", "Dee", "benchmark password", Default::default())
            .await
            .expect("dietician");
        let provider = db
            .insert_provider(server::db::providers::ProviderRow::open("Bench PHP", &php_served.base))
            .await
            .expect("provider");

        let started = Instant::now();
        let http = reqwest::Client::new();
        let token = server::testing::access_token(
            &platform.base,
            "dee@bench.example",
            "benchmark password",
        )
        .await;
        for p in &seeded {
            let res = http
                .post(format!("{}/api/v1/patients", platform.base))
                .bearer_auth(&token)
                .json(&json!({"name": p.name, "email": p.email, "birth_date": p.birth_date, "provider_id": provider.id,
                              "provider_patient_identifier": format!("{}|{}", sandbox::seed::MRN_SYSTEM, p.mrn)}))
                .send()
                .await
                .expect("patient");
            assert_eq!(res.status(), 201);
        }
        let _ = owner;
        let total = patients * documents;
        let mut pulled_at = None;
        let mut report = Instant::now();
        loop {
            let pulled: i64 = sqlx::query_scalar("SELECT count(*) FROM healthcare_documents")
                .fetch_one(db.pool())
                .await
                .expect("count");
            if pulled_at.is_none() && pulled as usize >= total {
                pulled_at = Some(started.elapsed());
            }
            let pushed = carepatron.documents().len();
            if pushed >= total {
                break;
            }
            if report.elapsed() > Duration::from_secs(10) {
                report = Instant::now();
                println!("  ... {:.0} s: {pulled} documents pulled, {pushed} in Carepatron", started.elapsed().as_secs_f64());
            }
            assert!(started.elapsed() < Duration::from_secs(1800), "stalled: {} of {total} in Carepatron", carepatron.documents().len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let took = started.elapsed();
        let seen = carepatron.seen();
        let refused = seen.iter().filter(|s| s.status == 429).count();
        let per_sec = total as f64 / took.as_secs_f64();
        let ideal = rate * total as f64 / (total + patients) as f64;
        println!(
            "{patients} patients x {documents} documents, {latency} ms latency at both ends, Carepatron limit {rate} req/s, {workers} workers (SQLite):"
        );
        println!(
            "  all {total} documents in the platform after {:.1} s; in Carepatron after {:.1} s",
            pulled_at.expect("pulled").as_secs_f64(),
            took.as_secs_f64()
        );
        println!(
            "  {per_sec:.1} documents/s into Carepatron = {:.0}% of the {rate} requests/s the limit allows ({:.0}% of the {ideal:.1} documents/s possible with one request per client and per document)",
            100.0 * per_sec / rate,
            100.0 * per_sec / ideal
        );
        println!(
            "  {} requests to Carepatron ({:.2} per document), {refused} refused with 429, {} to the PHP",
            seen.len(),
            seen.len() as f64 / total as f64,
            php.requests()
        );
        drop(platform);
    });
}
