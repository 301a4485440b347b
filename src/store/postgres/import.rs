//! PostgreSQL: the bulk account import — the whole batch as one `INSERT ... SELECT FROM UNNEST(...)`.

use sqlx::postgres::PgPool;

use super::column;
use crate::store::rows::{AccountValues, reject_duplicate_ids};
use crate::store::{AccountUpsert, ImportSummary, StoreError};

/// The import as one `INSERT ... SELECT FROM UNNEST(...)`: one round trip, atomic by itself. `xmax = 0`
/// holds exactly for rows this statement inserted (an updated row carries the updating transaction's ID).
async fn upsert_accounts(
    pool: &PgPool,
    values: &[AccountValues<'_>],
    now: i64,
) -> Result<Vec<bool>, StoreError> {
    Ok(sqlx::query_scalar(
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
    .await?)
}

/// [`Store::import_accounts`](crate::store::Store::import_accounts): one statement, so all or nothing.
pub(super) async fn import_accounts(
    pool: &PgPool,
    accounts: &[AccountUpsert],
    now: i64,
) -> Result<ImportSummary, StoreError> {
    reject_duplicate_ids(accounts)?;
    let values = accounts
        .iter()
        .map(AccountValues::new)
        .collect::<Result<Vec<_>, _>>()?;
    let created = upsert_accounts(pool, &values, now).await?;
    let new = created.iter().filter(|c| **c).count() as u64;
    Ok(ImportSummary {
        created: new,
        updated: created.len() as u64 - new,
    })
}
