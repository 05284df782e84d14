-- Rows leave a replica when they leave its user's scope, whatever the reason.
--
-- users.scope_epoch moves on, in the writing transaction (triggers, so no update path can
-- forget it), whenever what the user may see may have shrunk: their type, provider or patient
-- link changed; a patient was relinked away from their provider (every user of that provider)
-- or handed to another owner (the old owner). Change-feed cursors carry the epoch they were
-- issued at; a cursor from another epoch is answered 410 `cursor_expired`, and the replica
-- pulls again from scratch, dropping what it no longer receives (see db/sync.rs).
ALTER TABLE users ADD COLUMN scope_epoch BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_provider ON users (provider_id);

CREATE FUNCTION users_scope_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.type IS DISTINCT FROM OLD.type OR NEW.provider_id IS DISTINCT FROM OLD.provider_id
        OR NEW.patient_id IS DISTINCT FROM OLD.patient_id THEN
        NEW.scope_epoch := OLD.scope_epoch + 1;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_scope_epoch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_scope_epoch();

CREATE FUNCTION patients_scope_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.provider_id IS DISTINCT FROM NEW.provider_id AND OLD.provider_id IS NOT NULL THEN
        UPDATE users SET scope_epoch = scope_epoch + 1 WHERE provider_id = OLD.provider_id;
    END IF;
    IF OLD.user_id IS DISTINCT FROM NEW.user_id THEN
        UPDATE users SET scope_epoch = scope_epoch + 1 WHERE id = OLD.user_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER patients_scope_epoch AFTER UPDATE ON patients
    FOR EACH ROW EXECUTE FUNCTION patients_scope_epoch();
