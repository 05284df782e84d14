//! FHIR documents to the platform's healthcare documents: `DocumentReference` (content inline
//! or in a `Binary`) and `DiagnosticReport` (its presented form, else its `Observation`
//! results rendered as text), typed from LOINC and category codes, every value checked and
//! capped before use.

use super::model::{
    Attachment, Binary, BundleEntry, CodeableConcept, DiagnosticReport, DocumentReference,
    Observation,
};
use super::{FhirSource, PageRef};
use crate::{ConnectorError, Result};
use base64::Engine as _;
use domain::DocumentType;
use std::collections::HashMap;

const LOINC: &str = "http://loinc.org";
const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const TITLE_MAX: usize = 200;

/// A document as the PHP has it now.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingDocument {
    /// `DocumentReference/{id}` or `DiagnosticReport/{id}`: stable across versions.
    pub external_id: String,
    /// `meta.versionId`, else `meta.lastUpdated`: a new value means the PHP changed it.
    pub version: String,
    pub doc_type: DocumentType,
    pub title: String,
    /// `YYYY-MM-DD`
    pub date: String,
    pub author: Option<String>,
    /// The type the PHP declared, when its bytes are that and the platform shows it
    /// ([`domain::check::DOCUMENT_TYPES`], or `text/html`, kept but only ever downloaded);
    /// else `application/octet-stream`, and `retyped` says why.
    pub mime_type: String,
    pub content: Vec<u8>,
    /// Why the declared type was not kept (free of PHI): "its content is not the
    /// application/pdf it was sent as".
    pub retyped: Option<String>,
    /// The followed results (`domain::measures`) among a report's Observations.
    pub results: Vec<IncomingResult>,
}

/// One value of a followed measure, as the PHP reported it (not yet converted).
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingResult {
    /// `Observation/{id}`, with `#{code}` for a component (a blood pressure's two values).
    pub external_id: String,
    /// The LOINC code (one of `domain::measures::MEASURES`').
    pub code: String,
    pub value: f64,
    pub unit: String,
    /// `YYYY-MM-DD`
    pub date: String,
}

/// One search result, as the platform should act on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Document(IncomingDocument),
    /// Marked `entered-in-error` at the PHP: ours becomes a tombstone.
    Retracted {
        external_id: String,
    },
    /// Not usable (no content, too large, unreadable): skipped, with a reason free of PHI.
    Skipped {
        external_id: String,
        reason: String,
    },
    /// An Observation of its own (a vital sign): the followed values it holds, none when it
    /// holds none or was withdrawn (`retracted`: ours are dropped).
    Results {
        external_id: String,
        results: Vec<IncomingResult>,
        retracted: bool,
    },
}

impl Incoming {
    pub fn external_id(&self) -> &str {
        match self {
            Self::Document(d) => &d.external_id,
            Self::Retracted { external_id }
            | Self::Skipped { external_id, .. }
            | Self::Results { external_id, .. } => external_id,
        }
    }
}

/// A page of a patient's documents and where the next one is.
#[derive(Debug)]
pub struct DocumentPage {
    pub items: Vec<Incoming>,
    pub next: Option<PageRef>,
    /// The server's clock when it answered (`Bundle.meta.lastUpdated`, else `Date`).
    pub server_time: Option<String>,
}

/// The first pages of a patient's documents changed since `since` (an instant of the PHP's
/// clock; `None` for everything): one search per resource type.
pub fn first_pages(patient_id: &str, since: Option<&str>, page_size: usize) -> Vec<PageRef> {
    let page = |resource: &str, extra: &[(&str, &str)]| {
        let mut params = vec![
            ("patient".to_owned(), patient_id.to_owned()),
            ("_count".to_owned(), page_size.to_string()),
        ];
        if let Some(since) = since {
            params.push(("_lastUpdated".to_owned(), format!("ge{since}")));
        }
        params.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        PageRef::First {
            resource: resource.to_owned(),
            params,
        }
    };
    vec![
        page("DocumentReference", &[]),
        page(
            "DiagnosticReport",
            &[("_include", "DiagnosticReport:result")],
        ),
        // Vital signs, and lab results sent without a report, come as Observations of their
        // own (a report's come with it too: the same value is kept once).
        page("Observation", &[("category", "vital-signs,laboratory")]),
    ]
}

