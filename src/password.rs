//! Account passwords: hashing new ones with Argon2id, verifying imported legacy hashes, and the hospital's
//! password rule.
//!
//! New hashes are Argon2id PHC strings (m = 19 MiB, t = 2, p = 1, the OWASP baseline). Hashes imported from a
//! previous system may be sha-crypt (`$5$`, `$6$`) or bcrypt (`$2a$`, `$2b$`, `$2y$`); they verify, and
//! [`Verified::needs_rehash`] tells the caller to store a fresh Argon2id hash after the successful login.
//! Hashing is slow on purpose: callers on an async runtime run it off the async workers (the server: on
//! the runtime's hashing threads).
//!
//! An Argon2 verify needs its working memory (m = 19 MiB at today's cost). [`verify_password`] allocates it
//! zeroed every time; [`verify_password_in`] takes it from the caller's [`WorkingMemory`], which may keep it for
//! the next verify — for threads that verify one password after another (zeroing 19 MiB for every verify is
//! a visible share of a busy server's CPU). Pass 0 of Argon2 writes every block before reading it, so what a previous verify left
//! there never reaches a result.
//! Pure: no I/O, no logging, no state of its own.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use subtle::ConstantTimeEq;

use crate::config::Language;

/// The stored hash could not be used at all (not a wrong password: that is [`Verified::Mismatch`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The stored string is not a hash format motpd knows.
    #[error(
        "unsupported password hash format (motpd verifies Argon2 PHC, $5$/$6$ sha-crypt and bcrypt)"
    )]
    UnsupportedFormat,
    /// The stored string has a known prefix but is malformed.
    #[error("malformed password hash")]
    Malformed,
    /// Hashing itself failed.
    #[error("password hashing failed")]
    Hashing,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The password is right.
    Match {
        /// The stored hash is legacy or weaker than today's parameters: store [`hash_password`] of it now.
        needs_rehash: bool,
    },
    /// The password is wrong.
    Mismatch,
}

/// The cost of new hashes: the `argon2` crate's defaults (m = 19 MiB, t = 2, p = 1).
#[cfg(not(fuzzing))]
fn cost() -> Params {
    Params::default()
}

/// Under `cfg(fuzzing)` (set only by cargo-fuzz, for the fuzz targets in fuzz/) the smallest cost Argon2id
/// allows, so that a fuzz run checks thousands of logins a second instead of a few dozen.
#[cfg(fuzzing)]
fn cost() -> Params {
    Params::new(Params::MIN_M_COST, Params::MIN_T_COST, 1, None).unwrap_or_default()
}

/// Hashes a new password with Argon2id at the default parameters.
pub fn hash_password(password: &[u8]) -> Result<String, HashError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, cost())
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|_| HashError::Hashing)
}

/// Checks `password` against a stored hash of any supported format, in constant time per format.
pub fn verify_password(password: &[u8], stored: &str) -> Result<Verified, HashError> {
    verify(password, stored, None)
}

/// [`verify_password`], with the Argon2 working memory taken from `memory` (see the module documentation).
pub fn verify_password_in(
    password: &[u8],
    stored: &str,
    memory: &mut dyn WorkingMemory,
) -> Result<Verified, HashError> {
    verify(password, stored, Some(memory))
}

/// Argon2 working memory a caller lends to [`verify_password_in`], typically kept from one verify to the next.
pub trait WorkingMemory {
    /// `count` blocks for one hash (their contents do not matter), or `None`: the verify then allocates its
    /// own.
    fn blocks(&mut self, count: usize) -> Option<&mut [Block]>;
}

fn verify(
    password: &[u8],
    stored: &str,
    memory: Option<&mut dyn WorkingMemory>,
) -> Result<Verified, HashError> {
    if stored.starts_with("$argon2") {
        let hash = PasswordHash::new(stored).map_err(|_| HashError::Malformed)?;
        return Ok(if argon2_matches(password, &hash, memory)? {
            Verified::Match {
                needs_rehash: argon2_is_outdated(&hash),
            }
        } else {
            Verified::Mismatch
        });
    }
    if stored.starts_with("$5$") || stored.starts_with("$6$") {
        return match sha_crypt::ShaCrypt::default().verify_password(password, stored) {
            Ok(()) => Ok(Verified::Match { needs_rehash: true }),
            Err(sha_crypt::password_hash::Error::PasswordInvalid) => Ok(Verified::Mismatch),
            Err(_) => Err(HashError::Malformed),
        };
    }
    if ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Ok(Verified::Match { needs_rehash: true }),
            Ok(false) => Ok(Verified::Mismatch),
            Err(_) => Err(HashError::Malformed),
        };
    }
    Err(HashError::UnsupportedFormat)
}

