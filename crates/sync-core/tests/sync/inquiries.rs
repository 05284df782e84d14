//! New-patient inquiries reach dieticians' replicas through the change feed, scoped (one
//! naming a colleague stays out), counted as new once; converting one online makes the
//! patient and keeps it in the replica at once, and the next sync brings the inquiry's new
//! state.

use crate::on_both_backends;
use crate::support::*;
use domain::dto::SyncTable;
use domain::{InquiryStatus, UserType};
use serde_json::json;
use sync_core::views::NewPatientOutcome;
use sync_core::{online, Replica, RetryPolicy};

on_both_backends! {
    inquiries_reach_the_right_replicas_and_convert_once => inquiries(as_configured);
}

async fn post_inquiry(w: &World, body: serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/inquiries", w.base))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 202);
}

async fn inquiries(w: World) {
    w.user("eve@example.org", UserType::Dietician, None).await;
    let eve_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'eve@example.org'")
        .fetch_one(w.db.pool())
        .await
        .expect("eve");
    post_inquiry(
        &w,
        json!({"name": "Maya Tran", "email": "maya@example.net"}),
    )
    .await;
    post_inquiry(
        &w,
        json!({"name": "Lee Park", "email": "lee@example.net", "practitioner_id": eve_id}),
    )
    .await;

    let store = MemoryStore::default();
    sync_core::login(&store, &w.base, "dee@example.org", "dietician password")
        .await
        .expect("sign in");
    let r = Replica::open(&w.dir.join("inquiries.db"))
        .await
        .expect("replica");
    let summary = sync_core::sync_signed_in(&r, &store, RetryPolicy::default(), &|_| {})
        .await
        .expect("sync");
    // Dee holds the open one only: Lee asked for Eve.
    assert_eq!(summary.new_inquiries, 1);
    let held = r.inquiries(None).await.expect("inquiries");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].name, "Maya Tran");
    assert_eq!(r.status().await.expect("status").new_inquiries, 1);
    let again = sync_core::sync_signed_in(&r, &store, RetryPolicy::default(), &|_| {})
        .await
        .expect("sync");
    assert_eq!(again.new_inquiries, 0, "an inquiry is new once");

    // Converting: the patient is Dee's and in the replica before any sync.
    let fields = fields(json!({"name": "Maya Tran", "email": "maya@example.net"}));
    let patient = online::convert_inquiry(&store, held[0].id, fields.clone())
        .await
        .expect("convert");
    r.keep_from_platform(SyncTable::Patients, &patient)
        .await
        .expect("keep");
    assert!(r
        .row(SyncTable::Patients, patient.id)
        .await
        .expect("row")
        .is_some());
    assert_eq!(
        r.pending().await.expect("pending"),
        0,
        "nothing to send back"
    );
    // Pressing Convert again would be a duplicate here, and is refused there.
    assert!(matches!(
        r.duplicate_of(&fields).await.expect("check"),
        Some(NewPatientOutcome::Duplicate { existing_id, .. }) if existing_id == patient.id
    ));
    let twice = online::convert_inquiry(&store, held[0].id, fields).await;
    assert!(
        matches!(&twice, Err(sync_core::SyncError::Server { code, .. }) if code == "inquiry_converted"),
        "{twice:?}"
    );

    sync_core::sync_signed_in(&r, &store, RetryPolicy::default(), &|_| {})
        .await
        .expect("sync");
    let converted = r
        .inquiries(Some(InquiryStatus::Converted))
        .await
        .expect("converted");
    assert_eq!(converted.len(), 1);
    assert_eq!(converted[0].patient_id, Some(patient.id));
    assert!(r
        .inquiries(Some(InquiryStatus::New))
        .await
        .expect("new")
        .is_empty());
    assert_eq!(r.status().await.expect("status").new_inquiries, 0);
}