impl FhirSource {
    /// One page of documents, with `Binary` contents and `Observation` results fetched.
    pub async fn document_page(&self, page: &PageRef) -> Result<DocumentPage> {
        let (bundle, server_time) = self.search_page(page).await?;
        let included: HashMap<String, &serde_json::Value> = bundle
            .entry
            .iter()
            .filter(|e| e.search.as_ref().and_then(|s| s.mode.as_deref()) == Some("include"))
            .filter_map(|e| {
                let r = e.resource.as_ref()?;
                Some((
                    format!("{}/{}", r["resourceType"].as_str()?, r["id"].as_str()?),
                    r,
                ))
            })
            .collect();
        let mut items = Vec::new();
        for entry in bundle.entry.iter().filter(|e| is_match(e)) {
            let Some(resource) = &entry.resource else {
                continue;
            };
            let item = match resource["resourceType"].as_str() {
                Some("DocumentReference") => {
                    self.map_document_reference(
                        self.parse(resource.clone(), "a DocumentReference")?,
                    )
                    .await?
                }
                Some("DiagnosticReport") => {
                    self.map_diagnostic_report(
                        self.parse(resource.clone(), "a DiagnosticReport")?,
                        &included,
                    )
                    .await?
                }
                Some("Observation") => {
                    let obs: Observation = self.parse(resource.clone(), "an Observation")?;
                    let external_id = external_id(&self.name, "Observation", obs.id.as_deref())?;
                    let retracted = matches!(
                        obs.status.as_deref(),
                        Some("entered-in-error" | "cancelled")
                    );
                    Incoming::Results {
                        results: if retracted {
                            Vec::new()
                        } else {
                            results_of(&obs, None)
                        },
                        external_id,
                        retracted,
                    }
                }
                _ => continue,
            };
            items.push(item);
        }
        let next = bundle.next().map(|url| PageRef::Next(url.to_owned()));
        Ok(DocumentPage {
            items,
            next,
            server_time,
        })
    }

    async fn map_document_reference(&self, doc: DocumentReference) -> Result<Incoming> {
        let external_id = external_id(&self.name, "DocumentReference", doc.id.as_deref())?;
        if doc.status.as_deref() == Some("entered-in-error") {
            return Ok(Incoming::Retracted { external_id });
        }
        let Some(attachment) = doc
            .content
            .iter()
            .map(|c| &c.attachment)
            .find(|a| a.data.is_some() || a.url.is_some())
        else {
            return Ok(skipped(external_id, "it has no content"));
        };
        let (mime_type, content, retyped) = match self.attachment(attachment).await? {
            Ok(found) => found,
            Err(reason) => return Ok(skipped(external_id, &reason)),
        };
        let title = doc
            .description
            .clone()
            .or_else(|| attachment.title.clone())
            .or_else(|| doc.kind.as_ref().and_then(|k| k.label().map(str::to_owned)))
            .unwrap_or_else(|| "Document".to_owned());
        let date = first_date(&[
            doc.date.as_deref(),
            attachment.creation.as_deref(),
            doc.meta.last_updated.as_deref(),
        ]);
        let Some(date) = date else {
            return Ok(skipped(external_id, "it has no readable date"));
        };
        Ok(Incoming::Document(IncomingDocument {
            version: version(&doc.meta, &content),
            doc_type: document_type(doc.kind.as_ref(), &doc.category),
            title: cap(&title, TITLE_MAX),
            date,
            author: display_of(&doc.author),
            mime_type,
            content,
            retyped,
            external_id,
            results: Vec::new(),
        }))
    }

