//! The `records` binary as a user runs it: a real child process against the real server.

use keystore::testing::SessionBus;
use serde_json::Value;
use server::testing::{Platform, ScratchDatabase};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PASSWORD: &str = "dietician password";

async fn patients(platform: &Platform) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM patients")
        .fetch_one(platform.db.pool())
        .await
        .expect("count")
}

/// `records --replica R` with a controlled session bus: none (so the session goes to the
/// file fallback), or the test's own bus with a Secret Service on it.
fn records_command(replica: &Path, bus: Option<&SessionBus>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_records"));
    cmd.arg("--replica").arg(replica);
    match bus {
        Some(bus) => cmd.env("DBUS_SESSION_BUS_ADDRESS", bus.address()),
        None => cmd.env_remove("DBUS_SESSION_BUS_ADDRESS"),
    };
    cmd
}

fn records(replica: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    records_on(None, replica, args, stdin)
}

fn records_on(
    bus: Option<&SessionBus>,
    replica: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut child = records_command(replica, bus)
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

/// The platform on `database` with one dietician, Dee.
async fn platform_with_dee(database: &ScratchDatabase) -> Platform {
    let platform = Platform::start(database.config(), "127.0.0.1:0").await;
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
    platform
}

/// The platform on `database` with one dietician, and a replica signed in as them.
async fn setup_on(
    database: ScratchDatabase,
    bus: Option<&SessionBus>,
) -> (ScratchDatabase, Platform, PathBuf) {
    let platform = platform_with_dee(&database).await;
    let replica = database.dir.join("laptop.db");
    let login = records_on(
        bus,
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
    (database, platform, replica)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_made_offline_queue_up_and_go_out_when_the_server_is_back() {
    let (database, mut platform, replica) = setup_on(ScratchDatabase::sqlite(), None).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let session = database.dir.join("laptop.db.session.json");
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
    assert_eq!(status["session_kept_in"], "file", "no session bus here");

    // Back on the same address: the queue drains and the server has the rows.
    let platform = Platform::start(database.config(), &platform.addr.to_string()).await;
    let synced: Value =
        serde_json::from_str(&ok(&records(&replica, &["sync", "--json"], None))).expect("json");
    assert_eq!(synced["pushed"], 2);
    assert_eq!(patients(&platform).await, 2);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_push_applies_every_edit_exactly_once_after_restart() {
    killed_mid_push(ScratchDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_push_applies_every_edit_exactly_once_after_restart_on_postgres() {
    if let Some(database) = ScratchDatabase::postgres().await {
        killed_mid_push(database).await;
    }
}

async fn killed_mid_push(database: ScratchDatabase) {
    let (_database, platform, replica) = setup_on(database, None).await;
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
    let mut child = records_command(&replica, None)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sync starts");
    // Kill it once the server has started applying the push.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while patients(&platform).await == 0 {
        assert!(std::time::Instant::now() < deadline, "the push never began");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let applied_before_restart = patients(&platform).await;
    assert!(
        applied_before_restart < n,
        "killed mid-push ({applied_before_restart} of {n} were in)"
    );

    let synced: Value =
        serde_json::from_str(&ok(&records(&replica, &["sync", "--json"], None))).expect("json");
    assert_eq!(synced["rejected"], 0);
    assert_eq!(patients(&platform).await, n, "every edit exactly once");
    let distinct: i64 = sqlx::query_scalar("SELECT count(DISTINCT email) FROM patients")
        .fetch_one(platform.db.pool())
        .await
        .expect("count");
    assert_eq!(distinct, n);
    let status: Value =
        serde_json::from_str(&ok(&records(&replica, &["status", "--json"], None))).expect("json");
    assert_eq!(status["pending"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_secret_service_the_session_lives_in_the_keyring_and_logout_removes_it() {
    let bus = SessionBus::start();
    let (database, _platform, replica) = setup_on(ScratchDatabase::sqlite(), Some(&bus)).await;
    assert!(
        !database.dir.join("laptop.db.session.json").exists(),
        "no clear copy on disk"
    );
    let saved = bus
        .lookup_session(&replica)
        .expect("the session is in the Secret Service");
    let saved: Value = serde_json::from_str(&saved).expect("session json");
    assert!(saved["refresh_token"]
        .as_str()
        .is_some_and(|t| t.len() > 20));

    // Another process finds the session there and can use it.
    let status: Value = serde_json::from_str(&ok(&records_on(
        Some(&bus),
        &replica,
        &["status", "--json"],
        None,
    )))
    .expect("json");
    assert_eq!(status["session_kept_in"], "keyring");
    assert!(status["server"].as_str().is_some());
    ok(&records_on(Some(&bus), &replica, &["sync"], None));

    ok(&records_on(Some(&bus), &replica, &["logout"], None));
    assert_eq!(bus.lookup_session(&replica), None, "sign-out removes it");
    assert_eq!(
        bus.lookup(&format!("replica-key:{}", replica.display())),
        None,
        "and the replica's key"
    );
    assert_eq!(
        replica_left(&replica),
        Vec::<PathBuf>::new(),
        "and the replica"
    );
    let status: Value = serde_json::from_str(&ok(&records_on(
        Some(&bus),
        &replica,
        &["status", "--json"],
        None,
    )))
    .expect("json");
    assert_eq!(status["server"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_edited_and_deleted_and_conflicts_and_refusals_are_listed() {
    let (_database, platform, replica) = setup_on(ScratchDatabase::sqlite(), None).await;
    let run = |args: &[&str]| ok(&records(&replica, args, None)).trim().to_owned();
    let json = |args: &[&str]| -> Value { serde_json::from_str(&run(args)).expect("json") };
    let add_patient =
        |name: &str, email: &str| run(&["patients", "add", "--name", name, "--email", email]);
    let add_note = |patient: &str, title: &str| {
        run(&[
            "documents",
            "add",
            "--patient",
            patient,
            "--type",
            "progress note",
            "--date",
            "2026-11-20",
            "--title",
            title,
            "--content",
            "Seen today.",
        ])
    };
    let p = add_patient("Ana Lima", "ana@example.org");
    let q = add_patient("Bea Souza", "bea@example.org");
    let note = add_note(&p, "First visit");
    let other = add_note(&p, "Second visit");
    assert_eq!(json(&["sync", "--json"])["pushed"], 4);

    // Edit one note, delete the other: both reach the platform.
    run(&[
        "documents",
        "edit",
        &note,
        "--title",
        "First visit (revised)",
    ]);
    run(&["documents", "delete", &other]);
    assert_eq!(json(&["sync", "--json"])["pushed"], 2);
    let title: String = sqlx::query_scalar("SELECT title FROM healthcare_documents WHERE id = $1")
        .bind(&note)
        .fetch_one(platform.db.pool())
        .await
        .expect("title");
    assert_eq!(title, "First visit (revised)");
    let gone: Option<String> =
        sqlx::query_scalar("SELECT deleted_at FROM healthcare_documents WHERE id = $1")
            .bind(&other)
            .fetch_one(platform.db.pool())
            .await
            .expect("row");
    assert!(gone.is_some());

    // Meanwhile both patients are deleted on the platform; offline, a note is edited and
    // another written: a conflict (edit against delete) and a refusal, both listed.
    run(&[
        "documents",
        "edit",
        &note,
        "--content",
        "Seen today; fibre up.",
    ]);
    let refused_note = add_note(&q, "Written for a deleted patient");
    for id in [&p, &q] {
        platform
            .db
            .delete_patient(id.parse().expect("uuid"))
            .await
            .expect("delete");
    }
    let summary = json(&["sync", "--json"]);
    assert_eq!(
        (&summary["conflicts"], &summary["rejected"]),
        (&Value::from(1), &Value::from(1))
    );
    let conflicts = json(&["conflicts", "list", "--json"]);
    assert_eq!(conflicts[0]["kind"], "deleted_on_server");
    assert_eq!(
        conflicts[0]["client_value"]["title"],
        "First visit (revised)"
    );
    let refused = json(&["rejected", "list", "--json"]);
    assert_eq!(refused[0]["row_id"], refused_note.as_str());
    assert_eq!(refused[0]["code"], "not_found");
    // The platform's truth, and the refused note kept as written until it is dealt with.
    let docs = json(&["documents", "list", "--json"]);
    let titles: Vec<&str> = docs
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|d| d["title"].as_str())
        .collect();
    assert_eq!(titles, ["Written for a deleted patient"], "{docs}");
    let status = json(&["status", "--json"]);
    assert_eq!(
        (&status["conflicts"], &status["rejected"]),
        (&Value::from(1), &Value::from(1))
    );

    // Settled: the deletion stands, the refusal is dismissed once read.
    let id = conflicts[0]["id"].to_string();
    run(&["conflicts", "resolve", &id, "--keep", "theirs"]);
    let mutation = refused[0]["mutation_id"].as_str().expect("id").to_owned();
    run(&["rejected", "dismiss", &mutation]);
    let docs = json(&["documents", "list", "--json"]);
    assert!(
        docs.as_array().expect("rows").is_empty(),
        "a dismissed refused note is discarded: {docs}"
    );
    let status = json(&["status", "--json"]);
    assert_eq!(
        (
            &status["conflicts"],
            &status["rejected"],
            &status["pending"]
        ),
        (&Value::from(0), &Value::from(0), &Value::from(0))
    );
}

/// Whether any file of the replica (the database, its WAL, its key, its session) is left.
fn replica_left(replica: &Path) -> Vec<PathBuf> {
    let dir = replica.parent().expect("dir");
    let name = replica
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
        .map(|e| e.path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_removes_the_replica_and_its_key_and_asks_before_discarding_edits() {
    let (_database, platform, replica) = setup_on(ScratchDatabase::sqlite(), None).await;
    let run = |args: &[&str]| ok(&records(&replica, args, None)).trim().to_owned();
    let p = run(&[
        "patients",
        "add",
        "--name",
        "Ana Lima",
        "--email",
        "ana@example.org",
    ]);
    run(&["sync"]);
    // A refused note (its patient deleted on the platform meanwhile) and an unsent edit.
    run(&[
        "documents",
        "add",
        "--patient",
        &p,
        "--type",
        "progress note",
        "--date",
        "2026-11-20",
        "--title",
        "Written for a deleted patient",
        "--content",
        "Seen today.",
    ]);
    platform
        .db
        .delete_patient(p.parse().expect("uuid"))
        .await
        .expect("delete");
    run(&["sync"]);
    run(&[
        "patients",
        "add",
        "--name",
        "Bea Souza",
        "--email",
        "bea@example.org",
    ]);

    let refused = records(&replica, &["logout"], None);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(
        said.contains("1 change not sent and 1 refused change") && said.contains("--discard"),
        "{said}"
    );
    let status: Value = serde_json::from_str(&run(&["status", "--json"])).expect("json");
    assert!(status["server"].is_string(), "still signed in: {status}");
    assert_eq!(
        (&status["pending"], &status["rejected"]),
        (&Value::from(1), &Value::from(1))
    );

    let out = records(&replica, &["logout", "--discard"], None);
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("removed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        replica_left(&replica),
        Vec::<PathBuf>::new(),
        "the replica, its WAL, its key and the session are gone"
    );
    // The session ended at the platform too.
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")
            .fetch_one(platform.db.pool())
            .await
            .expect("count");
    assert_eq!(live, 0);

    // Signed in again, nothing waiting: signing out needs no --discard.
    ok(&records(
        &replica,
        &[
            "login",
            "--server",
            &format!("http://{}", platform.addr),
            "--email",
            "dee@example.org",
        ],
        Some(PASSWORD),
    ));
    run(&["sync"]);
    ok(&records(&replica, &["logout"], None));
    assert_eq!(replica_left(&replica), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refuses_plain_http_to_another_computer_unless_allowed() {
    let (database, platform, _) = setup_on(ScratchDatabase::sqlite(), None).await;
    // 0.0.0.0 reaches this computer's server on Linux but is not a loopback address: for the
    // rule it is another computer.
    let server = format!("http://0.0.0.0:{}", platform.addr.port());
    let replica = database.dir.join("elsewhere.db");
    let login = |extra: &[&str], env: Option<&str>| {
        let mut cmd = records_command(&replica, None);
        cmd.args(["login", "--server", &server, "--email", "dee@example.org"])
            .args(extra)
            .env_remove("RECORDS_ALLOW_HTTP");
        if let Some(value) = env {
            cmd.env("RECORDS_ALLOW_HTTP", value);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("records runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(PASSWORD.as_bytes())
            .expect("password");
        child.wait_with_output().expect("records finishes")
    };
    let session = database.dir.join("elsewhere.db.session.json");

    for env in [None, Some("0")] {
        let refused = login(&[], env);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{said}");
        assert!(
            said.contains("would send passwords and health records unencrypted")
                && said.contains("--allow-insecure-http"),
            "{said}"
        );
        assert!(!session.exists(), "nothing kept");
    }
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
        .fetch_one(platform.db.pool())
        .await
        .expect("count");
    assert_eq!(before, 1, "only the setup's sign-in reached the platform");

    let allowed = login(&["--allow-insecure-http"], None);
    ok(&allowed);
    assert!(
        String::from_utf8_lossy(&allowed.stderr).contains("unencrypted"),
        "and says so: {}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert!(session.exists());
    std::fs::remove_file(&session).expect("sign out here");
    ok(&login(&[], Some("1")));
    assert!(session.exists(), "RECORDS_ALLOW_HTTP=1 allows it too");
}

/// The next line a child writes, within 20 s.
async fn next_line(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .expect("a sync within 20 s")
        .expect("stdout")
        .expect("a line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_follow_pulls_a_change_made_elsewhere_as_it_commits() {
    use tokio::io::AsyncBufReadExt as _;
    let (_database, platform, replica) = setup_on(ScratchDatabase::sqlite(), None).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_records"))
        .arg("--replica")
        .arg(&replica)
        .args(["sync", "--follow"])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("records sync --follow");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = next_line(&mut lines).await;
    assert!(first.starts_with("pushed 0"), "{first}");
    // Another device of Dee's adds a patient: the follower pulls it, unasked.
    let token = server::testing::access_token(&platform.base, "dee@example.org", PASSWORD).await;
    let made = reqwest::Client::new()
        .post(format!("{}/api/v1/patients", platform.base))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "Livia Marsh", "email": "livia@example.org"}))
        .send()
        .await
        .expect("a patient from elsewhere");
    assert_eq!(made.status().as_u16(), 201);
    let second = next_line(&mut lines).await;
    assert!(second.ends_with("pulled 1"), "{second}");
    assert_eq!(patients(&platform).await, 1);
    child.kill().await.expect("stop the follower");
}

/// A TCP proxy to `target` that passes on what clients send at most `rate` bytes a second,
/// counting it in `sent`; answers come back as they are.
async fn slow_proxy(
    target: std::net::SocketAddr,
    rate: usize,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let sent = sent.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        sent.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
                        let pause = std::time::Duration::from_secs_f64(n as f64 / rate as f64);
                        tokio::time::sleep(pause).await;
                    }
                    let _ = sw.shutdown().await;
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_file_sends_it_once_after_restart() {
    killed_mid_file(ScratchDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_file_sends_it_once_after_restart_on_postgres() {
    if let Some(database) = ScratchDatabase::postgres().await {
        killed_mid_file(database).await;
    }
}

/// A 6 MiB scan attached offline (`records documents attach`), its sync SIGKILLed when a
/// sixth of it has gone through a link of 4 MiB/s, then started again: one document, bytes
/// whole.
async fn killed_mid_file(database: ScratchDatabase) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let platform = platform_with_dee(&database).await;
    let sent = std::sync::Arc::new(AtomicUsize::new(0));
    let proxy = slow_proxy(platform.addr, 4 * 1024 * 1024, sent.clone()).await;
    let replica = database.dir.join("home-visit.db");
    let server = format!("http://{proxy}");
    ok(&records(
        &replica,
        &["login", "--server", &server, "--email", "dee@example.org"],
        Some(PASSWORD),
    ));
    let patient = ok(&records(
        &replica,
        &[
            "patients",
            "add",
            "--name",
            "Ada Home",
            "--email",
            "ada@example.org",
        ],
        None,
    ));
    let mut scan = b"%PDF-1.4\n".to_vec();
    scan.resize(6 * 1024 * 1024, b'x');
    let file = database.dir.join("scan.pdf");
    std::fs::write(&file, &scan).expect("write the scan");
    ok(&records(
        &replica,
        &[
            "documents",
            "attach",
            "--patient",
            patient.trim(),
            "--type",
            "lab report",
            "--date",
            "2026-11-20",
            "--title",
            "Home visit scan",
            file.to_str().expect("path"),
        ],
        None,
    ));
    let before = sent.load(Ordering::SeqCst);
    let mut child = records_command(&replica, None)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sync starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while sent.load(Ordering::SeqCst) < before + 1024 * 1024 {
        assert!(std::time::Instant::now() < deadline, "the file never left");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let count = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM healthcare_documents WHERE title = 'Home visit scan'",
        )
        .fetch_one(platform.db.pool())
        .await
        .expect("count")
    };
    assert_eq!(count().await, 0, "killed mid-file: no document yet");

    let synced: Value =
        serde_json::from_str(&ok(&records(&replica, &["sync", "--json"], None))).expect("json");
    assert_eq!(synced["pushed"], 2, "the patient and the scan: {synced}");
    assert_eq!(count().await, 1, "one document");
    let stored: i64 = sqlx::query_scalar(
        "SELECT CAST(length(b.data) AS BIGINT) FROM healthcare_documents d \
         JOIN document_blobs b ON b.content_hash = d.content_hash \
         WHERE d.title = 'Home visit scan'",
    )
    .fetch_one(platform.db.pool())
    .await
    .expect("blob");
    assert_eq!(stored, scan.len() as i64, "the bytes whole");
}
