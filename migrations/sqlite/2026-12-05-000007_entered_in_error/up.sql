-- Entered-in-error: an attendance recorded by mistake (a duplicate, the wrong patient) is marked,
-- never deleted. It stays readable with who marked it, when and why; it and everything that hangs
-- off it leave every statistic, the repeat-attender count of later attendances, and the 7-day
-- facts of the patient's other attendances (docs/domain.md §7). The three columns are set together
-- (the CHECK rides on the last one, which SQLite allows to name the others).
ALTER TABLE attendances ADD COLUMN entered_in_error_at text;
ALTER TABLE attendances ADD COLUMN entered_in_error_by text;
ALTER TABLE attendances ADD COLUMN entered_in_error_reason text CHECK (
    (entered_in_error_at IS NULL) = (entered_in_error_by IS NULL)
    AND (entered_in_error_at IS NULL) = (entered_in_error_reason IS NULL));

-- The patient's attendances are read through this index by the 7-day trigger, the
-- repeat-attender count and the 12-month report: with the mark in it they still read it alone.
DROP INDEX attendances_patient_arrived;
CREATE INDEX attendances_patient_arrived ON attendances (patient_key, arrived_at, attendance_category, entered_in_error_at);

-- The 7-day recheck (as in 2026-11-30-000004), now counting only returns that were not entered
-- in error; it runs for a new attendance and again when one is marked, since the patient's
-- attendances in the 7 days before it may have been waiting for it.
DROP TRIGGER attendances_pathway;
CREATE TRIGGER attendances_pathway AFTER INSERT ON attendances
BEGIN
    UPDATE attendances SET
        unplanned_within_7d = EXISTS (
            SELECT 1 FROM attendances b
            WHERE b.patient_key = attendances.patient_key AND b.attendance_category = 'unplanned'
              AND b.arrived_at > attendances.arrived_at
              AND b.arrived_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(attendances.arrived_at, 1, 19), '+7 days')
                                  || substr(attendances.arrived_at, 20)
              AND b.entered_in_error_at IS NULL)
    WHERE patient_key = NEW.patient_key
      AND arrived_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.arrived_at, 1, 19), '-7 days')
                        || substr(NEW.arrived_at, 20)
      AND arrived_at <= NEW.arrived_at;
END;
CREATE TRIGGER attendances_pathway_entered_in_error AFTER UPDATE OF entered_in_error_at ON attendances
WHEN OLD.entered_in_error_at IS NOT NEW.entered_in_error_at
BEGIN
    UPDATE attendances SET
        unplanned_within_7d = EXISTS (
            SELECT 1 FROM attendances b
            WHERE b.patient_key = attendances.patient_key AND b.attendance_category = 'unplanned'
              AND b.arrived_at > attendances.arrived_at
              AND b.arrived_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(attendances.arrived_at, 1, 19), '+7 days')
                                  || substr(attendances.arrived_at, 20)
              AND b.entered_in_error_at IS NULL)
    WHERE patient_key = NEW.patient_key
      AND arrived_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.arrived_at, 1, 19), '-7 days')
                        || substr(NEW.arrived_at, 20)
      AND arrived_at <= NEW.arrived_at;
END;

-- The referral of a marked attendance carries the mark too: a booking's insert share-locks the
-- referral row and books only while it is accepted and not marked, so a booking made at the same
-- moment as the mark either commits first (and the mark cancels it) or finds the mark.
ALTER TABLE referrals ADD COLUMN entered_in_error boolean NOT NULL DEFAULT 0;
