-- What happened to each attendance, kept beside it by triggers so that the statistics read one
-- row per attendance instead of joining and sorting screenings, referrals, bookings and the
-- patient's other attendances for every report (docs/domain.md §7). The source tables stay the
-- record; these columns are derived from them inside the same transaction, by the database.

-- The current screening (the highest version) and the referral decision, and the 7-day
-- reattendance fact: whether an unplanned attendance of the patient, at any site, falls in
-- (arrival, arrival + 7 × 24 h] among those recorded so far. (The 12-month count is not kept:
-- every arrival would rewrite the patient's whole previous year. The report counts it for the
-- index attendances only.)
ALTER TABLE attendances
    ADD COLUMN screening_version integer,
    ADD COLUMN screening_status text,
    ADD COLUMN screening_result text,
    ADD COLUMN screening_advice_given boolean,
    ADD COLUMN screening_leaflet_given boolean,
    ADD COLUMN referral_decision text,
    ADD COLUMN unplanned_within_7d boolean NOT NULL DEFAULT false;
-- Room on each page for the summary updates to stay on the page (HOT updates).
ALTER TABLE attendances SET (fillfactor = 90);

-- The bookings of an accepted referral, summarised: its own table, so that a booking (which
-- holds its referral's share lock) never waits for the attendance row, which a referral decision
-- locks before the referral: no lock cycle between the two paths.
CREATE TABLE booking_summaries (
    attendance_id uuid PRIMARY KEY REFERENCES referrals (attendance_id),
    booked boolean NOT NULL DEFAULT false,
    first_within_window boolean,
    latest_status text,
    latest_lead_time text,
    all_cancelled boolean,
    attempted boolean NOT NULL DEFAULT false
);

-- A screening only ever adds a version: the highest one wins, whatever order concurrent
-- corrections commit in (the WHERE is checked again against the row a waiting update finds).
CREATE FUNCTION pathway_screening() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE attendances
    SET screening_version = NEW.version, screening_status = NEW.status, screening_result = NEW.result,
        screening_advice_given = NEW.advice_given, screening_leaflet_given = NEW.leaflet_given
    WHERE id = NEW.attendance_id AND (screening_version IS NULL OR screening_version < NEW.version);
    RETURN NULL;
END $$;
CREATE TRIGGER screenings_pathway AFTER INSERT ON screenings
    FOR EACH ROW EXECUTE FUNCTION pathway_screening();

CREATE FUNCTION pathway_referral() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE attendances SET referral_decision = NEW.decision
    WHERE id = NEW.attendance_id AND referral_decision IS DISTINCT FROM NEW.decision;
    RETURN NULL;
END $$;
CREATE TRIGGER referrals_pathway AFTER INSERT OR UPDATE OF decision ON referrals
    FOR EACH ROW EXECUTE FUNCTION pathway_referral();

-- A referral's bookings summarised, from the bookings alone (the trigger and the backfill below
-- both read it): booked at all, the first booking's window, the latest one's status and lead
-- time, and whether every booking it had was cancelled.
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
           AS all_cancelled
FROM referrals r;

-- Bookings: the summary row is locked first, so the recomputation (a new statement, with a
-- fresh snapshot) sees every booking committed by whoever held it before.
CREATE FUNCTION pathway_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO booking_summaries (attendance_id) VALUES (NEW.attendance_id) ON CONFLICT DO NOTHING;
    PERFORM 1 FROM booking_summaries WHERE attendance_id = NEW.attendance_id FOR UPDATE;
    UPDATE booking_summaries s
    SET (booked, first_within_window, latest_status, latest_lead_time, all_cancelled) = (
        SELECT v.booked, v.first_within_window, v.latest_status, v.latest_lead_time, v.all_cancelled
        FROM booking_summary_of v WHERE v.attendance_id = s.attendance_id)
    WHERE s.attendance_id = NEW.attendance_id;
    RETURN NULL;
