//! The PostgreSQL backend: one database shared by several motpd nodes.
//!
//! Owns the PostgreSQL connection settings and the PostgreSQL dialect of every [`Store`] operation (devices in
//! `postgres/devices.rs`, the bulk import in `postgres/import.rs`). It makes no policy decisions and
//! sees secrets only sealed.
//!
//! Concurrency (READ COMMITTED, the server default):
//! - the replay guard and the failure counter are single `UPDATE`s; a second writer of the same row waits for
//!   the first and then re-checks its `WHERE` against the committed row, so exactly one wins;
//! - every transaction that changes an account's devices first locks the account row (`SELECT ... FOR
//!   UPDATE`), so device changes of one account are serialised and always take locks in the same order
//!   (account, then devices); the partial unique index on active devices is the last line of defence;
//! - audit appends take a transaction-scoped advisory lock, so the chain has one order across all nodes.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

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
mod devices;
mod import;
mod invitations;
mod lockout;
mod logins;
mod owner_passwords;
mod sessions;
mod sms;
mod web_sessions;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long to wait for the server when connecting, and for a free pooled connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Imports of at least this many rows refresh the planner statistics of their table.
const BULK_ROWS: usize = 100;

/// The advisory lock key that serialises audit appends ("motpdaud").
const AUDIT_LOCK: i64 = 0x6d6f_7470_6461_7564;

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// A [`Store`] on PostgreSQL.
#[derive(Debug)]
pub(super) struct PgStore {
    pool: PgPool,
    chain: AuditChain,
}

impl PgStore {
    /// Connects (failing within about [`CONNECT_TIMEOUT`] if the server does not answer) and applies pending
    /// migrations.
    pub(super) async fn connect(
        url: &str,
        max_connections: u32,
        chain: AuditChain,
    ) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        // One direct connection first: the pool would retry a refused connection until its timeout and then
        // report only "timed out"; this reports the actual cause.
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| {
                StoreError::Backend(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "PostgreSQL did not answer within {} seconds",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                )))
            })??;
        MIGRATOR.run(&mut conn).await?;
        conn.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Self { pool, chain })
    }

    /// After a bulk import of `rows` rows, refreshes the planner's statistics (`ANALYZE`) instead
    /// of waiting for autovacuum: with statistics from before the import, PostgreSQL planned the login path's
    /// batched `UPDATE devices` as a scan of every active device (17 ms per batch at 20,000 accounts, against
    /// 2.5 ms with fresh statistics). The import has committed by then, so a failure is only logged.
    async fn refresh_statistics(&self, analyze: &'static str, rows: usize) {
        if rows < BULK_ROWS {
            return;
        }
        if let Err(error) = sqlx::query(analyze).execute(&self.pool).await {
            tracing::warn!(
                statement = analyze, %error,
                "cannot refresh the planner statistics after an import; autovacuum will"
            );
        }
    }

    /// Runs an `UPDATE accounts ... WHERE id = $1`-style statement; `NotFound` when no row matched.
    async fn update_account(&self, query: PgQuery<'_>, id: &str) -> Result<(), StoreError> {
        match query.execute(&self.pool).await?.rows_affected() {
            0 => Err(account_not_found(id)),
            _ => Ok(()),
        }
    }
}

