//! Desktop figures, on the release build of the real app in its webview (Xvfb), with a
//! replica of 10,000 patients and 100,000 documents synced from a real platform:
//! - cold start to first screen: from launching the app (through tauri-driver, whose session
//!   setup is included: an upper bound) until the patient list shows patients;
//! - scrolling: the patient list scrolled 400 px a frame for 120 frames, the time between
//!   frames (`requestAnimationFrame`) as the page sees it, and the memory after;
//! - idle memory of the app with that replica: RSS and PSS of the app process and its WebKit
//!   processes, after 12 s idle, and where it goes (by kind over the processes, and the largest
//!   mappings of each);
//! - local search over the 100,000 documents (encrypted replica): a rare word, a word in every
//!   document, a patient's name (their documents, newest first), and a patient-name search
//!   of the patient list, each timed on the query the screens run.
//!
//! Start, scrolling and memory are measured for each webview configuration in
//! [`CONFIGURATIONS`] (the memory settings of `src/webview.rs`, one by one, as WebKit ships
//! them, and as the app ships them), interleaved so that the machine's noise falls on all.
//!
//! `cargo bench -p desktop --bench desktop` (scripts/desktop-figures); `FIGURES_PATIENTS`,
//! `FIGURES_DOCUMENTS`, `FIGURES_STARTS` (starts per configuration), `FIGURES_MEMORY_ROUNDS`
//! (idle-memory samples per configuration) scale it; `FIGURES_CONFIGS` (keys of
//! [`CONFIGURATIONS`], comma-separated) limits the configurations; `FIGURES_SMAPS=all` prints
//! where the memory goes for every configuration, not only for WebKit's defaults and what
//! ships.

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

/// A key (for `FIGURES_CONFIGS`), a label, and the environment the app starts with.
type Configuration = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The webview configurations compared: a key (for `FIGURES_CONFIGS`), a label, and the
/// environment the app starts with on top of the session's. `RECORDS_WEBVIEW_MEMORY` chooses
/// the app's own settings (src/webview.rs); `defaults` is WebKitGTK as it ships.
const CONFIGURATIONS: &[Configuration] = &[
    (
        "defaults",
        "WebKit defaults",
        &[("RECORDS_WEBVIEW_MEMORY", "defaults")],
    ),
    (
        "cache-model",
        "cache model DocumentViewer",
        &[("RECORDS_WEBVIEW_MEMORY", "cache-model")],
    ),
    (
        "no-page-cache",
        "page cache off",
        &[("RECORDS_WEBVIEW_MEMORY", "no-page-cache")],
    ),
    (
        "no-acceleration",
        "hardware acceleration never",
        &[("RECORDS_WEBVIEW_MEMORY", "no-acceleration")],
    ),
    (
        "compositing-off",
        "WEBKIT_DISABLE_COMPOSITING_MODE=1",
        &[
            ("RECORDS_WEBVIEW_MEMORY", "defaults"),
            ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
        ],
    ),
    (
        "no-dmabuf",
        "WEBKIT_DISABLE_DMABUF_RENDERER=1",
        &[("RECORDS_WEBVIEW_MEMORY", "no-dmabuf")],
    ),
    (
        "skia-cpu",
        "WEBKIT_SKIA_ENABLE_CPU_RENDERING=1",
        &[("RECORDS_WEBVIEW_MEMORY", "skia-cpu")],
    ),
    // Named, as the app started through WebDriver otherwise keeps WebKit's defaults.
    (
        "tuned",
        "tuned (what ships)",
        &[("RECORDS_WEBVIEW_MEMORY", "tuned")],
    ),
];

/// A shell script that starts `binary` with `env` (tauri-driver starts the app it is given,
/// with its own environment): `exec`, so the app keeps the script's process and start time.
fn launcher(dir: &Path, key: &str, binary: &Path, env: &[(&str, &str)]) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(format!("start-{key}.sh"));
    let mut script = String::from("#!/bin/sh\n");
    for (k, v) in env {
        script.push_str(&format!("export {k}='{v}'\n"));
    }
    script.push_str(&format!("exec '{}' \"$@\"\n", binary.display()));
    std::fs::write(&path, script).expect("launcher");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// The patient list scrolled 400 px a frame for 120 frames: the gaps between frames, in ms.
const SCROLL: &str = "const el = document.querySelector('.virtual'); \
    if (!el) return null; \
    return new Promise((resolve) => { \
      const gaps = []; let last = null; \
      const step = (t) => { \
        if (last !== null) gaps.push(t - last); \
        last = t; \
        if (gaps.length >= 120) { el.scrollTop = 0; resolve(gaps); return; } \
        el.scrollTop += 400; \
        requestAnimationFrame(step); \
      }; \
      requestAnimationFrame(step); \
    });";

/// The `q` quantile of `samples` (sorted in place).
fn quantile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

