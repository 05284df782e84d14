//! The job queue of the background integrations, in the platform database so that several
//! instances share it. A worker claims a due job by taking a lease (on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so two workers never take the same row; on SQLite the single
//! writer serialises claims), renews the lease while it works, and finishes, reschedules or
//! parks the job. A job whose lease lapses (its worker died) is claimed again.

use super::{now, stamp, Backend, Db, DbError, DbResult, RowExt};
use chrono::{DateTime, Utc};
use domain::dto::CarepatronState;
pub use domain::{JobCause, JobKind, JobStatus};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

/// The cursor of the follower that reads the platform's own changes for Carepatron.
pub const CAREPATRON_FEED: &str = "carepatron-feed";
/// The cursor of the follower that asks Carepatron for clients changed there.
pub const CAREPATRON_POLL: &str = "carepatron-poll";

/// A job and how far it got.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: Uuid,
    pub kind: JobKind,
    /// The patient it is about; `null` for the email about an inquiry.
    pub patient_id: Option<Uuid>,
    /// The inquiry an email job announces.
    pub inquiry_id: Option<Uuid>,
    pub request_id: Option<Uuid>,
    pub cause: JobCause,
    pub status: JobStatus,
    pub attempts: i64,
    /// When it runs (next).
    pub run_at: DateTime<Utc>,
    /// Counts as it goes: `found`, `stored`, `updated`, `removed`, `unchanged`, `skipped`.
    #[schema(value_type = Object)]
    pub progress: Value,
    /// What went wrong last, in words a person can act on (no PHI).
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub requested_by: Option<Uuid>,
}

const COLS: &str =
    "id, kind, patient_id, inquiry_id, request_id, cause, requested_by, status, attempts, \
                    run_at, progress, last_error, created_at, updated_at";

