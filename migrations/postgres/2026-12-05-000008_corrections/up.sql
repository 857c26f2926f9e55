-- Corrections that keep history: a referral decision and a booking's outcome are versioned like
-- screenings. The current version stays in its row (`referrals`, `bookings`), which the statistics
-- read as before; a correction copies the version it replaces into a history table in the same
-- statement or transaction, and the primary key (record, version) there stops two simultaneous
-- corrections from both becoming the next version. Each version carries who recorded it, when,
-- and why (`correction_reason`, none for the first).

ALTER TABLE referrals
    ADD COLUMN version integer NOT NULL DEFAULT 1 CONSTRAINT referrals_version_positive CHECK (version >= 1),
    ADD COLUMN correction_reason text;

-- Earlier versions of a referral decision, as they were recorded.
CREATE TABLE referral_versions (
    attendance_id uuid NOT NULL REFERENCES referrals (attendance_id),
    version integer NOT NULL,
    decision text NOT NULL CHECK (decision IN ('accepted', 'declined', 'seen_in_department')),
    decided_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    recorded_by text NOT NULL,
    correction_reason text,
    PRIMARY KEY (attendance_id, version)
);

-- A booking's version counts its outcome's corrections: 1 while booked and for the first outcome.
ALTER TABLE bookings
    ADD COLUMN version integer NOT NULL DEFAULT 1 CONSTRAINT bookings_version_positive CHECK (version >= 1),
    ADD COLUMN correction_reason text;

-- Earlier outcomes of a booking, as they were recorded.
CREATE TABLE booking_outcome_versions (
    booking_id uuid NOT NULL REFERENCES bookings (id),
    version integer NOT NULL,
    status text NOT NULL CHECK (status IN ('attended', 'did_not_attend', 'cancelled')),
    outcome_at timestamptz NOT NULL,
    outcome_by text NOT NULL,
    brief_intervention_delivered boolean,
    units_per_week double precision,
    cancel_reason text,
    correction_reason text,
    PRIMARY KEY (booking_id, version)
);

-- What an event was about beyond its record: the refusal of an unmet booking attempt, the version
-- a correction made.
ALTER TABLE audit_events ADD COLUMN detail text;
