//! Classic Mobile-OTP (motp.sourceforge.net): the code is the first 6 lowercase hex characters of
//! `md5(ASCII(floor(unix / 10)) ++ secret ++ pin)`, where `secret` is the init-secret exactly as typed
//! on the device (usually 16 hex characters) and `pin` the user's PIN (usually 4 digits).
//!
//! This is legacy cryptography (MD5, a 24-bit code, a low-entropy PIN), kept only for tokens that
//! already exist. Pure: no I/O, no clock, no state; the caller stores the last accepted step.

use md5::{Digest, Md5};

use super::codes_equal;
use super::window::{Verification, scan};

/// Length of one mOTP step in seconds.
pub const MOTP_STEP_SECS: u64 = 10;
/// Number of hex characters in an mOTP code.
pub const MOTP_CODE_LEN: usize = 6;
/// Default clock tolerance: ± 3 minutes, as in the reference `otpverify.sh`.
pub const DEFAULT_MOTP_TOLERANCE_SECS: u64 = 180;
/// Upper bound applied to the tolerance (1 hour = 721 MD5s per check) to keep verification cheap.
pub const MAX_MOTP_TOLERANCE_SECS: u64 = 3600;

/// mOTP code of a step (`step = floor(unix / 10)`).
fn code_for_step(secret: &[u8], pin: &[u8], step: u64) -> String {
    let mut md5 = Md5::new();
    md5.update(step.to_string().as_bytes());
    md5.update(secret);
    md5.update(pin);
    let digest = md5.finalize();
    digest
        .iter()
        .take(MOTP_CODE_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// mOTP code at `unix_secs`: 6 lowercase hex characters.
pub fn motp_at(secret: &[u8], pin: &[u8], unix_secs: u64) -> String {
    code_for_step(secret, pin, unix_secs / MOTP_STEP_SECS)
}

/// Verifies an mOTP `code` at `now_unix`, accepting codes generated at any instant within
/// `± tolerance_secs` (clamped to [`MAX_MOTP_TOLERANCE_SECS`]), i.e. the steps
/// `floor((now - tol) / 10) ..= floor((now + tol) / 10)`.
///
/// The code is matched ignoring ASCII case. Replay handling is as for TOTP: a match only on steps
/// `<= last_step` is [`Verification::Replayed`]; on success the caller stores the returned step.
/// Malformed codes (not exactly 6 hex characters) are [`Verification::Invalid`]; never panics.
pub fn verify_motp(
    secret: &[u8],
    pin: &[u8],
    code: &str,
    now_unix: u64,
    tolerance_secs: u64,
    last_step: Option<u64>,
) -> Verification {
    if code.len() != MOTP_CODE_LEN || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Verification::Invalid;
    }
    let code = code.to_ascii_lowercase();
    let tolerance = tolerance_secs.min(MAX_MOTP_TOLERANCE_SECS);
    let first = now_unix.saturating_sub(tolerance) / MOTP_STEP_SECS;
    let last = now_unix.saturating_add(tolerance) / MOTP_STEP_SECS;
    scan(first, last, last_step, |step| {
        codes_equal(&code_for_step(secret, pin, step), &code)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    /// Known answers from the Aegis authenticator's unit tests (github.com/beemdevelopment/Aegis,
    /// app/src/test/java/com/beemdevelopment/aegis/crypto/otp/MOTPTest.java): (unix time, code, PIN,
    /// secret). Each was also checked by hand with `printf '%s' "$step$secret$pin" | md5sum | cut -c1-6`.
    const AEGIS_VECTORS: [(u64, &str, &str, &str); 6] = [
        (165_892_298, "e7d8b6", "1234", "e3152afee62599c8"),
        (123_456_789, "4ebfb2", "1234", "e3152afee62599c8"),
        (1_659_540_020, "ced7b1", "9999", "bbb1912bb5c515be"),
        (1_659_540_022, "ced7b1", "9999", "bbb1912bb5c515be"),
        (1_659_539_870, "1a14f8", "9999", "bbb1912bb5c515be"),
        (1_659_539_878, "1a14f8", "9999", "bbb1912bb5c515be"), // rounds down
    ];

    #[test]
    fn known_answer_vectors() {
        for (t, code, pin, secret) in AEGIS_VECTORS {
            assert_eq!(motp_at(secret.as_bytes(), pin.as_bytes(), t), code, "t={t}");
        }
    }

    #[test]
    fn string_building_matches_plain_md5_of_concatenation() {
        // md5("16589229" ++ "e3152afee62599c8" ++ "1234") computed over one literal string.
        let digest = Md5::digest(b"16589229e3152afee62599c81234");
        assert_eq!(
            format!("{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2]),
            "e7d8b6"
        );
        assert_eq!(motp_at(b"e3152afee62599c8", b"1234", 165_892_290), "e7d8b6");
    }

    const SECRET: &[u8] = b"e3152afee62599c8";
    const PIN: &[u8] = b"1234";
    const NOW: u64 = 1_700_000_004;

    fn check(code: &str, last: Option<u64>) -> Verification {
        verify_motp(SECRET, PIN, code, NOW, DEFAULT_MOTP_TOLERANCE_SECS, last)
    }

    #[test]
    fn tolerance_edges() {
        for offset in [0_i64, 170, -170, 180, -180] {
            let t = NOW.checked_add_signed(offset).unwrap();
            let code = motp_at(SECRET, PIN, t);
            assert_eq!(
                check(&code, None),
                Verification::Valid { step: t / 10 },
                "{offset}"
            );
        }
        for offset in [190_i64, -190, 600, -600] {
            let t = NOW.checked_add_signed(offset).unwrap();
            assert_eq!(
                check(&motp_at(SECRET, PIN, t), None),
                Verification::Invalid,
                "{offset}"
            );
        }
        // Tolerance 0: only the current step.
        let code = motp_at(SECRET, PIN, NOW - 10);
        assert_eq!(
            verify_motp(SECRET, PIN, &code, NOW, 0, None),
            Verification::Invalid
        );
    }

    #[test]
    fn case_insensitive_and_replay() {
        let code = motp_at(SECRET, PIN, NOW);
        let step = NOW / 10;
        assert_eq!(
            check(&code.to_ascii_uppercase(), None),
            Verification::Valid { step }
        );
        assert_eq!(check(&code, Some(step)), Verification::Replayed { step });
        assert_eq!(check(&code, Some(step - 1)), Verification::Valid { step });
    }

    #[test]
    fn wrong_pin_or_secret_is_invalid() {
        let code = motp_at(SECRET, PIN, NOW);
        assert_eq!(
            verify_motp(SECRET, b"1235", &code, NOW, 180, None),
            Verification::Invalid
        );
        assert_eq!(
            verify_motp(b"e3152afee62599c9", PIN, &code, NOW, 180, None),
            Verification::Invalid
        );
    }

    #[test]
    fn malformed_codes_are_invalid() {
        let code = motp_at(SECRET, PIN, NOW);
        for bad in [
            "",
            "e7d8b",
            "e7d8b6a",
            "e7d8bg",
            "e7d8b ",
            "１２３",
            "+7d8b6",
        ] {
            assert_eq!(check(bad, None), Verification::Invalid, "{bad:?}");
        }
        assert_eq!(check(&format!("{code} "), None), Verification::Invalid);
        // Huge tolerance is clamped, and extreme clocks do not overflow.
        let top = motp_at(SECRET, PIN, u64::MAX);
        assert!(verify_motp(SECRET, PIN, &top, u64::MAX, u64::MAX, None).is_valid());
        let zero = motp_at(SECRET, PIN, 0);
        assert!(verify_motp(SECRET, PIN, &zero, 0, 180, None).is_valid());
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(code in ".{0,8}", t in any::<u64>(), tol in any::<u64>()) {
            let _ = verify_motp(SECRET, PIN, &code, t, tol, None);
        }

        #[test]
        fn code_at_t_verifies_at_t(secret in "[0-9a-f]{16}", pin in "[0-9]{4}", t in any::<u64>()) {
            let code = motp_at(secret.as_bytes(), pin.as_bytes(), t);
            prop_assert_eq!(code.len(), MOTP_CODE_LEN);
            prop_assert_eq!(
                verify_motp(secret.as_bytes(), pin.as_bytes(), &code, t, 0, None),
                Verification::Valid { step: t / 10 }
            );
        }
    }
}
