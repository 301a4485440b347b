//! SQLite: sessions of the enrollment pages and the console; the SQL is shared, see `store/page_sessions.rs`.

crate::store::page_sessions::page_session_queries!(sqlx::sqlite::SqlitePool);
