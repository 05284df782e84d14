-- Live changes (crates/server/src/live.rs): the change-feed trigger also tells every
-- instance LISTENing on records_changes that something synced is being written. NOTIFY is
-- delivered at commit (not at all on rollback), and identical notifications of one
-- transaction are folded into one.
CREATE OR REPLACE FUNCTION stamp_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := pg_current_xact_id()::text::bigint;
    PERFORM pg_notify('records_changes', '');
    RETURN NEW;
END
$$;
