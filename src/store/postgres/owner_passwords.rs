//! PostgreSQL: passwords set by their owner (activation, reset); the SQL is shared, see `store/owner_passwords.rs`.

crate::store::owner_passwords::owner_password_queries!(sqlx::postgres::PgPool);
