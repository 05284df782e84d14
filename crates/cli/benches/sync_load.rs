//! Sync benchmark: initial sync of 10,000 patients and 100,000 documents into an empty
//! replica, and pushing 1,000 queued offline edits, through the real `records` binary (its
//! own process, so its peak memory is its own) against the platform on SQLite, in-process
//! on its own threads. Run with `cargo bench -p cli --bench sync_load`
//! (`SYNC_PATIENTS`, `SYNC_DOCUMENTS` to scale).

use server::config::{Config, Secret};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "benchmark password";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `records` and returns (wall time, peak resident memory in MiB) of the child.
fn timed(replica: &Path, args: &[&str], stdin: Option<&str>) -> (Duration, f64) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_records"))
        .arg("--replica")
        .arg(replica)
        .args(args)
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
    let patients = env_or("SYNC_PATIENTS", 10_000);
    let documents = env_or("SYNC_DOCUMENTS", 100_000);
    let dir = std::env::temp_dir().join(format!(
        "records-sync-bench-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (addr, dietician) = server_rt.block_on(async {
        let config = Config::new(
            format!("sqlite:{}", dir.join("server.db").display()),
            Secret::new(b"sync bench secret, long enough!!".to_vec()),
        );
        let state = server::AppState::new(config).await.expect("server");
        let user = server::auth::create_account(
            &state.db,
            domain::UserType::Dietician,
            "dee@bench.example",
            "Dee",
            PASSWORD,
            Default::default(),
        )
        .await
        .expect("user");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seed = Instant::now();
        seed_rows(&state.db, user.id, patients, documents).await;
        println!(
            "seeded {patients} patients and {documents} documents (~2 KB text each) in {:.1} s",
            seed.elapsed().as_secs_f64()
        );
        tokio::spawn(server::serve(state, listener, std::future::pending()));
        (addr, user.id)
    });
    let _ = dietician;
    let replica = dir.join("laptop.db");
    timed(
        &replica,
        &[
            "login",
            "--server",
            &format!("http://{addr}"),
            "--email",
            "dee@bench.example",
        ],
        Some(PASSWORD),
    );
    let (took, peak) = timed(&replica, &["sync"], None);
    let rows = patients + documents;
    println!(
        "initial sync: {rows} rows in {:.2} s ({:.0} rows/s), client peak memory {peak:.0} MiB",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64()
    );

    // Local full-text search over the synced documents' titles.
    server_rt.block_on(async {
        let local = sync_core::Replica::open(&replica).await.expect("replica");
        let mut times = Vec::new();
        for i in 0..21 {
            let t = Instant::now();
            let hits = local
                .search_documents(&format!("note {}", 4_000 + i * 37), 20)
                .await
                .expect("search");
            times.push(t.elapsed());
            assert!(!hits.is_empty());
        }
        times.sort();
        println!(
            "local search over {documents} documents: median {:.2} ms, max {:.2} ms (21 queries)",
            times[10].as_secs_f64() * 1e3,
            times[20].as_secs_f64() * 1e3
        );
    });

    // 1,000 edits made offline (through sync-core, as the app makes them), then one sync.
    let edits = env_or("SYNC_EDITS", 1_000);
    let queue = Instant::now();
    server_rt.block_on(async {
        let local = sync_core::Replica::open(&replica).await.expect("replica");
        let rows = local
            .rows(domain::dto::SyncTable::Patients)
            .await
            .expect("rows");
        for (i, p) in rows.iter().cycle().take(edits).enumerate() {
            let id: uuid::Uuid = p["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
            let mut fields = serde_json::Map::new();
            fields.insert(
                "dietary_preferences".into(),
                serde_json::Value::String(format!("plan {i}")),
            );
            local
                .update(domain::dto::SyncTable::Patients, id, fields)
                .await
                .expect("edit");
        }
    });
    println!(
        "queued {edits} offline edits in {:.2} s",
        queue.elapsed().as_secs_f64()
    );
    let (took, peak) = timed(&replica, &["sync"], None);
    println!("pushed {edits} offline edits (and pulled them back) in {:.2} s, client peak memory {peak:.0} MiB", took.as_secs_f64());
    std::fs::remove_dir_all(&dir).ok();
}

/// Inserts the rows straight into the platform database, in large transactions.
async fn seed_rows(db: &server::db::Db, owner: uuid::Uuid, patients: usize, documents: usize) {
    let text = "Patient reports improved energy; fibre intake up. ".repeat(40);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut ids = Vec::with_capacity(patients);
    let mut tx = db.writer().begin().await.expect("begin");
    for i in 0..patients {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query("INSERT INTO patients (id, user_id, name, email, dietary_preferences, created_at, updated_at) VALUES ($1, $2, $3, $4, 'vegetarian', $5, $5)")
            .bind(&id).bind(owner.to_string()).bind(format!("Patient {i:05}")).bind(format!("p{i}@bench.example")).bind(&now)
            .execute(&mut *tx).await.expect("patient");
        ids.push(id);
    }
    for i in 0..documents {
        sqlx::query("INSERT INTO healthcare_documents (id, patient_id, type, date, title, content, mime_type, size_bytes, content_hash, source, created_at, updated_at) \
                     VALUES ($1, $2, 'progress note', '2026-11-01', $3, $4, 'text/plain', $5, 'hash', 'Dietician', $6, $6)")
            .bind(uuid::Uuid::now_v7().to_string()).bind(&ids[i % ids.len()]).bind(format!("Note {i}")).bind(&text)
            .bind(text.len() as i64).bind(&now)
            .execute(&mut *tx).await.expect("document");
    }
    tx.commit().await.expect("commit");
}
