//! The real app binary in its real webview (WebKitGTK under Xvfb), driven over WebDriver by
//! `tauri-driver`, against a real platform server on a free port: sign-in, offline edits,
//! reconnection, a conflict from a second replica, the notification, the keyring, the
//! encrypted replica, updates and sign-out. Screenshots of the key screens go to
//! `target/e2e-artifacts/`.

#[path = "e2e/desktop.rs"]
mod desktop;
#[path = "e2e/webdriver.rs"]
mod webdriver;

use desktop::Desktop;
use serde_json::json;
use server::testing::{Platform, ScratchDatabase, SmtpSink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uuid::Uuid;
use webdriver::WebDriver;

const EMAIL: &str = "dee@example.org";
const PASSWORD: &str = "dietician password";
const ADMIN: &str = "ada@example.org";
const ADMIN_PASSWORD: &str = "clinic admin password";
/// Unusual enough that finding it in the replica's bytes could only mean clear text.
const PATIENT: &str = "Zephyrine Quillfeather";
/// A file attached offline, on a home visit.
const SCAN: &str = "Fridge check scan";

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

async fn count(platform: &Platform, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(platform.db.pool())
        .await
        .expect("count")
}

async fn diet_on_server(platform: &Platform) -> String {
    sqlx::query_scalar("SELECT dietary_preferences FROM patients WHERE email = 'zq@example.org'")
        .fetch_one(platform.db.pool())
        .await
        .expect("patient on the server")
}

/// Whether any of the replica's files holds `needle` in clear.
fn in_clear(replica: &Path, needle: &str) -> bool {
    sync_core::replica_files(replica).iter().any(|file| {
        std::fs::read(file)
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

/// Opens the document titled `title` from the document list on screen.
async fn open_document(app: &WebDriver, title: &str) {
    let href = app
        .wait_for(
            title,
            "const a = [...document.querySelectorAll('.doc-list a')].find(a => a.textContent === arguments[0]); \
             return a ? a.getAttribute('href') : null;",
            json!([title]),
        )
        .await;
    app.click(&format!("a[href='{}']", href.as_str().expect("href")))
        .await;
}

/// Every screen in `screens` (`(name, hash, css of something that shows it is ready)`) at the
/// sizes people use (the default 1200×800 window, and a small 800×600 one), as screenshots;
/// each is audited for accessibility at the first size, with no serious or critical
/// violation allowed.
async fn every_screen(app: &WebDriver, shots: &Path, screens: &[(&str, String, &str)]) {
    let mut violations = Vec::new();
    for (width, height) in [(1200, 800), (800, 600)] {
        app.resize(width, height).await;
        for (name, hash, ready) in screens {
            app.js("location.hash = arguments[0]", json!([hash])).await;
            app.wait_for(
                &format!("{name} to show"),
                "return !!document.querySelector(arguments[0]);",
                json!([ready]),
            )
            .await;
            app.screenshot(&shots.join(format!("screen-{name}-{width}x{height}.png")))
                .await;
            if width == 1200 {
                violations.extend(
                    accessibility_violations(app)
                        .await
                        .into_iter()
                        .map(|v| format!("{name}: {v}")),
                );
            }
        }
    }
    app.resize(1200, 800).await;
    assert!(
        violations.is_empty(),
        "serious or critical accessibility violations:\n{}",
        violations.join("\n")
    );
}

/// axe-core's serious and critical findings on the page as it is (axe-core comes from the
/// UI's npm packages, injected into the webview the first time).
async fn accessibility_violations(app: &WebDriver) -> Vec<String> {
    let loaded = app
        .js("return typeof axe !== 'undefined';", json!([]))
        .await;
    if loaded != json!(true) {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (scripts/ensure-ui installs it)", path.display()));
        // The page's content security policy allows no eval: the script itself is sent.
        app.js(&axe, json!([])).await;
    }
    app.js(
        "window.__axe = null; \
         axe.run(document).then(r => { window.__axe = { passes: r.passes.length, all: r.violations.map(v => v.id + ' ' + v.impact), found: r.violations \
           .filter(v => v.impact === 'serious' || v.impact === 'critical') \
           .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`) }; });",
        json!([]),
    )
    .await;
    let found = app
        .wait_for("the accessibility audit", "return window.__axe;", json!([]))
        .await;
    eprintln!(
        "accessibility: {} rules pass; findings of any impact: {}",
        found["passes"], found["all"]
    );
    serde_json::from_value(found["found"].clone()).expect("a list of findings")
}

/// The user types the Users screen offers to create.
async fn role_choices(app: &WebDriver) -> serde_json::Value {
    app.js("location.hash = '#/users'", json!([])).await;
    app.wait_for(
        "the role choices",
        "const o = [...document.querySelectorAll('#user-type option')].map(o => o.value).filter(Boolean); \
         return o.length ? o : null;",
        json!([]),
    )
    .await
}

/// The main navigation's screens, by their hash.
async fn navigation(app: &WebDriver) -> Vec<String> {
    let links = app
        .js(
            "return [...document.querySelectorAll('nav[aria-label=Main] a')].map(a => a.getAttribute('href'));",
            json!([]),
        )
        .await;
    links
        .as_array()
        .expect("links")
        .iter()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect()
}

/// A one-page PDF saying `text`.
fn tiny_pdf(text: &str) -> Vec<u8> {
    let stream = format!("BT /F1 24 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// A stand-in update server: `latest.json` offering 9.9.9 and the package it names, signed
/// with a throwaway minisign key; `tamper` swaps the package for other bytes under the same
/// signature.
struct UpdateServer {
    url: String,
    pubkey: String,
    tamper: Arc<AtomicBool>,
}

async fn update_server() -> UpdateServer {
    use base64::Engine as _;
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let keys = minisign::KeyPair::generate_unencrypted_keypair().expect("keypair");
    let package = b"a stand-in for the 9.9.9 package".repeat(64);
    let signature = minisign::sign(
        Some(&keys.pk),
        &keys.sk,
        std::io::Cursor::new(&package),
        Some("healthcare-records 9.9.9"),
        None,
    )
    .expect("sign");
    let pubkey = b64(keys.pk.to_box().expect("pk box").into_string());
    let signature = b64(signature.into_string());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let tamper = Arc::new(AtomicBool::new(false));
    let manifest = json!({
        "version": "9.9.9",
        "notes": "Faster sync.",
        "pub_date": "2026-11-01T00:00:00Z",
        "platforms": {"linux-x86_64": {"signature": signature, "url": format!("{base}/package")}},
    });
    let served = tamper.clone();
    let app = axum::Router::new()
        .route(
            "/latest.json",
            axum::routing::get(move || {
                let manifest = manifest.clone();
                async move { axum::Json(manifest) }
            }),
        )
        .route(
            "/package",
            axum::routing::get(move || {
                let mut bytes = package.clone();
                if served.load(Ordering::Relaxed) {
                    bytes[0] ^= 0xff;
                }
                async move { bytes }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    UpdateServer {
        url: format!("{base}/latest.json"),
        pubkey,
        tamper,
    }
}

/// What the steps of the desktop test share: the app in its desktop session, the platform
/// it syncs with, its replica, and what earlier steps established for later ones.
struct Scene {
    shots: PathBuf,
    app: WebDriver,
    /// The platform's address, as the app is configured with it.
    server: String,
    replica: PathBuf,
    /// Set by `keep_mine_when_the_tablet_changed_the_same_field`.
    tablet: Option<Tablet>,
    /// The patient created offline; set with the tablet, which reads it from its replica.
    patient: Option<Uuid>,
    /// The replica's key at the first sign-in; set by `sign_in_keeps_secrets_in_the_keyring`.
    key: Option<String>,
    /// The edited document's screen; set by `find_open_and_edit_a_document`.
    document_hash: Option<String>,
    /// The stand-in PHP, holding the patient's record and three documents; it serves as
    /// long as the scene lasts.
    _php: sandbox::Served,
    /// The PHP as the platform knows it.
    provider: Uuid,
    /// The practice's SMTP server: what the platform emails arrives here.
    mail: SmtpSink,
    // Fields drop in this order: the tablet before the desktop session, the database last.
    desktop: Desktop,
    updates: UpdateServer,
    platform: Platform,
    database: ScratchDatabase,
}

/// A second replica (a tablet) signed in as the same dietician, through the sync library.
struct Tablet {
    replica: sync_core::Replica,
    store: keystore::Keystore,
    policy: sync_core::RetryPolicy,
}

impl Tablet {
    /// One sync; `what` names it if it fails.
    async fn sync(&self, what: &str) {
        sync_core::sync_signed_in(&self.replica, &self.store, self.policy, &|_| {})
            .await
            .expect(what);
    }
}

/// The platform's settings here: background jobs on, at test speed (pulls from the PHP), and
/// the practice's mail through `mail` (to its dieticians).
fn platform_config(database: &ScratchDatabase, mail: &SmtpSink) -> server::config::Config {
    let mut config = database.config();
    server::testing::with_jobs(&mut config);
    config.smtp = Some(mail.settings(""));
    config
}

/// The patient's identifier at the stand-in PHP.
const MRN: &str = "MRN-ZQ-1984";
const BIRTH_DATE: &str = "1984-07-09";

/// A stand-in PHP holding the patient's record (same name and birth date as ours), three
/// documents (one a lipid panel) and a year of results, served, and set up on the platform
/// as a provider.
async fn stand_in_php(platform: &Platform) -> (sandbox::Served, Uuid) {
    use rand::SeedableRng as _;
    let php = sandbox::fhir::FhirSandbox::default();
    let at_php = php.put(json!({
        "resourceType": "Patient",
        "id": "zq",
        "identifier": [{"system": sandbox::seed::MRN_SYSTEM, "value": MRN}],
        "name": [{"family": "Quillfeather", "given": ["Zephyrine"]}],
        "birthDate": BIRTH_DATE,
    }));
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for n in 0..3 {
        sandbox::seed::add_document(&php, &at_php, n, &mut rng);
    }
    sandbox::seed::add_series(&php, &at_php, &mut rng);
    let served = php.serve("127.0.0.1:0").await.expect("serve the PHP");
    let provider = platform
        .db
        .insert_provider(server::db::providers::ProviderRow::open(
            "Springfield Clinic",
            &served.base,
        ))
        .await
        .expect("provider")
        .id;
    (served, provider)
}

impl Scene {
    /// A platform with a dietician and an admin, a stand-in update server, and the app
    /// started in a desktop session against both, on its sign-in screen; holding the
    /// platform's live stream when `live` (else the day's conflicts could not be staged: the
    /// laptop would hear of the tablet's edits at once).
    async fn start(live: bool) -> Self {
        let shots = artifacts();
        let database = ScratchDatabase::sqlite();
        let mail = SmtpSink::start(&[]).await;
        let platform = Platform::start(platform_config(&database, &mail), "127.0.0.1:0").await;
        let server = platform.base.clone();
        server::auth::create_account(
            &platform.db,
            domain::UserType::Dietician,
            EMAIL,
            "Dee",
            PASSWORD,
            Default::default(),
        )
        .await
        .expect("dietician");
        server::auth::create_account(
            &platform.db,
            domain::UserType::Admin,
            ADMIN,
            "Ada",
            ADMIN_PASSWORD,
            Default::default(),
        )
        .await
        .expect("admin");
        let updates = update_server().await;
        let (php, provider) = stand_in_php(&platform).await;

        let replica = database.dir.join("laptop/replica.db");
        let desktop = Desktop::start(&[
            ("RECORDS_REPLICA", replica.display().to_string()),
            ("RECORDS_SERVER", server.clone()),
            ("RECORDS_PROBE_SECONDS", "0.5".into()),
            // Syncs in this test come from reconnecting and the Sync button only (and, when
            // `live`, from the platform's live stream).
            ("RECORDS_SYNC_INTERVAL_SECONDS", "3600".into()),
            ("RECORDS_LIVE", if live { "1" } else { "0" }.into()),
            ("RECORDS_UPDATE_ENDPOINT", updates.url.clone()),
            ("RECORDS_UPDATE_PUBKEY", updates.pubkey.clone()),
        ]);
        let app = WebDriver::launch(
            desktop.driver_port,
            env!("CARGO_BIN_EXE_healthcare-records"),
        )
        .await;
        Self {
            shots,
            app,
            server,
            replica,
            tablet: None,
            patient: None,
            key: None,
            document_hash: None,
            _php: php,
            provider,
            mail,
            desktop,
            updates,
            platform,
            database,
        }
    }

    fn tablet(&self) -> &Tablet {
        self.tablet
            .as_ref()
            .expect("the tablet joins in keep_mine_when_the_tablet_changed_the_same_field")
    }

    fn patient(&self) -> Uuid {
        self.patient
            .expect("the patient's id is read in keep_mine_when_the_tablet_changed_the_same_field")
    }

    /// Closes the app, then stops the platform.
    async fn close(self) {
        self.app.quit().await;
        drop(self.platform);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_app_works_offline_syncs_resolves_conflicts_and_keeps_secrets_in_the_keyring() {
    let mut scene = Scene::start(false).await;
    sign_in_keeps_secrets_in_the_keyring(&mut scene).await;
    edit_offline_into_an_encrypted_replica(&mut scene).await;
    reconnect_and_send_the_queue(&mut scene).await;
    keep_mine_when_the_tablet_changed_the_same_field(&mut scene).await;
    keep_mine_when_the_tablet_deleted_the_patient(&scene).await;
    typing_survives_a_sync_and_leaving_asks_first(&scene).await;
    conflicts_are_notified_without_patient_details(&scene);
    find_open_and_edit_a_document(&mut scene).await;
    files_from_the_tablet_arrive_and_show_in_the_viewer(&scene).await;
    an_unopened_text_is_searchable_and_arrivals_are_announced(&scene).await;
    a_duplicate_email_leads_to_the_existing_patient(&scene).await;
    link_the_patient_to_their_provider(&scene).await;
    updates_are_verified_and_tampered_ones_refused(&scene).await;
    a_dieticians_screens_and_the_accounts_they_may_create(&scene).await;
    sign_out_with_an_unsent_change_offers_to_sync_first(&scene).await;
    sign_out_removes_the_session_and_the_key(&scene).await;
    an_admin_manages_users_and_is_not_offered_patient_work(&scene).await;
    an_admin_approves_the_link_having_compared_the_records(&scene).await;
    signing_back_in_brings_the_records_back_encrypted(&scene).await;
    sync_from_the_provider_shows_its_progress_and_the_summary(&scene).await;
    an_inquiry_is_emailed_and_becomes_a_patient(&scene).await;
    the_public_inquiry_page_is_accessible(&scene).await;
    scene.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_elsewhere_arrive_without_pressing_sync() {
    let mut scene = Scene::start(true).await;
    sign_in_keeps_secrets_in_the_keyring(&mut scene).await;
    another_device_and_a_stranger_are_heard_at_once(&scene).await;
    scene.close().await;
}

/// With the app holding the platform's live stream (and polling only hourly), a patient the
/// dietician adds on another device, and an inquiry a stranger sends, show in the app as they
/// commit, with no Sync pressed.
async fn another_device_and_a_stranger_are_heard_at_once(scene: &Scene) {
    let (app, shots) = (&scene.app, &scene.shots);
    app.wait_text("#connection", "Online").await;
    app.wait_text("#sync-label", "Last sync just now").await;
    let token = server::testing::access_token(&scene.server, EMAIL, PASSWORD).await;
    let client = reqwest::Client::new();
    let written = std::time::Instant::now();
    let made = client
        .post(format!("{}/api/v1/patients", scene.server))
        .bearer_auth(&token)
        .json(&json!({"name": "Livia Marsh", "email": "livia@example.org"}))
        .send()
        .await
        .expect("a patient from another device");
    assert_eq!(made.status().as_u16(), 201);
    app.wait_text(".row[data-patient-id]", "Livia Marsh").await;
    eprintln!(
        "live: another device's patient showed in the app {} ms after it was written",
        written.elapsed().as_millis()
    );
    let posted = std::time::Instant::now();
    let sent = client
        .post(format!("{}/api/v1/inquiries", scene.server))
        .json(&json!({"name": "Omar Haddad", "email": "omar@example.net"}))
        .send()
        .await
        .expect("an inquiry");
    assert_eq!(sent.status().as_u16(), 202);
    app.wait_text("a[href='#/inquiries'] .count", "1").await;
    eprintln!(
        "live: the inquiry showed in the app {} ms after it was sent",
        posted.elapsed().as_millis()
    );
    app.screenshot(&shots.join("14-live.png")).await;
}

/// The dietician signs in (after a wrong password): the session and the replica's key are
/// kept in the OS keyring, never in files beside the replica.
async fn sign_in_keeps_secrets_in_the_keyring(scene: &mut Scene) {
    let (app, shots, desktop, replica) = (&scene.app, &scene.shots, &scene.desktop, &scene.replica);
    // Sign in: the server is pre-filled from configuration.
    app.wait_text("#signin-title", "Healthcare Records").await;
    app.screenshot(&shots.join("01-sign-in.png")).await;
    assert_eq!(
        app.js("return document.querySelector('#server').value", json!([]))
            .await,
        scene.server.as_str()
    );
    app.fill("#email", EMAIL).await;
    app.fill("#password", "wrong password").await;
    app.click("#sign-in").await;
    app.wait_text("[role=alert]", "Wrong email or password")
        .await;
    app.fill("#password", PASSWORD).await;
    app.click("#sign-in").await;
    app.wait_text("#connection", "Online").await;
    app.wait_text("#pending", "All changes sent").await;

    // The session and the replica's key are in the Secret Service, read by another program.
    let session = desktop
        .bus
        .lookup_session(replica)
        .expect("session in the keyring");
    assert!(session.contains("refresh_token"));
    let key = desktop
        .bus
        .lookup(&format!("replica-key:{}", replica.display()))
        .expect("replica key in the keyring");
    assert_eq!(key.trim().len(), 64, "256-bit key, hex");
    assert!(!replica.with_file_name("replica.db.session.json").exists());
    assert!(!replica.with_file_name("replica.db.key").exists());
    scene.key = Some(key);
}

/// The server goes away and the dietician adds a patient and a document: the app says it
/// is offline, checks the form at once, queues the changes and keeps the replica encrypted.
async fn edit_offline_into_an_encrypted_replica(scene: &mut Scene) {
    // The server goes away: the indicator says so, and edits keep working.
    scene.platform.stop().await;
    let (app, shots, replica) = (&scene.app, &scene.shots, &scene.replica);
    app.wait_text("#connection", "Offline").await;
    app.click("#new-patient").await;
    app.fill("#patient-name", PATIENT).await;
    // What the platform would refuse is refused at once, at the field, in its words, and
    // nothing is queued (it used to be accepted, then refused a minute later).
    app.fill("#patient-email", "zq@example").await;
    app.click("#save-patient").await;
    app.wait_text(
        "#patient-email-error",
        "must be an email address like name@example.org",
    )
    .await;
    app.wait_text("#page-title", "New patient").await;
    app.wait_text("#pending", "All changes sent").await;
    app.fill("#patient-email", "zq@example.org").await;
    app.fill("#patient-diet", "low sodium").await;
    app.click("#save-patient").await;
    app.wait_text("#page-title", PATIENT).await;
    app.click("#new-document").await;
    app.click("#template-soap").await;
    app.wait_for(
        "the SOAP template",
        "return document.querySelector('#document-content').value.startsWith('Subjective:');",
        json!([]),
    )
    .await;
    app.screenshot(&shots.join("02a-new-document.png")).await;
    app.fill("#document-title", "First consultation").await;
    app.fill("#document-content", "Weight 72 kg. Plan: reduce salt.")
        .await;
    app.click("#save-document").await;
    app.wait_text("#pending", "2 changes to send").await;
    // A scan attached on the home visit: kept here, encrypted, and viewable at once.
    app.click("#new-document").await;
    app.fill("#document-title", SCAN).await;
    let pdf = tiny_pdf("Home visit: fridge check");
    app.js(
        "const [name, bytes] = arguments; \
         const t = new DataTransfer(); \
         t.items.add(new File([new Uint8Array(bytes)], name, { type: 'application/pdf' })); \
         const input = document.querySelector('#document-file'); \
         input.files = t.files; input.dispatchEvent(new Event('change', { bubbles: true }));",
        json!(["fridge.pdf", pdf]),
    )
    .await;
    app.click("#save-document").await;
    app.wait_text("#document-saved", "sent when back online")
        .await;
    app.wait_text("#pending", "3 changes to send").await;
    app.wait_text("[data-sync-state]", "Pending").await;
    app.screenshot(&shots.join("02-offline-pending.png")).await;
    open_document(app, SCAN).await;
    app.wait_for(
        "the pending scan in the viewer",
        "return !!document.querySelector('iframe.doc-frame');",
        json!([]),
    )
    .await;
    app.js("history.back();", json!([])).await;
    app.wait_text("#page-title", PATIENT).await;
    assert!(
        !in_clear(replica, PATIENT),
        "the replica holds the patient's name in clear"
    );
}

/// The server comes back on the same address: the app notices, the queue drains and the
/// patient and the document are on the platform.
async fn reconnect_and_send_the_queue(scene: &mut Scene) {
    scene.platform = Platform::start(
        platform_config(&scene.database, &scene.mail),
        &scene.platform.addr.to_string(),
    )
    .await;
    let (app, shots, platform) = (&scene.app, &scene.shots, &scene.platform);
    app.wait_text("#connection", "Online").await;
    app.wait_text("#pending", "All changes sent").await;
    app.wait_text("[data-sync-state]", "Synced").await;
    assert_eq!(count(platform, "SELECT count(*) FROM patients").await, 1);
    assert_eq!(
        count(
            platform,
            "SELECT count(*) FROM healthcare_documents WHERE title = 'First consultation'"
        )
        .await,
        1
    );
    // The scan attached offline reached the platform once, its bytes whole.
    let scan = format!(
        "SELECT count(*) FROM healthcare_documents d JOIN document_blobs b \
         ON b.content_hash = d.content_hash WHERE d.title = '{SCAN}' \
         AND d.mime_type = 'application/pdf' AND d.size_bytes = {}",
        tiny_pdf("Home visit: fridge check").len()
    );
    assert_eq!(count(platform, &scan).await, 1);
    assert_eq!(count(platform, "SELECT count(*) FROM uploads").await, 0);
    app.screenshot(&shots.join("03-synced.png")).await;
}

/// A tablet changes the patient's diet first and the laptop changes it too: the sync shows
/// the conflict side by side, and keeping the laptop's value puts it on the platform.
async fn keep_mine_when_the_tablet_changed_the_same_field(scene: &mut Scene) {
    // A second replica (a tablet) changes the same field first.
    let tablet_path = scene.database.dir.join("tablet.db");
    let tablet = Tablet {
        replica: sync_core::Replica::open(&tablet_path)
            .await
            .expect("tablet"),
        store: keystore::Keystore::file_only(&tablet_path),
        policy: sync_core::RetryPolicy {
            attempts: 1,
            ..Default::default()
        },
    };
    sync_core::login(&tablet.store, &scene.platform.base, EMAIL, PASSWORD)
        .await
        .expect("tablet login");
    tablet.sync("tablet sync").await;
    let id = tablet
        .replica
        .rows(domain::dto::SyncTable::Patients)
        .await
        .expect("rows")[0]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let mut fields = serde_json::Map::new();
    fields.insert("dietary_preferences".into(), json!("vegan (tablet)"));
    tablet
        .replica
        .update(domain::dto::SyncTable::Patients, id, fields)
        .await
        .expect("tablet edit");
    tablet.sync("tablet push").await;
    scene.tablet = Some(tablet);
    scene.patient = Some(id);
    let (app, shots, platform) = (&scene.app, &scene.shots, &scene.platform);
    assert_eq!(diet_on_server(platform).await, "vegan (tablet)");

    // The laptop, not yet synced, changes it too: the sync reports a conflict.
    app.fill("#patient-diet", "gluten free (laptop)").await;
    app.click("#save-patient").await;
    app.wait_text("#pending", "1 change to send").await;
    app.click("#sync-now").await;
    app.wait_text("[data-sync-state]", "Conflict").await;
    app.wait_text("#conflict-banner", "Dietary preferences")
        .await;
    app.click("a[href='#/conflicts']").await;
    app.wait_text(".conflict .mine", "gluten free (laptop)")
        .await;
    app.wait_text(".conflict .theirs", "vegan (tablet)").await;
    app.screenshot(&shots.join("04-conflict.png")).await;
    app.click(".conflict .keep-mine").await;
    app.wait_text("#no-conflicts", "Nothing to decide").await;
    app.wait_text("#pending", "All changes sent").await;
    assert_eq!(diet_on_server(platform).await, "gluten free (laptop)");
}

/// The tablet deletes the patient while the laptop changes them: the app says so in words,
/// and keeping the change brings the patient back everywhere.
async fn keep_mine_when_the_tablet_deleted_the_patient(scene: &Scene) {
    let (app, shots, platform) = (&scene.app, &scene.shots, &scene.platform);
    let (tablet, id) = (scene.tablet(), scene.patient());
    tablet.sync("tablet sync").await;
    tablet
        .replica
        .delete(domain::dto::SyncTable::Patients, id)
        .await
        .expect("tablet delete");
    tablet.sync("tablet push").await;
    app.js(
        "location.hash = arguments[0]",
        json!([format!("#/patients/{id}")]),
    )
    .await;
    app.fill("#patient-diet", "gluten free, no dairy (laptop)")
        .await;
    app.click("#save-patient").await;
    app.wait_text("#pending", "1 change to send").await;
    app.click("#sync-now").await;
    app.click("a[href='#/conflicts']").await;
    app.wait_text(".record-conflict h2", "was deleted on the platform")
        .await;
    app.wait_text(".record-conflict", "gluten free, no dairy (laptop)")
        .await;
    app.screenshot(&shots.join("04b-deleted-elsewhere.png"))
        .await;
    app.click(".record-conflict .keep-mine").await;
    app.wait_text("#no-conflicts", "Nothing to decide").await;
    app.wait_text("#pending", "All changes sent").await;
    assert_eq!(
        diet_on_server(platform).await,
        "gluten free, no dairy (laptop)"
    );
    assert_eq!(
        count(
            platform,
            "SELECT count(*) FROM patients WHERE deleted_at IS NULL"
        )
        .await,
        1,
        "restored"
    );
    // The tablet sees it back too.
    tablet.sync("tablet sync").await;
}

/// The dietician types in the patient's form while the tablet's change arrives, then tries
/// to leave: the typing survives the sync, leaving asks first, and staying keeps it.
async fn typing_survives_a_sync_and_leaving_asks_first(scene: &Scene) {
    let (app, shots) = (&scene.app, &scene.shots);
    let (tablet, id) = (scene.tablet(), scene.patient());
    // Typing survives a sync: the laptop's form has unsaved text when the tablet's change
    // arrives; the untouched field takes the new value, the typed one keeps the typing.
    app.js(
        "location.hash = arguments[0]",
        json!([format!("#/patients/{id}")]),
    )
    .await;
    app.fill("#patient-history", "Typed while a sync ran").await;
    let mut fields = serde_json::Map::new();
    fields.insert("contact_details".into(), json!("0400 000 111 (tablet)"));
    tablet
        .replica
        .update(domain::dto::SyncTable::Patients, id, fields)
        .await
        .expect("tablet edit");
    tablet.sync("tablet push").await;
    app.click("#sync-now").await;
    app.wait_for(
        "the tablet's change to reach the form",
        "return document.querySelector('#patient-contact').value === '0400 000 111 (tablet)';",
        json!([]),
    )
    .await;
    assert_eq!(
        app.js(
            "return document.querySelector('#patient-history').value",
            json!([])
        )
        .await,
        "Typed while a sync ran"
    );
    // Leaving with unsaved typing asks first; staying keeps it.
    app.click("nav a[href='#/documents']").await;
    app.wait_text("#leave-dialog", "You have not saved your changes to")
        .await;
    app.screenshot(&shots.join("04c-leave-unsaved.png")).await;
    app.click("#stay").await;
    assert_eq!(
        app.js(
            "return document.querySelector('#patient-history').value",
            json!([])
        )
        .await,
        "Typed while a sync ran"
    );
    app.click("#save-patient").await;
    app.wait_text("#pending", "1 change to send").await;
    app.click("#sync-now").await;
    app.wait_text("#pending", "All changes sent").await;
}

/// The conflicts so far were announced on the session bus: counts, never the patient.
fn conflicts_are_notified_without_patient_details(scene: &Scene) {
    let notifications = scene.desktop.notifications();
    assert!(
        notifications.contains("Sync found conflicts")
            && notifications.contains("1 change needs your decision"),
        "no conflict notification in:\n{notifications}"
    );
    assert!(notifications.contains("Healthcare Records"));
    assert!(!notifications.contains(PATIENT) && !notifications.contains("gluten"));
}

/// The dietician finds the document by a word of its text and by its patient's name, opens
/// it and edits it: the search runs over the replica and the edit shows at once.
async fn find_open_and_edit_a_document(scene: &mut Scene) {
    let (app, shots) = (&scene.app, &scene.shots);
    // Local search over the replica finds the document by a word of its text.
    app.click("a[href='#/documents']").await;
    app.fill("#document-search", "sal").await;
    app.wait_text(
        ".documents[data-search=sal] .doc-list",
        "First consultation",
    )
    .await;
    // Every row across patients names its patient, and the patient's name finds them.
    app.wait_text(".documents[data-search=sal] .doc-patient", PATIENT)
        .await;
    app.screenshot(&shots.join("05-documents.png")).await;
    app.fill("#document-search", "Zephyrine").await;
    app.wait_text(
        ".documents[data-search=Zephyrine] .doc-list",
        "First consultation",
    )
    .await;
    app.fill("#document-search", "pepper").await;
    app.wait_text(
        ".documents[data-search=pepper] .empty",
        "No documents match",
    )
    .await;
    app.fill("#document-search", "consultation").await;
    app.click(".documents[data-search=consultation] .doc-list a")
        .await;
    app.wait_text("#document-text", "Plan: reduce salt.").await;
    app.wait_text("#document-patient", PATIENT).await;
    app.wait_text("nav[aria-label=Breadcrumb]", PATIENT).await;
    app.screenshot(&shots.join("06-document.png")).await;
    // An edit of the text shows at once (it used to show the old text until reloaded).
    app.click("#edit-document").await;
    app.fill(
        "#edit-content",
        "Weight 71 kg. Plan: reduce salt, walk daily.",
    )
    .await;
    app.click("#save-document-edit").await;
    app.wait_text("#document-text", "walk daily").await;
    let document_hash: String = app
        .js("return location.hash", json!([]))
        .await
        .as_str()
        .expect("hash")
        .to_owned();
    scene.document_hash = Some(document_hash);
}

/// The tablet uploads a PDF and an image and writes a text document, and the dietician
/// syncs: the files arrive and show in the document viewer.
async fn files_from_the_tablet_arrive_and_show_in_the_viewer(scene: &Scene) {
    let (app, shots) = (&scene.app, &scene.shots);
    let (tablet, id) = (scene.tablet(), scene.patient());
    // Files attached elsewhere (here on the tablet) arrive with a sync and show in the viewer.
    let file = |title: &str, mime: &str, bytes: Vec<u8>| sync_core::files::Attachment {
        patient_id: id,
        kind: "lab report".into(),
        date: "2026-11-20".into(),
        title: title.into(),
        mime_type: mime.into(),
        bytes,
    };
    let png =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../icons/128x128.png")).expect("png");
    for attachment in [
        file(
            "Blood panel",
            "application/pdf",
            tiny_pdf("Ferritin 12 ng/mL"),
        ),
        file("Food diary photo", "image/png", png),
    ] {
        tablet
            .replica
            .attach(attachment)
            .await
            .expect("tablet attachment");
    }
    // And a text document, never opened on the laptop: its text is fetched ahead after the
    // sync, so searching its words finds it offline.
    let mut note = serde_json::Map::new();
    note.insert("patient_id".into(), json!(id.to_string()));
    note.insert("type".into(), json!("lab report"));
    note.insert("date".into(), json!("2026-11-21"));
    note.insert("title".into(), json!("Iron studies"));
    note.insert("content".into(), json!("Transferrin saturation 14%."));
    tablet
        .replica
        .insert(domain::dto::SyncTable::HealthcareDocuments, note)
        .await
        .expect("tablet document");
    tablet.sync("tablet push").await;
    app.click("#sync-now").await;
    app.click("a[href='#/documents']").await;
    app.wait_text(".documents", "Blood panel").await;
    open_document(app, "Blood panel").await;
    app.wait_for(
        "the PDF viewer",
        "return !!document.querySelector('iframe.doc-frame');",
        json!([]),
    )
    .await;
    // WebKit's own PDF viewer renders after the frame appears.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    app.screenshot(&shots.join("06b-pdf.png")).await;
    app.click("a[href='#/documents']").await;
    open_document(app, "Food diary photo").await;
    app.wait_for(
        "the image to load",
        "const i = document.querySelector('img.doc-image'); return !!i && i.complete && i.naturalWidth === 128;",
        json!([]),
    )
    .await;
    app.screenshot(&shots.join("06c-image.png")).await;

    // Before a home visit: every file of the patient is fetched ahead, with progress.
    app.js(&format!("location.hash = '#/patients/{id}';"), json!([]))
        .await;
    app.click("#keep-offline").await;
    app.wait_for(
        "every file of the patient on this computer",
        "const s = document.querySelector('#offline-files'); \
         return !!s && s.dataset.documents !== '0' && s.dataset.here === s.dataset.documents;",
        json!([]),
    )
    .await;
    app.wait_text("#offline-files", "can be read offline").await;
    app.click("a[href='#/profile']").await;
    app.wait_text("#disk-kept", "1").await;
    app.wait_text("#disk-files", "documents").await;
    app.screenshot(&shots.join("06d-disk-use.png")).await;
}

/// The dietician searches for a word of the text document they never opened: it is found,
/// its text fetched ahead, and the sync announced the arrivals by count, not by title.
async fn an_unopened_text_is_searchable_and_arrivals_are_announced(scene: &Scene) {
    let (app, desktop) = (&scene.app, &scene.desktop);
    app.click("a[href='#/documents']").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        app.fill("#document-search", "transferr").await;
        let found = app
            .wait_for(
                "the search to run",
                "const d = document.querySelector('.documents[data-search=transferr]'); \
                 return d ? d.textContent.includes('Iron studies') ? 'yes' : 'no' : null;",
                json!([]),
            )
            .await;
        if found == "yes" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the unopened text document was never searchable"
        );
        app.fill("#document-search", "").await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    // That sync announced them: a count, no title.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !desktop.notifications().contains("3 new documents arrived.") {
        assert!(
            std::time::Instant::now() < deadline,
            "no new-documents notification in:\n{}",
            desktop.notifications()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!desktop.notifications().contains("Blood panel"));
}

/// The dietician adds a second patient with the same email in other case: the warning
/// links to the existing record, and the replica still holds nothing in clear.
async fn a_duplicate_email_leads_to_the_existing_patient(scene: &Scene) {
    let (app, replica) = (&scene.app, &scene.replica);
    app.click("a[href='#/patients']").await;
    app.click("#new-patient").await;
    app.fill("#patient-name", "Someone Else").await;
    app.fill("#patient-email", "ZQ@example.org").await;
    app.click("#save-patient").await;
    app.wait_text("#duplicate-warning", "already has this email")
        .await;
    app.click("#duplicate-link").await;
    app.wait_text("#page-title", PATIENT).await;
    assert!(!in_clear(replica, PATIENT));
    assert!(!in_clear(replica, "gluten free"));
}

/// The dietician checks for updates and downloads one twice: a signed package is verified,
/// and the same signature over other bytes is refused.
async fn updates_are_verified_and_tampered_ones_refused(scene: &Scene) {
    let (app, shots) = (&scene.app, &scene.shots);
    app.click("a[href='#/profile']").await;
    app.wait_text("#session-kept-in", "OS keyring").await;
    app.click("#check-updates").await;
    app.wait_text("#update-result", "Version 9.9.9 is available")
        .await;
    app.click("#download-update").await;
    app.wait_text("#update-verified", "signature verified")
        .await;
    app.screenshot(&shots.join("07-update-verified.png")).await;
    scene.updates.tamper.store(true, Ordering::Relaxed);
    app.click("#check-updates").await;
    app.wait_text("#update-result", "Version 9.9.9 is available")
        .await;
    app.click("#download-update").await;
    app.wait_text(
        "[role=alert][data-code=signature]",
        "signature does not match",
    )
    .await;
    app.screenshot(&shots.join("08-update-refused.png")).await;
}

/// The dietician visits every screen of their day at both window sizes: each shows, and
/// the Users screen offers to create patient accounts and nothing else.
async fn a_dieticians_screens_and_the_accounts_they_may_create(scene: &Scene) {
    let (app, shots, id) = (&scene.app, &scene.shots, scene.patient());
    let document_hash = scene
        .document_hash
        .as_ref()
        .expect("the document's screen is found in find_open_and_edit_a_document");
    every_screen(
        app,
        shots,
        &[
            ("patients", "#/patients".into(), ".row[data-patient-id]"),
            ("patient", format!("#/patients/{id}"), "#patient-name"),
            ("new-patient", "#/patients/new".into(), "#patient-name"),
            ("inquiries", "#/inquiries".into(), "#inquiries-empty"),
            ("documents", "#/documents".into(), ".doc-list"),
            ("document", document_hash.clone(), "#document-text"),
            ("sync-log", "#/log".into(), "#page-title"),
            ("conflicts", "#/conflicts".into(), "#no-conflicts"),
            ("profile", "#/profile".into(), "#sign-out"),
        ],
    )
    .await;
    // A dietician may create patient accounts, and nothing else.
    assert!(navigation(app).await.contains(&"#/users".to_owned()));
    let options = role_choices(app).await;
    assert_eq!(options, json!(["patient"]));
}

/// The dietician saves a change and signs out before it is sent: the question names the
/// change, and syncing first puts it on the platform.
async fn sign_out_with_an_unsent_change_offers_to_sync_first(scene: &Scene) {
    let (app, shots, platform, id) = (&scene.app, &scene.shots, &scene.platform, scene.patient());
    app.js(
        "location.hash = arguments[0]",
        json!([format!("#/patients/{id}")]),
    )
    .await;
    app.fill("#patient-diet", "gluten free, no dairy, low FODMAP")
        .await;
    app.click("#save-patient").await;
    app.wait_text("#pending", "1 change to send").await;
    app.click("a[href='#/profile']").await;
    app.click("#sign-out").await;
    app.wait_text("#sign-out-warning", "1 change").await;
    app.screenshot(&shots.join("08b-sign-out-unsent.png")).await;
    app.click("#sync-first").await;
    app.wait_text("#pending", "All changes sent").await;
    assert_eq!(
        diet_on_server(platform).await,
        "gluten free, no dairy, low FODMAP"
    );
}

/// With nothing left to send the dietician confirms signing out: the session leaves the
/// keyring and the replica's key is not the old one any more.
async fn sign_out_removes_the_session_and_the_key(scene: &Scene) {
    let (app, desktop, replica) = (&scene.app, &scene.desktop, &scene.replica);
    let key = scene
        .key
        .as_ref()
        .expect("the replica's key is read in sign_in_keeps_secrets_in_the_keyring");
    // Signing out removes the session, the key and the records (an empty replica under a
    // new key takes their place). Nothing is waiting now: the question says so.
    app.wait_text("#sign-out-warning", "Nothing is waiting to be sent")
        .await;
    app.click("#confirm-sign-out").await;
    app.wait_text("#signin-title", "Healthcare Records").await;
    assert_eq!(desktop.bus.lookup_session(replica), None);
    let new_key = desktop
        .bus
        .lookup(&format!("replica-key:{}", replica.display()));
    assert_ne!(
        new_key.as_deref(),
        Some(key.as_str()),
        "the old key is gone"
    );
}

/// An admin signs in on the same laptop and visits users and a patient: they manage users
/// of every type and are not offered what only dieticians do; then they sign out.
async fn an_admin_manages_users_and_is_not_offered_patient_work(scene: &Scene) {
    let (app, shots, id) = (&scene.app, &scene.shots, scene.patient());
    app.fill("#email", ADMIN).await;
    app.fill("#password", ADMIN_PASSWORD).await;
    app.click("#sign-in").await;
    app.wait_text("#patient-count", "1 patient").await;
    assert!(navigation(app).await.contains(&"#/users".to_owned()));
    assert_eq!(
        app.js("return !!document.querySelector('#new-patient')", json!([]))
            .await,
        false,
        "an admin is not offered New patient"
    );
    app.js(
        "location.hash = arguments[0]",
        json!([format!("#/patients/{id}")]),
    )
    .await;
    app.wait_text("#page-title", PATIENT).await;
    for absent in ["#delete-patient", "#save-patient", "#new-document"] {
        assert_eq!(
            app.js(
                "return !!document.querySelector(arguments[0])",
                json!([absent])
            )
            .await,
            false,
            "an admin is offered {absent}"
        );
    }
    let options = role_choices(app).await;
    assert_eq!(
        options,
        json!(["admin", "dietician", "practitioner", "provider", "patient"])
    );
    every_screen(
        app,
        shots,
        &[
            ("admin-users", "#/users".into(), "#users"),
            ("admin-patient", format!("#/patients/{id}"), "#patient-name"),
            (
                "admin-providers",
                "#/providers".into(),
                "[data-provider-id]",
            ),
            ("admin-links", "#/links".into(), "#links-refresh"),
            ("admin-jobs", "#/jobs".into(), "#jobs-refresh"),
            ("admin-audit", "#/audit".into(), "#audit"),
        ],
    )
    .await;
}

/// The admin tests the connection to the PHP (each step in words), opens Link approvals: the
/// PHP's record stands beside ours (name and birth date agree), they approve it, and sign out.
async fn an_admin_approves_the_link_having_compared_the_records(scene: &Scene) {
    let (app, shots, id) = (&scene.app, &scene.shots, scene.patient());
    app.click("a[href='#/providers']").await;
    let card = format!("article[data-provider-id='{}']", scene.provider);
    app.click(&format!("{card} .test-provider")).await;
    app.wait_for(
        "the connection test's three steps, all passed",
        "return document.querySelectorAll(arguments[0] + ' .connection-steps li[data-ok=true]').length === 3;",
        json!([card]),
    )
    .await;
    app.wait_text(&format!("{card} .connection-steps"), "Searching works")
        .await;
    app.screenshot(&shots.join("10-provider-tested.png")).await;
    app.click("a[href='#/links']").await;
    app.wait_text("#page-title", "Link approvals").await;
    let card = format!("article[data-patient-id='{id}']");
    // The lookup at the PHP runs in the platform's background: refresh until it has.
    app.wait_for(
        "the PHP's record beside ours",
        "document.querySelector('#links-refresh').click(); \
         const c = document.querySelector(arguments[0]); \
         return !!c && c.querySelector('.php-name').textContent === arguments[1];",
        json!([card, PATIENT]),
    )
    .await;
    app.screenshot(&shots.join("10-link-approvals.png")).await;
    app.click(&format!("{card} .approve")).await;
    app.wait_text(
        "#link-decided",
        "Approved: the link of Zephyrine Quillfeather",
    )
    .await;
    app.click("a[href='#/profile']").await;
    app.click("#sign-out").await;
    app.click("#confirm-sign-out").await;
    app.wait_text("#signin-title", "Healthcare Records").await;
}

/// The dietician links the patient to their provider (the ID there, the birth date): after a
/// sync the page says the link waits for an administrator, and Sync from the provider waits.
async fn link_the_patient_to_their_provider(scene: &Scene) {
    let (app, shots, id) = (&scene.app, &scene.shots, scene.patient());
    app.js(
        "location.hash = arguments[0]",
        json!([format!("#/patients/{id}")]),
    )
    .await;
    app.wait_text("#page-title", PATIENT).await;
    app.wait_text("#link-state", "Not linked").await;
    app.fill("#patient-birth-date", BIRTH_DATE).await;
    app.wait_for(
        "the provider among the choices",
        "return [...document.querySelectorAll('#patient-provider option')].some(o => o.value === arguments[0]);",
        json!([scene.provider]),
    )
    .await;
    app.js(
        "const s = document.querySelector('#patient-provider'); s.value = arguments[0]; \
         s.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([scene.provider]),
    )
    .await;
    app.fill("#patient-identifier-system", sandbox::seed::MRN_SYSTEM)
        .await;
    app.fill("#patient-identifier", MRN).await;
    app.click("#save-patient").await;
    app.wait_text("#patient-saved", "Saved").await;
    app.click("#sync-now").await;
    app.wait_text("#link-state", "Pending approval").await;
    app.wait_text(
        "#sync-from-provider-why",
        "once the link to the provider is approved",
    )
    .await;
    app.screenshot(&shots.join("10-link-pending.png")).await;
}

/// Back as the dietician: the link is matched; Sync from the provider now shows the pull's
/// progress to its end, the summary counts what arrived, and the results over time are
/// charted with their values beside.
async fn sync_from_the_provider_shows_its_progress_and_the_summary(scene: &Scene) {
    let (app, shots, id) = (&scene.app, &scene.shots, scene.patient());
    app.js(
        "location.hash = arguments[0]",
        json!([format!("#/patients/{id}")]),
    )
    .await;
    app.wait_text("#link-state", "Matched").await;
    app.click("#sync-from-provider").await;
    app.wait_text("#pull-progress[data-status=done]", "Done: found 3")
        .await;
    app.wait_text("#document-summary tbody", "Lab report").await;
    // The summary counts every document listed, the provider's three among them.
    app.wait_for(
        "the summary to count the documents listed, three from the provider",
        "const counted = [...document.querySelectorAll('#document-summary tbody td:nth-of-type(1)')] \
           .reduce((n, td) => n + Number(td.textContent), 0); \
         const listed = document.querySelectorAll('[data-document-id]'); \
         const fromPhp = [...document.querySelectorAll('.doc-source')] \
           .filter(s => s.textContent.includes(\"patient's healthcare provider\")).length; \
         return counted === listed.length && fromPhp === 3;",
        json!([]),
    )
    .await;
    app.wait_text("#last-pull", "Last pull from the provider")
        .await;
    app.screenshot(&shots.join("11-summary.png")).await;

    // The results over time: six weighings drawn and listed; glucose the PHP sent in mg/dL
    // shown in mmol/L, saying how it was reported.
    app.wait_for(
        "the weight chart and its table",
        "const t = document.querySelector('#trends [data-trend=weight]'); \
         return !!t && t.querySelectorAll('.trend-values tbody tr').length === 6 \
           && !!t.querySelector('.trend-chart canvas');",
        json!([]),
    )
    .await;
    app.wait_text("#trends [data-trend=glucose] .trend-values", "mg/dL")
        .await;
    app.wait_text("#trends [data-trend=cholesterol] h3", "mmol/L")
        .await;
    app.js(
        "document.querySelector('#trends').scrollIntoView()",
        json!([]),
    )
    .await;
    app.screenshot(&shots.join("11b-trends.png")).await;
    let findings = accessibility_violations(app).await;
    assert!(findings.is_empty(), "trends: {findings:?}");
}

/// Someone asks to become a patient on the practice's website: the practice's SMTP server
/// gets an email saying so (to the dietician, without the person's details), a sync brings
/// the inquiry with a notification in counts, and the dietician makes a patient of it from
/// the Inquiries screen, the form filled in from the inquiry.
async fn an_inquiry_is_emailed_and_becomes_a_patient(scene: &Scene) {
    let (app, shots) = (&scene.app, &scene.shots);
    let sent = reqwest::Client::new()
        .post(format!("{}/api/v1/inquiries", scene.server))
        .json(&json!({"name": "Orla Fenwick", "email": "orla.fenwick@example.net",
                      "phone": "+44 20 7946 0000", "message": "Help with my diet after a diagnosis, please."}))
        .send()
        .await
        .expect("the public inquiry endpoint");
    assert_eq!(sent.status().as_u16(), 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mail = loop {
        if let Some(m) = scene.mail.messages().pop() {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no email reached the SMTP server"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(mail["to"], json!([EMAIL]));
    let text = mail["data"].as_str().expect("the message");
    assert!(text.contains("Subject: New patient inquiry"), "{text}");
    for private in ["Orla", "Fenwick", "diagnosis", "7946"] {
        assert!(!text.contains(private), "{private} is in the email: {text}");
    }

    app.click("#sync-now").await;
    app.wait_text("a[href='#/inquiries'] .count", "1").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !scene.desktop.notifications().contains("1 new inquiry") {
        assert!(
            std::time::Instant::now() < deadline,
            "no notification of the inquiry: {}",
            scene.desktop.notifications()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!scene.desktop.notifications().contains("Orla"));
    app.click("a[href='#/inquiries']").await;
    app.wait_text(".inquiry h2", "Orla Fenwick").await;
    app.wait_text(".inquiry", "The practice was emailed about it")
        .await;
    app.screenshot(&shots.join("12-inquiries.png")).await;
    let findings = accessibility_violations(app).await;
    assert!(findings.is_empty(), "inquiries: {findings:?}");

    app.click(".inquiry .convert").await;
    app.wait_for(
        "the form to be filled in from the inquiry",
        "return document.querySelector('#patient-name')?.value === 'Orla Fenwick' \
           && document.querySelector('#patient-email')?.value === 'orla.fenwick@example.net';",
        json!([]),
    )
    .await;
    app.screenshot(&shots.join("12b-convert-inquiry.png")).await;
    let findings = accessibility_violations(app).await;
    assert!(findings.is_empty(), "convert form: {findings:?}");
    app.click("#save-patient").await;
    app.wait_text("#page-title", "Orla Fenwick").await;
    let platform = &scene.platform;
    assert_eq!(
        count(
            platform,
            "SELECT count(*) FROM patients WHERE email = 'orla.fenwick@example.net'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            platform,
            "SELECT count(*) FROM inquiries i JOIN patients p ON p.id = i.patient_id \
             WHERE i.status = 'converted' AND p.email = 'orla.fenwick@example.net'"
        )
        .await,
        1
    );
    // The next sync brings the inquiry's new state: nothing is left waiting.
    app.click("a[href='#/inquiries']").await;
    app.wait_text("#inquiries-empty", "No inquiries here").await;
    assert!(!in_clear(&scene.replica, "Orla Fenwick"));
}

/// The form a practice links to from its website, as a person's browser shows it (the
/// webview stands in, leaving the app for good): labelled, audited like the app's screens.
async fn the_public_inquiry_page_is_accessible(scene: &Scene) {
    let (app, shots) = (&scene.app, &scene.shots);
    app.goto(&format!("{}/inquiry", scene.server)).await;
    app.wait_text("h1", "Become a patient").await;
    // The choice of dietician lists the practice's: Dee.
    app.wait_text("#practitioner_id", "Dee").await;
    app.screenshot(&shots.join("13-public-inquiry-form.png"))
        .await;
    let findings = accessibility_violations(app).await;
    assert!(findings.is_empty(), "the public inquiry form: {findings:?}");
    // Sent without a name: the form comes back saying what to fix, with what was typed.
    app.fill("#email", "someone@example.net").await;
    app.js("document.querySelector('form').submit()", json!([]))
        .await;
    app.wait_text("#problem", "Your name: please fill this in.")
        .await;
    app.wait_for(
        "the typed email to be kept",
        "return document.querySelector('#email').value === 'someone@example.net';",
        json!([]),
    )
    .await;
    app.screenshot(&shots.join("13b-public-inquiry-problem.png"))
        .await;
    let findings = accessibility_violations(app).await;
    assert!(findings.is_empty(), "the form's problem: {findings:?}");
}

/// The dietician signs in again: the patient comes back from the platform, and the new
/// replica holds them encrypted too.
async fn signing_back_in_brings_the_records_back_encrypted(scene: &Scene) {
    let (app, shots, replica) = (&scene.app, &scene.shots, &scene.replica);
    app.fill("#email", EMAIL).await;
    app.fill("#password", PASSWORD).await;
    app.click("#sign-in").await;
    app.wait_text("#patient-count", "1 patient").await;
    app.wait_text(".row[data-patient-id]", PATIENT).await;
    app.screenshot(&shots.join("09-patients.png")).await;
    assert!(!in_clear(replica, PATIENT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keyring_the_app_says_what_to_do_and_writes_no_secret_to_disk() {
    let database = ScratchDatabase::sqlite();
    let replica = database.dir.join("laptop/replica.db");
    let desktop = Desktop::start(&[
        ("RECORDS_REPLICA", replica.display().to_string()),
        // A session bus nobody answers on: no Secret Service.
        (
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", database.dir.join("no-bus").display()),
        ),
    ]);
    let app = WebDriver::launch(
        desktop.driver_port,
        env!("CARGO_BIN_EXE_healthcare-records"),
    )
    .await;
    app.wait_text("#startup-error", "No OS keyring answered")
        .await;
    app.wait_text("#startup-error", "start one, then open the app again")
        .await;
    app.screenshot(&artifacts().join("10-no-keyring.png")).await;
    app.quit().await;
    let written: Vec<_> = std::fs::read_dir(replica.parent().expect("dir"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        written.is_empty(),
        "files written without a keyring: {written:?}"
    );
}
