//! A Primary Healthcare Provider's FHIR R4 server as a source of documents.

pub mod keys;
pub mod mapping;
pub mod model;

use crate::http::{read_capped, send, status_error, CallRetry};
use crate::{ConnectorError, Limits, Result};
use domain::dto::ConnectionStep;
use keys::SigningKey;
use model::{Bundle, CapabilityStatement, Patient, SmartConfiguration, Task};
use reqwest::header::{HeaderMap, ACCEPT, DATE};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OnceCell};

const FHIR_JSON: &str = "application/fhir+json";
/// The identifier system of the platform's document requests at a PHP.
pub const REQUEST_SYSTEM: &str = "urn:healthcare-records:document-request";

/// How the platform authenticates at a PHP.
#[derive(Debug, Clone)]
pub enum Auth {
    /// An open server.
    None,
    /// A static bearer token issued out of band.
    Bearer(String),
    /// SMART Backend Services: client_credentials with a signed JWT client assertion.
    SmartBackend {
        client_id: String,
        key: SigningKey,
        scope: String,
        /// Overrides the token endpoint from `.well-known/smart-configuration`.
        token_url: Option<String>,
    },
}

/// The scope asked for when none is configured: read what documents come from, write Tasks.
pub const DEFAULT_SCOPE: &str = "system/Patient.rs system/DocumentReference.rs system/DiagnosticReport.rs system/Observation.rs system/Binary.r system/Task.cru system/CommunicationRequest.cru";

/// What the server says it offers.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub smart: Option<SmartConfiguration>,
    pub capabilities: CapabilityStatement,
}

struct CachedToken {
    value: String,
    renew_at: Instant,
}

/// An answer's body and the server's own clock (its `Date` header).
struct Answer {
    body: Value,
    server_time: Option<String>,
}

/// A client of one PHP's FHIR endpoint.
///
/// Its errors reach the people at the practice (a patient's sync error, the sync log), so
/// they name the provider as the practice knows it: "Riverside Medical's server could not be
/// reached", "Riverside Medical sent a DocumentReference without a valid id".
pub struct FhirSource {
    http: reqwest::Client,
    /// The provider's display name, for every message: "Riverside Medical".
    name: String,
    /// Its FHIR server, in messages about the transport: "Riverside Medical's server".
    remote: String,
    base: String,
    /// `base` parsed: scheme and host in lower case, no default port, dot segments resolved.
    /// What every URL the token goes to is compared with ([`same_origin`], [`under_base`]).
    base_url: Url,
    auth: Auth,
    limits: Limits,
    retry: CallRetry,
    discovery: OnceCell<Discovery>,
    token: Mutex<Option<CachedToken>>,
}

/// How sure a patient search is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientMatch {
    /// Exactly one patient at the PHP, found by identifier or a certain match.
    Found(PhpPatient),
    /// Candidates, none certain: a person must confirm (count only; no PHI).
    Unsure(usize),
    NotFound,
}

/// The record a search found at the PHP: its id, and the demographics a link is checked
/// against before anything is pulled under it ([`PhpPatient::agrees_with`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhpPatient {
    pub id: String,
    /// The name as the PHP holds it, in one line.
    pub name: String,
    pub family: Option<String>,
    pub birth_date: Option<String>,
}

impl PhpPatient {
    fn from_resource(p: &Patient) -> Self {
        let name = p.name.first();
        Self {
            id: p.id.clone().unwrap_or_default(),
            name: name.map(model::HumanName::full).unwrap_or_default(),
            family: name.and_then(|n| {
                n.family
                    .clone()
                    .or_else(|| n.text.as_deref().map(|t| split_name(t).1))
            }),
            birth_date: p.birth_date.clone(),
        }
    }

