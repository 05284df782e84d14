//! A PHP's FHIR R4 server, in memory: SMART Backend Services token endpoint (verifies the
//! client assertion against the client's registered JWK Set), `/metadata`,
//! `.well-known/smart-configuration`, Patient (search, `$match`), DocumentReference,
//! DiagnosticReport, Observation, Binary, Task and CommunicationRequest; searches page with
//! `Bundle.link[next]` and filter on `_lastUpdated` against the server's own clock.

use crate::{Bucket, FaultSwitch, Served};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const FHIR_JSON: &str = "application/fhir+json";
const SEARCHABLE: [&str; 4] = [
    "Patient",
    "DocumentReference",
    "DiagnosticReport",
    "Observation",
];
const READABLE: [&str; 8] = [
    "Patient",
    "DocumentReference",
    "DiagnosticReport",
    "Observation",
    "Binary",
    "Task",
    "CommunicationRequest",
    "Practitioner",
];

/// What this server offers; the platform must cope with each choice.
#[derive(Debug, Clone)]
pub struct Options {
    /// `Patient/$match` is offered.
    pub patient_match: bool,
    /// `Task` create is offered (else only `CommunicationRequest`).
    pub tasks: bool,
    /// A created data-request Task is completed this long after, with a new document.
    pub fulfil_tasks_after: Option<Duration>,
    /// The path the FHIR server is served under (`/fhir`; empty for the root). A request
    /// outside it is answered 404 and counted ([`FhirSandbox::stray_requests`]).
    pub base_path: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            patient_match: true,
            tasks: true,
            fulfil_tasks_after: Some(Duration::from_millis(300)),
            base_path: String::new(),
        }
    }
}

struct Stored {
    json: Value,
    updated: DateTime<Utc>,
}

#[derive(Default)]
struct Store {
    /// type -> id -> resource
    resources: HashMap<String, BTreeMap<String, Stored>>,
    next_id: u64,
}

struct Inner {
    options: Options,
    store: Mutex<Store>,
    /// client id -> its public keys (JWKs)
    clients: Mutex<HashMap<String, Vec<Value>>>,
    tokens: Mutex<HashMap<String, Instant>>,
    jtis: Mutex<HashSet<String>>,
    faults: FaultSwitch,
    bucket: Mutex<Bucket>,
    base: OnceLock<String>,
    requests: AtomicU64,
    tokens_issued: AtomicU64,
    strays: AtomicU64,
}

/// The stand-in PHP. Cheap to clone; every clone is the same server.
#[derive(Clone)]
pub struct FhirSandbox(Arc<Inner>);

impl Default for FhirSandbox {
    fn default() -> Self {
        Self::new(Options::default())
    }
}

impl FhirSandbox {
    pub fn new(options: Options) -> Self {
        Self(Arc::new(Inner {
            options,
            store: Mutex::default(),
            clients: Mutex::default(),
            tokens: Mutex::default(),
            jtis: Mutex::default(),
            faults: FaultSwitch::default(),
            bucket: Mutex::new(Bucket::new()),
            base: OnceLock::new(),
            requests: AtomicU64::new(0),
            tokens_issued: AtomicU64::new(0),
            strays: AtomicU64::new(0),
        }))
    }

    /// Serves on `addr` (`127.0.0.1:0` for any port). One server per sandbox. Its FHIR base
    /// is [`Self::base`] (`Served::base` plus [`Options::base_path`]).
    pub async fn serve(&self, addr: &str) -> std::io::Result<Served> {
        let path = self.0.options.base_path.trim_end_matches('/').to_owned();
        crate::serve(addr, |base| {
            let _ = self.0.base.set(format!("{base}{path}"));
            if path.is_empty() {
                self.router()
            } else {
                let strays = self.clone();
                Router::new()
                    .nest(&path, self.router())
                    .fallback(move || async move {
                        strays.0.strays.fetch_add(1, Ordering::Relaxed);
                        StatusCode::NOT_FOUND
                    })
            }
        })
        .await
    }

    /// Requests that arrived outside [`Options::base_path`].
    pub fn stray_requests(&self) -> u64 {
        self.0.strays.load(Ordering::Relaxed)
    }

    pub fn faults(&self) -> &FaultSwitch {
        &self.0.faults
    }

