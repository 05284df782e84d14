//! `records`: the platform from a terminal, through the same offline replica as the desktop
//! app. Edits work without a connection and go out at the next `records sync`.

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use domain::dto::SyncTable;
use keystore::{Keystore, Location};
use serde_json::{json, Map, Value};
use std::io::BufRead as _;
use std::path::PathBuf;
use sync_core::{Remote, Replica, Resolution, RetryPolicy, SyncError, SyncEvent, TokenStore as _};
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "records",
    version,
    about = "healthcare-records from the command line"
)]
struct Cli {
    /// The replica file [default: records.db in the platform's data directory]
    #[arg(long, global = true, env = "RECORDS_REPLICA")]
    replica: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in (password on standard input) and remember the session.
    Login {
        /// https://host[:port]; plain http only to this computer (127.0.0.1, ::1, localhost)
        /// unless --allow-insecure-http.
        #[arg(long)]
        server: String,
        #[arg(long)]
        email: String,
        /// Allow a plain-http server on another computer: the password, the tokens and every
        /// health record then cross the network unencrypted. Only on a network you trust.
        /// (Or RECORDS_ALLOW_HTTP=1 in the environment, as for the desktop app.)
        #[arg(long)]
        allow_insecure_http: bool,
    },
    /// End the session at the server and here, and remove the replica and its key. Refused
    /// while the replica holds edits the platform does not have (unsent, refused, in
    /// conflict), unless --discard.
    Logout {
        /// Remove them with the replica.
        #[arg(long)]
        discard: bool,
    },
    /// Send queued edits, then fetch what changed.
    Sync {
        #[arg(long)]
        json: bool,
        /// While the server cannot be reached, keep retrying (backoff with jitter, ~4 min).
        #[arg(long)]
        wait: bool,
        /// Then keep going: hold the platform's live stream and sync whenever a change of
        /// this account's commits (every 60 s while the stream cannot be held). Ctrl-C stops.
        #[arg(long)]
        follow: bool,
    },
    /// Server, last sync, queued edits and open conflicts.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Patients in the replica.
    #[command(subcommand)]
    Patients(PatientCommand),
    /// Healthcare documents in the replica.
    #[command(subcommand)]
    Documents(DocumentCommand),
    /// Edits the server found in conflict.
    #[command(subcommand)]
    Conflicts(ConflictCommand),
    /// Edits the server refused, with its reason: the replica shows the server's values
    /// again; redo the edit once the reason is dealt with.
    #[command(subcommand)]
    Rejected(RejectedCommand),
}

#[derive(Subcommand)]
enum PatientCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    Add(PatientFields),
    Edit {
        id: Uuid,
        #[command(flatten)]
        fields: PatientFields,
    },
    Delete {
        id: Uuid,
    },
}

/// The seed's column names, in kebab case.
#[derive(Args)]
struct PatientFields {
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    contact_details: Option<String>,
    #[arg(long)]
    medical_history: Option<String>,
    #[arg(long)]
    dietary_preferences: Option<String>,
}

impl PatientFields {
    fn into_map(self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in [
            ("name", self.name),
            ("email", self.email),
            ("contact_details", self.contact_details),
            ("medical_history", self.medical_history),
            ("dietary_preferences", self.dietary_preferences),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v));
            }
        }
        m
    }
}

#[derive(Subcommand)]
enum DocumentCommand {
    List {
        #[arg(long)]
        patient: Option<Uuid>,
        #[arg(long)]
        json: bool,
    },
    /// Attach a file (PDF, PNG, JPEG, GIF or WebP, at most 25 MiB) as a new document: kept
    /// here, sent at the next sync.
    Attach {
        #[command(flatten)]
        new: NewDocument,
        /// The file; its type is read from its name's extension.
        file: PathBuf,
    },
    /// A text document.
    Add {
        #[command(flatten)]
        new: NewDocument,
        #[arg(long)]
        content: String,
    },
    /// Change a document written here (PHP documents are read-only).
    Edit {
        id: Uuid,
        #[arg(long = "type")]
        kind: Option<String>,
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        content: Option<String>,
    },
    Delete {
        id: Uuid,
    },
    /// The document; its body is fetched (and kept) when online.
    Show {
        id: Uuid,
    },
    /// Full-text search of titles and fetched text, in the replica.
    Search {
        query: String,
        #[arg(long)]
        json: bool,
    },
}

