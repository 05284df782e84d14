//! The healthcare-records domain: what the platform, the sync core and the desktop app agree on.
//!
//! # Layout
//! - [`kinds`]: the closed vocabularies (user types, document types and sources, log actions).
//! - [`text`]: validated input types; parsing a request into them *is* the validation.
//! - [`check`]: a JSON object checked against one of those types, the refusal naming the field.
//! - [`access`]: who may see and do what (`docs/access.md`), as pure functions over facts.
//! - [`dto`]: the JSON shapes of `/api/v1`, shared by the server and its clients.
//! - [`time`]: the one stored timestamp format.
//! - [`measures`]: the results followed over time (LOINC codes, units and conversions).
//!
//! Nothing here does I/O: the server turns [`access`] scopes into SQL, clients reuse the DTOs.

pub mod access;
pub mod check;
pub mod dto;
pub mod kinds;
pub mod measures;
pub mod text;
pub mod time;

pub use access::{Caller, Denied};
pub use kinds::{
    DocumentSource, DocumentType, InquiryNotification, InquiryStatus, JobCause, JobKind, JobStatus,
    LinkApproval, LinkPolicy, LogAction, LogStatus, PhpMatch, UnknownValue, UserType,
};

/// A new row id. UUIDv7 so that ids made offline on a laptop sort by creation time and never
/// collide with the server's.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
