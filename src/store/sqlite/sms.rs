//! SQLite: SMS codes and rate limits; the SQL is shared, see `store/sms.rs`. SMS sends are serialised by
//! SQLite's single writer (`BEGIN IMMEDIATE`).

async fn begin_sms(
    pool: &sqlx::sqlite::SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    super::begin_write(pool).await
}

crate::store::sms::sms_queries!(sqlx::sqlite::SqlitePool);
