//! The commands the UI invokes: each a call into sync-core (or the shell's own keyring,
//! notification and updater parts), its error mapped to a stable code.

// Tauri hands every command its state by value.
#![allow(clippy::needless_pass_by_value)]

use crate::background::emit_status;
use crate::error::{AppError, CommandResult};
use crate::rights::{self, DocumentActions, PatientActions};
use crate::state::{AppStatus, Desk};
use base64::Engine as _;
use domain::dto::{
    AuditEntry, AuditQuery, CarepatronState, ConnectionStep, Inquiry, LinkReview, NewProvider,
    Page, Provider, ProviderEntry,
};
use domain::dto::{ConflictKind, SyncTable};
use domain::Caller;
use domain::LinkApproval;
use domain::{InquiryStatus, JobStatus};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;
use sync_core::files::{DiskUse, PatientFiles};
use sync_core::online::Job;
use sync_core::rows::{DocumentRow, LogLine};
use sync_core::views::{
    DocumentDigest, DocumentFilter, DocumentSummary, LogFilter, NewPatientOutcome, PatientDetail,
    PatientPage, PatientSummary, RejectedEdit, SyncState, Trend,
};
use tauri::{AppHandle, State};
use uuid::Uuid;

type Cmd<'a> = State<'a, Desk>;

// ---------- session and status ----------

/// Why the app could not start (no keyring, an unreadable data directory), if it could not.
pub struct StartupError(pub Option<AppError>);

#[tauri::command(rename_all = "snake_case")]
pub fn startup_error(failure: State<'_, StartupError>) -> Option<AppError> {
    failure.0.clone()
}

#[tauri::command(rename_all = "snake_case")]
pub async fn status(desk: Cmd<'_>) -> CommandResult<AppStatus> {
    Ok(desk.status().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn sign_in(
    app: AppHandle,
    desk: Cmd<'_>,
    server: String,
    email: String,
    password: String,
) -> CommandResult<AppStatus> {
    desk.sign_in(&server, &email, &password).await?;
    emit_status(&app).await;
    Ok(desk.status().await?)
}

/// Signs out; `discard`: the person was told that unsent and refused edits go with it.
#[tauri::command(rename_all = "snake_case")]
pub async fn sign_out(app: AppHandle, desk: Cmd<'_>, discard: bool) -> CommandResult<()> {
    desk.sign_out(discard).await?;
    emit_status(&app).await;
    Ok(())
}

#[tauri::command(rename_all = "snake_case")]
pub fn dismiss_notice(desk: Cmd<'_>) {
    desk.dismiss_notice();
}

/// Starts a sync now; progress arrives as `sync-progress` events.
#[tauri::command(rename_all = "snake_case")]
pub fn sync_now(desk: Cmd<'_>) {
    desk.sync.wake();
}

// ---------- patients ----------

/// Most patients an administrator's list shows: the platform's first page of matches.
const ONLINE_PATIENTS: i64 = 200;

#[tauri::command(rename_all = "snake_case")]
pub async fn patients(
    desk: Cmd<'_>,
    search: String,
    offset: i64,
    limit: i64,
) -> CommandResult<PatientPage> {
    let replica = desk.replica().await;
    if !reads_online(&me(&replica).await?) {
        return Ok(replica.patient_page(&search, offset, limit).await?);
    }
    let page = sync_core::online::patients(&desk.keystore, &search, ONLINE_PATIENTS).await?;
    let all: Vec<PatientSummary> = items(&page).iter().filter_map(online_summary).collect();
    Ok(PatientPage {
        total: all.len() as i64,
        offset,
        items: all
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(0))
            .take(usize::try_from(limit).unwrap_or(0))
            .collect(),
    })
}

/// Whether `caller` reads patient data online: an administrator, whose replica holds the
/// users only (the platform's change feed sends them no patient data).
fn reads_online(caller: &Caller) -> bool {
    caller.is(domain::UserType::Admin)
}

/// The `items` of a page the platform answered.
fn items(page: &Value) -> &[Value] {
    page["items"].as_array().map_or(&[], Vec::as_slice)
}

/// A patient row the platform sent, as the list shows it.
fn online_summary(p: &Value) -> Option<PatientSummary> {
    Some(PatientSummary {
        id: p["id"].as_str()?.parse().ok()?,
        name: p["name"].as_str()?.to_owned(),
        email: p["email"].as_str().unwrap_or_default().to_owned(),
        birth_date: p["birth_date"].as_str().map(str::to_owned),
        sync_state: online_state(p),
        provider_id: p["provider_id"].as_str().and_then(|id| id.parse().ok()),
        link_approval: p["link_approval"].as_str().and_then(|a| a.parse().ok()),
    })
}

fn online_state(row: &Value) -> SyncState {
    if row["sync_error"].is_string() {
        SyncState::Error
    } else {
        SyncState::Synced
    }
}

/// A document row (the replica's, or the platform's for an administrator) as the screens
/// read it.
fn row(document: &Value) -> CommandResult<DocumentRow> {
    Ok(DocumentRow::deserialize(document).map_err(sync_core::SyncError::from)?)
}

/// The signed-in user as the access rules see them.
async fn me(replica: &sync_core::Replica) -> CommandResult<Caller> {
    replica
        .state("profile")
        .await?
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        .as_ref()
        .and_then(rights::caller)
        .ok_or_else(|| AppError::new("unauthorized", "Sign in again."))
}

/// Edits of this row the platform refused and the person has not dealt with yet.
async fn refusals_of(replica: &sync_core::Replica, row: Uuid) -> CommandResult<Vec<RejectedEdit>> {
    Ok(replica
        .rejected_edits()
        .await?
        .into_iter()
        .filter(|r| r.row_id == row)
        .collect())
}

/// A patient as its screen shows it: what may be done to it, and any refusal to deal with.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PatientView {
    #[serde(flatten)]
    pub detail: PatientDetail,
    pub can: PatientActions,
    pub refusals: Vec<RejectedEdit>,
}

