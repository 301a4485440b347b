//! The RADIUS UDP transport: the only code that owns RADIUS sockets.
//!
//! [`serve`] (or [`RadiusServer::serve`]) takes sockets that are already bound (IPv4 and IPv6; the CLI binds
//! them from `radius.listen` / `radius.accounting_listen`, tests bind port 0), the engine behind
//! [`AccessHandler`], the shared [`ClientTable`] and a [`CancellationToken`]. One receive loop per socket
//! `select!`s on `recv_from` and the token. Per datagram (`handle.rs`, top to bottom):
//! 1. look up the client by source address (unknown: dropped, logged at most once per source per 10 s);
//! 2. decode the header; anything but a request this port serves is dropped (never reflected);
//! 3. verify Message-Authenticator (bad: dropped; absent where the client requires it, or on Status-Server:
//!    dropped) and the Accounting-Request Request Authenticator, before anything is answered from the cache;
//! 4. the duplicate cache (RFC 5080): a verified retransmission gets the cached bytes again, or is dropped while
//!    the first copy is still being evaluated;
//! 5. Status-Server (RFC 5997) is answered without the engine;
//! 6. an Access-Request whose largest possible reply (the bounded worst case of what a decision adds, plus the
//!    Proxy-States echoed back) exceeds 4096 octets is dropped before the engine runs, so nothing is used up;
//! 7. build the [`crate::engine::AccessRequest`] / [`crate::engine::AccountingRecord`] and hand it to a task, within `max_in_flight`
//!    (beyond it packets are shed, not queued) and a per-request timeout;
//! 8. (`answer.rs`) encode Accept/Reject/Challenge (Message-Authenticator first) or, on an engine failure,
//!    nothing or a Reject as `on_store_error` says; Accounting-Response only once recorded;
//! 9. cache the bytes, then send them.
//!
//! On cancellation the loops stop receiving, wait for the requests in flight up to a deadline, and [`serve`]
//! returns. It decides nothing about users (that is [`crate::engine`]) and knows no SQL (the client table is
//! loaded through [`ClientSource`]). It never logs passwords, State values or secrets.
//!
//! Not done here: binding and buffer sizes. The caller binds the sockets (`server::node::bind_udp` uses `socket2`
//! for 4 MiB receive and send buffers and IPv6-only sockets) and hands them over.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod answer;
mod clients;
mod duplicates;
mod exported;
mod fuzzing;
mod handle;
mod heartbeat;
mod limiter;
mod reply;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use clients::{
    Client, ClientSource, ClientTable, SharedClientTable, reload_clients, spawn_client_reload,
};
pub use exported::ClientDecisions;
pub use heartbeat::{BEAT, Heartbeat, Seen};
pub use stats::{RadiusStats, StatsSnapshot};

use crate::config::RadiusConfig;
use crate::engine::AccessHandler;
use crate::radius::MAX_PACKET_LEN;
use duplicates::DuplicateCache;
use handle::{Action, Inner, Role};
use limiter::LogLimiter;
use reply::ReplyShape;

/// Why the RADIUS server could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RadiusServerError {
    /// No authentication socket was given.
    #[error("no RADIUS socket to serve on; set radius.listen")]
    NoSockets,
    /// `radius.group_attribute.attribute` names no known placement.
    #[error(
        "radius.group_attribute.attribute {0:?} is not one of \"vendor\", \"class\", \"filter-id\", \"none\""
    )]
    GroupAttribute(String),
    /// A socket has no local address (not bound).
    #[error("a RADIUS socket is not bound: {0}")]
    LocalAddr(#[source] std::io::Error),
    /// A receive loop panicked (a bug); the other loops were stopped.
    #[error("a RADIUS receive loop failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// Tuning that is not in the config file (tests shorten the times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// How long the engine may take for one request before it counts as an infrastructure failure.
    pub request_timeout: Duration,
    /// How long shutdown waits for the requests in flight.
    pub shutdown_deadline: Duration,
    /// Most answers kept in the duplicate cache (the oldest go first).
    pub duplicate_capacity: usize,
    /// How often expired cache entries and log-limiter lines are swept.
    pub sweep_interval: Duration,
    /// How often the counters are logged (only when they changed).
    pub summary_interval: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            shutdown_deadline: Duration::from_secs(5),
            duplicate_capacity: 65_536,
            sweep_interval: Duration::from_secs(5),
            summary_interval: Duration::from_secs(300),
        }
    }
}

/// The number of requests a server is evaluating (see [`RadiusServer::in_flight`]).
#[derive(Debug, Clone)]
pub struct InFlight {
    permits: Arc<Semaphore>,
    capacity: usize,
}

