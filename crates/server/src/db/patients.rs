//! Patients, each owned by one dietician and optionally linked to their PHP.

use super::{
    cursor, lock_on_postgres, now, paginate, parse_date, Bind, Db, DbResult, Found, RowExt, Sql,
    Written,
};
use domain::access::{PatientFacts, PatientScope};
use domain::dto::{NewPatient, Patient};
use domain::{LinkApproval, LinkPolicy};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::Any;
use sqlx::AnyConnection;
use std::sync::LazyLock;
use uuid::Uuid;

pub(crate) const COLS: &str = "id, user_id, name, email, contact_details, medical_history, \
    dietary_preferences, carepatron_patient_id, birth_date, provider_id, \
    provider_patient_identifier, link_approval, sync_error, version, created_at, updated_at";

/// [`COLS`] of `patients p`, for queries that join.
pub(crate) static P_COLS: LazyLock<String> = LazyLock::new(|| super::qualify(COLS, "p"));

pub(crate) fn patient_from_row(row: &AnyRow) -> anyhow::Result<Patient> {
    Ok(Patient {
        id: row.id("id")?,
        user_id: row.id("user_id")?,
        name: row.text("name")?,
        email: row.text("email")?,
        contact_details: row.opt_text("contact_details")?,
        medical_history: row.opt_text("medical_history")?,
        dietary_preferences: row.opt_text("dietary_preferences")?,
        carepatron_patient_id: row.opt_text("carepatron_patient_id")?,
        birth_date: row
            .opt_text("birth_date")?
            .as_deref()
            .map(parse_date)
            .transpose()?,
        provider_id: row.opt_id("provider_id")?,
        provider_patient_identifier: row.opt_text("provider_patient_identifier")?,
        link_approval: row
            .opt_text("link_approval")?
            .as_deref()
            .map(str::parse)
            .transpose()?,
        sync_error: row.opt_text("sync_error")?,
        version: row.int("version")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// The permission facts of a patient. Their provider counts (for that provider's staff)
/// only under an approved link.
pub fn facts(p: &Patient) -> PatientFacts {
    PatientFacts {
        owner_id: p.user_id,
        provider_id: p
            .provider_id
            .filter(|_| p.link_approval == Some(domain::LinkApproval::Approved)),
    }
}

/// Appends `AND <the caller may see patient p>` to a query over `patients p`.
pub(crate) fn push_scope(sql: &mut Sql, scope: PatientScope) {
    match scope {
        PatientScope::All => {}
        PatientScope::OwnedBy(user) => {
            sql.push(" AND p.user_id = ").bind(user);
        }
        PatientScope::WithDocumentsSharedTo(user) => {
            sql.push(
                " AND EXISTS (SELECT 1 FROM document_shares s JOIN healthcare_documents d \
                 ON d.id = s.document_id WHERE d.patient_id = p.id AND d.deleted_at IS NULL \
                 AND s.deleted_at IS NULL AND s.practitioner_id = ",
            )
            .bind(user)
            .push(")");
        }
        // Under an approved link only: a dietician's pending or refused choice of provider
        // shows the patient to no one there.
        PatientScope::LinkedToProvider(Some(provider)) => {
            sql.push(" AND p.link_approval = 'approved' AND p.provider_id = ")
                .bind(provider);
        }
        PatientScope::Only(Some(patient)) => {
            sql.push(" AND p.id = ").bind(patient);
        }
        PatientScope::LinkedToProvider(None) | PatientScope::Only(None) => {
            sql.push(" AND 1 = 0");
        }
    }
}

impl Db {
    /// The patient, if it is live and inside `scope`.
    pub async fn patient(&self, scope: PatientScope, id: Uuid) -> DbResult<Option<Patient>> {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM patients p WHERE p.deleted_at IS NULL AND p.id = ",
            *P_COLS
        ));
        sql.bind(id);
        push_scope(&mut sql, scope);
        let row = sql.query().fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(patient_from_row).transpose()?)
    }

    /// Patients in `scope` by name, filtered by a name/email fragment.
    pub async fn list_patients(
        &self,
        scope: PatientScope,
        q: Option<&str>,
        limit: usize,
        after: Option<&[String]>,
    ) -> DbResult<(Vec<Patient>, Option<String>)> {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM patients p WHERE p.deleted_at IS NULL",
            *P_COLS
        ));
        push_scope(&mut sql, scope);
        if let Some(q) = q.filter(|q| !q.trim().is_empty()) {
            let pattern = super::contains_pattern(q.trim());
            sql.push(" AND (lower(p.name) LIKE ").bind(pattern.as_str());
            sql.push(" ESCAPE '\\' OR p.email LIKE ").bind(pattern);
            sql.push(" ESCAPE '\\')");
        }
        if let Some([name, id]) = after {
            sql.push(" AND (p.name > ").bind(name.as_str());
            sql.push(" OR (p.name = ").bind(name.as_str());
            sql.push(" AND p.id > ").bind(id.as_str()).push("))");
        }
        sql.push(" ORDER BY p.name, p.id LIMIT ")
            .bind(limit as i64 + 1);
        let rows = sql
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(patient_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(paginate(rows, limit, |p| {
            cursor::encode(&[&p.name, &p.id.to_string()])
        }))
    }

    /// `Err(DbError::Unique)` when the owner already has a live patient with this email.
    pub async fn insert_patient(
        &self,
        owner: Uuid,
        new: NewPatient,
        links: LinkPolicy,
    ) -> DbResult<Patient> {
        let mut conn = self.writer().acquire().await?;
        insert_patient_in(&mut conn, domain::new_id(), owner, new, links).await
    }

    /// The owner's live patient with this email (the target of the duplicate warning).
    pub async fn patient_id_by_email(&self, owner: Uuid, email: &str) -> DbResult<Option<Uuid>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM patients WHERE user_id = $1 AND email = $2 AND deleted_at IS NULL",
        )
        .bind(owner.to_string())
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.as_deref().map(super::parse_id).transpose()?)
    }

    /// Writes `sets` to the live patient `id` (at `expected_version`, when given), through
    /// [`update_patient_in`]: with the patient written, whether their link to their PHP changed
    /// (then the pull's old match is forgotten already, and a pull should be queued).
    pub async fn update_patient(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        sets: Vec<(&'static str, Bind)>,
        links: LinkPolicy,
    ) -> DbResult<Written<(Patient, bool)>> {
        let mut tx = self.writer().begin().await?;
        let before = patient_in(&mut tx, PatientScope::All, id)
            .await?
            .filter(|found| !found.is_deleted());
        let Some(before) = before else {
            return Ok(Written::Missing);
        };
        let written =
            update_patient_in(&mut tx, &before.row, expected_version, sets, links).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Tombstones the patient with its documents and their shares, in one transaction.
    pub async fn delete_patient(&self, id: Uuid) -> DbResult<bool> {
        let mut tx = self.writer().begin().await?;
        let done = delete_patient_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(done)
    }
}

/// Writes `sets` over `before` (the patient as read, and on PostgreSQL locked, in the same
/// transaction) at `expected_version`, when given. The one way a patient is updated, by REST
/// `PUT` and sync push alike: a write that changes the patient's link to their PHP forgets
/// the pull's old match and asks for approval again under `links`, in the same transaction
/// ([`relink_in`]), and says so (`true`) for the caller to queue a pull once
/// committed.
pub async fn update_patient_in(
    conn: &mut AnyConnection,
    before: &Patient,
    expected_version: Option<i64>,
    sets: Vec<(&'static str, Bind)>,
    links: LinkPolicy,
) -> DbResult<Written<(Patient, bool)>> {
    Ok(
        match super::update_row_in(conn, "patients", before.id, expected_version, sets, COLS)
            .await?
        {
            Written::Done(row) => {
                let after = patient_from_row(&row)?;
                Written::Done(relink_in(conn, before, after, links).await?)
            }
            Written::Missing => Written::Missing,
            Written::Stale => Written::Stale,
        },
    )
}

/// The patient in `scope`, live or deleted, read to be written in this transaction (and on
/// PostgreSQL locked until it ends).
pub async fn patient_in(
    conn: &mut AnyConnection,
    scope: PatientScope,
    id: Uuid,
) -> DbResult<Option<Found<Patient>>> {
    let mut sql = Sql::new(&format!(
        "SELECT {}, p.deleted_at FROM patients p WHERE p.id = ",
        *P_COLS
    ));
    sql.bind(id);
    push_scope(&mut sql, scope);
    lock_on_postgres(&mut sql, conn, "p");
    let Some(row) = sql.query().fetch_optional(conn).await? else {
        return Ok(None);
    };
    Ok(Some(Found {
        row: patient_from_row(&row)?,
        deleted_at: row.opt_text("deleted_at")?,
        parent_deleted: false,
    }))
}

/// What finds a patient at their PHP: their provider, their ID there, their birth date.
pub(super) fn link_of(p: &Patient) -> (Option<Uuid>, Option<&str>, Option<chrono::NaiveDate>) {
    (
        p.provider_id,
        p.provider_patient_identifier.as_deref(),
        p.birth_date,
    )
}

/// `AND` the `patients` row's link is still the one bound at `$first` to `$first + 2` by
/// [`bind_link`] (null-safe): a write made for a link that changed meanwhile matches nothing.
pub(super) fn same_link(first: usize) -> String {
    let same = |column: &str, n: usize| {
        format!("({column} = ${n} OR ({column} IS NULL AND ${n} IS NULL))")
    };
    format!(
        " AND {} AND {} AND {}",
        same("provider_id", first),
        same("provider_patient_identifier", first + 1),
        same("birth_date", first + 2)
    )
}

/// Binds `p`'s link, in [`same_link`]'s order.
pub(super) fn bind_link<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    p: &'q Patient,
) -> Query<'q, Any, AnyArguments<'q>> {
    let (provider, identifier, birth_date) = link_of(p);
    query
        .bind(provider.map(|u| u.to_string()))
        .bind(identifier)
        .bind(birth_date.map(|d| d.to_string()))
}

/// Forgets what the pull knew at the PHP under the patient's link (their id there, its
/// watermark), inside the caller's transaction: the link changed or was sent back for review
/// ([`Db::reset_pull_state`] on its own).
pub async fn reset_pull_state_in(conn: &mut AnyConnection, patient_id: Uuid) -> DbResult<()> {
    sqlx::query("DELETE FROM php_pull_state WHERE patient_id = $1")
        .bind(patient_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Called inside the transaction that wrote `after` over `before`, by every path that writes
/// a patient's link (REST `PUT`, and sync push's updates and restores, through
/// [`super::patients::update_patient_in`]): when the link changed, what the pull knew at the
/// PHP (their id there, its watermark) is forgotten and the link waits for approval again
/// under `policy`, in that same transaction, so nothing more is pulled under the old match.
/// Returns the patient as written and whether the link changed (a pull, or the lookup for
/// the administrator, is queued once the write is committed).
pub async fn relink_in(
    conn: &mut AnyConnection,
    before: &Patient,
    mut after: Patient,
    policy: LinkPolicy,
) -> DbResult<(Patient, bool)> {
    if link_of(before) == link_of(&after) {
        return Ok((after, false));
    }
    reset_pull_state_in(conn, after.id).await?;
    after.link_approval = policy.first_state(after.provider_id);
    // The version was moved by the write itself; this belongs to it.
    sqlx::query("UPDATE patients SET link_approval = $1 WHERE id = $2")
        .bind(after.link_approval.map(LinkApproval::as_str))
        .bind(after.id.to_string())
        .execute(conn)
        .await?;
    Ok((after, true))
}

/// [`Db::delete_patient`] inside the caller's transaction.
pub async fn delete_patient_in(conn: &mut AnyConnection, id: Uuid) -> DbResult<bool> {
    let at = now();
    super::measurements::delete_with_in(conn, super::measurements::With::Patient(id), &at).await?;
    let id = id.to_string();
    let tombstone = "SET deleted_at = $1, updated_at = $1, version = version + 1";
    sqlx::query(&format!(
        "UPDATE document_shares {tombstone} WHERE deleted_at IS NULL AND document_id IN \
         (SELECT id FROM healthcare_documents WHERE patient_id = $2)"
    ))
    .bind(&at)
    .bind(&id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "UPDATE healthcare_documents {tombstone} WHERE deleted_at IS NULL AND patient_id = $2"
    ))
    .bind(&at)
    .bind(&id)
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query(&format!(
        "UPDATE patients {tombstone} WHERE deleted_at IS NULL AND id = $2"
    ))
    .bind(&at)
    .bind(&id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done > 0)
}

/// Inserts a patient with the given id (made by whoever created it, a laptop too); a link to
/// a PHP starts as `links` says. Its Carepatron client id is the integration's to set, later.
pub async fn insert_patient_in(
    conn: &mut AnyConnection,
    id: Uuid,
    owner: Uuid,
    new: NewPatient,
    links: LinkPolicy,
) -> DbResult<Patient> {
    let at = now();
    let approval = links.first_state(new.provider_id);
    let row = sqlx::query(&format!(
        "INSERT INTO patients (id, user_id, name, email, contact_details, \
         medical_history, dietary_preferences, birth_date, \
         provider_id, provider_patient_identifier, link_approval, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING {COLS}"
    ))
    .bind(id.to_string())
    .bind(owner.to_string())
    .bind(new.name.into_inner())
    .bind(new.email.as_str().to_owned())
    .bind(new.contact_details.map(String::from))
    .bind(new.medical_history.map(String::from))
    .bind(new.dietary_preferences.map(String::from))
    .bind(new.birth_date.map(|d| d.to_string()))
    .bind(new.provider_id.map(|u| u.to_string()))
    .bind(new.provider_patient_identifier.map(String::from))
    .bind(approval.map(domain::LinkApproval::as_str))
    .bind(at)
    .fetch_one(conn)
    .await?;
    Ok(patient_from_row(&row)?)
}
