//! PostgreSQL: e-mail invitations; the SQL shared with SQLite is in `store/invitations.rs`. The operations that
//! also write the invitation's pending device hold the account row's lock (as every device change does) and
//! lock the invitation row (`FOR UPDATE`), so racing requests on several nodes serialise.

use sqlx::postgres::PgPool;

use super::devices::{activate_pending, lock_account_row, pending_device_account, replace_pending};
use crate::store::NewDevice;

crate::store::invitations::invitation_queries!(PgPool);

/// [`Store::create_invitation_with_seed`](crate::store::Store::create_invitation_with_seed).
pub(super) async fn create_with_seed(
    pool: &PgPool,
    token_hash: &[u8],
    expires_at: i64,
    device: &NewDevice,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = lock_account_row(pool, &device.account_id).await?;
    replace_pending(&mut tx, device, now).await?;
    sqlx::query("DELETE FROM invitations WHERE account_id = $1")
        .bind(&device.account_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO invitations (token_hash, account_id, created_at, expires_at, device_id, seed_in_mail) \
         VALUES ($1, $2, $3, $4, $5, TRUE)",
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

/// [`Store::attach_invitation_device`](crate::store::Store::attach_invitation_device).
pub(super) async fn attach_device(
    pool: &PgPool,
    token_hash: &[u8],
    expected: Option<&str>,
    device: &NewDevice,
    now: i64,
) -> Result<bool, StoreError> {
    let mut tx = lock_account_row(pool, &device.account_id).await?;
    let row: Option<(String, Option<String>, Option<i64>, i64)> = sqlx::query_as(
        "SELECT account_id, device_id, used_at, expires_at FROM invitations WHERE token_hash = $1 \
         FOR UPDATE",
    )
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

/// [`Store::confirm_invited_device`](crate::store::Store::confirm_invited_device).
pub(super) async fn confirm_device(
    pool: &PgPool,
    device_id: &str,
    step: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let account_id = pending_device_account(pool, device_id).await?;
    let mut tx = lock_account_row(pool, &account_id).await?;
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
