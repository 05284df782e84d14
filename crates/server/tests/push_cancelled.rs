//! A client gone mid-push (killed, timed out) must not leave PostgreSQL a stray ROLLBACK:
//! the mutation under way commits cleanly, and PostgreSQL sends no
//! "there is no transaction in progress" notice. A binary of its own because it installs the
//! process-wide tracing subscriber that sees the notices sqlx logs.

use serde_json::json;
use server::testing::{Platform, ScratchDatabase};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// PostgreSQL notices of WARNING level, as sqlx logs them (`sqlx::postgres::notice`).
static PG_WARNINGS: AtomicUsize = AtomicUsize::new(0);

struct CountPgWarnings;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountPgWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if meta.target().starts_with("sqlx::postgres::notice")
            && *meta.level() <= tracing::Level::WARN
        {
            PG_WARNINGS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_cut_off_mid_commit_leaves_no_stray_rollback() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(CountPgWarnings))
        .expect("the only subscriber of this binary");
    let Some(database) = ScratchDatabase::postgres().await else {
        return;
    };
    let platform = Platform::start(database.config(), "127.0.0.1:0").await;
    // Every COMMIT of a push takes 200 ms (a deferred trigger), so a client cut off while a
    // mutation is being applied is almost surely cut off during its COMMIT.
    for sql in [
        "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON sync_mutations \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()",
    ] {
        sqlx::query(sql)
            .execute(platform.db.pool())
            .await
            .expect("slow commits");
    }
    let password = "dietician password";
    server::auth::create_account(
        &platform.db,
        domain::UserType::Dietician,
        "dee@example.org",
        "Dee",
        password,
        Default::default(),
    )
    .await
    .expect("user");
    let token = server::testing::access_token(&platform.base, "dee@example.org", password).await;
    let patients = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM patients")
            .fetch_one(platform.db.pool())
            .await
            .expect("count")
    };
    for round in 0..3 {
        let mutations: Vec<_> = (0..20)
            .map(|i| {
                json!({"mutation_id": uuid::Uuid::now_v7(), "device_seq": i,
                       "table": "patients", "row_id": uuid::Uuid::now_v7(), "op": "insert",
                       "fields": {"name": format!("P {round} {i}"),
                                  "email": format!("p{round}-{i}@example.org")}})
            })
            .collect();
        let body = json!({"device_id": "laptop", "mutations": mutations}).to_string();
        let before = patients().await;
        let mut client = tokio::net::TcpStream::connect(platform.addr)
            .await
            .expect("connect");
        let head = format!(
            "POST /api/v1/sync/push HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            platform.addr,
            body.len()
        );
        client
            .write_all(format!("{head}{body}").as_bytes())
            .await
            .expect("send");
        // Once the first mutation is in, the second is in its slow COMMIT: go away then.
        while patients().await == before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(80)).await;
        drop(client);
        // Let the mutation under way finish and its connection go back to the pool.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            PG_WARNINGS.load(Ordering::SeqCst),
            0,
            "PostgreSQL warned (a ROLLBACK after a COMMIT) in round {round}"
        );
        assert!(patients().await - before < 20, "the push was cut off");
    }
}