    async fn map_diagnostic_report(
        &self,
        report: DiagnosticReport,
        included: &HashMap<String, &serde_json::Value>,
    ) -> Result<Incoming> {
        let external_id = external_id(&self.name, "DiagnosticReport", report.id.as_deref())?;
        if matches!(
            report.status.as_deref(),
            Some("entered-in-error" | "cancelled")
        ) {
            return Ok(Incoming::Retracted { external_id });
        }
        let label = report
            .code
            .as_ref()
            .and_then(CodeableConcept::label)
            .unwrap_or("Diagnostic report")
            .to_owned();
        let date = first_date(&[
            report.effective_date_time.as_deref(),
            report.issued.as_deref(),
            report.meta.last_updated.as_deref(),
        ]);
        let Some(date) = date else {
            return Ok(skipped(external_id, "it has no readable date"));
        };
        let mut structured = Vec::new();
        let (mime_type, content, retyped) = match report
            .presented_form
            .iter()
            .find(|a| a.data.is_some() || a.url.is_some())
        {
            Some(form) => {
                // The text is the PHP's; the values come from the results it included.
                for reference in report.result.iter().filter_map(|r| r.reference.as_deref()) {
                    if let Some(value) = included.get(reference) {
                        let obs: Observation = self.parse((*value).clone(), "an Observation")?;
                        structured.extend(results_of(&obs, Some(&date)));
                    }
                }
                match self.attachment(form).await? {
                    Ok(found) => found,
                    Err(reason) => return Ok(skipped(external_id, &reason)),
                }
            }
            None => {
                let mut results = Vec::new();
                for reference in report
                    .result
                    .iter()
                    .filter_map(|r| r.reference.as_deref())
                    .take(200)
                {
                    let value = match included.get(reference) {
                        Some(value) => (*value).clone(),
                        None => self.read(reference).await?,
                    };
                    let obs = self.parse::<Observation>(value, "an Observation")?;
                    structured.extend(results_of(&obs, Some(&date)));
                    results.push(obs);
                }
                if results.is_empty() && report.conclusion.is_none() {
                    return Ok(skipped(
                        external_id,
                        "it has neither a presented form nor results",
                    ));
                }
                (
                    "text/plain".to_owned(),
                    render_report(&label, &report, &results).into_bytes(),
                    None,
                )
            }
        };
        let doc_type = if report.category.iter().any(|c| c.has_code(V2_0074, "LAB")) {
            DocumentType::LabReport
        } else {
            document_type(report.code.as_ref(), &report.category)
        };
        Ok(Incoming::Document(IncomingDocument {
            version: version(&report.meta, &content),
            doc_type,
            title: cap(&label, TITLE_MAX),
            date,
            author: display_of(&report.performer),
            mime_type,
            content,
            retyped,
            external_id,
            results: structured,
        }))
    }

    /// An attachment's type, bytes and why its declared type was not kept ([`stored_type`]):
    /// inline, or from the `Binary` (or other URL under the base) it points to.
    /// `Ok(Err(reason))`: unusable, skip the document.
    async fn attachment(
        &self,
        a: &Attachment,
    ) -> Result<std::result::Result<(String, Vec<u8>, Option<String>), String>> {
        let max = self.limits.max_document_bytes;
        if a.size.is_some_and(|s| s > max as u64) {
            return Ok(Err(format!(
                "it is larger than the {} MiB the platform accepts",
                max >> 20
            )));
        }
        let (declared, data) = match (&a.data, &a.url) {
            (Some(data), _) => (a.content_type.clone(), data.clone()),
            (None, Some(url)) => {
                let binary: Binary = self.parse(self.read(url).await?, "a Binary")?;
                let Some(data) = binary.data else {
                    return Ok(Err("its Binary has no data".to_owned()));
                };
                (a.content_type.clone().or(binary.content_type), data)
            }
            (None, None) => return Ok(Err("it has no content".to_owned())),
        };
        if data.len() > max / 3 * 4 + 4 {
            return Ok(Err(format!(
                "it is larger than the {} MiB the platform accepts",
                max >> 20
            )));
        }
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data.trim()) else {
            return Ok(Err("its content is not valid base64".to_owned()));
        };
        if bytes.is_empty() {
            return Ok(Err("its content is empty".to_owned()));
        }
        let (mime, retyped) = stored_type(declared.as_deref(), &bytes);
        Ok(Ok((mime, bytes, retyped)))
    }
}

