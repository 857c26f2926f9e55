-- Indexes for the web pages' reads (issue 13: Today and the referral queue under 100 ms at 1M
-- attendances; bench/pages.sh measures them). Found with EXPLAIN ANALYZE on 1M generated
-- attendances; see bench/README.md, "Web pages".
--
-- The referral queue (store::scheduling::referrals, `queue`): accepted referrals with no live
-- booking, oldest decision first, at most 200. Without an index in that order every accepted
-- referral and every booking was read and sorted for each page view; with it the query walks the
-- accepted referrals oldest first, probing each one's bookings, and stops at the 200th waiting
-- one. `decision` leads (not a partial index) so that the decision, sent as a bound parameter,
-- can use it on both databases.
CREATE INDEX referrals_queue ON referrals (decision, decided_at, attendance_id);

-- The day list (store::scheduling::bookings, `list`, behind GET /api/v1/bookings and the Today
-- page): the day's slots by start time, then their bookings by slot. The existing slot index is
-- partial (live slots only) and the existing index of bookings by slot is partial (not cancelled),
-- so a day's list, which shows every booking whatever its status, read both tables whole.
CREATE INDEX slots_starts ON slots (starts_at);
CREATE INDEX bookings_slot ON bookings (slot_id);
