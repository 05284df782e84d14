//! Synthetic but realistic PHP records: patients with an MRN, and per patient a rotation of
//! the documents a dietician receives — progress notes, a history and physical (as a PDF in a
//! `Binary`), discharge summaries, referral letters, nutrition notes, and lab reports as
//! `DiagnosticReport`s with LOINC-coded `Observation` results. Deterministic for a seed.

use crate::fhir::FhirSandbox;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{json, Value};

/// The identifier system of the sandbox PHP's medical record numbers.
pub const MRN_SYSTEM: &str = "urn:sandbox-php:mrn";
const LOINC: &str = "http://loinc.org";

const GIVEN: [&str; 12] = [
    "Ana", "Bruno", "Chloe", "Dev", "Elif", "Farah", "George", "Hana", "Ivan", "Jia", "Kofi",
    "Lena",
];
const FAMILY: [&str; 12] = [
    "Lima",
    "Okafor",
    "Nguyen",
    "Patel",
    "Schmidt",
    "Haddad",
    "Moreau",
    "Tanaka",
    "Kowalski",
    "Garcia",
    "Mensah",
    "Andersson",
];

/// A seeded patient, as the platform would know them.
#[derive(Debug, Clone)]
pub struct SeededPatient {
    /// The resource id at the PHP.
    pub id: String,
    pub mrn: String,
    pub name: String,
    pub birth_date: String,
    pub email: String,
}

/// Seeds `patients` patients with `documents` documents each.
pub fn php(sb: &FhirSandbox, patients: usize, documents: usize, seed: u64) -> Vec<SeededPatient> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..patients)
        .map(|i| {
            let given = GIVEN[i % GIVEN.len()];
            let family = FAMILY[(i / GIVEN.len() + i) % FAMILY.len()];
            let mrn = format!("MRN{:06}", 100_000 + i);
            let birth = NaiveDate::from_ymd_opt(
                1950 + (i % 50) as i32,
                1 + (i % 12) as u32,
                1 + (i % 28) as u32,
            )
            .expect("a valid date")
            .to_string();
            let email = format!(
                "{}.{}{}@example.org",
                given.to_lowercase(),
                family.to_lowercase(),
                i
            );
            let id = sb.put(json!({
                "resourceType": "Patient",
                "id": format!("pat{}", i + 1),
                "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
                "name": [{"family": family, "given": [given]}],
                "birthDate": birth,
                "telecom": [{"system": "email", "value": email}],
            }));
            for d in 0..documents {
                add_document(sb, &id, d, &mut rng);
            }
            SeededPatient {
                id,
                mrn,
                name: format!("{given} {family}"),
                birth_date: birth,
                email,
            }
        })
        .collect()
}

fn day(rng: &mut StdRng) -> String {
    (Utc::now() - Duration::days(rng.gen_range(1..720)))
        .format("%Y-%m-%d")
        .to_string()
}

fn loinc(code: &str, display: &str) -> Value {
    json!({"coding": [{"system": LOINC, "code": code, "display": display}], "text": display})
}

