//! Who may see and do what (the table in `docs/access.md`) as pure functions.
//!
//! Reading is expressed as a *scope* (which rows a caller can see), so that the server can turn
//! it into a `WHERE` clause and a row outside it answers 404. Acting on a visible row is a
//! separate check answering `Err(Denied)`, which the API turns into 403.

use crate::kinds::{DocumentSource, UserType};
use uuid::Uuid;

/// The authenticated user making a request, as carried in their access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub id: Uuid,
    pub kind: UserType,
    /// For `provider` users: the PHP they work for.
    pub provider_id: Option<Uuid>,
    /// For `patient` users: their own patient record.
    pub patient_id: Option<Uuid>,
}

/// Why an action on a visible row is refused (403). Static text: never echoes row data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub &'static str);

type Decision = Result<(), Denied>;

fn allow_if(cond: bool, why: &'static str) -> Decision {
    if cond {
        Ok(())
    } else {
        Err(Denied(why))
    }
}

/// Which patient rows a caller can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientScope {
    All,
    /// A dietician's own patients (`patients.user_id`).
    OwnedBy(Uuid),
    /// Patients with at least one document shared to this practitioner.
    WithDocumentsSharedTo(Uuid),
    /// Patients linked to this provider (none if the user has no provider).
    LinkedToProvider(Option<Uuid>),
    /// Exactly this patient record (none if the user has no record).
    Only(Option<Uuid>),
}

/// Which document rows a caller can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentScope {
    All,
    /// Documents of a dietician's own patients.
    OfPatientsOwnedBy(Uuid),
    /// Documents shared to this practitioner.
    SharedTo(Uuid),
    /// Documents this provider user uploaded, of patients still linked to their provider: a
    /// patient relinked elsewhere takes them along (none if the user has no provider).
    UploadedToLinkedPatients {
        uploader: Uuid,
        provider: Option<Uuid>,
    },
    /// Documents of this patient record.
    OfPatient(Option<Uuid>),
}

/// Which new-patient inquiries a caller can see. Inquiries come from strangers and may say
/// anything, health included: only the people who take new patients on read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InquiryScope {
    /// None (everyone but dieticians: an admin follows the email's delivery under Jobs).
    Nothing,
    /// A dietician: inquiries naming them, and those naming no one (the practice's intake).
    ForOrOpenTo(Uuid),
}

/// How much of another user a caller can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserView {
    /// Every field (admins; anyone looking at themselves).
    Full,
    /// Name and type only: the practitioner picker for sharing.
    Directory,
}

/// The facts about a patient row that permissions depend on.
#[derive(Debug, Clone, Copy)]
pub struct PatientFacts {
    pub owner_id: Uuid,
    pub provider_id: Option<Uuid>,
}

/// The facts about a document row that permissions depend on.
#[derive(Debug, Clone, Copy)]
pub struct DocumentFacts {
    pub patient: PatientFacts,
    pub source: DocumentSource,
    pub source_user_id: Option<Uuid>,
}

impl DocumentFacts {
    /// Pulled from the PHP by the platform: nobody here wrote it, so nobody here edits it.
    pub fn is_php_synced(&self) -> bool {
        self.source == DocumentSource::PrimaryHealthcareProvider && self.source_user_id.is_none()
    }
}

impl Caller {
    pub fn is(&self, kind: UserType) -> bool {
        self.kind == kind
    }

    pub fn patient_scope(&self) -> PatientScope {
        match self.kind {
            UserType::Admin => PatientScope::All,
            UserType::Dietician => PatientScope::OwnedBy(self.id),
            UserType::Practitioner => PatientScope::WithDocumentsSharedTo(self.id),
            UserType::Provider => PatientScope::LinkedToProvider(self.provider_id),
            UserType::Patient => PatientScope::Only(self.patient_id),
        }
    }

    pub fn document_scope(&self) -> DocumentScope {
        match self.kind {
            UserType::Admin => DocumentScope::All,
            UserType::Dietician => DocumentScope::OfPatientsOwnedBy(self.id),
            UserType::Practitioner => DocumentScope::SharedTo(self.id),
            UserType::Provider => DocumentScope::UploadedToLinkedPatients {
                uploader: self.id,
                provider: self.provider_id,
            },
            UserType::Patient => DocumentScope::OfPatient(self.patient_id),
        }
    }

    pub fn inquiry_scope(&self) -> InquiryScope {
        match self.kind {
            UserType::Dietician => InquiryScope::ForOrOpenTo(self.id),
            _ => InquiryScope::Nothing,
        }
    }

    /// `None`: the user is invisible to the caller (404).
    pub fn user_view(&self, target_id: Uuid, target_kind: UserType) -> Option<UserView> {
        if self.is(UserType::Admin) || self.id == target_id {
            return Some(UserView::Full);
        }
        let colleague = matches!(target_kind, UserType::Dietician | UserType::Practitioner);
        let looks_up_colleagues = matches!(self.kind, UserType::Dietician | UserType::Practitioner);
        (colleague && looks_up_colleagues).then_some(UserView::Directory)
    }

