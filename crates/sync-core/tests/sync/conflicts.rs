//! Offline edits are never silently lost: one scenario per way they used to be, each on
//! SQLite and PostgreSQL. (`r1`, `r2`: two replicas of one dietician; "web": a REST call by
//! the same dietician.)

use crate::on_both_backends;
use crate::support::*;
use domain::dto::{ConflictKind, SyncTable};
use reqwest::Method;
use serde_json::{json, Value};
use sync_core::{sync, Remote, Replica, Resolution};
use uuid::Uuid;

on_both_backends! {
    one_conflicting_field_leaves_the_rest_of_the_edit_written => partial_conflict(as_configured);
    a_delete_against_an_edit_is_a_conflict_the_user_settles => delete_against_edit(as_configured);
    deleting_a_patient_never_takes_documents_its_deleter_has_not_seen => delete_with_unseen_documents(as_configured);
    an_edit_against_a_delete_is_a_conflict_and_keeping_it_restores_the_row => edit_against_delete(as_configured);
    a_refused_edit_stays_listed_and_a_refused_creation_stays_until_dismissed => refused_edits_revert(as_configured);
    a_refused_new_patient_stays_until_corrected_and_goes_out_as_a_creation => refused_creation_corrected(as_configured);
    a_replica_never_conflicts_with_its_own_earlier_edits => no_self_conflict(as_configured);
    an_integration_write_counts_as_an_edit_for_merging => integration_writes_are_recorded(as_configured);
}

async fn patient(r: &Replica, name: &str) -> Uuid {
    r.insert(
        SyncTable::Patients,
        fields(json!({"name": name, "email": format!("{}@example.org", name.to_lowercase())})),
    )
    .await
    .expect("insert patient")
}

async fn row(r: &Replica, table: SyncTable, id: Uuid) -> Option<Value> {
    r.row(table, id).await.expect("row")
}

async fn two_replicas(w: &World) -> (Remote, Replica, Replica) {
    let remote = Remote::new(&w.base, &w.token);
    let r1 = Replica::open(&w.dir.join("r1.db")).await.expect("r1");
    let r2 = Replica::open(&w.dir.join("r2.db")).await.expect("r2");
    (remote, r1, r2)
}

async fn partial_conflict(w: World) {
    let (remote, r1, r2) = two_replicas(&w).await;
    let p = patient(&r1, "Pia").await;
    sync(&r1, &remote).await.expect("sync");
    sync(&r2, &remote).await.expect("sync");

    r1.update(
        SyncTable::Patients,
        p,
        fields(json!({"dietary_preferences": "Vegan"})),
    )
    .await
    .expect("edit");
    sync(&r1, &remote).await.expect("sync r1");
    r2.update(
        SyncTable::Patients,
        p,
        fields(json!({"dietary_preferences": "Keto", "medical_history": "Coeliac disease"})),
    )
    .await
    .expect("edit");
    let s = sync(&r2, &remote).await.expect("sync r2");
    assert_eq!((s.conflicts, s.rejected), (1, 0));

    // The field nobody else wrote reached the server at once; only the other is in question.
    let (_, server) = w.rest(Method::GET, &format!("/patients/{p}"), None).await;
    assert_eq!(server["medical_history"], "Coeliac disease");
    assert_eq!(server["dietary_preferences"], "Vegan");
    let conflicts = r2.conflicts().await.expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let c = &conflicts[0];
    assert_eq!(
        (c.kind, c.field.as_str(), &c.server_value, &c.client_value),
        (
            ConflictKind::Fields,
            "dietary_preferences",
            &json!("Vegan"),
            &json!("Keto")
        )
    );
    let shown = row(&r2, SyncTable::Patients, p).await.expect("on r2");
    assert_eq!(
        (&shown["medical_history"], &shown["dietary_preferences"]),
        (&json!("Coeliac disease"), &json!("Vegan")),
        "r2 shows the server's truth; its own value waits in the conflict"
    );

    r2.resolve(c, Resolution::Mine).await.expect("resolve");
    sync(&r2, &remote).await.expect("sync r2");
    sync(&r1, &remote).await.expect("sync r1");
    for r in [&r1, &r2] {
        let shown = row(r, SyncTable::Patients, p).await.expect("row");
        assert_eq!(shown["dietary_preferences"], "Keto");
        assert_eq!(shown["medical_history"], "Coeliac disease", "never lost");
    }

    // Documents merge the same way: a title against a title and its text.
    let d = r1
        .insert(
            SyncTable::HealthcareDocuments,
            fields(
                json!({"patient_id": p, "type": "progress note", "date": "2026-11-02",
                          "title": "Visit", "content": "Weight stable."}),
            ),
        )
        .await
        .expect("doc");
    sync(&r1, &remote).await.expect("sync r1");
    sync(&r2, &remote).await.expect("sync r2");
    r1.update(
        SyncTable::HealthcareDocuments,
        d,
        fields(json!({"title": "Visit 2 Nov"})),
    )
    .await
    .expect("edit");
    sync(&r1, &remote).await.expect("sync r1");
    r2.update(
        SyncTable::HealthcareDocuments,
        d,
        fields(json!({"title": "Home visit", "content": "Weight stable; fibre up."})),
    )
    .await
    .expect("edit");
    let s = sync(&r2, &remote).await.expect("sync r2");
    assert_eq!(s.conflicts, 1);
    let (_, doc) = w.rest(Method::GET, &format!("/documents/{d}"), None).await;
    assert_eq!(doc["title"], "Visit 2 Nov");
    assert_eq!(doc["content"], "Weight stable; fibre up.");
}

