-- Whether each share reached the practice's Carepatron workspace, for people (and replicas)
-- to see: pending (not attempted yet), delivered, not_on_team (the practitioner is not on the
-- Carepatron team under their email address), not_configured (the platform has no Carepatron
-- integration: nothing is expected), failed (another error; retried with the job). Set by the
-- Carepatron reconcile, which bumps the share's version so the change feed carries it; a
-- revoked share keeps the state it had. The server aligns pending and not_configured with
-- its configuration when it starts.
ALTER TABLE document_shares ADD COLUMN carepatron_delivery TEXT NOT NULL DEFAULT 'pending'
    CHECK (carepatron_delivery IN ('pending', 'delivered', 'not_on_team', 'not_configured', 'failed'));

-- Shares already in Carepatron were delivered. Live shares get a new version so that
-- replicas receive the new field.
UPDATE document_shares SET carepatron_delivery = 'delivered' WHERE carepatron_share_id IS NOT NULL;
UPDATE document_shares SET version = version + 1 WHERE deleted_at IS NULL;
