//! The SQLite backend: one database file for a single motpd node.
//!
//! Owns the SQLite connection settings and the few items where SQLite's dialect differs from the SQL the
//! backends share (`store/sql.rs`; devices and the bulk import in `sqlite/devices.rs`, `sqlite/import.rs`). It
//! makes no policy decisions and sees secrets only sealed. The login path ([`SqliteLogins`]: login reads,
//! lockout reservations, accepted logins, audit appends) runs on a thread of its own with its own connection
//! (`sqlite/hot.rs`); everything else uses the sqlx pool.
//!
//! Concurrency: SQLite has one writer at a time. Single statements (the replay guard, the failure counter) are
//! atomic on their own. Every transaction that reads and then writes starts with `BEGIN IMMEDIATE`, taking the
//! write lock up front: a deferred transaction that upgrades from read to write can fail with `SQLITE_BUSY`
//! at once (the busy handler cannot help a reader that must upgrade), while `BEGIN IMMEDIATE` waits up to the
//! busy timeout like every other writer.
//!
//! Durability: the database runs in WAL mode with `synchronous=NORMAL`. A committed transaction is in the WAL
//! file before `COMMIT` returns, so it survives the motpd process being killed (`kill -9`, crash, OOM) —
//! in particular an accepted OTP step stays consumed. What NORMAL gives up is the fsync at every commit: after
//! a power loss or OS crash the last few transactions may be rolled back (the database stays consistent).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::rows::account_not_found;
use super::{
    AcceptedLogin, Challenge, Counter, FailureState, LockoutPolicy, LoginRecord, LoginStore,
    NewChallenge, Reservation, StoreError,
};
use crate::audit::{AuditChain, AuditEvent};

mod account_proofs;
mod checkpoint;
mod console;
mod devices;
mod directory_sync;
mod hot;
mod import;
mod invitations;
mod lockout;
mod owner_passwords;
mod page_sessions;
mod private_file;
mod sessions;
mod sms;

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for the write lock before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// A [`Store`] on SQLite.
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Taken by the writers of the serving hot path (group-committed logins, audit batches, failure counts)
    /// around their write, so that they queue here instead of colliding on SQLite's write lock: a collision
    /// is `SQLITE_BUSY`, and SQLite's busy handler retries after sleeping 1, 2, 5, 10... ms.
    write_gate: Arc<tokio::sync::Mutex<()>>,
    /// The login reads, VPN reservations, accepted logins and audit appends, on a thread of their own
    /// (`sqlite/hot.rs`).
    hot: hot::HotPath,
    /// What this process changed, for the login cache.
    changes: super::changes::ChangeFeed,
    /// The audit chain's keys, for the rows appended on the pool (the key rotation's).
    chain: AuditChain,
}

/// A transaction holding the write lock from its first statement.
async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// `sqlite::memory:` and `?mode=memory` URLs name a database that lives only as long as its connections.
fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Checks the permissions of an existing database file and its `-wal` and `-shm` files, creating nothing.
pub(super) fn check_private_files(database: &std::path::Path) -> Result<(), StoreError> {
    private_file::check_existing(database)
}

impl SqliteStore {
    /// Opens (creating if missing, mode 0600) the database file and applies pending migrations. A database
    /// file that group or others can access is refused, and so is an in-memory database: the login path runs
    /// on a connection of its own, which could not see it.
    pub(super) async fn connect(
        url: &str,
        max_connections: u32,
        chain: AuditChain,
    ) -> Result<Self, StoreError> {
        if is_memory(url) {
            return Err(StoreError::InMemory);
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // 1 MiB of page cache per connection (SQLite's default is 2 MiB): in WAL mode a connection drops
            // its cache whenever another one has written, so more buys little and costs resident memory.
            .pragma("cache_size", "-1024")
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        private_file::prepare(options.get_filename())?;
        // The connection lives in this process: a ping before every acquire would only add a round trip to
        // the connection's thread (and a wake-up) to every operation.
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .test_before_acquire(false)
            .acquire_timeout(BUSY_TIMEOUT * 2)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let write_gate = Arc::new(tokio::sync::Mutex::new(()));
        let hot = hot::HotPath::start(
            options.get_filename(),
            BUSY_TIMEOUT,
            chain.clone(),
            write_gate.clone(),
        )?;
        Ok(Self {
            pool,
            write_gate,
            hot,
            changes: super::changes::ChangeFeed::default(),
            chain,
        })
    }

    /// Runs an `UPDATE accounts ... WHERE id = $1`-style statement; `NotFound` when no row matched.
    async fn update_account(&self, query: SqliteQuery<'_>, id: &str) -> Result<(), StoreError> {
        match query.execute(&self.pool).await?.rows_affected() {
            0 => Err(account_not_found(id)),
            _ => Ok(()),
        }
    }
}

crate::store::sql::role_impls!(SqliteStore);

/// The dialect items the shared role SQL (`store/sql.rs`) names, and the login path's SQL.
impl SqliteStore {
    /// What this process changed, for the login cache.
    pub(super) fn changes(&self) -> &super::changes::ChangeFeed {
        &self.changes
    }

