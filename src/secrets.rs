//! Secrets at rest and in memory.
//!
//! Owns three things:
//! - redacting newtypes ([`SecretBytes`], [`SecretString`]) for anything that must never reach a log, an error
//!   message or a `{:?}`: OTP seeds, mOTP PINs, RADIUS shared secrets, passwords, codes;
//! - the master key ([`MasterKey`]), read from `secrets.key_file` (64 hex characters, mode 0600, created by
//!   `motpd init`); a key file that group or others can read is refused;
//! - sealing: XChaCha20-Poly1305 with a random 192-bit nonce per value and the row identity as associated data
//!   ([`Aad`]), so a sealed value copied into another row does not open.
//!
//! Sealed formats:
//! - version 2 (every new seal): `0x02 || key id (4) || nonce (24) || ciphertext || tag (16)`, with
//!   `0x02 || key id || row identity` as associated data, so the key id cannot be changed without breaking the tag;
//! - version 1 (databases from before key rotation): `0x01 || nonce (24) || ciphertext || tag (16)`, opened by
//!   trying each key of the [`Keyring`].
//!
//! The key id is the first four bytes of `SHA-256("motpd key id v1" || key)`: derived from the key itself, so
//! two nodes agree on it without coordinating a counter, and it tells nothing about the key.
//! This module does no logging and knows nothing of the database.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

mod keyring;

pub use keyring::{FileSource, Keyring};

const LEGACY_VERSION: u8 = 1;
const SEALED_VERSION: u8 = 2;
/// Bytes of a key id.
pub const KEY_ID_LEN: usize = 4;
const KEY_ID_LABEL: &[u8] = b"motpd key id v1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_CHECK_PLAINTEXT: &[u8] = b"motpd key check v1";

/// Why a secret could not be loaded, created, sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The key file does not exist.
    #[error(
        "key file {path} does not exist; create it with `motpd init` (or point secrets.key_file at the existing key)"
    )]
    KeyFileMissing {
        /// The configured path.
        path: PathBuf,
    },
    /// The key file is readable or writable by group or others.
    #[error(
        "key file {path} has mode {mode:04o}: group or others can access it; run `chmod 600 {path}` (motpd refuses to use a key others can read)"
    )]
    KeyFilePermissions {
        /// The configured path.
        path: PathBuf,
        /// The file's permission bits.
        mode: u32,
    },
    /// The key file's content is not 64 hex characters.
    #[error("key file {path} is not a motpd key (expected 64 hexadecimal characters)")]
    KeyFileMalformed {
        /// The configured path.
        path: PathBuf,
    },
    /// `motpd init` would overwrite an existing key.
    #[error(
        "key file {path} already exists; motpd never overwrites a key (the database's secrets depend on it)"
    )]
    KeyFileExists {
        /// The configured path.
        path: PathBuf,
    },
    /// Reading or writing the key file failed.
    #[error("cannot access key file {path}: {source}")]
    Io {
        /// The configured path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A sealed value did not open: wrong key, wrong row, or damaged data.
    #[error(
        "a sealed secret could not be opened: wrong key file, or the value was moved or damaged"
    )]
    Open,
    /// The operating system's random generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A value or the database names a key that none of this node's key files holds.
    #[error(
        "the database uses key id {key_id}, which none of this node's key files holds (secrets.key_file, \
         secrets.extra_key_files): copy that key file to this node and list it there"
    )]
    UnknownKey {
        /// The key id (8 hex digits).
        key_id: String,
    },
}

/// Bytes that must stay secret: zeroed on drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret itself. Call sites are the places that must be reviewed.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes([redacted])")
    }
}

/// A text secret (password, shared secret typed by an admin): zeroed on drop, redacted in `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a string.
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Associated data naming the row a sealed value belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aad(String);

impl Aad {
    /// A device's OTP seed.
    pub fn device_seed(device_id: &str, account_id: &str) -> Self {
        Self(format!("motpd/device-seed/v1|{device_id}|{account_id}"))
    }

