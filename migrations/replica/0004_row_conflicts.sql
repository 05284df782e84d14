-- Conflicts about a whole row rather than one field: this replica deleted a row someone else
-- edited since ('edited_on_server'), or edited a row someone else deleted since
-- ('deleted_on_server'; client_value holds the row as edited here, so it can be restored).
-- Field conflicts are 'fields'; row conflicts have an empty field.
ALTER TABLE conflicts ADD COLUMN kind TEXT NOT NULL DEFAULT 'fields';
-- The row's version at the platform when the conflict was found: what a resolution is based on.
ALTER TABLE conflicts ADD COLUMN server_version INTEGER NOT NULL DEFAULT 0;
