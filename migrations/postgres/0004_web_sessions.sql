-- motpd schema, version 4 (PostgreSQL): sessions of the enrollment web pages, shared by every node.
-- (Version 3 is the invitations migration of another branch; versions may have gaps.)

-- Only the SHA-256 of the session cookie's value is stored, so a copy of the table does not hand out live
-- sessions. A row is removed at logout, when it expires (the node's sweep) or with its account.
CREATE TABLE web_sessions (
    id_hash    BYTEA PRIMARY KEY CHECK (length(id_hash) = 32),
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
CREATE INDEX web_sessions_account ON web_sessions (account_id);