#[tauri::command(rename_all = "snake_case")]
pub async fn patient(desk: Cmd<'_>, id: Uuid) -> CommandResult<PatientView> {
    let replica = desk.replica().await;
    let caller = me(&replica).await?;
    let detail = if reads_online(&caller) {
        let patient = sync_core::online::patient(&desk.keystore, id).await?;
        PatientDetail {
            sync_state: online_state(&patient),
            patient,
            conflicted_fields: Vec::new(),
            deletion_in_question: false,
        }
    } else {
        replica.patient_detail(id).await?
    };
    let can = PatientActions::of(
        &caller,
        &rights::patient_facts(&caller, Some(&detail.patient)),
    );
    Ok(PatientView {
        detail,
        can,
        refusals: refusals_of(&replica, id).await?,
    })
}

#[tauri::command(rename_all = "snake_case")]
pub async fn create_patient(
    app: AppHandle,
    desk: Cmd<'_>,
    fields: Map<String, Value>,
) -> CommandResult<NewPatientOutcome> {
    let outcome = desk.replica().await.create_patient(fields).await?;
    emit_status(&app).await;
    Ok(outcome)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn update_patient(
    app: AppHandle,
    desk: Cmd<'_>,
    id: Uuid,
    fields: Map<String, Value>,
) -> CommandResult<()> {
    desk.replica()
        .await
        .update(SyncTable::Patients, id, fields)
        .await?;
    emit_status(&app).await;
    Ok(())
}

#[tauri::command(rename_all = "snake_case")]
pub async fn delete_patient(app: AppHandle, desk: Cmd<'_>, id: Uuid) -> CommandResult<()> {
    desk.replica().await.delete(SyncTable::Patients, id).await?;
    emit_status(&app).await;
    Ok(())
}

/// Asks the patient's PHP for documents (needs a connection); the patient's page follows the
/// request through its log entry.
#[tauri::command(rename_all = "snake_case")]
pub async fn request_documents(
    desk: Cmd<'_>,
    patient_id: Uuid,
    note: Option<String>,
    types: Vec<String>,
) -> CommandResult<Value> {
    let request =
        sync_core::online::request_documents(&desk.keystore, patient_id, note, types).await?;
    // Its log entry, and where it stands, come with a sync.
    desk.sync.wake();
    Ok(request)
}

// ---------- documents ----------

#[tauri::command(rename_all = "snake_case")]
pub async fn documents(
    desk: Cmd<'_>,
    filter: DocumentFilter,
) -> CommandResult<Vec<DocumentSummary>> {
    let replica = desk.replica().await;
    if !reads_online(&me(&replica).await?) {
        return Ok(replica.documents(&filter).await?);
    }
    // An administrator reads one patient's documents at a time, online.
    let Some(patient) = filter.patient_id else {
        return Ok(Vec::new());
    };
    let page = sync_core::online::patient_documents(&desk.keystore, patient).await?;
    items(&page)
        .iter()
        .map(|d| {
            Ok(DocumentSummary {
                document: row(d)?,
                sync_state: SyncState::Synced,
                patient_name: None,
                patient_birth_date: None,
            })
        })
        .collect()
}

/// A document as its screen shows it: whose it is, what may be done to it, any refusal.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DocumentView {
    #[serde(flatten)]
    pub document: DocumentRow,
    pub patient_name: Option<String>,
    pub patient_birth_date: Option<String>,
    pub can: DocumentActions,
    pub refusals: Vec<RejectedEdit>,
}

