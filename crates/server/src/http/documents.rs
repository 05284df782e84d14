//! Healthcare documents: text as JSON, files (PDF, images) as multipart; shares.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{
    body_problem, page_params, parse_json, ApiJson, ApiPath, ApiQuery, AuthUser, IfMatch,
};
use super::patients;
use super::versioned;
use super::with_location;
use crate::app::AppState;
use crate::audit::Entity;
use crate::db::{
    digest, patient_facts, Bind, DocumentBody, DocumentFilter, NewDocument, StoredDocument, Written,
};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use domain::dto::{
    DocumentQuery, DocumentShare, DocumentUpdate, HealthcareDocument, NewAttachedDocument,
    NewFileMetadata, NewTextDocument, Page, ShareRequest, SharedDocument, StagedUpload,
};
use domain::kinds::ShareDelivery;
use domain::{Caller, DocumentSource, DocumentType, UserType};
use uuid::Uuid;

/// Text formats a text document may declare.
const TEXT_TYPES: &[&str] = &["text/plain", "text/markdown", "text/csv"];

/// File formats an upload may carry; its bytes must be what it says
/// ([`domain::check::content_is`]: magic numbers, UTF-8 for text).
const UPLOAD_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
];

/// A multipart upload (documents the request body of `POST /patients/{id}/documents`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FileUpload {
    metadata: NewFileMetadata,
    /// The file's bytes, with its Content-Type (PDF, PNG, JPEG, GIF, WebP or plain text).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The column writes of `change` to `current`, checked (REST `PUT` and sync push share it).
