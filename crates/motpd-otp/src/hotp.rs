//! HOTP, RFC 4226: HMAC-SHA1/256/512 of the 8-byte big-endian counter, dynamic truncation (§5.3),
//! decimal code; verification with a look-ahead window and resynchronisation (§7.4).
//!
//! This is the single HMAC-OTP core of motpd: TOTP (RFC 6238) calls it with the time step as the
//! counter. Pure: no I/O, no clock, no state; the caller stores the next counter.

use hmac::{Hmac, KeyInit, Mac};

use super::{Algorithm, check_digits, codes_equal, is_decimal_code};

/// Largest number of digits `hotp` produces; 10^9 still fits the 31-bit truncated value in a `u32`.
const MAX_GENERATED_DIGITS: u32 = 9;

/// RFC 4226 §5.3 dynamic truncation: the low nibble of the last byte is an offset, the 4 bytes there
/// (big-endian) with the top bit cleared are the value.
///
/// Total for any input: the offset is at most 15 and HMAC outputs are at least 20 bytes, so the
/// 4 bytes always exist; `skip`/`take` keeps it panic-free anyway.
pub(crate) fn dynamic_truncation(hmac_result: &[u8]) -> u32 {
    let offset = usize::from(hmac_result.last().copied().unwrap_or(0) & 0x0f);
    let bin = hmac_result
        .iter()
        .skip(offset)
        .take(4)
        .fold(0_u32, |acc, b| (acc << 8) | u32::from(*b));
    bin & 0x7fff_ffff
}

fn truncated_with<M: Mac + KeyInit>(seed: &[u8], counter: u64) -> Option<u32> {
    // HMAC takes keys of any length (RFC 2104 §2), so this never fails in practice.
    let mut mac = <M as KeyInit>::new_from_slice(seed).ok()?;
    mac.update(&counter.to_be_bytes());
    Some(dynamic_truncation(&mac.finalize().into_bytes()))
}

/// The 31-bit truncated value of RFC 4226 §5.3 ("Truncated Decimal" in Appendix D).
pub(crate) fn truncated_value(seed: &[u8], counter: u64, alg: Algorithm) -> Option<u32> {
    match alg {
        Algorithm::Sha1 => truncated_with::<Hmac<sha1::Sha1>>(seed, counter),
        Algorithm::Sha256 => truncated_with::<Hmac<sha2::Sha256>>(seed, counter),
        Algorithm::Sha512 => truncated_with::<Hmac<sha2::Sha512>>(seed, counter),
    }
}

/// HOTP code for `counter`, zero-padded to `digits` characters (RFC 4226 §5.3).
///
/// `digits` should be 6 to 8; to keep this function total, other values are clamped to `1..=9`
/// (the verifiers refuse anything outside 6..=8). If HMAC could not be keyed (it always can), the
/// result is an empty string, which no verifier accepts.
pub fn hotp(seed: &[u8], counter: u64, digits: u32, alg: Algorithm) -> String {
    let digits = digits.clamp(1, MAX_GENERATED_DIGITS);
    let Some(value) = truncated_value(seed, counter, alg) else {
        return String::new();
    };
    let code = 10_u32.checked_pow(digits).map_or(value, |m| value % m);
    let width = usize::try_from(digits).unwrap_or(6);
    format!("{code:0width$}")
}

/// Checks `code` against counters `next_counter ..= next_counter + look_ahead` (RFC 4226 §7.2) and
/// returns the lowest matching counter. The caller then stores `matched + 1` as the next counter.
///
/// Returns `None` for a wrong code, a malformed code (not exactly `digits` ASCII digits) or
/// `digits` outside 6..=8. Every counter in the window is computed and compared in constant time.
/// The cost is `look_ahead + 1` HMACs, so keep the look-ahead small (RFC 4226 suggests a few tens).
pub fn verify_hotp(
    seed: &[u8],
    code: &str,
    digits: u32,
    alg: Algorithm,
    next_counter: u64,
    look_ahead: u32,
) -> Option<u64> {
    if check_digits(digits).is_err() || !is_decimal_code(code, digits) {
        return None;
    }
    let last = next_counter.saturating_add(u64::from(look_ahead));
    let mut matched = None;
    for counter in next_counter..=last {
        let hit = codes_equal(&hotp(seed, counter, digits, alg), code);
        if hit && matched.is_none() {
            matched = Some(counter);
        }
    }
    matched
}

