//! The helpdesk console's data for both backends: its admins (password hash, sealed TOTP seed, replay guard,
//! lockout), their sessions (the enrollment pages' session store, [`super::page_sessions`], of the console
//! kind), and the account search. The SQL is the same text on SQLite and PostgreSQL; [`console_queries!`]
//! instantiates it per pool type and [`console_store_impl!`] implements [`super::ConsoleStore`] with it. No
//! policy: thresholds and times come from the caller.

/// An admin row as read (the columns in the order of the table).
pub(super) type AdminRow = (
    String,
    String,
    String,
    Vec<u8>,
    Option<i64>,
    i32,
    Option<i64>,
    bool,
    i64,
    Option<i64>,
);

/// The admin of a row.
pub(super) fn admin_from_row(row: AdminRow) -> Result<crate::model::Admin, super::StoreError> {
    let (
        name,
        role,
        password_hash,
        sealed_totp,
        totp_last_step,
        failures,
        locked_until,
        disabled,
        created_at,
        last_login_at,
    ) = row;
    let role = admin_role(&name, &role)?;
    Ok(crate::model::Admin {
        name,
        role,
        password_hash,
        sealed_totp,
        totp_last_step,
        failures: u32::try_from(failures).unwrap_or(0),
        locked_until,
        disabled,
        created_at,
        last_login_at,
    })
}

/// The accounts of fetched rows.
pub(super) fn accounts(
    rows: Vec<crate::store::rows::AccountRow>,
) -> Result<Vec<crate::model::Account>, super::StoreError> {
    rows.into_iter()
        .map(crate::model::Account::try_from)
        .collect()
}

/// The stored role of admin `name`; one this version does not know is corrupt data.
pub(super) fn admin_role(
    name: &str,
    role: &str,
) -> Result<crate::model::AdminRole, super::StoreError> {
    crate::model::AdminRole::parse(role)
        .ok_or_else(|| super::StoreError::Corrupt(format!("admin {name} has role {role:?}")))
}

