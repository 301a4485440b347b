-- motpd schema, version 1 (PostgreSQL).
-- Times are Unix seconds (BIGINT); calendar dates are 'YYYY-MM-DD' text. Integers are BIGINT throughout so both
-- backends decode into the same row types.
-- Keep the version numbers in step with migrations/sqlite (a unit test checks this).

-- Small key/value facts about the database itself, e.g. the master-key check value.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY CHECK (id <> ''),
    name          TEXT NOT NULL,
    phone         TEXT,
    email         TEXT,
    password_hash TEXT,
    status        TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'pending')),
    expires_on    TEXT CHECK (expires_on ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
    groups        TEXT NOT NULL DEFAULT '[]',               -- JSON array of strings
    failures      BIGINT NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until  BIGINT,
    last_login_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    digits       BIGINT NOT NULL,
    period       BIGINT NOT NULL,
    sealed_seed  BYTEA NOT NULL,
    sealed_pin   BYTEA,
    last_step    BIGINT,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'active')),
    label        TEXT,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_used_at BIGINT
);

-- One active device per account, enforced by the database so that racing enrollments (even on two nodes)
-- cannot both win.
CREATE UNIQUE INDEX devices_one_active_per_account ON devices (account_id) WHERE state = 'active';
CREATE INDEX devices_account ON devices (account_id);

CREATE TABLE radius_clients (
    name                          TEXT PRIMARY KEY CHECK (name <> ''),
    address                       TEXT NOT NULL,            -- CIDR, e.g. '10.1.2.3/32'
    sealed_secret                 BYTEA NOT NULL,
    require_message_authenticator BOOLEAN NOT NULL,
    mode                          TEXT,                     -- NULL: the configured radius.mode
    created_at                    BIGINT NOT NULL
);

-- The tamper-evident trail. `seq` is assigned by motpd (1, 2, 3, ... without gaps), never by a sequence.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY CHECK (seq > 0),
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    account_id TEXT,                                        -- no foreign key: the trail outlives accounts
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    mac        BYTEA NOT NULL CHECK (octet_length(mac) = 32)
);

CREATE INDEX audit_log_account ON audit_log (account_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);
