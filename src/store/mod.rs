//! Persistence by roles. [`open`] picks the backend from the database URL and hands out [`Stores`]: every
//! role (`roles.rs`: accounts, devices, invitations, web sessions, SMS codes, second proofs, RADIUS clients,
//! the audit trail, upkeep; [`Store`] is their sum) and the per-packet login path ([`LoginStore`],
//! `login.rs`) behind its cache (`cache.rs`).
//!
//! The SQL is written once where the dialects agree (`sql.rs` and the query macros of `devices.rs`,
//! `import.rs`, `invitations.rs`, `lockout.rs`, `sms.rs`, ...), instantiated by each backend; `sqlite.rs`,
//! `postgres.rs` and their submodules hold only the real differences (locking, array binds, `ANALYZE`, the
//! SQLite login thread). `rows.rs` decodes rows into the domain records of [`crate::model`]. The traits speak
//! intent ("record that this step was accepted", "count a failure"), not CRUD, so that every rule that must
//! hold across several motpd nodes (a code accepted once, one active device per account, the failure counter,
//! the audit chain's order) is a single atomic statement or transaction inside the store.
//!
//! The store keeps secrets only in sealed form ([`crate::secrets::MasterKey::seal`]); it never sees a key or a
//! plaintext seed. It makes no policy decisions: thresholds and times come from the caller.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod account_proofs;
mod audit_search;
pub mod backup;
mod batch;
mod cache;
mod changes;
mod console;
mod devices;
mod directory_sync;
mod import;
mod inspect;
mod invitations;
pub mod key_rotation;
mod lockout;
mod login;
mod owner_passwords;
mod page_sessions;
mod postgres;
mod roles;
mod rows;
mod sessions;
mod sms;
mod sql;
mod sqlite;

use std::sync::Arc;

pub use crate::model::*;
pub use audit_search::AuditFilter;
pub use batch::BatchStats;
pub use cache::{CacheSettings, CacheStats, CachedLogins};
pub use inspect::{SchemaState, inspect};
pub use lockout::{AttemptRequest, Counter, LockoutPolicy, Reservation};
pub use login::*;
pub use postgres::{PgLogins, PgStore};
pub use roles::*;
pub use sqlite::{SqliteLogins, SqliteStore};

use crate::audit::AuditChain;
use crate::clock::Clock;

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row the operation is about does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The operation would break a uniqueness rule (duplicate ID, second active device, ...).
    #[error("{0}")]
    Conflict(String),
    /// The URL names no backend motpd has.
    #[error(
        "unsupported database URL scheme in {0:?}: use sqlite://PATH or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl(String),
    /// An in-memory SQLite database was named.
    #[error(
        "an in-memory SQLite database cannot serve: the login path reads and writes on a connection of its own; name a file (sqlite://PATH)"
    )]
    InMemory,
    /// A batched operation failed; every request of the batch gets the same error.
    #[error(transparent)]
    Batched(Arc<StoreError>),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A stored value could not be understood (hand-edited row, newer schema).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The database driver reported an error (unreachable server, I/O, SQL).
    #[error("database error: {0}")]
    Backend(#[source] sqlx::Error),
    /// SQLite reported an error on the serving hot path's own connection (`sqlite/hot.rs`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The thread of the SQLite hot path could not be started.
    #[error("cannot start the database thread: {0}")]
    Thread(#[source] std::io::Error),
    /// An SQLite database file (or its `-wal`/`-shm`) is readable or writable by group or others.
    #[error(
        "database file {path} has mode {mode:04o}: group or others can access it (password hashes, phone numbers, the audit trail); run `{fix}` (motpd refuses to use a database others can read)",
        path = path.display()
    )]
    FilePermissions {
        /// The file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The command that makes the database's files private.
        fix: String,
    },
    /// The audit chain's key (the key the database's key check value names) is not in this node's keyring.
    #[error("audit chain key: {0}")]
    Key(#[from] crate::secrets::SecretError),
    /// The SQLite database file could not be created or inspected.
    #[error("database file {path}: {source}", path = path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the database could not write for want of space: SQLite's `SQLITE_FULL` (on either connection),
    /// PostgreSQL's `disk_full` (53100) or `ENOSPC` from the driver. Only freeing space helps; a retry does not.
    pub fn is_storage_full(&self) -> bool {
        match self {
            Self::Batched(inner) => inner.is_storage_full(),
            Self::Sqlite(rusqlite::Error::SqliteFailure(error, _)) => {
                error.code == rusqlite::ErrorCode::DiskFull
            }
            Self::Backend(sqlx::Error::Database(error)) => {
                // SQLite's primary result code (sqlx reports the extended one; SQLITE_FULL has none).
                matches!(error.code().as_deref(), Some("13" | "53100"))
            }
            Self::Backend(sqlx::Error::Io(error)) | Self::File { source: error, .. } => {
                error.kind() == std::io::ErrorKind::StorageFull
            }
            _ => false,
        }
    }
}

