//! The FHIR source against the stand-in PHP, over real HTTP on a local port.

use connectors::fhir::keys::SigningKey;
use connectors::fhir::mapping::{first_pages, Incoming, IncomingDocument};
use connectors::fhir::{Auth, FhirSource, PatientMatch, PatientQuery, DEFAULT_SCOPE};
use connectors::{ConnectorError, Limits};
use domain::DocumentType;
use sandbox::fhir::{FhirSandbox, Options};
use sandbox::Served;

/// The provider's display name, as the practice knows it: every error message says it.
const PROVIDER: &str = "Riverside Medical";

async fn php(
    options: Options,
    patients: usize,
    docs: usize,
) -> (FhirSandbox, Served, Vec<sandbox::seed::SeededPatient>) {
    let sb = FhirSandbox::new(options);
    let seeded = sandbox::seed::php(&sb, patients, docs, 7);
    let served = sb.serve("127.0.0.1:0").await.expect("serve");
    (sb, served, seeded)
}

fn smart(client_id: &str, key: SigningKey) -> Auth {
    Auth::SmartBackend {
        client_id: client_id.into(),
        key,
        scope: DEFAULT_SCOPE.into(),
        token_url: None,
    }
}

/// Every page of every search for a patient since `since`; returns items and the earliest
/// server time of the first pages (the next watermark).
async fn pull(
    source: &FhirSource,
    patient: &str,
    since: Option<&str>,
    page_size: usize,
) -> (Vec<Incoming>, String) {
    let mut items = Vec::new();
    let mut watermark: Option<String> = None;
    for first in first_pages(patient, since, page_size) {
        let mut next = Some(first);
        let mut first_page = true;
        while let Some(page) = next {
            let got = source.document_page(&page).await.expect("page");
            if first_page {
                let t = got.server_time.clone().expect("server time");
                watermark = Some(watermark.map_or(t.clone(), |w| w.min(t)));
                first_page = false;
            }
            items.extend(got.items);
            next = got.next;
        }
    }
    (items, watermark.expect("a watermark"))
}

