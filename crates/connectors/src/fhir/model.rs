//! The dozen FHIR R4 resources the platform reads and writes, as small serde structs: every
//! field optional, unknown fields ignored, so a server's extensions and profiles pass through
//! harmlessly. Validation (sizes, required parts) happens where the values are used.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub version_id: Option<String>,
    pub last_updated: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CodeableConcept {
    #[serde(default)]
    pub coding: Vec<Coding>,
    pub text: Option<String>,
}

impl CodeableConcept {
    /// The text a person would read: `text`, else the first coding's display, else its code.
    pub fn label(&self) -> Option<&str> {
        self.text
            .as_deref()
            .or_else(|| self.coding.iter().find_map(|c| c.display.as_deref()))
            .or_else(|| self.coding.iter().find_map(|c| c.code.as_deref()))
    }

    pub fn has_code(&self, system: &str, code: &str) -> bool {
        self.coding
            .iter()
            .any(|c| c.system.as_deref() == Some(system) && c.code.as_deref() == Some(code))
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Reference {
    pub reference: Option<String>,
    pub display: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Identifier {
    pub system: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct HumanName {
    pub text: Option<String>,
    pub family: Option<String>,
    #[serde(default)]
    pub given: Vec<String>,
}

impl HumanName {
    pub fn full(&self) -> String {
        match &self.text {
            Some(text) => text.clone(),
            None => {
                let mut parts = self.given.clone();
                parts.extend(self.family.clone());
                parts.join(" ")
            }
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContactPoint {
    pub system: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub id: Option<String>,
    #[serde(default)]
    pub meta: Meta,
    #[serde(default)]
    pub identifier: Vec<Identifier>,
    #[serde(default)]
    pub name: Vec<HumanName>,
    pub birth_date: Option<String>,
    #[serde(default)]
    pub telecom: Vec<ContactPoint>,
}

impl Patient {
    pub fn email(&self) -> Option<&str> {
        self.telecom
            .iter()
            .find(|t| t.system.as_deref() == Some("email"))
            .and_then(|t| t.value.as_deref())
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub content_type: Option<String>,
    /// base64
    pub data: Option<String>,
    pub url: Option<String>,
    pub size: Option<u64>,
    pub title: Option<String>,
    pub creation: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DocumentContent {
    pub attachment: Attachment,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentReference {
    pub id: Option<String>,
    #[serde(default)]
    pub meta: Meta,
    /// current | superseded | entered-in-error
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<CodeableConcept>,
    #[serde(default)]
    pub category: Vec<CodeableConcept>,
    pub subject: Option<Reference>,
    pub date: Option<String>,
    #[serde(default)]
    pub author: Vec<Reference>,
    pub description: Option<String>,
    #[serde(default)]
    pub content: Vec<DocumentContent>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticReport {
    pub id: Option<String>,
    #[serde(default)]
    pub meta: Meta,
    pub status: Option<String>,
    #[serde(default)]
    pub category: Vec<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub effective_date_time: Option<String>,
    pub issued: Option<String>,
    #[serde(default)]
    pub performer: Vec<Reference>,
    #[serde(default)]
    pub result: Vec<Reference>,
    pub conclusion: Option<String>,
    #[serde(default)]
    pub presented_form: Vec<Attachment>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Quantity {
    pub value: Option<f64>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ReferenceRange {
    pub low: Option<Quantity>,
    pub high: Option<Quantity>,
    pub text: Option<String>,
}

/// A part of an Observation with its own code and value (a blood pressure's systolic and
/// diastolic).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservationComponent {
    pub code: Option<CodeableConcept>,
    pub value_quantity: Option<Quantity>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    pub id: Option<String>,
    pub status: Option<String>,
    pub code: Option<CodeableConcept>,
    pub effective_date_time: Option<String>,
    pub issued: Option<String>,
    #[serde(default)]
    pub component: Vec<ObservationComponent>,
    pub value_quantity: Option<Quantity>,
    pub value_string: Option<String>,
    pub value_codeable_concept: Option<CodeableConcept>,
    #[serde(default)]
    pub interpretation: Vec<CodeableConcept>,
    #[serde(default)]
    pub reference_range: Vec<ReferenceRange>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Binary {
    pub content_type: Option<String>,
    pub data: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct BundleLink {
    pub relation: String,
    pub url: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct BundleSearch {
    pub mode: Option<String>,
    pub score: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntry {
    pub full_url: Option<String>,
    /// Kept raw: an entry is parsed as the type its `resourceType` names.
    pub resource: Option<Value>,
    pub search: Option<BundleSearch>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub resource_type: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub meta: Meta,
    pub total: Option<u64>,
    #[serde(default)]
    pub link: Vec<BundleLink>,
    #[serde(default)]
    pub entry: Vec<BundleEntry>,
}

impl Bundle {
    pub fn next(&self) -> Option<&str> {
        self.link
            .iter()
            .find(|l| l.relation == "next")
            .map(|l| l.url.as_str())
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: Option<String>,
    /// draft | requested | received | accepted | rejected | ready | cancelled | in-progress |
    /// on-hold | failed | completed | entered-in-error
    pub status: Option<String>,
    pub status_reason: Option<CodeableConcept>,
    #[serde(default)]
    pub output: Vec<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OperationOutcomeIssue {
    pub severity: Option<String>,
    pub code: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OperationOutcome {
    #[serde(default)]
    pub issue: Vec<OperationOutcomeIssue>,
}

/// `.well-known/smart-configuration`: what a SMART server offers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SmartConfiguration {
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CapabilityInteraction {
    pub code: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CapabilityNamed {
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityResource {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub interaction: Vec<CapabilityInteraction>,
    #[serde(default)]
    pub search_param: Vec<CapabilityNamed>,
    #[serde(default)]
    pub operation: Vec<CapabilityNamed>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CapabilityRest {
    #[serde(default)]
    pub resource: Vec<CapabilityResource>,
    #[serde(default)]
    pub operation: Vec<CapabilityNamed>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityStatement {
    pub fhir_version: Option<String>,
    #[serde(default)]
    pub rest: Vec<CapabilityRest>,
}

impl CapabilityStatement {
    fn resource(&self, kind: &str) -> Option<&CapabilityResource> {
        self.rest
            .iter()
            .flat_map(|r| &r.resource)
            .find(|r| r.kind.as_deref() == Some(kind))
    }

    /// Whether the server says it supports `interaction` (read, search-type, create…) on `kind`.
    pub fn supports(&self, kind: &str, interaction: &str) -> bool {
        self.resource(kind).is_some_and(|r| {
            r.interaction
                .iter()
                .any(|i| i.code.as_deref() == Some(interaction))
        })
    }

    /// Whether `$name` is offered on `kind` (or system-wide).
    pub fn has_operation(&self, kind: &str, name: &str) -> bool {
        let named = |ops: &[CapabilityNamed]| ops.iter().any(|o| o.name.as_deref() == Some(name));
        self.resource(kind).is_some_and(|r| named(&r.operation))
            || self.rest.iter().any(|r| named(&r.operation))
    }

    pub fn searchable_by(&self, kind: &str, param: &str) -> bool {
        self.resource(kind).is_some_and(|r| {
            r.search_param
                .iter()
                .any(|p| p.name.as_deref() == Some(param))
        })
    }
}
