//! One-time code verification benchmarks, at the default settings of `[otp]`:
//! TOTP (SHA1, 6 digits, 30 s) with a drift window of 1 step, HOTP with a look-ahead of 10, and mOTP with a
//! tolerance of ±180 s (37 steps of 10 s). Every step of a window is always computed (constant time), so
//! where the code matches does not change the cost.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use motpd::otp::{
    Algorithm, TotpParams, Verification, hotp, motp_at, totp_at, verify_hotp, verify_motp,
    verify_totp,
};

/// RFC 6238's SHA1 seed.
const SEED: &[u8] = b"12345678901234567890";
const NOW: u64 = 1_750_000_000;
const MOTP_SECRET: &[u8] = b"0123456789abcdef";
const MOTP_PIN: &[u8] = b"1234";

fn otp(c: &mut Criterion) {
    let params = TotpParams::new(30, 6, Algorithm::Sha1).expect("params");
    let code = totp_at(SEED, NOW, 30, 6, Algorithm::Sha1).expect("code");
    assert!(verify_totp(&params, SEED, &code, NOW, 1, None).is_valid());
    c.bench_function("totp_verify_sha1_window_1", |b| {
        b.iter(|| verify_totp(&params, SEED, black_box(&code), black_box(NOW), 1, None));
    });

    let code = hotp(SEED, 10, 6, Algorithm::Sha1);
    assert_eq!(
        verify_hotp(SEED, &code, 6, Algorithm::Sha1, 0, 10),
        Some(10)
    );
    c.bench_function("hotp_verify_look_ahead_10", |b| {
        b.iter(|| verify_hotp(SEED, black_box(&code), 6, Algorithm::Sha1, black_box(0), 10));
    });

    let code = motp_at(MOTP_SECRET, MOTP_PIN, NOW);
    assert!(matches!(
        verify_motp(MOTP_SECRET, MOTP_PIN, &code, NOW, 180, None),
        Verification::Valid { .. }
    ));
    c.bench_function("motp_verify_180s", |b| {
        b.iter(|| {
            verify_motp(
                MOTP_SECRET,
                MOTP_PIN,
                black_box(&code),
                black_box(NOW),
                180,
                None,
            )
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = otp
}
criterion_main!(benches);
