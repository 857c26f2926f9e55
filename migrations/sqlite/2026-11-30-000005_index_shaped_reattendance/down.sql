-- PostgreSQL only (its trigger functions keep their plans for a connection's life). SQLite plans a
-- trigger's statements with its statement and prefers the (patient_key, arrived_at) index for an
-- equality on patient_key; nothing to change. The folder exists so both backends keep the same
-- migration names.
SELECT 1;
