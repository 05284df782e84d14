//! Sync benchmark, with the platform on SQLite and then on PostgreSQL (when one answers at
//! `RECORDS_TEST_POSTGRES_URL`, default the local one):
//! - initial sync of 10,000 patients and 100,000 documents (~2 KB of text each) into an empty
//!   replica, through the real `records` binary (its own process, so its peak memory is its
//!   own), twice (two laptops);
//! - local full-text search over those documents;
//! - 1,000 edits queued offline, then pushed by one `records sync`;
//! - propagation: an edit made on one replica, pushed at once, until another replica that
//!   syncs back to back sees it.
//!
//! `cargo bench -p cli --bench sync_load`; `SYNC_PATIENTS`, `SYNC_DOCUMENTS`, `SYNC_EDITS`,
//! `SYNC_BACKENDS=sqlite|postgres|sqlite,postgres` scale and choose.

use domain::dto::SyncTable;
use rand::Rng as _;
use serde_json::{json, Map, Value};
use server::testing::{Backend, Platform, ScratchDatabase};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use sync_core::{sync, Remote, Replica, TokenStore as _};
use uuid::Uuid;

const PASSWORD: &str = "benchmark password";
const EMAIL: &str = "dee@bench.example";

/// A replica the `records` binary made, opened with its key.
async fn open(path: &Path) -> Replica {
    let key = keystore::Keystore::for_replica(path)
        .replica_key()
        .expect("replica key");
    Replica::open_encrypted(path, &key).await.expect("replica")
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Sorts and returns (median, 90th percentile).
fn median_p90(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let n = samples.len();
    (samples[n / 2], samples[(n * 9 / 10).min(n - 1)])
}

/// Runs `records` (no session bus: the session goes to the file store) and returns the wall
/// time and the child's peak resident memory in MiB.
fn timed(replica: &Path, args: &[&str], stdin: Option<&str>) -> (Duration, f64) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_records"))
        .arg("--replica")
        .arg(replica)
        .args(args)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("records runs");
    if let Some(input) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("stdin");
    }
    drop(child.stdin.take());
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "records {args:?} failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (start.elapsed(), peak_kb as f64 / 1024.0)
}

#[allow(clippy::print_stdout)]
fn main() {
    let backends = std::env::var("SYNC_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for name in backends.split(',') {
        let backend = match name.trim() {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("SYNC_BACKENDS: unknown backend {other}"),
        };
        let Some(database) = rt.block_on(ScratchDatabase::new(backend)) else {
            continue;
        };
        println!("== platform on {name}");
        run(&rt, &database);
    }
}

