-- motpd schema, version 16 (PostgreSQL): one table for the sessions of the enrollment pages and of the helpdesk
-- console, which the same code reads and writes; kind says whose pages a session is for.

-- Only the SHA-256 of the session cookie's value is stored, so a copy of the table does not hand out live
-- sessions. An enrollment session ('web') has its account once logged in, and the account pages' flow; a
-- console session ('console') has its admin. A row goes at logout, when it expires (the node's sweep), or with
-- its account or admin.
CREATE TABLE sessions (
    id_hash    BYTEA PRIMARY KEY CHECK (length(id_hash) = 32),
    kind       TEXT NOT NULL CHECK (kind IN ('web', 'console')),
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    admin_name TEXT REFERENCES admins (name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    flow       TEXT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK ((kind = 'web' AND admin_name IS NULL)
        OR (kind = 'console' AND admin_name IS NOT NULL AND account_id IS NULL AND flow IS NULL))
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_admin ON sessions (admin_name);

-- The sessions of the two tables this one replaces carry on: nobody is logged out by the upgrade.
INSERT INTO sessions (id_hash, kind, account_id, admin_name, csrf, flow, expires_at, created_at)
    SELECT id_hash, 'web', account_id, NULL, csrf, flow, expires_at, created_at FROM web_sessions;
INSERT INTO sessions (id_hash, kind, account_id, admin_name, csrf, flow, expires_at, created_at)
    SELECT id_hash, 'console', NULL, admin_name, csrf, NULL, expires_at, created_at FROM admin_sessions;
DROP TABLE web_sessions;
DROP TABLE admin_sessions;
