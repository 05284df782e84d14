//! Server settings: flags, else `RECORDS_*` environment variables, else embedded defaults
//! (a SQLite file and a generated JWT secret in the platform's data directory).

use crate::auth::{IpNet, LoginLimits};
use anyhow::Context as _;
use domain::LinkPolicy;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bytes that must not be printed (the JWT signing secret).
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Everything the platform needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub jwt_secret: Secret,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    /// How long a refresh token lives unused (each refresh issues a new one).
    pub refresh_ttl: Duration,
    /// How long a sign-in lives at most, however often it is refreshed
    /// (`RECORDS_SESSION_MAX_DAYS`).
    pub session_max_age: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`RECORDS_TRUSTED_PROXIES`);
    /// none by default: the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    pub db_max_connections: u32,
    pub login_limits: LoginLimits,
    /// How long deletions are promised to stay in the change feed. A replica whose cursor is
    /// older must re-sync from scratch (410 `cursor_expired`); no tombstone is purged today,
    /// so the limit leaves room to purge them later.
    pub tombstone_retention: Duration,
    /// Encrypts what the platform keeps for signing in elsewhere (PHP keys and tokens).
    pub secrets_key: Secret,
    pub jobs: JobSettings,
    /// Whether new and changed links to a PHP wait for an administrator's approval
    /// (`RECORDS_LINK_APPROVAL`: `required`, the default, or `off`).
    pub links: LinkPolicy,
    /// The practice's Carepatron workspace; `None`: nothing is pushed.
    pub carepatron: Option<CarepatronSettings>,
    /// Where new-patient inquiries are announced by email; `None`: no email is sent.
    pub smtp: Option<SmtpSettings>,
    /// How often a live stream (`GET /sync/stream`) sends a heartbeat, so proxies keep it open.
    pub live_heartbeat: Duration,
    /// Inquiries one address may send per hour through the public endpoint
    /// (`RECORDS_INQUIRIES_PER_HOUR`, default 5; IPv6 counted per /64).
    pub inquiries_per_hour: u32,
}

/// The email announcing each new-patient inquiry (`RECORDS_SMTP_*`, environment only: the
/// URL may carry a password).
#[derive(Clone)]
pub struct SmtpSettings {
    /// The client for `RECORDS_SMTP_URL`: `smtps://user:password@host:465` (implicit TLS),
    /// `smtp://user:password@host:587?tls=required` (STARTTLS), or `smtp://host:25` (no TLS,
    /// so no password: a relay on this host or the practice's network).
    pub transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `RECORDS_SMTP_FROM`: the sender, e.g. `Records <records@practice.example>`.
    pub from: Mailbox,
    /// `RECORDS_SMTP_TO`: recipients, comma-separated (the practice's intake address). Empty:
    /// the dietician an inquiry names, else every dietician.
    pub to: Vec<Mailbox>,
}

/// The addresses only: the transport holds the URL's password.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// The settings from `RECORDS_SMTP_URL`, `RECORDS_SMTP_FROM` and `RECORDS_SMTP_TO`;
    /// `None` when no URL is set. Each value is checked here, so a typo stops the start with
    /// the variable's name instead of parking every email later.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        let Ok(url) = std::env::var("RECORDS_SMTP_URL") else {
            return Ok(None);
        };
        let from = std::env::var("RECORDS_SMTP_FROM")
            .map_err(|_| anyhow::anyhow!("RECORDS_SMTP_URL is set; set RECORDS_SMTP_FROM too"))?;
        let to = std::env::var("RECORDS_SMTP_TO").unwrap_or_default();
        Self::new(&url, &from, &to).map(Some)
    }

    /// Checked settings: the client the URL makes, the addresses as mailboxes.
    pub fn new(url: &str, from: &str, to: &str) -> anyhow::Result<Self> {
        /// The longest one SMTP exchange may take before an attempt counts as failed.
        const TIMEOUT: Duration = Duration::from_secs(30);
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|_| {
            anyhow::anyhow!(
                "RECORDS_SMTP_URL is not an SMTP URL like smtps://user:password@host:465 or smtp://host:587?tls=required"
            )
        })?;
        let transport = transport.timeout(Some(TIMEOUT)).build();
        // A password never crosses the network in the clear.
        if let Some(rest) = url.strip_prefix("smtp://") {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            if authority.contains('@') && !url.contains("tls=required") {
                anyhow::bail!(
                    "RECORDS_SMTP_URL sends a password without TLS: use smtps://, or add ?tls=required for STARTTLS"
                );
            }
        }
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| anyhow::anyhow!("RECORDS_SMTP_FROM {from:?} is not an address: {e}"))?;
        let to = to
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|address| {
                address.parse::<Mailbox>().map_err(|e| {
                    anyhow::anyhow!("RECORDS_SMTP_TO {address:?} is not an address: {e}")
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            transport,
            from,
            to,
        })
    }
}

