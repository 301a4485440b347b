//! SQLite: applying a directory sync (shared part in `store/directory_sync.rs`) — one write transaction,
//! several hundred rows per statement (each distinct statement prepared once and cached by the connection).

use sqlx::sqlite::SqlitePool;

use super::begin_write;
use crate::store::directory_sync::SyncValues;
use crate::store::{StoreError, SyncApplied, SyncWrite};

/// Rows per multi-row statement (11 parameters per upserted row, far below SQLite's 32,766 limit).
const CHUNK: usize = 500;

/// The upsert of `rows` accounts. Only placeholders are generated, never values.
fn upsert_sql(rows: usize) -> String {
    let values = vec!["(?, ?, ?, ?, NULL, ?, ?, ?, 0, ?, ?, ?)"; rows].join(", ");
    format!(
        "INSERT INTO accounts (id, name, phone, email, password_hash, status, expires_on, groups, \
         failures, created_at, updated_at, directory_dn) VALUES {values} \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone, \
         email = excluded.email, expires_on = excluded.expires_on, groups = excluded.groups, \
         directory_dn = excluded.directory_dn, updated_at = excluded.updated_at"
    )
}

/// `?, ?, ...` for `rows` IDs.
fn id_list(rows: usize) -> String {
    vec!["?"; rows].join(", ")
}

async fn count_accounts(conn: &mut sqlx::SqliteConnection) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(&mut *conn)
        .await?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("account count {n}")))
}

pub(super) async fn apply_sync(
    pool: &SqlitePool,
    sync: &SyncWrite,
    now: i64,
) -> Result<SyncApplied, StoreError> {
    let values = SyncValues::new(sync)?;
    // The write lock is held from the first statement and IDs are unique, so the table's growth is exactly
    // the number of accounts created.
    let mut tx = begin_write(pool).await?;
    let before = count_accounts(&mut tx).await?;
    for chunk in values.upserts.chunks(CHUNK) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(upsert_sql(chunk.len())));
        for v in chunk {
            query = query
                .bind(v.id)
                .bind(v.name)
                .bind(v.phone)
                .bind(v.email)
                .bind(v.status)
                .bind(&v.expires_on)
                .bind(&v.groups)
                .bind(now)
                .bind(now)
                .bind(v.directory_dn);
        }
        query.execute(&mut *tx).await?;
    }
    let created = count_accounts(&mut tx).await?.saturating_sub(before);
    let mut disabled = 0;
    for chunk in values.disable.chunks(CHUNK) {
        let sql = format!(
            "UPDATE accounts SET status = 'disabled', sync_disabled = TRUE, updated_at = ? \
             WHERE status <> 'disabled' AND id IN ({})",
            id_list(chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for id in chunk {
            query = query.bind(*id);
        }
        disabled += query.execute(&mut *tx).await?.rows_affected();
    }
    let mut enabled = 0;
    for (status, ids) in &values.enable {
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "UPDATE accounts SET status = ?, sync_disabled = FALSE, updated_at = ? \
                 WHERE sync_disabled AND status = 'disabled' AND id IN ({})",
                id_list(chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(status.as_str())
                .bind(now);
            for id in chunk {
                query = query.bind(*id);
            }
            enabled += query.execute(&mut *tx).await?.rows_affected();
        }
    }
    tx.commit().await?;
    Ok(SyncApplied {
        created,
        updated: (values.upserts.len() as u64).saturating_sub(created),
        disabled,
        enabled,
    })
}
