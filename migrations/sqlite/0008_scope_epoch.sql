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

CREATE TRIGGER users_scope_epoch AFTER UPDATE OF type, provider_id, patient_id ON users
WHEN OLD.type IS NOT NEW.type OR OLD.provider_id IS NOT NEW.provider_id
    OR OLD.patient_id IS NOT NEW.patient_id
BEGIN
    UPDATE users SET scope_epoch = scope_epoch + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER patients_scope_epoch AFTER UPDATE OF provider_id, user_id ON patients
WHEN OLD.provider_id IS NOT NEW.provider_id OR OLD.user_id IS NOT NEW.user_id
BEGIN
    UPDATE users SET scope_epoch = scope_epoch + 1
    WHERE (OLD.provider_id IS NOT NEW.provider_id AND provider_id = OLD.provider_id)
       OR (OLD.user_id IS NOT NEW.user_id AND id = OLD.user_id);
END;
