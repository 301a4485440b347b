//! SQLite: RADIUS session state (challenges, accounting); the SQL is shared, see `store/sessions.rs`.

crate::store::sessions::session_queries!(sqlx::sqlite::SqlitePool);
