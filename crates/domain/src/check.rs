//! Checking a JSON object against a domain type, with the refusal naming the field: the one
//! place that turns serde's errors into what a person reads, for the API's problems, a
//! pushed mutation's refusal and the desktop app's forms alike (so an edit the app accepts
//! offline is one the server accepts later). Also: whether a document's bytes are what its
//! type says, and which types may be shown inline.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Why a JSON object is not a valid `T`: the field (dotted path) when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct FieldError {
    pub field: Option<String>,
    pub detail: String,
}

impl FieldError {
    /// `field: detail` with the field in words (`birth date: …`), or the detail alone: what
    /// a person reads in a refusal.
    pub fn sentence(&self) -> String {
        match &self.field {
            Some(f) => format!("{}: {}", f.replace('_', " "), self.detail),
            None => self.detail.clone(),
        }
    }
}

impl From<serde_path_to_error::Error<serde_json::Error>> for FieldError {
    fn from(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = e.path().to_string();
        let detail = without_position(&e.into_inner());
        // A missing field is reported at its parent, with its name only in the message.
        let missing = detail
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => Some(name.to_owned()),
            (".", None) => None,
            (p, Some(name)) => Some(format!("{p}.{name}")),
            (p, None) => Some(p.to_owned()),
        };
        Self { field, detail }
    }
}

/// serde_json's message without its " at line 1 column 42" (meaningless to a person filling a
/// form, and the field is named already).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if e.line() == 0 {
        return text;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// `fields` as a `T` (a `NewPatient`, a `PatientUpdate`…), or why not.
pub fn parse_fields<T: DeserializeOwned>(fields: &Map<String, Value>) -> Result<T, FieldError> {
    Ok(serde_path_to_error::deserialize(Value::Object(
        fields.clone(),
    ))?)
}

/// Document formats the platform keeps under their own type: PDF, the common images, plain
/// text and Markdown. A file's bytes must be what its type says ([`content_is`]); these are
/// also the types served to be shown inline ([`shown_inline`]), every other one as a download.
pub const DOCUMENT_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/markdown",
];

/// What a file sent ahead of a document made offline may be (`PUT /uploads`): a text goes in
/// the document itself, its words searchable.
pub const FILE_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
];

/// `Text/Plain; charset=utf-8` -> `text/plain`: the type without its parameters, lower case.
pub fn mime_essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether `bytes` are what `mime` (an essence, see [`mime_essence`]) says: the magic number
/// of PDF (`%PDF-`), PNG, JPEG, GIF and WebP (`RIFF` then `WEBP`); valid UTF-8 for text.
/// `None` for a type the platform does not check (not one of [`DOCUMENT_TYPES`] or `text/*`).
pub fn content_is(mime: &str, bytes: &[u8]) -> Option<bool> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    Some(match mime {
        "application/pdf" => starts(b"%PDF-"),
        "image/png" => starts(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => starts(b"\xff\xd8\xff"),
        "image/gif" => starts(b"GIF87a") || starts(b"GIF89a"),
        "image/webp" => starts(b"RIFF") && bytes.get(8..12) == Some(&b"WEBP"[..]),
        text if text.starts_with("text/") => std::str::from_utf8(bytes).is_ok(),
        _ => return None,
    })
}

/// Whether a stored document of type `mime` may be shown inline (in a browser tab, the app's
/// viewer): one of [`DOCUMENT_TYPES`]. Anything else (HTML, SVG, a type a PHP made up) is
/// served as an attachment, never rendered as a page of the platform.
pub fn shown_inline(mime: &str) -> bool {
    DOCUMENT_TYPES.contains(&mime_essence(mime).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::{NewPatient, PatientUpdate};
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn a_refusal_names_the_field_and_reads_as_a_sentence() {
        let err = parse_fields::<NewPatient>(&map(json!({"name": "Ana", "email": "ana@example"})))
            .expect_err("no dot in the domain");
        assert_eq!(err.field.as_deref(), Some("email"));
        assert_eq!(
            err.sentence(),
            "email: must be an email address like name@example.org"
        );
        let err = parse_fields::<NewPatient>(&map(json!({"email": "ana@example.org"})))
            .expect_err("no name");
        assert_eq!(err.field.as_deref(), Some("name"));
        let err = parse_fields::<PatientUpdate>(&map(json!({"birth_date": "12/04/1978"})))
            .expect_err("not ISO");
        assert_eq!(err.field.as_deref(), Some("birth_date"));
        assert!(!err.detail.contains("line"), "{}", err.detail);
    }

    #[test]
    fn valid_fields_parse() {
        let ok = parse_fields::<PatientUpdate>(&map(json!({"name": " Ana ", "birth_date": null})));
        assert!(ok.is_ok());
    }

    #[test]
    fn document_bytes_are_what_their_type_says() {
        assert_eq!(content_is("application/pdf", b"%PDF-1.7\n"), Some(true));
        assert_eq!(content_is("application/pdf", b"<html>"), Some(false));
        assert_eq!(
            content_is("image/png", b"\x89PNG\r\n\x1a\n...."),
            Some(true)
        );
        assert_eq!(content_is("image/jpeg", b"\xff\xd8\xff\xe0"), Some(true));
        assert_eq!(content_is("image/gif", b"GIF89a..."), Some(true));
        assert_eq!(
            content_is("image/webp", b"RIFF\0\0\0\0WEBPVP8 "),
            Some(true)
        );
        assert_eq!(
            content_is("image/webp", b"RIFF\0\0\0\0WAVEfmt "),
            Some(false)
        );
        assert_eq!(content_is("text/plain", "Grüße".as_bytes()), Some(true));
        assert_eq!(content_is("text/plain", b"\xff\xfe"), Some(false));
        assert_eq!(content_is("image/svg+xml", b"<svg/>"), None);
        assert_eq!(mime_essence(" Text/Plain ; charset=UTF-8"), "text/plain");
        assert!(shown_inline("text/plain; charset=utf-8"));
        assert!(shown_inline("image/png"));
        for download in [
            "text/html",
            "image/svg+xml",
            "application/octet-stream",
            "text/csv",
        ] {
            assert!(!shown_inline(download), "{download}");
        }
    }

    #[test]
    fn what_the_carepatron_integration_sets_is_refused_naming_the_field() {
        for value in [json!("cp-client-42"), json!(null)] {
            let new = map(
                json!({"name": "Ana", "email": "ana@example.org", "carepatron_patient_id": value}),
            );
            let err = parse_fields::<NewPatient>(&new).expect_err("refused");
            assert_eq!(err.field.as_deref(), Some("carepatron_patient_id"));
            assert_eq!(
                err.sentence(),
                "carepatron patient id: is set by the Carepatron integration only; leave it out"
            );
            let change = map(json!({"carepatron_patient_id": value}));
            let err = parse_fields::<PatientUpdate>(&change).expect_err("refused");
            assert_eq!(err.field.as_deref(), Some("carepatron_patient_id"));
        }
    }
}
