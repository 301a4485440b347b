-- motpd schema, version 14 (PostgreSQL): accounts that come from the directory (`motpd user sync`).

-- The distinguished name of the directory entry the account is synced from; NULL for accounts motpd keeps
-- itself (CSV, `user add`), which a sync never disables for being absent from the directory.
ALTER TABLE accounts ADD COLUMN directory_dn TEXT;
-- Whether the account was disabled by a sync (entry gone, disabled or expired in the directory). A sync
-- re-enables only these; an admin's status change clears it, so an account an admin disabled stays disabled.
ALTER TABLE accounts ADD COLUMN sync_disabled BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per periodic job that must run on one node at a time (`directory-sync`): the node holding it and
-- until when. A node takes the row only when `until_at` has passed; after a run the holder sets it to when
-- the next run is due, so the other nodes skip their turn instead of repeating the run.
CREATE TABLE job_leases (
    job      TEXT PRIMARY KEY NOT NULL,
    holder   TEXT NOT NULL,
    until_at BIGINT NOT NULL
);