/// PSS of a process by mapping, largest first: shared libraries and files by name, anonymous
/// memory as `[anon]` (heap included), in kB.
fn smaps(pid: u32) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut by: std::collections::BTreeMap<String, u64> = Default::default();
    let mut current = String::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            // A mapping's header: address perms offset dev inode [path].
            let path = fields.nth(4).unwrap_or_default();
            current = match path {
                "" | "[heap]" => "[anon]".to_owned(),
                p if p.starts_with('/') => p.rsplit('/').next().unwrap_or(p).to_owned(),
                p => p.to_owned(),
            };
        } else if first == "Pss:" {
            let kb: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            *by.entry(current.clone()).or_default() += kb;
        }
    }
    let mut by: Vec<_> = by.into_iter().collect();
    by.sort_by_key(|(_, kb)| std::cmp::Reverse(*kb));
    by
}

/// What a mapping of [`smaps`] is, for the summary of where the memory goes.
fn kind(mapping: &str) -> &'static str {
    let lib = |prefixes: &[&str]| prefixes.iter().any(|p| mapping.starts_with(p));
    if mapping == "[anon]" {
        "anonymous (heaps, JS heap, tiles)"
    } else if lib(&["libwebkit2gtk", "libjavascriptcoregtk"]) {
        "WebKit and JavaScriptCore code"
    } else if lib(&[
        "libLLVM",
        "swrast_dri",
        "libgallium",
        "libglapi",
        "libEGL",
        "libGL",
        "libgbm",
    ]) {
        "Mesa (software GL) and LLVM"
    } else if lib(&["libflite"]) {
        "flite (speech, linked by WebKit)"
    } else if mapping == "healthcare-records" {
        "the app's own code"
    } else if lib(&["memfd:", "SYSV", "/dev/shm"]) {
        "shared buffers"
    } else if mapping.contains(".so") {
        "other libraries (GTK, GLib, ICU, GStreamer, ...)"
    } else {
        "other"
    }
}

/// One idle-memory sample of a configuration: per process name, (RSS, PSS, private) in kB.
type Sample = std::collections::BTreeMap<String, (u64, u64, u64)>;

