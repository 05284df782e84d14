//! The "who may do what" table of `docs/access.md`, endpoint by endpoint, for each of the five user types,
//! on their own rows and on others': 404 when the row is outside what they may see, 403 when
//! they see it but may not act.

use crate::both_backends;
use crate::helpers::{TestApp, TestUser};
use chrono::NaiveDate;
use domain::UserType::{Admin, Dietician, Patient, Practitioner, Provider};
use reqwest::Method;
use serde_json::{json, Value};
use server::db::{DocumentBody, NewDocument};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Everyone and everything the table talks about.
struct World {
    admin: TestUser,
    diet1: TestUser,
    diet2: TestUser,
    prac1: TestUser,
    prac2: TestUser,
    prov1: TestUser,
    pat1: TestUser,
    /// diet1's patient, linked to prov1's PHP, with pat1 as its account.
    p1: Uuid,
    /// diet2's patient.
    p2: Uuid,
    /// On p1: uploaded by diet1, shared to prac1.
    doc_diet: Uuid,
    /// On p1: uploaded by prov1.
    doc_prov: Uuid,
    /// On p1: pulled from the PHP (no uploader).
    doc_php: Uuid,
    /// On p2: uploaded by diet2.
    doc_p2: Uuid,
    /// A log entry of p1.
    log_p1: Uuid,
}

async fn world(app: &TestApp) -> World {
    let admin = app.user(Admin).await;
    let diet1 = app.user(Dietician).await;
    let diet2 = app.user(Dietician).await;
    let prac1 = app.user(Practitioner).await;
    let prac2 = app.user(Practitioner).await;
    let php = app
        .db
        .insert_provider(server::db::providers::ProviderRow::open(
            "Springfield Clinic",
            "https://php.example.org/fhir",
        ))
        .await
        .expect("provider");
    let prov1 = app.user_with(Provider, Some(php.id), None).await;
    let p1 = app
        .patient(
            &diet1,
            json!({"provider_id": php.id, "provider_patient_identifier": "MRN-1"}),
        )
        .await;
    app.approve_link_found_as(&admin, p1, "php-1").await;
    let p2 = app.patient(&diet2, json!({})).await;
    let pat1 = app.user_with(Patient, None, Some(p1)).await;
    let doc_diet = app.text_document(&diet1, p1, "Dietician note").await;
    let doc_prov = app.text_document(&prov1, p1, "Provider upload").await;
    let doc_php = app
        .db
        .insert_document(NewDocument {
            id: Uuid::now_v7(),
            patient_id: p1,
            kind: domain::DocumentType::LabReport,
            date: NaiveDate::from_ymd_opt(2026, 10, 1).expect("date"),
            title: "Lipid panel".into(),
            mime_type: "text/plain".into(),
            body: DocumentBody::Text("LDL 2.1 mmol/L".into()),
            source: domain::DocumentSource::PrimaryHealthcareProvider,
            source_user_id: None,
            author: Some("Dr Who".into()),
            external_id: Some("DiagnosticReport/1".into()),
            external_version: Some("1".into()),
        })
        .await
        .expect("php document")
        .id;
    let doc_p2 = app.text_document(&diet2, p2, "Other patient's note").await;
    app.post(
        &format!("/api/v1/documents/{doc_diet}/share"),
        &diet1,
        json!({"practitioner_id": prac1.id}),
    )
    .await
    .expect(201);
    app.post(&format!("/api/v1/patients/{p1}/sync"), &diet1, json!(null))
        .await
        .expect(202);
    let log_p1 = app
        .get(&format!("/api/v1/patients/{p1}/logs"), &diet1)
        .await
        .expect(200)
        .body["items"][0]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a log entry of p1");
    World {
        admin,
        diet1,
        diet2,
        prac1,
        prac2,
        prov1,
        pat1,
        p1,
        p2,
        doc_diet,
        doc_prov,
        doc_php,
        doc_p2,
        log_p1,
    }
}

/// One row of the table: who does what, and the status they must get.
struct Case<'a> {
    who: &'a TestUser,
    label: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    status: u16,
}

fn case<'a>(
    who: &'a TestUser,
    label: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    status: u16,
) -> Case<'a> {
    Case {
        who,
        label,
        method,
        path,
        body,
        status,
    }
}

