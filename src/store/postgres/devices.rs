//! PostgreSQL: the device operations; the bodies are shared with SQLite, see `store/devices.rs`. What is
//! PostgreSQL's own: every transaction that changes an account's devices first locks the account row, so such
//! changes are serialised per account across nodes and take locks in one order (account, then devices: no
//! deadlocks between them). A seed import locks all its accounts in ID order, so two imports cannot deadlock
//! each other either, and binds its rows as arrays (`ANY`, `INSERT ... SELECT FROM UNNEST(...)`). The partial
//! unique index `devices_one_active_per_account` still guarantees one active device if a writer ever skips
//! the lock.

use std::collections::HashMap;

use sqlx::PgConnection;
use sqlx::postgres::PgPool;

use crate::store::rows::device_batch_conflict;

crate::store::devices::device_queries!(PgPool, PgConnection, for_update = " FOR UPDATE");

type PgTx = sqlx::Transaction<'static, sqlx::Postgres>;

/// A transaction holding the lock on the account row (`NotFound` if there is no such account).
pub(super) async fn begin_device_change(
    pool: &PgPool,
    account_id: &str,
) -> Result<PgTx, StoreError> {
    let mut tx = pool.begin().await?;
    find_account(&mut tx, account_id).await?;
    Ok(tx)
}

/// The account of the pending device (`NotFound` if it is not pending), read first, and a transaction holding
/// that account row's lock; the shared bodies re-check the device under the lock.
pub(super) async fn begin_pending_device_change(
    pool: &PgPool,
    device_id: &str,
) -> Result<(PgTx, String), StoreError> {
    let account_id = pending_device_account(pool, device_id).await?;
    let tx = begin_device_change(pool, &account_id).await?;
    Ok((tx, account_id))
}

/// A transaction holding the locks on the rows of the accounts `ids` (taken in ID order), and the existing
/// ones, each with whether it has an active device (read after the locks are held, so no concurrent change of
/// these accounts is missed).
async fn begin_bulk_device_change(
    pool: &PgPool,
    ids: &[&str],
) -> Result<(PgTx, HashMap<String, bool>), StoreError> {
    let mut tx = pool.begin().await?;
    let existing: Vec<String> =
        sqlx::query_scalar("SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(ids)
            .fetch_all(&mut *tx)
            .await?;
    let active: Vec<String> = sqlx::query_scalar(
        "SELECT account_id FROM devices WHERE account_id = ANY($1) AND state = 'active'",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut states: HashMap<String, bool> = existing.into_iter().map(|id| (id, false)).collect();
    states.extend(active.into_iter().map(|id| (id, true)));
    Ok((tx, states))
}

/// Removes every device of the accounts `ids`, in one statement.
async fn delete_devices_of(conn: &mut PgConnection, ids: &[&str]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM devices WHERE account_id = ANY($1)")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
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
