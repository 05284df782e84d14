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
            .ok_or_else(|| SyncError::bad_answer(format!("the sign-in answer had no {name}")))
    };
    Ok(Session {
        server: server.to_owned(),
        access_token: field("access_token")?,
        refresh_token: field("refresh_token")?,
    })
}

/// Whether a server reached over plain http on another computer may be used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PlainHttp {
    /// Plain http only to this computer (127.0.0.0/8, ::1, `localhost`); anywhere else
    /// https only. The default.
    #[default]
    LoopbackOnly,
    /// The person allowed plain http anywhere (`records login --allow-insecure-http`,
    /// `RECORDS_ALLOW_HTTP=1`), on a network they trust.
    Allowed,
}

impl PlainHttp {
    /// What `RECORDS_ALLOW_HTTP` says, read the same way by the desktop app and `records`:
    /// `1`, `true`, `yes` or `on` (any case) allow plain http; anything else, or nothing, does
    /// not.
    pub fn from_env() -> Self {
        Self::from_setting(std::env::var("RECORDS_ALLOW_HTTP").ok().as_deref())
    }

    fn from_setting(value: Option<&str>) -> Self {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("1" | "true" | "yes" | "on") => Self::Allowed,
            _ => Self::LoopbackOnly,
        }
    }
}

