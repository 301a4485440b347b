//! PostgreSQL: SMS codes and rate limits; the SQL is shared, see `store/sms.rs`. SMS sends of every node are
//! serialised by one advisory transaction lock, so two nodes cannot both pass the same rate limit.

/// The advisory lock key that serialises SMS sends ("motpdsms").
const SMS_LOCK: i64 = 0x6d6f_7470_6473_6d73;

async fn begin_sms(
    pool: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SMS_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

crate::store::sms::sms_queries!(sqlx::PgPool);