/// What a file from a PHP is kept as: the type it was declared as when the bytes are that
/// (magic numbers; valid UTF-8 for text) and it is one the platform shows
/// ([`domain::check::DOCUMENT_TYPES`]), or `text/html` (valid UTF-8: kept, but only ever
/// served as a download). Anything else is kept as `application/octet-stream` (a download,
/// never rendered) with the reason, free of PHI, for the patient's log: a PHP's declared type
/// is a claim, and one that lies (HTML sent as a PDF) must not become a page of the platform.
pub fn stored_type(declared: Option<&str>, bytes: &[u8]) -> (String, Option<String>) {
    const SAFE: &str = "application/octet-stream";
    let Some(declared) = declared
        .map(domain::check::mime_essence)
        .filter(|m| !m.is_empty())
    else {
        return (
            SAFE.to_owned(),
            Some("it was sent without a type".to_owned()),
        );
    };
    let shown = domain::check::DOCUMENT_TYPES.contains(&declared.as_str());
    match domain::check::content_is(&declared, bytes) {
        Some(true) if shown || declared == "text/html" => (declared, None),
        Some(false) => {
            let what = if valid_mime(&declared) {
                declared.as_str()
            } else {
                "type"
            };
            (
                SAFE.to_owned(),
                Some(format!("its content is not the {what} it was sent as")),
            )
        }
        _ if declared == SAFE => (declared, None),
        _ if valid_mime(&declared) => (
            SAFE.to_owned(),
            Some(format!("the platform does not show {declared} files")),
        ),
        _ => (
            SAFE.to_owned(),
            Some("it was sent with an invalid type".to_owned()),
        ),
    }
}

/// The first reference that names someone, capped.
fn display_of(refs: &[super::model::Reference]) -> Option<String> {
    refs.iter()
        .find_map(|r| r.display.as_deref())
        .map(|name| cap(name, TITLE_MAX))
}

/// The first of `candidates` that is a readable date, as `YYYY-MM-DD`.
fn first_date(candidates: &[Option<&str>]) -> Option<String> {
    candidates.iter().flatten().find_map(|d| date_part(d))
}

fn is_match(entry: &BundleEntry) -> bool {
    entry
        .search
        .as_ref()
        .and_then(|s| s.mode.as_deref())
        .is_none_or(|mode| mode == "match")
}

/// `Kind/id`, or an error naming `provider` (its display name) when the id is not a FHIR id.
fn external_id(provider: &str, kind: &str, id: Option<&str>) -> Result<String> {
    match id {
        Some(id) if super::valid_id(id) => Ok(format!("{kind}/{id}")),
        _ => Err(ConnectorError::Invalid(format!(
            "{provider} sent a {kind} without a valid id"
        ))),
    }
}

fn skipped(external_id: String, reason: &str) -> Incoming {
    Incoming::Skipped {
        external_id,
        reason: reason.to_owned(),
    }
}

fn version(meta: &super::model::Meta, content: &[u8]) -> String {
    meta.version_id
        .clone()
        .or_else(|| meta.last_updated.clone())
        .filter(|v| v.len() <= 64)
        .unwrap_or_else(|| {
            use sha2::Digest as _;
            hex_prefix(&sha2::Sha256::digest(content))
        })
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// `2026-11-01T08:00:00Z` or `2026-11-01` -> `2026-11-01`; anything else, `None`.
fn date_part(value: &str) -> Option<String> {
    let day = value.get(..10)?;
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

fn valid_mime(m: &str) -> bool {
    m.len() <= 100
        && m.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && m.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"/.+-".contains(&c))
        })
}

/// At most `max` characters, on a character boundary, with an ellipsis when cut.
fn cap(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => {
            let mut out: String = s[..cut].chars().take(max - 1).collect();
            out.push('…');
            out
        }
    }
}

