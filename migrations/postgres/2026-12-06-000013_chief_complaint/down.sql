ALTER TABLE attendances DROP COLUMN presenting_condition_map_version;
ALTER TABLE attendances DROP COLUMN presenting_condition_snomed;
