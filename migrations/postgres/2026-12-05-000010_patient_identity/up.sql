-- Patient identity (issue 11): a registry of the identifiers attendances arrive with, and the
-- links that say two of them are one person (a PDS trace of a local number to an NHS number, an
-- EPR merge of two records).
--
-- Every attendance keeps the identifiers it arrived with (nhs_number, local_id, and now
-- patient_id, the registry row of the key made from them). attendances.patient_key becomes "the
-- person the attendance belongs to now": the person_key of its registry row. Everything that
-- keys on patient_key (the 7-day trigger, the repeat-attender count, the 12-month report, the
-- (patient_key, arrived_at) index) keeps working unchanged. A link or an unlink moves the
-- attendances' patient_key and recomputes the 7-day facts of every person involved, in one
-- transaction under the per-patient advisory locks of every key involved. The repeat-attender
-- indication stored on an attendance is never recomputed: it is what the nurse was told.

-- One row per identifier key (`nhs:<number>`, `local:<number>`). person_key is the key of the
-- patient at the root of its links (its own key while it is linked to no one): the key its
-- attendances carry. Kept beside the links so an insert resolves its person with one probe.
CREATE TABLE patients (
    id uuid PRIMARY KEY,
    key text NOT NULL UNIQUE,
    person_key text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX patients_person ON patients (person_key);

-- A link says patient_id is the same person as person_id (a trace: a local number traced to an
-- NHS number, with the trace status; a merge: two records of one person). A patient has at most
-- one link in force (the partial unique index), so links form trees; an unlink ends the link and
-- keeps it, with who, when and why.
CREATE TABLE patient_links (
    id uuid PRIMARY KEY,
    patient_id uuid NOT NULL REFERENCES patients (id),
    person_id uuid NOT NULL REFERENCES patients (id),
    kind text NOT NULL CHECK (kind IN ('trace', 'merge')),
    trace_status text,
    reason text NOT NULL,
    linked_at timestamptz NOT NULL,
    linked_by text NOT NULL,
    unlinked_at timestamptz,
    unlinked_by text,
    unlink_reason text,
    CHECK (patient_id <> person_id),
    CHECK ((kind = 'trace') = (trace_status IS NOT NULL)),
    CHECK ((unlinked_at IS NULL) = (unlinked_by IS NULL) AND (unlinked_at IS NULL) = (unlink_reason IS NULL))
);
CREATE UNIQUE INDEX patient_links_in_force ON patient_links (patient_id) WHERE unlinked_at IS NULL;
CREATE INDEX patient_links_into ON patient_links (person_id) WHERE unlinked_at IS NULL;
CREATE INDEX patient_links_history ON patient_links (patient_id, linked_at);

-- The registry from the attendances recorded so far: every key is its own person.
INSERT INTO patients (id, key, person_key, created_at)
SELECT gen_random_uuid(), patient_key, patient_key, min(created_at)
FROM attendances GROUP BY patient_key;

ALTER TABLE attendances ADD COLUMN patient_id uuid;
UPDATE attendances a SET patient_id = p.id FROM patients p WHERE p.key = a.patient_key;
-- Set by the trigger below on every insert. (No foreign key: its check would share-lock the
-- patient's registry row on every insert; the trigger takes the id from that very row.)
ALTER TABLE attendances ALTER COLUMN patient_id SET NOT NULL;

-- Before an attendance is written: patient_key as inserted is the key of the identifiers it
-- arrived with (its own key). The trigger takes that key's advisory lock (the lock the 7-day
-- trigger takes next, so for a patient linked to no one this is the only lock, as before), reads
-- the key's registry row (registering a new patient's key), and records the row under the person
-- the key belongs to now, taking that person's lock too when it is another key.
--
-- The rule that makes this safe: a link or unlink changes a patient's person_key only while it
-- holds the advisory locks of the key it is linking or unlinking and of the person (the old
-- person and the new are those two), taken in that order (the patient's key, then the person's).
-- So once the insert holds the lock of the person it read, and reads the same person again after
-- taking it, nothing can change that person until the insert commits. Both orders of a race:
-- * The link holds a lock the insert needs: the insert waits until the link commits, then reads
--   the person again (each statement of this volatile function takes a new snapshot, so it sees
--   the committed link) and takes the new person's lock. The row is written under the new person
--   and the 7-day trigger recomputes that person with the moved rows visible.
-- * The insert holds the lock first: the link waits for it; the insert commits under the old
--   person, and the link's statements (each taken after its locks, so with a snapshot that shows
--   the new row) move the row to the new person and recompute the facts with it.
-- Either way one of the two sees the other. The repeat-attender count the insert statement made
-- from its own snapshot stays as it was: what the nurse was told at the time.
-- Locks are taken child key first, then its person, by inserts and links alike, so an insert and
-- a link do not deadlock; two links of the same patients at the same instant may, and PostgreSQL
-- then fails one, which the service runs again.
CREATE FUNCTION attendance_patient() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    own text := NEW.patient_key;
    person text;
    locked text := NEW.patient_key;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('pat-service patient ' || own, 0));
    SELECT id, person_key INTO NEW.patient_id, person FROM patients WHERE key = own;
    IF NOT FOUND THEN
        INSERT INTO patients (id, key, person_key, created_at)
        VALUES (gen_random_uuid(), own, own, NEW.created_at)
        ON CONFLICT (key) DO NOTHING;
        SELECT id, person_key INTO NEW.patient_id, person FROM patients WHERE key = own;
    END IF;
    WHILE person <> locked LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('pat-service patient ' || person, 0));
        locked := person;
        SELECT person_key INTO person FROM patients WHERE key = own;
    END LOOP;
    NEW.patient_key := person;
    RETURN NEW;
END $$;

CREATE TRIGGER attendances_patient BEFORE INSERT ON attendances
    FOR EACH ROW EXECUTE FUNCTION attendance_patient();
