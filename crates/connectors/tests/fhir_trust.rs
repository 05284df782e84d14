//! What the FHIR source trusts of what a PHP says about itself: where to sign in (the SMART
//! configuration's token endpoint), where the next page is (`Bundle.link[next]`), and what a
//! document is (its declared MIME type). Against the stand-in PHP, over real HTTP.

use connectors::fhir::keys::SigningKey;
use connectors::fhir::mapping::{first_pages, Incoming, IncomingDocument};
use connectors::fhir::{Auth, FhirSource, PageRef, DEFAULT_SCOPE};
use connectors::{ConnectorError, Limits};
use sandbox::fhir::{FhirSandbox, Options};
use sandbox::Served;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const PROVIDER: &str = "Riverside Medical";
const CLIENT_ID: &str = "records-platform";

async fn php(options: Options, docs: usize) -> (FhirSandbox, Served, String) {
    let sb = FhirSandbox::new(options);
    let seeded = sandbox::seed::php(&sb, 1, docs, 7);
    let served = sb.serve("127.0.0.1:0").await.expect("serve");
    (sb, served, seeded[0].id.clone())
}

fn smart(key: SigningKey, token_url: Option<String>) -> Auth {
    Auth::SmartBackend {
        client_id: CLIENT_ID.into(),
        key,
        scope: DEFAULT_SCOPE.into(),
        token_url,
    }
}