    pub fn can_list_users(&self) -> Decision {
        allow_if(self.is(UserType::Admin), "only admins may list users")
    }

    pub fn can_create_user(&self, kind: UserType) -> Decision {
        match self.kind {
            UserType::Admin => Ok(()),
            UserType::Dietician => allow_if(
                kind == UserType::Patient,
                "dieticians may create patient users only",
            ),
            _ => Err(Denied("you may not create users")),
        }
    }

    /// Updating a visible user. `changes_type`: the update sets a different type.
    pub fn can_update_user(&self, target_id: Uuid, changes_type: bool) -> Decision {
        if self.is(UserType::Admin) {
            return Ok(());
        }
        allow_if(self.id == target_id, "you may only update your own account")?;
        allow_if(!changes_type, "you may not change your own user type")
    }

    /// Changing an account's email (the name it signs in with). Admins only: a self-service
    /// change to an address another account holds would have to be refused, and the refusal
    /// would tell anyone signed in which addresses have accounts.
    pub fn can_change_email(&self) -> Decision {
        allow_if(
            self.is(UserType::Admin),
            "only an admin may change an account's email",
        )
    }

    pub fn can_delete_user(&self) -> Decision {
        allow_if(self.is(UserType::Admin), "only admins may delete users")
    }

    /// Who links patients to a PHP (dieticians) and who sets the PHPs up (admins) see their
    /// names; nobody else learns which PHPs the practice works with.
    pub fn can_read_provider_directory(&self) -> Decision {
        allow_if(
            self.is(UserType::Dietician) || self.is(UserType::Admin),
            "only dieticians and admins choose a patient's provider",
        )
    }

    pub fn can_create_patient(&self) -> Decision {
        allow_if(
            self.is(UserType::Dietician),
            "only dieticians may create patients",
        )
    }

    pub fn can_update_patient(&self, patient: &PatientFacts) -> Decision {
        allow_if(
            self.is(UserType::Dietician) && patient.owner_id == self.id,
            "only the patient's dietician may change or delete the patient",
        )
    }

    /// An admin, or the patient's own dietician.
    fn admin_or_dietician_of(&self, patient: &PatientFacts) -> bool {
        self.is(UserType::Admin) || (self.is(UserType::Dietician) && patient.owner_id == self.id)
    }

    /// Logs, manual sync and document requests for a visible patient.
    pub fn can_manage_sync(&self, patient: &PatientFacts) -> Decision {
        allow_if(
            self.admin_or_dietician_of(patient),
            "only admins and the patient's dietician may do this",
        )
    }

    /// The whole audit trail of PHI reads: admins only.
    pub fn can_read_audit_trail(&self) -> Decision {
        allow_if(
            self.is(UserType::Admin),
            "only admins read the whole audit trail; a dietician reads who read one of their patients (give patient_id)",
        )
    }

    /// Who read a visible patient's data: admins and the patient's dietician.
    pub fn can_read_patient_audit(&self, patient: &PatientFacts) -> Decision {
        allow_if(
            self.admin_or_dietician_of(patient),
            "only admins and the patient's dietician may see who read the patient's data",
        )
    }

    /// A visible patient's measurements over time: admins, the patient's dietician and the
    /// patient. A practitioner reads the reports shared with them, not the whole series.
    pub fn can_read_measurements(&self, patient: &PatientFacts, patient_id: Uuid) -> Decision {
        allow_if(
            self.admin_or_dietician_of(patient) || self.patient_id == Some(patient_id),
            "only admins, the patient's dietician and the patient see their measurements",
        )
    }

    pub fn can_upload_document(&self, patient: &PatientFacts) -> Decision {
        let ok = match self.kind {
            UserType::Dietician => patient.owner_id == self.id,
            UserType::Provider => {
                self.provider_id.is_some() && patient.provider_id == self.provider_id
            }
            _ => false,
        };
        allow_if(
            ok,
            "only the patient's dietician or linked provider may upload documents",
        )
    }

    /// Sending a file ahead of a document made offline (`PUT /uploads/{sha256}`): those who
    /// may upload documents to some patient ([`Caller::can_upload_document`] decides which,
    /// when the document that takes the file is pushed).
    pub fn can_send_files(&self) -> Decision {
        let ok = match self.kind {
            UserType::Dietician => true,
            UserType::Provider => self.provider_id.is_some(),
            _ => false,
        };
        allow_if(
            ok,
            "only dieticians and linked providers may send files for documents",
        )
    }

    pub fn can_update_document(&self, doc: &DocumentFacts) -> Decision {
        if doc.is_php_synced() {
            return Err(Denied(
                "documents from the patient's healthcare provider are read-only",
            ));
        }
        allow_if(
            matches!(self.kind, UserType::Dietician | UserType::Provider)
                && doc.source_user_id == Some(self.id),
            "only the document's uploader may change it",
        )
    }

    pub fn can_delete_document(&self, doc: &DocumentFacts) -> Decision {
        if self.is(UserType::Admin) {
            return Ok(());
        }
        self.can_update_document(doc)
    }

