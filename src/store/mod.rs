//! Persistence: the one [`Store`] trait every other part of motpd talks to, its domain records, and
//! [`connect`], which picks the backend from the database URL.
//!
//! The two backends (`sqlite.rs`, `postgres.rs` and their submodules) are the only files in the crate that
//! contain SQL; `rows.rs` holds what they share (row decoding, value encodings, error mapping). The trait
//! speaks intent ("record that this step was accepted", "count a failure"), not CRUD, so that every rule that
//! must hold across several motpd nodes (a code accepted once, one active device per account, the failure
//! counter, the audit chain's order) is a single atomic statement or transaction inside the store.
//!
//! The store keeps secrets only in sealed form ([`crate::secrets::MasterKey::seal`]); it never sees a key or a
//! plaintext seed. It makes no policy decisions: thresholds and times come from the caller.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod account_proofs;
mod audit_search;
mod batch;
mod cache;
mod invitations;
mod lockout;
mod owner_passwords;
mod postgres;
mod rows;
mod sessions;
mod sms;
mod sqlite;
mod web_sessions;

use std::sync::Arc;

pub use crate::model::*;
pub use audit_search::AuditFilter;
pub use batch::BatchStats;
pub use cache::{CacheSettings, CacheStats, CachedStore};
pub use lockout::{AttemptRequest, Counter, LockoutPolicy, Reservation};

