//! Closed vocabularies stored as text. The wire and database spelling is the seed's
//! ("lab report", "manual sync"), so exports and the Carepatron mapping read naturally.

use std::fmt;
use std::str::FromStr;

/// A value outside one of the closed vocabularies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of: {expected}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $label:literal { $($(#[$vmeta:meta])* $variant:ident = $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        kind: $label,
                        value: s.to_owned(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// What a user is; decides every permission (`docs/access.md`).
    UserType, "user type" {
        Admin = "admin",
        Dietician = "dietician",
        Practitioner = "practitioner",
        /// Staff of a Primary Healthcare Provider, linked to one provider record.
        Provider = "provider",
        /// A patient, linked to their own patient record.
        Patient = "patient",
    }
}

string_enum! {
    /// The kind of a healthcare document.
    DocumentType, "document type" {
        LabReport = "lab report",
        ProgressNote = "progress note",
        PhysicalAssessment = "physical assessment",
        DietaryAssessment = "dietary assessment",
        ImagingReport = "imaging report",
        DischargeSummary = "discharge summary",
        ReferralLetter = "referral letter",
        Other = "other",
    }
}

string_enum! {
    /// Where a document came from.
    DocumentSource, "document source" {
        /// Pulled from, or uploaded by staff of, the patient's PHP.
        PrimaryHealthcareProvider = "Primary Healthcare Provider",
        /// Written or uploaded by the patient's dietician.
        Dietician = "Dietician",
        /// Flowed back from the practice's Carepatron workspace.
        Carepatron = "Carepatron",
    }
}

string_enum! {
    /// What a synchronization log entry records.
    LogAction, "log action" {
        ManualSync = "manual sync",
        AutomaticSync = "automatic sync",
        AutomaticUpdate = "automatic update",
        DocumentRequest = "document request",
        DocumentShared = "document shared",
        ShareRevoked = "share revoked",
        DocumentUploaded = "document uploaded",
        /// An administrator approved or refused a patient's link to their PHP.
        LinkReview = "link review",
    }
}

string_enum! {
    /// The outcome of a logged action.
    LogStatus, "log status" {
        Pending = "pending",
        InProgress = "in progress",
        Success = "success",
        Failure = "failure",
    }
}

string_enum! {
    /// Whether a share reached the practice's Carepatron workspace (`carepatron_delivery`).
    /// A revoked share keeps the state it had.
    ShareDelivery, "share delivery" {
        /// Not attempted yet.
        Pending = "pending",
        /// Shared in Carepatron with the practitioner's team member.
        Delivered = "delivered",
        /// The practitioner is not on the Carepatron team under their email address; tried
        /// again at the patient's next reconcile.
        NotOnTeam = "not_on_team",
        /// The platform has no Carepatron integration configured: nothing is expected.
        NotConfigured = "not_configured",
        /// Another error; tried again when the job retries.
        Failed = "failed",
    }
}

string_enum! {
    /// Whether a patient's link to their PHP may be used (`link_approval`). A new or changed
    /// link is pending while the practice requires an administrator's approval: nothing is
    /// pulled under it until approved.
    LinkApproval, "link approval" {
        /// Waiting for an administrator.
        Pending = "pending",
        Approved = "approved",
        /// An administrator refused it; a change of the link asks again.
        Refused = "refused",
    }
}

string_enum! {
    /// How looking a linked patient up at their PHP went (`php_pull_state.php_match`).
    PhpMatch, "PHP match" {
        /// One record, whose family name and birth date agree with ours.
        Found = "found",
        /// One record, whose family name or birth date disagree: never pulled.
        Differs = "differs",
        /// Several candidates, none certain.
        Unsure = "unsure",
        NotFound = "not found",
    }
}

string_enum! {
    /// What a background job of the platform does.
    JobKind, "job kind" {
        /// Pull the patient's documents from their PHP.
        Pull = "pull",
        /// Ask the PHP for documents (a FHIR Task) and follow it until it is done.
        Request = "request",
        /// Bring the patient's client, documents and shares in Carepatron in line with the
        /// platform, and take back what was changed there.
        Carepatron = "carepatron",
        /// Tell the practice by email that a new-patient inquiry arrived.
        Email = "email",
    }
}

string_enum! {
    /// Where a background job is.
    JobStatus, "job status" {
        Queued = "queued",
        Running = "running",
        Done = "done",
        /// Out of attempts, or failed in a way retrying cannot fix: waits for a person.
        Parked = "parked",
    }
}

