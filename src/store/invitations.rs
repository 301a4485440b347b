//! E-mail invitations (enrollment flow B) for both backends. The SQL is the same text on SQLite and
//! PostgreSQL (`$n` placeholders), so it is written once and instantiated per pool type by
//! [`invitation_queries!`]. Only token hashes are stored; the single-use rule is one conditional `UPDATE`.
//!
//! The operations that also write the invitation's pending device are device changes: they run in the
//! backend's device transactions (`begin_device_change`, `begin_pending_device_change` of its `devices.rs`,
//! see `store/devices.rs`) and use the shared pending-device steps there. The one other difference is the
//! `for_update` suffix of the invitation read in [`InvitationStore::attach_invitation_device`]: PostgreSQL locks the
//! invitation row (`FOR UPDATE`) so racing requests on several nodes serialise; SQLite's write transaction
//! already does.
//!
//! [`InvitationStore::attach_invitation_device`]: crate::store::InvitationStore::attach_invitation_device

/// Defines the invitation functions for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`), with the
/// suffix that locks the invitation row read by `attach_device` (`""` where the transaction already excludes
/// other writers).
macro_rules! invitation_queries {
    ($pool:ty, for_update = $for_update:literal) => {
        use super::devices::{
            activate_pending, begin_device_change, begin_pending_device_change, replace_pending,
        };
        use crate::store::rows::DeviceRow;
        use crate::store::{Device, Invitation, NewDevice, StoreError};

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
            Ok(sqlx::query_as::<_, crate::store::rows::InvitationRow>(
                "SELECT account_id, created_at, expires_at, used_at, device_id, seed_in_mail \
                 FROM invitations WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
            .map(Invitation::from))
        }

        /// Every stored invitation, by account (a re-invitation replaces the earlier one).
        pub(super) async fn list_invitations(pool: &$pool) -> Result<Vec<Invitation>, StoreError> {
            Ok(sqlx::query_as::<_, crate::store::rows::InvitationRow>(
                "SELECT account_id, created_at, expires_at, used_at, device_id, seed_in_mail \
                 FROM invitations ORDER BY account_id, created_at",
            )
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(Invitation::from)
            .collect())
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

        /// [`InvitationStore::create_invitation_with_seed`](crate::store::InvitationStore::create_invitation_with_seed).
        pub(super) async fn create_with_seed(
            pool: &$pool,
            token_hash: &[u8],
            expires_at: i64,
            device: &NewDevice,
            now: i64,
        ) -> Result<(), StoreError> {
            let mut tx = begin_device_change(pool, &device.account_id).await?;
            replace_pending(&mut tx, device, now).await?;
            sqlx::query("DELETE FROM invitations WHERE account_id = $1")
                .bind(&device.account_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO invitations (token_hash, account_id, created_at, expires_at, device_id, \
                 seed_in_mail) VALUES ($1, $2, $3, $4, $5, TRUE)",
            )
            .bind(token_hash)
            .bind(&device.account_id)
            .bind(now)
            .bind(expires_at)
            .bind(&device.id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        /// [`InvitationStore::attach_invitation_device`](crate::store::InvitationStore::attach_invitation_device): a
        /// compare-and-set on the invitation's device, under the account's device lock.
        pub(super) async fn attach_device(
            pool: &$pool,
            token_hash: &[u8],
            expected: Option<&str>,
            device: &NewDevice,
            now: i64,
        ) -> Result<bool, StoreError> {
            let mut tx = begin_device_change(pool, &device.account_id).await?;
            let row: Option<(String, Option<String>, Option<i64>, i64)> = sqlx::query_as(concat!(
                "SELECT account_id, device_id, used_at, expires_at FROM invitations WHERE token_hash = $1",
                $for_update
            ))
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let usable = row.is_some_and(|(account_id, current, used_at, expires_at)| {
                account_id == device.account_id
                    && current.as_deref() == expected
                    && used_at.is_none()
                    && expires_at > now
            });
            if !usable {
                return Ok(false);
            }
            replace_pending(&mut tx, device, now).await?;
            sqlx::query("UPDATE invitations SET device_id = $2 WHERE token_hash = $1")
                .bind(token_hash)
                .bind(&device.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        }

        /// [`InvitationStore::confirm_invited_device`](crate::store::InvitationStore::confirm_invited_device): uses the
        /// invitation and activates its device in one transaction; `false` (nothing written) if no usable
        /// invitation shows the device.
        pub(super) async fn confirm_device(
            pool: &$pool,
            device_id: &str,
            step: i64,
            now: i64,
        ) -> Result<bool, StoreError> {
            let (mut tx, account_id) = begin_pending_device_change(pool, device_id).await?;
            let used = sqlx::query(
                "UPDATE invitations SET used_at = $2 \
                 WHERE device_id = $1 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(device_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() == 0 {
                return Ok(false);
            }
            activate_pending(&mut tx, &account_id, device_id, step, now).await?;
            tx.commit().await?;
            Ok(true)
        }
    };
}

pub(super) use invitation_queries;
