//! `POST /api/v1/sync/push`: offline edits from a replica's outbox, each applied exactly once.
//!
//! Every mutation runs in a transaction of its own that also stores its outcome under its
//! `mutation_id`; a mutation sent again (the reply was lost, the client was killed) gets the
//! stored outcome back as `duplicate`. Each is authorized as its REST twin would be. An update
//! based on an older version merges when the fields it writes were not written since, and is
//! a conflict (nothing written, both values returned) when they were. A rejected or
//! conflicting mutation never stops the ones after it.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiJson, AuthUser};
use super::{documents, patients};
use crate::app::AppState;
use crate::db::{
    delete_document_in, delete_patient_in, fields_changed_since, insert_document_in,
    insert_patient_in, patient_facts, update_row_in, Written,
};
use axum::extract::State;
use axum::Json;
use domain::dto::{
    FieldConflict, Mutation, MutationOp, MutationResult, MutationStatus, NewPatient,
    NewTextDocument, PatientUpdate, PushRequest, PushResponse, SyncTable,
};
use domain::{Caller, Denied};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sqlx::AnyConnection;
use uuid::Uuid;

/// Mutations in one push at most.
const MAX_MUTATIONS: usize = 1_000;

/// Apply queued offline edits, in order, each exactly once.
#[utoipa::path(post, path = "/api/v1/sync/push", tag = "sync", security(("bearer" = [])),
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
    let mut results = Vec::with_capacity(req.mutations.len());
    for m in req.mutations {
        results.push(apply_once(&app, &caller, device, m).await?);
    }
    Ok(Json(PushResponse { results }))
}

/// The outcome of a mutation before it is tied to its id.
struct Outcome {
    status: MutationStatus,
    version: Option<i64>,
    code: Option<String>,
    reason: Option<String>,
    conflicts: Vec<FieldConflict>,
}

impl Outcome {
    fn applied(version: i64) -> Self {
        Self {
            status: MutationStatus::Applied,
            version: Some(version),
            code: None,
            reason: None,
            conflicts: vec![],
        }
    }

    fn rejected(code: &str, reason: impl Into<String>) -> Self {
        Self {
            status: MutationStatus::Rejected,
            version: None,
            code: Some(code.to_owned()),
            reason: Some(reason.into()),
            conflicts: vec![],
        }
    }

    fn conflict(version: i64, conflicts: Vec<FieldConflict>) -> Self {
        Self {
            status: MutationStatus::Conflict,
            version: Some(version),
            code: None,
            reason: None,
            conflicts,
        }
    }

    fn result(self, mutation_id: Uuid) -> MutationResult {
        MutationResult {
            mutation_id,
            status: self.status,
            original_status: None,
            version: self.version,
            code: self.code,
            reason: self.reason,
            conflicts: self.conflicts,
        }
    }
}