    /// Registers a client's public keys (a JWK Set); from then on every FHIR call needs a
    /// token from `/auth/token`.
    pub fn register_client(&self, client_id: &str, jwks: &Value) {
        let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
        self.0
            .clients
            .lock()
            .expect("lock")
            .insert(client_id.to_owned(), keys);
    }

    /// Requests served (all endpoints), and access tokens issued.
    pub fn requests(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    pub fn tokens_issued(&self) -> u64 {
        self.0.tokens_issued.load(Ordering::Relaxed)
    }

    /// Invalidates every issued token (as a server restart or key rotation would).
    pub fn revoke_tokens(&self) {
        self.0.tokens.lock().expect("lock").clear();
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.0.faults.get().clock_offset_secs)
    }

    /// Creates or replaces a resource (its `id`, else a new one), stamping `meta.versionId`
    /// and `meta.lastUpdated` from the server's clock. Returns the id.
    pub fn put(&self, mut resource: Value) -> String {
        let kind = resource["resourceType"]
            .as_str()
            .expect("a resource has a resourceType")
            .to_owned();
        let now = self.now();
        let mut store = self.0.store.lock().expect("lock");
        let id = match resource["id"].as_str() {
            Some(id) => id.to_owned(),
            None => {
                store.next_id += 1;
                format!(
                    "{}{}",
                    kind.to_ascii_lowercase()
                        .chars()
                        .take(3)
                        .collect::<String>(),
                    store.next_id
                )
            }
        };
        let table = store.resources.entry(kind).or_default();
        let version = table
            .get(&id)
            .and_then(|s| s.json["meta"]["versionId"].as_str()?.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        resource["id"] = json!(id);
        resource["meta"] = json!({
            "versionId": version.to_string(),
            "lastUpdated": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        table.insert(
            id.clone(),
            Stored {
                json: resource,
                updated: now,
            },
        );
        id
    }

    pub fn get(&self, kind: &str, id: &str) -> Option<Value> {
        let store = self.0.store.lock().expect("lock");
        store.resources.get(kind)?.get(id).map(|s| s.json.clone())
    }

    /// Every resource of `kind`.
    pub fn all(&self, kind: &str) -> Vec<Value> {
        let store = self.0.store.lock().expect("lock");
        store
            .resources
            .get(kind)
            .map(|t| t.values().map(|s| s.json.clone()).collect())
            .unwrap_or_default()
    }

    /// Changes a stored resource in place (a new version).
    pub fn modify(&self, kind: &str, id: &str, change: impl FnOnce(&mut Value)) {
        let mut resource = self.get(kind, id).expect("the resource exists");
        change(&mut resource);
        self.put(resource);
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/.well-known/smart-configuration", get(smart_configuration))
            .route("/metadata", get(metadata))
            .route("/auth/token", post(token))
            .route("/Patient/$match", post(patient_match))
            .route("/_sandbox/clients", post(register))
            .route("/{kind}", get(search).post(create))
            .route("/{kind}/{id}", get(read))
            .layer(axum::middleware::from_fn_with_state(self.clone(), guard))
            .with_state(self.clone())
    }

    /// The FHIR base URL, once serving (empty before).
    pub fn base(&self) -> &str {
        self.0.base.get().map(String::as_str).unwrap_or("")
    }
}

fn outcome(status: StatusCode, code: &str, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, FHIR_JSON)],
        Json(json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        })),
    )
        .into_response()
}

fn fhir(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], Json(body)).into_response()
}

/// Latency, injected failures, the rate limit, and bearer tokens on the FHIR endpoints.
async fn guard(State(sb): State<FhirSandbox>, req: Request, next: Next) -> Response {
    sb.0.requests.fetch_add(1, Ordering::Relaxed);
    let faults = sb.0.faults.get();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if let Some(rate) = faults.rate_limit_per_sec {
        if let Err(wait) = sb.0.bucket.lock().expect("lock").take(rate) {
            let mut res = outcome(StatusCode::TOO_MANY_REQUESTS, "throttled", "rate limited");
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            res.headers_mut().insert(
                header::RETRY_AFTER,
                secs.to_string().parse().expect("digits"),
            );
            return res;
        }
    }
    if faults.error_fraction > 0.0 && rand::random::<f64>() < faults.error_fraction {
        let mut res = outcome(StatusCode::SERVICE_UNAVAILABLE, "transient", "try again");
        res.headers_mut()
            .insert(header::RETRY_AFTER, "1".parse().expect("digits"));
        return res;
    }
    let path = req.uri().path();
    let open = path == "/metadata"
        || path == "/auth/token"
        || path.starts_with("/.well-known/")
        || path.starts_with("/_sandbox/");
    let auth_on = !sb.0.clients.lock().expect("lock").is_empty();
    if auth_on && !open {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let valid = token.is_some_and(|t| {
            sb.0.tokens
                .lock()
                .expect("lock")
                .get(&t)
                .is_some_and(|expiry| Instant::now() < *expiry)
        });
        if !valid {
            return outcome(
                StatusCode::UNAUTHORIZED,
                "login",
                "a valid bearer token is required",
            );
        }
    }
    next.run(req).await
}