fn main() {
    let patients = env_or("FIGURES_PATIENTS", 10_000);
    let documents = env_or("FIGURES_DOCUMENTS", 100_000);
    let starts = env_or("FIGURES_STARTS", 5);
    let rounds = env_or("FIGURES_MEMORY_ROUNDS", 3);
    let configurations: Vec<_> = match std::env::var("FIGURES_CONFIGS") {
        Ok(keys) => {
            let keys: Vec<&str> = keys.split(',').map(str::trim).collect();
            CONFIGURATIONS
                .iter()
                .filter(|(key, _, _)| keys.contains(key))
                .collect()
        }
        Err(_) => CONFIGURATIONS.iter().collect(),
    };
    let smaps_for_all = std::env::var("FIGURES_SMAPS").is_ok_and(|v| v == "all");
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

        // Per configuration: cold starts, signed in, from the app's process start (its start
        // time in /proc) to the `first-screen` mark the patient list sets when its first rows
        // arrive, on the page's clock (so WebDriver's own setup is not counted; the launch
        // through it is timed beside); then the list scrolled. Rounds go through every
        // configuration in turn.
        let launchers: Vec<String> = configurations
            .iter()
            .map(|(key, _, env)| {
                launcher(&database.dir, key, &binary, env)
                    .display()
                    .to_string()
            })
            .collect();
        let n = configurations.len();
        let mut times = vec![Vec::new(); n];
        let mut launches = vec![Vec::new(); n];
        let mut gaps = vec![Vec::new(); n];
        let mut after_scroll = vec![Vec::new(); n];
        for _ in 0..starts {
            for (c, launcher) in launchers.iter().enumerate() {
                let start = Instant::now();
                let app = WebDriver::launch(desktop.driver_port, launcher).await;
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
                launches[c].push(start.elapsed().as_secs_f64() * 1000.0);
                let pid = app_processes(&binary)
                    .into_iter()
                    .find(|(_, name)| !name.starts_with("WebKit"))
                    .expect("app process")
                    .0;
                times[c].push(shown_at - process_start_epoch_ms(pid));
                if let Some(frames) = app.js(SCROLL, serde_json::json!([])).await.as_array() {
                    gaps[c].extend(frames.iter().filter_map(|g| g.as_f64()));
                }
                // Memory once the list was scrolled (the WebDriver session's own included).
                tokio::time::sleep(Duration::from_secs(2)).await;
                after_scroll[c].push(
                    app_processes(&binary)
                        .iter()
                        .map(|(pid, _)| kb(*pid, "smaps_rollup", "Pss:"))
                        .sum::<u64>() as f64
                        / 1024.0,
                );
                app.quit().await;
            }
        }
        for (c, (_, label, _)) in configurations.iter().enumerate() {
            let first = median(&mut times[c].clone());
            println!(
                "cold start to first screen, {label} (process start to the list's first rows): median {first:.0} ms over {starts} starts (min {:.0}, max {:.0}; target < 1 s); through WebDriver (session setup included): median {:.0} ms",
                times[c].iter().copied().fold(f64::INFINITY, f64::min),
                times[c].iter().copied().fold(0.0, f64::max),
                median(&mut launches[c]),
            );
            if !gaps[c].is_empty() {
                println!(
                    "  scrolling the patient list, {label}: frame to frame median {:.1} ms, 95th percentile {:.1} ms, worst {:.0} ms ({} frames)",
                    quantile(&mut gaps[c], 0.5),
                    quantile(&mut gaps[c], 0.95),
                    quantile(&mut gaps[c], 1.0),
                    gaps[c].len()
                );
            }
            println!(
                "  memory after scrolling, {label} (through WebDriver): PSS median {:.0} MiB",
                median(&mut after_scroll[c].clone())
            );
        }

        // Idle memory, the app started directly (no WebDriver), 12 s after its start; rounds
        // go through every configuration in turn, the median of each figure is shown.
        let mib = |kb: u64| kb as f64 / 1024.0;
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); n];
        for round in 0..rounds {
            for (c, (key, label, env)) in configurations.iter().enumerate() {
                let mut env: Vec<(&str, String)> =
                    env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
                env.push(("RECORDS_REPLICA", replica.display().to_string()));
                let mut child = desktop.spawn(&binary, &env);
                tokio::time::sleep(Duration::from_secs(12)).await;
                let mut sample = Sample::new();
                let mut kinds: std::collections::BTreeMap<&str, u64> = Default::default();
                for (pid, name) in app_processes(&binary) {
                    let name = if name.starts_with("WebKit") {
                        name
                    } else {
                        "app".to_owned()
                    };
                    let entry = sample.entry(name.clone()).or_default();
                    entry.0 += kb(pid, "status", "VmRSS:");
                    entry.1 += kb(pid, "smaps_rollup", "Pss:");
                    entry.2 += kb(pid, "smaps_rollup", "Pss_Anon:");
                    if round + 1 == rounds
                        && (smaps_for_all || ["defaults", "tuned"].contains(key))
                    {
                        let mappings = smaps(pid);
                        for (what, kb) in &mappings {
                            *kinds.entry(kind(what)).or_default() += kb;
                        }
                        let top: Vec<String> = mappings
                            .iter()
                            .take(10)
                            .map(|(what, kb)| format!("{what} {:.1}", mib(*kb)))
                            .collect();
                        println!(
                            "  where it goes, {label}, {name} (PSS MiB): {}",
                            top.join(", ")
                        );
                    }
                }
                if !kinds.is_empty() {
                    let mut kinds: Vec<_> = kinds.into_iter().collect();
                    kinds.sort_by_key(|(_, kb)| std::cmp::Reverse(*kb));
                    let kinds: Vec<String> = kinds
                        .iter()
                        .map(|(what, kb)| format!("{what} {:.0}", mib(*kb)))
                        .collect();
                    println!(
                        "where the memory goes, {label}, all processes (PSS MiB): {}",
                        kinds.join(", ")
                    );
                }
                samples[c].push(sample);
                let _ = child.kill();
                let _ = child.wait();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        let mut table = Vec::new();
        for (c, (_, label, _)) in configurations.iter().enumerate() {
            let names: std::collections::BTreeSet<&String> =
                samples[c].iter().flat_map(|s| s.keys()).collect();
            let figure = |name: Option<&String>, pick: fn(&(u64, u64, u64)) -> u64| {
                let mut values: Vec<f64> = samples[c]
                    .iter()
                    .map(|s| {
                        mib(s
                            .iter()
                            .filter(|(n, _)| name.is_none_or(|name| *n == name))
                            .map(|(_, v)| pick(v))
                            .sum())
                    })
                    .collect();
                median(&mut values)
            };
            let per_process: Vec<String> = names
                .iter()
                .map(|name| format!("{name} {:.0}", figure(Some(name), |v| v.1)))
                .collect();
            let pss = figure(None, |v| v.1);
            println!(
                "idle memory with {patients} patients, {label}: PSS {pss:.0} MiB ({}), private {:.0} MiB, RSS {:.0} MiB, median of {rounds} (target < 150 MB)",
                per_process.join(", "),
                figure(None, |v| v.2),
                figure(None, |v| v.0),
            );
            table.push(format!(
                "| {label} | {pss:.0} | {} | {:.0} | {:.0} | {:.0} / {:.0} | {:.0} |",
                per_process.join(" / "),
                figure(None, |v| v.2),
                median(&mut times[c].clone()),
                if gaps[c].is_empty() { f64::NAN } else { quantile(&mut gaps[c], 0.5) },
                if gaps[c].is_empty() { f64::NAN } else { quantile(&mut gaps[c], 0.95) },
                median(&mut after_scroll[c].clone()),
            ));
        }
        println!("\n| configuration | PSS MiB | per process (PSS MiB) | private MiB | cold start ms | scroll frame median / p95 ms | PSS after scrolling MiB |");
        println!("|---|---|---|---|---|---|---|");
        for row in table {
            println!("{row}");
        }
        println!();

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
