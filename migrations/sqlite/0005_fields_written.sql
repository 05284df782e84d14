-- Which fields each write changed (row_changes), recorded by triggers on every write that
-- bumps a row's version: REST, sync push and the integrations alike, so no write path can
-- forget it (before, only the REST/push update path wrote it, and an offline edit merged
-- over a field Carepatron had changed). A push tags its own entries with its device, so a
-- device's later edits never conflict with its earlier ones.
--
-- PostgreSQL finds the changed columns generically (0005 there); SQLite triggers name them.
-- Both leave out bookkeeping that changes on every write: version, updated_at, change_seq,
-- owner_id (follows the patient), created_at.

ALTER TABLE row_changes ADD COLUMN device_id TEXT;

CREATE TRIGGER patients_fields_written AFTER UPDATE ON patients
    WHEN NEW.version <> OLD.version BEGIN
    INSERT OR REPLACE INTO row_changes (table_name, row_id, version, fields, device_id)
    VALUES ('patients', NEW.id, NEW.version, rtrim(
        CASE WHEN NEW.user_id IS NOT OLD.user_id THEN 'user_id,' ELSE '' END ||
        CASE WHEN NEW.name IS NOT OLD.name THEN 'name,' ELSE '' END ||
        CASE WHEN NEW.email IS NOT OLD.email THEN 'email,' ELSE '' END ||
        CASE WHEN NEW.contact_details IS NOT OLD.contact_details THEN 'contact_details,' ELSE '' END ||
        CASE WHEN NEW.medical_history IS NOT OLD.medical_history THEN 'medical_history,' ELSE '' END ||
        CASE WHEN NEW.dietary_preferences IS NOT OLD.dietary_preferences THEN 'dietary_preferences,' ELSE '' END ||
        CASE WHEN NEW.carepatron_patient_id IS NOT OLD.carepatron_patient_id THEN 'carepatron_patient_id,' ELSE '' END ||
        CASE WHEN NEW.birth_date IS NOT OLD.birth_date THEN 'birth_date,' ELSE '' END ||
        CASE WHEN NEW.provider_id IS NOT OLD.provider_id THEN 'provider_id,' ELSE '' END ||
        CASE WHEN NEW.provider_patient_identifier IS NOT OLD.provider_patient_identifier THEN 'provider_patient_identifier,' ELSE '' END ||
        CASE WHEN NEW.deleted_at IS NOT OLD.deleted_at THEN 'deleted_at,' ELSE '' END ||
        CASE WHEN NEW.sync_error IS NOT OLD.sync_error THEN 'sync_error,' ELSE '' END ||
        CASE WHEN NEW.carepatron_snapshot IS NOT OLD.carepatron_snapshot THEN 'carepatron_snapshot,' ELSE '' END ||
        CASE WHEN NEW.carepatron_synced IS NOT OLD.carepatron_synced THEN 'carepatron_synced,' ELSE '' END,
        ','), NULL);
END;

CREATE TRIGGER healthcare_documents_fields_written AFTER UPDATE ON healthcare_documents
    WHEN NEW.version <> OLD.version BEGIN
    INSERT OR REPLACE INTO row_changes (table_name, row_id, version, fields, device_id)
    VALUES ('healthcare_documents', NEW.id, NEW.version, rtrim(
        CASE WHEN NEW.patient_id IS NOT OLD.patient_id THEN 'patient_id,' ELSE '' END ||
        CASE WHEN NEW.type IS NOT OLD.type THEN 'type,' ELSE '' END ||
        CASE WHEN NEW.date IS NOT OLD.date THEN 'date,' ELSE '' END ||
        CASE WHEN NEW.title IS NOT OLD.title THEN 'title,' ELSE '' END ||
        CASE WHEN NEW.content IS NOT OLD.content THEN 'content,' ELSE '' END ||
        CASE WHEN NEW.mime_type IS NOT OLD.mime_type THEN 'mime_type,' ELSE '' END ||
        CASE WHEN NEW.size_bytes IS NOT OLD.size_bytes THEN 'size_bytes,' ELSE '' END ||
        CASE WHEN NEW.content_hash IS NOT OLD.content_hash THEN 'content_hash,' ELSE '' END ||
        CASE WHEN NEW.source IS NOT OLD.source THEN 'source,' ELSE '' END ||
        CASE WHEN NEW.source_user_id IS NOT OLD.source_user_id THEN 'source_user_id,' ELSE '' END ||
        CASE WHEN NEW.external_id IS NOT OLD.external_id THEN 'external_id,' ELSE '' END ||
        CASE WHEN NEW.carepatron_document_id IS NOT OLD.carepatron_document_id THEN 'carepatron_document_id,' ELSE '' END ||
        CASE WHEN NEW.deleted_at IS NOT OLD.deleted_at THEN 'deleted_at,' ELSE '' END ||
        CASE WHEN NEW.author IS NOT OLD.author THEN 'author,' ELSE '' END ||
        CASE WHEN NEW.external_version IS NOT OLD.external_version THEN 'external_version,' ELSE '' END ||
        CASE WHEN NEW.carepatron_synced IS NOT OLD.carepatron_synced THEN 'carepatron_synced,' ELSE '' END,
        ','), NULL);
END;
