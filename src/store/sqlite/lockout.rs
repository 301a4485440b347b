//! SQLite: the lockout counters through the sqlx pool; the SQL is shared, see `store/lockout.rs`. A serving
//! node's reservations go to the hot-path thread instead (`hot.rs`), batched with the accepted logins.

crate::store::lockout::lockout_queries!(sqlx::SqlitePool, sqlite, crate::store::lockout::REFUSAL);
