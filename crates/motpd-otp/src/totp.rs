//! TOTP, RFC 6238: HOTP (RFC 4226) with the counter `floor(unix_seconds / period)`, and verification
//! over a drift window of ± `window` steps with replay classification (RFC 6238 §5.2).
//!
//! Pure: the current time is a parameter and the last accepted step comes from the caller, who must
//! store the step returned in [`Verification::Valid`]. No I/O, no clock reads, no logging.

use super::hotp::hotp;
use super::window::{Verification, scan};
use super::{Algorithm, OtpError, check_digits, codes_equal, is_decimal_code};

/// TOTP settings of one token: period in seconds, number of digits, HMAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TotpParams {
    /// Step length in seconds (RFC 6238 §5.2 recommends 30). Must be at least 1.
    pub period: u64,
    /// Code length, 6 to 8.
    pub digits: u32,
    /// HMAC hash function.
    pub algorithm: Algorithm,
}

impl Default for TotpParams {
    /// 30 seconds, 6 digits, SHA1: what every authenticator app understands.
    fn default() -> Self {
        Self {
            period: 30,
            digits: 6,
            algorithm: Algorithm::Sha1,
        }
    }
}

impl TotpParams {
    /// Validated constructor: `period >= 1`, `digits` in 6..=8.
    pub fn new(period: u64, digits: u32, algorithm: Algorithm) -> Result<Self, OtpError> {
        let params = Self {
            period,
            digits,
            algorithm,
        };
        params.validate()?;
        Ok(params)
    }

    /// Checks `period >= 1` and `digits` in 6..=8.
    pub fn validate(&self) -> Result<(), OtpError> {
        if self.period == 0 {
            return Err(OtpError::InvalidPeriod);
        }
        check_digits(self.digits)
    }

    /// Time step of `unix_secs`: `floor(unix_secs / period)` (a period of 0 is treated as 1).
    pub const fn step_at(&self, unix_secs: u64) -> u64 {
        let period = if self.period == 0 { 1 } else { self.period };
        unix_secs / period
    }

    /// Code for a given step (the HOTP of that step).
    pub fn code_for_step(&self, seed: &[u8], step: u64) -> String {
        hotp(seed, step, self.digits, self.algorithm)
    }
}

/// TOTP code at `unix_secs` (RFC 6238 §4): `hotp(seed, floor(unix_secs / period))`.
///
/// Errors when `period` is 0 or `digits` is outside 6..=8.
pub fn totp_at(
    seed: &[u8],
    unix_secs: u64,
    period: u64,
    digits: u32,
    alg: Algorithm,
) -> Result<String, OtpError> {
    let params = TotpParams::new(period, digits, alg)?;
    Ok(params.code_for_step(seed, params.step_at(unix_secs)))
}