/// What an API error means for one mutation: a refusal, or a failure of the whole push.
fn refusal(e: ApiError) -> Result<Outcome, ApiError> {
    Ok(match e {
        ApiError::NotFound(what) => Outcome::rejected("not_found", format!("{what} not found")),
        ApiError::Forbidden(Denied(why)) => Outcome::rejected("forbidden", why),
        ApiError::Invalid { detail, field } => Outcome::rejected(
            "validation_failed",
            match field {
                Some(f) => format!("{f}: {detail}"),
                None => detail,
            },
        ),
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
    let mut tx = app.db.writer().begin().await.map_err(anyhow::Error::from)?;
    let stored: Option<(String, String)> =
        sqlx::query_as("SELECT user_id, outcome FROM sync_mutations WHERE mutation_id = $1")
            .bind(m.mutation_id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(anyhow::Error::from)?;
    if let Some((owner, outcome)) = stored {
        if owner != caller.id.to_string() {
            return Ok(Outcome::rejected(
                "conflict",
                "this mutation_id was used by another account",
            )
            .result(m.mutation_id));
        }
        let mut first: MutationResult =
            serde_json::from_str(&outcome).map_err(anyhow::Error::from)?;
        first.original_status = Some(first.status);
        first.status = MutationStatus::Duplicate;
        return Ok(first);
    }
    let outcome = match apply(app, caller, &mut tx, &m).await {
        Ok(o) => o,
        Err(e) => refusal(e)?,
    };
    let result = outcome.result(m.mutation_id);
    sqlx::query(
        "INSERT INTO sync_mutations (mutation_id, user_id, device_id, device_seq, outcome, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(m.mutation_id.to_string())
    .bind(caller.id.to_string())
    .bind(device)
    .bind(m.device_seq)
    .bind(serde_json::to_string(&result).map_err(anyhow::Error::from)?)
    .bind(crate::db::now())
    .execute(&mut *tx)
    .await
    .map_err(anyhow::Error::from)?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    Ok(result)
}

/// Parses mutation fields as a REST body, with the same field-naming errors.
fn parse<T: DeserializeOwned>(fields: &Map<String, Value>) -> ApiResult<T> {
    let bytes = serde_json::to_vec(fields).map_err(anyhow::Error::from)?;
    super::extract::parse_json(&bytes)
}

/// The fields of an edit that were also written since its base version (`changed`, by column
/// name, which is also the JSON name) to a different value than the edit's: the conflicts.
fn overlaps(
    fields: &Map<String, Value>,
    changed: &std::collections::BTreeSet<String>,
    current: &Value,
) -> Vec<FieldConflict> {
    fields
        .iter()
        .filter(|(name, _)| {
            let column = if name.as_str() == "type" {
                "type"
            } else {
                name.as_str()
            };
            changed.contains(column)
        })
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
    m: &Mutation,
) -> ApiResult<Outcome> {
    match (m.table, m.op) {
        (SyncTable::Patients, MutationOp::Insert) => {
            caller.can_create_patient()?;
            let new: NewPatient = parse(&m.fields)?;
            if app
                .db
                .patient(domain::access::PatientScope::All, m.row_id)
                .await?
                .is_some()
            {
                return Ok(Outcome::rejected(
                    "row_exists",
                    "a patient with this id exists",
                ));
            }
            if let Some(existing) = app
                .db
                .patient_id_by_email(caller.id, new.email.as_str())
                .await?
            {
                return Ok(Outcome::rejected(
                    "duplicate_patient",
                    format!("your patient {existing} already has this email"),
                ));
            }
            let patient = insert_patient_in(tx, m.row_id, caller.id, new).await?;
            Ok(Outcome::applied(patient.version))
        }
        (SyncTable::Patients, MutationOp::Update) => {
            let current = patients::visible(app, caller, m.row_id).await?;
            caller.can_update_patient(&patient_facts(&current))?;
            let change: PatientUpdate = parse(&m.fields)?;
            if let Some(email) = &change.email {
                if let Some(other) = app
                    .db
                    .patient_id_by_email(caller.id, email.as_str())
                    .await?
                {
                    if other != m.row_id {
                        return Ok(Outcome::rejected(
                            "duplicate_patient",
                            format!("your patient {other} already has this email"),
                        ));
                    }
                }
            }
            if current.version != m.base_version {
                let changed =
                    fields_changed_since(tx, "patients", m.row_id, m.base_version).await?;
                let row = serde_json::to_value(&current).map_err(anyhow::Error::from)?;
                let conflicts = overlaps(&m.fields, &changed, &row);
                if !conflicts.is_empty() {
                    return Ok(Outcome::conflict(current.version, conflicts));
                }
            }
            let sets = patients::update_sets(&current, change)?;
            written(
                update_row_in(tx, "patients", m.row_id, Some(current.version), sets, "id").await?,
            )
        }
        (SyncTable::Patients, MutationOp::Delete) => {
            let current = patients::visible(app, caller, m.row_id).await?;
            caller.can_update_patient(&patient_facts(&current))?;
            if current.version != m.base_version {
                return Ok(Outcome::conflict(current.version, vec![]));
            }
            delete_patient_in(tx, m.row_id).await?;
            Ok(Outcome::applied(current.version + 1))
        }
        (SyncTable::HealthcareDocuments, MutationOp::Insert) => {
            let mut fields = m.fields.clone();
            let patient_id = fields
                .remove("patient_id")
                .and_then(|v| v.as_str().and_then(|s| s.parse::<Uuid>().ok()))
                .ok_or_else(|| {
                    ApiError::invalid("patient_id", "a document insert names its patient_id")
                })?;
            let patient = patients::visible(app, caller, patient_id).await?;
            caller.can_upload_document(&patient_facts(&patient))?;
            let new: NewTextDocument = parse(&fields)?;
            if app
                .db
                .document(domain::access::DocumentScope::All, m.row_id)
                .await?
                .is_some()
            {
                return Ok(Outcome::rejected(
                    "row_exists",
                    "a document with this id exists",
                ));
            }
            let draft = documents::DocumentDraft::text(new)?;
            let doc = insert_document_in(tx, draft.into_new(m.row_id, patient_id, caller)).await?;
            Ok(Outcome::applied(doc.version))
        }
        (SyncTable::HealthcareDocuments, MutationOp::Update) => {
            let stored = documents::visible(app, caller, m.row_id).await?;
            caller.can_update_document(&stored.facts)?;
            let change = parse(&m.fields)?;
            if stored.document.version != m.base_version {
                let changed =
                    fields_changed_since(tx, "healthcare_documents", m.row_id, m.base_version)
                        .await?;
                let row = serde_json::to_value(&stored.document).map_err(anyhow::Error::from)?;
                let conflicts = overlaps(&m.fields, &changed, &row);
                if !conflicts.is_empty() {
                    return Ok(Outcome::conflict(stored.document.version, conflicts));
                }
            }
            let sets = documents::update_sets(&stored.document, change)?;
            let version = Some(stored.document.version);
            written(update_row_in(tx, "healthcare_documents", m.row_id, version, sets, "id").await?)
        }
        (SyncTable::HealthcareDocuments, MutationOp::Delete) => {
            let stored = documents::visible(app, caller, m.row_id).await?;
            caller.can_delete_document(&stored.facts)?;
            if stored.document.version != m.base_version {
                return Ok(Outcome::conflict(stored.document.version, vec![]));
            }
            delete_document_in(tx, m.row_id).await?;
            Ok(Outcome::applied(stored.document.version + 1))
        }
        (table, _) => Ok(Outcome::rejected(
            "unsupported",
            format!("{table:?} rows are not written through sync; use the REST API"),
        )),
    }
}

/// The outcome of a guarded update made on the version just read.
fn written(w: Written<sqlx::any::AnyRow>) -> ApiResult<Outcome> {
    use crate::db::RowExt as _;
    match w {
        Written::Done(row) => Ok(Outcome::applied(row.int("version")?)),
        // Someone wrote between our read and our write: the whole push fails and the client
        // sends it again (what was applied comes back as duplicates).
        Written::Stale | Written::Missing => Err(anyhow::anyhow!("row changed during push").into()),
    }
}
