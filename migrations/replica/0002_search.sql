-- Local full-text search over documents (title, and the text of bodies fetched so far).
-- Filled in bulk after a first sync and per page after that: an FTS trigger on every
-- pulled row tripled the time of a bulk load.
CREATE VIRTUAL TABLE document_search USING fts5(doc_id UNINDEXED, title, body);

-- Bodies fetched from the server, kept for offline reading.
CREATE TABLE document_bodies (
    doc_id       TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    data         BLOB NOT NULL
);
