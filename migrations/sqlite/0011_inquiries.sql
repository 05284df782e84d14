-- New-patient inquiries from the practice's website (POST /api/v1/inquiries, no account), and
-- the email job that tells the practice of each.

CREATE TABLE inquiries (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    phone           TEXT,
    message         TEXT,
    -- The dietician the person asked for, if any.
    practitioner_id TEXT REFERENCES users (id),
    -- new | converted | dismissed
    status          TEXT NOT NULL DEFAULT 'new',
    -- The patient a dietician made of it.
    patient_id      TEXT REFERENCES patients (id),
    handled_by      TEXT REFERENCES users (id),
    -- not_configured | pending | sent | failed: the email to the practice.
    notification    TEXT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    deleted_at      TEXT,
    change_seq      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX inquiries_change_seq ON inquiries (change_seq, id);
CREATE TRIGGER inquiries_stamp_insert AFTER INSERT ON inquiries BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE inquiries SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;
CREATE TRIGGER inquiries_stamp_update AFTER UPDATE ON inquiries WHEN NEW.change_seq = OLD.change_seq BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE inquiries SET change_seq = (SELECT seq FROM sync_counter) WHERE id = NEW.id;
END;

-- A job is about a patient or, for the email of an inquiry, about the inquiry. SQLite cannot
-- drop a NOT NULL, so the table is rebuilt (nothing references it).
CREATE TABLE jobs_new (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    patient_id   TEXT REFERENCES patients (id),
    request_id   TEXT REFERENCES document_requests (id),
    cause        TEXT NOT NULL,
    requested_by TEXT REFERENCES users (id),
    status       TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    run_at       TEXT NOT NULL,
    lease_owner  TEXT,
    lease_until  TEXT,
    progress     TEXT NOT NULL DEFAULT '{}',
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    inquiry_id   TEXT REFERENCES inquiries (id),
    CHECK ((patient_id IS NULL) <> (inquiry_id IS NULL))
);
INSERT INTO jobs_new (id, kind, patient_id, request_id, cause, requested_by, status, attempts,
    run_at, lease_owner, lease_until, progress, last_error, created_at, updated_at)
SELECT id, kind, patient_id, request_id, cause, requested_by, status, attempts,
    run_at, lease_owner, lease_until, progress, last_error, created_at, updated_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_patient ON jobs (patient_id, created_at);
CREATE INDEX jobs_inquiry ON jobs (inquiry_id);
CREATE UNIQUE INDEX jobs_one_waiting ON jobs (kind, patient_id)
    WHERE status = 'queued' AND kind IN ('pull', 'carepatron');
