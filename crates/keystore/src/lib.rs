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
            None => read_private(&self.key_file)
                .map_err(|e| failed(format!("{}: {e}", self.key_file.display())))?,
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
        match read_private(&self.file) {
            Ok(saved) => saved.as_deref().map(parse).transpose(),
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

/// Why a file of ours is not read or written through a symbolic link: someone who can write
/// beside it could point it at a file of the user's, to have it overwritten with tokens, or at
/// one of theirs, to have a session of their choosing read.
fn link_refused(path: &Path) -> std::io::Error {
    std::io::Error::other(format!(
        "{} is a symbolic link, which is never followed for a session or key: remove it if you \
         did not put it there",
        path.display()
    ))
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Reads a file of ours (`None` if there is none), never through a symbolic link
/// (`O_NOFOLLOW`).
fn read_private(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::Read as _;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    if is_link(path) {
        return Err(link_refused(path));
    }
    match options.open(path) {
        Ok(mut file) => {
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            Ok(Some(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) if is_link(path) => Err(link_refused(path)),
        Err(e) => Err(e),
    }
}

/// Writes a file of ours whole and readable by the owner only: into a new temporary file
/// beside it (created exclusively, so nothing planted at its name is opened or followed;
/// mode 0600 from the start), then renamed over it. A symbolic link at `path` is refused, not
/// followed nor replaced (a rename would replace it, but a link there means someone meddled,
/// and a person should look).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if is_link(path) {
        return Err(link_refused(path));
    }
    let (tmp, mut file) = create_temporary(path)?;
    let written = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        // Planted meanwhile: the rename would replace the link, not follow it; still refuse.
        if is_link(path) {
            return Err(link_refused(path));
        }
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename itself outlives a crash once the directory is on disk (best effort).
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// A new, empty, owner-only file beside `path`, under a fresh name
/// (`.<name>.<pid>.<nonce>.tmp`), created with `O_CREAT | O_EXCL | O_NOFOLLOW`: whatever is
/// planted at that name (a file, a link) makes the attempt fail and the next name is tried.
fn create_temporary(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().unwrap_or_default();
    let mut attempt = 0;
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let nonce = u64::from(nanos) ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{nonce:x}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        match options.open(&tmp) {
            Ok(file) => {
                // Exactly 0600, whatever the umask took away.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt as _;
                    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                }
                return Ok((tmp, file));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
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

    /// A directory of its own for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("keystore-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_at_the_session_path_is_refused_and_its_target_left_alone() {
        let dir = scratch("link");
        let victim = dir.join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("r.db.session.json")).unwrap();
        let store = Keystore::file_only(&dir.join("r.db"));

        let e = store.save(&session()).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        let link = std::fs::symlink_metadata(dir.join("r.db.session.json")).unwrap();
        assert!(
            link.file_type().is_symlink(),
            "the link is left for a person to look at"
        );
        // Nor is a session read through one.
        std::fs::write(&victim, serde_json::to_string(&session()).unwrap()).unwrap();
        let e = store.load().unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        // Nor the replica's key, written or read.
        std::fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("r.db.key")).unwrap();
        let e = store.replica_key().unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_where_a_temporary_file_could_go_are_never_written_through() {
        let dir = scratch("tmp-link");
        let victim = dir.join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        // Every name a temporary file beside the session or key could predictably take.
        for name in [
            "r.db.session.tmp",
            "r.db.tmp",
            "r.db.session.json.tmp",
            "r.db.key.tmp",
        ] {
            std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        }
        let store = Keystore::file_only(&dir.join("r.db"));
        store.save(&session()).unwrap();
        let key = store.replica_key().unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(store.load().unwrap(), Some(session()));
        assert_eq!(store.replica_key().unwrap().to_hex(), key.to_hex());
        for name in ["r.db.session.json", "r.db.key"] {
            let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
            assert!(meta.file_type().is_file(), "{name}");
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn files_readable_by_others_left_beside_the_session_never_make_it_readable() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = scratch("mode");
        let planted = ["r.db.session.tmp", "r.db.tmp", "r.db.session.json"];
        for name in planted {
            std::fs::write(dir.join(name), "{}").unwrap();
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        let store = Keystore::file_only(&dir.join("r.db"));
        store.save(&session()).unwrap();
        store.replica_key().unwrap();
        for name in ["r.db.session.json", "r.db.key"] {
            let mode = std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        // No temporary file is left behind.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "r.db.key",
                "r.db.session.json",
                "r.db.session.tmp",
                "r.db.tmp"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
