-- Corrections that keep history: same shape as migrations/postgres. The current version stays in
-- its row (`referrals`, `bookings`); a correction copies the version it replaces into a history
-- table in the same (serialised) write transaction, keyed by (record, version).

ALTER TABLE referrals ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE referrals ADD COLUMN correction_reason TEXT;

CREATE TABLE referral_versions (
    attendance_id TEXT NOT NULL REFERENCES referrals (attendance_id),
    version INTEGER NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accepted', 'declined', 'seen_in_department')),
    decided_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    correction_reason TEXT,
    PRIMARY KEY (attendance_id, version)
);

ALTER TABLE bookings ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE bookings ADD COLUMN correction_reason TEXT;

CREATE TABLE booking_outcome_versions (
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('attended', 'did_not_attend', 'cancelled')),
    outcome_at TEXT NOT NULL,
    outcome_by TEXT NOT NULL,
    brief_intervention_delivered BOOLEAN,
    units_per_week DOUBLE,
    cancel_reason TEXT,
    correction_reason TEXT,
    PRIMARY KEY (booking_id, version)
);

ALTER TABLE audit_events ADD COLUMN detail TEXT;
