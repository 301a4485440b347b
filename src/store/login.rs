//! The per-packet path's store: [`LoginStore`], the few operations a RADIUS login makes (its account and
//! device, the lockout reservation and its settlement, the accepted step, challenges, audit), and
//! [`BackendLogins`], the implementation each backend hands out — on SQLite the writer thread of
//! `sqlite/hot.rs`, which groups concurrent calls itself; on PostgreSQL `postgres/logins.rs`, which groups
//! them into one transaction per batch. The cache (`cache.rs`) wraps a `LoginStore` and nothing else.
//!
//! Native async methods and static dispatch: a login makes several store calls, and none of them allocates
//! a boxed future or crosses a `dyn` hop.

use std::future::Future;
use std::sync::Arc;

use super::{
    AcceptedLogin, BatchStats, Challenge, Counter, FailureState, LockoutPolicy, LoginRecord,
    NewChallenge, Reservation, StoreError,
};
use crate::audit::AuditEvent;

/// What one login asks of the store. Every rule that must hold across nodes is one atomic statement or
/// transaction in the database; an implementation may group concurrent calls, never answer one before its
/// write is committed.
pub trait LoginStore: Send + Sync + std::fmt::Debug {
    /// The account and its active device; `None` if there is no such account. Shared, not copied: a cached
    /// record is handed to every login that reads it while it is fresh.
    fn login_record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Arc<LoginRecord>>, StoreError>> + Send;

