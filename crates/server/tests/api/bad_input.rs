//! Bad input gets a clear 4xx problem naming the field, never a 500, and writes nothing.

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend};
use domain::UserType;
use reqwest::Method;
use serde_json::json;

both_backends! {
    async fn malformed_and_invalid_bodies(app) {
        let d = app.user(UserType::Dietician).await;
        let post = |body: &'static str| {
            app.send(app.client.post(app.url("/api/v1/patients")).bearer_auth(&d.token)
                .header("content-type", "application/json").body(body))
        };
        post("{\"name\": ").await.problem(400, "bad_request");
        post("[1, 2]").await.problem(422, "validation_failed");
        let cases = [
            (r#"{"name": 5, "email": "a@b.org"}"#, "name"),
            (r#"{"name": "", "email": "a@b.org"}"#, "name"),
            (r#"{"name": "   ", "email": "a@b.org"}"#, "name"),
            (r#"{"email": "a@b.org"}"#, "name"),
            (r#"{"name": "Ana", "email": "not-an-email"}"#, "email"),
            (r#"{"name": "Ana", "email": "a@b.org", "birth_date": "1990-02-30"}"#, "birth_date"),
            (r#"{"name": "Ana", "email": "a@b.org", "birth_date": "yesterday"}"#, "birth_date"),
            (r#"{"name": "Ana", "email": "a@b.org", "provider_id": "not-a-uuid"}"#, "provider_id"),
            (r#"{"name": "Ana", "email": "a@b.org", "favourite_colour": "blue"}"#, "favourite_colour"),
        ];
        for (body, field) in cases {
            let res = post(body).await.problem(422, "validation_failed");
            assert_eq!(res.body["field"], field, "{body}: {}", res.body);
        }
        let long = json!({"name": "x".repeat(201), "email": "a@b.org"});
        let res = app.post("/api/v1/patients", &d, long).await.problem(422, "validation_failed");
        assert_eq!(res.body["field"], "name");
        let res = app.post("/api/v1/patients", &d, json!({"name": "Ana", "email": "a@b.org", "medical_history": "x".repeat(20_001)}))
            .await.problem(422, "validation_failed");
        assert_eq!(res.body["field"], "medical_history");
        // Unknown enum values name the field and the choices.
        let res = app.post("/api/v1/users", &d, json!({"email": "x@y.org", "name": "X", "type": "superuser", "password": "long enough pw"}))
            .await.problem(422, "validation_failed");
        assert_eq!(res.body["field"], "type");
        assert!(res.body["detail"].as_str().expect("detail").contains("patient"), "{}", res.body);
        // Nothing of the above was stored.
        assert_eq!(app.get("/api/v1/patients", &d).await.expect(200).ids().len(), 0);
    }

    async fn wrong_media_type_paths_and_queries(app) {
        let d = app.user(UserType::Dietician).await;
        app.send(app.client.post(app.url("/api/v1/patients")).bearer_auth(&d.token).body("name=Ana"))
            .await.problem(415, "unsupported_media_type");
        app.get("/api/v1/patients/not-a-uuid", &d).await.problem(400, "bad_request");
        for (query, field) in [("limit=abc", "limit"), ("limit=0", "limit"), ("limit=201", "limit"),
                               ("cursor=garbage", "cursor"), ("sort=name", "sort")] {
            let res = app.get(&format!("/api/v1/patients?{query}"), &d).await.problem(400, "bad_request");
            assert_eq!(res.body["field"], field, "{query}: {}", res.body);
        }
        let p = app.patient(&d, json!({})).await;
        for (query, field) in [("type=memo", "type"), ("from=2026-13-01", "from")] {
            let res = app.get(&format!("/api/v1/patients/{p}/documents?{query}"), &d).await.problem(400, "bad_request");
            assert_eq!(res.body["field"], field, "{query}: {}", res.body);
        }
        app.get("/api/v1/nowhere", &d).await.problem(404, "not_found");
        app.call(Method::PATCH, "/api/v1/patients", Some(&d.token), None).await.problem(405, "method_not_allowed");
    }

    async fn stale_writes_are_refused(app) {
        let d = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({})).await;
        let path = format!("/api/v1/patients/{p}");
        let first = app.get(&path, &d).await.expect(200);
        let etag = first.headers["etag"].to_str().expect("etag").to_owned();
        assert_eq!(etag, "\"1\"");
        let put = |tag: &str, body: serde_json::Value| {
            app.send(app.client.put(app.url(&path)).bearer_auth(&d.token).header("if-match", tag).json(&body))
        };
        let updated = put(&etag, json!({"contact_details": "0400 000 000"})).await.expect(200);
        assert_eq!(updated.body["version"], 2);
        assert_eq!(updated.headers["etag"], "\"2\"");
        // A second writer still holding version 1 is told, and changes nothing.
        put(&etag, json!({"contact_details": "overwritten"})).await.problem(412, "stale_version");
        put("\"garbage\"", json!({"contact_details": "overwritten"})).await.problem(412, "stale_version");
        let now = app.get(&path, &d).await.expect(200);
        assert_eq!(now.body["contact_details"], "0400 000 000");
        // `null` clears, absence keeps.
        let cleared = put("*", json!({"contact_details": null})).await.expect(200);
        assert!(cleared.body["contact_details"].is_null());
        assert_eq!(cleared.body["dietary_preferences"], "vegetarian");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.max_body_bytes = 64 * 1024)
        .await
        .expect("app");
    let d = app.user(UserType::Dietician).await;
    let p = app.patient(&d, json!({})).await;
    let big = json!({"type": "progress note", "date": "2026-11-01", "title": "Big", "content": "x".repeat(100 * 1024)});
    app.post(&format!("/api/v1/patients/{p}/documents"), &d, big)
        .await
        .problem(413, "payload_too_large");
    let pdf = [b"%PDF-1.7\n".as_slice(), &vec![b'x'; 100 * 1024]].concat();
    let form = reqwest::multipart::Form::new()
        .text(
            "metadata",
            r#"{"type":"lab report","date":"2026-11-01","title":"Big scan"}"#,
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(pdf)
                .mime_str("application/pdf")
                .expect("mime"),
        );
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/patients/{p}/documents")))
            .bearer_auth(&d.token)
            .multipart(form),
    )
    .await
    .problem(413, "payload_too_large");
    assert_eq!(
        app.get(&format!("/api/v1/patients/{p}/documents"), &d)
            .await
            .expect(200)
            .ids()
            .len(),
        0
    );
}