pub(crate) fn update_sets(
    current: &HealthcareDocument,
    change: DocumentUpdate,
) -> ApiResult<Vec<(&'static str, Bind)>> {
    let mut sets: Vec<(&'static str, Bind)> = Vec::new();
    if let Some(kind) = change.kind {
        sets.push(("type", kind.as_str().into()));
    }
    if let Some(date) = change.date {
        sets.push(("date", date.to_string().into()));
    }
    if let Some(title) = change.title {
        sets.push(("title", title.into_inner().into()));
    }
    if let Some(text) = change.content {
        if !current.mime_type.starts_with("text/") {
            return Err(ApiError::invalid(
                "content",
                "this is a file document; its content is not text",
            ));
        }
        if text.trim().is_empty() {
            return Err(ApiError::invalid("content", "must not be empty"));
        }
        let (hash, size) = digest(text.as_bytes());
        sets.push(("content", text.into()));
        sets.push(("content_hash", hash.into()));
        sets.push(("size_bytes", size.into()));
    }
    Ok(sets)
}

/// A validated document before it has an id and a patient.
pub(crate) struct DocumentDraft {
    kind: DocumentType,
    date: NaiveDate,
    title: String,
    mime_type: String,
    body: DocumentBody,
}

impl DocumentDraft {
    /// The checked parts of a new text document (REST and sync push share it).
    pub(crate) fn text(new: NewTextDocument) -> ApiResult<Self> {
        let mime_type = new.mime_type.unwrap_or_else(|| "text/plain".to_owned());
        if !TEXT_TYPES.contains(&mime_type.as_str()) {
            return Err(ApiError::invalid(
                "mime_type",
                format!("must be one of {}", TEXT_TYPES.join(", ")),
            ));
        }
        if new.content.trim().is_empty() {
            return Err(ApiError::invalid("content", "must not be empty"));
        }
        Ok(Self {
            kind: new.kind,
            date: new.date,
            title: new.title.into_inner(),
            mime_type,
            body: DocumentBody::Text(new.content),
        })
    }

    /// The checked parts of a file document made offline, its file sent ahead (`staged`).
    pub(crate) fn attached(new: NewAttachedDocument, staged: StagedUpload) -> Self {
        Self {
            kind: new.kind,
            date: new.date,
            title: new.title.into_inner(),
            mime_type: staged.mime_type,
            body: DocumentBody::Stored {
                content_hash: staged.content_hash,
                size: staged.size_bytes,
            },
        }
    }

    /// The row to store: uploaded by `caller`, so its source follows from who they are.
    pub(crate) fn into_new(self, id: Uuid, patient_id: Uuid, caller: &Caller) -> NewDocument {
        let source = match caller.kind {
            UserType::Provider => DocumentSource::PrimaryHealthcareProvider,
            _ => DocumentSource::Dietician,
        };
        NewDocument {
            id,
            patient_id,
            kind: self.kind,
            date: self.date,
            title: self.title,
            mime_type: self.mime_type,
            body: self.body,
            source,
            source_user_id: Some(caller.id),
            author: None,
            external_id: None,
            external_version: None,
        }
    }
}

pub(crate) async fn visible(
    app: &AppState,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<StoredDocument> {
    app.db
        .document(caller.document_scope(), id)
        .await?
        .ok_or(ApiError::NotFound("document"))
}

/// A patient's documents the caller may see, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/patients/{patient_id}/documents", operation_id = "list_patient_documents", tag = "documents",
    security(("bearer" = [])), params(("patient_id" = Uuid, Path), DocumentQuery),
    responses((status = 200, body = Page<HealthcareDocument>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DocumentQuery>,
) -> ApiResult<Json<Page<HealthcareDocument>>> {
    patients::visible(&app, &caller, patient_id).await?;
    let (limit, after) = page_params(q.limit, q.cursor.as_deref(), 2)?;
    let filter = DocumentFilter {
        kind: q.kind,
        from: q.from,
        to: q.to,
        q: q.q.as_deref(),
    };
    let (items, next_cursor) = app
        .db
        .list_documents(
            caller.document_scope(),
            patient_id,
            &filter,
            limit,
            after.as_deref(),
        )
        .await?;
    app.audit
        .read(&caller, Entity::DocumentList, None, Some(patient_id))
        .await?;
    Ok(Json(Page { items, next_cursor }))
}

/// One document, with its text if it is a text document.
#[utoipa::path(get, path = "/api/v1/documents/{id}", operation_id = "get_document", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = HealthcareDocument, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let doc = visible(&app, &caller, id).await?.document;
    app.audit
        .read(&caller, Entity::Document, Some(id), Some(doc.patient_id))
        .await?;
    Ok(versioned(StatusCode::OK, doc.version, doc))
}

/// The document's body: its bytes with their Content-Type. Only PDF, PNG, JPEG, GIF, WebP,
/// plain text and Markdown may be shown inline; any other type (HTML, SVG, a file a PHP sent
/// as something it is not, kept as `application/octet-stream`) comes with
/// `Content-Disposition: attachment`, so a browser saves it and never renders it as a page
/// of this origin. Always `X-Content-Type-Options: nosniff` and `Content-Security-Policy:
/// sandbox`.
#[utoipa::path(get, path = "/api/v1/documents/{id}/content", operation_id = "get_document_content", tag = "documents",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>,
               headers(("Content-Disposition" = String, description = "`attachment` for any type outside the inline-safe list"))),
              (status = 404, body = Problem)))]
pub async fn content(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let doc = visible(&app, &caller, id).await?.document;
    app.audit
        .read(
            &caller,
            Entity::DocumentContent,
            Some(id),
            Some(doc.patient_id),
        )
        .await?;
    let inline = domain::check::shown_inline(&doc.mime_type);
    let (content_type, bytes) = match doc.content {
        Some(text) => (
            format!("{}; charset=utf-8", doc.mime_type),
            text.into_bytes(),
        ),
        None => {
            let bytes = app
                .db
                .blob(&doc.content_hash)
                .await?
                .ok_or_else(|| anyhow::anyhow!("document body missing from document_blobs"))?;
            (doc.mime_type, bytes)
        }
    };
    let mut res = bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).map_err(anyhow::Error::from)?,
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Stored files never run as pages of this origin.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    if !inline {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{}\"", doc.content_hash)).map_err(anyhow::Error::from)?,
    );
    Ok(res)
}

