//! The background integrations: workers that run the jobs queued in the database, and a
//! scheduler that queues a pull for every linked patient once per interval. Every instance
//! runs both; the queue's leases make each job run once however many instances there are.
//!
//! Each attempt at a job writes a synchronization log entry (in progress, then success or
//! failure with what a person can do). Transient failures (the PHP unreachable, 5xx, 429)
//! retry with exponential backoff and jitter, honouring `Retry-After`; a job out of attempts,
//! or failing in a way retrying cannot fix (credentials refused, a malformed answer, an unsure
//! patient match), is parked: the patient shows the error, and an admin can re-run it.

mod carepatron;
mod email;
mod php;
pub(crate) use php::check_connection;
pub mod runtime;

use crate::app::AppState;
use crate::db::jobs::{Job, JobCause, JobKind, JobStatus};
use crate::db::{DbError, NewLogEntry};
use connectors::fhir::FhirSource;
use connectors::ConnectorError;
use domain::{LogAction, LogStatus};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Why an attempt failed.
#[derive(Debug)]
pub(crate) struct JobError {
    /// For the log and the patient's `sync_error`: no PHI, something a person can act on.
    message: String,
    transient: bool,
    retry_after: Option<Duration>,
    /// Nothing failed: the job waits for the outside world to catch up (Carepatron's lists
    /// to show what an unanswered create may have made) and runs again after `retry_after`.
    waiting: bool,
}

impl JobError {
    fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: false,
            retry_after: None,
            waiting: false,
        }
    }

    /// A wait, not a failure: run again after `after`.
    fn waiting(message: impl Into<String>, after: Duration) -> Self {
        Self {
            message: message.into(),
            transient: true,
            retry_after: Some(after),
            waiting: true,
        }
    }
}

impl From<ConnectorError> for JobError {
    fn from(e: ConnectorError) -> Self {
        Self {
            transient: e.is_transient(),
            retry_after: e.retry_after(),
            message: e.to_string(),
            waiting: false,
        }
    }
}

impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        tracing::error!(error = %e, "database error in a job");
        Self {
            message: "the platform's database failed; retrying".into(),
            transient: true,
            retry_after: None,
            waiting: false,
        }
    }
}

/// What a finished attempt says.
pub(crate) enum Done {
    /// Finished: the summary for the log.
    Finished(String),
    /// Nothing wrong, but not finished: run again after this long (a request the PHP has not
    /// answered yet).
    Again(Duration, String),
}

/// Counts a job reports while it runs.
#[derive(Clone, Default)]
pub(crate) struct Progress(Arc<Mutex<Value>>);

impl Progress {
    pub(crate) fn add(&self, counter: &str, n: u64) {
        let mut v = self.0.lock().expect("progress lock");
        let now = v[counter].as_u64().unwrap_or(0);
        v[counter] = json!(now + n);
    }

    fn snapshot(&self) -> Value {
        let v = self.0.lock().expect("progress lock").clone();
        if v.is_null() {
            json!({})
        } else {
            v
        }
    }
}

/// Starts this instance's workers and scheduler; they stop when `stop` turns true.
pub fn start(app: &AppState, stop: &watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let settings = &app.config.jobs;
    if settings.workers == 0 {
        return Vec::new();
    }
    let instance = Uuid::now_v7().simple().to_string();
    let mut tasks: Vec<_> = (0..settings.workers)
        .map(|n| {
            let owner = format!("{}-{n}", &instance[20..]);
            tokio::spawn(worker(app.clone(), owner, stop.clone()))
        })
        .collect();
    tasks.push(tokio::spawn(scheduler(app.clone(), stop.clone())));
    // Shares made while Carepatron was configured, or not, take this configuration's state.
    let configured = app.config.carepatron.is_some();
    let db = app.db.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = db.align_share_delivery(configured, None).await {
            tracing::error!(error = %e, "aligning shares' Carepatron delivery state failed");
        }
    }));
    if app.config.carepatron.is_some() {
        let owner = format!("{}-follower", &instance[20..]);
        tasks.push(tokio::spawn(carepatron::follow(
            app.clone(),
            owner,
            stop.clone(),
        )));
    }
    tasks
}