/// Every page of the patient's DocumentReference search, `page_size` a page.
async fn pull(
    source: &FhirSource,
    patient: &str,
    page_size: usize,
) -> Result<Vec<Incoming>, ConnectorError> {
    let mut items = Vec::new();
    let mut next: Option<PageRef> = Some(first_pages(patient, None, page_size)[0].clone());
    while let Some(page) = next {
        let got = source.document_page(&page).await?;
        items.extend(got.items);
        next = got.next;
    }
    Ok(items)
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

/// A server that answers every request as a token endpoint would (`{"access_token": …}`),
/// counting the requests it gets: the place a client assertion must never reach.
async fn token_thief() -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/oauth2/token",
        listener.local_addr().expect("address")
    );
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = vec![0; 16384];
                let _ = stream.read(&mut request).await;
                let body = r#"{"access_token":"stolen","token_type":"bearer","expires_in":300}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_token_endpoint_on_another_host_is_never_sent_the_client_assertion() {
    let (sb, served, patient) = php(Options::default(), 2).await;
    let key = SigningKey::generate_es384("k1");
    sb.register_client(CLIENT_ID, &key.jwks());
    let (thief, seen) = token_thief().await;
    sb.faults()
        .update(|f| f.token_endpoint = Some(thief.clone()));

    let source = FhirSource::new(
        PROVIDER,
        &served.base,
        smart(key.clone(), None),
        Limits::default(),
    )
    .expect("source");
    let err = pull(&source, &patient, 50).await.expect_err("refused");
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    assert!(
        !err.is_transient(),
        "an administrator fixes it, not a retry"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("Riverside Medical's SMART configuration names a token endpoint on another server (http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.ends_with("an administrator must set it as the provider's token URL"),
        "{text}"
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "no assertion was sent to the other host"
    );
    assert_eq!(sb.tokens_issued(), 0);

    // Set explicitly on the provider, a token URL is used as it is (here, the PHP's own).
    let own = format!("{}/auth/token", served.base);
    let source = FhirSource::new(
        PROVIDER,
        &served.base,
        smart(key, Some(own)),
        Limits::default(),
    )
    .expect("source");
    let items = pull(&source, &patient, 50).await.expect("pulled");
    assert!(!documents(&items).is_empty());
    assert_eq!(sb.tokens_issued(), 1);
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_next_link_to_the_same_server_written_differently_is_followed() {
    // Six documents, two a page: DocumentReferences span pages (the seed's rotation has four).
    let (sb, served, patient) = php(Options::default(), 12).await;
    let key = SigningKey::generate_es384("k1");
    sb.register_client(CLIENT_ID, &key.jwks());
    // The PHP writes its own address with an upper-case scheme.
    let shouted = served.base.replacen("http://", "HTTP://", 1);
    sb.faults().update(|f| f.next_link_base = Some(shouted));
    let source = FhirSource::new(PROVIDER, &served.base, smart(key, None), Limits::default())
        .expect("source");
    let items = pull(&source, &patient, 2)
        .await
        .expect("every page followed");
    let all = sb.all("DocumentReference").len();
    assert_eq!(documents(&items).len(), all, "{items:?}");
    assert!(all > 2, "more than one page");
}

#[tokio::test]
async fn a_next_link_that_leaves_the_base_path_is_refused_before_any_token_goes_there() {
    let (sb, served, patient) = php(
        Options {
            base_path: "/fhir".into(),
            ..Options::default()
        },
        12,
    )
    .await;
    let key = SigningKey::generate_es384("k1");
    sb.register_client(CLIENT_ID, &key.jwks());
    let base = sb.base().to_owned();
    assert_eq!(base, format!("{}/fhir", served.base));
    let source =
        FhirSource::new(PROVIDER, &base, smart(key, None), Limits::default()).expect("source");
    // Served under /fhir, the PHP pages as usual.
    let items = pull(&source, &patient, 2).await.expect("pulled");
    assert_eq!(documents(&items).len(), sb.all("DocumentReference").len());

    // A next link that starts with the base but climbs out of it (`/fhir/../admin`).
    sb.faults()
        .update(|f| f.next_link_base = Some(format!("{base}/../admin")));
    let err = pull(&source, &patient, 2).await.expect_err("refused");
    assert!(matches!(err, ConnectorError::Invalid(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Riverside Medical sent a paging link to another server; not followed"
    );
    assert_eq!(sb.stray_requests(), 0, "nothing was sent outside /fhir");
}

#[tokio::test]
async fn a_documents_declared_type_is_kept_only_when_its_bytes_are_that() {
    let (sb, served, patient) = php(Options::default(), 0).await;
    let pdf = sandbox::seed::minimal_pdf("Real PDF");
    let page = b"<html><body><script>fetch('/api/v1/users')</script></body></html>";
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
    let cases: [(&str, &str, &[u8]); 6] = [
        ("A PDF", "application/pdf", &pdf),
        ("HTML sent as a PDF", "application/pdf", page),
        ("HTML as itself", "text/html", page),
        ("A PNG", "image/png", png),
        (
            "An SVG",
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        ),
        ("Latin-1 sent as text", "text/plain", b"caf\xe9"),
    ];
    for (title, declared, bytes) in cases {
        sandbox::seed::attachment_document(&sb, &patient, title, declared, bytes);
    }
    let source =
        FhirSource::new(PROVIDER, &served.base, Auth::None, Limits::default()).expect("source");
    let items = pull(&source, &patient, 50).await.expect("pulled");
    let docs = documents(&items);
    let kept = |title: &str| {
        let d = docs.iter().find(|d| d.title == title).expect(title);
        (d.mime_type.as_str(), d.retyped.as_deref())
    };
    assert_eq!(kept("A PDF"), ("application/pdf", None));
    assert_eq!(
        kept("HTML sent as a PDF"),
        (
            "application/octet-stream",
            Some("its content is not the application/pdf it was sent as")
        )
    );
    assert_eq!(kept("HTML as itself"), ("text/html", None));
    assert_eq!(kept("A PNG"), ("image/png", None));
    assert_eq!(
        kept("An SVG"),
        (
            "application/octet-stream",
            Some("the platform does not show image/svg+xml files")
        )
    );
    assert_eq!(
        kept("Latin-1 sent as text"),
        (
            "application/octet-stream",
            Some("its content is not the text/plain it was sent as")
        )
    );
    // The bytes are kept as they came.
    let html = docs
        .iter()
        .find(|d| d.title == "HTML sent as a PDF")
        .expect("html");
    assert_eq!(html.content, page);
}
