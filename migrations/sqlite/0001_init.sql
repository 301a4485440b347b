-- motpd schema, version 1 (SQLite).
-- Times are Unix seconds (64-bit integers); calendar dates are 'YYYY-MM-DD' text; booleans are SQLite's 0/1.
-- Keep the version numbers in step with migrations/postgres (a unit test checks this).

-- Small key/value facts about the database itself, e.g. the master-key check value.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name          TEXT NOT NULL,
    phone         TEXT,
    email         TEXT,
    password_hash TEXT,
    status        TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'pending')),
    expires_on    TEXT CHECK (expires_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    groups        TEXT NOT NULL DEFAULT '[]',               -- JSON array of strings
    failures      INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until  BIGINT,
    last_login_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    digits       INTEGER NOT NULL,
    period       INTEGER NOT NULL,
    sealed_seed  BLOB NOT NULL,
    sealed_pin   BLOB,
    last_step    BIGINT,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'active')),
    label        TEXT,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_used_at BIGINT
);

-- One active device per account, enforced by the database so that racing enrollments cannot both win.
CREATE UNIQUE INDEX devices_one_active_per_account ON devices (account_id) WHERE state = 'active';
CREATE INDEX devices_account ON devices (account_id);

CREATE TABLE radius_clients (
    name                          TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),
    address                       TEXT NOT NULL,            -- CIDR, e.g. '10.1.2.3/32'
    sealed_secret                 BLOB NOT NULL,
    require_message_authenticator BOOLEAN NOT NULL,
    mode                          TEXT,                     -- NULL: the configured radius.mode
    created_at                    BIGINT NOT NULL
);

-- The tamper-evident trail. `seq` is assigned by motpd (1, 2, 3, ... without gaps), never by the database.
-- INTEGER PRIMARY KEY is SQLite's 64-bit rowid alias: explicit values are stored as given.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY NOT NULL CHECK (seq > 0),
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    account_id TEXT,                                        -- no foreign key: the trail outlives accounts
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    mac        BLOB NOT NULL CHECK (length(mac) = 32)
);

CREATE INDEX audit_log_account ON audit_log (account_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);
