-- The change feed (GET /api/v1/sync/changes): every synced row carries change_seq, the position
-- of its latest write. SQLite has one writer at a time, so a counter bumped by triggers in
-- the writing transaction commits in order and is a safe cursor.

CREATE TABLE sync_counter (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO sync_counter (id, seq) VALUES (1, 0);

ALTER TABLE users ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_change_seq ON users (change_seq, id);
CREATE TRIGGER users_stamp_insert AFTER INSERT ON users BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE users SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;
CREATE TRIGGER users_stamp_update AFTER UPDATE ON users WHEN NEW.change_seq = OLD.change_seq BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE users SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;

ALTER TABLE patients ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX patients_change_seq ON patients (change_seq, id);
CREATE TRIGGER patients_stamp_insert AFTER INSERT ON patients BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE patients SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;
CREATE TRIGGER patients_stamp_update AFTER UPDATE ON patients WHEN NEW.change_seq = OLD.change_seq BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE patients SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;

ALTER TABLE healthcare_documents ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX healthcare_documents_change_seq ON healthcare_documents (change_seq, id);
CREATE TRIGGER healthcare_documents_stamp_insert AFTER INSERT ON healthcare_documents BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE healthcare_documents SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;
CREATE TRIGGER healthcare_documents_stamp_update AFTER UPDATE ON healthcare_documents WHEN NEW.change_seq = OLD.change_seq BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE healthcare_documents SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;

ALTER TABLE document_shares ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX document_shares_change_seq ON document_shares (change_seq, id);
CREATE TRIGGER document_shares_stamp_insert AFTER INSERT ON document_shares BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE document_shares SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;
CREATE TRIGGER document_shares_stamp_update AFTER UPDATE ON document_shares WHEN NEW.change_seq = OLD.change_seq BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE document_shares SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;

ALTER TABLE synchronization_log ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX synchronization_log_change_seq ON synchronization_log (change_seq, id);
CREATE TRIGGER synchronization_log_stamp_insert AFTER INSERT ON synchronization_log BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE synchronization_log SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;
CREATE TRIGGER synchronization_log_stamp_update AFTER UPDATE ON synchronization_log WHEN NEW.change_seq = OLD.change_seq BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE synchronization_log SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;

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
