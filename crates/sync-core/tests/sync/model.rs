//! A randomized, model-based test of offline sync. Three replicas of one dietician and a REST
//! writer (the same dietician on the web) make random creates, edits (mostly of the same two
//! fields), deletes and document changes; syncs run normally, are cut off mid-flight, lose
//! their reply, or meet a server that is stopped or killed; at the end every conflict is
//! settled at random. Then it checks:
//! - every replica equals the server (a fresh replica's first sync);
//! - every write is on the server, or was dropped by someone who knew it (a later write built
//!   on it, a delete of the row as they saw it), or was shown to a person (in a conflict or a
//!   refused edit);
//! - no replica ever got a conflict with only its own earlier writes on the other side;
//! - nothing is duplicated.
//!
//! Every write appends a token (`<s1-r2.57>`: seed 1, replica 2, step 57) to the field's value as its
//! writer sees it, so a value carries the history its writer knew: a token missing from the
//! final value was dropped by someone, and the checks ask who knew it.
//!
//! Seeds: fixed in CI ([`CI_SEEDS`]), printed as each runs. `SYNC_MODEL_SEEDS=7,8` replays
//! chosen ones, `SYNC_MODEL_MINUTES=5` runs fresh seeds for that long, `SYNC_MODEL_STEPS`
//! sets the steps per seed; `scripts/sync-model` wraps these.

use crate::support::*;
use domain::dto::{ConflictKind, SyncTable};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync_core::{sync, Remote, Replica, Resolution, SyncError};
use uuid::Uuid;

mod randomized_replicas_and_a_web_writer_converge_and_lose_nothing {
    use server::testing::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::run_seeds(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::run_seeds(Backend::Postgres).await;
    }
}

const CI_SEEDS: &[u64] = &[1, 2];
const STEPS: usize = 150;
const REPLICAS: usize = 3;
/// The fields edits fight over most (one more now and then).
const HOT_FIELDS: [&str; 2] = ["dietary_preferences", "medical_history"];
const OTHER_FIELD: &str = "contact_details";

/// Each seed on a fresh platform and database, so that a seed replays alone.
async fn run_seeds(backend: server::testing::Backend) {
    let steps = env_number("SYNC_MODEL_STEPS").unwrap_or(STEPS as u64) as usize;
    let seeds: Vec<u64> = match std::env::var("SYNC_MODEL_SEEDS") {
        Ok(list) => list
            .split(',')
            .map(|s| s.trim().parse().expect("SYNC_MODEL_SEEDS: numbers"))
            .collect(),
        Err(_) => CI_SEEDS.to_vec(),
    };
    let until =
        env_number("SYNC_MODEL_MINUTES").map(|m| Instant::now() + Duration::from_secs(60 * m));
    let mut total = 0;
    let mut ran = 0;
    let mut next_fresh = rand::random::<u32>() as u64;
    loop {
        let seed = match until {
            Some(end) if Instant::now() >= end => break,
            Some(_) => {
                next_fresh += 1;
                next_fresh
            }
            None if ran >= seeds.len() => break,
            None => seeds[ran],
        };
        let Some(database) = server::testing::ScratchDatabase::new(backend).await else {
            return;
        };
        eprintln!(
            "sync model on {backend:?}: seed {seed}, {steps} steps (replay: SYNC_MODEL_SEEDS={seed})"
        );
        Model::run(world_on(database, as_configured).await, seed, steps).await;
        total += steps;
        ran += 1;
    }
    eprintln!("sync model on {backend:?}: {ran} seeds, {total} steps, every invariant held");
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().expect("a number"))
}

/// One write, as its token identifies it.
struct Write {
    table: SyncTable,
    row: Uuid,
    field: &'static str,
    token: String,
}

struct Model {
    w: World,
    seed: u64,
    rng: StdRng,
    replicas: Vec<Replica>,
    remote: Remote,
    /// The same server through a proxy that, when armed, drops the reply to the next push.
    lossy: Remote,
    armed: Arc<AtomicBool>,
    up: bool,
    step: usize,
    writes: Vec<Write>,
    /// Text of what people were shown: conflicts (both sides) and refused edits.
    shown: String,
    /// Text of rows as their deleters saw them when deleting.
    known_to_deleters: String,
    /// Conflicts already checked, by replica and id.
    seen: HashSet<(usize, i64)>,
}

