//! [`CachedStore`]: the [`Store`] a serving node uses — the backend behind a short-lived, bounded cache of
//! what a login reads (the account and its active device), with the login path's database work batched
//! (`batch.rs`).
//!
//! - **Reads.** `account` loads the account *and* its active device in one batched read (the engine asks for
//!   the device next), and keeps both for `cache_seconds`. Unknown accounts are cached too, so a flood of
//!   made-up user names costs one read per name and TTL. Concurrent logins share one read of the database.
//! - **Writes.** Every write this node makes through the decorator drops the entries it touches (a login that
//!   is accepted updates its entry in place). Changes made elsewhere — another node, the admin CLI (disable,
//!   lock, device reset) — are seen when the entry expires, within `cache_seconds`. The replay guard does not
//!   depend on the cache: the compare-and-set runs in the database, so a stale entry can only make a used code
//!   look fresh until the database refuses it.
//! - **Lockout.** A reservation (`reserve_attempt`) always goes to the database, the one place that can count
//!   across requests and nodes; the entry only follows what it answered (the count in place, dropped on a
//!   refusal or a settled failure). A cached count or lock is advisory: the engine never trusts it to let a
//!   secret be evaluated.
//! - **Group commit.** [`Store::record_accepted_login`] calls arriving together are recorded in one
//!   transaction; each caller is answered after `COMMIT`.
//!
//! A read that was in flight while an entry was invalidated is not cached (it may predate the write), even when
//! a later read or an eviction replaced the write's marker.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::batch::{BatchStats, Batcher};
use super::{
    AcceptedLogin, Account, AccountFilter, AccountOverview, AccountStatus, AccountUpsert,
    AccountingEntry, AttemptRequest, Challenge, Counter, Device, FailureState, ImportSummary,
    Invitation, LockoutPolicy, LoginRecord, NewChallenge, NewClient, NewDevice, NewSmsCode,
    NewWebSession, RadiusClient, Reservation, SmsCodeAttempt, SmsIssue, SmsLimits, SmsPurpose,
    Store, StoreError, WebSession,
};
use crate::audit::{AuditEvent, AuditRecord};
use crate::clock::Clock;

/// Most requests in one batch.
const MAX_BATCH: usize = 256;

/// How the cache behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// How long an entry is used, in seconds (0: nothing is cached; reads and writes are still batched).
    pub ttl_seconds: u64,
    /// Most entries kept (accounts, including unknown ones); the memory bound.
    pub capacity: usize,
}

/// One account's slot.
#[derive(Debug)]
enum Slot {
    /// Read at `at`, by a read that started after this node's write number `seen`; `None`: no such account.
    /// Boxed: many slots of a busy cache are small tombstones.
    Loaded {
        at: i64,
        seen: u64,
        record: Option<Box<LoginRecord>>,
    },
    /// Written by this node at write number `seq` (and time `at`): reads that started earlier are not cached.
    Written { at: i64, seq: u64 },
}

impl Slot {
    fn at(&self) -> i64 {
        match self {
            Self::Loaded { at, .. } | Self::Written { at, .. } => *at,
        }
    }
}

/// What the cache has done, for the log line at shutdown and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that read the database.
    pub misses: u64,
    /// Entries now held.
    pub entries: usize,
    /// The batched login reads.
    pub reads: BatchStats,
    /// The group-committed accepted logins.
    pub writes: BatchStats,
}

