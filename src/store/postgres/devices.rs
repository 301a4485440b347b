//! PostgreSQL: the device operations — binding (one device or a seed import), self-service enrollment and
//! the replay guard.
//!
//! Every transaction that changes an account's devices first locks the account row, so such changes are
//! serialised per account and take locks in one order (account, then devices: no deadlocks between them).
//! A seed import locks all its accounts in ID order, so two imports cannot deadlock each other either, and
//! inserts the whole batch as one `INSERT ... SELECT FROM UNNEST(...)`. The partial unique index
//! `devices_one_active_per_account` still guarantees one active device if a writer ever skips the lock.

use std::collections::HashMap;

use sqlx::PgConnection;
use sqlx::postgres::PgPool;

use crate::store::rows::{
    DeviceRow, account_not_found, active_device_conflict, check_bindable, conflict_or,
    device_batch_conflict, reject_duplicate_accounts,
};
use crate::store::{Device, DeviceState, NewDevice, StoreError};

type PgTx = sqlx::Transaction<'static, sqlx::Postgres>;

/// A transaction holding the lock on the account row (`NotFound` if there is no such account).
pub(super) async fn lock_account_row(pool: &PgPool, account_id: &str) -> Result<PgTx, StoreError> {
    let mut tx = pool.begin().await?;
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?;
    found.ok_or_else(|| account_not_found(account_id))?;
    Ok(tx)
}

/// Inserts a device in `state`; the unique index turns a second active device into `Conflict`.
async fn insert_device(
    conn: &mut PgConnection,
    device: &NewDevice,
    state: DeviceState,
    now: i64,
) -> Result<(), StoreError> {
    let confirmed_at = (state == DeviceState::Active).then_some(now);
    sqlx::query(
        "INSERT INTO devices (id, account_id, kind, algorithm, digits, period, sealed_seed, \
         sealed_pin, last_step, state, label, created_at, confirmed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&device.id)
    .bind(&device.account_id)
    .bind(device.kind.as_str())
    .bind(device.algorithm.as_str())
    .bind(i64::from(device.digits))
    .bind(i64::from(device.period))
    .bind(&device.sealed_seed)
    .bind(&device.sealed_pin)
    .bind(device.last_step)
    .bind(state.as_str())
    .bind(&device.label)
    .bind(now)
    .bind(confirmed_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, || active_device_conflict(&device.account_id)))?;
    Ok(())
}

/// [`Store::bind_device`](crate::store::Store::bind_device).
pub(super) async fn bind(
    pool: &PgPool,
    device: &NewDevice,
    replace: bool,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = lock_account_row(pool, &device.account_id).await?;
    if replace {
        sqlx::query("DELETE FROM devices WHERE account_id = $1")
            .bind(&device.account_id)
            .execute(&mut *tx)
            .await?;
    }
    insert_device(&mut tx, device, DeviceState::Active, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Locks the rows of the accounts `ids` (in ID order) and returns the existing ones, each with whether it has
/// an active device (read after the locks are held, so no concurrent change of these accounts is missed).
async fn lock_accounts(
    conn: &mut PgConnection,
    ids: &[&str],
) -> Result<HashMap<String, bool>, StoreError> {
    let existing: Vec<String> =
        sqlx::query_scalar("SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
    let active: Vec<String> = sqlx::query_scalar(
        "SELECT account_id FROM devices WHERE account_id = ANY($1) AND state = 'active'",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut states: HashMap<String, bool> = existing.into_iter().map(|id| (id, false)).collect();
    states.extend(active.into_iter().map(|id| (id, true)));
    Ok(states)
}

/// Inserts `devices` as active in one statement.
async fn insert_active(
    conn: &mut PgConnection,
    devices: &[NewDevice],
    now: i64,
) -> Result<(), StoreError> {
    let text = |f: fn(&NewDevice) -> &str| devices.iter().map(f).collect::<Vec<_>>();
    let int =
        |f: fn(&NewDevice) -> u32| devices.iter().map(|d| i64::from(f(d))).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO devices (id, account_id, kind, algorithm, digits, period, sealed_seed, \
         sealed_pin, last_step, state, label, created_at, confirmed_at) \
         SELECT u.id, u.account_id, u.kind, u.algorithm, u.digits, u.period, u.sealed_seed, \
         u.sealed_pin, u.last_step, 'active', u.label, $11, $11 \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], \
         $7::bytea[], $8::bytea[], $9::int8[], $10::text[]) \
         AS u (id, account_id, kind, algorithm, digits, period, sealed_seed, sealed_pin, last_step, label)",
    )
    .bind(text(|d| &d.id))
    .bind(text(|d| &d.account_id))
    .bind(text(|d| d.kind.as_str()))
    .bind(text(|d| d.algorithm.as_str()))
    .bind(int(|d| d.digits))
    .bind(int(|d| d.period))
    .bind(devices.iter().map(|d| d.sealed_seed.as_slice()).collect::<Vec<_>>())
    .bind(devices.iter().map(|d| d.sealed_pin.as_deref()).collect::<Vec<_>>())
    .bind(devices.iter().map(|d| d.last_step).collect::<Vec<_>>())
    .bind(devices.iter().map(|d| d.label.as_deref()).collect::<Vec<_>>())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, device_batch_conflict))?;
    Ok(())
}