    /// A device's mOTP PIN.
    pub fn device_pin(device_id: &str, account_id: &str) -> Self {
        Self(format!("motpd/device-pin/v1|{device_id}|{account_id}"))
    }

    /// A RADIUS client's shared secret.
    pub fn client_secret(client_name: &str) -> Self {
        Self(format!("motpd/client-secret/v1|{client_name}"))
    }

    /// A console admin's TOTP seed.
    pub fn admin_totp(admin_name: &str) -> Self {
        Self(format!("motpd/admin-totp/v1|{admin_name}"))
    }

    /// A console form's pending admin device (its seed, and for a new admin the password hash), bound to the
    /// session that started it.
    pub fn console_pending(session_token: &str) -> Self {
        Self(format!("motpd/console-pending/v1|{session_token}"))
    }

    /// The key check value stored in the database.
    pub fn key_check() -> Self {
        Self("motpd/key-check/v1".to_owned())
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The 256-bit master key that seals every secret at rest.
pub struct MasterKey {
    key: Zeroizing<[u8; 32]>,
    /// [`MasterKey::id`], computed once: every open and key check finds its key by id.
    id: [u8; KEY_ID_LEN],
    /// The subkeys derived so far, by label (a subkey depends on the key and the label alone, so it never goes
    /// stale); they are zeroized when the key is dropped.
    derived: RwLock<Vec<(Box<[u8]>, SecretBytes)>>,
}

/// The most labels whose subkeys a key keeps (the labels are constants of the code; a caller with more only
/// derives the rest each time).
const DERIVED_CAPACITY: usize = 16;

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id={})", self.key_id())
    }
}