async fn delete_against_edit(w: World) {
    let (remote, r1, r2) = two_replicas(&w).await;
    let p = patient(&r1, "Pat").await;
    let q = patient(&r1, "Quinn").await;
    sync(&r1, &remote).await.expect("sync");
    sync(&r2, &remote).await.expect("sync");

    for id in [p, q] {
        r2.update(
            SyncTable::Patients,
            id,
            fields(json!({"contact_details": "0400 000 000"})),
        )
        .await
        .expect("edit");
    }
    sync(&r2, &remote).await.expect("sync r2");
    r1.delete(SyncTable::Patients, p).await.expect("delete");
    r1.delete(SyncTable::Patients, q).await.expect("delete");
    let s = sync(&r1, &remote).await.expect("sync r1");
    assert_eq!(s.conflicts, 2);

    // Seen: listed, counted, and the edited rows are back on r1 with the edit.
    let conflicts = r1.conflicts().await.expect("conflicts");
    assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    assert!(conflicts
        .iter()
        .all(|c| c.kind == ConflictKind::EditedOnServer));
    for id in [p, q] {
        let back = row(&r1, SyncTable::Patients, id).await.expect("back on r1");
        assert_eq!(back["contact_details"], "0400 000 000");
    }
    assert_eq!(r1.pending().await.expect("pending"), 0);

    // Keep theirs for one (nothing to send), delete anyway for the other.
    let of = |id: Uuid| {
        conflicts
            .iter()
            .find(|c| c.row_id == id)
            .expect("conflict")
            .clone()
    };
    r1.resolve(&of(p), Resolution::Theirs)
        .await
        .expect("theirs");
    r1.resolve(&of(q), Resolution::Mine).await.expect("mine");
    assert!(r1.conflicts().await.expect("conflicts").is_empty());
    let s = sync(&r1, &remote).await.expect("sync r1");
    assert_eq!((s.pushed, s.conflicts), (1, 0));
    sync(&r2, &remote).await.expect("sync r2");
    for r in [&r1, &r2] {
        assert!(row(r, SyncTable::Patients, p).await.is_some(), "kept");
        assert!(
            row(r, SyncTable::Patients, q).await.is_none(),
            "deleted after all"
        );
    }
    let (status, _) = w.rest(Method::GET, &format!("/patients/{q}"), None).await;
    assert_eq!(status, 404);
}