fn documents(items: &[Incoming]) -> Vec<&IncomingDocument> {
    items
        .iter()
        .filter_map(|i| match i {
            Incoming::Document(d) => Some(d),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn smart_backend_auth_with_es384_and_rs384_reads_every_document_through_paging() {
    for key in [
        SigningKey::generate_es384("es-key"),
        SigningKey::generate_rs384("rs-key"),
    ] {
        let (sb, served, seeded) = php(Options::default(), 2, 6).await;
        sb.register_client("records-platform", &key.jwks());
        let source = FhirSource::new(
            PROVIDER,
            &served.base,
            smart("records-platform", key),
            Limits::default(),
        )
        .expect("source");

        let found = source
            .find_patient(&PatientQuery {
                identifier: Some(format!("{}|{}", sandbox::seed::MRN_SYSTEM, seeded[1].mrn)),
                ..Default::default()
            })
            .await
            .expect("find");
        let PatientMatch::Found(found) = found else {
            panic!("not found: {found:?}")
        };
        assert_eq!(found.id, seeded[1].id);
        // What a link is checked against: the PHP's own demographics.
        assert!(found.agrees_with(&seeded[1].name, Some(&seeded[1].birth_date)));
        assert!(!found.agrees_with(&seeded[1].name, Some("1900-01-01")));
        assert!(!found.agrees_with("Someone Else", Some(&seeded[1].birth_date)));

        // Pages of two force Bundle.link[next] on both searches.
        let (items, _) = pull(&source, &seeded[1].id, None, 2).await;
        let docs = documents(&items);
        assert_eq!(docs.len(), 6, "{items:?}");
        let by_type = |t: DocumentType| docs.iter().filter(|d| d.doc_type == t).count();
        assert_eq!(by_type(DocumentType::LabReport), 2);
        assert_eq!(by_type(DocumentType::ProgressNote), 1);
        assert_eq!(by_type(DocumentType::PhysicalAssessment), 1);
        assert_eq!(by_type(DocumentType::DischargeSummary), 1);
        assert_eq!(by_type(DocumentType::ReferralLetter), 1);
        let pdf = docs
            .iter()
            .find(|d| d.mime_type == "application/pdf")
            .expect("the PDF from a Binary");
        assert!(pdf.content.starts_with(b"%PDF-"));
        assert_eq!(pdf.author.as_deref(), Some("Dr Jordan Blake"));
        let lipids = docs
            .iter()
            .find(|d| d.title == "Lipid panel")
            .expect("lipid panel");
        let text = String::from_utf8(lipids.content.clone()).expect("text");
        assert!(text.contains("- LDL cholesterol: "), "{text}");
        assert!(docs
            .iter()
            .all(|d| d.external_id.contains('/') && !d.version.is_empty()));

        // One token for all of that; a token the server forgot is replaced once, silently.
        assert_eq!(sb.tokens_issued(), 1);
        sb.revoke_tokens();
        let (again, _) = pull(&source, &seeded[1].id, None, 50).await;
        assert_eq!(documents(&again).len(), 6);
        assert_eq!(sb.tokens_issued(), 2);
    }
}

#[tokio::test]
async fn an_unregistered_key_is_refused_with_what_to_check() {
    let (sb, served, seeded) = php(Options::default(), 1, 1).await;
    sb.register_client(
        "records-platform",
        &SigningKey::generate_es384("registered").jwks(),
    );
    let wrong = SigningKey::generate_es384("not-registered");
    let source = FhirSource::new(
        PROVIDER,
        &served.base,
        smart("records-platform", wrong),
        Limits::default(),
    )
    .expect("source");
    let err = source
        .document_page(&first_pages(&seeded[0].id, None, 10)[0])
        .await
        .expect_err("refused");
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("not-registered") && text.contains("ES384"),
        "{text}"
    );
    assert!(
        text.starts_with("Riverside Medical refused the platform's client assertion"),
        "{text}"
    );
    assert!(!text.contains("PHP"), "{text}");
    assert!(!text.contains(&seeded[0].name));
}

#[tokio::test]
async fn a_malformed_bundle_is_an_error_not_a_partial_page() {
    let (sb, served, seeded) = php(Options::default(), 1, 2).await;
    let source =
        FhirSource::new(PROVIDER, &served.base, Auth::None, Limits::default()).expect("source");
    sb.faults().update(|f| f.malformed_bundles = true);
    let err = source
        .document_page(&first_pages(&seeded[0].id, None, 10)[0])
        .await
        .expect_err("malformed");
    assert!(matches!(err, ConnectorError::Invalid(_)), "{err:?}");
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(
        text.starts_with("Riverside Medical's server sent "),
        "{text}"
    );
    assert!(!text.contains("PHP"), "{text}");
}

#[tokio::test]
async fn later_pulls_see_only_changes_by_the_servers_clock_and_retractions() {
    let (sb, served, seeded) = php(Options::default(), 1, 6).await;
    // The PHP's clock runs an hour ahead of ours: the watermark must be its time, not ours.
    sb.faults().update(|f| f.clock_offset_secs = 3600);
    let source =
        FhirSource::new(PROVIDER, &served.base, Auth::None, Limits::default()).expect("source");
    let patient = &seeded[0].id;
    let (first, watermark) = pull(&source, patient, None, 50).await;
    assert_eq!(documents(&first).len(), 6);
    assert!(
        watermark > chrono::Utc::now().to_rfc3339(),
        "the watermark is the server's clock: {watermark}"
    );
    let (nothing, _) = pull(&source, patient, Some(&watermark), 50).await;
    assert!(nothing.is_empty(), "{nothing:?}");

    let note = sb
        .all("DocumentReference")
        .into_iter()
        .find(|d| d["type"]["text"] == "Progress note")
        .expect("a progress note");
    let note_id = note["id"].as_str().expect("id").to_owned();
    sb.modify("DocumentReference", &note_id, |d| {
        d["content"][0]["attachment"]["data"] = serde_json::json!("VXBkYXRlZCBub3RlLg==");
    });
    let referral = sb
        .all("DocumentReference")
        .into_iter()
        .find(|d| d["type"]["text"] == "Referral note")
        .expect("a referral");
    let referral_id = referral["id"].as_str().expect("id").to_owned();
    sb.modify("DocumentReference", &referral_id, |d| {
        d["status"] = serde_json::json!("entered-in-error")
    });

    let (changed, _) = pull(&source, patient, Some(&watermark), 50).await;
    assert_eq!(changed.len(), 2, "{changed:?}");
    let updated = documents(&changed)[0];
    assert_eq!(updated.external_id, format!("DocumentReference/{note_id}"));
    assert_eq!(updated.content, b"Updated note.");
    assert_eq!(updated.version, "2");
    assert!(changed.contains(&Incoming::Retracted {
        external_id: format!("DocumentReference/{referral_id}")
    }));
}

#[tokio::test]
async fn patients_without_an_identifier_are_matched_only_when_certain() {
    for patient_match in [true, false] {
        let (_sb, served, seeded) = php(
            Options {
                patient_match,
                ..Options::default()
            },
            14,
            0,
        )
        .await;
        let source =
            FhirSource::new(PROVIDER, &served.base, Auth::None, Limits::default()).expect("source");
        let p = &seeded[3];
        let query = PatientQuery {
            identifier: None,
            name: p.name.clone(),
            birth_date: Some(p.birth_date.clone()),
            email: Some(p.email.clone()),
        };
        assert!(matches!(
            source.find_patient(&query).await.expect("match"),
            PatientMatch::Found(found) if found.id == p.id && found.birth_date.as_deref() == Some(&p.birth_date[..])
        ));
        let other_email = PatientQuery {
            email: Some("someone.else@example.org".into()),
            ..query.clone()
        };
        assert_eq!(
            source.find_patient(&other_email).await.expect("match"),
            PatientMatch::Unsure(1)
        );
        let nobody = PatientQuery {
            birth_date: Some("1900-01-01".into()),
            ..query
        };
        assert_eq!(
            source.find_patient(&nobody).await.expect("match"),
            PatientMatch::NotFound
        );
    }
}

#[tokio::test]
async fn requests_become_a_cdex_task_or_a_communication_request() {
    let (sb, served, seeded) = php(Options::default(), 1, 0).await;
    let source =
        FhirSource::new(PROVIDER, &served.base, Auth::None, Limits::default()).expect("source");
    let task = source
        .request_documents(
            "request-1",
            &seeded[0].id,
            &[DocumentType::LabReport],
            Some("Latest lipids please."),
        )
        .await
        .expect("task");
    assert!(task.starts_with("Task/"), "{task}");
    let stored = sb
        .get("Task", task.trim_start_matches("Task/"))
        .expect("stored");
    assert_eq!(stored["code"]["coding"][0]["code"], "data-request");
    assert_eq!(
        stored["for"]["reference"],
        format!("Patient/{}", seeded[0].id)
    );
    assert_eq!(
        source.request_status(&task).await.expect("status"),
        "requested"
    );
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        source.request_status(&task).await.expect("status"),
        "completed"
    );
    let (items, _) = pull(&source, &seeded[0].id, None, 50).await;
    assert_eq!(documents(&items)[0].title, "Requested records");

    let (_sb, served, seeded) = php(
        Options {
            tasks: false,
            ..Options::default()
        },
        1,
        0,
    )
    .await;
    let source =
        FhirSource::new(PROVIDER, &served.base, Auth::None, Limits::default()).expect("source");
    let request = source
        .request_documents("request-2", &seeded[0].id, &[], None)
        .await
        .expect("request");
    assert!(request.starts_with("CommunicationRequest/"), "{request}");
}

#[tokio::test]
async fn unavailable_and_rate_limited_answers_are_transient_with_the_servers_delay() {
    let (sb, served, seeded) = php(Options::default(), 1, 1).await;
    let source =
        FhirSource::new(PROVIDER, &served.base, Auth::None, Limits::default()).expect("source");
    sb.faults().update(|f| f.error_fraction = 1.0);
    let err = source
        .document_page(&first_pages(&seeded[0].id, None, 10)[0])
        .await
        .expect_err("503");
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(1)));
}

