//! The SQLite backend: one file (or one in-memory database for tests) for a single motpd node.
//!
//! Owns the SQLite connection settings and the SQLite dialect of every [`Store`] operation (devices in
//! `sqlite/devices.rs`, the bulk import in `sqlite/import.rs`). It makes no policy decisions and sees
//! secrets only sealed. For a database file, the serving hot path — login reads, accepted logins, audit
//! appends — runs on a thread of its own with its own connection (`sqlite/hot.rs`); everything else uses the
//! sqlx pool.
//!
//! Concurrency: SQLite has one writer at a time. Single statements (the replay guard, the failure counter) are
//! atomic on their own. Every transaction that reads and then writes starts with `BEGIN IMMEDIATE`, taking the
//! write lock up front: a deferred transaction that upgrades from read to write can fail with `SQLITE_BUSY`
//! at once (the busy handler cannot help a reader that must upgrade), while `BEGIN IMMEDIATE` waits up to the
//! busy timeout like every other writer.
//!
//! Durability: the database runs in WAL mode with `synchronous=NORMAL`. A committed transaction is in the WAL
//! file before `COMMIT` returns, so it survives the motpd process being killed (`kill -9`, crash, OOM) —
//! in particular an accepted OTP step stays consumed. What NORMAL gives up is the fsync at every commit: after
//! a power loss or OS crash the last few transactions may be rolled back (the database stays consistent).

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::rows::{
    AccountRow, AccountValues, AuditHead, AuditRow, ClientRow, KEY_CHECK, OverviewRow,
    account_not_found, conflict_or, link_batch,
};
use super::{
    AcceptedLogin, Account, AccountFilter, AccountOverview, AccountStatus, AccountUpsert,
    AccountingEntry, Challenge, Counter, Device, FailureState, ImportSummary, Invitation,
    LockoutPolicy, LoginRecord, NewChallenge, NewClient, NewDevice, NewSmsCode, NewWebSession,
    RadiusClient, Reservation, SmsCodeAttempt, SmsIssue, SmsLimits, SmsPurpose, Store, StoreError,
    WebSession,
};
use crate::audit::{AuditChain, AuditEvent, AuditRecord};

mod account_proofs;
mod checkpoint;
mod devices;
mod hot;
mod import;
mod invitations;
mod lockout;
mod logins;
mod owner_passwords;
mod private_file;
mod sessions;
mod sms;
mod web_sessions;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for the write lock before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// A [`Store`] on SQLite.
#[derive(Debug)]
pub(super) struct SqliteStore {
    pool: SqlitePool,
    chain: AuditChain,
    /// Taken by the writers of the serving hot path (group-committed logins, audit batches, failure counts)
    /// around their write, so that they queue here instead of colliding on SQLite's write lock: a collision
    /// is `SQLITE_BUSY`, and SQLite's busy handler retries after sleeping 1, 2, 5, 10... ms.
    write_gate: Arc<tokio::sync::Mutex<()>>,
    /// The login reads, accepted logins and audit appends, on a thread of their own (`sqlite/hot.rs`); `None`
    /// for an in-memory database (private to the pool's one connection), which uses the pool for them too.
    hot: Option<hot::HotPath>,
}

/// A transaction holding the write lock from its first statement.
async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// A store operation that a serving node does not take (it goes through the pool only for an in-memory
/// database, in tests), boxed so that it stays out of the future of the method that chooses between it and the
/// hot path. `async_trait` allocates every call's future, sized for its largest branch: the sqlx branch made
/// `record_accepted_logins` 1,368 bytes per login (104 now), past the 1 KiB where glibc's allocator took its slow
/// path (`malloc_consolidate`).
fn cold<'a, T>(
    future: impl Future<Output = T> + Send + 'a,
) -> Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}

/// `sqlite::memory:` and `?mode=memory` URLs name a database that lives only as long as its connections.
pub(super) fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