    /// Sharing, or revoking a share of, a visible document.
    pub fn can_share_document(&self, doc: &DocumentFacts) -> Decision {
        let uploader = doc.source_user_id == Some(self.id);
        let patients_dietician_of_php_doc = doc.source == DocumentSource::PrimaryHealthcareProvider
            && doc.patient.owner_id == self.id;
        allow_if(
            self.is(UserType::Dietician) && (uploader || patients_dietician_of_php_doc),
            "only the document's uploader, or the patient's dietician for documents from the patient's healthcare provider, may share it",
        )
    }

    /// The shared-documents view of a visible patient; practitioners see only their own shares.
    pub fn can_view_shares(&self, patient: &PatientFacts) -> Decision {
        let ok = match self.kind {
            UserType::Admin | UserType::Practitioner => true,
            UserType::Dietician => patient.owner_id == self.id,
            UserType::Provider | UserType::Patient => false,
        };
        allow_if(ok, "you may not view this patient's shares")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(kind: UserType) -> Caller {
        Caller {
            id: Uuid::now_v7(),
            kind,
            provider_id: None,
            patient_id: None,
        }
    }

    #[test]
    fn nobody_but_admins_changes_their_own_type() {
        let d = caller(UserType::Dietician);
        assert!(d.can_update_user(d.id, false).is_ok());
        assert!(d.can_update_user(d.id, true).is_err());
        let a = caller(UserType::Admin);
        assert!(a.can_update_user(a.id, true).is_ok());
    }

    #[test]
    fn only_admins_change_emails() {
        assert!(caller(UserType::Admin).can_change_email().is_ok());
        for kind in [
            UserType::Dietician,
            UserType::Practitioner,
            UserType::Provider,
            UserType::Patient,
        ] {
            assert!(caller(kind).can_change_email().is_err(), "{kind:?}");
        }
    }

    #[test]
    fn php_documents_are_read_only_but_shareable_by_the_dietician() {
        let d = caller(UserType::Dietician);
        let doc = DocumentFacts {
            patient: PatientFacts {
                owner_id: d.id,
                provider_id: None,
            },
            source: DocumentSource::PrimaryHealthcareProvider,
            source_user_id: None,
        };
        assert_eq!(
            d.can_update_document(&doc),
            Err(Denied(
                "documents from the patient's healthcare provider are read-only"
            ))
        );
        assert!(d.can_delete_document(&doc).is_err());
        assert!(d.can_share_document(&doc).is_ok());
        assert!(caller(UserType::Admin).can_delete_document(&doc).is_ok());
        let other = caller(UserType::Dietician);
        assert!(other
            .can_share_document(&doc)
            .is_err_and(|Denied(why)| why.contains("healthcare provider")));
    }

    /// Refusals are read by dieticians: no jargon, no field or variable names.
    #[test]
    fn refusals_speak_plainly() {
        let d = caller(UserType::Dietician);
        let php_doc = DocumentFacts {
            patient: PatientFacts {
                owner_id: Uuid::now_v7(),
                provider_id: None,
            },
            source: DocumentSource::PrimaryHealthcareProvider,
            source_user_id: None,
        };
        let refusals = [
            d.can_update_document(&php_doc),
            d.can_share_document(&php_doc),
            d.can_list_users(),
            d.can_update_patient(&php_doc.patient),
            d.can_manage_sync(&php_doc.patient),
            d.can_upload_document(&php_doc.patient),
            caller(UserType::Patient).can_create_patient(),
        ];
        for refusal in refusals {
            let Err(Denied(why)) = refusal else {
                panic!("expected a refusal")
            };
            assert!(!why.contains("PHP") && !why.contains('_'), "{why}");
        }
    }

    #[test]
    fn files_are_sent_ahead_only_by_those_who_upload_documents() {
        assert!(caller(UserType::Dietician).can_send_files().is_ok());
        let mut linked = caller(UserType::Provider);
        assert!(linked.can_send_files().is_err(), "no provider record");
        linked.provider_id = Some(Uuid::now_v7());
        assert!(linked.can_send_files().is_ok());
        for kind in [UserType::Admin, UserType::Practitioner, UserType::Patient] {
            assert!(caller(kind).can_send_files().is_err(), "{kind:?}");
        }
    }

    #[test]
    fn a_provider_without_a_provider_record_uploads_nothing() {
        let p = caller(UserType::Provider);
        let patient = PatientFacts {
            owner_id: Uuid::now_v7(),
            provider_id: None,
        };
        assert!(p.can_upload_document(&patient).is_err());
    }

    #[test]
    fn colleagues_see_each_other_in_the_directory_only() {
        let d = caller(UserType::Dietician);
        assert_eq!(
            d.user_view(Uuid::now_v7(), UserType::Practitioner),
            Some(UserView::Directory)
        );
        assert_eq!(d.user_view(Uuid::now_v7(), UserType::Patient), None);
        assert_eq!(
            caller(UserType::Patient).user_view(Uuid::now_v7(), UserType::Dietician),
            None
        );
    }
}
