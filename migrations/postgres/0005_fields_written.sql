-- Which fields each write changed (row_changes), recorded by a trigger on every write that
-- bumps a row's version: REST, sync push and the integrations alike, so no write path can
-- forget it (before, only the REST/push update path wrote it, and an offline edit merged
-- over a field Carepatron had changed). A push tags its own entries with its device, so a
-- device's later edits never conflict with its earlier ones.
--
-- The changed columns are found generically here; SQLite's triggers (0005 there) name them.
-- Both leave out bookkeeping that changes on every write: version, updated_at, change_seq,
-- owner_id (follows the patient), created_at.

ALTER TABLE row_changes ADD COLUMN device_id TEXT;

CREATE FUNCTION record_fields_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version <> OLD.version THEN
        INSERT INTO row_changes (table_name, row_id, version, fields, device_id)
        SELECT TG_TABLE_NAME, NEW.id, NEW.version,
               COALESCE(string_agg(n.key, ',' ORDER BY n.key), ''), NULL
          FROM jsonb_each(to_jsonb(NEW)) n
          JOIN jsonb_each(to_jsonb(OLD)) o ON o.key = n.key
         WHERE n.value IS DISTINCT FROM o.value
           AND n.key NOT IN ('version', 'updated_at', 'change_seq', 'owner_id', 'created_at')
        ON CONFLICT (table_name, row_id, version)
            DO UPDATE SET fields = excluded.fields, device_id = NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER patients_fields_written AFTER UPDATE ON patients
    FOR EACH ROW EXECUTE FUNCTION record_fields_written();
CREATE TRIGGER healthcare_documents_fields_written AFTER UPDATE ON healthcare_documents
    FOR EACH ROW EXECUTE FUNCTION record_fields_written();
