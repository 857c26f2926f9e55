-- AHW scheduling: same shape as migrations/postgres. SQLite has no exclusion constraints, so a
-- trigger refuses an overlapping live slot of the same health worker inside the (serialised)
-- write transaction; times are fixed-width UTC text, so text comparison is time comparison.

CREATE TABLE referrals (
    attendance_id TEXT PRIMARY KEY NOT NULL REFERENCES attendances (id),
    decision TEXT NOT NULL CHECK (decision IN ('accepted', 'declined', 'seen_in_department')),
    decided_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL
);

CREATE TABLE health_workers (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    staff_id TEXT CONSTRAINT health_workers_staff_id_unique UNIQUE,
    subject TEXT CONSTRAINT health_workers_subject_unique UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE slots (
    id TEXT PRIMARY KEY NOT NULL,
    health_worker_id TEXT NOT NULL REFERENCES health_workers (id),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    withdrawn_at TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    CONSTRAINT slots_ends_after_start CHECK (ends_at > starts_at)
);
CREATE INDEX slots_live_starts ON slots (starts_at) WHERE withdrawn_at IS NULL;
CREATE INDEX slots_worker_starts ON slots (health_worker_id, starts_at);
CREATE TRIGGER slots_no_overlap BEFORE INSERT ON slots
WHEN EXISTS (
    SELECT 1 FROM slots
    WHERE health_worker_id = NEW.health_worker_id AND withdrawn_at IS NULL
      AND starts_at < NEW.ends_at AND ends_at > NEW.starts_at)
BEGIN
    SELECT RAISE(ABORT, 'slots_no_overlap');
END;

CREATE TABLE bookings (
    id TEXT PRIMARY KEY NOT NULL,
    attendance_id TEXT NOT NULL REFERENCES referrals (attendance_id),
    slot_id TEXT NOT NULL REFERENCES slots (id),
    status TEXT NOT NULL CHECK (status IN ('booked', 'attended', 'did_not_attend', 'cancelled')),
    within_window BOOLEAN NOT NULL,
    outside_window_reason TEXT CHECK (outside_window_reason IN ('patient_preference', 'no_capacity')),
    booked_at TEXT NOT NULL,
    booked_by TEXT NOT NULL,
    outcome_at TEXT,
    outcome_by TEXT,
    brief_intervention_delivered BOOLEAN,
    units_per_week DOUBLE CHECK (units_per_week >= 0),
    cancel_reason TEXT,
    CONSTRAINT bookings_reason_outside_window CHECK (within_window OR outside_window_reason IS NOT NULL)
);
CREATE UNIQUE INDEX bookings_one_active_per_slot ON bookings (slot_id) WHERE status <> 'cancelled';
CREATE UNIQUE INDEX bookings_one_open_per_referral ON bookings (attendance_id) WHERE status = 'booked';
CREATE INDEX bookings_attendance ON bookings (attendance_id);

CREATE TABLE booking_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    attendance_id TEXT NOT NULL REFERENCES referrals (attendance_id),
    attempted_at TEXT NOT NULL,
    window_ends_at TEXT NOT NULL,
    attempted_by TEXT NOT NULL
);
CREATE INDEX booking_attempts_attendance ON booking_attempts (attendance_id);

CREATE TABLE follow_ups (
    id TEXT PRIMARY KEY NOT NULL,
    attendance_id TEXT NOT NULL REFERENCES attendances (id),
    months INTEGER NOT NULL CHECK (months IN (6, 12)),
    units_per_week DOUBLE NOT NULL CHECK (units_per_week >= 0),
    contacted_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    CONSTRAINT follow_ups_once UNIQUE (attendance_id, months)
);