/// One Carepatron workspace per practice.
#[derive(Debug, Clone)]
pub struct CarepatronSettings {
    /// The API root (paths under `/v1`).
    pub base_url: String,
    pub api_key: Secret,
    /// Requests per second the workspace's key allows; requests are spaced to stay under it.
    pub rate: f64,
    /// How often Carepatron is asked for clients changed there.
    pub poll: Duration,
    /// The longest Carepatron's lists may take to show a newly created resource. A create
    /// whose answer was lost is looked up until this long after it failed, and only sent
    /// again if the lookups still miss it then: too short makes duplicates.
    pub list_lag: Duration,
}

/// The background integration jobs.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Workers in this instance; 0 runs no jobs here (they wait for another instance).
    pub workers: usize,
    /// How often each linked patient is pulled from their PHP.
    pub pull_interval: Duration,
    /// How often an idle worker looks for due jobs (enqueues in this instance wake it at once).
    pub poll: Duration,
    /// Attempts before a job is parked for a person to look at.
    pub attempts: u32,
    /// Backoff before the second attempt; doubles up to `backoff_max`, with jitter.
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    /// A running job not renewed for this long is taken over by another worker.
    pub lease: Duration,
    /// Each pull re-reads this much before the last watermark: resources sharing a
    /// `_lastUpdated` with it, or committed late at the PHP, are not missed.
    pub pull_overlap: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            workers: 4,
            pull_interval: Duration::from_secs(15 * 60),
            poll: Duration::from_secs(1),
            attempts: 5,
            backoff_first: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
            lease: Duration::from_secs(60),
            pull_overlap: Duration::from_secs(300),
        }
    }
}

impl Config {
    /// Defaults around a database and a secret.
    /// The secrets key defaults to one derived from the JWT secret; `serve` sets its own.
    ///
    /// `RECORDS_SESSION_MAX_DAYS`, `RECORDS_TRUSTED_PROXIES` and `RECORDS_LINK_APPROVAL` are
    /// read here, from the environment only; a value that does not parse stops the process with a message naming
    /// the variable (a security setting is never silently replaced by its default).
    pub fn new(database_url: impl Into<String>, jwt_secret: Secret) -> Self {
        let secrets_key = {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            h.update(b"healthcare-records secrets key v1\0");
            h.update(jwt_secret.expose());
            Secret::new(h.finalize().to_vec())
        };
        Self {
            database_url: database_url.into(),
            jwt_secret,
            issuer: "records-server".to_owned(),
            audience: "records-api".to_owned(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            session_max_age: from_env("RECORDS_SESSION_MAX_DAYS", parse_session_days)
                .unwrap_or(Duration::from_secs(30 * 24 * 3600)),
            trusted_proxies: from_env(
                "RECORDS_TRUSTED_PROXIES",
                crate::auth::parse_trusted_proxies,
            )
            .unwrap_or_default(),
            max_body_bytes: 25 * 1024 * 1024,
            db_max_connections: 8,
            login_limits: LoginLimits::default(),
            tombstone_retention: Duration::from_secs(90 * 24 * 3600),
            secrets_key,
            jobs: JobSettings::default(),
            links: from_env("RECORDS_LINK_APPROVAL", LinkPolicy::parse)
                .unwrap_or(LinkPolicy::Approval),
            carepatron: None,
            smtp: None,
            live_heartbeat: Duration::from_secs(15),
            inquiries_per_hour: from_env("RECORDS_INQUIRIES_PER_HOUR", |s| {
                s.trim()
                    .parse::<u32>()
                    .map_err(|_| "not a whole number".to_owned())
            })
            .unwrap_or(5),
        }
    }
}

/// An environment variable's value parsed by `parse`; `None` when unset. A value that does not
/// parse is fatal.
fn from_env<T>(var: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
    let raw = std::env::var(var).ok()?;
    match parse(&raw) {
        Ok(v) => Some(v),
        Err(e) => panic!("{var}: {e}"),
    }
}

/// `RECORDS_SESSION_MAX_DAYS`: whole days, at least 1.
pub fn parse_session_days(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(days @ 1..=3650) => Ok(Duration::from_secs(days * 24 * 3600)),
        _ => Err(format!("{s:?} is not a number of days from 1 to 3650")),
    }
}

