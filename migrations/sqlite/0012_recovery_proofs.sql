-- motpd schema, version 12 (SQLite): the second proofs of account activation and password reset, the SMS pause
-- after them, and SMS rate limits per purpose.

-- Per account: the keyed hash (HMAC-SHA256) of the identity the hospital holds (national ID number or birth
-- date, normalised), the keyed hash of an outstanding one-time helpdesk code with its expiry, and the time until
-- which the VPN SMS fallback is paused (after a reset or an activation). One row per account, created on demand.
CREATE TABLE account_proofs (
    account_id          TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    identity_hash       BLOB CHECK (identity_hash IS NULL OR length(identity_hash) = 32),
    helpdesk_hash       BLOB CHECK (helpdesk_hash IS NULL OR length(helpdesk_hash) = 32),
    helpdesk_expires_at BIGINT,
    sms_paused_until    BIGINT,
    updated_at          BIGINT NOT NULL
);

-- Which purpose each send served ('login', 'activate', 'reset'): the limits count per purpose, so the account
-- pages cannot use up the VPN fallback's quota. Earlier sends count as VPN login sends.
ALTER TABLE sms_sends ADD COLUMN purpose TEXT NOT NULL DEFAULT 'login';
CREATE INDEX sms_sends_account_purpose ON sms_sends (account_id, purpose, sent_at);
CREATE INDEX sms_sends_phone_purpose ON sms_sends (phone, purpose, sent_at);
