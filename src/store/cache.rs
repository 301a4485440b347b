//! [`CachedLogins`]: the login path a serving node uses — the backend's [`LoginStore`] behind a short-lived,
//! bounded cache of what a login reads (the account and its active device).
//!
//! - **Reads.** An account's record (with its active device) is kept for `cache_seconds`. Unknown accounts are
//!   cached too, so a flood of made-up user names costs one read per name and TTL.
//! - **Writes.** What this process changes through the login path updates or drops the entry it touches (an
//!   accepted login updates it in place); what it changes through the other roles (the web pages' enrollment
//!   and recovery, a device binding) reaches the cache through the backend's change feed (`changes.rs`).
//!   Changes made elsewhere — another node, the admin CLI (disable, lock, device reset) — are seen when the
//!   entry expires, within `cache_seconds`. The replay guard does not depend on the cache: the compare-and-set
//!   runs in the database, so a stale entry can only make a used code look fresh until the database refuses it.
//! - **Lockout.** A reservation always goes to the database, the one place that can count across requests and
//!   nodes; the entry only follows what it answered (the count in place, dropped on a refusal or a settled
//!   failure). A cached count or lock is advisory: the engine never trusts it to let a secret be evaluated.
//!
//! A read that was in flight while an entry was invalidated is not cached (it may predate the write), even when
//! a later read or an eviction replaced the write's marker.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::batch::BatchStats;
use super::changes::ChangeListener;
use super::{
    AcceptedLogin, Account, Challenge, Counter, FailureState, LockoutPolicy, LoginRecord,
    LoginStore, NewChallenge, Reservation, StoreError,
};
use crate::audit::AuditEvent;
use crate::clock::Clock;

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
    /// Shared with the logins that read it (an `Arc` also keeps the many tombstones of a busy cache small).
    Loaded {
        at: i64,
        seen: u64,
        record: Option<Arc<LoginRecord>>,
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

/// The caching decorator around a login path (see the module documentation).
pub struct CachedLogins<L> {
    inner: L,
    clock: Arc<dyn Clock>,
    settings: CacheSettings,
    slots: Mutex<HashMap<String, Slot>>,
    /// Bumped by every write; a read remembers it to know whether a write overtook it.
    writes_seen: AtomicU64,
    /// Bumped when the whole cache is dropped.
    epoch: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<L: std::fmt::Debug> std::fmt::Debug for CachedLogins<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedLogins")
            .field("inner", &self.inner)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<L: LoginStore> CachedLogins<L> {
    /// Wraps `inner`.
    pub fn new(inner: L, clock: Arc<dyn Clock>, settings: CacheSettings) -> Self {
        Self {
            inner,
            clock,
            settings,
            slots: Mutex::new(HashMap::new()),
            writes_seen: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Hits, misses, entries and batch sizes so far.
    pub fn stats(&self) -> CacheStats {
        let batches = self.inner.batch_stats();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.lock().len(),
            reads: batches.reads,
            writes: batches.writes,
        }
    }

    /// Logs what the cache and the login path's batches did (at shutdown).
    pub fn log_summary(&self) {
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
    async fn record(&self, id: &str) -> Result<Option<Arc<LoginRecord>>, StoreError> {
        let now = self.clock.now();
        if self.settings.ttl_seconds > 0
            && let Some(Slot::Loaded { at, record, .. }) = self.lock().get(id)
            && self.fresh(*at, now)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(record.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::SeqCst);
        let seen = self.writes_seen.load(Ordering::SeqCst);
        let record = self.inner.login_record(id).await?;
        if self.settings.ttl_seconds > 0 {
            self.remember(id, record.clone(), now, epoch, seen);
        }
        Ok(record)
    }

    /// Caches a read unless a write overtook it.
    fn remember(
        &self,
        id: &str,
        record: Option<Arc<LoginRecord>>,
        now: i64,
        epoch: u64,
        seen: u64,
    ) {
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
            change(&mut Arc::make_mut(record).account);
        }
    }

    /// An accepted login: the entry now holds what the database holds after it.
    fn accepted(&self, login: &Accepted) {
        let mut slots = self.lock();
        if let Some(Slot::Loaded {
            record: Some(record),
            ..
        }) = slots.get_mut(&login.account_id)
        {
            // A login still holding the old record keeps it; the entry gets its own copy.
            let record = Arc::make_mut(record);
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

/// What the cache keeps of an accepted login once the login itself went to the store.
struct Accepted {
    account_id: String,
    device_id: String,
    step: i64,
    now: i64,
    fingerprint: Option<Vec<u8>>,
}

impl Accepted {
    fn of(login: &AcceptedLogin) -> Self {
        Self {
            account_id: login.account_id.clone(),
            device_id: login.device_id.clone(),
            step: login.step,
            now: login.now,
            fingerprint: login.fingerprint.clone(),
        }
    }
}

impl<L: LoginStore> ChangeListener for CachedLogins<L> {
    fn account_changed(&self, id: &str) {
        self.invalidate(id);
    }

    fn device_changed(&self, device_id: &str) {
        self.invalidate_device(device_id);
    }

    fn everything_changed(&self) {
        self.invalidate_all();
    }
}

impl<L: LoginStore> LoginStore for CachedLogins<L> {
    async fn login_record(&self, id: &str) -> Result<Option<Arc<LoginRecord>>, StoreError> {
        self.record(id).await
    }

    async fn record_accepted_login(&self, login: AcceptedLogin) -> Result<bool, StoreError> {
        let accepted = Accepted::of(&login);
        match self.inner.record_accepted_login(login).await {
            Ok(true) => {
                self.accepted(&accepted);
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(error) => {
                // The transaction did not commit (or it is unknown whether it did): read again next time.
                self.invalidate(&accepted.account_id);
                Err(error)
            }
        }
    }

    async fn reserve_attempt(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<Option<Reservation>, StoreError> {
        let result = self.inner.reserve_attempt(counter, id, now, policy).await;
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

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        self.inner.append_audit(events).await
    }

    fn batch_stats(&self) -> super::LoginBatchStats {
        self.inner.batch_stats()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::audit::AuditChain;
    use crate::clock::ManualClock;
    use crate::model::{AccountStatus, AccountUpsert, NewDevice};
    use crate::otp::{Algorithm, Kind};
    use crate::store::{Logins, Store, Stores};

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

    /// A database file with `alice` (device `d1`), opened as a node opens it (the cache in front of the login
    /// path, with a manual clock), and a second handle on the same file: another process (a node, the CLI).
    struct Site {
        stores: Stores,
        other: Arc<dyn Store>,
        clock: ManualClock,
        _dir: tempfile::TempDir,
    }

    impl Site {
        fn logins(&self) -> &Logins {
            &self.stores.logins
        }

        async fn account(&self, id: &str) -> Option<Account> {
            let record = self.logins().login_record(id).await.unwrap();
            record.map(|record| record.account.clone())
        }
    }

    async fn site(ttl_seconds: u64, capacity: usize) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("motpd.db").display());
        let clock = ManualClock::new(NOW);
        let settings = CacheSettings {
            ttl_seconds,
            capacity,
        };
        let stores = super::super::open(&url, 2, chain(), Arc::new(clock.clone()), settings)
            .await
            .unwrap();
        let other = super::super::connect(&url, 1, chain()).await.unwrap();
        other.create_account(&upsert("alice"), NOW).await.unwrap();
        other
            .bind_device(&new_device("d1", "alice"), false, NOW)
            .await
            .unwrap();
        Site {
            stores,
            other,
            clock,
            _dir: dir,
        }
    }

    #[tokio::test]
    async fn a_read_overtaken_by_a_write_is_not_cached_even_when_its_marker_is_gone() {
        let site = site(2, 100).await;
        let cache = site.logins();
        let stale = cache.inner.login_record("alice").await.unwrap();
        let seen = cache.writes_seen.load(Ordering::SeqCst);
        let epoch = cache.epoch.load(Ordering::SeqCst);
        // A write on this node while that read was in flight, then a newer read that replaced the marker.
        site.stores
            .store
            .lock_account("alice", NOW + 600, NOW)
            .await
            .unwrap();
        let fresh = site.account("alice").await.unwrap();
        assert_eq!(fresh.locked_until, Some(NOW + 600));
        cache.remember("alice", stale.clone(), NOW, epoch, seen);
        let cached = site.account("alice").await.unwrap();
        assert_eq!(cached.locked_until, Some(NOW + 600), "the stale read won");
        // The marker evicted (here: removed) before the old read lands: still not cached.
        site.stores
            .store
            .lock_account("alice", NOW + 900, NOW)
            .await
            .unwrap();
        cache.lock().remove("alice");
        cache.remember("alice", stale, NOW, epoch, seen);
        assert!(cache.lock().get("alice").is_none());
    }

    #[tokio::test]
    async fn the_device_comes_with_the_account_and_entries_expire_after_the_ttl() {
        let site = site(2, 100).await;
        let record = site.logins().login_record("alice").await.unwrap().unwrap();
        assert_eq!(record.account.status, AccountStatus::Active);
        assert_eq!(record.device.as_ref().unwrap().id, "d1");
        site.logins().login_record("alice").await.unwrap();
        let stats = site.logins().stats();
        assert_eq!((stats.misses, stats.hits), (1, 1));
        // Another process (a node, the CLI) disables the account: seen once the entry is older than the TTL.
        site.other
            .set_account_status("alice", AccountStatus::Disabled, NOW)
            .await
            .unwrap();
        site.clock.advance(1);
        let stale = site.account("alice").await.unwrap();
        assert_eq!(stale.status, AccountStatus::Active, "within the TTL");
        site.clock.advance(1);
        let fresh = site.account("alice").await.unwrap();
        assert_eq!(fresh.status, AccountStatus::Disabled, "after the TTL");
    }

    #[tokio::test]
    async fn writes_of_this_process_through_any_role_are_seen_at_once() {
        let site = site(60, 100).await;
        let store = &site.stores.store;
        site.account("alice").await.unwrap();
        store
            .set_account_status("alice", AccountStatus::Disabled, NOW)
            .await
            .unwrap();
        let account = site.account("alice").await.unwrap();
        assert_eq!(account.status, AccountStatus::Disabled);
        store.record_failure("alice", NOW, 0, 60).await.unwrap();
        assert_eq!(site.account("alice").await.unwrap().failures, 1);
        assert_eq!(store.reset_devices("alice").await.unwrap(), 1);
        let record = site.logins().login_record("alice").await.unwrap().unwrap();
        assert_eq!(record.device, None);
        store
            .bind_device(&new_device("d2", "alice"), false, NOW)
            .await
            .unwrap();
        let record = site.logins().login_record("alice").await.unwrap().unwrap();
        assert_eq!(record.device.as_ref().unwrap().id, "d2");
        // Unknown accounts are cached as unknown, until this process creates them.
        assert_eq!(site.account("bob").await, None);
        store.create_account(&upsert("bob"), NOW).await.unwrap();
        assert!(site.account("bob").await.is_some());
        // An entry no write touched since is answered from the cache.
        site.account("bob").await.unwrap();
        assert_eq!(site.logins().stats().hits, 1);
    }

    #[tokio::test]
    async fn unknown_accounts_are_cached_and_the_cache_stays_bounded() {
        let site = site(2, 50).await;
        assert_eq!(site.account("bob").await, None);
        site.other
            .create_account(&upsert("bob"), NOW)
            .await
            .unwrap();
        assert_eq!(site.account("bob").await, None, "negative entry");
        assert_eq!(site.logins().stats().misses, 1);
        site.clock.advance(2);
        assert!(site.account("bob").await.is_some());
        for n in 0..500 {
            site.account(&format!("nobody{n}")).await;
            assert!(site.logins().stats().entries <= 50);
        }
    }

    #[tokio::test]
    async fn zero_seconds_caches_nothing() {
        let site = site(0, 100).await;
        site.account("alice").await.unwrap();
        site.other
            .set_account_status("alice", AccountStatus::Disabled, NOW)
            .await
            .unwrap();
        let account = site.account("alice").await.unwrap();
        assert_eq!(account.status, AccountStatus::Disabled);
        assert_eq!(site.logins().stats().hits, 0);
    }

    #[tokio::test]
    async fn an_accepted_login_updates_the_entry_and_a_replay_is_refused() {
        let site = site(60, 100).await;
        site.other
            .record_failure("alice", NOW, 0, 60)
            .await
            .unwrap();
        site.account("alice").await.unwrap();
        let logins = site.logins();
        assert!(
            logins
                .record_accepted_login(login("alice", "d1", 7))
                .await
                .unwrap()
        );
        assert!(
            !logins
                .record_accepted_login(login("alice", "d1", 7))
                .await
                .unwrap()
        );
        let record = logins.login_record("alice").await.unwrap().unwrap();
        let device = record.device.clone().unwrap();
        assert_eq!(device.last_step, Some(7));
        assert_eq!(
            device,
            site.other.active_device("alice").await.unwrap().unwrap()
        );
        // The login's time is on the device; the account row is not written for it.
        assert_eq!(
            (record.account.failures, record.account.last_login_at),
            (0, None)
        );
        assert_eq!(record.account.last_login(device.last_used_at), Some(NOW));
        assert_eq!(
            record.account,
            site.other.account("alice").await.unwrap().unwrap()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_accepts_of_one_step_win_once_and_are_committed_when_answered() {
        let site = site(2, 1000).await;
        for n in 0..50 {
            let id = format!("user{n}");
            site.other.create_account(&upsert(&id), NOW).await.unwrap();
            site.other
                .bind_device(&new_device(&format!("dev{n}"), &id), false, NOW)
                .await
                .unwrap();
        }
        let logins = site.stores.logins.clone();
        let mut tasks = tokio::task::JoinSet::new();
        for copy in 0..8 {
            for n in 0..50 {
                let (logins, observer) = (logins.clone(), site.other.clone());
                tasks.spawn(async move {
                    let won = logins
                        .record_accepted_login(login(&format!("user{n}"), &format!("dev{n}"), 5))
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
        site.stores.store.close().await;
        site.other.close().await;
    }
}
