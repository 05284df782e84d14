//! Signing in and keeping the session, without holding credentials: a [`TokenStore`] (the OS
//! keyring in the desktop app, a private file in the CLI) keeps them; this module only talks
//! to the server and rotates tokens through the store.

use crate::engine::{sync_with_retry, Remote, RetryPolicy, SyncEvent, SyncSummary};
use crate::replica::Replica;
use crate::{Result, SyncError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;

/// A signed-in session with one platform.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// Tokens never reach logs.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Where the session is kept.
pub trait TokenStore: Send + Sync {
    fn load(&self) -> Result<Option<Session>>;
    fn save(&self, session: &Session) -> Result<()>;
    fn clear(&self) -> Result<()>;
}

async fn token_call(url: String, body: Value) -> Result<reqwest::Response> {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| SyncError::Offline(e.without_url().to_string()))
}

fn session_from(server: &str, tokens: &Value) -> Result<Session> {
    let field = |name: &str| {
        tokens[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SyncError::Server {
                status: 200,
                detail: format!("the sign-in answer had no {name}"),
            })
    };
    Ok(Session {
        server: server.to_owned(),
        access_token: field("access_token")?,
        refresh_token: field("refresh_token")?,
    })
}

/// Signs in and keeps the session in `store`.
pub async fn login(
    store: &dyn TokenStore,
    server: &str,
    email: &str,
    password: &str,
) -> Result<Session> {
    let server = server.trim_end_matches('/');
    let res = token_call(
        format!("{server}/api/v1/auth/login"),
        json!({"email": email, "password": password}),
    )
    .await?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or_default();
    if status != 200 {
        return Err(match status {
            401 => SyncError::Unauthorized,
            _ => SyncError::Server {
                status,
                detail: body["detail"]
                    .as_str()
                    .unwrap_or("sign-in refused")
                    .to_owned(),
            },
        });
    }
    let session = session_from(server, &body)?;
    store.save(&session)?;
    Ok(session)
}

/// Rotates the session's tokens; a refused refresh ends the session (the store is cleared).
pub async fn refresh(store: &dyn TokenStore, session: &Session) -> Result<Session> {
    let res = token_call(
        format!("{}/api/v1/auth/refresh", session.server),
        json!({"refresh_token": session.refresh_token}),
    )
    .await?;
    if !res.status().is_success() {
        store.clear()?;
        return Err(SyncError::Unauthorized);
    }
    let body: Value = res
        .json()
        .await
        .map_err(|e| SyncError::Offline(e.without_url().to_string()))?;
    let fresh = session_from(&session.server, &body)?;
    store.save(&fresh)?;
    Ok(fresh)
}

/// Ends the session at the server (if reachable) and here.
pub async fn logout(store: &dyn TokenStore) -> Result<()> {
    if let Some(session) = store.load()? {
        let _ = token_call(
            format!("{}/api/v1/auth/logout", session.server),
            json!({"refresh_token": session.refresh_token}),
        )
        .await;
    }
    store.clear()
}

/// Runs `call` against the platform as the stored session, refreshing the access token once
/// when it has expired.
pub async fn signed_in<T, F, Fut>(store: &dyn TokenStore, call: F) -> Result<T>
where
    F: Fn(Remote) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let session = store.load()?.ok_or(SyncError::Unauthorized)?;
    match call(Remote::new(&session.server, &session.access_token)).await {
        Err(SyncError::Unauthorized) => {
            let fresh = refresh(store, &session).await?;
            call(Remote::new(&fresh.server, &fresh.access_token)).await
        }
        other => other,
    }
}

/// Syncs as the stored session, refreshing its access token once when it has expired.
pub async fn sync_signed_in(
    replica: &Replica,
    store: &dyn TokenStore,
    policy: RetryPolicy,
    events: &(dyn Fn(SyncEvent) + Send + Sync),
) -> Result<SyncSummary> {
    signed_in(store, |remote| async move {
        sync_with_retry(replica, &remote, policy, events).await
    })
    .await
}
