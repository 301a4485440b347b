//! SQLite: the batched operations of the login path — reading many accounts with their active devices, and
//! recording many accepted logins (replay guard + success bookkeeping) in one transaction.
//!
//! A batch travels as one JSON array bound to one parameter and unpacked with `json_each`, so every batch
//! size uses the same prepared statement and costs a few round trips to the connection's thread, whatever
//! its length. Blobs (fingerprints) travel as hex and are turned back with `unhex`.

use std::collections::HashSet;

use serde_json::json;
use sqlx::sqlite::SqlitePool;

use super::begin_write;
use crate::store::rows::{AccountRow, DeviceRow, join_records, rounds};
use crate::store::{AcceptedLogin, LoginRecord, StoreError};

/// [`Store::login_records`](crate::store::Store::login_records): two statements for the whole batch.
pub(super) async fn login_records(
    pool: &SqlitePool,
    ids: &[String],
) -> Result<Vec<LoginRecord>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids_json = serde_json::to_string(ids)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode account IDs: {e}")))?;
    let mut conn = pool.acquire().await?;
    let accounts = sqlx::query_as::<_, AccountRow>(
        "SELECT * FROM accounts WHERE id IN (SELECT value FROM json_each($1))",
    )
    .bind(&ids_json)
    .fetch_all(&mut *conn)
    .await?;
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let devices = sqlx::query_as::<_, DeviceRow>(
        "SELECT * FROM devices WHERE state = 'active' AND account_id IN (SELECT value FROM json_each($1))",
    )
    .bind(&ids_json)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    join_records(accounts, devices)
}

/// [`Store::record_accepted_logins`](crate::store::Store::record_accepted_logins): one `BEGIN IMMEDIATE`
/// transaction with one compare-and-set statement per round and one success update.
pub(super) async fn record_accepted_logins(
    pool: &SqlitePool,
    logins: &[AcceptedLogin],
) -> Result<Vec<bool>, StoreError> {
    let mut won = vec![false; logins.len()];
    if logins.is_empty() {
        return Ok(won);
    }
    let mut tx = begin_write(pool).await?;
    for round in rounds(logins) {
        let rows: Vec<serde_json::Value> = round
            .iter()
            .filter_map(|&i| logins.get(i))
            .map(|l| {
                json!({
                    "d": l.device_id,
                    "s": l.step,
                    "n": l.now,
                    "f": l.fingerprint.as_deref().map(hex::encode),
                })
            })
            .collect();
        let updated: Vec<String> = sqlx::query_scalar(
            "UPDATE devices SET last_step = v.step, last_used_at = v.now, last_use_fingerprint = unhex(v.fp) \
             FROM (SELECT json_extract(value, '$.d') AS id, json_extract(value, '$.s') AS step, \
                          json_extract(value, '$.n') AS now, json_extract(value, '$.f') AS fp \
                   FROM json_each($1)) AS v \
             WHERE devices.id = v.id AND devices.state = 'active' \
               AND (devices.last_step IS NULL OR devices.last_step < v.step) \
             RETURNING devices.id",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .fetch_all(&mut *tx)
        .await?;
        let updated: HashSet<String> = updated.into_iter().collect();
        for i in round {
            if let (Some(flag), Some(login)) = (won.get_mut(i), logins.get(i)) {
                *flag = updated.contains(&login.device_id);
            }
        }
    }
    let successes: Vec<serde_json::Value> = logins
        .iter()
        .zip(&won)
        .filter(|(_, won)| **won)
        .map(|(l, _)| json!({ "a": l.account_id, "n": l.now }))
        .collect();
    if !successes.is_empty() {
        sqlx::query(
            "UPDATE accounts SET failures = 0, locked_until = NULL, last_login_at = v.now \
             FROM (SELECT json_extract(value, '$.a') AS id, max(json_extract(value, '$.n')) AS now \
                   FROM json_each($1) GROUP BY 1) AS v \
             WHERE accounts.id = v.id",
        )
        .bind(serde_json::Value::Array(successes).to_string())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(won)
}
