//! `motpd serve`: opens (on first start: creates) the key and the database, binds the RADIUS listeners, the
//! enrollment web listener, the monitoring listener (`[admin] listen`, unless off) and the helpdesk console
//! (`[admin_web] listen`, if on), and runs until
//! SIGINT/SIGTERM, then drains in-flight requests and writes the remaining audit events. SIGHUP reloads the
//! configuration (`reload.rs`).

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::context::{Context, KeyMode};
use super::db_lock;
use crate::clock::SystemClock;
use crate::runtime::systemd;
use crate::server::node::{self, Node};
use crate::server::radius::Seen;
use crate::store::redact_url;

pub(super) async fn run(config_path: Option<&Path>) -> anyhow::Result<()> {
    let _database_lock = lock_database(config_path)?;
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
    let console = match ctx.config.admin_web.listen {
        Some(address) => Some(node::bind_web(address).await?),
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
    if let Some(console) = console {
        node.serve_console(&ctx.config, console, Arc::new(SystemClock), token.clone());
    }
    tracing::info!(
        database = %redact_url(&ctx.config.database.url),
        backend = ctx.stores.store.backend(),
        radius = ?ctx.config.radius.listen,
        accounting = ?ctx.config.radius.accounting_listen,
        web = %ctx.config.web.listen,
        admin = %ctx.config.admin.listen.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        console = %ctx.config.admin_web.listen.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        mode = ctx.config.radius.mode.as_str(),
        config = %ctx.config_file.as_ref().map_or("built-in defaults".into(), |p| p.display().to_string()),
        "motpd started"
    );
    let notifier = service_ready(&ctx, &node, &token);
    print_next_steps(&ctx).await?;
    serve_until_shutdown(&ctx, &node, notifier.as_deref()).await;
    tracing::info!("shutting down: draining requests in flight");
    if let Some(notifier) = &notifier {
        notifier.notify("STOPPING=1\nSTATUS=draining requests in flight");
    }
    token.cancel();
    let result = node.finish().await;
    ctx.stores.logins.log_summary();
    ctx.stores.store.close().await;
    tracing::info!("stopped");
    crate::telemetry::flush();
    result.map_err(Into::into)
}

/// A shared lock on the SQLite database's lock file for the server's lifetime: `motpd restore` refuses to
/// replace a database in use (`db_lock.rs`). None for PostgreSQL, or when the database's directory is missing
/// (opening the store then says so).
fn lock_database(config_path: Option<&Path>) -> anyhow::Result<Option<db_lock::DatabaseLock>> {
    let (config, _) = super::context::load_config(config_path)?;
    let Some(database) = super::context::sqlite_file(&config.database.url) else {
        return Ok(None);
    };
    let directory = database.parent().filter(|p| !p.as_os_str().is_empty());
    if directory.is_some_and(|d| !d.is_dir()) {
        return Ok(None);
    }
    Ok(Some(db_lock::shared(&database)?))
}

/// Under systemd (`Type=notify`): says READY (every socket is bound and the store open by now) and starts the
/// watchdog pings, which follow the RADIUS receive loops' beats.
fn service_ready(
    ctx: &Context,
    node: &Node,
    token: &CancellationToken,
) -> Option<Arc<systemd::Notifier>> {
    let notifier = Arc::new(systemd::Notifier::from_env()?);
    notifier.notify(&format!(
        "READY=1\nSTATUS=serving RADIUS on {:?}, {} database",
        ctx.config.radius.listen,
        ctx.stores.store.backend()
    ));
    if let Some(interval) = systemd::watchdog_interval() {
        let heartbeat = node.heartbeat.clone();
        let mut seen = Seen::default();
        systemd::spawn_watchdog(
            notifier.clone(),
            interval,
            move || heartbeat.all_alive_since(&mut seen),
            token.clone(),
        );
    }
    Some(notifier)
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

/// Serves until SIGINT or SIGTERM, reloading the configuration on each SIGHUP.
async fn serve_until_shutdown(ctx: &Context, node: &Node, notifier: Option<&systemd::Notifier>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the configuration is not reloadable");
            wait_for_shutdown().await;
            return;
        };
        let mut running = ctx.config.clone();
        let shutdown = wait_for_shutdown();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = hangup.recv() => {
                    if let Some(notifier) = notifier {
                        notifier.notify("RELOADING=1\nSTATUS=reloading the configuration");
                    }
                    running = super::reload::reload(ctx.config_file.as_deref(), &running, node).await;
                    if let Some(notifier) = notifier {
                        notifier.notify("READY=1\nSTATUS=serving");
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (node, ctx, notifier);
        wait_for_shutdown().await;
    }
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
