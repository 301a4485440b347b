//! SQLite: e-mail invitations; the SQL is shared, see `store/invitations.rs`.

crate::store::invitations::invitation_queries!(sqlx::sqlite::SqlitePool);