use crate::audit::{AuditChain, AuditEvent, AuditRecord};

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row the operation is about does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The operation would break a uniqueness rule (duplicate ID, second active device, ...).
    #[error("{0}")]
    Conflict(String),
    /// The URL names no backend motpd has.
    #[error(
        "unsupported database URL scheme in {0:?}: use sqlite://PATH (or sqlite::memory:) or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl(String),
    /// A batched operation failed; every request of the batch gets the same error.
    #[error(transparent)]
    Batched(Arc<StoreError>),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A stored value could not be understood (hand-edited row, newer schema).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The database driver reported an error (unreachable server, I/O, SQL).
    #[error("database error: {0}")]
    Backend(#[source] sqlx::Error),
    /// SQLite reported an error on the serving hot path's own connection (`sqlite/hot.rs`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The thread of the SQLite hot path could not be started.
    #[error("cannot start the database thread: {0}")]
    Thread(#[source] std::io::Error),
    /// An SQLite database file (or its `-wal`/`-shm`) is readable or writable by group or others.
    #[error(
        "database file {path} has mode {mode:04o}: group or others can access it (password hashes, phone numbers, the audit trail); run `{fix}` (motpd refuses to use a database others can read)",
        path = path.display()
    )]
    FilePermissions {
        /// The file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The command that makes the database's files private.
        fix: String,
    },
    /// The SQLite database file could not be created or inspected.
    #[error("database file {path}: {source}", path = path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// The storage contract. Both backends pass the same test suite (`tests/integration/store_contract.rs`).
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which backend this is (`sqlite` or `postgres`), for logs.
    fn backend(&self) -> &'static str;

    /// Whether this store already runs concurrent [`Store::login_records`] and
    /// [`Store::record_accepted_logins`] calls together in batches (the SQLite hot-path thread does); a caching
    /// layer then calls it directly instead of batching in front of it.
    fn groups_concurrent_calls(&self) -> bool {
        false
    }

    /// Whether [`Store::record_accepted_logins`] writes an accepted login's [`AcceptedLogin::audit`] row in
    /// the transaction of its step (the SQLite hot path does): an Accept is then never sent before its audit
    /// row is stored. Other stores ignore the field; their callers audit through [`Store::append_audit`].
    fn stores_login_audit(&self) -> bool {
        false
    }

    // ---- key check -----------------------------------------------------------------------------------------
    /// Stores `candidate` as the key check value if none is stored yet; returns the value now stored.
    async fn ensure_key_check(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;

    // ---- accounts ------------------------------------------------------------------------------------------
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
    /// [`Store::reserve_attempt`]). If the previous lock has expired the count starts again at 1. When the
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
    /// Reserves one attempt on `counter` BEFORE the caller evaluates any secret, in one atomic statement (see
    /// `store/lockout.rs`): `Refused` while the account's lock runs (the VPN lock refuses both counters) or
    /// while the count already reached `policy.threshold`; else the count goes up by one (an expired lock
    /// restarts it) and the attempt's time is stored, so a count stuck at the threshold without a lock restarts
    /// after `policy.lock_seconds`. The caller then settles the attempt once: [`Store::settle_failure`],
    /// [`Store::settle_success`] (or, for the VPN, the conditional accept of [`Store::record_accepted_logins`]),
    /// or [`Store::release_attempt`]. `None` if the account does not exist. Never answered from a cache.
    async fn reserve_attempt(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<Option<Reservation>, StoreError>;
    /// Many reservations of `counter` as if made one after the other, answered in order: what
    /// [`Store::reserve_attempt`] answers for each. A backend whose commits are costly (PostgreSQL) makes them
    /// in one transaction; by default they are made one by one.
    async fn reserve_attempts(
        &self,
        counter: Counter,
        requests: &[AttemptRequest],
    ) -> Result<Vec<Option<Reservation>>, StoreError> {
        let mut answers = Vec::with_capacity(requests.len());
        for request in requests {
            answers.push(
                self.reserve_attempt(counter, &request.id, request.now, request.policy)
                    .await?,
            );
        }
        Ok(answers)
    }
    /// Settles a reserved attempt whose secret was wrong: locks the account until `now + lock_seconds` when
    /// the count reached the threshold (the reservation already counted it: no second increment). A lock still
    /// running is kept as it is. `NotFound` if the account does not exist.
    async fn settle_failure(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<FailureState, StoreError>;
    /// Settles a reserved attempt that was a success: the counter to 0 and its expired lock cleared, only if
    /// the account is not locked at `now` (for the VPN counter also the last login time). `false` (nothing
    /// written) when a lock runs or the account is gone: the caller must not accept. A web success never
    /// touches the VPN counter.
    async fn settle_success(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Gives back a reserved unit whose attempt was neither a failure nor a success (a right password leading
    /// to a challenge, a request shed before its check). Never below 0.
    async fn release_attempt(&self, counter: Counter, id: &str) -> Result<(), StoreError>;
    /// A successful login: failures to 0, an expired lock cleared, last login time set. A lock still running
    /// at `now` was set after the login checked it (an admin's `user lock`, another node's lockout) and is kept.
    async fn record_success(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// A correct password that is not a VPN login (the enrollment pages' login): as [`Store::record_success`]
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

    // ---- devices -------------------------------------------------------------------------------------------
    /// Binds an active device directly (admin enrollment or seed import). With `replace`, the account's other
    /// devices are removed in the same transaction; without it an existing active device gives `Conflict`
    /// (pending devices are left alone). `NotFound` if the account does not exist.
    async fn bind_device(
        &self,
        device: &NewDevice,
        replace: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Binds many active devices in one transaction (all or nothing): the bulk form of [`Store::bind_device`]
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
    /// The account's active device.
    async fn active_device(&self, account_id: &str) -> Result<Option<Device>, StoreError>;
    /// The account with its active device: what a login reads. By default [`Store::account`], then
    /// [`Store::active_device`]; the login cache answers both from one entry.
    async fn login_record(&self, id: &str) -> Result<Option<LoginRecord>, StoreError> {
        let Some(account) = self.account(id).await? else {
            return Ok(None);
        };
        let device = self.active_device(id).await?;
        Ok(Some(LoginRecord { account, device }))
    }
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

    /// A login's whole write in one: [`Store::record_accepted_step`] and, when this caller won the step, the
    /// account's failures and an expired lock cleared as [`Store::record_success`] does (the login's time is
    /// the device's `last_used_at`; the account row is written only when it has something to clear). `true` means the step was this caller's and the login is
    /// recorded; `false` means the code was already used. The backends take it as a batch of one of
    /// [`Store::record_accepted_logins`]; the caching decorator (`cache.rs`) group-commits concurrent calls.
    async fn record_accepted_login(&self, login: &AcceptedLogin) -> Result<bool, StoreError> {
        let won = self
            .record_accepted_logins(std::slice::from_ref(login))
            .await?;
        Ok(won.first().copied().unwrap_or(false))
    }
    /// Many accepted logins with a few statements, in order, as if each were recorded alone one after the
    /// other: per login the compare-and-set `last_step := step WHERE last_step < step` on the active device
    /// (with `last_used_at`), which wins only while the device's account is not locked at the login's `now`
    /// (the accept is conditional on "not locked" in the replay guard's own statement, so no code is accepted
    /// once failures settled on any node have locked the account), and for each winner the account's failures and an expired lock cleared, as
    /// [`Store::record_success`] does but without the last login time, which is the device's (see
    /// [`Account::last_login`]; an account that no longer exists is skipped). The same device may appear more than once (a later, higher step can win after an
    /// earlier one). Returns one `bool` per login, in order, once everything is committed (durable). On an
    /// error some steps may already be used up — never accepted twice — and the caller answers none of the
    /// logins with an Accept (fail closed).
    async fn record_accepted_logins(
        &self,
        logins: &[AcceptedLogin],
    ) -> Result<Vec<bool>, StoreError>;
    /// The accounts with these IDs and their active devices, read with a few statements for the whole batch
    /// (the read side of the login path). IDs without an account are absent from the result; order is not
    /// kept.
    async fn login_records(&self, ids: &[String]) -> Result<Vec<LoginRecord>, StoreError>;

    // ---- RADIUS sessions -----------------------------------------------------------------------------------
    /// Stores an outstanding Access-Challenge.
    async fn create_challenge(&self, challenge: &NewChallenge, now: i64) -> Result<(), StoreError>;
    /// Removes and returns the challenge with this State hash in one atomic step (single use across nodes);
    /// `None` if there is none or it has expired.
    async fn take_challenge(
        &self,
        state_hash: &[u8],
        now: i64,
    ) -> Result<Option<Challenge>, StoreError>;
    /// Deletes expired challenges; returns how many.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;
    /// Records one Accounting-Request.
    async fn record_accounting(&self, entry: &AccountingEntry, now: i64) -> Result<(), StoreError>;

    // ---- web sessions --------------------------------------------------------------------------------------
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

    // ---- invitations ---------------------------------------------------------------------------------------
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
    /// (as [`Store::begin_enrollment`]), replaces the account's invitations by this one, and records that its seed
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
    /// [`Store::begin_enrollment`]. `false` (nothing written) if a condition does not hold; `Conflict` if the
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
    /// device. Otherwise as [`Store::confirm_enrollment`]: `Conflict` if the account meanwhile got an active
    /// device, `NotFound` if the device is not pending.
    async fn confirm_invited_device(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    // ---- SMS codes -----------------------------------------------------------------------------------------
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

    // ---- Second proofs of activation and reset, the SMS pause after them ----------------------------------
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

    // ---- RADIUS clients ------------------------------------------------------------------------------------
    /// Adds a client; `Conflict` if the name exists.
    async fn add_client(&self, client: &NewClient, now: i64) -> Result<(), StoreError>;
    /// All clients, ordered by name.
    async fn clients(&self) -> Result<Vec<RadiusClient>, StoreError>;
    /// Removes a client; `false` if it did not exist.
    async fn remove_client(&self, name: &str) -> Result<bool, StoreError>;
    /// Replaces the address, sealed secret, Message-Authenticator rule and mode of the client named
    /// `client.name`; `false` if there is no such client.
    async fn update_client(&self, client: &NewClient) -> Result<bool, StoreError>;

    // ---- audit ---------------------------------------------------------------------------------------------
    /// Appends events to the chain, in order, in one transaction serialised against every other writer.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// Up to `limit` rows with `seq > after`, in order.
    async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
    /// The newest audit rows matching `filter` (newest first).
    async fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;

    /// Closes the pool (last step of shutdown).
    async fn close(&self);
}

/// Whether the store at `url` runs its login path on a thread of its own (an SQLite file: the hot-path writer,
/// `sqlite/hot.rs`). That thread is the one part of a login that cannot run in parallel, so `motpd serve`
/// leaves it a core: it should never wait for one behind the async workers.
pub fn has_writer_thread(url: &str) -> bool {
    url.starts_with("sqlite:") && !sqlite::is_memory(url)
}

/// Opens the database named by `url`, applying pending migrations. `sqlite://PATH` creates the file if needed
/// (mode 0600) and refuses one that group or others can access;
/// `sqlite::memory:` is a private in-memory database; `postgres://` / `postgresql://` need an existing database.
pub async fn connect(
    url: &str,
    max_connections: u32,
    chain: AuditChain,
) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqliteStore::connect(url, max_connections, chain).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PgStore::connect(url, max_connections, chain).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:[redacted]@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://motpd:s3cret@db/motpd"),
            "postgres://motpd:[redacted]@db/motpd"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_url("sqlite://motpd.db"), "sqlite://motpd.db");
    }

    #[test]
    fn only_an_sqlite_file_has_a_writer_thread() {
        assert!(has_writer_thread("sqlite://motpd.db"));
        assert!(has_writer_thread("sqlite:///var/lib/motpd/motpd.db"));
        assert!(!has_writer_thread("sqlite::memory:"));
        assert!(!has_writer_thread("sqlite://x.db?mode=memory"));
        assert!(!has_writer_thread("postgres://postgres@127.0.0.1/test"));
    }

    #[test]
    fn migration_versions_match_between_backends() {
        fn versions(dir: &str) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .map(|n| n.split('_').next().unwrap().to_owned())
                .collect();
            v.sort();
            v
        }
        let root = env!("CARGO_MANIFEST_DIR");
        let sqlite = versions(&format!("{root}/migrations/sqlite"));
        let postgres = versions(&format!("{root}/migrations/postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres);
    }
}
