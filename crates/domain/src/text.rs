//! Validated input. Each type parses from the raw JSON string (serde `try_from`), so a request
//! that deserializes is a request that is valid, and the error names the offending field.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Why a value was refused; shown to the client next to the field's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn check_chars(s: &str, allow_newlines: bool) -> Result<(), Invalid> {
    let bad = s
        .chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')));
    if bad {
        return Err(Invalid("must not contain control characters".into()));
    }
    Ok(())
}

/// Free text of at most `MAX` characters (not bytes). Newlines and tabs are allowed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const MAX: usize> TryFrom<String> for Text<MAX> {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        if s.chars().count() > MAX {
            return Err(Invalid(format!("must be at most {MAX} characters")));
        }
        check_chars(&s, true)?;
        Ok(Self(s))
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(t: Text<MAX>) -> String {
        t.0
    }
}

/// Redacted: free text here is health information.
impl<const MAX: usize> fmt::Debug for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text(<{} chars>)", self.0.chars().count())
    }
}

/// A required single-line label (a person's name, a document title): trimmed, not empty, at
/// most `MAX` characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label<const MAX: usize>(String);

impl<const MAX: usize> Label<MAX> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const MAX: usize> TryFrom<String> for Label<MAX> {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Invalid("must not be empty".into()));
        }
        if s.chars().count() > MAX {
            return Err(Invalid(format!("must be at most {MAX} characters")));
        }
        check_chars(s, false)?;
        Ok(Self(s.to_owned()))
    }
}

impl<const MAX: usize> From<Label<MAX>> for String {
    fn from(t: Label<MAX>) -> String {
        t.0
    }
}

impl<const MAX: usize> fmt::Debug for Label<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Label(<{} chars>)", self.0.chars().count())
    }
}

/// An email address, trimmed and lower-cased so that lookups and duplicate checks agree.
/// Deliberately loose (one `@`, something on each side, a dot in the domain): the only
/// authority on deliverability is delivery.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX: usize = 254;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        let s = s.trim().to_lowercase();
        if s.len() > Self::MAX {
            return Err(Invalid(format!("must be at most {} characters", Self::MAX)));
        }
        let valid = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !valid {
            return Err(Invalid(
                "must be an email address like name@example.org".into(),
            ));
        }
        Ok(Self(s))
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// A new password. Length is what matters (NIST SP 800-63B): 10 to 256 characters.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 10;
    pub const MAX: usize = 256;

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        let n = s.chars().count();
        if n < Self::MIN {
            return Err(Invalid(format!(
                "must be at least {} characters",
                Self::MIN
            )));
        }
        if n > Self::MAX {
            return Err(Invalid(format!("must be at most {} characters", Self::MAX)));
        }
        Ok(Self(s))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// For PUT bodies: tells "absent" (keep) from `null` (clear) for a nullable field.
/// Use with `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A field of a request that only the platform's Carepatron integration writes
/// (`carepatron_patient_id`): sent at all, even as `null`, it is refused, naming the field.
/// (`#[serde(default, deserialize_with = "set_by_carepatron")]`.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetByIntegration;

/// Refuses the field it is put on; see [`SetByIntegration`].
pub fn set_by_carepatron<'de, D: Deserializer<'de>>(_: D) -> Result<SetByIntegration, D::Error> {
    Err(<D::Error as serde::de::Error>::custom(
        "is set by the Carepatron integration only; leave it out",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        let e = Email::try_from(" Ana@Example.ORG ".to_owned()).expect("valid");
        assert_eq!(e.as_str(), "ana@example.org");
        for bad in [
            "",
            "ana",
            "@x.org",
            "ana@",
            "ana@org",
            "a b@x.org",
            "ana@x.org.",
        ] {
            assert!(Email::try_from(bad.to_owned()).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn labels_are_trimmed_bounded_and_single_line() {
        assert_eq!(
            Label::<5>::try_from("  Ana ".to_owned())
                .expect("ok")
                .as_str(),
            "Ana"
        );
        assert!(Label::<5>::try_from("   ".to_owned()).is_err());
        assert!(Label::<5>::try_from("Ana Lima".to_owned()).is_err());
        assert!(Label::<50>::try_from("Ana\nLima".to_owned()).is_err());
        // Characters, not bytes: five accented letters fit in five.
        assert!(Label::<5>::try_from("ééééé".to_owned()).is_ok());
    }

    #[test]
    fn text_allows_newlines_but_not_other_controls() {
        assert!(Text::<100>::try_from("line\nline\ttab".to_owned()).is_ok());
        assert!(Text::<100>::try_from("bell\u{7}".to_owned()).is_err());
        assert!(Text::<3>::try_from("four".to_owned()).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_value() {
        let t = Text::<100>::try_from("diabetic".to_owned()).expect("ok");
        assert!(!format!("{t:?}").contains("diabetic"));
        let e = Email::try_from("ana@example.org".to_owned()).expect("ok");
        assert!(!format!("{e:?}").contains("ana"));
    }

    #[test]
    fn passwords_need_length() {
        assert!(Password::try_from("short".to_owned()).is_err());
        assert!(Password::try_from("long enough pass".to_owned()).is_ok());
    }
}
