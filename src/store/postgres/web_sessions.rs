//! PostgreSQL: sessions of the enrollment web pages; the SQL is shared, see `store/web_sessions.rs`.

crate::store::web_sessions::web_session_queries!(sqlx::postgres::PgPool);
