//! `motpd init`: the configuration file, the key file and the database, each created only if absent.

use std::path::Path;

use anyhow::Context as _;

use super::context::{Context, DEFAULT_CONFIG, KeyMode};
use crate::config::EXAMPLE_TOML;
use crate::store::redact_url;

pub(super) async fn run(config_path: Option<&Path>) -> anyhow::Result<()> {
    let path = config_path.unwrap_or(Path::new(DEFAULT_CONFIG));
    let wrote_config = if path.exists() {
        println!("config    {} exists, kept", path.display());
        false
    } else {
        std::fs::write(path, EXAMPLE_TOML)
            .with_context(|| format!("while writing {}", path.display()))?;
        println!("config    wrote {} (every key documented)", path.display());
        true
    };
    let ctx = match Context::open(Some(path), KeyMode::CreateForNewDatabase).await {
        Ok(ctx) => ctx,
        Err(e) => {
            if wrote_config {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    let key_file = ctx.config.secrets.key_file.display();
    if ctx.created_key {
        println!("key       created {key_file} (mode 0600; back it up apart from the database)");
    } else {
        println!(
            "key       {key_file} exists, kept (key id {})",
            ctx.key.key_id()
        );
    }
    println!(
        "database  {} ready ({})",
        redact_url(&ctx.config.database.url),
        ctx.stores.store.backend()
    );
    ctx.audit(
        "admin.init",
        None,
        serde_json::json!({ "key_id": ctx.key.key_id() }),
    )
    .await?;
    ctx.stores.store.close().await;
    println!(
        "\nNext: motpd client add netscaler --address 10.0.0.10 --secret-stdin   (then: motpd serve)"
    );
    Ok(())
}