string_enum! {
    /// Why a background job was made.
    JobCause, "job cause" {
        /// The patient was linked to a PHP, or an inquiry arrived.
        Created = "created",
        /// An admin approved the patient's link to their PHP.
        Approved = "approved",
        Schedule = "schedule",
        /// `POST /patients/{id}/sync`
        Manual = "manual",
        /// `POST /patients/{id}/request-documents`, or documents a request brought.
        Request = "request",
        /// An admin re-ran a parked job.
        Replay = "replay",
        /// The platform's data changed (Carepatron reconcile).
        Change = "change",
        /// The client was changed in Carepatron.
        Remote = "remote",
    }
}

string_enum! {
    /// Where a new-patient inquiry from the practice's website is (`inquiries.status`).
    InquiryStatus, "inquiry status" {
        /// Nobody has acted on it yet.
        New = "new",
        /// A dietician made a patient of it (`inquiries.patient_id`).
        Converted = "converted",
        /// A dietician set it aside (spam, not for this practice, answered otherwise).
        Dismissed = "dismissed",
    }
}

string_enum! {
    /// Whether the email telling the practice of an inquiry went out (`inquiries.notification`).
    InquiryNotification, "inquiry notification" {
        /// The platform has no SMTP server configured: no email is expected.
        NotConfigured = "not_configured",
        /// Queued or being retried.
        Pending = "pending",
        Sent = "sent",
        /// Out of attempts or refused for good: an admin finds the parked job under Jobs.
        Failed = "failed",
    }
}

/// What a new or changed link starts as: the practice's setting `RECORDS_LINK_APPROVAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPolicy {
    /// `required` (the default): an administrator approves each new or changed link.
    Approval,
    /// `off`: links are approved as made (the demographics check still applies).
    Trusted,
}

impl LinkPolicy {
    /// `required` or `off`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "required" => Ok(Self::Approval),
            "off" => Ok(Self::Trusted),
            other => Err(format!("{other:?} is neither \"required\" nor \"off\"")),
        }
    }

    /// The state a link written under this policy starts in; `None` without a provider.
    pub fn first_state(self, provider_id: Option<uuid::Uuid>) -> Option<LinkApproval> {
        provider_id.map(|_| match self {
            Self::Approval => LinkApproval::Pending,
            Self::Trusted => LinkApproval::Approved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_spelling() {
        for t in DocumentType::ALL {
            assert_eq!(t.as_str().parse::<DocumentType>(), Ok(*t));
            let json = serde_json::to_string(t).expect("serialize");
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        for t in UserType::ALL {
            assert_eq!(t.as_str().parse::<UserType>(), Ok(*t));
        }
        for t in ShareDelivery::ALL {
            assert_eq!(t.as_str().parse::<ShareDelivery>(), Ok(*t));
        }
        for t in PhpMatch::ALL {
            assert_eq!(t.as_str().parse::<PhpMatch>(), Ok(*t));
        }
        for t in InquiryStatus::ALL {
            assert_eq!(t.as_str().parse::<InquiryStatus>(), Ok(*t));
        }
        for t in InquiryNotification::ALL {
            assert_eq!(t.as_str().parse::<InquiryNotification>(), Ok(*t));
        }
        for t in LinkApproval::ALL {
            assert_eq!(t.as_str().parse::<LinkApproval>(), Ok(*t));
            let json = serde_json::to_string(t).expect("serialize");
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
    }

    /// The OpenAPI document lists the wire spelling, not the Rust names (the spelling is
    /// passed to the derive as a token tree: a `literal` fragment hid it from utoipa).
    #[test]
    fn schemas_list_the_wire_spelling() {
        fn listed<T: utoipa::PartialSchema>() -> Vec<String> {
            let schema = serde_json::to_value(T::schema()).expect("schema");
            schema["enum"]
                .as_array()
                .expect("enum")
                .iter()
                .map(|v| v.as_str().expect("text").to_owned())
                .collect()
        }
        let spelled = |all: &[&str]| all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            listed::<ShareDelivery>(),
            spelled(&[
                "pending",
                "delivered",
                "not_on_team",
                "not_configured",
                "failed"
            ])
        );
        let statuses: Vec<&str> = LogStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(listed::<LogStatus>(), spelled(&statuses));
    }

    #[test]
    fn unknown_values_name_the_choices() {
        let err = "superuser"
            .parse::<UserType>()
            .expect_err("not a user type");
        assert!(err.to_string().contains("admin, dietician"), "{err}");
    }
}
