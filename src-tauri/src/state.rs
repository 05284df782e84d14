//! The app's state: the encrypted replica, where the session and key are kept, settings, and
//! the handle of the background sync.

use keystore::Keystore;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use sync_core::{Replica, SyncError, TokenStore as _};
use tauri_plugin_updater::Update;
use tokio::sync::{Notify, RwLock};

/// Settings from the environment (with defaults for a laptop).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `RECORDS_REPLICA`: the replica file [default: `replica.db` in the app's data directory].
    pub replica: PathBuf,
    /// `RECORDS_SYNC_INTERVAL_SECONDS`: a background sync this often while online [60].
    pub sync_interval: Duration,
    /// `RECORDS_PROBE_SECONDS`: how often the connection is checked [10].
    pub probe_interval: Duration,
    /// `RECORDS_SERVER`: the server the sign-in screen offers [http://127.0.0.1:8080].
    pub default_server: String,
    /// `RECORDS_UPDATE_ENDPOINT`: where `latest.json` is published; none: updates are off.
    pub update_endpoint: Option<String>,
    /// `RECORDS_ALLOW_HTTP=1`: sign in to a plain-http server on another computer (passwords
    /// and records cross the network unencrypted) [plain http on loopback only].
    pub plain_http: sync_core::PlainHttp,
    /// `RECORDS_LIVE=0`: do not hold the platform's live stream; sync on the interval and on
    /// demand only [held].
    pub live: bool,
}

impl Settings {
    pub fn from_env(data_dir: &std::path::Path) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let seconds = |name: &str, default: u64| {
            Duration::from_secs_f64(
                var(name)
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|s| *s > 0.0)
                    .unwrap_or(default as f64),
            )
        };
        Self {
            replica: var("RECORDS_REPLICA")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("replica.db")),
            sync_interval: seconds("RECORDS_SYNC_INTERVAL_SECONDS", 60),
            probe_interval: seconds("RECORDS_PROBE_SECONDS", 10),
            default_server: var("RECORDS_SERVER")
                .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
            update_endpoint: var("RECORDS_UPDATE_ENDPOINT"),
            plain_http: sync_core::PlainHttp::from_env(),
            live: var("RECORDS_LIVE").is_none_or(|v| v.trim() != "0"),
        }
    }
}

/// Everything the commands and the background sync share.
pub struct Desk {
    pub settings: Settings,
    /// The session and the replica's key: the OS keyring (a private file without one).
    pub keystore: Keystore,
    /// Replaced whole when signing out (the replica goes with the session).
    replica: RwLock<Replica>,
    pub sync: SyncControl,
    /// Something the person should read once (the local copy had to be set aside…).
    notice: Mutex<Option<String>>,
    /// An update found by the last check, then downloaded and verified.
    pub update: PendingUpdate,
}

/// What the status bar and the shell show; sent with every change as the `status` event.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppStatus {
    pub signed_in: bool,
    pub server: Option<String>,
    /// The signed-in user as the platform described them at sign-in.
    #[cfg_attr(test, ts(as = "Option<domain::dto::User>"))]
    pub user: Option<Value>,
    pub online: bool,
    pub syncing: bool,
    pub pending: i64,
    pub conflicts: i64,
    pub rejected: i64,
    /// New-patient inquiries nobody has acted on yet (a dietician's).
    pub new_inquiries: i64,
    pub last_sync: Option<String>,
    pub default_server: String,
    pub notice: Option<String>,
    /// What the shell offers this user (nothing when signed out).
    pub can: crate::rights::Capabilities,
}

