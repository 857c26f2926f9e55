DROP INDEX screenings_statistics;
DROP INDEX attendances_statistics;
DROP INDEX screenings_corrections;
DROP INDEX attendances_patient_arrived;
CREATE INDEX attendances_patient_arrived ON attendances (patient_key, arrived_at);
ALTER TABLE bookings DROP COLUMN lead_time;