fn job_from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<Job> {
    let kind: JobKind = row.text("kind")?.parse()?;
    let status: JobStatus = row.text("status")?.parse()?;
    let cause: JobCause = row.text("cause")?.parse()?;
    Ok(Job {
        id: row.id("id")?,
        kind,
        patient_id: row.opt_id("patient_id")?,
        inquiry_id: row.opt_id("inquiry_id")?,
        request_id: row.opt_id("request_id")?,
        cause,
        requested_by: row.opt_id("requested_by")?,
        status,
        attempts: row.int("attempts")?,
        run_at: row.time("run_at")?,
        progress: serde_json::from_str(&row.text("progress")?)?,
        last_error: row.opt_text("last_error")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn later(d: Duration) -> String {
    stamp(Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero()))
}

/// Queues the email announcing an inquiry, in the transaction that stores it.
pub(crate) async fn enqueue_email_in(
    conn: &mut sqlx::AnyConnection,
    inquiry_id: Uuid,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, inquiry_id, cause, status, run_at, created_at, updated_at) \
         VALUES ($1, 'email', $2, 'created', 'queued', $3, $3, $3)",
    )
    .bind(domain::new_id().to_string())
    .bind(inquiry_id.to_string())
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

impl Db {
    /// Queues a job. A pull or reconcile for a patient who has one waiting joins that one.
    pub async fn enqueue_job(
        &self,
        kind: JobKind,
        patient_id: Uuid,
        request_id: Option<Uuid>,
        cause: JobCause,
        requested_by: Option<Uuid>,
    ) -> DbResult<Job> {
        let at = now();
        let inserted = sqlx::query(&format!(
            "INSERT INTO jobs (id, kind, patient_id, request_id, cause, requested_by, status, \
             run_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7, $7) \
             ON CONFLICT (kind, patient_id) WHERE status = 'queued' AND kind IN ('pull', 'carepatron') \
             DO NOTHING RETURNING {COLS}"
        ))
        .bind(domain::new_id().to_string())
        .bind(kind.as_str())
        .bind(patient_id.to_string())
        .bind(request_id.map(|r| r.to_string()))
        .bind(cause.as_str())
        .bind(requested_by.map(|u| u.to_string()))
        .bind(&at)
        .fetch_optional(self.writer())
        .await?;
        if let Some(row) = inserted {
            return Ok(job_from_row(&row)?);
        }
        let open = sqlx::query(&format!(
            "SELECT {COLS} FROM jobs WHERE patient_id = $1 AND kind = $2 AND status = 'queued'"
        ))
        .bind(patient_id.to_string())
        .bind(kind.as_str())
        .fetch_optional(self.writer())
        .await?;
        match open {
            Some(row) => Ok(job_from_row(&row)?),
            // Finished between the two statements: queue afresh.
            None => {
                Box::pin(self.enqueue_job(kind, patient_id, request_id, cause, requested_by)).await
            }
        }
    }

    /// Takes the next due job (or one whose worker's lease lapsed) for `owner`; never one
    /// whose patient has a job of its kind running.
    pub async fn claim_job(&self, owner: &str, lease: Duration) -> DbResult<Option<Job>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE OF j SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let at = now();
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT j.id FROM jobs j WHERE ((j.status = 'queued' AND j.run_at <= $3) \
             OR (j.status = 'running' AND j.lease_until < $3)) \
             AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.patient_id = j.patient_id \
             AND r.kind = j.kind AND r.id <> j.id AND r.status = 'running' AND r.lease_until >= $3) \
             ORDER BY j.run_at, j.id LIMIT 1{lock}) \
             RETURNING {COLS}"
        ))
        .bind(owner)
        .bind(later(lease))
        .bind(&at)
        .fetch_optional(self.writer())
        .await?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    /// Extends `owner`'s lease and records progress. `false`: the lease was lost (another
    /// worker took the job over), so stop.
    pub async fn renew_job(
        &self,
        id: Uuid,
        owner: &str,
        lease: Duration,
        progress: &Value,
    ) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $1, progress = $2, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
        )
        .bind(later(lease))
        .bind(progress.to_string())
        .bind(now())
        .bind(id.to_string())
        .bind(owner)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Ends `owner`'s run of a job: done, due again after `retry_in`, or parked. A run that
    /// `progressed` (stored or pushed something) before failing does not use up an attempt:
    /// attempts count runs in a row that got nowhere.
    #[allow(clippy::too_many_arguments)]
    pub async fn settle_job(
        &self,
        id: Uuid,
        owner: &str,
        status: JobStatus,
        retry_in: Option<Duration>,
        progress: &Value,
        error: Option<&str>,
        progressed: bool,
    ) -> DbResult<bool> {
        let at = now();
        let run_at = retry_in.map_or_else(|| at.clone(), later);
        let settle = |status: JobStatus, error: Option<&str>| {
            sqlx::query(
                "UPDATE jobs SET status = $1, run_at = $2, progress = $3, last_error = $4, \
                 lease_owner = NULL, lease_until = NULL, updated_at = $5, \
                 attempts = CASE WHEN $8 = 1 THEN 0 ELSE attempts END \
                 WHERE id = $6 AND lease_owner = $7 AND status = 'running'",
            )
            .bind(status.as_str())
            .bind(run_at.clone())
            .bind(progress.to_string())
            .bind(error.map(str::to_owned))
            .bind(at.clone())
            .bind(id.to_string())
            .bind(owner.to_owned())
            .bind(i64::from(progressed))
            .execute(self.writer())
        };
        let done = match settle(status, error).await.map_err(DbError::from) {
            // Asked again while it ran: a newer job of its kind waits and will do the work,
            // not before this one's retry was due.
            Err(DbError::Unique) if status == JobStatus::Queued => {
                if retry_in.is_some() {
                    sqlx::query(
                        "UPDATE jobs SET run_at = $1 WHERE status = 'queued' AND run_at < $1 \
                         AND kind = (SELECT kind FROM jobs WHERE id = $2) \
                         AND patient_id = (SELECT patient_id FROM jobs WHERE id = $2)",
                    )
                    .bind(&run_at)
                    .bind(id.to_string())
                    .execute(self.writer())
                    .await?;
                }
                settle(
                    JobStatus::Done,
                    Some("superseded by a newer run of the same job"),
                )
                .await?
            }
            other => other?,
        }
        .rows_affected();
        Ok(done == 1)
    }

    pub async fn job(&self, id: Uuid) -> DbResult<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM jobs WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    /// Jobs, newest first, optionally of one status.
    pub async fn list_jobs(&self, status: Option<JobStatus>, limit: i64) -> DbResult<Vec<Job>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM jobs WHERE ($1 IS NULL OR status = $1) \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(status.map(JobStatus::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(job_from_row)
            .collect::<anyhow::Result<_>>()?)
    }

    /// Queues a parked job again, attempts reset. `None`: no such parked job. A job whose
    /// patient has one of its kind waiting already is refused (`DbError::Unique`).
    pub async fn replay_job(&self, id: Uuid) -> DbResult<Option<Job>> {
        let at = now();
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, cause = 'replay', \
             last_error = NULL, progress = '{{}}', updated_at = $1 \
             WHERE id = $2 AND status = 'parked' RETURNING {COLS}"
        ))
        .bind(&at)
        .bind(id.to_string())
        .fetch_optional(self.writer())
        .await
        .map_err(DbError::from)?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    /// Patients linked to a PHP with no pull open and none started in the last `interval`.
    pub async fn patients_due_for_pull(
        &self,
        interval: Duration,
        limit: i64,
    ) -> DbResult<Vec<Uuid>> {
        let cutoff = stamp(
            Utc::now() - chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::zero()),
        );
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT p.id FROM patients p WHERE p.deleted_at IS NULL AND p.link_approval = 'approved' \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.patient_id = p.id AND j.kind = 'pull' \
             AND (j.status IN ('queued', 'running') OR j.created_at > $1)) \
             ORDER BY p.id LIMIT $2",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }
}

