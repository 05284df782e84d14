//! `records-server`: run the platform API, migrate its database, or create an admin.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use domain::text::{Email, Label, Password};
use domain::UserType;
use server::config::{self, Config};
use server::db::Db;
use std::io::BufRead as _;
use std::path::PathBuf;

/// The server allocates a little per request on many threads; mimalloc's thread-local heaps
/// measurably beat glibc's allocator there (see the README's benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "records-server",
    version,
    about = "The healthcare-records platform API"
)]
struct Cli {
    /// Database URL: sqlite:PATH or postgres://… [default: a SQLite file in the data directory]
    #[arg(long, env = "RECORDS_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Where the embedded database and generated secret live.
    #[arg(long, env = "RECORDS_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve /api/v1 (migrating the database first).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "RECORDS_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Largest request body in bytes.
        #[arg(long, env = "RECORDS_MAX_BODY_BYTES", default_value_t = 25 * 1024 * 1024)]
        max_body_bytes: usize,
        /// Database connections in the pool.
        #[arg(long, env = "RECORDS_DB_MAX_CONNECTIONS", default_value_t = 8)]
        db_max_connections: u32,
        /// Days deletions stay in the change feed; older replica cursors get 410.
        #[arg(long, env = "RECORDS_TOMBSTONE_RETENTION_DAYS", default_value_t = 90)]
        tombstone_retention_days: u64,
        /// Background job workers in this instance (PHP pulls, requests); 0 leaves the jobs
        /// to other instances.
        #[arg(long, env = "RECORDS_WORKERS", default_value_t = 4)]
        workers: usize,
        /// Minutes between scheduled pulls of each linked patient.
        #[arg(long, env = "RECORDS_PULL_INTERVAL_MINUTES", default_value_t = 15)]
        pull_interval_minutes: u64,
        /// The practice's Carepatron API root; with RECORDS_CAREPATRON_API_KEY, patients,
        /// documents and shares are pushed there.
        #[arg(long, env = "RECORDS_CAREPATRON_URL")]
        carepatron_url: Option<String>,
        /// Requests per second the Carepatron key allows.
        #[arg(long, env = "RECORDS_CAREPATRON_RATE", default_value_t = 10.0)]
        carepatron_rate: f64,
        /// Seconds between asking Carepatron for clients changed there.
        #[arg(long, env = "RECORDS_CAREPATRON_POLL_SECONDS", default_value_t = 60)]
        carepatron_poll_seconds: u64,
        /// Seconds Carepatron's lists may take to show a new resource: a create whose answer
        /// was lost is sent again only if it has not shown this long after it failed.
        #[arg(
            long,
            env = "RECORDS_CAREPATRON_LIST_LAG_SECONDS",
            default_value_t = 60
        )]
        carepatron_list_lag_seconds: u64,
    },
    /// Run database migrations and exit.
    Migrate,
    /// Create an admin; the password is read from standard input (one line).
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Do nothing (and succeed) when an admin exists already: for first-start scripts.
        #[arg(long)]
        if_no_admin: bool,
    },
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RECORDS_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = std::env::var("RECORDS_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    let cli = Cli::parse();
    let data_dir = match cli.data_dir {
        Some(d) => d,
        None => config::default_data_dir()?,
    };
    let database_url = match cli.database_url {
        Some(url) => url,
        None => {
            config::create_private_dir(&data_dir)?;
            config::default_database_url(&data_dir)
        }
    };
    match cli.command {
        Command::Serve {
            bind,
            max_body_bytes,
            db_max_connections,
            tombstone_retention_days,
            workers,
            pull_interval_minutes,
            carepatron_url,
            carepatron_rate,
            carepatron_poll_seconds,
            carepatron_list_lag_seconds,
        } => {
            let addr = config::parse_bind(&bind)?;
            let (secret, generated) =
                config::load_or_create_secret("RECORDS_JWT_SECRET", "jwt-secret", &data_dir)?;
            if generated {
                tracing::warn!(
                    path = %data_dir.join("jwt-secret").display(),
                    "generated a JWT signing secret; set RECORDS_JWT_SECRET to share one between instances"
                );
            }
            let (secrets_key, generated) =
                config::load_or_create_secret("RECORDS_SECRETS_KEY", "secrets-key", &data_dir)?;
            if generated {
                tracing::warn!(
                    path = %data_dir.join("secrets-key").display(),
                    "generated the key that encrypts PHP credentials; set RECORDS_SECRETS_KEY to share one between instances"
                );
            }
            let mut config = Config::new(database_url, secret);
            config.secrets_key = secrets_key;
            config.max_body_bytes = max_body_bytes;
            config.db_max_connections = db_max_connections;
            config.tombstone_retention =
                std::time::Duration::from_secs(tombstone_retention_days * 24 * 3600);
            config.jobs.workers = workers;
            anyhow::ensure!(
                pull_interval_minutes > 0,
                "--pull-interval-minutes must be at least 1"
            );
            config.jobs.pull_interval = std::time::Duration::from_secs(pull_interval_minutes * 60);
            if let Some(base_url) = carepatron_url {
                // The key from the environment only: flags show up in process listings.
                let api_key = std::env::var("RECORDS_CAREPATRON_API_KEY").map_err(|_| {
                    anyhow::anyhow!(
                        "RECORDS_CAREPATRON_URL is set; set RECORDS_CAREPATRON_API_KEY too"
                    )
                })?;
                anyhow::ensure!(carepatron_rate > 0.0, "--carepatron-rate must be positive");
                config.carepatron = Some(server::config::CarepatronSettings {
                    base_url,
                    api_key: server::config::Secret::new(api_key.into_bytes()),
                    rate: carepatron_rate,
                    poll: std::time::Duration::from_secs(carepatron_poll_seconds.max(1)),
                    list_lag: std::time::Duration::from_secs(carepatron_list_lag_seconds),
                });
            }
            config.smtp = server::config::SmtpSettings::from_env()?;
            let backend = server::db::Backend::from_url(&config.database_url)?;
            let state = server::AppState::new(config).await?;
            if state.db.other_admins(uuid::Uuid::nil()).await? == 0 {
                tracing::warn!(
                    "no admin yet: create one with `records-server create-admin --email E --name N` \
                     (password on stdin)"
                );
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, ?backend, "records-server listening");
            server::serve(state, listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
        }
        Command::Migrate => {
            let db = Db::connect(&database_url, 1).await?;
            db.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin {
            email,
            name,
            if_no_admin,
        } => {
            let email = Email::try_from(email).context("--email")?;
            let name = Label::<200>::try_from(name).context("--name")?;
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let password = Password::try_from(line.trim_end_matches(['\r', '\n']).to_owned())
                .context("password")?;
            let db = Db::connect(&database_url, 1).await?;
            db.migrate().await?;
            if if_no_admin && db.other_admins(uuid::Uuid::nil()).await? > 0 {
                tracing::info!("an admin exists already; nothing to do");
                return Ok(());
            }
            let user = server::auth::create_account(
                &db,
                UserType::Admin,
                email.as_str(),
                name.as_str(),
                password.expose(),
                Default::default(),
            )
            .await
            .map_err(|e| match e {
                server::db::DbError::Unique => {
                    anyhow::anyhow!("an account with this email exists")
                }
                other => anyhow::anyhow!(other),
            })?;
            #[allow(clippy::print_stdout)]
            {
                println!("{}", user.id);
            }
            Ok(())
        }
    }
}
