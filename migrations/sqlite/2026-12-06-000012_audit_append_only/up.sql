-- The audit trail is append-only (docs/design.md §6): migration 000001's triggers refuse every
-- UPDATE and DELETE (an INSERT ... ON CONFLICT DO UPDATE is an update, so it is refused too).
-- INSERT OR REPLACE deletes the row it collides with without firing the delete trigger (SQLite
-- fires delete triggers for REPLACE only under PRAGMA recursive_triggers, a per-connection
-- setting): so an insert whose id is stored already is refused before the conflict is resolved.
-- Event ids are new UUIDs, so no legitimate insert collides.
CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events
WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
