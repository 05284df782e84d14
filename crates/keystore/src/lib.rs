//! Where a client (the `records` CLI, the desktop app) keeps its session.
//!
//! sync-core only knows the [`TokenStore`] trait; this crate is the one place that touches the
//! OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows). When
//! no keyring answers (a server without a desktop session, a container), the session goes to a
//! file readable by its owner only, and [`Keystore::location`] says so, so the caller can warn.

#[cfg(feature = "testing")]
pub mod testing;

use keyring::Entry;
use std::path::{Path, PathBuf};
use sync_core::{ReplicaKey, Session, SyncError, TokenStore};

/// The keyring service name every entry of ours is filed under.
pub const SERVICE: &str = "healthcare-records";

fn failed(e: impl std::fmt::Display) -> SyncError {
    SyncError::Credentials(e.to_string())
}

/// Where a [`Keystore`] keeps the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The OS keyring, under [`SERVICE`] and this account name.
    Keyring { account: String },
    /// A 0600 file: no keyring answered.
    File(PathBuf),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keyring { .. } => f.write_str("the OS keyring"),
            Self::File(path) => write!(f, "{} (readable by you only)", path.display()),
        }
    }
}

/// The session store of one replica. Each replica file has its own session (the keyring
/// account names the replica's absolute path), so a support person can hold replicas of two
/// platforms side by side.
pub struct Keystore {
    keyring: Option<Entry>,
    account: String,
    file: PathBuf,
    /// The replica's encryption key, beside the session.
    key_entry: Option<Entry>,
    key_file: PathBuf,
}

impl Keystore {
    /// The keyring if one answers, else `<replica>.session.json`.
    pub fn for_replica(replica: &Path) -> Self {
        let mut store = Self::file_only(replica);
        store.keyring = Entry::new(SERVICE, &store.account).ok().filter(answers);
        if store.keyring.is_some() {
            store.key_entry = Entry::new(SERVICE, &key_account(&store.account)).ok();
        }
        store
    }

    /// The keyring, or an error saying none answered: for the desktop app, which keeps
    /// nothing secret in files.
    pub fn keyring_only(replica: &Path) -> sync_core::Result<Self> {
        let store = Self::for_replica(replica);
        match store.location() {
            Location::Keyring { .. } => Ok(store),
            Location::File(_) => Err(failed(
                "no OS keyring answered (on Linux: a Secret Service such as GNOME Keyring or \
                 KWallet, unlocked, on the session bus). The app keeps your session and the key \
                 of your local records there, never in files: start one, then open the app again",
            )),
        }
    }

    /// A store that never asks the keyring.
    pub fn file_only(replica: &Path) -> Self {
        let absolute = std::path::absolute(replica).unwrap_or_else(|_| replica.to_owned());
        let beside = |suffix: &str| {
            let mut name = replica
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            name.push(suffix);
            replica.with_file_name(name)
        };
        Self {
            keyring: None,
            account: format!("session:{}", absolute.display()),
            file: beside(".session.json"),
            key_entry: None,
            key_file: beside(".key"),
        }
    }

    /// The replica's encryption key, made (and kept) on first use. Without a keyring it is
    /// kept in `<replica>.key`, readable by the owner only, as the session is.
    pub fn replica_key(&self) -> sync_core::Result<ReplicaKey> {
        let saved = match &self.key_entry {
            Some(entry) => match entry.get_password() {
                Ok(hex) => Some(hex),
                Err(keyring::Error::NoEntry) => None,
                Err(e) => return Err(keyring_failed(e)),
            },
            None => match std::fs::read_to_string(&self.key_file) {
                Ok(hex) => Some(hex),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(failed(format!("{}: {e}", self.key_file.display()))),
            },
        };
        if let Some(key) = saved.as_deref().and_then(ReplicaKey::from_hex) {
            return Ok(key);
        }
        let key = ReplicaKey::generate();
        match &self.key_entry {
            Some(entry) => entry.set_password(&key.to_hex()).map_err(keyring_failed)?,
            None => write_private(&self.key_file, key.to_hex().as_bytes())
                .map_err(|e| failed(format!("{}: {e}", self.key_file.display())))?,
        }
        Ok(key)
    }

