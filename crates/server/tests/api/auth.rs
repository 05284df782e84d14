//! Sign-in, refresh rotation and the token attacks the platform must refuse.

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use domain::UserType;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::json;
use server::auth::LoginLimits;
use server::testing::TEST_SECRET as SECRET;
use std::time::Duration;

fn claims(sub: uuid::Uuid, exp_offset: i64, aud: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "typ": "admin", "sep": 0, "iss": "records-server", "aud": aud, "iat": now, "exp": now + exp_offset})
}

fn sign(claims: &serde_json::Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

both_backends! {
    async fn login_refresh_and_logout(app) {
        let user = app.user(UserType::Dietician).await;
        let me = app.get("/api/v1/users/me", &user).await.expect(200);
        assert_eq!(me.body["email"], user.email.as_str());
        assert!(me.body.get("password_hash").is_none() && me.body.get("password").is_none());

        // Refresh rotates: the new pair works, the old refresh token is spent.
        let pair = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": user.refresh}))).await.expect(200);
        assert_eq!(pair.body["token_type"], "Bearer");
        assert!(pair.body["expires_in"].as_u64().expect("expires_in") > 0);
        let next = pair.body["refresh_token"].as_str().expect("refresh").to_owned();
        assert_ne!(next, user.refresh);
        let access = pair.body["access_token"].as_str().expect("access");
        app.call(Method::GET, "/api/v1/users/me", Some(access), None).await.expect(200);

        // Logout revokes the family.
        app.call(Method::POST, "/api/v1/auth/logout", None, Some(json!({"refresh_token": next}))).await.expect(204);
        app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": next})))
            .await.problem(401, "unauthorized");
    }

    async fn a_reused_refresh_token_revokes_its_family(app) {
        let user = app.user(UserType::Practitioner).await;
        let refresh = |t: &str| app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": t})));
        let second = refresh(&user.refresh).await.expect(200).body["refresh_token"].as_str().expect("t").to_owned();
        // The stolen first token is replayed: refused, and the legitimate second one dies too.
        refresh(&user.refresh).await.problem(401, "unauthorized");
        refresh(&second).await.problem(401, "unauthorized");
        // A fresh login is unaffected.
        app.login(&user.email, crate::helpers::PASSWORD).await.expect(200);
    }

    async fn forged_and_stale_access_tokens_are_refused(app) {
        let user = app.user(UserType::Admin).await;
        let app = &app;
        let get = |token: String| async move {
            app.call(Method::GET, "/api/v1/users", Some(&token), None).await
        };
        // Control: a token we sign correctly works, so the refusals below are about the flaw.
        get(sign(&claims(user.id, 600, "records-api"), SECRET.as_bytes())).await.expect(200);

        let body = URL_SAFE_NO_PAD.encode(claims(user.id, 600, "records-api").to_string());
        let none = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#));
        get(none).await.problem(401, "unauthorized");
        get(sign(&claims(user.id, 600, "records-api"), b"another secret entirely, also long")).await.problem(401, "unauthorized");
        get(sign(&claims(user.id, -3600, "records-api"), SECRET.as_bytes())).await.problem(401, "unauthorized");
        get(sign(&claims(user.id, 600, "someone-else"), SECRET.as_bytes())).await.problem(401, "unauthorized");
        let hs512 = encode(&Header::new(Algorithm::HS512), &claims(user.id, 600, "records-api"), &EncodingKey::from_secret(SECRET.as_bytes())).expect("sign");
        get(hs512).await.problem(401, "unauthorized");
        get("not.a.jwt".into()).await.problem(401, "unauthorized");
    }

    async fn wrong_passwords_are_refused_alike(app) {
        let user = app.user(UserType::Dietician).await;
        let wrong = app.login(&user.email, "not the password").await.problem(401, "unauthorized");
        let unknown = app.login("nobody@example.org", "not the password").await.problem(401, "unauthorized");
        assert_eq!(wrong.body["detail"], unknown.body["detail"], "no account enumeration");
    }
}

#[tokio::test]
async fn logins_are_rate_limited_per_account() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.login_limits = LoginLimits {
            free_failures: 3,
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(60),
            ..LoginLimits::default()
        };
    })
    .await
    .expect("app");
    let user = app.user(UserType::Dietician).await;
    for _ in 0..3 {
        app.login(&user.email, "wrong password!").await.expect(401);
    }
    let limited = app
        .login(&user.email, crate::helpers::PASSWORD)
        .await
        .problem(429, "too_many_requests");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Another account from the same address is not locked out.
    let other = app.user(UserType::Dietician).await;
    app.login(&other.email, crate::helpers::PASSWORD)
        .await
        .expect(200);
}

#[tokio::test]
async fn logins_are_rate_limited_per_address() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.login_limits = LoginLimits {
            free_failures: 100,
            address_free_failures: 4,
            first_delay: Duration::from_secs(30),
            ..LoginLimits::default()
        };
    })
    .await
    .expect("app");
    for i in 0..4 {
        app.login(&format!("guess{i}@example.org"), "wrong password!")
            .await
            .expect(401);
    }
    app.login("guess9@example.org", "wrong password!")
        .await
        .problem(429, "too_many_requests");
}