async fn edit_against_delete(w: World) {
    let (remote, r1, r2) = two_replicas(&w).await;
    let p = patient(&r1, "Pam").await;
    let d = r1
        .insert(
            SyncTable::HealthcareDocuments,
            fields(
                json!({"patient_id": p, "type": "progress note", "date": "2026-11-02",
                          "title": "First visit", "content": "Goals set."}),
            ),
        )
        .await
        .expect("doc");
    sync(&r1, &remote).await.expect("sync");
    sync(&r2, &remote).await.expect("sync");

    // r1 deletes the patient (and with it the document); r2, offline, edits both.
    r1.delete(SyncTable::Patients, p).await.expect("delete");
    sync(&r1, &remote).await.expect("sync r1");
    r2.update(
        SyncTable::Patients,
        p,
        fields(json!({"medical_history": "Type 2 diabetes"})),
    )
    .await
    .expect("edit");
    r2.update(
        SyncTable::HealthcareDocuments,
        d,
        fields(json!({"title": "First visit (revised)"})),
    )
    .await
    .expect("edit doc");
    let s = sync(&r2, &remote).await.expect("sync r2");
    assert_eq!((s.conflicts, s.rejected), (2, 0));
    assert!(
        row(&r2, SyncTable::Patients, p).await.is_none(),
        "the server's truth: gone"
    );
    let conflicts = r2.conflicts().await.expect("conflicts");
    assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    let mine = conflicts
        .iter()
        .find(|c| c.table == SyncTable::Patients)
        .expect("patient conflict");
    assert_eq!(mine.kind, ConflictKind::DeletedOnServer);
    assert_eq!(
        mine.client_value["medical_history"], "Type 2 diabetes",
        "the edit is kept"
    );

    // Keeping the document alone cannot work while its patient is deleted: said clearly.
    let doc_conflict = conflicts
        .iter()
        .find(|c| c.table == SyncTable::HealthcareDocuments)
        .expect("document conflict");
    r2.resolve(doc_conflict, Resolution::Mine)
        .await
        .expect("keep doc");
    let s = sync(&r2, &remote).await.expect("sync r2");
    assert_eq!(s.rejected, 1);
    let refused = r2.rejected_edits().await.expect("rejected");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].code, "parent_deleted");
    assert!(
        refused[0].reason.contains("restore the patient first"),
        "{}",
        refused[0].reason
    );
    assert!(row(&r2, SyncTable::HealthcareDocuments, d).await.is_none());

    // Keeping the patient brings it back, edited, with the document deleted along with it.
    r2.resolve(mine, Resolution::Mine)
        .await
        .expect("keep patient");
    assert_eq!(
        row(&r2, SyncTable::Patients, p).await.expect("back")["medical_history"],
        "Type 2 diabetes"
    );
    let s = sync(&r2, &remote).await.expect("sync r2");
    assert_eq!((s.pushed, s.conflicts, s.rejected), (1, 0, 0));
    sync(&r1, &remote).await.expect("sync r1");
    for r in [&r1, &r2] {
        let back = row(r, SyncTable::Patients, p).await.expect("restored");
        assert_eq!(back["medical_history"], "Type 2 diabetes");
        assert_eq!(
            row(r, SyncTable::HealthcareDocuments, d)
                .await
                .expect("document back")["title"],
            "First visit"
        );
    }
    let (status, server) = w.rest(Method::GET, &format!("/patients/{p}"), None).await;
    assert_eq!(
        (status, &server["medical_history"]),
        (200, &json!("Type 2 diabetes"))
    );
}

