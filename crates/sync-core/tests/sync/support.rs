//! The world every sync test runs in: the real platform on a free port over a fresh SQLite
//! file or PostgreSQL database, one dietician signed in, replicas in a scratch directory.

use reqwest::Method;
use serde_json::{Map, Value};
use server::config::Config;
use server::testing::{Platform, ScratchDatabase};
use uuid::Uuid;

pub fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        other => panic!("fields must be an object, not {other}"),
    }
}

pub struct World {
    pub base: String,
    pub token: String,
    pub dir: std::path::PathBuf,
    pub db: server::db::Db,
    // Field order is drop order: the server stops before its database goes.
    pub platform: Platform,
    pub database: ScratchDatabase,
}

pub async fn world() -> World {
    world_on(ScratchDatabase::sqlite(), as_configured).await
}

pub fn as_configured(_: &mut Config) {}

/// Each scenario twice: against the platform on a fresh SQLite file (`NAME::sqlite`) and on a
/// fresh PostgreSQL database (`NAME::postgres`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident => $scenario:ident($tweak:expr);)*) => {$(
        mod $name {
            use super::*;
            use server::testing::ScratchDatabase;
            use $crate::support::world_on;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $scenario(world_on(ScratchDatabase::sqlite(), $tweak).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(database) = ScratchDatabase::postgres().await {
                    $scenario(world_on(database, $tweak).await).await;
                }
            }
        }
    )*};
}

pub async fn world_on(database: ScratchDatabase, tweak: impl FnOnce(&mut Config)) -> World {
    let mut config = database.config();
    tweak(&mut config);
    let platform = Platform::start(config, "127.0.0.1:0").await;
    server::auth::create_account(
        &platform.db,
        domain::UserType::Dietician,
        "dee@example.org",
        "Dee",
        "dietician password",
        Default::default(),
    )
    .await
    .expect("user");
    let token = login(&platform.base, "dee@example.org").await;
    World {
        base: platform.base.clone(),
        token,
        dir: database.dir.clone(),
        db: platform.db.clone(),
        platform,
        database,
    }
}

/// Signs in a seeded user (they all have the dietician's test password) and returns the token.
pub async fn login(base: &str, email: &str) -> String {
    server::testing::access_token(base, email, "dietician password").await
}

impl World {
    /// Seeds a user of `kind` and signs them in.
    pub async fn user(
        &self,
        email: &str,
        kind: domain::UserType,
        patient_id: Option<Uuid>,
    ) -> String {
        let links = server::auth::AccountLinks {
            provider_id: None,
            patient_id,
        };
        server::auth::create_account(&self.db, kind, email, email, "dietician password", links)
            .await
            .expect("user");
        login(&self.base, email).await
    }
}

/// A TCP proxy that, when armed, lets the next push reach the server and then cuts the
/// connection before the reply gets back: the client cannot know its edits were applied.
pub async fn lossy_proxy(
    target: String,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let armed = armed.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let (mut cbuf, mut sbuf) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
                let mut dropping = false;
                loop {
                    tokio::select! {
                        n = cr.read(&mut cbuf) => {
                            let Ok(n) = n else { break };
                            if n == 0 { break }
                            if cbuf[..n].starts_with(b"POST /api/v1/sync/push")
                                && armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
                                dropping = true;
                            }
                            if sw.write_all(&cbuf[..n]).await.is_err() { break }
                        }
                        n = sr.read(&mut sbuf) => {
                            let Ok(n) = n else { break };
                            if n == 0 || dropping { break }
                            if cw.write_all(&sbuf[..n]).await.is_err() { break }
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

impl World {
    /// A request to the platform's REST API as the signed-in dietician (a "web" writer);
    /// the status and the JSON answer.
    pub async fn rest(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("REST request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Stops the platform (its port closes) and starts it again on the same address: what a
    /// restart looks like to clients.
    pub async fn stop(&mut self) {
        self.platform.stop().await;
    }

    pub async fn start_again(&mut self) {
        let addr = self.platform.addr.to_string();
        self.platform = Platform::start(self.database.config(), &addr).await;
    }
}

/// A REST call with `token`: the status and the JSON answer.
pub async fn rest_as(
    w: &World,
    token: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let res = reqwest::Client::new()
        .request(method, format!("{}/api/v1{path}", w.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("REST request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A session kept in memory, as a test's stand-in for the OS keyring.
#[derive(Default)]
pub struct MemoryStore(std::sync::Mutex<Option<sync_core::Session>>);

impl sync_core::TokenStore for MemoryStore {
    fn load(&self) -> sync_core::Result<Option<sync_core::Session>> {
        Ok(self.0.lock().expect("lock").clone())
    }
    fn save(&self, session: &sync_core::Session) -> sync_core::Result<()> {
        *self.0.lock().expect("lock") = Some(session.clone());
        Ok(())
    }
    fn clear(&self) -> sync_core::Result<()> {
        *self.0.lock().expect("lock") = None;
        Ok(())
    }
}

impl MemoryStore {
    pub fn load_clone(&self) -> Option<sync_core::Session> {
        self.0.lock().expect("lock").clone()
    }
}