/// The stand-in's own control endpoint (not FHIR): registers a client's JWK Set, as a PHP's
/// administrator would when onboarding the platform. Body: `{"client_id", "jwks"}`.
async fn register(State(sb): State<FhirSandbox>, Json(body): Json<Value>) -> Response {
    let (Some(client_id), Some(keys)) =
        (body["client_id"].as_str(), body["jwks"]["keys"].as_array())
    else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            "client_id and jwks.keys are required",
        );
    };
    if keys.is_empty() {
        return outcome(StatusCode::BAD_REQUEST, "invalid", "jwks.keys is empty");
    }
    sb.register_client(client_id, &body["jwks"]);
    StatusCode::NO_CONTENT.into_response()
}

async fn smart_configuration(State(sb): State<FhirSandbox>) -> Response {
    let token_endpoint =
        sb.0.faults
            .get()
            .token_endpoint
            .unwrap_or_else(|| format!("{}/auth/token", sb.base()));
    Json(json!({
        "token_endpoint": token_endpoint,
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["system/*.rs", "system/Task.cru"],
        "capabilities": ["client-confidential-asymmetric"],
    }))
    .into_response()
}

async fn metadata(State(sb): State<FhirSandbox>) -> Response {
    let options = &sb.0.options;
    let search = |kind: &str, params: &[&str]| {
        json!({
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": params.iter().map(|p| json!({"name": p})).collect::<Vec<_>>(),
        })
    };
    let mut patient = search(
        "Patient",
        &[
            "identifier",
            "family",
            "given",
            "birthdate",
            "email",
            "_lastUpdated",
        ],
    );
    if options.patient_match {
        patient["operation"] = json!([{"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match"}]);
    }
    let mut resources = vec![
        patient,
        search("DocumentReference", &["patient", "_lastUpdated"]),
        search("DiagnosticReport", &["patient", "_lastUpdated"]),
        search("Observation", &["patient", "_lastUpdated", "category"]),
        json!({"type": "Binary", "interaction": [{"code": "read"}]}),
        json!({"type": "CommunicationRequest", "interaction": [{"code": "read"}, {"code": "create"}]}),
    ];
    if options.tasks {
        resources
            .push(json!({"type": "Task", "interaction": [{"code": "read"}, {"code": "create"}]}));
    }
    fhir(
        StatusCode::OK,
        json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{"mode": "server", "resource": resources}],
        }),
    )
}

fn token_error(code: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"error": code}))).into_response()
}

