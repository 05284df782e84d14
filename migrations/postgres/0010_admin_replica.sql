-- An admin's replica holds users only from now on (patient data is read online, audited:
-- db/sync.rs). Moving each admin's scope epoch on makes their replicas' cursors expire (410
-- cursor_expired), and the re-pull from scratch drops the patients, documents, shares and
-- log entries a clinic's IT laptop held until now, with their bodies and search entries.
UPDATE users SET scope_epoch = scope_epoch + 1 WHERE type = 'admin';
