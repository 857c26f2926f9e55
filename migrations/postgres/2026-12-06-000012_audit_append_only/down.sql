-- The REVOKE is not undone: PUBLIC had none of these privileges before.
DROP TRIGGER audit_events_no_truncate ON audit_events;