/// SMART Backend Services: `client_credentials` with a `private_key_jwt` assertion signed by a
/// key the client registered (RS384 or ES384), for this token URL, at most 5 minutes long,
/// with a `jti` never seen before.
async fn token(
    State(sb): State<FhirSandbox>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    if form.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return token_error("invalid_client");
    }
    let Some(assertion) = form.get("client_assertion") else {
        return token_error("invalid_client");
    };
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return token_error("invalid_client");
    };
    if !matches!(
        header.alg,
        jsonwebtoken::Algorithm::RS384 | jsonwebtoken::Algorithm::ES384
    ) {
        return token_error("invalid_client");
    }
    // The issuer names the client whose keys verify the signature.
    let claims: Option<Value> = assertion
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(client_id) = claims
        .as_ref()
        .and_then(|c| c["iss"].as_str())
        .map(str::to_owned)
    else {
        return token_error("invalid_client");
    };
    let key =
        sb.0.clients
            .lock()
            .expect("lock")
            .get(&client_id)
            .and_then(|keys| {
                keys.iter()
                    .find(|k| header.kid.is_some() && k["kid"].as_str() == header.kid.as_deref())
                    .cloned()
            });
    let Some(key) = key else {
        return token_error("invalid_client");
    };
    let Some(decoding) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key)
        .ok()
        .and_then(|jwk| jsonwebtoken::DecodingKey::from_jwk(&jwk).ok())
    else {
        return token_error("invalid_client");
    };
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[format!("{}/auth/token", sb.base())]);
    validation.set_issuer(&[client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let Ok(verified) = jsonwebtoken::decode::<Value>(assertion, &decoding, &validation) else {
        return token_error("invalid_client");
    };
    let c = verified.claims;
    let exp = c["exp"].as_i64().unwrap_or(0);
    if c["sub"].as_str() != Some(client_id.as_str()) || exp > Utc::now().timestamp() + 310 {
        return token_error("invalid_client");
    }
    let Some(jti) = c["jti"].as_str() else {
        return token_error("invalid_client");
    };
    if !sb.0.jtis.lock().expect("lock").insert(jti.to_owned()) {
        return token_error("invalid_client");
    }
    let lifetime = sb.0.faults.get().token_lifetime_secs;
    let token = format!("{:032x}", rand::random::<u128>());
    sb.0.tokens.lock().expect("lock").insert(
        token.clone(),
        Instant::now() + Duration::from_secs(lifetime),
    );
    sb.0.tokens_issued.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime,
        "scope": form.get("scope").cloned().unwrap_or_default(),
    }))
    .into_response()
}

async fn read(State(sb): State<FhirSandbox>, Path((kind, id)): Path<(String, String)>) -> Response {
    if !READABLE.contains(&kind.as_str()) {
        return outcome(
            StatusCode::NOT_FOUND,
            "not-supported",
            "unknown resource type",
        );
    }
    match sb.get(&kind, &id) {
        Some(resource) => fhir(StatusCode::OK, resource),
        None => outcome(StatusCode::NOT_FOUND, "not-found", "no such resource"),
    }
}

async fn create(
    State(sb): State<FhirSandbox>,
    Path(kind): Path<String>,
    Json(mut resource): Json<Value>,
) -> Response {
    let allowed = match kind.as_str() {
        "Task" => sb.0.options.tasks,
        "CommunicationRequest" => true,
        _ => false,
    };
    if !allowed {
        return outcome(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            "create is not offered",
        );
    }
    if resource["resourceType"] != kind.as_str() {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            "resourceType does not match",
        );
    }
    if let Some(obj) = resource.as_object_mut() {
        obj.remove("id");
    }
    let id = sb.put(resource);
    if kind == "Task" {
        if let Some(after) = sb.0.options.fulfil_tasks_after {
            let sb = sb.clone();
            let task = id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                sb.fulfil_task(&task);
            });
        }
    }
    let mut res = fhir(
        StatusCode::CREATED,
        sb.get(&kind, &id).expect("just stored"),
    );
    if let Ok(location) = format!("{}/{kind}/{id}", sb.base()).parse() {
        res.headers_mut().insert(header::LOCATION, location);
    }
    res
}

impl FhirSandbox {
    /// Completes a data-request Task as a PHP's staff would: a new document for its patient,
    /// referenced from `Task.output`.
    pub fn fulfil_task(&self, task_id: &str) {
        let Some(task) = self.get("Task", task_id) else {
            return;
        };
        let Some(patient) = task["for"]["reference"].as_str().map(str::to_owned) else {
            return;
        };
        let doc = requested_records(&patient, &self.now());
        let doc_id = self.put(doc);
        self.modify("Task", task_id, |t| {
            t["status"] = json!("completed");
            t["output"] = json!([{
                "type": {"text": "requested documents"},
                "valueReference": {"reference": format!("DocumentReference/{doc_id}")},
            }]);
        });
    }
}