/// What every new document says: whose, what, when, and its title.
#[derive(Args)]
struct NewDocument {
    #[arg(long)]
    patient: Uuid,
    #[arg(long = "type")]
    kind: String,
    #[arg(long)]
    date: String,
    #[arg(long)]
    title: String,
}

#[derive(Subcommand)]
enum ConflictCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Settle a conflict: keep mine, take theirs, or give the merged value. For a delete
    /// against an edit, "mine" is what this replica did: the delete, or the edited record
    /// (brought back).
    Resolve {
        id: i64,
        #[arg(long, conflicts_with = "value")]
        keep: Option<Side>,
        #[arg(long)]
        value: Option<String>,
    },
}

#[derive(Subcommand)]
enum RejectedCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a refused edit aside once it is dealt with (it stays in the sync log). A refused
    /// new record (op `insert`) is discarded from the replica with it; to send it again
    /// instead, correct it (`patients edit`, `documents edit`).
    Dismiss { mutation_id: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Side {
    Mine,
    Theirs,
}

fn data_dir() -> anyhow::Result<PathBuf> {
    let dir = directories::ProjectDirs::from("org", "healthcare-records", "records")
        .map(|d| d.data_dir().to_path_buf())
        .context("no home directory; pass --replica")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn print_rows(rows: &[Value], json: bool, columns: &[&str]) {
    if json {
        println!("{}", Value::Array(rows.to_vec()));
        return;
    }
    for r in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                r[*c]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| r[*c].to_string())
            })
            .collect();
        println!("{}", cells.join("\t"));
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("records: {e:#}");
        let offline = e
            .downcast_ref::<SyncError>()
            .is_some_and(|e| matches!(e, SyncError::Offline(_)));
        std::process::exit(if offline { 2 } else { 1 });
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let records = Records::open(cli.replica).await?;
    match cli.command {
        Command::Login {
            server,
            email,
            allow_insecure_http,
        } => records.login(&server, &email, allow_insecure_http).await,
        Command::Logout { discard } => records.logout(discard).await,
        Command::Sync { json, wait, follow } => {
            records.sync(json, wait).await?;
            if follow {
                records.follow(json).await?;
            }
            Ok(())
        }
        Command::Status { json } => records.status(json).await,
        Command::Patients(cmd) => records.patients(cmd).await,
        Command::Documents(cmd) => records.documents(cmd).await,
        Command::Conflicts(cmd) => records.conflicts(cmd).await,
        Command::Rejected(cmd) => records.rejected(cmd).await,
    }
}

/// What every command works with: the replica, where the session and the replica's key are
/// kept, and the replica's file.
struct Records {
    replica: Replica,
    creds: Keystore,
    replica_path: PathBuf,
}

impl Records {
    /// Opens the replica at `path` (the default one without), encrypted at rest (SQLCipher)
    /// and keyed from the keyring as the desktop app's is.
    async fn open(path: Option<PathBuf>) -> anyhow::Result<Self> {
        let replica_path = match path {
            Some(p) => p,
            None => data_dir()?.join("records.db"),
        };
        let creds = Keystore::for_replica(&replica_path);
        let key = creds.replica_key()?;
        let (replica, aside) = Replica::open_encrypted_or_start_over(&replica_path, &key).await?;
        if let Some(aside) = aside {
            eprintln!(
                "warning: the replica's key is gone, so it was moved to {} and a new one started; \
                 `records sync` downloads everything again",
                aside.display()
            );
        }
        Ok(Self {
            replica,
            creds,
            replica_path,
        })
    }

