-- The desktop replica. Rows are kept as the server sends them (JSON, by table and id), with
-- local edits applied on top until the server confirms them.
CREATE TABLE rows (
    table_name TEXT NOT NULL,
    id         TEXT NOT NULL,
    -- The server version the row is based on (0: created here, not yet confirmed).
    version    INTEGER NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (table_name, id)
);

-- Edits not yet confirmed by the server, in the order they were made. An entry is written in
-- the same transaction as the edit it records; `sent` marks one in flight (never merged into).
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    mutation_id  TEXT NOT NULL UNIQUE,
    table_name   TEXT NOT NULL,
    row_id       TEXT NOT NULL,
    op           TEXT NOT NULL,
    base_version INTEGER NOT NULL,
    fields       TEXT NOT NULL,
    sent         INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL
);
CREATE INDEX outbox_row ON outbox (table_name, row_id);

-- Edits the server found in conflict: both values kept until a person chooses.
CREATE TABLE conflicts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    mutation_id  TEXT NOT NULL,
    table_name   TEXT NOT NULL,
    row_id       TEXT NOT NULL,
    field        TEXT NOT NULL,
    server_value TEXT NOT NULL,
    client_value TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    resolved_at  TEXT
);

-- Edits the server refused, kept with the reason so none is lost silently.
CREATE TABLE rejected (
    mutation_id TEXT PRIMARY KEY,
    table_name  TEXT NOT NULL,
    row_id      TEXT NOT NULL,
    op          TEXT NOT NULL,
    fields      TEXT NOT NULL,
    code        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