impl InFlight {
    /// Requests holding an evaluation slot now.
    pub fn now(&self) -> usize {
        self.capacity
            .saturating_sub(self.permits.available_permits())
    }
}

/// How often a log line about one source and one kind of problem may repeat.
const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Sources the log limiter remembers at most.
const LOG_LIMITER_CAPACITY: usize = 4096;

/// A RADIUS server ready to serve: the engine, the clients, the `[radius]` settings and its counters.
#[derive(Debug)]
pub struct RadiusServer {
    inner: Arc<Inner>,
    options: ServerOptions,
    heartbeat: Arc<Heartbeat>,
}

impl RadiusServer {
    /// A server with the default [`ServerOptions`].
    pub fn new(
        handler: Arc<dyn AccessHandler>,
        clients: SharedClientTable,
        config: &RadiusConfig,
    ) -> Result<Self, RadiusServerError> {
        Self::with_options(handler, clients, config, ServerOptions::default())
    }

    /// A server with explicit options.
    pub fn with_options(
        handler: Arc<dyn AccessHandler>,
        clients: SharedClientTable,
        config: &RadiusConfig,
        options: ServerOptions,
    ) -> Result<Self, RadiusServerError> {
        let ttl = Duration::from_secs(config.duplicate_cache_seconds);
        let inner = Inner {
            handler,
            clients,
            mode: config.mode,
            on_store_error: config.on_store_error,
            language: config.language,
            shape: ReplyShape::from_config(config)?,
            request_timeout: options.request_timeout,
            cache: DuplicateCache::new(ttl, options.request_timeout, options.duplicate_capacity),
            limiter: LogLimiter::new(LOG_INTERVAL, LOG_LIMITER_CAPACITY),
            stats: Arc::default(),
            in_flight: Arc::new(Semaphore::new(
                config.max_in_flight.clamp(1, Semaphore::MAX_PERMITS),
            )),
        };
        Ok(Self {
            inner: Arc::new(inner),
            options,
            heartbeat: Arc::default(),
        })
    }

    /// The live counters (keep the `Arc` to read them while or after the server runs).
    pub fn stats(&self) -> Arc<RadiusStats> {
        self.inner.stats.clone()
    }

    /// The receive loops' beats, for the service manager's watchdog.
    pub fn heartbeat(&self) -> Arc<Heartbeat> {
        self.heartbeat.clone()
    }

    /// Reads how many requests are being evaluated, while the server runs (the in-flight gauge, sampled when
    /// `/metrics` is scraped: nothing on the packet path).
    pub fn in_flight(&self) -> InFlight {
        InFlight {
            permits: self.inner.in_flight.clone(),
            capacity: self.inner.in_flight.available_permits(),
        }
    }

    /// Serves `auth_sockets` (Access-Request, Status-Server) and `accounting_sockets` (Accounting-Request,
    /// Status-Server) until `token` is cancelled, then drains the requests in flight (up to the shutdown
    /// deadline) and returns.
    pub async fn serve(
        self,
        auth_sockets: Vec<UdpSocket>,
        accounting_sockets: Vec<UdpSocket>,
        token: CancellationToken,
    ) -> Result<(), RadiusServerError> {
        if auth_sockets.is_empty() {
            return Err(RadiusServerError::NoSockets);
        }
        let auth = local_addrs(&auth_sockets)?;
        let accounting = local_addrs(&accounting_sockets)?;
        tracing::info!(
            ?auth,
            ?accounting,
            clients = self.inner.clients.load().len(),
            "RADIUS server listening"
        );
        let token = token.child_token();
        let mut loops = self.spawn_loops(auth_sockets, accounting_sockets, &token);
        let mut result = Ok(());
        while let Some(joined) = loops.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "a RADIUS receive loop failed; stopping the server");
                token.cancel();
                result = Err(RadiusServerError::Task(error));
            }
        }
        self.inner.stats.snapshot().log("RADIUS server stopped");
        result
    }

    /// One receive loop per socket, and the housekeeping task.
    fn spawn_loops(
        &self,
        auth_sockets: Vec<UdpSocket>,
        accounting_sockets: Vec<UdpSocket>,
        token: &CancellationToken,
    ) -> JoinSet<()> {
        let auth = auth_sockets.into_iter().map(|socket| (socket, Role::Auth));
        let accounting = accounting_sockets
            .into_iter()
            .map(|socket| (socket, Role::Accounting));
        let deadline = self.options.shutdown_deadline;
        let mut loops = JoinSet::new();
        for (socket, role) in auth.chain(accounting) {
            let (inner, token) = (self.inner.clone(), token.clone());
            let beat = self.heartbeat.register();
            loops.spawn(receive_loop(
                inner,
                Arc::new(socket),
                role,
                token,
                deadline,
                beat,
            ));
        }
        loops.spawn(housekeeping(
            self.inner.clone(),
            self.options.clone(),
            token.clone(),
        ));
        loops
    }
}