/// The `n`th document of a patient, by a fixed rotation of kinds.
pub fn add_document(sb: &FhirSandbox, patient: &str, n: usize, rng: &mut StdRng) -> String {
    let subject = json!({"reference": format!("Patient/{patient}")});
    let date = day(rng);
    match n % 6 {
        0 => {
            // A lipid panel: results only, the platform renders them.
            let results: Vec<Value> = [
                ("2093-3", "Total cholesterol", 3.5..7.5, "mmol/L", 5.2),
                ("2085-9", "HDL cholesterol", 0.8..2.2, "mmol/L", 1.0),
                ("13457-7", "LDL cholesterol", 1.5..5.0, "mmol/L", 3.0),
                ("2571-8", "Triglycerides", 0.6..3.5, "mmol/L", 1.7),
            ]
            .into_iter()
            .map(|(code, name, range, unit, high)| {
                let value: f64 = (rng.gen_range(range) * 10.0_f64).round() / 10.0;
                let id = sb.put(json!({
                    "resourceType": "Observation",
                    "status": "final",
                    "code": loinc(code, name),
                    "subject": subject,
                    "effectiveDateTime": date,
                    "valueQuantity": {"value": value, "unit": unit},
                    "referenceRange": [{"high": {"value": high, "unit": unit}}],
                    "interpretation": if value > high { json!([{"coding": [{"code": "H"}]}]) } else { json!([]) },
                }));
                json!({"reference": format!("Observation/{id}")})
            })
            .collect();
            sb.put(json!({
                "resourceType": "DiagnosticReport",
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
                "code": loinc("57698-3", "Lipid panel"),
                "subject": subject,
                "effectiveDateTime": date,
                "performer": [{"display": "Springfield Pathology"}],
                "result": results,
                "conclusion": "Reviewed by GP.",
            }))
        }
        1 => text_document(
            n,sb, &subject, &date, ("11506-3", "Progress note"), "Follow-up visit",
            &format!("Seen for review. Weight stable. Blood pressure {}/{} mmHg. Advised to continue the current plan and see the dietician about fibre intake.", rng.gen_range(110..140), rng.gen_range(70..90))),
        2 => {
            let pdf = minimal_pdf(&format!("History and physical examination, {date} (#{n})"));
            let binary = sb.put(json!({"resourceType": "Binary", "contentType": "application/pdf", "data": B64.encode(&pdf)}));
            sb.put(json!({
                "resourceType": "DocumentReference",
                "status": "current",
                "type": loinc("34117-2", "History and physical note"),
                "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "code": "clinical-note"}]}],
                "subject": subject,
                "date": format!("{date}T09:30:00Z"),
                "author": [{"display": "Dr Jordan Blake"}],
                "description": "History and physical",
                "content": [{"attachment": {"contentType": "application/pdf", "url": format!("Binary/{binary}"), "size": pdf.len()}}],
            }))
        }
        3 => text_document(
            n,sb, &subject, &date, ("18842-5", "Discharge summary"), "Discharge summary",
            "Admitted for two days with dehydration after gastroenteritis. Discharged on oral fluids; diet as tolerated."),
        4 => text_document(
            n,sb, &subject, &date, ("57133-1", "Referral note"), "Referral to dietician",
            "Please review for weight management and type 2 diabetes prevention. HbA1c borderline."),
        _ => {
            let hba1c = (rng.gen_range(5.0..7.5_f64) * 10.0).round() / 10.0;
            sb.put(json!({
                "resourceType": "DiagnosticReport",
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
                "code": loinc("4548-4", "Hemoglobin A1c"),
                "subject": subject,
                "effectiveDateTime": date,
                "performer": [{"display": "Springfield Pathology"}],
                "presentedForm": [{"contentType": "text/plain", "data": B64.encode(format!("Hemoglobin A1c: {hba1c} % (reference < 6.0 %), {date} (#{n})\n"))}],
            }))
        }
    }
}

/// A text DocumentReference; the visit date in the text keeps each one distinct.
fn text_document(
    n: usize,
    sb: &FhirSandbox,
    subject: &Value,
    date: &str,
    (code, display): (&str, &str),
    title: &str,
    text: &str,
) -> String {
    sb.put(json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "type": loinc(code, display),
        "subject": subject,
        "date": format!("{date}T10:00:00Z"),
        "author": [{"display": "Dr Sam Rivera"}],
        "description": title,
        "content": [{"attachment": {"contentType": "text/plain", "data": B64.encode(format!("{date} (#{n}): {text}"))}}],
    }))
}

/// A DocumentReference carrying `bytes` inline, declared as `content_type` (which the bytes
/// need not be: a PHP's declared type is a claim). Returns its id.
pub fn attachment_document(
    sb: &FhirSandbox,
    patient: &str,
    title: &str,
    content_type: &str,
    bytes: &[u8],
) -> String {
    sb.put(json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "type": loinc("11506-3", "Progress note"),
        "subject": {"reference": format!("Patient/{patient}")},
        "date": "2026-11-02T10:00:00Z",
        "author": [{"display": "Dr Sam Rivera"}],
        "description": title,
        "content": [{"attachment": {"contentType": content_type, "data": B64.encode(bytes)}}],
    }))
}

