-- A RADIUS login with a device's code is recorded on the device alone (`devices.last_used_at`), so that a login
-- writes one row, not two; `accounts.last_login_at` keeps the logins without a code step. An account's last login
-- is the later of the two. When an active device is removed (reset, replaced, its account deleted), its last use
-- is folded into the account first, so that the account's last login never goes back in time.
CREATE FUNCTION devices_fold_last_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET last_login_at = OLD.last_used_at
    WHERE id = OLD.account_id AND (last_login_at IS NULL OR last_login_at < OLD.last_used_at);
    RETURN OLD;
END
$$;

CREATE TRIGGER devices_fold_last_use BEFORE DELETE ON devices
FOR EACH ROW WHEN (OLD.state = 'active' AND OLD.last_used_at IS NOT NULL)
EXECUTE FUNCTION devices_fold_last_use();
