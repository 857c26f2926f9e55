DROP TABLE follow_ups;
DROP TABLE booking_attempts;
DROP TABLE bookings;
DROP TRIGGER slots_no_overlap;
DROP TABLE slots;
DROP TABLE health_workers;
DROP TABLE referrals;
