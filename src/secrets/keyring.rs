//! The keyring: every master key this node can open values with, and which of them seals new values.
//!
//! The keys come from `secrets.key_file` and `secrets.extra_key_files`. The *primary* key (the one new values
//! are sealed under, and whose derived keys hash and sign new values) is the key the database's key check value
//! names, not a file setting: after `motpd secrets rotate` has committed, every node switches to the new key the
//! moment it reads the key check value (each audit append reads it under the chain lock), so no node keeps
//! sealing under the old key for long, and values it sealed meanwhile stay readable while the old key is kept.
//!
//! A value or key check value naming a key id this keyring lacks makes it re-read its files once (at most once a
//! second), so a key file copied to a node before the rotation is picked up without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::{
    Aad, KEY_ID_LEN, MasterKey, Sealed, SecretBytes, SecretError, parse_sealed, sealed_key_id,
};

/// The shortest time between two re-reads of the key files (an unknown key id in a damaged row must not turn
/// every login into file reads).
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Where to look for key files again (the CLI re-reads the configuration's `[secrets]`).
pub type FileSource = Box<dyn Fn() -> Vec<PathBuf> + Send + Sync>;

/// The master keys of this node.
pub struct Keyring {
    /// The files re-read on an unknown key id (empty for a keyring built in memory).
    files: RwLock<Vec<PathBuf>>,
    /// Where further files may be named since the keyring was loaded.
    source: Option<FileSource>,
    state: RwLock<State>,
    last_reload: Mutex<Option<Instant>>,
    /// The key check value last adopted and the key that opened it: the same stored bytes name the same key,
    /// so the value is opened again only when the database's changes (each audit batch reads it).
    adopted: RwLock<Option<(Vec<u8>, Arc<MasterKey>)>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.read().keys)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct State {
    keys: Vec<Arc<MasterKey>>,
    /// Index into `keys` of the key new values are sealed under.
    primary: usize,
}

impl Keyring {
    /// A keyring of one key held in memory (tests, benches, a fresh installation).
    pub fn single(key: MasterKey) -> Self {
        Self::with_keys(key, Vec::new())
    }

    /// A keyring of one key built from raw bytes (tests, benches).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self::single(MasterKey::from_bytes(bytes))
    }

    /// A keyring held in memory: `primary` seals, `others` only open.
    pub fn with_keys(primary: MasterKey, others: Vec<MasterKey>) -> Self {
        let mut keys = vec![Arc::new(primary)];
        for key in others {
            if !keys.iter().any(|k| k.id() == key.id()) {
                keys.push(Arc::new(key));
            }
        }
        Self {
            files: RwLock::new(Vec::new()),
            source: None,
            state: RwLock::new(State { keys, primary: 0 }),
            last_reload: Mutex::new(None),
            adopted: RwLock::new(None),
        }
    }

    /// Loads `key_file` (which must exist; it is primary until the database names another key) and each of
    /// `extra_files` that exists (a missing one is skipped: it may name where the next key will be copied).
    pub fn load(key_file: &Path, extra_files: &[PathBuf]) -> Result<Self, SecretError> {
        Self::load_with_source(key_file, extra_files, None)
    }

    /// As [`Keyring::load`]; on an unknown key id, `source` names the files to look at again (a running node
    /// re-reads its configuration, so a key file listed there after the start is found without a restart).
    pub fn load_with_source(
        key_file: &Path,
        extra_files: &[PathBuf],
        source: Option<FileSource>,
    ) -> Result<Self, SecretError> {
        let primary = MasterKey::load(key_file)?;
        let mut files = vec![key_file.to_owned()];
        files.extend(extra_files.iter().cloned());
        let ring = Self {
            files: RwLock::new(files),
            source,
            ..Self::single(primary)
        };
        ring.read_extra_files()?;
        Ok(ring)
    }

    /// Adds the keys of the files that exist and are not loaded yet. Keys already loaded stay (a running node
    /// never forgets a key it may still meet in its cache).
    fn read_extra_files(&self) -> Result<usize, SecretError> {
        let mut added = 0;
        let files = self
            .files
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for path in &files {
            let key = match MasterKey::load(path) {
                Ok(key) => key,
                Err(SecretError::KeyFileMissing { .. }) => continue,
                Err(e) => return Err(e),
            };
            let mut state = self.write();
            if !state.keys.iter().any(|k| k.id() == key.id()) {
                state.keys.push(Arc::new(key));
                added += 1;
            }
        }
        Ok(added)
    }

    /// Re-reads the key files unless that was done less than a second ago; whether a key was added.
    fn reload(&self) -> bool {
        {
            let mut last = self
                .last_reload
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < RELOAD_INTERVAL) {
                return false;
            }
            *last = Some(Instant::now());
        }
        if let Some(source) = &self.source {
            let mut files = self
                .files
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for path in source() {
                if !files.contains(&path) {
                    files.push(path);
                }
            }
        }
        self.read_extra_files().is_ok_and(|added| added > 0)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key new values are sealed under.
    pub fn primary(&self) -> Arc<MasterKey> {
        let state = self.read();
        state
            .keys
            .get(state.primary)
            .or_else(|| state.keys.first())
            .cloned()
            .unwrap_or_else(|| unreachable!("a keyring holds at least one key"))
    }

    /// Every key, the primary first.
    pub fn keys(&self) -> Vec<Arc<MasterKey>> {
        let state = self.read();
        let mut keys = state.keys.clone();
        let primary = state.primary.min(keys.len().saturating_sub(1));
        keys.swap(0, primary);
        keys
    }

    /// The key with this id, re-reading the key files once if it is not loaded.
    pub fn find(&self, id: &[u8; KEY_ID_LEN]) -> Result<Arc<MasterKey>, SecretError> {
        let lookup = || self.read().keys.iter().find(|k| k.id() == *id).cloned();
        if let Some(key) = lookup() {
            return Ok(key);
        }
        if self.reload()
            && let Some(key) = lookup()
        {
            return Ok(key);
        }
        Err(SecretError::UnknownKey {
            key_id: hex::encode(id),
        })
    }

    /// Makes the key with this id the primary one (the database names it); the write lock only on a change.
    fn make_primary(&self, key: &MasterKey) {
        {
            let state = self.read();
            if state
                .keys
                .get(state.primary)
                .is_some_and(|k| k.id() == key.id())
            {
                return;
            }
        }
        let mut state = self.write();
        if let Some(index) = state.keys.iter().position(|k| k.id() == key.id()) {
            state.primary = index;
        }
    }

    /// The key that produced the database's key check value `stored`, which becomes the primary key. Version 1
    /// values (no key id) are tried against every key. `UnknownKey` if no key of this node (after re-reading
    /// the files) made it.
    pub fn adopt_key_check(&self, stored: &[u8]) -> Result<Arc<MasterKey>, SecretError> {
        // The stored value is public (a sealed constant); bytes equal to the ones already opened need no open.
        let known = self
            .adopted
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .filter(|(value, _)| value.as_slice() == stored)
            .map(|(_, key)| key.clone());
        let key = match known {
            Some(key) => key,
            None => {
                let key = self.key_of_check(stored)?;
                *self
                    .adopted
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((stored.to_vec(), key.clone()));
                key
            }
        };
        self.make_primary(&key);
        Ok(key)
    }

    fn key_of_check(&self, stored: &[u8]) -> Result<Arc<MasterKey>, SecretError> {
        if let Some(id) = sealed_key_id(stored) {
            let key = self.find(&id)?;
            return if key.matches_key_check(stored) {
                Ok(key)
            } else {
                Err(SecretError::Open)
            };
        }
        let found = || {
            self.keys()
                .into_iter()
                .find(|k| k.matches_key_check(stored))
        };
        if let Some(key) = found() {
            return Ok(key);
        }
        if self.reload()
            && let Some(key) = found()
        {
            return Ok(key);
        }
        Err(SecretError::UnknownKey {
            key_id: "(a key from before key ids)".to_owned(),
        })
    }

    /// Seals under the primary key.
    pub fn seal(&self, aad: &Aad, plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        self.primary().seal(aad, plaintext)
    }

    /// Opens a value sealed under any key of the keyring: a version 2 value with the key it names, a version 1
    /// value with whichever key opens it (the primary first).
    pub fn open(&self, aad: &Aad, sealed: &[u8]) -> Result<SecretBytes, SecretError> {
        match parse_sealed(sealed)? {
            Sealed::V2 { key_id, .. } => self.find(&key_id)?.open(aad, sealed),
            Sealed::V1 { .. } => self
                .keys()
                .iter()
                .find_map(|k| k.open(aad, sealed).ok())
                .ok_or(SecretError::Open),
        }
    }

    /// The primary key's subkey for `label` (hashing and signing new values).
    pub fn derive(&self, label: &[u8]) -> SecretBytes {
        self.primary().derive(label)
    }

    /// The subkeys for `label` of every key, the primary's first (checking values made before a rotation).
    pub fn derive_all(&self, label: &[u8]) -> Vec<SecretBytes> {
        self.keys().iter().map(|k| k.derive(label)).collect()
    }

    /// The primary key's id, hex.
    pub fn key_id(&self) -> String {
        self.primary().key_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_check_value_picks_the_primary_and_unknown_ids_refuse() {
        let old = MasterKey::from_bytes([1; 32]);
        let new = MasterKey::from_bytes([2; 32]);
        let new_check = new.key_check_value().unwrap();
        let ring = Keyring::with_keys(
            MasterKey::from_bytes([1; 32]),
            vec![MasterKey::from_bytes([2; 32])],
        );
        assert_eq!(ring.key_id(), old.key_id());
        ring.adopt_key_check(&new_check).unwrap();
        assert_eq!(ring.key_id(), new.key_id());
        let sealed = ring.seal(&Aad::client_secret("nas"), b"s3cret").unwrap();
        assert_eq!(sealed_key_id(&sealed), Some(new.id()));
        // Sealed under the old key: still opens through the keyring.
        let before = old.seal(&Aad::client_secret("nas"), b"old").unwrap();
        assert_eq!(
            ring.open(&Aad::client_secret("nas"), &before)
                .unwrap()
                .expose(),
            b"old"
        );

        let lone = Keyring::single(MasterKey::from_bytes([1; 32]));
        assert!(matches!(
            lone.adopt_key_check(&new_check),
            Err(SecretError::UnknownKey { .. })
        ));
        assert!(matches!(
            lone.open(&Aad::client_secret("nas"), &sealed),
            Err(SecretError::UnknownKey { .. })
        ));
    }

    #[test]
    fn a_changed_key_check_value_is_opened_again() {
        let old = MasterKey::from_bytes([1; 32]);
        let new = MasterKey::from_bytes([2; 32]);
        let ring = Keyring::with_keys(
            MasterKey::from_bytes([1; 32]),
            vec![MasterKey::from_bytes([2; 32])],
        );
        let old_check = old.key_check_value().unwrap();
        let new_check = new.key_check_value().unwrap();
        for (check, key) in [(&new_check, &new), (&new_check, &new), (&old_check, &old)] {
            assert_eq!(ring.adopt_key_check(check).unwrap().id(), key.id());
            assert_eq!(ring.key_id(), key.key_id());
        }
        // The value last adopted with one byte changed is refused, and the primary stays.
        let mut forged = old_check.clone();
        if let Some(last) = forged.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            ring.adopt_key_check(&forged),
            Err(SecretError::Open)
        ));
        assert_eq!(ring.key_id(), old.key_id());
        assert_eq!(ring.adopt_key_check(&new_check).unwrap().id(), new.id());
        assert_eq!(ring.key_id(), new.key_id());
    }

    #[test]
    fn a_key_file_copied_later_is_picked_up() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("motpd.key");
        let next = dir.path().join("next.key");
        MasterKey::create_file(&first).unwrap();
        let ring = Keyring::load(&first, std::slice::from_ref(&next)).unwrap();
        assert_eq!(ring.keys().len(), 1);
        let new = MasterKey::create_file(&next).unwrap();
        let sealed = new.seal(&Aad::key_check(), b"x").unwrap();
        assert_eq!(
            ring.open(&Aad::key_check(), &sealed).unwrap().expose(),
            b"x"
        );
        assert_eq!(ring.keys().len(), 2);
    }

    #[test]
    fn a_key_file_listed_after_the_start_is_found_through_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("motpd.key");
        let later = dir.path().join("later.key");
        MasterKey::create_file(&first).unwrap();
        let listed = later.clone();
        let source: FileSource = Box::new(move || vec![listed.clone()]);
        let ring = Keyring::load_with_source(&first, &[], Some(source)).unwrap();
        let new = MasterKey::create_file(&later).unwrap();
        let check = new.key_check_value().unwrap();
        assert_eq!(ring.adopt_key_check(&check).unwrap().id(), new.id());
        assert_eq!(ring.key_id(), new.key_id());
        // An id no file holds is refused (and the files are not re-read again within the second).
        let stranger = MasterKey::from_bytes([5; 32])
            .seal(&Aad::key_check(), b"x")
            .unwrap();
        assert!(matches!(
            ring.open(&Aad::key_check(), &stranger),
            Err(SecretError::UnknownKey { .. })
        ));
    }
}
