//! E-mail invitations (enrollment flow B) for both backends. The SQL is the same text on SQLite and
//! PostgreSQL (`$n` placeholders), so it is written once and instantiated per pool type by
//! [`invitation_queries!`]. Only token hashes are stored; the single-use rule is one conditional `UPDATE`.
//! The operations that also write the invitation's pending device are transactions with backend-specific
//! locking, in `sqlite/invitations.rs` and `postgres/invitations.rs`.

/// Defines the invitation functions for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! invitation_queries {
    ($pool:ty) => {
        use crate::store::rows::DeviceRow;
        use crate::store::{Device, Invitation, StoreError};

        /// Replaces the account's invitations by this one, in one transaction (the old links stop working).
        pub(super) async fn create_invitation(
            pool: &$pool,
            account_id: &str,
            token_hash: &[u8],
            expires_at: i64,
            now: i64,
        ) -> Result<(), StoreError> {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM invitations WHERE account_id = $1")
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO invitations (token_hash, account_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(account_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| crate::store::rows::foreign_key_or(e, account_id))?;
            tx.commit().await?;
            Ok(())
        }

        pub(super) async fn invitation(
            pool: &$pool,
            token_hash: &[u8],
        ) -> Result<Option<Invitation>, StoreError> {
            Ok(sqlx::query_as::<_, Invitation>(
                "SELECT account_id, created_at, expires_at, used_at, device_id, seed_in_mail \
                 FROM invitations WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?)
        }

        /// Every stored invitation, by account (a re-invitation replaces the earlier one).
        pub(super) async fn list_invitations(pool: &$pool) -> Result<Vec<Invitation>, StoreError> {
            Ok(sqlx::query_as::<_, Invitation>(
                "SELECT account_id, created_at, expires_at, used_at, device_id, seed_in_mail \
                 FROM invitations ORDER BY account_id, created_at",
            )
            .fetch_all(pool)
            .await?)
        }

        /// Marks the invitation used if it is unused and unexpired; `true` for the one caller that did.
        pub(super) async fn use_invitation(
            pool: &$pool,
            token_hash: &[u8],
            now: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE invitations SET used_at = $2 \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        /// The pending device mailed with the account's invitation, if that invitation is unused and unexpired.
        pub(super) async fn mailed_pending_device(
            pool: &$pool,
            account_id: &str,
            now: i64,
        ) -> Result<Option<Device>, StoreError> {
            sqlx::query_as::<_, DeviceRow>(
                "SELECT d.* FROM invitations i JOIN devices d ON d.id = i.device_id \
                 WHERE i.account_id = $1 AND i.seed_in_mail AND i.used_at IS NULL AND i.expires_at > $2 \
                 AND d.state = 'pending'",
            )
            .bind(account_id)
            .bind(now)
            .fetch_optional(pool)
            .await?
            .map(Device::try_from)
            .transpose()
        }
    };
}

pub(super) use invitation_queries;
