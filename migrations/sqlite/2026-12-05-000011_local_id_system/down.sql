ALTER TABLE attendances DROP COLUMN local_id_system;
