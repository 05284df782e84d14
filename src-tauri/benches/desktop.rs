//! Desktop figures, on the release build of the real app in its webview (Xvfb), with a
//! replica of 10,000 patients and 100,000 documents synced from a real platform:
//! - cold start to first screen: from launching the app (through tauri-driver, whose session
//!   setup is included: an upper bound) until the patient list shows patients;
//! - idle memory of the app with that replica: RSS and PSS of the app process and its WebKit
//!   processes, after 10 s idle;
//! - local search over the 100,000 documents (encrypted replica): a rare word, a word in every
//!   document, and a patient-name search, each timed on the query the screens run.
//!
//! `cargo bench -p desktop --bench desktop` (scripts/desktop-figures); `FIGURES_PATIENTS`,
//! `FIGURES_DOCUMENTS`, `FIGURES_STARTS` scale it.

#[path = "../tests/e2e/desktop.rs"]
mod desktop;
#[path = "../tests/e2e/webdriver.rs"]
mod webdriver;

use desktop::Desktop;
use server::testing::{Platform, ScratchDatabase};
use std::path::Path;
use std::time::{Duration, Instant};
use sync_core::views::DocumentFilter;
use webdriver::WebDriver;

const EMAIL: &str = "dee@bench.example";
const PASSWORD: &str = "benchmark password";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Kilobytes of `field` (`VmRSS:` in status, `Pss:` in smaps_rollup) of a process.
fn kb(pid: u32, file: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The app's process and its WebKit children.
fn app_processes(binary: &Path) -> Vec<(u32, String)> {
    let all: Vec<(u32, u32, String)> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let name = stat[stat.find('(')? + 1..stat.rfind(')')?].to_owned();
            let ppid = stat[stat.rfind(')')? + 2..]
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid, name))
        })
        .collect();
    let app: Vec<u32> = all
        .iter()
        .filter(|(pid, _, _)| {
            std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary)
        })
        .map(|(pid, _, _)| *pid)
        .collect();
    all.into_iter()
        .filter(|(pid, ppid, _)| app.contains(pid) || app.contains(ppid))
        .map(|(pid, _, name)| (pid, name))
        .collect()
}

fn main() {
    let patients = env_or("FIGURES_PATIENTS", 10_000);
    let documents = env_or("FIGURES_DOCUMENTS", 100_000);
    let starts = env_or("FIGURES_STARTS", 5);
    let binary = Path::new(env!("CARGO_BIN_EXE_healthcare-records"));
    let binary = binary.canonicalize().expect("app binary");

    let database = ScratchDatabase::sqlite();
    let replica = database.dir.join("laptop/replica.db");
    let desktop = Desktop::start(&[
        ("RECORDS_REPLICA", replica.display().to_string()),
        ("RECORDS_PROBE_SECONDS", "5".into()),
    ]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let platform = Platform::start(database.config(), "127.0.0.1:0").await;
        let user = server::auth::create_account(
            &platform.db,
            domain::UserType::Dietician,
            EMAIL,
            "Dee",
            PASSWORD,
            Default::default(),
        )
        .await
        .expect("user");
        server::testing::seed_bulk(&platform.db, user.id, patients, documents).await;
        println!("platform seeded: {patients} patients, {documents} documents (~2 KB text each)");

        // First run: sign in and sync everything.
        let app = WebDriver::launch(desktop.driver_port, &binary.display().to_string()).await;
        app.fill("#server", &platform.base).await;
        app.fill("#email", EMAIL).await;
        app.fill("#password", PASSWORD).await;
        let synced = Instant::now();
        app.click("#sign-in").await;
        app.wait_text("#patient-count", &format!("{patients} patients"))
            .await;
        println!(
            "sign-in and first sync in the app: {:.1} s",
            synced.elapsed().as_secs_f64()
        );
        app.quit().await;

        // Cold starts, signed in: launch until the list shows its first patients.
        let mut times = Vec::new();
        for run in 0..starts {
            let start = Instant::now();
            let app = WebDriver::launch(desktop.driver_port, &binary.display().to_string()).await;
            app.wait_for(
                "the patient list",
                "return !!document.querySelector('.row[data-patient-id]');",
                serde_json::json!([]),
            )
            .await;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            if run + 1 < starts {
                app.quit().await;
                continue;
            }
            // The last one idles, then its memory is read.
            tokio::time::sleep(Duration::from_secs(10)).await;
            let processes = app_processes(&binary);
            let (mut rss, mut pss) = (0, 0);
            for (pid, name) in &processes {
                let (r, p) = (kb(*pid, "status", "VmRSS:"), kb(*pid, "smaps_rollup", "Pss:"));
                println!("  {name:<24} pid {pid:>7}: RSS {:>6.1} MiB, PSS {:>6.1} MiB", r as f64 / 1024.0, p as f64 / 1024.0);
                rss += r;
                pss += p;
            }
            println!(
                "idle memory with {patients} patients: PSS {:.0} MiB (RSS {:.0} MiB) over {} processes (target < 150 MB)",
                pss as f64 / 1024.0,
                rss as f64 / 1024.0,
                processes.len()
            );
            app.quit().await;
        }
        let first = median(&mut times.clone());
        println!(
            "cold start to first screen: median {first:.0} ms over {starts} starts (min {:.0}, max {:.0}; target < 1 s; includes WebDriver session setup)",
            times.iter().copied().fold(f64::INFINITY, f64::min),
            times.iter().copied().fold(0.0, f64::max)
        );

        // Local search, on the app's own encrypted replica (its key from the keyring).
        let key = keystore::Keystore::for_replica(&replica)
            .replica_key()
            .expect("key");
        let replica = sync_core::Replica::open_encrypted(&replica, &key)
            .await
            .expect("replica");
        for (label, text) in [
            ("a rare word (one document)", "12345"),
            ("a word in every document (first 500 by date)", "fibre"),
            ("two words, prefix", "improv energ"),
        ] {
            let filter = DocumentFilter {
                text: Some(text.into()),
                ..Default::default()
            };
            let mut ms = Vec::new();
            let mut found = 0;
            for _ in 0..30 {
                let t = Instant::now();
                found = replica.documents(&filter).await.expect("search").len();
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            println!(
                "local search over {documents} documents, {label}: median {:.1} ms ({found} shown; target < 50 ms)",
                median(&mut ms)
            );
        }
        let mut ms = Vec::new();
        for i in 0..30 {
            let t = Instant::now();
            let page = replica
                .patient_page(&format!("Patient 0{i:02}"), 0, 100)
                .await
                .expect("page");
            assert!(page.total > 0);
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "patient search over {patients} patients (first page of 100): median {:.1} ms",
            median(&mut ms)
        );
    });
}
