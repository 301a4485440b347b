//! The pages' HTTP/1.1 server: the accept loop, one task per connection, and the limits that keep slow or
//! numerous connections from holding the pages: a header read time-out (`web.header_timeout_seconds`, which also
//! closes idle kept-alive connections), a body read time-out (`web.body_timeout_seconds`, answered 408), a cap of
//! open connections per client address (`web.max_connections_per_address`; a trusted proxy's connections count
//! only in the total) and in all (`web.max_connections`). A connection over a cap is closed at once, counted, and
//! reported in at most one log line a minute. On cancellation the listener closes, idle connections end, and
//! requests in flight finish.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::WebConfig;
use crate::texts::Phrase;

/// The largest request body read (the forms are a few hundred bytes).
const MAX_BODY_BYTES: usize = 64 * 1024;
/// At most one "connections refused" line per this long.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// The pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Open connections per address and in all.
#[derive(Debug)]
pub(super) struct ConnectionLimits {
    per_address: usize,
    total: usize,
    trusted_proxies: Vec<IpNet>,
    open: Mutex<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    by_address: HashMap<IpAddr, usize>,
    total: usize,
    /// Refused since the last log line.
    refused: u64,
    /// Refused since the server started.
    refused_total: u64,
    last_report: Option<Instant>,
}

/// One open connection, counted until dropped.
#[derive(Debug)]
pub(super) struct Permit {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    /// The caps of `web`.
    pub(super) fn new(web: &WebConfig) -> Arc<Self> {
        Arc::new(Self {
            per_address: usize::try_from(web.max_connections_per_address).unwrap_or(usize::MAX),
            total: usize::try_from(web.max_connections).unwrap_or(usize::MAX),
            trusted_proxies: web.trusted_proxies.clone(),
            open: Mutex::new(OpenConnections::default()),
        })
    }

    /// Counts a new connection from `ip`; `None` if it is over a cap (then it is counted as refused and, at
    /// most once per [`REFUSAL_LOG_INTERVAL`], logged).
    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Option<Permit> {
        let ip = super::net::canonical(ip);
        let exempt = self.trusted_proxies.iter().any(|net| net.contains(&ip));
        let Ok(mut open) = self.open.lock() else {
            return None;
        };
        let from_ip = open.by_address.get(&ip).copied().unwrap_or(0);
        if open.total >= self.total || (!exempt && from_ip >= self.per_address) {
            open.refused = open.refused.saturating_add(1);
            open.refused_total = open.refused_total.saturating_add(1);
            let due = open
                .last_report
                .is_none_or(|at| now.saturating_duration_since(at) >= REFUSAL_LOG_INTERVAL);
            if due {
                tracing::warn!(
                    refused = open.refused,
                    refused_total = open.refused_total,
                    client = %ip,
                    open = open.total,
                    "web connections refused: over web.max_connections_per_address or web.max_connections"
                );
                open.refused = 0;
                open.last_report = Some(now);
            }
            return None;
        }
        open.total = open.total.saturating_add(1);
        open.by_address.insert(ip, from_ip.saturating_add(1));
        Some(Permit {
            limits: self.clone(),
            ip,
        })
    }

    /// Connections refused since the start.
    pub(super) fn refused_total(&self) -> u64 {
        self.open.lock().map_or(0, |open| open.refused_total)
    }

    /// Open connections from `ip`.
    #[cfg(test)]
    fn open_from(&self, ip: IpAddr) -> usize {
        self.open
            .lock()
            .map_or(0, |open| open.by_address.get(&ip).copied().unwrap_or(0))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Ok(mut open) = self.limits.open.lock() else {
            return;
        };
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_address.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_address.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` under `web`'s limits until `token` is cancelled, then lets the connections
/// finish their requests.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    web: &WebConfig,
    token: CancellationToken,
) -> std::io::Result<()> {
    let limits = ConnectionLimits::new(web);
    let header_timeout = Duration::from_secs(u64::from(web.header_timeout_seconds));
    let body_timeout = Duration::from_secs(u64::from(web.body_timeout_seconds));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "web accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        // Dropping the stream closes it at once.
        let Some(permit) = limits.admit(peer.ip(), Instant::now()) else {
            continue;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            handle(app.clone(), peer, body_timeout, request)
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let token = token.clone();
        tracker.spawn(async move {
            let _permit = permit;
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = token.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, client = %peer, "web connection ended");
            }
        });
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    let refused = limits.refused_total();
    if refused > 0 {
        tracing::info!(
            refused,
            "web connections refused over the connection caps since the start"
        );
    }
    Ok(())
}

/// One request: its body read within `body_timeout`, then the router with the peer's address.
async fn handle(
    app: Router,
    peer: SocketAddr,
    body_timeout: Duration,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let read =
        tokio::time::timeout(body_timeout, Limited::new(body, MAX_BODY_BYTES).collect()).await;
    let bytes: Bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            return Ok(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                Phrase::RequestTooLarge,
            ));
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, client = %peer, "web request body unreadable");
            return Ok(plain(StatusCode::BAD_REQUEST, Phrase::RequestUnreadable));
        }
        Err(_) => {
            tracing::debug!(client = %peer, "web request body not received in time");
            return Ok(plain(StatusCode::REQUEST_TIMEOUT, Phrase::RequestTimedOut));
        }
    };
    parts.extensions.insert(ConnectInfo(peer));
    let request = Request::from_parts(parts, Body::from(bytes));
    app.oneshot(request).await
}

/// A short bilingual text answer that closes the connection.
fn plain(status: StatusCode, text: Phrase) -> Response<Body> {
    let mut response = Response::new(Body::from(text.bilingual_lines()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits(per_address: u32, total: u32, proxies: &[&str]) -> Arc<ConnectionLimits> {
        let web = WebConfig {
            max_connections_per_address: per_address,
            max_connections: total,
            trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
            ..WebConfig::default()
        };
        ConnectionLimits::new(&web)
    }

    #[test]
    fn connections_are_capped_per_address_and_in_all() {
        let l = limits(2, 3, &["10.9.0.0/16"]);
        let now = Instant::now();
        let a: IpAddr = "10.1.2.3".parse().unwrap();
        let b: IpAddr = "10.1.2.4".parse().unwrap();
        let first = l.admit(a, now).unwrap();
        let _second = l.admit(a, now).unwrap();
        assert!(l.admit(a, now).is_none(), "over the per-address cap");
        let _third = l.admit(b, now).unwrap();
        assert!(l.admit(b, now).is_none(), "over the total");
        drop(first);
        assert_eq!(l.open_from(a), 1);
        assert!(
            l.admit(a, now).is_some(),
            "a closed connection frees its place"
        );
        // Mapped and plain IPv4 are one address.
        drop(_third);
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        let _fourth = l.admit(mapped, now).unwrap();
        assert_eq!(l.open_from(a), 2);
        assert!(l.admit(a, now).is_none());
        assert_eq!(l.refused_total(), 3);
    }

    #[test]
    fn a_trusted_proxy_counts_only_in_the_total() {
        let l = limits(1, 3, &["10.9.0.0/16"]);
        let now = Instant::now();
        let proxy: IpAddr = "10.9.0.1".parse().unwrap();
        let permits: Vec<_> = (0..3).map(|_| l.admit(proxy, now).unwrap()).collect();
        assert!(l.admit(proxy, now).is_none());
        drop(permits);
        assert_eq!(l.open_from(proxy), 0);
    }
}
