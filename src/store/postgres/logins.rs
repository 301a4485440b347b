//! PostgreSQL: the batched operations of the login path — reading many accounts with their active devices,
//! and recording many accepted logins (replay guard + success bookkeeping) in one transaction.
//!
//! A batch travels as arrays (`= ANY($1)`, `UNNEST`), so every batch size uses the same prepared statement.
//! Several nodes may record logins of the same devices at once: each batch locks its devices, then its
//! winners' accounts, in ID order (`SELECT ... ORDER BY id FOR UPDATE`), so concurrent batches never wait on
//! each other in a cycle; a batch that still loses a deadlock (against an admin transaction, which locks
//! account-then-devices) is retried as a whole: it committed nothing.

use std::collections::HashSet;

use sqlx::postgres::PgPool;

use super::super::rows::{AccountRow, DeviceRow, join_records, rounds};
use crate::audit::{AuditChain, AuditEvent};
use crate::store::{AcceptedLogin, LoginRecord, StoreError};

/// How often a batch that lost a deadlock or a serialisation conflict is tried again.
const RETRIES: u32 = 3;

/// The records of a batch of logins ([`crate::store::LoginStore::login_record`] for many): two statements.
pub(super) async fn login_records(
    pool: &PgPool,
    ids: &[String],
) -> Result<Vec<LoginRecord>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let accounts = sqlx::query_as::<_, AccountRow>("SELECT * FROM accounts WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(pool)
        .await?;
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let devices = sqlx::query_as::<_, DeviceRow>(
        "SELECT * FROM devices WHERE state = 'active' AND account_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    join_records(accounts, devices)
}

/// A batch of accepted logins ([`crate::store::LoginStore::record_accepted_login`] for many), retried on deadlock.
pub(super) async fn record_accepted_logins(
    pool: &PgPool,
    chain: &AuditChain,
    logins: &[AcceptedLogin],
) -> Result<Vec<bool>, StoreError> {
    let mut attempt = 1;
    loop {
        match try_record(pool, chain, logins).await {
            Err(StoreError::Backend(error)) if attempt < RETRIES && is_retryable(&error) => {
                tracing::debug!(%error, attempt, "accepted-login batch retried");
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Deadlock detected, or a serialisation failure: the transaction was rolled back.
fn is_retryable(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

async fn try_record(
    pool: &PgPool,
    chain: &AuditChain,
    logins: &[AcceptedLogin],
) -> Result<Vec<bool>, StoreError> {
    let mut won = vec![false; logins.len()];
    if logins.is_empty() {
        return Ok(won);
    }
    let mut tx = pool.begin().await?;
    for mut round in rounds(logins) {
        round.sort_by(|&a, &b| {
            let key = |i: usize| logins.get(i).map(|l| l.device_id.as_str());
            key(a).cmp(&key(b))
        });
        let members: Vec<&AcceptedLogin> = round.iter().filter_map(|&i| logins.get(i)).collect();
        let ids: Vec<&str> = members.iter().map(|l| l.device_id.as_str()).collect();
        let steps: Vec<i64> = members.iter().map(|l| l.step).collect();
        let nows: Vec<i64> = members.iter().map(|l| l.now).collect();
        let fingerprints: Vec<Option<&[u8]>> =
            members.iter().map(|l| l.fingerprint.as_deref()).collect();
        // Lock the round's devices in ID order first: an UPDATE ... FROM locks rows in the order its join
        // meets them, and two nodes' batches meeting the same devices in different orders would deadlock
        // (PostgreSQL notices only after deadlock_timeout, 1 s by default).
        sqlx::query("SELECT 1 FROM devices WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        let updated: Vec<String> = sqlx::query_scalar(
            "UPDATE devices AS d SET last_step = v.step, last_used_at = v.now, last_use_fingerprint = v.fp \
             FROM (SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::bytea[]) \
                   AS u(id, step, now, fp) ORDER BY id) AS v \
             WHERE d.id = v.id AND d.state = 'active' AND (d.last_step IS NULL OR d.last_step < v.step) \
               AND NOT EXISTS (SELECT 1 FROM accounts AS a \
                               WHERE a.id = d.account_id AND a.locked_until > v.now) \
             RETURNING d.id",
        )
        .bind(&ids)
        .bind(&steps)
        .bind(&nows)
        .bind(&fingerprints)
        .fetch_all(&mut *tx)
        .await?;
        let updated: HashSet<String> = updated.into_iter().collect();
        for i in round {
            if let (Some(flag), Some(login)) = (won.get_mut(i), logins.get(i)) {
                *flag = updated.contains(&login.device_id);
            }
        }
    }
    let mut winners: Vec<(&str, i64)> = logins
        .iter()
        .zip(&won)
        .filter(|(_, won)| **won)
        .map(|(l, _)| (l.account_id.as_str(), l.now))
        .collect();
    if !winners.is_empty() {
        winners.sort_unstable();
        let ids: Vec<&str> = winners.iter().map(|w| w.0).collect();
        let nows: Vec<i64> = winners.iter().map(|w| w.1).collect();
        // Only accounts with failures or a lock to clear are locked and written: the login's time is on its
        // device (`last_used_at`), so a login writes one row, not two. Locked in ID order first, as the
        // devices are. (An account whose failure another node records meanwhile keeps its count.)
        let dirty: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM accounts WHERE id = ANY($1) \
               AND (failures <> 0 OR locked_until IS NOT NULL) ORDER BY id FOR UPDATE",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        if !dirty.is_empty() {
            sqlx::query(
                "UPDATE accounts AS a SET failures = 0, \
                 locked_until = CASE WHEN a.locked_until > v.now THEN a.locked_until ELSE NULL END \
                 FROM (SELECT id, max(now) AS now FROM UNNEST($1::text[], $2::int8[]) AS u(id, now) \
                       GROUP BY id ORDER BY id) AS v \
                 WHERE a.id = v.id AND a.id = ANY($3) \
                   AND (a.failures <> 0 OR a.locked_until <= v.now)",
            )
            .bind(&ids)
            .bind(&nows)
            .bind(&dirty)
            .execute(&mut *tx)
            .await?;
        }
    }
    // The winners' audit rows in the same transaction: an Accept is never answered before its row is stored.
    let events: Vec<&AuditEvent> = logins
        .iter()
        .zip(&won)
        .filter_map(|(login, &won)| if won { login.audit.as_ref() } else { None })
        .collect();
    super::append_audit_in(&mut tx, chain, &events).await?;
    tx.commit().await?;
    Ok(won)
}
