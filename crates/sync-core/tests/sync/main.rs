//! The sync core against the real platform: one test binary (one link) for every scenario.

mod conflicts;
mod converge;
mod files;
mod inquiries;
mod model;
mod pull;
mod scope;
mod shapes;
mod support;
mod upgrade;
mod verify;