async fn patient_match(State(sb): State<FhirSandbox>, Json(params): Json<Value>) -> Response {
    if !sb.0.options.patient_match {
        return outcome(
            StatusCode::NOT_FOUND,
            "not-supported",
            "$match is not offered",
        );
    }
    let Some(wanted) = params["parameter"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "resource"))
        .map(|p| p["resource"].clone())
    else {
        return outcome(StatusCode::BAD_REQUEST, "invalid", "no resource parameter");
    };
    let family = wanted["name"][0]["family"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    let birth = wanted["birthDate"].as_str().unwrap_or("");
    let email = wanted["telecom"][0]["value"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    let entries: Vec<Value> = sb
        .all("Patient")
        .into_iter()
        .filter_map(|p| {
            let same_family = p["name"].as_array().is_some_and(|names| {
                names.iter().any(|n| n["family"].as_str().is_some_and(|f| f.to_lowercase() == family))
            });
            let same_birth = p["birthDate"].as_str() == Some(birth);
            if !(same_family && same_birth) {
                return None;
            }
            let same_email = !email.is_empty() && telecom_email(&p).is_some_and(|e| e.to_lowercase() == email);
            let (score, grade) = if same_email { (1.0, "certain") } else { (0.7, "possible") };
            Some(json!({
                "fullUrl": format!("{}/Patient/{}", sb.base(), p["id"].as_str().unwrap_or("")),
                "resource": p,
                "search": {
                    "mode": "match",
                    "score": score,
                    "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/match-grade", "valueCode": grade}],
                },
            }))
        })
        .collect();
    fhir(
        StatusCode::OK,
        json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "total": entries.len(),
            "entry": entries,
        }),
    )
}

fn telecom_email(p: &Value) -> Option<&str> {
    p["telecom"]
        .as_array()?
        .iter()
        .find(|t| t["system"] == "email")?
        .get("value")?
        .as_str()
}

/// `ge2026-11-01T00:00:00Z` and friends against a resource's lastUpdated.
fn last_updated_ok(filters: &[String], updated: &DateTime<Utc>) -> Option<bool> {
    for f in filters {
        let (op, value) = f.split_at(f.len().min(2));
        let (op, value) = match op {
            "ge" | "gt" | "le" | "lt" | "eq" => (op, value),
            _ => ("eq", f.as_str()),
        };
        let at = DateTime::parse_from_rfc3339(value).ok()?.to_utc();
        let ok = match op {
            "ge" => *updated >= at,
            "gt" => *updated > at,
            "le" => *updated <= at,
            "lt" => *updated < at,
            _ => *updated == at,
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

/// `category=a,b`: a resource with a category coded `a` or `b` (any, without the parameter).
fn in_category(r: &Value, wanted: Option<&str>) -> bool {
    let Some(wanted) = wanted else { return true };
    let wanted: Vec<&str> = wanted
        .split(',')
        .map(|w| w.rsplit('|').next().unwrap_or(w))
        .collect();
    r["category"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
        .filter_map(|c| c["code"].as_str())
        .any(|code| wanted.contains(&code))
}

async fn search(
    State(sb): State<FhirSandbox>,
    Path(kind): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let _ = headers;
    if !SEARCHABLE.contains(&kind.as_str()) {
        return outcome(
            StatusCode::NOT_FOUND,
            "not-supported",
            "search is not offered",
        );
    }
    if sb.0.faults.get().malformed_bundles {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, FHIR_JSON)],
            r#"{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"#,
        )
            .into_response();
    }
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let updated_filters: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "_lastUpdated")
        .map(|(_, v)| v.clone())
        .collect();
    let count = param("_count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, 100);
    let offset = param("_offset")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0usize);
    let subject = param("patient").or(param("subject")).map(|p| {
        if p.starts_with("Patient/") {
            p.to_owned()
        } else {
            format!("Patient/{p}")
        }
    });
    let now = sb.now();
    let (matches, includes) = {
        let store = sb.0.store.lock().expect("lock");
        let empty = BTreeMap::new();
        let table = store.resources.get(&kind).unwrap_or(&empty);
        let mut hits: Vec<&Stored> = Vec::new();
        for stored in table.values() {
            let r = &stored.json;
            match last_updated_ok(&updated_filters, &stored.updated) {
                None => return outcome(StatusCode::BAD_REQUEST, "invalid", "bad _lastUpdated"),
                Some(false) => continue,
                Some(true) => {}
            }
            if let Some(subject) = &subject {
                if r["subject"]["reference"].as_str() != Some(subject.as_str()) {
                    continue;
                }
            }
            let matches = match kind.as_str() {
                "Patient" => patient_matches(r, &param),
                "Task" | "CommunicationRequest" => identified(r, param("identifier")),
                "Observation" => in_category(r, param("category")),
                _ => true,
            };
            if !matches {
                continue;
            }
            hits.push(stored);
        }
        hits.sort_by(|a, b| {
            (a.updated, a.json["id"].as_str()).cmp(&(b.updated, b.json["id"].as_str()))
        });
        let total = hits.len();
        let page: Vec<Value> = hits
            .iter()
            .skip(offset)
            .take(count)
            .map(|s| s.json.clone())
            .collect();
        let mut includes = Vec::new();
        if kind == "DiagnosticReport" && param("_include") == Some("DiagnosticReport:result") {
            let observations = store.resources.get("Observation");
            for report in &page {
                for reference in report["result"].as_array().into_iter().flatten() {
                    let id = reference["reference"]
                        .as_str()
                        .and_then(|r| r.strip_prefix("Observation/"));
                    if let Some(o) = id.and_then(|id| observations?.get(id)) {
                        includes.push(o.json.clone());
                    }
                }
            }
        }
        ((page, total), includes)
    };
    let (page, total) = matches;
    let mut links = vec![json!({"relation": "self", "url": format!("{}/{kind}", sb.base())})];
    if offset + page.len() < total {
        let mut next: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "_offset")
            .cloned()
            .collect();
        next.push(("_offset".into(), (offset + page.len()).to_string()));
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&next)
            .finish();
        let next_base =
            sb.0.faults
                .get()
                .next_link_base
                .unwrap_or_else(|| sb.base().to_owned());
        links.push(json!({"relation": "next", "url": format!("{next_base}/{kind}?{query}")}));
    }
    let mut entries: Vec<Value> = page
        .into_iter()
        .map(|r| {
            json!({
                "fullUrl": format!("{}/{kind}/{}", sb.base(), r["id"].as_str().unwrap_or("")),
                "resource": r,
                "search": {"mode": "match"},
            })
        })
        .collect();
    entries.extend(includes.into_iter().map(|r| {
        json!({
            "fullUrl": format!("{}/Observation/{}", sb.base(), r["id"].as_str().unwrap_or("")),
            "resource": r,
            "search": {"mode": "include"},
        })
    }));
    fhir(
        StatusCode::OK,
        json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "meta": {"lastUpdated": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
            "total": total,
            "link": links,
            "entry": entries,
        }),
    )
}