    const BACKEND: &'static str = "sqlite";

    /// SQLite's writers queue here for the one write lock (see [`SqliteStore::write_gate`]).
    async fn gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        Some(self.write_gate.lock().await)
    }

    /// SQLite plans without statistics refreshed after a bulk load: nothing to do.
    async fn refresh_statistics(&self, _analyze: &'static str, _rows: usize) {}

    async fn append_audit_rows(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.hot.append_audit(events.to_vec()).await
    }

    async fn shut_down(&self) {
        self.hot.close().await;
        self.pool.close().await;
    }
}

crate::store::key_rotation::sealed_store_impl!(SqliteStore, "");
crate::store::console::console_store_impl!(SqliteStore);

/// The rotation's backend steps (`store/key_rotation.rs`).
impl SqliteStore {
    async fn begin_rotation(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        begin_write(&self.pool).await
    }

    /// `BEGIN IMMEDIATE` already holds the one write lock, which every audit append needs.
    async fn lock_audit(
        &self,
        _tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn append_rotation_row(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let head: super::rows::AuditHead = sqlx::query_as(super::rows::AUDIT_HEAD)
            .fetch_one(&mut **tx)
            .await?;
        for row in super::rows::link_batch(&self.chain, head, [event])? {
            sqlx::query(
                "INSERT INTO audit_log (seq, at, kind, actor, account_id, outcome, detail, mac) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(row.seq)
            .bind(row.event.at)
            .bind(&row.event.kind)
            .bind(&row.event.actor)
            .bind(&row.event.account_id)
            .bind(&row.event.outcome)
            .bind(&row.event.detail)
            .bind(&row.mac[..])
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

/// The SQLite login path: reads, VPN reservations, accepted logins and audit appends on the writer thread
/// (`sqlite/hot.rs`), which groups concurrent calls into one transaction; the rarer settlements and
/// challenges on the pool, queued behind the same gate.
#[derive(Debug, Clone)]
pub struct SqliteLogins {
    store: Arc<SqliteStore>,
}

impl SqliteLogins {
    pub(super) fn new(store: Arc<SqliteStore>) -> Self {
        Self { store }
    }
}

impl LoginStore for SqliteLogins {
    async fn login_record(&self, id: &str) -> Result<Option<Arc<LoginRecord>>, StoreError> {
        let mut records = self.store.hot.login_records(vec![id.to_owned()]).await?;
        Ok(records.pop().map(Arc::new))
    }

    async fn record_accepted_login(&self, login: AcceptedLogin) -> Result<bool, StoreError> {
        let won = self.store.hot.record_accepted_logins(vec![login]).await?;
        Ok(won.first().copied().unwrap_or(false))
    }

    async fn reserve_attempt(
        &self,
        counter: Counter,
        id: &str,
        now: i64,
        policy: LockoutPolicy,
    ) -> Result<Option<Reservation>, StoreError> {
        self.store
            .hot
            .reserve_attempt(counter, id, now, policy)
            .await
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.store.hot.append_audit(events).await
    }

    crate::store::login::pooled_login_ops!();
}

crate::store::audit_search::audit_search_query!(sqlx::sqlite::SqlitePool);
