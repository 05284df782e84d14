//! The events the shell sends the UI, each with the type of what it carries: the UI's
//! `Events` table (`ui/src/bindings/commands.ts`) is generated from these.

use crate::state::AppStatus;
use serde::Serialize;
use std::marker::PhantomData;
use sync_core::online::Job;
use tauri::{AppHandle, Emitter as _};
use uuid::Uuid;

/// An event named `name` carrying a `T`.
pub struct Event<T> {
    pub name: &'static str,
    payload: PhantomData<fn(T)>,
}

impl<T: Serialize + Clone> Event<T> {
    const fn named(name: &'static str) -> Self {
        Self {
            name,
            payload: PhantomData,
        }
    }

    /// Sends it to the UI; a window that is gone is nobody's concern.
    pub fn emit(&self, app: &AppHandle, payload: T) {
        let _ = app.emit(self.name, payload);
    }
}

/// The status bar changed (sign-in, a sync, an edit).
pub const STATUS: Event<AppStatus> = Event::named("status");

/// How a sync is going, from start to finish or failure.
pub const SYNC_PROGRESS: Event<Progress> = Event::named("sync-progress");

/// How a pull from a patient's PHP started from this app is going, until it is done.
pub const PULL_PROGRESS: Event<PullProgress> = Event::named("pull-progress");

/// Bytes of an update received, of how many (when the server says).
pub const UPDATE_PROGRESS: Event<(usize, Option<u64>)> = Event::named("update-progress");

/// Sync progress, as the `sync-progress` event carries it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum Progress {
    Started,
    Pushed {
        done: usize,
        total: usize,
    },
    /// Bytes of files attached here sent so far, of how many.
    Sending {
        sent: usize,
        total: usize,
    },
    Pulled {
        rows: usize,
    },
    /// Files fetched ahead for offline reading (patients kept offline, the file budget): how
    /// many are here, of how many.
    Keeping {
        done: usize,
        total: usize,
    },
    Finished {
        pushed: usize,
        pulled: usize,
        conflicts: usize,
        rejected: usize,
        new_documents: usize,
        new_inquiries: usize,
    },
    Failed {
        code: std::borrow::Cow<'static, str>,
        message: String,
    },
}

/// A pull from a patient's PHP, as `pull-progress` carries it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PullProgress {
    pub patient_id: Uuid,
    pub job: Job,
    /// Whether more news of it will come; `false` once it is finished, or once the app stops
    /// following a pull that goes on on the platform (offline, signed out, too long).
    pub following: bool,
}