/// Whether a stored hash string is of a supported format (checked at import, before anything is written).
pub fn is_supported_hash(stored: &str) -> bool {
    if stored.starts_with("$argon2") {
        return PasswordHash::new(stored).is_ok();
    }
    let sha_crypt = (stored.starts_with("$5$") || stored.starts_with("$6$"))
        && stored.matches('$').count() >= 3;
    let bcrypt = ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| stored.starts_with(p))
        && stored.len() == 60;
    sha_crypt || bcrypt
}

/// Computes the Argon2 output of `password` with the stored hash's algorithm, version, parameters and salt,
/// and compares it with the stored output in constant time (what `argon2`'s `PasswordVerifier` does, with the
/// working memory lent by the caller, if any).
fn argon2_matches(
    password: &[u8],
    hash: &PasswordHash,
    memory: Option<&mut dyn WorkingMemory>,
) -> Result<bool, HashError> {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(HashError::Malformed);
    };
    let algorithm = Algorithm::new(hash.algorithm.as_str()).map_err(|_| HashError::Malformed)?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| HashError::Malformed)?
        .unwrap_or_default();
    let params = Params::try_from(hash).map_err(|_| HashError::Malformed)?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut output = [0u8; 64];
    let output = output
        .get_mut(..expected.len())
        .ok_or(HashError::Malformed)?;
    match memory.and_then(|memory| memory.blocks(blocks)) {
        Some(lent) if lent.len() == blocks => {
            argon2.hash_password_into_with_memory(password, salt, output, lent)
        }
        // No memory lent (or not the size asked for): the allocator's, for this verify alone.
        _ => argon2.hash_password_into(password, salt, output),
    }
    .map_err(|_| HashError::Malformed)?;
    Ok(bool::from(output.ct_eq(expected.as_bytes())))
}

fn argon2_is_outdated(hash: &PasswordHash) -> bool {
    let current = cost();
    let param = |name: &str| hash.params.get_decimal(name);
    hash.algorithm.as_str() != "argon2id"
        || param("m").is_none_or(|m| m < current.m_cost())
        || param("t").is_none_or(|t| t < current.t_cost())
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Shorter than the minimum.
    #[error("the password must have at least {min} characters")]
    TooShort {
        /// The minimum length.
        min: usize,
    },
    /// Lacks a letter or a digit.
    #[error("the password must contain both letters and digits")]
    NeedsLettersAndDigits,
    /// Equal to the account ID.
    #[error("the password must not be the account ID")]
    EqualsAccountId,
    /// Equal to the password it replaces (initial passwords, resets).
    #[error("the new password must differ from the old one")]
    Unchanged,
}

impl PolicyViolation {
    /// The message in the reader's language.
    pub fn message(&self, language: Language) -> String {
        use crate::texts::PasswordRule;
        match *self {
            Self::TooShort { min } => PasswordRule::TooShort { min },
            Self::NeedsLettersAndDigits => PasswordRule::NeedsLettersAndDigits,
            Self::EqualsAccountId => PasswordRule::EqualsAccountId,
            Self::Unchanged => PasswordRule::Unchanged,
        }
        .text(language)
    }
}

