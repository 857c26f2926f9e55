-- pgbench script: the two durable writes pat-service makes for one attendance + screening pair,
-- each in its own autocommit transaction (one commit, so one WAL flush, per statement), against the
-- same tables, constraints and indexes as the service (migrations/postgres). One pgbench
-- "transaction" (tps) is one pair.
--
--   pgbench -n -M simple -f bench/attendances.sql -c 32 -j 2 -T 15 bench
--
-- Patients repeat (0..9999), as in the load generator. Simple query mode only (pgbench's default):
-- the attendance id is pasted into the second statement as a quoted literal, which the extended and
-- prepared modes would send as the text "$1". ('local' || ':' keeps pgbench from reading
-- ":BENCH" as a variable.)
\set patient random(0, 9999)
INSERT INTO attendances (
    id, source_system, source_id, patient_key, nhs_number, local_id, sex, date_of_birth, site,
    arrived_at, presenting_condition, presenting_condition_detail, attendance_category,
    indications, pat_indicated, created_at, created_by)
VALUES (
    gen_random_uuid(), 'pgbench', gen_random_uuid()::text, 'local' || ':' || 'BENCH-' || :patient,
    NULL, 'BENCH-' || :patient, 'male', NULL, NULL,
    now(), 'fall', NULL, 'unplanned',
    'fall', true, now(), 'pgbench')
RETURNING id AS attendance_id \gset
INSERT INTO screenings (
    id, attendance_id, version, status, rule, result, units, answers, alerts,
    advice_given, leaflet_given, screened_at, recorded_at, recorded_by)
VALUES (
    gen_random_uuid(), ':attendance_id'::uuid, 1, 'completed', 'pat-2009', 'positive', 10,
    '{"drinks_alcohol": true, "max_units_in_a_day": 10, "drinking_frequency": "weekly", "days_per_week": 2, "attendance_related": false}',
    '', NULL, NULL, now(), now(), 'pgbench');
