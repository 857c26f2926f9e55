ALTER TABLE referrals DROP COLUMN entered_in_error;

DROP TRIGGER attendances_pathway_entered_in_error ON attendances;

CREATE OR REPLACE FUNCTION pathway_reattendance() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('pat-service patient ' || NEW.patient_key, 0));
    UPDATE attendances x
    SET unplanned_within_7d = NOT x.unplanned_within_7d  -- for the rows where it is wrong
    WHERE x.patient_key = NEW.patient_key
      AND (x.patient_key, x.arrived_at) >= (NEW.patient_key, NEW.arrived_at - interval '168 hours')
      AND (x.patient_key, x.arrived_at) <= (NEW.patient_key, NEW.arrived_at)
      AND x.unplanned_within_7d IS DISTINCT FROM EXISTS (
              SELECT 1 FROM attendances b
              WHERE b.patient_key = x.patient_key
                AND (b.patient_key, b.arrived_at) > (x.patient_key, x.arrived_at)
                AND (b.patient_key, b.arrived_at) <= (x.patient_key, x.arrived_at + interval '168 hours')
                AND b.attendance_category = 'unplanned');
    RETURN NULL;
END $$;

DROP INDEX attendances_patient_arrived;
CREATE INDEX attendances_patient_arrived ON attendances (patient_key, arrived_at) INCLUDE (attendance_category);

ALTER TABLE attendances
    DROP CONSTRAINT attendances_entered_in_error_whole,
    DROP COLUMN entered_in_error_at,
    DROP COLUMN entered_in_error_by,
    DROP COLUMN entered_in_error_reason;

-- Without the marks, every attendance counts again: the 7-day facts as if none had been marked.
UPDATE attendances a SET unplanned_within_7d = f.unplanned
FROM (SELECT id,
             count(*) FILTER (WHERE attendance_category = 'unplanned') OVER (
                 PARTITION BY patient_key ORDER BY arrived_at
                 RANGE BETWEEN interval '1 microsecond' FOLLOWING AND interval '168 hours' FOLLOWING) > 0
                 AS unplanned
      FROM attendances) f
WHERE f.id = a.id AND a.unplanned_within_7d IS DISTINCT FROM f.unplanned;