#[tauri::command(rename_all = "snake_case")]
pub async fn document(desk: Cmd<'_>, id: Uuid) -> CommandResult<DocumentView> {
    let replica = desk.replica().await;
    let caller = me(&replica).await?;
    let online = reads_online(&caller);
    let document = if online {
        sync_core::online::document(&desk.keystore, id).await?
    } else {
        replica
            .row(SyncTable::HealthcareDocuments, id)
            .await?
            .ok_or_else(|| AppError::new("not_found", "This document is not on this computer."))?
    };
    let patient = match document["patient_id"].as_str().and_then(|p| p.parse().ok()) {
        Some(p) if online => Some(sync_core::online::patient(&desk.keystore, p).await?),
        Some(p) => replica.row(SyncTable::Patients, p).await?,
        None => None,
    };
    let can = DocumentActions::of(
        &caller,
        rights::patient_facts(&caller, patient.as_ref()),
        &document,
    );
    let text = |key: &str| {
        patient
            .as_ref()
            .and_then(|p| p[key].as_str())
            .map(str::to_owned)
    };
    Ok(DocumentView {
        patient_name: text("name"),
        patient_birth_date: text("birth_date"),
        can,
        refusals: refusals_of(&replica, id).await?,
        document: row(&document)?,
    })
}

/// A document's body, for the viewer and downloads.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Body {
    pub mime_type: String,
    pub base64: String,
}

