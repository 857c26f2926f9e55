-- pgbench script: the booking race of bench/bookings.sh done straight against PostgreSQL, with
-- nothing in front of it. One pgbench "transaction" (tps) is one booking attempt, as one
-- POST /api/v1/bookings is for the load generator:
--
--   1. INSERT a booking for a random slot among the live slots (the same slots the service races
--      for) and a prepared accepted referral of this client that holds no open booking, in one
--      autocommit statement (one commit). A slot that already holds a non-cancelled booking is a
--      conflict on the same partial unique index the service relies on (bookings_one_active_per_slot);
--      `ON CONFLICT ... DO NOTHING` turns it into "0 rows" instead of an error that would abort the
--      pgbench client. That is the service's 409 slot-taken.
--   2. Only after a successful insert, and only once this client holds more than :hold open
--      bookings: cancel its oldest (its own autocommit UPDATE, one more commit), as the load
--      generator then sends POST /api/v1/bookings/{id}/outcome {"status":"cancelled"}. So both
--      sides keep about the same share of the slots booked and race for the rest.
--
--   pgbench -n -M simple -D nslots=100 -D hold=80 -f bench/bookings.sql -c 1 -j 1 -T 15 bench
--
-- Variables: nslots (the number of live slots) and hold (open bookings each client keeps), both
-- given with -D by bench/bookings.sh. Client k books with the referrals bench/bookings.sh prepared
-- for it (attendances with source_system 'pgbench-bookings' and source_id 'c<k>-r<n>'), so that no
-- two clients ever race for the same referral (the other unique index,
-- bookings_one_open_per_referral, is not the one measured here and would abort the client).
-- A missing referral or slot makes the INSERT fail on NOT NULL, which aborts the client: a broken
-- setup cannot pass for a conflict. Simple query mode only (pgbench's default), as the other
-- scripts here: the variables are pasted into the SQL as text.
\set slot random(0, :nslots - 1)
WITH inserted AS (
    INSERT INTO bookings (id, attendance_id, slot_id, status, within_window, outside_window_reason,
        booked_at, booked_by)
    VALUES (
        gen_random_uuid(),
        (SELECT a.id FROM attendances a
         WHERE a.source_system = 'pgbench-bookings' AND a.source_id LIKE 'c' || :client_id || '-r%'
           AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.attendance_id = a.id AND b.status = 'booked')
         ORDER BY a.source_id LIMIT 1),
        (SELECT s.id FROM slots s WHERE s.withdrawn_at IS NULL ORDER BY s.starts_at, s.id OFFSET :slot LIMIT 1),
        'booked', true, NULL, now(), 'pgbench-' || :client_id)
    ON CONFLICT (slot_id) WHERE status <> 'cancelled' DO NOTHING
    RETURNING id)
SELECT count(*) AS booked FROM inserted \gset
\if :booked
UPDATE bookings SET status = 'cancelled', outcome_at = now(), outcome_by = 'pgbench',
    cancel_reason = 'bench: free the slot'
WHERE id IN (
    SELECT id FROM bookings
    WHERE status = 'booked' AND booked_by = 'pgbench-' || :client_id
    ORDER BY booked_at DESC, id DESC OFFSET :hold);
\endif
