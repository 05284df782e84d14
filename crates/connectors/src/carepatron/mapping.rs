//! The platform's patients and documents in Carepatron's shapes, and back: which of our
//! fields go where in a client, the three-way merge of client details both sides changed, and
//! safe file names. Pure functions; the client ([`super::Carepatron`]) sends what they make.

use super::{ClientFields, CustomFields};
use serde::{Deserialize, Serialize};

/// What Carepatron holds of a patient, in the platform's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientView {
    pub name: String,
    pub email: String,
    pub contact_details: Option<String>,
    pub medical_history: Option<String>,
    pub dietary_preferences: Option<String>,
}

/// Carepatron requires a last name; a one-word name gets this one, dropped on the way back.
const NO_LAST_NAME: &str = "-";

fn phone_like(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// The client for a patient: the name split at its last space, contact details as a phone
/// number when they look like one (else as the address), the clinical fields as custom
/// fields, and the platform's id as `externalId`.
pub fn client_fields(p: &PatientView, external_id: &str) -> ClientFields {
    let (first, last) = match p.name.trim().rsplit_once(' ') {
        Some((first, last)) => (first.trim().to_owned(), last.to_owned()),
        None => (p.name.trim().to_owned(), NO_LAST_NAME.to_owned()),
    };
    let (phone_number, address) = match p.contact_details.as_deref() {
        Some(c) if phone_like(c) => (Some(c.to_owned()), None),
        Some(c) => (None, Some(c.to_owned())),
        None => (None, None),
    };
    ClientFields {
        first_name: first,
        last_name: last,
        email: p.email.clone(),
        phone_number,
        address,
        custom_fields: CustomFields {
            medical_history: p.medical_history.clone(),
            dietary_preferences: p.dietary_preferences.clone(),
        },
        external_id: Some(external_id.to_owned()),
    }
}

/// A client as the platform's patient fields: the inverse of [`client_fields`] (a phone
/// number and an address both set become "phone; address").
pub fn patient_view(c: &ClientFields) -> PatientView {
    let name = if c.last_name == NO_LAST_NAME {
        c.first_name.clone()
    } else {
        format!("{} {}", c.first_name, c.last_name)
            .trim()
            .to_owned()
    };
    let contact: Vec<&str> = [c.phone_number.as_deref(), c.address.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect();
    PatientView {
        name,
        email: c.email.clone(),
        contact_details: (!contact.is_empty()).then(|| contact.join("; ")),
        medical_history: c.custom_fields.medical_history.clone(),
        dietary_preferences: c.custom_fields.dietary_preferences.clone(),
    }
}

/// The fields both sides changed to different values since they last agreed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    pub view: PatientView,
    /// Field names both sides changed, each settled by [`merge`]'s rule.
    pub conflicts: Vec<&'static str>,
}

/// Three-way merge of a patient's Carepatron-held fields. A field changed on one side only
/// takes that side's value. A field changed on both sides to different values is settled by
/// who keeps it: contact fields (name, email, contact details) are kept by the practice's
/// front desk in Carepatron, so Carepatron wins; clinical fields (medical history, dietary
/// preferences) are the dietician's, written in the platform, so the platform wins.
pub fn merge(agreed: &PatientView, ours: &PatientView, theirs: &PatientView) -> Merged {
    fn pick<T: Clone + PartialEq>(
        name: &'static str,
        agreed: &T,
        ours: &T,
        theirs: &T,
        carepatron_wins: bool,
        conflicts: &mut Vec<&'static str>,
    ) -> T {
        match (ours != agreed, theirs != agreed) {
            (_, false) => ours.clone(),
            (false, true) => theirs.clone(),
            (true, true) if ours == theirs => ours.clone(),
            (true, true) => {
                conflicts.push(name);
                if carepatron_wins {
                    theirs.clone()
                } else {
                    ours.clone()
                }
            }
        }
    }
    let mut conflicts = Vec::new();
    let c = &mut conflicts;
    let view = PatientView {
        name: pick("name", &agreed.name, &ours.name, &theirs.name, true, c),
        email: pick("email", &agreed.email, &ours.email, &theirs.email, true, c),
        contact_details: pick(
            "contact_details",
            &agreed.contact_details,
            &ours.contact_details,
            &theirs.contact_details,
            true,
            c,
        ),
        medical_history: pick(
            "medical_history",
            &agreed.medical_history,
            &ours.medical_history,
            &theirs.medical_history,
            false,
            c,
        ),
        dietary_preferences: pick(
            "dietary_preferences",
            &agreed.dietary_preferences,
            &ours.dietary_preferences,
            &theirs.dietary_preferences,
            false,
            c,
        ),
    };
    Merged { view, conflicts }
}

/// A file name Carepatron can show: the title, made safe, with an extension for the type.
pub fn file_name(title: &str, content_type: &str) -> String {
    let stem: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    let stem = stem.trim_matches('-');
    let ext = match content_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        t if t.starts_with("text/") => "txt",
        _ => "bin",
    };
    format!("{}.{ext}", if stem.is_empty() { "document" } else { stem })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, contact: Option<&str>, diet: Option<&str>) -> PatientView {
        PatientView {
            name: name.into(),
            email: "ana@example.org".into(),
            contact_details: contact.map(Into::into),
            medical_history: None,
            dietary_preferences: diet.map(Into::into),
        }
    }

    #[test]
    fn patients_round_trip_through_clients() {
        for v in [
            view(
                "Ana Maria Lima",
                Some("+61 400 000 000"),
                Some("vegetarian"),
            ),
            view("Cher", Some("1 Main St, Springfield"), None),
            view("Bea Souza", None, None),
        ] {
            let fields = client_fields(&v, "id-1");
            assert_eq!(fields.external_id.as_deref(), Some("id-1"));
            assert!(!fields.last_name.is_empty());
            assert_eq!(patient_view(&fields), v);
        }
        let ana = client_fields(&view("Ana Lima", Some("+61 400"), None), "x");
        assert_eq!(
            (ana.first_name.as_str(), ana.last_name.as_str()),
            ("Ana", "Lima")
        );
        assert_eq!(ana.phone_number.as_deref(), Some("+61 400"));
    }

    #[test]
    fn each_side_keeps_what_it_alone_changed_and_conflicts_follow_the_rule() {
        let agreed = view("Ana Lima", Some("0400"), Some("vegetarian"));
        let ours = view("Ana Lima", Some("0400"), Some("vegan"));
        let theirs = view("Ana Souza", Some("0400"), Some("vegetarian"));
        let m = merge(&agreed, &ours, &theirs);
        assert_eq!(m.view, view("Ana Souza", Some("0400"), Some("vegan")));
        assert!(m.conflicts.is_empty());

        let ours = view("Ana L.", Some("0411"), Some("vegan"));
        let theirs = view("Ana Lima-Souza", Some("0422"), Some("keto"));
        let m = merge(&agreed, &ours, &theirs);
        assert_eq!(
            m.view.name, "Ana Lima-Souza",
            "Carepatron keeps contact fields"
        );
        assert_eq!(m.view.contact_details.as_deref(), Some("0422"));
        assert_eq!(
            m.view.dietary_preferences.as_deref(),
            Some("vegan"),
            "the platform keeps clinical ones"
        );
        assert_eq!(
            m.conflicts,
            ["name", "contact_details", "dietary_preferences"]
        );
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            file_name("Lipid panel 2026/11", "application/pdf"),
            "Lipid-panel-2026-11.pdf"
        );
        assert_eq!(file_name("???", "text/plain"), "document.txt");
    }
}
