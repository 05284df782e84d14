//! Primary Healthcare Providers: the FHIR endpoints patients' documents come from, and how
//! the platform signs in at each. Credentials are stored sealed (see `secrets`); the API
//! shows only their public parts.

use super::{now, Db, DbResult, RowExt, Sql};
use crate::db::Bind;
pub use domain::dto::{AuthMode, Provider};
use sqlx::AnyConnection;
use uuid::Uuid;

/// A provider with its sealed credential, for the jobs that call it.
#[derive(Debug, Clone)]
pub struct ProviderAccess {
    pub provider: Provider,
    /// The bearer token or PKCS#8 private key, sealed.
    pub sealed_secret: Option<String>,
}

/// What to store for a provider (validated by the handler).
#[derive(Debug, Clone)]
pub struct ProviderRow {
    pub name: String,
    pub fhir_base_url: String,
    pub auth_mode: AuthMode,
    pub client_id: Option<String>,
    pub token_url: Option<String>,
    pub scope: Option<String>,
    pub key_id: Option<String>,
    pub sealed_secret: Option<String>,
    pub public_jwks: Option<serde_json::Value>,
}

impl ProviderRow {
    /// An open FHIR server: no credentials.
    pub fn open(name: &str, fhir_base_url: &str) -> Self {
        Self {
            name: name.to_owned(),
            fhir_base_url: fhir_base_url.to_owned(),
            auth_mode: AuthMode::None,
            client_id: None,
            token_url: None,
            scope: None,
            key_id: None,
            sealed_secret: None,
            public_jwks: None,
        }
    }
}

const COLS: &str = "id, name, fhir_base_url, auth_mode, client_id, token_url, scope, key_id, \
                    public_jwks, secret, version";

fn provider_from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<ProviderAccess> {
    let public_jwks: Option<serde_json::Value> = row
        .opt_text("public_jwks")?
        .map(|s| serde_json::from_str(&s))
        .transpose()?;
    let key_algorithm = public_jwks
        .as_ref()
        .and_then(|j| j["keys"][0]["alg"].as_str())
        .map(str::to_owned);
    Ok(ProviderAccess {
        provider: Provider {
            id: row.id("id")?,
            name: row.text("name")?,
            fhir_base_url: row.text("fhir_base_url")?,
            auth_mode: auth_mode(&row.text("auth_mode")?)?,
            client_id: row.opt_text("client_id")?,
            token_url: row.opt_text("token_url")?,
            scope: row.opt_text("scope")?,
            key_id: row.opt_text("key_id")?,
            key_algorithm,
            public_jwks,
            version: row.int("version")?,
        },
        sealed_secret: row.opt_text("secret")?,
    })
}

impl Db {
    pub async fn insert_provider(&self, new: ProviderRow) -> DbResult<Provider> {
        let at = now();
        let row = sqlx::query(&format!(
            "INSERT INTO providers (id, name, fhir_base_url, auth_mode, client_id, token_url, scope, \
             key_id, secret, public_jwks, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {COLS}"
        ))
        .bind(domain::new_id().to_string())
        .bind(new.name)
        .bind(new.fhir_base_url)
        .bind(new.auth_mode.as_str())
        .bind(new.client_id)
        .bind(new.token_url)
        .bind(new.scope)
        .bind(new.key_id)
        .bind(new.sealed_secret)
        .bind(new.public_jwks.map(|j| j.to_string()))
        .bind(at)
        .fetch_one(self.writer())
        .await?;
        Ok(provider_from_row(&row)?.provider)
    }

    /// Replaces a provider's settings; `None` when there is no such live provider.
    pub async fn replace_provider(&self, id: Uuid, new: ProviderRow) -> DbResult<Option<Provider>> {
        let mut sql = Sql::new("UPDATE providers SET name = ");
        sql.bind(new.name)
            .push(", fhir_base_url = ")
            .bind(new.fhir_base_url)
            .push(", auth_mode = ")
            .bind(new.auth_mode.as_str())
            .push(", client_id = ")
            .bind(Bind::from(new.client_id))
            .push(", token_url = ")
            .bind(Bind::from(new.token_url))
            .push(", scope = ")
            .bind(Bind::from(new.scope))
            .push(", key_id = ")
            .bind(Bind::from(new.key_id))
            .push(", secret = ")
            .bind(Bind::from(new.sealed_secret))
            .push(", public_jwks = ")
            .bind(Bind::from(new.public_jwks.map(|j| j.to_string())))
            .push(", updated_at = ")
            .bind(now())
            .push(", version = version + 1 WHERE deleted_at IS NULL AND id = ")
            .bind(id)
            .push(&format!(" RETURNING {COLS}"));
        let rows = sql.fetch_all(self.writer()).await?;
        Ok(rows
            .first()
            .map(provider_from_row)
            .transpose()?
            .map(|p| p.provider))
    }

    /// Removes a provider that no live patient or user links to. `Ok(None)`: no such live
    /// provider; `Ok(Some(false))`: still linked, kept.
    pub async fn delete_provider(&self, id: Uuid) -> DbResult<Option<bool>> {
        let at = super::now();
        let done = sqlx::query(
            "UPDATE providers SET deleted_at = $1, updated_at = $1, secret = NULL, version = version + 1 \
             WHERE id = $2 AND deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM patients WHERE provider_id = $2 AND deleted_at IS NULL) \
             AND NOT EXISTS (SELECT 1 FROM users WHERE provider_id = $2 AND deleted_at IS NULL)",
        )
        .bind(&at)
        .bind(id.to_string())
        .execute(self.writer())
        .await?
        .rows_affected();
        if done == 1 {
            return Ok(Some(true));
        }
        Ok(self.provider_access(id).await?.map(|_| false))
    }

    pub async fn list_providers(&self) -> DbResult<Vec<Provider>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM providers WHERE deleted_at IS NULL ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| provider_from_row(r).map(|p| p.provider))
            .collect::<anyhow::Result<Vec<_>>>()?)
    }

    /// A live provider with its sealed credential.
    pub async fn provider_access(&self, id: Uuid) -> DbResult<Option<ProviderAccess>> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM providers WHERE deleted_at IS NULL AND id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(provider_from_row).transpose()?)
    }
}

/// The name of the provider the patient is linked to, if any, for the texts people read (a
/// provider's name is practice configuration, not PHI).
pub async fn patient_provider_name(
    conn: &mut AnyConnection,
    patient_id: Uuid,
) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT pr.name FROM patients p JOIN providers pr ON pr.id = p.provider_id WHERE p.id = $1",
    )
    .bind(patient_id.to_string())
    .fetch_optional(conn)
    .await?)
}

/// A stored `auth_mode`.
fn auth_mode(stored: &str) -> anyhow::Result<AuthMode> {
    Ok(match stored {
        "none" => AuthMode::None,
        "bearer" => AuthMode::Bearer,
        "smart-backend" => AuthMode::SmartBackend,
        other => anyhow::bail!("unknown auth mode {other:?} in providers"),
    })
}
