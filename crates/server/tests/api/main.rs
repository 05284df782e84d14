//! The platform's integration suite: every test runs against the real server on port 0,
//! once on a fresh SQLite file and once on a fresh PostgreSQL database.

mod helpers;

mod auth;
mod bad_input;
mod documents;
mod inquiries;
mod integrations;
mod live;
mod patients;
mod permissions;
mod php_links;
mod push;
mod schema;
mod sessions;
mod sync;
