//! PostgreSQL: e-mail invitations; the SQL is shared with SQLite, see `store/invitations.rs`. The operations
//! that also write the invitation's pending device hold the account row's lock (as every device change does,
//! see `devices.rs`) and lock the invitation row (`FOR UPDATE`), so racing requests on several nodes serialise.

crate::store::invitations::invitation_queries!(sqlx::PgPool, for_update = " FOR UPDATE");
