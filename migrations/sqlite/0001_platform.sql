-- The platform's data model (DESIGN.md). Ids are UUIDv7 text made by whoever creates the row;
-- timestamps are RFC 3339 UTC text with microseconds (fixed width, so they sort as text);
-- synced rows carry version (bumped on every write) and deleted_at (tombstones: rows are never
-- hard-deleted while replicas may hold them). The PostgreSQL schema is the same, column for
-- column, so one set of queries serves both backends.

CREATE TABLE providers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    fhir_base_url TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1,
    deleted_at    TEXT
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    type          TEXT NOT NULL
                  CHECK (type IN ('admin', 'dietician', 'practitioner', 'provider', 'patient')),
    password_hash TEXT NOT NULL,
    carepatron_id TEXT,
    provider_id   TEXT REFERENCES providers (id),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1,
    deleted_at    TEXT
);
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;

CREATE TABLE patients (
    id                          TEXT PRIMARY KEY,
    user_id                     TEXT NOT NULL REFERENCES users (id),
    name                        TEXT NOT NULL,
    email                       TEXT NOT NULL,
    contact_details             TEXT,
    medical_history             TEXT,
    dietary_preferences         TEXT,
    carepatron_patient_id       TEXT,
    birth_date                  TEXT,
    provider_id                 TEXT REFERENCES providers (id),
    provider_patient_identifier TEXT,
    created_at                  TEXT NOT NULL,
    updated_at                  TEXT NOT NULL,
    version                     BIGINT NOT NULL DEFAULT 1,
    deleted_at                  TEXT
);
-- One live patient per email per dietician: the duplicate warning is race-free.
CREATE UNIQUE INDEX patients_owner_email_live ON patients (user_id, email) WHERE deleted_at IS NULL;
CREATE INDEX patients_owner_name ON patients (user_id, name, id);
CREATE INDEX patients_provider ON patients (provider_id);

-- A patient user's own record (added after patients exist: the two tables point at each other).
ALTER TABLE users ADD COLUMN patient_id TEXT REFERENCES patients (id);
CREATE UNIQUE INDEX users_patient_live ON users (patient_id)
    WHERE patient_id IS NOT NULL AND deleted_at IS NULL;

-- Binary bodies, content-addressed: the same PDF stored twice is stored once.
CREATE TABLE document_blobs (
    content_hash TEXT PRIMARY KEY,
    data         BLOB NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE healthcare_documents (
    id                     TEXT PRIMARY KEY,
    patient_id             TEXT NOT NULL REFERENCES patients (id),
    type                   TEXT NOT NULL,
    date                   TEXT NOT NULL,
    title                  TEXT NOT NULL,
    -- The text of a text document; NULL for binary ones, whose bytes are in document_blobs.
    content                TEXT,
    mime_type              TEXT NOT NULL,
    size_bytes             BIGINT NOT NULL,
    content_hash           TEXT NOT NULL,
    source                 TEXT NOT NULL,
    source_user_id         TEXT REFERENCES users (id),
    external_id            TEXT,
    carepatron_document_id TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    version                BIGINT NOT NULL DEFAULT 1,
    deleted_at             TEXT
);
CREATE INDEX documents_patient_date ON healthcare_documents (patient_id, date, id);
CREATE INDEX documents_source_user ON healthcare_documents (source_user_id);
CREATE UNIQUE INDEX documents_external_live ON healthcare_documents (patient_id, external_id)
    WHERE external_id IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE document_shares (
    id              TEXT PRIMARY KEY,
    document_id     TEXT NOT NULL REFERENCES healthcare_documents (id),
    practitioner_id TEXT NOT NULL REFERENCES users (id),
    shared_by       TEXT NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1,
    -- Set when the share is revoked.
    deleted_at      TEXT
);
CREATE UNIQUE INDEX document_shares_live ON document_shares (document_id, practitioner_id)
    WHERE deleted_at IS NULL;
CREATE INDEX document_shares_practitioner ON document_shares (practitioner_id, document_id);

CREATE TABLE synchronization_log (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT REFERENCES patients (id),
    document_id TEXT REFERENCES healthcare_documents (id),
    user_id     TEXT REFERENCES users (id),
    action      TEXT NOT NULL,
    timestamp   TEXT NOT NULL,
    status      TEXT NOT NULL,
    details     TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1,
    deleted_at  TEXT
);
CREATE INDEX synchronization_log_patient ON synchronization_log (patient_id, id);

CREATE TABLE document_requests (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patients (id),
    requested_by TEXT NOT NULL REFERENCES users (id),
    status       TEXT NOT NULL,
    note         TEXT,
    -- Comma-separated document types; empty for "everything".
    types        TEXT NOT NULL,
    log_id       TEXT NOT NULL REFERENCES synchronization_log (id),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1,
    deleted_at   TEXT
);
CREATE INDEX document_requests_patient ON document_requests (patient_id);

-- Rotating refresh tokens. Only a hash is kept; a token presented twice revokes its family.
CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    family_id  TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- The audit trail of PHI reads lives in a database file of its own (migrations/sqlite-audit):
-- its constant appends would otherwise invalidate every reader's page cache here.
