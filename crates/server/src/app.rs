//! The platform's shared state: what every request handler and background job can reach.

use crate::audit::AuditLog;
use crate::auth::{AddressQuota, JwtKeys, LoginLimiter, PasswordHasher};
use crate::config::Config;
use crate::db::Db;
use crate::integrations::runtime::Integrations;
use crate::secrets::Cipher;
use std::ops::Deref;
use std::sync::Arc;

/// What every request handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    /// The platform database (SQLite or PostgreSQL).
    pub db: Db,
    /// Signs and checks access tokens.
    pub keys: JwtKeys,
    /// Hashes passwords, and holds the decoy hash that keeps logins constant-time.
    pub hasher: PasswordHasher,
    /// Throttles password guessing.
    pub limiter: LoginLimiter,
    /// Paces the public inquiry form.
    pub inquiry_quota: AddressQuota,
    /// Records who read which patient's data.
    pub audit: AuditLog,
    /// Seals the credentials the platform keeps for PHPs.
    pub cipher: Cipher,
    /// This instance's background job machinery.
    pub integrations: Integrations,
    /// Commits seen, for the clients holding the live stream.
    pub live: crate::live::Live,
    pub config: Config,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Connects to and migrates the database, and prepares the keys.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url, config.db_max_connections).await?;
        db.migrate().await?;
        Self::with_db(config, db).await
    }

    pub async fn with_db(config: Config, db: Db) -> anyhow::Result<Self> {
        let keys = JwtKeys::new(
            config.jwt_secret.expose(),
            &config.issuer,
            &config.audience,
            config.access_ttl,
        );
        Ok(Self(Arc::new(Inner {
            db: db.clone(),
            keys,
            hasher: PasswordHasher::new().await?,
            limiter: LoginLimiter::new(config.login_limits),
            inquiry_quota: AddressQuota::new(
                config.inquiries_per_hour,
                config.inquiries_per_hour.saturating_mul(100),
                std::time::Duration::from_secs(3600),
            ),
            audit: AuditLog::start(db.clone()),
            cipher: Cipher::new(config.secrets_key.expose()),
            integrations: Integrations::new(&config)?,
            live: crate::live::Live::default(),
            config,
        })))
    }
}
