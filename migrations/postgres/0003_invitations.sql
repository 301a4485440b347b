-- motpd schema, version 3 (PostgreSQL): e-mail invitations (enrollment flow B).

-- One row per invitation link. Only the SHA-256 of the link's token is stored; re-inviting deletes the
-- account's earlier rows, and a row is used once (used_at set atomically, so one node wins).
CREATE TABLE invitations (
    token_hash BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX invitations_account ON invitations (account_id);