/// One text column of a batch, for binding as a `text[]` array.
fn column<'v, T>(rows: &'v [T], f: impl Fn(&'v T) -> Option<&'v str>) -> Vec<Option<&'v str>> {
    rows.iter().map(f).collect()
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
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
            "INSERT INTO accounts (id, name, phone, email, password_hash, status, expires_on, \
             groups, failures, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9)",
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
        let summary = import::import_accounts(&self.pool, accounts, now).await?;
        self.refresh_statistics("ANALYZE accounts", accounts.len())
            .await;
        Ok(summary)
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
        // One statement: SET expressions all see the old row. An expired lock restarts the count at 1;
        // a lock still running (say an admin lock) is kept as it is; otherwise reaching the threshold locks.
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "UPDATE accounts SET \
               failures = CASE WHEN locked_until <= $2 THEN 1 ELSE failures + 1 END, \
               locked_until = CASE \
                 WHEN locked_until > $2 THEN locked_until \
                 WHEN $3 > 0 AND (CASE WHEN locked_until <= $2 THEN 1 ELSE failures + 1 END) >= $3 \
                   THEN $2 + $4 \
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
        lockout::reserve(&self.pool, counter, id, now, policy).await
    }

    async fn reserve_attempts(
        &self,
        counter: Counter,
        requests: &[super::AttemptRequest],
    ) -> Result<Vec<Option<Reservation>>, StoreError> {
        // One transaction (one commit) for the batch; rows taken in ID order, so that two nodes batching
        // the same accounts never deadlock. The same account twice sees its own earlier reservation.
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by_key(|&index| requests.get(index).map(|r| r.id.as_str()));
        let mut answers = vec![None; requests.len()];
        let mut tx = self.pool.begin().await?;
        for index in order {
            let Some(request) = requests.get(index) else {
                continue;
            };
            let granted: Option<i64> = sqlx::query_scalar(counter.postgres().reserve)
                .bind(&request.id)
                .bind(request.now)
                .bind(i64::from(request.policy.threshold))
                .bind(request.policy.lock_seconds)
                .fetch_optional(&mut *tx)
                .await?;
            let answer = match granted {
                Some(failures) => Some(Reservation::Granted {
                    failures: super::lockout::count(failures)?,
                }),
                None => {
                    let row: Option<(Option<i64>, Option<i64>, Option<i64>, Option<i64>)> =
                        sqlx::query_as(super::lockout::REFUSAL_PG)
                            .bind(&request.id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    row.map(|row| Reservation::Refused {
                        until: super::lockout::refusal_until(
                            counter,
                            row,
                            request.now,
                            request.policy,
                        ),
                    })
                }
            };
            if let Some(slot) = answers.get_mut(index) {
                *slot = answer;
            }
        }
        tx.commit().await?;
        Ok(answers)
    }

    async fn settle_failure(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<FailureState, StoreError> {
        lockout::settle_failure(&self.pool, counter, id, now, policy).await
    }

    async fn settle_success(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        lockout::settle_success(&self.pool, counter, id, now).await
    }

    async fn release_attempt(&self, counter: Counter, id: &str) -> Result<(), StoreError> {
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
        let bound = devices::bind_many(&self.pool, devices, replace, now).await?;
        self.refresh_statistics("ANALYZE devices", devices.len())
            .await;
        Ok(bound)
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
        logins::record_accepted_logins(&self.pool, logins).await
    }

    async fn login_records(&self, ids: &[String]) -> Result<Vec<LoginRecord>, StoreError> {
        logins::login_records(&self.pool, ids).await
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
            "INSERT INTO radius_clients (name, address, sealed_secret, \
             require_message_authenticator, mode, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&client.name)
        .bind(client.address.to_string())
        .bind(&client.sealed_secret)
        .bind(client.require_message_authenticator)
        .bind(client.mode.map(|m| m.as_str()))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            conflict_or(e, || {
                format!("RADIUS client {} already exists", client.name)
            })
        })?;
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK)
            .execute(&mut *tx)
            .await?;
        let head: Option<AuditHead> =
            sqlx::query_as("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let rows = link_batch(&self.chain, head, events)?;
        sqlx::query(
            "INSERT INTO audit_log (seq, at, kind, actor, account_id, outcome, detail, mac) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
             $5::text[], $6::text[], $7::text[], $8::bytea[])",
        )
        .bind(rows.iter().map(|r| r.seq).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event.at).collect::<Vec<_>>())
        .bind(column(&rows, |r| Some(r.event.kind.as_str())))
        .bind(column(&rows, |r| Some(r.event.actor.as_str())))
        .bind(column(&rows, |r| r.event.account_id.as_deref()))
        .bind(column(&rows, |r| Some(r.event.outcome.as_str())))
        .bind(column(&rows, |r| Some(r.event.detail.as_str())))
        .bind(rows.iter().map(|r| r.mac.to_vec()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
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
        self.pool.close().await;
    }
}

crate::store::audit_search::audit_search_query!(sqlx::PgPool);
