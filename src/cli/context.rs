//! What every command needs: the validated configuration, the master key and the open store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::audit::{AuditChain, AuditEvent};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::secrets::{Keyring, MasterKey, SecretError};
use crate::store::{self, CacheSettings, Stores, redact_url};

/// The default configuration file, used when it exists and no `--config` is given.
pub(crate) const DEFAULT_CONFIG: &str = "motpd.toml";

/// Whether a missing key file may be created (first start of `init` / `serve` on a new database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyMode {
    /// Admin commands: the key must exist.
    MustExist,
    /// `init` / `serve`: create it when the database is new.
    CreateForNewDatabase,
}

/// An opened installation.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) config: Config,
    /// The config file used, if any.
    pub(crate) config_file: Option<PathBuf>,
    /// Every key this node has; the primary one is the key the database names.
    pub(crate) key: Arc<Keyring>,
    /// The database: every role, and the login path (for the engine's services and `serve`).
    pub(crate) stores: Stores,
    /// Whether this run created the key file.
    pub(crate) created_key: bool,
}

/// Loads and validates the configuration: `--config PATH` must exist; without it `./motpd.toml` is used if
/// present, else the built-in defaults.
pub(crate) fn load_config(path: Option<&Path>) -> anyhow::Result<(Config, Option<PathBuf>)> {
    let (config, file) = match path {
        Some(path) => (Config::load(path)?, Some(path.to_owned())),
        None if Path::new(DEFAULT_CONFIG).exists() => (
            Config::load(Path::new(DEFAULT_CONFIG))?,
            Some(PathBuf::from(DEFAULT_CONFIG)),
        ),
        None => (Config::default(), None),
    };
    config.validate()?;
    Ok((config, file))
}

impl Context {
    /// Loads the configuration and key, and opens (creating or migrating) the database.
    pub(crate) async fn open(
        config_path: Option<&Path>,
        key_mode: KeyMode,
    ) -> anyhow::Result<Self> {
        let (config, config_file) = load_config(config_path)?;
        let key_file = config.secrets.key_file.clone();
        let extra = &config.secrets.extra_key_files;
        let source = || key_file_source(config_file.clone());
        let (key, created_key) = match Keyring::load_with_source(&key_file, extra, source()) {
            Ok(key) => (key, false),
            Err(SecretError::KeyFileMissing { path })
                if key_mode == KeyMode::CreateForNewDatabase && path == key_file =>
            {
                MasterKey::create_file(&key_file)?;
                (Keyring::load_with_source(&key_file, extra, source())?, true)
            }
            Err(e) => return Err(e.into()),
        };
        let key = Arc::new(key);
        if key_mode == KeyMode::MustExist {
            missing_database(&config.database.url)?;
        }
        let stores = match open_store(&config, &key).await {
            Ok(stores) => stores,
            Err(e) => {
                if created_key {
                    // Nothing was sealed with it; leave no stray key behind.
                    let _ = std::fs::remove_file(&key_file);
                }
                return Err(e);
            }
        };
        Ok(Self {
            config,
            config_file,
            key,
            stores,
            created_key,
        })
    }

    /// Now, in Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        SystemClock.now()
    }

    /// Who is acting, for the audit trail: `cli:<login name>(uid N)`, from the kernel, never from the
    /// environment (which the caller sets as they like). See [`os_actor`].
    pub(crate) fn actor(&self) -> String {
        os_actor()
    }

    /// Records one admin action.
    pub(crate) async fn audit(
        &self,
        kind: &str,
        account: Option<&str>,
        detail: serde_json::Value,
    ) -> anyhow::Result<()> {
        let event = AuditEvent::new(self.now(), kind, &self.actor(), account, "ok", detail);
        self.stores
            .store
            .append_audit(&[event])
            .await
            .context("while writing the audit trail")
    }

    /// Records a bulk action as one row per account (`(account, detail)`), appended together.
    pub(crate) async fn audit_each(
        &self,
        kind: &str,
        rows: impl IntoIterator<Item = (String, serde_json::Value)>,
    ) -> anyhow::Result<()> {
        let (now, actor) = (self.now(), self.actor());
        let events: Vec<AuditEvent> = rows
            .into_iter()
            .map(|(account, detail)| {
                AuditEvent::new(now, kind, &actor, Some(&account), "ok", detail)
            })
            .collect();
        if events.is_empty() {
            return Ok(());
        }
        self.stores
            .store
            .append_audit(&events)
            .await
            .context("while writing the audit trail")
    }
}

