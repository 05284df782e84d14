//! The healthcare-records platform: the `/api/v1` service dieticians' apps, the PHP and
//! Carepatron integrations and admins talk to.
//!
//! # Layout
//! - [`config`]: settings from flags and `RECORDS_*` variables, with embedded defaults.
//! - [`db`]: storage on SQLite or PostgreSQL behind one set of queries.
//! - [`auth`]: passwords, access tokens, login rate limits.
//! - [`audit`]: the trail of PHI reads, written in batches off the request path.
//! - [`http`]: the router, extractors, problem+json errors and one module per resource.
//! - [`app`]: the shared state handlers and jobs reach.
//! - [`live`]: commits seen, for the clients holding the live stream.
//! - [`serve`](mod@serve): the API and the background jobs on a listener, together.
//!
//! Permission rules are not here: they are pure functions in `domain::access`, which the
//! handlers consult and the queries turn into `WHERE` clauses.

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod http;
pub mod integrations;
pub mod live;
pub mod secrets;
pub mod serve;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use app::AppState;
pub use config::Config;
pub use serve::serve;