/// A search text as a `LIKE` pattern matching it anywhere, lower-cased, its wildcards escaped (`\`).
pub(super) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Defines the console's functions for one pool type (`sqlx::SqlitePool` or `sqlx::PgPool`).
macro_rules! console_queries {
    ($pool:ty) => {
        use crate::model::{Account, Admin, NewAdmin};
        use crate::store::StoreError;
        use crate::store::console::{AdminRow, accounts, admin_from_row, contains_pattern};

        pub(in crate::store) async fn create_admin(
            pool: &$pool,
            admin: &NewAdmin,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO admins (name, role, password_hash, sealed_totp, totp_last_step, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&admin.name)
            .bind(admin.role.as_str())
            .bind(&admin.password_hash)
            .bind(&admin.sealed_totp)
            .bind(admin.totp_last_step)
            .bind(now)
            .execute(pool)
            .await
            .map_err(|e| {
                crate::store::rows::conflict_or(e, || format!("admin {} already exists", admin.name))
            })?;
            Ok(())
        }

        pub(in crate::store) async fn admin(
            pool: &$pool,
            name: &str,
        ) -> Result<Option<Admin>, StoreError> {
            sqlx::query_as::<_, AdminRow>(
                "SELECT name, role, password_hash, sealed_totp, totp_last_step, failures, locked_until, \
                 disabled, created_at, last_login_at FROM admins WHERE name = $1",
            )
                .bind(name)
                .fetch_optional(pool)
                .await?
                .map(admin_from_row)
                .transpose()
        }

        pub(in crate::store) async fn list_admins(pool: &$pool) -> Result<Vec<Admin>, StoreError> {
            sqlx::query_as::<_, AdminRow>(
                "SELECT name, role, password_hash, sealed_totp, totp_last_step, failures, locked_until, \
                 disabled, created_at, last_login_at FROM admins ORDER BY name",
            )
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(admin_from_row)
                .collect()
        }

        pub(in crate::store) async fn remove_admin(
            pool: &$pool,
            name: &str,
        ) -> Result<bool, StoreError> {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM sessions WHERE admin_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query("DELETE FROM admins WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        }

        /// Disabling also ends the admin's sessions, in the same transaction.
        pub(in crate::store) async fn set_admin_disabled(
            pool: &$pool,
            name: &str,
            disabled: bool,
        ) -> Result<bool, StoreError> {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("UPDATE admins SET disabled = $2 WHERE name = $1")
                .bind(name)
                .bind(disabled)
                .execute(&mut *tx)
                .await?;
            if disabled {
                sqlx::query("DELETE FROM sessions WHERE admin_name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        }

        /// A new seed: the replay guard starts at the confirming code's step, the lock and failures are cleared,
        /// and every session of the admin ends, in one transaction.
        pub(in crate::store) async fn replace_admin_totp(
            pool: &$pool,
            name: &str,
            sealed_totp: &[u8],
            step: i64,
        ) -> Result<bool, StoreError> {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE admins SET sealed_totp = $2, totp_last_step = $3, failures = 0, locked_until = NULL \
                 WHERE name = $1",
            )
            .bind(name)
            .bind(sealed_totp)
            .bind(step)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM sessions WHERE admin_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        }

        /// One login attempt counted before any secret is compared, in one statement: the counter goes up
        /// (starting again at 1 after an expired lock) and the admin is locked until `lock_until` when it
        /// passes `max_failures`. Returns the counter and the lock after it.
        pub(in crate::store) async fn reserve_admin_attempt(
            pool: &$pool,
            name: &str,
            max_failures: u32,
            lock_until: i64,
            now: i64,
        ) -> Result<Option<(u32, Option<i64>)>, StoreError> {
            let row: Option<(i32, Option<i64>)> = sqlx::query_as(
                "UPDATE admins SET \
                 failures = CASE WHEN locked_until IS NOT NULL AND locked_until <= $4 THEN 1 \
                                 ELSE failures + 1 END, \
                 locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= $4 THEN NULL \
                                     WHEN failures + 1 > $2 THEN $3 ELSE locked_until END \
                 WHERE name = $1 RETURNING failures, locked_until",
            )
            .bind(name)
            .bind(i64::from(max_failures))
            .bind(lock_until)
            .bind(now)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(f, lock)| (u32::try_from(f).unwrap_or(0), lock)))
        }

        /// The replay guard's compare-and-set with the success bookkeeping: only a step newer than the stored
        /// one, of an admin neither locked nor disabled at `now`, wins.
        pub(in crate::store) async fn record_admin_login(
            pool: &$pool,
            name: &str,
            step: i64,
            now: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE admins SET totp_last_step = $2, failures = 0, locked_until = NULL, last_login_at = $3 \
                 WHERE name = $1 AND NOT disabled \
                   AND (totp_last_step IS NULL OR totp_last_step < $2) \
                   AND (locked_until IS NULL OR locked_until <= $3)",
            )
            .bind(name)
            .bind(step)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Accounts whose ID or name contains `text` (case-insensitive) or whose phone contains the number
        /// `text` is ([`crate::account_rules::phone_search_digits`]), by ID, at most `limit`.
        pub(in crate::store) async fn search_accounts(
            pool: &$pool,
            text: &str,
            limit: u32,
        ) -> Result<Vec<Account>, StoreError> {
            let phone = crate::account_rules::phone_search_digits(text).map(|d| contains_pattern(&d));
            sqlx::query_as::<_, crate::store::rows::AccountRow>(
                "SELECT * FROM accounts \
                 WHERE lower(id) LIKE $1 ESCAPE '\\' OR lower(name) LIKE $1 ESCAPE '\\' \
                    OR phone LIKE $2 ESCAPE '\\' \
                 ORDER BY id LIMIT $3",
            )
            .bind(contains_pattern(text))
            .bind(phone)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)
            .and_then(accounts)
        }

        pub(in crate::store) async fn locked_accounts(
            pool: &$pool,
            now: i64,
            limit: u32,
        ) -> Result<Vec<Account>, StoreError> {
            sqlx::query_as::<_, crate::store::rows::AccountRow>(
                "SELECT * FROM accounts WHERE locked_until > $1 ORDER BY locked_until DESC, id LIMIT $2",
            )
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)
            .and_then(accounts)
        }

        pub(in crate::store) async fn expiring_accounts(
            pool: &$pool,
            from: time::Date,
            to: time::Date,
            limit: u32,
        ) -> Result<Vec<Account>, StoreError> {
            // ISO dates in TEXT compare as the dates do.
            sqlx::query_as::<_, crate::store::rows::AccountRow>(
                "SELECT * FROM accounts WHERE expires_on >= $1 AND expires_on <= $2 AND status <> 'disabled' \
                 ORDER BY expires_on, id LIMIT $3",
            )
            .bind(from.to_string())
            .bind(to.to_string())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)
            .and_then(accounts)
        }
    };
}