async fn refused_edits_revert(w: World) {
    let (remote, r1, _) = two_replicas(&w).await;
    let p = patient(&r1, "Pete").await;
    let q = patient(&r1, "Queenie").await;
    sync(&r1, &remote).await.expect("sync");

    // What only the platform can know is refused there: P's new email is Q's. The row goes
    // back to the platform's values; the refusal is listed until dismissed, the row stays.
    r1.update(
        SyncTable::Patients,
        p,
        fields(json!({"email": "queenie@example.org"})),
    )
    .await
    .expect("edit");
    let s = sync(&r1, &remote).await.expect("sync");
    assert_eq!(s.rejected, 1);
    assert_eq!(
        row(&r1, SyncTable::Patients, p).await.expect("p")["email"],
        "pete@example.org"
    );
    let refused = r1.rejected_edits().await.expect("rejected");
    assert_eq!(
        (refused[0].op.as_str(), refused[0].code.as_str()),
        ("update", "duplicate_patient")
    );
    assert!(!refused[0].reason.contains(&q.to_string()), "no raw id");
    r1.dismiss_refusal(&refused[0].mutation_id)
        .await
        .expect("dismiss");
    assert!(r1.rejected_edits().await.expect("rejected").is_empty());
    assert!(row(&r1, SyncTable::Patients, p).await.is_some());

    // What the platform would refuse is refused here, before anything is queued, with the
    // platform's own words.
    let bad = r1
        .update(
            SyncTable::Patients,
            p,
            fields(json!({"email": "pete@example"})),
        )
        .await
        .expect_err("no dot in the domain");
    assert_eq!(
        bad.to_string(),
        "email: must be an email address like name@example.org"
    );
    assert_eq!(r1.pending().await.expect("pending"), 0);

    // Q is deleted on the web; r1, offline, writes a document for Q and edits P.
    let (status, _) = w
        .rest(Method::DELETE, &format!("/patients/{q}"), None)
        .await;
    assert_eq!(status, 204);
    let d = r1
        .insert(
            SyncTable::HealthcareDocuments,
            fields(
                json!({"patient_id": q, "type": "progress note", "date": "2026-11-02",
                          "title": "Note", "content": "Seen today."}),
            ),
        )
        .await
        .expect("doc");
    r1.update(
        SyncTable::Patients,
        p,
        fields(json!({"email": "pete@example.net"})),
    )
    .await
    .expect("edit");
    let s = sync(&r1, &remote).await.expect("sync");
    assert_eq!((s.pushed, s.rejected), (1, 1));

    // The refused note stays here, as written, marked refused with the reason, until its
    // writer discards it: never shown as synced, never silently gone.
    assert_eq!(
        row(&r1, SyncTable::HealthcareDocuments, d)
            .await
            .expect("kept")["content"],
        "Seen today."
    );
    let refused = r1.rejected_edits().await.expect("rejected");
    assert_eq!(refused.len(), 1);
    assert_eq!(
        (refused[0].row_id, refused[0].code.as_str()),
        (d, "not_found")
    );
    let docs = r1.documents(&Default::default()).await.expect("documents");
    assert_eq!(docs[0].sync_state, sync_core::views::SyncState::Error);
    assert_eq!(r1.status().await.expect("status").rejected, 1);

    // It stays converged over further syncs: the draft is not sent again unasked.
    for _ in 0..2 {
        let s = sync(&r1, &remote).await.expect("sync");
        assert_eq!((s.pushed, s.rejected), (0, 0));
    }
    let (_, page) = w.rest(Method::GET, "/patients", None).await;
    let server: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    let local = r1.rows(SyncTable::Patients).await.expect("rows");
    assert_eq!(local.len(), server.len());

    // Dismissed, the draft the platform never had is gone; the sync log keeps the refusal
    // (not what was in it).
    r1.dismiss_refusal(&refused[0].mutation_id)
        .await
        .expect("dismiss");
    assert!(r1.rejected_edits().await.expect("rejected").is_empty());
    assert!(row(&r1, SyncTable::HealthcareDocuments, d).await.is_none());
    assert!(r1
        .search_documents("Seen", 10)
        .await
        .expect("search")
        .is_empty());
    let log = r1
        .sync_log(&sync_core::views::LogFilter {
            action: Some(sync_core::views::OFFLINE_EDIT.into()),
            ..Default::default()
        })
        .await
        .expect("log");
    assert_eq!(log.len(), 2, "the update's refusal and the note's");
    assert_eq!(log[0].status, domain::LogStatus::Failure);
    assert!(log[0]
        .details
        .as_deref()
        .expect("details")
        .starts_with("A new document made on this computer was not accepted"));
}

