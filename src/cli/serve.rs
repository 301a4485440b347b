//! `motpd serve`: opens (on first start: creates) the key and the database, binds the RADIUS listeners, the
//! enrollment web listener and the monitoring listener (`[admin] listen`, unless off), and runs until SIGINT/SIGTERM, then drains in-flight requests and writes the
//! remaining audit events.

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::context::{Context, KeyMode};
use crate::clock::SystemClock;
use crate::server::node::{self, Node};
use crate::store::redact_url;

pub(super) async fn run(config_path: Option<&Path>) -> anyhow::Result<()> {
    let ctx = Context::open(config_path, KeyMode::CreateForNewDatabase).await?;
    crate::telemetry::init(&ctx.config.log, ctx.config.policy.utc_offset);
    if ctx.created_key {
        tracing::info!(key_file = %ctx.config.secrets.key_file.display(), "created a new key file (back it up apart from the database)");
    }
    let sockets = node::bind_configured(&ctx.config)?;
    let web = node::bind_web(ctx.config.web.listen).await?;
    let admin = match ctx.config.admin.listen {
        Some(address) => Some(node::bind_admin(address).await?),
        None => None,
    };
    let token = CancellationToken::new();
    let mut node = Node::start(
        &ctx.config,
        ctx.stores.clone(),
        ctx.key.clone(),
        Arc::new(SystemClock),
        sockets,
        Some(web),
        token.clone(),
    )
    .await?;
    if let Some(admin) = admin {
        node.serve_admin(admin, token.clone());
    }
    tracing::info!(
        database = %redact_url(&ctx.config.database.url),
        backend = ctx.stores.store.backend(),
        radius = ?ctx.config.radius.listen,
        accounting = ?ctx.config.radius.accounting_listen,
        web = %ctx.config.web.listen,
        admin = %ctx.config.admin.listen.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        mode = ctx.config.radius.mode.as_str(),
        config = %ctx.config_file.as_ref().map_or("built-in defaults".into(), |p| p.display().to_string()),
        "motpd started"
    );
    print_next_steps(&ctx).await?;
    wait_for_shutdown().await;
    tracing::info!("shutting down: draining requests in flight");
    token.cancel();
    let result = node.finish().await;
    ctx.stores.logins.log_summary();
    ctx.stores.store.close().await;
    tracing::info!("stopped");
    crate::telemetry::flush();
    result.map_err(Into::into)
}

async fn print_next_steps(ctx: &Context) -> anyhow::Result<()> {
    let clients = ctx.stores.store.clients().await?;
    // Not `list_accounts`: with 100,000 accounts that alone would leave tens of MiB resident.
    let has_accounts = ctx.stores.store.any_account().await?;
    if !clients.is_empty() && has_accounts {
        return Ok(());
    }
    let config = ctx
        .config_file
        .as_ref()
        .map_or(String::new(), |p| format!(" --config {}", p.display()));
    let motpd = format!("cargo run --release --{config}");
    eprintln!("\nmotpd is running. Next steps, in another terminal in this directory:");
    if clients.is_empty() {
        eprintln!("  1. a RADIUS client (NetScaler, or radclient for a test):");
        eprintln!(
            "     printf '%s' 'testing123-long-secret' | {motpd} client add local --address 127.0.0.1 --secret-stdin"
        );
    }
    if !has_accounts {
        eprintln!("  2. an account and its phone app:");
        eprintln!("     {motpd} user add alice --name 'Alice Chen'");
        eprintln!("     {motpd} user set-password alice   # asks twice, hidden; here: Nurse2024");
        eprintln!(
            "     {motpd} device enroll alice      # scan the QR code with an authenticator app"
        );
        eprintln!("  3. a login (password followed by the app's 6-digit code):");
        eprintln!(
            "     echo 'User-Name=alice,User-Password=Nurse2024123456,Message-Authenticator=0x00' \\"
        );
        eprintln!("       | radclient -x 127.0.0.1:1812 auth testing123-long-secret");
    }
    eprintln!("  New clients are picked up within 10 seconds; no restart needed.\n");
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