/// Checks a server address before anything is sent to it: `https://` anywhere, `http://` only
/// to this computer unless `plain_http` allows it. Loopback is judged from the address as
/// written (an IP in 127.0.0.0/8 or `::1`, or the name `localhost`), never by a lookup: any
/// other name is another computer, whatever it resolves to today.
pub fn check_server(server: &str, plain_http: PlainHttp) -> Result<()> {
    let not_http = || {
        SyncError::Invalid(format!(
            "\"{server}\" is not a server address: give it as https://host[:port] (or \
             http://127.0.0.1:port for a server on this computer)"
        ))
    };
    let url = reqwest::Url::parse(server).map_err(|_| not_http())?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if plain_http == PlainHttp::Allowed || is_loopback(&url) => Ok(()),
        "http" => Err(SyncError::Invalid(format!(
            "{server} is plain http to another computer: signing in there would send \
             passwords and health records unencrypted, for anyone on the network to read or \
             change. Use the server's https:// address. Only on a network you trust, allow \
             plain http explicitly: `records login --allow-insecure-http` (or \
             RECORDS_ALLOW_HTTP=1, which the desktop app reads at start)"
        ))),
        _ => Err(not_http()),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    // The URL parser has already written IPv4 addresses in their usual form (127.1 is
    // 127.0.0.1) and put IPv6 ones in brackets.
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Signs in and keeps the session in `store`; plain http only to this computer (see
/// [`check_server`]).
pub async fn login(
    store: &dyn TokenStore,
    server: &str,
    email: &str,
    password: &str,
) -> Result<Session> {
    login_with(store, server, email, password, PlainHttp::LoopbackOnly).await
}

/// [`login`], with plain http to another computer allowed or not as the person said. Nothing
/// is sent to a server [`check_server`] refuses.
pub async fn login_with(
    store: &dyn TokenStore,
    server: &str,
    email: &str,
    password: &str,
    plain_http: PlainHttp,
) -> Result<Session> {
    check_server(server, plain_http)?;
    let server = server.trim_end_matches('/');
    let res = token_call(
        format!("{server}/api/v1/auth/login"),
        json!({"email": email, "password": password}),
    )
    .await?;
    let status = res.status().as_u16();
    let body = res.bytes().await.unwrap_or_default();
    if status != 200 {
        return Err(match status {
            401 => SyncError::Unauthorized,
            _ => SyncError::from_answer(status, &body),
        });
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
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

/// [`crate::live::follow`] as the stored session (refreshed once if it expired).
pub async fn follow_signed_in(
    store: &dyn TokenStore,
    cursor: &str,
    nudged: &(dyn Fn() + Send + Sync),
) -> Result<()> {
    signed_in(store, |remote| async move {
        crate::live::follow(&remote, cursor, nudged).await
    })
    .await
}

/// [`crate::verify::verify`] as the stored session (refreshed once if it expired).
pub async fn verify_signed_in(
    replica: &Replica,
    store: &dyn TokenStore,
) -> Result<Vec<crate::verify::Repaired>> {
    signed_in(store, |remote| async move {
        crate::verify::verify(replica, &remote).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A store in memory, to see whether a session was saved.
    #[derive(Default)]
    struct Memory(Mutex<Option<Session>>);

    impl TokenStore for Memory {
        fn load(&self) -> Result<Option<Session>> {
            Ok(self.0.lock().expect("lock").clone())
        }
        fn save(&self, session: &Session) -> Result<()> {
            *self.0.lock().expect("lock") = Some(session.clone());
            Ok(())
        }
        fn clear(&self) -> Result<()> {
            *self.0.lock().expect("lock") = None;
            Ok(())
        }
    }

    fn refused(server: &str) -> String {
        match check_server(server, PlainHttp::LoopbackOnly) {
            Err(SyncError::Invalid(why)) => why,
            other => panic!("{server}: {other:?}"),
        }
    }

    #[test]
    fn plain_http_is_accepted_on_loopback_only() {
        for server in [
            "https://records.example.org",
            "https://203.0.113.7:8443/",
            "HTTPS://Records.Example.org/clinic",
            "http://127.0.0.1:8080",
            "http://127.42.0.9",
            "http://localhost:8080/",
            "http://LOCALHOST",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]:8080",
        ] {
            assert!(
                check_server(server, PlainHttp::LoopbackOnly).is_ok(),
                "{server}"
            );
        }
        for server in [
            "http://records.example.org",
            "http://203.0.113.7:8080",
            "http://192.168.1.10:8080/",
            "http://0.0.0.0:8080",
            "http://[::]:8080",
            "http://[fe80::1]:8080",
            // Names that merely look local are looked up elsewhere.
            "http://127.0.0.1.nip.io",
            "http://localhost.example.org",
            "http://localhost@records.example.org",
        ] {
            let why = refused(server);
            assert!(
                why.contains("would send passwords and health records unencrypted"),
                "{server}: {why}"
            );
            assert!(why.contains("--allow-insecure-http"), "{why}");
            assert!(why.contains("RECORDS_ALLOW_HTTP=1"), "{why}");
            assert!(
                check_server(server, PlainHttp::Allowed).is_ok(),
                "allowed when asked: {server}"
            );
        }
    }

    #[test]
    fn records_allow_http_allows_only_when_it_says_yes() {
        for yes in ["1", "true", "YES", " on "] {
            assert_eq!(
                PlainHttp::from_setting(Some(yes)),
                PlainHttp::Allowed,
                "{yes}"
            );
        }
        for no in [
            None,
            Some(""),
            Some("0"),
            Some("false"),
            Some("no"),
            Some("maybe"),
        ] {
            assert_eq!(
                PlainHttp::from_setting(no),
                PlainHttp::LoopbackOnly,
                "{no:?}"
            );
        }
    }

    #[test]
    fn an_address_that_is_not_http_is_refused_whatever_is_allowed() {
        for server in [
            "records.example.org",
            "localhost:8080",
            "ftp://records.example.org",
            "file:///etc/passwd",
            "",
        ] {
            let e = check_server(server, PlainHttp::Allowed).expect_err(server);
            assert!(e.to_string().contains("https://"), "{server}: {e}");
        }
    }

    #[tokio::test]
    async fn signing_in_over_plain_http_off_loopback_sends_nothing_unless_allowed() {
        // 0.0.0.0 reaches this computer on Linux, but is not loopback: refused before any
        // request (a request would have answered "cannot be reached" here).
        let store = Memory::default();
        let e = login(&store, "http://0.0.0.0:9", "dee@example.org", "secret")
            .await
            .expect_err("refused");
        assert!(
            matches!(&e, SyncError::Invalid(why) if why.contains("unencrypted")),
            "{e}"
        );
        assert_eq!(store.load().expect("load"), None);
        // Allowed: it is tried (and finds nothing listening).
        let e = login_with(
            &store,
            "http://0.0.0.0:9",
            "dee@example.org",
            "secret",
            PlainHttp::Allowed,
        )
        .await
        .expect_err("nothing there");
        assert!(matches!(e, SyncError::Offline(_)), "{e}");
    }
}
