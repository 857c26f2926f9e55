DROP TRIGGER attendances_patient;

-- Without links, every attendance belongs to the key of the identifiers it arrived with again,
-- and the 7-day facts are recomputed as if no link had been made (the rule of the 7-day
-- trigger: an unplanned attendance of the same key, not entered in error, in (arrival,
-- arrival + 7 days]).
UPDATE attendances SET patient_key = (SELECT key FROM patients WHERE id = attendances.patient_id)
WHERE patient_key <> (SELECT key FROM patients WHERE id = attendances.patient_id);

UPDATE attendances SET
    unplanned_within_7d = EXISTS (
        SELECT 1 FROM attendances b
        WHERE b.patient_key = attendances.patient_key AND b.attendance_category = 'unplanned'
          AND b.arrived_at > attendances.arrived_at
          AND b.arrived_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(attendances.arrived_at, 1, 19), '+7 days')
                              || substr(attendances.arrived_at, 20)
          AND b.entered_in_error_at IS NULL);

ALTER TABLE attendances DROP COLUMN patient_id;
DROP TABLE patient_links;
DROP TABLE patients;
