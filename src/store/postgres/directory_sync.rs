//! PostgreSQL: applying a directory sync (shared part in `store/directory_sync.rs`) — one transaction of four
//! statements whatever the size: the upsert as `INSERT ... SELECT FROM UNNEST(...)`, the row locks of the
//! status changes in ID order, the disables and the re-enables as array statements.

use sqlx::postgres::PgPool;

use crate::store::directory_sync::SyncValues;
use crate::store::{StoreError, SyncApplied, SyncWrite};

pub(super) async fn apply_sync(
    pool: &PgPool,
    sync: &SyncWrite,
    now: i64,
) -> Result<SyncApplied, StoreError> {
    let values = SyncValues::new(sync)?;
    let u = &values.upserts;
    let mut tx = pool.begin().await?;
    let mut created = 0;
    if !u.is_empty() {
        // `xmax = 0` holds exactly for rows this statement inserted.
        let inserted: Vec<bool> = sqlx::query_scalar(
            "INSERT INTO accounts (id, name, phone, email, status, expires_on, groups, directory_dn, \
             failures, created_at, updated_at) \
             SELECT u.id, u.name, u.phone, u.email, u.status, u.expires_on, u.groups, u.directory_dn, \
             0, $9, $9 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[]) WITH ORDINALITY \
             AS u (id, name, phone, email, status, expires_on, groups, directory_dn, n) ORDER BY u.n \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone, \
             email = excluded.email, expires_on = excluded.expires_on, groups = excluded.groups, \
             directory_dn = excluded.directory_dn, updated_at = excluded.updated_at \
             RETURNING (xmax = 0)",
        )
        .bind(u.iter().map(|v| v.id).collect::<Vec<_>>())
        .bind(u.iter().map(|v| v.name).collect::<Vec<_>>())
        .bind(u.iter().map(|v| v.phone).collect::<Vec<_>>())
        .bind(u.iter().map(|v| v.email).collect::<Vec<_>>())
        .bind(u.iter().map(|v| v.status).collect::<Vec<_>>())
        .bind(u.iter().map(|v| v.expires_on.as_deref()).collect::<Vec<_>>())
        .bind(u.iter().map(|v| v.groups.as_str()).collect::<Vec<_>>())
        .bind(u.iter().map(|v| v.directory_dn).collect::<Vec<_>>())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        created = inserted.iter().filter(|i| **i).count() as u64;
    }
    let mut changing: Vec<&str> = values.disable.clone();
    changing.extend(
        values
            .enable
            .iter()
            .flat_map(|(_, ids)| ids.iter().copied()),
    );
    if changing.is_empty() {
        tx.commit().await?;
        return Ok(SyncApplied {
            created,
            updated: (u.len() as u64).saturating_sub(created),
            ..SyncApplied::default()
        });
    }
    changing.sort_unstable();
    sqlx::query("SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&changing)
        .fetch_all(&mut *tx)
        .await?;
    let disabled = sqlx::query(
        "UPDATE accounts SET status = 'disabled', sync_disabled = TRUE, updated_at = $2 \
         WHERE id = ANY($1) AND status <> 'disabled'",
    )
    .bind(&values.disable)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let mut enabled = 0;
    for (status, ids) in &values.enable {
        enabled += sqlx::query(
            "UPDATE accounts SET status = $2, sync_disabled = FALSE, updated_at = $3 \
             WHERE id = ANY($1) AND sync_disabled AND status = 'disabled'",
        )
        .bind(ids)
        .bind(status.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(SyncApplied {
        created,
        updated: (u.len() as u64).saturating_sub(created),
        disabled,
        enabled,
    })
}
