//! Sync benchmark, with the platform on SQLite and then on PostgreSQL (when one answers at
//! `RECORDS_TEST_POSTGRES_URL`, default the local one):
//! - initial sync of 10,000 patients and 100,000 documents (~2 KB of text each) into an empty
//!   replica, through the real `records` binary (its own process, so its peak memory is its
//!   own), twice (two laptops);
//! - local full-text search over those documents;
//! - 1,000 edits queued offline, then pushed by one `records sync`;
//! - propagation: an edit made on one replica, pushed at once, until another replica that
//!   syncs back to back sees it;
//! - live propagation: the same, to a replica that is idle and syncs only when the platform's
//!   live stream nudges it (50 edits, p50 and p95); on PostgreSQL with the stream held on a
//!   second instance of the platform, so the nudge crosses instances through LISTEN/NOTIFY;
//! - 200 idle clients holding the stream: what they add to the (in-process) platform's memory
//!   and CPU over 20 s.
//!
//! `cargo bench -p cli --bench sync_load`; `SYNC_PATIENTS`, `SYNC_DOCUMENTS`, `SYNC_EDITS`,
//! `SYNC_BACKENDS=sqlite|postgres|sqlite,postgres` scale and choose. `SYNC_BASELINE_RECORDS`,
//! the path of an earlier build's `records` binary, adds its initial syncs before this
//! build's, for a before-and-after in one run.

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

/// The `records` binary this bench measures.
const RECORDS: &str = env!("CARGO_BIN_EXE_records");

/// Runs `records` (no session bus: the session goes to the file store) and returns the wall
/// time and the child's peak resident memory in MiB.
fn timed(replica: &Path, args: &[&str], stdin: Option<&str>) -> (Duration, f64) {
    timed_with(RECORDS, replica, args, stdin)
}

/// [`timed`], with the `records` binary at `binary`.
fn timed_with(binary: &str, replica: &Path, args: &[&str], stdin: Option<&str>) -> (Duration, f64) {
    let start = Instant::now();
    let mut child = Command::new(binary)
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
        run(&rt, &database, backend);
    }
}

#[allow(clippy::print_stdout)]
fn run(rt: &tokio::runtime::Runtime, database: &ScratchDatabase, backend: Backend) {
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
    // An earlier build's `records`, when given, syncs a replica of its own before each of
    // this build's: before and after, in one run, on the same platform.
    let baseline = std::env::var("SYNC_BASELINE_RECORDS").ok();
    for (n, replica) in laptops.iter().enumerate() {
        let earlier = baseline
            .as_deref()
            .map(|b| (b, database.dir.join(format!("baseline-{n}.db"))));
        for (binary, replica, label) in earlier
            .iter()
            .map(|(b, r)| (*b, r.as_path(), "baseline build"))
            .chain([(RECORDS, replica.as_path(), "this build")])
        {
            timed_with(
                binary,
                replica,
                &["login", "--server", &platform.base, "--email", EMAIL],
                Some(PASSWORD),
            );
            let (took, peak) = timed_with(binary, replica, &["sync"], None);
            println!(
                "initial sync ({label}): {rows} rows in {:.2} s ({:.0} rows/s), client peak memory {peak:.0} MiB",
                took.as_secs_f64(),
                rows as f64 / took.as_secs_f64()
            );
        }
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

    // The reader's stream on another instance when the database lets several share it.
    let other = (backend == Backend::Postgres)
        .then(|| rt.block_on(Platform::start(database.config(), "127.0.0.1:0")));
    let reader_base = other.as_ref().map(|p| p.base.clone());
    rt.block_on(live_propagation(laptop, desk, reader_base.as_deref()));
    // Last: streams left open while the rest ran would each walk the feed at every commit.
    rt.block_on(idle_streams(laptop, &platform.base));
    drop(other);
}

/// The writer's and the reader's replicas with their remotes (the reader's at `reader_base`,
/// else where it signed in), the reader caught up, and the patient the edits change.
async fn writer_and_reader(
    writer: &Path,
    reader: &Path,
    reader_base: Option<&str>,
) -> (Replica, Remote, Replica, Remote, Uuid) {
    let (ws, rs) = (session_of(writer), session_of(reader));
    let a_remote = Remote::new(&ws.server, &ws.access_token);
    let b_remote = Remote::new(reader_base.unwrap_or(&rs.server), &rs.access_token);
    let (a, b) = (open(writer).await, open(reader).await);
    sync(&b, &b_remote).await.expect("catch up");
    let id: Uuid = a.rows(SyncTable::Patients).await.expect("rows")[0]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    (a, a_remote, b, b_remote, id)
}

/// `rounds` edits of patient `id` on `a`, each after a random pause (ms) and pushed at once,
/// timed until `seen` (what the reader holds, and since when) shows it.
async fn timed_edits(
    a: &Replica,
    a_remote: &Remote,
    id: Uuid,
    rounds: usize,
    pause: std::ops::Range<u64>,
    tag: &str,
    seen: &mut tokio::sync::watch::Receiver<(Value, Instant)>,
) -> Vec<Duration> {
    let mut delays = Vec::with_capacity(rounds);
    for k in 0..rounds {
        tokio::time::sleep(Duration::from_millis(
            rand::thread_rng().gen_range(pause.clone()),
        ))
        .await;
        let value = Value::String(format!("{tag} {k}"));
        let t0 = Instant::now();
        a.update(
            SyncTable::Patients,
            id,
            fields(json!({ "dietary_preferences": value })),
        )
        .await
        .expect("edit");
        sync(a, a_remote).await.expect("writer sync");
        let seen_at = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let (held, at) = seen.borrow_and_update().clone();
                if held == value {
                    return at;
                }
                seen.changed().await.expect("reader running");
            }
        })
        .await
        .expect("the edit reached the other replica");
        delays.push(seen_at - t0);
    }
    delays
}

