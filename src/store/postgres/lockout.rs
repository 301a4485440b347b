//! PostgreSQL: the lockout counters; the SQL is shared, see `store/lockout.rs`. Each reservation is one
//! `UPDATE` on the account's row, so the row lock orders the reservations of every node.

crate::store::lockout::lockout_queries!(sqlx::PgPool, postgres, crate::store::lockout::REFUSAL_PG);
