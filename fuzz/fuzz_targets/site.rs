// Shared by the targets that drive a whole motpd (included with `include!`, not a target itself): one SQLite
// database per process, its key, accounts and a TOTP device with RFC 6238's seed.

/// The store of a fuzzing process: a database in a temporary directory named after `target` and the process
/// (a few hundred KiB, left behind), sealed with a fixed key.
async fn open_site(
    target: &str,
    clock: &motpd::clock::ManualClock,
) -> (motpd::store::Stores, std::sync::Arc<motpd::secrets::Keyring>) {
    use motpd::secrets::{Keyring, MasterKey};
    let dir = std::env::temp_dir().join(format!("motpd-fuzz-{target}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let key = std::sync::Arc::new(Keyring::single(MasterKey::from_bytes([42; 32])));
    let chain = motpd::audit::AuditChain::keyring(key.clone());
    let url = format!("sqlite://{}", dir.join("motpd.db").display());
    let cache = motpd::store::CacheSettings {
        ttl_seconds: 60,
        capacity: 1000,
    };
    let stores = motpd::store::open(&url, 2, chain, std::sync::Arc::new(clock.clone()), cache)
        .await
        .expect("store");
    (stores, key)
}

/// Creates account `id` in `status` with `password` (none: never activated), in `groups`.
async fn add_account(
    store: &dyn motpd::store::Store,
    id: &str,
    status: motpd::store::AccountStatus,
    password: Option<String>,
    phone: Option<&str>,
    groups: &[&str],
) {
    let account = motpd::store::AccountUpsert {
        id: id.to_owned(),
        name: id.to_owned(),
        phone: phone.map(str::to_owned),
        email: None,
        expires_on: None,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        password_hash: password,
        status,
    };
    store.create_account(&account, NOW).await.expect("account");
}

/// Binds a TOTP device with [`SEED`] (6 digits, 30 s, SHA1) to account `id`.
async fn bind_seed(store: &dyn motpd::store::Store, key: &motpd::secrets::Keyring, id: &str) {
    use motpd::otp::{Algorithm, Kind};
    let seed = motpd::import::seeds::ImportedSeed {
        kind: Kind::Totp,
        seed: motpd::secrets::SecretBytes::new(SEED.to_vec()),
        pin: None,
        digits: 6,
        period: 30,
        algorithm: Algorithm::Sha1,
        next_counter: 0,
    };
    motpd::engine::enrollment::bind_imported_device(store, key, id, &seed, false, "fuzz", NOW)
        .await
        .expect("device");
}
