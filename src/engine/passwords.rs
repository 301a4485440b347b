//! Password checks for the engine: Argon2id (and legacy hashes) on the hashing threads ([`HashingPool`], each
//! keeping its Argon2 working memory between checks: [`working_memory::verify_password_reusing`]), the
//! same time spent for unknown accounts, and the upgrade of legacy hashes after a successful login.
//!
//! The queue in front of the hashing threads is bounded in time: a request whose check no thread started within
//! [`crate::runtime::hashing::QUEUE_WAIT`] is shed ([`EngineError::Overloaded`]) instead of being checked after
//! NetScaler has given up on it (3 s). A shed request changes nothing: no failure is counted and no code is used, so
//! NetScaler's retry or the user's next attempt still works.

use std::sync::{Arc, LazyLock};

use super::EngineError;
use crate::password::{self, Verified};
use crate::runtime::hashing::{HashingError, HashingPool};
use crate::runtime::working_memory;
use crate::secrets::SecretBytes;
use crate::store::{Account, Store};

/// Runs password verifications off the async workers, on the threads of a [`HashingPool`].
#[derive(Debug)]
pub(super) struct PasswordChecker {
    store: Arc<dyn Store>,
    hashing: HashingPool,
}

impl PasswordChecker {
    pub(super) fn new(store: Arc<dyn Store>, hashing: HashingPool) -> Self {
        Self { store, hashing }
    }

    /// Whether `password` matches the account's hash; schedules a re-hash of legacy or weaker hashes.
    pub(super) async fn check(
        &self,
        account: &Account,
        password: &[u8],
        now: i64,
    ) -> Result<bool, EngineError> {
        let candidate = SecretBytes::new(password.to_vec());
        let Some(stored) = account.password_hash.clone() else {
            // No password (a disabled account never activated, say): as slow as a wrong one.
            self.burn_time(&candidate).await;
            return Ok(false);
        };
        let verified = self
            .blocking(move || working_memory::verify_password_reusing(candidate.expose(), &stored))
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
            .blocking(move || working_memory::verify_password_reusing(candidate.expose(), &stored))
            .await?;
        Ok(matches!(verified, Ok(Verified::Match { .. })))
    }

    /// An Argon2id hash of a new password, on a hashing thread.
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
            .blocking(move || working_memory::verify_password_reusing(candidate.expose(), &DUMMY))
            .await;
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        self.hashing.run(work).await.map_err(|error| match error {
            HashingError::Shed => EngineError::Overloaded,
            HashingError::Failed => EngineError::Hashing(error.to_string()),
        })
    }

    /// Stores a new hash at the current cost, in the background. It takes a hashing thread like every check
    /// (waiting as long as it must: it is not on a request's path), so upgrades never oversubscribe the cores
    /// that the checks and the packet loop share. With the queue full it is skipped: the next login upgrades.
    fn rehash(&self, account: String, password: SecretBytes, now: i64) {
        let Some(hashed) = self
            .hashing
            .run_later(move || password::hash_password(password.expose()))
        else {
            tracing::warn!(%account, "password hash upgrade skipped: the hashing queue is full");
            return;
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Ok(Ok(hash)) = hashed.await
                && let Err(error) = store.set_password_hash(&account, &hash, now).await
            {
                tracing::warn!(%account, %error, "could not store the upgraded password hash");
            }
        });
    }
}
