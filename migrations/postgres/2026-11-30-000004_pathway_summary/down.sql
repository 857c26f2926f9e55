DROP TRIGGER attendances_pathway ON attendances;
DROP FUNCTION pathway_reattendance();
DROP TRIGGER booking_attempts_pathway ON booking_attempts;
DROP FUNCTION pathway_booking_attempt();
DROP TRIGGER bookings_pathway ON bookings;
DROP FUNCTION pathway_bookings();
DROP VIEW booking_summary_of;
DROP TRIGGER referrals_pathway ON referrals;
DROP FUNCTION pathway_referral();
DROP TRIGGER screenings_pathway ON screenings;
DROP FUNCTION pathway_screening();
DROP TABLE booking_summaries;
ALTER TABLE attendances RESET (fillfactor);
ALTER TABLE attendances
    DROP COLUMN screening_version,
    DROP COLUMN screening_status,
    DROP COLUMN screening_result,
    DROP COLUMN screening_advice_given,
    DROP COLUMN screening_leaflet_given,
    DROP COLUMN referral_decision,
    DROP COLUMN unplanned_within_7d;
