DROP INDEX bookings_slot;
DROP INDEX slots_starts;
DROP INDEX referrals_queue;
