-- Core tables: ED attendances, PAT screenings (every version kept; the highest version is the
-- current one, and the unique (attendance_id, version) stops two corrections from both becoming
-- version N+1), and the append-only audit trail.
-- Same shape as migrations/postgres: uuid and timestamptz columns are TEXT here
-- (UUID hyphenated lower case; UTC time as 'YYYY-MM-DDTHH:MM:SS.ffffffZ', which sorts as time).

CREATE TABLE attendances (
    id TEXT PRIMARY KEY NOT NULL,
    source_system TEXT NOT NULL,
    source_id TEXT NOT NULL,
    patient_key TEXT NOT NULL,
    nhs_number TEXT,
    local_id TEXT,
    sex TEXT NOT NULL CHECK (sex IN ('male', 'female', 'other', 'unknown')),
    date_of_birth TEXT,
    site TEXT,
    arrived_at TEXT NOT NULL,
    presenting_condition TEXT NOT NULL CHECK (presenting_condition IN (
        'fall', 'collapse', 'head_injury', 'assault', 'accident', 'unwell', 'gastrointestinal',
        'cardiac', 'psychiatric', 'repeat_attender', 'other')),
    presenting_condition_detail TEXT,
    attendance_category TEXT NOT NULL CHECK (attendance_category IN ('unplanned', 'planned')),
    indications TEXT NOT NULL,
    pat_indicated BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    CONSTRAINT attendances_source_unique UNIQUE (source_system, source_id),
    CONSTRAINT attendances_patient_identified CHECK (nhs_number IS NOT NULL OR local_id IS NOT NULL)
);
CREATE INDEX attendances_patient_arrived ON attendances (patient_key, arrived_at);
CREATE INDEX attendances_arrived ON attendances (arrived_at);

CREATE TABLE screenings (
    id TEXT PRIMARY KEY NOT NULL,
    attendance_id TEXT NOT NULL REFERENCES attendances (id),
    version INTEGER NOT NULL CHECK (version >= 1),
    status TEXT NOT NULL CHECK (status IN (
        'completed', 'refused', 'intoxicated', 'lacks_capacity', 'too_unwell', 'under_age', 'not_asked')),
    rule TEXT CHECK (rule IN ('pat-2009', 'pat-2004', 'sips-pat')),
    result TEXT CHECK (result IN ('positive', 'negative')),
    units DOUBLE,
    answers TEXT,
    alerts TEXT NOT NULL,
    advice_given BOOLEAN,
    leaflet_given BOOLEAN,
    screened_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    CONSTRAINT screenings_version_unique UNIQUE (attendance_id, version),
    CONSTRAINT screenings_result_iff_completed CHECK ((status = 'completed') = (result IS NOT NULL))
);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    occurred_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    roles TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    patient_key TEXT,
    request_id TEXT
);
CREATE INDEX audit_events_patient ON audit_events (patient_key, occurred_at);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);

-- The audit trail is append-only: no update or delete, whoever asks.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
