//! Keeping the practice's Carepatron workspace in line with the platform.
//!
//! Two followers, each run by one instance at a time (a lease on its cursor): one reads the
//! platform's change feed (the same one replicas sync from, so no write path is missed and
//! no row committed late is skipped) and queues a reconcile for each patient touched; the
//! other polls Carepatron for clients changed there and queues a reconcile for those. A
//! reconcile pushes the patient's client, documents and shares, and merges client details
//! changed on both sides by [`merge`]'s rule.
//!
//! No duplicates: the contract has no idempotency keys, so before each create the row is
//! marked `creating <when>`, and marked again if the create fails (it may still have been
//! applied, as late as that). A later attempt that finds the mark looks the resource up (by
//! `externalId`, or for shares by team member) before creating it again. Lists may miss a new
//! resource for a while, so a lookup that misses proves nothing until the configured lag bound
//! (`CarepatronSettings::list_lag`) has passed since the mark: until then the job looks again later,
//! and only then creates again (see [`create`] and [`earlier`]).

use super::{Done, JobError, Progress};
use crate::app::AppState;
use crate::db::carepatron::{DocumentState, Mark, PatientState};
use crate::db::jobs::{Job, JobCause, JobKind, CAREPATRON_FEED, CAREPATRON_POLL};
use crate::db::{DbError, FeedCursor, NewLogEntry};
use connectors::carepatron::{
    client_fields, file_name, merge, patient_view, Carepatron, DocumentMeta, PatientView,
    TeamMember,
};
use connectors::ConnectorError;
use domain::dto::{ChangeOp, Patient};
use domain::kinds::ShareDelivery;
use domain::{Caller, LogAction, LogStatus, UserType};
use sha2::Digest as _;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// A share's log entries about its delivery (no PHI: no names, no email addresses).
const NOT_ON_TEAM: &str = "Shared in the platform; not delivered to Carepatron: the practitioner \
    is not on the Carepatron team under their email address.";
const DELIVERED: &str = "Delivered to Carepatron.";

fn view_of(p: &Patient) -> PatientView {
    PatientView {
        name: p.name.clone(),
        email: p.email.clone(),
        contact_details: p.contact_details.clone(),
        medical_history: p.medical_history.clone(),
        dietary_preferences: p.dietary_preferences.clone(),
    }
}

fn meta_of(d: &DocumentState) -> DocumentMeta {
    DocumentMeta {
        title: d.title.clone(),
        kind: d.kind.clone(),
        date: d.date.clone(),
        source: d.source.clone(),
        author: d.author.clone(),
        file_name: file_name(&d.title, &d.mime_type),
        content_type: d.mime_type.clone(),
        external_id: Some(d.id.to_string()),
    }
}

/// `<metadata hash>:<content hash>`: what was pushed, so a change to either is seen.
fn fingerprint(d: &DocumentState) -> Mark {
    let meta = serde_json::to_vec(&meta_of(d)).expect("metadata serialises");
    let hash: String = sha2::Sha256::digest(meta)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    Mark::Pushed {
        meta: hash,
        content: d.content_hash.clone(),
    }
}

