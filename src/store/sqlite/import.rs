//! SQLite: the bulk account import (shared part in `store/import.rs`) — all rows in one write transaction,
//! several hundred rows per statement.
//!
//! 10,000 accounts take about 0.2 s (debug build, file database) this way, against 3.5 s with one
//! statement per row: the cost is the round trip per statement, not SQLite.

use sqlx::sqlite::SqlitePool;

use super::begin_write;

crate::store::import::import_queries!(SqlitePool);

/// Accounts per multi-row upsert statement (10 parameters each, far below SQLite's 32,766 limit).
const IMPORT_CHUNK: usize = 500;

/// The upsert of `rows` accounts. Only placeholders are generated, never values.
fn upsert_sql(rows: usize) -> String {
    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"; rows].join(", ");
    format!(
        "INSERT INTO accounts (id, name, phone, email, password_hash, status, expires_on, groups, \
         failures, created_at, updated_at) VALUES {values} \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone, \
         email = excluded.email, \
         password_hash = COALESCE(excluded.password_hash, accounts.password_hash), \
         expires_on = excluded.expires_on, groups = excluded.groups, updated_at = excluded.updated_at"
    )
}

/// The number of accounts.
async fn count_accounts(conn: &mut sqlx::SqliteConnection) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(&mut *conn)
        .await?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("account count {n}")))
}

/// Upserts `values` in one write transaction, [`IMPORT_CHUNK`] rows per statement (each distinct statement is
/// prepared once and cached by the connection); returns how many accounts it created.
async fn upsert_accounts(
    pool: &SqlitePool,
    values: &[AccountValues<'_>],
    now: i64,
) -> Result<u64, StoreError> {
    // The write lock is held from the first statement, and IDs are unique within the batch, so the
    // growth of the table is exactly the number of accounts created.
    let mut tx = begin_write(pool).await?;
    let before = count_accounts(&mut tx).await?;
    for chunk in values.chunks(IMPORT_CHUNK) {
        let sql = upsert_sql(chunk.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in chunk {
            let a = v.account;
            query = query
                .bind(&a.id)
                .bind(&a.name)
                .bind(&a.phone)
                .bind(&a.email)
                .bind(&a.password_hash)
                .bind(a.status.as_str())
                .bind(&v.expires_on)
                .bind(&v.groups)
                .bind(now)
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    let created = count_accounts(&mut tx).await?.saturating_sub(before);
    tx.commit().await?;
    Ok(created)
}
