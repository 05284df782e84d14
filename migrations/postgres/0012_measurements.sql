-- The results dieticians follow over time (domain::measures: weight, BMI, blood pressure,
-- HbA1c, glucose, lipids, eGFR), kept as values from the PHP's Observations: one row per
-- Observation (or per component, a blood pressure's two), as the PHP reported it; clients
-- convert units for display. Synced to the patient's dietician and to the patient.
CREATE TABLE measurements (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    -- The report it came with; none for a vital sign of its own.
    document_id TEXT REFERENCES healthcare_documents (id),
    -- Observation/{id}, with #{code} for a component: what makes a value the same one again.
    external_id TEXT NOT NULL,
    -- LOINC
    code        TEXT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    unit        TEXT NOT NULL,
    -- YYYY-MM-DD
    date        TEXT NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT,
    change_seq  BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX measurements_external ON measurements (patient_id, external_id);
CREATE INDEX measurements_change_seq ON measurements (change_seq, id);
CREATE INDEX measurements_document ON measurements (document_id);
CREATE TRIGGER measurements_stamp BEFORE INSERT OR UPDATE ON measurements
    FOR EACH ROW EXECUTE FUNCTION stamp_change_seq();
