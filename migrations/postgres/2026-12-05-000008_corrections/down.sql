ALTER TABLE audit_events DROP COLUMN detail;
DROP TABLE booking_outcome_versions;
ALTER TABLE bookings DROP COLUMN correction_reason, DROP COLUMN version;
DROP TABLE referral_versions;
ALTER TABLE referrals DROP COLUMN correction_reason, DROP COLUMN version;
