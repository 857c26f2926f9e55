-- The ECDS chief complaint (a SNOMED CT concept id) an attendance arrived with, and the version of
-- the trust's chief complaint table that read it (docs/domain.md §11): `sha256:` and 16 hex
-- digits. Both or neither: a code is always stored with the table that mapped it.
ALTER TABLE attendances ADD COLUMN presenting_condition_snomed text;
ALTER TABLE attendances ADD COLUMN presenting_condition_map_version text
    CHECK ((presenting_condition_snomed IS NULL) = (presenting_condition_map_version IS NULL));
