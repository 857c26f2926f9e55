-- Patient identity (issue 11): a registry of the identifiers attendances arrive with, and the
-- links that say two of them are one person (a PDS trace of a local number to an NHS number, an
-- EPR merge of two records). The PostgreSQL migration of the same name explains the design;
-- SQLite serialises every write transaction, so a link and an insert never interleave.
--
-- attendances.patient_key becomes "the person the attendance belongs to now"; the attendance
-- keeps the identifiers it arrived with (nhs_number, local_id, and patient_id: the registry row
-- of the key made from them). The store resolves the person in the insert's transaction.

CREATE TABLE patients (
    id text PRIMARY KEY NOT NULL,
    key text NOT NULL UNIQUE,
    person_key text NOT NULL,
    created_at text NOT NULL
);
CREATE INDEX patients_person ON patients (person_key);

CREATE TABLE patient_links (
    id text PRIMARY KEY NOT NULL,
    patient_id text NOT NULL REFERENCES patients (id),
    person_id text NOT NULL REFERENCES patients (id),
    kind text NOT NULL CHECK (kind IN ('trace', 'merge')),
    trace_status text,
    reason text NOT NULL,
    linked_at text NOT NULL,
    linked_by text NOT NULL,
    unlinked_at text,
    unlinked_by text,
    unlink_reason text,
    CHECK (patient_id <> person_id),
    CHECK ((kind = 'trace') = (trace_status IS NOT NULL)),
    CHECK ((unlinked_at IS NULL) = (unlinked_by IS NULL) AND (unlinked_at IS NULL) = (unlink_reason IS NULL))
);
CREATE UNIQUE INDEX patient_links_in_force ON patient_links (patient_id) WHERE unlinked_at IS NULL;
CREATE INDEX patient_links_into ON patient_links (person_id) WHERE unlinked_at IS NULL;
CREATE INDEX patient_links_history ON patient_links (patient_id, linked_at);

-- The registry from the attendances recorded so far: every key is its own person. (A version 4
-- UUID from random bytes.)
INSERT INTO patients (id, key, person_key, created_at)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
             || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-'
             || hex(randomblob(6))),
       patient_key, patient_key, min(created_at)
FROM attendances GROUP BY patient_key;

ALTER TABLE attendances ADD COLUMN patient_id text;
UPDATE attendances SET patient_id = (SELECT id FROM patients WHERE key = attendances.patient_key);

-- The store gives patient_id with every attendance it records. A row written without it (the
-- demo data generator writes rows directly) is registered here under the key it was written
-- with.
CREATE TRIGGER attendances_patient AFTER INSERT ON attendances WHEN NEW.patient_id IS NULL
BEGIN
    INSERT INTO patients (id, key, person_key, created_at)
    SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
                 || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-'
                 || hex(randomblob(6))),
           NEW.patient_key, NEW.patient_key, NEW.created_at
    WHERE NOT EXISTS (SELECT 1 FROM patients WHERE key = NEW.patient_key);
    UPDATE attendances SET patient_id = (SELECT id FROM patients WHERE key = NEW.patient_key) WHERE id = NEW.id;
END;
