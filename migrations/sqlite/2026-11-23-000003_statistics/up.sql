-- Statistics: the lead time of each booking (same day / next day / later, by Europe/London
-- calendar days between the screening and the slot start, docs/domain.md §6) is fixed when the
-- booking is made, so attendance by lead time is a plain GROUP BY on either backend.
ALTER TABLE bookings ADD COLUMN lead_time text
    CHECK (lead_time IN ('same_day', 'next_day', 'later'));

-- SQLite has no time zones: bookings made before this migration get their lead time from UTC
-- calendar days (London is UTC or UTC+1, so only a booking within an hour of midnight in summer
-- can differ). Every booking made afterwards stores the Europe/London answer.
UPDATE bookings SET lead_time = (
    SELECT CASE
        WHEN julianday(date(sl.starts_at)) - julianday(date(s.screened_at)) <= 0 THEN 'same_day'
        WHEN julianday(date(sl.starts_at)) - julianday(date(s.screened_at)) = 1 THEN 'next_day'
        ELSE 'later' END
    FROM slots sl, screenings s
    WHERE sl.id = bookings.slot_id
      AND s.attendance_id = bookings.attendance_id
      AND s.version = (SELECT max(version) FROM screenings s2 WHERE s2.attendance_id = bookings.attendance_id));

DROP INDEX attendances_patient_arrived;
CREATE INDEX attendances_patient_arrived ON attendances (patient_key, arrived_at, attendance_category);

-- Corrections only (version 2 and later): a screening is current when no later version exists,
-- and this small index answers that for a whole year of attendances at once.
CREATE INDEX screenings_corrections ON screenings (attendance_id, version) WHERE version > 1;

-- SQLite joins by looking rows up one at a time, so the statistics read covering indexes: a
-- year of attendances in arrival order with every column the reports use, and each attendance's
-- screenings with their outcome, without touching the tables.
CREATE INDEX attendances_statistics ON attendances (
    arrived_at, id, patient_key, indications, presenting_condition, site, attendance_category);
CREATE INDEX screenings_statistics ON screenings (
    attendance_id, version, status, result, advice_given, leaflet_given, screened_at);
