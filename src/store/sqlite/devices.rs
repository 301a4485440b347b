//! SQLite: the device operations — binding (one device or a seed import), self-service enrollment and the
//! replay guard.
//!
//! "One active device per account" is the partial unique index `devices_one_active_per_account`; the
//! transactions here start with `BEGIN IMMEDIATE` (see the parent module) so their checks and writes cannot
//! interleave with another writer's. A seed import is one such transaction with a few hundred rows per
//! statement (the cost of a statement is its round trip, as for the account import).

use std::collections::HashMap;

use sqlx::sqlite::SqlitePool;

use super::begin_write;
use crate::store::rows::{
    DeviceRow, account_not_found, active_device_conflict, check_bindable, conflict_or,
    device_batch_conflict, reject_duplicate_accounts,
};
use crate::store::{Device, DeviceState, NewDevice, StoreError};

/// Inserts a device in `state`; the unique index turns a second active device into `Conflict`.
async fn insert_device(
    conn: &mut sqlx::SqliteConnection,
    device: &NewDevice,
    state: DeviceState,
    now: i64,
) -> Result<(), StoreError> {
    let confirmed_at = (state == DeviceState::Active).then_some(now);
    sqlx::query(
        "INSERT INTO devices (id, account_id, kind, algorithm, digits, period, sealed_seed, sealed_pin, \
         last_step, state, label, created_at, confirmed_at) \
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

/// `NotFound` unless the account exists.
async fn require_account(conn: &mut sqlx::SqliteConnection, id: &str) -> Result<(), StoreError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    found.map(|_| ()).ok_or_else(|| account_not_found(id))
}

/// Whether the account has an active device.
async fn has_active_device(
    conn: &mut sqlx::SqliteConnection,
    account_id: &str,
) -> Result<bool, StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM devices WHERE account_id = $1 AND state = 'active'")
            .bind(account_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

/// [`Store::bind_device`](crate::store::Store::bind_device).
pub(super) async fn bind(
    pool: &SqlitePool,
    device: &NewDevice,
    replace: bool,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    require_account(&mut tx, &device.account_id).await?;
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

/// Devices per multi-row `INSERT` (12 parameters each) and account IDs per `IN (...)` list; far below SQLite's
/// 32,766 parameters.
const BATCH_CHUNK: usize = 500;

/// `n` placeholders for an `IN (...)` list. Only placeholders are generated, never values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The accounts of `ids` that exist, each with whether it has an active device.
async fn active_states(
    conn: &mut sqlx::SqliteConnection,
    ids: &[&str],
) -> Result<HashMap<String, bool>, StoreError> {
    let mut states = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH_CHUNK) {
        let sql = format!(
            "SELECT a.id, EXISTS (SELECT 1 FROM devices d WHERE d.account_id = a.id AND d.state = 'active') \
             FROM accounts a WHERE a.id IN ({})",
            placeholders(chunk.len())
        );
        let mut query = sqlx::query_as::<_, (String, bool)>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        states.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(states)
}

/// Removes every device of the accounts `ids`.
async fn delete_devices_of(
    conn: &mut sqlx::SqliteConnection,
    ids: &[&str],
) -> Result<(), StoreError> {
    for chunk in ids.chunks(BATCH_CHUNK) {
        let sql = format!(
            "DELETE FROM devices WHERE account_id IN ({})",
            placeholders(chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts `devices` as active, [`BATCH_CHUNK`] rows per statement.
async fn insert_active(
    conn: &mut sqlx::SqliteConnection,
    devices: &[NewDevice],
    now: i64,
) -> Result<(), StoreError> {
    for chunk in devices.chunks(BATCH_CHUNK) {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO devices (id, account_id, kind, algorithm, digits, period, sealed_seed, sealed_pin, \
             last_step, state, label, created_at, confirmed_at) VALUES {values}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for d in chunk {
            query = query
                .bind(&d.id)
                .bind(&d.account_id)
                .bind(d.kind.as_str())
                .bind(d.algorithm.as_str())
                .bind(i64::from(d.digits))
                .bind(i64::from(d.period))
                .bind(&d.sealed_seed)
                .bind(&d.sealed_pin)
                .bind(d.last_step)
                .bind(&d.label)
                .bind(now)
                .bind(now);
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|e| conflict_or(e, device_batch_conflict))?;
    }
    Ok(())
}

/// [`Store::bind_devices`](crate::store::Store::bind_devices): one write transaction.
pub(super) async fn bind_many(
    pool: &SqlitePool,
    devices: &[NewDevice],
    replace: bool,
    now: i64,
) -> Result<u64, StoreError> {
    reject_duplicate_accounts(devices)?;
    if devices.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = devices.iter().map(|d| d.account_id.as_str()).collect();
    let mut tx = begin_write(pool).await?;
    let states = active_states(&mut tx, &ids).await?;
    check_bindable(devices, &states, replace)?;
    if replace {
        delete_devices_of(&mut tx, &ids).await?;
    }
    insert_active(&mut tx, devices, now).await?;
    tx.commit().await?;
    Ok(devices.len() as u64)
}

/// [`Store::begin_enrollment`](crate::store::Store::begin_enrollment).
pub(super) async fn begin_enrollment(
    pool: &SqlitePool,
    device: &NewDevice,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    replace_pending(&mut tx, device, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Inside a write transaction: stores `device` as the account's one pending device (its earlier pending devices
/// go). `Conflict` if the account has an active device; `NotFound` if there is no such account.
pub(super) async fn replace_pending(
    conn: &mut sqlx::SqliteConnection,
    device: &NewDevice,
    now: i64,
) -> Result<(), StoreError> {
    require_account(conn, &device.account_id).await?;
    if has_active_device(conn, &device.account_id).await? {
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
    pool: &SqlitePool,
    device_id: &str,
    step: i64,
    now: i64,
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    activate_pending(&mut tx, device_id, step, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Inside a write transaction: the pending device becomes active with `step` used up, the account's other
/// pending devices go. `Conflict` if the account has an active device; `NotFound` if the device is not pending.
/// `last_used_at` stays empty: it is the last VPN login, and the first code is not one.
pub(super) async fn activate_pending(
    conn: &mut sqlx::SqliteConnection,
    device_id: &str,
    step: i64,
    now: i64,
) -> Result<(), StoreError> {
    let account_id: String =
        sqlx::query_scalar("SELECT account_id FROM devices WHERE id = $1 AND state = 'pending'")
            .bind(device_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("pending device {device_id}")))?;
    sqlx::query(
        "UPDATE devices SET state = 'active', last_step = $2, confirmed_at = $3 WHERE id = $1",
    )
    .bind(device_id)
    .bind(step)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, || active_device_conflict(&account_id)))?;
    sqlx::query("DELETE FROM devices WHERE account_id = $1 AND state = 'pending'")
        .bind(&account_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// [`Store::active_device`](crate::store::Store::active_device).
pub(super) async fn active(
    pool: &SqlitePool,
    account_id: &str,
) -> Result<Option<Device>, StoreError> {
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
pub(super) async fn by_id(
    pool: &SqlitePool,
    device_id: &str,
) -> Result<Option<Device>, StoreError> {
    sqlx::query_as::<_, DeviceRow>("SELECT * FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(pool)
        .await?
        .map(Device::try_from)
        .transpose()
}

/// [`Store::reset_devices`](crate::store::Store::reset_devices).
pub(super) async fn reset(pool: &SqlitePool, account_id: &str) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM devices WHERE account_id = $1")
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// [`Store::use_step_for_proof`](crate::store::Store::use_step_for_proof): the replay guard without the login
/// time.
pub(super) async fn use_step_for_proof(
    pool: &SqlitePool,
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
    pool: &SqlitePool,
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
