//! Seeds (the shared HMAC keys): generation from the operating system's CSPRNG, and their text forms,
//! RFC 4648 base32 without padding, as used in `otpauth://` URIs and typed-in "initial keys".
//!
//! Owns the rules for what counts as an acceptable seed (at least 80 bits, RFC 4226 §4 R6 minimum
//! is 128 and 160 is recommended; 80-bit seeds exist in the wild). Must not log or put seed material
//! in errors. No I/O apart from reading random bytes.

use data_encoding::{BASE32_NOPAD, Encoding};
use zeroize::Zeroizing;

use super::{Algorithm, OtpError};

/// Shortest seed accepted when parsing: 10 bytes (80 bits).
pub const MIN_SEED_BYTES: usize = 10;

/// A fresh random seed of the algorithm's hash size: 20 bytes (SHA1), 32 (SHA256), 64 (SHA512).
///
/// Fails only if the operating system's random number generator fails.
pub fn generate_seed(alg: Algorithm) -> Result<Vec<u8>, OtpError> {
    let mut seed = vec![0_u8; alg.seed_len()];
    getrandom::fill(&mut seed).map_err(OtpError::Random)?;
    Ok(seed)
}

/// Base32 text of a seed: uppercase, no `=` padding (the `secret=` form of `otpauth://` URIs).
pub fn seed_to_base32(seed: &[u8]) -> String {
    BASE32_NOPAD.encode(seed)
}

/// Base32 decoder that, unlike `BASE32_NOPAD`, ignores non-zero bits after the last full byte:
/// several generators emit them and other OTP implementations accept them.
fn lenient_base32() -> Result<Encoding, OtpError> {
    let mut spec = BASE32_NOPAD.specification();
    spec.check_trailing_bits = false;
    spec.encoding().map_err(|_| OtpError::InvalidBase32)
}

/// Parses a typed or pasted base32 seed.
///
/// Tolerates whitespace, dashes, lowercase letters and trailing `=` padding. Refuses empty input
/// ([`OtpError::EmptySeed`]), characters outside the alphabet or impossible lengths
/// ([`OtpError::InvalidBase32`]) and seeds under 80 bits ([`OtpError::SeedTooShort`]).
pub fn parse_base32_seed(text: &str) -> Result<Vec<u8>, OtpError> {
    // Pre-sized so the copy of the secret text never reallocates (which would leave an unzeroized
    // buffer behind); ASCII upper-casing keeps the byte length.
    let mut cleaned = Zeroizing::new(String::with_capacity(text.len()));
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        cleaned.push(c.to_ascii_uppercase());
    }
    let unpadded = cleaned.trim_end_matches('=');
    if unpadded.is_empty() {
        return Err(OtpError::EmptySeed);
    }
    let seed = lenient_base32()?
        .decode(unpadded.as_bytes())
        .map_err(|_| OtpError::InvalidBase32)?;
    if seed.len() < MIN_SEED_BYTES {
        return Err(OtpError::SeedTooShort {
            bits: seed.len().saturating_mul(8),
        });
    }
    Ok(seed)
}

