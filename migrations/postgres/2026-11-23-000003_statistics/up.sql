-- Statistics: the lead time of each booking (same day / next day / later, by Europe/London
-- calendar days between the screening and the slot start, docs/domain.md §6) is fixed when the
-- booking is made, so attendance by lead time is a plain GROUP BY on either backend.
ALTER TABLE bookings ADD COLUMN lead_time text
    CHECK (lead_time IN ('same_day', 'next_day', 'later'));

UPDATE bookings b SET lead_time = CASE
        WHEN (sl.starts_at AT TIME ZONE 'Europe/London')::date
             - (s.screened_at AT TIME ZONE 'Europe/London')::date <= 0 THEN 'same_day'
        WHEN (sl.starts_at AT TIME ZONE 'Europe/London')::date
             - (s.screened_at AT TIME ZONE 'Europe/London')::date = 1 THEN 'next_day'
        ELSE 'later' END
FROM slots sl, screenings s
WHERE sl.id = b.slot_id
  AND s.attendance_id = b.attendance_id
  AND s.version = (SELECT max(version) FROM screenings s2 WHERE s2.attendance_id = b.attendance_id);

-- The 7-day and 12-month reattendance look up a patient's later attendances by arrival time;
-- the category rides along so the 7-day measure reads the index alone.
DROP INDEX attendances_patient_arrived;
CREATE INDEX attendances_patient_arrived ON attendances (patient_key, arrived_at) INCLUDE (attendance_category);

-- Corrections only (version 2 and later): a screening is current when no later version exists,
-- and this small index answers that for a whole year of attendances at once.
CREATE INDEX screenings_corrections ON screenings (attendance_id, version) WHERE version > 1;
