//! A read-only look at a database for `motpd config check`: which of the migrations built into this binary are
//! applied, and the stored key check value. Nothing is created or changed: an SQLite file is opened read-only
//! (and must exist), PostgreSQL is only queried, and no migration runs.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::rows::KEY_CHECK;
use super::{StoreError, redact_url};

/// How long to wait for the database server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The migration table sqlx keeps.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// What a database holds of this binary's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// How many migrations this binary carries.
    pub embedded: usize,
    /// How many migrations the database records as applied.
    pub applied: usize,
    /// Versions this binary carries that the database lacks (`motpd serve` or `motpd init` applies them).
    pub pending: Vec<i64>,
    /// Versions the database has that this binary does not know: a newer motpd migrated it.
    pub unknown: Vec<i64>,
    /// Versions recorded as failed (a migration that stopped half-way).
    pub failed: Vec<i64>,
    /// Versions applied from a different text than this binary's.
    pub changed: Vec<i64>,
    /// The master key's check value stored in the database, if any.
    pub key_check: Option<Vec<u8>>,
}

impl SchemaState {
    /// Every migration of this binary applied, none failed, altered or unknown.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
            && self.unknown.is_empty()
            && self.failed.is_empty()
            && self.changed.is_empty()
    }
}

/// One row of the migration table.
#[derive(sqlx::FromRow)]
struct Applied {
    version: i64,
    success: bool,
    checksum: Vec<u8>,
}

/// Reads the schema state of the database at `url` without changing it. An SQLite file that does not exist is
/// an error ([`StoreError::File`], not found); it is never created.
pub async fn inspect(url: &str) -> Result<SchemaState, StoreError> {
    if url.starts_with("sqlite:") {
        inspect_sqlite(url).await
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        inspect_postgres(url).await
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

async fn inspect_sqlite(url: &str) -> Result<SchemaState, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(false)
        .read_only(true);
    let path = options.get_filename().to_owned();
    if let Err(source) = std::fs::metadata(&path) {
        return Err(StoreError::File { path, source });
    }
    super::sqlite::check_private_files(&path)?;
    // A read-only connection to a WAL database creates the `-wal` and `-shm` files when they are absent and
    // leaves them behind. Absent, they hold nothing (no process has the database open, or its last one
    // checkpointed), so the file alone is the whole database and can be read as immutable, creating nothing.
    // Present (`motpd serve` running), they are read as they are.
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let options = options.immutable(!std::path::Path::new(&wal).exists());
    let mut conn = options.connect().await?;
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_one(&mut conn)
    .await?;
    let state = if has_table {
        let applied = sqlx::query_as::<_, Applied>(
            "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&mut conn)
        .await?;
        let key_check = read_key_check_sqlite(&mut conn).await?;
        compare(&super::sqlite::MIGRATOR, "sqlite", &applied, key_check)
    } else {
        compare(&super::sqlite::MIGRATOR, "sqlite", &[], None)
    };
    conn.close().await?;
    Ok(state)
}

async fn read_key_check_sqlite(
    conn: &mut sqlx::SqliteConnection,
) -> Result<Option<Vec<u8>>, StoreError> {
    let has_meta: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !has_meta {
        return Ok(None);
    }
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(KEY_CHECK)
        .fetch_optional(&mut *conn)
        .await?)
}

async fn inspect_postgres(url: &str) -> Result<SchemaState, StoreError> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
        .await
        .map_err(|_| {
            StoreError::Backend(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "PostgreSQL did not answer within {} seconds",
                    CONNECT_TIMEOUT.as_secs()
                ),
            )))
        })??;
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(MIGRATIONS_TABLE)
        .fetch_one(&mut conn)
        .await?;
    let state = if has_table {
        let applied = sqlx::query_as::<_, Applied>(
            "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&mut conn)
        .await?;
        let has_meta: bool = sqlx::query_scalar("SELECT to_regclass('meta') IS NOT NULL")
            .fetch_one(&mut conn)
            .await?;
        let key_check = if has_meta {
            sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                .bind(KEY_CHECK)
                .fetch_optional(&mut conn)
                .await?
        } else {
            None
        };
        compare(&super::postgres::MIGRATOR, "postgres", &applied, key_check)
    } else {
        compare(&super::postgres::MIGRATOR, "postgres", &[], None)
    };
    conn.close().await?;
    Ok(state)
}

/// Sets the applied rows beside the migrations built into the binary.
fn compare(
    migrator: &Migrator,
    backend: &'static str,
    applied: &[Applied],
    key_check: Option<Vec<u8>>,
) -> SchemaState {
    let embedded: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let pending = embedded
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .map(|m| m.version)
        .collect();
    let unknown = applied
        .iter()
        .filter(|a| !embedded.iter().any(|m| m.version == a.version))
        .map(|a| a.version)
        .collect();
    let failed = applied
        .iter()
        .filter(|a| !a.success)
        .map(|a| a.version)
        .collect();
    let changed = applied
        .iter()
        .filter(|a| {
            embedded
                .iter()
                .any(|m| m.version == a.version && *m.checksum != *a.checksum)
        })
        .map(|a| a.version)
        .collect();
    SchemaState {
        backend,
        embedded: embedded.len(),
        applied: applied.len(),
        pending,
        unknown,
        failed,
        changed,
        key_check,
    }
}