impl MasterKey {
    /// Builds a key from raw bytes (tests, benches).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self::new(Zeroizing::new(bytes))
    }

    fn new(key: Zeroizing<[u8; 32]>) -> Self {
        let digest = Sha256::new()
            .chain_update(KEY_ID_LABEL)
            .chain_update(key.as_slice())
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self {
            key,
            id,
            derived: RwLock::new(Vec::new()),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| SecretError::Random)?;
        let key = Self::from_bytes(bytes);
        bytes.zeroize();
        Ok(key)
    }

    /// Loads the key file, refusing one that group or others can access.
    pub fn load(path: &Path) -> Result<Self, SecretError> {
        let io = |source| SecretError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SecretError::KeyFileMissing {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(io(e)),
        };
        check_permissions(path, &meta)?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let malformed = || SecretError::KeyFileMalformed {
            path: path.to_owned(),
        };
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), bytes.as_mut_slice()).map_err(|_| malformed())?;
        Ok(Self::new(bytes))
    }

    /// Creates a new key file with mode 0600. Never overwrites an existing file.
    pub fn create_file(path: &Path) -> Result<Self, SecretError> {
        let key = Self::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                SecretError::KeyFileExists {
                    path: path.to_owned(),
                }
            } else {
                SecretError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let mut text = Zeroizing::new(hex::encode(key.key.as_slice()));
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| SecretError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(key)
    }

    /// The key's public identity: the first bytes of `SHA-256("motpd key id v1" || key)`. Written into every
    /// value sealed under it, so a node picks the right key of its keyring.
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }

    /// [`MasterKey::id`] as 8 hex digits, for messages, the audit trail and `motpd secrets status`.
    pub fn key_id(&self) -> String {
        hex::encode(self.id())
    }

    /// Seals `plaintext` for the row named by `aad`.
    pub fn seal(&self, aad: &Aad, plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SecretError::Random)?;
        let id = self.id();
        let cipher = self.cipher()?;
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &bound_aad(&id, aad),
                },
            )
            .map_err(|_| SecretError::Open)?;
        let mut sealed = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + ciphertext.len());
        sealed.push(SEALED_VERSION);
        sealed.extend_from_slice(&id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a value sealed by [`MasterKey::seal`] for the same row: a version 2 value only if it names this
    /// key, a version 1 value if this key opens it.
    pub fn open(&self, aad: &Aad, sealed: &[u8]) -> Result<SecretBytes, SecretError> {
        let (nonce, ciphertext, aad_bytes) = match parse_sealed(sealed)? {
            Sealed::V1 { nonce, ciphertext } => (nonce, ciphertext, aad.as_bytes().to_vec()),
            Sealed::V2 {
                key_id,
                nonce,
                ciphertext,
            } => {
                if key_id != self.id() {
                    return Err(SecretError::Open);
                }
                (nonce, ciphertext, bound_aad(&key_id, aad))
            }
        };
        let cipher = self.cipher()?;
        cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad_bytes,
                },
            )
            .map(SecretBytes::new)
            .map_err(|_| SecretError::Open)
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, SecretError> {
        XChaCha20Poly1305::new_from_slice(self.key.as_slice()).map_err(|_| SecretError::Open)
    }

    /// The value stored in the database at first use, so that a later start with another key file is refused
    /// with a clear message instead of producing garbage.
    pub fn key_check_value(&self) -> Result<Vec<u8>, SecretError> {
        self.seal(&Aad::key_check(), KEY_CHECK_PLAINTEXT)
    }

    /// Whether `stored` was produced by [`MasterKey::key_check_value`] with this key.
    pub fn matches_key_check(&self, stored: &[u8]) -> bool {
        self.open(&Aad::key_check(), stored)
            .is_ok_and(|plain| plain.expose() == KEY_CHECK_PLAINTEXT)
    }

    /// The key of the audit trail's HMAC chain, derived so it is never the sealing key itself.
    pub fn audit_chain_key(&self) -> SecretBytes {
        self.derive(b"motpd audit chain v1")
    }

    /// A 256-bit subkey for one purpose (HMAC-SHA256 of the label under the master key), derived once per label.
    pub fn derive(&self, label: &[u8]) -> SecretBytes {
        let cached = |derived: &[(Box<[u8]>, SecretBytes)]| {
            derived
                .iter()
                .find(|(l, _)| **l == *label)
                .map(|(_, subkey)| subkey.clone())
        };
        if let Some(subkey) = cached(&self.derived.read().unwrap_or_else(PoisonError::into_inner)) {
            return subkey;
        }
        let subkey = self.derive_uncached(label);
        let mut derived = self.derived.write().unwrap_or_else(PoisonError::into_inner);
        if cached(&derived).is_none() && derived.len() < DERIVED_CAPACITY {
            derived.push((label.into(), subkey.clone()));
        }
        subkey
    }

    fn derive_uncached(&self, label: &[u8]) -> SecretBytes {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(label);
        SecretBytes::new(mac.finalize().into_bytes().to_vec())
    }
}

/// The key id a sealed value names: `Some` for version 2, `None` for version 1 (which names no key) or a value
/// too short to be sealed.
pub fn sealed_key_id(sealed: &[u8]) -> Option<[u8; KEY_ID_LEN]> {
    match parse_sealed(sealed) {
        Ok(Sealed::V2 { key_id, .. }) => Some(key_id),
        _ => None,
    }
}

/// A sealed value taken apart (not yet authenticated).
enum Sealed<'a> {
    V1 {
        nonce: [u8; NONCE_LEN],
        ciphertext: &'a [u8],
    },
    V2 {
        key_id: [u8; KEY_ID_LEN],
        nonce: [u8; NONCE_LEN],
        ciphertext: &'a [u8],
    },
}