#[tokio::test]
async fn errors_name_the_provider_as_the_practice_knows_it() {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let source = FhirSource::new(
        PROVIDER,
        &format!("http://127.0.0.1:{closed}/fhir"),
        Auth::None,
        Limits::default(),
    )
    .expect("source");
    assert_eq!(source.name(), "Riverside Medical");
    let err = source
        .document_page(&first_pages("p1", None, 10)[0])
        .await
        .expect_err("nothing listens");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Riverside Medical's server could not be reached"
    );

    // A server without `.well-known/smart-configuration` and no token URL configured: who
    // fixes it, and what.
    let base = no_smart_configuration().await;
    let key = SigningKey::generate_es384("k1");
    let source = FhirSource::new(
        PROVIDER,
        &base,
        smart("records-platform", key),
        Limits::default(),
    )
    .expect("source");
    let err = source
        .document_page(&first_pages("p1", None, 10)[0])
        .await
        .expect_err("no token endpoint");
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Riverside Medical publishes no SMART token endpoint; an administrator must set its token URL"
    );
}

/// A FHIR server of one capability statement, with no SMART configuration (404 for anything
/// else): its base URL.
async fn no_smart_configuration() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/fhir", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0; 8192];
                let n = stream.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]);
                let answer = if request.starts_with("GET /fhir/metadata ") {
                    let body = r#"{"resourceType":"CapabilityStatement","fhirVersion":"4.0.1"}"#;
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_owned()
                };
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    base
}
