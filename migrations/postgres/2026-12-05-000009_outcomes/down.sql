DROP INDEX bookings_attended;
DROP INDEX referrals_seen_in_department;
ALTER TABLE referrals
    DROP CONSTRAINT referrals_seen_in_department_details,
    DROP COLUMN units_per_week,
    DROP COLUMN brief_intervention_delivered,
    DROP COLUMN health_worker_id;
