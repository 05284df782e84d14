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
CREATE TRIGGER inquiries_stamp BEFORE INSERT OR UPDATE ON inquiries
    FOR EACH ROW EXECUTE FUNCTION stamp_change_seq();

-- A job is about a patient or, for the email of an inquiry, about the inquiry.
ALTER TABLE jobs ALTER COLUMN patient_id DROP NOT NULL;
ALTER TABLE jobs ADD COLUMN inquiry_id TEXT REFERENCES inquiries (id);
ALTER TABLE jobs ADD CONSTRAINT jobs_about_one CHECK ((patient_id IS NULL) <> (inquiry_id IS NULL));
CREATE INDEX jobs_inquiry ON jobs (inquiry_id);
