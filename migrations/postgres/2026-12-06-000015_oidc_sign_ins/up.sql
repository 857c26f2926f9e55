-- OpenID Connect sign-ins between the "Sign in" button and the identity provider's redirect back
-- (docs/design.md §13). The browser holds a random 32-byte handle in a short-lived cookie; only
-- its SHA-256 (hex) is stored. `pending` holds what finishing the sign-in needs (the state, the
-- nonce and the PKCE verifier, as JSON). A row is taken once (deleted as it is read) and is no
-- use after `expires_at`; expired rows are removed whenever a sign-in starts.
CREATE TABLE oidc_sign_ins (
    handle_hash TEXT PRIMARY KEY NOT NULL CHECK (length(handle_hash) = 64),
    pending TEXT NOT NULL,
    -- The page (a /web/ path) to show once signed in; NULL: the start page.
    return_to TEXT,
    expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_sign_ins_expires ON oidc_sign_ins (expires_at);