END $$;
CREATE TRIGGER bookings_pathway AFTER INSERT OR UPDATE OF status ON bookings
    FOR EACH ROW EXECUTE FUNCTION pathway_bookings();

-- An unmet attempt is for ever: set, never recomputed.
CREATE FUNCTION pathway_booking_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO booking_summaries (attendance_id, attempted) VALUES (NEW.attendance_id, true)
    ON CONFLICT (attendance_id) DO UPDATE SET attempted = true WHERE NOT booking_summaries.attempted;
    RETURN NULL;
END $$;
CREATE TRIGGER booking_attempts_pathway AFTER INSERT ON booking_attempts
    FOR EACH ROW EXECUTE FUNCTION pathway_booking_attempt();

-- These functions' plans are cached for the life of a connection, often made while the tables
-- were still small: every statement reads through an index it names by its shape (a key or
-- (patient_key, arrived_at) condition, no join), so no cached plan becomes a scan of a table.

-- A new attendance can be the unplanned return that the patient's attendances in the 7 days
-- before it were waiting for, and has its own fact. Recomputed, not set, under a per-patient
-- advisory lock: the recomputation (a new statement, a fresh snapshot) sees every attendance of
-- the patient committed by whoever held the lock before, so concurrent arrivals of one patient,
-- in any order, leave every row right.
CREATE FUNCTION pathway_reattendance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('pat-service patient ' || NEW.patient_key, 0));
    -- No join in this statement: its plan is cached for the connection's life (as are all of
    -- these functions' plans), and a join's plan, made while the table was small, can be a scan
    -- of the whole table. Probes of the (patient_key, arrived_at) index stay right at any size.
    UPDATE attendances x
    SET unplanned_within_7d = NOT x.unplanned_within_7d  -- for the rows where it is wrong
    WHERE x.patient_key = NEW.patient_key
      AND x.arrived_at >= NEW.arrived_at - interval '168 hours' AND x.arrived_at <= NEW.arrived_at
      -- only rows whose fact changes get a new version (the new attendance, usually the
      -- latest, keeps its default)
      AND x.unplanned_within_7d IS DISTINCT FROM EXISTS (
              SELECT 1 FROM attendances b
              WHERE b.patient_key = x.patient_key AND b.attendance_category = 'unplanned'
                AND b.arrived_at > x.arrived_at AND b.arrived_at <= x.arrived_at + interval '168 hours');
    RETURN NULL;
END $$;
CREATE TRIGGER attendances_pathway AFTER INSERT ON attendances
    FOR EACH ROW EXECUTE FUNCTION pathway_reattendance();

-- What is already recorded.
UPDATE attendances a SET screening_version = s.version, screening_status = s.status,
    screening_result = s.result, screening_advice_given = s.advice_given,
    screening_leaflet_given = s.leaflet_given
FROM (SELECT DISTINCT ON (attendance_id) attendance_id, version, status, result, advice_given, leaflet_given
      FROM screenings ORDER BY attendance_id, version DESC) s
WHERE s.attendance_id = a.id;

UPDATE attendances a SET referral_decision = r.decision FROM referrals r WHERE r.attendance_id = a.id;

UPDATE attendances a SET unplanned_within_7d = true
FROM (SELECT id,
             count(*) FILTER (WHERE attendance_category = 'unplanned') OVER (
                 PARTITION BY patient_key ORDER BY arrived_at
                 RANGE BETWEEN interval '1 microsecond' FOLLOWING AND interval '168 hours' FOLLOWING) > 0
                 AS unplanned
      FROM attendances) f
WHERE f.id = a.id AND f.unplanned;

INSERT INTO booking_summaries (attendance_id, booked, first_within_window, latest_status, latest_lead_time,
    all_cancelled, attempted)
SELECT v.*, EXISTS (SELECT 1 FROM booking_attempts ba WHERE ba.attendance_id = v.attendance_id)
FROM booking_summary_of v
WHERE v.booked OR EXISTS (SELECT 1 FROM booking_attempts ba WHERE ba.attendance_id = v.attendance_id);
