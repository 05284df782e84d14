-- Each document carries its patient's dietician (owner_id), kept by triggers, so a dietician's
-- change feed is one index range, (owner_id, change_seq, id), however many other dieticians'
-- documents the platform holds; the same for patients with (user_id, change_seq, id).

ALTER TABLE healthcare_documents ADD COLUMN owner_id TEXT;
UPDATE healthcare_documents SET owner_id = (SELECT user_id FROM patients WHERE id = patient_id);
CREATE INDEX healthcare_documents_owner_feed ON healthcare_documents (owner_id, change_seq, id);
CREATE INDEX patients_owner_feed ON patients (user_id, change_seq, id);

-- The insert stamp sets the owner in the same statement.
DROP TRIGGER healthcare_documents_stamp_insert;
CREATE TRIGGER healthcare_documents_stamp_insert AFTER INSERT ON healthcare_documents BEGIN
    UPDATE sync_counter SET seq = seq + 1;
    UPDATE healthcare_documents
       SET change_seq = (SELECT seq FROM sync_counter),
           owner_id = (SELECT user_id FROM patients WHERE id = NEW.patient_id)
     WHERE id = NEW.id;
END;
CREATE TRIGGER healthcare_documents_owner_follows_patient AFTER UPDATE OF patient_id ON healthcare_documents BEGIN
    UPDATE healthcare_documents SET owner_id = (SELECT user_id FROM patients WHERE id = NEW.patient_id)
     WHERE id = NEW.id;
END;
CREATE TRIGGER patients_owner_to_documents AFTER UPDATE OF user_id ON patients
    WHEN NEW.user_id IS NOT OLD.user_id BEGIN
    UPDATE healthcare_documents SET owner_id = NEW.user_id WHERE patient_id = NEW.id;
END;
