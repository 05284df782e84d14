//! Jobs against a patient's PHP: pulling their documents, and asking for more.

use super::{Done, JobError, Progress};
use crate::app::AppState;
use crate::db::jobs::{Job, JobCause, JobKind};
use crate::db::php::{Applied, RequestState};
use crate::db::providers::{AuthMode, ProviderAccess};
use connectors::fhir::keys::SigningKey;
use connectors::fhir::mapping::{first_pages, Incoming};
use connectors::fhir::{Auth, FhirSource, PatientMatch, PatientQuery, DEFAULT_SCOPE};
use connectors::{ConnectorError, Limits};
use domain::access::PatientScope;
use domain::dto::Patient;
use domain::{LinkApproval, LinkPolicy, LogStatus, PhpMatch};
use std::time::Duration;

const PAGE_SIZE: usize = 50;

/// A job that began before the patient was relinked (or the link refused), and found them
/// under the old link.
const RELINKED: &str =
    "The patient's link to their healthcare provider changed during this attempt; nothing more found under the old link is kept.";

/// How often a sent request is checked at the PHP.
const REQUEST_POLL: Duration = Duration::from_secs(30);

/// "Test connection": the provider's settings tried as a pull would use them, step by step
/// (a fresh client, so no token from an earlier call hides a refusal).
pub(crate) async fn check_connection(
    app: &AppState,
    access: &ProviderAccess,
) -> Vec<domain::dto::ConnectionStep> {
    match source_for(app, access) {
        Ok(source) => source.check().await,
        Err(e) => vec![domain::dto::ConnectionStep {
            step: "Settings".into(),
            ok: false,
            detail: e.message,
        }],
    }
}

/// A FHIR client for a provider's settings, its credential unsealed.
pub(super) fn source_for(app: &AppState, access: &ProviderAccess) -> Result<FhirSource, JobError> {
    let p = &access.provider;
    // Said to the dietician too (the patient's `sync_error`): what is wrong and who fixes it,
    // without the server's settings (the admin's startup log names those).
    let secret = || {
        access
            .sealed_secret
            .as_deref()
            .and_then(|s| app.cipher.open(s))
            .ok_or_else(|| {
                JobError::permanent(format!(
                    "the connection to {} needs its credentials entered again by an administrator",
                    p.name
                ))
            })
    };
    let auth = match p.auth_mode {
        AuthMode::None => Auth::None,
        AuthMode::Bearer => Auth::Bearer(secret()?),
        AuthMode::SmartBackend => Auth::SmartBackend {
            client_id: p.client_id.clone().unwrap_or_default(),
            key: SigningKey::from_pem(&secret()?, p.key_id.as_deref().unwrap_or_default())
                .map_err(|e| {
                    JobError::permanent(format!(
                        "the connection to {} needs an administrator: {e}",
                        p.name
                    ))
                })?,
            scope: p.scope.clone().unwrap_or_else(|| DEFAULT_SCOPE.to_owned()),
            token_url: p.token_url.clone(),
        },
    };
    let limits = Limits {
        max_document_bytes: app.config.max_body_bytes,
        ..Limits::default()
    };
    Ok(FhirSource::new(&p.name, &p.fhir_base_url, auth, limits)?)
}

/// The live, linked patient of a job; `None` when there is nothing to do for them.
async fn linked(app: &AppState, job: &Job) -> Result<Option<(Patient, uuid::Uuid)>, JobError> {
    let Some(patient_id) = job.patient_id else {
        return Ok(None);
    };
    let Some(patient) = app.db.patient(PatientScope::All, patient_id).await? else {
        return Ok(None);
    };
    Ok(patient.provider_id.map(|provider| (patient, provider)))
}

/// What a dietician reads when the PHP's record under a link cannot be confirmed, whatever
/// the reason (no record, several, one that disagrees): never whether someone exists there.
fn unconfirmed(provider: &str) -> JobError {
    JobError::permanent(format!(
        "{provider} could not confirm this patient from their name, birth date and ID at {provider}; check them, or ask an administrator to look at the link"
    ))
}

