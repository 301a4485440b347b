//! A fixed number of accepted otp-only logins through the engine on an SQLite file (the production login path:
//! its writer thread, the cache and the audit chain), for counting instructions per login with callgrind:
//!
//! ```text
//! cargo build --release --example login_cost
//! valgrind --tool=callgrind target/release/examples/login_cost 100
//! valgrind --tool=callgrind target/release/examples/login_cost 600
//! ```
//!
//! The difference of the two totals divided by 500 is the cost of one accepted login without the setup. Each
//! login is checked to be an Accept; the manual clock moves 30 s before each so every code is for a new step.

use std::sync::Arc;

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

const NOW: i64 = 1_750_000_000;
/// RFC 6238's SHA1 seed.
const SEED: &[u8] = b"12345678901234567890";
const USER: &str = "nurse.chen";

async fn engine(clock: &ManualClock, dir: &tempfile::TempDir) -> Result<Arc<Engine>, String> {
    let key = Arc::new(Keyring::single(MasterKey::from_bytes([42; 32])));
    let chain = AuditChain::keyring(key.clone());
    let url = format!("sqlite://{}", dir.path().join("motpd.db").display());
    let cache = store::CacheSettings {
        ttl_seconds: 60,
        capacity: 1000,
    };
    let stores = store::open(&url, 2, chain, Arc::new(clock.clone()), cache)
        .await
        .map_err(|e| e.to_string())?;
    let store = stores.store.clone();
    let mut config = Config::default();
    config.policy.enforce_after = None;
    config.validate().map_err(|e| e.to_string())?;
    let account = AccountUpsert {
        id: USER.to_owned(),
        name: "Chen".to_owned(),
        phone: None,
        email: None,
        expires_on: None,
        groups: vec!["vpn".to_owned()],
        password_hash: None,
        status: AccountStatus::Active,
    };
    store
        .create_account(&account, NOW)
        .await
        .map_err(|e| e.to_string())?;
    let seed = ImportedSeed {
        kind: Kind::Totp,
        seed: SecretBytes::new(SEED.to_vec()),
        pin: None,
        digits: 6,
        period: 30,
        algorithm: Algorithm::Sha1,
        next_counter: 0,
    };
    enrollment::bind_imported_device(store.as_ref(), &key, USER, &seed, false, "example", NOW)
        .await
        .map_err(|e| e.to_string())?;
    let (sink, _task) = AuditSink::spawn(store.clone());
    Ok(Arc::new(Engine::new(
        &stores,
        key,
        Arc::new(clock.clone()),
        EngineSettings::from_config(&config),
        sink,
        HashingPool::new(1),
    )))
}

fn request(clock: &ManualClock) -> Result<AccessRequest, String> {
    clock.advance(30);
    let now = u64::try_from(clock.now()).map_err(|e| e.to_string())?;
    let code = totp_at(SEED, now, 30, 6, Algorithm::Sha1).map_err(|e| e.to_string())?;
    Ok(AccessRequest {
        client: "netscaler".into(),
        mode: AuthMode::OtpOnly,
        user_name: USER.to_owned(),
        password: Some(SecretBytes::new(code.into_bytes())),
        state: None,
        nas_ip: Some(std::net::Ipv4Addr::new(10, 1, 2, 3).into()),
        nas_identifier: Some("ns-vpn-01".to_owned()),
        calling_station_id: Some("203.0.113.7".to_owned()),
    })
}

fn main() -> Result<(), String> {
    let logins: u32 = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|_| format!("not a count: {n}"))?,
        None => 100,
    };
    motpd::monitoring::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let clock = ManualClock::new(NOW);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let engine = engine(&clock, &dir).await?;
        for _ in 0..logins {
            let decision = engine
                .access(&request(&clock)?)
                .await
                .map_err(|e| e.to_string())?;
            if !matches!(decision, Decision::Accept { .. }) {
                return Err(format!("not an Accept: {decision:?}"));
            }
        }
        engine.flush_audit().await;
        Ok(())
    })?;
    println!("{logins} logins accepted");
    Ok(())
}
