-- Who read which patient's health information, and when (ids only, never content).
-- Append-only and written in batches; an integer key keeps the insert cheap.
CREATE TABLE phi_access_log (
    seq         INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT,
    patient_id  TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX phi_access_log_patient ON phi_access_log (patient_id, seq);
