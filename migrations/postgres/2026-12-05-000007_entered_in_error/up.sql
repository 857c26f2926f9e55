-- Entered-in-error: an attendance recorded by mistake (a duplicate, the wrong patient) is marked,
-- never deleted. It stays readable with who marked it, when and why; it and everything that hangs
-- off it leave every statistic, the repeat-attender count of later attendances, and the 7-day
-- facts of the patient's other attendances (docs/domain.md §7).
ALTER TABLE attendances
    ADD COLUMN entered_in_error_at timestamptz,
    ADD COLUMN entered_in_error_by text,
    ADD COLUMN entered_in_error_reason text,
    ADD CONSTRAINT attendances_entered_in_error_whole CHECK (
        (entered_in_error_at IS NULL) = (entered_in_error_by IS NULL)
        AND (entered_in_error_at IS NULL) = (entered_in_error_reason IS NULL));

-- The patient's attendances are read through this index by the 7-day trigger, the
-- repeat-attender count and the 12-month report; with the mark beside the category every one of
-- them still reads the index alone.
DROP INDEX attendances_patient_arrived;
CREATE INDEX attendances_patient_arrived ON attendances (patient_key, arrived_at)
    INCLUDE (attendance_category, entered_in_error_at);

-- The 7-day recheck (as in 2026-11-30-000005, whose comments explain the row comparisons), now
-- counting only returns that were not entered in error. It runs for a new attendance and again
-- when one is marked: the patient's attendances in the 7 days before it may have been waiting
-- for it.
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
                AND b.attendance_category = 'unplanned'
                AND b.entered_in_error_at IS NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER attendances_pathway_entered_in_error AFTER UPDATE OF entered_in_error_at ON attendances
    FOR EACH ROW WHEN (OLD.entered_in_error_at IS DISTINCT FROM NEW.entered_in_error_at)
    EXECUTE FUNCTION pathway_reattendance();

-- The referral of a marked attendance carries the mark too: a booking's insert share-locks the
-- referral row and books only while it is accepted and not marked, so a booking made at the same
-- moment as the mark either commits first (and the mark cancels it) or finds the mark.
ALTER TABLE referrals ADD COLUMN entered_in_error boolean NOT NULL DEFAULT false;
