//! Sessions of the enrollment web pages, shared by every node, for both backends. Rows are keyed by the
//! SHA-256 of the cookie value (the caller hashes; the store never sees the cookie). The SQL is the same text on
//! SQLite and PostgreSQL (`$n` placeholders, `UPDATE ... RETURNING`), so it is written once and instantiated per
//! pool type by [`web_session_queries!`]. No policy here: lifetimes come from the caller.

/// Defines the web session functions for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! web_session_queries {
    ($pool:ty) => {
        use crate::store::{NewWebSession, StoreError, WebSession};

        pub(in crate::store) async fn create_web_session(
            pool: &$pool,
            session: &NewWebSession,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO web_sessions (id_hash, account_id, csrf, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&session.id_hash)
            .bind(&session.account_id)
            .bind(&session.csrf)
            .bind(session.expires_at)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        }

        /// Returns an unexpired session, moving its deadline when that gains a minute or more. An unknown or
        /// expired ID (a made-up cookie, say) costs a read, never a write.
        pub(in crate::store) async fn touch_web_session(
            pool: &$pool,
            id_hash: &[u8],
            now: i64,
            expires_at: i64,
        ) -> Result<Option<WebSession>, StoreError> {
            let row: Option<(Option<String>, String, i64, Option<String>)> = sqlx::query_as(
                "SELECT account_id, csrf, expires_at, flow FROM web_sessions \
                 WHERE id_hash = $1 AND expires_at > $2",
            )
            .bind(id_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?;
            let Some((account_id, csrf, stored, flow)) = row else {
                return Ok(None);
            };
            let mut kept = stored;
            if expires_at - stored >= 60 {
                sqlx::query(
                    "UPDATE web_sessions SET expires_at = $3 WHERE id_hash = $1 AND expires_at > $2",
                )
                .bind(id_hash)
                .bind(now)
                .bind(expires_at)
                .execute(pool)
                .await?;
                kept = expires_at;
            }
            Ok(Some(WebSession {
                account_id,
                csrf,
                expires_at: kept,
                flow,
            }))
        }

        pub(in crate::store) async fn set_web_session_flow(
            pool: &$pool,
            id_hash: &[u8],
            flow: Option<&str>,
            now: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE web_sessions SET flow = $2 WHERE id_hash = $1 AND expires_at > $3",
            )
            .bind(id_hash)
            .bind(flow)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Compare-and-clear in one statement: only one caller can take a given flow.
        pub(in crate::store) async fn take_web_session_flow(
            pool: &$pool,
            id_hash: &[u8],
            flow: &str,
            now: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE web_sessions SET flow = NULL \
                 WHERE id_hash = $1 AND flow = $2 AND expires_at > $3",
            )
            .bind(id_hash)
            .bind(flow)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        pub(in crate::store) async fn remove_web_session(
            pool: &$pool,
            id_hash: &[u8],
        ) -> Result<bool, StoreError> {
            let done = sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        pub(in crate::store) async fn remove_account_web_sessions(
            pool: &$pool,
            account_id: &str,
        ) -> Result<u64, StoreError> {
            let done = sqlx::query("DELETE FROM web_sessions WHERE account_id = $1")
                .bind(account_id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        }

        pub(in crate::store) async fn purge_expired_web_sessions(
            pool: &$pool,
            now: i64,
        ) -> Result<u64, StoreError> {
            let done = sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        }
    };
}

pub(super) use web_session_queries;
