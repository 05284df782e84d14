//! `POST /api/v1/sync/push`: offline edits from a replica's outbox, each applied exactly once.
//!
//! Every mutation runs in a transaction of its own that also stores its outcome under its
//! `mutation_id`; a mutation sent again (the reply was lost, the client was killed) gets the
//! stored outcome back as `duplicate`. Each is authorized as its REST twin would be, and runs
//! inside a savepoint that an error rolls back, so a refusal found mid-way (a validation, a
//! unique index) leaves nothing half-written.
//!
//! Merging, field by field: an update based on an older version writes every field nobody
//! else wrote since (the device's own earlier mutations do not count: they come before it)
//! and reports the rest as conflicts with both values. A delete of a row someone else edited
//! since, and an update of a row someone else deleted, are conflicts too: the person decides
//! (a `restore` mutation keeps their edit). Conflicts and refusals carry the row as the server
//! now holds it, so the replica returns to the truth. A rejected or conflicting mutation never
//! stops the ones after it.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiJson, AuthUser};
use super::{documents, patients};
use crate::app::AppState;
use crate::db::Found;
use crate::db::{
    delete_document_in, delete_patient_in, insert_document_in, insert_patient_in, patient_facts,
    update_row_in, Bind, DbError, StoredDocument, Written,
};
use crate::db::{mutations, uploads};
use axum::extract::State;
use axum::Json;
use domain::check::FieldError;
use domain::dto::{
    ConflictKind, DocumentUpdate, FieldConflict, HealthcareDocument, Mutation, MutationOp,
    MutationResult, MutationStatus, NewAttachedDocument, NewPatient, NewTextDocument, Patient,
    PatientUpdate, PushRequest, PushResponse, SyncTable,
};
use domain::{Caller, Denied};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sqlx::{AnyConnection, Connection as _};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Mutations in one push at most.
const MAX_MUTATIONS: usize = 1_000;

/// Apply queued offline edits, in order, each exactly once.
#[utoipa::path(post, path = "/api/v1/sync/push", operation_id = "push_changes", tag = "sync", security(("bearer" = [])),
    request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn push(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(req): ApiJson<PushRequest>,
) -> ApiResult<Json<PushResponse>> {
    let device = req.device_id.trim();
    if device.is_empty() || device.len() > 200 {
        return Err(ApiError::invalid(
            "device_id",
            "must be 1 to 200 characters",
        ));
    }
    if req.mutations.len() > MAX_MUTATIONS {
        return Err(ApiError::invalid(
            "mutations",
            format!("at most {MAX_MUTATIONS} per push; send the rest next"),
        ));
    }
    let device = device.to_owned();
    let mut results = Vec::with_capacity(req.mutations.len());
    for m in req.mutations {
        // On a task of its own, so that a client gone mid-push (killed, timed out) cannot
        // cancel a mutation half-way: hyper drops this handler then, and a transaction dropped
        // while its COMMIT is in flight makes sqlx send a ROLLBACK after the COMMIT (PostgreSQL:
        // "WARNING: there is no transaction in progress"); one dropped during BEGIN can leave
        // the pooled connection inside a transaction. The mutation under way finishes; the push
        // stops before the next, and the client's retry gets it back as a duplicate.
        let (app, device) = (app.clone(), device.clone());
        let applied = tokio::spawn(async move { apply_once(&app, &caller, &device, m).await });
        results.push(applied.await.map_err(anyhow::Error::from)??);
    }
    Ok(Json(PushResponse { results }))
}

/// The outcome of a mutation before it is tied to its id.
struct Outcome {
    status: MutationStatus,
    version: Option<i64>,
    kind: Option<ConflictKind>,
    code: Option<String>,
    reason: Option<String>,
    conflicts: Vec<FieldConflict>,
    /// A patient this mutation linked to their PHP anew (the pull's old match forgotten in
    /// its transaction): their pull starts over once it is committed, as after a REST `PUT`.
    relinked: Option<Patient>,
}

impl Outcome {
    fn applied(version: i64) -> Self {
        Self {
            status: MutationStatus::Applied,
            version: Some(version),
            kind: None,
            code: None,
            reason: None,
            conflicts: vec![],
            relinked: None,
        }
    }

    fn relinking(mut self, patient: Option<Patient>) -> Self {
        self.relinked = patient;
        self
    }

