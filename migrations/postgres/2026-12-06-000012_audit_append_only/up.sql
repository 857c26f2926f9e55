-- The audit trail is append-only (docs/design.md §6): migration 000001's row trigger refuses every
-- UPDATE and DELETE (an INSERT ... ON CONFLICT DO UPDATE is an update, so it is refused too).
-- TRUNCATE fires no row trigger, so it would empty the table: a statement trigger refuses it.
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Privileges: PUBLIC gets no privilege on a new table, so this only states the intent for a
-- database whose administrator granted some. They do not bind the table's owner (the service's
-- role, which runs the migrations): the triggers do, whoever asks.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;
