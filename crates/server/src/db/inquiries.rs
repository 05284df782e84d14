//! New-patient inquiries from the practice's website, and the email job that announces each.
//!
//! An inquiry and its email job are written in one transaction: once the public endpoint
//! answers, the inquiry is stored and the practice will hear of it (the job retries and, out
//! of attempts, parks where an admin sees it). Dieticians read inquiries naming them or naming
//! nobody ([`InquiryScope`]); converting one makes the patient and marks the inquiry in one
//! transaction, so two dieticians pressing Convert at once make one patient.

use super::patients::insert_patient_in;
use super::{cursor, lock_on_postgres, now, paginate, Db, DbResult, RowExt, Sql};
use domain::access::InquiryScope;
use domain::dto::{Inquiry, NewInquiry, NewPatient, Patient};
use domain::{InquiryNotification, InquiryStatus, LinkPolicy};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use uuid::Uuid;

pub(crate) const COLS: &str = "id, name, email, phone, message, practitioner_id, status, \
    patient_id, handled_by, notification, version, created_at, updated_at";

pub(crate) fn inquiry_from_row(row: &AnyRow) -> anyhow::Result<Inquiry> {
    Ok(Inquiry {
        id: row.id("id")?,
        name: row.text("name")?,
        email: row.text("email")?,
        phone: row.opt_text("phone")?,
        message: row.opt_text("message")?,
        practitioner_id: row.opt_id("practitioner_id")?,
        status: row.text("status")?.parse()?,
        patient_id: row.opt_id("patient_id")?,
        handled_by: row.opt_id("handled_by")?,
        notification: row.text("notification")?.parse()?,
        reference: Inquiry::reference_of(row.id("id")?),
        version: row.int("version")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// Appends `AND <inquiry i is addressed to the caller>`: it names them, no one, or a
/// dietician no longer at the practice (deleted, or no longer a dietician: their inquiries
/// go to everyone rather than to no one).
pub(crate) fn push_addressed(sql: &mut Sql, scope: InquiryScope) {
    match scope {
        InquiryScope::ForOrOpenTo(user) => {
            sql.push(" AND (i.practitioner_id IS NULL OR i.practitioner_id = ")
                .bind(user)
                .push(
                    " OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = i.practitioner_id \
                     AND u.type = 'dietician' AND u.deleted_at IS NULL))",
                );
        }
        InquiryScope::Nothing => {
            sql.push(" AND 1 = 0");
        }
    }
}

/// Appends `(<inquiry i is still the caller's to read>)`: not converted, or converted by
/// them. Once a dietician makes a patient of it, the inquiry is theirs alone.
pub(crate) fn push_live(sql: &mut Sql, user: Uuid) {
    sql.push("(i.status <> 'converted' OR i.handled_by = ")
        .bind(user)
        .push(")");
}

/// Appends `AND <the caller may read inquiry i>` to a query over `inquiries i`.
pub(crate) fn push_scope(sql: &mut Sql, scope: InquiryScope) {
    push_addressed(sql, scope);
    if let InquiryScope::ForOrOpenTo(user) = scope {
        sql.push(" AND ");
        push_live(sql, user);
    }
}

/// Re-sends the open inquiries naming `user` to the feeds they are now addressed to (`user`
/// was deleted or is no longer a dietician), in the writing transaction.
pub async fn readdress_in(conn: &mut AnyConnection, user: Uuid) -> DbResult<()> {
    sqlx::query(
        "UPDATE inquiries SET version = version + 1, updated_at = $1 \
         WHERE practitioner_id = $2 AND status <> 'converted' AND deleted_at IS NULL",
    )
    .bind(now())
    .bind(user.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// What a dietician's decision on an inquiry found.
#[derive(Debug)]
pub enum Handled<T> {
    Done(T),
    /// No such inquiry in the caller's scope.
    Missing,
    /// A dietician converted it already (into `patient_id`).
    Converted,
}

/// What the email announcing an inquiry needs, and nothing more.
#[derive(Debug, Clone)]
pub struct InquiryMail {
    /// When it arrived, as people read it (`2026-11-30 09:12 UTC`).
    pub received: String,
    /// The addresses of the dietician it names, else of every dietician.
    pub dieticians: Vec<String>,
    /// Sent already (an attempt whose outcome was recorded late): not sent again.
    pub sent: bool,
}

/// A dietician the inquiry page offers to choose.
#[derive(Debug, Clone)]
pub struct Dietician {
    pub id: Uuid,
    pub name: String,
}

impl Db {
    /// Stores an inquiry and, when the practice has an SMTP server (`notify`), the job that
    /// emails the practice about it, in one transaction. `Err(DbError::ForeignKey)`: the
    /// preferred practitioner is no user.
    pub async fn insert_inquiry(&self, new: NewInquiry, notify: bool) -> DbResult<Inquiry> {
        let at = now();
        let id = domain::new_id();
        let notification = if notify {
            InquiryNotification::Pending
        } else {
            InquiryNotification::NotConfigured
        };
        let mut tx = self.writer().begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO inquiries (id, name, email, phone, message, practitioner_id, status, \
             notification, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'new', $7, $8, $8) RETURNING {COLS}"
        ))
        .bind(id.to_string())
        .bind(new.name.into_inner())
        .bind(new.email.as_str().to_owned())
        .bind(new.phone.map(String::from))
        .bind(new.message.map(String::from))
        .bind(new.practitioner_id.map(|u| u.to_string()))
        .bind(notification.as_str())
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        if notify {
            super::jobs::enqueue_email_in(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(inquiry_from_row(&row)?)
    }

    /// The caller's inquiries, newest first, optionally of one status.
    pub async fn inquiries(
        &self,
        scope: InquiryScope,
        status: Option<InquiryStatus>,
        limit: usize,
        after: Option<&[String]>,
    ) -> DbResult<(Vec<Inquiry>, Option<String>)> {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM inquiries i WHERE i.deleted_at IS NULL",
            super::qualify(COLS, "i")
        ));
        push_scope(&mut sql, scope);
        if let Some(status) = status {
            sql.push(" AND i.status = ").bind(status.as_str());
        }
        // Ids are UUIDv7: their order is the order of arrival.
        if let Some([id]) = after {
            sql.push(" AND i.id < ").bind(id.as_str());
        }
        sql.push(" ORDER BY i.id DESC LIMIT ")
            .bind(limit as i64 + 1);
        let rows = sql
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(inquiry_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(paginate(rows, limit, |i| {
            cursor::encode(&[&i.id.to_string()])
        }))
    }

    /// The inquiry, if it is in the caller's scope.
    pub async fn inquiry(&self, scope: InquiryScope, id: Uuid) -> DbResult<Option<Inquiry>> {
        let mut conn = self.pool.acquire().await?;
        inquiry_in(&mut conn, scope, id, Reach::Read).await
    }

    /// Sets a new or dismissed inquiry aside; a converted one stays converted.
    pub async fn dismiss_inquiry(
        &self,
        scope: InquiryScope,
        id: Uuid,
        by: Uuid,
    ) -> DbResult<Handled<Inquiry>> {
        let mut tx = self.writer().begin().await?;
        let found = inquiry_in(&mut tx, scope, id, Reach::Act).await?;
        if let Some(stop) = blocked(found.as_ref()) {
            return Ok(stop);
        }
        let inquiry = decided_in(&mut tx, id, by, InquiryStatus::Dismissed, None).await?;
        tx.commit().await?;
        Ok(Handled::Done(inquiry))
    }

    /// Makes a patient of a new or dismissed inquiry, owned by `by`, and marks the inquiry
    /// converted into it, in one transaction. `Err(DbError::Unique)`: `by` has a patient with
    /// this email already (nothing is written).
    pub async fn convert_inquiry(
        &self,
        scope: InquiryScope,
        id: Uuid,
        by: Uuid,
        patient: NewPatient,
        links: LinkPolicy,
    ) -> DbResult<Handled<(Patient, Inquiry)>> {
        let mut tx = self.writer().begin().await?;
        let found = inquiry_in(&mut tx, scope, id, Reach::Act).await?;
        if let Some(stop) = blocked(found.as_ref()) {
            return Ok(stop);
        }
        let patient = insert_patient_in(&mut tx, domain::new_id(), by, patient, links).await?;
        let inquiry =
            decided_in(&mut tx, id, by, InquiryStatus::Converted, Some(patient.id)).await?;
        tx.commit().await?;
        Ok(Handled::Done((patient, inquiry)))
    }

    /// Records how the email about an inquiry went.
    pub async fn set_inquiry_notification(
        &self,
        id: Uuid,
        state: InquiryNotification,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE inquiries SET notification = $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND notification <> $1",
        )
        .bind(state.as_str())
        .bind(now())
        .bind(id.to_string())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// What the email announcing inquiry `id` needs; `None` when the inquiry is gone.
    pub async fn inquiry_mail(&self, id: Uuid) -> DbResult<Option<InquiryMail>> {
        let row = sqlx::query(
            "SELECT created_at, practitioner_id, notification FROM inquiries \
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let received = row
            .time("created_at")?
            .format("%Y-%m-%d %H:%M UTC")
            .to_string();
        let named: Vec<String> = sqlx::query_scalar(
            "SELECT email FROM users WHERE id = $1 AND type = 'dietician' AND deleted_at IS NULL",
        )
        .bind(row.opt_text("practitioner_id")?)
        .fetch_all(&self.pool)
        .await?;
        let dieticians = if named.is_empty() {
            sqlx::query_scalar(
                "SELECT email FROM users WHERE type = 'dietician' AND deleted_at IS NULL ORDER BY email",
            )
            .fetch_all(&self.pool)
            .await?
        } else {
            named
        };
        Ok(Some(InquiryMail {
            received,
            dieticians,
            sent: row.text("notification")? == InquiryNotification::Sent.as_str(),
        }))
    }

    /// Whether `id` is a dietician of the practice (one an inquiry may name).
    pub async fn is_dietician(&self, id: Uuid) -> DbResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM users WHERE id = $1 AND type = 'dietician' AND deleted_at IS NULL",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// The practice's dieticians, by name: the choices of the public inquiry page.
    pub async fn dieticians(&self) -> DbResult<Vec<Dietician>> {
        let rows = sqlx::query(
            "SELECT id, name FROM users WHERE type = 'dietician' AND deleted_at IS NULL \
             ORDER BY name, id LIMIT 500",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Dietician {
                    id: r.id("id")?,
                    name: r.text("name")?,
                })
            })
            .collect::<anyhow::Result<_>>()
            .map_err(Into::into)
    }
}

/// What stops a dietician's decision on `found`: there is none to decide on, or a dietician
/// converted it already.
fn blocked<T>(found: Option<&Inquiry>) -> Option<Handled<T>> {
    match found {
        None => Some(Handled::Missing),
        Some(i) if i.status == InquiryStatus::Converted => Some(Handled::Converted),
        Some(_) => None,
    }
}

/// Records `by`'s decision on inquiry `id` (and the patient made of it), in the caller's
/// transaction.
async fn decided_in(
    conn: &mut AnyConnection,
    id: Uuid,
    by: Uuid,
    status: InquiryStatus,
    patient: Option<Uuid>,
) -> DbResult<Inquiry> {
    let row = sqlx::query(&format!(
        "UPDATE inquiries SET status = $1, patient_id = COALESCE($2, patient_id), \
         handled_by = $3, version = version + 1, updated_at = $4 WHERE id = $5 RETURNING {COLS}"
    ))
    .bind(status.as_str())
    .bind(patient.map(|p| p.to_string()))
    .bind(by.to_string())
    .bind(now())
    .bind(id.to_string())
    .fetch_one(conn)
    .await?;
    Ok(inquiry_from_row(&row)?)
}

/// What a look-up of one inquiry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Reading it: the caller's to read ([`push_scope`]).
    Read,
    /// Acting on it: addressed to the caller, so that one converted by a colleague meanwhile
    /// is answered as such rather than as missing.
    Act,
}

/// The live inquiry in `scope`, locked for the transaction on PostgreSQL.
async fn inquiry_in(
    conn: &mut AnyConnection,
    scope: InquiryScope,
    id: Uuid,
    reach: Reach,
) -> DbResult<Option<Inquiry>> {
    let mut sql = Sql::new(&format!(
        "SELECT {} FROM inquiries i WHERE i.deleted_at IS NULL AND i.id = ",
        super::qualify(COLS, "i")
    ));
    sql.bind(id);
    match reach {
        Reach::Read => push_scope(&mut sql, scope),
        Reach::Act => push_addressed(&mut sql, scope),
    }
    lock_on_postgres(&mut sql, conn, "i");
    let row = sql.query().fetch_optional(conn).await?;
    Ok(row.as_ref().map(inquiry_from_row).transpose()?)
}
