//! What the signed-in person may do, for the screens to offer exactly that: the platform's
//! own rules (`domain::access`) applied to the user the platform described at sign-in and to
//! the rows in the replica. The platform still decides; this keeps the app from offering what
//! it would refuse.

use domain::access::{DocumentFacts, PatientFacts};
use domain::{Caller, DocumentSource, UserType};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// The signed-in user as the rules see them, from the profile kept in the replica.
pub fn caller(profile: &Value) -> Option<Caller> {
    let id = |key: &str| profile[key].as_str().and_then(|s| s.parse::<Uuid>().ok());
    Some(Caller {
        id: id("id")?,
        kind: profile["type"].as_str()?.parse().ok()?,
        provider_id: id("provider_id"),
        patient_id: id("patient_id"),
    })
}

/// What the shell offers, whatever the row.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Capabilities {
    pub create_patients: bool,
    /// Reads and handles new-patient inquiries (dieticians).
    pub read_inquiries: bool,
    pub manage_users: bool,
    /// The user types this person may create, in the rules' order.
    pub create_user_types: Vec<UserType>,
}

impl Capabilities {
    pub fn of(caller: &Caller) -> Self {
        Self {
            create_patients: caller.can_create_patient().is_ok(),
            read_inquiries: caller.inquiry_scope() != domain::access::InquiryScope::Nothing,
            manage_users: caller.can_list_users().is_ok(),
            create_user_types: UserType::ALL
                .iter()
                .copied()
                .filter(|kind| caller.can_create_user(*kind).is_ok())
                .collect(),
        }
    }
}

/// What may be done to one patient.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PatientActions {
    pub edit: bool,
    pub delete: bool,
    pub add_documents: bool,
    pub request_documents: bool,
}

/// The facts of a patient row: one created here (no owner from the platform yet) is its
/// creator's; without the row (a document whose patient is gone) nobody's, so nothing is
/// offered.
pub fn patient_facts(caller: &Caller, patient: Option<&Value>) -> PatientFacts {
    let Some(patient) = patient else {
        return PatientFacts {
            owner_id: Uuid::nil(),
            provider_id: None,
        };
    };
    let id = |key: &str| patient[key].as_str().and_then(|s| s.parse::<Uuid>().ok());
    PatientFacts {
        owner_id: id("user_id").unwrap_or(caller.id),
        // Their provider's staff act on the patient only under an approved link.
        provider_id: id("provider_id").filter(|_| patient["link_approval"] == "approved"),
    }
}

impl PatientActions {
    pub fn of(caller: &Caller, patient: &PatientFacts) -> Self {
        let edit = caller.can_update_patient(patient).is_ok();
        Self {
            edit,
            delete: edit,
            add_documents: caller.can_upload_document(patient).is_ok(),
            request_documents: caller.can_manage_sync(patient).is_ok(),
        }
    }
}

/// What may be done to one document.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DocumentActions {
    pub edit: bool,
    pub delete: bool,
    pub share: bool,
}

impl DocumentActions {
    /// `document` as in the replica; one written here and not yet sent is its writer's.
    pub fn of(caller: &Caller, patient: PatientFacts, document: &Value) -> Self {
        // Its patient is not here (deleted on the platform): this replica cannot write to it
        // (nor the platform take it), so nothing is offered but what dealing with a refusal
        // offers.
        if patient.owner_id.is_nil() {
            return Self::default();
        }
        let (source, uploader) = match document["source"].as_str() {
            Some(source) => (
                source
                    .parse()
                    .unwrap_or(DocumentSource::PrimaryHealthcareProvider),
                document["source_user_id"]
                    .as_str()
                    .and_then(|s| s.parse::<Uuid>().ok()),
            ),
            None => (DocumentSource::Dietician, Some(caller.id)),
        };
        let facts = DocumentFacts {
            patient,
            source,
            source_user_id: uploader,
        };
        Self {
            edit: caller.can_update_document(&facts).is_ok(),
            delete: caller.can_delete_document(&facts).is_ok(),
            share: caller.can_share_document(&facts).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn who(kind: &str) -> (Caller, Uuid) {
        let id = Uuid::now_v7();
        let c = caller(&json!({"id": id.to_string(), "type": kind})).expect("caller");
        (c, id)
    }

    #[test]
    fn each_role_is_offered_what_the_platform_allows() {
        let (admin, _) = who("admin");
        let caps = Capabilities::of(&admin);
        assert!(!caps.create_patients, "admins do not create patients");
        assert!(!caps.read_inquiries, "nor read inquiries");
        assert!(caps.manage_users);
        assert_eq!(caps.create_user_types.len(), UserType::ALL.len());

        let (dietician, me) = who("dietician");
        let caps = Capabilities::of(&dietician);
        assert!(caps.create_patients && caps.read_inquiries && !caps.manage_users);
        assert_eq!(caps.create_user_types, [UserType::Patient]);
        let mine = patient_facts(&dietician, Some(&json!({"user_id": me.to_string()})));
        let all = PatientActions::of(&dietician, &mine);
        assert!(all.edit && all.delete && all.add_documents && all.request_documents);
        let drafted_here = patient_facts(&dietician, Some(&json!({"name": "New"})));
        assert!(PatientActions::of(&dietician, &drafted_here).edit);
        let orphan = DocumentActions::of(
            &dietician,
            patient_facts(&dietician, None),
            &json!({"title": "Note"}),
        );
        assert_eq!(
            orphan,
            DocumentActions::default(),
            "no patient here, nothing to offer"
        );

        let (practitioner, _) = who("practitioner");
        let seen = PatientActions::of(&practitioner, &mine);
        assert_eq!(seen, PatientActions::default(), "a practitioner only reads");
        let doc = json!({"source": "Primary Healthcare Provider", "source_user_id": null});
        assert_eq!(
            DocumentActions::of(&practitioner, mine, &doc),
            DocumentActions::default()
        );
        let php = DocumentActions::of(&dietician, mine, &doc);
        assert!(
            !php.edit && !php.delete && php.share,
            "PHP documents are read-only"
        );
        let draft = DocumentActions::of(&dietician, mine, &json!({"title": "Note"}));
        assert!(draft.edit && draft.delete);
    }
}
