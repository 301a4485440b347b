//! PostgreSQL: the bulk account import (shared part in `store/import.rs`) — the whole batch as one
//! `INSERT ... SELECT FROM UNNEST(...)`.

use sqlx::postgres::PgPool;

use super::column;

crate::store::import::import_queries!(PgPool);

/// The import as one `INSERT ... SELECT FROM UNNEST(...)`: one round trip, atomic by itself; returns how many
/// accounts it created. `xmax = 0` holds exactly for rows this statement inserted (an updated row carries the
/// updating transaction's ID).
async fn upsert_accounts(
    pool: &PgPool,
    values: &[AccountValues<'_>],
    now: i64,
) -> Result<u64, StoreError> {
    let inserted: Vec<bool> = sqlx::query_scalar(
        "INSERT INTO accounts (id, name, phone, email, password_hash, status, expires_on, groups, \
         failures, created_at, updated_at) \
         SELECT u.id, u.name, u.phone, u.email, u.password_hash, u.status, u.expires_on, u.groups, \
         0, $9, $9 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[]) \
         AS u (id, name, phone, email, password_hash, status, expires_on, groups) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone, \
         email = excluded.email, \
         password_hash = COALESCE(excluded.password_hash, accounts.password_hash), \
         expires_on = excluded.expires_on, groups = excluded.groups, \
         updated_at = excluded.updated_at \
         RETURNING (xmax = 0)",
    )
    .bind(column(values, |v| Some(v.account.id.as_str())))
    .bind(column(values, |v| Some(v.account.name.as_str())))
    .bind(column(values, |v| v.account.phone.as_deref()))
    .bind(column(values, |v| v.account.email.as_deref()))
    .bind(column(values, |v| v.account.password_hash.as_deref()))
    .bind(column(values, |v| Some(v.account.status.as_str())))
    .bind(column(values, |v| v.expires_on.as_deref()))
    .bind(column(values, |v| Some(v.groups.as_str())))
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(inserted.iter().filter(|i| **i).count() as u64)
}
