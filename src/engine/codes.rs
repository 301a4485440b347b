//! Checking a typed code against a bound device: opens the sealed seed, runs the kind's verifier over the
//! drift window, and classifies the result. Pure apart from the unsealing; the replay guard itself (the atomic
//! step update) is the caller's, in the store.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::OtpConfig;
use crate::otp::{self, Kind, TotpParams, Verification};
use crate::secrets::{Aad, Keyring, SecretBytes, SecretError};
use crate::store::Device;

use super::messages::CodeShape;

/// How many counters beyond the look-ahead an HOTP code may be for a resynchronisation offer.
const HOTP_RESYNC_FACTOR: u32 = 10;

/// What a typed code is, for this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeCheck {
    /// Matches a step (TOTP/mOTP) or counter (HOTP) after the last accepted one.
    Valid(i64),
    /// Matches the given step, which was already accepted.
    Replayed(i64),
    /// HOTP: matches a counter too far ahead; the user must confirm with the next code.
    HotpOutOfStep(i64),
    /// Matches nothing.
    Invalid,
}

/// What a device's code looks like, for the texts that ask for one.
pub(crate) fn code_shape(device: &Device) -> CodeShape {
    CodeShape {
        len: code_len(device),
        hex: device.kind == Kind::Motp,
    }
}

/// The code length a device expects (mOTP: 6 hex characters).
pub(crate) fn code_len(device: &Device) -> usize {
    match device.kind {
        Kind::Motp => otp::MOTP_CODE_LEN,
        Kind::Totp | Kind::Hotp => usize::try_from(device.digits).unwrap_or(6),
    }
}

/// Opens the device's seed (and PIN).
pub(crate) fn open_seed(
    key: &Keyring,
    device: &Device,
) -> Result<(SecretBytes, Option<SecretBytes>), SecretError> {
    let seed = key.open(
        &Aad::device_seed(&device.id, &device.account_id),
        &device.sealed_seed,
    )?;
    let pin = match &device.sealed_pin {
        Some(sealed) => Some(key.open(&Aad::device_pin(&device.id, &device.account_id), sealed)?),
        None => None,
    };
    Ok((seed, pin))
}

fn step_of(verification: Verification) -> CodeCheck {
    let step = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
    match verification {
        Verification::Valid { step: s } => CodeCheck::Valid(step(s)),
        Verification::Replayed { step: s } => CodeCheck::Replayed(step(s)),
        Verification::Invalid => CodeCheck::Invalid,
    }
}

/// Checks `code` against the device at `now`.
pub(crate) fn check_code(
    device: &Device,
    seed: &SecretBytes,
    pin: Option<&SecretBytes>,
    code: &str,
    now: i64,
    settings: &OtpConfig,
) -> CodeCheck {
    let now = u64::try_from(now).unwrap_or(0);
    let last = device.last_step.and_then(|s| u64::try_from(s).ok());
    match device.kind {
        Kind::Totp => {
            let Ok(params) =
                TotpParams::new(u64::from(device.period), device.digits, device.algorithm)
            else {
                return CodeCheck::Invalid;
            };
            let window = u8::try_from(settings.window).unwrap_or(u8::MAX);
            step_of(otp::verify_totp(
                &params,
                seed.expose(),
                code,
                now,
                window,
                last,
            ))
        }
        Kind::Motp => {
            let pin = pin.map_or(&[][..], SecretBytes::expose);
            let tolerance = u64::from(settings.motp_tolerance_seconds);
            step_of(otp::verify_motp(
                seed.expose(),
                pin,
                code,
                now,
                tolerance,
                last,
            ))
        }
        Kind::Hotp => check_hotp(device, seed, code, settings.hotp_look_ahead),
    }
}

fn check_hotp(device: &Device, seed: &SecretBytes, code: &str, look_ahead: u32) -> CodeCheck {
    let next = device.last_step.map_or(0, |c| c.saturating_add(1));
    let Ok(next) = u64::try_from(next) else {
        return CodeCheck::Invalid;
    };
    let verify = |from: u64, ahead: u32| {
        otp::verify_hotp(
            seed.expose(),
            code,
            device.digits,
            device.algorithm,
            from,
            ahead,
        )
        .and_then(|c| i64::try_from(c).ok())
    };
    if let Some(counter) = verify(next, look_ahead) {
        return CodeCheck::Valid(counter);
    }
    if let Some(last) = device.last_step
        && let Ok(last_u) = u64::try_from(last)
        && otp::verify_hotp(
            seed.expose(),
            code,
            device.digits,
            device.algorithm,
            last_u,
            0,
        )
        .is_some()
    {
        return CodeCheck::Replayed(last);
    }
    let far = next.saturating_add(u64::from(look_ahead)).saturating_add(1);
    match verify(far, look_ahead.saturating_mul(HOTP_RESYNC_FACTOR)) {
        Some(counter) => CodeCheck::HotpOutOfStep(counter),
        None => CodeCheck::Invalid,
    }
}

/// Whether `code` is exactly the HOTP code for `counter` (the second code of a resynchronisation).
pub(crate) fn hotp_matches(device: &Device, seed: &SecretBytes, code: &str, counter: i64) -> bool {
    u64::try_from(counter).ok().is_some_and(|c| {
        otp::verify_hotp(seed.expose(), code, device.digits, device.algorithm, c, 0).is_some()
    })
}

/// The fingerprint of an accepted use, for `otp.reuse_seconds`: the same code from the same client and
/// Calling-Station-Id for the same step. Keyed, so the stored value reveals nothing about the code.
pub(crate) fn use_fingerprint(
    key: &SecretBytes,
    client: &str,
    calling_station_id: Option<&str>,
    device_id: &str,
    step: i64,
    code: &str,
) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for part in [
        client,
        calling_station_id.unwrap_or("\u{0}"),
        device_id,
        code,
    ] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac.update(&step.to_be_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Constant-time equality of two fingerprints.
pub(crate) fn same_fingerprint(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
