-- AHW scheduling: referral decisions, health workers, slots, bookings, unmet booking attempts and
-- follow-up contacts. The rules that must hold under concurrency are constraints here, never
-- application checks: a health worker's live slots never overlap (exclusion constraint), a slot
-- holds at most one non-cancelled booking and a referral at most one open booking (partial
-- unique indexes).

-- btree_gist lets the exclusion constraint compare uuid with `=` (trusted: no superuser needed).
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE referrals (
    attendance_id uuid PRIMARY KEY REFERENCES attendances (id),
    decision text NOT NULL CHECK (decision IN ('accepted', 'declined', 'seen_in_department')),
    decided_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    recorded_by text NOT NULL
);

CREATE TABLE health_workers (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    staff_id text CONSTRAINT health_workers_staff_id_unique UNIQUE,
    subject text CONSTRAINT health_workers_subject_unique UNIQUE,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL
);

CREATE TABLE slots (
    id uuid PRIMARY KEY,
    health_worker_id uuid NOT NULL REFERENCES health_workers (id),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    -- A withdrawn slot is kept (bookings refer to it) but is no longer offered or overlapped.
    withdrawn_at timestamptz,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    CONSTRAINT slots_ends_after_start CHECK (ends_at > starts_at),
    CONSTRAINT slots_no_overlap EXCLUDE USING gist (
        health_worker_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE (withdrawn_at IS NULL)
);
CREATE INDEX slots_live_starts ON slots (starts_at) WHERE withdrawn_at IS NULL;

CREATE TABLE bookings (
    id uuid PRIMARY KEY,
    attendance_id uuid NOT NULL REFERENCES referrals (attendance_id),
    slot_id uuid NOT NULL REFERENCES slots (id),
    status text NOT NULL CHECK (status IN ('booked', 'attended', 'did_not_attend', 'cancelled')),
    within_window boolean NOT NULL,
    outside_window_reason text CHECK (outside_window_reason IN ('patient_preference', 'no_capacity')),
    booked_at timestamptz NOT NULL,
    booked_by text NOT NULL,
    outcome_at timestamptz,
    outcome_by text,
    brief_intervention_delivered boolean,
    units_per_week double precision CHECK (units_per_week >= 0),
    cancel_reason text,
    CONSTRAINT bookings_reason_outside_window CHECK (within_window OR outside_window_reason IS NOT NULL)
);
CREATE UNIQUE INDEX bookings_one_active_per_slot ON bookings (slot_id) WHERE status <> 'cancelled';
CREATE UNIQUE INDEX bookings_one_open_per_referral ON bookings (attendance_id) WHERE status = 'booked';
CREATE INDEX bookings_attendance ON bookings (attendance_id);

-- An automatic booking that found no free slot in the window: unmet demand, for the statistics.
CREATE TABLE booking_attempts (
    id uuid PRIMARY KEY,
    attendance_id uuid NOT NULL REFERENCES referrals (attendance_id),
    attempted_at timestamptz NOT NULL,
    window_ends_at timestamptz NOT NULL,
    attempted_by text NOT NULL
);
CREATE INDEX booking_attempts_attendance ON booking_attempts (attendance_id);

CREATE TABLE follow_ups (
    id uuid PRIMARY KEY,
    attendance_id uuid NOT NULL REFERENCES attendances (id),
    months integer NOT NULL CHECK (months IN (6, 12)),
    units_per_week double precision NOT NULL CHECK (units_per_week >= 0),
    contacted_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    recorded_by text NOT NULL,
    CONSTRAINT follow_ups_once UNIQUE (attendance_id, months)
);