#[allow(clippy::print_stdout)]
fn run(rt: &tokio::runtime::Runtime, database: &ScratchDatabase) {
    let patients = env_or("SYNC_PATIENTS", 10_000);
    let documents = env_or("SYNC_DOCUMENTS", 100_000);
    let platform = rt.block_on(async {
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
        let seed = Instant::now();
        server::testing::seed_bulk(&platform.db, user.id, patients, documents).await;
        println!(
            "seeded {patients} patients and {documents} documents (~2 KB text each) in {:.1} s",
            seed.elapsed().as_secs_f64()
        );
        platform
    });

    let rows = patients + documents;
    let laptops = [database.dir.join("laptop.db"), database.dir.join("desk.db")];
    for replica in &laptops {
        timed(
            replica,
            &["login", "--server", &platform.base, "--email", EMAIL],
            Some(PASSWORD),
        );
        let (took, peak) = timed(replica, &["sync"], None);
        println!(
            "initial sync: {rows} rows in {:.2} s ({:.0} rows/s), client peak memory {peak:.0} MiB",
            took.as_secs_f64(),
            rows as f64 / took.as_secs_f64()
        );
    }
    let [laptop, desk] = &laptops;

    rt.block_on(async {
        let local = open(laptop).await;
        let mut times = Vec::new();
        for i in 0..21 {
            let t = Instant::now();
            let hits = local
                .search_documents(&format!("note {}", (i * 4_801 + 13) % documents), 20)
                .await
                .expect("search");
            times.push(t.elapsed());
            assert!(!hits.is_empty());
        }
        let (median, _) = median_p90(&mut times);
        println!(
            "local search over {documents} documents: median {:.2} ms, max {:.2} ms (21 queries)",
            millis(median),
            millis(times[20])
        );
    });

    // Edits made offline through sync-core, as the app makes them, then one `records sync`.
    let edits = env_or("SYNC_EDITS", 1_000);
    let queue = Instant::now();
    rt.block_on(async {
        let local = open(laptop).await;
        let rows = local.rows(SyncTable::Patients).await.expect("rows");
        for (i, p) in rows.iter().cycle().take(edits).enumerate() {
            let id: Uuid = p["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
            local
                .update(
                    SyncTable::Patients,
                    id,
                    fields(json!({"dietary_preferences": format!("plan {i}")})),
                )
                .await
                .expect("edit");
        }
    });
    println!(
        "queued {edits} offline edits in {:.2} s ({:.2} ms each)",
        queue.elapsed().as_secs_f64(),
        millis(queue.elapsed()) / edits as f64
    );
    let (took, peak) = timed(laptop, &["sync"], None);
    println!(
        "pushed {edits} offline edits (and pulled them back) in {:.2} s, client peak memory {peak:.0} MiB",
        took.as_secs_f64()
    );

    rt.block_on(propagation(laptop, desk));
}

/// An edit on `writer`, pushed at once, until `reader` (syncing back to back, as the app
/// does while a change is expected) holds it; plus what one sync with nothing new costs.
#[allow(clippy::print_stdout)]
async fn propagation(writer: &Path, reader: &Path) {
    let remote = |replica: &Path| {
        let session = keystore::Keystore::file_only(replica)
            .load()
            .expect("session")
            .expect("signed in");
        Remote::new(&session.server, &session.access_token)
    };
    let (a, a_remote) = (open(writer).await, remote(writer));
    let (b, b_remote) = (open(reader).await, remote(reader));
    sync(&b, &b_remote).await.expect("catch up");
    let id: Uuid = a.rows(SyncTable::Patients).await.expect("rows")[0]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");

    let (seen_tx, mut seen_rx) = tokio::sync::watch::channel((Value::Null, Instant::now()));
    let watcher = tokio::spawn(async move {
        let mut idle = Vec::new();
        loop {
            let t = Instant::now();
            let summary = sync(&b, &b_remote).await.expect("reader sync");
            if summary.pulled == 0 && idle.len() < 10_000 {
                idle.push(t.elapsed());
            }
            let row = b.row(SyncTable::Patients, id).await.expect("row");
            let value = row.map_or(Value::Null, |r| r["dietary_preferences"].clone());
            seen_tx.send_if_modified(|(seen, at)| {
                let changed = *seen != value;
                if changed {
                    (*seen, *at) = (value, Instant::now());
                }
                changed
            });
            if seen_tx.is_closed() {
                return idle;
            }
        }
    });

    let rounds = 21;
    let mut delays = Vec::with_capacity(rounds);
    for k in 0..rounds {
        // A random phase against the reader's cycle.
        let pause = rand::thread_rng().gen_range(20..120);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let value = Value::String(format!("propagation {k}"));
        let t0 = Instant::now();
        a.update(
            SyncTable::Patients,
            id,
            fields(json!({ "dietary_preferences": value })),
        )
        .await
        .expect("edit");
        sync(&a, &a_remote).await.expect("writer sync");
        let seen_at = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let (seen, at) = seen_rx.borrow_and_update().clone();
                if seen == value {
                    return at;
                }
                seen_rx.changed().await.expect("reader running");
            }
        })
        .await
        .expect("the edit reached the other replica");
        delays.push(seen_at - t0);
    }
    drop(seen_rx);
    let mut idle = watcher.await.expect("reader");
    let (median, p90) = median_p90(&mut delays);
    println!(
        "propagation (edit -> push -> visible on a replica syncing back to back): median {:.1} ms, p90 {:.1} ms ({rounds} edits)",
        millis(median),
        millis(p90)
    );
    let (median, p90) = median_p90(&mut idle);
    println!(
        "a sync with nothing new (push nothing, pull an empty page): median {:.1} ms, p90 {:.1} ms",
        millis(median),
        millis(p90)
    );
}
