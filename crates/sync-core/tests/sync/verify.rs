//! A replica proves it matches the platform (issue 15, "Replicas prove they match"): rows
//! deleted, set to another version or added behind the core's back are found by comparing
//! per-table checksums, and exactly those are repaired; a row with a queued edit is left to
//! the outbox. Each on SQLite and PostgreSQL.

use crate::on_both_backends;
use crate::support::*;
use domain::dto::SyncTable;
use serde_json::json;
use sync_core::verify::{verify, Repaired};
use sync_core::{sync, Remote, Replica};
use uuid::Uuid;

on_both_backends! {
    a_replica_changed_behind_the_cores_back_is_repaired_exactly => tampered(as_configured);
}

async fn tampered(w: World) {
    let remote = Remote::new(&w.base, &w.token);
    let file = w.dir.join("verified.db");
    let r = Replica::open(&file).await.expect("replica");
    let mut patients = Vec::new();
    let mut documents = Vec::new();
    for n in 0..4 {
        let p = r
            .insert(
                SyncTable::Patients,
                fields(
                    json!({"name": format!("Patient {n}"), "email": format!("p{n}@example.org")}),
                ),
            )
            .await
            .expect("patient");
        let d = r
            .insert(
                SyncTable::HealthcareDocuments,
                fields(
                    json!({"patient_id": p, "type": "progress note", "date": "2026-11-01",
                              "title": format!("Note {n}"), "content": "Seen today."}),
                ),
            )
            .await
            .expect("document");
        patients.push(p);
        documents.push(d);
    }
    sync(&r, &remote).await.expect("first sync");
    assert_eq!(
        verify(&r, &remote).await.expect("verify"),
        [],
        "a fresh replica agrees"
    );

    // Behind the core's back: a patient and a document gone, a document at another version,
    // a patient nobody sent, and a patient whose version moved while an edit of it waits.
    let raw = sqlx::SqlitePool::connect(&format!("sqlite:{}", file.display()))
        .await
        .expect("the replica file");
    let exec = |sql: String| {
        let raw = raw.clone();
        async move { sqlx::query(&sql).execute(&raw).await.expect(&sql) }
    };
    exec(format!("DELETE FROM rows WHERE id = '{}'", patients[0])).await;
    exec(format!("DELETE FROM rows WHERE id = '{}'", documents[1])).await;
    exec(format!(
        "UPDATE rows SET version = 99 WHERE id = '{}'",
        documents[2]
    ))
    .await;
    let stranger = Uuid::now_v7();
    exec(format!(
        "INSERT INTO rows (table_name, id, version, data) VALUES ('patients', '{stranger}', 5, \
         '{{\"id\": \"{stranger}\", \"name\": \"Nobody\", \"email\": \"x@example.org\"}}')"
    ))
    .await;
    r.update(
        SyncTable::Patients,
        patients[3],
        fields(json!({"dietary_preferences": "vegan"})),
    )
    .await
    .expect("an edit, queued");
    exec(format!(
        "UPDATE rows SET version = 77 WHERE id = '{}'",
        patients[3]
    ))
    .await;
    raw.close().await;

    let mut repaired = verify(&r, &remote).await.expect("verify");
    repaired.sort_by_key(|p| p.table);
    assert_eq!(
        repaired,
        [
            Repaired {
                table: SyncTable::Patients,
                fetched: 1,
                dropped: 1
            },
            Repaired {
                table: SyncTable::HealthcareDocuments,
                fetched: 2,
                dropped: 0
            },
        ]
    );
    let row = |table, id| {
        let r = &r;
        async move { r.row(table, id).await.expect("read") }
    };
    assert!(
        row(SyncTable::Patients, patients[0]).await.is_some(),
        "fetched again"
    );
    assert!(
        row(SyncTable::Patients, stranger).await.is_none(),
        "dropped"
    );
    assert!(row(SyncTable::HealthcareDocuments, documents[1])
        .await
        .is_some());
    assert_eq!(
        row(SyncTable::HealthcareDocuments, documents[2])
            .await
            .expect("doc")["version"],
        json!(1),
        "the platform's version again"
    );
    // The queued edit is the outbox's: untouched, and still sent.
    assert_eq!(r.pending().await.expect("pending"), 1);
    let edited = row(SyncTable::Patients, patients[3])
        .await
        .expect("patient");
    assert_eq!(edited["dietary_preferences"], "vegan");
    sync(&r, &remote).await.expect("sync the edit");
    assert_eq!(r.pending().await.expect("pending"), 0);
    // Sent, the row is no longer the outbox's: the version moved behind its back is set
    // right now, the edit kept (the platform has it).
    assert_eq!(
        verify(&r, &remote).await.expect("verify"),
        [Repaired {
            table: SyncTable::Patients,
            fetched: 1,
            dropped: 0
        }]
    );
    let edited = row(SyncTable::Patients, patients[3])
        .await
        .expect("patient");
    assert_eq!(edited["dietary_preferences"], "vegan");
    assert_eq!(edited["version"], json!(2));
    assert_eq!(
        verify(&r, &remote).await.expect("verify"),
        [],
        "agrees again"
    );
}
