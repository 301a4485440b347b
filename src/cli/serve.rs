//! `motpd serve`: opens (on first start: creates) the key and the database, then runs until SIGINT/SIGTERM.

use std::path::Path;

use super::context::{Context, KeyMode};
use crate::store::{AccountFilter, redact_url};

pub(super) async fn run(config_path: Option<&Path>) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::CreateForNewDatabase).await?;
    crate::telemetry::init(&ctx.config.log);
    if ctx.created_key {
        tracing::info!(key_file = %ctx.config.secrets.key_file.display(), "created a new key file (back it up)");
    }
    tracing::info!(
        database = %redact_url(&ctx.config.database.url),
        backend = ctx.store.backend(),
        config = %ctx.config_file.as_ref().map_or("built-in defaults".into(), |p| p.display().to_string()),
        "motpd started"
    );
    print_next_steps(&ctx).await?;
    wait_for_shutdown().await;
    tracing::info!("shutting down");
    ctx.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn print_next_steps(ctx: &Context) -> anyhow::Result<()> {
    let clients = ctx.store.clients().await?;
    let accounts = ctx.store.list_accounts(AccountFilter::default()).await?;
    let config = ctx
        .config_file
        .as_ref()
        .map_or(String::new(), |p| format!(" --config {}", p.display()));
    if clients.is_empty() || accounts.is_empty() {
        eprintln!("\nNext steps (in another terminal, in this directory):");
        if clients.is_empty() {
            eprintln!(
                "  printf '%s' 'a-long-shared-secret' | motpd{config} client add netscaler --address 127.0.0.1 --secret-stdin"
            );
        }
        if accounts.is_empty() {
            eprintln!(
                "  printf '%s' 'Passw0rd1' | motpd{config} user add alice --name 'Alice Chen' --password-stdin"
            );
            eprintln!(
                "  motpd{config} device enroll alice        # prints a QR code for the authenticator app"
            );
        }
        eprintln!("  (with cargo: cargo run --release -- <command>)\n");
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn wait_for_shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
