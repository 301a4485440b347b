//! The monitoring listener (`[admin] listen`, loopback by default), apart from the enrollment pages so that
//! Prometheus and the load balancer never share a port with staff:
//! - `GET /metrics`: every metric in the Prometheus text format (`crate::monitoring`); the in-flight and
//!   audit-queue gauges are sampled at the scrape.
//! - `GET /healthz`: `200 ok` while the process runs.
//! - `GET /readyz`: `200` when the database answers, takes a write and holds the key check value of the key in
//!   use, and every listener is serving; else `503` with one line per failed check (`ready.rs`).
//!
//! It decides nothing and changes nothing but the node's heartbeat row.

mod ready;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::engine::AuditSink;
use crate::secrets::Keyring;
use crate::server::radius::InFlight;
use crate::store::Store;

/// The content type of the Prometheus text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a listener is serving; set by the node around its task.
#[derive(Debug, Clone, Default)]
pub struct Serving(Arc<AtomicBool>);

impl Serving {
    /// Marks the listener serving (`true`) or stopped.
    pub fn set(&self, serving: bool) {
        self.0.store(serving, Ordering::Relaxed);
    }

    /// Whether the listener is serving.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the admin routes read.
#[derive(Debug)]
pub struct AdminState {
    store: Arc<dyn Store>,
    key: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    node: String,
    listeners: Vec<(&'static str, Serving)>,
    in_flight: Option<InFlight>,
    audit: Option<AuditSink>,
}

impl AdminState {
    /// The state of the node named `node` (its heartbeat row) over `store`, with `key` in use.
    pub fn new(
        store: Arc<dyn Store>,
        key: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        node: String,
    ) -> Self {
        Self {
            store,
            key,
            clock,
            node,
            listeners: Vec::new(),
            in_flight: None,
            audit: None,
        }
    }

    /// A listener `/readyz` requires to be serving (`name` appears in the failure line).
    pub fn with_listener(mut self, name: &'static str, serving: Serving) -> Self {
        self.listeners.push((name, serving));
        self
    }

    /// The RADIUS server's in-flight count, sampled at each scrape.
    pub fn with_in_flight(mut self, in_flight: InFlight) -> Self {
        self.in_flight = Some(in_flight);
        self
    }

    /// The audit writer's queue, sampled at each scrape.
    pub fn with_audit(mut self, audit: AuditSink) -> Self {
        self.audit = Some(audit);
        self
    }
}

/// The admin routes.
pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready::readyz))
        .with_state(state)
}

/// Serves the admin routes on `listener` until `token` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AdminState>,
    token: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "admin listener (metrics, health) listening");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(token.cancelled_owned())
        .await
}

async fn metrics(State(state): State<Arc<AdminState>>) -> Response {
    if let Some(metrics) = crate::monitoring::global() {
        if let Some(audit) = &state.audit {
            metrics.audit_queue.set(audit.queue_len() as f64);
        }
        if let Some(in_flight) = &state.in_flight {
            metrics.in_flight.set(in_flight.now() as f64);
        }
    }
    match crate::monitoring::render() {
        Some(text) => ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], text).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are off: another metrics recorder was installed first\n",
        )
            .into_response(),
    }
}
