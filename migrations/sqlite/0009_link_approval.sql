-- A patient's link to their PHP is justified before anything is pulled under it.
--
-- patients.link_approval: NULL when the patient has no provider; otherwise pending (new or
-- changed while the practice requires an administrator's approval), approved or refused.
-- Every write that changes the link (provider, identifier at the PHP, birth date) sets it
-- again, in the writing transaction (db/links.rs, relink_in). Links made before this
-- migration were pulling already: they count as approved, for the PHP record they were
-- matched to (one never matched is sent back for review at its next pull when the practice
-- requires approval).
ALTER TABLE patients ADD COLUMN link_approval TEXT
    CHECK (link_approval IN ('pending', 'approved', 'refused'));
UPDATE patients SET link_approval = 'approved' WHERE provider_id IS NOT NULL;

-- What the PHP's record found for a link says, for the administrator deciding on it: the
-- name and birth date it holds. php_match gains 'differs' (a record was found but its family
-- name or birth date disagrees with ours: never pulled). An approval is of the record found
-- (php_patient_id), never of a later search.
ALTER TABLE php_pull_state ADD COLUMN php_name TEXT;
ALTER TABLE php_pull_state ADD COLUMN php_birth_date TEXT;

-- The SQLite list of fields a write changed (0005) names link_approval too; PostgreSQL finds
-- changed columns generically.
DROP TRIGGER patients_fields_written;
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
        CASE WHEN NEW.carepatron_synced IS NOT OLD.carepatron_synced THEN 'carepatron_synced,' ELSE '' END ||
        CASE WHEN NEW.link_approval IS NOT OLD.link_approval THEN 'link_approval,' ELSE '' END,
        ','), NULL);
END;

-- A provider's staff see a patient only under an approved link (db/patients.rs,
-- db/documents.rs): a link refused or revoked takes the patient out of their replicas as a
-- relink does (0008).
DROP TRIGGER patients_scope_epoch;
CREATE TRIGGER patients_scope_epoch AFTER UPDATE OF provider_id, user_id, link_approval ON patients
WHEN OLD.provider_id IS NOT NEW.provider_id OR OLD.user_id IS NOT NEW.user_id
    OR (OLD.link_approval = 'approved' AND NEW.link_approval IS NOT 'approved')
BEGIN
    UPDATE users SET scope_epoch = scope_epoch + 1
    WHERE ((OLD.provider_id IS NOT NEW.provider_id
            OR (OLD.link_approval = 'approved' AND NEW.link_approval IS NOT 'approved'))
           AND provider_id = OLD.provider_id)
       OR (OLD.user_id IS NOT NEW.user_id AND id = OLD.user_id);
END;