/// A one-page PDF with a line of text: enough for viewers and magic-byte checks.
pub fn minimal_pdf(text: &str) -> Vec<u8> {
    let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The results a dietician follows, over the last year, as Observations of their own: a
/// visit every two months (weight, BMI and a blood pressure panel, category `vital-signs`) and
/// labs every three (HbA1c, glucose and eGFR, category `laboratory`). Glucose comes in mmol/L
/// and mg/dL by turns, as PHPs mix them. Weight and HbA1c drift down, as they would under a
/// dietician's care. Returns how many Observations were added.
pub fn add_series(sb: &FhirSandbox, patient: &str, rng: &mut StdRng) -> usize {
    let subject = json!({"reference": format!("Patient/{patient}")});
    let category = |code: &str| json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": code}]}]);
    let mut added = 0;
    let mut put = |code: (&str, &str), cat: &str, date: &str, value: Value| {
        let mut obs = json!({
            "resourceType": "Observation",
            "status": "final",
            "category": category(cat),
            "code": loinc(code.0, code.1),
            "subject": subject,
            "effectiveDateTime": date,
        });
        let body = obs.as_object_mut().expect("an object");
        for (k, v) in value.as_object().expect("fields").clone() {
            body.insert(k, v);
        }
        sb.put(obs);
        added += 1;
    };
    let height: f64 = rng.gen_range(1.55..1.90);
    let start_weight: f64 = rng.gen_range(72.0..105.0);
    let start_hba1c: f64 = rng.gen_range(6.4..8.2);
    let today = Utc::now().date_naive();
    for visit in 0..6u32 {
        let date = (today - Duration::days(i64::from(5 - visit) * 61 + 3)).to_string();
        let weight =
            ((start_weight - f64::from(visit) * rng.gen_range(0.4..1.6)) * 10.0).round() / 10.0;
        let bmi = (weight / (height * height) * 10.0).round() / 10.0;
        put(
            ("29463-7", "Body weight"),
            "vital-signs",
            &date,
            json!({"valueQuantity": {"value": weight, "unit": "kg"}}),
        );
        put(
            ("39156-5", "Body mass index"),
            "vital-signs",
            &date,
            json!({"valueQuantity": {"value": bmi, "unit": "kg/m2"}}),
        );
        let quantity = |v: i64| json!({"value": v, "unit": "mmHg"});
        put(
            ("85354-9", "Blood pressure panel"),
            "vital-signs",
            &date,
            json!({"component": [
                {"code": loinc("8480-6", "Systolic blood pressure"), "valueQuantity": quantity(rng.gen_range(118..146))},
                {"code": loinc("8462-4", "Diastolic blood pressure"), "valueQuantity": quantity(rng.gen_range(72..94))},
            ]}),
        );
    }
    for quarter in 0..4u32 {
        let date = (today - Duration::days(i64::from(3 - quarter) * 91 + 10)).to_string();
        let hba1c =
            ((start_hba1c - f64::from(quarter) * rng.gen_range(0.1..0.4)) * 10.0).round() / 10.0;
        put(
            ("4548-4", "Hemoglobin A1c"),
            "laboratory",
            &date,
            json!({"valueQuantity": {"value": hba1c, "unit": "%"}}),
        );
        let mmol: f64 = rng.gen_range(5.2..8.5);
        let glucose = if quarter % 2 == 0 {
            json!({"value": (mmol * 10.0).round() / 10.0, "unit": "mmol/L"})
        } else {
            json!({"value": (mmol * 18.016).round(), "unit": "mg/dL"})
        };
        put(
            ("2345-7", "Glucose"),
            "laboratory",
            &date,
            json!({"valueQuantity": glucose}),
        );
        put(
            ("33914-3", "eGFR"),
            "laboratory",
            &date,
            json!({"valueQuantity": {"value": rng.gen_range(62..95), "unit": "mL/min/1.73m2"}}),
        );
    }
    added
}
