//! The `records` binary as a user runs it: a real child process against the real server.

use serde_json::Value;
use server::config::{Config, Secret};
use server::db::Db;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use uuid::Uuid;

const PASSWORD: &str = "dietician password";

struct Platform {
    addr: std::net::SocketAddr,
    db: Db,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Platform {
    async fn start(url: &str, addr: &str) -> Self {
        let config = Config::new(
            url.to_owned(),
            Secret::new(b"cli test secret that is long enough".to_vec()),
        );
        let state = server::AppState::new(config).await.expect("server");
        let db = state.db.clone();
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(server::serve(state, listener, async {
            let _ = rx.await;
        }));
        Self {
            addr,
            db,
            url: url.to_owned(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    async fn patients(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM patients")
            .fetch_one(self.db.pool())
            .await
            .expect("count")
    }
}

fn records(replica: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_records"))
        .arg("--replica")
        .arg(replica)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("records runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("records finishes")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "records failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn setup() -> (PathBuf, Platform, PathBuf) {
    let dir = std::env::temp_dir().join(format!("records-cli-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let platform = Platform::start(
        &format!("sqlite:{}", dir.join("server.db").display()),
        "127.0.0.1:0",
    )
    .await;
    server::auth::create_account(
        &platform.db,
        domain::UserType::Dietician,
        "dee@example.org",
        "Dee",
        PASSWORD,
        Default::default(),
    )
    .await
    .expect("user");
    let replica = dir.join("laptop.db");
    let login = records(
        &replica,
        &[
            "login",
            "--server",
            &format!("http://{}", platform.addr),
            "--email",
            "dee@example.org",
        ],
        Some(PASSWORD),
    );
    ok(&login);
    (dir, platform, replica)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_offline_queue_up_and_go_out_when_the_server_is_back() {
    let (dir, mut platform, replica) = setup().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let session = dir.join("laptop.db.session.json");
        let mode = std::fs::metadata(&session)
            .expect("session file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let id = ok(&records(
        &replica,
        &[
            "patients",
            "add",
            "--name",
            "Ana Lima",
            "--email",
            "ana@example.org",
            "--dietary-preferences",
            "vegetarian",
        ],
        None,
    ));
    let id = id.trim().to_owned();
    let synced: Value =
        serde_json::from_str(&ok(&records(&replica, &["sync", "--json"], None))).expect("json");
    assert_eq!(synced["pushed"], 1);

    // The server goes away; edits still work and are counted.
    platform.stop().await;
    ok(&records(
        &replica,
        &["patients", "edit", &id, "--contact-details", "0400 000 000"],
        None,
    ));
    ok(&records(
        &replica,
        &[
            "patients",
            "add",
            "--name",
            "Bea Souza",
            "--email",
            "bea@example.org",
        ],
        None,
    ));
    let offline = records(&replica, &["sync"], None);
    assert_eq!(
        offline.status.code(),
        Some(2),
        "offline is its own exit code"
    );
    assert!(
        String::from_utf8_lossy(&offline.stderr).contains("2 edit(s) stay queued"),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    let status: Value =
        serde_json::from_str(&ok(&records(&replica, &["status", "--json"], None))).expect("json");
    assert_eq!(status["pending"], 2);

    // Back on the same address: the queue drains and the server has the rows.
    let platform = Platform::start(&platform.url, &platform.addr.to_string()).await;
    let synced: Value =
        serde_json::from_str(&ok(&records(&replica, &["sync", "--json"], None))).expect("json");
    assert_eq!(synced["pushed"], 2);
    assert_eq!(platform.patients().await, 2);
    let list: Value = serde_json::from_str(&ok(&records(
        &replica,
        &["patients", "list", "--json"],
        None,
    )))
    .expect("json");
    let names: Vec<&str> = list
        .as_array()
        .expect("rows")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Ana Lima", "Bea Souza"]);
    let ana = list
        .as_array()
        .expect("rows")
        .iter()
        .find(|p| p["id"] == id.as_str())
        .expect("ana");
    assert_eq!(ana["contact_details"], "0400 000 000");
    assert_eq!(ana["version"], 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_push_applies_every_edit_exactly_once_after_restart() {
    let (dir, platform, replica) = setup().await;
    let n = 300;
    for i in 0..n {
        ok(&records(
            &replica,
            &[
                "patients",
                "add",
                "--name",
                &format!("Patient {i:03}"),
                "--email",
                &format!("p{i}@example.org"),
            ],
            None,
        ));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_records"))
        .arg("--replica")
        .arg(&replica)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sync starts");
    // Kill it once the server has started applying the push.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while platform.patients().await == 0 {
        assert!(std::time::Instant::now() < deadline, "the push never began");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let applied_before_restart = platform.patients().await;
    assert!(
        applied_before_restart < n,
        "killed mid-push ({applied_before_restart} of {n} were in)"
    );

    let synced: Value =
        serde_json::from_str(&ok(&records(&replica, &["sync", "--json"], None))).expect("json");
    assert_eq!(synced["rejected"], 0);
    assert_eq!(platform.patients().await, n, "every edit exactly once");
    let distinct: i64 = sqlx::query_scalar("SELECT count(DISTINCT email) FROM patients")
        .fetch_one(platform.db.pool())
        .await
        .expect("count");
    assert_eq!(distinct, n);
    let status: Value =
        serde_json::from_str(&ok(&records(&replica, &["status", "--json"], None))).expect("json");
    assert_eq!(status["pending"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}
