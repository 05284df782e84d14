//! A Carepatron workspace as `docs/carepatron.md` describes it: clients, client
//! documents (multipart upload), team members and document shares under `/v1`, bearer API
//! key, `{"error": {"code", "message"}}` errors, page lists, and no idempotency keys. Plus the
//! contract's fault switches: latency, a rate limit (429 with `Retry-After`), a share of
//! 500/503 answers, answers dropped after the request was applied, and lists that miss new
//! resources for a moment.

use crate::{Bucket, FaultSwitch, Served};
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::Digest as _;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The largest file accepted (413 beyond).
const MAX_FILE: usize = 25 << 20;

struct Stored {
    json: Value,
    created: Instant,
}

#[derive(Default)]
struct Workspace {
    clients: BTreeMap<String, Stored>,
    documents: BTreeMap<String, (Stored, Vec<u8>)>,
    shares: BTreeMap<String, Stored>,
    team: Vec<Value>,
    next_id: u64,
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub method: Method,
    pub path: String,
    pub status: u16,
}

struct Inner {
    api_key: String,
    workspace: Mutex<Workspace>,
    faults: FaultSwitch,
    bucket: Mutex<Bucket>,
    seen: Mutex<Vec<Seen>>,
}

/// The stand-in workspace. Cheap to clone; every clone is the same workspace.
#[derive(Clone)]
pub struct CarepatronSandbox(Arc<Inner>);

/// Now, as Carepatron writes its timestamps (milliseconds): the stand-in's wire format, not a
/// stored one.
fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

impl CarepatronSandbox {
    /// A workspace answering to `api_key`, with a few practitioners on the team.
    pub fn new(api_key: &str) -> Self {
        let team = ["Priya Shah", "Tom Becker", "Ines Duarte"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                json!({"id": format!("t_{}", i + 1), "name": name,
                       "email": format!("{}@practice.example", name.split(' ').next().unwrap_or("x").to_lowercase()),
                       "role": "practitioner"})
            })
            .collect();
        Self(Arc::new(Inner {
            api_key: api_key.to_owned(),
            workspace: Mutex::new(Workspace {
                team,
                ..Workspace::default()
            }),
            faults: FaultSwitch::default(),
            bucket: Mutex::new(Bucket::new()),
            seen: Mutex::default(),
        }))
    }

    pub async fn serve(&self, addr: &str) -> std::io::Result<Served> {
        let router = Router::new()
            .route("/v1/clients", get(list_clients).post(create_client))
            .route(
                "/v1/clients/{id}",
                get(get_client).put(put_client).delete(archive_client),
            )
            .route(
                "/v1/clients/{id}/documents",
                get(list_documents).post(upload),
            )
            .route(
                "/v1/documents/{id}",
                get(get_document).put(put_document).delete(delete_document),
            )
            .route("/v1/documents/{id}/content", get(content).put(put_content))
            .route("/v1/documents/{id}/shares", get(list_shares).post(share))
            .route(
                "/v1/documents/{id}/shares/{share}",
                axum::routing::delete(unshare),
            )
            .route("/v1/team-members", get(team))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_FILE + (1 << 20)))
            .layer(axum::middleware::from_fn_with_state(self.clone(), guard))
            .with_state(self.clone());
        crate::serve(addr, |_| router).await
    }

    pub fn faults(&self) -> &FaultSwitch {
        &self.0.faults
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.0.seen.lock().expect("lock").clone()
    }

    /// Every client, archived ones too.
    pub fn clients(&self) -> Vec<Value> {
        self.0
            .workspace
            .lock()
            .expect("lock")
            .clients
            .values()
            .map(|s| s.json.clone())
            .collect()
    }

    /// Every document's metadata, and its bytes.
    pub fn documents(&self) -> Vec<(Value, Vec<u8>)> {
        self.0
            .workspace
            .lock()
            .expect("lock")
            .documents
            .values()
            .map(|(s, bytes)| (s.json.clone(), bytes.clone()))
            .collect()
    }

    pub fn shares(&self) -> Vec<Value> {
        self.0
            .workspace
            .lock()
            .expect("lock")
            .shares
            .values()
            .map(|s| s.json.clone())
            .collect()
    }

    /// Changes a client as someone at the practice would in Carepatron's own screens.
    pub fn edit_client(&self, id: &str, change: impl FnOnce(&mut Value)) {
        let mut ws = self.0.workspace.lock().expect("lock");
        let client = ws.clients.get_mut(id).expect("the client exists");
        change(&mut client.json);
        client.json["updatedDateTimeUtc"] = json!(now());
    }

    /// Adds a practitioner to the team, as the practice would in Carepatron's settings;
    /// returns their team member id.
    pub fn add_team_member(&self, name: &str, email: &str) -> String {
        let mut ws = self.0.workspace.lock().expect("lock");
        let id = format!("t_{}", ws.team.len() + 1);
        ws.team
            .push(json!({"id": id, "name": name, "email": email, "role": "practitioner"}));
        id
    }

    fn id(&self, prefix: &str) -> String {
        let mut ws = self.0.workspace.lock().expect("lock");
        ws.next_id += 1;
        format!("{prefix}_{}", ws.next_id)
    }
}

