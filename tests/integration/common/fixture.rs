//! A complete engine over a SQLite file opened as a serving node opens it ([`store::open`]: the login path behind
//! the cache), with a manual clock: accounts with real Argon2id passwords, devices with known seeds, and helpers
//! to compute the codes an authenticator app would show.

use std::sync::Arc;

use motpd::clock::ManualClock;
use motpd::config::{AuthMode, Config, SmsProvider};
use motpd::engine::enrollment;
use motpd::engine::sms::SmsService;
use motpd::engine::{AccessHandler, AccessRequest, AuditSink, Decision, Engine, EngineSettings};
use motpd::import::seeds::ImportedSeed;
use motpd::notify::sms::sender_from_config;
use motpd::otp::{self, Algorithm, Kind};
use motpd::runtime::hashing::HashingPool;
use motpd::secrets::{Keyring, MasterKey, SecretBytes};
use motpd::store::{self, AccountStatus, AccountUpsert, Store, Stores};

use super::{CACHE, NOW};

/// The seed every TOTP test device uses (RFC 6238's SHA1 seed).
pub(crate) const SEED: &[u8] = b"12345678901234567890";
/// The client name the fixture's requests come from.
pub(crate) const CLIENT: &str = "netscaler";

/// Engine, store, key and clock.
pub(crate) struct EngineFixture {
    /// The roles and the login path the engine runs on.
    pub(crate) stores: Stores,
    /// Every role (`stores.store`).
    pub(crate) store: Arc<dyn Store>,
    pub(crate) key: Arc<Keyring>,
    pub(crate) clock: ManualClock,
    pub(crate) engine: Arc<Engine>,
    pub(crate) config: Config,
    /// The SMS service, when `sms.provider` is not `none`.
    pub(crate) sms: Option<Arc<SmsService>>,
    /// The directory of the fixture's own database file.
    _dir: Option<tempfile::TempDir>,
}

impl EngineFixture {
    /// A fixture with the default configuration changed by `adjust`, on a database file of its own.
    pub(crate) async fn new(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = super::sqlite_url(&dir);
        let mut fixture = Self::open(&url, adjust).await;
        fixture._dir = Some(dir);
        fixture
    }

    /// A fixture (a "node") on the database at `url`, opened with [`test_key`]'s audit chain; its login cache
    /// ages by the fixture's clock.
    pub(crate) async fn open(url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let chain = motpd::audit::AuditChain::new(test_key().audit_chain_key());
        let clock = ManualClock::new(NOW);
        let stores = store::open(url, 4, chain, Arc::new(clock.clone()), CACHE)
            .await
            .unwrap();
        Self::with_stores(stores, clock, adjust).await
    }

    /// A fixture over opened stores whose engine runs on `clock`.
    pub(crate) async fn with_stores(
        stores: Stores,
        clock: ManualClock,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let key = Arc::new(Keyring::single(test_key()));
        Self::with_stores_and_key(stores, clock, key, adjust).await
    }

    /// A fixture over opened stores with its own keyring (key rotation).
    pub(crate) async fn with_stores_and_key(
        stores: Stores,
        clock: ManualClock,
        key: Arc<Keyring>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::default();
        config.policy.enforce_after = None;
        adjust(&mut config);
        config.validate().unwrap();
        let store = stores.store.clone();
        let (sink, _task) = AuditSink::spawn(store.clone());
        let sms = (config.sms.provider != SmsProvider::None).then(|| {
            Arc::new(SmsService::new(
                store.clone(),
                key.clone(),
                sender_from_config(&config.sms).unwrap(),
                config.sms.clone(),
                sink.clone(),
            ))
        });
        let mut engine = Engine::new(
            &stores,
            key.clone(),
            Arc::new(clock.clone()),
            EngineSettings::from_config(&config),
            sink,
            HashingPool::new(2),
        );
        if let Some(sms) = &sms {
            engine = engine.with_sms(sms.clone());
        }
        Self {
            stores,
            store,
            key,
            clock,
            engine: Arc::new(engine),
            config,
            sms,
            _dir: None,
        }
    }

    /// Creates an active account with `password` (Argon2id) and groups vpn, nurses.
    pub(crate) async fn account(&self, id: &str, password: &str) {
        let hash = motpd::password::hash_password(password.as_bytes()).unwrap();
        self.account_with_hash(id, Some(hash), AccountStatus::Active)
            .await;
    }

    /// Creates an account with a given hash and status.
    pub(crate) async fn account_with_hash(
        &self,
        id: &str,
        hash: Option<String>,
        status: AccountStatus,
    ) {
        let account = AccountUpsert {
            id: id.to_owned(),
            name: format!("{id} Example"),
            phone: Some("0912345678".to_owned()),
            email: Some(format!("{id}@example.org")),
            expires_on: None,
            groups: vec!["vpn".to_owned(), "nurses".to_owned()],
            password_hash: hash,
            status,
        };
        self.store.create_account(&account, NOW).await.unwrap();
    }

    /// Binds a device of `kind` with the fixture's seed (mOTP: a hex secret and PIN 1234).
    pub(crate) async fn device(&self, id: &str, kind: Kind) {
        let (seed, pin, period) = match kind {
            Kind::Motp => (
                b"0123456789abcdef".to_vec(),
                Some(SecretBytes::new(b"1234".to_vec())),
                10,
            ),
            _ => (SEED.to_vec(), None, 30),
        };
        let imported = ImportedSeed {
            kind,
            seed: SecretBytes::new(seed),
            pin,
            digits: 6,
            period,
            algorithm: Algorithm::Sha1,
            next_counter: 0,
        };
        enrollment::bind_imported_device(
            self.store.as_ref(),
            &self.key,
            id,
            &imported,
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
    }

    /// The TOTP code at `t`.
    pub(crate) fn totp(&self, t: i64) -> String {
        otp::totp_at(SEED, u64::try_from(t).unwrap(), 30, 6, Algorithm::Sha1).unwrap()
    }

    /// The TOTP code now.
    pub(crate) fn code_now(&self) -> String {
        self.totp(motpd::clock::Clock::now(&self.clock))
    }

    /// Sends a request and returns the decision.
    pub(crate) async fn ask(&self, user: &str, password: &[u8], mode: AuthMode) -> Decision {
        self.ask_with(request(user, password, mode)).await
    }

    /// Sends a prepared request.
    pub(crate) async fn ask_with(&self, request: AccessRequest) -> Decision {
        self.engine.access(&request).await.unwrap()
    }
}

/// The master key of every fixture.
pub(crate) fn test_key() -> MasterKey {
    MasterKey::from_bytes([42; 32])
}

/// A request from the fixture's client.
pub(crate) fn request(user: &str, password: &[u8], mode: AuthMode) -> AccessRequest {
    AccessRequest {
        client: CLIENT.into(),
        mode,
        user_name: user.to_owned(),
        password: Some(SecretBytes::new(password.to_vec())),
        state: None,
        nas_ip: Some("10.0.0.10".parse().unwrap()),
        nas_identifier: Some("ns1".to_owned()),
        calling_station_id: Some("203.0.113.7".to_owned()),
    }
}
