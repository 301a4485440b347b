//! The store by roles: one trait per part of motpd that keeps data (accounts, devices, invitations, web
//! sessions, SMS codes, second proofs, RADIUS clients, the audit trail, upkeep, the helpdesk console). Off the per-packet path,
//! callers hold an `Arc<dyn Store>` (every role) or a `&dyn` of the one role they need; the login path has
//! its own narrow trait, [`super::LoginStore`].
//!
//! The traits speak intent ("record that this step was accepted", "count a failure"), not CRUD, so that every
//! rule that must hold across several motpd nodes (a code accepted once, one active device per account, the
//! failure counter, the audit chain's order) is a single atomic statement or transaction inside the store.
//! Both backends pass the same contract suite (`tests/integration/store_contract.rs`).

use super::key_rotation::SealedStore;
use super::{
    AccountFilter, AccountOverview, AccountStatus, AccountUpsert, AccountingEntry, Admin,
    AdminSession, AuditFilter, Device, FailureState, ImportSummary, Invitation, NewAdmin,
    NewAdminSession, NewClient, NewDevice, NewSmsCode, NewWebSession, RadiusClient, SmsCodeAttempt,
    SmsIssue, SmsLimits, SmsPurpose, StoreError, SyncApplied, SyncWrite, SyncedAccount, WebSession,
};
use crate::audit::{AuditEvent, AuditRecord};
use crate::model::Account;

/// Every role of a backend: what the CLI, the web pages and the engine's slower paths hold.
pub trait Store:
    MaintenanceStore
    + AccountStore
    + DeviceStore
    + InvitationStore
    + WebSessionStore
    + SmsStore
    + ProofStore
    + ClientStore
    + AuditStore
    + DirectoryStore
    + ConsoleStore
    + SealedStore
{
}

impl<T> Store for T where
    T: MaintenanceStore
        + AccountStore
        + DeviceStore
        + InvitationStore
        + WebSessionStore
        + SmsStore
        + ProofStore
        + ClientStore
        + AuditStore
        + DirectoryStore
        + ConsoleStore
        + SealedStore
{
}