/// Verifies a TOTP `code` at `now_unix` against steps `current - window ..= current + window`.
///
/// - A match on a step newer than `last_step` gives [`Verification::Valid`] with that step (the
///   newest one if several match); the caller must store it as the new `last_step`.
/// - A match only on steps `<= last_step` gives [`Verification::Replayed`].
/// - Anything else, including a malformed code (not exactly `digits` ASCII digits) or invalid
///   `params`, gives [`Verification::Invalid`]. Never panics.
///
/// Every step of the window is computed and compared in constant time.
pub fn verify_totp(
    params: &TotpParams,
    seed: &[u8],
    code: &str,
    now_unix: u64,
    window: u8,
    last_step: Option<u64>,
) -> Verification {
    if params.validate().is_err() || !is_decimal_code(code, params.digits) {
        return Verification::Invalid;
    }
    let current = params.step_at(now_unix);
    let first = current.saturating_sub(u64::from(window));
    let last = current.saturating_add(u64::from(window));
    scan(first, last, last_step, |step| {
        codes_equal(&params.code_for_step(seed, step), code)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    const SEED_SHA1: &[u8] = b"12345678901234567890";
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    /// RFC 6238 Appendix B: (time, SHA1, SHA256, SHA512), 8 digits, period 30.
    const APPENDIX_B: [(u64, &str, &str, &str); 6] = [
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ];

    fn cases() -> impl Iterator<Item = (u64, &'static [u8], Algorithm, &'static str)> {
        APPENDIX_B.into_iter().flat_map(|(t, a, b, c)| {
            [
                (t, SEED_SHA1, Algorithm::Sha1, a),
                (t, SEED_SHA256, Algorithm::Sha256, b),
                (t, SEED_SHA512, Algorithm::Sha512, c),
            ]
        })
    }

    #[test]
    fn rfc6238_appendix_b() {
        assert_eq!(SEED_SHA256.len(), 32);
        assert_eq!(SEED_SHA512.len(), 64);
        for (t, seed, alg, code) in cases() {
            assert_eq!(totp_at(seed, t, 30, 8, alg).unwrap(), code, "t={t} {alg}");
            let params = TotpParams::new(30, 8, alg).unwrap();
            let step = t / 30;
            assert_eq!(
                verify_totp(&params, seed, code, t, 0, None),
                Verification::Valid { step }
            );
        }
    }

    #[test]
    fn rfc6238_appendix_b_agrees_with_totp_rs() {
        for (t, seed, alg, code) in cases() {
            assert_eq!(oracle(seed, t, 30, 8, alg), code, "t={t} {alg}");
        }
    }

    #[test]
    fn totp_at_rejects_bad_params() {
        assert_eq!(
            totp_at(SEED_SHA1, 59, 0, 6, Algorithm::Sha1),
            Err(OtpError::InvalidPeriod)
        );
        assert_eq!(
            totp_at(SEED_SHA1, 59, 30, 5, Algorithm::Sha1),
            Err(OtpError::InvalidDigits(5))
        );
        assert_eq!(
            totp_at(SEED_SHA1, 59, 30, 9, Algorithm::Sha1),
            Err(OtpError::InvalidDigits(9))
        );
        assert!(TotpParams::new(1, 6, Algorithm::Sha1).is_ok());
    }

    const NOW: u64 = 1_700_000_015; // step 56_666_667, 15 s into it
    const SEED: &[u8] = b"hospital-vpn-seed!!!";

    fn code_at(t: u64) -> String {
        totp_at(SEED, t, 30, 6, Algorithm::Sha1).unwrap()
    }

    fn check(code: &str, window: u8, last: Option<u64>) -> Verification {
        verify_totp(&TotpParams::default(), SEED, code, NOW, window, last)
    }

    #[test]
    fn drift_window_edges() {
        let cur = NOW / 30;
        assert_eq!(
            check(&code_at(NOW), 1, None),
            Verification::Valid { step: cur }
        );
        assert_eq!(
            check(&code_at(NOW - 30), 1, None),
            Verification::Valid { step: cur - 1 }
        );
        assert_eq!(
            check(&code_at(NOW + 30), 1, None),
            Verification::Valid { step: cur + 1 }
        );
        assert_eq!(check(&code_at(NOW - 60), 1, None), Verification::Invalid);
        assert_eq!(check(&code_at(NOW + 60), 1, None), Verification::Invalid);
        // Window 0: only the current step.
        assert_eq!(
            check(&code_at(NOW), 0, None),
            Verification::Valid { step: cur }
        );
        assert_eq!(check(&code_at(NOW - 30), 0, None), Verification::Invalid);
        assert_eq!(check(&code_at(NOW + 30), 0, None), Verification::Invalid);
        // Window 2 reaches ±2.
        assert_eq!(
            check(&code_at(NOW - 60), 2, None),
            Verification::Valid { step: cur - 2 }
        );
        assert_eq!(
            check(&code_at(NOW + 60), 2, None),
            Verification::Valid { step: cur + 2 }
        );
        // Step boundaries: last second of the previous step, first of the next.
        let start = cur * 30;
        assert_eq!(check(&code_at(start - 1), 0, None), Verification::Invalid);
        assert_eq!(
            check(&code_at(start + 29), 0, None),
            Verification::Valid { step: cur }
        );
    }

    #[test]
    fn replay_classification() {
        let cur = NOW / 30;
        let code = code_at(NOW);
        assert_eq!(
            check(&code, 1, Some(cur - 1)),
            Verification::Valid { step: cur }
        );
        assert_eq!(
            check(&code, 1, Some(cur)),
            Verification::Replayed { step: cur }
        );
        assert_eq!(
            check(&code, 1, Some(cur + 1)),
            Verification::Replayed { step: cur }
        );
        // The previous step's code after the current step was used.
        assert_eq!(
            check(&code_at(NOW - 30), 1, Some(cur)),
            Verification::Replayed { step: cur - 1 }
        );
        // The next step's code is still fresh after the current one was used.
        assert_eq!(
            check(&code_at(NOW + 30), 1, Some(cur)),
            Verification::Valid { step: cur + 1 }
        );
        // A wrong code stays Invalid whatever last_step is.
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert_eq!(check(wrong, 1, Some(cur)), Verification::Invalid);
    }

    #[test]
    fn malformed_codes_are_invalid() {
        let good = code_at(NOW);
        let bad = [
            String::new(),
            good[..5].to_string(),
            format!("{good}1"),
            format!("{}a", &good[..5]),
            "abcdef".into(),
            format!(" {good}"),
            format!("{good}\n"),
            "１２３４５６".into(),
            "99999999999999999999".into(),
        ];
        for code in &bad {
            assert_eq!(check(code, 1, None), Verification::Invalid, "{code:?}");
        }
        let eight = TotpParams::new(30, 8, Algorithm::Sha1).unwrap();
        assert_eq!(
            verify_totp(&eight, SEED, &good, NOW, 1, None),
            Verification::Invalid
        );
        let broken = TotpParams {
            period: 0,
            ..TotpParams::default()
        };
        assert_eq!(
            verify_totp(&broken, SEED, &good, NOW, 1, None),
            Verification::Invalid
        );
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let p = TotpParams::default();
        let top = p.code_for_step(SEED, u64::MAX / 30);
        assert_eq!(
            verify_totp(&p, SEED, &top, u64::MAX, u8::MAX, None),
            Verification::Valid {
                step: u64::MAX / 30
            }
        );
        let zero = p.code_for_step(SEED, 0);
        assert_eq!(
            verify_totp(&p, SEED, &zero, 0, 1, None),
            Verification::Valid { step: 0 }
        );
    }

    fn oracle(seed: &[u8], t: u64, period: u64, digits: u8, alg: Algorithm) -> String {
        let alg = match alg {
            Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
            Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
            Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
        };
        totp_rs::Builder::new()
            .with_algorithm(alg)
            .with_digits(digits)
            .with_step_duration(period)
            .with_secret(seed.to_vec())
            .build_noncompliant()
            .generate(t)
            .to_string()
    }

    fn any_alg() -> impl Strategy<Value = Algorithm> {
        prop_oneof![
            Just(Algorithm::Sha1),
            Just(Algorithm::Sha256),
            Just(Algorithm::Sha512)
        ]
    }

    proptest! {
        #[test]
        fn code_at_t_verifies_at_t_with_window_0(
            seed in proptest::collection::vec(any::<u8>(), 10..=64),
            t in any::<u64>(),
            period in 1_u64..=300,
            digits in 6_u32..=8,
            alg in any_alg(),
        ) {
            let params = TotpParams::new(period, digits, alg).unwrap();
            let code = totp_at(&seed, t, period, digits, alg).unwrap();
            prop_assert_eq!(code.len(), digits as usize);
            prop_assert_eq!(
                verify_totp(&params, &seed, &code, t, 0, None),
                Verification::Valid { step: t / period }
            );
            prop_assert_eq!(
                verify_totp(&params, &seed, &code, t, 0, Some(t / period)),
                Verification::Replayed { step: t / period }
            );
        }

        #[test]
        fn matches_totp_rs_oracle(
            seed in proptest::collection::vec(any::<u8>(), 10..=64),
            t in 0_u64..=u64::MAX / 2,
            period in 1_u64..=300,
            digits in 6_u8..=8,
            alg in any_alg(),
        ) {
            let ours = totp_at(&seed, t, period, u32::from(digits), alg).unwrap();
            prop_assert_eq!(ours, oracle(&seed, t, period, digits, alg));
        }

        #[test]
        fn arbitrary_input_never_panics(code in ".{0,12}", t in any::<u64>(), w in any::<u8>()) {
            let v = verify_totp(&TotpParams::default(), SEED, &code, t, w, Some(t / 30));
            let replayed_step_accepted = matches!(v, Verification::Valid { step } if step <= t / 30);
            prop_assert!(!replayed_step_accepted);
        }
    }
}