    fn rejected(code: &str, reason: impl Into<String>) -> Self {
        Self {
            status: MutationStatus::Rejected,
            version: None,
            kind: None,
            code: Some(code.to_owned()),
            reason: Some(reason.into()),
            conflicts: vec![],
            relinked: None,
        }
    }

    fn conflict(kind: ConflictKind, version: i64, conflicts: Vec<FieldConflict>) -> Self {
        Self {
            status: MutationStatus::Conflict,
            version: Some(version),
            kind: Some(kind),
            code: None,
            reason: None,
            conflicts,
            relinked: None,
        }
    }

    fn result(self, mutation_id: Uuid) -> MutationResult {
        MutationResult {
            mutation_id,
            status: self.status,
            original_status: None,
            version: self.version,
            kind: self.kind,
            code: self.code,
            reason: self.reason,
            conflicts: self.conflicts,
            row: None,
        }
    }
}

/// What an API error means for one mutation: a refusal, or a failure of the whole push.
fn refusal(e: ApiError) -> Result<Outcome, ApiError> {
    Ok(match e {
        ApiError::NotFound(what) => Outcome::rejected("not_found", format!("{what} not found")),
        ApiError::Forbidden(Denied(why)) => Outcome::rejected("forbidden", why),
        ApiError::Invalid { detail, field } => {
            Outcome::rejected("validation_failed", FieldError { field, detail }.sentence())
        }
        ApiError::Conflict { code, detail, .. } => Outcome::rejected(code, detail),
        other => return Err(other),
    })
}

async fn apply_once(
    app: &AppState,
    caller: &Caller,
    device: &str,
    m: Mutation,
) -> ApiResult<MutationResult> {
    // `None`: the same mutation was being applied by another request at the same moment (a
    // retry while the cut-off first attempt still ran at the server). That one stored its
    // outcome first; this one's transaction was rolled back, and asking again answers it as
    // the repeat it is.
    match try_apply_once(app, caller, device, &m).await? {
        Some(result) => Ok(result),
        None => try_apply_once(app, caller, device, &m)
            .await?
            .ok_or_else(|| anyhow::anyhow!("mutation stored twice at once").into()),
    }
}

async fn try_apply_once(
    app: &AppState,
    caller: &Caller,
    device: &str,
    m: &Mutation,
) -> ApiResult<Option<MutationResult>> {
    let mut tx = app.db.writer().begin().await.map_err(anyhow::Error::from)?;
    let mut relinked = None;
    let mut result = match mutations::stored_outcome(&mut tx, m.mutation_id).await? {
        Some((owner, _)) if owner != caller.id.to_string() => {
            return Ok(Some(
                Outcome::rejected("conflict", "this mutation_id was used by another account")
                    .result(m.mutation_id),
            ));
        }
        Some((_, outcome)) => {
            let mut first: MutationResult =
                serde_json::from_str(&outcome).map_err(anyhow::Error::from)?;
            first.original_status = Some(first.status);
            first.status = MutationStatus::Duplicate;
            first
        }
        None => {
            let mut attempt = tx.begin().await.map_err(anyhow::Error::from)?;
            let mut outcome = match apply(app, caller, &mut attempt, device, m).await {
                Ok(o) => {
                    attempt.commit().await.map_err(anyhow::Error::from)?;
                    o
                }
                Err(e) => {
                    attempt.rollback().await.map_err(anyhow::Error::from)?;
                    refusal(e)?
                }
            };
            relinked = outcome.relinked.take();
            let result = outcome.result(m.mutation_id);
            // Stored without the row: a repeat reads it afresh.
            let stored = serde_json::to_string(&result).map_err(anyhow::Error::from)?;
            let stored = mutations::store_outcome(
                &mut tx,
                m.mutation_id,
                caller.id,
                device,
                m.device_seq,
                &stored,
            )
            .await;
            match stored {
                Err(DbError::Unique) => return Ok(None),
                other => other?,
            }
            result
        }
    };
    if result.original_status.unwrap_or(result.status) != MutationStatus::Applied {
        result.row = current_row(&mut tx, caller, m.table, m.row_id).await?;
    }
    tx.commit().await.map_err(anyhow::Error::from)?;
    if let Some(patient) = relinked {
        // Applied and committed: a failure to queue the pull must not turn into a refusal.
        // The scheduler pulls every linked patient anyway (RECORDS_PULL_INTERVAL_MINUTES).
        if let Err(e) = patients::pull_after_relink(app, caller, &patient).await {
            tracing::warn!(error = %e, "a pushed relink could not queue its pull; the scheduler will");
        }
    }
    // What a conflict or refusal hands back is a read of the record, audited like any other.
    // While the trail is down the push answers 503; the outcome is stored with the mutation,
    // so the client's retry gets it (and the row) once the trail is back.
    if result.row.is_some() || !result.conflicts.is_empty() {
        audit_read(app, caller, m.table, m.row_id, result.row.as_ref()).await?;
    }
    Ok(Some(result))
}

