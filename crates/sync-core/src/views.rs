//! What the app's screens read from the replica: pages of patients with their sync state,
//! filtered documents, the sync log, counts for the status bar. Plain queries over the
//! replica; nothing here needs a connection.

use crate::replica::Replica;
use crate::rows::{DocumentRow, LogLine, LogLineAction, OfflineEdit};
use crate::{Result, SyncError};
use domain::dto::{Inquiry, Measurement, SyncTable};
use domain::{DocumentType, InquiryStatus, LinkApproval, LogAction, LogStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Where a row stands between this replica and the platform, as a badge shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SyncState {
    /// The platform has every edit made here.
    Synced,
    /// Edits made here wait for the next sync.
    Pending,
    /// The platform kept a different value of a field edited here: a person must choose.
    Conflict,
    /// The platform refused an edit made here, or its own sync with the PHP or Carepatron
    /// failed (`sync_error`).
    Error,
}

/// A patient in the list.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PatientSummary {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub sync_state: SyncState,
    /// Their PHP, and whether the link to it may be used (`null` without a link).
    pub provider_id: Option<Uuid>,
    pub link_approval: Option<LinkApproval>,
}

/// One page of the patient list.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PatientPage {
    /// Patients matching the search, all pages together.
    pub total: i64,
    pub offset: i64,
    pub items: Vec<PatientSummary>,
}

/// A patient with everything the detail screen shows.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PatientDetail {
    #[cfg_attr(feature = "ts", ts(as = "crate::rows::PatientRow"))]
    pub patient: Value,
    pub sync_state: SyncState,
    /// Fields with an open conflict.
    pub conflicted_fields: Vec<String>,
    /// Deleted here but changed on the platform since, so it is back until the person
    /// decides (the conflicts screen says how).
    pub deletion_in_question: bool,
}

/// Filters of the document list; all optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
pub struct DocumentFilter {
    pub patient_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
    /// Words matched against titles and the text of documents fetched so far (full text).
    pub text: Option<String>,
    pub limit: Option<i64>,
}

/// A document in a list (no body), with whose it is: lists across patients name the patient
/// on every row.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocumentSummary {
    #[serde(flatten)]
    pub document: DocumentRow,
    pub sync_state: SyncState,
    pub patient_name: Option<String>,
    /// `YYYY-MM-DD`: tells apart patients of the same name.
    pub patient_birth_date: Option<String>,
}

/// Filters of the sync log.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
pub struct LogFilter {
    pub status: Option<String>,
    pub action: Option<String>,
    pub patient_id: Option<Uuid>,
    /// A word in the details.
    pub text: Option<String>,
    pub limit: Option<i64>,
}

/// What the status bar shows.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaStatus {
    /// Edits waiting for the platform.
    pub pending: i64,
    pub conflicts: i64,
    /// Edits the platform refused, kept with its reason.
    pub rejected: i64,
    /// New-patient inquiries nobody has acted on (dieticians' replicas hold them).
    pub new_inquiries: i64,
    pub last_sync: Option<String>,
}

/// An edit the platform refused.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RejectedEdit {
    pub mutation_id: String,
    pub table: String,
    pub row_id: Uuid,
    pub op: String,
    pub fields: Map<String, Value>,
    pub code: String,
    pub reason: String,
    pub created_at: String,
}

/// The outcome of creating a patient.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum NewPatientOutcome {
    Created {
        id: Uuid,
    },
    /// One of the user's patients has this email already: open it instead.
    Duplicate {
        existing_id: Uuid,
        name: String,
    },
}

/// One followed measure of a patient over time, in the measure's own unit
/// (`domain::measures`), oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Trend {
    /// `weight`, `hba1c`, … (`domain::measures::Measure::key`).
    pub key: String,
    pub name: String,
    pub unit: String,
    pub points: Vec<TrendPoint>,
    /// Values in a unit with no known conversion: kept on the platform, not drawn.
    pub unconverted: usize,
}

/// One value of a [`Trend`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrendPoint {
    /// `YYYY-MM-DD`
    pub date: String,
    /// In the trend's unit.
    pub value: f64,
    /// As the PHP reported it, when in another unit ("99 mg/dL").
    pub reported: Option<String>,
    /// The report it came with.
    pub document_id: Option<Uuid>,
}

/// A patient's measurements as one [`Trend`] per followed measure that has any, in
/// `domain::measures::MEASURES` order: converted into the measure's unit, a value reported
/// twice on one day (in one report and again on its own, or in two units) kept once.
pub fn trends_of(values: &[Measurement]) -> Vec<Trend> {
    use domain::measures::{convert, measure_of, MEASURES};
    let mut out: Vec<Trend> = Vec::new();
    for measure in MEASURES {
        let mut points: Vec<TrendPoint> = Vec::new();
        let mut unconverted = 0;
        for v in values
            .iter()
            .filter(|v| measure_of(&v.code) == Some(measure))
        {
            let Some(value) = convert(measure, v.value, &v.unit) else {
                unconverted += 1;
                continue;
            };
            let reported = (value != v.value || !v.unit.eq_ignore_ascii_case(measure.unit))
                .then(|| format!("{} {}", v.value, v.unit));
            points.push(TrendPoint {
                date: v.date.to_string(),
                value,
                reported,
                document_id: v.document_id,
            });
        }
        points.sort_by(|a, b| a.date.cmp(&b.date).then(a.value.total_cmp(&b.value)));
        // The same value on the same day: one point (the one naming a report). The same in
        // another unit agrees only to the rounding of the coarser unit: within 1 %.
        points.dedup_by(|later, kept| {
            let tolerance = if later.reported.is_some() == kept.reported.is_some() {
                0.005
            } else {
                kept.value.abs().max(later.value.abs()) * 0.01
            };
            let same = later.date == kept.date && (later.value - kept.value).abs() < tolerance;
            if same && kept.document_id.is_none() {
                kept.document_id = later.document_id;
            }
            same
        });
        if !points.is_empty() || unconverted > 0 {
            out.push(Trend {
                key: measure.key.to_owned(),
                name: measure.name.to_owned(),
                unit: measure.unit.to_owned(),
                points,
                unconverted,
            });
        }
    }
    out
}

