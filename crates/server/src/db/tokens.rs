//! Refresh tokens: stored as SHA-256 hashes, rotated on every use. A token presented after it
//! was rotated means it leaked (or a client misbehaves): the whole family is revoked.

use super::{now, stamp, Db, DbResult, RowExt};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was good; the new one (same family) is stored.
    Rotated { user_id: Uuid },
    /// The token had been used already; its family is now revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

impl Db {
    /// Stores a refresh token (its hash) as the start, or next link, of a family.
    pub async fn insert_refresh_token(
        &self,
        user_id: Uuid,
        family_id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(domain::new_id().to_string())
        .bind(user_id.to_string())
        .bind(family_id.to_string())
        .bind(token_hash)
        .bind(stamp(expires_at))
        .bind(now())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Marks `token_hash` used and stores `next_hash` in its place, atomically.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        next_hash: &str,
        next_expires_at: DateTime<Utc>,
    ) -> DbResult<RefreshOutcome> {
        let mut tx = self.writer().begin().await?;
        let row = sqlx::query(
            "SELECT id, user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens \
             WHERE token_hash = $1",
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
        // Claim the token; a concurrent claim that got there first makes this a reuse too.
        let claimed =
            sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(&at)
                .bind(row.text("id")?)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if claimed == 0 {
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
            )
            .bind(&at)
            .bind(&family)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(RefreshOutcome::Reused);
        }
        let user_id = row.id("user_id")?;
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(domain::new_id().to_string())
        .bind(user_id.to_string())
        .bind(&family)
        .bind(next_hash)
        .bind(stamp(next_expires_at))
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated { user_id })
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
