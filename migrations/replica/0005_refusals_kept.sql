-- A refused edit stays on record after the person dealt with it (dismissed it, corrected and
-- re-sent it, or discarded the draft): the sync log shows it with its reason, and only the
-- open ones count as refused.
ALTER TABLE rejected ADD COLUMN settled_at TEXT;