/// (median, 95th percentile), sorted.
fn median_p95(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let n = samples.len();
    (samples[n / 2], samples[(n * 95 / 100).min(n - 1)])
}

fn session_of(replica: &Path) -> sync_core::Session {
    keystore::Keystore::file_only(replica)
        .load()
        .expect("session")
        .expect("signed in")
}

/// An edit on `writer`, pushed at once, until `reader` holds it, `reader` idle but for the
/// syncs the platform's live stream wakes (held at `reader_base`, else where it signed in).
#[allow(clippy::print_stdout)]
async fn live_propagation(writer: &Path, reader: &Path, reader_base: Option<&str>) {
    let (a, a_remote, b, b_remote, id) = writer_and_reader(writer, reader, reader_base).await;
    let nudge = std::sync::Arc::new(tokio::sync::Notify::new());
    let (seen_tx, mut seen_rx) = tokio::sync::watch::channel((Value::Null, Instant::now()));
    let follower = {
        let (remote, nudge) = (b_remote.clone(), nudge.clone());
        let cursor = b.state("cursor").await.expect("cursor");
        tokio::spawn(async move {
            let nudged = move || nudge.notify_one();
            let cursor = cursor.expect("a cursor after the first sync");
            let _ = sync_core::live::follow(&remote, &cursor, &nudged).await;
        })
    };
    let reader_task = tokio::spawn(async move {
        loop {
            nudge.notified().await;
            sync(&b, &b_remote).await.expect("reader sync");
            let row = b.row(SyncTable::Patients, id).await.expect("row");
            let value = row.map_or(Value::Null, |r| r["dietary_preferences"].clone());
            seen_tx.send_replace((value, Instant::now()));
        }
    });
    let rounds = 50;
    // Both idle between edits.
    let mut delays = timed_edits(&a, &a_remote, id, rounds, 50..150, "live", &mut seen_rx).await;
    follower.abort();
    reader_task.abort();
    let (median, p95) = median_p95(&mut delays);
    let across = if reader_base.is_some() {
        ", the reader's stream on a second instance"
    } else {
        ""
    };
    println!(
        "live propagation (edit -> push -> nudge -> pull into the idle encrypted replica{across}): p50 {:.1} ms, p95 {:.1} ms ({rounds} edits)",
        millis(median),
        millis(p95)
    );
}

/// This process's resident memory (KiB) and CPU time so far (user + system).
fn own_usage() -> (u64, Duration) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // `after` starts at field 3 (the state): utime (14) and stime (15) are its 12th and 13th.
    let field = |n: usize| {
        after
            .split_whitespace()
            .nth(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = field(14) + field(15);
    (rss, Duration::from_millis(ticks * 10))
}

/// 200 clients holding the live stream from a current cursor, with nothing changing: what
/// they cost, heartbeats included. The platform runs in this process, so the figures include
/// the clients' side of the 200 connections too (an upper bound for the server's); and the
/// memory this process freed earlier is reused first, so the resident growth is a floor.
#[allow(clippy::print_stdout)]
async fn idle_streams(replica: &Path, base: &str) {
    let token = server::testing::access_token(base, EMAIL, PASSWORD).await;
    let cursor = open(replica).await.state("cursor").await.expect("cursor");
    let clients = 200;
    let (rss0, cpu0) = own_usage();
    let mut held = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (remote, cursor) = (Remote::new(base, &token), cursor.clone());
        held.push(tokio::spawn(async move {
            let cursor = cursor.expect("a cursor after the first sync");
            let _ = sync_core::live::follow(&remote, &cursor, &|| {}).await;
        }));
    }
    // Settle (each stream walks the feed once as it opens), then measure idle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (rss1, cpu1) = own_usage();
    let window = Duration::from_secs(20);
    tokio::time::sleep(window).await;
    let (_, cpu2) = own_usage();
    for h in &held {
        h.abort();
    }
    println!(
        "{clients} idle clients holding the live stream: +{:.1} MiB resident ({:.0} KiB each; opening them took {:.2} s CPU), {:.2} % of one core while idle over {} s",
        (rss1.saturating_sub(rss0)) as f64 / 1024.0,
        (rss1.saturating_sub(rss0)) as f64 / clients as f64,
        (cpu1 - cpu0).as_secs_f64(),
        (cpu2 - cpu1).as_secs_f64() / window.as_secs_f64() * 100.0,
        window.as_secs()
    );
}

/// An edit on `writer`, pushed at once, until `reader` (syncing back to back, as the app
/// does while a change is expected) holds it; plus what one sync with nothing new costs.
#[allow(clippy::print_stdout)]
async fn propagation(writer: &Path, reader: &Path) {
    let (a, a_remote, b, b_remote, id) = writer_and_reader(writer, reader, None).await;

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
    // A random phase against the reader's cycle.
    let mut delays = timed_edits(
        &a,
        &a_remote,
        id,
        rounds,
        20..120,
        "propagation",
        &mut seen_rx,
    )
    .await;
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