/// What a patient's page sums up about their documents.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocumentDigest {
    /// Each type the patient has documents of, most documents first.
    pub kinds: Vec<KindDigest>,
    /// When this computer showed the patient before this visit; `null` the first time.
    pub last_visit: Option<String>,
    /// Documents that reached the platform since then (all of them the first time).
    pub new_since_last_visit: i64,
    /// The last pull from the patient's PHP, as their sync log tells it.
    pub last_pull: Option<LogLine>,
    /// The last request for documents sent to the PHP, and where it stands (pending, in
    /// progress, completed by the PHP: success, refused: failure).
    pub last_request: Option<LogLine>,
}

/// The patient's documents of one type.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KindDigest {
    #[serde(rename = "type")]
    pub kind: DocumentType,
    pub count: i64,
    /// `YYYY-MM-DD` of the newest.
    pub newest: String,
}

/// Opens of a patient's page closer together than this are one visit.
const VISIT_GAP: chrono::Duration = chrono::Duration::minutes(30);

const LIST_LIMIT: i64 = 500;

/// The sync log's action for an edit made on this device that the platform refused.
pub const OFFLINE_EDIT: &str = "offline edit";

/// A log timestamp as a point in time (unreadable ones first in time, so last in the log).
fn instant(t: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(t).ok()
}

/// SQL for the sync state of row `r` of `table`, for the documents of a patient included.
fn state_sql(table: &str, with_documents: bool) -> String {
    let (refused, documents) = if with_documents {
        (
            " OR EXISTS (SELECT 1 FROM rejected x JOIN rows d ON d.table_name = x.table_name AND d.id = x.row_id \
             WHERE x.table_name = 'healthcare_documents' AND x.settled_at IS NULL \
             AND json_extract(d.data, '$.patient_id') = r.id)",
            " OR EXISTS (SELECT 1 FROM outbox o JOIN rows d ON d.table_name = o.table_name AND d.id = o.row_id \
             WHERE o.table_name = 'healthcare_documents' AND json_extract(d.data, '$.patient_id') = r.id)",
        )
    } else {
        ("", "")
    };
    format!(
        "CASE \
         WHEN EXISTS (SELECT 1 FROM conflicts c WHERE c.table_name = '{table}' AND c.row_id = r.id AND c.resolved_at IS NULL) THEN 'conflict' \
         WHEN EXISTS (SELECT 1 FROM rejected x WHERE x.table_name = '{table}' AND x.row_id = r.id AND x.settled_at IS NULL) \
              OR json_extract(r.data, '$.sync_error') IS NOT NULL{refused} THEN 'error' \
         WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.table_name = '{table}' AND o.row_id = r.id){documents} THEN 'pending' \
         ELSE 'synced' END"
    )
}

fn parse_state(s: &str) -> SyncState {
    match s {
        "conflict" => SyncState::Conflict,
        "error" => SyncState::Error,
        "pending" => SyncState::Pending,
        _ => SyncState::Synced,
    }
}