/// The phantom patient: created offline with an email another device took meanwhile. The
/// refusal keeps the patient here (never "synced"), a correction sends it as a creation, and
/// its documents follow it.
async fn refused_creation_corrected(w: World) {
    let (remote, r1, r2) = two_replicas(&w).await;
    let first = patient(&r1, "Rita").await;
    sync(&r1, &remote).await.expect("sync r1");

    // r2 has not synced: its own duplicate check cannot know Rita.
    let p = patient(&r2, "Rita").await;
    let d = r2
        .insert(
            SyncTable::HealthcareDocuments,
            fields(
                json!({"patient_id": p, "type": "progress note", "date": "2026-11-03",
                          "title": "Intake", "content": "First visit."}),
            ),
        )
        .await
        .expect("doc");
    let s = sync(&r2, &remote).await.expect("sync r2");
    assert_eq!(s.rejected, 2, "the patient, and the note for want of it");
    let refused = r2.rejected_edits().await.expect("rejected");
    let mut codes: Vec<_> = refused.iter().map(|r| r.code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["duplicate_patient", "not_found"]);
    assert_eq!(
        r2.patient_detail(p).await.expect("kept").sync_state,
        sync_core::views::SyncState::Error
    );
    assert!(row(&r2, SyncTable::HealthcareDocuments, d).await.is_some());

    // A second note, written after the refusal (queued, not refused yet).
    let later = r2
        .insert(
            SyncTable::HealthcareDocuments,
            fields(
                json!({"patient_id": p, "type": "progress note", "date": "2026-11-04",
                          "title": "Follow-up", "content": "Second visit."}),
            ),
        )
        .await
        .expect("later note");

    // Corrected: the whole patient goes out as a creation, then its notes.
    r2.update(
        SyncTable::Patients,
        p,
        fields(json!({"email": "rita.second@example.org"})),
    )
    .await
    .expect("correct");
    assert!(r2.rejected_edits().await.expect("rejected").is_empty());
    let s = sync(&r2, &remote).await.expect("sync r2");
    assert_eq!(
        (s.pushed, s.rejected),
        (3, 0),
        "the patient before both notes"
    );
    let (status, server) = w.rest(Method::GET, &format!("/patients/{p}"), None).await;
    assert_eq!(
        (status, server["email"].as_str()),
        (200, Some("rita.second@example.org"))
    );
    assert_ne!(p, first);
    assert_eq!(
        r2.patient_detail(p).await.expect("patient").sync_state,
        sync_core::views::SyncState::Synced
    );
    for (doc, text) in [(d, "First visit."), (later, "Second visit.")] {
        let (status, note) = w
            .rest(Method::GET, &format!("/documents/{doc}"), None)
            .await;
        assert_eq!((status, note["content"].as_str()), (200, Some(text)));
    }
}

async fn no_self_conflict(mut w: World) {
    let remote = Remote::new(&w.base, &w.token);
    let r1 = Replica::open(&w.dir.join("r1.db")).await.expect("r1");
    let p = patient(&r1, "Polly").await;
    sync(&r1, &remote).await.expect("sync");

    // The server is down: the first edit's push never leaves, the second merges into it.
    w.stop().await;
    r1.update(
        SyncTable::Patients,
        p,
        fields(json!({"medical_history": "A"})),
    )
    .await
    .expect("edit A");
    assert!(matches!(
        sync(&r1, &remote).await,
        Err(sync_core::SyncError::Offline(_))
    ));
    r1.update(
        SyncTable::Patients,
        p,
        fields(json!({"medical_history": "B"})),
    )
    .await
    .expect("edit B");
    w.start_again().await;
    let s = sync(&r1, &remote).await.expect("sync");
    assert_eq!(
        (s.pushed, s.conflicts),
        (1, 0),
        "one edit, no conflict with itself"
    );
    let (_, server) = w.rest(Method::GET, &format!("/patients/{p}"), None).await;
    assert_eq!(server["medical_history"], "B", "the later value wins");

    // The push reached the server but its reply was lost: the entry stays sent, the next
    // edit queues behind it on the old base, and the server orders them as the device did.
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let via_proxy = lossy_proxy(w.base.trim_start_matches("http://").to_owned(), armed).await;
    let lossy = Remote::new(&via_proxy, &w.token);
    r1.update(
        SyncTable::Patients,
        p,
        fields(json!({"medical_history": "C"})),
    )
    .await
    .expect("edit C");
    assert!(sync(&r1, &lossy).await.is_err());
    r1.update(
        SyncTable::Patients,
        p,
        fields(json!({"medical_history": "D", "name": "Polly Ng"})),
    )
    .await
    .expect("edit D");
    assert_eq!(r1.pending().await.expect("pending"), 2);
    let s = sync(&r1, &remote).await.expect("sync");
    assert_eq!((s.pushed, s.conflicts), (2, 0));
    assert!(r1.conflicts().await.expect("conflicts").is_empty());
    let (_, server) = w.rest(Method::GET, &format!("/patients/{p}"), None).await;
    assert_eq!(
        (&server["medical_history"], &server["name"]),
        (&json!("D"), &json!("Polly Ng"))
    );
    assert_eq!(
        row(&r1, SyncTable::Patients, p).await.expect("row")["medical_history"],
        "D"
    );
}

