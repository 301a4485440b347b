//! What every command needs: the validated configuration, the master key and the open store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::audit::{AuditChain, AuditEvent};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::secrets::{MasterKey, SecretError};
use crate::store::{self, Store, redact_url};

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
    pub(crate) key: Arc<MasterKey>,
    pub(crate) store: Arc<dyn Store>,
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
        let (key, created_key) = match MasterKey::load(&key_file) {
            Ok(key) => (key, false),
            Err(SecretError::KeyFileMissing { .. })
                if key_mode == KeyMode::CreateForNewDatabase =>
            {
                (MasterKey::create_file(&key_file)?, true)
            }
            Err(e) => return Err(e.into()),
        };
        let store = match open_store(&config, &key).await {
            Ok(store) => store,
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
            key: Arc::new(key),
            store,
            created_key,
        })
    }

    /// Now, in Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        SystemClock.now()
    }

    /// Who is acting, for the audit trail: `cli:<login name>`.
    pub(crate) fn actor(&self) -> String {
        let user = std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "unknown".to_owned());
        format!("cli:{user}")
    }

    /// Records one admin action.
    pub(crate) async fn audit(
        &self,
        kind: &str,
        account: Option<&str>,
        detail: serde_json::Value,
    ) -> anyhow::Result<()> {
        let event = AuditEvent::new(self.now(), kind, &self.actor(), account, "ok", detail);
        self.store
            .append_audit(&[event])
            .await
            .context("while writing the audit trail")
    }
}

async fn open_store(config: &Config, key: &MasterKey) -> anyhow::Result<Arc<dyn Store>> {
    let url = &config.database.url;
    let chain = AuditChain::new(key.audit_chain_key());
    let store = store::connect(url, config.database.max_connections, chain)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {} (check database.url, and that the server is running and reachable)",
                redact_url(url)
            )
        })?;
    let candidate = key.key_check_value()?;
    let stored = store.ensure_key_check(&candidate).await?;
    if stored != candidate && !key.matches_key_check(&stored) {
        store.close().await;
        anyhow::bail!(KeyMismatch {
            key_file: config.secrets.key_file.clone(),
            key_id: key.key_id(),
        });
    }
    Ok(store)
}

/// The key file is not the one the database was set up with.
#[derive(Debug, thiserror::Error)]
#[error(
    "key file {} (key id {key_id}) does not match the database: its secrets were sealed with another key. \
     Restore the original key file (secrets.key_file); motpd will not start with the wrong key",
    key_file.display()
)]
pub(crate) struct KeyMismatch {
    key_file: PathBuf,
    key_id: String,
}
