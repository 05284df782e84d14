//! Throwaway databases and a running platform, for the tests and benchmarks of this crate and
//! of the clients (sync-core, the CLI): the real server on a real TCP port, over a fresh
//! SQLite file or a fresh PostgreSQL database, removed again on drop.

use crate::config::{Config, JobSettings, Secret};
use crate::db::Db;
use crate::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The signing key test platforms use.
pub const TEST_SECRET: &str = "test secret that is at least thirty-two bytes long";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL that tests use: `RECORDS_TEST_POSTGRES_URL`, else the local one (trust
/// auth on the machines this project runs on).
pub fn postgres_admin_url() -> String {
    std::env::var("RECORDS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database for one test or benchmark run, plus a scratch directory (for replicas, logs).
/// Dropping it deletes both.
pub struct ScratchDatabase {
    pub url: String,
    pub dir: PathBuf,
    postgres: Option<(String, String)>,
}

impl ScratchDatabase {
    pub fn sqlite() -> Self {
        let dir = scratch_dir();
        Self {
            url: format!("sqlite:{}", dir.join("records.db").display()),
            dir,
            postgres: None,
        }
    }

    /// A fresh database in the test PostgreSQL. `None` when none answers outside CI (said
    /// loudly on stderr); under `CI=true` an unreachable PostgreSQL is a failure.
    pub async fn postgres() -> Option<Self> {
        let admin_url = postgres_admin_url();
        let admin = match Db::connect(&admin_url, 1).await {
            Ok(db) => db,
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("PostgreSQL at {admin_url} is unreachable under CI: {e:#}")
            }
            Err(e) => {
                eprintln!(
                    "SKIPPED: PostgreSQL at {admin_url} is unreachable ({e:#}); CI=true makes this fail"
                );
                return None;
            }
        };
        let name = format!("records_test_{}", Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(admin.pool())
            .await
            .expect("create a scratch database");
        admin.pool().close().await;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        Some(Self {
            url: format!("{base}/{name}"),
            dir: scratch_dir(),
            postgres: Some((admin_url.clone(), name)),
        })
    }

    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A configuration for a platform on this database, signed with [`TEST_SECRET`], with
    /// no background jobs (see [`with_jobs`]).
    pub fn config(&self) -> Config {
        let mut config = Config::new(
            self.url.clone(),
            Secret::new(TEST_SECRET.as_bytes().to_vec()),
        );
        config.jobs.workers = 0;
        config
    }
}

/// Background jobs on, at test speed: two workers polling every 50 ms, retries after 100 ms
/// growing to 1 s, three attempts, scheduled pulls hourly (tests ask for theirs).
pub fn with_jobs(config: &mut Config) {
    config.jobs = JobSettings {
        workers: 2,
        pull_interval: Duration::from_secs(3600),
        poll: Duration::from_millis(50),
        attempts: 3,
        backoff_first: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        lease: Duration::from_secs(5),
        pull_overlap: Duration::from_secs(300),
    };
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("records-test-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // On a runtime of its own: the test's may be shutting down around us.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(admin) = Db::connect(&admin_url, 1).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(admin.pool())
                        .await;
                }
            });
        })
        .join();
    }
}

/// Signs in at the platform at `base` over HTTP and returns the access token.
pub async fn access_token(base: &str, email: &str, password: &str) -> String {
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    login["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token for {email}: {login}"))
        .to_owned()
}