/// The platform's document type for a FHIR type and categories: LOINC first, then words.
pub fn document_type(kind: Option<&CodeableConcept>, category: &[CodeableConcept]) -> DocumentType {
    let loinc = kind
        .into_iter()
        .chain(category)
        .flat_map(|c| &c.coding)
        .filter(|c| c.system.as_deref() == Some(LOINC))
        .find_map(|c| match c.code.as_deref()? {
            "11502-2" | "26436-6" | "11526-1" => Some(DocumentType::LabReport),
            "11506-3" | "28570-0" => Some(DocumentType::ProgressNote),
            "34117-2" | "11384-5" | "29545-1" | "51848-0" => Some(DocumentType::PhysicalAssessment),
            "18842-5" => Some(DocumentType::DischargeSummary),
            "57133-1" => Some(DocumentType::ReferralLetter),
            "18748-4" | "18726-0" => Some(DocumentType::ImagingReport),
            _ => None,
        });
    if let Some(t) = loinc {
        return t;
    }
    if category.iter().any(|c| c.has_code(V2_0074, "LAB")) {
        return DocumentType::LabReport;
    }
    if category.iter().any(|c| {
        ["RAD", "CT", "MR", "US", "NMR", "RUS"]
            .iter()
            .any(|code| c.has_code(V2_0074, code))
    }) {
        return DocumentType::ImagingReport;
    }
    let words: String = kind
        .into_iter()
        .chain(category)
        .filter_map(CodeableConcept::label)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| words.contains(n));
    if has(&["nutrition", "diet"]) {
        DocumentType::DietaryAssessment
    } else if has(&["laboratory", "lab "]) {
        DocumentType::LabReport
    } else if has(&["progress"]) {
        DocumentType::ProgressNote
    } else if has(&["discharge"]) {
        DocumentType::DischargeSummary
    } else if has(&["referral"]) {
        DocumentType::ReferralLetter
    } else if has(&["imaging", "radiology", "x-ray"]) {
        DocumentType::ImagingReport
    } else if has(&["physical", "examination"]) {
        DocumentType::PhysicalAssessment
    } else {
        DocumentType::Other
    }
}

/// The followed values an Observation holds (its own, or its components'), each with a LOINC
/// code of [`domain::measures::MEASURES`], a numeric value and a unit; dated by the
/// Observation, else by its report (`report_date`). Anything else is left out.
pub fn results_of(obs: &Observation, report_date: Option<&str>) -> Vec<IncomingResult> {
    let Some(id) = obs.id.as_deref().filter(|id| super::valid_id(id)) else {
        return Vec::new();
    };
    if !matches!(
        obs.status.as_deref(),
        None | Some("final" | "amended" | "corrected" | "preliminary")
    ) {
        return Vec::new();
    }
    let Some(date) = first_date(&[obs.effective_date_time.as_deref(), obs.issued.as_deref()])
        .or_else(|| report_date.map(str::to_owned))
    else {
        return Vec::new();
    };
    let followed = |code: Option<&CodeableConcept>| {
        code?
            .coding
            .iter()
            .filter(|c| c.system.as_deref() == Some(LOINC))
            .find_map(|c| {
                c.code
                    .as_deref()
                    .filter(|c| domain::measures::measure_of(c).is_some())
            })
            .map(str::to_owned)
    };
    let value = |q: Option<&super::model::Quantity>| {
        let q = q?;
        Some((
            q.value.filter(|v| v.is_finite())?,
            q.unit.clone().unwrap_or_default(),
        ))
    };
    // The Observation's own value, then its components' (`#code` tells them apart).
    let parts = std::iter::once((obs.code.as_ref(), obs.value_quantity.as_ref(), false)).chain(
        obs.component
            .iter()
            .map(|c| (c.code.as_ref(), c.value_quantity.as_ref(), true)),
    );
    parts
        .filter_map(|(code, quantity, component)| {
            let code = followed(code)?;
            let (value, unit) = value(quantity)?;
            let external_id = if component {
                format!("Observation/{id}#{code}")
            } else {
                format!("Observation/{id}")
            };
            Some(IncomingResult {
                external_id,
                code,
                value,
                unit,
                date: date.clone(),
            })
        })
        .collect()
}