    /// Records a code accepted for a login: the replay guard's compare-and-set `last_step := step WHERE
    /// last_step < step` on the active device (with `last_used_at`), which wins only while the account is not
    /// locked at the login's `now`; for a winner, the account's failures and an expired lock cleared and the
    /// login's [`AcceptedLogin::audit`] event stored, both before the answer. `false`: the code was already
    /// used (or the account is locked). On an error the step may already be used up — never accepted twice —
    /// and the caller answers with no Accept (fail closed).
    fn record_accepted_login(
        &self,
        login: AcceptedLogin,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Reserves one attempt on `counter` BEFORE the caller evaluates any secret, in one atomic statement (see
    /// `store/lockout.rs`): `Refused` while the account's lock runs (the VPN lock refuses both counters) or
    /// while the count already reached `policy.threshold`; else the count goes up by one (an expired lock
    /// restarts it) and the attempt's time is stored, so a count stuck at the threshold without a lock restarts
    /// after `policy.lock_seconds`. The caller then settles the attempt once: [`LoginStore::settle_failure`],
    /// [`LoginStore::settle_success`] (or, for the VPN, the conditional accept of
    /// [`LoginStore::record_accepted_login`]), or [`LoginStore::release_attempt`]. `None` if the account does
    /// not exist. Never answered from a cache.
    fn reserve_attempt(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> impl Future<Output = Result<Option<Reservation>, StoreError>> + Send;

    /// Settles a reserved attempt whose secret was wrong: locks the account until `now + lock_seconds` when
    /// the count reached the threshold (the reservation already counted it: no second increment). A lock still
    /// running is kept as it is. `NotFound` if the account does not exist.
    fn settle_failure(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> impl Future<Output = Result<FailureState, StoreError>> + Send;

    /// Settles a reserved attempt whose secrets were right, when nothing else settles it: clears the count
    /// unless a lock runs at `now` (a lock set meanwhile by failures on another node wins). `false` if it was
    /// locked.
    fn settle_success(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives back a reserved attempt that was neither right nor wrong (the request was refused for another
    /// reason before a secret was judged, or the database failed after the reservation).
    fn release_attempt(
        &self,
        counter: Counter,
        id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores an outstanding Access-Challenge.
    fn create_challenge(
        &self,
        challenge: &NewChallenge,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes and returns the challenge with this State hash in one atomic step (single use across nodes);
    /// `None` if there is none or it has expired.
    fn take_challenge(
        &self,
        state_hash: &[u8],
        now: i64,
    ) -> impl Future<Output = Result<Option<Challenge>, StoreError>> + Send;

    /// Appends `events` to the audit chain (in order, after everything appended before).
    fn append_audit(
        &self,
        events: Vec<AuditEvent>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The sizes of the batches this login path grouped calls into (for the log line at shutdown); empty
    /// where the grouping happens elsewhere (the SQLite writer thread logs its own).
    fn batch_stats(&self) -> LoginBatchStats {
        LoginBatchStats::default()
    }
}

/// What a batching login path has done.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoginBatchStats {
    /// The batched login reads.
    pub reads: BatchStats,
    /// The group-committed accepted logins.
    pub writes: BatchStats,
}

/// The login path of the backend the database URL picked.
#[derive(Debug)]
pub enum BackendLogins {
    /// SQLite: the writer thread.
    Sqlite(super::sqlite::SqliteLogins),
    /// PostgreSQL: batched transactions on the pool.
    Postgres(super::postgres::PgLogins),
}

/// Forwards one call to the backend's login path.
macro_rules! each_backend {
    ($self:ident, $logins:ident => $call:expr) => {
        match $self {
            BackendLogins::Sqlite($logins) => $call.await,
            BackendLogins::Postgres($logins) => $call.await,
        }
    };
}

impl LoginStore for BackendLogins {
    async fn login_record(&self, id: &str) -> Result<Option<Arc<LoginRecord>>, StoreError> {
        each_backend!(self, logins => logins.login_record(id))
    }

    async fn record_accepted_login(&self, login: AcceptedLogin) -> Result<bool, StoreError> {
        each_backend!(self, logins => logins.record_accepted_login(login))
    }

    async fn reserve_attempt(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<Option<Reservation>, StoreError> {
        each_backend!(self, logins => logins.reserve_attempt(counter, id, now, policy))
    }

    async fn settle_failure(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<FailureState, StoreError> {
        each_backend!(self, logins => logins.settle_failure(counter, id, now, policy))
    }

    async fn settle_success(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        each_backend!(self, logins => logins.settle_success(counter, id, now))
    }

    async fn release_attempt(&self, counter: Counter, id: &str) -> Result<(), StoreError> {
        each_backend!(self, logins => logins.release_attempt(counter, id))
    }

    async fn create_challenge(&self, challenge: &NewChallenge, now: i64) -> Result<(), StoreError> {
        each_backend!(self, logins => logins.create_challenge(challenge, now))
    }

    async fn take_challenge(
        &self,
        state_hash: &[u8],
        now: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        each_backend!(self, logins => logins.take_challenge(state_hash, now))
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        each_backend!(self, logins => logins.append_audit(events))
    }

    fn batch_stats(&self) -> LoginBatchStats {
        match self {
            Self::Sqlite(logins) => logins.batch_stats(),
            Self::Postgres(logins) => logins.batch_stats(),
        }
    }
}

/// The login path's operations that run as single statements on the backend's pool, written once for both
/// backends: settling and giving back a lockout reservation, and challenges. Expands inside an
/// `impl LoginStore` whose `self.store` has `pool` and `gate()` (the in-process queue for SQLite's one write
/// lock; none on PostgreSQL), in a module with the backend's `lockout` and `sessions` query modules.
macro_rules! pooled_login_ops {
    () => {
        async fn settle_failure(
            &self,
            counter: Counter,
            id: &str,
            now: i64,
            policy: LockoutPolicy,
        ) -> Result<FailureState, StoreError> {
            let _gate = self.store.gate().await;
            lockout::settle_failure(&self.store.pool, counter, id, now, policy).await
        }

        async fn settle_success(
            &self,
            counter: Counter,
            id: &str,
            now: i64,
        ) -> Result<bool, StoreError> {
            let _gate = self.store.gate().await;
            lockout::settle_success(&self.store.pool, counter, id, now).await
        }

        async fn release_attempt(&self, counter: Counter, id: &str) -> Result<(), StoreError> {
            let _gate = self.store.gate().await;
            lockout::release(&self.store.pool, counter, id).await
        }

        async fn create_challenge(
            &self,
            challenge: &NewChallenge,
            now: i64,
        ) -> Result<(), StoreError> {
            sessions::create_challenge(&self.store.pool, challenge, now).await
        }

        async fn take_challenge(
            &self,
            state_hash: &[u8],
            now: i64,
        ) -> Result<Option<Challenge>, StoreError> {
            sessions::take_challenge(&self.store.pool, state_hash, now).await
        }
    };
}
pub(super) use pooled_login_ops;