/// The caching, batching decorator around a backend (see the module documentation).
pub struct CachedStore {
    inner: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: CacheSettings,
    slots: Mutex<HashMap<String, Slot>>,
    /// Bumped by every write; a read remembers it to know whether a write overtook it.
    writes_seen: AtomicU64,
    /// Bumped when the whole cache is dropped.
    epoch: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    reads: Batcher<String, ReadAnswer>,
    writes: Batcher<AcceptedLogin, bool>,
    /// VPN reservations, batched like the accepts (one commit for many) where the backend does not batch.
    reserves: Batcher<AttemptRequest, Option<Reservation>>,
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("inner", &self.inner)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl CachedStore {
    /// Wraps `inner` (needs a Tokio runtime: it starts the two batching tasks, which end with the store).
    pub fn new(inner: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: CacheSettings) -> Self {
        let reader = inner.clone();
        let reads = Batcher::spawn(MAX_BATCH, move |ids: Vec<String>| {
            let store = reader.clone();
            async move { read_batch(store.as_ref(), ids).await }
        });
        let writer = inner.clone();
        let writes = Batcher::spawn(MAX_BATCH, move |logins: Vec<AcceptedLogin>| {
            let store = writer.clone();
            async move { store.record_accepted_logins(&logins).await }
        });
        let reserver = inner.clone();
        let reserves = Batcher::spawn(MAX_BATCH, move |requests: Vec<AttemptRequest>| {
            let store = reserver.clone();
            async move { store.reserve_attempts(Counter::Vpn, &requests).await }
        });
        Self {
            inner,
            clock,
            settings,
            slots: Mutex::new(HashMap::new()),
            writes_seen: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            reads,
            writes,
            reserves,
        }
    }

    /// Hits, misses, entries and batch sizes so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.lock().len(),
            reads: self.reads.stats(),
            writes: self.writes.stats(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding the lock cannot leave the map inconsistent: every change is one map call.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ttl(&self) -> i64 {
        i64::try_from(self.settings.ttl_seconds).unwrap_or(i64::MAX)
    }

    fn fresh(&self, at: i64, now: i64) -> bool {
        now.saturating_sub(at) < self.ttl() && now >= at
    }

    /// The account's record: from the cache when fresh, else from one batched read (then cached).
    async fn record(&self, id: &str) -> Result<Option<LoginRecord>, StoreError> {
        let now = self.clock.now();
        if self.settings.ttl_seconds > 0
            && let Some(Slot::Loaded { at, record, .. }) = self.lock().get(id)
            && self.fresh(*at, now)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(record.as_deref().cloned());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::SeqCst);
        let seen = self.writes_seen.load(Ordering::SeqCst);
        let record = if self.inner.groups_concurrent_calls() {
            read_alone(self.inner.as_ref(), id).await?
        } else {
            self.reads.call(id.to_owned()).await??
        };
        if self.settings.ttl_seconds > 0 {
            self.remember(id, record.clone(), now, epoch, seen);
        }
        Ok(record)
    }

    /// Caches a read unless a write overtook it.
    fn remember(&self, id: &str, record: Option<LoginRecord>, now: i64, epoch: u64, seen: u64) {
        let mut slots = self.lock();
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        match slots.get(id) {
            // A write (or a read that started after one) overtook this read: it may predate the write.
            Some(Slot::Written { seq: newer, .. } | Slot::Loaded { seen: newer, .. })
                if *newer > seen =>
            {
                return;
            }
            // The write's marker may have been evicted to make room: only a read no write overtook is kept.
            None if self.writes_seen.load(Ordering::SeqCst) != seen => return,
            _ => {}
        }
        self.make_room(&mut slots, now);
        let record = record.map(Box::new);
        slots.insert(
            id.to_owned(),
            Slot::Loaded {
                at: now,
                seen,
                record,
            },
        );
    }

    /// Keeps the map under its capacity: expired slots go first, then arbitrary ones.
    fn make_room(&self, slots: &mut HashMap<String, Slot>, now: i64) {
        let capacity = self.settings.capacity.max(1);
        if slots.len() < capacity {
            return;
        }
        // A tombstone must outlive the reads in flight when it was written (milliseconds); one TTL is plenty.
        slots.retain(|_, slot| self.fresh(slot.at(), now));
        if slots.len() >= capacity {
            let excess = slots.len() + 1 - capacity + capacity / 8;
            let victims: Vec<String> = slots.keys().take(excess).cloned().collect();
            for key in victims {
                slots.remove(&key);
            }
        }
    }

    /// This node changed the account: drop its entry, and keep reads that started earlier from caching.
    fn invalidate(&self, id: &str) {
        let seq = self.writes_seen.fetch_add(1, Ordering::SeqCst) + 1;
        let now = self.clock.now();
        let mut slots = self.lock();
        self.make_room(&mut slots, now);
        slots.insert(id.to_owned(), Slot::Written { at: now, seq });
    }

    /// A change whose accounts are not known here (or too many): drop everything.
    fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.lock().clear();
    }

    /// A device changed by ID: drop the entry that holds it.
    fn invalidate_device(&self, device_id: &str) {
        let owner = self.lock().iter().find_map(|(id, slot)| match slot {
            Slot::Loaded {
                record: Some(record),
                ..
            } if record.device.as_ref().is_some_and(|d| d.id == device_id) => Some(id.clone()),
            _ => None,
        });
        match owner {
            Some(id) => self.invalidate(&id),
            // Not cached; a read in flight could still hold it.
            None => self.invalidate_all(),
        }
    }

