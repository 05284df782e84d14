//! Users: accounts of every type. Passwords live only as argon2id hashes and never leave here
//! except to be verified. `session_epoch` moves on, in the same transaction, with every change
//! that must end the user's sessions (see `auth::sessions`).

use super::{cursor, now, paginate, Bind, Db, DbResult, RowExt, Sql, Written};
use crate::auth::EndSessions;
use anyhow::Context as _;
use domain::dto::User;
use domain::UserType;
use sqlx::any::AnyRow;
use uuid::Uuid;

pub(crate) const COLS: &str =
    "id, email, name, type, password_hash, carepatron_id, provider_id, patient_id, \
                    version, created_at, updated_at, session_epoch";

/// A user row: the API view plus the hash that must not reach it.
#[derive(Debug, Clone)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: String,
    /// Tokens issued at another epoch are refused.
    pub session_epoch: i64,
}

pub(crate) fn user_from_row(row: &AnyRow) -> anyhow::Result<StoredUser> {
    Ok(StoredUser {
        user: User {
            id: row.id("id")?,
            email: row.text("email")?,
            name: row.text("name")?,
            kind: super::parse_kind(&row.text("type")?)?,
            carepatron_id: row.opt_text("carepatron_id")?,
            provider_id: row.opt_id("provider_id")?,
            patient_id: row.opt_id("patient_id")?,
            version: row.int("version")?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
        },
        password_hash: row.text("password_hash")?,
        session_epoch: row.int("session_epoch")?,
    })
}

/// The fields of a new user, already validated and hashed.
pub struct NewUserRow<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub kind: UserType,
    pub password_hash: &'a str,
    pub carepatron_id: Option<String>,
    pub provider_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
}

impl Db {
    /// The user's session epoch; `None` when there is no such live user.
    pub async fn session_epoch(&self, id: Uuid) -> DbResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT session_epoch FROM users WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn user_by_id(&self, id: Uuid) -> DbResult<Option<StoredUser>> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM users WHERE id = $1 AND deleted_at IS NULL"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    pub async fn user_by_email(&self, email: &str) -> DbResult<Option<StoredUser>> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM users WHERE email = $1 AND deleted_at IS NULL"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// All live users by name, a page at a time.
    pub async fn list_users(
        &self,
        limit: usize,
        after: Option<&[String]>,
    ) -> DbResult<(Vec<User>, Option<String>)> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLS} FROM users WHERE deleted_at IS NULL"
        ));
        if let Some([name, id]) = after {
            sql.push(" AND (name > ").bind(name.as_str());
            sql.push(" OR (name = ").bind(name.as_str());
            sql.push(" AND id > ").bind(id.as_str()).push("))");
        }
        sql.push(" ORDER BY name, id LIMIT ").bind(limit as i64 + 1);
        let rows = sql
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| user_from_row(r).map(|s| s.user))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(paginate(rows, limit, |u| {
            cursor::encode(&[&u.name, &u.id.to_string()])
        }))
    }

    pub async fn insert_user(&self, new: NewUserRow<'_>) -> DbResult<User> {
        let id = domain::new_id();
        let at = now();
        let row = sqlx::query(&format!(
            "INSERT INTO users (id, email, name, type, password_hash, carepatron_id, provider_id, \
             patient_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             RETURNING {COLS}"
        ))
        .bind(id.to_string())
        .bind(new.email)
        .bind(new.name)
        .bind(new.kind.as_str())
        .bind(new.password_hash)
        .bind(new.carepatron_id)
        .bind(new.provider_id.map(|u| u.to_string()))
        .bind(new.patient_id.map(|u| u.to_string()))
        .bind(at)
        .fetch_one(self.writer())
        .await?;
        Ok(user_from_row(&row)?.user)
    }

    /// Writes `sets`, and ends the sessions `end` names in the same transaction: the epoch
    /// moves on and the refresh families are revoked.
    pub async fn update_user(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        sets: Vec<(&'static str, Bind)>,
        end: EndSessions,
    ) -> DbResult<Written<User>> {
        let mut tx = self.writer().begin().await?;
        let user =
            match super::update_row_in(&mut tx, "users", id, expected_version, sets, COLS).await? {
                Written::Done(row) => user_from_row(&row)?.user,
                Written::Missing => return Ok(Written::Missing),
                Written::Stale => return Ok(Written::Stale),
            };
        if user.kind != domain::UserType::Dietician {
            super::inquiries::readdress_in(&mut tx, id).await?;
        }
        if end != EndSessions::No {
            let epoch: i64 = sqlx::query_scalar(
                "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1 \
                 RETURNING session_epoch",
            )
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
            let at = now();
            let keep = match end {
                EndSessions::AllBut(family) => Some(family.to_string()),
                _ => None,
            };
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 \
                 AND revoked_at IS NULL AND ($3 IS NULL OR family_id <> $3)",
            )
            .bind(&at)
            .bind(id.to_string())
            .bind(keep.clone())
            .execute(&mut *tx)
            .await?;
            if let Some(family) = keep {
                sqlx::query(
                    "UPDATE refresh_tokens SET session_epoch = $1 WHERE user_id = $2 \
                     AND family_id = $3 AND revoked_at IS NULL",
                )
                .bind(epoch)
                .bind(id.to_string())
                .bind(family)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Written::Done(user))
    }

    /// Tombstones a user and ends their sessions, unless they are the last admin.
    /// `Ok(false)`: refused because it would leave no admin.
    pub async fn delete_user(&self, id: Uuid) -> DbResult<bool> {
        let mut tx = self.writer().begin().await?;
        let at = now();
        let done = sqlx::query(
            "UPDATE users SET deleted_at = $1, updated_at = $1, version = version + 1, \
             session_epoch = session_epoch + 1 \
             WHERE id = $2 AND deleted_at IS NULL AND (type <> 'admin' OR \
             (SELECT count(*) FROM users WHERE type = 'admin' AND deleted_at IS NULL) > 1)",
        )
        .bind(&at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Ok(false);
        }
        super::inquiries::readdress_in(&mut tx, id).await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(&at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Live admins other than `except`: decides whether an admin may stop being one.
    pub async fn other_admins(&self, except: Uuid) -> DbResult<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE type = 'admin' AND deleted_at IS NULL AND id <> $1",
        )
        .bind(except.to_string())
        .fetch_one(&self.pool)
        .await
        .context("counting admins")?;
        Ok(n)
    }
}
