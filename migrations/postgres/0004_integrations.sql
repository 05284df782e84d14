-- Integrations: how the platform signs in at each PHP, what it knows of each patient there,
-- and the job queue the background workers share (several instances on PostgreSQL).

-- none | bearer | smart-backend. `secret` is the bearer token or the PKCS#8 private key,
-- encrypted with the platform's secrets key (AES-256-GCM); never returned by the API.
ALTER TABLE providers ADD COLUMN auth_mode TEXT NOT NULL DEFAULT 'none';
ALTER TABLE providers ADD COLUMN client_id TEXT;
ALTER TABLE providers ADD COLUMN token_url TEXT;
ALTER TABLE providers ADD COLUMN scope TEXT;
ALTER TABLE providers ADD COLUMN key_id TEXT;
ALTER TABLE providers ADD COLUMN secret TEXT;
-- The public half of a signing key, as the JWK Set the PHP registers (served at
-- /api/v1/providers/{id}/jwks.json).
ALTER TABLE providers ADD COLUMN public_jwks TEXT;

-- What a person can do about the patient's last failed integration job (shown with the
-- patient; cleared by the next success).
ALTER TABLE patients ADD COLUMN sync_error TEXT;

-- The pull's own state per patient, outside `patients` so that pulling does not touch rows
-- every replica syncs: the patient's resource id at their PHP once found, how the last
-- search went (found | unsure | not found), and the PHP's clock at the start of the last
-- complete pull.
CREATE TABLE php_pull_state (
    patient_id     TEXT PRIMARY KEY REFERENCES patients (id),
    php_patient_id TEXT,
    php_match      TEXT,
    watermark      TEXT,
    updated_at     TEXT NOT NULL
);

ALTER TABLE healthcare_documents ADD COLUMN author TEXT;
-- The PHP's meta.versionId (or lastUpdated) of the resource last stored.
ALTER TABLE healthcare_documents ADD COLUMN external_version TEXT;

ALTER TABLE document_requests ADD COLUMN php_reference TEXT;

-- Carepatron. `carepatron_snapshot`: the patient's fields as both sides last agreed (JSON),
-- the base of the three-way merge. `carepatron_synced` on documents and shares: the
-- fingerprint last pushed, 'creating' while a create's outcome is unknown (look it up by
-- externalId before creating again), 'deleted' once deleted there.
ALTER TABLE patients ADD COLUMN carepatron_snapshot TEXT;
ALTER TABLE patients ADD COLUMN carepatron_synced TEXT;
ALTER TABLE healthcare_documents ADD COLUMN carepatron_synced TEXT;
ALTER TABLE document_shares ADD COLUMN carepatron_share_id TEXT;
ALTER TABLE document_shares ADD COLUMN carepatron_synced TEXT;

-- Positions of the platform's own followers (the change feed into Carepatron, the poll of
-- Carepatron's changes), each held by one instance at a time under a lease.
CREATE TABLE integration_cursors (
    name        TEXT PRIMARY KEY,
    position    TEXT,
    lease_owner TEXT,
    lease_until TEXT,
    updated_at  TEXT NOT NULL
);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    patient_id   TEXT NOT NULL REFERENCES patients (id),
    request_id   TEXT REFERENCES document_requests (id),
    -- What asked for it: created | schedule | manual | request | replay.
    cause        TEXT NOT NULL,
    requested_by TEXT REFERENCES users (id),
    -- queued | running | done | parked
    status       TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    run_at       TEXT NOT NULL,
    lease_owner  TEXT,
    lease_until  TEXT,
    -- JSON counts a person can follow: found, stored, updated, removed, skipped.
    progress     TEXT NOT NULL DEFAULT '{}',
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_patient ON jobs (patient_id, created_at);
-- At most one waiting pull, and one waiting Carepatron reconcile, per patient: asking again
-- while one waits joins it. (One may wait while another runs: the running one may have read
-- what changed too early. Workers never run two of a kind for a patient at once.)
CREATE UNIQUE INDEX jobs_one_waiting ON jobs (kind, patient_id)
    WHERE status = 'queued' AND kind IN ('pull', 'carepatron');
