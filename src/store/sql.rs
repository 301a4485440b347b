//! The SQL of every role ([`crate::store::Store`]) written once for both backends: the SQLite and
//! PostgreSQL dialects agree on these statements (`$1` parameters, `ON CONFLICT`, `RETURNING`), so
//! [`role_impls!`] instantiates one body per backend type. Each backend supplies the few real differences as
//! inherent items with the same names: `BACKEND`, `gate()` (SQLite's writers queue in-process for the
//! one write lock), `refresh_statistics` (PostgreSQL's `ANALYZE` after a bulk load), `append_audit_rows`
//! (the chained insert), `shut_down`, `update_account` and the dialect modules (`devices`, `import`,
//! `invitations`, ...), which the body names relative to the backend's module.

/// Implements every role trait for one backend type (`SqliteStore` or `PgStore`), in its module.
macro_rules! role_impls {
    ($Store:ty) => {
        mod role_sql {
            #![allow(unused_imports)]
            use super::*;
            use crate::audit::{AuditEvent, AuditRecord};
            use crate::store::rows::{
                AccountRow, AccountValues, AuditRow, ClientRow, KEY_CHECK, OverviewRow,
                SyncedRow, account_not_found, conflict_or,
            };
            use crate::store::{
                AccountFilter, AccountOverview, AccountStatus, AccountStore, AccountUpsert,
                AccountingEntry, AuditStore, ClientStore, Device, DeviceStore, FailureState,
                ImportSummary, Invitation, InvitationStore, MaintenanceStore, NewClient, NewDevice,
                NewSmsCode, NewWebSession, ProofStore, RadiusClient, SmsCodeAttempt, SmsIssue,
                SmsLimits, SmsPurpose, SmsStore, StoreError, WebSession, WebSessionStore,
                DirectoryStore, SyncApplied, SyncWrite, SyncedAccount,
            };
            use crate::model::Account;
            use crate::store::changes::Change;

            #[async_trait::async_trait]
            impl MaintenanceStore for $Store {
                fn backend(&self) -> &'static str {
                    Self::BACKEND
                }

                async fn close(&self) {
                    self.shut_down().await;
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

                async fn key_check(&self) -> Result<Option<Vec<u8>>, StoreError> {
                    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                        .bind(KEY_CHECK)
                        .fetch_optional(&self.pool)
                        .await?)
                }

                async fn heartbeat(&self, node: &str, now: i64) -> Result<(), StoreError> {
                    let _gate = self.gate().await;
                    sqlx::query(
                        "INSERT INTO node_heartbeats (node, beat_at) VALUES ($1, $2) \
                         ON CONFLICT (node) DO UPDATE SET beat_at = excluded.beat_at",
                    )
                    .bind(node)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
                    sessions::purge_expired(&self.pool, now).await
                }

                async fn record_accounting(&self, entry: &AccountingEntry, now: i64) -> Result<(), StoreError> {
                    sessions::record_accounting(&self.pool, entry, now).await
                }
            }

            #[async_trait::async_trait]
            impl AccountStore for $Store {
                async fn create_account(&self, account: &AccountUpsert, now: i64) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Account(&account.id));
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
                    let _changed = self.changes.on_return(Change::Everything);
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

                async fn count_locked_accounts(&self, now: i64) -> Result<u64, StoreError> {
                    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE locked_until > $1")
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(u64::try_from(count).unwrap_or(0))
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
                    let _changed = self.changes.on_return(Change::Account(id));
                    let q = sqlx::query("UPDATE accounts SET status = $2, sync_disabled = FALSE, updated_at = $3 WHERE id = $1")
                        .bind(id)
                        .bind(status.as_str())
                        .bind(now);
                    self.update_account(q, id).await
                }

                async fn set_password_hash(&self, id: &str, hash: &str, now: i64) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Account(id));
                    let q = sqlx::query(
                        "UPDATE accounts SET password_hash = $2, failures = 0, updated_at = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(hash)
                    .bind(now);
                    self.update_account(q, id).await
                }

                async fn lock_account(&self, id: &str, until: i64, now: i64) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Account(id));
                    let q = sqlx::query("UPDATE accounts SET locked_until = $2, updated_at = $3 WHERE id = $1")
                        .bind(id)
                        .bind(until)
                        .bind(now);
                    self.update_account(q, id).await
                }

                async fn unlock_account(&self, id: &str, now: i64) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Account(id));
                    let q = sqlx::query(
                        "UPDATE accounts SET locked_until = NULL, failures = 0, web_locked_until = NULL, web_failures = 0, \
                         updated_at = $2 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now);
                    self.update_account(q, id).await
                }

                async fn remove_account(&self, id: &str) -> Result<bool, StoreError> {
                    let _changed = self.changes.on_return(Change::Account(id));
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
                    let _changed = self.changes.on_return(Change::Account(id));
                    // One statement: SET expressions all see the old row. An expired lock restarts the count at 1; a
                    // lock still running (say an admin lock) is kept as it is; otherwise reaching the threshold locks.
                    let _gate = self.gate().await;
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

                async fn record_success(&self, id: &str, now: i64) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Account(id));
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
                    let _changed = self.changes.on_return(Change::Account(id));
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
                    let _changed = self.changes.on_return(Change::Account(id));
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
                    let _changed = self.changes.on_return(Change::Account(id));
                    let from = AccountStatus::Active;
                    owner_passwords::set_owner_password(&self.pool, id, hash, from, keep_locks_from, now).await
                }

                async fn set_sms_fallback(
                    &self,
                    id: &str,
                    allowed: Option<bool>,
                    now: i64,
                ) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Account(id));
                    sms::set_sms_fallback(&self.pool, id, allowed, now).await
                }
            }

            #[async_trait::async_trait]
            impl DeviceStore for $Store {
                async fn bind_device(
                    &self,
                    device: &NewDevice,
                    replace: bool,
                    now: i64,
                ) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Account(&device.account_id));
                    devices::bind(&self.pool, device, replace, now).await
                }

                async fn bind_devices(
                    &self,
                    devices: &[NewDevice],
                    replace: bool,
                    now: i64,
                ) -> Result<u64, StoreError> {
                    let _changed = self.changes.on_return(Change::Everything);
                    let bound = devices::bind_many(&self.pool, devices, replace, now).await?;
                    self.refresh_statistics("ANALYZE devices", devices.len())
                        .await;
                    Ok(bound)
                }

                async fn begin_enrollment(&self, device: &NewDevice, now: i64) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Account(&device.account_id));
                    devices::begin_enrollment(&self.pool, device, now).await
                }

                async fn confirm_enrollment(
                    &self,
                    device_id: &str,
                    step: i64,
                    now: i64,
                ) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Everything);
                    devices::confirm_enrollment(&self.pool, device_id, step, now).await
                }

                async fn begin_phone_change(
                    &self,
                    device: &NewDevice,
                    old_device_id: &str,
                    now: i64,
                ) -> Result<(), StoreError> {
                    let _changed = self.changes.on_return(Change::Account(&device.account_id));
                    devices::begin_phone_change(&self.pool, device, old_device_id, now).await
                }

                async fn swap_device(
                    &self,
                    old_device_id: &str,
                    new_device_id: &str,
                    step: i64,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let _changed = self.changes.on_return(Change::Everything);
                    devices::swap_device(&self.pool, old_device_id, new_device_id, step, now).await
                }

                async fn active_device(&self, account_id: &str) -> Result<Option<Device>, StoreError> {
                    devices::active(&self.pool, account_id).await
                }

                async fn device(&self, device_id: &str) -> Result<Option<Device>, StoreError> {
                    devices::by_id(&self.pool, device_id).await
                }

                async fn reset_devices(&self, account_id: &str) -> Result<u64, StoreError> {
                    let _changed = self.changes.on_return(Change::Account(account_id));
                    devices::reset(&self.pool, account_id).await
                }

                async fn use_step_for_proof(&self, device_id: &str, step: i64) -> Result<bool, StoreError> {
                    let _changed = self.changes.on_return(Change::Device(device_id));
                    devices::use_step_for_proof(&self.pool, device_id, step).await
                }

                async fn record_accepted_step(
                    &self,
                    device_id: &str,
                    step: i64,
                    now: i64,
                    fingerprint: Option<&[u8]>,
                ) -> Result<bool, StoreError> {
                    let _changed = self.changes.on_return(Change::Device(device_id));
                    devices::record_accepted_step(&self.pool, device_id, step, now, fingerprint).await
                }
            }

            #[async_trait::async_trait]
            impl InvitationStore for $Store {
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
                    let _changed = self.changes.on_return(Change::Account(&device.account_id));
                    invitations::create_with_seed(&self.pool, token_hash, expires_at, device, now).await
                }

                async fn attach_invitation_device(
                    &self,
                    token_hash: &[u8],
                    expected: Option<&str>,
                    device: &NewDevice,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let _changed = self.changes.on_return(Change::Account(&device.account_id));
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
                    let _changed = self.changes.on_return(Change::Everything);
                    invitations::confirm_device(&self.pool, device_id, step, now).await
                }
            }

            #[async_trait::async_trait]
            impl WebSessionStore for $Store {
                async fn create_web_session(
                    &self,
                    session: &NewWebSession,
                    now: i64,
                ) -> Result<(), StoreError> {
                    page_sessions::create(&self.pool, &session.into(), now).await
                }

                async fn touch_web_session(
                    &self,
                    id_hash: &[u8],
                    now: i64,
                    expires_at: i64,
                ) -> Result<Option<WebSession>, StoreError> {
                    let kind = crate::store::page_sessions::SessionKind::Web;
                    let row = page_sessions::touch(&self.pool, kind, id_hash, now, expires_at).await?;
                    Ok(row.map(crate::store::page_sessions::web_session))
                }

                async fn set_web_session_flow(
                    &self,
                    id_hash: &[u8],
                    flow: Option<&str>,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    page_sessions::set_flow(&self.pool, id_hash, flow, now).await
                }

                async fn take_web_session_flow(
                    &self,
                    id_hash: &[u8],
                    flow: &str,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    page_sessions::take_flow(&self.pool, id_hash, flow, now).await
                }

                async fn remove_web_session(&self, id_hash: &[u8]) -> Result<bool, StoreError> {
                    let kind = crate::store::page_sessions::SessionKind::Web;
                    page_sessions::remove(&self.pool, kind, id_hash).await
                }

                async fn remove_account_web_sessions(&self, account_id: &str) -> Result<u64, StoreError> {
                    page_sessions::remove_of_account(&self.pool, account_id).await
                }

                async fn purge_expired_web_sessions(&self, now: i64) -> Result<u64, StoreError> {
                    let kind = crate::store::page_sessions::SessionKind::Web;
                    page_sessions::purge_expired(&self.pool, kind, now).await
                }
            }

            #[async_trait::async_trait]
            impl SmsStore for $Store {
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
            }

            #[async_trait::async_trait]
            impl ProofStore for $Store {
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
            }

            #[async_trait::async_trait]
            impl ClientStore for $Store {
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
            }

            #[async_trait::async_trait]
            impl AuditStore for $Store {
                async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
                    if events.is_empty() {
                        return Ok(());
                    }
                    self.append_audit_rows(events).await
                }

                async fn search_audit(
                    &self,
                    filter: &crate::store::AuditFilter,
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
            }

            #[async_trait::async_trait]
            impl DirectoryStore for $Store {
                async fn synced_accounts(&self) -> Result<Vec<SyncedAccount>, StoreError> {
                    sqlx::query_as::<_, SyncedRow>(
                        "SELECT id, name, phone, email, status, expires_on, groups, \
                         password_hash IS NOT NULL AS has_password, directory_dn, sync_disabled \
                         FROM accounts ORDER BY id",
                    )
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(SyncedAccount::try_from)
                    .collect()
                }

                async fn apply_sync(&self, sync: &SyncWrite, now: i64) -> Result<SyncApplied, StoreError> {
                    let _changed = self.changes.on_return(Change::Everything);
                    let _gate = self.gate().await;
                    let applied = directory_sync::apply_sync(&self.pool, sync, now).await?;
                    self.refresh_statistics("ANALYZE accounts", sync.upserts.len())
                        .await;
                    Ok(applied)
                }

                async fn take_job_lease(
                    &self,
                    job: &str,
                    holder: &str,
                    now: i64,
                    until: i64,
                ) -> Result<bool, StoreError> {
                    let _gate = self.gate().await;
                    let taken = sqlx::query(
                        "INSERT INTO job_leases (job, holder, until_at) VALUES ($1, $2, $4) \
                         ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until_at = excluded.until_at \
                         WHERE job_leases.until_at <= $3 OR job_leases.holder = excluded.holder",
                    )
                    .bind(job)
                    .bind(holder)
                    .bind(now)
                    .bind(until)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    Ok(taken == 1)
                }

                async fn set_job_lease(&self, job: &str, holder: &str, until: i64) -> Result<bool, StoreError> {
                    let _gate = self.gate().await;
                    let moved = sqlx::query("UPDATE job_leases SET until_at = $3 WHERE job = $1 AND holder = $2")
                        .bind(job)
                        .bind(holder)
                        .bind(until)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    Ok(moved == 1)
                }
            }
        }
    };
}
pub(super) use role_impls;
