-- What happened to each attendance, kept beside it by triggers so that the statistics read one
-- row per attendance instead of looking up screenings, referrals, bookings and the patient's
-- other attendances for every report (docs/domain.md §7). The source tables stay the record; these
-- columns are derived from them inside the same (serialised) write transaction, by the database.

-- The current screening (the highest version) and the referral decision, and the 7-day
-- reattendance fact: whether an unplanned attendance of the patient, at any site, falls in
-- (arrival, arrival + 7 days] among those recorded so far. (The 12-month count is not kept:
-- every arrival would rewrite the patient's whole previous year. The report counts it for the
-- index attendances only.)
ALTER TABLE attendances ADD COLUMN screening_version integer;
ALTER TABLE attendances ADD COLUMN screening_status text;
ALTER TABLE attendances ADD COLUMN screening_result text;
ALTER TABLE attendances ADD COLUMN screening_advice_given boolean;
ALTER TABLE attendances ADD COLUMN screening_leaflet_given boolean;
ALTER TABLE attendances ADD COLUMN referral_decision text;
ALTER TABLE attendances ADD COLUMN unplanned_within_7d boolean NOT NULL DEFAULT 0;

-- The bookings of an accepted referral, summarised (as on PostgreSQL, where a table of its own
-- keeps the booking and decision paths' locks apart).
CREATE TABLE booking_summaries (
    attendance_id TEXT PRIMARY KEY NOT NULL REFERENCES referrals (attendance_id),
    booked boolean NOT NULL DEFAULT 0,
    first_within_window boolean,
    latest_status text,
    latest_lead_time text,
    all_cancelled boolean,
    attempted boolean NOT NULL DEFAULT 0
);

-- A screening only ever adds a version: the highest one is current.
CREATE TRIGGER screenings_pathway AFTER INSERT ON screenings
BEGIN
    UPDATE attendances
    SET screening_version = NEW.version, screening_status = NEW.status, screening_result = NEW.result,
        screening_advice_given = NEW.advice_given, screening_leaflet_given = NEW.leaflet_given
    WHERE id = NEW.attendance_id AND (screening_version IS NULL OR screening_version < NEW.version);
END;

CREATE TRIGGER referrals_pathway_insert AFTER INSERT ON referrals
BEGIN
    UPDATE attendances SET referral_decision = NEW.decision WHERE id = NEW.attendance_id;
END;
CREATE TRIGGER referrals_pathway_update AFTER UPDATE OF decision ON referrals
BEGIN
    UPDATE attendances SET referral_decision = NEW.decision WHERE id = NEW.attendance_id;
END;

-- Bookings and unmet attempts: the referral's summary, recomputed from its bookings (whether
-- every booking it had was cancelled is false when it had none).
CREATE VIEW booking_summary_of AS
SELECT r.attendance_id,
       EXISTS (SELECT 1 FROM bookings b WHERE b.attendance_id = r.attendance_id) AS booked,
       (SELECT b.within_window FROM bookings b WHERE b.attendance_id = r.attendance_id
        ORDER BY b.booked_at, b.id LIMIT 1) AS first_within_window,
       (SELECT b.status FROM bookings b WHERE b.attendance_id = r.attendance_id
        ORDER BY b.booked_at DESC, b.id DESC LIMIT 1) AS latest_status,
       (SELECT b.lead_time FROM bookings b WHERE b.attendance_id = r.attendance_id
        ORDER BY b.booked_at DESC, b.id DESC LIMIT 1) AS latest_lead_time,
       EXISTS (SELECT 1 FROM bookings b WHERE b.attendance_id = r.attendance_id)
           AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.attendance_id = r.attendance_id AND b.status <> 'cancelled')
           AS all_cancelled,
       EXISTS (SELECT 1 FROM booking_attempts ba WHERE ba.attendance_id = r.attendance_id) AS attempted
FROM referrals r;

CREATE TRIGGER bookings_pathway_insert AFTER INSERT ON bookings
BEGIN
    INSERT OR REPLACE INTO booking_summaries
    SELECT * FROM booking_summary_of WHERE attendance_id = NEW.attendance_id;
END;
CREATE TRIGGER bookings_pathway_update AFTER UPDATE OF status ON bookings
BEGIN
    INSERT OR REPLACE INTO booking_summaries
    SELECT * FROM booking_summary_of WHERE attendance_id = NEW.attendance_id;
END;
CREATE TRIGGER booking_attempts_pathway AFTER INSERT ON booking_attempts
BEGIN
    INSERT OR REPLACE INTO booking_summaries
    SELECT * FROM booking_summary_of WHERE attendance_id = NEW.attendance_id;
END;

-- A new attendance can be the unplanned return that the patient's attendances in the 7 days
-- before it were waiting for, and has its own fact: recomputed for each of them. Times are
-- fixed-width `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so a shifted time is the shifted whole seconds with
-- the same fraction, and compares as text.
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

-- What is already recorded.
UPDATE attendances SET (screening_version, screening_status, screening_result, screening_advice_given,
                        screening_leaflet_given) = (
    SELECT s.version, s.status, s.result, s.advice_given, s.leaflet_given FROM screenings s
    WHERE s.attendance_id = attendances.id ORDER BY s.version DESC LIMIT 1)
WHERE EXISTS (SELECT 1 FROM screenings s WHERE s.attendance_id = attendances.id);

UPDATE attendances SET referral_decision = (
    SELECT r.decision FROM referrals r WHERE r.attendance_id = attendances.id)
WHERE EXISTS (SELECT 1 FROM referrals r WHERE r.attendance_id = attendances.id);

UPDATE attendances SET
    unplanned_within_7d = EXISTS (
        SELECT 1 FROM attendances b
        WHERE b.patient_key = attendances.patient_key AND b.attendance_category = 'unplanned'
          AND b.arrived_at > attendances.arrived_at
          AND b.arrived_at <= strftime('%Y-%m-%dT%H:%M:%S', substr(attendances.arrived_at, 1, 19), '+7 days')
                              || substr(attendances.arrived_at, 20));

INSERT INTO booking_summaries
SELECT * FROM booking_summary_of
WHERE booked OR attempted;

-- The statistics no longer read screenings, nor attendances without these columns: the
-- covering indexes built for them would only slow every write.
DROP INDEX attendances_statistics;
DROP INDEX screenings_statistics;
