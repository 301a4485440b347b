//! SQLite: e-mail invitations; the SQL is shared with PostgreSQL, see `store/invitations.rs`. The operations
//! that also write the invitation's pending device run in write transactions (`BEGIN IMMEDIATE`, see
//! `devices.rs`), which already exclude every other writer: the invitation read needs no lock of its own.

crate::store::invitations::invitation_queries!(sqlx::sqlite::SqlitePool, for_update = "");