/// Auth, latency, rate limit, injected failures, dropped answers, and the request record.
async fn guard(State(cp): State<CarepatronSandbox>, req: Request, next: Next) -> Response {
    let faults = cp.0.faults.get();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let authorised = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.strip_prefix("Bearer ") == Some(cp.0.api_key.as_str()));
    let res = if !authorised {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API key",
        )
    } else if let Some(wait) = faults
        .rate_limit_per_sec
        .and_then(|rate| cp.0.bucket.lock().expect("lock").take(rate).err())
    {
        let mut res = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests",
        );
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        res.headers_mut().insert(header::RETRY_AFTER, secs.into());
        res
    } else if faults.error_fraction > 0.0 && rand::random::<f64>() < faults.error_fraction {
        if rand::random::<bool>() {
            let mut res = error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again");
            res.headers_mut().insert(header::RETRY_AFTER, 1.into());
            res
        } else {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "something broke",
            )
        }
    } else {
        let res = next.run(req).await;
        let mutating = method != Method::GET;
        if mutating
            && res.status().is_success()
            && rand::random::<f64>() < faults.drop_after_apply_fraction
        {
            // Applied, but the answer never arrives whole: the client cannot know.
            let (mut parts, _) = res.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            let broken = futures::stream::once(async {
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::other("connection dropped"))
            });
            Response::from_parts(parts, Body::from_stream(broken))
        } else {
            res
        }
    };
    cp.0.seen.lock().expect("lock").push(Seen {
        at: Instant::now(),
        method,
        path,
        status: res.status().as_u16(),
    });
    res
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    updated_since: Option<String>,
    external_id: Option<String>,
    email: Option<String>,
    page: Option<usize>,
    page_size: Option<usize>,
}

/// A page of `items` (already filtered), as the contract shapes lists.
fn page(items: Vec<Value>, q: &ListQuery) -> Response {
    let size = q.page_size.unwrap_or(50);
    if !(1..=100).contains(&size) || q.page == Some(0) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_paging",
            "pageSize is 1-100, page from 1",
        );
    }
    let number = q.page.unwrap_or(1);
    let total = items.len();
    let items: Vec<Value> = items
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    Json(json!({"items": items, "page": number, "pageSize": size, "totalCount": total}))
        .into_response()
}

