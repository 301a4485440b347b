//! The checks a backup file passes before `motpd backup` keeps it and before `motpd restore` uses it: SQLite's
//! integrity check, the key check value against the configured key (a backup taken under another key is
//! useless with this one: its seeds and secrets cannot be opened), and every link of its audit chain (the
//! code path of `motpd audit verify`). Also the errors of both commands, with their exit codes.

use std::path::{Path, PathBuf};

use crate::audit::AuditChain;
use crate::engine::audit_verify::{ChainWalk, walk_chain};
use crate::secrets::MasterKey;
use crate::store::StoreError;
use crate::store::backup::{BackupContents, BackupFile};

/// A backup file that passed every check.
#[derive(Debug)]
pub(super) struct Verified {
    /// Its size in bytes.
    pub(super) size: u64,
    /// What it holds.
    pub(super) contents: BackupContents,
    /// The last link of its audit chain, hex.
    pub(super) head: String,
}

/// Why `backup` or `restore` stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackupError {
    /// The database is on PostgreSQL, which has its own tools.
    #[error(
        "motpd {command} works on an SQLite database; this one is on PostgreSQL, which has its own tools \
         (motpd does not guess at your server's setup):\n  \
         logical backup, e.g. daily:  pg_dump -Fc -f /var/backups/motpd/motpd-$(date +%F).dump DBNAME\n  \
         restore it (motpd stopped):  pg_restore --clean --if-exists -d DBNAME FILE.dump\n  \
         point-in-time recovery:      pg_basebackup -D DIR -Ft -z -X stream, with WAL archiving \
         (archive_mode = on, archive_command) and recovery_target_time to restore\n\
         Back up the key file (secrets.key_file) apart from the dumps: without it the seeds and secrets in \
         them cannot be opened"
    )]
    PostgreSql { command: &'static str },
    /// The file is damaged, not a motpd database, or its audit chain is broken.
    #[error("{} failed verification: {problem}. Nothing was changed", file.display())]
    Invalid { file: PathBuf, problem: String },
    /// The file was taken under another master key.
    #[error(
        "{} was taken under another master key than {} (key id {key_id}): its seeds and secrets cannot be \
         opened with it. Configure the key file that was in use when the backup was taken. Nothing was changed",
        file.display(),
        key_file.display()
    )]
    OtherKey {
        file: PathBuf,
        key_file: PathBuf,
        key_id: String,
    },
}

impl BackupError {
    /// The documented exit code (see `args::EXIT_CODES`).
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::PostgreSql { .. } => 9,
            Self::Invalid { .. } => 11,
            Self::OtherKey { .. } => 4,
        }
    }
}

/// Checks the backup file `file` against `key` (loaded from `key_file`, named in messages).
pub(super) async fn verify(
    file: &Path,
    key: &MasterKey,
    key_file: &Path,
) -> Result<Verified, BackupError> {
    let invalid = |problem: String| BackupError::Invalid {
        file: file.to_owned(),
        problem,
    };
    let unreadable =
        |error: StoreError| invalid(format!("cannot read it as a motpd database ({error})"));
    let size = std::fs::metadata(file)
        .map_err(|error| invalid(error.to_string()))?
        .len();
    let mut backup = BackupFile::open(file).await.map_err(unreadable)?;
    let checked = check(&mut backup, file, key, key_file).await;
    let _ = backup.close().await;
    let (contents, walk) = checked?;
    if !walk.breaks.is_empty() {
        return Err(invalid(format!(
            "its audit trail is broken in {} row(s): {}",
            walk.rows,
            walk.breaks.join("; ")
        )));
    }
    if i64::try_from(walk.rows).ok() != Some(contents.audit_rows) {
        return Err(invalid(format!(
            "{} audit rows counted but {} read",
            contents.audit_rows, walk.rows
        )));
    }
    Ok(Verified {
        size,
        contents,
        head: walk.head,
    })
}

async fn check(
    backup: &mut BackupFile,
    file: &Path,
    key: &MasterKey,
    key_file: &Path,
) -> Result<(BackupContents, ChainWalk), BackupError> {
    let invalid = |problem: String| BackupError::Invalid {
        file: file.to_owned(),
        problem,
    };
    let unreadable =
        |error: StoreError| invalid(format!("cannot read it as a motpd database ({error})"));
    let problems = backup.integrity_problems().await.map_err(unreadable)?;
    if !problems.is_empty() {
        return Err(invalid(format!(
            "SQLite's integrity check found: {}",
            problems.join("; ")
        )));
    }
    let contents = backup.contents().await.map_err(unreadable)?;
    match backup.key_check().await.map_err(unreadable)? {
        None => {
            return Err(invalid(
                "it holds no key check value (not a database motpd has served)".to_owned(),
            ));
        }
        Some(stored) if !key.matches_key_check(&stored) => {
            return Err(BackupError::OtherKey {
                file: file.to_owned(),
                key_file: key_file.to_owned(),
                key_id: key.key_id(),
            });
        }
        Some(_) => {}
    }
    let chain = AuditChain::new(key.audit_chain_key());
    let walk = walk_chain(&chain, None, async |after, limit| {
        backup.audit_page(after, limit).await
    })
    .await
    .map_err(unreadable)?;
    Ok((contents, walk))
}

/// Bytes as a person reads them (`1.2 MiB`).
pub(super) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_a_person_reads_them() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_size(3 << 40), "3.0 TiB");
    }
}