/// [`Store::bind_devices`](crate::store::Store::bind_devices): one transaction under the accounts' locks.
pub(super) async fn bind_many(
    pool: &PgPool,
    devices: &[NewDevice],
    replace: bool,
    now: i64,
) -> Result<u64, StoreError> {
    reject_duplicate_accounts(devices)?;
    if devices.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = devices.iter().map(|d| d.account_id.as_str()).collect();
    let mut tx = pool.begin().await?;
    let states = lock_accounts(&mut tx, &ids).await?;
    check_bindable(devices, &states, replace)?;
    if replace {
        sqlx::query("DELETE FROM devices WHERE account_id = ANY($1)")
            .bind(ids.as_slice())
            .execute(&mut *tx)
            .await?;
    }
    insert_active(&mut tx, devices, now).await?;
    tx.commit().await?;
    Ok(devices.len() as u64)
}

/// [`Store::begin_enrollment`](crate::store::Store::begin_enrollment).
pub(super) async fn begin_enrollment(
    pool: &PgPool,
    device: &NewDevice,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = lock_account_row(pool, &device.account_id).await?;
    replace_pending(&mut tx, device, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Inside a transaction holding the account row's lock: stores `device` as the account's one pending device
/// (its earlier pending devices go). `Conflict` if the account has an active device.
pub(super) async fn replace_pending(
    conn: &mut PgConnection,
    device: &NewDevice,
    now: i64,
) -> Result<(), StoreError> {
    let active: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM devices WHERE account_id = $1 AND state = 'active'")
            .bind(&device.account_id)
            .fetch_optional(&mut *conn)
            .await?;
    if active.is_some() {
        return Err(StoreError::Conflict(active_device_conflict(
            &device.account_id,
        )));
    }
    sqlx::query("DELETE FROM devices WHERE account_id = $1 AND state = 'pending'")
        .bind(&device.account_id)
        .execute(&mut *conn)
        .await?;
    insert_device(conn, device, DeviceState::Pending, now).await
}

/// [`Store::confirm_enrollment`](crate::store::Store::confirm_enrollment): activates the device and drops the
/// account's other pending devices.
pub(super) async fn confirm_enrollment(
    pool: &PgPool,
    device_id: &str,
    step: i64,
    now: i64,
) -> Result<(), StoreError> {
    let account_id = pending_device_account(pool, device_id).await?;
    let mut tx = lock_account_row(pool, &account_id).await?;
    activate_pending(&mut tx, &account_id, device_id, step, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The account of a pending device (`NotFound` if it is not pending).
pub(super) async fn pending_device_account(
    pool: &PgPool,
    device_id: &str,
) -> Result<String, StoreError> {
    sqlx::query_scalar("SELECT account_id FROM devices WHERE id = $1 AND state = 'pending'")
        .bind(device_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("pending device {device_id}")))
}

/// Inside a transaction holding the account row's lock: the pending device becomes active with `step` used
/// up, the account's other pending devices go. `Conflict` if the account has an active device; `NotFound` if
/// the device is not pending (any more). `last_used_at` stays empty: it is the last VPN login, and the first
/// code is not one.
pub(super) async fn activate_pending(
    conn: &mut PgConnection,
    account_id: &str,
    device_id: &str,
    step: i64,
    now: i64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE devices SET state = 'active', last_step = $2, confirmed_at = $3 \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(device_id)
    .bind(step)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, || active_device_conflict(account_id)))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("pending device {device_id}")));
    }
    sqlx::query("DELETE FROM devices WHERE account_id = $1 AND state = 'pending'")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// [`Store::active_device`](crate::store::Store::active_device).
pub(super) async fn active(pool: &PgPool, account_id: &str) -> Result<Option<Device>, StoreError> {
    sqlx::query_as::<_, DeviceRow>(
        "SELECT * FROM devices WHERE account_id = $1 AND state = 'active'",
    )
    .bind(account_id)
    .fetch_optional(pool)
    .await?
    .map(Device::try_from)
    .transpose()
}

/// [`Store::device`](crate::store::Store::device).
pub(super) async fn by_id(pool: &PgPool, device_id: &str) -> Result<Option<Device>, StoreError> {
    sqlx::query_as::<_, DeviceRow>("SELECT * FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(pool)
        .await?
        .map(Device::try_from)
        .transpose()
}

/// [`Store::reset_devices`](crate::store::Store::reset_devices) (under the account lock, like every device change).
pub(super) async fn reset(pool: &PgPool, account_id: &str) -> Result<u64, StoreError> {
    let mut tx = match lock_account_row(pool, account_id).await {
        Ok(tx) => tx,
        Err(StoreError::NotFound(_)) => return Ok(0),
        Err(e) => return Err(e),
    };
    let done = sqlx::query("DELETE FROM devices WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// [`Store::use_step_for_proof`](crate::store::Store::use_step_for_proof): the replay guard without the login
/// time.
pub(super) async fn use_step_for_proof(
    pool: &PgPool,
    device_id: &str,
    step: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE devices SET last_step = $1, last_use_fingerprint = NULL \
         WHERE id = $2 AND state = 'active' AND (last_step IS NULL OR last_step < $1)",
    )
    .bind(step)
    .bind(device_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The replay guard, [`Store::record_accepted_step`](crate::store::Store::record_accepted_step): one statement.
pub(super) async fn record_accepted_step(
    pool: &PgPool,
    device_id: &str,
    step: i64,
    now: i64,
    fingerprint: Option<&[u8]>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE devices SET last_step = $1, last_used_at = $3, last_use_fingerprint = $4 \
         WHERE id = $2 AND state = 'active' AND (last_step IS NULL OR last_step < $1)",
    )
    .bind(step)
    .bind(device_id)
    .bind(now)
    .bind(fingerprint)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
