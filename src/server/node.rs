//! One motpd node assembled: the engine over the store, the RADIUS client table (reloaded from the store so
//! `motpd client add` takes effect without a restart), the audit writer, the challenge sweeper, the gauges'
//! readings (`watch.rs`), the RADIUS listeners, the enrollment web server and (with [`Node::serve_admin`]) the
//! monitoring listener. `motpd serve` binds the configured addresses and runs a node until a signal; tests bind port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::radius::{ClientTable, RadiusServer, RadiusServerError, RadiusStats, SharedClientTable};
use super::web::WebState;
use super::web::admin::{AdminState, Serving};
use super::web::console::ConsoleState;
use crate::clock::Clock;
use crate::config::{Config, PasswordSource};
use crate::directory::LdapDirectory;
use crate::engine::device_notice::DeviceNotices;
use crate::engine::invitations::Invitations;
use crate::engine::sms::SmsService;
use crate::engine::{AuditSink, Engine, EngineSettings, LiveSettings, PasswordAuthority};
use crate::notify::ReloadableMailer;
use crate::notify::sms::{SmsSendError, sender_from_config};
use crate::runtime::hashing::HashingPool;
use crate::secrets::Keyring;
use crate::store::{Store, StoreError, Stores};

/// How often the client table is re-read from the store.
const CLIENT_RELOAD: Duration = Duration::from_secs(10);
/// How often expired challenges are deleted.
const CHALLENGE_SWEEP: Duration = Duration::from_secs(60);
/// How often the SMS counters are logged (when they changed).
const SMS_SUMMARY: Duration = Duration::from_secs(300);
/// Receive buffer for RADIUS sockets: bursts of thousands of logins must not overflow the kernel queue.
const RECEIVE_BUFFER: usize = 4 << 20;

