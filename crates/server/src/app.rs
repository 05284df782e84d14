//! The running platform: shared state, and serving it on a listener.

use crate::audit::AuditLog;
use crate::auth::{JwtKeys, LoginLimiter, PasswordHasher};
use crate::config::Config;
use crate::db::Db;
use crate::integrations::Integrations;
use crate::secrets::Cipher;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use tokio::net::TcpListener;

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
    /// Records who read which patient's data.
    pub audit: AuditLog,
    /// Seals the credentials the platform keeps for PHPs.
    pub cipher: Cipher,
    /// This instance's background job machinery.
    pub integrations: Integrations,
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
            audit: AuditLog::start(db.clone()),
            cipher: Cipher::new(config.secrets_key.expose()),
            integrations: Integrations::new(&config)?,
            config,
        })))
    }
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_jobs, stopped) = tokio::sync::watch::channel(false);
    let jobs = crate::integrations::start(&state, &stopped);
    let app = crate::http::router(state);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    let _ = stop_jobs.send(true);
    for job in jobs {
        let _ = job.await;
    }
    Ok(served?)
}
