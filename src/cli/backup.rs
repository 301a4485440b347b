//! `motpd backup FILE` and `motpd restore FILE` for an SQLite database. A backup is a consistent snapshot taken
//! while `motpd serve` runs, written beside FILE and renamed into place only once it passed every check
//! (`backup_check.rs`); a restore runs only with the server stopped (the lock file, `db_lock.rs`), checks FILE
//! the same way, and swaps it in atomically, keeping the database it replaces. On PostgreSQL both name the
//! server's own tools instead.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;

use super::CliError;
use super::backup_check::{self, BackupError, Verified, human_size};
use super::context::{self, Context, KeyMode, sqlite_file};
use super::db_lock;
use crate::secrets::MasterKey;
use crate::store::backup::{self as files, Replaced};

/// `motpd backup FILE [--force]`.
pub(super) async fn backup(
    config_path: Option<&Path>,
    file: &Path,
    force: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (database, key, key_file) = open_sqlite(config_path, "backup")?;
    context::missing_database_file(&database)?;
    if !force && file.exists() {
        return Err(CliError::Conflict(format!(
            "{} exists; give --force to overwrite it, or name a new file",
            file.display()
        ))
        .into());
    }
    let _shared = db_lock::shared(&database)?;
    let temporary = temporary_beside(file);
    let _ = std::fs::remove_file(&temporary);
    let written = write_verified(&database, &temporary, &key, &key_file).await;
    let verified = match written {
        Ok(verified) => verified,
        Err(error) => {
            let _ = std::fs::remove_file(&temporary);
            return Err(error);
        }
    };
    let placed = place(&temporary, file, force);
    if placed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    placed?;
    println!(
        "wrote {} ({}, mode 0600) in {:.1} s",
        file.display(),
        human_size(verified.size),
        started.elapsed().as_secs_f64()
    );
    print_checked(&verified, &key, &key_file);
    println!(
        "The key file is not in the backup: keep a copy of {} apart from it (the backup's seeds and secrets \
         cannot be opened without it, and anyone holding both can open them)",
        key_file.display()
    );
    Ok(())
}

/// `motpd restore FILE`.
pub(super) async fn restore(config_path: Option<&Path>, file: &Path) -> anyhow::Result<()> {
    let (database, key, key_file) = open_sqlite(config_path, "restore")?;
    let _exclusive = db_lock::exclusive(&database)?;
    let verified = backup_check::verify(file, &key, &key_file).await?;
    if database.exists() {
        // Best effort: the kept database takes its write-ahead log along in any case.
        if let Err(error) = files::checkpoint(&database).await {
            eprintln!(
                "note: could not fold the write-ahead log into {} ({error}); it is kept beside it",
                database.display()
            );
        }
    }
    let keep_as = files::sibling(&database, &format!(".before-restore-{}", timestamp()));
    let replaced = files::install(file, &database, &keep_as)
        .with_context(|| format!("while replacing {}", database.display()))?;
    println!("restored {} into {}", file.display(), database.display());
    print_checked(&verified, &key, &key_file);
    match replaced {
        Replaced::KeptAs(kept) => println!(
            "the replaced database is kept as {} (remove it once the restored one is confirmed)",
            kept.display()
        ),
        Replaced::Nothing => println!("there was no database to replace"),
    }
    record_restore(config_path, file, &verified).await.context(
        "the database was restored, but recording the restore in its audit trail failed",
    )?;
    println!("start the service again (systemctl start motpd)");
    Ok(())
}

/// Loads the configuration and key; the SQLite file of `database.url`, or the PostgreSQL procedure.
fn open_sqlite(
    config_path: Option<&Path>,
    command: &'static str,
) -> anyhow::Result<(PathBuf, MasterKey, PathBuf)> {
    let (config, _) = context::load_config(config_path)?;
    let url = &config.database.url;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(BackupError::PostgreSql { command }.into());
    }
    let database = sqlite_file(url).ok_or_else(|| {
        crate::config::ConfigError::Invalid(vec![crate::config::Problem {
            key: "database.url",
            message: format!("names no SQLite database file to {command}"),
        }])
    })?;
    let key_file = config.secrets.key_file.clone();
    let key = MasterKey::load(&key_file)?;
    Ok((database, key, key_file))
}

/// Snapshots `database` into `temporary` and checks the copy.
async fn write_verified(
    database: &Path,
    temporary: &Path,
    key: &MasterKey,
    key_file: &Path,
) -> anyhow::Result<Verified> {
    files::snapshot(database, temporary)
        .await
        .with_context(|| format!("while copying {}", database.display()))?;
    let verified = backup_check::verify(temporary, key, key_file).await?;
    files::sync_file(temporary)?;
    Ok(verified)
}

/// Moves the checked copy to `file`: without `force` never over an existing file (a hard link fails if the
/// name is taken), with it by rename.
fn place(temporary: &Path, file: &Path, force: bool) -> anyhow::Result<()> {
    if force {
        std::fs::rename(temporary, file)
            .with_context(|| format!("cannot write {}", file.display()))?;
    } else {
        match std::fs::hard_link(temporary, file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(CliError::Conflict(format!(
                    "{} exists; give --force to overwrite it, or name a new file",
                    file.display()
                ))
                .into());
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot write {}", file.display()));
            }
        }
        let _ = std::fs::remove_file(temporary);
    }
    files::sync_directory(file)?;
    Ok(())
}

fn print_checked(verified: &Verified, key: &MasterKey, key_file: &Path) {
    let c = &verified.contents;
    println!(
        "  integrity check ok; key check value matches {} (key id {})",
        key_file.display(),
        key.key_id()
    );
    println!(
        "  {} account(s), {} device(s), {} RADIUS client(s), schema version {}",
        c.accounts, c.devices, c.clients, c.schema_version
    );
    println!(
        "  {} audit row(s), chain ok, head {}",
        c.audit_rows, verified.head
    );
}

/// Appends the restore to the restored database's own audit trail (which also brings its schema up to this
/// motpd's version, as `serve` would).
async fn record_restore(
    config_path: Option<&Path>,
    file: &Path,
    verified: &Verified,
) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::MustExist).await?;
    let recorded = ctx
        .audit(
            "admin.restore",
            None,
            serde_json::json!({
                "file": file.display().to_string(),
                "audit_rows": verified.contents.audit_rows,
                "head": verified.head,
            }),
        )
        .await;
    ctx.stores.store.close().await;
    recorded
}

/// `FILE`'s temporary sibling in the same directory (so the final rename stays on one file system).
fn temporary_beside(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map_or_else(|| "backup".into(), |n| n.to_string_lossy().into_owned());
    file.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Now in UTC, for file names (`20261207T012500Z`).
fn timestamp() -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| now.to_string())
}
