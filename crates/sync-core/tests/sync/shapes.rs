//! The rows the app's screens read as JSON hold exactly the fields `sync_core::rows` declares
//! (and so the UI's generated TypeScript), whether written here or sent by the platform.

use crate::on_both_backends;
use crate::support::*;
use domain::dto::SyncTable;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use sync_core::rows::{DocumentRow, LogLine, PatientRow};
use sync_core::views::{DocumentFilter, LogFilter};
use sync_core::{sync, Remote, Replica};

on_both_backends! {
    the_rows_screens_read_hold_exactly_their_declared_fields => declared_shapes(as_configured);
}

/// `row` read as a `T` and written back is `row` again: no field unknown to `T` (dropped on
/// the way) and none of the wrong type. Absent and `null` count alike.
fn holds_exactly<T: DeserializeOwned + Serialize>(row: &Value, what: &str) {
    let read: T = serde_json::from_value(row.clone())
        .unwrap_or_else(|e| panic!("{what} does not read as its declared type: {e}\n{row:#}"));
    let again = serde_json::to_value(read).expect("written back");
    assert_eq!(
        without_nulls(&again),
        without_nulls(row),
        "{what}: fields differ from its declared type"
    );
}

fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        other => other.clone(),
    }
}

async fn every_row_holds_exactly(r: &Replica, when: &str) {
    for patient in r.rows(SyncTable::Patients).await.expect("patients") {
        holds_exactly::<PatientRow>(&patient, &format!("a patient {when}"));
    }
    for document in r.rows(SyncTable::HealthcareDocuments).await.expect("docs") {
        holds_exactly::<DocumentRow>(&document, &format!("a document {when}"));
    }
    for entry in r.rows(SyncTable::SynchronizationLog).await.expect("log") {
        holds_exactly::<LogLine>(&entry, &format!("a log entry {when}"));
    }
}

async fn declared_shapes(w: World) {
    let remote = Remote::new(&w.base, &w.token);
    let r = Replica::open(&w.dir.join("shapes.db"))
        .await
        .expect("replica");
    let patient = r
        .insert(
            SyncTable::Patients,
            fields(json!({"name": "Ana Lima", "email": "ana@example.org",
                          "birth_date": "1978-04-12", "dietary_preferences": "vegetarian"})),
        )
        .await
        .expect("patient");
    r.insert(
        SyncTable::HealthcareDocuments,
        fields(
            json!({"patient_id": patient, "type": "progress note", "date": "2026-11-03",
                      "title": "Intake", "content": "Prefers rice."}),
        ),
    )
    .await
    .expect("note");
    every_row_holds_exactly(&r, "written here").await;

    sync(&r, &remote).await.expect("sync");
    // A file uploaded on the platform: a binary document and a log entry come back.
    let form = reqwest::multipart::Form::new()
        .text(
            "metadata",
            json!({"type": "lab report", "date": "2026-11-04", "title": "Lipids"}).to_string(),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 lipids".to_vec())
                .file_name("lipids.pdf")
                .mime_str("application/pdf")
                .expect("mime"),
        );
    let uploaded = reqwest::Client::new()
        .post(format!("{}/api/v1/patients/{patient}/documents", w.base))
        .bearer_auth(&w.token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), 201);
    sync(&r, &remote).await.expect("sync");
    let held = (
        r.rows(SyncTable::Patients).await.expect("patients"),
        r.rows(SyncTable::HealthcareDocuments).await.expect("docs"),
        r.rows(SyncTable::SynchronizationLog).await.expect("log"),
    );
    assert_eq!((held.0.len(), held.1.len()), (1, 2), "the rows to check");
    assert!(
        held.2.iter().any(|e| e["action"] == "document uploaded"),
        "the upload's log entry is here to check: {:?}",
        held.2
    );
    assert!(
        held.0[0]["version"].is_number() && held.1.iter().all(|d| d["version"].is_number()),
        "rows as the platform sent them"
    );
    every_row_holds_exactly(&r, "from the platform").await;

    // The views hand the same on: a document list item is its row and its sync state.
    let listed = r.documents(&DocumentFilter::default()).await.expect("list");
    assert_eq!(listed.len(), 2);
    for item in &listed {
        let as_sent = serde_json::to_value(item).expect("json");
        let row = held
            .1
            .iter()
            .find(|d| d["id"] == as_sent["id"])
            .expect("row");
        for (field, value) in row.as_object().expect("object") {
            if !value.is_null() {
                assert_eq!(&as_sent[field], value, "{field} reaches the list as held");
            }
        }
        assert_eq!(as_sent["sync_state"], "synced");
    }
    let log = r.sync_log(&LogFilter::default()).await.expect("log");
    assert_eq!(log.len(), held.2.len(), "every entry is a line");
    assert!(log
        .iter()
        .any(|l| serde_json::to_value(l).expect("json")["action"] == "document uploaded"));
}
