//! The database file is private: it holds password hashes, phone numbers and the audit trail. A missing file is
//! created with mode 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm` files the mode of the
//! database file), and an existing database, `-wal` or `-shm` file that group or others can access is refused
//! with the `chmod` command that fixes it. No other I/O; nothing is ever chmod-ed behind the admin's back.

use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// Creates `database` (empty, 0600) if it does not exist, then checks it and its `-wal` and `-shm` files.
pub(super) fn prepare(database: &Path) -> Result<(), StoreError> {
    create_private(database)?;
    check_existing(database)
}

/// Checks the database file and its `-wal` and `-shm` files that exist; creates nothing.
pub(super) fn check_existing(database: &Path) -> Result<(), StoreError> {
    let files = companions(database);
    let existing: Vec<&PathBuf> = files.iter().filter(|path| path.exists()).collect();
    for path in &existing {
        check(path, &existing)?;
    }
    Ok(())
}

/// The database file and the `-wal` and `-shm` files SQLite keeps beside it.
fn companions(database: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [database.to_owned(), with("-wal"), with("-shm")]
}

#[cfg(unix)]
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::File {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(not(unix))]
fn create_private(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(unix)]
fn check(path: &Path, existing: &[&PathBuf]) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| StoreError::File {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let files: Vec<String> = existing.iter().map(|p| quoted(p)).collect();
    Err(StoreError::FilePermissions {
        path: path.to_owned(),
        mode,
        fix: format!("chmod 600 {}", files.join(" ")),
    })
}

#[cfg(not(unix))]
fn check(_path: &Path, _existing: &[&PathBuf]) -> Result<(), StoreError> {
    Ok(())
}

/// A path as a shell word: quoted when it holds anything but plain characters.
fn quoted(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = |c: char| c.is_alphanumeric() || "/._-+,:@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_missing_database_is_created_private_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("motpd.db");
        prepare(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        prepare(&db).unwrap();
    }

    #[test]
    fn a_database_or_wal_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("motpd.db");
        prepare(&db).unwrap();
        let wal = dir.path().join("motpd.db-wal");
        std::fs::write(&wal, b"").unwrap();
        chmod(&wal, 0o600);
        for (file, bad) in [(&db, 0o644), (&wal, 0o640), (&db, 0o604)] {
            chmod(file, bad);
            let Err(StoreError::FilePermissions { path, mode, fix }) = prepare(&db) else {
                panic!("{} {bad:o} accepted", file.display());
            };
            assert_eq!((&path, mode), (file, bad));
            assert_eq!(fix, format!("chmod 600 {} {}", db.display(), wal.display()));
            chmod(file, 0o600);
        }
        prepare(&db).unwrap();
        let message = StoreError::FilePermissions {
            path: db.clone(),
            mode: 0o644,
            fix: "chmod 600 motpd.db".into(),
        }
        .to_string();
        assert!(
            message.contains("0644") && message.contains("`chmod 600 motpd.db`"),
            "{message}"
        );
    }

    #[test]
    fn paths_are_quoted_for_the_shell_when_needed() {
        assert_eq!(
            quoted(Path::new("/var/lib/motpd/motpd.db")),
            "/var/lib/motpd/motpd.db"
        );
        assert_eq!(
            quoted(Path::new("/srv/my db/it's.db")),
            r"'/srv/my db/it'\''s.db'"
        );
    }
}
