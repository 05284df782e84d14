//! What one instance's job workers share: how to wake them, the FHIR clients they keep (with
//! their tokens), and the practice's Carepatron client (with its pace). Held in the platform's
//! state ([`crate::app`]); it knows nothing of that state itself.

use crate::config::Config;
use connectors::carepatron::Carepatron;
use connectors::fhir::FhirSource;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use uuid::Uuid;

/// Shared by the workers of one instance.
pub struct Integrations {
    pub(super) wake: Notify,
    /// One FHIR client per provider (and settings version): tokens are cached inside.
    pub(super) sources: Mutex<HashMap<Uuid, (i64, Arc<FhirSource>)>>,
    /// The practice's workspace, when configured; its pace is shared by this instance.
    pub(super) carepatron: Option<Carepatron>,
}

impl Integrations {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let carepatron = match &config.carepatron {
            Some(s) => {
                let key = std::str::from_utf8(s.api_key.expose())
                    .map_err(|_| anyhow::anyhow!("the Carepatron API key is not text"))?;
                Some(Carepatron::new(&s.base_url, key, s.rate)?)
            }
            None => None,
        };
        Ok(Self {
            wake: Notify::new(),
            sources: Mutex::default(),
            carepatron,
        })
    }

    /// Wakes an idle worker of this instance (others find the job at their next poll).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Wakes every idle worker of this instance.
    pub fn wake_all(&self) {
        self.wake.notify_waiters();
    }
}