/// One reconcile of a patient with Carepatron.
pub(super) async fn reconcile(
    app: &AppState,
    job: &Job,
    progress: &Progress,
) -> Result<Done, JobError> {
    let patient_id = job
        .patient_id
        .ok_or_else(|| JobError::permanent("the reconcile names no patient"))?;
    let (Some(cp), Some(settings)) = (
        app.integrations.carepatron.as_ref(),
        app.config.carepatron.as_ref(),
    ) else {
        // Nothing is expected of the patient's shares there (a job queued while it was).
        app.db.align_share_delivery(false, Some(patient_id)).await?;
        return Ok(Done::Finished(
            "Carepatron is not configured; nothing to push.".into(),
        ));
    };
    let db = &app.db;
    let lag = settings.list_lag;
    let Some(state) = db.carepatron_patient(patient_id).await? else {
        return Ok(Done::Finished("No such patient.".into()));
    };
    let pid = state.patient.id;
    if state.deleted {
        if let Some(client) = &state.patient.carepatron_patient_id {
            if state.synced != Some(Mark::Archived) {
                cp.archive_client(client).await?;
                db.set_client(pid, None, &Mark::Archived, None).await?;
                return Ok(Done::Finished(
                    "The patient was deleted; their Carepatron client is archived.".into(),
                ));
            }
        }
        return Ok(Done::Finished(
            "The patient was deleted; nothing to push.".into(),
        ));
    }

    let part = Part {
        db,
        cp,
        lag,
        pid,
        progress,
    };
    let mut notes = Vec::new();
    let client_id = part.client(&state, job.cause, &mut notes).await?;
    // One document waiting for Carepatron's lists does not hold up the others.
    let mut waits = part.documents(&client_id).await?;
    let undelivered = part.shares(&mut waits).await?;

    let p = progress.snapshot();
    let n = |k: &str| p[k].as_u64().unwrap_or(0);
    let counts = format!(
        "{} pushed, {} deleted there, {} taken from there",
        n("pushed"),
        n("deleted") + n("unshared"),
        n("taken"),
    );
    let mut summary = match undelivered {
        0 => format!("Carepatron up to date: {counts}."),
        n => format!(
            "Carepatron updated ({counts}), except {n} share(s) not delivered: see their own entries."
        ),
    };
    for note in notes {
        summary.push(' ');
        summary.push_str(&note);
        summary.push('.');
    }
    if n("taken") > 0 {
        app.db
            .insert_log(NewLogEntry {
                patient_id: Some(pid),
                document_id: None,
                user_id: None,
                action: LogAction::AutomaticUpdate,
                status: LogStatus::Success,
                details: Some(
                    "Client details changed in Carepatron were taken into the platform.".into(),
                ),
            })
            .await?;
    }
    if let Some(wait) = waits.0 {
        return Err(wait);
    }
    Ok(Done::Finished(summary))
}

/// What each part of one reconcile works with.
struct Part<'a> {
    db: &'a crate::db::Db,
    cp: &'a Carepatron,
    lag: Duration,
    pid: Uuid,
    progress: &'a Progress,
}

