CREATE INDEX attendances_statistics ON attendances (
    arrived_at, id, patient_key, indications, presenting_condition, site, attendance_category);
CREATE INDEX screenings_statistics ON screenings (
    attendance_id, version, status, result, advice_given, leaflet_given, screened_at);
DROP TRIGGER attendances_pathway;
DROP TRIGGER booking_attempts_pathway;
DROP TRIGGER bookings_pathway_update;
DROP TRIGGER bookings_pathway_insert;
DROP VIEW booking_summary_of;
DROP TRIGGER referrals_pathway_update;
DROP TRIGGER referrals_pathway_insert;
DROP TRIGGER screenings_pathway;
DROP TABLE booking_summaries;
ALTER TABLE attendances DROP COLUMN unplanned_within_7d;
ALTER TABLE attendances DROP COLUMN referral_decision;
ALTER TABLE attendances DROP COLUMN screening_leaflet_given;
ALTER TABLE attendances DROP COLUMN screening_advice_given;
ALTER TABLE attendances DROP COLUMN screening_result;
ALTER TABLE attendances DROP COLUMN screening_status;
ALTER TABLE attendances DROP COLUMN screening_version;