/// Resynchronisation (RFC 4226 §7.4): finds a counter `c` in
/// `next_counter ..= next_counter + resync_window` with `code1` at `c` and `code2` at `c + 1`, and
/// returns `c + 1`, the counter of `code2`. The caller then stores `c + 2` as the next counter.
///
/// Two consecutive codes make a large window safe. Returns `None` when no such pair exists or a code
/// is malformed; the lowest matching pair wins. The cost is `resync_window + 2` HMACs.
pub fn resync_hotp(
    seed: &[u8],
    code1: &str,
    code2: &str,
    digits: u32,
    alg: Algorithm,
    next_counter: u64,
    resync_window: u32,
) -> Option<u64> {
    if check_digits(digits).is_err()
        || !is_decimal_code(code1, digits)
        || !is_decimal_code(code2, digits)
    {
        return None;
    }
    let last = next_counter.saturating_add(u64::from(resync_window));
    let mut previous_hit = codes_equal(&hotp(seed, next_counter, digits, alg), code1);
    let mut matched = None;
    for counter in next_counter..=last {
        let Some(next) = counter.checked_add(1) else {
            break;
        };
        let code_at_next = hotp(seed, next, digits, alg);
        let second_hit = codes_equal(&code_at_next, code2);
        if previous_hit && second_hit && matched.is_none() {
            matched = Some(next);
        }
        previous_hit = codes_equal(&code_at_next, code1);
    }
    matched
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    /// RFC 4226 Appendix D secret: ASCII "12345678901234567890".
    const SEED: &[u8] = b"12345678901234567890";

    /// RFC 4226 Appendix D: (count, truncated decimal, HOTP value).
    const APPENDIX_D: [(u64, u32, &str); 10] = [
        (0, 1_284_755_224, "755224"),
        (1, 1_094_287_082, "287082"),
        (2, 137_359_152, "359152"),
        (3, 1_726_969_429, "969429"),
        (4, 1_640_338_314, "338314"),
        (5, 868_254_676, "254676"),
        (6, 1_918_287_922, "287922"),
        (7, 82_162_583, "162583"),
        (8, 673_399_871, "399871"),
        (9, 645_520_489, "520489"),
    ];

    #[test]
    fn rfc4226_appendix_d() {
        for (count, truncated, code) in APPENDIX_D {
            assert_eq!(
                truncated_value(SEED, count, Algorithm::Sha1),
                Some(truncated)
            );
            assert_eq!(hotp(SEED, count, 6, Algorithm::Sha1), code, "count {count}");
        }
    }

    #[test]
    fn rfc4226_section_5_4_truncation_example() {
        // HMAC-SHA-1 value from §5.4; offset 0xa, value 0x50ef7f19 = 1357872921, 6 digits 872921.
        let hs: [u8; 20] = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19,
            0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a,
        ];
        assert_eq!(dynamic_truncation(&hs), 1_357_872_921);
        assert_eq!(dynamic_truncation(&hs) % 1_000_000, 872_921);
        // Short or empty inputs must not panic.
        assert_eq!(dynamic_truncation(&[]), 0);
        assert_eq!(dynamic_truncation(&[0x0f]), 0);
    }

    #[test]
    fn zero_padding_and_digit_clamping() {
        // Count 7 has truncated value 82162583: 9 digits need a leading zero.
        assert_eq!(hotp(SEED, 7, 9, Algorithm::Sha1), "082162583");
        assert_eq!(hotp(SEED, 7, 8, Algorithm::Sha1), "82162583");
        assert_eq!(hotp(SEED, 2, 9, Algorithm::Sha1), "137359152");
        assert_eq!(hotp(SEED, 2, 10, Algorithm::Sha1), "137359152");
        assert_eq!(hotp(SEED, 2, 0, Algorithm::Sha1), "2");
        assert_eq!(hotp(SEED, 7, u32::MAX, Algorithm::Sha1).len(), 9);
        // 8 digits keep the low 8 decimal digits: count 2 is 137359152 → "37359152".
        assert_eq!(hotp(SEED, 2, 8, Algorithm::Sha1), "37359152");
    }

    #[test]
    fn verify_accepts_within_look_ahead_only() {
        // next_counter 3, look-ahead 2: counters 3, 4, 5.
        assert_eq!(
            verify_hotp(SEED, "969429", 6, Algorithm::Sha1, 3, 2),
            Some(3)
        );
        assert_eq!(
            verify_hotp(SEED, "254676", 6, Algorithm::Sha1, 3, 2),
            Some(5)
        );
        assert_eq!(verify_hotp(SEED, "287922", 6, Algorithm::Sha1, 3, 2), None); // counter 6
        assert_eq!(verify_hotp(SEED, "359152", 6, Algorithm::Sha1, 3, 2), None); // counter 2, used
        // Look-ahead 0: only next_counter.
        assert_eq!(
            verify_hotp(SEED, "969429", 6, Algorithm::Sha1, 3, 0),
            Some(3)
        );
        assert_eq!(verify_hotp(SEED, "338314", 6, Algorithm::Sha1, 3, 0), None);
    }

    #[test]
    fn verify_refuses_bad_input_without_panic() {
        for code in [
            "", "75522", "7552244", "75522a", "abcdef", " 755224", "755224 ", "+55224",
        ] {
            assert_eq!(
                verify_hotp(SEED, code, 6, Algorithm::Sha1, 0, 5),
                None,
                "{code:?}"
            );
        }
        // Digits outside the 6..=8 policy fail closed even for the "right" code.
        assert_eq!(verify_hotp(SEED, "224", 3, Algorithm::Sha1, 0, 0), None);
        assert_eq!(verify_hotp(SEED, "", 0, Algorithm::Sha1, 0, 0), None);
        // Counter at the very end of the range does not overflow.
        let last = hotp(SEED, u64::MAX, 6, Algorithm::Sha1);
        assert_eq!(
            verify_hotp(SEED, &last, 6, Algorithm::Sha1, u64::MAX, 10),
            Some(u64::MAX)
        );
    }

    #[test]
    fn resync_needs_two_consecutive_codes() {
        let c = |n| hotp(SEED, n, 6, Algorithm::Sha1);
        assert_eq!(
            resync_hotp(SEED, &c(50), &c(51), 6, Algorithm::Sha1, 0, 100),
            Some(51)
        );
        // Window edge: c = 50 needs a window of at least 50 from counter 0.
        assert_eq!(
            resync_hotp(SEED, &c(50), &c(51), 6, Algorithm::Sha1, 0, 50),
            Some(51)
        );
        assert_eq!(
            resync_hotp(SEED, &c(50), &c(51), 6, Algorithm::Sha1, 0, 49),
            None
        );
        // Starting right at the pair.
        assert_eq!(
            resync_hotp(SEED, &c(50), &c(51), 6, Algorithm::Sha1, 50, 0),
            Some(51)
        );
        // Already-used counters are outside the window.
        assert_eq!(
            resync_hotp(SEED, &c(50), &c(51), 6, Algorithm::Sha1, 51, 100),
            None
        );
        // Not consecutive, or in the wrong order.
        assert_eq!(
            resync_hotp(SEED, &c(50), &c(52), 6, Algorithm::Sha1, 0, 100),
            None
        );
        assert_eq!(
            resync_hotp(SEED, &c(51), &c(50), 6, Algorithm::Sha1, 0, 100),
            None
        );
        // Malformed input.
        assert_eq!(
            resync_hotp(SEED, "", &c(1), 6, Algorithm::Sha1, 0, 10),
            None
        );
        assert_eq!(
            resync_hotp(SEED, &c(0), "x", 6, Algorithm::Sha1, 0, 10),
            None
        );
        // No overflow at the top of the counter range.
        assert_eq!(
            resync_hotp(
                SEED,
                &c(u64::MAX),
                "000000",
                6,
                Algorithm::Sha1,
                u64::MAX,
                5
            ),
            None
        );
    }

    #[test]
    fn algorithms_differ() {
        let a = hotp(SEED, 1, 8, Algorithm::Sha1);
        let b = hotp(SEED, 1, 8, Algorithm::Sha256);
        let c = hotp(SEED, 1, 8, Algorithm::Sha512);
        assert!(a != b && b != c && a != c);
    }
}