/// The checks on a file's bytes: a type among `types`, not empty, and bytes that are what the
/// type says ([`domain::check::content_is`]).
pub(crate) fn check_file(mime: &str, bytes: &[u8], types: &[&str]) -> ApiResult<()> {
    if !types.contains(&mime) {
        return Err(ApiError::invalid(
            "file",
            format!(
                "unsupported file type {mime:?}; send {}",
                if types.contains(&"text/plain") {
                    "PDF, PNG, JPEG, GIF, WebP or plain text"
                } else {
                    "PDF, PNG, JPEG, GIF or WebP"
                }
            ),
        ));
    }
    if bytes.is_empty() {
        return Err(ApiError::invalid("file", "the file is empty"));
    }
    if domain::check::content_is(mime, bytes) != Some(true) {
        return Err(ApiError::invalid(
            "file",
            if mime == "text/plain" {
                "plain text must be UTF-8".to_owned()
            } else {
                format!("the file's content is not {mime}")
            },
        ));
    }
    Ok(())
}

/// Reads the `metadata` and `file` parts of a multipart upload.
async fn read_upload(
    app: &AppState,
    req: Request,
) -> ApiResult<(NewFileMetadata, String, Vec<u8>)> {
    let limit = app.config.max_body_bytes;
    let mut form = Multipart::from_request(req, app)
        .await
        .map_err(|e| ApiError::bad_request("file", e.body_text()))?;
    let (mut metadata, mut file) = (None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| body_problem(e.status(), limit))?
    {
        match field.name() {
            Some("metadata") => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| body_problem(e.status(), limit))?;
                metadata = Some(parse_json::<NewFileMetadata>(&bytes).map_err(|e| match e {
                    ApiError::Invalid { detail, field } => ApiError::Invalid {
                        detail,
                        field: Some(format!("metadata.{}", field.unwrap_or_default())),
                    },
                    other => other,
                })?);
            }
            Some("file") => {
                let mime = field
                    .content_type()
                    .map(|m| m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase())
                    .unwrap_or_default();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| body_problem(e.status(), limit))?;
                file = Some((mime, bytes.to_vec()));
            }
            Some(other) => {
                return Err(ApiError::invalid(
                    other.to_owned(),
                    "unexpected part; send `metadata` and `file`",
                ))
            }
            None => return Err(ApiError::invalid("file", "every part needs a name")),
        }
    }
    let metadata =
        metadata.ok_or_else(|| ApiError::invalid("metadata", "the `metadata` part is missing"))?;
    let (mime, bytes) =
        file.ok_or_else(|| ApiError::invalid("file", "the `file` part is missing"))?;
    check_file(&mime, &bytes, UPLOAD_TYPES)?;
    Ok((metadata, mime, bytes))
}

/// Upload a document for a patient: JSON for text, multipart (`metadata` + `file`) for files.
#[utoipa::path(post, path = "/api/v1/patients/{patient_id}/documents", operation_id = "create_document", tag = "documents",
    security(("bearer" = [])), params(("patient_id" = Uuid, Path)),
    request_body(content(
        (NewTextDocument = "application/json"),
        (FileUpload = "multipart/form-data"),
    )),
    responses((status = 201, body = HealthcareDocument), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 413, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
    req: Request,
) -> ApiResult<Response> {
    let patient = patients::visible(&app, &caller, patient_id).await?;
    caller.can_upload_document(&patient_facts(&patient))?;
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let draft = if media.starts_with("multipart/form-data") {
        let (meta, mime_type, bytes) = read_upload(&app, req).await?;
        let body = if mime_type == "text/plain" {
            DocumentBody::Text(String::from_utf8(bytes).map_err(anyhow::Error::from)?)
        } else {
            DocumentBody::Binary(bytes)
        };
        DocumentDraft {
            kind: meta.kind,
            date: meta.date,
            title: meta.title.into_inner(),
            mime_type,
            body,
        }
    } else {
        let ApiJson(new) = ApiJson::<NewTextDocument>::from_request(req, &app).await?;
        DocumentDraft::text(new)?
    };
    let doc = app
        .db
        .insert_document(draft.into_new(domain::new_id(), patient_id, &caller))
        .await?;
    let location = format!("/api/v1/documents/{}", doc.id);
    Ok(with_location(
        versioned(StatusCode::CREATED, doc.version, doc),
        &location,
    ))
}

