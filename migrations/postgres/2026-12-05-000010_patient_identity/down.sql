DROP TRIGGER attendances_patient ON attendances;
DROP FUNCTION attendance_patient();

-- Without links, every attendance belongs to the key of the identifiers it arrived with again,
-- and the 7-day facts are recomputed as if no link had been made (the rule of the 7-day
-- trigger: an unplanned attendance of the same key, not entered in error, in (arrival,
-- arrival + 168 h]).
UPDATE attendances a SET patient_key = p.key
FROM patients p WHERE p.id = a.patient_id AND a.patient_key <> p.key;

UPDATE attendances a SET unplanned_within_7d = f.unplanned
FROM (SELECT id,
             count(*) FILTER (WHERE attendance_category = 'unplanned' AND entered_in_error_at IS NULL) OVER (
                 PARTITION BY patient_key ORDER BY arrived_at
                 RANGE BETWEEN interval '1 microsecond' FOLLOWING AND interval '168 hours' FOLLOWING) > 0
                 AS unplanned
      FROM attendances) f
WHERE f.id = a.id AND a.unplanned_within_7d IS DISTINCT FROM f.unplanned;

ALTER TABLE attendances DROP COLUMN patient_id;
DROP TABLE patient_links;
DROP TABLE patients;
