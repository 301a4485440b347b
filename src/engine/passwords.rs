//! Password checks for the engine, from where `accounts.password_source` says passwords live
//! ([`PasswordAuthority`]): motpd's own Argon2id (and legacy) hashes on the hashing threads ([`HashingPool`],
//! each keeping its Argon2 working memory between checks: [`working_memory::verify_password_reusing`]) with the
//! upgrade of legacy hashes after a successful login; a bind as the user against the directory; or none (the
//! gateway checked the password). Unknown accounts cost the same as known ones.
//!
//! The queue in front of the hashing threads is bounded in time: a request whose check no thread started within
//! [`crate::runtime::hashing::QUEUE_WAIT`] is shed ([`EngineError::Overloaded`]) instead of being checked after
//! NetScaler has given up on it (3 s). A shed request changes nothing: no failure is counted and no code is used, so
//! NetScaler's retry or the user's next attempt still works.

use std::sync::{Arc, LazyLock};

use super::EngineError;
use crate::directory::{Authentication, Directory, DirectoryEntry};
use crate::password::{self, Verified};
use crate::runtime::hashing::{HashingError, HashingPool};
use crate::runtime::working_memory;
use crate::secrets::SecretBytes;
use crate::store::{Account, Store};

/// Who checks passwords (`accounts.password_source`).
#[derive(Debug, Clone, Default)]
pub enum PasswordAuthority {
    /// motpd's own hashes.
    #[default]
    Local,
    /// A bind as the user against the directory; motpd stores no password.
    Directory(Arc<dyn Directory>),
    /// Nobody at motpd: the gateway checked the password before asking (`radius.mode = "otp-only"`).
    Gateway,
}

impl PasswordAuthority {
    /// Whether motpd keeps the passwords itself (so an account without one waits for activation, and the
    /// activation and reset pages set one).
    pub fn stores_passwords(&self) -> bool {
        matches!(self, Self::Local)
    }

    /// The directory, when it checks passwords.
    pub fn directory(&self) -> Option<&Arc<dyn Directory>> {
        match self {
            Self::Directory(directory) => Some(directory),
            _ => None,
        }
    }
}

/// The answer to one password check.
#[derive(Debug)]
pub(super) enum PasswordCheck {
    /// Right; with the directory's entry as it is now when the directory checked it.
    Right(Option<Box<DirectoryEntry>>),
    /// Wrong (or nothing to check it against).
    Wrong,
    /// The directory refuses the account itself (disabled or expired there): the password was not tried.
    Refused(Box<DirectoryEntry>),
    /// No password can be checked here (`accounts.password_source = "none"`).
    Unchecked,
}

/// Runs password verifications off the async workers: on the threads of a [`HashingPool`], or at the directory.
#[derive(Debug)]
pub(super) struct PasswordChecker {
    store: Arc<dyn Store>,
    hashing: HashingPool,
    pub(super) authority: PasswordAuthority,
}

impl PasswordChecker {
    pub(super) fn new(store: Arc<dyn Store>, hashing: HashingPool) -> Self {
        Self {
            store,
            hashing,
            authority: PasswordAuthority::Local,
        }
    }

    /// Whether an account waits for its first password before it can be used (only where motpd keeps them).
    pub(super) fn awaits_activation(&self, account: &Account) -> bool {
        self.authority.stores_passwords()
            && account.status == crate::store::AccountStatus::Pending
            && account.password_hash.is_none()
    }

    /// Checks `password` for `account` where passwords live. The directory is asked for the account's ID; a
    /// directory that cannot answer is an error (fail closed), never a wrong password.
    pub(super) async fn check(
        &self,
        account: &Account,
        password: &[u8],
        now: i64,
    ) -> Result<PasswordCheck, EngineError> {
        match &self.authority {
            PasswordAuthority::Local => Ok(if self.check_local(account, password, now).await? {
                PasswordCheck::Right(None)
            } else {
                PasswordCheck::Wrong
            }),
            PasswordAuthority::Directory(directory) => {
                let candidate = SecretBytes::new(password.to_vec());
                let answer = directory
                    .authenticate(&account.id, &candidate)
                    .await
                    .inspect_err(|_| crate::monitoring::directory_error("bind"))?;
                Ok(match answer {
                    Authentication::Authenticated(entry) => {
                        PasswordCheck::Right(Some(Box::new(entry)))
                    }
                    Authentication::WrongPassword => PasswordCheck::Wrong,
                    Authentication::NotFound => {
                        tracing::info!(account = %account.id, "account not found in the directory");
                        PasswordCheck::Wrong
                    }
                    Authentication::Refused(entry) => PasswordCheck::Refused(Box::new(entry)),
                })
            }
            PasswordAuthority::Gateway => {
                tracing::warn!(
                    account = %account.id,
                    "a password was to be checked, but accounts.password_source = \"none\": refused \
                     (use radius.mode = \"otp-only\" for every client, or password_source = \"ldap\")"
                );
                Ok(PasswordCheck::Unchecked)
            }
        }
    }

    /// The directory's entry of `id` as it is now (`None` when no directory checks passwords, or it holds no
    /// such entry).
    pub(super) async fn directory_entry(
        &self,
        id: &str,
    ) -> Result<Option<DirectoryEntry>, EngineError> {
        let Some(directory) = self.authority.directory() else {
            return Ok(None);
        };
        Ok(directory
            .find(id)
            .await
            .inspect_err(|_| crate::monitoring::directory_error("search"))?)
    }

    /// Whether `password` matches the account's own hash; schedules a re-hash of legacy or weaker hashes.
    async fn check_local(
        &self,
        account: &Account,
        password: &[u8],
        now: i64,
    ) -> Result<bool, EngineError> {
        let candidate = SecretBytes::new(password.to_vec());
        let Some(stored) = account.password_hash.clone() else {
            // No password (a disabled account never activated, say): as slow as a wrong one.
            self.burn_hash(&candidate).await;
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

    /// Spends about the time of one verification of `id`, so unknown accounts answer as slowly as known ones:
    /// a hash, or a search at the directory (a bind is never sent for an account that is not checked).
    pub(super) async fn burn_time(&self, id: &str, password: &SecretBytes) {
        match &self.authority {
            PasswordAuthority::Local => self.burn_hash(password).await,
            PasswordAuthority::Directory(directory) => {
                let _ = directory.find(id).await;
            }
            PasswordAuthority::Gateway => {}
        }
    }

    async fn burn_hash(&self, password: &SecretBytes) {
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