    /// A granted VPN reservation or a released one: the entry's count follows the database in place (an entry
    /// that is not loaded is left alone).
    fn count_changed(&self, id: &str, change: impl FnOnce(&mut Account)) {
        if let Some(Slot::Loaded {
            record: Some(record),
            ..
        }) = self.lock().get_mut(id)
        {
            change(&mut record.account);
        }
    }

    /// An accepted login: the entry now holds what the database holds after it.
    fn accepted(&self, login: &AcceptedLogin) {
        let mut slots = self.lock();
        if let Some(Slot::Loaded {
            record: Some(record),
            ..
        }) = slots.get_mut(&login.account_id)
        {
            record.account.failures = 0;
            // As the store does: a lock still running at the login's time is kept.
            record.account.locked_until = record.account.locked_until.filter(|&u| u > login.now);
            if let Some(device) = record.device.as_mut().filter(|d| d.id == login.device_id) {
                device.last_step = Some(login.step);
                device.last_used_at = Some(login.now);
                device.last_use_fingerprint = login.fingerprint.clone();
            }
        }
    }
}

/// What one read request gets: its account's record, or its own error.
type ReadAnswer = Result<Option<LoginRecord>, StoreError>;

/// One batched read: every distinct ID once; each request gets its account's record (or `None`). When a row
/// cannot be decoded, the IDs are read one by one instead, so one corrupt row fails only its own login.
async fn read_batch(store: &dyn Store, ids: Vec<String>) -> Result<Vec<ReadAnswer>, StoreError> {
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut found: HashMap<String, LoginRecord> = match store.login_records(&distinct).await {
        Ok(records) => records
            .into_iter()
            .map(|record| (record.account.id.clone(), record))
            .collect(),
        Err(StoreError::Corrupt(_)) => {
            let mut answers = Vec::with_capacity(ids.len());
            for id in &ids {
                answers.push(read_one(store, id).await);
            }
            return Ok(answers);
        }
        Err(error) => return Err(error),
    };
    let mut remaining: HashMap<&str, usize> = HashMap::new();
    for id in &ids {
        *remaining.entry(id.as_str()).or_default() += 1;
    }
    let mut answers = Vec::with_capacity(ids.len());
    for id in &ids {
        let left = remaining.entry(id.as_str()).or_default();
        *left -= 1;
        let record = if *left == 0 {
            found.remove(id)
        } else {
            found.get(id).cloned()
        };
        answers.push(Ok(record));
    }
    Ok(answers)
}

/// One account's record from a store that batches by itself (as [`read_batch`] does for one ID).
async fn read_alone(store: &dyn Store, id: &str) -> ReadAnswer {
    match store.login_records(&[id.to_owned()]).await {
        Ok(mut records) => Ok(records.pop()),
        Err(StoreError::Corrupt(_)) => read_one(store, id).await,
        Err(error) => Err(error),
    }
}

/// The unbatched read of one account and its device.
async fn read_one(store: &dyn Store, id: &str) -> ReadAnswer {
    store.login_record(id).await
}

