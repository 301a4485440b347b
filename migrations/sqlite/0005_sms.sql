-- motpd schema, version 5 (SQLite): SMS codes, SMS rate limits, the per-account SMS switch, SMS challenges.

-- Whether this account may get a VPN login code by SMS: NULL follows sms.allow_vpn_fallback, 1 on, 0 off.
ALTER TABLE accounts ADD COLUMN sms_fallback BOOLEAN;

-- The outstanding SMS code per account and purpose ('login', 'activate', 'reset'). Only a keyed hash of the code is
-- stored. A new code replaces the row (the earlier code stops working); the row is deleted when the code is used.
-- `attempts` counts every try and is raised before the comparison.
CREATE TABLE sms_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('login', 'activate', 'reset')),
    code_hash  BLOB NOT NULL CHECK (length(code_hash) = 32),
    attempts   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, purpose)
);
CREATE INDEX sms_codes_expiry ON sms_codes (expires_at);

-- Every SMS handed to the gateway, for the rate limits per account and per number (rolling 24 hours). No foreign
-- key: removing and re-creating an account must not reset its limits.
CREATE TABLE sms_sends (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    phone      TEXT NOT NULL,
    sent_at    BIGINT NOT NULL
);
CREATE INDEX sms_sends_account ON sms_sends (account_id, sent_at);
CREATE INDEX sms_sends_phone ON sms_sends (phone, sent_at);
CREATE INDEX sms_sends_at ON sms_sends (sent_at);

-- An SMS challenge waits for an SMS code, not for a device's: device_id becomes optional. SQLite cannot drop a
-- NOT NULL constraint, so the table is rebuilt (outstanding challenges are kept).
CREATE TABLE challenges_v5 (
    state_hash BLOB PRIMARY KEY NOT NULL CHECK (length(state_hash) = 32),
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client     TEXT NOT NULL,
    device_id  TEXT,
    purpose    TEXT NOT NULL CHECK (purpose IN ('otp', 'hotp_resync', 'sms')),
    counter    BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO challenges_v5 (state_hash, account_id, client, device_id, purpose, counter, expires_at, created_at)
    SELECT state_hash, account_id, client, device_id, purpose, counter, expires_at, created_at FROM challenges;
DROP TABLE challenges;
ALTER TABLE challenges_v5 RENAME TO challenges;
CREATE INDEX challenges_expiry ON challenges (expires_at);