    /// `records login`: the password from standard input, the session into the keyring.
    async fn login(
        &self,
        server: &str,
        email: &str,
        allow_insecure_http: bool,
    ) -> anyhow::Result<()> {
        let creds = &self.creds;
        let plain_http = if allow_insecure_http {
            sync_core::PlainHttp::Allowed
        } else {
            sync_core::PlainHttp::from_env()
        };
        // Before asking for the password (login checks again, for every client).
        sync_core::check_server(server, plain_http)?;
        let mut password = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut password)
            .context("reading the password")?;
        let password = password.trim_end_matches(['\r', '\n']);
        let session = sync_core::login_with(creds, server, email, password, plain_http)
            .await
            .map_err(|e| match e {
                SyncError::Unauthorized => {
                    anyhow::anyhow!("sign-in refused: wrong email or password")
                }
                other => other.into(),
            })?;
        eprintln!(
            "signed in to {}; the session is kept in {}",
            session.server,
            creds.location()
        );
        if let Location::File(_) = creds.location() {
            eprintln!("warning: no OS keyring answered (no Secret Service on the session bus), so the tokens are in a file");
        }
        if sync_core::check_server(&session.server, sync_core::PlainHttp::LoopbackOnly).is_err() {
            eprintln!(
                "warning: plain http: passwords and health records cross the network unencrypted"
            );
        }
        Ok(())
    }

    /// `records logout`: as the desktop app signs out, nothing of the patients stays on the
    /// computer (unsent work only with `--discard`).
    async fn logout(self, discard: bool) -> anyhow::Result<()> {
        let Self {
            replica,
            creds,
            replica_path,
        } = self;
        let counts = replica.status().await?;
        if !discard && counts.pending + counts.rejected + counts.conflicts > 0 {
            let unsent = SyncError::Unsent {
                pending: counts.pending,
                refused: counts.rejected,
                undecided: counts.conflicts,
            };
            bail!("{unsent} (`records logout --discard`)");
        }
        sync_core::logout(&creds).await?;
        replica.close().await;
        creds.forget_replica_key()?;
        for path in sync_core::replica_files(&replica_path) {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", path.display()));
                }
                _ => {}
            }
        }
        eprintln!(
            "signed out; the replica {} and its key were removed",
            replica_path.display()
        );
        Ok(())
    }

    /// `records sync --follow`, after the first sync: a sync whenever the live stream says a
    /// change of this account's committed, and every 60 s while the stream cannot be held.
    async fn follow(&self, json: bool) -> anyhow::Result<()> {
        let nudge = std::sync::Arc::new(tokio::sync::Notify::new());
        loop {
            // The first sync (before `follow`) left a cursor.
            let cursor = self.replica.state("cursor").await?.unwrap_or_default();
            let nudged = {
                let nudge = nudge.clone();
                move || nudge.notify_one()
            };
            let hold = sync_core::follow_signed_in(&self.creds, &cursor, &nudged);
            tokio::pin!(hold);
            let ended = loop {
                tokio::select! {
                    ended = &mut hold => break ended,
                    () = nudge.notified() => {
                        if let Err(e) = self.sync(json, false).await {
                            eprintln!("{e:#}");
                        }
                    }
                }
            };
            match ended {
                // The platform ended it (the token's time, a scope change): hold it again.
                Ok(()) => {}
                Err(e) => {
                    eprintln!("live stream: {e}; syncing every 60 s until it is back");
                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                    if let Err(e) = self.sync(json, false).await {
                        eprintln!("{e:#}");
                    }
                }
            }
        }
    }

    /// `records sync`: push the queue, pull what changed (retrying with `--wait`).
    async fn sync(&self, json: bool, wait: bool) -> anyhow::Result<()> {
        let (replica, creds) = (&self.replica, &self.creds);
        if creds.load()?.is_none() {
            bail!("not signed in: run `records login` first");
        }
        let policy = RetryPolicy {
            attempts: if wait { 8 } else { 1 },
            ..RetryPolicy::default()
        };
        let report = |e: SyncEvent| {
            if let SyncEvent::Failed {
                reason,
                retry_in: Some(wait),
            } = e
            {
                eprintln!("{reason}; retrying in {:.1} s", wait.as_secs_f64());
            }
        };
        let summary = sync_core::sync_signed_in(replica, creds, policy, &report).await;
        let summary = match summary {
            Ok(s) => s,
            Err(e @ SyncError::Offline(_)) => {
                let pending = replica.pending().await?;
                eprintln!("offline: {pending} edit(s) stay queued until the server can be reached");
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        replica.record_sync().await?;
        if json {
            println!(
                "{}",
                json!({"pushed": summary.pushed, "conflicts": summary.conflicts, "rejected": summary.rejected, "pulled": summary.pulled})
            );
        } else {
            println!(
                "pushed {}, conflicts {}, rejected {}, pulled {}",
                summary.pushed, summary.conflicts, summary.rejected, summary.pulled
            );
        }
        Ok(())
    }

    /// `records status`: the session, the last sync and what waits.
    async fn status(&self, json: bool) -> anyhow::Result<()> {
        let (replica, creds) = (&self.replica, &self.creds);
        let server = creds.load()?.map(|c| c.server);
        let status = json!({
            "server": server,
            "last_sync": replica.state("last_sync").await?,
            "pending": replica.pending().await?,
            "conflicts": replica.conflicts().await?.len(),
            "rejected": replica.rejected_edits().await?.len(),
            "replica": self.replica_path.display().to_string(),
            "session_kept_in": match creds.location() {
                Location::Keyring { .. } => "keyring",
                Location::File(_) => "file",
            },
        });
        if json {
            println!("{status}");
        } else {
            println!(
                "server:    {}",
                status["server"].as_str().unwrap_or("(not signed in)")
            );
            println!(
                "last sync: {}",
                status["last_sync"].as_str().unwrap_or("never")
            );
            println!("pending:   {}", status["pending"]);
            println!("conflicts: {}", status["conflicts"]);
            println!("refused:   {}", status["rejected"]);
            println!("session:   {}", creds.location());
        }
        Ok(())
    }

    async fn patients(&self, cmd: PatientCommand) -> anyhow::Result<()> {
        let replica = &self.replica;
        match cmd {
            PatientCommand::List { json } => {
                let mut rows = replica.rows(SyncTable::Patients).await?;
                rows.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                print_rows(&rows, json, &["id", "name", "email", "dietary_preferences"]);
            }
            PatientCommand::Add(fields) => {
                let fields = fields.into_map();
                if !fields.contains_key("name") || !fields.contains_key("email") {
                    bail!("a new patient needs --name and --email");
                }
                println!("{}", replica.insert(SyncTable::Patients, fields).await?);
            }
            PatientCommand::Edit { id, fields } => {
                let fields = fields.into_map();
                if fields.is_empty() {
                    bail!("nothing to change: give at least one field, e.g. --dietary-preferences");
                }
                replica.update(SyncTable::Patients, id, fields).await?;
            }
            PatientCommand::Delete { id } => replica.delete(SyncTable::Patients, id).await?,
        }
        Ok(())
    }

    async fn documents(&self, cmd: DocumentCommand) -> anyhow::Result<()> {
        let (replica, creds) = (&self.replica, &self.creds);
        match cmd {
            DocumentCommand::List { patient, json } => {
                let rows: Vec<Value> = replica
                    .rows(SyncTable::HealthcareDocuments)
                    .await?
                    .into_iter()
                    .filter(|d| patient.is_none_or(|p| d["patient_id"] == p.to_string()))
                    .collect();
                print_rows(&rows, json, &["id", "date", "type", "title"]);
            }
            DocumentCommand::Add {
                new:
                    NewDocument {
                        patient,
                        kind,
                        date,
                        title,
                    },
                content,
            } => {
                let fields = json!({"patient_id": patient, "type": kind, "date": date, "title": title, "content": content});
                let Value::Object(fields) = fields else {
                    unreachable!("a json object")
                };
                println!(
                    "{}",
                    replica
                        .insert(SyncTable::HealthcareDocuments, fields)
                        .await?
                );
            }
            DocumentCommand::Attach {
                new:
                    NewDocument {
                        patient,
                        kind,
                        date,
                        title,
                    },
                file,
            } => {
                let extension = file
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase);
                let mime_type = match extension.as_deref() {
                    Some("pdf") => "application/pdf",
                    Some("png") => "image/png",
                    Some("jpg" | "jpeg") => "image/jpeg",
                    Some("gif") => "image/gif",
                    Some("webp") => "image/webp",
                    _ => bail!(
                        "{}: attach a .pdf, .png, .jpg, .gif or .webp file",
                        file.display()
                    ),
                };
                let bytes =
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                let id = replica
                    .attach(sync_core::files::Attachment {
                        patient_id: patient,
                        kind,
                        date,
                        title,
                        mime_type: mime_type.into(),
                        bytes,
                    })
                    .await?;
                println!("{id}");
            }
            DocumentCommand::Edit {
                id,
                kind,
                date,
                title,
                content,
            } => {
                let mut fields = Map::new();
                for (k, v) in [
                    ("type", kind),
                    ("date", date),
                    ("title", title),
                    ("content", content),
                ] {
                    if let Some(v) = v {
                        fields.insert(k.into(), Value::String(v));
                    }
                }
                if fields.is_empty() {
                    bail!("nothing to change: give at least one of --type, --date, --title, --content");
                }
                replica
                    .update(SyncTable::HealthcareDocuments, id, fields)
                    .await?;
            }
            DocumentCommand::Delete { id } => {
                replica.delete(SyncTable::HealthcareDocuments, id).await?
            }
            DocumentCommand::Show { id } => {
                let doc = replica
                    .row(SyncTable::HealthcareDocuments, id)
                    .await?
                    .context("no such document in the replica")?;
                println!("{}", serde_json::to_string_pretty(&doc)?);
                let body = match creds.load()? {
                    Some(s) => {
                        let remote = Remote::new(&s.server, &s.access_token);
                        sync_core::document_body(replica, &remote, id)
                            .await
                            .map(Some)
                    }
                    None => replica.cached_body(id).await,
                };
                match body {
                    Ok(Some((mime, bytes))) if mime.starts_with("text/") => {
                        println!("\n{}", String::from_utf8_lossy(&bytes))
                    }
                    Ok(Some((mime, bytes))) => {
                        println!("\n({mime}, {} bytes; open it in the app)", bytes.len())
                    }
                    Ok(None) => println!("\n(body not fetched yet; sign in and run this again)"),
                    Err(SyncError::Offline(_)) => println!("\n(body not fetched yet: offline)"),
                    Err(e) => return Err(e.into()),
                }
            }
            DocumentCommand::Search { query, json } => {
                let rows = replica.search_documents(&query, 50).await?;
                print_rows(&rows, json, &["id", "date", "type", "title"]);
            }
        }
        Ok(())
    }

    async fn conflicts(&self, cmd: ConflictCommand) -> anyhow::Result<()> {
        let replica = &self.replica;
        match cmd {
            ConflictCommand::List { json } => {
                let rows: Vec<Value> = replica
                    .conflicts()
                    .await?
                    .into_iter()
                    .map(|c| {
                        json!({"id": c.id, "table": c.table, "row_id": c.row_id, "kind": c.kind,
                           "field": c.field, "server_value": c.server_value,
                           "client_value": c.client_value})
                    })
                    .collect();
                let columns = [
                    "id",
                    "table",
                    "row_id",
                    "kind",
                    "field",
                    "server_value",
                    "client_value",
                ];
                print_rows(&rows, json, &columns);
            }
            ConflictCommand::Resolve { id, keep, value } => {
                let conflict = replica
                    .conflicts()
                    .await?
                    .into_iter()
                    .find(|c| c.id == id)
                    .context("no open conflict with this id (see `records conflicts list`)")?;
                let choice = match (keep, value) {
                    (Some(Side::Mine), _) => Resolution::Mine,
                    (Some(Side::Theirs), _) => Resolution::Theirs,
                    (None, Some(v)) => Resolution::Value(Value::String(v)),
                    (None, None) => {
                        bail!("say which side wins: --keep mine, --keep theirs or --value V")
                    }
                };
                replica.resolve(&conflict, choice).await?;
            }
        }
        Ok(())
    }

    async fn rejected(&self, cmd: RejectedCommand) -> anyhow::Result<()> {
        let replica = &self.replica;
        match cmd {
            RejectedCommand::List { json } => {
                let rows: Vec<Value> = replica
                    .rejected_edits()
                    .await?
                    .into_iter()
                    .map(|r| {
                        json!({"mutation_id": r.mutation_id, "table": r.table, "row_id": r.row_id,
                           "op": r.op, "code": r.code, "reason": r.reason, "fields": r.fields,
                           "created_at": r.created_at})
                    })
                    .collect();
                let columns = [
                    "mutation_id",
                    "table",
                    "row_id",
                    "op",
                    "code",
                    "reason",
                    "fields",
                ];
                print_rows(&rows, json, &columns);
            }
            RejectedCommand::Dismiss { mutation_id } => {
                replica.dismiss_refusal(&mutation_id).await?
            }
        }
        Ok(())
    }
}
