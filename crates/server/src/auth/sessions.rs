//! Whether an access token's session is still current.
//!
//! Every change to what a user may do (deletion, type, provider or patient link, password)
//! bumps `users.session_epoch` in the same transaction; access tokens carry the epoch they were
//! issued at, and a token whose epoch is no longer the user's is refused. The epoch is read
//! from the database at most once per [`EPOCH_TTL`] per user and instance: a change made on
//! this instance is seen by its next request (the entry is dropped there and then), one made on
//! another instance within `EPOCH_TTL` plus one read.

use crate::db::{Db, DbResult};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a user's epoch, once read, is believed: the longest a session revoked on another
/// instance keeps working here (plus one database read).
pub const EPOCH_TTL: Duration = Duration::from_secs(1);

/// Which of a user's sessions an update ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessions {
    /// None: nothing that decides their rights changed.
    No,
    /// Every one: access tokens and refresh families.
    All,
    /// Every one but this refresh family (a password changed from it), which is carried over
    /// to the new epoch; its access token is refused still, and its next refresh works.
    AllBut(Uuid),
}

/// Users kept; the cache starts over when full.
const CAPACITY: usize = 100_000;

/// What this instance knows of a user's epoch, and since when.
#[derive(Debug, Clone, Copy)]
enum Known {
    /// Read (`None`: no such live user) by a read that started at the instant kept with it.
    Read(Option<i64>),
    /// Changed here at the instant kept with it: reads started before then are not kept.
    Changed,
}

/// Each user's current session epoch, as last read.
#[derive(Debug, Default)]
pub struct SessionEpochs {
    read: Mutex<HashMap<Uuid, (Known, Instant)>>,
}

impl SessionEpochs {
    /// The user's epoch, from a read started less than [`EPOCH_TTL`] ago, else from the
    /// database. `None`: the user is deleted (or never was).
    pub async fn current(&self, db: &Db, user: Uuid) -> DbResult<Option<i64>> {
        let now = Instant::now();
        {
            let read = self.read.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(&(Known::Read(epoch), at)) = read.get(&user) {
                if now.duration_since(at) < EPOCH_TTL {
                    return Ok(epoch);
                }
            }
        }
        // Timed from before the read: the value is at least this fresh.
        let epoch = db.session_epoch(user).await?;
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        if read.len() >= CAPACITY {
            read.clear();
        }
        // A read started later, or a change made here since this read started, wins.
        match read.get(&user) {
            Some(&(_, at)) if at > now => {}
            _ => {
                read.insert(user, (Known::Read(epoch), now));
            }
        }
        Ok(epoch)
    }

    /// Drops what this instance knows of `user`: after a change here, the next request reads
    /// the epoch afresh.
    pub fn forget(&self, user: Uuid) {
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        read.insert(user, (Known::Changed, Instant::now()));
    }
}
