//! The identity check of account activation and reset: the national ID number or birth date the hospital
//! holds, kept only as HMAC-SHA256 under a key derived from the master key and bound to the account ID (the same
//! birth date gives a different hash for every account). Compared in constant time; never logged.
//!
//! The hash cannot be recomputed without the identity, so a key rotation leaves stored hashes as they are: new
//! hashes use the primary key, and a typed identity is checked under every key of the keyring (re-importing
//! the identities re-hashes them under the primary key).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::account_rules::normalize_identity;
use std::sync::Arc;

use crate::secrets::{Keyring, SecretBytes};

const LABEL: &[u8] = b"motpd identity v1";

/// Hashes and checks identities.
pub struct IdentityKey {
    ring: Arc<Keyring>,
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityKey([redacted])")
    }
}

impl IdentityKey {
    /// The key for identities, derived from the master key.
    pub fn new(ring: Arc<Keyring>) -> Self {
        Self { ring }
    }

    /// The stored form of an identity already normalised by [`normalize_identity`].
    pub fn hash(&self, account_id: &str, normalized: &str) -> Vec<u8> {
        hash_with(&self.ring.derive(LABEL), account_id, normalized)
    }

    /// Whether the typed identity (any accepted spelling) is the stored one, under any key of the keyring, in
    /// constant time per key.
    pub fn matches(&self, account_id: &str, stored: &[u8], typed: &str) -> bool {
        // A malformed answer is still hashed, so it takes as long as a wrong one.
        let normalized = normalize_identity(typed).unwrap_or_else(|_| typed.to_owned());
        self.ring
            .derive_all(LABEL)
            .iter()
            .fold(false, |found, key| {
                found | bool::from(hash_with(key, account_id, &normalized).ct_eq(stored))
            })
    }
}

fn hash_with(key: &SecretBytes, account_id: &str, normalized: &str) -> Vec<u8> {
    {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(account_id.as_bytes());
        mac.update(b"\0");
        mac.update(normalized.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_the_account_and_spelling_free() {
        let master = Arc::new(Keyring::single(crate::secrets::MasterKey::from_bytes(
            [7u8; 32],
        )));
        let key = IdentityKey::new(master);
        let stored = key.hash("alice", "1990-03-07");
        assert!(key.matches("alice", &stored, "19900307"));
        assert!(!key.matches("bob", &stored, "1990-03-07"));
        assert!(!key.matches("alice", &stored, "1990-03-08"));
        assert!(!format!("{key:?}").contains('7'));
        // After a rotation the old hash still matches, and new hashes use the new key.
        let rotated = Arc::new(Keyring::with_keys(
            crate::secrets::MasterKey::from_bytes([8u8; 32]),
            vec![crate::secrets::MasterKey::from_bytes([7u8; 32])],
        ));
        let after = IdentityKey::new(rotated);
        assert!(after.matches("alice", &stored, "1990-03-07"));
        assert_ne!(after.hash("alice", "1990-03-07"), stored);
    }
}