/// Implements [`super::ConsoleStore`] for one backend type with the functions of [`console_queries!`] in its
/// `console` module.
macro_rules! console_store_impl {
    ($Store:ty) => {
        #[async_trait::async_trait]
        impl crate::store::ConsoleStore for $Store {
            async fn create_admin(
                &self,
                admin: &crate::model::NewAdmin,
                now: i64,
            ) -> Result<(), crate::store::StoreError> {
                console::create_admin(&self.pool, admin, now).await
            }

            async fn admin(
                &self,
                name: &str,
            ) -> Result<Option<crate::model::Admin>, crate::store::StoreError> {
                console::admin(&self.pool, name).await
            }

            async fn list_admins(
                &self,
            ) -> Result<Vec<crate::model::Admin>, crate::store::StoreError> {
                console::list_admins(&self.pool).await
            }

            async fn remove_admin(&self, name: &str) -> Result<bool, crate::store::StoreError> {
                console::remove_admin(&self.pool, name).await
            }

            async fn set_admin_disabled(
                &self,
                name: &str,
                disabled: bool,
            ) -> Result<bool, crate::store::StoreError> {
                console::set_admin_disabled(&self.pool, name, disabled).await
            }

            async fn replace_admin_totp(
                &self,
                name: &str,
                sealed_totp: &[u8],
                step: i64,
            ) -> Result<bool, crate::store::StoreError> {
                console::replace_admin_totp(&self.pool, name, sealed_totp, step).await
            }

            async fn reserve_admin_attempt(
                &self,
                name: &str,
                max_failures: u32,
                lock_until: i64,
                now: i64,
            ) -> Result<Option<(u32, Option<i64>)>, crate::store::StoreError> {
                console::reserve_admin_attempt(&self.pool, name, max_failures, lock_until, now)
                    .await
            }

            async fn record_admin_login(
                &self,
                name: &str,
                step: i64,
                now: i64,
            ) -> Result<bool, crate::store::StoreError> {
                console::record_admin_login(&self.pool, name, step, now).await
            }

            async fn create_admin_session(
                &self,
                session: &crate::model::NewAdminSession,
                now: i64,
            ) -> Result<(), crate::store::StoreError> {
                page_sessions::create(&self.pool, &session.into(), now).await
            }

            async fn touch_admin_session(
                &self,
                id_hash: &[u8],
                now: i64,
                expires_at: i64,
            ) -> Result<Option<crate::model::AdminSession>, crate::store::StoreError> {
                let kind = crate::store::page_sessions::SessionKind::Console;
                page_sessions::touch(&self.pool, kind, id_hash, now, expires_at)
                    .await?
                    .map(crate::store::page_sessions::admin_session)
                    .transpose()
            }

            async fn remove_admin_session(
                &self,
                id_hash: &[u8],
            ) -> Result<bool, crate::store::StoreError> {
                let kind = crate::store::page_sessions::SessionKind::Console;
                page_sessions::remove(&self.pool, kind, id_hash).await
            }

            async fn purge_expired_admin_sessions(
                &self,
                now: i64,
            ) -> Result<u64, crate::store::StoreError> {
                let kind = crate::store::page_sessions::SessionKind::Console;
                page_sessions::purge_expired(&self.pool, kind, now).await
            }

            async fn count_admin_sessions(
                &self,
                now: i64,
            ) -> Result<u64, crate::store::StoreError> {
                let kind = crate::store::page_sessions::SessionKind::Console;
                page_sessions::count_live(&self.pool, kind, now).await
            }

            async fn search_accounts(
                &self,
                text: &str,
                limit: u32,
            ) -> Result<Vec<crate::model::Account>, crate::store::StoreError> {
                console::search_accounts(&self.pool, text, limit).await
            }

            async fn locked_accounts(
                &self,
                now: i64,
                limit: u32,
            ) -> Result<Vec<crate::model::Account>, crate::store::StoreError> {
                console::locked_accounts(&self.pool, now, limit).await
            }

            async fn expiring_accounts(
                &self,
                from: time::Date,
                to: time::Date,
                limit: u32,
            ) -> Result<Vec<crate::model::Account>, crate::store::StoreError> {
                console::expiring_accounts(&self.pool, from, to, limit).await
            }
        }
    };
}

pub(super) use {console_queries, console_store_impl};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_a_literal_substring() {
        assert_eq!(contains_pattern(" Chen "), "%chen%");
        assert_eq!(contains_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
