//! Password checks for the engine: Argon2id (and legacy hashes) on the blocking pool with bounded parallelism,
//! the same time spent for unknown accounts, and the upgrade of legacy hashes after a successful login.
//!
//! The queue in front of the hashing threads is bounded in time: a request that waited [`QUEUE_WAIT`] for a
//! thread is shed ([`EngineError::Overloaded`]) instead of being checked after NetScaler has given up on it (3 s).
//! A shed request changes nothing: no failure is counted and no code is used, so NetScaler's retry or the
//! user's next attempt still works.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::EngineError;
use crate::password::{self, Verified};
use crate::secrets::SecretBytes;
use crate::store::{Account, Store};

/// The longest a password check waits for a hashing thread before the request is shed.
pub(super) const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// The password-hashing capacity: at most this many verifications (or re-hashes) at once. Hashing is bound by
/// the machine's cores, so everything in one process that checks passwords (RADIUS, the enrollment pages, the
/// account pages, invitations) shares one pool — [`HashingPool::process`] — rather than each taking its own.
#[derive(Debug, Clone)]
pub struct HashingPool(Arc<Semaphore>);

impl HashingPool {
    /// A pool of `threads` (at least 1).
    pub fn new(threads: usize) -> Self {
        Self(Arc::new(Semaphore::new(threads.max(1))))
    }

    /// This process's pool: one thread per core.
    pub fn process() -> Self {
        static POOL: LazyLock<HashingPool> = LazyLock::new(|| {
            HashingPool::new(std::thread::available_parallelism().map_or(2, usize::from))
        });
        POOL.clone()
    }
}

/// Runs password verifications off the async workers, within a [`HashingPool`].
#[derive(Debug)]
pub(super) struct PasswordChecker {
    store: Arc<dyn Store>,
    hashing: Arc<Semaphore>,
}

impl PasswordChecker {
    pub(super) fn new(store: Arc<dyn Store>, pool: HashingPool) -> Self {
        Self {
            store,
            hashing: pool.0,
        }
    }

    /// Whether `password` matches the account's hash; schedules a re-hash of legacy or weaker hashes.
    pub(super) async fn check(
        &self,
        account: &Account,
        password: &[u8],
        now: i64,
    ) -> Result<bool, EngineError> {
        let Some(stored) = account.password_hash.clone() else {
            return Ok(false);
        };
        let candidate = SecretBytes::new(password.to_vec());
        let verified = self
            .blocking(move || password::verify_password(candidate.expose(), &stored))
            .await?;
        match verified {
            Ok(Verified::Match { needs_rehash }) => {
                if needs_rehash {
                    self.rehash(account.id.clone(), SecretBytes::new(password.to_vec()), now);
                }
                Ok(true)
            }
            Ok(Verified::Mismatch) => Ok(false),
            Err(error) => {
                tracing::error!(account = %account.id, %error, "stored password hash cannot be used");
                Ok(false)
            }
        }
    }

    /// Whether `candidate` matches a stored hash, with no side effect (no re-hash): for refusing a new password
    /// equal to the one it replaces. An unusable stored hash matches nothing.
    pub(super) async fn matches(&self, stored: &str, candidate: &str) -> Result<bool, EngineError> {
        let stored = stored.to_owned();
        let candidate = SecretBytes::new(candidate.as_bytes().to_vec());
        let verified = self
            .blocking(move || password::verify_password(candidate.expose(), &stored))
            .await?;
        Ok(matches!(verified, Ok(Verified::Match { .. })))
    }

    /// An Argon2id hash of a new password, on the blocking pool.
    pub(super) async fn hash(&self, new_password: &str) -> Result<String, EngineError> {
        let candidate = SecretBytes::new(new_password.as_bytes().to_vec());
        self.blocking(move || password::hash_password(candidate.expose()))
            .await?
            .map_err(|e| EngineError::Hashing(e.to_string()))
    }

    /// Spends the time of one verification, so unknown accounts answer as slowly as known ones.
    pub(super) async fn burn_time(&self, password: &SecretBytes) {
        static DUMMY: LazyLock<String> = LazyLock::new(|| {
            password::hash_password(b"motpd timing equaliser").unwrap_or_default()
        });
        let candidate = password.clone();
        let _ = self
            .blocking(move || password::verify_password(candidate.expose(), &DUMMY))
            .await;
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        let permit = tokio::time::timeout(QUEUE_WAIT, self.hashing.acquire())
            .await
            .map_err(|_| EngineError::Overloaded)?;
        let _permit = permit.map_err(|e| EngineError::Hashing(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| EngineError::Hashing(e.to_string()))
    }

    /// Stores a new hash at the current cost, in the background. It takes a hashing thread like every check
    /// (waiting as long as it must: it is not on a request's path), so upgrades never oversubscribe the cores
    /// that the checks and the packet loop share.
    fn rehash(&self, account: String, password: SecretBytes, now: i64) {
        let store = self.store.clone();
        let hashing = self.hashing.clone();
        tokio::spawn(async move {
            let Ok(_permit) = hashing.acquire_owned().await else {
                return;
            };
            let hashed =
                tokio::task::spawn_blocking(move || password::hash_password(password.expose()))
                    .await;
            if let Ok(Ok(hash)) = hashed
                && let Err(error) = store.set_password_hash(&account, &hash, now).await
            {
                tracing::warn!(%account, %error, "could not store the upgraded password hash");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_pool_is_one_pool() {
        // (Other tests may hold permits of the process pool meanwhile, so its size is not asserted here.)
        let (a, b) = (HashingPool::process(), HashingPool::process());
        assert!(Arc::ptr_eq(&a.0, &b.0), "every caller shares one pool");
        assert_eq!(HashingPool::new(3).0.available_permits(), 3);
        assert_eq!(HashingPool::new(0).0.available_permits(), 1);
    }
}
