//! The signed-in session: server URL and tokens.
//!
//! Kept in a file beside the replica, readable by its owner only. The OS keyring is not wired
//! into the CLI yet, so every save says so: the file is the fallback the issue allows, not the
//! goal.

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub server: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub struct Credentials {
    path: PathBuf,
}

impl Credentials {
    /// `<replica>.session.json`
    pub fn beside(replica: &Path) -> Self {
        let mut name = replica
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".session.json");
        Self {
            path: replica.with_file_name(name),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load(&self) -> anyhow::Result<Option<Saved>> {
        match std::fs::read_to_string(&self.path) {
            Ok(s) => Ok(Some(
                serde_json::from_str(&s)
                    .context("the saved session is unreadable; run `records login`")?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Saves a token pair (`{access_token, refresh_token}` as the API returns it).
    pub fn save(&self, server: &str, tokens: &Value) -> anyhow::Result<Saved> {
        let saved = Saved {
            server: server.to_owned(),
            access_token: tokens["access_token"]
                .as_str()
                .context("no access_token in the answer")?
                .to_owned(),
            refresh_token: tokens["refresh_token"]
                .as_str()
                .context("no refresh_token in the answer")?
                .to_owned(),
        };
        eprintln!(
            "warning: no OS keyring support in this build; the session is kept in {} (mode 0600)",
            self.path.display()
        );
        write_private(&self.path, &serde_json::to_vec(&saved)?)?;
        Ok(saved)
    }

    pub fn clear(&self) -> anyhow::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Trades the refresh token for a new pair and saves it.
    pub async fn refresh(&self, saved: &Saved) -> anyhow::Result<Saved> {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/refresh", saved.server))
            .json(&json!({"refresh_token": saved.refresh_token}))
            .send()
            .await
            .map_err(|e| sync_core::SyncError::Offline(e.without_url().to_string()))?;
        if !res.status().is_success() {
            self.clear()?;
            bail!("the session has ended; run `records login` again");
        }
        self.save(&saved.server, &res.json().await?)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
