-- A local hospital number is one system's (the trust's PAS, an ED system): the attendance keeps
-- the assigning system it arrived with. The patient key of a local number with its system is
-- `local@<system>:<number>`, so the same number from two systems is two patients; rows recorded
-- before keep `local:<number>` (no system was asked for).
ALTER TABLE attendances ADD COLUMN local_id_system text;
