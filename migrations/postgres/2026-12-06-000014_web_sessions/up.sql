-- Server-side sessions of the web pages (docs/design.md §12). The cookie holds a random 32-byte
-- token; only its SHA-256 (hex) is stored, so a copy of this table signs nobody in. Kept in the
-- database, not in memory, so every instance behind a load balancer knows every session.
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY NOT NULL CHECK (length(token_hash) = 64),
    subject TEXT NOT NULL,
    display_name TEXT NOT NULL,
    -- The roles, comma-joined, as the audit trail keeps them.
    roles TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
-- Idle sessions are found (and removed) by when they were last seen.
CREATE INDEX web_sessions_last_seen ON web_sessions (last_seen_at);
