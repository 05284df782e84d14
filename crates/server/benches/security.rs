//! The figures the security notes quote, measured (in process, release build):
//!
//! 1. **How long a revoked session survives**: an admin deletes a user; the time from the
//!    admin's answer until the user's access token is refused, on the instance that made the
//!    change and on a second instance sharing its PostgreSQL (and on SQLite, one instance).
//! 2. **What a login flood does to other people's sign-ins**: 16 clients send wrong passwords
//!    for a clinician's account as fast as they can, from one address; the clinician signs in
//!    from their own address meanwhile. Their sign-in time against the same with no flood, and
//!    what the flood got (answers per second, share refused with 429 before any hashing).
//!
//! Run with `cargo bench -p server --bench security` (`BENCH_REVOKES`, default 20;
//! `BENCH_LOGINS`, default 20). Addresses come through `X-Forwarded-For` from a trusted
//! loopback proxy, as behind a reverse proxy.

use domain::UserType;
use serde_json::json;
use server::testing::{Platform, ScratchDatabase};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "benchmark password";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `q`-quantile of `samples` (sorted here), in milliseconds.
fn quantile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[i].as_secs_f64() * 1000.0
}

async fn login(http: &reqwest::Client, base: &str, email: &str, password: &str, from: &str) -> u16 {
    http.post(format!("{base}/api/v1/auth/login"))
        .header("x-forwarded-for", from)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

/// Polls a read at `base` (one that does not itself look the user up) with `token` until it
/// is refused; the time from `since`.
async fn refused_after(
    http: reqwest::Client,
    base: String,
    token: String,
    since: Instant,
) -> Duration {
    loop {
        let status = http
            .get(format!("{base}/api/v1/patients"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("me")
            .status();
        if status == 401 {
            return since.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Deletes `revokes` users one by one as an admin on `instances[0]`, each signed in and
/// known to every instance; per instance, how long their token still worked.
async fn revocations(instances: &[&Platform], revokes: usize) -> Vec<Vec<Duration>> {
    let http = reqwest::Client::new();
    let db = &instances[0].db;
    let base = &instances[0].base;
    let admin_email = format!("admin-{}@bench.example", uuid::Uuid::now_v7().simple());
    server::auth::create_account(
        db,
        UserType::Admin,
        &admin_email,
        "Admin",
        PASSWORD,
        Default::default(),
    )
    .await
    .expect("admin");
    let admin = server::testing::access_token(base, &admin_email, PASSWORD).await;
    let mut survived = vec![Vec::new(); instances.len()];
    for n in 0..revokes {
        let email = format!("leaver-{n}-{}@bench.example", uuid::Uuid::now_v7().simple());
        let user = server::auth::create_account(
            db,
            UserType::Dietician,
            &email,
            "Leaver",
            PASSWORD,
            Default::default(),
        )
        .await
        .expect("user");
        let token = server::testing::access_token(base, &email, PASSWORD).await;
        for p in instances {
            let res = http
                .get(format!("{}/api/v1/patients", p.base))
                .bearer_auth(&token)
                .send()
                .await
                .expect("me");
            assert_eq!(res.status(), 200, "signed in everywhere first");
        }
        let res = http
            .delete(format!("{base}/api/v1/users/{}", user.id))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), 204);
        let answered = Instant::now();
        let waits = instances
            .iter()
            .map(|p| refused_after(http.clone(), p.base.clone(), token.clone(), answered));
        for (i, d) in futures_join(waits).await.into_iter().enumerate() {
            survived[i].push(d);
        }
    }
    survived
}

/// Runs the futures concurrently, answers in order.
async fn futures_join<F: std::future::Future<Output = Duration> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<Duration> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("poll"));
    }
    out
}

/// The clinician's sign-in times (`logins` of them, 100 ms apart), during a flood of wrong
/// passwords for their account from another address when `flood` is set; with what the
/// flood got: answers per second and the share refused with 429.
async fn sign_ins(platform: &Platform, logins: usize, flood: bool) -> (Vec<Duration>, f64, f64) {
    let http = reqwest::Client::new();
    let email = format!("clinician-{}@bench.example", uuid::Uuid::now_v7().simple());
    server::auth::create_account(
        &platform.db,
        UserType::Dietician,
        &email,
        "Clinician",
        PASSWORD,
        Default::default(),
    )
    .await
    .expect("clinician");
    let stop = Arc::new(AtomicBool::new(false));
    let (answers, throttled) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let attackers: Vec<_> = (0..if flood { 16 } else { 0 })
        .map(|_| {
            let (http, base, email) = (http.clone(), platform.base.clone(), email.clone());
            let (stop, answers, throttled) = (stop.clone(), answers.clone(), throttled.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let status = login(&http, &base, &email, "wrong guess", "203.0.113.66").await;
                    answers.fetch_add(1, Ordering::Relaxed);
                    if status == 429 {
                        throttled.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(if flood { 500 } else { 0 })).await;
    let mut times = Vec::new();
    for _ in 0..logins {
        let t = Instant::now();
        let status = login(&http, &platform.base, &email, PASSWORD, "198.51.100.7").await;
        times.push(t.elapsed());
        assert_eq!(status, 200, "the clinician signs in, flood or not");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        let _ = a.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = answers.load(Ordering::Relaxed) as f64;
    let share = if n > 0.0 {
        throttled.load(Ordering::Relaxed) as f64 / n
    } else {
        0.0
    };
    (times, n / secs, share)
}

#[allow(clippy::print_stdout)]
fn main() {
    let revokes: usize = env_or("BENCH_REVOKES", 20);
    let logins: usize = env_or("BENCH_LOGINS", 20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!("How long a revoked session survives ({revokes} deletions; ms from the admin's answer to the first refused request)");
        let sqlite = ScratchDatabase::sqlite();
        let one = Platform::start(sqlite.config(), "127.0.0.1:0").await;
        let mut s = revocations(&[&one], revokes).await;
        println!("  SQLite, same instance:          median {:7.2}  p95 {:7.2}  max {:7.2}", quantile(&mut s[0], 0.5), quantile(&mut s[0], 0.95), quantile(&mut s[0], 1.0));
        drop(one);
        match ScratchDatabase::postgres().await {
            Some(pg) => {
                let (a, b) = (
                    Platform::start(pg.config(), "127.0.0.1:0").await,
                    Platform::start(pg.config(), "127.0.0.1:0").await,
                );
                let mut s = revocations(&[&a, &b], revokes).await;
                println!("  PostgreSQL, same instance:      median {:7.2}  p95 {:7.2}  max {:7.2}", quantile(&mut s[0], 0.5), quantile(&mut s[0], 0.95), quantile(&mut s[0], 1.0));
                println!("  PostgreSQL, the other instance: median {:7.2}  p95 {:7.2}  max {:7.2}", quantile(&mut s[1], 0.5), quantile(&mut s[1], 0.95), quantile(&mut s[1], 1.0));
            }
            None => println!("  PostgreSQL: no server answered; skipped"),
        }

        println!("A clinician's sign-in while 16 clients flood wrong passwords for their account from another address ({logins} sign-ins)");
        let mut config = sqlite.config();
        config.trusted_proxies = server::auth::parse_trusted_proxies("127.0.0.1/32").expect("proxies");
        let platform = Platform::start(config, "127.0.0.1:0").await;
        let (mut idle, _, _) = sign_ins(&platform, logins, false).await;
        let (mut flooded, rate, share) = sign_ins(&platform, logins, true).await;
        let (i, f) = (quantile(&mut idle, 0.5), quantile(&mut flooded, 0.5));
        println!("  no flood:   median {i:7.2} ms  p95 {:7.2} ms", quantile(&mut idle, 0.95));
        println!("  flood:      median {f:7.2} ms  p95 {:7.2} ms  ({:.2}x the idle median)", quantile(&mut flooded, 0.95), f / i);
        println!("  the flood:  {rate:.0} answers/s, {:.1}% refused with 429 before hashing; every sign-in of the clinician succeeded", share * 100.0);
    });
}