/// Update a document's metadata or text (its uploader only). Honours `If-Match`.
#[utoipa::path(put, path = "/api/v1/documents/{id}", operation_id = "update_document", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version this edit is based on")),
    request_body = DocumentUpdate,
    responses((status = 200, body = HealthcareDocument), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(expected): IfMatch,
    ApiJson(change): ApiJson<DocumentUpdate>,
) -> ApiResult<Response> {
    let stored = visible(&app, &caller, id).await?;
    caller.can_update_document(&stored.facts)?;
    let sets = update_sets(&stored.document, change)?;
    match app.db.update_document(id, expected, sets).await? {
        // The answer carries the whole document, its text too: a read like any other.
        Written::Done(doc) => {
            app.audit
                .read(&caller, Entity::Document, Some(id), Some(doc.patient_id))
                .await?;
            Ok(versioned(StatusCode::OK, doc.version, doc))
        }
        Written::Missing => Err(ApiError::NotFound("document")),
        Written::Stale => Err(ApiError::Stale),
    }
}

/// Delete a document (its uploader, or an admin), with its shares.
#[utoipa::path(delete, path = "/api/v1/documents/{id}", operation_id = "delete_document", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let stored = visible(&app, &caller, id).await?;
    caller.can_delete_document(&stored.facts)?;
    if app.db.delete_document(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("document"))
    }
}

/// Share a document with a practitioner. 201 for a new share, 200 if it was shared already.
#[utoipa::path(post, path = "/api/v1/documents/{id}/share", operation_id = "share_document", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ShareRequest,
    responses((status = 201, body = DocumentShare), (status = 200, body = DocumentShare),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn share(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<ShareRequest>,
) -> ApiResult<Response> {
    let stored = visible(&app, &caller, id).await?;
    caller.can_share_document(&stored.facts)?;
    let practitioner = app.db.user_by_id(req.practitioner_id).await?;
    if !practitioner.is_some_and(|p| p.user.kind == UserType::Practitioner) {
        return Err(ApiError::invalid(
            "practitioner_id",
            "no practitioner with this id",
        ));
    }
    // Without a Carepatron integration nothing is expected of the share there.
    let delivery = if app.config.carepatron.is_some() {
        ShareDelivery::Pending
    } else {
        ShareDelivery::NotConfigured
    };
    let (share, created) = app
        .db
        .share_document(
            stored.document.patient_id,
            id,
            req.practitioner_id,
            caller.id,
            delivery,
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(share)).into_response())
}

/// Revoke a share: the practitioner loses access at once.
#[utoipa::path(delete, path = "/api/v1/documents/{id}/shares/{share_id}", operation_id = "revoke_share", tag = "documents",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("share_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_share(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath((id, share_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let stored = visible(&app, &caller, id).await?;
    caller.can_share_document(&stored.facts)?;
    app.db
        .revoke_share(stored.document.patient_id, id, share_id, caller.id)
        .await?
        .ok_or(ApiError::NotFound("share"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The live shares of a patient's documents; a practitioner sees the ones made to them.
#[utoipa::path(get, path = "/api/v1/patients/{patient_id}/shared-documents", operation_id = "list_shared_documents", tag = "documents",
    security(("bearer" = [])), params(("patient_id" = Uuid, Path)),
    responses((status = 200, body = Vec<SharedDocument>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn shared_documents(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<SharedDocument>>> {
    let patient = patients::visible(&app, &caller, patient_id).await?;
    caller.can_view_shares(&patient_facts(&patient))?;
    let only = caller.is(UserType::Practitioner).then_some(caller.id);
    let shared = app.db.shared_documents(patient_id, only).await?;
    app.audit
        .read(&caller, Entity::SharedDocuments, None, Some(patient_id))
        .await?;
    Ok(Json(shared))
}
