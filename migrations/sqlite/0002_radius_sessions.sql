-- motpd schema, version 2 (SQLite): RADIUS challenges, accounting records, and the reuse fingerprint.

-- A keyed fingerprint of the last accepted use (client, Calling-Station-Id, code, step) for otp.reuse_seconds.
ALTER TABLE devices ADD COLUMN last_use_fingerprint BLOB;

-- Outstanding Access-Challenges. Only a hash of the State is stored; a row is deleted when answered (single use).
CREATE TABLE challenges (
    state_hash BLOB PRIMARY KEY NOT NULL CHECK (length(state_hash) = 32),
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client     TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    purpose    TEXT NOT NULL CHECK (purpose IN ('otp', 'hotp_resync', 'sms')),
    counter    BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX challenges_expiry ON challenges (expires_at);

-- RFC 2866 Accounting-Requests (NetScaler Start/Stop).
CREATE TABLE accounting (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    at                 BIGINT NOT NULL,
    client             TEXT NOT NULL,
    user_name          TEXT,
    status_type        BIGINT,
    session_id         TEXT,
    nas_ip             TEXT,
    calling_station_id TEXT
);
CREATE INDEX accounting_session ON accounting (session_id);
CREATE INDEX accounting_user ON accounting (user_name, at);
