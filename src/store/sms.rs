//! SMS codes and their rate limits (per purpose: VPN login, activation, reset), for both backends. The SQL is the same text on SQLite and PostgreSQL
//! (`$n` placeholders, `UPDATE ... RETURNING`), so it is written once and instantiated per pool type by
//! [`sms_queries!`]. Each backend supplies `begin_sms`, a transaction that holds the lock serialising SMS sends
//! (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an advisory transaction lock), so two nodes cannot both pass a rate
//! limit. Only keyed hashes of codes are stored; the single-use rule is one conditional `DELETE`.

/// Defines the SMS functions for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! sms_queries {
    ($pool:ty) => {
        use crate::store::rows::{account_not_found, sms_next_allowed};
        use crate::store::{NewSmsCode, SmsCodeAttempt, SmsIssue, SmsLimits, SmsPurpose, StoreError};

        pub(super) async fn set_sms_fallback(
            pool: &$pool,
            id: &str,
            allowed: Option<bool>,
            now: i64,
        ) -> Result<(), StoreError> {
            let done = sqlx::query("UPDATE accounts SET sms_fallback = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(allowed)
                .bind(now)
                .execute(pool)
                .await?;
            match done.rows_affected() {
                0 => Err(account_not_found(id)),
                _ => Ok(()),
            }
        }

        /// Checks the limits (counting the sends of this purpose only), records the send and replaces the
        /// account's code of this purpose, all under the SMS lock; nothing is written when a limit refuses.
        pub(super) async fn issue_sms_code(
            pool: &$pool,
            code: &NewSmsCode,
            limits: &SmsLimits,
            now: i64,
        ) -> Result<SmsIssue, StoreError> {
            let mut tx = begin_sms(pool).await?;
            let sent: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT account_id, phone, sent_at FROM sms_sends \
                 WHERE (account_id = $1 OR phone = $2) AND sent_at > $3 AND purpose = $4",
            )
            .bind(&code.account_id)
            .bind(&code.phone)
            .bind(now - limits.window_seconds)
            .bind(code.purpose.as_str())
            .fetch_all(&mut *tx)
            .await?;
            if let Some(next_allowed_at) =
                sms_next_allowed(&sent, &code.account_id, &code.phone, limits, now)
            {
                tx.rollback().await?;
                return Ok(SmsIssue::RateLimited { next_allowed_at });
            }
            sqlx::query(
                "INSERT INTO sms_sends (account_id, phone, sent_at, purpose) VALUES ($1, $2, $3, $4)",
            )
            .bind(&code.account_id)
            .bind(&code.phone)
            .bind(now)
            .bind(code.purpose.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sms_codes WHERE account_id = $1 AND purpose = $2")
                .bind(&code.account_id)
                .bind(code.purpose.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sms_codes (account_id, purpose, code_hash, attempts, created_at, expires_at) \
                 VALUES ($1, $2, $3, 0, $4, $5)",
            )
            .bind(&code.account_id)
            .bind(code.purpose.as_str())
            .bind(&code.code_hash)
            .bind(now)
            .bind(code.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| crate::store::rows::foreign_key_or(e, &code.account_id))?;
            tx.commit().await?;
            Ok(SmsIssue::Issued)
        }

        pub(super) async fn discard_sms_code(
            pool: &$pool,
            account_id: &str,
            purpose: SmsPurpose,
            code_hash: &[u8],
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "DELETE FROM sms_codes WHERE account_id = $1 AND purpose = $2 AND code_hash = $3",
            )
            .bind(account_id)
            .bind(purpose.as_str())
            .bind(code_hash)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        /// Raises the try counter and returns the code, in one statement.
        pub(super) async fn count_sms_attempt(
            pool: &$pool,
            account_id: &str,
            purpose: SmsPurpose,
        ) -> Result<Option<SmsCodeAttempt>, StoreError> {
            Ok(sqlx::query_as::<_, crate::store::rows::SmsAttemptRow>(
                "UPDATE sms_codes SET attempts = attempts + 1 WHERE account_id = $1 AND purpose = $2 \
                 RETURNING code_hash, CAST(attempts AS BIGINT) AS attempts, expires_at",
            )
            .bind(account_id)
            .bind(purpose.as_str())
            .fetch_optional(pool)
            .await?
            .map(SmsCodeAttempt::from))
        }

        /// Deletes the code if it is still this one, unexpired and within its tries: `true` for one caller.
        pub(super) async fn consume_sms_code(
            pool: &$pool,
            account_id: &str,
            purpose: SmsPurpose,
            code_hash: &[u8],
            max_attempts: u32,
            now: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "DELETE FROM sms_codes WHERE account_id = $1 AND purpose = $2 AND code_hash = $3 \
                 AND attempts <= $4 AND expires_at > $5",
            )
            .bind(account_id)
            .bind(purpose.as_str())
            .bind(code_hash)
            .bind(i64::from(max_attempts))
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn purge_sms(
            pool: &$pool,
            now: i64,
            sends_before: i64,
        ) -> Result<u64, StoreError> {
            let codes = sqlx::query("DELETE FROM sms_codes WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?;
            let sends = sqlx::query("DELETE FROM sms_sends WHERE sent_at <= $1")
                .bind(sends_before)
                .execute(pool)
                .await?;
            Ok(codes.rows_affected() + sends.rows_affected())
        }
    };
}

pub(super) use sms_queries;