/// Looks the patient up at the PHP (`source`) and records how it went, with the record found
/// (for the administrator reviewing the link). Nothing is pulled.
async fn look_up(
    app: &AppState,
    source: &FhirSource,
    patient: &Patient,
) -> Result<Lookup, JobError> {
    let birth_date = patient.birth_date.map(|d| d.to_string());
    let query = PatientQuery {
        identifier: patient.provider_patient_identifier.clone(),
        name: patient.name.clone(),
        birth_date: birth_date.clone(),
        email: Some(patient.email.clone()),
    };
    let found = match source.find_patient(&query).await {
        Ok(found) => found,
        // An unusable answer about a person would tell a dietician that the PHP answered
        // with someone: it counts as no certain record, and operators read why in the log.
        Err(
            e @ (ConnectorError::Invalid(_)
            | ConnectorError::Refused(_)
            | ConnectorError::NotFound(_)),
        ) => {
            tracing::warn!(provider = source.name(), error = %e, "a patient lookup at the PHP got an unusable answer");
            PatientMatch::Unsure(0)
        }
        Err(e) => return Err(e.into()),
    };
    let (outcome, record) = match &found {
        PatientMatch::Found(p) if !connectors::fhir::valid_id(&p.id) => {
            tracing::warn!(
                provider = source.name(),
                "the PHP sent a patient record without a valid FHIR id"
            );
            (PhpMatch::Differs, Some(p))
        }
        PatientMatch::Found(p) if p.agrees_with(&patient.name, birth_date.as_deref()) => {
            (PhpMatch::Found, Some(p))
        }
        PatientMatch::Found(p) => (PhpMatch::Differs, Some(p)),
        PatientMatch::Unsure(_) => (PhpMatch::Unsure, None),
        PatientMatch::NotFound => (PhpMatch::NotFound, None),
    };
    if !app.db.set_php_match(patient, outcome, record).await? {
        return Ok(Lookup::Relinked);
    }
    Ok(match record.filter(|_| outcome == PhpMatch::Found) {
        Some(r) => Lookup::Agrees(r.id.clone()),
        None => Lookup::Unconfirmed,
    })
}

/// Which PHP record an approved link pulls from.
enum Under {
    /// The patient's id at the PHP.
    Record(String),
    /// The link changed while the search ran (the job started before the change): what it
    /// found is not kept, and the job after the relink searches afresh.
    Relinked,
    /// Sent back for review: see [`php_patient`].
    Review,
}

/// How a [`look_up`] went.
enum Lookup {
    /// One record agrees with the patient: its id at the PHP.
    Agrees(String),
    /// None does (no record, several, or one that disagrees).
    Unconfirmed,
    /// The link changed while the search ran: what it found is not kept.
    Relinked,
}

/// The patient's record at the PHP (`source`) under an approved link. An approval names the
/// record the administrator saw, found when the link was looked up: that one is used, never a
/// search under whatever name the patient has by then. A link approved without one (made
/// before approvals, or while the practice did not require them) is sent back for review when
/// the practice requires approval; otherwise it is looked up now, and only a record whose
/// family name and birth date agree with the patient's is used, even when the link names an
/// identifier: anything else is an error for a person to resolve, never a guess.
async fn php_patient(
    app: &AppState,
    source: &FhirSource,
    patient: &Patient,
) -> Result<Under, JobError> {
    if let Some(id) = app.db.pull_state(patient.id).await?.php_patient_id {
        return Ok(Under::Record(id));
    }
    if app.config.links == LinkPolicy::Approval {
        app.db.review_again(patient).await?;
        return Ok(Under::Review);
    }
    let provider = source.name();
    if patient.birth_date.is_none() {
        return Err(JobError::permanent(format!(
            "enter the patient's birth date: it is checked with {provider} before anything is pulled"
        )));
    }
    match look_up(app, source, patient).await? {
        Lookup::Agrees(id) => Ok(Under::Record(id)),
        Lookup::Relinked => Ok(Under::Relinked),
        Lookup::Unconfirmed => Err(unconfirmed(provider)),
    }
}

