//! Files sent ahead of documents made offline: a device sends a file's bytes to
//! `PUT /uploads/{sha256}`, then pushes the document insert that names the hash; the push takes
//! the file ([`take_in`]). The bytes go to `document_blobs` at once (content-addressed, so a
//! file sent twice is kept once); `uploads` says who sent which, for a day, or until taken.

use super::{now, stamp, Db, DbResult, RowExt};
use domain::dto::StagedUpload;
use sqlx::AnyConnection;
use uuid::Uuid;

/// How long a file sent ahead waits for its document: a device pushes the document right
/// after the file, so a day covers a sync cut off in between and retried the next morning.
const KEPT_FOR: chrono::Duration = chrono::Duration::days(1);

/// How many bytes, and how many files, one person's files waiting for their documents may
/// hold: files never attached cannot fill the platform's disk, nor make the hourly sweep
/// long. A device sends at most a push's worth at a time (64 MiB).
pub const WAITING_BYTES: i64 = 200 * 1024 * 1024;
pub const WAITING_FILES: i64 = 100;

/// Expired files forgotten per upload: the sweep stays short whatever piled up.
const SWEEP: i64 = 100;

/// What sending a file did.
#[derive(Debug, Clone)]
pub enum Sent {
    /// Kept, waiting for its document.
    Kept(StagedUpload),
    /// This person had sent these bytes already: nothing new was kept.
    Again(StagedUpload),
    /// This person's waiting files would hold more than [`WAITING_BYTES`].
    OverQuota,
}

impl Db {
    /// Keeps `bytes` (whose SHA-256 is `hash`) from `owner`, waiting for the document that
    /// names them. Files that waited longer than a day, anyone's, go first.
    pub async fn send_file(
        &self,
        owner: Uuid,
        hash: &str,
        mime_type: &str,
        bytes: Vec<u8>,
    ) -> DbResult<Sent> {
        let mut tx = self.writer().begin().await?;
        forget_expired(&mut tx).await?;
        let staged = StagedUpload {
            content_hash: hash.to_owned(),
            mime_type: mime_type.to_owned(),
            size_bytes: bytes.len() as i64,
        };
        // Sent before and waiting, or sent before and made into a document of theirs (the
        // push's reply was lost, and the device sends everything again).
        let held = sqlx::query(
            "SELECT mime_type, size_bytes FROM uploads WHERE owner_id = $1 AND content_hash = $2 \
             UNION ALL SELECT mime_type, size_bytes FROM healthcare_documents \
             WHERE source_user_id = $1 AND content_hash = $2 AND content IS NULL",
        )
        .bind(owner.to_string())
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = held {
            tx.commit().await?;
            return Ok(Sent::Again(StagedUpload {
                mime_type: row.text("mime_type")?,
                size_bytes: row.int("size_bytes")?,
                ..staged
            }));
        }
        let (waiting, waiting_bytes): (i64, i64) = sqlx::query_as(
            "SELECT count(*), CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM uploads \
             WHERE owner_id = $1",
        )
        .bind(owner.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if waiting + 1 > WAITING_FILES || waiting_bytes + staged.size_bytes > WAITING_BYTES {
            tx.commit().await?;
            return Ok(Sent::OverQuota);
        }
        let at = now();
        sqlx::query(
            "INSERT INTO document_blobs (content_hash, data, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (content_hash) DO NOTHING",
        )
        .bind(hash)
        .bind(bytes)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO uploads (owner_id, content_hash, mime_type, size_bytes, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner_id, content_hash) DO NOTHING",
        )
        .bind(owner.to_string())
        .bind(hash)
        .bind(mime_type)
        .bind(staged.size_bytes)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Sent::Kept(staged))
    }
}

/// The file `owner` sent ahead under `hash`, taken for the document being written in this
/// transaction (so it is taken once), or the same bytes of a document `owner` made of them
/// before (the same scan attached twice: the first document took the file). `None`: this
/// person sent no such file, or it expired.
pub async fn take_in(
    conn: &mut AnyConnection,
    owner: Uuid,
    hash: &str,
) -> DbResult<Option<StagedUpload>> {
    let taken = sqlx::query(
        "DELETE FROM uploads WHERE owner_id = $1 AND content_hash = $2 \
         RETURNING mime_type, size_bytes",
    )
    .bind(owner.to_string())
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await?;
    let row = match taken {
        Some(row) => Some(row),
        None => {
            sqlx::query(
                "SELECT mime_type, size_bytes FROM healthcare_documents \
                 WHERE source_user_id = $1 AND content_hash = $2 AND content IS NULL",
            )
            .bind(owner.to_string())
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    row.map(|row| {
        Ok(StagedUpload {
            content_hash: hash.to_owned(),
            mime_type: row.text("mime_type")?,
            size_bytes: row.int("size_bytes")?,
        })
    })
    .transpose()
}

/// Forgets files that waited longer than [`KEPT_FOR`] (the oldest [`SWEEP`] of them), and
/// their bytes unless a document or another waiting file holds the same ones.
async fn forget_expired(conn: &mut AnyConnection) -> DbResult<()> {
    let cutoff = stamp(chrono::Utc::now() - KEPT_FOR);
    let expired: Vec<String> = sqlx::query_scalar(
        "DELETE FROM uploads WHERE (owner_id, content_hash) IN (SELECT owner_id, content_hash \
         FROM uploads WHERE created_at < $1 ORDER BY created_at LIMIT $2) RETURNING content_hash",
    )
    .bind(&cutoff)
    .bind(SWEEP)
    .fetch_all(&mut *conn)
    .await?;
    for hash in expired {
        sqlx::query(
            "DELETE FROM document_blobs WHERE content_hash = $1 \
             AND NOT EXISTS (SELECT 1 FROM healthcare_documents d WHERE d.content_hash = $1) \
             AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.content_hash = $1)",
        )
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
