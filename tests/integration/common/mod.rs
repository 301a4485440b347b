//! Helpers shared by the integration tests: a fixed audit chain, sample records, and the list of store backends
//! every contract test runs on.
//!
//! Every backend is opened as a serving node opens it ([`store::open`]: the roles, and the login path behind
//! the cache). Backends: a SQLite file in a fresh temporary directory, and — when
//! `MOTPD_TEST_DATABASE_URL` names a PostgreSQL server — a PostgreSQL store on a database created for that
//! one test (`motpd_test_<random>`, dropped when the [`Backend`] is dropped, also after a panic), so tests can
//! run in parallel without seeing each other's rows.
#![allow(dead_code)]

pub(crate) mod fixture;
pub(crate) mod http_client;
pub(crate) mod radius_client;
pub(crate) mod slapd;
pub(crate) mod sms_gateway;

use std::sync::{Arc, Once};

use motpd::audit::AuditChain;
use motpd::clock::{Clock, SystemClock};
use motpd::config::AuthMode;
use motpd::otp::{Algorithm, Kind};
use motpd::secrets::SecretBytes;
use motpd::store::{
    self, AccountStatus, AccountUpsert, Logins, NewClient, NewDevice, Store, Stores,
};
use sqlx::Connection;

/// The environment variable naming the PostgreSQL server for the store tests.
pub(crate) const PG_ENV: &str = "MOTPD_TEST_DATABASE_URL";

/// A time all tests start from.
pub(crate) const NOW: i64 = 1_750_000_000;

/// The audit chain with a fixed test key.
pub(crate) fn test_chain() -> AuditChain {
    AuditChain::new(SecretBytes::new(vec![7; 32]))
}

/// An account with every field set.
pub(crate) fn account(id: &str) -> AccountUpsert {
    AccountUpsert {
        id: id.to_owned(),
        name: format!("{id} Example"),
        phone: Some("0912345678".to_owned()),
        email: Some(format!("{id}@example.org")),
        expires_on: Some(time::macros::date!(2030 - 06 - 30)),
        groups: vec!["vpn".to_owned(), "staff".to_owned()],
        password_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${id}")),
        status: AccountStatus::Active,
    }
}

/// A TOTP device with a (fake) sealed seed.
pub(crate) fn device(id: &str, account_id: &str) -> NewDevice {
    NewDevice {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        kind: Kind::Totp,
        algorithm: Algorithm::Sha1,
        digits: 6,
        period: 30,
        sealed_seed: format!("sealed seed of {id}").into_bytes(),
        sealed_pin: None,
        last_step: None,
        label: Some(format!("phone {id}")),
    }
}

/// A RADIUS client.
pub(crate) fn client(name: &str, address: &str, mode: Option<AuthMode>) -> NewClient {
    NewClient {
        name: name.to_owned(),
        address: address.parse().unwrap(),
        sealed_secret: format!("sealed secret of {name}").into_bytes(),
        require_message_authenticator: mode.is_none(),
        mode,
    }
}

/// The login cache of every test store: the serving default's shape, with a short TTL.
pub(crate) const CACHE: store::CacheSettings = store::CacheSettings {
    ttl_seconds: 2,
    capacity: 1000,
};

/// Opens `url` the way a serving node does ([`store::open`]): every role, and the login path behind the
/// cache, whose entries age by `clock`.
pub(crate) async fn open_stores(url: &str, clock: Arc<dyn Clock>) -> Stores {
    store::open(url, 4, test_chain(), clock, CACHE)
        .await
        .unwrap()
}

/// A store under test, opened as a serving node opens it, with what some tests need besides the roles: the
/// login path, its URL (to open a second "node" or a raw connection) and whatever keeps its database alive.
#[derive(Debug)]
pub(crate) struct Backend {
    /// `sqlite-file` or `postgres`.
    pub(crate) name: &'static str,
    /// Every role.
    pub(crate) store: Arc<dyn Store>,
    /// The login path (behind the cache, which hears of the changes made through `store`).
    pub(crate) logins: Arc<Logins>,
    /// The URL, to open the database again.
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl Backend {
    /// Opens `url` (kept alive by `dir` or `pg`).
    async fn open(
        name: &'static str,
        url: String,
        dir: Option<tempfile::TempDir>,
        pg: Option<PgDatabase>,
    ) -> Self {
        let Stores { store, logins } = open_stores(&url, Arc::new(SystemClock)).await;
        Self {
            name,
            store,
            logins,
            url,
            _dir: dir,
            _pg: pg,
        }
    }

    /// The store and its login path, as the services take them.
    pub(crate) fn stores(&self) -> Stores {
        Stores {
            store: self.store.clone(),
            logins: self.logins.clone(),
        }
    }

    /// Two nodes on the same database: this backend's stores, and a second, independent opening (its own
    /// pool, login path and cache).
    pub(crate) async fn nodes(&self) -> (Stores, Stores) {
        let second = open_stores(&self.url, Arc::new(SystemClock)).await;
        (self.stores(), second)
    }

    /// Runs `sql` on a separate raw connection, bypassing the store (to simulate tampering). Always `true`
    /// (every backend has a URL to connect to).
    pub(crate) async fn raw_execute(&self, sql: &'static str) -> bool {
        let url = &self.url;
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
        true
    }
}

/// Every backend to run a contract test on, each with an empty database: an SQLite file (with its writer
/// thread) and, when `MOTPD_TEST_DATABASE_URL` is set, PostgreSQL.
pub(crate) async fn store_backends() -> Vec<Backend> {
    let mut backends = vec![sqlite_file().await];
    match postgres_backend().await {
        Some(backend) => backends.push(backend),
        None => {
            static SKIPPED: Once = Once::new();
            SKIPPED.call_once(|| {
                eprintln!("PostgreSQL store tests skipped: set {PG_ENV}");
            });
        }
    }
    backends
}

/// A PostgreSQL store on a new database, when `MOTPD_TEST_DATABASE_URL` is set.
pub(crate) async fn postgres_backend() -> Option<Backend> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => Some(postgres(&url).await),
        _ => None,
    }
}

/// A SQLite store in a file that does not exist yet, in a fresh temporary directory.
pub(crate) async fn sqlite_file() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    Backend::open("sqlite-file", url, Some(dir), None).await
}

/// The URL of `motpd.db` inside `dir`.
pub(crate) fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("motpd.db").display())
}

/// A PostgreSQL store on a new database of the server `admin_url` points at.
async fn postgres(admin_url: &str) -> Backend {
    let db = PgDatabase::create(admin_url).await;
    let url = db.url.clone();
    Backend::open("postgres", url, None, Some(db)).await
}

/// A throwaway PostgreSQL database, dropped (with its connections) when this value is dropped.
#[derive(Debug)]
pub(crate) struct PgDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub(crate) url: String,
}

impl PgDatabase {
    pub(crate) async fn create(admin_url: &str) -> Self {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let name = format!("motpd_test_{}", hex::encode(random));
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {PG_ENV}: {e}"));
        let create = format!("CREATE DATABASE {name} TEMPLATE template0");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        Self {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime (maybe while panicking): do the async cleanup on a thread of
        // its own. Best effort: a failure only leaves a stray database behind.
        let admin_url = self.admin_url.clone();
        let drop_sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop_sql))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// `url` with its database name replaced by `database` (query parameters kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{database}?{query}"),
        None => format!("{root}/{database}"),
    }
}

#[test]
fn database_names_are_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@db?sslmode=disable", "x"),
        "postgres://u:p@db/x?sslmode=disable"
    );
}
