-- Sessions end when a user's rights change.
--
-- users.session_epoch is bumped, in the same transaction, by every change that alters what
-- a user may do or who may sign in as them: deletion, a new type, a new provider or patient
-- link, a new password. Access tokens carry the epoch they were issued at and are refused
-- once it is stale; refresh tokens too (refresh_tokens.session_epoch, copied along a family
-- at each rotation).
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;

-- When the family's sign-in happened: a family lives RECORDS_SESSION_MAX_DAYS from it at
-- most, however often it is refreshed. Families signed in before this migration start at
-- their oldest token.
ALTER TABLE refresh_tokens ADD COLUMN family_started_at TEXT;
UPDATE refresh_tokens SET family_started_at = (
    SELECT min(f.created_at) FROM refresh_tokens f WHERE f.family_id = refresh_tokens.family_id
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