/// A DiagnosticReport without a presented form, as text a dietician can read.
fn render_report(label: &str, report: &DiagnosticReport, results: &[Observation]) -> String {
    let mut out = format!("{label}\n");
    let mut facts = Vec::new();
    if let Some(status) = &report.status {
        facts.push(format!("Status: {status}"));
    }
    if let Some(when) = report
        .effective_date_time
        .as_deref()
        .or(report.issued.as_deref())
    {
        facts.push(format!("Date: {when}"));
    }
    if let Some(performer) = report.performer.iter().find_map(|p| p.display.as_deref()) {
        facts.push(format!("Performer: {performer}"));
    }
    if !facts.is_empty() {
        out.push_str(&facts.join(" · "));
        out.push('\n');
    }
    if !results.is_empty() {
        out.push_str("\nResults\n");
        for o in results {
            let name = o
                .code
                .as_ref()
                .and_then(CodeableConcept::label)
                .unwrap_or("Result");
            let value = match (
                &o.value_quantity,
                &o.value_string,
                &o.value_codeable_concept,
            ) {
                (Some(q), _, _) => quantity(q),
                (_, Some(s), _) => s.clone(),
                (_, _, Some(c)) => c.label().unwrap_or("").to_owned(),
                _ => "(no value)".to_owned(),
            };
            out.push_str(&format!("- {name}: {value}"));
            if let Some(range) = o.reference_range.first() {
                let text = match (&range.low, &range.high, &range.text) {
                    (_, _, Some(text)) => text.clone(),
                    (Some(low), Some(high), _) => format!("{}–{}", quantity(low), quantity(high)),
                    (Some(low), None, _) => format!("≥ {}", quantity(low)),
                    (None, Some(high), _) => format!("≤ {}", quantity(high)),
                    (None, None, None) => String::new(),
                };
                if !text.is_empty() {
                    out.push_str(&format!(" (reference {text})"));
                }
            }
            if let Some(flag) = o.interpretation.first().and_then(|i| {
                i.coding
                    .iter()
                    .find_map(|c| c.code.as_deref())
                    .or(i.text.as_deref())
            }) {
                out.push_str(&format!(" [{flag}]"));
            }
            out.push('\n');
        }
    }
    if let Some(conclusion) = &report.conclusion {
        out.push_str(&format!("\nConclusion: {conclusion}\n"));
    }
    out
}