    /// Forgets the replica's key (signing out: the replica goes with it).
    pub fn forget_replica_key(&self) -> sync_core::Result<()> {
        if let Some(entry) = &self.key_entry {
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(keyring_failed(e)),
            }
        }
        match std::fs::remove_file(&self.key_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(failed(format!("{}: {e}", self.key_file.display())))
            }
            _ => Ok(()),
        }
    }

    pub fn location(&self) -> Location {
        match self.keyring {
            Some(_) => Location::Keyring {
                account: self.account.clone(),
            },
            None => Location::File(self.file.clone()),
        }
    }

    fn load_file(&self) -> sync_core::Result<Option<Session>> {
        match std::fs::read_to_string(&self.file) {
            Ok(s) => parse(&s).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(format!("{}: {e}", self.file.display()))),
        }
    }

    fn remove_file(&self) -> sync_core::Result<()> {
        match std::fs::remove_file(&self.file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(failed(format!("{}: {e}", self.file.display())))
            }
            _ => Ok(()),
        }
    }
}

/// The keyring account of a replica's key, beside its session's.
fn key_account(session_account: &str) -> String {
    session_account.replacen("session:", "replica-key:", 1)
}

/// Whether a keyring is there to talk to: a lookup that finds nothing is an answer; a missing
/// session bus or Secret Service is not.
fn answers(entry: &Entry) -> bool {
    matches!(entry.get_password(), Ok(_) | Err(keyring::Error::NoEntry))
}

fn parse(saved: &str) -> sync_core::Result<Session> {
    serde_json::from_str(saved)
        .map_err(|_| failed("the saved session is unreadable; run `records login` again"))
}

/// Keyring errors name the platform's failure, never the secret.
fn keyring_failed(e: impl std::fmt::Display) -> SyncError {
    failed(format!("the OS keyring refused: {e}"))
}

impl TokenStore for Keystore {
    fn load(&self) -> sync_core::Result<Option<Session>> {
        let Some(entry) = &self.keyring else {
            return self.load_file();
        };
        match entry.get_password() {
            Ok(saved) => parse(&saved).map(Some),
            // Signed in before a keyring was available: still signed in.
            Err(keyring::Error::NoEntry) => self.load_file(),
            Err(e) => Err(keyring_failed(e)),
        }
    }

    fn save(&self, session: &Session) -> sync_core::Result<()> {
        let saved = serde_json::to_string(session)?;
        match &self.keyring {
            Some(entry) => {
                entry.set_password(&saved).map_err(keyring_failed)?;
                // A file left from a keyring-less sign-in would be a second, clear copy.
                self.remove_file()
            }
            None => write_private(&self.file, saved.as_bytes())
                .map_err(|e| failed(format!("{}: {e}", self.file.display()))),
        }
    }

    fn clear(&self) -> sync_core::Result<()> {
        if let Some(entry) = &self.keyring {
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(keyring_failed(e)),
            }
        }
        self.remove_file()
    }
}

/// Written whole (temporary file, then rename) and readable by the owner only.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            server: "http://127.0.0.1:1".into(),
            access_token: "a".into(),
            refresh_token: "r".into(),
        }
    }

    #[test]
    fn the_file_fallback_is_private_and_round_trips() {
        let dir = std::env::temp_dir().join(format!("keystore-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Keystore::file_only(&dir.join("r.db"));
        assert_eq!(
            store.location(),
            Location::File(dir.join("r.db.session.json"))
        );
        assert_eq!(store.load().unwrap(), None);
        store.save(&session()).unwrap();
        assert_eq!(store.load().unwrap(), Some(session()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join("r.db.session.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.clear().unwrap();
        assert_eq!(store.load().unwrap(), None);
        std::fs::write(dir.join("r.db.session.json"), "{not json").unwrap();
        assert!(store
            .load()
            .unwrap_err()
            .to_string()
            .contains("records login"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
