//! PostgreSQL: the helpdesk console's admins, sessions and account search; the SQL is shared, see `store/console.rs`.

crate::store::console::console_queries!(sqlx::postgres::PgPool);