/// An admin command names an SQLite file that does not exist: a typo in `database.url` (or the wrong working
/// directory) would otherwise create a new, empty database and answer from it.
fn missing_database(url: &str) -> anyhow::Result<()> {
    match sqlite_file(url) {
        Some(path) => missing_database_file(&path),
        None => Ok(()),
    }
}

/// The SQLite file `path` that an admin command names does not exist (see [`missing_database`]).
pub(crate) fn missing_database_file(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    Err(anyhow::Error::new(crate::config::ConfigError::Invalid(
        vec![crate::config::Problem {
            key: "database.url",
            message: format!(
                "the database file {} does not exist (check database.url and the working directory; \
                 `motpd init` or `motpd serve` creates a new one)",
                path.display()
            ),
        }],
    )))
}

/// The file of an `sqlite://PATH` (or `sqlite:PATH`) URL; `None` for an in-memory or non-SQLite database.
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// The operating-system user behind this command: the login user the kernel recorded for the session
/// (`/proc/self/loginuid`, which `sudo` and `su` keep), else the real user id; named from `/etc/passwd`.
pub(crate) fn os_actor() -> String {
    let login_uid = std::fs::read_to_string("/proc/self/loginuid")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|&uid| uid != u32::MAX);
    let uid = login_uid.or_else(real_uid);
    match uid {
        Some(uid) => format!(
            "cli:{}(uid {uid})",
            user_name(uid).unwrap_or_else(|| "-".to_owned())
        ),
        None => "cli:unknown".to_owned(),
    }
}

/// The real user id, from `/proc/self/status` (`Uid: real effective saved fs`).
fn real_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
}

/// The name of `uid` in `/etc/passwd`.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    })
}

/// Where a running node looks for key files again when it meets an unknown key id: the `[secrets]` files of
/// the configuration file as it is on disk then (so a key file listed after the start is found).
fn key_file_source(config_file: Option<PathBuf>) -> Option<crate::secrets::FileSource> {
    let path = config_file?;
    Some(Box::new(move || {
        Config::load(&path)
            .map(|config| {
                let mut files = vec![config.secrets.key_file];
                files.extend(config.secrets.extra_key_files);
                files
            })
            .unwrap_or_default()
    }))
}

async fn open_store(config: &Config, key: &Arc<Keyring>) -> anyhow::Result<Stores> {
    let url = &config.database.url;
    let chain = AuditChain::keyring(key.clone());
    let cache = CacheSettings {
        ttl_seconds: config.database.cache_seconds,
        capacity: config.database.cache_entries,
    };
    let stores = store::open(
        url,
        config.database.max_connections,
        chain,
        Arc::new(SystemClock),
        cache,
    )
    .await
        .with_context(|| {
            format!(
                "cannot open the database {} (check database.url, and that the server is running and reachable)",
                redact_url(url)
            )
        })?;
    let candidate = key.primary().key_check_value()?;
    let stored = stores.store.ensure_key_check(&candidate).await?;
    // The database names the key that seals from now on; the keyring must hold it.
    let adopted = key.adopt_key_check(&stored);
    if let Err(error) = adopted {
        stores.store.close().await;
        let named = crate::secrets::sealed_key_id(&stored).map(hex::encode);
        anyhow::bail!(KeyMismatch {
            key_file: config.secrets.key_file.clone(),
            key_ids: key
                .keys()
                .iter()
                .map(|k| k.key_id())
                .collect::<Vec<_>>()
                .join(", "),
            database_key: named.unwrap_or_else(|| "(from before key ids)".to_owned()),
            detail: error.to_string(),
        });
    }
    Ok(stores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_are_found_in_urls() {
        assert_eq!(
            sqlite_file("sqlite://motpd.db"),
            Some(PathBuf::from("motpd.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/motpd/motpd.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/motpd/motpd.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://x.db?mode=memory"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }

    #[test]
    fn the_actor_comes_from_the_kernel_not_the_environment() {
        let actor = os_actor();
        assert!(
            actor.starts_with("cli:") && actor.contains("(uid "),
            "{actor}"
        );
    }
}

/// The key file is not the one the database was set up with.
#[derive(Debug, thiserror::Error)]
#[error(
    "key file {} (this node's key ids: {key_ids}) does not match the database, which uses key {database_key}: \
     its secrets were sealed with another key. Restore the original key file (secrets.key_file), or after \
     `motpd secrets rotate` on another node copy the new key file here and point secrets.key_file (or \
     secrets.extra_key_files) at it; motpd will not start with the wrong key ({detail})",
    key_file.display()
)]
pub(crate) struct KeyMismatch {
    key_file: PathBuf,
    key_ids: String,
    database_key: String,
    detail: String,
}