/// What a pull does under a link that is not approved: look the patient up once for the
/// administrator deciding on it, and say so.
async fn awaiting_approval(
    app: &AppState,
    source: &FhirSource,
    patient: &Patient,
) -> Result<Done, JobError> {
    if app.db.pull_state(patient.id).await?.php_match.is_none() {
        look_up(app, source, patient).await?;
    }
    app.db.set_sync_error(patient.id, None).await?;
    Ok(Done::Finished(format!(
        "The link to {} awaits an administrator's approval; nothing is pulled until then.",
        source.name()
    )))
}

/// `instant - overlap`, as RFC 3339 (the PHP's clock, from a previous answer).
fn overlapped(instant: &str, overlap: Duration) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(instant).ok()?.to_utc();
    let back = at - chrono::Duration::from_std(overlap).ok()?;
    Some(back.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Pulls what changed at the PHP since the last complete pull (everything, the first time).
pub(super) async fn pull(app: &AppState, job: &Job, progress: &Progress) -> Result<Done, JobError> {
    let Some((patient, provider)) = linked(app, job).await? else {
        return Ok(Done::Finished(
            "The patient is deleted or no longer linked to a healthcare provider; nothing to pull."
                .into(),
        ));
    };
    if patient.link_approval == Some(LinkApproval::Refused) {
        return Ok(Done::Finished(
            "An administrator refused the patient's link to their provider; nothing is pulled."
                .into(),
        ));
    }
    let source = app.fhir_source(provider).await?;
    if patient.link_approval == Some(LinkApproval::Approved) {
        pull_from(app, &source, &patient, progress).await
    } else {
        awaiting_approval(app, &source, &patient).await
    }
}

/// [`pull`] from the patient's PHP, `provider` by name.
async fn pull_from(
    app: &AppState,
    source: &FhirSource,
    patient: &Patient,
    progress: &Progress,
) -> Result<Done, JobError> {
    let provider = source.name();
    let php_id = match php_patient(app, source, patient).await? {
        Under::Record(id) => id,
        Under::Relinked => return Ok(Done::Finished(RELINKED.into())),
        Under::Review => return awaiting_approval(app, source, patient).await,
    };
    let since = app
        .db
        .pull_state(patient.id)
        .await?
        .watermark
        .and_then(|w| overlapped(&w, app.config.jobs.pull_overlap));
    let mut watermark: Option<String> = None;
    let max_pages = Limits::default().max_pages;
    for first in first_pages(&php_id, since.as_deref(), PAGE_SIZE) {
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(page) = next {
            let got = source.document_page(&page).await?;
            if pages == 0 {
                // The PHP's clock when the search began; the earliest of the searches.
                let Some(t) = got.server_time else {
                    tracing::warn!(
                        provider,
                        "a FHIR search answer carries neither Bundle.meta.lastUpdated nor a Date header"
                    );
                    return Err(JobError::permanent(format!(
                        "{provider}'s server does not say when it answered, so the platform cannot tell what changed there"
                    )));
                };
                watermark = Some(match watermark {
                    Some(w) if w <= t => w,
                    _ => t,
                });
            }
            pages += 1;
            if pages > max_pages {
                return Err(JobError::permanent(format!(
                    "{provider} sent more than {max_pages} pages of documents; the pull stopped there"
                )));
            }
            // Documents found; vital signs count as results.
            let documents = got
                .items
                .iter()
                .filter(|i| !matches!(i, Incoming::Results { .. }))
                .count();
            progress.add("found", documents as u64);
            for item in &got.items {
                let applied = app
                    .db
                    .apply_pulled(patient.id, &php_id, provider, item)
                    .await?;
                if applied == Applied::Unlinked {
                    return Ok(Done::Finished(RELINKED.into()));
                }
                progress.add(applied.counter(), 1);
            }
            next = got.next;
        }
    }
    if let Some(w) = &watermark {
        app.db.set_watermark(patient.id, w).await?;
    }
    let p = progress.snapshot();
    let n = |k: &str| p[k].as_u64().unwrap_or(0);
    Ok(Done::Finished(format!(
        "Pulled from {provider}: {} found, {} new, {} updated, {} removed, {} unchanged, {} not stored; {} results read.",
        n("found"),
        n("stored"),
        n("updated"),
        n("removed"),
        n("unchanged") + n("duplicates"),
        n("skipped"),
        n("results"),
    )))
}

/// Sends a request for documents to the PHP, then follows it until the PHP completes it
/// (and pulls what it brought) or turns it down.
pub(super) async fn request(app: &AppState, job: &Job) -> Result<Done, JobError> {
    let request_id = job
        .request_id
        .ok_or_else(|| JobError::permanent("a request job without its request"))?;
    let Some(state) = app.db.request_state(request_id).await? else {
        return Ok(Done::Finished("The request no longer exists.".into()));
    };
    let linked = linked(app, job)
        .await?
        .filter(|(p, _)| p.link_approval == Some(LinkApproval::Approved));
    let Some((patient, provider)) = linked else {
        let details = "The patient has no approved link to a healthcare provider; ask again once an administrator has approved it.";
        app.db
            .settle_request(request_id, LogStatus::Failure, None, details)
            .await?;
        return Ok(Done::Finished(details.into()));
    };
    let source = app.fhir_source(provider).await?;
    follow(app, job, request_id, state, &source, &patient).await
}

/// [`request`] at the patient's PHP (`source`, which knows the provider's name).
async fn follow(
    app: &AppState,
    job: &Job,
    request_id: uuid::Uuid,
    state: RequestState,
    source: &FhirSource,
    patient: &Patient,
) -> Result<Done, JobError> {
    let provider = source.name();
    let Some(reference) = state.php_reference else {
        let Under::Record(php_id) = php_patient(app, source, patient).await? else {
            // Asked again: the next attempt reads the patient's new link (or its review).
            return Ok(Done::Again(Duration::from_secs(1), RELINKED.into()));
        };
        // An earlier attempt that did not hear back may have made the Task already.
        let earlier = match state.status {
            LogStatus::InProgress => source.find_request(&request_id.to_string()).await?,
            _ => None,
        };
        let reference = match earlier {
            Some(reference) => reference,
            None => {
                app.db
                    .settle_request(
                        request_id,
                        LogStatus::InProgress,
                        None,
                        &format!("Sending the request to {provider}."),
                    )
                    .await?;
                source
                    .request_documents(
                        &request_id.to_string(),
                        &php_id,
                        &state.types,
                        state.note.as_deref(),
                    )
                    .await?
            }
        };
        app.db
            .settle_request(
                request_id,
                LogStatus::InProgress,
                Some(&reference),
                &format!("Sent to {provider}; waiting for them to answer it."),
            )
            .await?;
        return Ok(Done::Again(
            Duration::from_secs(1),
            format!("Request sent to {provider}."),
        ));
    };
    let status = source.request_status(&reference).await?;
    match status.as_str() {
        "completed" => {
            app.enqueue(
                JobKind::Pull,
                patient.id,
                None,
                JobCause::Request,
                job.requested_by,
            )
            .await?;
            app.db
                .settle_request(
                    request_id,
                    LogStatus::Success,
                    None,
                    &format!("{provider} completed the request; its documents are being pulled."),
                )
                .await?;
            Ok(Done::Finished(format!(
                "{provider} completed the request; pulling its documents."
            )))
        }
        "rejected" | "failed" | "cancelled" | "entered-in-error" | "revoked" => {
            let details = format!(
                "{provider} did not fulfil the request (marked {}).",
                in_words(&status)
            );
            app.db
                .settle_request(request_id, LogStatus::Failure, None, &details)
                .await?;
            Ok(Done::Finished(details))
        }
        _ => Ok(Done::Again(
            REQUEST_POLL.min(app.config.jobs.poll * 30),
            format!("{provider} has the request ({}).", in_words(&status)),
        )),
    }
}

/// A FHIR Task's (or CommunicationRequest's) status in words: `in progress`, `entered in
/// error`.
fn in_words(status: &str) -> String {
    status.replace('-', " ")
}
