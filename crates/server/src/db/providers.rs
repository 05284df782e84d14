//! Primary Healthcare Providers: the FHIR endpoints patients' documents come from. Only what
//! linking patients and provider users needs so far; auth settings come with the integrations.

use super::{now, Db, DbResult, RowExt};
use uuid::Uuid;

/// A provider record.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Provider {
    pub id: Uuid,
    pub name: String,
    pub fhir_base_url: String,
    pub version: i64,
}

fn provider_from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<Provider> {
    Ok(Provider {
        id: row.id("id")?,
        name: row.text("name")?,
        fhir_base_url: row.text("fhir_base_url")?,
        version: row.int("version")?,
    })
}

impl Db {
    pub async fn insert_provider(&self, name: &str, fhir_base_url: &str) -> DbResult<Provider> {
        let at = now();
        let row = sqlx::query(
            "INSERT INTO providers (id, name, fhir_base_url, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id, name, fhir_base_url, version",
        )
        .bind(domain::new_id().to_string())
        .bind(name)
        .bind(fhir_base_url)
        .bind(at)
        .fetch_one(self.writer())
        .await?;
        Ok(provider_from_row(&row)?)
    }

    pub async fn list_providers(&self) -> DbResult<Vec<Provider>> {
        let rows = sqlx::query(
            "SELECT id, name, fhir_base_url, version FROM providers WHERE deleted_at IS NULL \
             ORDER BY name, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(provider_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?)
    }
}