fn like_pattern(search: &str) -> String {
    let escaped = search
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A date as the app shows it in English (`12 Apr 1978`, `12 April 1978`, `Apr 12, 1978`), as
/// stored (`1978-04-12`); `None` when `search` is not one. Numeric forms like `12/04/1978` are
/// left out: day or month first depends on who typed it. (Month names in other languages are
/// not read here; the stored form always works.)
fn iso_date(search: &str) -> Option<String> {
    let s = search.trim();
    ["%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y"]
        .iter()
        .find_map(|f| chrono::NaiveDate::parse_from_str(s, f).ok())
        .map(|d| d.format("%Y-%m-%d").to_string())
}

fn uuid(s: &str) -> Result<Uuid> {
    s.parse().map_err(|_| SyncError::NotFound("row id"))
}

impl Replica {
    /// Documents whose title or kept text matches `query` (every word, as a prefix), or whose
    /// patient's name contains it, newest first: the app's search ([`Replica::documents`]) as
    /// JSON.
    pub async fn search_documents(&self, query: &str, limit: i64) -> Result<Vec<Value>> {
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let filter = DocumentFilter {
            text: Some(query.to_owned()),
            limit: Some(limit),
            ..Default::default()
        };
        Ok(self
            .documents(&filter)
            .await?
            .into_iter()
            .map(|d| serde_json::to_value(d.document))
            .collect::<serde_json::Result<_>>()?)
    }

    /// Patients by name, `limit` from `offset`, whose name, email, birth date (`1978-04-12`,
    /// or `12 Apr 1978` as the app shows it in English) or identifier at their provider
    /// contains `search`.
    pub async fn patient_page(&self, search: &str, offset: i64, limit: i64) -> Result<PatientPage> {
        let pattern = like_pattern(search);
        let date = like_pattern(&iso_date(search).unwrap_or_default());
        let filter = "r.table_name = 'patients' AND (?1 = '%%' OR lower(json_extract(r.data, '$.name')) LIKE ?1 ESCAPE '\\' \
                      OR lower(json_extract(r.data, '$.email')) LIKE ?1 ESCAPE '\\' \
                      OR json_extract(r.data, '$.birth_date') LIKE ?1 ESCAPE '\\' \
                      OR (?2 != '%%' AND json_extract(r.data, '$.birth_date') LIKE ?2) \
                      OR lower(json_extract(r.data, '$.provider_patient_identifier')) LIKE ?1 ESCAPE '\\')";
        let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM rows r WHERE {filter}"))
            .bind(&pattern)
            .bind(&date)
            .fetch_one(self.pool())
            .await?;
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT r.id, json_extract(r.data, '$.name'), json_extract(r.data, '$.email'), \
             json_extract(r.data, '$.birth_date'), {}, json_extract(r.data, '$.provider_id'), \
             json_extract(r.data, '$.link_approval') \
             FROM rows r WHERE {filter} \
             ORDER BY lower(json_extract(r.data, '$.name')), r.id LIMIT ?3 OFFSET ?4",
            state_sql("patients", true)
        ))
        .bind(&pattern)
        .bind(&date)
        .bind(limit.clamp(1, LIST_LIMIT))
        .bind(offset.max(0))
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .into_iter()
            .map(|(id, name, email, birth_date, state, provider, approval)| {
                Ok(PatientSummary {
                    id: uuid(&id)?,
                    name: name.unwrap_or_default(),
                    email: email.unwrap_or_default(),
                    birth_date,
                    sync_state: parse_state(&state),
                    provider_id: provider.as_deref().map(uuid).transpose()?,
                    link_approval: approval.and_then(|a| a.parse().ok()),
                })
            })
            .collect::<Result<_>>()?;
        Ok(PatientPage {
            total,
            offset: offset.max(0),
            items,
        })
    }

    /// One patient, with its sync state and conflicted fields.
    pub async fn patient_detail(&self, id: Uuid) -> Result<PatientDetail> {
        let row: Option<(String, String)> = sqlx::query_as(&format!(
            "SELECT r.data, {} FROM rows r WHERE r.table_name = 'patients' AND r.id = ?",
            state_sql("patients", true)
        ))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        let (data, state) = row.ok_or(SyncError::NotFound("patient"))?;
        let open: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT kind, field FROM conflicts WHERE table_name = 'patients' AND row_id = ? \
             AND resolved_at IS NULL",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(PatientDetail {
            patient: serde_json::from_str(&data)?,
            sync_state: parse_state(&state),
            deletion_in_question: open.iter().any(|(kind, _)| kind == "edited_on_server"),
            conflicted_fields: open
                .into_iter()
                .filter(|(kind, _)| kind == "fields")
                .map(|(_, field)| field)
                .collect(),
        })
    }

    /// The patient's followed measures over time ([`trends_of`]), from the replica.
    pub async fn trends(&self, patient: Uuid) -> Result<Vec<Trend>> {
        let data: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM rows WHERE table_name = 'measurements' \
             AND json_extract(data, '$.patient_id') = ?",
        )
        .bind(patient.to_string())
        .fetch_all(self.pool())
        .await?;
        let values = data
            .iter()
            .map(|d| serde_json::from_str(d))
            .collect::<std::result::Result<Vec<Measurement>, _>>()?;
        Ok(trends_of(&values))
    }

    /// The summary of a patient's documents for their page, counted as a visit: what arrived
    /// since the previous one is what reached the platform after it.
    pub async fn document_digest(&self, patient: Uuid) -> Result<DocumentDigest> {
        let last_visit = self.visit(patient).await?;
        let kinds: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT json_extract(data, '$.type') AS kind, count(*), max(json_extract(data, '$.date')) \
             FROM rows WHERE table_name = 'healthcare_documents' AND json_extract(data, '$.patient_id') = ? \
             GROUP BY kind ORDER BY count(*) DESC, kind",
        )
        .bind(patient.to_string())
        .fetch_all(self.pool())
        .await?;
        // Arrivals by time, not by the text of timestamps (their fractions vary in digits).
        let new_since_last_visit: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM rows WHERE table_name = 'healthcare_documents' \
             AND json_extract(data, '$.patient_id') = ?1 AND json_extract(data, '$.created_at') IS NOT NULL \
             AND (?2 IS NULL OR julianday(json_extract(data, '$.created_at')) > julianday(?2))",
        )
        .bind(patient.to_string())
        .bind(&last_visit)
        .fetch_one(self.pool())
        .await?;
        let pulls = LogFilter {
            patient_id: Some(patient),
            ..Default::default()
        };
        let log = self.sync_log(&pulls).await?;
        let latest = |actions: &[LogAction]| {
            log.iter()
                .find(|l| matches!(l.action, LogLineAction::Platform(a) if actions.contains(&a)))
                .cloned()
        };
        Ok(DocumentDigest {
            kinds: kinds
                .into_iter()
                .filter_map(|(kind, count, newest)| {
                    Some(KindDigest {
                        kind: kind.parse().ok()?,
                        count,
                        newest,
                    })
                })
                .collect(),
            last_visit,
            new_since_last_visit,
            last_pull: latest(&[LogAction::ManualSync, LogAction::AutomaticSync]),
            last_request: latest(&[LogAction::DocumentRequest]),
        })
    }

    /// Records that the patient's page is shown now; returns when it was shown before this
    /// visit (opens less than [`VISIT_GAP`] apart are one visit, so a refresh or a return
    /// from a document does not reset what is new).
    async fn visit(&self, patient: Uuid) -> Result<Option<String>> {
        #[derive(Serialize, Deserialize, Default)]
        struct Visits {
            previous: Option<String>,
            current: Option<String>,
        }
        let key = format!("visit:{patient}");
        let mut visits: Visits = self
            .state(&key)
            .await?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        let now = chrono::Utc::now();
        let same_visit = visits
            .current
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .is_some_and(|c| now.signed_duration_since(c) < VISIT_GAP);
        if !same_visit {
            visits.previous = visits.current.take();
        }
        visits.current = Some(domain::time::stamp(now));
        self.set_state(&key, &serde_json::to_string(&visits)?)
            .await?;
        Ok(visits.previous)
    }

    /// Creates a patient, unless one with this email (case-insensitively) is here already.
    pub async fn create_patient(&self, fields: Map<String, Value>) -> Result<NewPatientOutcome> {
        if let Some(duplicate) = self.duplicate_of(&fields).await? {
            return Ok(duplicate);
        }
        let id = self.insert(SyncTable::Patients, fields).await?;
        Ok(NewPatientOutcome::Created { id })
    }

    /// The patient here (made here or synced) with the email of `fields`, as the duplicate
    /// warning names it.
    pub async fn duplicate_of(
        &self,
        fields: &Map<String, Value>,
    ) -> Result<Option<NewPatientOutcome>> {
        let email = fields
            .get("email")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        let existing: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, json_extract(data, '$.name') FROM rows WHERE table_name = 'patients' \
             AND lower(json_extract(data, '$.email')) = lower(?) LIMIT 1",
        )
        .bind(email)
        .fetch_optional(self.pool())
        .await?;
        existing
            .map(|(id, name)| {
                Ok(NewPatientOutcome::Duplicate {
                    existing_id: uuid(&id)?,
                    name: name.unwrap_or_default(),
                })
            })
            .transpose()
    }

    /// New-patient inquiries here, newest first, optionally of one status.
    pub async fn inquiries(&self, status: Option<InquiryStatus>) -> Result<Vec<Inquiry>> {
        let data: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM rows WHERE table_name = 'inquiries' \
             AND (?1 IS NULL OR json_extract(data, '$.status') = ?1) ORDER BY id DESC LIMIT 500",
        )
        .bind(status.map(InquiryStatus::as_str))
        .fetch_all(self.pool())
        .await?;
        data.iter().map(|d| Ok(serde_json::from_str(d)?)).collect()
    }

    /// Documents matching `filter`, always newest first (by the document's date, then the most
    /// recently added), with their patient's name. Words match a document's title and the
    /// text of documents read here (as prefixes), or its patient's name. Words alone look at
    /// the 2,000 most recently added or changed documents that have them (and the documents of
    /// up to 200 patients so named): a word in more documents than that needs a filter (type,
    /// dates, patient) to reach older ones. Sorting every match of a word in 100,000 titles by
    /// date costs 200 ms here; these 2,000, under 15.
    pub async fn documents(&self, filter: &DocumentFilter) -> Result<Vec<DocumentSummary>> {
        const NEWEST_MATCHES: i64 = 2_000;
        const NAMED_PATIENTS: i64 = 200;
        let state = state_sql("healthcare_documents", false);
        let terms = filter.text.as_deref().map(fts_terms).unwrap_or_default();
        // Patients so named (not when one patient's documents are asked for): their ids.
        let named: Vec<String> = if terms.is_empty() || filter.patient_id.is_some() {
            Vec::new()
        } else {
            sqlx::query_scalar(&format!(
                "SELECT id FROM rows INDEXED BY rows_patient_name WHERE table_name = 'patients' \
                 AND lower(json_extract(data, '$.name')) LIKE ? ESCAPE '\\' LIMIT {NAMED_PATIENTS}"
            ))
            .bind(like_pattern(filter.text.as_deref().unwrap_or_default()))
            .fetch_all(self.pool())
            .await?
        };
        let of_named = if named.is_empty() {
            ""
        } else {
            " UNION SELECT d.id FROM rows d WHERE d.table_name = 'healthcare_documents' \
             AND json_extract(d.data, '$.patient_id') IN (SELECT value FROM json_each(?7))"
        };
        let narrowed = filter.patient_id.is_some()
            || filter.kind.is_some()
            || filter.from.is_some()
            || filter.to.is_some();
        let words_alone = !terms.is_empty() && !narrowed;
        let source = if words_alone {
            // The newest matches straight from the index, and only those rows read (CROSS JOIN
            // keeps SQLite from walking every document and probing the matches).
            format!(
                "(SELECT doc_id AS id FROM (SELECT doc_id FROM document_search WHERE document_search MATCH ?1 \
                 ORDER BY rowid DESC LIMIT {NEWEST_MATCHES}){of_named}) m \
                 CROSS JOIN rows r ON r.table_name = 'healthcare_documents' AND r.id = m.id"
            )
        } else {
            // No words, or a filter: walk the date index newest first, stop at the limit.
            "rows r".to_owned()
        };
        let mut sql = format!(
            "SELECT r.data, {state}, json_extract(p.data, '$.name'), json_extract(p.data, '$.birth_date') \
             FROM {source} LEFT JOIN rows p ON p.table_name = 'patients' \
             AND p.id = json_extract(r.data, '$.patient_id') WHERE r.table_name = 'healthcare_documents'"
        );
        let matching = if named.is_empty() {
            " AND r.id IN (SELECT doc_id FROM document_search WHERE document_search MATCH ?1)"
                .to_owned()
        } else {
            " AND (r.id IN (SELECT doc_id FROM document_search WHERE document_search MATCH ?1) \
             OR json_extract(r.data, '$.patient_id') IN (SELECT value FROM json_each(?7)))"
                .to_owned()
        };
        let conditions = [
            (!terms.is_empty() && !words_alone, matching),
            (
                filter.patient_id.is_some(),
                " AND json_extract(r.data, '$.patient_id') = ?2".to_owned(),
            ),
            (
                filter.kind.is_some(),
                " AND json_extract(r.data, '$.type') = ?3".to_owned(),
            ),
            (
                filter.from.is_some(),
                " AND json_extract(r.data, '$.date') >= ?4".to_owned(),
            ),
            (
                filter.to.is_some(),
                " AND json_extract(r.data, '$.date') <= ?5".to_owned(),
            ),
        ];
        for (on, condition) in conditions {
            if on {
                sql.push_str(&condition);
            }
        }
        sql.push_str(" ORDER BY json_extract(r.data, '$.date') DESC, r.id DESC LIMIT ?6");
        let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(&sql)
            .bind(&terms)
            .bind(filter.patient_id.map(|p| p.to_string()))
            .bind(&filter.kind)
            .bind(&filter.from)
            .bind(&filter.to)
            .bind(filter.limit.unwrap_or(LIST_LIMIT).clamp(1, 5_000))
            .bind(serde_json::to_string(&named)?)
            .fetch_all(self.pool())
            .await?;
        rows.into_iter()
            .map(|(data, state, patient_name, patient_birth_date)| {
                Ok(DocumentSummary {
                    document: serde_json::from_str(&data)?,
                    sync_state: parse_state(&state),
                    patient_name,
                    patient_birth_date,
                })
            })
            .collect()
    }

    /// The synchronization log, newest first: what the platform reported, and this device's
    /// edits it refused (action `offline edit`, status `failure`; kept after they are dealt
    /// with). Each entry names its patient (`patient_name`) and person (`user_name`) when
    /// this replica knows them.
    pub async fn sync_log(&self, filter: &LogFilter) -> Result<Vec<LogLine>> {
        let limit = filter.limit.unwrap_or(LIST_LIMIT).clamp(1, 5_000);
        let text = filter.text.as_deref().map(str::trim).unwrap_or_default();
        let mut sql = String::from(
            "SELECT l.data, json_extract(p.data, '$.name'), json_extract(u.data, '$.name') FROM rows l \
             LEFT JOIN rows p ON p.table_name = 'patients' AND p.id = json_extract(l.data, '$.patient_id') \
             LEFT JOIN rows u ON u.table_name = 'users' AND u.id = json_extract(l.data, '$.user_id') \
             WHERE l.table_name = 'synchronization_log'",
        );
        let conditions = [
            (
                filter.status.is_some(),
                " AND json_extract(l.data, '$.status') = ?1",
            ),
            (
                filter.action.is_some(),
                " AND json_extract(l.data, '$.action') = ?2",
            ),
            (
                filter.patient_id.is_some(),
                " AND json_extract(l.data, '$.patient_id') = ?3",
            ),
            (
                !text.is_empty(),
                " AND (lower(json_extract(l.data, '$.details')) LIKE ?4 ESCAPE '\\' \
                 OR lower(json_extract(p.data, '$.name')) LIKE ?4 ESCAPE '\\')",
            ),
        ];
        for (on, condition) in conditions {
            if on {
                sql.push_str(condition);
            }
        }
        // By time, not by the text of timestamps: their fractions have varying digits, and
        // "…:30Z" sorts after "…:30.5Z" as text. Ties in the id's (creation) order.
        sql.push_str(
            " ORDER BY julianday(json_extract(l.data, '$.timestamp')) DESC, l.id DESC LIMIT ?5",
        );
        let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(&sql)
            .bind(&filter.status)
            .bind(&filter.action)
            .bind(filter.patient_id.map(|p| p.to_string()))
            .bind(like_pattern(text))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for (data, patient_name, user_name) in rows {
            let mut entry: Map<String, Value> = serde_json::from_str(&data)?;
            entry.insert("patient_name".into(), patient_name.into());
            entry.insert("user_name".into(), user_name.into());
            entries.push(serde_json::from_value(Value::Object(entry))?);
        }
        let wants_refusals = filter.status.as_deref().is_none_or(|s| s == "failure")
            && filter.action.as_deref().is_none_or(|a| a == OFFLINE_EDIT);
        if wants_refusals {
            entries.extend(self.refusals(filter.patient_id, text, limit).await?);
            // Stable: entries of one instant keep the order above.
            entries.sort_by_key(|e: &LogLine| std::cmp::Reverse(instant(&e.timestamp)));
            entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(entries)
    }

    /// This device's refused edits as sync log entries, newest first.
    /// `text`: words of the reason or the patient's name (`''` for all).
    async fn refusals(
        &self,
        patient: Option<Uuid>,
        text: &str,
        limit: i64,
    ) -> Result<Vec<LogLine>> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT x.mutation_id, x.table_name, x.row_id, x.op, x.reason, x.created_at, \
             CASE x.table_name WHEN 'patients' THEN x.row_id \
             ELSE coalesce(json_extract(r.data, '$.patient_id'), json_extract(x.fields, '$.patient_id')) END AS patient_id, \
             json_extract(p.data, '$.name') \
             FROM rejected x LEFT JOIN rows r ON r.table_name = x.table_name AND r.id = x.row_id \
             LEFT JOIN rows p ON p.table_name = 'patients' AND p.id = \
             CASE x.table_name WHEN 'patients' THEN x.row_id ELSE coalesce(json_extract(r.data, '$.patient_id'), json_extract(x.fields, '$.patient_id')) END \
             WHERE (?1 IS NULL OR patient_id = ?1) AND (?3 = '%%' OR lower(x.reason) LIKE ?3 ESCAPE '\\' \
             OR lower(json_extract(p.data, '$.name')) LIKE ?3 ESCAPE '\\') \
             ORDER BY x.created_at DESC LIMIT ?2",
        )
        .bind(patient.map(|p| p.to_string()))
        .bind(limit)
        .bind(like_pattern(text))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(mutation_id, table, row_id, op, reason, at, patient_id, patient_name)| {
                    let what = match (table.as_str(), op.as_str()) {
                        ("patients", "insert") => "A new patient",
                        ("patients", "delete") => "Deleting a patient",
                        ("patients", "restore") => "Restoring a patient",
                        ("patients", _) => "A change to a patient",
                        (_, "insert") => "A new document",
                        (_, "delete") => "Deleting a document",
                        (_, "restore") => "Restoring a document",
                        _ => "A change to a document",
                    };
                    LogLine {
                        id: mutation_id,
                        patient_id: Some(patient_id),
                        patient_name,
                        document_id: (table == "healthcare_documents").then_some(row_id),
                        user_id: None,
                        user_name: None,
                        action: LogLineAction::Here(OfflineEdit::OfflineEdit),
                        timestamp: at,
                        status: LogStatus::Failure,
                        details: Some(format!(
                            "{what} made on this computer was not accepted: {reason}"
                        )),
                    }
                },
            )
            .collect())
    }

    /// Counts for the status bar.
    pub async fn status(&self) -> Result<ReplicaStatus> {
        let (pending, conflicts, rejected, new_inquiries): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM outbox), \
             (SELECT count(*) FROM conflicts WHERE resolved_at IS NULL), \
             (SELECT count(*) FROM rejected WHERE settled_at IS NULL), \
             (SELECT count(*) FROM rows WHERE table_name = 'inquiries' \
              AND json_extract(data, '$.status') = 'new')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(ReplicaStatus {
            pending,
            conflicts,
            rejected,
            new_inquiries,
            last_sync: self.state("last_sync").await?,
        })
    }

    /// Practitioners a document can be shared with (the directory in the replica), by name.
    pub async fn practitioners(&self) -> Result<Vec<Value>> {
        self.json_rows(
            "SELECT data FROM rows WHERE table_name = 'users' \
             AND json_extract(data, '$.type') = 'practitioner' ORDER BY json_extract(data, '$.name')",
            None,
        )
        .await
    }

    /// The live (not revoked) shares of a document.
    pub async fn live_shares(&self, document: Uuid) -> Result<Vec<Value>> {
        self.json_rows(
            "SELECT data FROM rows WHERE table_name = 'document_shares' \
             AND json_extract(data, '$.document_id') = ? AND json_extract(data, '$.revoked_at') IS NULL",
            Some(document.to_string()),
        )
        .await
    }

    async fn json_rows(&self, sql: &str, arg: Option<String>) -> Result<Vec<Value>> {
        let data: Vec<String> = sqlx::query_scalar(sql)
            .bind(arg)
            .fetch_all(self.pool())
            .await?;
        data.iter().map(|d| Ok(serde_json::from_str(d)?)).collect()
    }

    /// Edits the platform refused, newest first.
    pub async fn rejected_edits(&self) -> Result<Vec<RejectedEdit>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            mutation_id: String,
            table_name: String,
            row_id: String,
            op: String,
            fields: String,
            code: String,
            reason: String,
            created_at: String,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT mutation_id, table_name, row_id, op, fields, code, reason, created_at \
             FROM rejected WHERE settled_at IS NULL ORDER BY created_at DESC",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(RejectedEdit {
                    row_id: uuid(&r.row_id)?,
                    fields: serde_json::from_str(&r.fields)?,
                    mutation_id: r.mutation_id,
                    table: r.table_name,
                    op: r.op,
                    code: r.code,
                    reason: r.reason,
                    created_at: r.created_at,
                })
            })
            .collect()
    }
}