impl SqliteStore {
    /// Opens (creating if missing, mode 0600) the database and applies pending migrations. A database file that
    /// group or others can access is refused.
    ///
    /// An in-memory database gets exactly one connection that is never closed while the pool lives, so every
    /// caller sees the same database.
    pub(super) async fn connect(
        url: &str,
        max_connections: u32,
        chain: AuditChain,
    ) -> Result<Self, StoreError> {
        let mut options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // 1 MiB of page cache per connection (SQLite's default is 2 MiB): in WAL mode a connection drops
            // its cache whenever another one has written, so more buys little and costs resident memory.
            .pragma("cache_size", "-1024");
        if !is_memory(url) {
            private_file::prepare(options.get_filename())?;
        }
        let pool_options = if is_memory(url) {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            SqlitePoolOptions::new().max_connections(max_connections.max(1))
        };
        // The connection lives in this process: a ping before every acquire would only add a round trip to
        // the connection's thread (and a wake-up) to every operation.
        let pool = pool_options
            .test_before_acquire(false)
            .acquire_timeout(BUSY_TIMEOUT * 2)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let write_gate = Arc::new(tokio::sync::Mutex::new(()));
        let hot = if is_memory(url) {
            None
        } else {
            let path = options.get_filename();
            let gate = write_gate.clone();
            Some(hot::HotPath::start(
                path,
                BUSY_TIMEOUT,
                chain.clone(),
                gate,
            )?)
        };
        Ok(Self {
            pool,
            chain,
            write_gate,
            hot,
        })
    }

    /// Runs an `UPDATE accounts ... WHERE id = $1`-style statement; `NotFound` when no row matched.
    async fn update_account(&self, query: SqliteQuery<'_>, id: &str) -> Result<(), StoreError> {
        match query.execute(&self.pool).await?.rows_affected() {
            0 => Err(account_not_found(id)),
            _ => Ok(()),
        }
    }

    /// [`Store::append_audit`] through the pool (an in-memory database).
    async fn append_audit_pooled(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let _gate = self.write_gate.lock().await;
        let mut tx = begin_write(&self.pool).await?;
        let head: Option<AuditHead> =
            sqlx::query_as("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        // The whole batch in one statement (one JSON array; the MAC as hex): a statement per row would cost a
        // round trip to the connection's thread each, while the write lock is held.
        let rows: Vec<serde_json::Value> = link_batch(&self.chain, head, events)?
            .iter()
            .map(|r| {
                serde_json::json!([
                    r.seq,
                    r.event.at,
                    r.event.kind,
                    r.event.actor,
                    r.event.account_id,
                    r.event.outcome,
                    r.event.detail,
                    hex::encode(r.mac),
                ])
            })
            .collect();
        sqlx::query(
            "INSERT INTO audit_log (seq, at, kind, actor, account_id, outcome, detail, mac) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
                    value ->> 6, unhex(value ->> 7) \
             FROM json_each($1) ORDER BY key",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn groups_concurrent_calls(&self) -> bool {
        self.hot.is_some()
    }

    fn stores_login_audit(&self) -> bool {
        self.hot.is_some()
    }

    async fn ensure_key_check(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(KEY_CHECK)
            .bind(candidate)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(KEY_CHECK)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_account(&self, account: &AccountUpsert, now: i64) -> Result<(), StoreError> {
        let v = AccountValues::new(account)?;
        sqlx::query(
            "INSERT INTO accounts (id, name, phone, email, password_hash, status, expires_on, groups, failures, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9)",
        )
        .bind(&account.id)
        .bind(&account.name)
        .bind(&account.phone)
        .bind(&account.email)
        .bind(&account.password_hash)
        .bind(account.status.as_str())
        .bind(&v.expires_on)
        .bind(&v.groups)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, || format!("account {} already exists", account.id)))?;
        Ok(())
    }

    async fn import_accounts(
        &self,
        accounts: &[AccountUpsert],
        now: i64,
    ) -> Result<ImportSummary, StoreError> {
        import::import_accounts(&self.pool, accounts, now).await
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        sqlx::query_as::<_, AccountRow>("SELECT * FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(Account::try_from)
            .transpose()
    }

    async fn any_account(&self) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts)")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn list_accounts(
        &self,
        filter: AccountFilter,
    ) -> Result<Vec<AccountOverview>, StoreError> {
        sqlx::query_as::<_, OverviewRow>(
            "SELECT a.*, d.id AS device_id, d.kind AS device_kind, d.label AS device_label, \
             d.confirmed_at AS device_confirmed_at, d.last_used_at AS device_last_used_at \
             FROM accounts a LEFT JOIN devices d ON d.account_id = a.id AND d.state = 'active' \
             WHERE NOT $1 OR d.id IS NULL ORDER BY a.id",
        )
        .bind(filter.unenrolled_only)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(AccountOverview::try_from)
        .collect()
    }

