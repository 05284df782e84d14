-- Live changes (crates/server/src/live.rs) need nothing here: one process writes SQLite, and
-- its watcher reads sync_counter, which every synced write moves on (0002). This file keeps
-- both engines' migrations numbered alike.
SELECT 1;
