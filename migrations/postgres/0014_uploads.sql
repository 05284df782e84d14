-- Files a device sent ahead of a document it made offline (`PUT /api/v1/uploads/{sha256}`):
-- the bytes are in document_blobs (content-addressed), and this row says who sent them. A
-- pushed document that names the hash takes them, and only its sender's: a hash alone,
-- learnt elsewhere, never lets anyone attach a file they do not have. Taken or expired rows
-- are deleted.
CREATE TABLE uploads (
    owner_id     TEXT NOT NULL REFERENCES users (id),
    content_hash TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (owner_id, content_hash)
);
CREATE INDEX uploads_created ON uploads (created_at);
CREATE INDEX uploads_hash ON uploads (content_hash);
-- A file's document, by its bytes: whether its sender has them already (a file sent again
-- after its document was made), and whether expired bytes are still a document's.
CREATE INDEX healthcare_documents_content_hash ON healthcare_documents (content_hash);