/// The hospital's rule: at least `min_len` characters, letters and digits, not the account ID
/// (compared case-insensitively).
pub fn check_policy(
    account_id: &str,
    password: &str,
    min_len: usize,
) -> Result<(), PolicyViolation> {
    if password.chars().count() < min_len {
        return Err(PolicyViolation::TooShort { min: min_len });
    }
    let has_letter = password.chars().any(char::is_alphabetic);
    let has_digit = password.chars().any(|c| c.is_ascii_digit());
    if !(has_letter && has_digit) {
        return Err(PolicyViolation::NeedsLettersAndDigits);
    }
    if password.to_lowercase() == account_id.to_lowercase() {
        return Err(PolicyViolation::EqualsAccountId);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let hash = hash_password(b"Nurse2024").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            verify_password(b"Nurse2024", &hash),
            Ok(Verified::Match {
                needs_rehash: false
            })
        );
        assert_eq!(verify_password(b"nurse2024", &hash), Ok(Verified::Mismatch));
    }

    /// PHC strings of the Argon2 reference implementation for "password" (the `argon2` crate's test vectors):
    /// argon2i, argon2id and argon2d, versions 0x13 and 0x10, one lane and three, with associated data.
    const REFERENCE_HASHES: [&str; 4] = [
        "$argon2i$v=19$m=65536,t=1,p=1$c29tZXNhbHQAAAAAAAAAAA$+r0d29hqEB0yasKr55ZgICsQGSkl0v0kgwhd+U3wyRo",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2d$v=16$m=32,t=2,p=3,data=Dw8PDw8P$AAAAAAAAAAA$KnH4gniiaFnDvlA1xev3yovC4cnrrI6tnHOYtmja90o",
        "$argon2d$v=19$m=65536,t=2,p=1$YzI5dFpYTmhiSFFBQUFBQUFBQUFBQQ$Jxy74cswY2mq9y+u+iJcJy8EqOp4t/C7DWDzGwGB3IM",
    ];

    /// Working memory kept in a vector from one verify to the next, as a hashing thread keeps its own.
    #[derive(Default)]
    struct Kept(Vec<Block>);

    impl WorkingMemory for Kept {
        fn blocks(&mut self, count: usize) -> Option<&mut [Block]> {
            if self.0.len() < count {
                self.0.resize(count, Block::default());
            }
            self.0.get_mut(..count)
        }
    }

    #[test]
    fn reference_argon2_hashes_verify_with_fresh_and_kept_working_memory() {
        // Large, then small (the kept blocks hold the large hash's last state), then large again: the kept
        // memory never changes a result.
        let mut kept = Kept::default();
        for stored in REFERENCE_HASHES.iter().chain(REFERENCE_HASHES.iter().rev()) {
            for reuse in [false, true] {
                let mut verify = |password: &[u8]| {
                    if reuse {
                        verify_password_in(password, stored, &mut kept)
                    } else {
                        verify_password(password, stored)
                    }
                };
                assert!(
                    matches!(verify(b"password"), Ok(Verified::Match { .. })),
                    "{stored}"
                );
                assert_eq!(verify(b"sassword"), Ok(Verified::Mismatch), "{stored}");
            }
        }
        assert_eq!(kept.0.len() * size_of::<Block>(), 64 << 20);
        // A hash without its output is malformed (logged as unusable), not a mismatch.
        let (without_output, _) = REFERENCE_HASHES[1].rsplit_once('$').unwrap();
        assert_eq!(
            verify_password_in(b"password", without_output, &mut kept),
            Err(HashError::Malformed)
        );
    }

    #[test]
    fn weaker_argon2_asks_for_rehash() {
        let weak = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw12345678")
        .unwrap()
        .to_string();
        assert_eq!(
            verify_password(b"pw12345678", &weak),
            Ok(Verified::Match { needs_rehash: true })
        );
    }

    #[test]
    fn legacy_sha_crypt_and_bcrypt_verify_and_ask_for_rehash() {
        // Generated by OpenSSL, independently of the crate: `openssl passwd -6 -salt saltsalt Passw0rd` (and -5).
        let sha512 = "$6$saltsalt$MaIx3.BSZhnkUYbnTBq7lviIBfA4YkzRbVGCFdOwzVJ2gBCSLfytJYAcA9MxV7Gfu.UUQUVzCYKeWSgSBF1Vl0";
        let sha256 = "$5$saltsalt$tjziECQJwh/Wn7NKiA1tYxHvAc6Sx2RpJ8OQYPlb27B";
        for stored in [sha512, sha256] {
            assert!(is_supported_hash(stored));
            assert_eq!(
                verify_password(b"Passw0rd", stored),
                Ok(Verified::Match { needs_rehash: true }),
                "{stored}"
            );
            assert_eq!(verify_password(b"passw0rd", stored), Ok(Verified::Mismatch));
        }
        let bcrypt = bcrypt::hash("Passw0rd", 4).unwrap();
        assert!(is_supported_hash(&bcrypt));
        assert_eq!(
            verify_password(b"Passw0rd", &bcrypt),
            Ok(Verified::Match { needs_rehash: true })
        );
        assert_eq!(
            verify_password(b"Passw0rd!", &bcrypt),
            Ok(Verified::Mismatch)
        );
    }

    #[test]
    fn unknown_and_malformed_hashes_are_errors_not_matches() {
        assert_eq!(
            verify_password(b"x", "plaintext"),
            Err(HashError::UnsupportedFormat)
        );
        assert_eq!(
            verify_password(b"x", "$1$abc$def"),
            Err(HashError::UnsupportedFormat)
        );
        assert!(verify_password(b"x", "$argon2id$garbage").is_err());
        assert!(!is_supported_hash("$1$abc$def"));
        assert!(!is_supported_hash("$2b$short"));
    }

    #[test]
    fn policy() {
        assert_eq!(
            check_policy("alice", "abc123", 8),
            Err(PolicyViolation::TooShort { min: 8 })
        );
        assert_eq!(
            check_policy("alice", "abcdefgh", 8),
            Err(PolicyViolation::NeedsLettersAndDigits)
        );
        assert_eq!(
            check_policy("alice", "12345678", 8),
            Err(PolicyViolation::NeedsLettersAndDigits)
        );
        assert_eq!(
            check_policy("nurse001", "NURSE001", 8),
            Err(PolicyViolation::EqualsAccountId)
        );
        assert_eq!(check_policy("alice", "護理師abc123", 8), Ok(()));
        assert_eq!(check_policy("alice", "Spring2024", 8), Ok(()));
        assert!(
            PolicyViolation::TooShort { min: 8 }
                .message(Language::ZhTw)
                .contains('8')
        );
    }
}
