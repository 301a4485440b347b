//! Argon2id password verification at motpd's default cost (m = 19 MiB, t = 2, p = 1): the dominant cost of a
//! password+otp login, and what the hashing threads (one per core) bound.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use motpd::password::{Verified, hash_password, verify_password};
use motpd::runtime::working_memory::verify_password_reusing;

fn password(c: &mut Criterion) {
    let hash = hash_password(b"Nurse.Chen2024!").expect("hashes");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_eq!(
        verify_password(b"Nurse.Chen2024!", &hash),
        Ok(Verified::Match {
            needs_rehash: false
        })
    );
    c.bench_function("argon2id_verify_default", |b| {
        b.iter(|| verify_password(black_box(b"Nurse.Chen2024!"), black_box(&hash)));
    });
    // As the hashing threads verify: the working memory kept from the previous verify.
    c.bench_function("argon2id_verify_reusing", |b| {
        b.iter(|| verify_password_reusing(black_box(b"Nurse.Chen2024!"), black_box(&hash)));
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = password
}
criterion_main!(benches);
