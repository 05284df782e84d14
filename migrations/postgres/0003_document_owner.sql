-- Each document carries its patient's dietician (owner_id), kept by triggers, so a dietician's
-- change feed is one index range, (owner_id, change_seq, id), however many other dieticians'
-- documents the platform holds; the same for patients with (user_id, change_seq, id).

ALTER TABLE healthcare_documents ADD COLUMN owner_id TEXT;
UPDATE healthcare_documents d SET owner_id = p.user_id FROM patients p WHERE p.id = d.patient_id;
CREATE INDEX healthcare_documents_owner_feed ON healthcare_documents (owner_id, change_seq, id);
CREATE INDEX patients_owner_feed ON patients (user_id, change_seq, id);

CREATE FUNCTION stamp_document_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner_id := (SELECT user_id FROM patients WHERE id = NEW.patient_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER healthcare_documents_owner BEFORE INSERT OR UPDATE OF patient_id ON healthcare_documents
    FOR EACH ROW EXECUTE FUNCTION stamp_document_owner();

CREATE FUNCTION patient_owner_to_documents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE healthcare_documents SET owner_id = NEW.user_id WHERE patient_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER patients_owner_to_documents AFTER UPDATE OF user_id ON patients
    FOR EACH ROW WHEN (NEW.user_id IS DISTINCT FROM OLD.user_id)
    EXECUTE FUNCTION patient_owner_to_documents();