fn parse_sealed(sealed: &[u8]) -> Result<Sealed<'_>, SecretError> {
    let (version, rest) = sealed.split_first().ok_or(SecretError::Open)?;
    match *version {
        LEGACY_VERSION if rest.len() >= NONCE_LEN + TAG_LEN => {
            let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
            Ok(Sealed::V1 {
                nonce: nonce.try_into().map_err(|_| SecretError::Open)?,
                ciphertext,
            })
        }
        SEALED_VERSION if rest.len() >= KEY_ID_LEN + NONCE_LEN + TAG_LEN => {
            let (key_id, rest) = rest.split_at(KEY_ID_LEN);
            let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
            Ok(Sealed::V2 {
                key_id: key_id.try_into().map_err(|_| SecretError::Open)?,
                nonce: nonce.try_into().map_err(|_| SecretError::Open)?,
                ciphertext,
            })
        }
        _ => Err(SecretError::Open),
    }
}

/// Version 2's associated data: the version and key id, then the row identity.
fn bound_aad(key_id: &[u8; KEY_ID_LEN], aad: &Aad) -> Vec<u8> {
    let mut bound = Vec::with_capacity(1 + KEY_ID_LEN + aad.as_bytes().len());
    bound.push(SEALED_VERSION);
    bound.extend_from_slice(key_id);
    bound.extend_from_slice(aad.as_bytes());
    bound
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<(), SecretError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretError::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), SecretError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_subkeys_are_kept_per_label_and_match_a_fresh_derivation() {
        let key = MasterKey::from_bytes([7; 32]);
        let labels: Vec<Vec<u8>> = (0..DERIVED_CAPACITY + 3)
            .map(|i| format!("label {i}").into_bytes())
            .collect();
        for _ in 0..2 {
            for label in &labels {
                assert_eq!(
                    key.derive(label).expose(),
                    key.derive_uncached(label).expose()
                );
            }
        }
        assert_ne!(key.derive(b"a").expose(), key.derive(b"b").expose());
        let other = MasterKey::from_bytes([8; 32]);
        assert_ne!(key.derive(b"a").expose(), other.derive(b"a").expose());
        assert_eq!(key.derived.read().unwrap().len(), DERIVED_CAPACITY);
        // The id is the documented SHA-256 prefix.
        let digest = Sha256::new()
            .chain_update(KEY_ID_LABEL)
            .chain_update([7u8; 32])
            .finalize();
        assert_eq!(key.id()[..], digest[..KEY_ID_LEN]);
    }

    #[test]
    fn secret_types_redact_themselves() {
        let bytes = SecretBytes::new(b"JBSWY3DPEHPK3PXP".to_vec());
        let text = SecretString::new("hunter2-Secret".to_owned());
        for shown in [
            format!("{bytes:?}"),
            format!("{text:?}"),
            format!("{text}"),
            format!("{:?}", MasterKey::from_bytes([7; 32])),
        ] {
            assert!(!shown.contains("JBSWY3DP"), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("0707"), "{shown}");
        }
        assert!(format!("{bytes:?}").contains("redacted"));
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let key = MasterKey::from_bytes([1; 32]);
        let aad = Aad::device_seed("d1", "alice");
        let sealed = key.seal(&aad, b"seed bytes").unwrap();
        assert_eq!(key.open(&aad, &sealed).unwrap().expose(), b"seed bytes");
        // Another row, another key, or a flipped byte: refused, never garbage.
        assert!(key.open(&Aad::device_seed("d1", "bob"), &sealed).is_err());
        assert!(MasterKey::from_bytes([2; 32]).open(&aad, &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            assert!(key.open(&aad, &bad).is_err(), "byte {i}");
        }
        assert!(key.open(&aad, &sealed[..10]).is_err());
        // Fresh nonce each time.
        assert_ne!(sealed, key.seal(&aad, b"seed bytes").unwrap());
    }

    /// A value in the format of databases from before key ids.
    fn seal_v1(key: &MasterKey, aad: &Aad, plaintext: &[u8]) -> Vec<u8> {
        let nonce = [9u8; NONCE_LEN];
        let ciphertext = key
            .cipher()
            .unwrap()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .unwrap();
        [&[LEGACY_VERSION][..], &nonce, &ciphertext].concat()
    }

    #[test]
    fn version_1_values_still_open() {
        let key = MasterKey::from_bytes([1; 32]);
        let aad = Aad::device_pin("d1", "alice");
        let old = seal_v1(&key, &aad, b"1234");
        assert_eq!(key.open(&aad, &old).unwrap().expose(), b"1234");
        assert!(MasterKey::from_bytes([2; 32]).open(&aad, &old).is_err());
        assert!(key.open(&Aad::device_pin("d2", "alice"), &old).is_err());
        assert_eq!(sealed_key_id(&old), None);
        let ring = Keyring::with_keys(
            MasterKey::from_bytes([2; 32]),
            vec![MasterKey::from_bytes([1; 32])],
        );
        assert_eq!(ring.open(&aad, &old).unwrap().expose(), b"1234");
        // A key check value of the old format names its key by opening.
        let check = seal_v1(&key, &Aad::key_check(), KEY_CHECK_PLAINTEXT);
        assert!(key.matches_key_check(&check));
        assert_eq!(ring.adopt_key_check(&check).unwrap().id(), key.id());
    }

    #[test]
    fn version_2_names_its_key_and_binds_the_id() {
        let key = MasterKey::from_bytes([1; 32]);
        let other = MasterKey::from_bytes([2; 32]);
        let aad = Aad::device_seed("d1", "alice");
        let sealed = key.seal(&aad, b"seed").unwrap();
        assert_eq!(sealed[0], SEALED_VERSION);
        assert_eq!(sealed_key_id(&sealed), Some(key.id()));
        assert_eq!(&sealed[1..1 + KEY_ID_LEN], &key.id());
        assert_ne!(key.id(), other.id());
        assert_eq!(key.open(&aad, &sealed).unwrap().expose(), b"seed");
        // Another key refuses a value naming a key that is not its own.
        assert!(other.open(&aad, &sealed).is_err());
        // The id rewritten to name the other key: that key refuses it (wrong tag), and so does the right one
        // (the id is part of the associated data).
        let mut renamed = sealed.clone();
        renamed[1..1 + KEY_ID_LEN].copy_from_slice(&other.id());
        assert!(other.open(&aad, &renamed).is_err());
        let mut same_key_patched = renamed.clone();
        same_key_patched[1..1 + KEY_ID_LEN].copy_from_slice(&key.id());
        assert_eq!(same_key_patched, sealed);
        // Downgraded to version 1 by dropping the id: refused.
        let downgraded = [&[LEGACY_VERSION][..], &sealed[1 + KEY_ID_LEN..]].concat();
        assert!(key.open(&aad, &downgraded).is_err());
        // The id is stable and derived from the key, not a plain hash of it.
        assert_eq!(key.key_id(), MasterKey::from_bytes([1; 32]).key_id());
        assert_ne!(&key.id()[..], &Sha256::digest([1u8; 32])[..KEY_ID_LEN],);
    }

    #[test]
    fn key_check_detects_another_key() {
        let key = MasterKey::from_bytes([3; 32]);
        let check = key.key_check_value().unwrap();
        assert!(key.matches_key_check(&check));
        assert!(!MasterKey::from_bytes([4; 32]).matches_key_check(&check));
    }

    #[test]
    fn key_file_create_load_and_refusals() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("motpd.key");
        assert!(matches!(
            MasterKey::load(&path),
            Err(SecretError::KeyFileMissing { .. })
        ));
        let created = MasterKey::create_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(MasterKey::load(&path).unwrap().key_id(), created.key_id());
        assert!(matches!(
            MasterKey::create_file(&path),
            Err(SecretError::KeyFileExists { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = MasterKey::load(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        let bad = dir.path().join("bad.key");
        std::fs::write(&bad, "not a key").unwrap();
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            MasterKey::load(&bad),
            Err(SecretError::KeyFileMalformed { .. })
        ));
    }
}
