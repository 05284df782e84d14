//! Stand-ins for the two systems the platform talks to and this machine cannot run: a Primary
//! Healthcare Provider's FHIR R4 server ([`fhir`]) and a Carepatron workspace. Each honours
//! its contract, keeps everything in memory, and has fault switches ([`Faults`]) so tests
//! can make it slow, flaky, rate limited or malformed. Used by tests, benchmarks and the
//! demo (`records-sandbox`); never by the platform's production code paths.

pub mod carepatron;
pub mod fhir;
pub mod seed;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::oneshot;

/// What a stand-in does wrong on purpose. Changeable while it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every answer.
    pub latency_ms: u64,
    /// The share of requests answered 503 (with `Retry-After: 1`) instead of served.
    pub error_fraction: f64,
    /// Requests per second allowed (a token bucket per stand-in); beyond it, 429.
    pub rate_limit_per_sec: Option<f64>,
    /// FHIR: search answers are truncated JSON.
    pub malformed_bundles: bool,
    /// FHIR: lifetime of issued access tokens.
    pub token_lifetime_secs: u64,
    /// FHIR: added to the server's clock (its `Date`, `meta.lastUpdated`), to show that the
    /// platform takes watermarks from the server's clock, not its own.
    pub clock_offset_secs: i64,
    /// Carepatron: the share of successful writes whose answer is cut off after they were
    /// applied, so the client cannot know they succeeded.
    pub drop_after_apply_fraction: f64,
    /// Carepatron: for this long after creation a resource is missing from lists.
    pub list_lag_ms: u64,
    /// FHIR: the token endpoint its SMART configuration names, instead of its own
    /// `/auth/token` (an authorization server elsewhere, or a configuration someone altered).
    pub token_endpoint: Option<String>,
    /// FHIR: what its `Bundle.link[next]` URLs start with, instead of its own base (the same
    /// server written differently, or somewhere else).
    pub next_link_base: Option<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_fraction: 0.0,
            rate_limit_per_sec: None,
            malformed_bundles: false,
            token_lifetime_secs: 300,
            clock_offset_secs: 0,
            drop_after_apply_fraction: 0.0,
            list_lag_ms: 0,
            token_endpoint: None,
            next_link_base: None,
        }
    }
}

/// Shared, live-editable fault switches.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch(Arc<RwLock<Faults>>);

impl FaultSwitch {
    pub fn get(&self) -> Faults {
        self.0.read().expect("faults lock").clone()
    }

    pub fn set(&self, faults: Faults) {
        *self.0.write().expect("faults lock") = faults;
    }

    pub fn update(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.0.write().expect("faults lock"));
    }
}

/// A token bucket: `rate` per second, bursts of at most one second's worth.
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    last: std::time::Instant,
}

impl Bucket {
    pub(crate) fn new() -> Self {
        Self {
            tokens: 1.0,
            last: std::time::Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is there.
    pub(crate) fn take(&mut self, rate: f64) -> Result<(), Duration> {
        let now = std::time::Instant::now();
        let burst = rate.max(1.0);
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// A stand-in serving on a local port until dropped.
pub struct Served {
    pub addr: SocketAddr,
    /// `http://ADDR`
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `addr`, then serves the router `app` builds for the bound base URL.
pub(crate) async fn serve(
    addr: &str,
    app: impl FnOnce(&str) -> axum::Router,
) -> std::io::Result<Served> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let router = app(&base);
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Served {
        addr,
        base,
        stop: Some(tx),
    })
}