impl Part<'_> {
    /// The patient's client: found, created or merged both ways (`notes` says what a person
    /// should know of it). Its id in Carepatron.
    async fn client(
        &self,
        state: &PatientState,
        cause: JobCause,
        notes: &mut Vec<String>,
    ) -> Result<String, JobError> {
        let (db, cp, lag, pid) = (self.db, self.cp, self.lag, self.pid);
        let progress = self.progress;
        let ours = view_of(&state.patient);
        let external = pid.to_string();
        let client_id = match (&state.patient.carepatron_patient_id, state.synced.as_ref()) {
            (Some(id), _) => {
                let agreed = state.snapshot.clone().unwrap_or_else(|| ours.clone());
                // Carepatron's side is read when ours changed, when the poll saw theirs change
                // (`stale`), or when a person asked.
                let stale = state.synced == Some(Mark::Stale);
                if ours != agreed || stale || matches!(cause, JobCause::Manual | JobCause::Replay) {
                    match cp.client(id).await? {
                        Some(client) => {
                            let theirs = patient_view(&client.fields);
                            let merged = merge(&agreed, &ours, &theirs);
                            if merged.view != theirs {
                                cp.replace_client(id, &client_fields(&merged.view, &external))
                                    .await?;
                                progress.add("pushed", 1);
                            }
                            if merged.view != ours {
                                db.take_client_details(pid, &merged.view).await?;
                                progress.add("taken", 1);
                                notes.push(
                                    "client details changed in Carepatron were taken".to_owned(),
                                );
                            }
                            if !merged.conflicts.is_empty() {
                                // Fields in words: "contact details", not `contact_details`.
                                let fields: Vec<String> = merged
                                    .conflicts
                                    .iter()
                                    .map(|f| f.replace('_', " "))
                                    .collect();
                                notes.push(format!(
                                "both sides changed {}: Carepatron kept contact fields, the platform clinical ones",
                                fields.join(", ")
                            ));
                            }
                            db.client_agreed(pid, &merged.view, stale).await?;
                        }
                        None => {
                            notes.push(
                                "the client was gone from Carepatron and was created again"
                                    .to_owned(),
                            );
                            let fields = client_fields(&ours, &external);
                            let mark =
                                |m: Mark| async move { db.set_client(pid, None, &m, None).await };
                            let created = create(mark, cp.create_client(&fields)).await?;
                            db.set_client(pid, Some(&created.id), &Mark::Done, Some(&ours))
                                .await?;
                            progress.add("pushed", 1);
                        }
                    }
                }
                state
                    .patient
                    .carepatron_patient_id
                    .clone()
                    .unwrap_or_default()
            }
            (None, maybe) => {
                let found = earlier(maybe, lag, "client", cp.find_client(&external)).await?;
                let client = match found {
                    Some(client) => client,
                    None => {
                        let fields = client_fields(&ours, &external);
                        let mark =
                            |m: Mark| async move { db.set_client(pid, None, &m, None).await };
                        let created = create(mark, cp.create_client(&fields)).await?;
                        progress.add("pushed", 1);
                        created
                    }
                };
                db.set_client(pid, Some(&client.id), &Mark::Done, Some(&ours))
                    .await?;
                client.id
            }
        };
        Ok(client_id)
    }

    /// The patient's documents, each created, updated (metadata or content, as changed) or
    /// deleted there. A create waiting for Carepatron's lists is kept in the returned waits
    /// and the others go on.
    async fn documents(&self, client_id: &str) -> Result<Waits, JobError> {
        let (db, cp, lag, pid) = (self.db, self.cp, self.lag, self.pid);
        let progress = self.progress;
        let mut waits = Waits::default();
        for doc in db.carepatron_documents(pid).await? {
            if doc.deleted {
                if let Some(remote) = &doc.remote_id {
                    cp.delete_document(remote).await?;
                    db.set_document_remote(doc.id, None, &Mark::Deleted).await?;
                    progress.add("deleted", 1);
                }
                continue;
            }
            let print = fingerprint(&doc);
            let meta = meta_of(&doc);
            let remote = match (&doc.remote_id, doc.synced.as_ref()) {
                (Some(remote), _) => Some((remote.clone(), doc.synced.clone())),
                (None, synced) => {
                    let external = doc.id.to_string();
                    let find = cp.find_document(client_id, &external);
                    match earlier(synced, lag, "document", find).await {
                        Ok(found) => found.map(|d| (d.id, None)),
                        Err(e) => {
                            waits.keep(e)?;
                            continue;
                        }
                    }
                }
            };
            match remote {
                None => {
                    let bytes = db.document_bytes(doc.id).await?;
                    let mark =
                        |m: Mark| async move { db.set_document_remote(doc.id, None, &m).await };
                    let created = create(mark, cp.upload_document(client_id, &meta, bytes)).await?;
                    db.set_document_remote(doc.id, Some(&created.id), &print)
                        .await?;
                    progress.add("pushed", 1);
                }
                Some((remote, pushed)) if pushed.as_ref() != Some(&print) => {
                    let (old_meta, old_content) = match &pushed {
                        Some(Mark::Pushed { meta, content }) => (meta.as_str(), content.as_str()),
                        _ => ("", ""),
                    };
                    let Mark::Pushed {
                        meta: new_meta,
                        content: new_content,
                    } = &print
                    else {
                        unreachable!("a fingerprint is a pushed mark")
                    };
                    if old_meta != new_meta {
                        cp.replace_document_meta(&remote, &meta).await?;
                    }
                    if old_content != new_content {
                        let bytes = db.document_bytes(doc.id).await?;
                        cp.replace_document_content(&remote, &doc.mime_type, &bytes)
                            .await?;
                    }
                    db.set_document_remote(doc.id, Some(&remote), &print)
                        .await?;
                    progress.add("pushed", 1);
                }
                Some(_) => {}
            }
        }
        Ok(waits)
    }

    /// The shares of the patient's documents. Each says whether it reached Carepatron
    /// (`carepatron_delivery`); one that did not gets a failure entry of its own, once, when it
    /// comes to that state. How many were not delivered.
    async fn shares(&self, waits: &mut Waits) -> Result<usize, JobError> {
        let (db, cp, lag, pid) = (self.db, self.cp, self.lag, self.pid);
        let progress = self.progress;
        let mut team: Option<Vec<TeamMember>> = None;
        // Each document's id in Carepatron, as the loop above left them.
        let remote_docs: HashMap<Uuid, String> = db
            .carepatron_documents(pid)
            .await?
            .into_iter()
            .filter_map(|d| Some((d.id, d.remote_id?)))
            .collect();
        let mut undelivered = 0;
        for share in db.carepatron_shares(pid).await? {
            let Some(remote_doc) = remote_docs.get(&share.document_id).cloned() else {
                continue;
            };
            if share.deleted {
                if let Some(remote) = &share.remote_id {
                    cp.unshare(&remote_doc, remote).await?;
                    db.set_share_remote(share.id, None, &Mark::Deleted).await?;
                    progress.add("unshared", 1);
                }
                continue;
            }
            let pushed = async {
                let member = match &share.practitioner_member_id {
                    Some(m) => m.clone(),
                    None => {
                        if team.is_none() {
                            team = Some(cp.team_members().await?);
                        }
                        let found = team.iter().flatten().find(|t| {
                            t.email
                                .as_deref()
                                .is_some_and(|e| e.eq_ignore_ascii_case(&share.practitioner_email))
                        });
                        match found {
                            Some(t) => {
                                db.set_team_member(share.practitioner_id, &t.id).await?;
                                t.id.clone()
                            }
                            None => return Ok(None),
                        }
                    }
                };
                let find = async {
                    let shares = cp.shares(&remote_doc).await?;
                    Ok::<_, JobError>(shares.into_iter().find(|s| s.team_member_id == member))
                };
                let found = earlier(share.synced.as_ref(), lag, "share", find).await?;
                let remote = match found {
                    Some(s) => s.id,
                    None => {
                        let mark =
                            |m: Mark| async move { db.set_share_remote(share.id, None, &m).await };
                        create(mark, cp.share(&remote_doc, &member)).await?.id
                    }
                };
                Ok::<_, JobError>(Some(remote))
            };
            let entry = |status: LogStatus, details: String| NewLogEntry {
                patient_id: Some(pid),
                document_id: Some(share.document_id),
                user_id: None,
                action: LogAction::DocumentShared,
                status,
                details: Some(details),
            };
            match pushed.await {
                Ok(Some(remote)) => {
                    db.set_share_delivery(
                        share.id,
                        ShareDelivery::Delivered,
                        Some(&remote),
                        |had| {
                            matches!(had, ShareDelivery::NotOnTeam | ShareDelivery::Failed)
                                .then(|| entry(LogStatus::Success, DELIVERED.to_owned()))
                        },
                    )
                    .await?;
                    progress.add("pushed", 1);
                }
                Ok(None) => {
                    progress.add("skipped", 1);
                    undelivered += 1;
                    db.set_share_delivery(share.id, ShareDelivery::NotOnTeam, None, |_| {
                        Some(entry(LogStatus::Failure, NOT_ON_TEAM.to_owned()))
                    })
                    .await?;
                }
                // Not a failure: the share waits with the job for Carepatron's lists.
                Err(e) if e.waiting => waits.keep(e)?,
                Err(e) => {
                    let details = format!(
                    "Shared in the platform; not delivered to Carepatron yet: {}; retried with the job.",
                    e.message
                );
                    let marked = db
                        .set_share_delivery(share.id, ShareDelivery::Failed, None, |_| {
                            Some(entry(LogStatus::Failure, details))
                        })
                        .await;
                    if let Err(db_error) = marked {
                        tracing::error!(error = %db_error, "could not record a share's failed delivery");
                    }
                    return Err(e);
                }
            }
        }
        Ok(undelivered)
    }
}

