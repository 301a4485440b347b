//! The lock file beside an SQLite database (`motpd.db.lock`), how `motpd restore` knows that no server uses
//! the database: `motpd serve` and `motpd backup` hold a shared lock on it for as long as they run, `motpd
//! restore` an exclusive one. The kernel drops a lock when its process ends, however it ends, so a crashed
//! server leaves no stale lock behind (unlike a PID file).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::store::backup::sibling;

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub(crate) struct DatabaseLock {
    _file: File,
}

/// The lock file is held in the other mode by another process.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// A server (or a backup) uses the database: a restore must wait.
    #[error(
        "the database {} is in use: `motpd serve` (or a `motpd backup`) holds {}. Stop the service first \
         (systemctl stop motpd), then restore",
        database.display(),
        lock.display()
    )]
    InUse { database: PathBuf, lock: PathBuf },
    /// A restore is replacing the database.
    #[error(
        "a `motpd restore` is replacing the database {} (it holds {}); try again when it has finished",
        database.display(),
        lock.display()
    )]
    Restoring { database: PathBuf, lock: PathBuf },
    /// The lock file could not be created or locked.
    #[error("cannot lock {}: {source}", lock.display())]
    Io {
        lock: PathBuf,
        source: std::io::Error,
    },
}

/// The lock file of `database`.
pub(crate) fn lock_path(database: &Path) -> PathBuf {
    sibling(database, ".lock")
}

/// A shared lock (`serve`, `backup`): any number of them at once, none while a restore runs.
pub(crate) fn shared(database: &Path) -> Result<DatabaseLock, LockError> {
    let lock = lock_path(database);
    let file = open(&lock)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(DatabaseLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(LockError::Restoring {
            database: database.to_owned(),
            lock,
        }),
        Err(TryLockError::Error(source)) => Err(LockError::Io { lock, source }),
    }
}

/// The exclusive lock of a restore: only when no server or backup holds the database.
pub(crate) fn exclusive(database: &Path) -> Result<DatabaseLock, LockError> {
    let lock = lock_path(database);
    let file = open(&lock)?;
    match file.try_lock() {
        Ok(()) => Ok(DatabaseLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(LockError::InUse {
            database: database.to_owned(),
            lock,
        }),
        Err(TryLockError::Error(source)) => Err(LockError::Io { lock, source }),
    }
}

/// Opens the lock file, read-only (a lock needs no write access), creating it if missing. It stays empty, and
/// is made readable by all so that an admin command run as root first does not lock the service user out.
fn open(lock: &Path) -> Result<File, LockError> {
    let io = |source| LockError::Io {
        lock: lock.to_owned(),
        source,
    };
    match File::open(lock) {
        Ok(file) => return Ok(file),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(io(error)),
        Err(_) => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o644);
    }
    options.open(lock).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_coexist_and_keep_the_exclusive_one_out() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("motpd.db");
        let serving = shared(&db).unwrap();
        let backing_up = shared(&db).unwrap();
        assert!(matches!(exclusive(&db), Err(LockError::InUse { .. })));
        drop(serving);
        assert!(matches!(exclusive(&db), Err(LockError::InUse { .. })));
        drop(backing_up);
        let restoring = exclusive(&db).unwrap();
        assert!(matches!(shared(&db), Err(LockError::Restoring { .. })));
        drop(restoring);
        shared(&db).unwrap();
    }
}
