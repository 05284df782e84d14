//! Files attached offline (issue 15, "Files offline"): kept in the replica at once and
//! viewable, sent at the next sync with progress, and made into one document however the
//! sync is cut off: the platform away, the push's reply lost, the app gone mid-file. A file's
//! hash never lets anyone else attach it. Each on SQLite and PostgreSQL.

use crate::on_both_backends;
use crate::support::*;
use domain::dto::SyncTable;
use serde_json::json;
use std::sync::{Arc, Mutex};
use sync_core::engine::{sync_reporting, SyncEvent};
use sync_core::files::Attachment;
use sync_core::{sync, Remote, Replica};
use uuid::Uuid;

on_both_backends! {
    a_file_attached_offline_reaches_the_platform_once => attached_offline(as_configured);
    a_lost_reply_or_an_app_gone_mid_file_never_makes_two => cut_off(as_configured);
    a_files_hash_alone_attaches_nothing => someone_elses_hash(as_configured);
    kept_patients_and_a_budget_decide_which_files_are_here => kept_and_budgeted(as_configured);
    a_file_refused_stops_only_its_document_and_can_be_sent_again => one_refused(as_configured);
}

/// A PDF of about `kib` KiB, different for each `seed`.
fn pdf(seed: &str, kib: usize) -> Vec<u8> {
    let mut bytes = format!("%PDF-1.4\n% {seed}\n").into_bytes();
    bytes.extend(std::iter::repeat_n(b'x', kib * 1024));
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

fn attachment(patient: Uuid, title: &str, bytes: Vec<u8>) -> Attachment {
    Attachment {
        patient_id: patient,
        kind: "lab report".into(),
        date: "2026-11-20".into(),
        title: title.into(),
        mime_type: "application/pdf".into(),
        bytes,
    }
}

async fn patient(r: &Replica) -> Uuid {
    r.insert(
        SyncTable::Patients,
        fields(json!({"name": "Ada Home", "email": "ada@example.org"})),
    )
    .await
    .expect("patient")
}

/// The hashes of the bodies of the documents titled `title` the platform holds for patient
/// `p`: one per document.
async fn on_platform(w: &World, p: Uuid, title: &str) -> Vec<String> {
    let (status, page) = w
        .rest(
            reqwest::Method::GET,
            &format!(
                "/patients/{p}/documents?limit=100&q={}",
                title.replace(' ', "%20")
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|d| d["title"] == title)
        .map(|d| d["content_hash"].as_str().expect("hash").to_owned())
        .collect()
}

/// The bytes the platform serves for document `id`.
async fn served(w: &World, id: Uuid) -> Vec<u8> {
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/documents/{id}/content", w.base))
        .bearer_auth(&w.token)
        .send()
        .await
        .expect("content");
    assert_eq!(res.status(), 200);
    res.bytes().await.expect("bytes").to_vec()
}

async fn attached_offline(mut w: World) {
    let remote = Remote::new(&w.base, &w.token);
    let r = Replica::open(&w.dir.join("home-visit.db"))
        .await
        .expect("replica");
    let p = patient(&r).await;
    sync(&r, &remote).await.expect("patient synced");

    // The platform is away: the file is kept here, pending, and can be read at once.
    w.stop().await;
    let bytes = pdf("scan", 3 * 1024);
    let id = r
        .attach(attachment(p, "Home visit scan", bytes.clone()))
        .await
        .expect("attached offline");
    let row = r
        .row(SyncTable::HealthcareDocuments, id)
        .await
        .expect("row")
        .expect("held");
    assert_eq!(row["mime_type"], "application/pdf");
    assert_eq!(row["size_bytes"], bytes.len());
    assert_eq!(
        r.cached_body(id).await.expect("body"),
        Some(("application/pdf".to_owned(), bytes.clone())),
        "viewable before it is sent"
    );
    assert!(sync(&r, &remote).await.is_err(), "offline");
    assert_eq!(r.pending().await.expect("pending"), 1, "still queued");

    // Back: one sync sends it, reporting the bytes as they go.
    w.start_again().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let report = move |e: SyncEvent| {
        if let SyncEvent::Sending { sent, total } = e {
            log.lock().expect("lock").push((sent, total));
        }
    };
    let summary = sync_reporting(&r, &remote, &report).await.expect("sync");
    assert_eq!(summary.pushed, 1);
    let progress = seen.lock().expect("lock").clone();
    assert!(
        progress.len() >= 10,
        "a 3 MiB file reports as it goes: {progress:?}"
    );
    assert!(progress.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(progress.last(), Some(&(bytes.len(), bytes.len())));

    assert_eq!(on_platform(&w, p, "Home visit scan").await.len(), 1);
    assert_eq!(served(&w, id).await, bytes, "the platform holds the bytes");
    let row = r
        .row(SyncTable::HealthcareDocuments, id)
        .await
        .expect("row")
        .expect("held");
    assert!(
        row["version"].as_i64() >= Some(1),
        "the platform's row: {row}"
    );
    assert_eq!(
        r.cached_body(id).await.expect("body").map(|(_, b)| b.len()),
        Some(bytes.len()),
        "still readable offline"
    );
}

async fn cut_off(w: World) {
    let remote = Remote::new(&w.base, &w.token);
    let file = w.dir.join("cut-off.db");
    let r = Replica::open(&file).await.expect("replica");
    let p = patient(&r).await;
    sync(&r, &remote).await.expect("patient synced");

    // The push's reply is lost after the platform stored the document.
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let lossy = Remote::new(
        &lossy_proxy(w.base.trim_start_matches("http://").to_owned(), armed).await,
        &w.token,
    );
    let first = pdf("first", 64);
    r.attach(attachment(p, "Lost reply", first.clone()))
        .await
        .expect("attach");
    assert!(sync(&r, &lossy).await.is_err(), "the reply never came");
    sync(&r, &remote).await.expect("sent again");
    assert_eq!(on_platform(&w, p, "Lost reply").await.len(), 1);

    // The app is gone in the middle of a file (the sync dropped as its first piece left),
    // then started again on the same file.
    let second = pdf("second", 4 * 1024);
    r.attach(attachment(p, "Cut mid-file", second.clone()))
        .await
        .expect("attach");
    let (gone_tx, mut gone_rx) = tokio::sync::mpsc::unbounded_channel();
    let report = move |e: SyncEvent| {
        if let SyncEvent::Sending { .. } = e {
            let _ = gone_tx.send(());
        }
    };
    tokio::select! {
        _ = sync_reporting(&r, &remote, &report) => panic!("the sync ended before it was cut"),
        _ = gone_rx.recv() => {}
    }
    r.close().await;
    let again = Replica::open(&file).await.expect("reopened");
    assert_eq!(again.pending().await.expect("pending"), 1, "still queued");
    sync(&again, &remote).await.expect("sent whole");
    let hashes = on_platform(&w, p, "Cut mid-file").await;
    assert_eq!(hashes.len(), 1, "one document");
    use sha2::Digest as _;
    assert_eq!(hashes[0], hex::encode(sha2::Sha256::digest(&second)));
    // And once more, nothing new.
    let s = sync(&again, &remote).await.expect("nothing left");
    assert_eq!(s.pushed, 0);
    assert_eq!(on_platform(&w, p, "Cut mid-file").await.len(), 1);
}

/// `PUT /uploads/{hash}` with `token`; the status.
async fn send(w: &World, token: &str, hash: &str, mime: &str, bytes: Vec<u8>) -> u16 {
    reqwest::Client::new()
        .put(format!("{}/api/v1/uploads/{hash}", w.base))
        .bearer_auth(token)
        .header("Content-Type", mime)
        .body(bytes)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

async fn someone_elses_hash(w: World) {
    use sha2::Digest as _;
    let bytes = pdf("private", 8);
    let hash = hex::encode(sha2::Sha256::digest(&bytes));
    // Dee sends a file; sending it again keeps nothing new.
    assert_eq!(
        send(&w, &w.token, &hash, "application/pdf", bytes.clone()).await,
        201
    );
    assert_eq!(
        send(&w, &w.token, &hash, "application/pdf", bytes.clone()).await,
        200
    );
    // What does not match its name, its type or the sender's role is refused.
    let other = hex::encode(sha2::Sha256::digest(b"other"));
    assert_eq!(
        send(&w, &w.token, &other, "application/pdf", bytes.clone()).await,
        422
    );
    assert_eq!(
        send(&w, &w.token, &hash, "image/png", bytes.clone()).await,
        422
    );
    assert_eq!(
        send(&w, &w.token, &hash, "text/html", bytes.clone()).await,
        422
    );
    // Bytes of no stated type are read for what they are.
    let unstated = pdf("unstated", 1);
    let unstated_hash = hex::encode(sha2::Sha256::digest(&unstated));
    let octets = "application/octet-stream";
    assert_eq!(
        send(&w, &w.token, &unstated_hash, octets, unstated).await,
        201
    );
    let text = b"not a file".to_vec();
    let text_hash = hex::encode(sha2::Sha256::digest(&text));
    assert_eq!(send(&w, &w.token, &text_hash, octets, text).await, 422);
    let practitioner = w
        .user("pat@example.org", domain::UserType::Practitioner, None)
        .await;
    assert_eq!(
        send(&w, &practitioner, &hash, "application/pdf", bytes.clone()).await,
        403
    );

    // Another dietician who knows the hash, but never had the file, cannot attach it to a
    // patient of theirs.
    let eve = w
        .user("eve@example.org", domain::UserType::Dietician, None)
        .await;
    let theirs = Replica::open(&w.dir.join("eve.db")).await.expect("replica");
    let eves = Remote::new(&w.base, &eve);
    let p = patient(&theirs).await;
    sync(&theirs, &eves).await.expect("patient synced");
    let doc = Uuid::now_v7();
    let push = json!({
        "device_id": "eve-laptop",
        "mutations": [{
            "mutation_id": Uuid::now_v7(), "device_seq": 1, "table": "healthcare_documents",
            "row_id": doc, "op": "insert", "base_version": 0,
            "fields": {"patient_id": p, "type": "lab report", "date": "2026-11-20",
                       "title": "Not mine", "upload": hash}
        }]
    });
    let (status, answer) = rest_as(&w, &eve, reqwest::Method::POST, "/sync/push", push).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["status"], "rejected", "{answer}");
    assert_eq!(answer["results"][0]["code"], "file_missing");
    let (status, _) = rest_as(
        &w,
        &eve,
        reqwest::Method::GET,
        &format!("/documents/{doc}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 404, "no document was made");
}

async fn kept_and_budgeted(mut w: World) {
    use sync_core::files::keep_files;
    let remote = Remote::new(&w.base, &w.token);
    // The tablet attaches three files to Ada (older) and two to Bo (newer), 100 KiB each.
    let tablet = Replica::open(&w.dir.join("tablet.db"))
        .await
        .expect("tablet");
    let ada = patient(&tablet).await;
    let bo = tablet
        .insert(
            SyncTable::Patients,
            fields(json!({"name": "Bo Near", "email": "bo@example.org"})),
        )
        .await
        .expect("patient");
    let mut files = Vec::new();
    for (who, date, title) in [
        (ada, "2026-10-01", "Ada 1"),
        (ada, "2026-10-02", "Ada 2"),
        (ada, "2026-10-03", "Ada 3"),
        (bo, "2026-11-02", "Bo old"),
        (bo, "2026-11-03", "Bo new"),
    ] {
        let id = tablet
            .attach(Attachment {
                date: date.into(),
                ..attachment(who, title, pdf(title, 100))
            })
            .await
            .expect("attach");
        files.push(id);
    }
    sync(&tablet, &remote).await.expect("tablet sync");
    let laptop = Replica::open(&w.dir.join("laptop.db"))
        .await
        .expect("laptop");
    sync(&laptop, &remote).await.expect("laptop sync");
    let here = |r: &Replica| {
        let r = r.clone();
        let files = files.clone();
        async move {
            let mut held = Vec::new();
            for (n, id) in files.iter().enumerate() {
                if r.cached_body(*id).await.expect("body").is_some() {
                    held.push(n);
                }
            }
            held
        }
    };
    assert_eq!(
        here(&laptop).await,
        Vec::<usize>::new(),
        "nothing fetched ahead yet"
    );

    // Ada kept offline: all three of hers come, with progress.
    laptop.keep_offline(ada, true).await.expect("keep");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let progress = move |done: usize, total: usize| log.lock().expect("lock").push((done, total));
    assert_eq!(
        keep_files(&laptop, &remote, &progress)
            .await
            .expect("keep files"),
        3
    );
    assert_eq!(seen.lock().expect("lock").last(), Some(&(3, 3)));
    assert_eq!(here(&laptop).await, [0, 1, 2]);
    let ada_files = laptop.patient_files(ada).await.expect("files");
    assert_eq!(
        (ada_files.kept, ada_files.documents, ada_files.here),
        (true, 3, 3)
    );

    // A budget of 150 KiB keeps the newest file of all (Bo's), not the one after.
    laptop
        .set_file_budget(Some(150 * 1024))
        .await
        .expect("budget");
    assert_eq!(
        keep_files(&laptop, &remote, &|_, _| {})
            .await
            .expect("keep"),
        1
    );
    assert_eq!(here(&laptop).await, [0, 1, 2, 4]);

    // Ada no longer kept: her files are beyond the budget and given back.
    laptop.keep_offline(ada, false).await.expect("unkeep");
    assert_eq!(
        keep_files(&laptop, &remote, &|_, _| {})
            .await
            .expect("keep"),
        0
    );
    assert_eq!(here(&laptop).await, [4]);
    let disk = laptop.disk_use().await.expect("disk use");
    assert_eq!(
        (disk.files_here, disk.files_elsewhere, disk.patients_kept),
        (1, 4, 0)
    );
    assert!(disk.file_bytes > 100 * 1024 && disk.replica_bytes > disk.file_bytes as u64);
    assert_eq!(disk.budget_bytes, Some(150 * 1024));

    // What is here reads without the platform.
    w.stop().await;
    assert!(laptop.cached_body(files[4]).await.expect("body").is_some());
}

async fn one_refused(w: World) {
    use server::db::uploads::WAITING_FILES;
    let remote = Remote::new(&w.base, &w.token);
    let r = Replica::open(&w.dir.join("many.db"))
        .await
        .expect("replica");
    let p = patient(&r).await;
    sync(&r, &remote).await.expect("patient synced");
    // One file more than the platform keeps waiting for one person, all in one push; and the
    // same scan attached twice.
    let mut ids = Vec::new();
    for n in 0..=WAITING_FILES {
        let id = r
            .attach(attachment(
                p,
                &format!("Scan {n}"),
                pdf(&format!("scan {n}"), 1),
            ))
            .await
            .expect("attach");
        ids.push(id);
    }
    let twice = r
        .attach(attachment(p, "Scan 0 again", pdf("scan 0", 1)))
        .await
        .expect("attach again");
    let s = sync(&r, &remote).await.expect("the sync goes through");
    assert_eq!(
        (s.pushed, s.rejected),
        (WAITING_FILES as usize + 1, 1),
        "{s:?}"
    );
    let refused = ids[WAITING_FILES as usize];
    let edits = r.rejected_edits().await.expect("refusals");
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].row_id, refused);
    assert!(
        r.cached_body(refused).await.expect("body").is_some(),
        "kept here"
    );
    let made = on_platform(&w, p, "Scan 0 again").await;
    assert_eq!(
        made,
        on_platform(&w, p, "Scan 0").await,
        "the same bytes, twice"
    );
    assert_eq!(served(&w, twice).await, pdf("scan 0", 1));

    // Corrected and sent again: the platform makes it of the file kept here.
    r.update(
        SyncTable::HealthcareDocuments,
        refused,
        fields(json!({"title": "Scan sent again"})),
    )
    .await
    .expect("send again");
    let s = sync(&r, &remote).await.expect("sync");
    assert_eq!((s.pushed, s.rejected), (1, 0), "{s:?}");
    assert_eq!(on_platform(&w, p, "Scan sent again").await.len(), 1);
    assert_eq!(
        served(&w, refused).await,
        pdf(&format!("scan {WAITING_FILES}"), 1)
    );
}
