//! One motpd node assembled: the engine over the store, the RADIUS client table (reloaded from the store so
//! `motpd client add` takes effect without a restart), the audit writer, the challenge sweeper, the RADIUS
//! listeners and the enrollment web server. `motpd serve` binds the configured addresses and runs a node until a signal; tests bind port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::radius::{ClientTable, RadiusServer, RadiusServerError, RadiusStats, SharedClientTable};
use super::web::WebState;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::device_notice::DeviceNotices;
use crate::engine::sms::SmsService;
use crate::engine::{AuditSink, Engine, EngineSettings};
use crate::notify::SmtpMailer;
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
    /// The SMS gateway settings cannot be used.
    #[error("cannot set up SMS: {0}")]
    Sms(#[from] SmsSendError),
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
    radius: tokio::task::JoinHandle<Result<(), RadiusServerError>>,
    web: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
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
        let (sink, audit_writer) = AuditSink::spawn(store.clone());
        let sms = Arc::new(SmsService::new(
            store.clone(),
            key.clone(),
            sender_from_config(&config.sms)?,
            config.sms.clone(),
            sink.clone(),
        ));
        let notices = device_notices(config, &sms);
        let mut engine = Engine::new(
            &stores,
            key.clone(),
            clock.clone(),
            EngineSettings::from_config(config),
            sink,
            HashingPool::process(),
        )
        .with_sms(sms.clone());
        if let Some(notices) = &notices {
            engine = engine.with_notices(notices.clone());
        }
        let engine = Arc::new(engine);
        let web = web.map(|listener| {
            let mut state = WebState::new(config, &stores, key.clone(), clock.clone())
                .with_sms(sms.clone());
            match crate::notify::SmtpMailer::new(&config.smtp) {
                Ok(mailer) => state = state.with_mailer(Arc::new(mailer)),
                Err(error) => {
                    tracing::warn!(%error, "no mail notices after password changes: check the [smtp] settings");
                }
            }
            if let Some(notices) = &notices {
                state = state.with_notices(notices.clone());
            }
            tokio::spawn(super::web::serve(listener, Arc::new(state), token.clone()))
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
                key,
                clients.clone(),
                CLIENT_RELOAD,
                token.clone(),
            ),
            spawn_challenge_sweep(store, clock, token.clone()),
            spawn_sms_summary(sms.clone(), token.clone()),
        ];
        let server = RadiusServer::new(engine.clone(), clients.clone(), &config.radius)?;
        let stats = server.stats();
        let (auth, accounting) = sockets;
        let radius = tokio::spawn(server.serve(auth, accounting, token));
        Ok(Self {
            engine,
            stats,
            clients,
            sms,
            radius,
            web,
            background,
            audit_writer,
        })
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
        let result = result.and(web);
        for task in self.background {
            let _ = task.await;
        }
        // Every request has finished: write what the audit writer still holds, then stop it.
        self.engine.flush_audit().await;
        self.audit_writer.abort();
        result
    }
}

/// The binding notices, mailed through `[smtp]` (and sent by SMS when it is on); `None` (with a warning) if those settings cannot be used, so
/// that a broken relay setting never stops logins.
fn device_notices(config: &Config, sms: &Arc<SmsService>) -> Option<Arc<DeviceNotices>> {
    match SmtpMailer::new(&config.smtp) {
        Ok(mailer) => Some(Arc::new(
            DeviceNotices::new(Arc::new(mailer), config.policy.utc_offset).with_sms(sms.clone()),
        )),
        Err(error) => {
            tracing::warn!(%error, "device binding notices are off: check the [smtp] settings");
            None
        }
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
                        tracing::warn!(%error, "could not delete expired challenges");
                    }
                    if let Err(error) = store.purge_expired_web_sessions(now).await {
                        tracing::warn!(%error, "could not delete expired web sessions");
                    }
                    // SMS sends older than the longest rate-limit window (24 hours) no longer count.
                    if let Err(error) = store.purge_sms(now, now - 2 * 86_400).await {
                        tracing::warn!(%error, "could not delete expired SMS codes");
                    }
                }
            }
        }
    })
}
