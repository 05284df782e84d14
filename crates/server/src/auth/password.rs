//! argon2id password hashing, off the async threads (a hash costs tens of milliseconds).

use anyhow::Context as _;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};

/// Hashes and verifies passwords; holds a decoy hash so that a login for an unknown email costs
/// as much as one for a known email (no account enumeration by timing).
#[derive(Clone)]
pub struct PasswordHasher {
    decoy: String,
}

impl PasswordHasher {
    pub async fn new() -> anyhow::Result<Self> {
        Ok(Self {
            decoy: hash_password("decoy password for timing".to_owned()).await?,
        })
    }

    /// Verifies `password` against `hash`, or against the decoy when there is no user.
    pub async fn verify(&self, hash: Option<String>, password: String) -> anyhow::Result<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.decoy.clone());
        Ok(verify_password(hash, password).await? && known)
    }
}

/// argon2id with the crate's defaults (OWASP's minimum: m=19 MiB, t=2, p=1).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    })
    .await
    .context("hashing task")?
}

pub async fn verify_password(hash: String, password: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .context("verification task")?
}
