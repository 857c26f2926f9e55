-- SQLite only (its slot-overlap trigger); PostgreSQL's exclusion constraint on slots already
-- answers through its GiST index. The folder exists so both backends keep the same migration
-- names.
SELECT 1;
