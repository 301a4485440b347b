-- motpd schema, version 5 (PostgreSQL): SMS codes, SMS rate limits, the per-account SMS switch, SMS challenges.

-- Whether this account may get a VPN login code by SMS: NULL follows sms.allow_vpn_fallback.
ALTER TABLE accounts ADD COLUMN sms_fallback BOOLEAN;

-- The outstanding SMS code per account and purpose ('login', 'activate', 'reset'). Only a keyed hash of the code is
-- stored. A new code replaces the row (the earlier code stops working); the row is deleted when the code is used,
-- by one statement, so a code logs in once across every node. `attempts` is raised before the comparison.
CREATE TABLE sms_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('login', 'activate', 'reset')),
    code_hash  BYTEA NOT NULL CHECK (length(code_hash) = 32),
    attempts   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, purpose)
);
CREATE INDEX sms_codes_expiry ON sms_codes (expires_at);

-- Every SMS handed to the gateway, for the rate limits per account and per number (rolling 24 hours). No foreign
-- key: removing and re-creating an account must not reset its limits.
CREATE TABLE sms_sends (
    id         BIGSERIAL PRIMARY KEY,
    account_id TEXT NOT NULL,
    phone      TEXT NOT NULL,
    sent_at    BIGINT NOT NULL
);
CREATE INDEX sms_sends_account ON sms_sends (account_id, sent_at);
CREATE INDEX sms_sends_phone ON sms_sends (phone, sent_at);
CREATE INDEX sms_sends_at ON sms_sends (sent_at);

-- An SMS challenge waits for an SMS code, not for a device's.
ALTER TABLE challenges ALTER COLUMN device_id DROP NOT NULL;
