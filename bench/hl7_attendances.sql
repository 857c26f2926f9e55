-- pgbench script for bench/hl7.sh: the one durable write pat-service makes for an attendance
-- recorded from an HL7 v2 ADT^A04 (the attendance row; its audit event goes in the same
-- statement in the service), in its own autocommit transaction, against the same tables,
-- constraints and indexes as the service (migrations/postgres). One pgbench "transaction" is one
-- attendance.
--
--   pgbench -n -M simple -f bench/hl7_attendances.sql -c 32 -j 2 -T 15 bench
--
-- Patients repeat (0..9999), as in bench/hl7load.rs. ('local' || ':' keeps pgbench from reading
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
    'fall', true, now(), 'pgbench');