    /// Whether this record is the person the platform holds as `name` born on `birth_date`:
    /// the same birth date, and our name ends with their family name (case and spacing
    /// aside, so "Anna van der Berg" agrees with family "Van der Berg"). Both must be known;
    /// an identifier alone never justifies a link.
    pub fn agrees_with(&self, name: &str, birth_date: Option<&str>) -> bool {
        let words = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let (Some(family), Some(theirs), Some(ours)) = (
            self.family.as_deref(),
            self.birth_date.as_deref(),
            birth_date,
        ) else {
            return false;
        };
        let (family, name) = (words(family), words(name));
        !family.is_empty()
            && theirs == ours
            && (name == family || name.ends_with(&format!(" {family}")))
    }
}

/// What the platform knows of a patient, to find them at the PHP.
#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    /// The identifier the PHP knows them by (`system|value` or a bare value).
    pub identifier: Option<String>,
    pub name: String,
    pub birth_date: Option<String>,
    pub email: Option<String>,
}

impl FhirSource {
    /// A client of the FHIR server at `base` of the provider called `name` (its display name,
    /// as the practice knows it: every error message names it).
    pub fn new(name: &str, base: &str, auth: Auth, limits: Limits) -> Result<Self> {
        let url = Url::parse(base).map_err(|_| {
            ConnectorError::Config(format!("the FHIR base URL set for {name} is not a URL"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConnectorError::Config(format!(
                "the FHIR base URL set for {name} must be http(s)"
            )));
        }
        Ok(Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| ConnectorError::Config(e.to_string()))?,
            name: name.to_owned(),
            remote: format!("{name}'s server"),
            base: base.trim_end_matches('/').to_owned(),
            base_url: url,
            auth,
            limits,
            retry: CallRetry::default(),
            discovery: OnceCell::new(),
            token: Mutex::new(None),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The provider's display name, as its messages say it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reaches the PHP as a pull does, step by step, up to the first that fails: its
    /// discovery documents, a token (when the platform signs in there), a search. The search
    /// asks only for a count of patients (`_summary=count`): nothing of a patient is read,
    /// kept or shown.
    pub async fn check(&self) -> Vec<ConnectionStep> {
        let step =
            |step: &str, outcome: std::result::Result<String, ConnectorError>| ConnectionStep {
                step: step.to_owned(),
                ok: outcome.is_ok(),
                detail: outcome.unwrap_or_else(|e| e.to_string()),
            };
        let discovered = self.discover().await.map(|d| {
            let version = d.capabilities.fhir_version.as_deref().unwrap_or("unstated");
            match &d.smart {
                Some(_) => format!("FHIR version {version}; SMART configuration published."),
                None => format!("FHIR version {version}; no SMART configuration published."),
            }
        });
        let mut steps = vec![step("Discovery", discovered)];
        if !steps[0].ok {
            return steps;
        }
        let token = self.bearer().await.map(|t| match (&self.auth, t) {
            (Auth::SmartBackend { .. }, Some(_)) => {
                "A token was granted to the platform.".to_owned()
            }
            (Auth::Bearer(_), _) => "The platform sends the token the PHP issued.".to_owned(),
            _ => "None needed: the server is open.".to_owned(),
        });
        steps.push(step("Token", token));
        if !steps[1].ok {
            return steps;
        }
        let first = PageRef::First {
            resource: "Patient".into(),
            // `_count=0` too: a server that ignores `_summary` still sends no patient.
            params: vec![
                ("_summary".into(), "count".into()),
                ("_count".into(), "0".into()),
            ],
        };
        let search = self
            .search_page(&first)
            .await
            .map(|(bundle, _)| match bundle.total {
                Some(1) => "Searching works; the PHP holds 1 patient record.".to_owned(),
                Some(n) => format!("Searching works; the PHP holds {n} patient records."),
                None => "Searching works.".to_owned(),
            });
        steps.push(step("Search", search));
        steps
    }

    /// `.well-known/smart-configuration` (when the server has one) and `/metadata`, read once.
    pub async fn discover(&self) -> Result<&Discovery> {
        self.discovery
            .get_or_try_init(|| async {
                let smart = match self
                    .fetch_json::<SmartConfiguration>(
                        &format!("{}/.well-known/smart-configuration", self.base),
                        "reading its SMART configuration",
                    )
                    .await
                {
                    Ok(config) => Some(config),
                    Err(ConnectorError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                };
                // Open to all, as FHIR asks: no token needed (or yet known).
                let capabilities = self
                    .fetch_json::<CapabilityStatement>(
                        &format!("{}/metadata", self.base),
                        "reading its capabilities",
                    )
                    .await?;
                Ok(Discovery {
                    smart,
                    capabilities,
                })
            })
            .await
    }

    /// An unauthenticated JSON read (discovery documents), retried briefly.
    async fn fetch_json<T: DeserializeOwned>(&self, url: &str, doing: &str) -> Result<T> {
        let remote = &self.remote;
        let body = self
            .retry
            .run(true, || async {
                let req = self.http.get(url).header(ACCEPT, "application/json");
                let res = send(req, remote).await?;
                if !res.status().is_success() {
                    return Err(status_error(res.status(), res.headers(), remote, doing));
                }
                read_capped(res, 4 << 20, remote).await
            })
            .await?;
        serde_json::from_slice(&body)
            .map_err(|_| ConnectorError::Invalid(format!("{remote} sent malformed JSON ({doing})")))
    }

    /// A bearer token for the next call: cached until a minute before it expires.
    async fn bearer(&self) -> Result<Option<String>> {
        let (client_id, key, scope, configured_url) = match &self.auth {
            Auth::None => return Ok(None),
            Auth::Bearer(token) => return Ok(Some(token.clone())),
            Auth::SmartBackend {
                client_id,
                key,
                scope,
                token_url,
            } => (client_id, key, scope, token_url),
        };
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(Some(token.value.clone()));
        }
        let token_url = match configured_url {
            Some(url) => url.clone(),
            None => self.discovered_token_url().await?,
        };
        let body = self
            .retry
            .run(true, || {
                self.request_token(client_id, key, scope, &token_url)
            })
            .await?;
        let value = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty() && t.len() < 8192)
            .ok_or_else(|| {
                ConnectorError::Invalid(format!("{}'s token answer has no access_token", self.name))
            })?
            .to_owned();
        let lifetime = body["expires_in"].as_u64().unwrap_or(300).clamp(1, 86_400);
        let renew_at =
            Instant::now() + Duration::from_secs(lifetime.saturating_sub(60).max(lifetime / 2));
        *cached = Some(CachedToken {
            value: value.clone(),
            renew_at,
        });
        Ok(Some(value))
    }

    /// The token endpoint the server's SMART configuration names, if it is on the server's own
    /// host (scheme, host and port of the FHIR base). One elsewhere is never sent the
    /// platform's client assertion: a server that publishes it (or whoever can change what it
    /// publishes) would get a signed credential for another audience, and the platform's
    /// scopes at this PHP with it. A PHP whose authorization server really is elsewhere has it
    /// set as the provider's token URL by an administrator.
    async fn discovered_token_url(&self) -> Result<String> {
        let endpoint = self
            .discover()
            .await?
            .smart
            .as_ref()
            .and_then(|s| s.token_endpoint.clone())
            .ok_or_else(|| {
                ConnectorError::Config(format!(
                    "{} publishes no SMART token endpoint; an administrator must set its token URL",
                    self.name
                ))
            })?;
        let url = Url::parse(&endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"));
        match url {
            Some(url) if same_origin(&self.base_url, &url) => Ok(endpoint),
            Some(url) => Err(ConnectorError::Config(format!(
                "{}'s SMART configuration names a token endpoint on another server ({}), not on its FHIR server ({}); the platform signs in only there. If that server is {}'s, an administrator must set it as the provider's token URL",
                self.name,
                url.origin().ascii_serialization(),
                self.base_url.origin().ascii_serialization(),
                self.name
            ))),
            None => Err(ConnectorError::Invalid(format!(
                "{}'s SMART configuration names a token endpoint that is not an http(s) URL",
                self.name
            ))),
        }
    }

    /// One client_credentials exchange with a fresh assertion (and `jti`).
    async fn request_token(
        &self,
        client_id: &str,
        key: &SigningKey,
        scope: &str,
        token_url: &str,
    ) -> Result<Value> {
        let assertion = key.client_assertion(client_id, token_url)?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", scope),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        let remote = &self.remote;
        let res = send(self.http.post(token_url).form(&form), remote).await?;
        let status = res.status();
        if status.is_client_error() && status.as_u16() != 429 {
            return Err(ConnectorError::Auth(format!(
                "{} refused the platform's client assertion (HTTP {}); check that it has registered the {} public key with kid {:?} for this client id",
                self.name,
                status.as_u16(),
                key.alg().as_str(),
                key.kid()
            )));
        }
        if !status.is_success() {
            return Err(status_error(
                status,
                res.headers(),
                remote,
                "getting an access token",
            ));
        }
        serde_json::from_slice(&read_capped(res, 64 << 10, remote).await?).map_err(|_| {
            ConnectorError::Invalid(format!("{}'s token answer is not JSON", self.name))
        })
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// Only URLs under the base get the token: a `next` link (or a reference) elsewhere is
    /// refused. Compared as URLs, not as text (see [`under_base`]); returns the URL to call,
    /// as compared.
    fn check_same_server(&self, url: &str) -> Result<Url> {
        Url::parse(url)
            .ok()
            .filter(|u| under_base(&self.base_url, u))
            .ok_or_else(|| {
                ConnectorError::Invalid(format!(
                    "{} sent a paging link to another server; not followed",
                    self.name
                ))
            })
    }

    /// An authenticated request; on a 401 with SMART auth, one retry with a fresh token.
    async fn call(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        doing: &str,
        cap: usize,
    ) -> Result<(Vec<u8>, HeaderMap)> {
        for attempt in 0..2 {
            let mut req = build(&self.http).header(ACCEPT, FHIR_JSON);
            if let Some(token) = self.bearer().await? {
                req = req.bearer_auth(token);
            }
            let res = send(req, &self.remote).await?;
            let status = res.status();
            if status == reqwest::StatusCode::UNAUTHORIZED
                && attempt == 0
                && matches!(self.auth, Auth::SmartBackend { .. })
            {
                self.forget_token().await;
                continue;
            }
            if !status.is_success() {
                return Err(status_error(status, res.headers(), &self.remote, doing));
            }
            let headers = res.headers().clone();
            return Ok((read_capped(res, cap, &self.remote).await?, headers));
        }
        unreachable!("the loop returns on its second pass")
    }

    /// A read, retried briefly while the server is unavailable.
    async fn get(&self, url: &str, doing: &str) -> Result<Answer> {
        let url = self.check_same_server(url)?;
        let (body, headers) = self
            .retry
            .run(true, || {
                self.call(
                    |http| http.get(url.clone()),
                    doing,
                    self.limits.max_response_bytes,
                )
            })
            .await?;
        self.answer(&body, &headers, doing)
    }

    /// A POST, retried only on answers that say nothing was done; `idempotent` (an
    /// operation like `$match`) retries unsure failures too.
    async fn post(
        &self,
        url: &str,
        resource: &Value,
        doing: &str,
        idempotent: bool,
    ) -> Result<Answer> {
        let url = self.check_same_server(url)?;
        let send_it = || {
            self.call(
                |http| {
                    http.post(url.clone())
                        .header(reqwest::header::CONTENT_TYPE, FHIR_JSON)
                        .json(resource)
                },
                doing,
                1 << 20,
            )
        };
        let (body, headers) = self.retry.run(idempotent, send_it).await?;
        self.answer(&body, &headers, doing)
    }

    /// One search page: the first (`resource?params`) or a `next` link.
    pub async fn search_page(&self, page: &PageRef) -> Result<(Bundle, Option<String>)> {
        let url = match page {
            PageRef::First { resource, params } => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params)
                    .finish();
                format!("{}/{resource}?{query}", self.base)
            }
            PageRef::Next(url) => url.clone(),
        };
        let answer = self.get(&url, "searching").await?;
        let bundle: Bundle = self.parse(answer.body, "a search Bundle")?;
        if bundle.resource_type != "Bundle"
            || bundle.kind.as_deref().is_some_and(|k| k != "searchset")
        {
            return Err(ConnectorError::Invalid(format!(
                "{} answered a search with something other than a searchset Bundle",
                self.name
            )));
        }
        let server_time = bundle.meta.last_updated.clone().or(answer.server_time);
        Ok((bundle, server_time))
    }

    /// Reads `Type/id` (or a relative reference) under the base.
    pub async fn read(&self, reference: &str) -> Result<Value> {
        let reference = reference.trim_start_matches('/');
        let url = if reference.starts_with("http://") || reference.starts_with("https://") {
            reference.to_owned()
        } else {
            format!("{}/{reference}", self.base)
        };
        Ok(self.get(&url, "reading a resource").await?.body)
    }

    /// Finds the platform's patient at the PHP: by identifier, else `$match` (certain
    /// matches only), else name + birth date (+ email). Anything less than one certain
    /// candidate is reported, never guessed.
    pub async fn find_patient(&self, q: &PatientQuery) -> Result<PatientMatch> {
        if let Some(identifier) = q.identifier.as_deref().filter(|i| !i.is_empty()) {
            let found = self
                .patients(&[("identifier", identifier.to_owned())])
                .await?;
            return Ok(match found.as_slice() {
                [one] => PatientMatch::Found(PhpPatient::from_resource(one)),
                [] => PatientMatch::NotFound,
                many => PatientMatch::Unsure(many.len()),
            });
        }
        let Some(birth_date) = q.birth_date.clone() else {
            return Ok(PatientMatch::NotFound);
        };
        let caps = &self.discover().await?.capabilities;
        if caps.has_operation("Patient", "match") {
            return self.match_operation(q, &birth_date).await;
        }
        let (given, family) = split_name(&q.name);
        let mut params = vec![("birthdate", birth_date.clone()), ("family", family)];
        if let Some(given) = given {
            params.push(("given", given));
        }
        let found = self.patients(&params).await?;
        let certain: Vec<&Patient> = found
            .iter()
            .filter(|p| p.birth_date.as_deref() == Some(birth_date.as_str()))
            .filter(|p| match (&q.email, p.email()) {
                (Some(ours), Some(theirs)) => ours.eq_ignore_ascii_case(theirs),
                _ => false,
            })
            .collect();
        Ok(match (certain.as_slice(), found.len()) {
            ([one], _) => PatientMatch::Found(PhpPatient::from_resource(one)),
            (_, 0) => PatientMatch::NotFound,
            (_, n) => PatientMatch::Unsure(n),
        })
    }

    async fn patients(&self, params: &[(&str, String)]) -> Result<Vec<Patient>> {
        let page = PageRef::First {
            resource: "Patient".into(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        };
        let (bundle, _) = self.search_page(&page).await?;
        self.resources_of(&bundle, "Patient")
    }

    async fn match_operation(&self, q: &PatientQuery, birth_date: &str) -> Result<PatientMatch> {
        let (given, family) = split_name(&q.name);
        let mut patient = json!({
            "resourceType": "Patient",
            "name": [{"family": family, "given": given.into_iter().collect::<Vec<_>>()}],
            "birthDate": birth_date,
        });
        if let Some(email) = &q.email {
            patient["telecom"] = json!([{"system": "email", "value": email}]);
        }
        let parameters = json!({
            "resourceType": "Parameters",
            "parameter": [
                {"name": "resource", "resource": patient},
                {"name": "onlyCertainMatches", "valueBoolean": true},
                {"name": "count", "valueInteger": 3},
            ],
        });
        let answer = self
            .post(
                &format!("{}/Patient/$match", self.base),
                &parameters,
                "matching the patient",
                true,
            )
            .await?;
        let bundle: Bundle = self.parse(answer.body, "a $match Bundle")?;
        let certain: Vec<&model::BundleEntry> = bundle
            .entry
            .iter()
            .filter(|e| {
                e.search.as_ref().is_some_and(|s| {
                    s.score.is_some_and(|score| score >= 0.95) || match_grade(e) == Some("certain")
                })
            })
            .collect();
        Ok(match (certain.as_slice(), bundle.entry.len()) {
            ([one], _) => {
                let resource = one.resource.clone().unwrap_or_default();
                let patient: Patient = self.parse(resource, "a $match Patient")?;
                PatientMatch::Found(PhpPatient::from_resource(&patient))
            }
            (_, 0) => PatientMatch::NotFound,
            (_, n) => PatientMatch::Unsure(n),
        })
    }

    /// Asks the PHP for a patient's documents: a Da Vinci CDex data-request `Task`, or a
    /// `CommunicationRequest` where the server takes no Task, carrying `request_id` as its
    /// identifier. Returns `Type/id`. After an [`ConnectorError::Unsure`] failure, look for
    /// it with [`Self::find_request`] before asking again.
    pub async fn request_documents(
        &self,
        request_id: &str,
        patient_id: &str,
        types: &[domain::DocumentType],
        note: Option<&str>,
    ) -> Result<String> {
        let caps = &self.discover().await?.capabilities;
        let identifier = json!([{"system": REQUEST_SYSTEM, "value": request_id}]);
        let query = format!("DocumentReference?patient={patient_id}");
        let wanted: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        let text = match (wanted.is_empty(), note) {
            (true, None) => "Please send this patient's recent documents.".to_owned(),
            (true, Some(note)) => note.to_owned(),
            (false, None) => format!("Please send: {}.", wanted.join(", ")),
            (false, Some(note)) => format!("Please send: {}. {note}", wanted.join(", ")),
        };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (kind, resource) = if caps.supports("Task", "create")
            || !caps.supports("CommunicationRequest", "create")
        {
            (
                "Task",
                json!({
                    "resourceType": "Task",
                    "identifier": identifier,
                    "status": "requested",
                    "intent": "order",
                    "code": {"coding": [{
                        "system": "http://hl7.org/fhir/us/davinci-hrex/CodeSystem/hrex-temp",
                        "code": "data-request",
                    }]},
                    "for": {"reference": format!("Patient/{patient_id}")},
                    "authoredOn": now,
                    "input": [{
                        "type": {"coding": [{
                            "system": "http://hl7.org/fhir/us/davinci-hrex/CodeSystem/hrex-temp",
                            "code": "data-query",
                        }]},
                        "valueString": query,
                    }],
                    "note": [{"text": text}],
                }),
            )
        } else {
            (
                "CommunicationRequest",
                json!({
                    "resourceType": "CommunicationRequest",
                    "identifier": identifier,
                    "status": "active",
                    "subject": {"reference": format!("Patient/{patient_id}")},
                    "authoredOn": now,
                    "payload": [{"contentString": text}],
                }),
            )
        };
        let answer = self
            .post(
                &format!("{}/{kind}", self.base),
                &resource,
                "requesting documents",
                false,
            )
            .await?;
        let id = answer.body["id"]
            .as_str()
            .filter(|id| valid_id(id))
            .ok_or_else(|| {
                ConnectorError::Invalid(format!("{} created a {kind} without an id", self.name))
            })?;
        Ok(format!("{kind}/{id}"))
    }

    /// The request an earlier, unsure attempt may have made: `Type/id`.
    pub async fn find_request(&self, request_id: &str) -> Result<Option<String>> {
        for kind in ["Task", "CommunicationRequest"] {
            let page = PageRef::First {
                resource: kind.to_owned(),
                params: vec![(
                    "identifier".into(),
                    format!("{REQUEST_SYSTEM}|{request_id}"),
                )],
            };
            let (bundle, _) = match self.search_page(&page).await {
                Ok(found) => found,
                // A server that cannot search this type cannot have it either.
                Err(ConnectorError::NotFound(_) | ConnectorError::Refused(_)) => continue,
                Err(e) => return Err(e),
            };
            let id = bundle
                .entry
                .iter()
                .filter_map(|e| e.resource.as_ref())
                .find(|r| r["resourceType"] == kind)
                .and_then(|r| r["id"].as_str())
                .filter(|id| valid_id(id));
            if let Some(id) = id {
                return Ok(Some(format!("{kind}/{id}")));
            }
        }
        Ok(None)
    }

    /// The status of a request made by [`Self::request_documents`] (`Task.status`, or
    /// `CommunicationRequest.status`).
    pub async fn request_status(&self, reference: &str) -> Result<String> {
        let body = self.read(reference).await?;
        let task: Task = self.parse(body, "a Task")?;
        task.status.filter(|s| s.len() < 40).ok_or_else(|| {
            ConnectorError::Invalid(format!("{}'s request has no status", self.name))
        })
    }

    fn answer(&self, body: &[u8], headers: &HeaderMap, doing: &str) -> Result<Answer> {
        let body = serde_json::from_slice(body).map_err(|_| {
            ConnectorError::Invalid(format!("{} sent malformed JSON ({doing})", self.remote))
        })?;
        let server_time = headers
            .get(DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
            .map(|d| {
                d.to_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            });
        Ok(Answer { body, server_time })
    }

    /// `value` as a `T`; `what` names it in the error ("a search Bundle").
    pub(crate) fn parse<T: DeserializeOwned>(&self, value: Value, what: &str) -> Result<T> {
        serde_json::from_value(value).map_err(|_| {
            ConnectorError::Invalid(format!(
                "{} sent {what} that is not valid FHIR R4",
                self.remote
            ))
        })
    }

    /// The entries of `bundle` that are `kind` resources (others, like OperationOutcome,
    /// skipped).
    pub(crate) fn resources_of<T: DeserializeOwned>(
        &self,
        bundle: &Bundle,
        kind: &str,
    ) -> Result<Vec<T>> {
        bundle
            .entry
            .iter()
            .filter_map(|e| e.resource.as_ref())
            .filter(|r| r["resourceType"] == kind)
            .map(|r| self.parse(r.clone(), kind))
            .collect()
    }
}

/// Where a search page is.
#[derive(Debug, Clone)]
pub enum PageRef {
    First {
        resource: String,
        params: Vec<(String, String)>,
    },
    Next(String),
}

/// Same scheme, host and port (the scheme's default when none is written). Both are parsed
/// URLs, so case and default ports are normalised already.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether `url` is on the server of `base` and under its path, segment by segment (after the
/// URL parser resolved `.` and `..`, including their percent-encoded forms), with no
/// credentials in it: `http://PHP.example:80/fhir/x` is under `http://php.example/fhir`;
/// `http://php.example/fhir/../admin/x` and `http://php.example/fhirx` are not.
fn under_base(base: &Url, url: &Url) -> bool {
    let segments = |u: &Url| -> Vec<String> {
        u.path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    same_origin(base, url)
        && url.username().is_empty()
        && url.password().is_none()
        && segments(url).starts_with(&segments(base))
}

fn match_grade(entry: &model::BundleEntry) -> Option<&str> {
    entry
        .resource
        .as_ref()?
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/match-grade")?
        .get("valueCode")?
        .as_str()
}

/// "Ana Maria Lima" -> (Some("Ana Maria"), "Lima")
fn split_name(name: &str) -> (Option<String>, String) {
    match name.trim().rsplit_once(' ') {
        Some((given, family)) => (Some(given.trim().to_owned()), family.to_owned()),
        None => (None, name.trim().to_owned()),
    }
}

/// A FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_needs_the_family_name_and_the_birth_date_to_agree() {
        let found = |family: Option<&str>, birth: Option<&str>| PhpPatient {
            id: "p1".into(),
            name: String::new(),
            family: family.map(str::to_owned),
            birth_date: birth.map(str::to_owned),
        };
        let berg = found(Some("Van der  Berg"), Some("1980-02-03"));
        assert!(berg.agrees_with("Anna van der Berg", Some("1980-02-03")));
        assert!(berg.agrees_with(" van der berg ", Some("1980-02-03")));
        // Another birth date, another family name, a name that only contains theirs.
        assert!(!berg.agrees_with("Anna van der Berg", Some("1980-03-02")));
        assert!(!berg.agrees_with("Anna Lima", Some("1980-02-03")));
        assert!(!berg.agrees_with("Anna Berghaus", Some("1980-02-03")));
        assert!(!berg.agrees_with("Anna Tvan der Berg", Some("1980-02-03")));
        // Unknown on either side: never agrees.
        assert!(!berg.agrees_with("Anna van der Berg", None));
        assert!(!found(None, Some("1980-02-03")).agrees_with("Anna Berg", Some("1980-02-03")));
        assert!(!found(Some("Berg"), None).agrees_with("Anna Berg", Some("1980-02-03")));
        assert!(!found(Some(" "), Some("1980-02-03")).agrees_with("Anna", Some("1980-02-03")));
    }

    fn under(base: &str, url: &str) -> bool {
        under_base(
            &Url::parse(base).expect("base"),
            &Url::parse(url).expect("url"),
        )
    }

    #[test]
    fn paging_links_are_compared_as_urls_not_as_text() {
        let base = "http://php.example.org/fhir";
        // Written differently, the same place: followed.
        for same in [
            "http://php.example.org/fhir/DocumentReference?_offset=50",
            "HTTP://PHP.Example.ORG/fhir/DocumentReference?_offset=50",
            "http://php.example.org:80/fhir/DocumentReference",
            "http://php.example.org/fhir/./DocumentReference",
            "http://php.example.org/other/../fhir/DocumentReference",
            "http://php.example.org/fhir",
            "http://php.example.org/fhir/",
        ] {
            assert!(under(base, same), "{same}");
        }
        assert!(under(
            "https://php.example.org:443/fhir/",
            "https://php.example.org/fhir/Binary/1"
        ));
        // Elsewhere, however it is written: refused.
        for elsewhere in [
            "http://php.example.org/fhir/../admin/DocumentReference",
            "http://php.example.org/fhir/%2e%2e/admin/DocumentReference",
            "http://php.example.org/fhirx/DocumentReference",
            "http://php.example.org/DocumentReference",
            "https://php.example.org/fhir/DocumentReference",
            "http://php.example.org:8080/fhir/DocumentReference",
            "http://php.example.org.evil.example/fhir/DocumentReference",
            "http://php.example.org@evil.example/fhir/DocumentReference",
            "http://user:secret@php.example.org/fhir/DocumentReference",
        ] {
            assert!(!under(base, elsewhere), "{elsewhere}");
        }
    }

    #[test]
    fn the_token_endpoint_must_be_on_the_fhir_servers_host() {
        let base = Url::parse("https://php.example.org/fhir").expect("base");
        let at = |u: &str| same_origin(&base, &Url::parse(u).expect("url"));
        assert!(at("https://php.example.org/auth/token"));
        assert!(at("HTTPS://PHP.EXAMPLE.ORG:443/oauth2/token"));
        assert!(!at("https://auth.example.org/token"));
        assert!(!at("http://php.example.org/auth/token"));
        assert!(!at("https://php.example.org:8443/auth/token"));
    }
}
