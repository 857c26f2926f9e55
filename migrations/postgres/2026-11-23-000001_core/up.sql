-- Core tables: ED attendances, PAT screenings (every version kept; the highest version is the
-- current one, and the unique (attendance_id, version) stops two corrections from both becoming
-- version N+1), and the append-only audit trail.
-- Enumerations are TEXT with CHECK constraints so both backends hold the same values.

CREATE TABLE attendances (
    id uuid PRIMARY KEY,
    source_system text NOT NULL,
    source_id text NOT NULL,
    -- 'nhs:<10 digits>' when the NHS number is known, else 'local:<hospital number>'.
    patient_key text NOT NULL,
    nhs_number text,
    local_id text,
    sex text NOT NULL CHECK (sex IN ('male', 'female', 'other', 'unknown')),
    date_of_birth date,
    site text,
    arrived_at timestamptz NOT NULL,
    presenting_condition text NOT NULL CHECK (presenting_condition IN (
        'fall', 'collapse', 'head_injury', 'assault', 'accident', 'unwell', 'gastrointestinal',
        'cardiac', 'psychiatric', 'repeat_attender', 'other')),
    presenting_condition_detail text,
    attendance_category text NOT NULL CHECK (attendance_category IN ('unplanned', 'planned')),
    -- Comma-separated condition codes fixed when the attendance was recorded ('' = none).
    indications text NOT NULL,
    pat_indicated boolean NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    CONSTRAINT attendances_source_unique UNIQUE (source_system, source_id),
    CONSTRAINT attendances_patient_identified CHECK (nhs_number IS NOT NULL OR local_id IS NOT NULL)
);
CREATE INDEX attendances_patient_arrived ON attendances (patient_key, arrived_at);
CREATE INDEX attendances_arrived ON attendances (arrived_at);

CREATE TABLE screenings (
    id uuid PRIMARY KEY,
    attendance_id uuid NOT NULL REFERENCES attendances (id),
    version integer NOT NULL CHECK (version >= 1),
    status text NOT NULL CHECK (status IN (
        'completed', 'refused', 'intoxicated', 'lacks_capacity', 'too_unwell', 'under_age', 'not_asked')),
    rule text CHECK (rule IN ('pat-2009', 'pat-2004', 'sips-pat')),
    result text CHECK (result IN ('positive', 'negative')),
    units double precision,
    -- The answers as recorded, JSON.
    answers text,
    -- Comma-separated alert codes ('' = none).
    alerts text NOT NULL,
    advice_given boolean,
    leaflet_given boolean,
    screened_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    recorded_by text NOT NULL,
    CONSTRAINT screenings_version_unique UNIQUE (attendance_id, version),
    CONSTRAINT screenings_result_iff_completed CHECK ((status = 'completed') = (result IS NOT NULL))
);

CREATE TABLE audit_events (
    id uuid PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor text NOT NULL,
    roles text NOT NULL,
    action text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    patient_key text,
    request_id text
);
CREATE INDEX audit_events_patient ON audit_events (patient_key, occurred_at);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);

-- The audit trail is append-only: no update or delete, whoever asks.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