async fn check(app: &TestApp, cases: Vec<Case<'_>>) {
    let mut failures = Vec::new();
    for c in cases {
        let res = app
            .call(
                c.method.clone(),
                &c.path,
                Some(&c.who.token),
                c.body.clone(),
            )
            .await;
        if res.status.as_u16() != c.status {
            failures.push(format!(
                "{} {} {} as {}: expected {}, got {} {}",
                c.label,
                c.method,
                c.path,
                c.who.email,
                c.status,
                res.status.as_u16(),
                res.body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} permission cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `app.get` as a future that owns its inputs (closures cannot lend them).
fn get<'a>(
    app: &'a TestApp,
    path: String,
    who: &TestUser,
) -> impl std::future::Future<Output = crate::helpers::Res> + 'a {
    let who = who.clone();
    async move { app.get(&path, &who).await }
}

fn set(ids: Vec<Uuid>) -> BTreeSet<Uuid> {
    ids.into_iter().collect()
}

both_backends! {
    async fn users_table(app) {
        let w = world(&app).await;
        use Method as M;
        let new_patient_user = |p: Uuid| Some(json!({"email": format!("u{}@example.org", Uuid::now_v7().simple()),
            "name": "Pat", "type": "patient", "password": "patient password", "patient_id": p}));
        let new_dietician = || Some(json!({"email": format!("u{}@example.org", Uuid::now_v7().simple()),
            "name": "Dee", "type": "dietician", "password": "dietician password"}));
        let rename = || Some(json!({"name": "Renamed"}));
        let promote = || Some(json!({"type": "admin"}));
        let u = |id: Uuid| format!("/api/v1/users/{id}");
        let mut cases = vec![
            case(&w.admin, "list users", M::GET, "/api/v1/users".into(), None, 200),
        ];
        for who in [&w.diet1, &w.prac1, &w.prov1, &w.pat1] {
            cases.push(case(who, "list users", M::GET, "/api/v1/users".into(), None, 403));
            cases.push(case(who, "read self", M::GET, u(who.id), None, 200));
            cases.push(case(who, "read me", M::GET, "/api/v1/users/me".into(), None, 200));
            cases.push(case(who, "update self", M::PUT, u(who.id), rename(), 200));
            cases.push(case(who, "change own type", M::PUT, u(who.id), promote(), 403));
        }
        cases.extend([
            // Reading others: admins all; dieticians and practitioners see colleagues' directory entries.
            case(&w.admin, "read any", M::GET, u(w.pat1.id), None, 200),
            case(&w.diet1, "read dietician", M::GET, u(w.diet2.id), None, 200),
            case(&w.diet1, "read practitioner", M::GET, u(w.prac2.id), None, 200),
            case(&w.diet1, "read patient user", M::GET, u(w.pat1.id), None, 404),
            case(&w.diet1, "read provider user", M::GET, u(w.prov1.id), None, 404),
            case(&w.prac1, "read dietician", M::GET, u(w.diet1.id), None, 200),
            case(&w.prov1, "read dietician", M::GET, u(w.diet1.id), None, 404),
            case(&w.pat1, "read dietician", M::GET, u(w.diet1.id), None, 404),
            // Creating: admins any type; dieticians patient users of their own patients.
            case(&w.admin, "create dietician", M::POST, "/api/v1/users".into(), new_dietician(), 201),
            case(&w.diet1, "create dietician", M::POST, "/api/v1/users".into(), new_dietician(), 403),
            case(&w.diet2, "create patient user of another's patient", M::POST, "/api/v1/users".into(), new_patient_user(w.p1), 422),
            case(&w.diet2, "create patient user", M::POST, "/api/v1/users".into(), new_patient_user(w.p2), 201),
            case(&w.prac1, "create patient user", M::POST, "/api/v1/users".into(), new_patient_user(w.p1), 403),
            case(&w.prov1, "create patient user", M::POST, "/api/v1/users".into(), new_patient_user(w.p1), 403),
            case(&w.pat1, "create patient user", M::POST, "/api/v1/users".into(), new_patient_user(w.p1), 403),
            // Updating others.
            case(&w.admin, "update other", M::PUT, u(w.diet2.id), rename(), 200),
            case(&w.diet1, "update colleague", M::PUT, u(w.diet2.id), rename(), 403),
            case(&w.prov1, "update invisible user", M::PUT, u(w.diet2.id), rename(), 404),
            case(&w.pat1, "relink own account", M::PUT, u(w.pat1.id), Some(json!({"patient_id": w.p2})), 403),
            // Deleting.
            case(&w.diet1, "delete colleague", M::DELETE, u(w.prac2.id), None, 403),
            case(&w.prov1, "delete invisible user", M::DELETE, u(w.prac2.id), None, 404),
            case(&w.pat1, "delete self", M::DELETE, u(w.pat1.id), None, 403),
            case(&w.admin, "delete the last admin", M::DELETE, u(w.admin.id), None, 409),
            case(&w.admin, "demote the last admin", M::PUT, u(w.admin.id), Some(json!({"type": "dietician"})), 409),
            case(&w.admin, "delete user", M::DELETE, u(w.prac2.id), None, 204),
            case(&w.admin, "read deleted user", M::GET, u(w.prac2.id), None, 404),
        ]);
        check(&app, cases).await;
    }

    async fn patients_table(app) {
        let w = world(&app).await;
        use Method as M;
        // Lists hold exactly what each may see.
        let list = |who: &TestUser| get(&app, "/api/v1/patients".into(), who);
        assert_eq!(set(list(&w.admin).await.expect(200).ids()), set(vec![w.p1, w.p2]));
        assert_eq!(list(&w.diet1).await.expect(200).ids(), vec![w.p1]);
        assert_eq!(list(&w.diet2).await.expect(200).ids(), vec![w.p2]);
        assert_eq!(list(&w.prac1).await.expect(200).ids(), vec![w.p1], "shared to them");
        assert_eq!(list(&w.prac2).await.expect(200).ids(), Vec::<Uuid>::new());
        assert_eq!(list(&w.prov1).await.expect(200).ids(), vec![w.p1], "linked to their PHP");
        assert_eq!(list(&w.pat1).await.expect(200).ids(), vec![w.p1], "their own record");

        let p = |id: Uuid| format!("/api/v1/patients/{id}");
        let edit = || Some(json!({"dietary_preferences": "low sodium"}));
        let new = || Some(json!({"name": "New Patient", "email": format!("n{}@example.org", Uuid::now_v7().simple())}));
        let mut cases = Vec::new();
        for (who, own, other) in [
            (&w.admin, 200, 200), (&w.diet1, 200, 404), (&w.prac1, 200, 404),
            (&w.prac2, 404, 404), (&w.prov1, 200, 404), (&w.pat1, 200, 404),
        ] {
            cases.push(case(who, "read p1", M::GET, p(w.p1), None, own));
            cases.push(case(who, "read p2", M::GET, p(w.p2), None, other));
        }
        cases.extend([
            case(&w.diet1, "create", M::POST, "/api/v1/patients".into(), new(), 201),
            case(&w.admin, "create", M::POST, "/api/v1/patients".into(), new(), 403),
            case(&w.prac1, "create", M::POST, "/api/v1/patients".into(), new(), 403),
            case(&w.prov1, "create", M::POST, "/api/v1/patients".into(), new(), 403),
            case(&w.pat1, "create", M::POST, "/api/v1/patients".into(), new(), 403),
            case(&w.diet1, "update own", M::PUT, p(w.p1), edit(), 200),
            case(&w.diet2, "update another's", M::PUT, p(w.p1), edit(), 404),
            case(&w.admin, "update", M::PUT, p(w.p1), edit(), 403),
            case(&w.prac1, "update shared", M::PUT, p(w.p1), edit(), 403),
            case(&w.prov1, "update linked", M::PUT, p(w.p1), edit(), 403),
            case(&w.pat1, "update own record", M::PUT, p(w.p1), edit(), 403),
            case(&w.diet2, "delete another's", M::DELETE, p(w.p1), None, 404),
            case(&w.admin, "delete", M::DELETE, p(w.p1), None, 403),
            case(&w.prac1, "delete shared", M::DELETE, p(w.p1), None, 403),
            case(&w.prov1, "delete linked", M::DELETE, p(w.p1), None, 403),
            case(&w.pat1, "delete own record", M::DELETE, p(w.p1), None, 403),
            case(&w.diet2, "delete own", M::DELETE, p(w.p2), None, 204),
            case(&w.diet2, "read deleted", M::GET, p(w.p2), None, 404),
        ]);
        check(&app, cases).await;
    }

    async fn documents_table(app) {
        let w = world(&app).await;
        use Method as M;
        let docs_of = |who: &TestUser| get(&app, format!("/api/v1/patients/{}/documents", w.p1), who);
        let all = set(vec![w.doc_diet, w.doc_prov, w.doc_php]);
        assert_eq!(set(docs_of(&w.admin).await.expect(200).ids()), all);
        assert_eq!(set(docs_of(&w.diet1).await.expect(200).ids()), all);
        assert_eq!(set(docs_of(&w.pat1).await.expect(200).ids()), all);
        assert_eq!(docs_of(&w.prac1).await.expect(200).ids(), vec![w.doc_diet], "only what was shared");
        assert_eq!(docs_of(&w.prov1).await.expect(200).ids(), vec![w.doc_prov], "only their uploads");
        docs_of(&w.diet2).await.expect(404);
        docs_of(&w.prac2).await.expect(404);

        let d = |id: Uuid| format!("/api/v1/documents/{id}");
        let upload = |p: Uuid| format!("/api/v1/patients/{p}/documents");
        let text = || Some(json!({"type": "progress note", "date": "2026-11-02", "title": "Note", "content": "Text"}));
        let retitle = || Some(json!({"title": "Renamed"}));
        let share = |to: &TestUser| Some(json!({"practitioner_id": to.id}));
        let mut cases = Vec::new();
        for (who, status) in [(&w.admin, 200), (&w.diet1, 200), (&w.prac1, 200), (&w.pat1, 200),
                              (&w.diet2, 404), (&w.prac2, 404), (&w.prov1, 404)] {
            cases.push(case(who, "read shared dietician doc", M::GET, d(w.doc_diet), None, status));
            cases.push(case(who, "read its content", M::GET, format!("{}/content", d(w.doc_diet)), None, status));
        }
        cases.extend([
            case(&w.prov1, "read own upload", M::GET, d(w.doc_prov), None, 200),
            case(&w.prac1, "read unshared", M::GET, d(w.doc_php), None, 404),
            case(&w.diet1, "read other patient's doc", M::GET, d(w.doc_p2), None, 404),
            // Uploads: the patient's dietician and linked provider.
            case(&w.diet1, "upload for own patient", M::POST, upload(w.p1), text(), 201),
            case(&w.prov1, "upload for linked patient", M::POST, upload(w.p1), text(), 201),
            case(&w.diet2, "upload for another's patient", M::POST, upload(w.p1), text(), 404),
            case(&w.admin, "upload", M::POST, upload(w.p1), text(), 403),
            case(&w.prac1, "upload", M::POST, upload(w.p1), text(), 403),
            case(&w.pat1, "upload", M::POST, upload(w.p1), text(), 403),
            case(&w.prov1, "upload for unlinked patient", M::POST, upload(w.p2), text(), 404),
            // Updates: the uploader only; PHP documents are read-only.
            case(&w.diet1, "update own upload", M::PUT, d(w.doc_diet), retitle(), 200),
            case(&w.prov1, "update own upload", M::PUT, d(w.doc_prov), retitle(), 200),
            case(&w.diet1, "update provider's upload", M::PUT, d(w.doc_prov), retitle(), 403),
            case(&w.diet1, "update PHP document", M::PUT, d(w.doc_php), retitle(), 403),
            case(&w.admin, "update", M::PUT, d(w.doc_diet), retitle(), 403),
            case(&w.prac1, "update shared", M::PUT, d(w.doc_diet), retitle(), 403),
            case(&w.pat1, "update own", M::PUT, d(w.doc_diet), retitle(), 403),
            case(&w.diet2, "update invisible", M::PUT, d(w.doc_diet), retitle(), 404),
            // Shares: the uploader, or the patient's dietician for PHP documents.
            case(&w.diet1, "share own upload", M::POST, format!("{}/share", d(w.doc_diet)), share(&w.prac2), 201),
            case(&w.diet1, "share again", M::POST, format!("{}/share", d(w.doc_diet)), share(&w.prac2), 200),
            case(&w.diet1, "share PHP doc", M::POST, format!("{}/share", d(w.doc_php)), share(&w.prac2), 201),
            case(&w.diet1, "share with a non-practitioner", M::POST, format!("{}/share", d(w.doc_php)), share(&w.diet2), 422),
            case(&w.prov1, "share own upload", M::POST, format!("{}/share", d(w.doc_prov)), share(&w.prac2), 403),
            case(&w.admin, "share", M::POST, format!("{}/share", d(w.doc_diet)), share(&w.prac2), 403),
            case(&w.prac1, "reshare", M::POST, format!("{}/share", d(w.doc_diet)), share(&w.prac2), 403),
            case(&w.pat1, "share", M::POST, format!("{}/share", d(w.doc_diet)), share(&w.prac2), 403),
            case(&w.diet2, "share invisible", M::POST, format!("{}/share", d(w.doc_diet)), share(&w.prac2), 404),
            // Deletes: the uploader, and admins.
            case(&w.diet1, "delete PHP doc", M::DELETE, d(w.doc_php), None, 403),
            case(&w.prac1, "delete shared", M::DELETE, d(w.doc_diet), None, 403),
            case(&w.pat1, "delete own", M::DELETE, d(w.doc_diet), None, 403),
            case(&w.diet2, "delete invisible", M::DELETE, d(w.doc_diet), None, 404),
            case(&w.admin, "delete PHP doc", M::DELETE, d(w.doc_php), None, 204),
            case(&w.diet2, "delete own upload", M::DELETE, d(w.doc_p2), None, 204),
            case(&w.diet2, "read deleted", M::GET, d(w.doc_p2), None, 404),
        ]);
        check(&app, cases).await;
    }

    async fn shares_logs_and_sync_table(app) {
        let w = world(&app).await;
        use Method as M;
        let shared = |who: &TestUser| get(&app, format!("/api/v1/patients/{}/shared-documents", w.p1), who);
        let share_docs = |r: crate::helpers::Res| -> Vec<Uuid> {
            r.body.as_array().expect("array").iter()
                .map(|s| s["document"]["id"].as_str().and_then(|i| i.parse().ok()).expect("doc id")).collect()
        };
        assert_eq!(share_docs(shared(&w.admin).await.expect(200)), vec![w.doc_diet]);
        assert_eq!(share_docs(shared(&w.diet1).await.expect(200)), vec![w.doc_diet]);
        assert_eq!(share_docs(shared(&w.prac1).await.expect(200)), vec![w.doc_diet]);
        shared(&w.prov1).await.expect(403);
        shared(&w.pat1).await.expect(403);
        shared(&w.diet2).await.expect(404);
        shared(&w.prac2).await.expect(404);

        let p1 = |rest: &str| format!("/api/v1/patients/{}/{rest}", w.p1);
        let log = format!("/api/v1/logs/{}", w.log_p1);
        let ask = || Some(json!({"note": "Recent lab work please", "types": ["lab report"]}));
        let mut cases = Vec::new();
        for (who, status) in [(&w.admin, 200), (&w.diet1, 200), (&w.diet2, 404), (&w.prac1, 403),
                              (&w.prac2, 404), (&w.prov1, 403), (&w.pat1, 403)] {
            cases.push(case(who, "list logs", M::GET, p1("logs"), None, status));
            let accepted = if status == 200 { 202 } else { status };
            cases.push(case(who, "manual sync", M::POST, p1("sync"), None, accepted));
            cases.push(case(who, "request documents", M::POST, p1("request-documents"), ask(), accepted));
        }
        for (who, status) in [(&w.admin, 200), (&w.diet1, 200), (&w.diet2, 404), (&w.prac1, 404),
                              (&w.prov1, 404), (&w.pat1, 404)] {
            cases.push(case(who, "read log entry", M::GET, log.clone(), None, status));
        }
        // Links to the PHP are reviewed by admins alone (a stale fingerprint is still 409 for
        // them: the decision is refused for its content, not its author).
        let decide = || Some(json!({"decision": "refused", "fingerprint": "stale"}));
        for (who, status) in [(&w.admin, 200), (&w.diet1, 403), (&w.diet2, 403), (&w.prac1, 403),
                              (&w.prov1, 403), (&w.pat1, 403)] {
            cases.push(case(who, "review links", M::GET, "/api/v1/links".to_owned(), None, status));
            let decided = if status == 200 { 409 } else { status };
            cases.push(case(who, "decide a link", M::POST, format!("/api/v1/links/{}", w.p1), decide(), decided));
        }
        check(&app, cases).await;

        // Revoking: only who may share; afterwards the practitioner sees nothing of p1.
        let share_id = shared(&w.diet1).await.expect(200).body[0]["share"]["id"].as_str().expect("share id").to_owned();
        let revoke = format!("/api/v1/documents/{}/shares/{share_id}", w.doc_diet);
        app.delete(&revoke, &w.prac1).await.expect(403);
        app.delete(&revoke, &w.diet1).await.expect(204);
        app.delete(&revoke, &w.diet1).await.expect(404);
        app.get(&format!("/api/v1/documents/{}", w.doc_diet), &w.prac1).await.expect(404);
        app.get(&format!("/api/v1/patients/{}", w.p1), &w.prac1).await.expect(404);
        let logs = app.get(&format!("{}?action=share%20revoked", p1("logs")), &w.diet1).await.expect(200);
        assert_eq!(logs.ids().len(), 1, "the revocation is logged: {}", logs.body);
    }

    async fn every_endpoint_wants_a_token(app) {
        let id = Uuid::now_v7();
        for (method, path) in [
            (Method::GET, "/api/v1/users".to_owned()), (Method::POST, "/api/v1/users".to_owned()),
            (Method::GET, "/api/v1/users/me".to_owned()), (Method::GET, format!("/api/v1/users/{id}")),
            (Method::PUT, format!("/api/v1/users/{id}")), (Method::DELETE, format!("/api/v1/users/{id}")),
            (Method::GET, "/api/v1/patients".to_owned()), (Method::POST, "/api/v1/patients".to_owned()),
            (Method::GET, format!("/api/v1/patients/{id}")), (Method::PUT, format!("/api/v1/patients/{id}")),
            (Method::DELETE, format!("/api/v1/patients/{id}")),
            (Method::GET, format!("/api/v1/patients/{id}/documents")),
            (Method::POST, format!("/api/v1/patients/{id}/documents")),
            (Method::GET, format!("/api/v1/documents/{id}")), (Method::PUT, format!("/api/v1/documents/{id}")),
            (Method::DELETE, format!("/api/v1/documents/{id}")),
            (Method::GET, format!("/api/v1/documents/{id}/content")),
            (Method::POST, format!("/api/v1/documents/{id}/share")),
            (Method::DELETE, format!("/api/v1/documents/{id}/shares/{id}")),
            (Method::GET, format!("/api/v1/patients/{id}/shared-documents")),
            (Method::GET, format!("/api/v1/patients/{id}/logs")), (Method::GET, format!("/api/v1/logs/{id}")),
            (Method::POST, format!("/api/v1/patients/{id}/sync")),
            (Method::POST, format!("/api/v1/patients/{id}/request-documents")),
            (Method::GET, "/api/v1/providers".to_owned()), (Method::POST, "/api/v1/providers".to_owned()),
            (Method::GET, "/api/v1/providers/directory".to_owned()),
            (Method::POST, format!("/api/v1/providers/{id}/test")),
            (Method::GET, "/api/v1/integrations/carepatron".to_owned()),
            (Method::GET, "/api/v1/audit".to_owned()),
            (Method::GET, "/api/v1/links".to_owned()), (Method::POST, format!("/api/v1/links/{id}")),
            (Method::GET, "/api/v1/sync/changes".to_owned()), (Method::POST, "/api/v1/sync/push".to_owned()),
        ] {
            let res = app.call(method.clone(), &path, None, Some(json!({}))).await;
            assert_eq!(res.status.as_u16(), 401, "{method} {path}: {}", res.body);
            assert_eq!(res.headers.get("www-authenticate").map(|v| v.as_bytes()), Some(&b"Bearer"[..]));
        }
    }
}

both_backends! {
    async fn provider_directory(app) {
        let w = world(&app).await;
        // Dieticians choose a patient's PHP by name; they learn nothing of how the platform
        // signs in there.
        for who in [&w.diet1, &w.admin] {
            let listed = app.get("/api/v1/providers/directory", who).await.expect(200).body;
            assert_eq!(listed, json!([{"id": listed[0]["id"], "name": "Springfield Clinic"}]));
        }
        for who in [&w.prac1, &w.prov1, &w.pat1] {
            app.get("/api/v1/providers/directory", who).await.problem(403, "forbidden");
        }
        let anonymous = app
            .call(Method::GET, "/api/v1/providers/directory", None, None)
            .await;
        assert_eq!(anonymous.status.as_u16(), 401);
    }
}
