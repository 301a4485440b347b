//! RADIUS session state — outstanding challenges (single use, shared by every node) and accounting — for both
//! backends. The SQL is the same text on SQLite and PostgreSQL (`$n` placeholders, `DELETE ... RETURNING`), so it
//! is written once and instantiated per pool type by [`session_queries!`].

/// Defines the session functions for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! session_queries {
    ($pool:ty) => {
        use crate::store::rows::ChallengeRow;
        use crate::store::{AccountingEntry, Challenge, NewChallenge, StoreError};

        pub(super) async fn create_challenge(
            pool: &$pool,
            challenge: &NewChallenge,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO challenges (state_hash, account_id, client, device_id, purpose, counter, expires_at, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&challenge.state_hash)
            .bind(&challenge.account_id)
            .bind(&challenge.client)
            .bind(&challenge.device_id)
            .bind(challenge.purpose.as_str())
            .bind(challenge.counter)
            .bind(challenge.expires_at)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        }

        /// Deletes and returns the challenge in one statement, so only one request (on any node) can answer it.
        pub(super) async fn take_challenge(
            pool: &$pool,
            state_hash: &[u8],
            now: i64,
        ) -> Result<Option<Challenge>, StoreError> {
            let row = sqlx::query_as::<_, ChallengeRow>(
                "DELETE FROM challenges WHERE state_hash = $1 \
                 RETURNING account_id, client, device_id, purpose, counter, expires_at",
            )
            .bind(state_hash)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(row) => Challenge::try_from(row).map(|c| (c.expires_at > now).then_some(c)),
                None => Ok(None),
            }
        }

        pub(super) async fn purge_expired(pool: &$pool, now: i64) -> Result<u64, StoreError> {
            let done = sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        }

        pub(super) async fn record_accounting(
            pool: &$pool,
            entry: &AccountingEntry,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO accounting (at, client, user_name, status_type, session_id, nas_ip, calling_station_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(now)
            .bind(&entry.client)
            .bind(&entry.user_name)
            .bind(entry.status_type.map(i64::from))
            .bind(&entry.session_id)
            .bind(&entry.nas_ip)
            .bind(&entry.calling_station_id)
            .execute(pool)
            .await?;
            Ok(())
        }
    };
}

pub(super) use session_queries;
