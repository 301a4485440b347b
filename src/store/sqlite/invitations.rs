//! SQLite: e-mail invitations; the SQL shared with PostgreSQL is in `store/invitations.rs`. The operations that
//! also write the invitation's pending device are write transactions (`BEGIN IMMEDIATE`) here.

use sqlx::sqlite::SqlitePool;

use super::begin_write;
use super::devices::{activate_pending, replace_pending};
use crate::store::NewDevice;

crate::store::invitations::invitation_queries!(SqlitePool);

/// [`Store::create_invitation_with_seed`](crate::store::Store::create_invitation_with_seed).
pub(super) async fn create_with_seed(
    pool: &SqlitePool,
    token_hash: &[u8],
    expires_at: i64,
    device: &NewDevice,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
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
    pool: &SqlitePool,
    token_hash: &[u8],
    expected: Option<&str>,
    device: &NewDevice,
    now: i64,
) -> Result<bool, StoreError> {
    let mut tx = begin_write(pool).await?;
    let row: Option<(String, Option<String>, Option<i64>, i64)> = sqlx::query_as(
        "SELECT account_id, device_id, used_at, expires_at FROM invitations WHERE token_hash = $1",
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
    pool: &SqlitePool,
    device_id: &str,
    step: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let mut tx = begin_write(pool).await?;
    let pending: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM devices WHERE id = $1 AND state = 'pending'")
            .bind(device_id)
            .fetch_optional(&mut *tx)
            .await?;
    if pending.is_none() {
        return Err(StoreError::NotFound(format!("pending device {device_id}")));
    }
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
    activate_pending(&mut tx, device_id, step, now).await?;
    tx.commit().await?;
    Ok(true)
}