/// Where the server keeps its embedded database and generated secret.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("org", "healthcare-records", "records-server")
        .map(|d| d.data_dir().to_path_buf())
        .context("no home directory to keep data in; set RECORDS_DATA_DIR")
}

/// `sqlite:<data_dir>/records.db`
pub fn default_database_url(data_dir: &Path) -> String {
    format!("sqlite:{}", data_dir.join("records.db").display())
}

/// A secret from its environment variable (`env`), else the one kept in `<data_dir>/<file>`
/// (made on first start, readable by its owner only). `true`: it was just generated.
pub fn load_or_create_secret(
    env: &str,
    file: &str,
    data_dir: &Path,
) -> anyhow::Result<(Secret, bool)> {
    if let Ok(s) = std::env::var(env) {
        anyhow::ensure!(s.len() >= 32, "{env} must be at least 32 characters");
        return Ok((Secret::new(s.into_bytes()), false));
    }
    let path = data_dir.join(file);
    if path.exists() {
        let s = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Ok((Secret::new(s.trim().as_bytes().to_vec()), false));
    }
    create_private_dir(data_dir)?;
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let secret = hex::encode(bytes);
    write_private(&path, secret.as_bytes())?;
    Ok((Secret::new(secret.into_bytes()), true))
}

/// Creates the data directory readable by its owner only: the embedded database holds PHI.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("creating {}", path.display()))
}

/// Parses the listen address (for error messages that say which setting is wrong).
pub fn parse_bind(s: &str) -> anyhow::Result<SocketAddr> {
    s.parse()
        .with_context(|| format!("RECORDS_BIND {s:?} is not an address like 127.0.0.1:8080"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_settings_are_checked_and_keep_passwords_off_plain_text() {
        assert!(SmtpSettings::new("smtp://127.0.0.1:25", "a@example.org", "").is_ok());
        assert!(SmtpSettings::new(
            "smtps://u:p@mail.example.org:465",
            "a@example.org",
            "b@example.org, c@example.org"
        )
        .is_ok());
        assert!(SmtpSettings::new(
            "smtp://u:p@mail.example.org:587?tls=required",
            "a@example.org",
            ""
        )
        .is_ok());
        let plain =
            SmtpSettings::new("smtp://u:p@mail.example.org:587", "a@example.org", "").unwrap_err();
        assert!(plain.to_string().contains("without TLS"), "{plain}");
        assert!(SmtpSettings::new("http://mail", "a@example.org", "").is_err());
        let to = SmtpSettings::new(
            "smtp://127.0.0.1:25",
            "a@example.org",
            "b@example.org, nope",
        )
        .unwrap_err();
        assert!(to.to_string().contains("RECORDS_SMTP_TO"), "{to}");
    }

    #[test]
    fn session_days_are_whole_days_from_one() {
        assert_eq!(
            parse_session_days(" 7 "),
            Ok(Duration::from_secs(7 * 24 * 3600))
        );
        for bad in ["0", "-1", "7d", "", "99999"] {
            assert!(parse_session_days(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_generated_secret_is_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("records-secret-{}", uuid::Uuid::now_v7()));
        let (a, new) = load_or_create_secret("RECORDS_TEST_UNSET_SECRET", "jwt-secret", &dir)
            .expect("created");
        assert!(new);
        let (b, new) = load_or_create_secret("RECORDS_TEST_UNSET_SECRET", "jwt-secret", &dir)
            .expect("read back");
        assert!(!new);
        assert_eq!(a.expose(), b.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join("jwt-secret"))
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{a:?}").contains(&String::from_utf8_lossy(a.expose()).to_string()));
        std::fs::remove_dir_all(dir).ok();
    }
}
