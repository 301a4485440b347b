//! SQLite: the device operations; the bodies are shared with PostgreSQL, see `store/devices.rs`. What is
//! SQLite's own: device changes are serialised by SQLite's single writer, so their transactions start with
//! `BEGIN IMMEDIATE` (see the parent module) and check the account inside it; a seed import is one such
//! transaction with a few hundred rows per statement (the cost of a statement is its round trip, as for the
//! account import).

use std::collections::HashMap;

use sqlx::SqliteConnection;
use sqlx::sqlite::SqlitePool;

use super::begin_write;
use crate::store::rows::device_batch_conflict;

crate::store::devices::device_queries!(SqlitePool, SqliteConnection, for_update = "");

type SqliteTx = sqlx::Transaction<'static, sqlx::Sqlite>;

/// A write transaction in which the account exists (`NotFound` if it does not).
pub(super) async fn begin_device_change(
    pool: &SqlitePool,
    account_id: &str,
) -> Result<SqliteTx, StoreError> {
    let mut tx = begin_write(pool).await?;
    find_account(&mut tx, account_id).await?;
    Ok(tx)
}

/// A write transaction and the account of the pending device (`NotFound` if it is not pending).
pub(super) async fn begin_pending_device_change(
    pool: &SqlitePool,
    device_id: &str,
) -> Result<(SqliteTx, String), StoreError> {
    let mut tx = begin_write(pool).await?;
    let account_id = pending_device_account(&mut *tx, device_id).await?;
    Ok((tx, account_id))
}

/// Devices per multi-row `INSERT` (12 parameters each) and account IDs per `IN (...)` list; far below SQLite's
/// 32,766 parameters.
const BATCH_CHUNK: usize = 500;

/// `n` placeholders for an `IN (...)` list. Only placeholders are generated, never values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A write transaction, and the accounts of `ids` that exist, each with whether it has an active device.
async fn begin_bulk_device_change(
    pool: &SqlitePool,
    ids: &[&str],
) -> Result<(SqliteTx, HashMap<String, bool>), StoreError> {
    let mut tx = begin_write(pool).await?;
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
        states.extend(query.fetch_all(&mut *tx).await?);
    }
    Ok((tx, states))
}

/// Removes every device of the accounts `ids`.
async fn delete_devices_of(conn: &mut SqliteConnection, ids: &[&str]) -> Result<(), StoreError> {
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
    conn: &mut SqliteConnection,
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
