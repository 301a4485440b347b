-- motpd schema, version 7 (SQLite): the pending device an invitation shows (or mailed).

-- device_id: the pending seed shown on the link's page (shown again on every visit while the link is valid, so a
-- mail scanner that fetches the link first does not replace it), or created at invite time and mailed as a QR code
-- (seed_in_mail, `motpd invite --qr-in-mail`: that device may also activate on its first VPN login). When the
-- device row goes (replaced by a newer start, account reset), the link forgets it.
ALTER TABLE invitations ADD COLUMN device_id TEXT REFERENCES devices (id) ON DELETE SET NULL;
ALTER TABLE invitations ADD COLUMN seed_in_mail BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX invitations_device ON invitations (device_id);
