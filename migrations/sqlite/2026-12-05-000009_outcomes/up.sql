-- Seen in the department: same rule as migrations/postgres. SQLite adds a table constraint only
-- by rebuilding the table, so the rule is the last new column's CHECK (which may name the other
-- columns; it is checked against the rows already there, which have none of the three).
ALTER TABLE referrals ADD COLUMN health_worker_id TEXT REFERENCES health_workers (id);
ALTER TABLE referrals ADD COLUMN brief_intervention_delivered BOOLEAN;
ALTER TABLE referrals ADD COLUMN units_per_week DOUBLE
    CONSTRAINT referrals_units_per_week_not_negative CHECK (units_per_week >= 0)
    CONSTRAINT referrals_seen_in_department_details CHECK (
        (decision = 'seen_in_department'
         OR (health_worker_id IS NULL AND brief_intervention_delivered IS NULL AND units_per_week IS NULL))
        AND (health_worker_id IS NULL) = (brief_intervention_delivered IS NULL)
        AND (health_worker_id IS NULL) = (units_per_week IS NULL));

CREATE INDEX referrals_seen_in_department ON referrals (decided_at) WHERE decision = 'seen_in_department';
CREATE INDEX bookings_attended ON bookings (attendance_id) WHERE status = 'attended';

-- An earlier version of a decision keeps its details as they were (migration 000008 keeps the
-- versions a correction replaced).
ALTER TABLE referral_versions ADD COLUMN health_worker_id TEXT REFERENCES health_workers (id);
ALTER TABLE referral_versions ADD COLUMN brief_intervention_delivered BOOLEAN;
ALTER TABLE referral_versions ADD COLUMN units_per_week DOUBLE;
