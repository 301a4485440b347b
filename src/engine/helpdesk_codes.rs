//! One-time helpdesk codes: after checking a person's ID card at the desk, an admin runs
//! `motpd user reset-password ID`, which prints such a code; on `/account/reset` (or `/account/activate`) it
//! alone allows setting the password. Twelve characters from a 32-letter alphabet without look-alikes (60
//! bits, shown as `XXXX-XXXX-XXXX`), from the operating system's CSPRNG; stored only as HMAC-SHA256 under a key
//! derived from the master key and bound to the account; single use; valid [`HELPDESK_CODE_TTL_SECONDS`].

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use std::sync::Arc;

use crate::secrets::{Keyring, SecretBytes, SecretError, SecretString};

const LABEL: &[u8] = b"motpd helpdesk code v1";

/// How long a helpdesk code stays valid.
pub const HELPDESK_CODE_TTL_SECONDS: i64 = 24 * 3600;

/// The code's letters: no 0/O, 1/I.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Characters in a code.
const LENGTH: usize = 12;

/// Makes and hashes helpdesk codes.
pub struct HelpdeskCodes {
    ring: Arc<Keyring>,
}

impl std::fmt::Debug for HelpdeskCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HelpdeskCodes([redacted])")
    }
}

impl HelpdeskCodes {
    /// The key for helpdesk codes, derived from the master key.
    pub fn new(ring: Arc<Keyring>) -> Self {
        Self { ring }
    }

    /// A fresh code as it is shown (`XXXX-XXXX-XXXX`).
    pub fn generate() -> Result<SecretString, SecretError> {
        let mut bytes = [0u8; LENGTH];
        getrandom::fill(&mut bytes).map_err(|_| SecretError::Random)?;
        let mut shown = String::with_capacity(LENGTH + 2);
        for (i, byte) in bytes.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                shown.push('-');
            }
            // 256 is a multiple of 32: every letter is equally likely.
            let letter = ALPHABET
                .get(usize::from(byte % 32))
                .copied()
                .unwrap_or(b'A');
            shown.push(char::from(letter));
        }
        Ok(SecretString::new(shown))
    }

    /// The stored form of a code as typed (dashes, spaces and case do not matter).
    pub fn hash(&self, account_id: &str, typed: &str) -> Vec<u8> {
        let normalized = normalize(typed);
        self.hash_under(&self.ring.derive(LABEL), account_id, &normalized)
    }

    /// The hashes of a typed code under every key of the keyring, the primary's first (a code printed before a
    /// key rotation stays valid for its day).
    pub fn candidate_hashes(&self, account_id: &str, typed: &str) -> Vec<Vec<u8>> {
        let normalized = normalize(typed);
        self.ring
            .derive_all(LABEL)
            .iter()
            .map(|key| self.hash_under(key, account_id, &normalized))
            .collect()
    }

    fn hash_under(&self, key: &SecretBytes, account_id: &str, normalized: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(account_id.as_bytes());
        mac.update(b"\0");
        mac.update(normalized.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// The code without dashes, spaces or case.
fn normalize(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_vary_and_hash_however_typed() {
        let a = HelpdeskCodes::generate().unwrap();
        let b = HelpdeskCodes::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 14);
        assert_eq!(a.expose().matches('-').count(), 2);
        let codes = HelpdeskCodes::new(Arc::new(Keyring::single(
            crate::secrets::MasterKey::from_bytes([3u8; 32]),
        )));
        let typed = a.expose().replace('-', " ").to_lowercase();
        assert_eq!(codes.hash("alice", a.expose()), codes.hash("alice", &typed));
        assert_ne!(
            codes.hash("alice", a.expose()),
            codes.hash("bob", a.expose())
        );
    }
}