/// Serves with default options: see [`RadiusServer::serve`].
pub async fn serve(
    auth_sockets: Vec<UdpSocket>,
    accounting_sockets: Vec<UdpSocket>,
    handler: Arc<dyn AccessHandler>,
    clients: SharedClientTable,
    config: &RadiusConfig,
    token: CancellationToken,
) -> Result<(), RadiusServerError> {
    RadiusServer::new(handler, clients, config)?
        .serve(auth_sockets, accounting_sockets, token)
        .await
}

fn local_addrs(sockets: &[UdpSocket]) -> Result<Vec<SocketAddr>, RadiusServerError> {
    sockets
        .iter()
        .map(|socket| socket.local_addr().map_err(RadiusServerError::LocalAddr))
        .collect()
}

/// Receives on one socket until cancelled; the evaluations it starts live in its `JoinSet`, reaped as it goes
/// and drained (up to `deadline`) at the end.
async fn receive_loop(
    inner: Arc<Inner>,
    socket: Arc<UdpSocket>,
    role: Role,
    token: CancellationToken,
    deadline: Duration,
    beat: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut buffer = vec![0u8; MAX_PACKET_LEN];
    let mut tasks = JoinSet::new();
    let mut beats = tokio::time::interval(heartbeat::BEAT);
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = token.cancelled() => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => report(done),
            _ = beats.tick() => {
                beat.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            received = socket.recv_from(&mut buffer) => match received {
                Ok((len, src)) => {
                    let datagram = buffer.get(..len).unwrap_or_default();
                    on_datagram(&inner, datagram, src, role, &socket, &mut tasks).await;
                }
                Err(error) => {
                    tracing::warn!(%error, "RADIUS receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    drain(&mut tasks, deadline).await;
}

/// One datagram: decide in its span, then drop, send, or start the evaluation.
async fn on_datagram(
    inner: &Arc<Inner>,
    datagram: &[u8],
    src: SocketAddr,
    role: Role,
    socket: &Arc<UdpSocket>,
    tasks: &mut JoinSet<()>,
) {
    // At debug level: the fmt layer formats a span's fields into a string of its own, a cost paid on every
    // datagram at the default level. The warnings and errors of this module carry their client and source
    // as fields of their own instead; `log.level = "debug"` adds the span to every line.
    let empty = tracing::field::Empty;
    let span = tracing::debug_span!("radius", client = empty, %src, id = empty, user = empty);
    match span.in_scope(|| inner.handle_datagram(datagram, src, role, Instant::now())) {
        Action::Drop => {}
        Action::Send(bytes) => {
            answer::send(socket, &bytes, src, inner)
                .instrument(span)
                .await
        }
        Action::Evaluate(job) => {
            tasks.spawn(inner.clone().answer(*job, socket.clone()).instrument(span));
        }
    }
}

fn report(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done
        && error.is_panic()
    {
        tracing::error!(%error, "a RADIUS request task panicked");
    }
}

/// Waits for the evaluations in flight, up to `deadline`; the rest are aborted.
async fn drain(tasks: &mut JoinSet<()>, deadline: Duration) {
    let waited = tokio::time::timeout(deadline, async {
        while let Some(done) = tasks.join_next().await {
            report(done);
        }
    })
    .await;
    if waited.is_err() {
        tracing::warn!(
            abandoned = tasks.len(),
            ?deadline,
            "requests still in flight at shutdown were abandoned"
        );
        tasks.shutdown().await;
    }
}

/// Sweeps the duplicate cache and the log limiter, and logs the counters now and then.
async fn housekeeping(inner: Arc<Inner>, options: ServerOptions, token: CancellationToken) {
    let mut sweep = tokio::time::interval(options.sweep_interval);
    let mut summary = tokio::time::interval(options.summary_interval);
    summary.tick().await;
    let mut last = inner.stats.snapshot();
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            _ = sweep.tick() => {
                let now = Instant::now();
                inner.cache.sweep(now);
                inner.limiter.sweep(now);
            }
            _ = summary.tick() => {
                let now = inner.stats.snapshot();
                if now != last {
                    now.log("RADIUS counters");
                    last = now;
                }
            }
        }
    }
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