/// The platform's own view of everything, for following the change feed.
fn platform() -> Caller {
    Caller {
        id: Uuid::nil(),
        kind: UserType::Admin,
        provider_id: None,
        patient_id: None,
    }
}

/// Follows the change feed and the Carepatron poll while this instance holds their leases.
pub(super) async fn follow(app: AppState, owner: String, mut stop: watch::Receiver<bool>) {
    let Some(settings) = app.config.carepatron.clone() else {
        return;
    };
    let tick = app.config.jobs.poll;
    let mut last_poll = tokio::time::Instant::now() - settings.poll;
    while !*stop.borrow() {
        if let Err(e) = follow_feed(&app, &owner).await {
            tracing::error!(error = %e, "following the change feed for Carepatron failed");
        }
        if last_poll.elapsed() >= settings.poll {
            last_poll = tokio::time::Instant::now();
            if let Err(e) = poll_carepatron(&app, &owner).await {
                tracing::warn!(error = %e, "asking Carepatron for changed clients failed");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Queues a reconcile for every patient the feed shows changed since the last look.
async fn follow_feed(app: &AppState, owner: &str) -> anyhow::Result<()> {
    let lease = app.config.jobs.lease;
    let Some(position) = app.db.take_cursor(CAREPATRON_FEED, owner, lease).await? else {
        return Ok(());
    };
    let mut cursor = position
        .as_deref()
        .and_then(FeedCursor::decode)
        .unwrap_or_else(FeedCursor::start);
    loop {
        let (changes, next, more) = app.db.changes(&platform(), &cursor, 500).await?;
        let touched: Vec<_> = changes
            .iter()
            .filter(|c| c.op != ChangeOp::Remove)
            .map(|c| (c.table, c.id))
            .collect();
        let patients = app.db.patients_touched(&touched).await?;
        for patient in &patients {
            app.db
                .enqueue_job(JobKind::Carepatron, *patient, None, JobCause::Change, None)
                .await?;
        }
        if !patients.is_empty() {
            app.integrations.wake_all();
        }
        if !app
            .db
            .save_cursor(CAREPATRON_FEED, owner, &next.encode())
            .await?
        {
            return Ok(());
        }
        cursor = next;
        if !more {
            return Ok(());
        }
    }
}

/// Queues a reconcile for every client changed in Carepatron whose details differ from what
/// both sides last agreed.
async fn poll_carepatron(app: &AppState, owner: &str) -> anyhow::Result<()> {
    let Some(cp) = app.integrations.carepatron.as_ref() else {
        return Ok(());
    };
    let Some(position) = app
        .db
        .take_cursor(CAREPATRON_POLL, owner, app.config.jobs.lease)
        .await?
    else {
        return Ok(());
    };
    // Carepatron's clock, a little overlapped; the first time, from now on.
    let since = position
        .as_deref()
        .and_then(|p| chrono::DateTime::parse_from_rfc3339(p).ok())
        .map_or_else(chrono::Utc::now, |t| {
            t.to_utc() - chrono::Duration::seconds(60)
        });
    let since_text = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut newest = position.unwrap_or_else(|| since_text.clone());
    let mut page = 1;
    loop {
        let (clients, more) = cp.clients_updated_since(&since_text, page).await?;
        for client in &clients {
            if let Some(updated) = &client.updated_date_time_utc {
                if *updated > newest {
                    newest.clone_from(updated);
                }
            }
            let Some(patient) = client
                .fields
                .external_id
                .as_deref()
                .and_then(|e| e.parse::<Uuid>().ok())
            else {
                continue;
            };
            let Some((linked, agreed)) = app.db.client_link(patient).await? else {
                continue;
            };
            if linked != client.id || agreed.as_ref() == Some(&patient_view(&client.fields)) {
                continue;
            }
            // Marked on the row, not only on the job: a job already waiting may take this up.
            app.db.set_client(patient, None, &Mark::Stale, None).await?;
            app.db
                .enqueue_job(JobKind::Carepatron, patient, None, JobCause::Remote, None)
                .await?;
            app.integrations.wake();
        }
        if !more || page >= 100 {
            break;
        }
        page += 1;
    }
    app.db.save_cursor(CAREPATRON_POLL, owner, &newest).await?;
    Ok(())
}

/// The mark on a row whose create is under way or went unanswered, from now.
fn creating() -> Mark {
    Mark::Creating {
        since: chrono::Utc::now(),
    }
}

/// Sends a create (`send`), its row marked `creating` by `mark` first. A create that fails
/// may still have been applied, as late as the failure (pacing and the connector's retries
/// can hold a request for seconds after the mark): the row is marked again then, so that
/// Carepatron's list lag is counted from the last moment the create could have landed.
async fn create<T, M: Future<Output = Result<(), DbError>>>(
    mark: impl Fn(Mark) -> M,
    send: impl Future<Output = Result<T, ConnectorError>>,
) -> Result<T, JobError> {
    mark(creating()).await?;
    match send.await {
        Ok(created) => Ok(created),
        Err(e) => {
            mark(creating()).await?;
            Err(e.into())
        }
    }
}

/// How old a row's `creating` mark is, when it has one (an earlier attempt may then have
/// created the resource without hearing back).
fn creating_since(synced: Option<&Mark>) -> Option<Duration> {
    let Some(Mark::Creating { since }) = synced else {
        return None;
    };
    Some((chrono::Utc::now() - *since).to_std().unwrap_or_default())
}

/// The shortest wait between two lookups of an unsure create.
const LOOK_AGAIN_MIN: Duration = Duration::from_secs(1);

/// Before a create: what an earlier attempt, whose create went unanswered, may have made.
///
/// Without a `creating` mark on the row (`synced`) there is none: `Ok(None)`, create. With
/// one, `find` looks the resource up: found, it is the one. Missing, that proves nothing
/// while Carepatron's lists may still lag (`lag`, counted from the mark), so the attempt
/// ends in a wait ([`JobError::waiting`]) and the job looks again later, more rarely as the
/// mark ages; once `lag` has passed and it is still missing, the create did not go through:
/// `Ok(None)`, create again ([`create`] marks the row anew first).
async fn earlier<T, E: Into<JobError>>(
    synced: Option<&Mark>,
    lag: Duration,
    what: &str,
    find: impl Future<Output = Result<Option<T>, E>>,
) -> Result<Option<T>, JobError> {
    let Some(age) = creating_since(synced) else {
        return Ok(None);
    };
    if let Some(found) = find.await.map_err(Into::into)? {
        return Ok(Some(found));
    }
    match lag.checked_sub(age).filter(|left| !left.is_zero()) {
        None => Ok(None),
        Some(left) => Err(JobError::waiting(
            format!(
                "waiting for Carepatron's lists to show a {what} an unanswered request may have created \
                 ({} s ago; it is sent again only if still missing after {} s)",
                age.as_secs(),
                lag.as_secs()
            ),
            (age / 2).max(LOOK_AGAIN_MIN).min(left),
        )),
    }
}

/// Waits deferred to the end of a reconcile, so that one unsure create does not hold up the
/// patient's other documents and shares.
#[derive(Default)]
struct Waits(Option<JobError>);

impl Waits {
    /// Keeps a wait (the soonest, so the next attempt comes when the first lookup is due);
    /// passes any other error on.
    fn keep(&mut self, e: JobError) -> Result<(), JobError> {
        if !e.waiting {
            return Err(e);
        }
        if self
            .0
            .as_ref()
            .is_none_or(|kept| kept.retry_after > e.retry_after)
        {
            self.0 = Some(e);
        }
        Ok(())
    }
}
