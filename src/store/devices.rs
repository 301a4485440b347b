//! The device operations for both backends — binding (one device or a seed import), self-service enrollment,
//! the reset and the replay guard. The statements are the same text on SQLite and PostgreSQL (`$n`
//! placeholders), so the bodies are written once and instantiated per pool type by [`device_queries!`].
//!
//! Each backend's `devices.rs` supplies what really differs, as small dialect functions the bodies call:
//! - `begin_device_change(pool, account_id)`: a transaction that serialises the account's device changes,
//!   `NotFound` if there is no such account (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the account row's lock,
//!   the `for_update` suffix of the account read, which serialises the changes across nodes);
//! - `begin_pending_device_change(pool, device_id)`: the same for the account of a pending device, with that
//!   account's ID (`NotFound` if the device is not pending; PostgreSQL reads the account before taking its
//!   lock, the bodies re-check the device under it);
//! - `begin_bulk_device_change(pool, ids)`: one transaction for a seed import, with the existing accounts of
//!   `ids` and whether each has an active device (PostgreSQL locks them all, in ID order);
//! - `delete_devices_of(conn, ids)` and `insert_active(conn, devices, now)`: the bulk statements (SQLite:
//!   chunked placeholder lists; PostgreSQL: bound arrays, `ANY` and `UNNEST`).
//!
//! "One active device per account" is the partial unique index `devices_one_active_per_account`: a second
//! active device is `Conflict` whatever the locking did.