    async fn set_account_status(
        &self,
        id: &str,
        status: AccountStatus,
        now: i64,
    ) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE accounts SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(status.as_str())
            .bind(now);
        self.update_account(q, id).await
    }

    async fn set_password_hash(&self, id: &str, hash: &str, now: i64) -> Result<(), StoreError> {
        let q = sqlx::query(
            "UPDATE accounts SET password_hash = $2, failures = 0, updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(hash)
        .bind(now);
        self.update_account(q, id).await
    }

    async fn lock_account(&self, id: &str, until: i64, now: i64) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE accounts SET locked_until = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(until)
            .bind(now);
        self.update_account(q, id).await
    }

    async fn unlock_account(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let q = sqlx::query(
            "UPDATE accounts SET locked_until = NULL, failures = 0, web_locked_until = NULL, web_failures = 0, \
             updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(now);
        self.update_account(q, id).await
    }

    async fn remove_account(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_failure(
        &self,
        id: &str,
        now: i64,
        threshold: u32,
        lock_seconds: i64,
    ) -> Result<FailureState, StoreError> {
        // One statement: SET expressions all see the old row. An expired lock restarts the count at 1; a
        // lock still running (say an admin lock) is kept as it is; otherwise reaching the threshold locks.
        let _gate = self.write_gate.lock().await;
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "UPDATE accounts SET \
               failures = CASE WHEN locked_until <= $2 THEN 1 ELSE failures + 1 END, \
               locked_until = CASE \
                 WHEN locked_until > $2 THEN locked_until \
                 WHEN $3 > 0 AND (CASE WHEN locked_until <= $2 THEN 1 ELSE failures + 1 END) >= $3 THEN $2 + $4 \
                 ELSE NULL END \
             WHERE id = $1 RETURNING failures, locked_until",
        )
        .bind(id)
        .bind(now)
        .bind(i64::from(threshold))
        .bind(lock_seconds)
        .fetch_optional(&self.pool)
        .await?;
        let (failures, locked_until) = row.ok_or_else(|| account_not_found(id))?;
        Ok(FailureState {
            failures: u32::try_from(failures)
                .map_err(|_| StoreError::Corrupt(format!("failure count {failures}")))?,
            locked_until,
        })
    }

    async fn reserve_attempt(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<Option<Reservation>, StoreError> {
        if let Some(hot) = &self.hot {
            return hot.reserve_attempt(counter, id, now, policy).await;
        }
        cold(async {
            let _gate = self.write_gate.lock().await;
            lockout::reserve(&self.pool, counter, id, now, policy).await
        })
        .await
    }

    async fn settle_failure(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<FailureState, StoreError> {
        let _gate = self.write_gate.lock().await;
        lockout::settle_failure(&self.pool, counter, id, now, policy).await
    }

    async fn settle_success(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let _gate = self.write_gate.lock().await;
        lockout::settle_success(&self.pool, counter, id, now).await
    }

    async fn release_attempt(&self, counter: Counter, id: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate.lock().await;
        lockout::release(&self.pool, counter, id).await
    }

    async fn record_success(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let q = sqlx::query(
            "UPDATE accounts SET failures = 0, \
             locked_until = CASE WHEN locked_until > $2 THEN locked_until ELSE NULL END, \
             last_login_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(now);
        self.update_account(q, id).await
    }

    async fn clear_failures(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let q = sqlx::query(
            "UPDATE accounts SET failures = 0, \
             locked_until = CASE WHEN locked_until > $2 THEN locked_until ELSE NULL END WHERE id = $1",
        )
        .bind(id)
        .bind(now);
        self.update_account(q, id).await
    }

    async fn activate_with_password(
        &self,
        id: &str,
        hash: &str,
        keep_locks_from: i64,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        let from = AccountStatus::Pending;
        owner_passwords::set_owner_password(&self.pool, id, hash, from, keep_locks_from, now).await
    }

    async fn reset_password(
        &self,
        id: &str,
        hash: &str,
        keep_locks_from: i64,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        let from = AccountStatus::Active;
        owner_passwords::set_owner_password(&self.pool, id, hash, from, keep_locks_from, now).await
    }

    async fn bind_device(
        &self,
        device: &NewDevice,
        replace: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        devices::bind(&self.pool, device, replace, now).await
    }

    async fn bind_devices(
        &self,
        devices: &[NewDevice],
        replace: bool,
        now: i64,
    ) -> Result<u64, StoreError> {
        devices::bind_many(&self.pool, devices, replace, now).await
    }

    async fn begin_enrollment(&self, device: &NewDevice, now: i64) -> Result<(), StoreError> {
        devices::begin_enrollment(&self.pool, device, now).await
    }

    async fn confirm_enrollment(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        devices::confirm_enrollment(&self.pool, device_id, step, now).await
    }

    async fn active_device(&self, account_id: &str) -> Result<Option<Device>, StoreError> {
        devices::active(&self.pool, account_id).await
    }

    async fn device(&self, device_id: &str) -> Result<Option<Device>, StoreError> {
        devices::by_id(&self.pool, device_id).await
    }

    async fn reset_devices(&self, account_id: &str) -> Result<u64, StoreError> {
        devices::reset(&self.pool, account_id).await
    }

    async fn use_step_for_proof(&self, device_id: &str, step: i64) -> Result<bool, StoreError> {
        devices::use_step_for_proof(&self.pool, device_id, step).await
    }

    async fn record_accepted_step(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
        fingerprint: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        devices::record_accepted_step(&self.pool, device_id, step, now, fingerprint).await
    }

    async fn set_sms_fallback(
        &self,
        id: &str,
        allowed: Option<bool>,
        now: i64,
    ) -> Result<(), StoreError> {
        sms::set_sms_fallback(&self.pool, id, allowed, now).await
    }

    async fn issue_sms_code(
        &self,
        code: &NewSmsCode,
        limits: &SmsLimits,
        now: i64,
    ) -> Result<SmsIssue, StoreError> {
        sms::issue_sms_code(&self.pool, code, limits, now).await
    }

    async fn discard_sms_code(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
        code_hash: &[u8],
    ) -> Result<bool, StoreError> {
        sms::discard_sms_code(&self.pool, account_id, purpose, code_hash).await
    }

    async fn count_sms_attempt(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
    ) -> Result<Option<SmsCodeAttempt>, StoreError> {
        sms::count_sms_attempt(&self.pool, account_id, purpose).await
    }

    async fn consume_sms_code(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
        code_hash: &[u8],
        max_attempts: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        sms::consume_sms_code(
            &self.pool,
            account_id,
            purpose,
            code_hash,
            max_attempts,
            now,
        )
        .await
    }

    async fn purge_sms(&self, now: i64, sends_before: i64) -> Result<u64, StoreError> {
        sms::purge_sms(&self.pool, now, sends_before).await
    }

    async fn set_identity_hash(
        &self,
        id: &str,
        hash: Option<&[u8]>,
        now: i64,
    ) -> Result<(), StoreError> {
        account_proofs::set_identity_hash(&self.pool, id, hash, now).await
    }

    async fn identity_hash(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        account_proofs::identity_hash(&self.pool, id).await
    }

    async fn set_helpdesk_code(
        &self,
        id: &str,
        hash: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        account_proofs::set_helpdesk_code(&self.pool, id, hash, expires_at, now).await
    }

    async fn take_helpdesk_code(
        &self,
        id: &str,
        hash: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        account_proofs::take_helpdesk_code(&self.pool, id, hash, now).await
    }

    async fn pause_sms_fallback(&self, id: &str, until: i64, now: i64) -> Result<(), StoreError> {
        account_proofs::pause_sms_fallback(&self.pool, id, until, now).await
    }

    async fn sms_paused_until(&self, id: &str) -> Result<Option<i64>, StoreError> {
        account_proofs::sms_paused_until(&self.pool, id).await
    }

    async fn record_accepted_logins(
        &self,
        logins: &[AcceptedLogin],
    ) -> Result<Vec<bool>, StoreError> {
        if let Some(hot) = &self.hot {
            return hot.record_accepted_logins(logins).await;
        }
        cold(async {
            let _gate = self.write_gate.lock().await;
            logins::record_accepted_logins(&self.pool, logins).await
        })
        .await
    }

    async fn login_records(&self, ids: &[String]) -> Result<Vec<LoginRecord>, StoreError> {
        if let Some(hot) = &self.hot {
            return hot.login_records(ids).await;
        }
        cold(logins::login_records(&self.pool, ids)).await
    }

    async fn create_challenge(&self, challenge: &NewChallenge, now: i64) -> Result<(), StoreError> {
        sessions::create_challenge(&self.pool, challenge, now).await
    }

    async fn take_challenge(
        &self,
        state_hash: &[u8],
        now: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        sessions::take_challenge(&self.pool, state_hash, now).await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        sessions::purge_expired(&self.pool, now).await
    }

    async fn record_accounting(&self, entry: &AccountingEntry, now: i64) -> Result<(), StoreError> {
        sessions::record_accounting(&self.pool, entry, now).await
    }

    async fn create_web_session(
        &self,
        session: &NewWebSession,
        now: i64,
    ) -> Result<(), StoreError> {
        web_sessions::create_web_session(&self.pool, session, now).await
    }

    async fn touch_web_session(
        &self,
        id_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<Option<WebSession>, StoreError> {
        web_sessions::touch_web_session(&self.pool, id_hash, now, expires_at).await
    }

    async fn set_web_session_flow(
        &self,
        id_hash: &[u8],
        flow: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        web_sessions::set_web_session_flow(&self.pool, id_hash, flow, now).await
    }

    async fn take_web_session_flow(
        &self,
        id_hash: &[u8],
        flow: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        web_sessions::take_web_session_flow(&self.pool, id_hash, flow, now).await
    }

    async fn remove_web_session(&self, id_hash: &[u8]) -> Result<bool, StoreError> {
        web_sessions::remove_web_session(&self.pool, id_hash).await
    }

    async fn remove_account_web_sessions(&self, account_id: &str) -> Result<u64, StoreError> {
        web_sessions::remove_account_web_sessions(&self.pool, account_id).await
    }

    async fn purge_expired_web_sessions(&self, now: i64) -> Result<u64, StoreError> {
        web_sessions::purge_expired_web_sessions(&self.pool, now).await
    }

    async fn create_invitation(
        &self,
        account_id: &str,
        token_hash: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        invitations::create_invitation(&self.pool, account_id, token_hash, expires_at, now).await
    }

    async fn invitation(&self, token_hash: &[u8]) -> Result<Option<Invitation>, StoreError> {
        invitations::invitation(&self.pool, token_hash).await
    }

    async fn use_invitation(&self, token_hash: &[u8], now: i64) -> Result<bool, StoreError> {
        invitations::use_invitation(&self.pool, token_hash, now).await
    }

    async fn list_invitations(&self) -> Result<Vec<Invitation>, StoreError> {
        invitations::list_invitations(&self.pool).await
    }

    async fn create_invitation_with_seed(
        &self,
        token_hash: &[u8],
        expires_at: i64,
        device: &NewDevice,
        now: i64,
    ) -> Result<(), StoreError> {
        invitations::create_with_seed(&self.pool, token_hash, expires_at, device, now).await
    }

    async fn attach_invitation_device(
        &self,
        token_hash: &[u8],
        expected: Option<&str>,
        device: &NewDevice,
        now: i64,
    ) -> Result<bool, StoreError> {
        invitations::attach_device(&self.pool, token_hash, expected, device, now).await
    }

    async fn mailed_pending_device(
        &self,
        account_id: &str,
        now: i64,
    ) -> Result<Option<Device>, StoreError> {
        invitations::mailed_pending_device(&self.pool, account_id, now).await
    }

    async fn confirm_invited_device(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        invitations::confirm_device(&self.pool, device_id, step, now).await
    }

    async fn add_client(&self, client: &NewClient, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO radius_clients (name, address, sealed_secret, require_message_authenticator, mode, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&client.name)
        .bind(client.address.to_string())
        .bind(&client.sealed_secret)
        .bind(client.require_message_authenticator)
        .bind(client.mode.map(|m| m.as_str()))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, || format!("RADIUS client {} already exists", client.name)))?;
        Ok(())
    }

    async fn clients(&self) -> Result<Vec<RadiusClient>, StoreError> {
        sqlx::query_as::<_, ClientRow>("SELECT * FROM radius_clients ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(RadiusClient::try_from)
            .collect()
    }

    async fn remove_client(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM radius_clients WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn update_client(&self, client: &NewClient) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE radius_clients SET address = $2, sealed_secret = $3, \
             require_message_authenticator = $4, mode = $5 WHERE name = $1",
        )
        .bind(&client.name)
        .bind(client.address.to_string())
        .bind(&client.sealed_secret)
        .bind(client.require_message_authenticator)
        .bind(client.mode.map(|m| m.as_str()))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        if let Some(hot) = &self.hot {
            return hot.append_audit(events).await;
        }
        cold(self.append_audit_pooled(events)).await
    }

    async fn search_audit(
        &self,
        filter: &super::AuditFilter,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        search_audit(&self.pool, filter).await
    }

    async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        sqlx::query_as::<_, AuditRow>(
            "SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(AuditRecord::try_from)
        .collect()
    }

    async fn close(&self) {
        if let Some(hot) = &self.hot {
            hot.close().await;
        }
        self.pool.close().await;
    }
}

crate::store::audit_search::audit_search_query!(sqlx::sqlite::SqlitePool);