fn listed(stored: &Stored, lag: Duration, q: &ListQuery) -> bool {
    if stored.created.elapsed() < lag {
        return false;
    }
    let j = &stored.json;
    if let Some(since) = &q.updated_since {
        let Ok(since) = DateTime::parse_from_rfc3339(since) else {
            return false;
        };
        let updated = j["updatedDateTimeUtc"]
            .as_str()
            .and_then(|u| DateTime::parse_from_rfc3339(u).ok());
        if updated.is_none_or(|u| u < since) {
            return false;
        }
    }
    if q.external_id
        .as_deref()
        .is_some_and(|e| j["externalId"].as_str() != Some(e))
    {
        return false;
    }
    if q.email.as_deref().is_some_and(|e| {
        !j["email"]
            .as_str()
            .is_some_and(|m| m.eq_ignore_ascii_case(e))
    }) {
        return false;
    }
    true
}

async fn list_clients(State(cp): State<CarepatronSandbox>, Query(q): Query<ListQuery>) -> Response {
    if q.updated_since
        .as_deref()
        .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_err())
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_date",
            "updatedSince must be ISO 8601",
        );
    }
    let lag = Duration::from_millis(cp.0.faults.get().list_lag_ms);
    let items = {
        let ws = cp.0.workspace.lock().expect("lock");
        ws.clients
            .values()
            .filter(|s| listed(s, lag, &q))
            .map(|s| s.json.clone())
            .collect()
    };
    page(items, &q)
}

const CLIENT_FIELDS: [&str; 7] = [
    "firstName",
    "lastName",
    "email",
    "phoneNumber",
    "address",
    "customFields",
    "externalId",
];

/// A request refused: status, code and message, as the contract's error body.
struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1, &self.2)
    }
}

fn blank(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_none_or(|s| s.trim().is_empty())
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal(status, code, message.into())
}

/// The writable fields of a client body, checked.
fn client_fields(body: &Value) -> Result<serde_json::Map<String, Value>, Refusal> {
    let Some(obj) = body.as_object() else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "a JSON object is required",
        ));
    };
    for required in ["firstName", "lastName", "email"] {
        if blank(obj.get(required)) {
            return Err(refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                format!("{required} is required"),
            ));
        }
    }
    if obj
        .get("customFields")
        .is_some_and(|c| !c.is_object() && !c.is_null())
    {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "customFields must be an object",
        ));
    }
    Ok(CLIENT_FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), obj.get(*f).cloned().unwrap_or(Value::Null)))
        .collect())
}

async fn create_client(State(cp): State<CarepatronSandbox>, Json(body): Json<Value>) -> Response {
    let mut fields = match client_fields(&body) {
        Ok(f) => f,
        Err(refusal) => return refusal.into_response(),
    };
    let id = cp.id("c");
    let at = now();
    fields.insert("id".into(), json!(id));
    fields.insert("archived".into(), json!(false));
    fields.insert("createdDateTimeUtc".into(), json!(at));
    fields.insert("updatedDateTimeUtc".into(), json!(at));
    let client = Value::Object(fields);
    cp.0.workspace.lock().expect("lock").clients.insert(
        id,
        Stored {
            json: client.clone(),
            created: Instant::now(),
        },
    );
    (StatusCode::CREATED, Json(client)).into_response()
}

async fn get_client(State(cp): State<CarepatronSandbox>, Path(id): Path<String>) -> Response {
    match cp.0.workspace.lock().expect("lock").clients.get(&id) {
        Some(s) => Json(s.json.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such client"),
    }
}

async fn put_client(
    State(cp): State<CarepatronSandbox>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let fields = match client_fields(&body) {
        Ok(f) => f,
        Err(refusal) => return refusal.into_response(),
    };
    let mut ws = cp.0.workspace.lock().expect("lock");
    let Some(stored) = ws.clients.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such client");
    };
    for (k, v) in fields {
        stored.json[k] = v;
    }
    stored.json["updatedDateTimeUtc"] = json!(now());
    Json(stored.json.clone()).into_response()
}

async fn archive_client(State(cp): State<CarepatronSandbox>, Path(id): Path<String>) -> Response {
    let mut ws = cp.0.workspace.lock().expect("lock");
    let Some(stored) = ws.clients.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such client");
    };
    stored.json["archived"] = json!(true);
    stored.json["updatedDateTimeUtc"] = json!(now());
    StatusCode::NO_CONTENT.into_response()
}

