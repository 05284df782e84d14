//! Documents: text and file bodies, content download, filters and pages.

use crate::both_backends;
use crate::helpers::{TestApp, TestUser};
use domain::UserType;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

async fn upload_file(
    app: &TestApp,
    who: &TestUser,
    patient: Uuid,
    mime: &str,
    bytes: Vec<u8>,
) -> crate::helpers::Res {
    let form = reqwest::multipart::Form::new()
        .text(
            "metadata",
            r#"{"type":"lab report","date":"2026-10-15","title":"Scanned lipid panel"}"#,
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes)
                .file_name("scan")
                .mime_str(mime)
                .expect("mime"),
        );
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/patients/{patient}/documents")))
            .bearer_auth(&who.token)
            .multipart(form),
    )
    .await
}

both_backends! {
    async fn files_round_trip_byte_for_byte(app) {
        let d = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({})).await;
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend((0..50_000u32).map(|i| (i % 251) as u8));
        let doc = upload_file(&app, &d, p, "application/pdf", pdf.clone()).await.expect(201);
        assert_eq!(doc.body["mime_type"], "application/pdf");
        assert_eq!(doc.body["size_bytes"], pdf.len());
        assert_eq!(doc.body["content_hash"], hex::encode(Sha256::digest(&pdf)));
        assert_eq!(doc.body["source"], "Dietician");
        assert_eq!(doc.body["source_user_id"], d.id.to_string());
        assert!(doc.headers.contains_key("location"));
        let res = app.client.get(app.url(&format!("/api/v1/documents/{}/content", doc.id())))
            .bearer_auth(&d.token).send().await.expect("sent");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.bytes().await.expect("bytes").as_ref(), pdf.as_slice());

        // A file whose bytes are not what it claims is refused.
        let res = upload_file(&app, &d, p, "application/pdf", b"<html>not a pdf</html>".to_vec()).await.problem(422, "validation_failed");
        assert_eq!(res.body["field"], "file");
        upload_file(&app, &d, p, "application/x-msdownload", b"MZ".to_vec()).await.problem(422, "validation_failed");
        let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 64]].concat();
        upload_file(&app, &d, p, "image/png", png).await.expect(201);
        // A multipart without metadata says which part is missing.
        let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"%PDF-".to_vec()).mime_str("application/pdf").expect("mime"));
        let res = app.send(app.client.post(app.url(&format!("/api/v1/patients/{p}/documents"))).bearer_auth(&d.token).multipart(form)).await.problem(422, "validation_failed");
        assert_eq!(res.body["field"], "metadata");
        // A file document's text cannot be edited as text.
        let res = app.put(&format!("/api/v1/documents/{}", doc.id()), &d, json!({"content": "text"})).await.problem(422, "validation_failed");
        assert_eq!(res.body["field"], "content");
    }

    async fn text_documents_filter_search_and_page(app) {
        let d = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({})).await;
        let docs = [
            ("lab report", "2026-01-10", "Lipid panel", "LDL cholesterol 3.4 mmol/L"),
            ("progress note", "2026-02-10", "Follow-up", "Weight stable; fibre intake up"),
            ("lab report", "2026-03-10", "HbA1c", "HbA1c 6.1%"),
            ("physical assessment", "2026-04-10", "Assessment", "BMI 27"),
            ("progress note", "2026-05-10", "Second follow-up", "Cholesterol discussed"),
        ];
        for (kind, date, title, content) in docs {
            app.post(&format!("/api/v1/patients/{p}/documents"), &d,
                json!({"type": kind, "date": date, "title": title, "content": content})).await.expect(201);
        }
        let list = |q: &str| {
            let path = format!("/api/v1/patients/{p}/documents?{q}");
            let (app, d) = (&app, &d);
            async move { app.get(&path, d).await }
        };
        let titles = |r: crate::helpers::Res| -> Vec<String> {
            r.body["items"].as_array().expect("items").iter().map(|i| i["title"].as_str().expect("t").to_owned()).collect()
        };
        assert_eq!(titles(list("").await.expect(200)), ["Second follow-up", "Assessment", "HbA1c", "Follow-up", "Lipid panel"]);
        assert_eq!(titles(list("type=lab%20report").await.expect(200)), ["HbA1c", "Lipid panel"]);
        assert_eq!(titles(list("from=2026-02-01&to=2026-04-10").await.expect(200)), ["Assessment", "HbA1c", "Follow-up"]);
        assert_eq!(titles(list("q=CHOLESTEROL").await.expect(200)), ["Second follow-up", "Lipid panel"], "keyword in text, any case");
        assert_eq!(titles(list("q=100%25").await.expect(200)), Vec::<String>::new(), "wildcards are literal");
        // Lists leave the text out; the single read has it.
        let page = list("limit=2").await.expect(200);
        assert!(page.body["items"][0].get("content").is_none());
        // Paging visits every document once, in order.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor { Some(c) => format!("limit=2&cursor={c}"), None => "limit=2".into() };
            let page = list(&q).await.expect(200);
            let next = page.body["next_cursor"].as_str().map(str::to_owned);
            seen.extend(titles(page));
            match next { Some(c) => cursor = Some(c), None => break }
        }
        assert_eq!(seen, ["Second follow-up", "Assessment", "HbA1c", "Follow-up", "Lipid panel"]);

        let one = app.get(&format!("/api/v1/documents/{}", list("q=HbA1c").await.expect(200).ids()[0]), &d).await.expect(200);
        assert_eq!(one.body["content"], "HbA1c 6.1%");
        assert_eq!(one.body["mime_type"], "text/plain");
        // Editing the text updates its hash and size, and is versioned.
        let id = one.id();
        let edited = app.put(&format!("/api/v1/documents/{id}"), &d, json!({"content": "HbA1c 5.9%"})).await.expect(200);
        assert_eq!(edited.body["version"], 2);
        assert_eq!(edited.body["content_hash"], hex::encode(Sha256::digest(b"HbA1c 5.9%")));
        let logs = app.get(&format!("/api/v1/patients/{p}/logs?action=document%20uploaded"), &d).await.expect(200);
        assert_eq!(logs.ids().len(), 5, "each upload is logged");
    }
}
