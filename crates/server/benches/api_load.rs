//! Load benchmark: authenticated single-patient reads and document uploads per second, with
//! p50/p99 latency, against the real `records-server` binary on SQLite and on PostgreSQL.
//!
//! The server runs as its own process; this process is the load generator (keep-alive HTTP/1
//! connections, one task each), on the same machine. Each row is run `BENCH_RUNS` times
//! (default 3) for `BENCH_SECONDS` (default 5) and the median run is reported. Run with
//! `cargo bench -p server --bench api_load` (also `BENCH_CONNECTIONS`, default 32).

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

const SECRET: &str = "benchmark secret that is at least thirty-two bytes";
const PASSWORD: &str = "benchmark password";

struct Server {
    child: Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn start(database_url: &str) -> Server {
    let bin = env!("CARGO_BIN_EXE_records-server");
    let dir = std::env::temp_dir().join(format!("records-bench-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = if database_url.is_empty() {
        format!("sqlite:{}", dir.join("records.db").display())
    } else {
        database_url.to_owned()
    };
    let mut admin = Command::new(bin)
        .args([
            "create-admin",
            "--email",
            "admin@bench.example",
            "--name",
            "Admin",
        ])
        .env("RECORDS_DATABASE_URL", &url)
        .env("RECORDS_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("create-admin");
    {
        use std::io::Write as _;
        let mut stdin = admin.stdin.take().expect("stdin");
        writeln!(stdin, "{PASSWORD}").expect("password");
    }
    assert!(admin.wait().expect("wait").success(), "create-admin failed");
    let addr = free_port();
    let child = Command::new(bin)
        .args(["serve", "--bind", &addr.to_string()])
        .env("RECORDS_DATABASE_URL", &url)
        .env("RECORDS_JWT_SECRET", SECRET)
        .env("RECORDS_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    let server = Server { child, addr, dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut req = client.request(method, url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request");
    assert!(
        res.status().is_success(),
        "setup call failed: {}",
        res.status()
    );
    res.json().await.unwrap_or(Value::Null)
}

/// Latencies of one run, and how long it took.
struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
}

/// Runs `scenario` `runs` times and reports the run with the median throughput.
async fn median<F, Fut>(label: &str, runs: usize, scenario: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Run>,
{
    let mut all = Vec::new();
    for _ in 0..runs {
        all.push(scenario().await);
    }
    // Rates in the order they ran: a trend shows a server that slows as it fills up.
    let rates: Vec<String> = all.iter().map(|r| format!("{:.0}", rate(r))).collect();
    all.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    let mid = all.swap_remove(runs / 2);
    report(label, mid, &rates.join(", "));
}

fn rate(run: &Run) -> f64 {
    run.latencies.len() as f64 / run.elapsed.as_secs_f64()
}

fn report(label: &str, mut run: Run, all_rates: &str) {
    run.latencies.sort_unstable();
    let n = run.latencies.len();
    let pct = |p: f64| run.latencies[((n as f64 * p) as usize).min(n - 1)];
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{label:<40} {:>7.0} req/s  p50 {:>5.2} ms  p99 {:>6.2} ms  ({} errors; runs: {all_rates} req/s)",
            rate(&run),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            run.errors,
        );
    }
}

/// `connections` keep-alive connections, each sending `make()` requests back to back for
/// `seconds`.
async fn load(
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
    make: impl Fn() -> Request<Full<Bytes>> + Clone + Send + 'static,
) -> Run {
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let (mut latencies, mut errors) = (Vec::new(), 0);
            while Instant::now() < until {
                let t = Instant::now();
                let res = sender.send_request(make()).await.expect("send");
                let ok = res.status().is_success();
                let _ = res.into_body().collect().await;
                if ok {
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut run = Run {
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
        errors: 0,
    };
    for t in tasks {
        let (l, e) = t.await.expect("task");
        run.latencies.extend(l);
        run.errors += e;
    }
    run.elapsed = start.elapsed();
    run
}

async fn bench(label: &str, database_url: &str, seconds: u64, connections: usize, runs: usize) {
    let server = start(database_url);
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let post = reqwest::Method::POST;
    let admin = server::testing::access_token(&base, "admin@bench.example", PASSWORD).await;
    call(&client, post.clone(), format!("{base}/api/v1/users"), Some(&admin),
        json!({"email": "dee@bench.example", "name": "Dee", "type": "dietician", "password": PASSWORD})).await;
    let token = server::testing::access_token(&base, "dee@bench.example", PASSWORD).await;
    let mut patients = Vec::new();
    for i in 0..100 {
        let p = call(&client, post.clone(), format!("{base}/api/v1/patients"), Some(&token),
            json!({"name": format!("Patient {i}"), "email": format!("p{i}@bench.example"),
                   "medical_history": "Type 2 diabetes, managed with diet.", "dietary_preferences": "vegetarian"})).await;
        patients.push(p["id"].as_str().expect("id").to_owned());
    }

    let auth = format!("Bearer {token}");
    let host = server.addr.to_string();
    let probe = {
        let host = host.clone();
        move || {
            Request::get("/healthz")
                .header("host", &host)
                .body(Full::new(Bytes::new()))
                .expect("request")
        }
    };
    median(
        &format!("{label}: GET /healthz (no auth, no db)"),
        runs,
        || load(server.addr, connections, seconds, probe.clone()),
    )
    .await;
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let read = {
        let (auth, host, patients, counter) = (
            auth.clone(),
            host.clone(),
            patients.clone(),
            counter.clone(),
        );
        move || {
            let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % patients.len();
            Request::get(format!("/api/v1/patients/{}", patients[i]))
                .header("host", &host)
                .header("authorization", &auth)
                .body(Full::new(Bytes::new()))
                .expect("request")
        }
    };
    median(&format!("{label}: read one patient"), runs, || {
        load(server.addr, connections, seconds, read.clone())
    })
    .await;

    let text = "Patient reports improved energy; fibre intake up. ".repeat(40); // ~2 KB
    let upload = {
        let (auth, host, patient) = (auth.clone(), host.clone(), patients[0].clone());
        let body = Bytes::from(json!({"type": "progress note", "date": "2026-11-01", "title": "Follow-up", "content": text}).to_string());
        move || {
            Request::post(format!("/api/v1/patients/{patient}/documents"))
                .header("host", &host)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .expect("request")
        }
    };
    median(&format!("{label}: upload 2 KB document"), runs, || {
        load(server.addr, connections.min(16), seconds, upload.clone())
    })
    .await;
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let connections: usize = std::env::var("BENCH_CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        bench("sqlite", "", seconds, connections, runs).await;
        let admin_url = std::env::var("RECORDS_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("records_bench_{}", uuid::Uuid::now_v7().simple());
        sqlx::any::install_default_drivers();
        match sqlx::AnyPool::connect(&admin_url).await {
            Ok(pool) => {
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await
                    .expect("create database");
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(b, _)| b)
                    .unwrap_or(&admin_url);
                bench(
                    "postgres",
                    &format!("{base}/{name}"),
                    seconds,
                    connections,
                    runs,
                )
                .await;
                let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&pool)
                    .await;
            }
            #[allow(clippy::print_stdout)]
            Err(e) => println!("postgres: skipped, {admin_url} unreachable: {e}"),
        }
    });
}
