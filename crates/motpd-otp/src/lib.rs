//! One-time passwords: HOTP (RFC 4226), TOTP (RFC 6238), classic Mobile-OTP (motp.sourceforge.net),
//! `otpauth://` URIs (Google Authenticator Key Uri Format) and seeds with their base32 text forms.
//!
//! Owns: the OTP math, verification of a typed code against a window of steps or counters (with the
//! replay classification the engine needs), building and parsing `otpauth://` URIs, generating seeds.
//!
//! Must not: do I/O, read the clock (time is always a parameter), log, or keep state. The caller
//! persists the last accepted step (TOTP, mOTP) or the next counter (HOTP) and passes it back in.
//! Codes are compared in constant time (`subtle`); secrets never appear in errors or `Debug` output.
//!
//! HOTP is computed here with `hmac` + `sha1`/`sha2` (one RFC 4226 core); TOTP is that core applied
//! to `floor(unix / period)`, so the verifier can inspect every step of the drift window and classify
//! replays. `totp-rs` serves as an independent oracle in the tests (codes and `otpauth://` interop).
//!
//! A crate of its own so that its dependency list, not a grep, keeps it free of runtime and database
//! code; motpd re-exports it as `motpd::otp`.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod hotp;
mod motp;
mod seed;
mod totp;
mod uri;
mod window;

use std::fmt;
use std::str::FromStr;

pub use hotp::{hotp, resync_hotp, verify_hotp};
pub use motp::{
    DEFAULT_MOTP_TOLERANCE_SECS, MAX_MOTP_TOLERANCE_SECS, MOTP_CODE_LEN, MOTP_STEP_SECS, motp_at,
    verify_motp,
};
pub use seed::{MIN_SEED_BYTES, generate_seed, group_in_fours, parse_base32_seed, seed_to_base32};
pub use totp::{TotpParams, totp_at, verify_totp};
pub use uri::{UriParams, otpauth_uri, parse_otpauth_uri};
pub use window::Verification;

/// Smallest number of digits a verifier accepts (RFC 4226 §5.3: "at least 6").
pub const MIN_DIGITS: u32 = 6;
/// Largest number of digits a verifier accepts (the RFC 4226/6238 reference code goes up to 8).
pub const MAX_DIGITS: u32 = 8;

/// Everything that can go wrong in this crate. No variant carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtpError {
    /// A token kind name other than `totp`, `hotp`, `motp`.
    #[error("unknown OTP kind {0:?} (expected totp, hotp or motp)")]
    UnknownKind(String),
    /// An algorithm name other than `sha1`, `sha256`, `sha512`.
    #[error("unknown OTP algorithm {0:?} (expected sha1, sha256 or sha512)")]
    UnknownAlgorithm(String),
    /// Digits outside `MIN_DIGITS..=MAX_DIGITS`.
    #[error("number of digits must be 6 to 8, got {0}")]
    InvalidDigits(u32),
    /// A TOTP period of 0 seconds.
    #[error("TOTP period must be at least 1 second")]
    InvalidPeriod,
    /// The seed text was empty (after removing spaces, dashes and padding).
    #[error("seed is empty")]
    EmptySeed,
    /// The seed text holds characters outside the base32 alphabet or has an impossible length.
    #[error("seed is not valid base32 (letters A-Z and digits 2-7)")]
    InvalidBase32,
    /// The decoded seed is shorter than `MIN_SEED_BYTES`.
    #[error("seed is too short: {bits} bits, at least 80 bits are required")]
    SeedTooShort {
        /// Length of the decoded seed in bits.
        bits: usize,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(getrandom::Error),
    /// Classic mOTP has no standard `otpauth://` form.
    #[error("mOTP tokens have no otpauth:// URI form")]
    MotpHasNoUri,
    /// Issuer or account name contain `:` (the Key Uri Format forbids it) or the account is blank.
    #[error("issuer and account name must not contain ':' and the account name must not be blank")]
    InvalidLabel,
    /// The issuer prefix of the label and the `issuer` parameter differ.
    #[error("issuer in the label ({label:?}) differs from the issuer parameter ({param:?})")]
    IssuerMismatch {
        /// Issuer from the `Issuer:account` label.
        label: String,
        /// Issuer from the `issuer=` query parameter.
        param: String,
    },
    /// Any other malformed `otpauth://` URI; the text names the rule that was broken.
    #[error("invalid otpauth URI: {0}")]
    InvalidUri(&'static str),
}

/// Token family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Time-based, RFC 6238.
    Totp,
    /// Counter-based, RFC 4226.
    Hotp,
    /// Classic Mobile-OTP: MD5 of epoch/10, secret and PIN.
    Motp,
}