/// The node's upkeep: which backend this is, the key check value, RADIUS accounting records, purging expired
/// challenges, closing.
#[async_trait::async_trait]
pub trait MaintenanceStore: Send + Sync + std::fmt::Debug {
    /// Which backend this is (`sqlite` or `postgres`), for logs.
    fn backend(&self) -> &'static str;
    /// Stores `candidate` as the key check value if none is stored yet; returns the value now stored.
    async fn ensure_key_check(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// Deletes expired challenges; returns how many.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;
    /// Records one Accounting-Request.
    async fn record_accounting(&self, entry: &AccountingEntry, now: i64) -> Result<(), StoreError>;
    /// The stored key check value, if any (read only: the readiness probe compares it with the key in use).
    async fn key_check(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes `node`'s heartbeat row (an upsert): proof for the readiness probe that the database takes writes.
    async fn heartbeat(&self, node: &str, now: i64) -> Result<(), StoreError>;
    /// Closes the pool (last step of shutdown).
    async fn close(&self);
}

/// Accounts: creation and CSV import, status, password hashes, admin locks, the after-the-fact failure count,
/// activation and password reset.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    /// Creates an account; `Conflict` if the ID exists.
    async fn create_account(&self, account: &AccountUpsert, now: i64) -> Result<(), StoreError>;
    /// Creates or updates many accounts in one transaction (all or nothing). An update replaces the name,
    /// phone, e-mail, expiry and groups, keeps the stored status, and keeps the stored hash when the row's
    /// `password_hash` is `None`. The same ID twice in one batch is a `Conflict` (nothing is imported).
    /// Returns how many were created and updated.
    async fn import_accounts(
        &self,
        accounts: &[AccountUpsert],
        now: i64,
    ) -> Result<ImportSummary, StoreError>;
    /// One account.
    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;
    /// How many accounts are locked at `now` (the `motpd_accounts_locked` gauge).
    async fn count_locked_accounts(&self, now: i64) -> Result<u64, StoreError>;
    /// Whether any account exists (cheap: for the hints `motpd serve` prints on an empty database).
    async fn any_account(&self) -> Result<bool, StoreError>;
    /// Accounts with their device state, ordered by ID.
    async fn list_accounts(
        &self,
        filter: AccountFilter,
    ) -> Result<Vec<AccountOverview>, StoreError>;
    /// Sets the status (`NotFound` if absent).
    async fn set_account_status(
        &self,
        id: &str,
        status: AccountStatus,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Replaces the password hash (and resets failures).
    async fn set_password_hash(&self, id: &str, hash: &str, now: i64) -> Result<(), StoreError>;
    /// Locks the account until `until` (admin lock: a far-future time).
    async fn lock_account(&self, id: &str, until: i64, now: i64) -> Result<(), StoreError>;
    /// Clears the lock and both failure counters (VPN and web).
    async fn unlock_account(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Removes the account and its devices; `false` if it did not exist.
    async fn remove_account(&self, id: &str) -> Result<bool, StoreError>;
    /// Counts a failed login atomically, after the fact (the login path counts before comparing instead:
    /// [`LoginStore::reserve_attempt`]). If the previous lock has expired the count starts again at 1. When the
    /// count reaches `threshold` the account is locked until `now + lock_seconds`; a `threshold` of 0 never
    /// locks. A lock that is still running (an admin lock, say) is kept as it is, neither extended nor
    /// shortened. `NotFound` if the account does not exist.
    async fn record_failure(
        &self,
        id: &str,
        now: i64,
        threshold: u32,
        lock_seconds: i64,
    ) -> Result<FailureState, StoreError>;
    /// A successful login: failures to 0, an expired lock cleared, last login time set. A lock still running
    /// at `now` was set after the login checked it (an admin's `user lock`, another node's lockout) and is kept.
    async fn record_success(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// A correct password that is not a VPN login (the enrollment pages' login): as [`AccountStore::record_success`]
    /// but without the last login time, which lists show as the last VPN login.
    async fn clear_failures(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Account activation by its owner, in one transaction: only if the account is `Pending`, sets `hash`, makes
    /// it `Active`, clears the failure counter and a lock ending before `keep_locks_from` (a lock running until
    /// then or later is an admin's and stays), and ends the account's web sessions. `None` (nothing changed) if
    /// the account does not exist or is not pending; else how many web sessions ended.
    async fn activate_with_password(
        &self,
        id: &str,
        hash: &str,
        keep_locks_from: i64,
        now: i64,
    ) -> Result<Option<u64>, StoreError>;
    /// Forgotten-password reset by the owner, in one transaction: only if the account is `Active` (never a
    /// disabled one), sets `hash`, clears failures and a lock ending before `keep_locks_from`, and ends every
    /// web session of the account. `None` (nothing changed) if it does not exist or is not active; else how
    /// many web sessions ended.
    async fn reset_password(
        &self,
        id: &str,
        hash: &str,
        keep_locks_from: i64,
        now: i64,
    ) -> Result<Option<u64>, StoreError>;
    /// Sets the account's SMS fallback switch (`None`: follow the configuration). `NotFound` if absent.
    async fn set_sms_fallback(
        &self,
        id: &str,
        allowed: Option<bool>,
        now: i64,
    ) -> Result<(), StoreError>;
}

/// Devices: binding (one active device per account), enrollment, reset, the replay guard outside the VPN login
/// (enrollment confirmation, proofs).
#[async_trait::async_trait]
pub trait DeviceStore: Send + Sync + std::fmt::Debug {
    /// Binds an active device directly (admin enrollment or seed import). With `replace`, the account's other
    /// devices are removed in the same transaction; without it an existing active device gives `Conflict`
    /// (pending devices are left alone). `NotFound` if the account does not exist.
    async fn bind_device(
        &self,
        device: &NewDevice,
        replace: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Binds many active devices in one transaction (all or nothing): the bulk form of [`DeviceStore::bind_device`]
    /// for seed imports, with the same rules. With `replace`, every other device of the named accounts is
    /// removed; without it an account that already has an active device gives `Conflict` naming it. The same
    /// account twice in the batch is a `Conflict`; an account that does not exist gives `NotFound`. The first
    /// offending device in batch order is the one reported. Returns how many devices were bound.
    async fn bind_devices(
        &self,
        devices: &[NewDevice],
        replace: bool,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Starts a self-service enrollment: stores `device` as pending, replacing any earlier pending device of
    /// the account. `Conflict` if the account already has an active device; `NotFound` if there is no such
    /// account.
    async fn begin_enrollment(&self, device: &NewDevice, now: i64) -> Result<(), StoreError>;
    /// Activates a pending device whose first code matched `step`: `step` becomes its `last_step` (that code
    /// is used up) and the account's other pending devices are removed. `Conflict` if the account meanwhile
    /// got an active device (two tabs racing: exactly one wins); `NotFound` if the device is not pending.
    async fn confirm_enrollment(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Starts a phone change: stores `device` as the account's one pending device (earlier pending devices go),
    /// only while `old_device_id` is the account's active device (`NotFound` otherwise, or for no account).
    async fn begin_phone_change(
        &self,
        device: &NewDevice,
        old_device_id: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Completes a phone change in one transaction: removes the active device `old_device_id` and activates the
    /// pending `new_device_id` of the same account with `step` used up (other pending devices go). A
    /// compare-and-set: `false`, and nothing changed, unless the old device is still the active one and the new
    /// one still pending (a reset, a concurrent change or a newer start in between).
    async fn swap_device(
        &self,
        old_device_id: &str,
        new_device_id: &str,
        step: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// The account's active device.
    async fn active_device(&self, account_id: &str) -> Result<Option<Device>, StoreError>;
    /// A device by ID, in any state.
    async fn device(&self, device_id: &str) -> Result<Option<Device>, StoreError>;
    /// Removes all the account's devices (lost phone); returns how many (0 for an unknown account).
    async fn reset_devices(&self, account_id: &str) -> Result<u64, StoreError>;
    /// The replay guard: one atomic compare-and-set `last_step := step WHERE last_step < step` on an active
    /// device. `true` means this caller is the one that accepted the step; `false` means it was already used
    /// (or a later one was), by this node or another.
    ///
    /// `fingerprint` (keyed, see the engine) is stored with the step, for `otp.reuse_seconds`.
    async fn record_accepted_step(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
        fingerprint: Option<&[u8]>,
    ) -> Result<bool, StoreError>;
    /// The same replay guard for a code that proves possession but is not a VPN login (the account pages):
    /// the step is used up, the last login time (`last_used_at`) stays, and no fingerprint allows its reuse.
    async fn use_step_for_proof(&self, device_id: &str, step: i64) -> Result<bool, StoreError>;
}

/// Invitations (flow B): single-use, expiring links, and the seed mailed with one.
#[async_trait::async_trait]
pub trait InvitationStore: Send + Sync + std::fmt::Debug {
    /// Stores a new invitation (only its token's SHA-256) and deletes the account's earlier ones in the same
    /// transaction, so a re-invitation invalidates the old link. `NotFound` if the account does not exist.
    async fn create_invitation(
        &self,
        account_id: &str,
        token_hash: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The invitation with this token hash, used or not, expired or not.
    async fn invitation(&self, token_hash: &[u8]) -> Result<Option<Invitation>, StoreError>;
    /// Marks the invitation used, atomically: `true` only for the one caller that found it unused and
    /// unexpired at `now` (on any node).
    async fn use_invitation(&self, token_hash: &[u8], now: i64) -> Result<bool, StoreError>;
    /// Every stored invitation, used or not, expired or not (at most one per account: a re-invitation replaces
    /// the earlier one), ordered by account.
    async fn list_invitations(&self) -> Result<Vec<Invitation>, StoreError>;
    /// `motpd invite --qr-in-mail`: in one transaction, stores `device` as the account's one pending device
    /// (as [`DeviceStore::begin_enrollment`]), replaces the account's invitations by this one, and records that its seed
    /// went out in the mail. `Conflict` if the account has an active device; `NotFound` if there is no such
    /// account.
    async fn create_invitation_with_seed(
        &self,
        token_hash: &[u8],
        expires_at: i64,
        device: &NewDevice,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Gives the invitation a new pending device, in one transaction: only if the invitation is unused,
    /// unexpired at `now`, of `device`'s account, and still shows `expected` (compare-and-set, so two first
    /// visits racing on several nodes end with one seed). `device` replaces the account's pending devices as in
    /// [`DeviceStore::begin_enrollment`]. `false` (nothing written) if a condition does not hold; `Conflict` if the
    /// account has an active device.
    async fn attach_invitation_device(
        &self,
        token_hash: &[u8],
        expected: Option<&str>,
        device: &NewDevice,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// The pending device whose seed was mailed with the account's invitation, while that invitation is unused
    /// and unexpired at `now`.
    async fn mailed_pending_device(
        &self,
        account_id: &str,
        now: i64,
    ) -> Result<Option<Device>, StoreError>;
    /// Activates an invitation's pending device whose first code matched `step` and uses the invitation up, in
    /// one transaction: `false` (nothing written) unless an unused invitation unexpired at `now` shows this
    /// device. Otherwise as [`DeviceStore::confirm_enrollment`]: `Conflict` if the account meanwhile got an active
    /// device, `NotFound` if the device is not pending.
    async fn confirm_invited_device(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
}

/// The enrollment pages' sessions, keyed by the SHA-256 of the cookie value.
#[async_trait::async_trait]
pub trait WebSessionStore: Send + Sync + std::fmt::Debug {
    /// Stores a new enrollment-page session (keyed by the SHA-256 of its cookie value).
    async fn create_web_session(&self, session: &NewWebSession, now: i64)
    -> Result<(), StoreError>;
    /// The session with this ID hash if it has not expired at `now`; its deadline becomes `expires_at`, in the
    /// same atomic statement. `None` if there is none or it has expired.
    async fn touch_web_session(
        &self,
        id_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<Option<WebSession>, StoreError>;
    /// Replaces the state of the account pages kept in an unexpired session (`None` clears it); `false` if
    /// there is no such session.
    async fn set_web_session_flow(
        &self,
        id_hash: &[u8],
        flow: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Clears the session's flow state only if it is exactly `flow`, atomically: `true` for the one caller
    /// that took it (single use across requests and nodes).
    async fn take_web_session_flow(
        &self,
        id_hash: &[u8],
        flow: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Ends a session; `false` if there was none.
    async fn remove_web_session(&self, id_hash: &[u8]) -> Result<bool, StoreError>;
    /// Ends every session logged in as `account_id` (password reset, disabled account); returns how many.
    async fn remove_account_web_sessions(&self, account_id: &str) -> Result<u64, StoreError>;
    /// Deletes expired web sessions; returns how many.
    async fn purge_expired_web_sessions(&self, now: i64) -> Result<u64, StoreError>;
}

/// One-time SMS codes and their rate limits.
#[async_trait::async_trait]
pub trait SmsStore: Send + Sync + std::fmt::Debug {
    /// One SMS send, atomically across nodes: if the account's and the number's sends of the same purpose
    /// within `limits.window_seconds` before `now` allow another (each purpose has its own quota) (see [`SmsLimits`]), records the send and stores the
    /// code, replacing the account's earlier code of the same purpose (which stops working). Otherwise writes
    /// nothing and says when the next send is allowed. `NotFound` if the account does not exist.
    async fn issue_sms_code(
        &self,
        code: &NewSmsCode,
        limits: &SmsLimits,
        now: i64,
    ) -> Result<SmsIssue, StoreError>;
    /// Deletes the account's code of `purpose` if it is still the one with `code_hash` (its SMS could not be
    /// delivered); `false` if it was already replaced, used or gone. The recorded send stays (it counts).
    async fn discard_sms_code(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
        code_hash: &[u8],
    ) -> Result<bool, StoreError>;
    /// Counts one more try at the account's code of `purpose` (in one atomic statement, before the caller
    /// compares) and returns the code's hash, tries so far and expiry; `None` if there is no code.
    async fn count_sms_attempt(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
    ) -> Result<Option<SmsCodeAttempt>, StoreError>;
    /// Uses the code up, atomically: `true` only for the one caller (on any node) that found it still stored
    /// with this hash, unexpired at `now` and with at most `max_attempts` tries counted.
    async fn consume_sms_code(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
        code_hash: &[u8],
        max_attempts: u32,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes expired codes and sends at or before `sends_before`; returns how many rows.
    async fn purge_sms(&self, now: i64, sends_before: i64) -> Result<u64, StoreError>;
}

/// The second proofs of activation and reset (identity hash, helpdesk code) and the SMS pause after them.
#[async_trait::async_trait]
pub trait ProofStore: Send + Sync + std::fmt::Debug {
    /// Sets (`None`: clears) the keyed hash of the identity the hospital holds for the account. `NotFound` if
    /// the account does not exist.
    async fn set_identity_hash(
        &self,
        id: &str,
        hash: Option<&[u8]>,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The keyed hash of the account's identity, if one is on file.
    async fn identity_hash(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores the keyed hash of a one-time helpdesk code valid until `expires_at`, replacing an earlier one.
    /// `NotFound` if the account does not exist.
    async fn set_helpdesk_code(
        &self,
        id: &str,
        hash: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Uses the helpdesk code up, atomically: `true` only for the one caller (on any node) that found it still
    /// stored with this hash and unexpired at `now`.
    async fn take_helpdesk_code(&self, id: &str, hash: &[u8], now: i64)
    -> Result<bool, StoreError>;
    /// Pauses the account's VPN SMS fallback until `until` (a longer running pause stays). `NotFound` if the
    /// account does not exist.
    async fn pause_sms_fallback(&self, id: &str, until: i64, now: i64) -> Result<(), StoreError>;
    /// Until when the account's VPN SMS fallback is paused (`None`: never paused).
    async fn sms_paused_until(&self, id: &str) -> Result<Option<i64>, StoreError>;
}

/// RADIUS clients and their sealed shared secrets.
#[async_trait::async_trait]
pub trait ClientStore: Send + Sync + std::fmt::Debug {
    /// Adds a client; `Conflict` if the name exists.
    async fn add_client(&self, client: &NewClient, now: i64) -> Result<(), StoreError>;
    /// All clients, ordered by name.
    async fn clients(&self) -> Result<Vec<RadiusClient>, StoreError>;
    /// Removes a client; `false` if it did not exist.
    async fn remove_client(&self, name: &str) -> Result<bool, StoreError>;
    /// Replaces the address, sealed secret, Message-Authenticator rule and mode of the client named
    /// `client.name`; `false` if there is no such client.
    async fn update_client(&self, client: &NewClient) -> Result<bool, StoreError>;
}

/// The audit trail: appending (chained) and reading it.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug {
    /// Appends events to the chain, in order, in one transaction serialised against every other writer.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// Up to `limit` rows with `seq > after`, in order.
    async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
    /// The newest audit rows matching `filter` (newest first).
    async fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Accounts synced from the directory (`motpd user sync`, and `motpd serve` every `ldap.sync_minutes`), and the
/// lease that keeps a periodic job on one node at a time.
#[async_trait::async_trait]
pub trait DirectoryStore: Send + Sync + std::fmt::Debug {
    /// Every account with what a sync compares (the directory's and motpd's own), ordered by ID.
    async fn synced_accounts(&self) -> Result<Vec<SyncedAccount>, StoreError>;
    /// Applies a whole sync in one transaction (all or nothing): upserts the accounts (a new one gets the
    /// row's status; an existing one keeps its status and password hash), disables `disable` (only those not
    /// disabled already, marking them disabled by a sync) and re-enables `enable` (only those still disabled by
    /// a sync: an admin's status change in between wins). Devices are not touched. The same ID twice among
    /// the upserts is a `Conflict` (nothing is written).
    async fn apply_sync(&self, sync: &SyncWrite, now: i64) -> Result<SyncApplied, StoreError>;
    /// Takes the lease of `job` for `holder` until `until`, atomically across nodes: `true` if it was free
    /// (never taken, or its time passed at `now`) or already `holder`'s; `false` if another holder has it.
    async fn take_job_lease(
        &self,
        job: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;
    /// Moves the end of `holder`'s lease of `job` to `until` (when the next run is due, or `now` to hand it
    /// back); `false` if `holder` no longer holds it.
    async fn set_job_lease(&self, job: &str, holder: &str, until: i64) -> Result<bool, StoreError>;
}

/// The helpdesk console: its admins (never staff accounts), their sessions, and the account search.
#[async_trait::async_trait]
pub trait ConsoleStore: Send + Sync + std::fmt::Debug {
    /// Stores a new admin; `Conflict` if the name is taken.
    async fn create_admin(&self, admin: &NewAdmin, now: i64) -> Result<(), StoreError>;
    /// The admin with this name.
    async fn admin(&self, name: &str) -> Result<Option<Admin>, StoreError>;
    /// Every admin, by name.
    async fn list_admins(&self) -> Result<Vec<Admin>, StoreError>;
    /// Deletes an admin and its sessions; `false` if there was none.
    async fn remove_admin(&self, name: &str) -> Result<bool, StoreError>;
    /// Disables an admin (its sessions end in the same transaction) or enables it again; `false` if there is
    /// no such admin.
    async fn set_admin_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError>;
    /// Replaces the admin's TOTP seed (its replay guard starting at `step`, the confirming code's), clears
    /// its failures and lock and ends its sessions, atomically; `false` if there is no such admin.
    async fn replace_admin_totp(
        &self,
        name: &str,
        sealed_totp: &[u8],
        step: i64,
    ) -> Result<bool, StoreError>;
    /// Counts a console login attempt before any secret is compared (a success clears it again): the
    /// counter goes up, starting again at 1 after an expired lock, and the admin is locked until `lock_until`
    /// when it passes `max_failures`, in one statement. The counter and the lock after it; `None` if there is
    /// no such admin.
    async fn reserve_admin_attempt(
        &self,
        name: &str,
        max_failures: u32,
        lock_until: i64,
        now: i64,
    ) -> Result<Option<(u32, Option<i64>)>, StoreError>;
    /// Records a login whose code matched `step`: a compare-and-set on the replay guard (only a newer step of
    /// an admin neither disabled nor locked at `now` wins, once across nodes), clearing the failures. `false`
    /// for the loser.
    async fn record_admin_login(&self, name: &str, step: i64, now: i64)
    -> Result<bool, StoreError>;
    /// Stores a new console session.
    async fn create_admin_session(
        &self,
        session: &NewAdminSession,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The unexpired session with this ID hash of an admin who is not disabled, its deadline moved to
    /// `expires_at`.
    async fn touch_admin_session(
        &self,
        id_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<Option<AdminSession>, StoreError>;
    /// Ends a console session; `false` if there was none.
    async fn remove_admin_session(&self, id_hash: &[u8]) -> Result<bool, StoreError>;
    /// Deletes expired console sessions; returns how many.
    async fn purge_expired_admin_sessions(&self, now: i64) -> Result<u64, StoreError>;
    /// How many console sessions have not expired at `now` (for `motpd_console_sessions`).
    async fn count_admin_sessions(&self, now: i64) -> Result<u64, StoreError>;
    /// Accounts whose ID, name or phone contains `text` (case-insensitive), by ID, at most `limit`.
    async fn search_accounts(&self, text: &str, limit: u32) -> Result<Vec<Account>, StoreError>;
    /// Accounts locked at `now` (after failed logins or by an admin), the lock ending last first, at most `limit`.
    async fn locked_accounts(&self, now: i64, limit: u32) -> Result<Vec<Account>, StoreError>;
    /// Accounts not disabled whose last day is from `from` to `to`, the soonest first, at most `limit`.
    async fn expiring_accounts(
        &self,
        from: time::Date,
        to: time::Date,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError>;
}