async fn integration_writes_are_recorded(w: World) {
    let (remote, r1, _) = two_replicas(&w).await;
    let p = patient(&r1, "Ines").await;
    sync(&r1, &remote).await.expect("sync");
    r1.update(
        SyncTable::Patients,
        p,
        fields(json!({"contact_details": "written offline"})),
    )
    .await
    .expect("edit");
    // Meanwhile Carepatron's client details are taken (an integration write, not REST).
    let view = connectors::carepatron::PatientView {
        name: "Ines".into(),
        email: "ines@example.org".into(),
        contact_details: Some("from Carepatron".into()),
        medical_history: None,
        dietary_preferences: None,
    };
    w.db.take_client_details(p, &view).await.expect("take");
    let s = sync(&r1, &remote).await.expect("sync");
    assert_eq!(s.conflicts, 1, "not merged over Carepatron's edit unseen");
    let c = &r1.conflicts().await.expect("conflicts")[0];
    assert_eq!(
        (&c.server_value, &c.client_value),
        (&json!("from Carepatron"), &json!("written offline"))
    );
}

async fn delete_with_unseen_documents(w: World) {
    let (remote, r1, r2) = two_replicas(&w).await;
    let p = patient(&r1, "Paz").await;
    sync(&r1, &remote).await.expect("sync");
    sync(&r2, &remote).await.expect("sync");

    // r2 writes a note for P; r1, which has not seen it, deletes P.
    let d = r2
        .insert(
            SyncTable::HealthcareDocuments,
            fields(
                json!({"patient_id": p, "type": "progress note", "date": "2026-11-03",
                          "title": "Lab follow-up", "content": "HbA1c 6.9%."}),
            ),
        )
        .await
        .expect("doc");
    sync(&r2, &remote).await.expect("sync r2");
    r1.delete(SyncTable::Patients, p).await.expect("delete");
    let s = sync(&r1, &remote).await.expect("sync r1");
    assert_eq!(s.conflicts, 1, "the note would have gone unseen");
    let conflicts = r1.conflicts().await.expect("conflicts");
    assert_eq!(conflicts[0].kind, ConflictKind::EditedOnServer);
    assert!(
        row(&r1, SyncTable::HealthcareDocuments, d).await.is_some(),
        "now r1 sees it"
    );
    let (status, _) = w.rest(Method::GET, &format!("/documents/{d}"), None).await;
    assert_eq!(status, 200);

    // Having seen it, deleting after all takes both.
    r1.resolve(&conflicts[0], Resolution::Mine)
        .await
        .expect("mine");
    let s = sync(&r1, &remote).await.expect("sync r1");
    assert_eq!((s.pushed, s.conflicts), (1, 0));
    let (status, _) = w.rest(Method::GET, &format!("/documents/{d}"), None).await;
    assert_eq!(status, 404);
}