/// Why a node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A listener could not be bound.
    #[error(
        "cannot listen on {address}: {source} (is another RADIUS server running, or does the port need root?)"
    )]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading the RADIUS clients failed.
    #[error("cannot read the RADIUS clients: {0}")]
    Clients(#[from] StoreError),
    /// The RADIUS server failed.
    #[error(transparent)]
    Radius(#[from] RadiusServerError),
    /// The web server failed.
    #[error("enrollment web server failed: {0}")]
    Web(#[source] std::io::Error),
    /// The monitoring listener failed.
    #[error("admin listener (metrics, health) failed: {0}")]
    Admin(#[source] std::io::Error),
    /// The helpdesk console's listener failed.
    #[error("helpdesk console failed: {0}")]
    Console(#[source] std::io::Error),
    /// The SMS gateway settings cannot be used.
    #[error("cannot set up SMS: {0}")]
    Sms(#[from] SmsSendError),
    /// The `[ldap]` settings cannot be used (the bind password file, the CA file).
    #[error("cannot set up the directory: {0}")]
    Directory(#[from] crate::directory::DirectoryError),
}

/// Who checks passwords, from `accounts.password_source`. Nothing connects here: a directory that is down at
/// start fails the logins that need it (closed), not the start.
pub fn password_authority(config: &Config) -> Result<PasswordAuthority, NodeError> {
    Ok(match config.accounts.password_source {
        PasswordSource::Local => PasswordAuthority::Local,
        PasswordSource::None => PasswordAuthority::Gateway,
        PasswordSource::Ldap => PasswordAuthority::Directory(Arc::new(LdapDirectory::new(
            &config.ldap,
            config.policy.utc_offset,
        )?)),
    })
}

/// Binds the TCP listener of the monitoring endpoints (`[admin] listen`).
pub async fn bind_admin(address: SocketAddr) -> Result<tokio::net::TcpListener, NodeError> {
    bind_web(address).await
}

/// Binds the TCP listener of the enrollment pages.
pub async fn bind_web(address: SocketAddr) -> Result<tokio::net::TcpListener, NodeError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| NodeError::Bind { address, source })
}

/// Binds a UDP socket for RADIUS: large receive buffer, IPv6 sockets IPv6-only (so `0.0.0.0:1812` and
/// `[::]:1812` can both be listed).
pub fn bind_udp(address: SocketAddr) -> Result<UdpSocket, NodeError> {
    let bind = || -> std::io::Result<UdpSocket> {
        let domain = socket2::Domain::for_address(address);
        let socket =
            socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
        if address.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        // Best effort: the kernel caps it at net.core.rmem_max.
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
        let _ = socket.set_send_buffer_size(RECEIVE_BUFFER);
        socket.set_nonblocking(true)?;
        socket.bind(&address.into())?;
        UdpSocket::from_std(socket.into())
    };
    bind().map_err(|source| NodeError::Bind { address, source })
}

/// Binds every configured RADIUS address: (authentication sockets, accounting sockets).
pub fn bind_configured(config: &Config) -> Result<(Vec<UdpSocket>, Vec<UdpSocket>), NodeError> {
    let auth = config
        .radius
        .listen
        .iter()
        .map(|a| bind_udp(*a))
        .collect::<Result<_, _>>()?;
    let accounting = config
        .radius
        .accounting_listen
        .iter()
        .map(|a| bind_udp(*a))
        .collect::<Result<_, _>>()?;
    Ok((auth, accounting))
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    /// The engine (tests flush its audit trail).
    pub engine: Arc<Engine>,
    /// RADIUS counters.
    pub stats: Arc<RadiusStats>,
    /// The client table (tests reload it).
    pub clients: SharedClientTable,
    /// The SMS code service (tests read its counters).
    pub sms: Arc<SmsService>,
    /// What a reload replaces: the engine's and the pages' settings, the mail relay.
    settings: Vec<LiveSettings>,
    mailer: Arc<ReloadableMailer>,
    store: Arc<dyn Store>,
    /// The store and the login path, and the engine's settings: the console's invitations use them.
    stores: Stores,
    engine_settings: LiveSettings,
    key: Arc<Keyring>,
    /// The RADIUS receive loops' beats (the service manager's watchdog).
    pub heartbeat: Arc<super::radius::Heartbeat>,
    radius: tokio::task::JoinHandle<Result<(), RadiusServerError>>,
    web: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    admin: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    console: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// What [`Node::serve_admin`] hands the monitoring listener.
    admin_state: Option<AdminState>,
    background: Vec<tokio::task::JoinHandle<()>>,
    audit_writer: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Starts a node on already-bound sockets (and, if given, the enrollment pages on `web`). It stops when
    /// `token` is cancelled; then call [`Node::finish`].
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        config: &Config,
        stores: Stores,
        key: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        sockets: (Vec<UdpSocket>, Vec<UdpSocket>),
        web: Option<tokio::net::TcpListener>,
        token: CancellationToken,
    ) -> Result<Self, NodeError> {
        if !HashingPool::set_process_priority(config.radius.hashing_priority) {
            tracing::warn!(
                "radius.hashing_priority not applied: this process's hashing threads already run at another priority"
            );
        }
        for relaxation in config.relaxations() {
            tracing::warn!("relaxed setting: {relaxation}");
        }
        let store = stores.store.clone();
        // First: every handle built below (client counters, RADIUS counters) binds to the installed recorder.
        crate::monitoring::install();
        crate::monitoring::set_build_info(store.backend());
        let (sink, audit_writer) = AuditSink::spawn(store.clone());
        let admin_state = AdminState::new(store.clone(), key.clone(), clock.clone(), node_name())
            .with_audit(sink.clone());
        let sms = Arc::new(SmsService::new(
            store.clone(),
            key.clone(),
            sender_from_config(&config.sms)?,
            config.sms.clone(),
            sink.clone(),
        ));
        let (mailer, usable) = ReloadableMailer::new(&config.smtp);
        if let Err(error) = usable {
            tracing::warn!(%error, "no device binding notices and no mail after password changes until the [smtp] settings are fixed");
        }
        let mailer = Arc::new(mailer);
        let notices = Arc::new(
            DeviceNotices::new(mailer.clone(), config.policy.utc_offset).with_sms(sms.clone()),
        );
        let authority = password_authority(config)?;
        let engine_settings = LiveSettings::new(EngineSettings::from_config(config));
        let engine = Engine::new(
            &stores,
            key.clone(),
            clock.clone(),
            engine_settings.clone(),
            sink,
            HashingPool::process(),
        )
        .with_sms(sms.clone())
        .with_notices(notices.clone())
        .with_password_authority(authority.clone());
        let engine = Arc::new(engine);
        let mut settings = vec![engine_settings.clone()];
        let web_serving = Serving::default();
        let web = web.map(|listener| {
            let serving = web_serving.clone();
            let mut state = WebState::new(config, &stores, key.clone(), clock.clone())
                .with_sms(sms.clone())
                .with_mailer(mailer.clone())
                .with_notices(notices);
            state.set_password_authority(authority);
            settings.push(state.settings());
            serving.set(true);
            let serve = super::web::serve(listener, Arc::new(state), token.clone());
            tokio::spawn(async move {
                let served = serve.await;
                serving.set(false);
                served
            })
        });
        let clients = SharedClientTable::new(ClientTable::new(Vec::new()));
        let count = super::radius::reload_clients(store.as_ref(), &key, &clients).await?;
        if count == 0 {
            tracing::warn!(
                "no RADIUS clients are configured: every request is dropped (add one with `motpd client add`)"
            );
        }
        let background = vec![
            super::radius::spawn_client_reload(
                store.clone(),
                key.clone(),
                clients.clone(),
                CLIENT_RELOAD,
                token.clone(),
            ),
            super::watch::spawn(store.clone(), clock.clone(), token.clone()),
            spawn_challenge_sweep(store.clone(), clock.clone(), token.clone()),
            spawn_sms_summary(sms.clone(), token.clone()),
        ];
        let mut background = background;
        background.extend(super::directory_sync::spawn(
            config,
            store.clone(),
            clock.clone(),
            // Unique per process: two nodes on one host must not share the lease.
            format!("{} pid {}", node_name(), std::process::id()),
            token.clone(),
        ));
        let server = RadiusServer::new(engine.clone(), clients.clone(), &config.radius)?;
        let stats = server.stats();
        let heartbeat = server.heartbeat();
        let radius_serving = Serving::default();
        let mut admin_state = admin_state
            .with_in_flight(server.in_flight())
            .with_listener("radius", radius_serving.clone());
        if web.is_some() {
            admin_state = admin_state.with_listener("web", web_serving);
        }
        let (auth, accounting) = sockets;
        radius_serving.set(true);
        let radius = tokio::spawn(async move {
            let served = server.serve(auth, accounting, token).await;
            radius_serving.set(false);
            served
        });
        Ok(Self {
            engine,
            stats,
            clients,
            sms,
            settings,
            mailer,
            store,
            stores,
            engine_settings,
            key,
            heartbeat,
            radius,
            web,
            admin: None,
            console: None,
            admin_state: Some(admin_state),
            background,
            audit_writer,
        })
    }

    /// Applies `config`'s reloadable settings (see [`Config::reload_plan`]) from the next request on, and
    /// re-reads the RADIUS client table. A part that cannot be applied keeps its running settings, with a
    /// warning; requests in flight finish under the settings they started with.
    pub async fn reload(&self, config: &Config) {
        let engine_settings = EngineSettings::from_config(config);
        for handle in &self.settings {
            handle.replace(engine_settings.clone());
        }
        match sender_from_config(&config.sms) {
            Ok(sender) => self.sms.reconfigure(sender, config.sms.clone()),
            Err(error) => {
                tracing::warn!(%error, "cannot use the new [sms] settings; keeping the running ones");
            }
        }
        if let Err(error) = self.mailer.reconfigure(&config.smtp) {
            tracing::warn!(%error, "cannot use the new [smtp] settings; keeping the running ones");
        }
        match super::radius::reload_clients(self.store.as_ref(), &self.key, &self.clients).await {
            Ok(count) => tracing::info!(clients = count, "RADIUS client table reloaded"),
            Err(error) => {
                tracing::warn!(%error, "cannot reload the RADIUS client table; keeping the old one");
            }
        }
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `token` is cancelled (once; a second
    /// call does nothing).
    pub fn serve_admin(&mut self, listener: tokio::net::TcpListener, token: CancellationToken) {
        if let Some(state) = self.admin_state.take() {
            self.admin = Some(tokio::spawn(super::web::admin::serve(
                listener,
                Arc::new(state),
                token,
            )));
        }
    }

    /// Serves the helpdesk console (`[admin_web]` of `config`) on `listener` until `token` is cancelled (once;
    /// a second call does nothing).
    pub fn serve_console(
        &mut self,
        config: &Config,
        listener: tokio::net::TcpListener,
        clock: Arc<dyn Clock>,
        token: CancellationToken,
    ) {
        if self.console.is_some() {
            return;
        }
        let invitations = Invitations::new(
            &self.stores,
            self.key.clone(),
            clock.clone(),
            self.engine_settings.clone(),
            config.web.invite_ttl_hours,
        );
        let state = ConsoleState::new(config, self.store.clone(), self.key.clone(), clock)
            .with_invitations(invitations, self.mailer.clone());
        self.console = Some(tokio::spawn(super::web::console::serve(
            listener,
            Arc::new(state),
            token,
        )));
    }

    /// Waits for the listeners to drain (after the token was cancelled), then writes the remaining audit events.
    pub async fn finish(self) -> Result<(), NodeError> {
        let result = match self.radius.await {
            Ok(result) => result.map_err(NodeError::from),
            Err(join) => Err(NodeError::Radius(RadiusServerError::Task(join))),
        };
        let web = match self.web {
            Some(task) => match task.await {
                Ok(served) => served.map_err(NodeError::Web),
                Err(join) => Err(NodeError::Web(std::io::Error::other(join))),
            },
            None => Ok(()),
        };
        let admin = match self.admin {
            Some(task) => match task.await {
                Ok(served) => served.map_err(NodeError::Admin),
                Err(join) => Err(NodeError::Admin(std::io::Error::other(join))),
            },
            None => Ok(()),
        };
        let console = match self.console {
            Some(task) => match task.await {
                Ok(served) => served.map_err(NodeError::Console),
                Err(join) => Err(NodeError::Console(std::io::Error::other(join))),
            },
            None => Ok(()),
        };
        let result = result.and(web).and(admin).and(console);
        for task in self.background {
            let _ = task.await;
        }
        // Every request has finished: write what the audit writer still holds, then stop it.
        self.engine.flush_audit().await;
        self.audit_writer.abort();
        result
    }
}

/// Logs the SMS counters every [`SMS_SUMMARY`] when they changed (sends, refusals, gateway failures).
fn spawn_sms_summary(
    sms: Arc<SmsService>,
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SMS_SUMMARY);
        let mut last = sms.stats();
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = tick.tick() => {
                    let now = sms.stats();
                    if now != last {
                        tracing::info!(sent = now.sent, rate_limited = now.rate_limited,
                            gateway_failures = now.gateway_failures, refused = now.refused,
                            verified = now.verified, not_verified = now.wrong, "SMS totals");
                        last = now;
                    }
                }
            }
        }
    })
}

fn spawn_challenge_sweep(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHALLENGE_SWEEP);
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = tick.tick() => {
                    let now = clock.now();
                    if let Err(error) = store.purge_expired(now).await {
                        crate::monitoring::store_error("purge");
                        tracing::warn!(%error, "could not delete expired challenges");
                    }
                    if let Err(error) = store.purge_expired_web_sessions(now).await {
                        crate::monitoring::store_error("purge");
                        tracing::warn!(%error, "could not delete expired web sessions");
                    }
                    if let Err(error) = store.purge_expired_admin_sessions(now).await {
                        crate::monitoring::store_error("purge");
                        tracing::warn!(%error, "could not delete expired console sessions");
                    }
                    // SMS sends older than the longest rate-limit window (24 hours) no longer count.
                    if let Err(error) = store.purge_sms(now, now - 2 * 86_400).await {
                        crate::monitoring::store_error("purge");
                        tracing::warn!(%error, "could not delete expired SMS codes");
                    }
                }
            }
        }
    })
}

/// This machine's host name (the node's heartbeat row); `motpd` if it cannot be read.
fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "motpd".to_owned())
}
