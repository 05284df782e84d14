-- The change feed (GET /api/v1/sync/changes): every synced row carries change_seq, the id of
-- the transaction that last wrote it. Sequence values commit out of order under concurrent
-- writers; transaction ids read against a snapshot's xmin do not skip (see db/sync.rs).

CREATE FUNCTION stamp_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$;

ALTER TABLE users ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_change_seq ON users (change_seq, id);
CREATE TRIGGER users_stamp BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION stamp_change_seq();

ALTER TABLE patients ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX patients_change_seq ON patients (change_seq, id);
CREATE TRIGGER patients_stamp BEFORE INSERT OR UPDATE ON patients
    FOR EACH ROW EXECUTE FUNCTION stamp_change_seq();

ALTER TABLE healthcare_documents ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX healthcare_documents_change_seq ON healthcare_documents (change_seq, id);
CREATE TRIGGER healthcare_documents_stamp BEFORE INSERT OR UPDATE ON healthcare_documents
    FOR EACH ROW EXECUTE FUNCTION stamp_change_seq();

ALTER TABLE document_shares ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX document_shares_change_seq ON document_shares (change_seq, id);
CREATE TRIGGER document_shares_stamp BEFORE INSERT OR UPDATE ON document_shares
    FOR EACH ROW EXECUTE FUNCTION stamp_change_seq();

ALTER TABLE synchronization_log ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX synchronization_log_change_seq ON synchronization_log (change_seq, id);
CREATE TRIGGER synchronization_log_stamp BEFORE INSERT OR UPDATE ON synchronization_log
    FOR EACH ROW EXECUTE FUNCTION stamp_change_seq();

-- Push (POST /api/v1/sync/push) applies each mutation exactly once: its outcome is stored
-- with it, in the transaction that applied it, and a repeat gets the stored outcome.
CREATE TABLE sync_mutations (
    mutation_id TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    device_id   TEXT NOT NULL,
    device_seq  BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Which fields each write changed, so a push based on an older version can merge edits to
-- other fields and report edits to the same field as conflicts.
CREATE TABLE row_changes (
    table_name TEXT NOT NULL,
    row_id     TEXT NOT NULL,
    version    BIGINT NOT NULL,
    fields     TEXT NOT NULL,
    PRIMARY KEY (table_name, row_id, version)
);