/// Defines the device functions for one pool type and its connection type (`sqlx::SqlitePool,
/// sqlx::SqliteConnection` or `sqlx::PgPool, sqlx::PgConnection`), with the suffix that makes reading the
/// account row lock it (`""` where the transaction already excludes other writers).
macro_rules! device_queries {
    ($pool:ty, $conn:ty, for_update = $for_update:literal) => {
        use crate::store::rows::{
            DeviceRow, account_not_found, active_device_conflict, check_bindable, conflict_or,
            reject_duplicate_accounts,
        };
        use crate::store::{Device, DeviceState, NewDevice, StoreError};

        /// `NotFound` unless the account exists; with the `for_update` suffix, the account row stays locked
        /// until the transaction ends.
        async fn find_account(conn: &mut $conn, account_id: &str) -> Result<(), StoreError> {
            sqlx::query(concat!("SELECT 1 FROM accounts WHERE id = $1", $for_update))
                .bind(account_id)
                .fetch_optional(&mut *conn)
                .await?
                .map(|_| ())
                .ok_or_else(|| account_not_found(account_id))
        }

        /// The account of a pending device (`NotFound` if it is not pending).
        async fn pending_device_account<'e>(
            executor: impl sqlx::Executor<'e, Database = <$conn as sqlx::Connection>::Database>,
            device_id: &str,
        ) -> Result<String, StoreError> {
            sqlx::query_scalar("SELECT account_id FROM devices WHERE id = $1 AND state = 'pending'")
                .bind(device_id)
                .fetch_optional(executor)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("pending device {device_id}")))
        }

        /// Inserts a device in `state`; the unique index turns a second active device into `Conflict`.
        async fn insert_device(
            conn: &mut $conn,
            device: &NewDevice,
            state: DeviceState,
            now: i64,
        ) -> Result<(), StoreError> {
            let confirmed_at = (state == DeviceState::Active).then_some(now);
            sqlx::query(
                "INSERT INTO devices (id, account_id, kind, algorithm, digits, period, sealed_seed, \
                 sealed_pin, last_step, state, label, created_at, confirmed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&device.id)
            .bind(&device.account_id)
            .bind(device.kind.as_str())
            .bind(device.algorithm.as_str())
            .bind(i64::from(device.digits))
            .bind(i64::from(device.period))
            .bind(&device.sealed_seed)
            .bind(&device.sealed_pin)
            .bind(device.last_step)
            .bind(state.as_str())
            .bind(&device.label)
            .bind(now)
            .bind(confirmed_at)
            .execute(&mut *conn)
            .await
            .map_err(|e| conflict_or(e, || active_device_conflict(&device.account_id)))?;
            Ok(())
        }

        /// [`DeviceStore::bind_device`](crate::store::DeviceStore::bind_device).
        pub(super) async fn bind(
            pool: &$pool,
            device: &NewDevice,
            replace: bool,
            now: i64,
        ) -> Result<(), StoreError> {
            let mut tx = begin_device_change(pool, &device.account_id).await?;
            if replace {
                sqlx::query("DELETE FROM devices WHERE account_id = $1")
                    .bind(&device.account_id)
                    .execute(&mut *tx)
                    .await?;
            }
            insert_device(&mut tx, device, DeviceState::Active, now).await?;
            tx.commit().await?;
            Ok(())
        }

        /// [`DeviceStore::bind_devices`](crate::store::DeviceStore::bind_devices): one transaction, all or nothing.
        pub(super) async fn bind_many(
            pool: &$pool,
            devices: &[NewDevice],
            replace: bool,
            now: i64,
        ) -> Result<u64, StoreError> {
            reject_duplicate_accounts(devices)?;
            if devices.is_empty() {
                return Ok(0);
            }
            let ids: Vec<&str> = devices.iter().map(|d| d.account_id.as_str()).collect();
            let (mut tx, states) = begin_bulk_device_change(pool, &ids).await?;
            check_bindable(devices, &states, replace)?;
            if replace {
                delete_devices_of(&mut tx, &ids).await?;
            }
            insert_active(&mut tx, devices, now).await?;
            tx.commit().await?;
            Ok(devices.len() as u64)
        }

        /// [`DeviceStore::begin_enrollment`](crate::store::DeviceStore::begin_enrollment).
        pub(super) async fn begin_enrollment(
            pool: &$pool,
            device: &NewDevice,
            now: i64,
        ) -> Result<(), StoreError> {
            let mut tx = begin_device_change(pool, &device.account_id).await?;
            replace_pending(&mut tx, device, now).await?;
            tx.commit().await?;
            Ok(())
        }

        /// Inside a transaction from `begin_device_change`: stores `device` as the account's one pending
        /// device (its earlier pending devices go). `Conflict` if the account has an active device.
        pub(super) async fn replace_pending(
            conn: &mut $conn,
            device: &NewDevice,
            now: i64,
        ) -> Result<(), StoreError> {
            let active = sqlx::query("SELECT 1 FROM devices WHERE account_id = $1 AND state = 'active'")
                .bind(&device.account_id)
                .fetch_optional(&mut *conn)
                .await?;
            if active.is_some() {
                return Err(StoreError::Conflict(active_device_conflict(
                    &device.account_id,
                )));
            }
            sqlx::query("DELETE FROM devices WHERE account_id = $1 AND state = 'pending'")
                .bind(&device.account_id)
                .execute(&mut *conn)
                .await?;
            insert_device(conn, device, DeviceState::Pending, now).await
        }

        /// [`DeviceStore::confirm_enrollment`](crate::store::DeviceStore::confirm_enrollment): activates the device and
        /// drops the account's other pending devices.
        pub(super) async fn confirm_enrollment(
            pool: &$pool,
            device_id: &str,
            step: i64,
            now: i64,
        ) -> Result<(), StoreError> {
            let (mut tx, account_id) = begin_pending_device_change(pool, device_id).await?;
            activate_pending(&mut tx, &account_id, device_id, step, now).await?;
            tx.commit().await?;
            Ok(())
        }

        /// Inside a transaction from `begin_pending_device_change`: the pending device becomes active with
        /// `step` used up, the account's other pending devices go. `Conflict` if the account has an active
        /// device; `NotFound` if the device is not pending (any more). `last_used_at` stays empty: it is the
        /// last VPN login, and the first code is not one.
        pub(super) async fn activate_pending(
            conn: &mut $conn,
            account_id: &str,
            device_id: &str,
            step: i64,
            now: i64,
        ) -> Result<(), StoreError> {
            let done = sqlx::query(
                "UPDATE devices SET state = 'active', last_step = $2, confirmed_at = $3 \
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(device_id)
            .bind(step)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(|e| conflict_or(e, || active_device_conflict(account_id)))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("pending device {device_id}")));
            }
            sqlx::query("DELETE FROM devices WHERE account_id = $1 AND state = 'pending'")
                .bind(account_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// [`DeviceStore::begin_phone_change`](crate::store::DeviceStore::begin_phone_change): `device` becomes the
        /// account's one pending device only while `old_device_id` is its active device.
        pub(super) async fn begin_phone_change(
            pool: &$pool,
            device: &NewDevice,
            old_device_id: &str,
            now: i64,
        ) -> Result<(), StoreError> {
            let mut tx = begin_device_change(pool, &device.account_id).await?;
            let bound = sqlx::query(
                "SELECT 1 FROM devices WHERE id = $1 AND account_id = $2 AND state = 'active'",
            )
            .bind(old_device_id)
            .bind(&device.account_id)
            .fetch_optional(&mut *tx)
            .await?;
            if bound.is_none() {
                return Err(StoreError::NotFound(format!("active device {old_device_id}")));
            }
            sqlx::query("DELETE FROM devices WHERE account_id = $1 AND state = 'pending'")
                .bind(&device.account_id)
                .execute(&mut *tx)
                .await?;
            insert_device(&mut tx, device, DeviceState::Pending, now).await?;
            tx.commit().await?;
            Ok(())
        }

        /// [`DeviceStore::swap_device`](crate::store::DeviceStore::swap_device): one transaction, the old device
        /// removed only if still active, the new one activated only if still pending; else nothing changes.
        pub(super) async fn swap_device(
            pool: &$pool,
            old_device_id: &str,
            new_device_id: &str,
            step: i64,
            now: i64,
        ) -> Result<bool, StoreError> {
            let (mut tx, account_id) = match begin_pending_device_change(pool, new_device_id).await {
                Ok(found) => found,
                Err(StoreError::NotFound(_)) => return Ok(false),
                Err(e) => return Err(e),
            };
            let retired = sqlx::query(
                "DELETE FROM devices WHERE id = $1 AND account_id = $2 AND state = 'active'",
            )
            .bind(old_device_id)
            .bind(&account_id)
            .execute(&mut *tx)
            .await?;
            if retired.rows_affected() != 1 {
                return Ok(false);
            }
            match activate_pending(&mut tx, &account_id, new_device_id, step, now).await {
                Ok(()) => {}
                Err(StoreError::NotFound(_) | StoreError::Conflict(_)) => return Ok(false),
                Err(e) => return Err(e),
            }
            tx.commit().await?;
            Ok(true)
        }

        /// [`DeviceStore::active_device`](crate::store::DeviceStore::active_device).
        pub(super) async fn active(
            pool: &$pool,
            account_id: &str,
        ) -> Result<Option<Device>, StoreError> {
            sqlx::query_as::<_, DeviceRow>(
                "SELECT * FROM devices WHERE account_id = $1 AND state = 'active'",
            )
            .bind(account_id)
            .fetch_optional(pool)
            .await?
            .map(Device::try_from)
            .transpose()
        }

        /// [`DeviceStore::device`](crate::store::DeviceStore::device).
        pub(super) async fn by_id(
            pool: &$pool,
            device_id: &str,
        ) -> Result<Option<Device>, StoreError> {
            sqlx::query_as::<_, DeviceRow>("SELECT * FROM devices WHERE id = $1")
                .bind(device_id)
                .fetch_optional(pool)
                .await?
                .map(Device::try_from)
                .transpose()
        }

        /// [`DeviceStore::reset_devices`](crate::store::DeviceStore::reset_devices), serialised like every device change;
        /// no account, no devices: 0.
        pub(super) async fn reset(pool: &$pool, account_id: &str) -> Result<u64, StoreError> {
            let mut tx = match begin_device_change(pool, account_id).await {
                Ok(tx) => tx,
                Err(StoreError::NotFound(_)) => return Ok(0),
                Err(e) => return Err(e),
            };
            let done = sqlx::query("DELETE FROM devices WHERE account_id = $1")
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected())
        }

        /// [`DeviceStore::use_step_for_proof`](crate::store::DeviceStore::use_step_for_proof): the replay guard without
        /// the login time.
        pub(super) async fn use_step_for_proof(
            pool: &$pool,
            device_id: &str,
            step: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE devices SET last_step = $1, last_use_fingerprint = NULL \
                 WHERE id = $2 AND state = 'active' AND (last_step IS NULL OR last_step < $1)",
            )
            .bind(step)
            .bind(device_id)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        /// The replay guard, [`DeviceStore::record_accepted_step`](crate::store::DeviceStore::record_accepted_step): one
        /// statement.
        pub(super) async fn record_accepted_step(
            pool: &$pool,
            device_id: &str,
            step: i64,
            now: i64,
            fingerprint: Option<&[u8]>,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE devices SET last_step = $1, last_used_at = $3, last_use_fingerprint = $4 \
                 WHERE id = $2 AND state = 'active' AND (last_step IS NULL OR last_step < $1)",
            )
            .bind(step)
            .bind(device_id)
            .bind(now)
            .bind(fingerprint)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }
    };
}

pub(super) use device_queries;