/// Whether the store at `url` runs its login path on a thread of its own (an SQLite file: the hot-path writer,
/// `sqlite/hot.rs`). That thread is the one part of a login that cannot run in parallel, so `motpd serve`
/// leaves it a core: it should never wait for one behind the async workers.
pub fn has_writer_thread(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// The login path a node uses: the backend's, behind the cache.
pub type Logins = CachedLogins<BackendLogins>;

/// An opened database: every role, and the login path.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Every role (the CLI, the web pages, the engine's slower paths).
    pub store: Arc<dyn Store>,
    /// The per-packet path: the backend's login store behind the cache, which hears of the changes made
    /// through `store` in this process.
    pub logins: Arc<Logins>,
}

/// Opens the database named by `url`, applying pending migrations. `sqlite://PATH` creates the file if needed
/// (mode 0600) and refuses one that group or others can access; `postgres://` / `postgresql://` need an
/// existing database. The login path is cached as `cache` says (a TTL of 0 caches nothing); it needs a Tokio
/// runtime (PostgreSQL's batching tasks).
pub async fn open(
    url: &str,
    max_connections: u32,
    chain: AuditChain,
    clock: Arc<dyn Clock>,
    cache: CacheSettings,
) -> Result<Stores, StoreError> {
    let (store, backend, changes): (Arc<dyn Store>, BackendLogins, _) =
        if url.starts_with("sqlite:") {
            let store = Arc::new(SqliteStore::connect(url, max_connections, chain).await?);
            let logins = BackendLogins::Sqlite(SqliteLogins::new(store.clone()));
            (store.clone(), logins, ChangeSource::Sqlite(store))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let store = Arc::new(PgStore::connect(url, max_connections, chain).await?);
            let logins = BackendLogins::Postgres(PgLogins::new(store.clone()));
            (store.clone(), logins, ChangeSource::Postgres(store))
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
    let logins = Arc::new(CachedLogins::new(backend, clock, cache));
    let listener: Arc<dyn changes::ChangeListener> = logins.clone();
    changes.feed().listen(Arc::downgrade(&listener));
    Ok(Stores { store, logins })
}

/// The backend whose change feed the cache listens to.
enum ChangeSource {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

impl ChangeSource {
    fn feed(&self) -> &changes::ChangeFeed {
        match self {
            Self::Sqlite(store) => store.changes(),
            Self::Postgres(store) => store.changes(),
        }
    }
}

/// Opens the database named by `url` for the roles only (the admin CLI): as [`open`], without a login path.
pub async fn connect(
    url: &str,
    max_connections: u32,
    chain: AuditChain,
) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqliteStore::connect(url, max_connections, chain).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            PgStore::connect(url, max_connections, chain).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:[redacted]@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://motpd:s3cret@db/motpd"),
            "postgres://motpd:[redacted]@db/motpd"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_url("sqlite://motpd.db"), "sqlite://motpd.db");
    }

    #[test]
    fn storage_full_is_told_apart_from_other_failures() {
        let sqlite = |code| {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        assert!(sqlite(rusqlite::ffi::SQLITE_FULL).is_storage_full());
        assert!(
            StoreError::Batched(Arc::new(sqlite(rusqlite::ffi::SQLITE_FULL))).is_storage_full()
        );
        assert!(!sqlite(rusqlite::ffi::SQLITE_BUSY).is_storage_full());
        assert!(!sqlite(rusqlite::ffi::SQLITE_IOERR).is_storage_full());
        let io = |kind| StoreError::Backend(sqlx::Error::Io(std::io::Error::from(kind)));
        assert!(io(std::io::ErrorKind::StorageFull).is_storage_full());
        assert!(!io(std::io::ErrorKind::ConnectionRefused).is_storage_full());
        assert!(!StoreError::NotFound("x".into()).is_storage_full());
    }

    #[tokio::test]
    async fn sqlite_reports_a_full_database_as_storage_full() {
        // `max_page_count` makes SQLite answer SQLITE_FULL as a full volume would, without filling one.
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("full.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (v BLOB); PRAGMA max_page_count = 4;")
            .unwrap();
        let error = conn
            .execute("INSERT INTO t VALUES (zeroblob(65536))", [])
            .map_err(StoreError::from)
            .unwrap_err();
        assert!(error.is_storage_full(), "{error:?}");
    }

    #[test]
    fn only_an_sqlite_file_has_a_writer_thread() {
        assert!(has_writer_thread("sqlite://motpd.db"));
        assert!(has_writer_thread("sqlite:///var/lib/motpd/motpd.db"));
        assert!(!has_writer_thread("postgres://postgres@127.0.0.1/test"));
    }

    #[test]
    fn migration_versions_match_between_backends() {
        fn versions(dir: &str) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .map(|n| n.split('_').next().unwrap().to_owned())
                .collect();
            v.sort();
            v
        }
        let root = env!("CARGO_MANIFEST_DIR");
        let sqlite = versions(&format!("{root}/migrations/sqlite"));
        let postgres = versions(&format!("{root}/migrations/postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres);
    }
}
