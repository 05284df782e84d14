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

-- A provider's staff see a patient only under an approved link (db/patients.rs,
-- db/documents.rs): a link refused or revoked takes the patient out of their replicas as a
-- relink does (0008).
CREATE OR REPLACE FUNCTION patients_scope_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.provider_id IS NOT NULL AND (OLD.provider_id IS DISTINCT FROM NEW.provider_id
        OR (OLD.link_approval = 'approved' AND NEW.link_approval IS DISTINCT FROM 'approved')) THEN
        UPDATE users SET scope_epoch = scope_epoch + 1 WHERE provider_id = OLD.provider_id;
    END IF;
    IF OLD.user_id IS DISTINCT FROM NEW.user_id THEN
        UPDATE users SET scope_epoch = scope_epoch + 1 WHERE id = OLD.user_id;
    END IF;
    RETURN NEW;
END
$$;