async fn list_documents(
    State(cp): State<CarepatronSandbox>,
    Path(client): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let lag = Duration::from_millis(cp.0.faults.get().list_lag_ms);
    let ws = cp.0.workspace.lock().expect("lock");
    if !ws.clients.contains_key(&client) {
        return error(StatusCode::NOT_FOUND, "not_found", "no such client");
    }
    let items = ws
        .documents
        .values()
        .filter(|(s, _)| s.json["clientId"] == client.as_str() && listed(s, lag, &q))
        .map(|(s, _)| s.json.clone())
        .collect();
    drop(ws);
    page(items, &q)
}

const DOCUMENT_FIELDS: [&str; 8] = [
    "title",
    "type",
    "date",
    "source",
    "author",
    "fileName",
    "contentType",
    "externalId",
];

fn document_fields(meta: &Value) -> Result<serde_json::Map<String, Value>, Refusal> {
    let Some(obj) = meta.as_object() else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
            "metadata must be a JSON object",
        ));
    };
    if blank(obj.get("title")) {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "title is required",
        ));
    }
    Ok(DOCUMENT_FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), obj.get(*f).cloned().unwrap_or(Value::Null)))
        .collect())
}

async fn upload(
    State(cp): State<CarepatronSandbox>,
    Path(client): Path<String>,
    mut form: Multipart,
) -> Response {
    if !cp
        .0
        .workspace
        .lock()
        .expect("lock")
        .clients
        .contains_key(&client)
    {
        return error(StatusCode::NOT_FOUND, "not_found", "no such client");
    }
    let (mut meta, mut file) = (None, None);
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("metadata") => {
                    meta = field
                        .text()
                        .await
                        .ok()
                        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                }
                Some("file") => match field.bytes().await {
                    Ok(b) => file = Some(b.to_vec()),
                    Err(_) => {
                        return error(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too_large",
                            "the file is over the limit",
                        )
                    }
                },
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_multipart",
                    "unreadable multipart body",
                )
            }
        }
    }
    let (Some(meta), Some(file)) = (meta, file) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_multipart",
            "parts metadata and file are required",
        );
    };
    if file.len() > MAX_FILE {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the file is over the limit",
        );
    }
    let mut fields = match document_fields(&meta) {
        Ok(f) => f,
        Err(refusal) => return refusal.into_response(),
    };
    let id = cp.id("d");
    let at = now();
    fields.insert("id".into(), json!(id));
    fields.insert("clientId".into(), json!(client));
    fields.insert("size".into(), json!(file.len()));
    fields.insert("sha256".into(), json!(hex(&sha2::Sha256::digest(&file))));
    fields.insert("createdDateTimeUtc".into(), json!(at));
    fields.insert("updatedDateTimeUtc".into(), json!(at));
    let doc = Value::Object(fields);
    cp.0.workspace.lock().expect("lock").documents.insert(
        id,
        (
            Stored {
                json: doc.clone(),
                created: Instant::now(),
            },
            file,
        ),
    );
    (StatusCode::CREATED, Json(doc)).into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn get_document(State(cp): State<CarepatronSandbox>, Path(id): Path<String>) -> Response {
    match cp.0.workspace.lock().expect("lock").documents.get(&id) {
        Some((s, _)) => Json(s.json.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such document"),
    }
}

async fn put_document(
    State(cp): State<CarepatronSandbox>,
    Path(id): Path<String>,
    Json(meta): Json<Value>,
) -> Response {
    let fields = match document_fields(&meta) {
        Ok(f) => f,
        Err(refusal) => return refusal.into_response(),
    };
    let mut ws = cp.0.workspace.lock().expect("lock");
    let Some((stored, _)) = ws.documents.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such document");
    };
    for (k, v) in fields {
        stored.json[k] = v;
    }
    stored.json["updatedDateTimeUtc"] = json!(now());
    Json(stored.json.clone()).into_response()
}