impl Desk {
    pub async fn open(settings: Settings) -> Result<Self, SyncError> {
        if let Some(dir) = settings.replica.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| SyncError::Credentials(format!("{}: {e}", dir.display())))?;
        }
        let keystore = Keystore::keyring_only(&settings.replica)?;
        let (replica, notice) = open_replica(&settings.replica, &keystore).await?;
        Ok(Self {
            settings,
            keystore,
            replica: RwLock::new(replica),
            sync: SyncControl::default(),
            notice: Mutex::new(notice),
            update: Default::default(),
        })
    }

    /// The replica (a cheap handle on its connection).
    pub async fn replica(&self) -> Replica {
        self.replica.read().await.clone()
    }

    pub async fn status(&self) -> Result<AppStatus, SyncError> {
        let replica = self.replica().await;
        let counts = replica.status().await?;
        let session = self.keystore.load()?;
        let user: Option<Value> = replica
            .state("profile")
            .await?
            .and_then(|p| serde_json::from_str(&p).ok());
        let can = user
            .as_ref()
            .and_then(crate::rights::caller)
            .map(|c| crate::rights::Capabilities::of(&c))
            .unwrap_or_default();
        Ok(AppStatus {
            signed_in: session.is_some(),
            server: session.map(|s| s.server),
            user,
            online: self.sync.online(),
            syncing: self.sync.syncing(),
            pending: counts.pending,
            conflicts: counts.conflicts,
            rejected: counts.rejected,
            new_inquiries: counts.new_inquiries,
            last_sync: counts.last_sync,
            default_server: self.settings.default_server.clone(),
            notice: self.notice.lock().ok().and_then(|n| n.clone()),
            can,
        })
    }

    pub fn dismiss_notice(&self) {
        if let Ok(mut n) = self.notice.lock() {
            *n = None;
        }
    }

    /// Signs in; a replica holding another account's data is replaced first (refused while
    /// it still holds their unsent edits).
    pub async fn sign_in(
        &self,
        server: &str,
        email: &str,
        password: &str,
    ) -> Result<(), SyncError> {
        let previous = self.replica().await.state("profile").await?;
        // Plain http to another computer is refused here, before the password is sent.
        sync_core::login_with(
            &self.keystore,
            server,
            email,
            password,
            self.settings.plain_http,
        )
        .await?;
        let me = sync_core::online::me(&self.keystore).await?;
        let previous_id = previous
            .and_then(|p| serde_json::from_str::<Value>(&p).ok())
            .and_then(|p| p["id"].as_str().map(str::to_owned));
        if previous_id.is_some_and(|id| Some(id.as_str()) != me["id"].as_str()) {
            let counts = self.replica().await.status().await?;
            let unsent = counts.pending + counts.rejected + counts.conflicts;
            if unsent > 0 {
                sync_core::logout(&self.keystore).await?;
                return Err(SyncError::Invalid(format!(
                    "This computer holds {unsent} change(s) of another account that the platform \
                     does not have. Sign in as that account to send or settle them, or sign out \
                     of it to discard them."
                )));
            }
            self.replace_replica().await?;
        }
        self.replica()
            .await
            .set_state("profile", &me.to_string())
            .await?;
        self.sync.set_online(true);
        self.sync.wake();
        Ok(())
    }

    /// Ends the session and removes the tokens, the replica's key and the replica itself:
    /// nothing of the patients stays on the computer. Edits the platform does not have yet
    /// (unsent, or refused and not dealt with) are discarded only when `discard` says the
    /// person was told; otherwise the sign-out is refused, naming them.
    pub async fn sign_out(&self, discard: bool) -> Result<(), SyncError> {
        let counts = self.replica().await.status().await?;
        if !discard && counts.pending + counts.rejected + counts.conflicts > 0 {
            return Err(SyncError::Unsent {
                pending: counts.pending,
                refused: counts.rejected,
                undecided: counts.conflicts,
            });
        }
        sync_core::logout(&self.keystore).await?;
        self.replace_replica().await
    }

    /// Deletes the replica (and its key) and opens an empty one with a new key.
    async fn replace_replica(&self) -> Result<(), SyncError> {
        let mut replica = self.replica.write().await;
        replica.close().await;
        self.keystore.forget_replica_key()?;
        for path in sync_core::replica_files(&self.settings.replica) {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(SyncError::Credentials(format!(
                        "removing the local copy: {e}"
                    )))
                }
                _ => {}
            }
        }
        *replica = open_replica(&self.settings.replica, &self.keystore)
            .await?
            .0;
        Ok(())
    }
}

/// Opens the encrypted replica; one its key no longer opens is set aside and replaced by an
/// empty one, which the next sync fills (the returned notice says so).
async fn open_replica(
    path: &std::path::Path,
    keystore: &Keystore,
) -> Result<(Replica, Option<String>), SyncError> {
    let key = keystore.replica_key()?;
    let (replica, aside) = Replica::open_encrypted_or_start_over(path, &key).await?;
    let notice = aside.map(|_| {
        "The local copy could not be unlocked: its key is no longer in the keyring. Your \
         records are downloaded again at the next sync. Changes not sent before the key was \
         lost cannot be read; the old copy was kept in case the key is restored."
            .to_owned()
    });
    Ok((replica, notice))
}

/// Shared between the commands and the sync task.
pub struct SyncControl {
    pub(crate) wake: Notify,
    online: AtomicBool,
    pub(crate) syncing: AtomicBool,
    /// Bodies may still be waiting to be fetched ahead: set at start, when a sync pulls
    /// changes, and while the last round fetched some or was cut off. An idle sync then skips
    /// the look through every document.
    pub(crate) prefetch_due: AtomicBool,
}

impl Default for SyncControl {
    fn default() -> Self {
        Self {
            wake: Notify::new(),
            online: AtomicBool::new(false),
            syncing: AtomicBool::new(false),
            prefetch_due: AtomicBool::new(true),
        }
    }
}

impl SyncControl {
    /// Asks for a sync now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    pub fn syncing(&self) -> bool {
        self.syncing.load(Ordering::Relaxed)
    }

    /// Records whether the platform answers; `true` when that changed.
    pub fn set_online(&self, online: bool) -> bool {
        self.online.swap(online, Ordering::Relaxed) != online
    }
}

/// The update found by the last check and, once fetched and verified, its package.
#[derive(Default)]
pub struct PendingUpdate(pub(crate) tokio::sync::Mutex<Option<(Update, Option<Vec<u8>>)>>);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lost_key_means_a_fresh_replica_and_a_notice_never_a_crash() {
        let dir = std::env::temp_dir().join(format!("desk-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("replica.db");
        let keystore = Keystore::file_only(&path);
        let (replica, notice) = open_replica(&path, &keystore).await.expect("first open");
        assert_eq!(notice, None);
        replica.set_state("profile", "{}").await.expect("write");
        replica.close().await;

        keystore.forget_replica_key().expect("lose the key");
        let (replica, notice) = open_replica(&path, &keystore).await.expect("reopen");
        assert!(notice.expect("a notice").contains("downloaded again"));
        assert_eq!(replica.state("profile").await.expect("read"), None);
        let kept_aside = std::fs::read_dir(&dir)
            .expect("list")
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().contains(".unreadable-"));
        assert!(kept_aside, "the unreadable copy is kept, not deleted");
        // Closed, not just dropped: a pool's worker thread still running when the test
        // process exits races SQLCipher's own clean-up ("double free or corruption").
        replica.close().await;
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