impl Kind {
    /// Lowercase name: `totp`, `hotp`, `motp`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Hotp => "hotp",
            Self::Motp => "motp",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = OtpError;

    /// Accepts the lowercase names, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Totp, Self::Hotp, Self::Motp]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| OtpError::UnknownKind(s.to_owned()))
    }
}

/// HMAC hash function for HOTP/TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC-SHA1, the default and the only one every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl Algorithm {
    /// Lowercase name: `sha1`, `sha256`, `sha512` (config and storage form).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Uppercase name used in `otpauth://` URIs: `SHA1`, `SHA256`, `SHA512`.
    pub const fn uri_name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// Seed length generated for this algorithm: the hash output size (RFC 6238 Appendix B uses
    /// 20, 32 and 64 byte seeds).
    pub const fn seed_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = OtpError;

    /// Accepts `sha1`, `sha256`, `sha512`, ignoring ASCII case (so `SHA1` from a URI works too).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Sha1, Self::Sha256, Self::Sha512]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| OtpError::UnknownAlgorithm(s.to_owned()))
    }
}

/// `Ok` when `digits` is in `MIN_DIGITS..=MAX_DIGITS`.
pub(crate) fn check_digits(digits: u32) -> Result<(), OtpError> {
    if (MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
        Ok(())
    } else {
        Err(OtpError::InvalidDigits(digits))
    }
}

/// True when `code` is exactly `digits` ASCII decimal digits (no sign, no spaces).
pub(crate) fn is_decimal_code(code: &str, digits: u32) -> bool {
    usize::try_from(digits).is_ok_and(|n| code.len() == n)
        && code.bytes().all(|b| b.is_ascii_digit())
}

/// Constant-time equality of two codes (the lengths are public).
pub(crate) fn codes_equal(expected: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for k in [Kind::Totp, Kind::Hotp, Kind::Motp] {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!("TOTP".parse::<Kind>().unwrap(), Kind::Totp);
        assert_eq!("hotp".parse::<Kind>().unwrap(), Kind::Hotp);
        assert_eq!("motp".parse::<Kind>().unwrap(), Kind::Motp);
        assert!(matches!("sms".parse::<Kind>(), Err(OtpError::UnknownKind(s)) if s == "sms"));
        assert!("".parse::<Kind>().is_err());
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            assert_eq!(a.as_str().parse::<Algorithm>().unwrap(), a);
            assert_eq!(a.uri_name().parse::<Algorithm>().unwrap(), a);
        }
        assert_eq!(Algorithm::Sha256.as_str(), "sha256");
        assert_eq!(Algorithm::Sha512.uri_name(), "SHA512");
        assert_eq!(Algorithm::default(), Algorithm::Sha1);
        assert!("md5".parse::<Algorithm>().is_err());
        assert!("sha-1".parse::<Algorithm>().is_err());
    }

    #[test]
    fn decimal_code_shape() {
        assert!(is_decimal_code("012345", 6));
        assert!(!is_decimal_code("12345", 6));
        assert!(!is_decimal_code("1234567", 6));
        assert!(!is_decimal_code("12345a", 6));
        assert!(!is_decimal_code("+12345", 6));
        assert!(!is_decimal_code(" 12345", 6));
        assert!(!is_decimal_code("", 6));
        // Full-width digits are not ASCII digits.
        assert!(!is_decimal_code("１２", 6));
    }

    #[test]
    fn digits_policy() {
        assert!(check_digits(6).is_ok());
        assert!(check_digits(8).is_ok());
        assert_eq!(check_digits(5), Err(OtpError::InvalidDigits(5)));
        assert_eq!(check_digits(9), Err(OtpError::InvalidDigits(9)));
    }
}
