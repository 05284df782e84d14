//! Refresh tokens: stored as SHA-256 hashes, rotated on every use. A token presented after it
//! was rotated means it leaked (or a client misbehaves): the whole family is revoked.
//!
//! A family (one sign-in) lives until its absolute end (`family_started_at` plus the session
//! maximum), however often it is refreshed, and only while its session epoch is still the
//! user's: a change of the user's rights or password ends it.

use super::{now, parse_time, stamp, Db, DbResult, RowExt};
use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was good; the new one (same family) is stored.
    Rotated {
        user_id: Uuid,
        family_id: Uuid,
        /// The session epoch the family belongs to.
        epoch: i64,
    },
    /// The token had been used already; its family is now revoked.
    Reused,
    /// Unknown, expired or revoked; or the sign-in is older than the session maximum, or
    /// from before a change of the user's rights (the family is revoked then).
    Invalid,
}

impl Db {
    /// Stores the first refresh token (its hash) of a new family: a sign-in at `epoch`.
    /// It expires at `expires_at` or at the family's end, `max_age` from now, whichever is first.
    pub async fn insert_refresh_token(
        &self,
        user_id: Uuid,
        family_id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        epoch: i64,
        max_age: Duration,
    ) -> DbResult<()> {
        let started = Utc::now();
        let expires_at = expires_at.min(family_end(started, max_age));
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, \
             created_at, session_epoch, family_started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
        )
        .bind(domain::new_id().to_string())
        .bind(user_id.to_string())
        .bind(family_id.to_string())
        .bind(token_hash)
        .bind(stamp(expires_at))
        .bind(stamp(started))
        .bind(epoch)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Marks `token_hash` used and stores `next_hash` in its place, atomically. The new token
    /// expires at `next_expires_at` or at the family's end (`max_age` after its sign-in),
    /// whichever is first.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        next_hash: &str,
        next_expires_at: DateTime<Utc>,
        max_age: Duration,
    ) -> DbResult<RefreshOutcome> {
        let mut tx = self.writer().begin().await?;
        let row = sqlx::query(
            "SELECT t.id, t.user_id, t.family_id, t.expires_at, t.used_at, t.revoked_at, \
             t.session_epoch, COALESCE(t.family_started_at, t.created_at) AS started, \
             u.session_epoch AS user_epoch, u.deleted_at AS user_deleted_at \
             FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RefreshOutcome::Invalid);
        };
        let at = now();
        let family = row.text("family_id")?;
        if row.opt_text("revoked_at")?.is_some() || row.text("expires_at")? <= at {
            return Ok(RefreshOutcome::Invalid);
        }
        let started = parse_time(&row.text("started")?)?;
        let end = family_end(started, max_age);
        let epoch = row.int("session_epoch")?;
        let session_over = end <= Utc::now()
            || row.opt_text("user_deleted_at")?.is_some()
            || row.int("user_epoch")? != epoch;
        if session_over {
            end_family(tx, &family, &at).await?;
            return Ok(RefreshOutcome::Invalid);
        }
        // Claim the token; a concurrent claim that got there first makes this a reuse too.
        let claimed =
            sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(&at)
                .bind(row.text("id")?)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if claimed == 0 {
            end_family(tx, &family, &at).await?;
            return Ok(RefreshOutcome::Reused);
        }
        let user_id = row.id("user_id")?;
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, \
             created_at, session_epoch, family_started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(domain::new_id().to_string())
        .bind(user_id.to_string())
        .bind(&family)
        .bind(next_hash)
        .bind(stamp(next_expires_at.min(end)))
        .bind(&at)
        .bind(epoch)
        .bind(stamp(started))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated {
            user_id,
            family_id: super::parse_id(&family)?,
            epoch,
        })
    }

    /// Revokes the family of a refresh token (sign-out). `false`: unknown token.
    pub async fn revoke_refresh_family(&self, token_hash: &str) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family_id = \
             (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)",
        )
        .bind(now())
        .bind(token_hash)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(done > 0)
    }
}

/// Revokes every token of the sign-in `family` as of `at`, and commits `tx`.
async fn end_family(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    family: &str,
    at: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(at)
    .bind(family)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// When a family signed in at `started` ends.
fn family_end(started: DateTime<Utc>, max_age: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(max_age)
        .ok()
        .and_then(|age| started.checked_add_signed(age))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