impl Model {
    async fn run(w: World, seed: u64, steps: usize) {
        let remote = Remote::new(&w.base, &w.token);
        let armed = Arc::new(AtomicBool::new(false));
        let proxy = lossy_proxy(
            w.base.trim_start_matches("http://").to_owned(),
            armed.clone(),
        )
        .await;
        let mut replicas = Vec::new();
        for i in 0..REPLICAS {
            let path = w.dir.join(format!("model-{seed}-r{i}.db"));
            replicas.push(Replica::open(&path).await.expect("replica"));
        }
        let mut m = Model {
            lossy: Remote::new(&proxy, &w.token),
            w,
            seed,
            rng: StdRng::seed_from_u64(seed),
            replicas,
            remote,
            armed,
            up: true,
            step: 0,
            writes: Vec::new(),
            shown: String::new(),
            known_to_deleters: String::new(),
            seen: HashSet::new(),
        };
        for step in 0..steps {
            m.step = step;
            m.act().await;
        }
        m.settle().await;
        m.check().await;
    }

    /// A write's token (the seed in it keeps a failure message unambiguous).
    fn token(&self, actor: &str) -> String {
        format!("<s{}-{actor}.{}>", self.seed, self.step)
    }

    /// A sync must end (the client's timeouts see to it): a hang fails with its seed.
    async fn bounded<T>(&self, sync: impl std::future::Future<Output = T>) -> T {
        match tokio::time::timeout(Duration::from_secs(120), sync).await {
            Ok(done) => done,
            Err(_) => self.fail("a sync hung for two minutes"),
        }
    }

    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!("seed {} step {}: {what}", self.seed, self.step)
    }

    async fn act(&mut self) {
        match self.rng.gen_range(0..100) {
            0..=44 => {
                let i = self.rng.gen_range(0..REPLICAS);
                self.replica_edit(i).await;
            }
            45..=59 => {
                if self.up {
                    self.web_edit().await;
                }
            }
            60..=94 => {
                let i = self.rng.gen_range(0..REPLICAS);
                self.sync_with_faults(i).await;
            }
            _ => self.server_fault().await,
        }
    }

    async fn pick(&mut self, r: usize, table: SyncTable) -> Option<Value> {
        let rows = self.replicas[r].rows(table).await.expect("rows");
        (!rows.is_empty()).then(|| rows[self.rng.gen_range(0..rows.len())].clone())
    }

    async fn replica_edit(&mut self, i: usize) {
        let actor = format!("r{i}");
        let token = self.token(&actor);
        let r = &self.replicas[i];
        match self.rng.gen_range(0..100) {
            0..=11 => {
                let name = format!("P {token}");
                let email = format!(
                    "{}@example.org",
                    token.trim_matches(['<', '>']).replace('.', "-")
                );
                let id = r
                    .insert(
                        SyncTable::Patients,
                        fields(json!({"name": name, "email": email})),
                    )
                    .await
                    .expect("create patient");
                self.wrote(SyncTable::Patients, id, "name", token);
            }
            12..=54 => {
                let Some(p) = self.pick(i, SyncTable::Patients).await else {
                    return;
                };
                let field = if self.rng.gen_bool(0.85) {
                    HOT_FIELDS[self.rng.gen_range(0..HOT_FIELDS.len())]
                } else {
                    OTHER_FIELD
                };
                let value = appended(&p[field], &token);
                let id = row_id(&p);
                self.replicas[i]
                    .update(SyncTable::Patients, id, fields(json!({ field: value })))
                    .await
                    .expect("edit patient");
                self.wrote(SyncTable::Patients, id, field, token);
            }
            55..=59 => {
                let Some(p) = self.pick(i, SyncTable::Patients).await else {
                    return;
                };
                let id = row_id(&p);
                self.remember_before_delete(i, SyncTable::Patients, id)
                    .await;
                self.trace(format_args!("r{i} deletes patient {id}"));
                self.replicas[i]
                    .delete(SyncTable::Patients, id)
                    .await
                    .expect("delete patient");
            }
            60..=71 => {
                let Some(p) = self.pick(i, SyncTable::Patients).await else {
                    return;
                };
                let doc = json!({"patient_id": p["id"], "type": "progress note", "date": "2026-11-02",
                                 "title": format!("Note {token}"), "content": format!("Seen {token}")});
                let id = self.replicas[i]
                    .insert(SyncTable::HealthcareDocuments, fields(doc))
                    .await
                    .expect("create document");
                self.trace(format_args!("r{i} creates document {id} of {}", p["id"]));
                self.wrote(SyncTable::HealthcareDocuments, id, "title", token);
            }
            72..=93 => {
                let Some(d) = self.pick(i, SyncTable::HealthcareDocuments).await else {
                    return;
                };
                let title = appended(&d["title"], &token);
                if title.chars().count() > 280 {
                    return;
                }
                let id = row_id(&d);
                let edited = self.replicas[i]
                    .update(
                        SyncTable::HealthcareDocuments,
                        id,
                        fields(json!({"title": title})),
                    )
                    .await;
                match edited {
                    Ok(()) => self.wrote(SyncTable::HealthcareDocuments, id, "title", token),
                    // Its patient was deleted here: the replica refuses, nothing is written.
                    Err(SyncError::NotFound("patient")) => {}
                    Err(e) => self.fail(format!("editing a document on r{i}: {e}")),
                }
            }
            _ => {
                let Some(d) = self.pick(i, SyncTable::HealthcareDocuments).await else {
                    return;
                };
                let id = row_id(&d);
                self.remember_before_delete(i, SyncTable::HealthcareDocuments, id)
                    .await;
                self.trace(format_args!("r{i} deletes document {id}"));
                self.replicas[i]
                    .delete(SyncTable::HealthcareDocuments, id)
                    .await
                    .expect("delete document");
            }
        }
    }

    /// What a replica knows of a row it deletes (a patient: with its documents).
    async fn remember_before_delete(&mut self, i: usize, table: SyncTable, id: Uuid) {
        let r = &self.replicas[i];
        let mut known = r
            .row(table, id)
            .await
            .expect("row")
            .unwrap_or_default()
            .to_string();
        if table == SyncTable::Patients {
            for d in r.rows(SyncTable::HealthcareDocuments).await.expect("docs") {
                if d["patient_id"] == json!(id) {
                    known.push_str(&d.to_string());
                }
            }
        }
        self.known_to_deleters.push_str(&known);
    }

    /// `SYNC_MODEL_TRACE=1`: says what each step does (to replay a failing seed by eye).
    fn trace(&self, what: impl std::fmt::Display) {
        if std::env::var_os("SYNC_MODEL_TRACE").is_some() {
            eprintln!("  {:>4} {what}", self.step);
        }
    }

    fn wrote(&mut self, table: SyncTable, row: Uuid, field: &'static str, token: String) {
        self.trace(format_args!(
            "{token} writes {field} of {} {row}",
            table.as_str()
        ));
        self.writes.push(Write {
            table,
            row,
            field,
            token,
        });
    }

    /// Whether a web request did what it asked (`expected`). A 404 is no failure: a push
    /// that a cut-off sync left running at the server may have deleted the row between the
    /// read and the write.
    fn web_done(&self, status: u16, expected: u16) -> bool {
        match status {
            s if s == expected => true,
            404 => false,
            s => self.fail(format!("the web writer got {s}, not {expected}")),
        }
    }

    /// The dietician on the web: reads the current row, then writes (no offline base).
    async fn web_edit(&mut self) {
        let token = self.token("web");
        let (_, page) = self.w.rest(Method::GET, "/patients?limit=200", None).await;
        let patients = page["items"].as_array().cloned().unwrap_or_default();
        let choice = self.rng.gen_range(0..100);
        if patients.is_empty() || choice < 15 {
            let email = format!(
                "{}@example.org",
                token.trim_matches(['<', '>']).replace('.', "-")
            );
            let (status, p) = self
                .w
                .rest(
                    Method::POST,
                    "/patients",
                    Some(json!({"name": format!("P {token}"), "email": email})),
                )
                .await;
            assert_eq!(status, 201, "seed {}: {p}", self.seed);
            self.wrote(SyncTable::Patients, row_id(&p), "name", token);
            return;
        }
        let p = patients[self.rng.gen_range(0..patients.len())].clone();
        let pid = row_id(&p);
        match choice {
            15..=64 => {
                let field = HOT_FIELDS[self.rng.gen_range(0..HOT_FIELDS.len())];
                let body = json!({ field: appended(&p[field], &token) });
                let (status, _) = self
                    .w
                    .rest(Method::PUT, &format!("/patients/{pid}"), Some(body))
                    .await;
                if !self.web_done(status, 200) {
                    return;
                }
                self.wrote(SyncTable::Patients, pid, field, token);
            }
            65..=69 => {
                let (_, docs) = self
                    .w
                    .rest(Method::GET, &format!("/patients/{pid}/documents"), None)
                    .await;
                self.known_to_deleters.push_str(&p.to_string());
                self.known_to_deleters.push_str(&docs.to_string());
                self.trace(format_args!("web deletes patient {pid}"));
                let (status, _) = self
                    .w
                    .rest(Method::DELETE, &format!("/patients/{pid}"), None)
                    .await;
                // Gone already (404) is as good: nothing else to do either way.
                self.web_done(status, 204);
            }
            70..=84 => {
                let doc = json!({"type": "progress note", "date": "2026-11-02",
                                 "title": format!("Note {token}"), "content": format!("Seen {token}")});
                let (status, d) = self
                    .w
                    .rest(
                        Method::POST,
                        &format!("/patients/{pid}/documents"),
                        Some(doc),
                    )
                    .await;
                if !self.web_done(status, 201) {
                    return;
                }
                self.wrote(SyncTable::HealthcareDocuments, row_id(&d), "title", token);
            }
            _ => {
                let (_, docs) = self
                    .w
                    .rest(Method::GET, &format!("/patients/{pid}/documents"), None)
                    .await;
                let docs = docs["items"].as_array().cloned().unwrap_or_default();
                if docs.is_empty() {
                    return;
                }
                let d = docs[self.rng.gen_range(0..docs.len())].clone();
                let title = appended(&d["title"], &token);
                if title.chars().count() > 280 {
                    return;
                }
                let did = row_id(&d);
                let (status, _) = self
                    .w
                    .rest(
                        Method::PUT,
                        &format!("/documents/{did}"),
                        Some(json!({"title": title})),
                    )
                    .await;
                if !self.web_done(status, 200) {
                    return;
                }
                self.wrote(SyncTable::HealthcareDocuments, did, "title", token);
            }
        }
    }

    async fn sync_with_faults(&mut self, i: usize) {
        let r = &self.replicas[i];
        let outcome = match self.rng.gen_range(0..100) {
            // Cut off mid-flight (the app closed, the laptop slept).
            0..=14 => {
                let after = Duration::from_millis(self.rng.gen_range(1..40));
                tokio::time::timeout(after, sync(r, &self.remote))
                    .await
                    .ok()
            }
            // The reply to the push is lost on the way back.
            15..=29 => {
                self.armed.store(true, Ordering::SeqCst);
                let outcome = self.bounded(sync(r, &self.lossy)).await;
                self.armed.store(false, Ordering::SeqCst);
                Some(outcome)
            }
            _ => Some(self.bounded(sync(r, &self.remote)).await),
        };
        self.trace(format_args!("r{i} syncs: {outcome:?}"));
        match outcome {
            Some(Ok(_)) | None => {}
            Some(Err(SyncError::Offline(_))) => {}
            Some(Err(e)) if self.up => self.fail(format!("sync of r{i} failed: {e}")),
            Some(Err(_)) => {}
        }
        self.harvest(i).await;
    }

    async fn server_fault(&mut self) {
        self.trace(if self.up { "server down" } else { "server up" });
        if self.up {
            if self.rng.gen_bool(0.5) {
                self.w.stop().await;
            } else {
                self.w.platform.kill().await;
            }
            self.up = false;
        } else {
            self.w.start_again().await;
            self.up = true;
        }
    }

    /// Notes what replica `i` shows its person (conflicts, refusals), and checks each new
    /// field conflict against the server's history: the field's last writer before it must
    /// be someone else, never this replica's own earlier edit.
    async fn harvest(&mut self, i: usize) {
        let device = self.replicas[i].device_id().to_owned();
        for c in self.replicas[i].conflicts().await.expect("conflicts") {
            let (theirs, mine) = (c.server_value.to_string(), c.client_value.to_string());
            self.trace(format_args!(
                "r{i} shows {:?} {} of {}: {theirs} / {mine}",
                c.kind, c.field, c.row_id
            ));
            if c.kind == ConflictKind::Fields && self.seen.insert((i, c.id)) {
                let history: Vec<(String, Option<String>)> = sqlx::query_as(
                    "SELECT fields, device_id FROM row_changes WHERE table_name = $1 \
                     AND row_id = $2 AND version <= $3 ORDER BY version DESC",
                )
                .bind(c.table.as_str())
                .bind(c.row_id.to_string())
                .bind(c.server_version)
                .fetch_all(self.w.db.pool())
                .await
                .expect("row history");
                let last_writer = history
                    .iter()
                    .find(|(fields, _)| fields.split(',').any(|f| f == c.field))
                    .and_then(|(_, device)| device.as_deref());
                if last_writer == Some(device.as_str()) {
                    self.fail(format!(
                        "r{i} conflicts with itself on {}: {theirs} vs {mine}",
                        c.field
                    ));
                }
            }
            self.shown.push_str(&theirs);
            self.shown.push_str(&mine);
        }
        for r in self.replicas[i].rejected_edits().await.expect("rejected") {
            self.shown
                .push_str(&Value::Object(r.fields.clone()).to_string());
        }
    }

    /// The server comes back; every replica syncs and settles its conflicts at random until
    /// nothing is left to send or decide.
    async fn settle(&mut self) {
        if !self.up {
            self.w.start_again().await;
            self.up = true;
        }
        for round in 0.. {
            if round == 30 {
                self.fail("replicas did not settle in 30 rounds");
            }
            let mut busy = false;
            for i in 0..REPLICAS {
                let s = self
                    .bounded(sync(&self.replicas[i], &self.remote))
                    .await
                    .unwrap_or_else(|e| self.fail(format!("final sync of r{i}: {e}")));
                self.trace(format_args!("r{i} syncs: {s:?}"));
                self.harvest(i).await;
                busy |= s.pushed + s.conflicts + s.rejected > 0;
                for c in self.replicas[i].conflicts().await.expect("conflicts") {
                    busy = true;
                    self.resolve(i, &c).await;
                }
                for r in self.replicas[i].rejected_edits().await.expect("rejected") {
                    self.replicas[i]
                        .dismiss_refusal(&r.mutation_id)
                        .await
                        .expect("dismiss");
                }
                busy |= self.replicas[i].pending().await.expect("pending") > 0;
            }
            if !busy {
                break;
            }
        }
    }

    async fn resolve(&mut self, i: usize, c: &sync_core::ConflictRecord) {
        let choice = match (c.kind, self.rng.gen_range(0..3)) {
            (_, 0) => Resolution::Theirs,
            (ConflictKind::Fields, 1) => {
                let both = format!("{} {}", text(&c.server_value), text(&c.client_value));
                Resolution::Value(Value::String(both.trim().to_owned()))
            }
            _ => Resolution::Mine,
        };
        if choice == Resolution::Mine && c.kind == ConflictKind::EditedOnServer {
            // Deleting after all, knowing the row as it is now.
            self.remember_before_delete(i, c.table, c.row_id).await;
        }
        self.trace(format_args!(
            "r{i} resolves {:?} {} of {}: {choice:?}",
            c.kind, c.field, c.row_id
        ));
        let mut settled = self.replicas[i].resolve(c, choice).await;
        if let Err(SyncError::Field(_)) = settled {
            // The merge breaks the platform's rules (both titles together pass 300
            // characters): refused at once, before anything is queued, as the app shows a
            // person; they keep their own value instead.
            settled = self.replicas[i].resolve(c, Resolution::Mine).await;
        }
        match settled {
            Ok(()) => {}
            // The row went away meanwhile: the server's side is all there is to take.
            Err(SyncError::NotFound(_)) => self.replicas[i]
                .resolve(c, Resolution::Theirs)
                .await
                .expect("resolve theirs"),
            Err(e) => self.fail(format!("resolving on r{i}: {e}")),
        }
    }

    async fn check(&mut self) {
        let observer = Replica::open(&self.w.dir.join(format!("model-{}-observer.db", self.seed)))
            .await
            .expect("observer");
        self.bounded(sync(&observer, &self.remote))
            .await
            .expect("observer sync");
        let truth = snapshot(&observer).await;
        for (i, r) in self.replicas.iter().enumerate() {
            let mine = snapshot(r).await;
            if mine != truth {
                let differs: Vec<_> = truth
                    .iter()
                    .filter(|(k, v)| mine.get(*k) != Some(v))
                    .map(|(k, _)| k)
                    .chain(mine.keys().filter(|k| !truth.contains_key(*k)))
                    .collect();
                self.fail(format!("r{i} differs from the server at {differs:?}"));
            }
        }
        for w in &self.writes {
            // On the server, or dropped by a delete that knew it (a delete is a write too; the
            // row may have been restored since by someone who chose their own version), or
            // shown to a person.
            let kept = truth
                .get(&(w.table.as_str(), w.row))
                .is_some_and(|row| text(&row[w.field]).contains(&w.token));
            if !kept && !self.known_to_deleters.contains(&w.token) && !self.shown.contains(&w.token)
            {
                let history: Vec<(i64, String, Option<String>)> = sqlx::query_as(
                    "SELECT version, fields, device_id FROM row_changes WHERE row_id = $1 ORDER BY version",
                )
                .bind(w.row.to_string())
                .fetch_all(self.w.db.pool())
                .await
                .expect("row history");
                let devices: Vec<&str> = self.replicas.iter().map(|r| r.device_id()).collect();
                eprintln!("row history {history:?}; devices r0.. {devices:?}");
                self.fail(format!(
                    "write {} to {} of {} {} was lost unseen; the server has {}",
                    w.token,
                    w.field,
                    w.table.as_str(),
                    w.row,
                    truth
                        .get(&(w.table.as_str(), w.row))
                        .map_or("no such row".to_owned(), |r| r.to_string())
                ));
            }
        }
        let mut names = HashSet::new();
        for ((table, _), row) in &truth {
            if *table == "patients" && !names.insert(row["name"].to_string()) {
                self.fail(format!("patient {} exists twice", row["name"]));
            }
        }
    }
}

/// The rows of patients and documents, as the checks compare them.
async fn snapshot(r: &Replica) -> BTreeMap<(&'static str, Uuid), Value> {
    let mut out = BTreeMap::new();
    for (table, cols) in [
        (
            SyncTable::Patients,
            &[
                "version",
                "name",
                "email",
                "contact_details",
                "medical_history",
                "dietary_preferences",
            ][..],
        ),
        (
            SyncTable::HealthcareDocuments,
            &["version", "patient_id", "type", "date", "title"][..],
        ),
    ] {
        for row in r.rows(table).await.expect("rows") {
            let picked: Map<String, Value> = cols
                .iter()
                .map(|c| ((*c).to_owned(), row[*c].clone()))
                .collect();
            out.insert((table.as_str(), row_id(&row)), Value::Object(picked));
        }
    }
    out
}

fn row_id(row: &Value) -> Uuid {
    row["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("row id")
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn appended(current: &Value, token: &str) -> String {
    format!("{} {token}", text(current)).trim().to_owned()
}
