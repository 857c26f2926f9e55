DROP TABLE follow_ups;
DROP TABLE booking_attempts;
DROP TABLE bookings;
DROP TABLE slots;
DROP TABLE health_workers;
DROP TABLE referrals;
-- btree_gist stays: other objects may use it, and it holds no data.
