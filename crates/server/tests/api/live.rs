//! The live stream (`GET /sync/stream`): a change a client may see wakes it as it commits,
//! other changes do not, heartbeats keep it open, and on PostgreSQL a commit on one instance
//! wakes a stream held on another.

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp, TestUser};
use domain::UserType::Dietician;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What a stream sent: an event's name, or a heartbeat.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    Event(String),
    Heartbeat,
}

/// Holds `user`'s stream on `base` from `cursor`; what arrives comes out of the receiver.
async fn hold(base: &str, user: &TestUser, cursor: &str) -> mpsc::UnboundedReceiver<Sent> {
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/sync/stream?cursor={cursor}"))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut res = res;
        let mut text = String::new();
        while let Ok(Some(chunk)) = res.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let sent = match block.lines().find_map(|l| l.strip_prefix("event:")) {
                    Some(name) => Sent::Event(name.trim().to_owned()),
                    None if block.starts_with(':') => Sent::Heartbeat,
                    None => continue,
                };
                if tx.send(sent).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The next event (heartbeats skipped) within `limit`.
async fn next_event(rx: &mut mpsc::UnboundedReceiver<Sent>, limit: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Sent::Event(name))) => return Some(name),
            Ok(Some(Sent::Heartbeat)) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Waits for the first heartbeat, letting a first nudge go by: on PostgreSQL the feed's
/// horizon is the oldest transaction running in the whole cluster (other tests' keep it
/// back), so a row of the caller's from just before the cursor can come once more.
async fn settle(stream: &mut mpsc::UnboundedReceiver<Sent>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        match tokio::time::timeout_at(deadline, stream.recv()).await {
            Ok(Some(Sent::Heartbeat)) => return,
            Ok(Some(Sent::Event(_))) => {}
            other => panic!("no heartbeat: {other:?}"),
        }
    }
}

async fn cursor_of(app: &TestApp, user: &TestUser) -> String {
    let page = app
        .get("/api/v1/sync/changes?limit=5000&tables=7", user)
        .await
        .expect(200)
        .body;
    assert_eq!(page["has_more"], false);
    page["next_cursor"].as_str().expect("cursor").to_owned()
}

both_backends! {
    @with (|c: &mut server::config::Config| c.live_heartbeat = Duration::from_millis(200))

    async fn a_commit_wakes_only_the_streams_that_may_see_it(app) {
        let ana = app.user(Dietician).await;
        let ben = app.user(Dietician).await;
        app.patient(&ana, json!({})).await;
        let mut stream = hold(&app.base, &ana, &cursor_of(&app, &ana).await).await;

        settle(&mut stream).await;
        // Ben's new patient is nothing of Ana's: no nudge.
        app.patient(&ben, json!({"name": "Bea Rocha"})).await;
        assert_eq!(next_event(&mut stream, Duration::from_millis(1500)).await, None);
        // Ana's is, from another device of hers: a nudge as it commits.
        let written = Instant::now();
        app.patient(&ana, json!({"name": "Rui Costa"})).await;
        assert_eq!(
            next_event(&mut stream, Duration::from_secs(5)).await.as_deref(),
            Some("change")
        );
        let took = written.elapsed();
        assert!(took < Duration::from_secs(5), "{took:?}");
        // Once: the stream's cursor moved past it.
        assert_eq!(next_event(&mut stream, Duration::from_millis(800)).await, None);

        // A bad cursor is a clear 400; no token, 401.
        let res = app.client.get(app.url("/api/v1/sync/stream?cursor=nope")).bearer_auth(&ana.token).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 400);
        let res = app.client.get(app.url(&format!("/api/v1/sync/stream?cursor={}", cursor_of(&app, &ana).await))).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401);
        // No cursor: a replica that never pulled pulls first (a stream from nothing would walk
        // the whole scope at every commit).
        let res = app.client.get(app.url("/api/v1/sync/stream")).bearer_auth(&ana.token).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 400);
    }
}

/// Two instances on one PostgreSQL: a commit through one wakes a stream held on the other,
/// through the database's LISTEN/NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_one_instance_wakes_a_stream_on_another() {
    let heartbeat = Duration::from_millis(200);
    let Some(app) = spawn_app_with(Backend::Postgres, |c| c.live_heartbeat = heartbeat).await
    else {
        return;
    };
    let mut config = server::Config::new(
        app.database_url.clone(),
        server::config::Secret::new(server::testing::TEST_SECRET.as_bytes().to_vec()),
    );
    config.jobs.workers = 0;
    config.live_heartbeat = heartbeat;
    let mut other = server::testing::Platform::start(config, "127.0.0.1:0").await;
    let ana = app.user(Dietician).await;
    let cursor = cursor_of(&app, &ana).await;
    let mut stream = hold(&other.base, &ana, &cursor).await;
    settle(&mut stream).await;
    app.patient(&ana, json!({})).await;
    assert_eq!(
        next_event(&mut stream, Duration::from_secs(5))
            .await
            .as_deref(),
        Some("change"),
        "the other instance heard the commit"
    );
    other.stop().await;
}
