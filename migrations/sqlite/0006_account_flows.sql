-- motpd schema, version 6 (SQLite): the state of the account activation and forgotten-password pages.
-- (Version 5 belongs to another branch; versions may have gaps.)

-- Which step of /account/activate or /account/reset the session is at, as the web layer's own JSON text
-- (the typed account, and after a verified code the right to set the password once, with its deadline).
-- NULL for sessions outside those pages. Taken and cleared atomically, so the verified state is single use.
ALTER TABLE web_sessions ADD COLUMN flow TEXT;
