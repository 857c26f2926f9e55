CREATE OR REPLACE FUNCTION pathway_reattendance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('pat-service patient ' || NEW.patient_key, 0));
    UPDATE attendances x
    SET unplanned_within_7d = NOT x.unplanned_within_7d
    WHERE x.patient_key = NEW.patient_key
      AND x.arrived_at >= NEW.arrived_at - interval '168 hours' AND x.arrived_at <= NEW.arrived_at
      AND x.unplanned_within_7d IS DISTINCT FROM EXISTS (
              SELECT 1 FROM attendances b
              WHERE b.patient_key = x.patient_key AND b.attendance_category = 'unplanned'
                AND b.arrived_at > x.arrived_at AND b.arrived_at <= x.arrived_at + interval '168 hours');
    RETURN NULL;
END $$;
