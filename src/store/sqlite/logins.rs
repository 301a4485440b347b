//! SQLite: the batched operations of the login path — reading many accounts with their active devices, and
//! recording many accepted logins (replay guard + success bookkeeping) in one transaction.
//!
//! A batch travels as one JSON array bound to one parameter and unpacked with `json_each`, so every batch
//! size uses the same prepared statement and costs a few round trips to the connection's thread, whatever
//! its length. Blobs (fingerprints) travel as hex and are turned back with `unhex`.

use std::collections::HashSet;

use serde_json::json;
use sqlx::sqlite::SqlitePool;

use crate::store::rows::{LoginRow, rounds};
use crate::store::{AcceptedLogin, LoginRecord, StoreError};

/// A blob column as hex, or JSON null.
macro_rules! hex_or_null {
    ($column:literal) => {
        concat!(
            "CASE WHEN ",
            $column,
            " IS NULL THEN NULL ELSE hex(",
            $column,
            ") END"
        )
    };
}

/// The batched read: ONE result row holding a JSON array of accounts, each with its active device. (The
/// driver hands every result row over from its connection thread separately, at a context switch each; one
/// row for the batch costs one.)
const LOGIN_RECORDS: &str = concat!(
    "SELECT json_group_array(json_object(",
    "'id', a.id, 'name', a.name, 'phone', a.phone, 'email', a.email, 'password_hash', a.password_hash, ",
    "'status', a.status, 'expires_on', a.expires_on, 'groups', a.groups, 'failures', a.failures, ",
    "'locked_until', a.locked_until, 'last_login_at', a.last_login_at, 'created_at', a.created_at, ",
    "'updated_at', a.updated_at, 'sms_fallback', CASE WHEN a.sms_fallback IS NULL THEN NULL ",
    "WHEN a.sms_fallback THEN json('true') ELSE json('false') END, 'device', json((SELECT json_object(",
    "'id', d.id, 'account_id', d.account_id, 'kind', d.kind, 'algorithm', d.algorithm, 'digits', d.digits, ",
    "'period', d.period, 'sealed_seed', hex(d.sealed_seed), 'sealed_pin', ",
    hex_or_null!("d.sealed_pin"),
    ", ",
    "'last_step', d.last_step, 'state', d.state, 'label', d.label, 'created_at', d.created_at, ",
    "'confirmed_at', d.confirmed_at, 'last_used_at', d.last_used_at, ",
    "'last_use_fingerprint', ",
    hex_or_null!("d.last_use_fingerprint"),
    ") ",
    "FROM devices AS d WHERE d.account_id = a.id AND d.state = 'active')))) ",
    "FROM accounts AS a WHERE a.id IN (SELECT value FROM json_each($1))"
);

/// [`Store::login_records`](crate::store::Store::login_records): one statement, one result row.
pub(super) async fn login_records(
    pool: &SqlitePool,
    ids: &[String],
) -> Result<Vec<LoginRecord>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids_json = serde_json::to_string(ids)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode account IDs: {e}")))?;
    let rows: String = sqlx::query_scalar(LOGIN_RECORDS)
        .bind(&ids_json)
        .fetch_one(pool)
        .await?;
    let rows: Vec<LoginRow> = serde_json::from_str(&rows)
        .map_err(|e| StoreError::Corrupt(format!("accounts or devices: {e}")))?;
    rows.into_iter().map(LoginRecord::try_from).collect()
}

/// [`Store::record_accepted_logins`](crate::store::Store::record_accepted_logins): per round ONE
/// compare-and-set statement (atomic and committed on its own, before anyone is answered), then one statement
/// for the winners' success bookkeeping. No explicit transaction: each `BEGIN`/`COMMIT` would be one more
/// round trip to the connection's thread, and the rounds need none (a later round only ever sees what the
/// earlier one committed, exactly as sequential logins would). If the bookkeeping fails after a round
/// committed, the error is returned: the code is used up, and the login is not answered (fail closed).
pub(super) async fn record_accepted_logins(
    pool: &SqlitePool,
    logins: &[AcceptedLogin],
) -> Result<Vec<bool>, StoreError> {
    let mut won = vec![false; logins.len()];
    if logins.is_empty() {
        return Ok(won);
    }
    let mut conn = pool.acquire().await?;
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
               AND NOT EXISTS (SELECT 1 FROM accounts AS a \
                               WHERE a.id = devices.account_id AND a.locked_until > v.now) \
             RETURNING devices.id",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .fetch_all(&mut *conn)
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
        // As the hot path does (`RECORD_SUCCESS`): only accounts with failures or an expired lock are written.
        sqlx::query(
            "UPDATE accounts SET failures = 0, \
             locked_until = CASE WHEN locked_until > v.now THEN locked_until ELSE NULL END \
             FROM (SELECT json_extract(value, '$.a') AS id, max(json_extract(value, '$.n')) AS now \
                   FROM json_each($1) GROUP BY 1) AS v \
             WHERE accounts.id = v.id \
               AND (accounts.failures <> 0 OR accounts.locked_until <= v.now)",
        )
        .bind(serde_json::Value::Array(successes).to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(won)
}
