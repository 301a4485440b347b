-- Lockout counted before comparing (see `store/lockout.rs`). `attempt_at` is the time of the account's last
-- reserved VPN attempt: a count left at the threshold without a lock (a node stopped between reserving and
-- settling an attempt) restarts once it is older than the lock. The web pages' password check keeps a counter
-- and a lock of its own (`web_*`), so that a password-only login there never touches the counter that guards
-- the VPN code.
ALTER TABLE accounts ADD COLUMN attempt_at BIGINT;
ALTER TABLE accounts ADD COLUMN web_failures BIGINT NOT NULL DEFAULT 0 CHECK (web_failures >= 0);
ALTER TABLE accounts ADD COLUMN web_locked_until BIGINT;
ALTER TABLE accounts ADD COLUMN web_attempt_at BIGINT;