/// Records in the audit trail that the caller was shown (part of) a row.
async fn audit_read(
    app: &AppState,
    caller: &Caller,
    table: SyncTable,
    id: Uuid,
    row: Option<&Value>,
) -> ApiResult<()> {
    use crate::audit::Entity;
    let (entity, patient) = match table {
        SyncTable::Patients => (Entity::Patient, Some(id)),
        SyncTable::HealthcareDocuments => (
            Entity::Document,
            row.and_then(|r| r["patient_id"].as_str())
                .and_then(|p| p.parse().ok()),
        ),
        _ => return Ok(()),
    };
    Ok(app.audit.read(caller, entity, Some(id), patient).await?)
}

/// The row as the change feed would send it to the caller now; `None` when it is deleted or
/// out of their sight.
async fn current_row(
    conn: &mut AnyConnection,
    caller: &Caller,
    table: SyncTable,
    id: Uuid,
) -> ApiResult<Option<Value>> {
    let row = match table {
        SyncTable::Patients => mutations::patient(conn, caller.patient_scope(), id)
            .await?
            .filter(|f| !f.is_deleted())
            .map(|f| serde_json::to_value(f.row)),
        SyncTable::HealthcareDocuments => mutations::document(conn, caller.document_scope(), id)
            .await?
            .filter(|f| !f.is_deleted() && !f.parent_deleted)
            .map(|f| {
                // The feed sends documents without their text.
                serde_json::to_value(HealthcareDocument {
                    content: None,
                    ..f.row.document
                })
            }),
        _ => None,
    };
    Ok(row.transpose().map_err(anyhow::Error::from)?)
}

/// Parses mutation fields as a REST body, with the same field-naming errors (and the same
/// check the desktop app ran before queueing them).
fn parse<T: DeserializeOwned>(fields: &Map<String, Value>) -> ApiResult<T> {
    domain::check::parse_fields(fields)
        .map_err(|FieldError { field, detail }| ApiError::Invalid { detail, field })
}

/// A patient or document as a push finds it (deleted ones too), the caller's right to the
/// mutation's operation on it already checked.
struct Target {
    table: SyncTable,
    id: Uuid,
    version: i64,
    deleted_at: Option<String>,
    /// A document whose patient is deleted.
    parent_deleted: bool,
    row: TargetRow,
}

enum TargetRow {
    Patient(Patient),
    Document(HealthcareDocument),
}

impl Target {
    async fn find(caller: &Caller, conn: &mut AnyConnection, m: &Mutation) -> ApiResult<Self> {
        match m.table {
            SyncTable::Patients => {
                let Found {
                    row,
                    deleted_at,
                    parent_deleted,
                } = mutations::patient(conn, caller.patient_scope(), m.row_id)
                    .await?
                    .ok_or(ApiError::NotFound("patient"))?;
                caller.can_update_patient(&patient_facts(&row))?;
                Ok(Self {
                    table: m.table,
                    id: m.row_id,
                    version: row.version,
                    deleted_at,
                    parent_deleted,
                    row: TargetRow::Patient(row),
                })
            }
            SyncTable::HealthcareDocuments => {
                let Found {
                    row: StoredDocument { document, facts },
                    deleted_at,
                    parent_deleted,
                } = mutations::document(conn, caller.document_scope(), m.row_id)
                    .await?
                    .ok_or(ApiError::NotFound("document"))?;
                match m.op {
                    MutationOp::Delete => caller.can_delete_document(&facts)?,
                    // Bringing a document back is uploading it again: the uploader must
                    // still be allowed to add documents to that patient.
                    MutationOp::Restore => {
                        caller.can_update_document(&facts)?;
                        caller.can_upload_document(&facts.patient)?;
                    }
                    _ => caller.can_update_document(&facts)?,
                }
                Ok(Self {
                    table: m.table,
                    id: m.row_id,
                    version: document.version,
                    deleted_at,
                    parent_deleted,
                    row: TargetRow::Document(document),
                })
            }
            _ => Err(unsupported(m.table)),
        }
    }

