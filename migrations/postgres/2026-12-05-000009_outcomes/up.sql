-- Seen in the department (docs/domain.md §6): when an AHW was free and the patient sober, the brief
-- intervention happened at once, and the decision records what an attended appointment records —
-- who saw the patient (a registered AHW), whether the brief intervention was delivered and the
-- units a week at that contact.
--
-- The three are set together and only for `seen_in_department`. Decisions recorded before this
-- migration have none of them and nothing to backfill them from (no AHW, no units were asked for),
-- so the constraint lets a `seen_in_department` row have all three or none: the API requires them
-- for every decision recorded from now on, and an older row keeps its nulls (the worklist and the
-- outcomes report count it as a contact whose brief intervention and units are unknown).
ALTER TABLE referrals
    ADD COLUMN health_worker_id uuid REFERENCES health_workers (id),
    ADD COLUMN brief_intervention_delivered boolean,
    ADD COLUMN units_per_week double precision CONSTRAINT referrals_units_per_week_not_negative
        CHECK (units_per_week >= 0),
    ADD CONSTRAINT referrals_seen_in_department_details CHECK (
        (decision = 'seen_in_department'
         OR (health_worker_id IS NULL AND brief_intervention_delivered IS NULL AND units_per_week IS NULL))
        AND (health_worker_id IS NULL) = (brief_intervention_delivered IS NULL)
        AND (health_worker_id IS NULL) = (units_per_week IS NULL));

-- The follow-up worklist and the outcomes report look up the AHW contacts: decisions seen in the
-- department, and attended appointments.
CREATE INDEX referrals_seen_in_department ON referrals (decided_at) WHERE decision = 'seen_in_department';
CREATE INDEX bookings_attended ON bookings (attendance_id) WHERE status = 'attended';

-- An earlier version of a decision keeps its details as they were (migration 000008 keeps the
-- versions a correction replaced).
ALTER TABLE referral_versions
    ADD COLUMN health_worker_id uuid REFERENCES health_workers (id),
    ADD COLUMN brief_intervention_delivered boolean,
    ADD COLUMN units_per_week double precision;