#[async_trait::async_trait]
impl Store for CachedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn groups_concurrent_calls(&self) -> bool {
        true
    }

    fn stores_login_audit(&self) -> bool {
        // The logins reach the backend unchanged, batched or not.
        self.inner.stores_login_audit()
    }

    async fn ensure_key_check(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.inner.ensure_key_check(candidate).await
    }

    async fn create_account(&self, account: &AccountUpsert, now: i64) -> Result<(), StoreError> {
        let result = self.inner.create_account(account, now).await;
        self.invalidate(&account.id);
        result
    }

    async fn import_accounts(
        &self,
        accounts: &[AccountUpsert],
        now: i64,
    ) -> Result<ImportSummary, StoreError> {
        let result = self.inner.import_accounts(accounts, now).await;
        self.invalidate_all();
        result
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.record(id).await?.map(|record| record.account))
    }

    async fn any_account(&self) -> Result<bool, StoreError> {
        self.inner.any_account().await
    }

    async fn list_accounts(
        &self,
        filter: AccountFilter,
    ) -> Result<Vec<AccountOverview>, StoreError> {
        self.inner.list_accounts(filter).await
    }

    async fn set_account_status(
        &self,
        id: &str,
        status: AccountStatus,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self.inner.set_account_status(id, status, now).await;
        self.invalidate(id);
        result
    }

    async fn set_password_hash(&self, id: &str, hash: &str, now: i64) -> Result<(), StoreError> {
        let result = self.inner.set_password_hash(id, hash, now).await;
        self.invalidate(id);
        result
    }

    async fn lock_account(&self, id: &str, until: i64, now: i64) -> Result<(), StoreError> {
        let result = self.inner.lock_account(id, until, now).await;
        self.invalidate(id);
        result
    }

    async fn unlock_account(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let result = self.inner.unlock_account(id, now).await;
        self.invalidate(id);
        result
    }

    async fn remove_account(&self, id: &str) -> Result<bool, StoreError> {
        let result = self.inner.remove_account(id).await;
        self.invalidate(id);
        result
    }

    async fn record_failure(
        &self,
        id: &str,
        now: i64,
        threshold: u32,
        lock_seconds: i64,
    ) -> Result<FailureState, StoreError> {
        let result = self
            .inner
            .record_failure(id, now, threshold, lock_seconds)
            .await;
        self.invalidate(id);
        result
    }

    async fn reserve_attempt(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<Option<Reservation>, StoreError> {
        let result = if counter == Counter::Vpn && !self.inner.groups_concurrent_calls() {
            let request = AttemptRequest {
                id: id.to_owned(),
                now,
                policy,
            };
            self.reserves.call(request).await
        } else {
            self.inner.reserve_attempt(counter, id, now, policy).await
        };
        match (&result, counter) {
            // Only the VPN counter is part of a cached record.
            (Ok(Some(Reservation::Granted { failures })), Counter::Vpn) => {
                self.count_changed(id, |account| {
                    account.failures = *failures;
                    account.locked_until = account.locked_until.filter(|&until| until > now);
                });
            }
            (Ok(Some(Reservation::Granted { .. })), Counter::Web) => {}
            _ => self.invalidate(id),
        }
        result
    }

    async fn settle_failure(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<FailureState, StoreError> {
        let result = self.inner.settle_failure(counter, id, now, policy).await;
        self.invalidate(id);
        result
    }

    async fn settle_success(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = self.inner.settle_success(counter, id, now).await;
        if counter == Counter::Vpn {
            self.invalidate(id);
        }
        result
    }

    async fn release_attempt(&self, counter: Counter, id: &str) -> Result<(), StoreError> {
        let result = self.inner.release_attempt(counter, id).await;
        match (&result, counter) {
            (Ok(()), Counter::Vpn) => self.count_changed(id, |account| {
                account.failures = account.failures.saturating_sub(1);
            }),
            (Ok(()), Counter::Web) => {}
            (Err(_), _) => self.invalidate(id),
        }
        result
    }

    async fn record_success(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let result = self.inner.record_success(id, now).await;
        self.invalidate(id);
        result
    }

    async fn clear_failures(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let result = self.inner.clear_failures(id, now).await;
        self.invalidate(id);
        result
    }

    async fn bind_device(
        &self,
        device: &NewDevice,
        replace: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self.inner.bind_device(device, replace, now).await;
        self.invalidate(&device.account_id);
        result
    }

    async fn bind_devices(
        &self,
        devices: &[NewDevice],
        replace: bool,
        now: i64,
    ) -> Result<u64, StoreError> {
        let result = self.inner.bind_devices(devices, replace, now).await;
        self.invalidate_all();
        result
    }

    async fn begin_enrollment(&self, device: &NewDevice, now: i64) -> Result<(), StoreError> {
        let result = self.inner.begin_enrollment(device, now).await;
        self.invalidate(&device.account_id);
        result
    }

    async fn confirm_enrollment(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self.inner.confirm_enrollment(device_id, step, now).await;
        self.invalidate_all();
        result
    }

    async fn active_device(&self, account_id: &str) -> Result<Option<Device>, StoreError> {
        Ok(self
            .record(account_id)
            .await?
            .and_then(|record| record.device))
    }

    async fn login_record(&self, id: &str) -> Result<Option<LoginRecord>, StoreError> {
        self.record(id).await
    }

    async fn device(&self, device_id: &str) -> Result<Option<Device>, StoreError> {
        self.inner.device(device_id).await
    }

    async fn reset_devices(&self, account_id: &str) -> Result<u64, StoreError> {
        let result = self.inner.reset_devices(account_id).await;
        self.invalidate(account_id);
        result
    }

    async fn record_accepted_step(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
        fingerprint: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let result = self
            .inner
            .record_accepted_step(device_id, step, now, fingerprint)
            .await;
        self.invalidate_device(device_id);
        result
    }

    async fn use_step_for_proof(&self, device_id: &str, step: i64) -> Result<bool, StoreError> {
        let result = self.inner.use_step_for_proof(device_id, step).await;
        self.invalidate_device(device_id);
        result
    }

    async fn record_accepted_login(&self, login: &AcceptedLogin) -> Result<bool, StoreError> {
        let recorded = if self.inner.groups_concurrent_calls() {
            let won = self
                .inner
                .record_accepted_logins(std::slice::from_ref(login))
                .await;
            won.map(|won| won.first().copied().unwrap_or(false))
        } else {
            self.writes.call(login.clone()).await
        };
        match recorded {
            Ok(true) => {
                self.accepted(login);
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(error) => {
                // The transaction did not commit (or it is unknown whether it did): read again next time.
                self.invalidate(&login.account_id);
                Err(error)
            }
        }
    }

    async fn record_accepted_logins(
        &self,
        logins: &[AcceptedLogin],
    ) -> Result<Vec<bool>, StoreError> {
        let result = self.inner.record_accepted_logins(logins).await;
        for login in logins {
            self.invalidate(&login.account_id);
        }
        result
    }

    async fn login_records(&self, ids: &[String]) -> Result<Vec<LoginRecord>, StoreError> {
        self.inner.login_records(ids).await
    }

    async fn create_challenge(&self, challenge: &NewChallenge, now: i64) -> Result<(), StoreError> {
        self.inner.create_challenge(challenge, now).await
    }

    async fn take_challenge(
        &self,
        state_hash: &[u8],
        now: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        self.inner.take_challenge(state_hash, now).await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        self.inner.purge_expired(now).await
    }

    async fn record_accounting(&self, entry: &AccountingEntry, now: i64) -> Result<(), StoreError> {
        self.inner.record_accounting(entry, now).await
    }

    async fn create_web_session(
        &self,
        session: &NewWebSession,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner.create_web_session(session, now).await
    }

    async fn touch_web_session(
        &self,
        id_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<Option<WebSession>, StoreError> {
        self.inner.touch_web_session(id_hash, now, expires_at).await
    }

    async fn remove_web_session(&self, id_hash: &[u8]) -> Result<bool, StoreError> {
        self.inner.remove_web_session(id_hash).await
    }

    async fn remove_account_web_sessions(&self, account_id: &str) -> Result<u64, StoreError> {
        self.inner.remove_account_web_sessions(account_id).await
    }

    async fn purge_expired_web_sessions(&self, now: i64) -> Result<u64, StoreError> {
        self.inner.purge_expired_web_sessions(now).await
    }

    async fn create_invitation(
        &self,
        account_id: &str,
        token_hash: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .create_invitation(account_id, token_hash, expires_at, now)
            .await
    }

    async fn invitation(&self, token_hash: &[u8]) -> Result<Option<Invitation>, StoreError> {
        self.inner.invitation(token_hash).await
    }

    async fn use_invitation(&self, token_hash: &[u8], now: i64) -> Result<bool, StoreError> {
        self.inner.use_invitation(token_hash, now).await
    }

    async fn list_invitations(&self) -> Result<Vec<Invitation>, StoreError> {
        self.inner.list_invitations().await
    }

    async fn activate_with_password(
        &self,
        id: &str,
        hash: &str,
        keep_locks_from: i64,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        let result = self
            .inner
            .activate_with_password(id, hash, keep_locks_from, now)
            .await;
        self.invalidate(id);
        result
    }

    async fn reset_password(
        &self,
        id: &str,
        hash: &str,
        keep_locks_from: i64,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        let result = self
            .inner
            .reset_password(id, hash, keep_locks_from, now)
            .await;
        self.invalidate(id);
        result
    }

    async fn set_sms_fallback(
        &self,
        id: &str,
        allowed: Option<bool>,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self.inner.set_sms_fallback(id, allowed, now).await;
        self.invalidate(id);
        result
    }

    async fn set_web_session_flow(
        &self,
        id_hash: &[u8],
        flow: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner.set_web_session_flow(id_hash, flow, now).await
    }

    async fn take_web_session_flow(
        &self,
        id_hash: &[u8],
        flow: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner.take_web_session_flow(id_hash, flow, now).await
    }

    async fn create_invitation_with_seed(
        &self,
        token_hash: &[u8],
        expires_at: i64,
        device: &NewDevice,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .inner
            .create_invitation_with_seed(token_hash, expires_at, device, now)
            .await;
        self.invalidate(&device.account_id);
        result
    }

    async fn attach_invitation_device(
        &self,
        token_hash: &[u8],
        expected: Option<&str>,
        device: &NewDevice,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .inner
            .attach_invitation_device(token_hash, expected, device, now)
            .await;
        self.invalidate(&device.account_id);
        result
    }

    async fn mailed_pending_device(
        &self,
        account_id: &str,
        now: i64,
    ) -> Result<Option<Device>, StoreError> {
        self.inner.mailed_pending_device(account_id, now).await
    }

    async fn confirm_invited_device(
        &self,
        device_id: &str,
        step: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .inner
            .confirm_invited_device(device_id, step, now)
            .await;
        // The device was pending, so no entry names it: drop everything, as `confirm_enrollment` does.
        self.invalidate_all();
        result
    }

    async fn issue_sms_code(
        &self,
        code: &NewSmsCode,
        limits: &SmsLimits,
        now: i64,
    ) -> Result<SmsIssue, StoreError> {
        self.inner.issue_sms_code(code, limits, now).await
    }

    async fn discard_sms_code(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
        code_hash: &[u8],
    ) -> Result<bool, StoreError> {
        self.inner
            .discard_sms_code(account_id, purpose, code_hash)
            .await
    }

    async fn count_sms_attempt(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
    ) -> Result<Option<SmsCodeAttempt>, StoreError> {
        self.inner.count_sms_attempt(account_id, purpose).await
    }

    async fn consume_sms_code(
        &self,
        account_id: &str,
        purpose: SmsPurpose,
        code_hash: &[u8],
        max_attempts: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner
            .consume_sms_code(account_id, purpose, code_hash, max_attempts, now)
            .await
    }

    async fn purge_sms(&self, now: i64, sends_before: i64) -> Result<u64, StoreError> {
        self.inner.purge_sms(now, sends_before).await
    }

    async fn set_identity_hash(
        &self,
        id: &str,
        hash: Option<&[u8]>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner.set_identity_hash(id, hash, now).await
    }

    async fn identity_hash(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.identity_hash(id).await
    }

    async fn set_helpdesk_code(
        &self,
        id: &str,
        hash: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .set_helpdesk_code(id, hash, expires_at, now)
            .await
    }

    async fn take_helpdesk_code(
        &self,
        id: &str,
        hash: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner.take_helpdesk_code(id, hash, now).await
    }

    async fn pause_sms_fallback(&self, id: &str, until: i64, now: i64) -> Result<(), StoreError> {
        self.inner.pause_sms_fallback(id, until, now).await
    }

    async fn sms_paused_until(&self, id: &str) -> Result<Option<i64>, StoreError> {
        self.inner.sms_paused_until(id).await
    }

    async fn add_client(&self, client: &NewClient, now: i64) -> Result<(), StoreError> {
        self.inner.add_client(client, now).await
    }

    async fn clients(&self) -> Result<Vec<RadiusClient>, StoreError> {
        self.inner.clients().await
    }

    async fn remove_client(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.remove_client(name).await
    }

    async fn update_client(&self, client: &NewClient) -> Result<bool, StoreError> {
        self.inner.update_client(client).await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.inner.append_audit(events).await
    }

    async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit_page(after, limit).await
    }

    async fn search_audit(
        &self,
        filter: &super::AuditFilter,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.search_audit(filter).await
    }

    async fn close(&self) {
        let stats = self.stats();
        tracing::info!(
            cache_hits = stats.hits,
            cache_misses = stats.misses,
            read_batches = stats.reads.batches,
            read_batch_mean = format_args!("{:.1}", stats.reads.mean()),
            read_batch_max = stats.reads.largest,
            read_batch_ms = format_args!("{:.2}", stats.reads.mean_ms()),
            write_batches = stats.writes.batches,
            write_batch_mean = format_args!("{:.1}", stats.writes.mean()),
            write_batch_max = stats.writes.largest,
            write_batch_ms = format_args!("{:.2}", stats.writes.mean_ms()),
            "login cache and batches"
        );
        self.inner.close().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::audit::AuditChain;
    use crate::clock::ManualClock;
    use crate::otp::{Algorithm, Kind};

    const NOW: i64 = 1_750_000_000;

    fn chain() -> AuditChain {
        AuditChain::new(crate::secrets::SecretBytes::new(vec![7; 32]))
    }

    fn upsert(id: &str) -> AccountUpsert {
        AccountUpsert {
            id: id.to_owned(),
            name: id.to_owned(),
            phone: None,
            email: None,
            expires_on: None,
            groups: vec!["vpn".to_owned()],
            password_hash: None,
            status: AccountStatus::Active,
        }
    }

    fn new_device(id: &str, account: &str) -> NewDevice {
        NewDevice {
            id: id.to_owned(),
            account_id: account.to_owned(),
            kind: Kind::Totp,
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            sealed_seed: vec![1; 40],
            sealed_pin: None,
            last_step: None,
            label: None,
        }
    }

    fn login(account: &str, device: &str, step: i64) -> AcceptedLogin {
        AcceptedLogin {
            account_id: account.to_owned(),
            device_id: device.to_owned(),
            step,
            now: NOW,
            fingerprint: Some(vec![9; 16]),
            audit: None,
        }
    }

    /// A backend with `alice` (device `d1`), and the decorator over it with a manual clock.
    async fn cached(
        ttl_seconds: u64,
        capacity: usize,
    ) -> (Arc<dyn Store>, CachedStore, ManualClock) {
        let inner = super::super::connect("sqlite::memory:", 1, chain())
            .await
            .unwrap();
        inner.create_account(&upsert("alice"), NOW).await.unwrap();
        inner
            .bind_device(&new_device("d1", "alice"), false, NOW)
            .await
            .unwrap();
        let clock = ManualClock::new(NOW);
        let settings = CacheSettings {
            ttl_seconds,
            capacity,
        };
        let store = CachedStore::new(inner.clone(), Arc::new(clock.clone()), settings);
        (inner, store, clock)
    }

    #[tokio::test]
    async fn a_read_overtaken_by_a_write_is_not_cached_even_when_its_marker_is_gone() {
        let (inner, store, _clock) = cached(2, 100).await;
        let before = inner.login_records(&["alice".to_owned()]).await.unwrap();
        let stale = before.into_iter().next();
        let seen = store.writes_seen.load(Ordering::SeqCst);
        let epoch = store.epoch.load(Ordering::SeqCst);
        // A write on this node while that read was in flight, then a newer read that replaced the marker.
        store.lock_account("alice", NOW + 600, NOW).await.unwrap();
        let fresh = store.account("alice").await.unwrap().unwrap();
        assert_eq!(fresh.locked_until, Some(NOW + 600));
        store.remember("alice", stale.clone(), NOW, epoch, seen);
        let cached = store.account("alice").await.unwrap().unwrap();
        assert_eq!(cached.locked_until, Some(NOW + 600), "the stale read won");
        // The marker evicted (here: removed) before the old read lands: still not cached.
        store.lock_account("alice", NOW + 900, NOW).await.unwrap();
        let seen_before = seen;
        store.lock().remove("alice");
        store.remember("alice", stale, NOW, epoch, seen_before);
        assert!(store.lock().get("alice").is_none());
    }

    #[tokio::test]
    async fn the_device_comes_with_the_account_and_entries_expire_after_the_ttl() {
        let (inner, store, clock) = cached(2, 100).await;
        let account = store.account("alice").await.unwrap().unwrap();
        assert_eq!(account.status, AccountStatus::Active);
        assert_eq!(
            store.active_device("alice").await.unwrap().unwrap().id,
            "d1"
        );
        assert_eq!((store.stats().misses, store.stats().hits), (1, 1));
        // Another node (or the CLI) disables the account: seen once the entry is older than the TTL.
        inner
            .set_account_status("alice", AccountStatus::Disabled, NOW)
            .await
            .unwrap();
        clock.advance(1);
        let stale = store.account("alice").await.unwrap().unwrap();
        assert_eq!(stale.status, AccountStatus::Active, "within the TTL");
        clock.advance(1);
        let fresh = store.account("alice").await.unwrap().unwrap();
        assert_eq!(fresh.status, AccountStatus::Disabled, "after the TTL");
    }

    #[tokio::test]
    async fn writes_through_the_decorator_are_seen_at_once() {
        let (_inner, store, _clock) = cached(60, 100).await;
        store.account("alice").await.unwrap();
        store
            .set_account_status("alice", AccountStatus::Disabled, NOW)
            .await
            .unwrap();
        let account = store.account("alice").await.unwrap().unwrap();
        assert_eq!(account.status, AccountStatus::Disabled);
        store.record_failure("alice", NOW, 0, 60).await.unwrap();
        assert_eq!(store.account("alice").await.unwrap().unwrap().failures, 1);
        assert_eq!(store.reset_devices("alice").await.unwrap(), 1);
        assert_eq!(store.active_device("alice").await.unwrap(), None);
        store
            .bind_device(&new_device("d2", "alice"), false, NOW)
            .await
            .unwrap();
        assert_eq!(
            store.active_device("alice").await.unwrap().unwrap().id,
            "d2"
        );
        // Unknown accounts are cached as unknown, until this node creates them.
        assert_eq!(store.account("bob").await.unwrap(), None);
        store.create_account(&upsert("bob"), NOW).await.unwrap();
        assert!(store.account("bob").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn unknown_accounts_are_cached_and_the_cache_stays_bounded() {
        let (inner, store, clock) = cached(2, 50).await;
        assert_eq!(store.account("bob").await.unwrap(), None);
        inner.create_account(&upsert("bob"), NOW).await.unwrap();
        assert_eq!(store.account("bob").await.unwrap(), None, "negative entry");
        assert_eq!(store.stats().misses, 1);
        clock.advance(2);
        assert!(store.account("bob").await.unwrap().is_some());
        for n in 0..500 {
            store.account(&format!("nobody{n}")).await.unwrap();
            assert!(store.stats().entries <= 50);
        }
    }

    #[tokio::test]
    async fn zero_seconds_caches_nothing() {
        let (inner, store, _clock) = cached(0, 100).await;
        store.account("alice").await.unwrap();
        inner
            .set_account_status("alice", AccountStatus::Disabled, NOW)
            .await
            .unwrap();
        let account = store.account("alice").await.unwrap().unwrap();
        assert_eq!(account.status, AccountStatus::Disabled);
        assert_eq!(store.stats().hits, 0);
    }

    #[tokio::test]
    async fn an_accepted_login_updates_the_entry_and_a_replay_is_refused() {
        let (inner, store, _clock) = cached(60, 100).await;
        inner.record_failure("alice", NOW, 0, 60).await.unwrap();
        store.account("alice").await.unwrap();
        assert!(
            store
                .record_accepted_login(&login("alice", "d1", 7))
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_accepted_login(&login("alice", "d1", 7))
                .await
                .unwrap()
        );
        let device = store.active_device("alice").await.unwrap().unwrap();
        assert_eq!(device.last_step, Some(7));
        assert_eq!(device, inner.active_device("alice").await.unwrap().unwrap());
        let account = store.account("alice").await.unwrap().unwrap();
        // The login's time is on the device; the account row is not written for it.
        assert_eq!((account.failures, account.last_login_at), (0, None));
        assert_eq!(account.last_login(device.last_used_at), Some(NOW));
        assert_eq!(account, inner.account("alice").await.unwrap().unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_accepts_of_one_step_win_once_and_are_committed_when_answered() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("motpd.db").display());
        let inner = super::super::connect(&url, 4, chain()).await.unwrap();
        for n in 0..50 {
            let id = format!("user{n}");
            inner.create_account(&upsert(&id), NOW).await.unwrap();
            inner
                .bind_device(&new_device(&format!("dev{n}"), &id), false, NOW)
                .await
                .unwrap();
        }
        let settings = CacheSettings {
            ttl_seconds: 2,
            capacity: 1000,
        };
        let store = Arc::new(CachedStore::new(
            inner.clone(),
            Arc::new(ManualClock::new(NOW)),
            settings,
        ));
        // A second, independent connection pool on the same file: what another process would see.
        let observer = super::super::connect(&url, 1, chain()).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for copy in 0..8 {
            for n in 0..50 {
                let (store, observer) = (store.clone(), observer.clone());
                tasks.spawn(async move {
                    let won = store
                        .record_accepted_login(&login(&format!("user{n}"), &format!("dev{n}"), 5))
                        .await
                        .unwrap();
                    if won {
                        let seen = observer.device(&format!("dev{n}")).await.unwrap().unwrap();
                        assert_eq!(seen.last_step, Some(5), "answered before the commit");
                    }
                    (n, copy, won)
                });
            }
        }
        let mut winners = vec![0; 50];
        while let Some(done) = tasks.join_next().await {
            let (n, _copy, won) = done.unwrap();
            winners[n] += usize::from(won);
        }
        assert!(winners.iter().all(|&w| w == 1), "{winners:?}");
        // A SQLite file groups the commits on its own thread (`sqlite/hot.rs`): the cache calls it directly.
        assert!(inner.groups_concurrent_calls());
        assert_eq!(store.stats().writes.requests, 0);
        store.close().await;
        observer.close().await;
    }
}
