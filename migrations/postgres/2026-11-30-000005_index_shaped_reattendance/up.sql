-- The 7-day recheck that runs for each new attendance, written so that only the
-- (patient_key, arrived_at) index can answer it.
--
-- A trigger function's statements are planned once per connection and the plan is kept for the
-- connection's life. With `patient_key = … AND arrived_at BETWEEN …` a plan made while the table
-- was small may walk the arrival-time index and filter by patient, or scan the table: harmless
-- then, but once the table is large every new attendance reads every attendance of the last week.
-- So the time bounds are row comparisons, `(patient_key, arrived_at) >= (k, t1)`, which only the
-- composite index can serve; the equality on patient_key stays beside them because the planner
-- estimates a row comparison as a range over all patients, and the equality keeps the estimate at
-- a patient's few rows. For this function's statements only: `enable_seqscan = off`, so a small
-- table's plan is not a scan, and `jit = off`, since compiling a one-row statement costs
-- milliseconds (a client whose session has JIT on, such as psql or pgbench, would pay it per row).
CREATE OR REPLACE FUNCTION pathway_reattendance() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('pat-service patient ' || NEW.patient_key, 0));
    UPDATE attendances x
    SET unplanned_within_7d = NOT x.unplanned_within_7d  -- for the rows where it is wrong
    WHERE x.patient_key = NEW.patient_key
      AND (x.patient_key, x.arrived_at) >= (NEW.patient_key, NEW.arrived_at - interval '168 hours')
      AND (x.patient_key, x.arrived_at) <= (NEW.patient_key, NEW.arrived_at)
      -- only rows whose fact changes get a new version (the new attendance, usually the
      -- latest, keeps its default)
      AND x.unplanned_within_7d IS DISTINCT FROM EXISTS (
              SELECT 1 FROM attendances b
              WHERE b.patient_key = x.patient_key
                AND (b.patient_key, b.arrived_at) > (x.patient_key, x.arrived_at)
                AND (b.patient_key, b.arrived_at) <= (x.patient_key, x.arrived_at + interval '168 hours')
                AND b.attendance_category = 'unplanned');
    RETURN NULL;
END $$;