/// The platform serving on a TCP port of this machine until stopped or dropped.
pub struct Platform {
    pub addr: SocketAddr,
    /// `http://ADDR`
    pub base: String,
    pub db: Db,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Platform {
    /// Starts the platform with `config` on `addr` (`127.0.0.1:0` for any free port; a
    /// stopped platform's address to bring it back where clients expect it).
    pub async fn start(config: Config, addr: &str) -> Self {
        let state = AppState::new(config).await.expect("platform state");
        let db = state.db.clone();
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(crate::serve(state, listener, async {
            let _ = rx.await;
        }));
        Self {
            addr,
            base: format!("http://{addr}"),
            db,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops serving and waits until the port is closed.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Platform {
    /// Stops serving at once, without letting requests finish: the closest an in-process
    /// server comes to a killed process (connections already accepted may still complete).
    pub async fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.stop.take();
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

enum Arg {
    Text(String),
    Int(i64),
}

/// `INSERT INTO table (columns) VALUES (...), (...)` for one batch of rows.
async fn insert_batch(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Arg>>,
) {
    let width = columns.len();
    let tuples: Vec<String> = (0..rows.len())
        .map(|r| {
            let slots: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", slots.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        tuples.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for arg in rows.into_iter().flatten() {
        query = match arg {
            Arg::Text(s) => query.bind(s),
            Arg::Int(i) => query.bind(i),
        };
    }
    query.execute(&mut **tx).await.expect("seed insert");
}

/// Benchmarks: `patients` patients of `owner` ("Patient 00042", p42@bench.example) and
/// `documents` text documents ("Note 123", ~2 KB of text each) spread over them, inserted
/// straight into the platform database: one transaction, 500 rows to a statement.
pub async fn seed_bulk(db: &Db, owner: Uuid, patients: usize, documents: usize) {
    use Arg::{Int, Text};
    const BATCH: usize = 500;
    let text = "Patient reports improved energy; fibre intake up. ".repeat(40);
    let now = domain::time::now();
    let ids: Vec<String> = (0..patients).map(|_| Uuid::now_v7().to_string()).collect();
    let mut tx = db.writer().begin().await.expect("begin");
    for (b, batch) in ids.chunks(BATCH).enumerate() {
        let rows = batch
            .iter()
            .enumerate()
            .map(|(j, id)| {
                let i = b * BATCH + j;
                vec![
                    Text(id.clone()),
                    Text(owner.to_string()),
                    Text(format!("Patient {i:05}")),
                    Text(format!("p{i}@bench.example")),
                    Text("vegetarian".into()),
                    Text(now.clone()),
                    Text(now.clone()),
                ]
            })
            .collect();
        let columns = [
            "id",
            "user_id",
            "name",
            "email",
            "dietary_preferences",
            "created_at",
            "updated_at",
        ];
        insert_batch(&mut tx, "patients", &columns, rows).await;
    }
    for start in (0..documents).step_by(BATCH) {
        let rows = (start..documents.min(start + BATCH))
            .map(|i| {
                vec![
                    Text(Uuid::now_v7().to_string()),
                    Text(ids[i % ids.len()].clone()),
                    Text("progress note".into()),
                    Text("2026-11-01".into()),
                    Text(format!("Note {i}")),
                    Text(text.clone()),
                    Text("text/plain".into()),
                    Int(text.len() as i64),
                    Text("hash".into()),
                    Text("Dietician".into()),
                    Text(now.clone()),
                    Text(now.clone()),
                ]
            })
            .collect();
        let columns = [
            "id",
            "patient_id",
            "type",
            "date",
            "title",
            "content",
            "mime_type",
            "size_bytes",
            "content_hash",
            "source",
            "created_at",
            "updated_at",
        ];
        insert_batch(&mut tx, "healthcare_documents", &columns, rows).await;
    }
    tx.commit().await.expect("commit");
}

/// A real SMTP server (aiosmtpd: `src/smtp_sink.py`) on a free port, writing each message it
/// accepts to a directory of its own; it stops with the test (its stdin closes).
pub struct SmtpSink {
    _child: tokio::process::Child,
    dir: PathBuf,
    port: u16,
}

impl SmtpSink {
    /// Starts it; `args` as `smtp_sink.py` takes them (`--refuse 550`, `--refuse-first 1`).
    pub async fn start(args: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("records-smtp-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("sink directory");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/smtp_sink.py");
        // Debian's python3 with its python3-aiosmtpd (scripts/ensure-packages), not whatever
        // `python3` comes first on PATH (a pyenv one lacks the package).
        let mut child = tokio::process::Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&dir)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP sink (is python3-aiosmtpd installed? scripts/ensure-packages)");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(stdout), &mut first)
            .await
            .expect("the sink's port");
        let port = first.trim().parse().unwrap_or_else(|_| {
            panic!("the SMTP sink did not start ({first:?}); is python3-aiosmtpd installed?")
        });
        Self {
            _child: child,
            dir,
            port,
        }
    }

    /// The platform's settings to send through it (`to`: `RECORDS_SMTP_TO`).
    pub fn settings(&self, to: &str) -> crate::config::SmtpSettings {
        crate::config::SmtpSettings::new(
            &format!("smtp://127.0.0.1:{}", self.port),
            "Records <records@practice.example>",
            to,
        )
        .expect("settings")
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)
            .expect("sink directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).expect("message")).expect("json"))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
