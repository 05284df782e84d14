//! New-patient inquiries: the public endpoint and page, the email through a real SMTP server
//! (aiosmtpd, [`SmtpSink`]), who reads them, and converting or dismissing them.

use crate::both_backends;
use crate::helpers::{eventually, spawn_app_with, Backend, TestApp, TestUser};
use domain::UserType::{Admin, Dietician, Practitioner};
use reqwest::Method;
use serde_json::{json, Value};
use server::config::SmtpSettings;
use server::testing::SmtpSink;

const SECRET_WORDS: &str = "my HbA1c was 9.1 last spring";

fn inquiry(extra: Value) -> Value {
    let mut body = json!({
        "name": "Maya Tran",
        "email": "maya.tran@example.net",
        "phone": "+1 555 0100",
        "message": SECRET_WORDS,
    });
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    body
}

async fn send(app: &TestApp, body: Value) -> crate::helpers::Res {
    app.call(Method::POST, "/api/v1/inquiries", None, Some(body))
        .await
}

async fn list(app: &TestApp, user: &TestUser) -> Vec<Value> {
    app.get("/api/v1/inquiries", user).await.expect(200).body["items"]
        .as_array()
        .expect("items")
        .clone()
}

async fn stored(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM inquiries")
        .fetch_one(app.db.pool())
        .await
        .expect("count")
}

async fn email_job(app: &TestApp, admin: &TestUser, status: &str) -> Value {
    eventually(&format!("an email job {status}"), || async {
        let jobs = app
            .get(&format!("/api/v1/jobs?status={status}"), admin)
            .await
            .expect(200)
            .body;
        jobs.as_array()
            .expect("jobs")
            .iter()
            .find(|j| j["kind"] == "email")
            .cloned()
    })
    .await
}

async fn notification(app: &TestApp, user: &TestUser, id: &str, state: &str) -> Value {
    eventually(&format!("the inquiry's email {state}"), || async {
        let row = app
            .get(&format!("/api/v1/inquiries/{id}"), user)
            .await
            .expect(200)
            .body;
        (row["notification"] == state).then_some(row)
    })
    .await
}

