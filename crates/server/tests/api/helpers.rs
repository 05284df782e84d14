//! The test harness: the real server on port 0, over a fresh SQLite file or a fresh
//! PostgreSQL database, with helpers to seed users and make requests.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server::auth::{create_account, AccountLinks};
use server::config::{Config, Secret};
use server::db::Db;
use server::AppState;
use std::path::PathBuf;
use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The password every seeded user has.
pub const PASSWORD: &str = "a long test password";
pub const SECRET: &str = "test secret that is at least thirty-two bytes long";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// The database URL the server uses (for tests that write beside it).
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match &self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                // Dropping needs a runtime of its own: the test's may be shutting down.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(rt) = rt {
                        rt.block_on(async {
                            if let Ok(admin) = Db::connect(&admin_url, 1).await {
                                let _ = sqlx::query(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .execute(admin.pool())
                                .await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

/// The PostgreSQL server tests use (trust auth on this machine).
pub fn postgres_admin_url() -> String {
    std::env::var("RECORDS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Starts the server on a fresh database. `None` only for PostgreSQL outside CI when no
/// server answers (said loudly); under `CI=true` that is a failure.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    // Server errors show in a failing test's output (the harness captures the rest).
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let (url, cleanup) = match backend {
        Backend::Sqlite => {
            let dir =
                std::env::temp_dir().join(format!("records-test-{}", Uuid::now_v7().simple()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            (
                format!("sqlite:{}", dir.join("records.db").display()),
                Cleanup::File(dir),
            )
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let admin = match Db::connect(&admin_url, 1).await {
                Ok(db) => db,
                Err(e) => {
                    if std::env::var("CI").is_ok_and(|v| v == "true") {
                        panic!("PostgreSQL at {admin_url} is unreachable under CI: {e:#}");
                    }
                    eprintln!("SKIPPED: PostgreSQL at {admin_url} is unreachable ({e:#}); CI=true makes this fail");
                    return None;
                }
            };
            let name = format!("records_test_{}", Uuid::now_v7().simple());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(admin.pool())
                .await
                .expect("create test database");
            admin.pool().close().await;
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&admin_url);
            (
                format!("{base}/{name}"),
                Cleanup::Database {
                    admin_url: admin_url.clone(),
                    name,
                },
            )
        }
    };
    let mut config = Config::new(url.clone(), Secret::new(SECRET.as_bytes().to_vec()));
    tweak(&mut config);
    let state = AppState::new(config).await.expect("app state");
    let db = state.db.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel();
    tokio::spawn(server::serve(state, listener, async {
        let _ = rx.await;
    }));
    Some(TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        db,
        database_url: url,
        shutdown: Some(tx),
        cleanup,
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

/// Defines each test twice: `NAME::sqlite` and `NAME::postgres`, on a fresh app each.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                use $crate::helpers::{spawn_app, Backend, TestApp};

                async fn run($app: TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(spawn_app(Backend::Sqlite).await.expect("sqlite app")).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = spawn_app(Backend::Postgres).await {
                        run(app).await;
                    }
                }
            }
        )*
    };
}
