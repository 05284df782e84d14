-- A patient's link to their PHP is justified before anything is pulled under it.
--
-- patients.link_approval: NULL when the patient has no provider; otherwise pending (new or
-- changed while the practice requires an administrator's approval), approved or refused.
-- Every write that changes the link (provider, identifier at the PHP, birth date) sets it
-- again, in the writing transaction (db/php.rs, relink_in). Links made before this
-- migration were pulling already: they count as approved.
ALTER TABLE patients ADD COLUMN link_approval TEXT
    CHECK (link_approval IN ('pending', 'approved', 'refused'));
UPDATE patients SET link_approval = 'approved' WHERE provider_id IS NOT NULL;

-- What the PHP's record found for a link says, for the administrator deciding on it: the
-- name and birth date it holds. php_match gains 'differs' (a record was found but its family
-- name or birth date disagrees with ours: never pulled).
ALTER TABLE php_pull_state ADD COLUMN php_name TEXT;
ALTER TABLE php_pull_state ADD COLUMN php_birth_date TEXT;
-- Matches made before demographics were compared are made again at the next pull; the
-- watermark stays, so nothing is downloaded twice.
UPDATE php_pull_state SET php_patient_id = NULL, php_match = NULL;
