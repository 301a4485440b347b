//! The engine's whole decision for one Access-Request (`AccessHandler::access`): account lookup, rules,
//! password (Argon2id at the default cost, on two hashing threads), code, the replay guard's compare-and-set,
//! the failure/success update and the audit event — on an SQLite file through the production login path (its
//! writer thread and the cache).
//!
//! A manual clock moves 30 s before each request so that every code is for a new step and the replay guard
//! accepts it; each request is checked to be an Accept. Only `access` is timed (`iter_custom`), not the
//! computing of the code the "phone" shows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use motpd::audit::AuditChain;
use motpd::clock::{Clock, ManualClock};
use motpd::config::{AuthMode, Config};
use motpd::engine::enrollment;
use motpd::engine::{AccessHandler, AccessRequest, AuditSink, Decision, Engine, EngineSettings};
use motpd::import::seeds::ImportedSeed;
use motpd::otp::{Algorithm, Kind, totp_at};
use motpd::runtime::hashing::HashingPool;
use motpd::secrets::{Keyring, MasterKey, SecretBytes};
use motpd::store::{self, AccountStatus, AccountUpsert};
use tokio::runtime::Runtime;

const NOW: i64 = 1_750_000_000;
/// RFC 6238's SHA1 seed.
const SEED: &[u8] = b"12345678901234567890";
const PASSWORD: &str = "Nurse.Chen2024!";
const USER: &str = "nurse.chen";

/// An engine over a fresh SQLite file (the production login path: its writer thread and the cache) holding one
/// active account with a TOTP device. The directory lives as long as the engine is used.
async fn engine_with_account(clock: &ManualClock, dir: &tempfile::TempDir) -> Arc<Engine> {
    let key = Arc::new(Keyring::single(MasterKey::from_bytes([42; 32])));
    let chain = AuditChain::keyring(key.clone());
    let url = format!("sqlite://{}", dir.path().join("motpd.db").display());
    let cache = store::CacheSettings {
        ttl_seconds: 60,
        capacity: 1000,
    };
    let stores = store::open(&url, 2, chain, Arc::new(clock.clone()), cache)
        .await
        .expect("store");
    let store = stores.store.clone();
    let mut config = Config::default();
    config.policy.enforce_after = None;
    config.validate().expect("valid config");
    let account = AccountUpsert {
        id: USER.to_owned(),
        name: "Chen".to_owned(),
        phone: None,
        email: None,
        expires_on: None,
        groups: vec!["vpn".to_owned(), "nurses".to_owned()],
        password_hash: Some(motpd::password::hash_password(PASSWORD.as_bytes()).expect("hash")),
        status: AccountStatus::Active,
    };
    store.create_account(&account, NOW).await.expect("account");
    let seed = ImportedSeed {
        kind: Kind::Totp,
        seed: SecretBytes::new(SEED.to_vec()),
        pin: None,
        digits: 6,
        period: 30,
        algorithm: Algorithm::Sha1,
        next_counter: 0,
    };
    enrollment::bind_imported_device(store.as_ref(), &key, USER, &seed, false, "bench", NOW)
        .await
        .expect("device");
    let (sink, _task) = AuditSink::spawn(store.clone());
    Arc::new(Engine::new(
        &stores,
        key,
        Arc::new(clock.clone()),
        EngineSettings::from_config(&config),
        sink,
        HashingPool::new(2),
    ))
}

/// The request a NetScaler sends 30 s after the previous one: the password (if the mode wants one) followed by
/// the code the phone shows now.
fn next_request(clock: &ManualClock, mode: AuthMode) -> AccessRequest {
    clock.advance(30);
    let now = u64::try_from(clock.now()).expect("positive time");
    let code = totp_at(SEED, now, 30, 6, Algorithm::Sha1).expect("code");
    let password = match mode {
        AuthMode::OtpOnly => code,
        _ => format!("{PASSWORD}{code}"),
    };
    AccessRequest {
        client: "netscaler".into(),
        mode,
        user_name: USER.to_owned(),
        password: Some(SecretBytes::new(password.into_bytes())),
        state: None,
        nas_ip: Some("10.1.2.3".parse().expect("address")),
        nas_identifier: Some("ns-vpn-01".to_owned()),
        calling_station_id: Some("203.0.113.7".to_owned()),
    }
}

async fn accept(engine: &Engine, request: AccessRequest) {
    let decision = engine.access(&request).await.expect("decision");
    assert!(
        matches!(decision, Decision::Accept { .. }),
        "not an Accept: {decision:?}"
    );
}

fn bench_mode(c: &mut Criterion, runtime: &Runtime, name: &str, mode: AuthMode) {
    let clock = ManualClock::new(NOW);
    let dir = tempfile::tempdir().expect("temporary directory");
    let engine = runtime.block_on(engine_with_account(&clock, &dir));
    runtime.block_on(accept(&engine, next_request(&clock, mode)));
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let request = next_request(&clock, mode);
                let started = Instant::now();
                runtime.block_on(accept(&engine, request));
                total += started.elapsed();
            }
            total
        });
    });
    runtime.block_on(engine.flush_audit());
}

fn engine(c: &mut Criterion) {
    // As `motpd serve` does: the store commit and the hashing wait are recorded into the Prometheus recorder.
    motpd::monitoring::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    bench_mode(c, &runtime, "engine_access_otp_only", AuthMode::OtpOnly);
    bench_mode(
        c,
        &runtime,
        "engine_access_password_otp_argon2id",
        AuthMode::PasswordOtp,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = engine
}
criterion_main!(benches);
