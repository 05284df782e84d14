//! Sessions end when rights change; password changes; the absolute life of a sign-in; login
//! throttling behind proxies; small bodies on the auth endpoints; email changes that reveal
//! nothing; what only the Carepatron integration sets.

use crate::both_backends;
use crate::helpers::{TestApp, TestUser, PASSWORD};
use domain::UserType::{Admin, Dietician, Patient, Practitioner, Provider};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server::auth::LoginLimits;
use std::time::{Duration, Instant};

const NEW_PASSWORD: &str = "another long password";

async fn refresh(app: &TestApp, token: &str) -> crate::helpers::Res {
    app.call(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

/// A second sign-in of `user`: (access token, refresh token).
async fn sign_in_again(app: &TestApp, user: &TestUser, password: &str) -> TestUser {
    let res = app.login(&user.email, password).await.expect(200);
    TestUser {
        token: res.body["access_token"]
            .as_str()
            .expect("access")
            .to_owned(),
        refresh: res.body["refresh_token"]
            .as_str()
            .expect("refresh")
            .to_owned(),
        ..user.clone()
    }
}

fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_owned()
}

/// A login with `X-Forwarded-For: forwarded`.
async fn login_from(app: &TestApp, forwarded: &str, email: &str, password: &str) -> StatusCode {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login sent")
        .status()
}

both_backends! {
    async fn a_deleted_users_tokens_stop_working_at_once(app) {
        let admin = app.user(Admin).await;
        let diet = app.user(Dietician).await;
        app.get("/api/v1/patients", &diet).await.expect(200);
        app.get("/api/v1/sync/changes", &diet).await.expect(200);
        app.delete(&format!("/api/v1/users/{}", diet.id), &admin).await.expect(204);
        app.get("/api/v1/patients", &diet).await.problem(401, "unauthorized");
        app.get("/api/v1/sync/changes", &diet).await.problem(401, "unauthorized");
        app.get("/api/v1/users/me", &diet).await.problem(401, "unauthorized");
        refresh(&app, &diet.refresh).await.problem(401, "unauthorized");
    }

    async fn a_demoted_admin_loses_admin_rights_on_their_next_request(app) {
        let admin = app.user(Admin).await;
        let other = app.user(Admin).await;
        app.get("/api/v1/users", &other).await.expect(200);
        app.put(&format!("/api/v1/users/{}", other.id), &admin, json!({"type": "dietician"}))
            .await
            .expect(200);
        let refused = app.get("/api/v1/users", &other).await.problem(401, "unauthorized");
        assert!(str_of(&refused.body, "detail").contains("sign in again"), "{}", refused.body);
        refresh(&app, &other.refresh).await.problem(401, "unauthorized");
        // Signed in again, they are a dietician.
        let again = sign_in_again(&app, &other, PASSWORD).await;
        app.get("/api/v1/users", &again).await.problem(403, "forbidden");
        // An update that changes nothing that decides rights ends nothing.
        app.put(&format!("/api/v1/users/{}", other.id), &admin, json!({"name": "Renamed", "type": "dietician"}))
            .await
            .expect(200);
        app.get("/api/v1/users/me", &again).await.expect(200);
        refresh(&app, &again.refresh).await.expect(200);
    }

    async fn a_new_patient_or_provider_link_ends_the_sessions(app) {
        let admin = app.user(Admin).await;
        let diet = app.user(Dietician).await;
        let (first, second) = (app.patient(&diet, json!({})).await, app.patient(&diet, json!({})).await);
        let pat = app.user_with(Patient, None, Some(first)).await;
        app.get(&format!("/api/v1/patients/{first}"), &pat).await.expect(200);
        app.put(&format!("/api/v1/users/{}", pat.id), &admin, json!({"patient_id": second}))
            .await
            .expect(200);
        app.get(&format!("/api/v1/patients/{first}"), &pat).await.problem(401, "unauthorized");
        refresh(&app, &pat.refresh).await.problem(401, "unauthorized");
        let again = sign_in_again(&app, &pat, PASSWORD).await;
        app.get(&format!("/api/v1/patients/{first}"), &again).await.expect(404);
        app.get(&format!("/api/v1/patients/{second}"), &again).await.expect(200);

        let provider = |name: &str| json!({"name": name, "fhir_base_url": "https://php.example/fhir"});
        let a = app.post("/api/v1/providers", &admin, provider("Clinic A")).await.expect(201).id();
        let b = app.post("/api/v1/providers", &admin, provider("Clinic B")).await.expect(201).id();
        let staff = app.user_with(Provider, Some(a), None).await;
        app.get("/api/v1/patients", &staff).await.expect(200);
        app.put(&format!("/api/v1/users/{}", staff.id), &admin, json!({"provider_id": b}))
            .await
            .expect(200);
        app.get("/api/v1/patients", &staff).await.problem(401, "unauthorized");
        refresh(&app, &staff.refresh).await.problem(401, "unauthorized");
    }

    async fn an_admin_password_reset_ends_every_session(app) {
        let admin = app.user(Admin).await;
        let diet = app.user(Dietician).await;
        let laptop = sign_in_again(&app, &diet, PASSWORD).await;
        app.put(&format!("/api/v1/users/{}", diet.id), &admin, json!({"password": NEW_PASSWORD}))
            .await
            .expect(200);
        for session in [&diet, &laptop] {
            app.get("/api/v1/patients", session).await.problem(401, "unauthorized");
            refresh(&app, &session.refresh).await.problem(401, "unauthorized");
        }
        app.login(&diet.email, PASSWORD).await.problem(401, "unauthorized");
        app.login(&diet.email, NEW_PASSWORD).await.expect(200);
        // The admin's own session is untouched.
        app.get("/api/v1/users", &admin).await.expect(200);
    }

    async fn ones_own_password_change_needs_the_current_one_and_ends_the_other_sessions(app) {
        let diet = app.user(Dietician).await;
        let other = sign_in_again(&app, &diet, PASSWORD).await;
        let path = format!("/api/v1/users/{}", diet.id);
        let missing = app.put(&path, &diet, json!({"password": NEW_PASSWORD}))
            .await
            .problem(422, "validation_failed");
        assert_eq!(missing.body["field"], "current_password");
        let wrong = app
            .put(&path, &diet, json!({"password": NEW_PASSWORD, "current_password": "not the password"}))
            .await
            .problem(422, "validation_failed");
        assert_eq!(wrong.body["field"], "current_password");
        // Nothing happened: both sessions still work.
        app.get("/api/v1/patients", &other).await.expect(200);
        app.put(&path, &diet, json!({"password": NEW_PASSWORD, "current_password": PASSWORD}))
            .await
            .expect(200);

        // The other sign-in is over, access and refresh.
        app.get("/api/v1/patients", &other).await.problem(401, "unauthorized");
        refresh(&app, &other.refresh).await.problem(401, "unauthorized");
        // This one goes on after one refresh (its access token is from the old session).
        app.get("/api/v1/patients", &diet).await.problem(401, "unauthorized");
        let pair = refresh(&app, &diet.refresh).await.expect(200);
        let access = str_of(&pair.body, "access_token");
        app.call(Method::GET, "/api/v1/patients", Some(&access), None).await.expect(200);
        refresh(&app, &str_of(&pair.body, "refresh_token")).await.expect(200);

        app.login(&diet.email, PASSWORD).await.problem(401, "unauthorized");
        app.login(&diet.email, NEW_PASSWORD).await.expect(200);
    }

    async fn wrong_current_passwords_are_throttled_like_sign_ins(app) {
        let diet = app.user(Practitioner).await;
        let path = format!("/api/v1/users/{}", diet.id);
        let mut statuses = Vec::new();
        for i in 0..8 {
            let res = app
                .put(&path, &diet, json!({"password": NEW_PASSWORD, "current_password": format!("guess number {i}")}))
                .await;
            statuses.push(res.status.as_u16());
        }
        assert!(statuses.contains(&429), "guessing is slowed down: {statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 5, "{statuses:?}");
    }

    async fn a_sign_in_lives_thirty_days_at_most(app) {
        let user = app.user(Dietician).await;
        let backdate = |days: i64| {
            let db = app.db.clone();
            let refresh = user.refresh.clone();
            async move {
                let started = server::db::stamp(chrono::Utc::now() - chrono::Duration::days(days));
                let hash = server::auth::refresh_token_hash(&refresh);
                let done = sqlx::query(
                    "UPDATE refresh_tokens SET family_started_at = $1, created_at = $1 WHERE family_id = \
                     (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)",
                )
                .bind(started)
                .bind(hash)
                .execute(db.writer())
                .await
                .expect("backdated")
                .rows_affected();
                assert!(done > 0);
            }
        };
        // 29 days in, refreshing works, but the new token ends with the sign-in's 30th day.
        backdate(29).await;
        let pair = refresh(&app, &user.refresh).await.expect(200);
        let next = str_of(&pair.body, "refresh_token");
        let expires: String = sqlx::query_scalar("SELECT expires_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(server::auth::refresh_token_hash(&next))
            .fetch_one(app.db.pool())
            .await
            .expect("stored");
        let expires = chrono::DateTime::parse_from_rfc3339(&expires).expect("time");
        let left = expires.signed_duration_since(chrono::Utc::now());
        assert!(left <= chrono::Duration::days(1) && left > chrono::Duration::hours(23), "{left}");

        // 31 days in, the family is over however recently it was refreshed.
        let user = TestUser { refresh: next, ..user.clone() };
        let backdate31 = {
            let started = server::db::stamp(chrono::Utc::now() - chrono::Duration::days(31));
            sqlx::query(
                "UPDATE refresh_tokens SET family_started_at = $1 WHERE family_id = \
                 (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)",
            )
            .bind(started)
            .bind(server::auth::refresh_token_hash(&user.refresh))
            .execute(app.db.writer())
            .await
            .expect("backdated")
            .rows_affected()
        };
        assert!(backdate31 > 0);
        refresh(&app, &user.refresh).await.problem(401, "unauthorized");
        // A new sign-in starts a new family.
        let again = sign_in_again(&app, &user, PASSWORD).await;
        refresh(&app, &again.refresh).await.expect(200);
    }

    async fn auth_bodies_over_sixteen_kib_get_413_before_any_hashing(app) {
        let admin = app.user(Admin).await;
        let user_path = format!("/api/v1/users/{}", admin.id);
        for (method, path, token) in [
            ("POST", "/api/v1/auth/login", None),
            ("POST", "/api/v1/auth/refresh", None),
            ("POST", "/api/v1/auth/logout", None),
            ("PUT", user_path.as_str(), Some(admin.token.as_str())),
            ("POST", "/api/v1/users", Some(admin.token.as_str())),
        ] {
            for chunked in [false, true] {
                let (status, body, took) = huge_password(&app, method, path, token, chunked).await;
                assert_eq!(status, 413, "{path}: {body}");
                assert!(body.contains("payload_too_large"), "{body}");
                assert!(took < Duration::from_secs(1), "{path}: {took:?}");
                eprintln!("413 for a 20 MiB password at {method} {path} (chunked: {chunked}) in {took:?}");
            }
        }
        // A normal sign-in still works.
        app.login(&admin.email, PASSWORD).await.expect(200);
    }

    async fn only_admins_change_emails_and_refusals_reveal_nothing(app) {
        let admin = app.user(Admin).await;
        let diet = app.user(Dietician).await;
        let colleague = app.user(Practitioner).await;
        let path = format!("/api/v1/users/{}", diet.id);
        let taken = app.put(&path, &diet, json!({"email": colleague.email})).await.problem(403, "forbidden");
        let free = app.put(&path, &diet, json!({"email": "nobody-yet@example.org"})).await.problem(403, "forbidden");
        assert_eq!(taken.body, free.body, "the same answer whether the address is taken or not");
        // Sending one's own email unchanged (any case) is fine, and so is a new name.
        app.put(&path, &diet, json!({"email": diet.email.to_uppercase(), "name": "Dee"})).await.expect(200);
        // An admin, who can list every account anyway, is told of a clash.
        app.put(&path, &admin, json!({"email": colleague.email})).await.problem(409, "email_taken");
        let moved = app.put(&path, &admin, json!({"email": "dee.new@example.org"})).await.expect(200);
        assert_eq!(moved.body["email"], "dee.new@example.org");
    }

    async fn carepatron_ids_are_set_by_the_integration_only(app) {
        let admin = app.user(Admin).await;
        let diet = app.user(Dietician).await;
        for value in [json!("cp-member-1"), Value::Null] {
            let created = app
                .post("/api/v1/users", &admin, json!({"email": "new@example.org", "name": "New",
                    "type": "practitioner", "password": PASSWORD, "carepatron_id": value}))
                .await
                .problem(422, "validation_failed");
            assert_eq!(created.body["field"], "carepatron_id", "{}", created.body);
            for (caller, target) in [(&admin, &diet), (&diet, &diet)] {
                let updated = app
                    .put(&format!("/api/v1/users/{}", target.id), caller, json!({"carepatron_id": value}))
                    .await
                    .problem(422, "validation_failed");
                assert_eq!(updated.body["field"], "carepatron_id");
            }
        }
        let me = app.get("/api/v1/users/me", &diet).await.expect(200);
        assert_eq!(me.body["carepatron_id"], Value::Null);
    }
}

both_backends! {
    @with (|c: &mut server::config::Config| {
        c.trusted_proxies = server::auth::parse_trusted_proxies("127.0.0.1/32, ::1").expect("proxies");
        c.login_limits = LoginLimits {
            free_failures: 3,
            first_delay: Duration::from_millis(400),
            max_delay: Duration::from_secs(60),
            ..LoginLimits::default()
        };
    })

    async fn failures_slow_one_address_for_one_account_never_the_account(app) {
        let user = app.user(Dietician).await;
        let attacker = "198.51.100.66";
        for _ in 0..3 {
            assert_eq!(login_from(&app, attacker, &user.email, "a wrong password").await, StatusCode::UNAUTHORIZED);
        }
        // The attacker's address now waits, even with the right password...
        let res = app.send(app.client.post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", attacker)
            .json(&json!({"email": user.email, "password": PASSWORD}))).await;
        let res = res.problem(429, "too_many_requests");
        let retry: u64 = res.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        // ...a forged first hop does not help (the proxy appended the real one)...
        assert_eq!(
            login_from(&app, &format!("203.0.113.1, {attacker}"), &user.email, PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        // ...but the clinician, from their own address, signs in at once.
        assert_eq!(login_from(&app, "203.0.113.7", &user.email, PASSWORD).await, StatusCode::OK);
        // And each further failure from the attacker's address waits longer.
        let mut waits = Vec::new();
        for _ in 0..3 {
            let mut status = StatusCode::TOO_MANY_REQUESTS;
            let started = Instant::now();
            while status == StatusCode::TOO_MANY_REQUESTS {
                tokio::time::sleep(Duration::from_millis(50)).await;
                status = login_from(&app, attacker, &user.email, "a wrong password").await;
            }
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            waits.push(started.elapsed());
        }
        eprintln!("waits between failures from the attacker's address: {waits:?}");
        assert!(waits[2] > waits[0] + Duration::from_millis(500), "{waits:?}");
    }
}

both_backends! {
    async fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(app) {
        let user = app.user(Dietician).await;
        // No trusted proxies (the default): every request is from the TCP peer, whatever it says.
        for i in 0..5 {
            let status = login_from(&app, &format!("198.51.100.{i}"), &user.email, "a wrong password").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(
            login_from(&app, "198.51.100.99", &user.email, PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}

/// Sends `{"email": …, "password": <20 MiB>}` over a raw connection (an HTTP client library
/// would give up writing once the server answers and closes) and reads the answer while the
/// body is still going out: (status, body, time to the answer).
async fn huge_password(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    chunked: bool,
) -> (u16, String, Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    const SIZE: usize = 20 * 1024 * 1024;
    let host = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let prefix = br#"{"email":"someone@example.org","password":""#.to_vec();
    let length = prefix.len() + SIZE + 2;
    let framing = if chunked {
        "Transfer-Encoding: chunked\r\n".to_owned()
    } else {
        format!("Content-Length: {length}\r\n")
    };
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{auth}{framing}\r\n"
    );
    let started = Instant::now();
    wr.write_all(head.as_bytes()).await.expect("head");
    let writer = tokio::spawn(async move {
        let piece = vec![b'p'; 64 * 1024];
        let mut parts = vec![prefix];
        parts.extend((0..SIZE / piece.len()).map(|_| piece.clone()));
        parts.push(br#""}"#.to_vec());
        for part in parts {
            let framed = if chunked {
                [
                    format!("{:x}\r\n", part.len()).into_bytes(),
                    part,
                    b"\r\n".to_vec(),
                ]
                .concat()
            } else {
                part
            };
            if wr.write_all(&framed).await.is_err() {
                return;
            }
        }
        if chunked {
            let _ = wr.write_all(b"0\r\n\r\n").await;
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = rd.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    break;
                }
            }
        }
    })
    .await;
    let took = started.elapsed();
    writer.abort();
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text, took)
}

/// What a flood of failed logins from one address does to other people's sign-ins from other
/// addresses: the figures go to stderr (`--nocapture`).
async fn login_flood(app: TestApp) {
    let victim = app.user(Dietician).await;
    let bystander = app.user(Practitioner).await;
    let baseline = {
        let started = Instant::now();
        assert_eq!(
            login_from(&app, "203.0.113.10", &bystander.email, PASSWORD).await,
            StatusCode::OK
        );
        started.elapsed()
    };
    // The attacker runs on a thread and runtime of its own (as another machine would), 16
    // requests at a time, as fast as the answers come.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attacker = {
        let (url, stop, victim) = (
            app.url("/api/v1/auth/login"),
            stop.clone(),
            victim.email.clone(),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let client = reqwest::Client::new();
                let workers = (0..16).map(|w| {
                    let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
                    let target = if w % 2 == 0 { victim.clone() } else { format!("guess{w}@example.org") };
                    async move {
                        let mut counts = std::collections::BTreeMap::new();
                        let mut n = 0u32;
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            let status = client
                                .post(&url)
                                .header("x-forwarded-for", "198.51.100.66")
                                .json(&json!({"email": target, "password": format!("wrong password {n}")}))
                                .send()
                                .await
                                .map(|r| r.status().as_u16())
                                .unwrap_or(0);
                            *counts.entry(status).or_insert(0u32) += 1;
                            n += 1;
                        }
                        counts
                    }
                });
                let mut total = std::collections::BTreeMap::new();
                for counts in futures::future::join_all(workers).await {
                    for (status, n) in counts {
                        *total.entry(status).or_insert(0u32) += n;
                    }
                }
                total
            })
        })
    };
    let flood_started = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut during = Vec::new();
    for (who, from) in [
        (&victim, "203.0.113.7"),
        (&bystander, "203.0.113.10"),
        (&victim, "203.0.113.8"),
    ] {
        let started = Instant::now();
        let status = login_from(&app, from, &who.email, PASSWORD).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a sign-in from another address during the flood"
        );
        during.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flood_lasted = flood_started.elapsed();
    let counts = tokio::task::spawn_blocking(move || attacker.join().expect("attacker"))
        .await
        .expect("joined");
    eprintln!(
        "login flood (16 concurrent requests from one address for {flood_lasted:?}): answers \
         {counts:?}; a sign-in from another address took {baseline:?} before and {during:?} during"
    );
    for d in &during {
        assert!(*d < Duration::from_secs(3), "{during:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_from_one_address_barely_slows_other_sign_ins_sqlite() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |c| {
        c.trusted_proxies = server::auth::parse_trusted_proxies("127.0.0.1").expect("proxies");
    })
    .await
    .expect("app");
    login_flood(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_from_one_address_barely_slows_other_sign_ins_postgres() {
    if let Some(app) = crate::helpers::spawn_app_with(crate::helpers::Backend::Postgres, |c| {
        c.trusted_proxies = server::auth::parse_trusted_proxies("127.0.0.1").expect("proxies");
    })
    .await
    {
        login_flood(app).await;
    }
}

/// Polls `GET path` with `token` until it answers 401; how long that took.
async fn until_refused(client: &reqwest::Client, base: &str, token: &str, path: &str) -> Duration {
    let started = Instant::now();
    loop {
        let status = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
            .status();
        if status == StatusCode::UNAUTHORIZED {
            return started.elapsed();
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Two instances on one PostgreSQL database: a demotion made through one is refused by the
/// other within a second (its cache of session epochs lives one second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_on_one_instance_is_refused_on_the_other_within_a_second() {
    use server::testing::{Platform, ScratchDatabase};
    let Some(database) = ScratchDatabase::postgres().await else {
        return;
    };
    let (one, two) = (
        Platform::start(database.config(), "127.0.0.1:0").await,
        Platform::start(database.config(), "127.0.0.1:0").await,
    );
    let http = reqwest::Client::new();
    for email in ["a@two.example", "b@two.example"] {
        server::auth::create_account(&one.db, Admin, email, "Admin", PASSWORD, Default::default())
            .await
            .expect("account");
    }
    let a = server::testing::access_token(&one.base, "a@two.example", PASSWORD).await;
    let b_id = one
        .db
        .user_by_email("b@two.example")
        .await
        .expect("read")
        .expect("b")
        .user
        .id;
    let mut same = Vec::new();
    let mut other = Vec::new();
    for round in 0..3 {
        let b = server::testing::access_token(&two.base, "b@two.example", PASSWORD).await;
        // Both instances have B's epoch cached.
        for base in [&one.base, &two.base] {
            let ok = http
                .get(format!("{base}/api/v1/users/me"))
                .bearer_auth(&b)
                .send()
                .await
                .expect("get");
            assert_eq!(ok.status(), StatusCode::OK);
        }
        let kind = if round % 2 == 0 { "dietician" } else { "admin" };
        let res = http
            .put(format!("{}/api/v1/users/{b_id}", one.base))
            .bearer_auth(&a)
            .json(&json!({"type": kind}))
            .send()
            .await
            .expect("put");
        assert_eq!(res.status(), StatusCode::OK);
        let (here, there) = tokio::join!(
            until_refused(&http, &one.base, &b, "/api/v1/users/me"),
            until_refused(&http, &two.base, &b, "/api/v1/users/me"),
        );
        same.push(here);
        other.push(there);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("a revoked session kept working for {same:?} on the instance that made the change, {other:?} on the other");
    for d in &other {
        assert!(*d < Duration::from_millis(2000), "{other:?}");
    }
}
