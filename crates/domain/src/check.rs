//! Checking a JSON object against a domain type, with the refusal naming the field: the one
//! place that turns serde's errors into what a person reads, for the API's problems, a
//! pushed mutation's refusal and the desktop app's forms alike (so an edit the app accepts
//! offline is one the server accepts later).

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
}
