//! Desktop figures, on the release build of the real app in its webview (Xvfb), with a
//! replica of 10,000 patients and 100,000 documents synced from a real platform:
//! - cold start to first screen: from launching the app (through tauri-driver, whose session
//!   setup is included: an upper bound) until the patient list shows patients;
//! - idle memory of the app with that replica: RSS and PSS of the app process and its WebKit
//!   processes, after 10 s idle;
//! - local search over the 100,000 documents (encrypted replica): a rare word, a word in every
//!   document, a patient's name (their documents, newest first), and a patient-name search
//!   of the patient list, each timed on the query the screens run.
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

/// When process `pid` started, in milliseconds since the epoch (its start time in clock ticks
/// after boot, plus when the machine booted).
fn process_start_epoch_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let ticks: f64 = stat[stat.rfind(')').expect("comm") + 2..]
        .split_whitespace()
        .nth(19)
        .and_then(|v| v.parse().ok())
        .expect("starttime");
    // The boot time from /proc/uptime (10 ms resolution; /proc/stat's btime is whole seconds).
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .expect("/proc/uptime")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("uptime");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let boot = now - uptime;
    let hz: f64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    (boot + ticks / hz) * 1000.0
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
    // This process reads the replica's key from the same keyring as the app (set before any
    // other thread exists).
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", desktop.bus.address());
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
        // The server address sits under "Advanced" (a person rarely changes it).
        app.click("#advanced > summary").await;
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

        // Cold starts, signed in: from the app's process start (its start time in /proc) to
        // the `first-screen` mark the patient list sets when its first rows arrive, on the
        // page's clock (so WebDriver's own setup is not counted; the launch through it is
        // timed beside).
        let mut times = Vec::new();
        let mut launches = Vec::new();
        for _ in 0..starts {
            let start = Instant::now();
            let app = WebDriver::launch(desktop.driver_port, &binary.display().to_string()).await;
            let shown_at = app
                .wait_for(
                    "the patient list",
                    "const m = performance.getEntriesByName('first-screen')[0]; \
                     return m ? performance.timeOrigin + m.startTime : null;",
                    serde_json::json!([]),
                )
                .await
                .as_f64()
                .expect("epoch ms");
            launches.push(start.elapsed().as_secs_f64() * 1000.0);
            let pid = app_processes(&binary)
                .into_iter()
                .find(|(_, name)| !name.starts_with("WebKit"))
                .expect("app process")
                .0;
            times.push(shown_at - process_start_epoch_ms(pid));
            app.quit().await;
        }
        let first = median(&mut times.clone());
        println!(
            "cold start to first screen (process start to the list's first rows): median {first:.0} ms over {starts} starts (min {:.0}, max {:.0}; target < 1 s)",
            times.iter().copied().fold(f64::INFINITY, f64::min),
            times.iter().copied().fold(0.0, f64::max)
        );
        println!(
            "  the same through WebDriver (session setup included): median {:.0} ms",
            median(&mut launches)
        );

        // Idle memory, the app started directly (no WebDriver): as WebKit ships it, then with
        // WebKit's accelerated compositing off (WEBKIT_DISABLE_COMPOSITING_MODE=1).
        for (mode, env) in [
            ("default", vec![]),
            (
                "compositing off",
                vec![("WEBKIT_DISABLE_COMPOSITING_MODE", "1".to_owned())],
            ),
        ] {
            let mut env = env;
            env.push(("RECORDS_REPLICA", replica.display().to_string()));
            let mut child = desktop.spawn(&binary, &env);
            tokio::time::sleep(Duration::from_secs(12)).await;
            let processes = app_processes(&binary);
            let (mut rss, mut pss, mut private) = (0, 0, 0);
            let mib = |kb: u64| kb as f64 / 1024.0;
            for (pid, name) in &processes {
                let r = kb(*pid, "status", "VmRSS:");
                let p = kb(*pid, "smaps_rollup", "Pss:");
                let a = kb(*pid, "smaps_rollup", "Pss_Anon:");
                println!(
                    "  {mode}: {name:<16} RSS {:>6.1} MiB, PSS {:>6.1} MiB, of which private (anonymous) {:>5.1} MiB",
                    mib(r),
                    mib(p),
                    mib(a)
                );
                rss += r;
                pss += p;
                private += a;
            }
            println!(
                "idle memory with {patients} patients ({mode}), {} processes: PSS {:.0} MiB, private {:.0} MiB, RSS {:.0} MiB (target < 150 MB)",
                processes.len(),
                mib(pss),
                mib(private),
                mib(rss)
            );
            let _ = child.kill();
            let _ = child.wait();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }

        // Local search, on the app's own encrypted replica (its key from the keyring).
        let key = keystore::Keystore::for_replica(&replica)
            .replica_key()
            .expect("key");
        let replica = sync_core::Replica::open_encrypted(&replica, &key)
            .await
            .expect("replica");
        // Titles are searchable from the first sync; a document's text once it was opened here
        // or written here (bodies are fetched on first reading).
        let rare = format!("note {}", documents / 2 + 7);
        let someone = format!("Patient {:05}", patients / 2 + 3);
        for (label, text) in [
            ("one match", rare.as_str()),
            ("a word of every title (first 500)", "note"),
            ("a prefix of every title", "no"),
            ("a patient's name (their documents)", someone.as_str()),
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
        for _ in 0..30 {
            let t = Instant::now();
            let shown = replica
                .documents(&DocumentFilter::default())
                .await
                .expect("list")
                .len();
            assert_eq!(shown, 500.min(documents));
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "the document list, newest 500 of {documents}: median {:.1} ms",
            median(&mut ms)
        );
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
