//! The test harness: the real server on port 0, over a fresh SQLite file or a fresh
//! PostgreSQL database, with helpers to seed users and make requests.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server::auth::{create_account, AccountLinks};
use server::config::Config;
use server::db::Db;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub use server::testing::Backend;
use server::testing::{Platform, ScratchDatabase};

/// The password every seeded user has.
pub const PASSWORD: &str = "a long test password";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// The database URL the server uses (for tests that write beside it).
    pub database_url: String,
    // Field order is drop order: the server stops before its database goes.
    _platform: Platform,
    _database: ScratchDatabase,
}

/// Starts the server on a fresh database, its configuration adjusted by `tweak`. `None` only
/// for PostgreSQL outside CI when no server answers (said loudly); under `CI=true` that is a
/// failure.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    // Server errors show in a failing test's output (the harness captures the rest).
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let database = ScratchDatabase::new(backend).await?;
    let mut config = database.config();
    tweak(&mut config);
    let platform = Platform::start(config, "127.0.0.1:0").await;
    Some(TestApp {
        base: platform.base.clone(),
        client: reqwest::Client::new(),
        db: platform.db.clone(),
        database_url: database.url.clone(),
        _platform: platform,
        _database: database,
    })
}

/// A seeded, signed-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub token: String,
    pub refresh: String,
}

/// A response: status, headers and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Res {
    pub fn id(&self) -> Uuid {
        self.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no id in {}", self.body))
    }

    pub fn ids(&self) -> Vec<Uuid> {
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {}", self.body))
            .iter()
            .map(|i| {
                i["id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .expect("item id")
            })
            .collect()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn problem(self, status: u16, code: &str) -> Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(ct, "application/problem+json", "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Res {
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Res {
            status,
            headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, user: &TestUser) -> Res {
        self.call(Method::GET, path, Some(&user.token), None).await
    }

    pub async fn post(&self, path: &str, user: &TestUser, body: Value) -> Res {
        self.call(Method::POST, path, Some(&user.token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, user: &TestUser, body: Value) -> Res {
        self.call(Method::PUT, path, Some(&user.token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, user: &TestUser) -> Res {
        self.call(Method::DELETE, path, Some(&user.token), None)
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Res {
        self.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// Inserts a user straight into the database, then signs them in over HTTP.
    pub async fn user_with(
        &self,
        kind: domain::UserType,
        provider_id: Option<Uuid>,
        patient_id: Option<Uuid>,
    ) -> TestUser {
        let email = format!("{}-{}@example.org", kind.as_str(), Uuid::now_v7().simple());
        self.account(kind, email, provider_id, patient_id).await
    }

    /// A user with a chosen email.
    pub async fn user_with_email(&self, kind: domain::UserType, email: &str) -> TestUser {
        self.account(kind, email.to_owned(), None, None).await
    }

    async fn account(
        &self,
        kind: domain::UserType,
        email: String,
        provider_id: Option<Uuid>,
        patient_id: Option<Uuid>,
    ) -> TestUser {
        let name = format!("Test {}", kind.as_str());
        let links = AccountLinks {
            provider_id,
            patient_id,
        };
        let user = create_account(&self.db, kind, &email, &name, PASSWORD, links)
            .await
            .expect("seed user");
        let res = self.login(&email, PASSWORD).await.expect(200);
        TestUser {
            id: user.id,
            email,
            token: res.body["access_token"].as_str().expect("token").to_owned(),
            refresh: res.body["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        }
    }

    pub async fn user(&self, kind: domain::UserType) -> TestUser {
        self.user_with(kind, None, None).await
    }

    /// Creates a patient as `dietician` over the API.
    pub async fn patient(&self, dietician: &TestUser, extra: Value) -> Uuid {
        let mut body = json!({
            "name": "Ana Lima",
            "email": format!("patient-{}@example.org", Uuid::now_v7().simple()),
            "dietary_preferences": "vegetarian",
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.post("/api/v1/patients", dietician, body)
            .await
            .expect(201)
            .id()
    }

    /// Approves the patient's pending link to their PHP as `admin` would: from the review
    /// queue, once the lookup at the PHP (a background job) has found their record there, with
    /// the fingerprint the queue shows.
    pub async fn approve_link(&self, admin: &TestUser, patient: Uuid) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let review = loop {
            let queue = self.get("/api/v1/links", admin).await.expect(200).body;
            let found = queue
                .as_array()
                .expect("a list")
                .iter()
                .find(|r| r["patient_id"] == json!(patient) && r["php_match"] == "found")
                .cloned();
            if let Some(review) = found {
                break review;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{patient} was never found at the PHP: {queue}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        self.post(
            &format!("/api/v1/links/{patient}"),
            admin,
            json!({"decision": "approved", "fingerprint": review["fingerprint"]}),
        )
        .await
        .expect(200)
        .body
    }

    /// [`Self::approve_link`] where no background job looks the patient up: records what the
    /// lookup would have found (their record `php_id`, agreeing) first.
    pub async fn approve_link_found_as(
        &self,
        admin: &TestUser,
        patient: Uuid,
        php_id: &str,
    ) -> Value {
        let row = self
            .db
            .patient(domain::access::PatientScope::All, patient)
            .await
            .expect("read")
            .expect("patient");
        let record = connectors::fhir::PhpPatient {
            id: php_id.into(),
            name: row.name.clone(),
            family: row.name.rsplit(' ').next().map(str::to_owned),
            birth_date: row.birth_date.map(|d| d.to_string()),
        };
        assert!(self
            .db
            .set_php_match(&row, domain::PhpMatch::Found, Some(&record))
            .await
            .expect("match"));
        self.approve_link(admin, patient).await
    }

    /// Creates a text document for a patient as `uploader` over the API.
    pub async fn text_document(&self, uploader: &TestUser, patient: Uuid, title: &str) -> Uuid {
        self.post(
            &format!("/api/v1/patients/{patient}/documents"),
            uploader,
            json!({"type": "progress note", "date": "2026-11-01", "title": title,
                   "content": "Patient reports better energy."}),
        )
        .await
        .expect(201)
        .id()
    }
}

/// Polls `check` every 50 ms until it gives a value (20 s at most, then fails naming `what`).
pub async fn eventually<F, Fut, T>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(Duration::from_secs(20), what, check).await
}

/// [`eventually`] with a limit of its own.
pub async fn eventually_within<F, Fut, T>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Defines each test twice: `NAME::sqlite` and `NAME::postgres`, on a fresh app each;
/// `@with (tweak)` first adjusts the configuration of both.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        both_backends!(@with (|_| {}) $(async fn $name($app) $body)*);
    };
    (@with ($tweak:expr) $(async fn $name:ident($app:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                use $crate::helpers::{spawn_app_with, Backend, TestApp};

                async fn run($app: TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(spawn_app_with(Backend::Sqlite, $tweak).await.expect("sqlite app")).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = spawn_app_with(Backend::Postgres, $tweak).await {
                        run(app).await;
                    }
                }
            }
        )*
    };
}
