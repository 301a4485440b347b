-- The audit trail's per-account index goes. No query of motpd reads the trail by account, and every audit row
-- inserted it at a random place (on SQLite one more page written to the WAL per RADIUS login, beside the
-- account and device rows). Ad-hoc questions about one account use the time index:
-- `SELECT * FROM audit_log WHERE at >= ... AND account_id = ...` reads only that time range.
DROP INDEX IF EXISTS audit_log_account;