async fn worker(app: AppState, owner: String, mut stop: watch::Receiver<bool>) {
    let settings = app.config.jobs.clone();
    while !*stop.borrow() {
        match app.db.claim_job(&owner, settings.lease).await {
            Ok(Some(job)) => run(&app, &owner, job).await,
            Ok(None) => {
                tokio::select! {
                    () = app.integrations.wake.notified() => {}
                    () = tokio::time::sleep(settings.poll) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming a job failed");
                tokio::time::sleep(settings.poll).await;
            }
        }
    }
}

/// Queues a pull for every linked patient not pulled within the interval.
async fn scheduler(app: AppState, mut stop: watch::Receiver<bool>) {
    let every =
        (app.config.jobs.pull_interval / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    while !*stop.borrow() {
        match app
            .db
            .patients_due_for_pull(app.config.jobs.pull_interval, 500)
            .await
        {
            Ok(due) => {
                for patient in &due {
                    if let Err(e) = app
                        .db
                        .enqueue_job(JobKind::Pull, *patient, None, JobCause::Schedule, None)
                        .await
                    {
                        tracing::error!(error = %e, "queueing a scheduled pull failed");
                    }
                }
                if !due.is_empty() {
                    app.integrations.wake_all();
                }
            }
            Err(e) => tracing::error!(error = %e, "finding patients due for a pull failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

fn log_action(job: &Job) -> LogAction {
    match (job.kind, job.cause) {
        (JobKind::Request, _) => LogAction::DocumentRequest,
        (_, JobCause::Manual) => LogAction::ManualSync,
        _ => LogAction::AutomaticSync,
    }
}

/// Backoff before attempt `attempts + 1`: doubling from `first`, capped, with jitter
/// (50-100%), and never sooner than the remote asked.
fn backoff(app: &AppState, attempts: i64, asked: Option<Duration>) -> Duration {
    let s = &app.config.jobs;
    let factor = 1u32 << (attempts - 1).clamp(0, 16);
    let capped = s.backoff_first.saturating_mul(factor).min(s.backoff_max);
    let jittered = capped.mul_f64(0.5 + rand::random::<f64>() * 0.5);
    jittered.max(asked.unwrap_or_default())
}

/// The log entry of one attempt: written as it starts, for pulls and requests; for a
/// Carepatron reconcile — queued by the change feed after every write, mostly to find
/// nothing to do — only once it did something or failed.
struct AttemptLog<'a> {
    app: &'a AppState,
    job: &'a Job,
    id: Option<Uuid>,
}

impl<'a> AttemptLog<'a> {
    async fn open(app: &'a AppState, job: &'a Job) -> Result<Self, DbError> {
        let id = match job.kind {
            JobKind::Carepatron | JobKind::Email => None,
            _ => Some(
                app.db
                    .insert_log(Self::entry(
                        job,
                        LogStatus::InProgress,
                        format!("Attempt {} started.", job.attempts),
                    ))
                    .await?
                    .id,
            ),
        };
        Ok(Self { app, job, id })
    }

    fn entry(job: &Job, status: LogStatus, details: String) -> NewLogEntry {
        NewLogEntry {
            patient_id: job.patient_id,
            document_id: None,
            user_id: job.requested_by,
            action: log_action(job),
            status,
            details: Some(details),
        }
    }

    /// Records the outcome; a silent attempt that did nothing worth noting leaves no entry.
    async fn close(&self, status: LogStatus, details: &str, noteworthy: bool) {
        let written = match self.id {
            Some(id) => self.app.db.settle_log(id, status, details).await,
            // The log is per patient: an inquiry's email is followed on its job (Jobs) and
            // on the inquiry itself (`notification`).
            None if noteworthy && self.job.patient_id.is_some() => self
                .app
                .db
                .insert_log(Self::entry(self.job, status, details.to_owned()))
                .await
                .map(drop),
            None => Ok(()),
        };
        if let Err(e) = written {
            tracing::error!(error = %e, "could not log a job's outcome");
        }
    }
}

/// One attempt at `job`, with its log entry, lease renewals and outcome.
async fn run(app: &AppState, owner: &str, job: Job) {
    let log = match AttemptLog::open(app, &job).await {
        Ok(log) => log,
        Err(e) => {
            tracing::error!(error = %e, "could not log a job attempt; leaving it for its lease to lapse");
            return;
        }
    };
    let progress = Progress::default();
    let lease = app.config.jobs.lease;
    let work = async {
        match job.kind {
            JobKind::Pull => php::pull(app, &job, &progress).await,
            JobKind::Request => php::request(app, &job).await,
            JobKind::Carepatron => carepatron::reconcile(app, &job, &progress).await,
            JobKind::Email => email::send(app, &job).await,
        }
    };
    tokio::pin!(work);
    let mut renew = tokio::time::interval(lease / 3);
    renew.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break Some(outcome),
            _ = renew.tick() => {
                match app.db.renew_job(job.id, owner, lease, &progress.snapshot()).await {
                    Ok(true) => {}
                    Ok(false) => break None,
                    Err(e) => tracing::warn!(error = %e, "renewing a job lease failed"),
                }
            }
        }
    };
    let Some(outcome) = outcome else {
        tracing::warn!(job = %job.id, "lost the lease on a job; another worker has it");
        log.close(
            LogStatus::Failure,
            "Interrupted; another worker took the job over.",
            true,
        )
        .await;
        return;
    };
    let progress = progress.snapshot();
    let progressed = [
        "stored", "updated", "removed", "pushed", "taken", "deleted", "unshared",
    ]
    .iter()
    .any(|k| progress[k].as_u64().unwrap_or(0) > 0);
    let db = &app.db;
    let settled = match outcome {
        Ok(Done::Finished(summary)) => {
            if let Some(patient) = job.patient_id {
                let _ = db.set_sync_error(patient, None).await;
            }
            log.close(LogStatus::Success, &summary, progressed).await;
            db.settle_job(job.id, owner, JobStatus::Done, None, &progress, None, false)
                .await
        }
        Ok(Done::Again(after, summary)) => {
            log.close(LogStatus::Success, &summary, progressed).await;
            db.settle_job(
                job.id,
                owner,
                JobStatus::Queued,
                Some(after),
                &progress,
                None,
                true,
            )
            .await
        }
        // A wait is not a failed attempt: it neither parks the job nor uses up its attempts
        // (settled as progressed, they start afresh). Waits are bounded by what they wait for
        // (Carepatron's list lag bound) and pace themselves through `retry_after`, so this
        // cannot spin; and an attempt whose lookup Carepatron answered did get somewhere.
        // Counting them instead would park a job after a few lookups, or leave it no attempts
        // for a real failure after a long wait.
        Err(e)
            if e.transient
                && (progressed
                    || e.waiting
                    || job.attempts < i64::from(app.config.jobs.attempts)) =>
        {
            let wait = match (e.waiting, e.retry_after) {
                (true, Some(asked)) => asked,
                _ => backoff(app, job.attempts, e.retry_after),
            };
            let details = format!(
                "{}; retrying in {} s.",
                capitalized(&e.message),
                wait.as_secs().max(1)
            );
            log.close(LogStatus::Failure, &details, true).await;
            db.settle_job(
                job.id,
                owner,
                JobStatus::Queued,
                Some(wait),
                &progress,
                Some(&sentence(&e.message)),
                progressed || e.waiting,
            )
            .await
        }
        Err(e) => {
            let details = format!(
                "{}; parked after {} attempt(s): an admin can re-run it once this is fixed.",
                capitalized(&e.message),
                job.attempts
            );
            let shown = sentence(&e.message);
            if let Some(patient) = job.patient_id {
                let _ = db.set_sync_error(patient, Some(&shown)).await;
            }
            if let Some(inquiry) = job.inquiry_id {
                let _ = db
                    .set_inquiry_notification(inquiry, domain::InquiryNotification::Failed)
                    .await;
            }
            log.close(LogStatus::Failure, &details, true).await;
            tracing::warn!(job = %job.id, kind = job.kind.as_str(), "job parked");
            db.settle_job(
                job.id,
                owner,
                JobStatus::Parked,
                None,
                &progress,
                Some(&shown),
                false,
            )
            .await
        }
    };
    match settled {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = %job.id, "a job's lease lapsed before it finished"),
        Err(e) => tracing::error!(error = %e, "recording a job's outcome failed"),
    }
}

/// `s` with its first letter in capitals.
fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A job's error as a sentence on its own (a patient's `sync_error`).
fn sentence(s: &str) -> String {
    let mut out = capitalized(s.trim_end());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl AppState {
    /// The FHIR client for a provider, built once per version of its settings (its name
    /// among them: the client's errors say it, as people at the practice know it).
    pub(crate) async fn fhir_source(&self, provider_id: Uuid) -> Result<Arc<FhirSource>, JobError> {
        let access = self.db.provider_access(provider_id).await?.ok_or_else(|| {
            JobError::permanent(
                "the patient's healthcare provider is no longer set up on the platform; link the patient to another",
            )
        })?;
        if let Some((version, source)) = self
            .integrations
            .sources
            .lock()
            .expect("lock")
            .get(&provider_id)
        {
            if *version == access.provider.version {
                return Ok(source.clone());
            }
        }
        let source = Arc::new(php::source_for(self, &access)?);
        self.integrations
            .sources
            .lock()
            .expect("lock")
            .insert(provider_id, (access.provider.version, source.clone()));
        Ok(source)
    }

    /// Queues a job and wakes a worker.
    pub async fn enqueue(
        &self,
        kind: JobKind,
        patient_id: Uuid,
        request_id: Option<Uuid>,
        cause: JobCause,
        requested_by: Option<Uuid>,
    ) -> Result<Job, DbError> {
        let job = self
            .db
            .enqueue_job(kind, patient_id, request_id, cause, requested_by)
            .await?;
        self.integrations.wake();
        Ok(job)
    }
}
