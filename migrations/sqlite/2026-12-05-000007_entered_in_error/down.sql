ALTER TABLE referrals DROP COLUMN entered_in_error;

DROP TRIGGER attendances_pathway_entered_in_error;
DROP TRIGGER attendances_pathway;
CREATE TRIGGER attendances_pathway AFTER INSERT ON attendances
BEGIN
    UPDATE attendances SET
        unplanned_within_7d = EXISTS (
            SELECT 1 FROM attendances b
            WHERE b.patient_key = attendances.patient_key AND b.attendance_category = 'unplanned'
              AND b.arrived_at > attendances.arrived_at
              AND b.arrived_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(attendances.arrived_at, 1, 19), '+7 days')
                                  || substr(attendances.arrived_at, 20))
    WHERE patient_key = NEW.patient_key
      AND arrived_at >= strftime('%Y-%m-%dT%H:%M:%S', substr(NEW.arrived_at, 1, 19), '-7 days')
                        || substr(NEW.arrived_at, 20)
      AND arrived_at <= NEW.arrived_at;
END;

DROP INDEX attendances_patient_arrived;
CREATE INDEX attendances_patient_arrived ON attendances (patient_key, arrived_at, attendance_category);

-- The reason's CHECK names the other two: it goes first.
ALTER TABLE attendances DROP COLUMN entered_in_error_reason;
ALTER TABLE attendances DROP COLUMN entered_in_error_by;
ALTER TABLE attendances DROP COLUMN entered_in_error_at;

-- Without the marks, every attendance counts again: the 7-day facts as if none had been marked.
UPDATE attendances SET
    unplanned_within_7d = EXISTS (
        SELECT 1 FROM attendances b
        WHERE b.patient_key = attendances.patient_key AND b.attendance_category = 'unplanned'
          AND b.arrived_at > attendances.arrived_at
          AND b.arrived_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(attendances.arrived_at, 1, 19), '+7 days')
                              || substr(attendances.arrived_at, 20));
