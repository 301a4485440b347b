//! The bulk account import ([`AccountStore::import_accounts`](crate::store::AccountStore::import_accounts)) for both
//! backends: the checks and the summary are written once and instantiated per pool type by
//! [`import_queries!`]. Each backend's `import.rs` supplies `upsert_accounts(pool, values, now)`, the upsert
//! of the whole batch, all or nothing, returning how many accounts it created (SQLite: one write transaction
//! of multi-row statements, counting the table before and after; PostgreSQL: one `INSERT ... SELECT FROM
//! UNNEST(...)` that reports each row's insert).

/// Defines `import_accounts` for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! import_queries {
    ($pool:ty) => {
        use crate::store::rows::{AccountValues, reject_duplicate_ids};
        use crate::store::{AccountUpsert, ImportSummary, StoreError};

        /// [`AccountStore::import_accounts`](crate::store::AccountStore::import_accounts): IDs are unique within the batch,
        /// so every account is either created or updated.
        pub(super) async fn import_accounts(
            pool: &$pool,
            accounts: &[AccountUpsert],
            now: i64,
        ) -> Result<ImportSummary, StoreError> {
            reject_duplicate_ids(accounts)?;
            let values = accounts
                .iter()
                .map(AccountValues::new)
                .collect::<Result<Vec<_>, _>>()?;
            let created = upsert_accounts(pool, &values, now).await?;
            Ok(ImportSummary {
                created,
                updated: (values.len() as u64).saturating_sub(created),
            })
        }
    };
}

pub(super) use import_queries;