fn quantity(q: &super::model::Quantity) -> String {
    match (q.value, &q.unit) {
        (Some(v), Some(u)) => format!("{v} {u}"),
        (Some(v), None) => v.to_string(),
        (None, Some(u)) => u.clone(),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn concept(v: serde_json::Value) -> CodeableConcept {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn types_come_from_loinc_then_category_then_words() {
        let loinc = |code: &str| concept(json!({"coding": [{"system": LOINC, "code": code}]}));
        assert_eq!(
            document_type(Some(&loinc("11506-3")), &[]),
            DocumentType::ProgressNote
        );
        assert_eq!(
            document_type(Some(&loinc("34117-2")), &[]),
            DocumentType::PhysicalAssessment
        );
        assert_eq!(
            document_type(Some(&loinc("18842-5")), &[]),
            DocumentType::DischargeSummary
        );
        let lab = concept(json!({"coding": [{"system": V2_0074, "code": "LAB"}]}));
        assert_eq!(
            document_type(Some(&loinc("99999-9")), &[lab]),
            DocumentType::LabReport
        );
        let words = concept(json!({"text": "Nutrition consult"}));
        assert_eq!(
            document_type(Some(&words), &[]),
            DocumentType::DietaryAssessment
        );
        assert_eq!(document_type(None, &[]), DocumentType::Other);
    }

    #[test]
    fn an_invalid_id_is_an_error_naming_the_provider() {
        assert_eq!(
            external_id("Riverside Medical", "DocumentReference", Some("a1.b-2")).unwrap(),
            "DocumentReference/a1.b-2"
        );
        for id in [None, Some(""), Some("no/slashes")] {
            let err = external_id("Riverside Medical", "DocumentReference", id).unwrap_err();
            assert_eq!(
                err.to_string(),
                "Riverside Medical sent a DocumentReference without a valid id"
            );
        }
    }

    #[test]
    fn values_are_capped_and_dates_checked() {
        assert_eq!(cap(&"x".repeat(250), 200).chars().count(), 200);
        assert!(cap(&"é".repeat(250), 200).ends_with('…'));
        assert_eq!(cap("short", 200), "short");
        assert_eq!(
            date_part("2026-11-01T08:00:00Z").as_deref(),
            Some("2026-11-01")
        );
        assert_eq!(date_part("2026-13-01"), None);
        assert_eq!(date_part("soon"), None);
        assert!(valid_mime("application/pdf"));
        assert!(!valid_mime("text/html<script>"));
    }

    #[test]
    fn a_declared_type_is_kept_only_when_the_bytes_are_that_and_the_platform_shows_it() {
        let pdf = b"%PDF-1.4\n...";
        let html = b"<html><script>alert(1)</script></html>";
        assert_eq!(
            stored_type(Some("application/pdf"), pdf),
            ("application/pdf".into(), None)
        );
        assert_eq!(
            stored_type(Some("Application/PDF; x=1"), pdf).0,
            "application/pdf"
        );
        assert_eq!(stored_type(Some("text/plain"), b"Notes.").0, "text/plain");
        assert_eq!(
            stored_type(Some("text/markdown"), b"# Notes").0,
            "text/markdown"
        );
        // HTML is kept as HTML (served only as a download).
        assert_eq!(
            stored_type(Some("text/html"), html),
            ("text/html".into(), None)
        );
        let (mime, why) = stored_type(Some("application/pdf"), html);
        assert_eq!(mime, "application/octet-stream");
        assert_eq!(
            why.as_deref(),
            Some("its content is not the application/pdf it was sent as")
        );
        let (mime, why) = stored_type(Some("image/png"), pdf);
        assert_eq!(
            (mime.as_str(), why.is_some()),
            ("application/octet-stream", true)
        );
        let (mime, why) = stored_type(Some("text/plain"), b"\xff\xfe\x00");
        assert_eq!(
            (mime.as_str(), why.is_some()),
            ("application/octet-stream", true)
        );
        let (mime, why) = stored_type(Some("image/svg+xml"), b"<svg onload=alert(1)/>");
        assert_eq!(mime, "application/octet-stream");
        assert_eq!(
            why.as_deref(),
            Some("the platform does not show image/svg+xml files")
        );
        assert_eq!(stored_type(None, pdf).0, "application/octet-stream");
        assert_eq!(
            stored_type(Some("application/octet-stream"), pdf),
            ("application/octet-stream".into(), None)
        );
        assert_eq!(
            stored_type(Some("text/html<script>"), html).0,
            "application/octet-stream"
        );
    }

    #[test]
    fn a_report_without_a_presented_form_reads_as_text() {
        let report: DiagnosticReport = serde_json::from_value(json!({
            "status": "final", "effectiveDateTime": "2026-11-01",
            "performer": [{"display": "City Lab"}], "conclusion": "Mild hyperlipidaemia."
        }))
        .unwrap();
        let ldl: Observation = serde_json::from_value(json!({
            "code": {"text": "LDL cholesterol"},
            "valueQuantity": {"value": 4.1, "unit": "mmol/L"},
            "referenceRange": [{"high": {"value": 3.0, "unit": "mmol/L"}}],
            "interpretation": [{"coding": [{"code": "H"}]}]
        }))
        .unwrap();
        let text = render_report("Lipid panel", &report, &[ldl]);
        assert!(
            text.starts_with("Lipid panel\nStatus: final · Date: 2026-11-01 · Performer: City Lab"),
            "{text}"
        );
        assert!(
            text.contains("- LDL cholesterol: 4.1 mmol/L (reference ≤ 3 mmol/L) [H]"),
            "{text}"
        );
        assert!(text.ends_with("Conclusion: Mild hyperlipidaemia.\n"));
    }
}