/// Splits text into groups of four characters separated by single spaces, for displaying the
/// "initial key" (`ABCD EFGH IJ`). Works on characters, not bytes.
pub fn group_in_fours(text: &str) -> String {
    let mut out = String::with_capacity(text.len().saturating_add(text.len() / 4));
    for (i, c) in text.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    /// RFC 6238 SHA1 seed "12345678901234567890" in base32.
    const RFC_SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn rfc4648_base32_vectors() {
        // RFC 4648 §10 ("foobar" family) without padding.
        assert_eq!(seed_to_base32(b""), "");
        assert_eq!(seed_to_base32(b"f"), "MY");
        assert_eq!(seed_to_base32(b"fo"), "MZXQ");
        assert_eq!(seed_to_base32(b"foo"), "MZXW6");
        assert_eq!(seed_to_base32(b"foob"), "MZXW6YQ");
        assert_eq!(seed_to_base32(b"fooba"), "MZXW6YTB");
        assert_eq!(seed_to_base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(seed_to_base32(b"12345678901234567890"), RFC_SEED_B32);
    }

    #[test]
    fn parse_is_tolerant() {
        let want = b"12345678901234567890".to_vec();
        for text in [
            RFC_SEED_B32,
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
            "gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq",
            "  GEZDGNBVGY3TQOJQ\tGEZDGNBVGY3TQOJQ\n",
        ] {
            assert_eq!(parse_base32_seed(text).unwrap(), want, "{text:?}");
        }
        // 11 bytes = 18 characters + 6 padding characters.
        let eleven = b"hello world";
        let padded = data_encoding::BASE32.encode(eleven);
        assert!(padded.ends_with("======"));
        assert_eq!(parse_base32_seed(&padded).unwrap(), eleven.to_vec());
        assert_eq!(
            parse_base32_seed(&padded.to_lowercase()).unwrap(),
            eleven.to_vec()
        );
    }

    #[test]
    fn parse_ignores_nonzero_trailing_bits() {
        // 11 bytes = 88 bits in 18 characters (90 bits): the last character has 2 spare bits.
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let text = seed_to_base32(b"hello world");
        let (head, last) = text.split_at(text.len() - 1);
        let value = ALPHABET.find(last).unwrap();
        let tweaked = format!("{head}{}", char::from(ALPHABET.as_bytes()[value ^ 1]));
        assert_ne!(tweaked, text);
        assert!(
            BASE32_NOPAD.decode(tweaked.as_bytes()).is_err(),
            "strict decoder refuses it"
        );
        assert_eq!(
            parse_base32_seed(&tweaked).unwrap(),
            b"hello world".to_vec()
        );
    }

    #[test]
    fn parse_refuses_bad_seeds() {
        assert_eq!(parse_base32_seed(""), Err(OtpError::EmptySeed));
        assert_eq!(parse_base32_seed("  - -  "), Err(OtpError::EmptySeed));
        assert_eq!(parse_base32_seed("===="), Err(OtpError::EmptySeed));
        // 6 bytes.
        assert_eq!(
            parse_base32_seed("MZXW6YTBOI"),
            Err(OtpError::SeedTooShort { bits: 48 })
        );
        // 9 bytes (72 bits) is one byte short; 10 bytes is enough.
        let nine = seed_to_base32(&[7; 9]);
        assert_eq!(
            parse_base32_seed(&nine),
            Err(OtpError::SeedTooShort { bits: 72 })
        );
        assert_eq!(
            parse_base32_seed(&seed_to_base32(&[7; 10])).unwrap(),
            vec![7; 10]
        );
        // Characters outside the alphabet: 0, 1, 8, 9, punctuation, non-ASCII.
        for text in [
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ0",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ8",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ!",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJé",
            "GEZDGNBVGY3TQOJQ=GEZDGNBVGY3TQOJQ",
        ] {
            assert_eq!(
                parse_base32_seed(text),
                Err(OtpError::InvalidBase32),
                "{text:?}"
            );
        }
        // Impossible length (a single trailing character cannot encode a byte).
        assert_eq!(
            parse_base32_seed("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQA"),
            Err(OtpError::InvalidBase32)
        );
    }

    #[test]
    fn errors_do_not_echo_the_seed() {
        let err = parse_base32_seed("MZXW6YTBOI").unwrap_err();
        assert!(!err.to_string().contains("MZXW6YTBOI"));
        let err = parse_base32_seed("SECRETSECRET!").unwrap_err();
        assert!(!format!("{err} {err:?}").contains("SECRET"));
    }

    #[test]
    fn generated_seeds_have_hash_size_and_differ() {
        for (alg, len) in [
            (Algorithm::Sha1, 20),
            (Algorithm::Sha256, 32),
            (Algorithm::Sha512, 64),
        ] {
            let a = generate_seed(alg).unwrap();
            let b = generate_seed(alg).unwrap();
            assert_eq!(a.len(), len);
            assert_ne!(a, b);
            assert_eq!(parse_base32_seed(&seed_to_base32(&a)).unwrap(), a);
        }
    }

    #[test]
    fn grouping() {
        assert_eq!(group_in_fours(""), "");
        assert_eq!(group_in_fours("ABC"), "ABC");
        assert_eq!(group_in_fours("ABCD"), "ABCD");
        assert_eq!(group_in_fours("ABCDEFGHIJ"), "ABCD EFGH IJ");
        assert_eq!(
            group_in_fours(RFC_SEED_B32),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
        assert_eq!(
            parse_base32_seed(&group_in_fours(RFC_SEED_B32)).unwrap(),
            b"12345678901234567890".to_vec()
        );
    }
}
