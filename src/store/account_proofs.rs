//! The second proofs of account activation and password reset, and the SMS pause after them, for both
//! backends: the keyed hash of the identity the hospital holds, a one-time helpdesk code (keyed hash, expiry,
//! single use by one conditional `UPDATE`), and the time until which the VPN SMS fallback is paused. One
//! `account_proofs` row per account, created on demand by an upsert. The SQL is the same text on SQLite and
//! PostgreSQL, so it is written once and instantiated per pool type by [`account_proof_queries!`]. Only
//! keyed hashes are stored; no comparison of secrets happens here except the helpdesk code's keyed hash.

/// Defines the account proof functions for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! account_proof_queries {
    ($pool:ty) => {
        use crate::store::StoreError;
        use crate::store::rows::foreign_key_or;

        pub(in crate::store) async fn set_identity_hash(
            pool: &$pool,
            id: &str,
            hash: Option<&[u8]>,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO account_proofs (account_id, identity_hash, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_id) DO UPDATE SET identity_hash = excluded.identity_hash, \
                 updated_at = excluded.updated_at",
            )
            .bind(id)
            .bind(hash)
            .bind(now)
            .execute(pool)
            .await
            .map_err(|e| foreign_key_or(e, id))?;
            Ok(())
        }

        pub(in crate::store) async fn identity_hash(
            pool: &$pool,
            id: &str,
        ) -> Result<Option<Vec<u8>>, StoreError> {
            let row: Option<(Option<Vec<u8>>,)> =
                sqlx::query_as("SELECT identity_hash FROM account_proofs WHERE account_id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?;
            Ok(row.and_then(|(hash,)| hash))
        }

        pub(in crate::store) async fn set_helpdesk_code(
            pool: &$pool,
            id: &str,
            hash: &[u8],
            expires_at: i64,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO account_proofs (account_id, helpdesk_hash, helpdesk_expires_at, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET \
                 helpdesk_hash = excluded.helpdesk_hash, helpdesk_expires_at = excluded.helpdesk_expires_at, \
                 updated_at = excluded.updated_at",
            )
            .bind(id)
            .bind(hash)
            .bind(expires_at)
            .bind(now)
            .execute(pool)
            .await
            .map_err(|e| foreign_key_or(e, id))?;
            Ok(())
        }

        /// Clears the code if it is still this one and unexpired: `true` for exactly one caller.
        pub(in crate::store) async fn take_helpdesk_code(
            pool: &$pool,
            id: &str,
            hash: &[u8],
            now: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE account_proofs SET helpdesk_hash = NULL, helpdesk_expires_at = NULL, updated_at = $3 \
                 WHERE account_id = $1 AND helpdesk_hash = $2 AND helpdesk_expires_at > $3",
            )
            .bind(id)
            .bind(hash)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        /// Never shortens a pause that runs longer.
        pub(in crate::store) async fn pause_sms_fallback(
            pool: &$pool,
            id: &str,
            until: i64,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO account_proofs (account_id, sms_paused_until, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_id) DO UPDATE SET sms_paused_until = CASE \
                 WHEN account_proofs.sms_paused_until > excluded.sms_paused_until \
                 THEN account_proofs.sms_paused_until ELSE excluded.sms_paused_until END, \
                 updated_at = excluded.updated_at",
            )
            .bind(id)
            .bind(until)
            .bind(now)
            .execute(pool)
            .await
            .map_err(|e| foreign_key_or(e, id))?;
            Ok(())
        }

        pub(in crate::store) async fn sms_paused_until(
            pool: &$pool,
            id: &str,
        ) -> Result<Option<i64>, StoreError> {
            let row: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT sms_paused_until FROM account_proofs WHERE account_id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?;
            Ok(row.and_then(|(until,)| until))
        }
    };
}

pub(super) use account_proof_queries;
