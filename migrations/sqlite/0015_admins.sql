-- motpd schema, version 15 (SQLite): the helpdesk console's admins and their sessions.

-- Admins are not staff accounts: a name of their own, a role, an Argon2id password hash and a TOTP seed sealed
-- with the master key (associated data: the admin's name). totp_last_step is the replay guard: a login stores
-- the matched step only if it is newer. failures and locked_until are the console's own lockout.
CREATE TABLE admins (
    name           TEXT PRIMARY KEY NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('helpdesk', 'admin')),
    password_hash  TEXT NOT NULL,
    sealed_totp    BLOB NOT NULL,
    totp_last_step BIGINT,
    failures       INTEGER NOT NULL DEFAULT 0,
    locked_until   BIGINT,
    disabled       BOOLEAN NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    last_login_at  BIGINT
);

-- Console sessions, shared by every node: only the SHA-256 of the cookie value is stored. A row goes at logout,
-- when it expires (the node's sweep), or with its admin.
CREATE TABLE admin_sessions (
    id_hash    BLOB PRIMARY KEY NOT NULL CHECK (length(id_hash) = 32),
    admin_name TEXT NOT NULL REFERENCES admins (name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_name);
