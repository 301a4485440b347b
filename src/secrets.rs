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
//! Sealed format: `0x01 || nonce (24) || ciphertext || tag (16)`. The version byte leaves room for key rotation.
//! This module does no logging and knows nothing of the database.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

const SEALED_VERSION: u8 = 1;
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
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id={})", self.key_id())
    }
}

impl MasterKey {
    /// Builds a key from raw bytes (tests, benches).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            key: Zeroizing::new(bytes),
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
        Ok(Self { key: bytes })
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

    /// A short public fingerprint of the key (first 8 hex digits of its SHA-256), for messages and the database.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.key.as_slice());
        hex::encode(digest.get(..4).unwrap_or_default())
    }

    /// Seals `plaintext` for the row named by `aad`.
    pub fn seal(&self, aad: &Aad, plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SecretError::Random)?;
        let cipher = self.cipher()?;
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Open)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEALED_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a value sealed by [`MasterKey::seal`] for the same row.
    pub fn open(&self, aad: &Aad, sealed: &[u8]) -> Result<SecretBytes, SecretError> {
        let (version, rest) = sealed.split_first().ok_or(SecretError::Open)?;
        if *version != SEALED_VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretError::Open);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretError::Open)?;
        let cipher = self.cipher()?;
        cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
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

    /// A 256-bit subkey for one purpose (HMAC-SHA256 of the label under the master key).
    pub fn derive(&self, label: &[u8]) -> SecretBytes {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(label);
        SecretBytes::new(mac.finalize().into_bytes().to_vec())
    }
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
