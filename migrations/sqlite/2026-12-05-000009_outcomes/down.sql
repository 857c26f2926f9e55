ALTER TABLE referral_versions DROP COLUMN units_per_week;
ALTER TABLE referral_versions DROP COLUMN brief_intervention_delivered;
ALTER TABLE referral_versions DROP COLUMN health_worker_id;
DROP INDEX bookings_attended;
DROP INDEX referrals_seen_in_department;
-- The column carrying the constraints first: the other two are named in them.
ALTER TABLE referrals DROP COLUMN units_per_week;
ALTER TABLE referrals DROP COLUMN brief_intervention_delivered;
ALTER TABLE referrals DROP COLUMN health_worker_id;
