//! Passwords set by the account's owner after proving who they are (account activation and forgotten-password
//! reset, see `engine/account_recovery.rs`), for both backends. Each is one transaction: the status check,
//! the new hash, the cleared failure counters (VPN and web) and lockout, and the end of the account's web sessions happen
//! together or not at all. The SQL is the same text on SQLite and PostgreSQL, so it is written once and
//! instantiated per pool type by [`owner_password_queries!`]. No policy here: the caller says from which
//! time on a lock counts as an admin's (kept).

/// Defines the owner password functions for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! owner_password_queries {
    ($pool:ty) => {
        use crate::store::{AccountStatus, StoreError};

        /// Sets the hash of an account in status `from`, makes it active, clears failures and any lock ending
        /// before `keep_locks_from`, and ends the account's web sessions. `None` if the account is not (any
        /// more) in status `from`; else how many web sessions ended.
        pub(in crate::store) async fn set_owner_password(
            pool: &$pool,
            id: &str,
            hash: &str,
            from: AccountStatus,
            keep_locks_from: i64,
            now: i64,
        ) -> Result<Option<u64>, StoreError> {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE accounts SET password_hash = $2, status = 'active', failures = 0, web_failures = 0, \
                 locked_until = CASE WHEN locked_until >= $4 THEN locked_until ELSE NULL END, \
                 web_locked_until = NULL, \
                 updated_at = $5 WHERE id = $1 AND status = $3",
            )
            .bind(id)
            .bind(hash)
            .bind(from.as_str())
            .bind(keep_locks_from)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            let ended = sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(ended.rows_affected()))
        }
    };
}

pub(super) use owner_password_queries;
