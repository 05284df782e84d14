//! The CLI's [`TokenStore`]: the session in a file beside the replica, readable by its owner
//! only. The OS keyring is not wired into the CLI yet, so every save says so: the file is the
//! fallback the issue allows, not the goal.

use std::path::{Path, PathBuf};
use sync_core::{Session, SyncError, TokenStore};

pub struct Credentials {
    path: PathBuf,
}

fn failed(e: impl std::fmt::Display) -> SyncError {
    SyncError::Credentials(e.to_string())
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
}

impl TokenStore for Credentials {
    fn load(&self) -> sync_core::Result<Option<Session>> {
        match std::fs::read_to_string(&self.path) {
            Ok(s) => Ok(Some(serde_json::from_str(&s).map_err(|_| {
                failed("the saved session is unreadable; run `records login`")
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(format!("{}: {e}", self.path.display()))),
        }
    }

    fn save(&self, session: &Session) -> sync_core::Result<()> {
        eprintln!(
            "warning: no OS keyring support in this build; the session is kept in {} (mode 0600)",
            self.path.display()
        );
        let bytes = serde_json::to_vec(session)?;
        write_private(&self.path, &bytes)
            .map_err(|e| failed(format!("{}: {e}", self.path.display())))
    }

    fn clear(&self) -> sync_core::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
