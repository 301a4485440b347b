//! The enrollment web pages over HTTP with axum: flow A (self-service from the hospital network) and flow B
//! (e-mail invitation links, from any network).
//!
//! Owns routing, the network allow-list, server-side sessions with CSRF tokens, the per-address rate limits
//! (logins; invitation links), response security headers and the zh-TW/English templates. It decides nothing
//! about accounts or devices: every login and binding goes through
//! [`crate::engine::self_service::SelfService`] (flow B: [`crate::engine::invitations::Invitations`]). No SQL
//! here.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod handlers;
mod invite;
mod limit;
mod net;
mod pages;
pub mod session;
mod texts;
mod visitor;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{Config, OtpConfig, WebConfig};
use crate::engine::EngineSettings;
use crate::engine::invitations::Invitations;
use crate::engine::self_service::SelfService;
use crate::secrets::MasterKey;
use crate::store::Store;
use session::{SessionStore, StoreSessions};

/// Login attempts per address and minute.
const LOGINS_PER_MINUTE: u32 = 10;
/// Invitation page requests (GET and POST) per address and minute.
const INVITE_REQUESTS_PER_MINUTE: u32 = 20;
/// The Content-Security-Policy of every response.
const CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What went wrong in the web layer itself.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The operating system's random generator failed.
    #[error("no randomness available")]
    Random,
    /// A lock was poisoned by a panicking thread.
    #[error("session table lock poisoned")]
    Poisoned,
    /// The session store failed.
    #[error("session store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct WebState {
    service: SelfService,
    invitations: Invitations,
    sessions: Arc<dyn SessionStore>,
    limiter: limit::LoginLimiter,
    invite_limiter: limit::LoginLimiter,
    web: WebConfig,
    otp: OtpConfig,
    utc_offset: time::UtcOffset,
    secure_cookies: bool,
}

impl WebState {
    /// The pages' state for `config`, with sessions in `store` (shared by every node on it).
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        key: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let sessions = Arc::new(StoreSessions::new(store.clone()));
        Self::with_sessions(config, store, key, clock, sessions)
    }

    /// The pages' state with a given session store.
    pub fn with_sessions(
        config: &Config,
        store: Arc<dyn Store>,
        key: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        sessions: Arc<dyn SessionStore>,
    ) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let settings = EngineSettings::from_config(config);
        Self {
            invitations: Invitations::new(
                store.clone(),
                key.clone(),
                clock.clone(),
                settings.clone(),
                config.web.invite_ttl_hours,
            ),
            service: SelfService::new(store, key, clock, settings, threads),
            sessions,
            limiter: limit::LoginLimiter::new(LOGINS_PER_MINUTE),
            invite_limiter: limit::LoginLimiter::new(INVITE_REQUESTS_PER_MINUTE),
            web: config.web.clone(),
            otp: config.otp.clone(),
            utc_offset: config.policy.utc_offset,
            secure_cookies: config.web.public_url.starts_with("https://"),
        }
    }
}

/// The routes. Serve with `into_make_service_with_connect_info::<SocketAddr>()` (the handlers need the peer).
pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/enroll", get(handlers::login_form))
        .route("/enroll/login", post(handlers::login))
        .route("/enroll/device", get(handlers::device))
        .route("/enroll/device/start", post(handlers::start))
        .route("/enroll/device/confirm", post(handlers::confirm))
        .route("/enroll/logout", post(handlers::logout))
        .route("/invite/{token}", get(invite::open))
        .route("/invite/{token}/confirm", post(invite::confirm))
        .route("/healthz", get(|| async { "ok" }))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Serves the pages on `listener` until `token` is cancelled (then finishes the requests in flight).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<WebState>,
    token: CancellationToken,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(token.cancelled_owned())
        .await
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
