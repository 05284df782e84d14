//! A patient's link to their PHP, and the approval it waits for before anything is pulled
//! under it.
//!
//! The platform holds practice-wide credentials at each PHP, so a link is what decides whose
//! records reach a dietician's account. Every write that changes a link (provider, identifier
//! at the PHP, birth date) sets `patients.link_approval` again in the writing transaction
//! (`db::patients::relink_in`): `pending` while the practice requires an administrator's
//! approval ([`domain::LinkPolicy`]), else `approved`. Administrators see the pending links
//! beside what the PHP holds under them ([`Db::link_reviews`]) and decide
//! ([`Db::decide_link`]); the pull ([`crate::integrations`]) looks a pending link up for them,
//! and pulls only under an approved one whose PHP record agrees with the patient's own
//! demographics.

use super::logs::{insert_log, NewLogEntry};
use super::patients::{bind_link, link_of, reset_pull_state_in, same_link};
use super::providers::patient_provider_name;
use super::{now, parse_date, Db, DbResult, RowExt};
use domain::dto::{LinkReview, Patient};
use domain::{LinkApproval, LogAction, LogStatus, PhpMatch};
use sha2::Digest as _;
use uuid::Uuid;

/// Names a link and the PHP record its lookup found (`php_patient_id`), so that a decision
/// applies to what was reviewed and not to a link, or a record, changed since.
pub fn fingerprint(p: &Patient, php_patient_id: Option<&str>) -> String {
    let (provider, identifier, birth_date) = link_of(p);
    let mut h = sha2::Sha256::new();
    for part in [
        provider.map(|p| p.to_string()),
        identifier.map(str::to_owned),
        birth_date.map(|d| d.to_string()),
        php_patient_id.map(str::to_owned),
    ] {
        h.update(part.unwrap_or_default().as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..12])
}

/// How a decision on a link went.
#[derive(Debug)]
pub enum Decided {
    /// The patient as now stored.
    Done(Box<Patient>),
    /// No such live, linked patient.
    Missing,
    /// The link is not the one reviewed any more (or the decision was made already).
    Changed,
    /// An approval of a link whose lookup found no record agreeing with the patient: there is
    /// no record to approve.
    Unconfirmed,
}

impl Db {
    /// Sends `searched`'s approved link back for review (an approval without a PHP record to
    /// name: see `integrations::php`), unless the link changed meanwhile; what an earlier
    /// lookup said is forgotten, so the next one fills the administrator's queue afresh.
    pub async fn review_again(&self, searched: &Patient) -> DbResult<()> {
        let mut tx = self.writer().begin().await?;
        let sql = format!(
            "UPDATE patients SET link_approval = 'pending', version = version + 1, updated_at = $2 \
             WHERE id = $1 AND deleted_at IS NULL AND link_approval = 'approved'{}",
            same_link(3)
        );
        let query = sqlx::query(&sql).bind(searched.id.to_string()).bind(now());
        let reopened = bind_link(query, searched)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if reopened > 0 {
            reset_pull_state_in(&mut tx, searched.id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The links in `state`, oldest change first, with what the PHP holds under each (up to
    /// 500: a queue, not an archive).
    pub async fn link_reviews(&self, state: LinkApproval) -> DbResult<Vec<LinkReview>> {
        let rows = sqlx::query(&format!(
            "SELECT {}, u.name AS dietician_name, pr.name AS provider_name, \
             s.php_patient_id, s.php_match, s.php_name, s.php_birth_date \
             FROM patients p JOIN users u ON u.id = p.user_id \
             JOIN providers pr ON pr.id = p.provider_id \
             LEFT JOIN php_pull_state s ON s.patient_id = p.id \
             WHERE p.deleted_at IS NULL AND p.link_approval = $1 \
             ORDER BY p.updated_at, p.id LIMIT 500",
            *super::patients::P_COLS
        ))
        .bind(state.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let p = super::patients::patient_from_row(row)?;
                let php_patient_id = row.opt_text("php_patient_id")?;
                Ok(LinkReview {
                    fingerprint: fingerprint(&p, php_patient_id.as_deref()),
                    patient_id: p.id,
                    patient_name: p.name,
                    birth_date: p.birth_date,
                    dietician_id: p.user_id,
                    dietician_name: row.text("dietician_name")?,
                    provider_id: p.provider_id.unwrap_or_default(),
                    provider_name: row.text("provider_name")?,
                    provider_patient_identifier: p.provider_patient_identifier,
                    link_approval: state,
                    updated_at: p.updated_at,
                    php_match: row
                        .opt_text("php_match")?
                        .as_deref()
                        .map(str::parse)
                        .transpose()?,
                    php_name: row.opt_text("php_name")?,
                    php_birth_date: row
                        .opt_text("php_birth_date")?
                        .filter(|d| parse_date(d).is_ok()),
                })
            })
            .collect::<anyhow::Result<_>>()
            .map_err(Into::into)
    }

    /// Approves or refuses the patient's link, if it is still the one reviewed
    /// (`fingerprint`), logging who decided for the patient's log. Only a link whose lookup
    /// found one record agreeing with the patient can be approved, and the approval is of that
    /// record. A refusal forgets what the lookup found at the PHP.
    pub async fn decide_link(
        &self,
        patient_id: Uuid,
        fingerprint_seen: &str,
        decision: LinkApproval,
        admin: Uuid,
    ) -> DbResult<Decided> {
        let mut tx = self.writer().begin().await?;
        let found =
            super::patients::patient_in(&mut tx, domain::access::PatientScope::All, patient_id)
                .await?
                .filter(|f| !f.is_deleted() && f.row.provider_id.is_some());
        let Some(found) = found else {
            return Ok(Decided::Missing);
        };
        let before = found.row;
        let looked_up = sqlx::query(
            "SELECT php_patient_id, php_match FROM php_pull_state WHERE patient_id = $1",
        )
        .bind(patient_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let (php_patient_id, php_match) = match &looked_up {
            Some(row) => (row.opt_text("php_patient_id")?, row.opt_text("php_match")?),
            None => (None, None),
        };
        if fingerprint(&before, php_patient_id.as_deref()) != fingerprint_seen
            || before.link_approval == Some(decision)
        {
            return Ok(Decided::Changed);
        }
        let confirmed =
            php_patient_id.is_some() && php_match.as_deref() == Some(PhpMatch::Found.as_str());
        if decision == LinkApproval::Approved && !confirmed {
            return Ok(Decided::Unconfirmed);
        }
        let row = sqlx::query(&format!(
            "UPDATE patients SET link_approval = $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 RETURNING {}",
            super::patients::COLS
        ))
        .bind(decision.as_str())
        .bind(now())
        .bind(patient_id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let after = super::patients::patient_from_row(&row)?;
        let provider = patient_provider_name(&mut tx, patient_id)
            .await?
            .unwrap_or_default();
        let (status, details) = match decision {
            LinkApproval::Approved => (
                LogStatus::Success,
                format!("An administrator approved the link to {provider}; its documents are pulled from now on."),
            ),
            _ => {
                reset_pull_state_in(&mut tx, patient_id).await?;
                (
                    LogStatus::Failure,
                    format!("An administrator refused the link to {provider}: nothing is pulled. Check the patient's ID at {provider} and their birth date, or ask the administrator."),
                )
            }
        };
        insert_log(
            &mut *tx,
            NewLogEntry {
                patient_id: Some(patient_id),
                document_id: None,
                user_id: Some(admin),
                action: LogAction::LinkReview,
                status,
                details: Some(details),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Decided::Done(Box::new(after)))
    }
}
