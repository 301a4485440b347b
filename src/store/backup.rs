//! SQLite backup files for `motpd backup` and `motpd restore`: a consistent snapshot of a live database
//! ([`snapshot`]: `VACUUM INTO` on a read-only connection of its own, while `motpd serve` goes on writing),
//! the facts a check of a backup file needs ([`BackupFile`]: integrity, key check value, counts, audit rows,
//! read without changing a byte of it), and the file moves of a restore ([`install`]).
//!
//! No policy: what a failed check means, and what is printed, is the caller's (`cli/backup*.rs`).

use std::path::{Path, PathBuf};

use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use super::StoreError;
use super::rows::{AuditRow, KEY_CHECK};
use crate::audit::AuditRecord;

/// How long the snapshot's read waits for a lock (it takes none a writer holds in WAL mode, but a checkpoint
/// or a schema change can hold SQLite's locks briefly).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes a consistent copy of the SQLite database `database` into `into`, which must not exist: created
/// empty with mode 0600 first (SQLite would create it with the umask's mode), then filled by `VACUUM INTO`
/// in one read transaction. The copy is compact and in rollback-journal mode: one self-contained file.
pub async fn snapshot(database: &Path, into: &Path) -> Result<(), StoreError> {
    create_private(into)?;
    let options = SqliteConnectOptions::new()
        .filename(database)
        .read_only(true)
        .busy_timeout(BUSY_TIMEOUT);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let target = into.to_str().ok_or_else(|| StoreError::File {
        path: into.to_owned(),
        source: std::io::Error::other("the path is not UTF-8"),
    })?;
    let done = sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&mut conn)
        .await;
    conn.close().await?;
    done?;
    Ok(())
}

/// Folds the write-ahead log of `database` into the database file (best effort before a restore moves the
/// file aside, so that the kept file is complete on its own). Nothing must be using the database.
pub async fn checkpoint(database: &Path) -> Result<(), StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(database)
        .busy_timeout(BUSY_TIMEOUT);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let done = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await;
    conn.close().await?;
    done?;
    Ok(())
}

/// What a backup file holds, in numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupContents {
    /// Accounts.
    pub accounts: i64,
    /// Active (bound) devices.
    pub devices: i64,
    /// RADIUS clients.
    pub clients: i64,
    /// Audit rows.
    pub audit_rows: i64,
    /// The newest migration applied to it.
    pub schema_version: i64,
}

/// A backup file opened read-only and immutable: reading it changes nothing in it and creates no `-wal` or
/// `-shm` beside it.
#[derive(Debug)]
pub struct BackupFile {
    conn: SqliteConnection,
}

impl BackupFile {
    /// Opens `path`; an error if it does not exist or is not an SQLite database.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::File {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .immutable(true);
        Ok(Self {
            conn: SqliteConnection::connect_with(&options).await?,
        })
    }

    /// SQLite's `PRAGMA integrity_check`: the problems it lists (at most 20), none when the file is sound.
    pub async fn integrity_problems(&mut self) -> Result<Vec<String>, StoreError> {
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check(20)")
            .fetch_all(&mut self.conn)
            .await?;
        Ok(lines.into_iter().filter(|line| line != "ok").collect())
    }

    /// The key check value stored in it (`None`: no key was ever checked against it).
    pub async fn key_check(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(KEY_CHECK)
            .fetch_optional(&mut self.conn)
            .await?)
    }

    /// Its accounts, devices, clients, audit rows and schema version.
    pub async fn contents(&mut self) -> Result<BackupContents, StoreError> {
        let (accounts, devices, clients, audit_rows, schema_version): (i64, i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM accounts), \
                        (SELECT COUNT(*) FROM devices WHERE state = 'active'), \
                        (SELECT COUNT(*) FROM radius_clients), \
                        (SELECT COUNT(*) FROM audit_log), \
                        (SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success)",
            )
            .fetch_one(&mut self.conn)
            .await?;
        Ok(BackupContents {
            accounts,
            devices,
            clients,
            audit_rows,
            schema_version,
        })
    }

    /// Up to `limit` audit rows with `seq > after`, in order (as [`super::AuditStore::audit_page`]).
    pub async fn audit_page(
        &mut self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        sqlx::query_as::<_, AuditRow>(
            "SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut self.conn)
        .await?
        .into_iter()
        .map(AuditRecord::try_from)
        .collect()
    }

    /// Closes the connection.
    pub async fn close(self) -> Result<(), StoreError> {
        Ok(self.conn.close().await?)
    }
}

/// What [`install`] did with the database it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    /// There was no database file.
    Nothing,
    /// The replaced database file (and its write-ahead log, if any, as `<kept>-wal`) is kept under this name.
    KeptAs(PathBuf),
}

/// Makes `database` a copy of the backup file `backup`, atomically: the copy is written beside it (0600) and
/// synced, the current file is kept as `keep_as` (hard link, its `-wal` renamed to match so the kept
/// database stays whole), the stale `-shm` is removed, and the copy is renamed over `database`. Nothing may be
/// using the database (the caller holds the exclusive lock).
pub fn install(backup: &Path, database: &Path, keep_as: &Path) -> Result<Replaced, StoreError> {
    let temporary = sibling(database, ".restore-tmp");
    let _ = std::fs::remove_file(&temporary);
    let copied = copy_private(backup, &temporary);
    if let Err(error) = copied {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    let replaced = if database.exists() {
        keep(database, keep_as)?;
        Replaced::KeptAs(keep_as.to_owned())
    } else {
        Replaced::Nothing
    };
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::File { path, source }
    };
    remove_if_present(&sibling(database, "-wal"))?;
    remove_if_present(&sibling(database, "-shm"))?;
    std::fs::rename(&temporary, database).map_err(io(database))?;
    sync_directory(database)?;
    Ok(replaced)
}

/// Keeps the database file under `keep_as` (a second name for the same file, so `database` is never missing),
/// with its write-ahead log beside it as `keep_as-wal`.
fn keep(database: &Path, keep_as: &Path) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::File { path, source }
    };
    if std::fs::hard_link(database, keep_as).is_err() {
        std::fs::copy(database, keep_as).map_err(io(keep_as))?;
    }
    let wal = sibling(database, "-wal");
    if wal.exists() {
        std::fs::rename(&wal, sibling(keep_as, "-wal")).map_err(io(&wal))?;
    }
    Ok(())
}

/// Copies `from` into the new file `to` (mode 0600) and syncs it.
fn copy_private(from: &Path, to: &Path) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::File { path, source }
    };
    let mut source = std::fs::File::open(from).map_err(io(from))?;
    let mut target = create_private(to)?;
    std::io::copy(&mut source, &mut target).map_err(io(to))?;
    target.sync_all().map_err(io(to))
}

/// Syncs `path`'s file to disk.
pub fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|source| StoreError::File {
            path: path.to_owned(),
            source,
        })
}

/// Syncs the directory holding `path`, so that a rename into it survives a power loss.
pub fn sync_directory(path: &Path) -> Result<(), StoreError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    sync_file(directory)
}

/// `path` with `suffix` appended to its file name (`motpd.db` + `-wal`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::File {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Creates the new, empty file `path` with mode 0600 (refusing one that exists).
fn create_private(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|source| StoreError::File {
        path: path.to_owned(),
        source,
    })
}