/// Each word quoted (FTS syntax characters in user input are text), as a prefix.
fn fts_terms(query: &str) -> String {
    query
        .split_whitespace()
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn replica() -> (Replica, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("views-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        (Replica::open(&dir.join("r.db")).await.expect("open"), dir)
    }

    fn fields(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn measured(
        code: &str,
        value: f64,
        unit: &str,
        date: &str,
        report: Option<Uuid>,
    ) -> Measurement {
        serde_json::from_value(json!({
            "id": Uuid::now_v7(), "patient_id": Uuid::nil(), "document_id": report,
            "code": code, "value": value, "unit": unit, "date": date, "version": 1,
            "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z",
        }))
        .expect("a measurement")
    }

    #[test]
    fn trends_convert_order_and_keep_a_value_once() {
        let report = Uuid::now_v7();
        let trends = trends_of(&[
            measured("2345-7", 108.0, "mg/dL", "2026-06-01", None),
            measured("2345-7", 5.9, "mmol/L", "2026-03-01", None),
            // The same glucose again on its own, and in the other unit (106 mg/dL is 5.884
            // mmol/L: the same, to the mg/dL's rounding): one point.
            measured("2339-0", 5.9, "mmol/L", "2026-03-01", Some(report)),
            measured("2345-7", 106.0, "mg/dL", "2026-03-01", None),
            measured("2345-7", 3.0, "furlongs", "2026-04-01", None),
            measured("29463-7", 81.5, "kg", "2026-05-01", None),
            measured("1234-5", 1.0, "kg", "2026-05-01", None),
        ]);
        let keys: Vec<&str> = trends.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys,
            ["weight", "glucose"],
            "in the measures' order, followed codes only"
        );
        let glucose = &trends[1];
        assert_eq!(glucose.unit, "mmol/L");
        assert_eq!(glucose.unconverted, 1);
        let dates: Vec<&str> = glucose.points.iter().map(|p| p.date.as_str()).collect();
        assert_eq!(dates, ["2026-03-01", "2026-06-01"]);
        assert_eq!(
            glucose.points[0].document_id,
            Some(report),
            "the point names its report"
        );
        assert!(
            (glucose.points[1].value - 5.995).abs() < 0.01,
            "{:?}",
            glucose.points[1]
        );
        assert_eq!(glucose.points[1].reported.as_deref(), Some("108 mg/dL"));
        assert_eq!(trends[0].points[0].reported, None, "already in kg");
    }

    #[tokio::test]
    async fn patients_page_by_name_search_and_refuse_a_duplicate_email() {
        let (r, dir) = replica().await;
        for (name, email) in [
            ("Cleo", "c@x.org"),
            ("ana", "a@x.org"),
            ("Bruno", "b@x.org"),
        ] {
            let out = r
                .create_patient(fields(json!({"name": name, "email": email})))
                .await
                .expect("create");
            assert!(matches!(out, NewPatientOutcome::Created { .. }));
        }
        let page = r.patient_page("", 1, 2).await.expect("page");
        assert_eq!(page.total, 3);
        let names: Vec<_> = page.items.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["Bruno", "Cleo"],
            "case-insensitive order, from offset 1"
        );
        assert!(page
            .items
            .iter()
            .all(|p| p.sync_state == SyncState::Pending));
        let found = r.patient_page("B@X", 0, 10).await.expect("search");
        assert_eq!((found.total, found.items[0].name.as_str()), (1, "Bruno"));
        // LIKE wildcards in the search are text.
        assert_eq!(r.patient_page("%", 0, 10).await.expect("search").total, 0);

        let dup = r
            .create_patient(fields(json!({"name": "Ana again", "email": "A@x.org"})))
            .await
            .expect("duplicate check");
        match dup {
            NewPatientOutcome::Duplicate { name, .. } => assert_eq!(name, "ana"),
            other => panic!("expected a duplicate, got {other:?}"),
        }
        // The platform's checks, before anything is queued: the field named, its words.
        for (bad, field) in [
            (json!({"name": " ", "email": "e@x.org"}), "name"),
            (json!({"name": "Eve", "email": "eve@example"}), "email"),
            (
                json!({"name": "Eve", "email": "e@x.org", "birth_date": "12/04/1978"}),
                "birth_date",
            ),
        ] {
            match r.create_patient(fields(bad)).await {
                Err(SyncError::Field(e)) => assert_eq!(e.field.as_deref(), Some(field)),
                other => panic!("expected {field} refused, got {other:?}"),
            }
        }
        assert_eq!(
            r.pending().await.expect("pending"),
            3,
            "nothing more queued"
        );

        // Found by birth date as stored or as the app shows it, and by the provider's id.
        r.insert(
            SyncTable::Patients,
            fields(
                json!({"name": "Dora", "email": "d@x.org", "birth_date": "1978-04-12",
                          "provider_patient_identifier": "MRN-4471"}),
            ),
        )
        .await
        .expect("Dora");
        for search in ["1978-04", "12 Apr 1978", "12 April 1978", "mrn-4471"] {
            let found = r.patient_page(search, 0, 10).await.expect("search");
            assert_eq!(found.total, 1, "{search}");
            assert_eq!(found.items[0].birth_date.as_deref(), Some("1978-04-12"));
        }
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[tokio::test]
    async fn documents_filter_by_patient_type_dates_and_words() {
        let (r, dir) = replica().await;
        let p = r
            .insert(
                SyncTable::Patients,
                fields(json!({"name": "Ana Lima", "email": "ana@example.org"})),
            )
            .await
            .expect("patient")
            .to_string();
        let docs = [
            (
                "lab report",
                "2026-01-10",
                "Lipid panel",
                "cholesterol high",
            ),
            ("progress note", "2026-02-01", "Follow-up", "weight stable"),
            ("lab report", "2026-03-05", "Iron", "ferritin low"),
        ];
        let mut ids = Vec::new();
        for (kind, date, title, content) in docs {
            let id = r.insert(
                SyncTable::HealthcareDocuments,
                fields(json!({"patient_id": p, "type": kind, "date": date, "title": title, "content": content})),
            )
            .await
            .expect("insert");
            ids.push(id);
        }
        // Written here, readable here at once: the text is kept as the body.
        let (mime, body) = r.cached_body(ids[2]).await.expect("body").expect("kept");
        assert_eq!(
            (mime.as_str(), body.as_slice()),
            ("text/plain", b"ferritin low".as_slice())
        );
        let titles = |v: Vec<DocumentSummary>| -> Vec<String> {
            v.into_iter().map(|d| d.document.title).collect()
        };
        let all = DocumentFilter {
            patient_id: Some(p.parse().expect("uuid")),
            ..Default::default()
        };
        assert_eq!(
            titles(r.documents(&all).await.expect("all")),
            ["Iron", "Follow-up", "Lipid panel"],
            "newest first"
        );
        let labs_since_feb = DocumentFilter {
            kind: Some("lab report".into()),
            from: Some("2026-02-01".into()),
            ..all.clone()
        };
        assert_eq!(
            titles(r.documents(&labs_since_feb).await.expect("labs")),
            ["Iron"]
        );
        let words = DocumentFilter {
            text: Some("lipid".into()),
            ..all.clone()
        };
        assert_eq!(
            titles(r.documents(&words).await.expect("fts")),
            ["Lipid panel"]
        );
        let in_text = DocumentFilter {
            text: Some("ferrit".into()),
            ..all.clone()
        };
        assert_eq!(
            titles(r.documents(&in_text).await.expect("text")),
            ["Iron"],
            "words of a document's text, as prefixes"
        );
        let words_alone = DocumentFilter {
            text: Some("ferrit".into()),
            ..Default::default()
        };
        assert_eq!(
            titles(r.documents(&words_alone).await.expect("text")),
            ["Iron"]
        );
        // Every row names its patient, and the patient's name finds their documents.
        let by_name = r
            .documents(&DocumentFilter {
                text: Some("ana lim".into()),
                ..Default::default()
            })
            .await
            .expect("by name");
        assert_eq!(
            titles(by_name.clone()),
            ["Iron", "Follow-up", "Lipid panel"]
        );
        assert!(by_name
            .iter()
            .all(|d| d.patient_name.as_deref() == Some("Ana Lima")));
        let labs_by_name = DocumentFilter {
            text: Some("ana lim".into()),
            kind: Some("lab report".into()),
            ..Default::default()
        };
        assert_eq!(
            titles(r.documents(&labs_by_name).await.expect("narrowed")),
            ["Iron", "Lipid panel"]
        );
        let other_patient = DocumentFilter {
            patient_id: Some(Uuid::now_v7()),
            ..Default::default()
        };
        assert!(r.documents(&other_patient).await.expect("none").is_empty());
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[tokio::test]
    async fn the_log_is_in_time_order_whatever_the_timestamps_precision_and_names_the_patient() {
        let (r, dir) = replica().await;
        let p = r
            .insert(
                SyncTable::Patients,
                fields(json!({"name": "Ana Lima", "email": "ana@example.org"})),
            )
            .await
            .expect("patient");
        // "sent" at a whole second, "completed" half a second later: as text, "…:30Z" sorts
        // after "…:30.5Z" ('Z' > '.'), which put "completed" before "sent".
        for (details, at) in [
            ("sent", "2026-11-29T10:00:30Z"),
            ("completed", "2026-11-29T10:00:30.5Z"),
            ("earlier", "2026-11-29T09:59:59.999999Z"),
        ] {
            r.insert(
                SyncTable::SynchronizationLog,
                fields(
                    json!({"patient_id": p, "action": "document request", "status": "success",
                              "details": details, "timestamp": at}),
                ),
            )
            .await
            .expect("log entry");
        }
        let log = r.sync_log(&LogFilter::default()).await.expect("log");
        let details: Vec<_> = log
            .iter()
            .map(|e| e.details.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(details, ["completed", "sent", "earlier"], "newest first");
        // The same from SQL alone (a filter that leaves this device's refusals out).
        let successes = r
            .sync_log(&LogFilter {
                status: Some("success".into()),
                ..Default::default()
            })
            .await
            .expect("log");
        let details: Vec<_> = successes
            .iter()
            .map(|e| e.details.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(details, ["completed", "sent", "earlier"]);
        assert!(log
            .iter()
            .all(|e| e.patient_name.as_deref() == Some("Ana Lima")));
        let by_name = r
            .sync_log(&LogFilter {
                text: Some("lima".into()),
                ..Default::default()
            })
            .await
            .expect("search");
        assert_eq!(by_name.len(), 3, "a patient's name finds their entries");
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[tokio::test]
    async fn a_refused_new_patient_survives_a_full_resync_and_its_discard_leaves_nothing() {
        let (r, dir) = replica().await;
        let p = r
            .insert(
                SyncTable::Patients,
                fields(json!({"name": "Rita", "email": "rita@example.org"})),
            )
            .await
            .expect("patient");
        let note = r
            .insert(
                SyncTable::HealthcareDocuments,
                fields(
                    json!({"patient_id": p, "type": "progress note", "date": "2026-11-03",
                              "title": "Intake", "content": "Coeliac; prefers rice."}),
                ),
            )
            .await
            .expect("note");
        // The platform refused the patient's creation (as a sync records it): its outbox
        // entries are gone, the refusal is open.
        sqlx::query(
            "INSERT INTO rejected (mutation_id, table_name, row_id, op, fields, code, reason, created_at) \
             SELECT mutation_id, table_name, row_id, op, fields, 'duplicate_patient', 'taken', created_at \
             FROM outbox WHERE table_name = 'patients'",
        )
        .execute(r.pool())
        .await
        .expect("refusal");
        sqlx::query("DELETE FROM outbox WHERE table_name = 'patients'")
            .execute(r.pool())
            .await
            .expect("sent");
        let state = r.patient_detail(p).await.expect("kept").sync_state;
        assert_eq!(state, SyncState::Error);

        // A full re-sync (an expired cursor) keeps what waits for its writer.
        r.reset_rows().await.expect("reset");
        assert!(r.row(SyncTable::Patients, p).await.expect("row").is_some());

        // Discarded: the patient, the note written for them, its kept text and the values
        // sent all leave this computer; the log keeps that it was refused.
        let refusal = r.rejected_edits().await.expect("refusals")[0]
            .mutation_id
            .clone();
        r.dismiss_refusal(&refusal).await.expect("discard");
        assert!(r.row(SyncTable::Patients, p).await.expect("row").is_none());
        assert!(r
            .row(SyncTable::HealthcareDocuments, note)
            .await
            .expect("row")
            .is_none());
        assert!(r.cached_body(note).await.expect("body").is_none());
        assert_eq!(r.pending().await.expect("pending"), 0);
        let kept: String = sqlx::query_scalar("SELECT fields FROM rejected")
            .fetch_one(r.pool())
            .await
            .expect("record");
        assert_eq!(kept, "{}");
        assert_eq!(
            r.sync_log(&LogFilter::default()).await.expect("log").len(),
            1
        );
        assert!(matches!(
            r.dismiss_refusal(&refusal).await,
            Err(SyncError::NotFound(_))
        ));
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[tokio::test]
    async fn the_share_picker_lists_practitioners_by_name_and_a_documents_live_shares() {
        let (r, dir) = replica().await;
        for (name, kind) in [
            ("Zed", "practitioner"),
            ("Dee", "dietician"),
            ("Amy", "practitioner"),
        ] {
            r.insert(
                SyncTable::Users,
                fields(json!({"name": name, "type": kind})),
            )
            .await
            .expect("user");
        }
        let names: Vec<_> = r
            .practitioners()
            .await
            .expect("practitioners")
            .iter()
            .map(|u| u["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, ["Amy", "Zed"]);

        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        for (doc, revoked) in [
            (a, json!(null)),
            (a, json!("2026-11-01T00:00:00Z")),
            (b, json!(null)),
        ] {
            r.insert(
                SyncTable::DocumentShares,
                fields(json!({"document_id": doc.to_string(), "revoked_at": revoked})),
            )
            .await
            .expect("share");
        }
        let live = r.live_shares(a).await.expect("shares");
        assert_eq!(
            live.len(),
            1,
            "the revoked share and the other document's are left out"
        );
        assert_eq!(live[0]["document_id"], a.to_string());
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[tokio::test]
    async fn a_patients_summary_counts_by_type_and_what_arrived_since_the_previous_visit() {
        let (r, dir) = replica().await;
        let p = r
            .insert(
                SyncTable::Patients,
                fields(json!({"name": "Ana Lima", "email": "ana@example.org"})),
            )
            .await
            .expect("patient");
        // As the platform sent them: when each reached it.
        for (title, kind, date, arrived) in [
            ("Lipids", "lab report", "2026-10-01", "2026-10-02T09:00:00Z"),
            (
                "HbA1c",
                "lab report",
                "2026-11-20",
                "2026-11-21T09:00:00.5Z",
            ),
            (
                "Intake",
                "progress note",
                "2026-09-15",
                "2026-09-15T12:00:00Z",
            ),
        ] {
            let id = r
                .insert(
                    SyncTable::HealthcareDocuments,
                    fields(
                        json!({"patient_id": p, "type": kind, "date": date, "title": title,
                                  "content": title}),
                    ),
                )
                .await
                .expect("document");
            sqlx::query("UPDATE rows SET data = json_set(data, '$.created_at', ?) WHERE id = ?")
                .bind(arrived)
                .bind(id.to_string())
                .execute(r.pool())
                .await
                .expect("arrived");
        }
        let first = r.document_digest(p).await.expect("digest");
        assert_eq!(first.last_visit, None);
        assert_eq!(
            first.new_since_last_visit, 3,
            "the first visit: all of them"
        );
        let kinds: Vec<_> = first
            .kinds
            .iter()
            .map(|k| (k.kind.as_str(), k.count, k.newest.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("lab report", 2, "2026-11-20"),
                ("progress note", 1, "2026-09-15")
            ]
        );
        // Opened again within the same visit: what was new stays new.
        let again = r.document_digest(p).await.expect("digest");
        assert_eq!((again.last_visit, again.new_since_last_visit), (None, 3));
        // A visit on 2026-11-01: one document arrived since.
        r.set_state(
            &format!("visit:{p}"),
            r#"{"previous": null, "current": "2026-11-01T10:00:00Z"}"#,
        )
        .await
        .expect("an earlier visit");
        let later = r.document_digest(p).await.expect("digest");
        assert_eq!(later.last_visit.as_deref(), Some("2026-11-01T10:00:00Z"));
        assert_eq!(later.new_since_last_visit, 1);
        assert!(later.last_pull.is_none(), "no pull logged");
        assert!(later.last_request.is_none(), "no request logged");
        // The newest pull and request as the log tells them.
        for (action, status, details, at) in [
            (
                "manual sync",
                "success",
                "Found 3 documents.",
                "2026-11-28T09:00:00Z",
            ),
            (
                "automatic sync",
                "failure",
                "The provider did not answer.",
                "2026-11-29T09:00:00Z",
            ),
            (
                "document request",
                "in progress",
                "Sent; waiting for them.",
                "2026-11-29T10:00:00Z",
            ),
            (
                "document shared",
                "success",
                "Shared.",
                "2026-11-29T11:00:00Z",
            ),
        ] {
            r.insert(
                SyncTable::SynchronizationLog,
                fields(json!({"patient_id": p, "action": action, "status": status,
                              "details": details, "timestamp": at})),
            )
            .await
            .expect("log entry");
        }
        let logged = r.document_digest(p).await.expect("digest");
        let pull = logged.last_pull.expect("a pull");
        assert_eq!(
            (pull.status, pull.details.as_deref()),
            (LogStatus::Failure, Some("The provider did not answer."))
        );
        let request = logged.last_request.expect("a request");
        assert_eq!(request.status, LogStatus::InProgress);
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}
