DROP TRIGGER slots_no_overlap;
CREATE TRIGGER slots_no_overlap BEFORE INSERT ON slots
WHEN EXISTS (
    SELECT 1 FROM slots
    WHERE health_worker_id = NEW.health_worker_id AND withdrawn_at IS NULL
      AND starts_at < NEW.ends_at AND ends_at > NEW.starts_at)
BEGIN
    SELECT RAISE(ABORT, 'slots_no_overlap');
END;