impl Db {
    /// The Carepatron side's followers and reconciles, as [`CarepatronState`] tells them
    /// (`configured` is the caller's to say).
    pub async fn carepatron_state(&self, configured: bool) -> DbResult<CarepatronState> {
        let cursor = |name: &'static str| {
            sqlx::query_scalar::<_, String>(
                "SELECT updated_at FROM integration_cursors WHERE name = $1 AND position IS NOT NULL",
            )
            .bind(name)
            .fetch_optional(self.pool())
        };
        let (waiting, parked): (i64, i64) = sqlx::query_as(
            "SELECT \
             (SELECT count(*) FROM jobs WHERE kind = 'carepatron' AND status IN ('queued', 'running')), \
             (SELECT count(*) FROM jobs WHERE kind = 'carepatron' AND status = 'parked')",
        )
        .fetch_one(self.pool())
        .await?;
        let last_error = sqlx::query_scalar(
            "SELECT last_error FROM jobs WHERE kind = 'carepatron' AND last_error IS NOT NULL \
             ORDER BY updated_at DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(CarepatronState {
            configured,
            last_poll: cursor(CAREPATRON_POLL).await?,
            last_feed: cursor(CAREPATRON_FEED).await?,
            waiting,
            parked,
            last_error,
        })
    }

    /// Takes (or keeps) the named follower's lease and returns its position; `None` while
    /// another instance holds it.
    pub async fn take_cursor(
        &self,
        name: &str,
        owner: &str,
        lease: Duration,
    ) -> DbResult<Option<Option<String>>> {
        let at = now();
        sqlx::query(
            "INSERT INTO integration_cursors (name, updated_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&at)
        .execute(self.writer())
        .await?;
        let row = sqlx::query(
            "UPDATE integration_cursors SET lease_owner = $1, lease_until = $2, updated_at = $3 \
             WHERE name = $4 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $3) \
             RETURNING position",
        )
        .bind(owner)
        .bind(later(lease))
        .bind(&at)
        .bind(name)
        .fetch_optional(self.writer())
        .await?;
        Ok(row.map(|r| r.opt_text("position")).transpose()?)
    }

    /// Moves the named follower on, if `owner` still holds it.
    pub async fn save_cursor(&self, name: &str, owner: &str, position: &str) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE integration_cursors SET position = $1, updated_at = $2 \
             WHERE name = $3 AND lease_owner = $4",
        )
        .bind(position)
        .bind(now())
        .bind(name)
        .bind(owner)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(done == 1)
    }
}