/// `system|value` (or a bare value) against a resource's identifiers; no filter, no match
/// needed.
fn identified(r: &Value, wanted: Option<&str>) -> bool {
    let Some(wanted) = wanted else {
        return true;
    };
    let (system, value) = match wanted.split_once('|') {
        Some((s, v)) => (Some(s), v),
        None => (None, wanted),
    };
    r["identifier"].as_array().is_some_and(|ids| {
        ids.iter().any(|i| {
            i["value"].as_str() == Some(value)
                && system.is_none_or(|s| i["system"].as_str() == Some(s))
        })
    })
}

fn patient_matches<'a>(p: &Value, param: &impl Fn(&str) -> Option<&'a str>) -> bool {
    if !identified(p, param("identifier")) {
        return false;
    }
    let names = p["name"].as_array().cloned().unwrap_or_default();
    if let Some(family) = param("family") {
        let family = family.to_lowercase();
        if !names.iter().any(|n| {
            n["family"]
                .as_str()
                .is_some_and(|f| f.to_lowercase().starts_with(&family))
        }) {
            return false;
        }
    }
    if let Some(given) = param("given") {
        let given = given.to_lowercase();
        let found = names.iter().any(|n| {
            n["given"].as_array().is_some_and(|gs| {
                gs.iter().any(|g| {
                    g.as_str()
                        .is_some_and(|g| given.starts_with(&g.to_lowercase()))
                })
            })
        });
        if !found {
            return false;
        }
    }
    if let Some(birth) = param("birthdate") {
        if p["birthDate"].as_str() != Some(birth) {
            return false;
        }
    }
    if let Some(email) = param("email") {
        if !telecom_email(p).is_some_and(|e| e.eq_ignore_ascii_case(email)) {
            return false;
        }
    }
    true
}

/// What a PHP sends when a dietician asks: a letter with the requested records.
fn requested_records(patient_ref: &str, now: &DateTime<Utc>) -> Value {
    json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}], "text": "Consult note"},
        "subject": {"reference": patient_ref},
        "date": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "author": [{"display": "Medical records office"}],
        "description": "Requested records",
        "content": [{"attachment": {"contentType": "text/plain", "data": base64::engine::general_purpose::STANDARD.encode("Summary of care sent at the dietician's request.")}}],
    })
}