    /// Writes `sets` over the row at `version`: a patient as REST `PUT` writes one (a changed
    /// link to their PHP forgets the pull's old match in this transaction, and the patient
    /// comes back to be pulled once committed). Returns the new version.
    async fn write(
        &self,
        app: &AppState,
        tx: &mut AnyConnection,
        version: i64,
        sets: Vec<(&'static str, Bind)>,
    ) -> ApiResult<(i64, Option<Patient>)> {
        match &self.row {
            TargetRow::Patient(before) => {
                let links = app.config.links;
                match mutations::update_patient_in(tx, before, Some(version), sets, links).await? {
                    Written::Done((after, relinked)) => {
                        Ok((after.version, relinked.then_some(after)))
                    }
                    // See `written`.
                    Written::Stale | Written::Missing => {
                        Err(anyhow::anyhow!("row changed during push").into())
                    }
                }
            }
            TargetRow::Document(_) => {
                let row =
                    update_row_in(tx, self.table.as_str(), self.id, Some(version), sets, "id")
                        .await?;
                Ok((written(row)?, None))
            }
        }
    }

    /// The row as REST shows it: the server's side of a field conflict.
    fn json(&self) -> ApiResult<Value> {
        Ok(match &self.row {
            TargetRow::Patient(p) => serde_json::to_value(p),
            TargetRow::Document(d) => serde_json::to_value(d),
        }
        .map_err(anyhow::Error::from)?)
    }

    /// The column writes of `fields`, checked as the REST `PUT` checks them.
    async fn sets(
        &self,
        app: &AppState,
        caller: &Caller,
        fields: &Map<String, Value>,
    ) -> ApiResult<Vec<(&'static str, Bind)>> {
        match &self.row {
            TargetRow::Patient(current) => {
                let change: PatientUpdate = parse(fields)?;
                if let Some(email) = &change.email {
                    if let Some(other) = app
                        .db
                        .patient_id_by_email(caller.id, email.as_str())
                        .await?
                    {
                        if other != self.id {
                            return Err(ApiError::Conflict {
                                code: "duplicate_patient",
                                detail: "one of your patients already has this email address"
                                    .into(),
                                existing_id: Some(other),
                            });
                        }
                    }
                }
                patients::update_sets(current, change)
            }
            TargetRow::Document(current) => {
                let change: DocumentUpdate = parse(fields)?;
                documents::update_sets(current, change)
            }
        }
    }
}

fn unsupported(table: SyncTable) -> ApiError {
    ApiError::Conflict {
        code: "unsupported",
        detail: format!("{table:?} rows are not written through sync; use the REST API"),
        existing_id: None,
    }
}

/// The fields of an edit that someone else also wrote since its base version (`written`),
/// to a different value than the edit's: the conflicts.
fn overlaps(
    fields: &Map<String, Value>,
    written: &BTreeSet<String>,
    current: &Value,
) -> Vec<FieldConflict> {
    fields
        .iter()
        .filter(|(name, _)| written.contains(name.as_str()))
        .map(|(name, client)| FieldConflict {
            field: name.clone(),
            server_value: current.get(name).cloned().unwrap_or(Value::Null),
            client_value: client.clone(),
        })
        .filter(|c| c.server_value != c.client_value)
        .collect()
}

async fn apply(
    app: &AppState,
    caller: &Caller,
    tx: &mut AnyConnection,
    device: &str,
    m: &Mutation,
) -> ApiResult<Outcome> {
    if m.op == MutationOp::Insert {
        return match m.table {
            SyncTable::Patients => insert_patient(app, caller, tx, m).await,
            SyncTable::HealthcareDocuments => insert_document(app, caller, tx, m).await,
            table => Err(unsupported(table)),
        };
    }
    let target = Target::find(caller, tx, m).await?;
    // A restore writes back what a person edits, whatever state the row is in now.
    let fields = match m.op {
        MutationOp::Restore => target.table.content_of(&m.fields),
        _ => m.fields.clone(),
    };
    let outcome = match (m.op, target.deleted_at.is_some()) {
        // Both sides wanted it gone.
        (MutationOp::Delete, true) => Outcome::applied(target.version),
        (MutationOp::Delete, false) => delete(tx, device, m, &target).await?,
        (MutationOp::Update, true) => {
            Outcome::conflict(ConflictKind::DeletedOnServer, target.version, vec![])
        }
        // Restored already (by someone else): an update like any other.
        (MutationOp::Update | MutationOp::Restore, false) => {
            update(app, caller, tx, device, m.base_version, fields, &target).await?
        }
        (MutationOp::Restore, true) => restore(app, caller, tx, &fields, &target).await?,
        (MutationOp::Insert, _) => unreachable!("inserts are handled above"),
    };
    if outcome.status == MutationStatus::Applied || outcome.kind == Some(ConflictKind::Fields) {
        mutations::tag_device(tx, target.table, target.id, target.version, device).await?;
    }
    Ok(outcome)
}

/// Writes the fields nobody else wrote since the base version; the others are conflicts.
async fn update(
    app: &AppState,
    caller: &Caller,
    tx: &mut AnyConnection,
    device: &str,
    base_version: i64,
    mut fields: Map<String, Value>,
    target: &Target,
) -> ApiResult<Outcome> {
    let mut conflicts = Vec::new();
    if target.version != base_version {
        let written =
            mutations::fields_written_since(tx, target.table, target.id, base_version, device)
                .await?;
        conflicts = overlaps(&fields, &written, &target.json()?);
        for c in &conflicts {
            fields.remove(&c.field);
        }
    }
    let (version, relinked) = if fields.is_empty() {
        (target.version, None)
    } else {
        let sets = target.sets(app, caller, &fields).await?;
        target.write(app, tx, target.version, sets).await?
    };
    Ok(if conflicts.is_empty() {
        Outcome::applied(version)
    } else {
        Outcome::conflict(ConflictKind::Fields, version, conflicts)
    }
    .relinking(relinked))
}

/// Deletes the row unless someone else edited what a person sees of it since the base
/// version (for a patient, its documents too): then deleting would throw their edit away
/// unseen.
async fn delete(
    tx: &mut AnyConnection,
    device: &str,
    m: &Mutation,
    target: &Target,
) -> ApiResult<Outcome> {
    if target.version != m.base_version
        && edited_since(tx, target.table, target.id, m.base_version, device).await?
    {
        return Ok(Outcome::conflict(
            ConflictKind::EditedOnServer,
            target.version,
            vec![],
        ));
    }
    // A patient's documents go with it: the delete names the ones it knew (id -> version),
    // and one added or edited by someone else since makes it a conflict too.
    // (A client from before this check sends no list and is not checked.)
    let known = match (target.table, m.fields.get("documents")) {
        (SyncTable::Patients, Some(Value::Object(known))) => Some(known),
        _ => None,
    };
    if let Some(known) = known {
        for (doc, version) in mutations::live_documents(tx, target.id).await? {
            let unseen = match known.get(&doc.to_string()).and_then(Value::as_i64) {
                None => true,
                Some(v) if v < version => {
                    edited_since(tx, SyncTable::HealthcareDocuments, doc, v, device).await?
                }
                Some(_) => false,
            };
            if unseen {
                return Ok(Outcome::conflict(
                    ConflictKind::EditedOnServer,
                    target.version,
                    vec![],
                ));
            }
        }
    }
    match target.table {
        SyncTable::Patients => delete_patient_in(tx, target.id).await?,
        _ => delete_document_in(tx, target.id).await?,
    };
    Ok(Outcome::applied(target.version + 1))
}

/// Whether someone other than `device` wrote what a person sees of a row since `version`.
async fn edited_since(
    tx: &mut AnyConnection,
    table: SyncTable,
    id: Uuid,
    version: i64,
    device: &str,
) -> ApiResult<bool> {
    let written = mutations::fields_written_since(tx, table, id, version, device).await?;
    // A file's new bytes (or the PHP's new version of a document) change its hash, not `content`.
    let seen = ["content_hash", "author"];
    Ok(table
        .content_fields()
        .iter()
        .chain(if table == SyncTable::HealthcareDocuments {
            &seen[..]
        } else {
            &[]
        })
        .any(|f| written.contains(*f)))
}

/// Brings a deleted row back with the person's fields written over it.
async fn restore(
    app: &AppState,
    caller: &Caller,
    tx: &mut AnyConnection,
    fields: &Map<String, Value>,
    target: &Target,
) -> ApiResult<Outcome> {
    if target.parent_deleted {
        return Ok(Outcome::rejected(
            "parent_deleted",
            "the patient of this document was deleted; restore the patient first",
        ));
    }
    // Checked before anything is written: the email may belong to another patient by now.
    let sets = target.sets(app, caller, fields).await?;
    let deleted_at = target.deleted_at.as_deref().unwrap_or_default();
    let version = match target.table {
        SyncTable::Patients => mutations::restore_patient_in(tx, target.id, deleted_at).await?,
        _ => mutations::restore_document_in(tx, target.id, deleted_at).await?,
    };
    // A restore changes no column but the tombstone's: the row as found is what `sets`
    // are written over.
    let (version, relinked) = if sets.is_empty() {
        (version, None)
    } else {
        target.write(app, tx, version, sets).await?
    };
    Ok(Outcome::applied(version).relinking(relinked))
}

async fn insert_patient(
    app: &AppState,
    caller: &Caller,
    tx: &mut AnyConnection,
    m: &Mutation,
) -> ApiResult<Outcome> {
    caller.can_create_patient()?;
    let new: NewPatient = parse(&m.fields)?;
    if mutations::patient(tx, domain::access::PatientScope::All, m.row_id)
        .await?
        .is_some()
    {
        return Ok(Outcome::rejected(
            "row_exists",
            "a patient with this id exists",
        ));
    }
    if app
        .db
        .patient_id_by_email(caller.id, new.email.as_str())
        .await?
        .is_some()
    {
        return Ok(Outcome::rejected(
            "duplicate_patient",
            "one of your patients already has this email address",
        ));
    }
    let patient = insert_patient_in(tx, m.row_id, caller.id, new, app.config.links).await?;
    // Linked from the start, as a REST `POST` may be: pulled once committed.
    let version = patient.version;
    Ok(Outcome::applied(version).relinking(patient.provider_id.is_some().then_some(patient)))
}

async fn insert_document(
    app: &AppState,
    caller: &Caller,
    tx: &mut AnyConnection,
    m: &Mutation,
) -> ApiResult<Outcome> {
    let mut fields = m.fields.clone();
    let patient_id = fields
        .remove("patient_id")
        .and_then(|v| v.as_str().and_then(|s| s.parse::<Uuid>().ok()))
        .ok_or_else(|| ApiError::invalid("patient_id", "a document insert names its patient_id"))?;
    let patient = patients::visible(app, caller, patient_id).await?;
    caller.can_upload_document(&patient_facts(&patient))?;
    if mutations::document(tx, domain::access::DocumentScope::All, m.row_id)
        .await?
        .is_some()
    {
        return Ok(Outcome::rejected(
            "row_exists",
            "a document with this id exists",
        ));
    }
    // A file made offline names the file sent ahead; a text document carries its text.
    let draft = if fields.contains_key("upload") {
        let file: NewAttachedDocument = parse(&fields)?;
        match uploads::take_in(tx, caller.id, &file.upload).await? {
            Some(staged) => documents::DocumentDraft::attached(file, staged),
            None => {
                return Ok(Outcome::rejected(
                    "file_missing",
                    "the file did not reach the platform, or waited too long for its \
                     document: attach it again",
                ))
            }
        }
    } else {
        documents::DocumentDraft::text(parse::<NewTextDocument>(&fields)?)?
    };
    let doc = insert_document_in(tx, draft.into_new(m.row_id, patient_id, caller)).await?;
    Ok(Outcome::applied(doc.version))
}

/// The version a guarded update made on the version just read wrote.
fn written(w: Written<sqlx::any::AnyRow>) -> ApiResult<i64> {
    use crate::db::RowExt as _;
    match w {
        Written::Done(row) => Ok(row.int("version")?),
        // Someone wrote between our read and our write: the whole push fails and the client
        // sends it again (what was applied comes back as duplicates).
        Written::Stale | Written::Missing => Err(anyhow::anyhow!("row changed during push").into()),
    }
}