/// A document's body: from the replica when kept there (fetched before, or written here),
/// else from the platform (then kept for offline reading). An administrator's is read from
/// the platform each time and kept nowhere.
async fn body_of(desk: &Desk, id: Uuid) -> CommandResult<(String, Vec<u8>)> {
    let replica = desk.replica().await;
    let online = reads_online(&me(&replica).await?);
    Ok(sync_core::signed_in(&desk.keystore, |remote| {
        let replica = replica.clone();
        async move {
            if online {
                sync_core::online_body(&remote, id).await
            } else {
                sync_core::document_body(&replica, &remote, id).await
            }
        }
    })
    .await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn document_body(desk: Cmd<'_>, id: Uuid) -> CommandResult<Body> {
    let (mime_type, bytes) = body_of(&desk, id).await?;
    Ok(Body {
        mime_type,
        base64: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

/// Saves a document's body where the person chooses (the system's save dialog, starting in
/// their Downloads folder); the path it went to, or `None` when they cancelled.
#[tauri::command(rename_all = "snake_case")]
pub async fn save_document(
    app: AppHandle,
    desk: Cmd<'_>,
    id: Uuid,
    file_name: String,
) -> CommandResult<Option<String>> {
    use tauri::Manager as _;
    use tauri_plugin_dialog::DialogExt as _;
    let (chosen, answer) = tokio::sync::oneshot::channel();
    let mut dialog = app.dialog().file().set_file_name(&file_name);
    if let Ok(downloads) = app.path().download_dir() {
        dialog = dialog.set_directory(downloads);
    }
    dialog.save_file(move |path| {
        let _ = chosen.send(path);
    });
    let Some(path) = answer.await.ok().flatten() else {
        return Ok(None);
    };
    let path = path
        .into_path()
        .map_err(|_| AppError::new("invalid", "That place cannot be saved to."))?;
    // The viewer had the body, so this reads it from the replica (or, for an administrator,
    // from the platform again).
    let (_, bytes) = body_of(&desk, id).await?;
    write_private(&path, &bytes).await.map_err(|e| {
        AppError::new(
            "save_failed",
            format!("The file could not be saved there: {}.", e.kind()),
        )
    })?;
    Ok(Some(path.display().to_string()))
}

/// Writes a health record readable by its owner only (0600), whole or not at all: into a
/// sibling file first, renamed over `path` once complete.
async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".part");
    let partial = std::path::PathBuf::from(partial);
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let written = async {
        let mut file = options.open(&partial).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        tokio::fs::rename(&partial, path).await
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    written
}

/// A text document written here; it reaches the platform at the next sync.
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NewTextDocument {
    pub patient_id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub date: String,
    pub title: String,
    pub content: String,
}

#[tauri::command(rename_all = "snake_case")]
pub async fn create_document(
    app: AppHandle,
    desk: Cmd<'_>,
    document: NewTextDocument,
) -> CommandResult<Uuid> {
    let mut fields = Map::new();
    fields.insert(
        "patient_id".into(),
        Value::String(document.patient_id.to_string()),
    );
    fields.insert("type".into(), Value::String(document.kind));
    fields.insert("date".into(), Value::String(document.date));
    fields.insert("title".into(), Value::String(document.title));
    fields.insert("content".into(), Value::String(document.content));
    let id = desk
        .replica()
        .await
        .insert(SyncTable::HealthcareDocuments, fields)
        .await?;
    emit_status(&app).await;
    Ok(id)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn update_document(
    app: AppHandle,
    desk: Cmd<'_>,
    id: Uuid,
    fields: Map<String, Value>,
) -> CommandResult<()> {
    desk.replica()
        .await
        .update(SyncTable::HealthcareDocuments, id, fields)
        .await?;
    emit_status(&app).await;
    Ok(())
}

#[tauri::command(rename_all = "snake_case")]
pub async fn delete_document(app: AppHandle, desk: Cmd<'_>, id: Uuid) -> CommandResult<()> {
    let replica = desk.replica().await;
    if reads_online(&me(&replica).await?) {
        // An administrator's documents are not on this computer: deleted on the platform.
        sync_core::online::delete_document(&desk.keystore, id).await?;
        return Ok(());
    }
    replica.delete(SyncTable::HealthcareDocuments, id).await?;
    emit_status(&app).await;
    Ok(())
}

/// A file to attach, its bytes in base64 (how the webview hands over a `File`).
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FileUpload {
    pub patient_id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub date: String,
    pub title: String,
    pub mime_type: String,
    pub base64: String,
}

/// Attaches a file to a patient as a new document, with or without a connection: kept here
/// at once (pending, viewable) and sent at the next sync. A text file becomes a text
/// document, its words searchable. Returns the document's id.
#[tauri::command(rename_all = "snake_case")]
pub async fn attach_file(app: AppHandle, desk: Cmd<'_>, file: FileUpload) -> CommandResult<Uuid> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(file.base64.as_bytes())
        .map_err(|_| AppError::new("invalid", "The file could not be read."))?;
    let replica = desk.replica().await;
    let id = if domain::check::mime_essence(&file.mime_type) == "text/plain" {
        let content = String::from_utf8(bytes)
            .map_err(|_| AppError::new("invalid", "The text file is not UTF-8 text."))?;
        let mut fields = Map::new();
        fields.insert("patient_id".into(), json!(file.patient_id));
        fields.insert("type".into(), json!(file.kind));
        fields.insert("date".into(), json!(file.date));
        fields.insert("title".into(), json!(file.title));
        fields.insert("content".into(), json!(content));
        replica
            .insert(SyncTable::HealthcareDocuments, fields)
            .await?
    } else {
        replica
            .attach(sync_core::files::Attachment {
                patient_id: file.patient_id,
                kind: file.kind,
                date: file.date,
                title: file.title,
                mime_type: file.mime_type,
                bytes,
            })
            .await?
    };
    emit_status(&app).await;
    desk.sync.wake();
    Ok(id)
}

/// A patient's files on this computer: whether all are kept here, and how many are.
#[tauri::command(rename_all = "snake_case")]
pub async fn patient_files(desk: Cmd<'_>, patient_id: Uuid) -> CommandResult<PatientFiles> {
    Ok(desk.replica().await.patient_files(patient_id).await?)
}

/// "Keep this patient available offline": every file of theirs is fetched now (with
/// progress in the sync bar) and after each sync; or no longer.
#[tauri::command(rename_all = "snake_case")]
pub async fn keep_offline(
    desk: Cmd<'_>,
    patient_id: Uuid,
    keep: bool,
) -> CommandResult<PatientFiles> {
    let replica = desk.replica().await;
    replica.keep_offline(patient_id, keep).await?;
    desk.sync.prefetch_due.store(true, Ordering::Relaxed);
    desk.sync.wake();
    Ok(replica.patient_files(patient_id).await?)
}

/// What this computer keeps on its disk (Profile).
#[tauri::command(rename_all = "snake_case")]
pub async fn disk_use(desk: Cmd<'_>) -> CommandResult<DiskUse> {
    Ok(desk.replica().await.disk_use().await?)
}

/// Keeps files of all one's patients here, newest first, within `megabytes` (`None`: no
/// budget: files opened, attached here or of patients kept offline only).
#[tauri::command(rename_all = "snake_case")]
pub async fn set_file_budget(desk: Cmd<'_>, megabytes: Option<u32>) -> CommandResult<DiskUse> {
    let replica = desk.replica().await;
    replica
        .set_file_budget(megabytes.map(|mb| i64::from(mb) * 1024 * 1024))
        .await?;
    desk.sync.prefetch_due.store(true, Ordering::Relaxed);
    desk.sync.wake();
    Ok(replica.disk_use().await?)
}

/// Practitioners a document can be shared with (the directory in the replica).
#[tauri::command(rename_all = "snake_case")]
pub async fn practitioners(desk: Cmd<'_>) -> CommandResult<Vec<Value>> {
    Ok(desk.replica().await.practitioners().await?)
}

/// Live shares of a document.
#[tauri::command(rename_all = "snake_case")]
pub async fn shares(desk: Cmd<'_>, document_id: Uuid) -> CommandResult<Vec<Value>> {
    Ok(desk.replica().await.live_shares(document_id).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn share_document(
    desk: Cmd<'_>,
    document_id: Uuid,
    practitioner_id: Uuid,
) -> CommandResult<Value> {
    let share = sync_core::online::share(&desk.keystore, document_id, practitioner_id).await?;
    desk.sync.wake();
    Ok(share)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn revoke_share(
    desk: Cmd<'_>,
    document_id: Uuid,
    share_id: Uuid,
) -> CommandResult<Value> {
    let done = sync_core::online::revoke_share(&desk.keystore, document_id, share_id).await?;
    desk.sync.wake();
    Ok(done)
}

// ---------- new-patient inquiries ----------

/// New-patient inquiries in the replica (dieticians hold those naming them or no one),
/// newest first, optionally of one status.
#[tauri::command(rename_all = "snake_case")]
pub async fn inquiries(
    desk: Cmd<'_>,
    status: Option<InquiryStatus>,
) -> CommandResult<Vec<Inquiry>> {
    Ok(desk.replica().await.inquiries(status).await?)
}

/// Makes a patient of an inquiry, on the platform: one patient however many dieticians press
/// Convert, so it needs a connection. The duplicate warning applies as for a new patient.
/// The patient is kept here at once, to open; the inquiry's new state comes with the sync.
#[tauri::command(rename_all = "snake_case")]
pub async fn convert_inquiry(
    app: AppHandle,
    desk: Cmd<'_>,
    id: Uuid,
    fields: Map<String, Value>,
) -> CommandResult<NewPatientOutcome> {
    if let Some(duplicate) = desk.replica().await.duplicate_of(&fields).await? {
        return Ok(duplicate);
    }
    let patient = sync_core::online::convert_inquiry(&desk.keystore, id, fields).await?;
    let created = patient.id;
    desk.replica()
        .await
        .keep_from_platform(SyncTable::Patients, &patient)
        .await?;
    desk.sync.wake();
    emit_status(&app).await;
    Ok(NewPatientOutcome::Created { id: created })
}

/// Sets an inquiry aside, on the platform (needs a connection).
#[tauri::command(rename_all = "snake_case")]
pub async fn dismiss_inquiry(app: AppHandle, desk: Cmd<'_>, id: Uuid) -> CommandResult<Inquiry> {
    let inquiry = sync_core::online::dismiss_inquiry(&desk.keystore, id).await?;
    desk.replica()
        .await
        .keep_from_platform(SyncTable::Inquiries, &inquiry)
        .await?;
    emit_status(&app).await;
    Ok(inquiry)
}

// ---------- sync log, conflicts, refused edits ----------

#[tauri::command(rename_all = "snake_case")]
pub async fn sync_log(desk: Cmd<'_>, filter: LogFilter) -> CommandResult<Vec<LogLine>> {
    Ok(desk.replica().await.sync_log(&filter).await?)
}

/// A conflict as the conflicts screen shows it.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Conflict {
    pub id: i64,
    pub table: SyncTable,
    pub row_id: Uuid,
    /// `fields`: both sides wrote `field`; `edited_on_server`: deleted here, edited there;
    /// `deleted_on_server`: edited here, deleted there.
    pub kind: ConflictKind,
    /// The patient's name or the document's title, for finding one's way.
    pub label: String,
    pub field: String,
    pub mine: Value,
    pub theirs: Value,
}

#[tauri::command(rename_all = "snake_case")]
pub async fn conflicts(desk: Cmd<'_>) -> CommandResult<Vec<Conflict>> {
    let replica = desk.replica().await;
    let mut out = Vec::new();
    for c in replica.conflicts().await? {
        // The row here, else the side of the conflict that still has it.
        let row = replica.row(c.table, c.row_id).await?.unwrap_or_else(|| {
            match (&c.client_value, &c.server_value) {
                (Value::Object(_), _) => c.client_value.clone(),
                _ => c.server_value.clone(),
            }
        });
        let label = row["name"]
            .as_str()
            .or(row["title"].as_str())
            .unwrap_or("(removed)")
            .to_owned();
        out.push(Conflict {
            id: c.id,
            table: c.table,
            row_id: c.row_id,
            kind: c.kind,
            label,
            field: c.field,
            mine: c.client_value,
            theirs: c.server_value,
        });
    }
    Ok(out)
}

/// How a conflict is settled.
#[derive(Debug, Deserialize)]
#[serde(tag = "keep", rename_all = "snake_case")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum Resolution {
    Mine,
    Theirs,
    /// A value written by the person (a merge of both).
    Value {
        value: Value,
    },
}

#[tauri::command(rename_all = "snake_case")]
pub async fn resolve_conflict(
    app: AppHandle,
    desk: Cmd<'_>,
    id: i64,
    resolution: Resolution,
) -> CommandResult<()> {
    let replica = desk.replica().await;
    let conflict = replica
        .conflicts()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| AppError::new("not_found", "That conflict was already settled."))?;
    let choice = match resolution {
        Resolution::Mine => sync_core::Resolution::Mine,
        Resolution::Theirs => sync_core::Resolution::Theirs,
        Resolution::Value { value } => sync_core::Resolution::Value(value),
    };
    replica.resolve(&conflict, choice).await?;
    emit_status(&app).await;
    desk.sync.wake();
    Ok(())
}

#[tauri::command(rename_all = "snake_case")]
pub async fn rejected(desk: Cmd<'_>) -> CommandResult<Vec<RejectedEdit>> {
    Ok(desk.replica().await.rejected_edits().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn dismiss_rejected(
    app: AppHandle,
    desk: Cmd<'_>,
    mutation_id: String,
) -> CommandResult<()> {
    desk.replica().await.dismiss_refusal(&mutation_id).await?;
    emit_status(&app).await;
    Ok(())
}

// ---------- profile and users ----------

#[tauri::command(rename_all = "snake_case")]
pub async fn profile(desk: Cmd<'_>) -> CommandResult<Value> {
    let me = sync_core::online::me(&desk.keystore).await?;
    desk.replica()
        .await
        .set_state("profile", &me.to_string())
        .await?;
    Ok(me)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn users(desk: Cmd<'_>) -> CommandResult<Value> {
    Ok(sync_core::online::users(&desk.keystore).await?)
}

/// The providers (PHPs) by name, to link a patient or a provider's staff to one. Kept on this
/// computer as last read, so a patient's PHP is named offline too.
#[tauri::command(rename_all = "snake_case")]
pub async fn providers(desk: Cmd<'_>) -> CommandResult<Vec<ProviderEntry>> {
    let replica = desk.replica().await;
    match sync_core::online::provider_directory(&desk.keystore).await {
        Ok(listed) => {
            let kept = serde_json::to_string(&listed).map_err(sync_core::SyncError::from)?;
            replica.set_state(PROVIDERS, &kept).await?;
            Ok(listed)
        }
        Err(sync_core::SyncError::Offline(_)) => Ok(replica
            .state(PROVIDERS)
            .await?
            .and_then(|kept| serde_json::from_str(&kept).ok())
            .unwrap_or_default()),
        Err(e) => Err(e.into()),
    }
}

/// The summary of a patient's documents for their page (a visit, for what is new since the
/// last one); `None` for an administrator, whose computer holds no patient data.
#[tauri::command(rename_all = "snake_case")]
pub async fn document_digest(
    desk: Cmd<'_>,
    patient_id: Uuid,
) -> CommandResult<Option<DocumentDigest>> {
    let replica = desk.replica().await;
    if reads_online(&me(&replica).await?) {
        return Ok(None);
    }
    Ok(Some(replica.document_digest(patient_id).await?))
}

/// The patient's followed measures over time (weight, blood pressure, HbA1c, lipids…), each
/// in its own unit: from the replica, or for an administrator from the platform.
#[tauri::command(rename_all = "snake_case")]
pub async fn trends(desk: Cmd<'_>, patient_id: Uuid) -> CommandResult<Vec<Trend>> {
    let replica = desk.replica().await;
    if !reads_online(&me(&replica).await?) {
        return Ok(replica.trends(patient_id).await?);
    }
    let values = sync_core::online::measurements(&desk.keystore, patient_id).await?;
    Ok(sync_core::views::trends_of(&values))
}

/// Admin: links to a PHP awaiting a decision (or, with `state`, those approved or refused),
/// the PHP's record beside ours.
#[tauri::command(rename_all = "snake_case")]
pub async fn link_reviews(
    desk: Cmd<'_>,
    state: Option<LinkApproval>,
) -> CommandResult<Vec<LinkReview>> {
    Ok(sync_core::online::link_reviews(&desk.keystore, state).await?)
}

/// Admin: approves or refuses a link as reviewed (`fingerprint`).
#[tauri::command(rename_all = "snake_case")]
pub async fn decide_link(
    desk: Cmd<'_>,
    patient_id: Uuid,
    decision: LinkApproval,
    fingerprint: String,
) -> CommandResult<()> {
    sync_core::online::decide_link(&desk.keystore, patient_id, decision, &fingerprint).await?;
    Ok(())
}

/// Admin: the platform's background jobs in `state` (all when `None`), newest first.
#[tauri::command(rename_all = "snake_case")]
pub async fn jobs(desk: Cmd<'_>, state: Option<JobStatus>) -> CommandResult<Vec<Job>> {
    Ok(sync_core::online::jobs(&desk.keystore, state).await?)
}

/// Admin: the Carepatron side at a glance.
#[tauri::command(rename_all = "snake_case")]
pub async fn carepatron_state(desk: Cmd<'_>) -> CommandResult<CarepatronState> {
    Ok(sync_core::online::carepatron_state(&desk.keystore).await?)
}

/// Admin: runs a parked job again from its first attempt.
#[tauri::command(rename_all = "snake_case")]
pub async fn replay_job(desk: Cmd<'_>, id: Uuid) -> CommandResult<Job> {
    Ok(sync_core::online::replay_job(&desk.keystore, id).await?)
}

/// Who read which patient's data (see `sync_core::online::audit_trail`).
#[tauri::command(rename_all = "snake_case")]
pub async fn audit_trail(desk: Cmd<'_>, filter: AuditQuery) -> CommandResult<Page<AuditEntry>> {
    Ok(sync_core::online::audit_trail(&desk.keystore, &filter).await?)
}

/// Admin: the providers with their settings (PHP connections).
#[tauri::command(rename_all = "snake_case")]
pub async fn provider_settings(desk: Cmd<'_>) -> CommandResult<Vec<Provider>> {
    Ok(sync_core::online::provider_settings(&desk.keystore).await?)
}

/// Admin: a new provider (`id` absent), or new settings for one.
#[tauri::command(rename_all = "snake_case")]
pub async fn save_provider(
    desk: Cmd<'_>,
    id: Option<Uuid>,
    provider: NewProvider,
) -> CommandResult<Provider> {
    Ok(sync_core::online::save_provider(&desk.keystore, id, &provider).await?)
}

/// Admin: removes a provider nothing links to any more.
#[tauri::command(rename_all = "snake_case")]
pub async fn delete_provider(desk: Cmd<'_>, id: Uuid) -> CommandResult<()> {
    sync_core::online::delete_provider(&desk.keystore, id).await?;
    Ok(())
}

/// Admin: "Test connection" for a provider, step by step.
#[tauri::command(rename_all = "snake_case")]
pub async fn test_provider(desk: Cmd<'_>, id: Uuid) -> CommandResult<Vec<ConnectionStep>> {
    Ok(sync_core::online::test_provider(&desk.keystore, id).await?)
}

/// Where the replica keeps the providers' names.
const PROVIDERS: &str = "providers";

/// Pulls the patient's documents from their PHP now. The pull runs on the platform; its
/// progress arrives as `pull-progress` events until it is done, then a notification says
/// what it brought and a sync brings it here.
#[tauri::command(rename_all = "snake_case")]
pub async fn sync_patient(app: AppHandle, desk: Cmd<'_>, patient_id: Uuid) -> CommandResult<Job> {
    let job = sync_core::online::sync_patient(&desk.keystore, patient_id).await?;
    crate::background::follow_pull(app, patient_id, job.clone());
    Ok(job)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn create_user(desk: Cmd<'_>, user: Value) -> CommandResult<Value> {
    Ok(sync_core::online::create_user(&desk.keystore, user).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn update_user(desk: Cmd<'_>, id: Uuid, fields: Value) -> CommandResult<Value> {
    Ok(sync_core::online::update_user(&desk.keystore, id, fields).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn delete_user(desk: Cmd<'_>, id: Uuid) -> CommandResult<Value> {
    Ok(sync_core::online::delete_user(&desk.keystore, id).await?)
}

// ---------- updates ----------

#[tauri::command(rename_all = "snake_case")]
pub async fn check_update(app: AppHandle) -> CommandResult<crate::updates::UpdateInfo> {
    crate::updates::check(&app).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn download_update(app: AppHandle) -> CommandResult<String> {
    crate::updates::download(&app).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn install_update(app: AppHandle) -> CommandResult<()> {
    crate::updates::install(&app).await
}

#[cfg(test)]
mod tests {
    use super::write_private;

    #[tokio::test]
    async fn a_download_is_written_whole_and_for_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("download-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("Lipid panel.pdf");
        write_private(&path, b"%PDF-1.4 body").await.expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"%PDF-1.4 body");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names.len(), 1, "no partial file left: {names:?}");
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}