async fn content(State(cp): State<CarepatronSandbox>, Path(id): Path<String>) -> Response {
    match cp.0.workspace.lock().expect("lock").documents.get(&id) {
        Some((s, bytes)) => {
            let kind = s.json["contentType"]
                .as_str()
                .unwrap_or("application/octet-stream")
                .to_owned();
            ([(header::CONTENT_TYPE, kind)], bytes.clone()).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "not_found", "no such document"),
    }
}

async fn put_content(
    State(cp): State<CarepatronSandbox>,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> Response {
    if body.len() > MAX_FILE {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the file is over the limit",
        );
    }
    let mut ws = cp.0.workspace.lock().expect("lock");
    let Some((stored, bytes)) = ws.documents.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such document");
    };
    *bytes = body.to_vec();
    stored.json["size"] = json!(bytes.len());
    stored.json["sha256"] = json!(hex(&sha2::Sha256::digest(&*bytes)));
    stored.json["updatedDateTimeUtc"] = json!(now());
    Json(stored.json.clone()).into_response()
}

async fn delete_document(State(cp): State<CarepatronSandbox>, Path(id): Path<String>) -> Response {
    let mut ws = cp.0.workspace.lock().expect("lock");
    if ws.documents.remove(&id).is_none() {
        return error(StatusCode::NOT_FOUND, "not_found", "no such document");
    }
    ws.shares.retain(|_, s| s.json["documentId"] != id.as_str());
    StatusCode::NO_CONTENT.into_response()
}

async fn team(State(cp): State<CarepatronSandbox>) -> Response {
    let team = cp.0.workspace.lock().expect("lock").team.clone();
    Json(json!({"items": team, "page": 1, "pageSize": 100, "totalCount": team.len()}))
        .into_response()
}

async fn list_shares(State(cp): State<CarepatronSandbox>, Path(doc): Path<String>) -> Response {
    let lag = Duration::from_millis(cp.0.faults.get().list_lag_ms);
    let ws = cp.0.workspace.lock().expect("lock");
    if !ws.documents.contains_key(&doc) {
        return error(StatusCode::NOT_FOUND, "not_found", "no such document");
    }
    let items: Vec<Value> = ws
        .shares
        .values()
        .filter(|s| s.json["documentId"] == doc.as_str() && s.created.elapsed() >= lag)
        .map(|s| s.json.clone())
        .collect();
    Json(json!({"items": items, "page": 1, "pageSize": 100, "totalCount": items.len()}))
        .into_response()
}

async fn share(
    State(cp): State<CarepatronSandbox>,
    Path(doc): Path<String>,
    Json(body): Json<HashMap<String, String>>,
) -> Response {
    let Some(member) = body.get("teamMemberId").cloned() else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "teamMemberId is required",
        );
    };
    let id = cp.id("s");
    let mut ws = cp.0.workspace.lock().expect("lock");
    if !ws.documents.contains_key(&doc) {
        return error(StatusCode::NOT_FOUND, "not_found", "no such document");
    }
    if !ws.team.iter().any(|t| t["id"] == member.as_str()) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "no such team member",
        );
    }
    let share =
        json!({"id": id, "documentId": doc, "teamMemberId": member, "createdDateTimeUtc": now()});
    ws.shares.insert(
        id,
        Stored {
            json: share.clone(),
            created: Instant::now(),
        },
    );
    (StatusCode::CREATED, Json(share)).into_response()
}

async fn unshare(
    State(cp): State<CarepatronSandbox>,
    Path((doc, share)): Path<(String, String)>,
) -> Response {
    let mut ws = cp.0.workspace.lock().expect("lock");
    match ws.shares.get(&share) {
        Some(s) if s.json["documentId"] == doc.as_str() => {
            ws.shares.remove(&share);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such share"),
    }
}
