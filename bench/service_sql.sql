-- pgbench script: the SQL pat-service itself sends to PostgreSQL for one attendance + screening
-- pair (src/db/attendances.rs `record`, src/db/attendances.rs `find_with_current_screening`,
-- src/db/screenings.rs `insert_with_audit`): the attendance with the repeat-attender count and its
-- audit event in one statement, the read of the attendance with its current screening, then the
-- screening with its audit event in one statement. Two commits per pair, as in the service. The
-- person the patient's key belongs to is read as the service reads it (migration
-- 2026-12-05-000010; the table's trigger registers the key and locks the person, for this insert
-- as for the service's).
-- Comparing the service with this isolates what HTTP, JSON and Rust add on top of the database work.
--
--   pgbench -n -M simple -f bench/service_sql.sql -c 32 -j 2 -T 15 bench
\set patient random(0, 9999)
WITH person AS (
    SELECT COALESCE((SELECT person_key FROM patients WHERE key = 'local' || ':' || 'BENCH-' || :patient),
                    'local' || ':' || 'BENCH-' || :patient) AS key),
prior AS (
    SELECT count(*) AS n FROM attendances
    WHERE patient_key = (SELECT key FROM person)
      AND arrived_at >= now() - interval '365 days' AND arrived_at < now()),
inserted AS (
    INSERT INTO attendances (id, source_system, source_id, patient_key, nhs_number, local_id, sex,
        date_of_birth, site, arrived_at, presenting_condition, presenting_condition_detail,
        attendance_category, indications, pat_indicated, created_at, created_by)
    SELECT gen_random_uuid(), 'pgbench', gen_random_uuid()::text, 'local' || ':' || 'BENCH-' || :patient,
        NULL, 'BENCH-' || :patient, 'male', NULL, NULL, now(), 'fall', NULL, 'unplanned',
        CASE WHEN prior.n >= 1 THEN 'fall,repeat_attender' ELSE 'fall' END, true, now(), 'pgbench'
    FROM prior
    RETURNING id),
audited AS (
    INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id,
        patient_key, request_id)
    SELECT gen_random_uuid(), now(), 'pgbench', 'integration', 'create', 'attendance', inserted.id::text,
        'local' || ':' || 'BENCH-' || :patient, gen_random_uuid()::text
    FROM inserted)
SELECT id AS attendance_id FROM inserted \gset
SELECT a.*, s.* FROM attendances a LEFT JOIN screenings s ON s.attendance_id = a.id
WHERE a.id = ':attendance_id'::uuid ORDER BY s.version DESC LIMIT 1;
WITH inserted AS (
    INSERT INTO screenings (id, attendance_id, version, status, rule, result, units, answers, alerts,
        advice_given, leaflet_given, screened_at, recorded_at, recorded_by)
    VALUES (gen_random_uuid(), ':attendance_id'::uuid, 1, 'completed', 'pat-2009', 'positive', 10,
        '{"drinks_alcohol":true,"max_units_in_a_day":10.0,"drinking_frequency":"weekly","days_per_week":2,"attendance_related":false}',
        '', NULL, NULL, now(), now(), 'pgbench')
    RETURNING id)
INSERT INTO audit_events (id, occurred_at, actor, roles, action, resource_type, resource_id,
    patient_key, request_id)
SELECT gen_random_uuid(), now(), 'pgbench', 'integration', 'create', 'screening', ':attendance_id',
    'local' || ':' || 'BENCH-' || :patient, gen_random_uuid()::text
FROM inserted;