/// Runs `body` on each backend with jobs on and the practice's mail going to `sink`.
macro_rules! with_smtp {
    ($(async fn $name:ident($app:ident, $sink:ident) [$($arg:expr),*] $body:block)*) => {$(
        mod $name {
            use super::*;

            async fn run($app: TestApp, $sink: SmtpSink) $body

            async fn on(backend: Backend) {
                let sink = SmtpSink::start(&[$($arg),*]).await;
                let settings = sink.settings("");
                let app = spawn_app_with(backend, |c| {
                    server::testing::with_jobs(c);
                    c.smtp = Some(settings);
                })
                .await;
                if let Some(app) = app {
                    run(app, sink).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                on(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                on(Backend::Postgres).await;
            }
        }
    )*};
}

with_smtp! {
    async fn an_inquiry_is_emailed_without_its_details_and_read_by_dieticians_only(app, sink) [] {
        let ana = app.user(Dietician).await;
        let ben = app.user(Dietician).await;
        let admin = app.user(Admin).await;
        let practitioner = app.user(Practitioner).await;

        // No account: the answer is a reference, and repeats nothing that was sent.
        let receipt = send(&app, inquiry(json!({}))).await.expect(202);
        let reference = receipt.body["reference"].as_str().expect("reference").to_owned();
        assert_eq!(reference.len(), 8);
        assert!(!receipt.body.to_string().contains("Maya"), "{}", receipt.body);

        // One email, to every dietician (no RECORDS_SMTP_TO), saying where to look and no more.
        let messages = eventually("the email at the SMTP server", || async {
            let m = sink.messages();
            (!m.is_empty()).then_some(m)
        })
        .await;
        assert_eq!(messages.len(), 1);
        let mail = &messages[0];
        let mut to: Vec<&str> = mail["to"].as_array().expect("to").iter().filter_map(Value::as_str).collect();
        to.sort_unstable();
        let mut dieticians = vec![ana.email.as_str(), ben.email.as_str()];
        dieticians.sort_unstable();
        assert_eq!(to, dieticians);
        assert_eq!(mail["from"], "records@practice.example");
        let data = mail["data"].as_str().expect("data");
        assert!(data.contains("Subject: New patient inquiry"), "{data}");
        assert!(data.contains("Inquiries"), "{data}");
        assert!(data.contains(&reference), "the reference is in the email: {data}");
        for private in ["Maya", "maya.tran", "555 0100", "HbA1c"] {
            assert!(!data.contains(private), "{private} leaked into the email: {data}");
        }

        // Dieticians read it, with its details; the email is recorded as sent.
        let items = list(&app, &ana).await;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["name"], "Maya Tran");
        assert_eq!(items[0]["message"], SECRET_WORDS);
        assert_eq!(items[0]["status"], "new");
        let id = items[0]["id"].as_str().expect("id").to_owned();
        assert_eq!(items[0]["reference"], reference.as_str(), "the app shows the reference");
        assert!(id.replace('-', "").ends_with(&reference), "the id's random end");
        notification(&app, &ana, &id, "sent").await;
        assert_eq!(email_job(&app, &admin, "done").await["inquiry_id"], json!(id));

        // Nobody else does: not an admin, not a practitioner, not without signing in.
        for other in [&admin, &practitioner] {
            app.get("/api/v1/inquiries", other).await.problem(403, "forbidden");
            app.get(&format!("/api/v1/inquiries/{id}"), other).await.problem(404, "not_found");
        }
        app.call(Method::GET, "/api/v1/inquiries", None, None).await.expect(401);

        // One naming Ana goes to Ana only, and only Ana (of the dieticians) reads it.
        let named = send(&app, inquiry(json!({"name": "Lee Park", "email": "lee@example.net",
                                               "practitioner_id": ana.id}))).await.expect(202);
        assert!(named.body["reference"].is_string());
        let second = eventually("the second email", || async {
            let m = sink.messages();
            (m.len() == 2).then(|| m[1].clone())
        })
        .await;
        assert_eq!(second["to"], json!([ana.email]));
        let for_ana = list(&app, &ana).await;
        let for_ben = list(&app, &ben).await;
        assert_eq!(for_ana.len(), 2);
        assert_eq!(for_ben.len(), 1, "Ben does not read an inquiry naming Ana");
        let lee = for_ana.iter().find(|i| i["name"] == "Lee Park").expect("Lee");
        app.get(&format!("/api/v1/inquiries/{}", lee["id"].as_str().unwrap()), &ben)
            .await
            .problem(404, "not_found");

        // The change feed carries them the same way: Ana's replica gets both, Ben's one.
        let fed = |user: TestUser| {
            let app = &app;
            async move {
                let page = app.get("/api/v1/sync/changes?limit=1000&tables=7", &user).await.expect(200).body;
                page["changes"]
                    .as_array()
                    .expect("changes")
                    .iter()
                    .filter(|c| c["table"] == "inquiries")
                    .map(|c| c["row"]["name"].as_str().unwrap_or_default().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        let mut anas = fed(ana.clone()).await;
        anas.sort();
        assert_eq!(anas, ["Lee Park", "Maya Tran"]);
        assert_eq!(fed(ben.clone()).await, ["Maya Tran"]);
        assert!(fed(admin.clone()).await.is_empty());
    }

    async fn a_refused_email_parks_and_the_inquiry_stays(app, sink) ["--refuse", "550"] {
        let ana = app.user(Dietician).await;
        let admin = app.user(Admin).await;
        send(&app, inquiry(json!({}))).await.expect(202);
        // 5xx: refused for good, parked at the first attempt, with words an admin can act on.
        let job = email_job(&app, &admin, "parked").await;
        assert_eq!(job["attempts"], 1);
        let error = job["last_error"].as_str().expect("error");
        assert!(error.contains("refused the email (550)"), "{error}");
        assert!(!error.contains("@"), "no address in the error: {error}");
        let items = list(&app, &ana).await;
        assert_eq!(items.len(), 1, "the inquiry is kept");
        assert_eq!(items[0]["notification"], "failed");
        assert!(sink.messages().is_empty());
        // An admin's replay tries again (and the inquiry shows it pending meanwhile or failed
        // again after): the job is queued again, attempts from zero.
        let replayed = app
            .post(&format!("/api/v1/jobs/{}/replay", job["id"].as_str().unwrap()), &admin, json!({}))
            .await
            .expect(202);
        assert_eq!(replayed.body["status"], "queued");
        let again = email_job(&app, &admin, "parked").await;
        assert_eq!(again["id"], job["id"]);
    }

    async fn a_server_that_says_later_gets_the_email_once_later(app, sink) ["--refuse-first", "1"] {
        let ana = app.user(Dietician).await;
        let admin = app.user(Admin).await;
        send(&app, inquiry(json!({}))).await.expect(202);
        let job = email_job(&app, &admin, "done").await;
        assert_eq!(job["attempts"], 2, "a 451 is retried: {job}");
        assert_eq!(sink.messages().len(), 1, "exactly one email arrives");
        let id = list(&app, &ana).await[0]["id"].as_str().unwrap().to_owned();
        notification(&app, &ana, &id, "sent").await;
    }
}

both_backends! {
    @with (|c: &mut server::config::Config| {
        server::testing::with_jobs(c);
        // Nothing listens there: every attempt fails to connect.
        c.smtp = Some(SmtpSettings::new("smtp://127.0.0.1:9", "records@practice.example", "intake@practice.example").expect("settings"));
    })

    async fn an_unreachable_smtp_server_is_retried_then_parked(app) {
        let ana = app.user(Dietician).await;
        let admin = app.user(Admin).await;
        send(&app, inquiry(json!({}))).await.expect(202);
        let job = email_job(&app, &admin, "parked").await;
        assert_eq!(job["attempts"], 3, "tried as often as the settings say: {job}");
        assert!(job["last_error"].as_str().unwrap().contains("could not be reached"), "{job}");
        assert_eq!(list(&app, &ana).await[0]["notification"], "failed");
    }
}

both_backends! {
    @with (|c: &mut server::config::Config| c.inquiries_per_hour = 3)

    async fn bad_inquiries_get_clear_problems_and_store_nothing(app) {
        let ana = app.user(Dietician).await;
        let admin = app.user(Admin).await;
        // Field by field, before the quota is touched.
        let missing = send(&app, json!({"email": "a@example.net"})).await.problem(422, "validation_failed");
        assert_eq!(missing.body["field"], "name");
        let email = send(&app, inquiry(json!({"email": "not an address"}))).await.problem(422, "validation_failed");
        assert_eq!(email.body["field"], "email");
        let unknown = send(&app, inquiry(json!({"diagnosis": "x"}))).await;
        assert_eq!(unknown.status.as_u16(), 422, "{}", unknown.body);
        let admin_named = send(&app, inquiry(json!({"practitioner_id": admin.id}))).await.problem(422, "validation_failed");
        assert_eq!(admin_named.body["field"], "practitioner_id");
        let long = "x".repeat(3001);
        send(&app, inquiry(json!({"message": long}))).await.problem(422, "validation_failed");
        let huge = "x".repeat(20_000);
        send(&app, json!({"name": "A", "email": "a@example.net", "website": huge})).await.problem(413, "payload_too_large");
        let form = app
            .client
            .post(app.url("/api/v1/inquiries"))
            .header("content-type", "text/plain")
            .body("hello");
        app.send(form).await.problem(415, "unsupported_media_type");
        assert_eq!(stored(&app).await, 0, "nothing stored from bad input");

        // The hidden field: the same answer as a person gets, nothing stored.
        let bot = send(&app, inquiry(json!({"website": "http://spam.example"}))).await.expect(202);
        assert!(bot.body["reference"].is_string());
        assert_eq!(stored(&app).await, 0);

        // Without SMTP, the inquiry says no email is expected.
        send(&app, inquiry(json!({}))).await.expect(202);
        assert_eq!(list(&app, &ana).await[0]["notification"], "not_configured");

        // Three per address per hour (the bot's counted too): the next waits.
        send(&app, inquiry(json!({}))).await.expect(202);
        let limited = send(&app, inquiry(json!({}))).await.problem(429, "too_many_requests");
        let wait: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(wait > 3000 && wait <= 3600, "{wait}");
        assert_eq!(stored(&app).await, 2);
    }

    async fn converting_makes_one_patient_and_dismissing_keeps_the_inquiry(app) {
        let ana = app.user(Dietician).await;
        let ben = app.user(Dietician).await;
        let admin = app.user(Admin).await;
        send(&app, inquiry(json!({}))).await.expect(202);
        send(&app, inquiry(json!({"name": "Lee Park", "email": "lee@example.net"}))).await.expect(202);
        let items = list(&app, &ana).await;
        let maya = items.iter().find(|i| i["name"] == "Maya Tran").unwrap()["id"].as_str().unwrap().to_owned();
        let lee = items.iter().find(|i| i["name"] == "Lee Park").unwrap()["id"].as_str().unwrap().to_owned();
        let patient = json!({"name": "Maya Tran", "email": "maya.tran@example.net",
                             "contact_details": "+1 555 0100"});

        // Only a dietician converts; others do not learn it exists.
        app.post(&format!("/api/v1/inquiries/{maya}/convert"), &admin, patient.clone()).await.problem(404, "not_found");
        // Ana converts: the patient is hers, the inquiry names it.
        let made = app.post(&format!("/api/v1/inquiries/{maya}/convert"), &ana, patient.clone()).await.expect(201);
        assert_eq!(made.body["user_id"], json!(ana.id));
        assert_eq!(made.body["name"], "Maya Tran");
        let row = app.get(&format!("/api/v1/inquiries/{maya}"), &ana).await.expect(200).body;
        assert_eq!(row["status"], "converted");
        assert_eq!(row["patient_id"], made.body["id"]);
        assert_eq!(row["handled_by"], json!(ana.id));
        // Ben pressing Convert a moment later makes no second patient, nor does a dismissal
        // undo it.
        app.post(&format!("/api/v1/inquiries/{maya}/convert"), &ben, patient.clone()).await.problem(409, "inquiry_converted");
        app.post(&format!("/api/v1/inquiries/{maya}/dismiss"), &ben, json!({})).await.problem(409, "inquiry_converted");
        let bens: i64 = sqlx::query_scalar("SELECT count(*) FROM patients WHERE user_id = $1")
            .bind(ben.id.to_string())
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(bens, 0);
        // From then on it is Ana's alone: Ben no longer reads it, and his replica lets go.
        app.get(&format!("/api/v1/inquiries/{maya}"), &ben).await.problem(404, "not_found");
        assert!(list(&app, &ben).await.iter().all(|i| i["id"] != maya.as_str()));
        let page = app.get("/api/v1/sync/changes?limit=1000&tables=7", &ben).await.expect(200).body;
        let change = page["changes"].as_array().unwrap().iter()
            .find(|c| c["id"] == maya.as_str()).expect("Maya's inquiry in Ben's feed").clone();
        assert_eq!(change["op"], "remove", "{change}");
        assert_eq!(list(&app, &ana).await.iter().filter(|i| i["id"] == maya.as_str()).count(), 1);

        // Dismissed, Lee's inquiry is kept, and can still be converted; a patient of Ana's
        // with the same email is the duplicate warning, and nothing is written.
        let dismissed = app.post(&format!("/api/v1/inquiries/{lee}/dismiss"), &ana, json!({})).await.expect(200);
        assert_eq!(dismissed.body["status"], "dismissed");
        let dismissed_list = app.get("/api/v1/inquiries?status=dismissed", &ana).await.expect(200);
        assert_eq!(dismissed_list.ids().len(), 1);
        let twin = app.patient(&ana, json!({"email": "lee@example.net"})).await;
        let dup = app.post(&format!("/api/v1/inquiries/{lee}/convert"), &ana,
                           json!({"name": "Lee Park", "email": "lee@example.net"})).await.problem(409, "duplicate_patient");
        assert_eq!(dup.body["existing_id"], json!(twin));
        assert_eq!(app.get(&format!("/api/v1/inquiries/{lee}"), &ana).await.expect(200).body["status"], "dismissed");
        let made = app.post(&format!("/api/v1/inquiries/{lee}/convert"), &ana,
                            json!({"name": "Lee Park", "email": "lee.park@example.net"})).await.expect(201);
        assert_eq!(app.get(&format!("/api/v1/inquiries/{lee}"), &ana).await.expect(200).body["patient_id"], made.body["id"]);
    }

    async fn an_inquiry_naming_a_dietician_who_left_goes_to_the_others(app) {
        let ana = app.user(Dietician).await;
        let ben = app.user(Dietician).await;
        let admin = app.user(Admin).await;
        send(&app, inquiry(json!({"practitioner_id": ana.id}))).await.expect(202);
        assert!(list(&app, &ben).await.is_empty(), "Ana's, while she is here");
        let before = app.get("/api/v1/sync/changes?limit=1000&tables=7", &ben).await.expect(200).body;
        let cursor = before["next_cursor"].as_str().expect("cursor").to_owned();
        app.delete(&format!("/api/v1/users/{}", ana.id), &admin).await.expect(204);
        // Nobody would read it otherwise: it goes to every dietician, REST and replica.
        assert_eq!(list(&app, &ben).await.len(), 1);
        let after = app
            .get(&format!("/api/v1/sync/changes?limit=1000&tables=7&cursor={cursor}"), &ben)
            .await
            .expect(200)
            .body;
        assert!(
            after["changes"].as_array().unwrap().iter().any(|c| c["table"] == "inquiries" && c["op"] == "upsert"),
            "{after}"
        );
    }

    async fn the_public_page_works_without_script_and_says_what_to_fix(app) {
        let ana = app.user(Dietician).await;
        let page = app.client.get(app.url("/inquiry")).send().await.expect("page");
        assert_eq!(page.status().as_u16(), 200);
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        let html = page.text().await.unwrap();
        assert!(html.contains("<label for=\"name\">"), "{html}");
        assert!(html.contains(&ana.id.to_string()), "Ana is a choice");
        assert!(!html.contains("<script"), "no script");

        let post = |form: &'static [(&'static str, &'static str)]| {
            let app = &app;
            async move {
                let res = app.client.post(app.url("/inquiry")).form(form).send().await.expect("post");
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let (status, html) = post(&[("name", "<Maya>"), ("email", ""), ("message", "hello")]).await;
        assert_eq!(status, 422);
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(html.contains("Email address: please fill this in."), "names the field: {html}");
        assert!(html.contains("&lt;Maya&gt;"), "keeps what was typed, escaped: {html}");
        assert_eq!(stored(&app).await, 0);
        let (status, html) = post(&[("name", "Maya Tran"), ("email", "maya@example.net"), ("phone", ""), ("website", "")]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Your reference"), "{html}");
        let items = list(&app, &ana).await;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["phone"], Value::Null, "an empty field is no value");
    }
}
