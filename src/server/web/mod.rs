//! The enrollment web pages over HTTP with axum: flow A (self-service from the hospital network), flow B
//! (e-mail invitation links, from any network), and the account pages (activation and forgotten password).
//!
//! Owns routing, the network allow-lists, sessions (created only by a successful POST that needs one; anonymous
//! forms carry a signed form cookie instead), CSRF tokens, the rate limits (logins; invitation links; the account
//! pages), the connection limits and time-outs, response security headers and the zh-TW/English templates. It
//! decides nothing about accounts or devices: every login and binding goes through
//! [`crate::engine::self_service::SelfService`] (flow B: [`crate::engine::invitations::Invitations`]; the account
//! pages: [`crate::engine::account_recovery::AccountRecovery`]). No SQL here.
//!
//! [`admin`] is the other HTTP listener, for monitoring (`/metrics`, `/healthz`, `/readyz`): its own router on
//! its own address, sharing nothing with the pages but this module's place as the crate's HTTP code.
//! [`console`] is the helpdesk console (`/admin`, `[admin_web] listen`): its own router and listener, reusing
//! the network checks, the form token, the connection limits and the security headers of this module.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod account;
mod account_flow;
pub mod admin;
pub mod console;
mod form_token;
mod guard;
mod handlers;
mod invite;
mod limit;
mod listener;
mod net;
mod pages;
mod phone_change;
pub mod session;
mod texts;
mod visitor;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{Config, OtpConfig, WebConfig};
use crate::engine::account_recovery::{AccountRecovery, RecoverySms};
use crate::engine::device_notice::DeviceNotices;
use crate::engine::invitations::Invitations;
use crate::engine::self_service::SelfService;
use crate::engine::{EngineSettings, LiveSettings, PasswordAuthority};
use crate::runtime::hashing::HashingPool;
use crate::secrets::Keyring;
use crate::store::Stores;
use session::{SessionStore, StoreSessions};

/// Login attempts per address and minute.
const LOGINS_PER_MINUTE: u32 = 10;
/// Invitation page requests (GET and POST) per address and minute.
const INVITE_REQUESTS_PER_MINUTE: u32 = 20;
/// Code requests and checks of the account pages per address and minute.
const ACCOUNT_TRIES_PER_MINUTE: u32 = 10;
/// Code requests and checks of the account pages per typed account ID and [`ACCOUNT_WINDOW_SECONDS`].
const ACCOUNT_TRIES_PER_ID: u32 = 10;
/// The window of [`ACCOUNT_TRIES_PER_ID`].
const ACCOUNT_WINDOW_SECONDS: i64 = 15 * 60;
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
    recovery: AccountRecovery,
    sessions: Arc<dyn SessionStore>,
    limiter: limit::RateLimiter<IpAddr>,
    invite_limiter: limit::RateLimiter<IpAddr>,
    account_tries_by_address: limit::RateLimiter<IpAddr>,
    account_tries_by_id: limit::RateLimiter<String>,
    min_password_length: usize,
    sms_code_minutes: u32,
    web: WebConfig,
    otp: OtpConfig,
    utc_offset: time::UtcOffset,
    /// Where staff change a directory password (`ldap.password_help_url`), for the account pages.
    password_help_url: String,
    /// How NetScaler asks for the code: the "done" pages say how to log in from now on.
    radius_mode: crate::config::AuthMode,
    secure_cookies: bool,
    form_key: form_token::FormKey,
    /// The settings the pages' services share; replaced on reload.
    settings: LiveSettings,
}

impl WebState {
    /// The pages' state for `config`, with sessions in `store` (shared by every node on it).
    pub fn new(config: &Config, stores: &Stores, key: Arc<Keyring>, clock: Arc<dyn Clock>) -> Self {
        let sessions = Arc::new(StoreSessions::new(stores.store.clone()));
        Self::with_sessions(config, stores, key, clock, sessions)
    }

    /// Checks passwords where `authority` says they live, on every page (default: motpd's own).
    pub fn set_password_authority(&mut self, authority: PasswordAuthority) {
        self.service.set_password_authority(authority.clone());
        self.invitations.set_password_authority(authority.clone());
        self.recovery.set_password_authority(authority);
    }

    /// The pages' state with a given session store.
    pub fn with_sessions(
        config: &Config,
        stores: &Stores,
        key: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        sessions: Arc<dyn SessionStore>,
    ) -> Self {
        // One hashing pool for the pages and the RADIUS engine of this process.
        let hashing = HashingPool::process();
        let settings = LiveSettings::new(EngineSettings::from_config(config));
        let form_key = form_token::FormKey::derive(&key);
        Self {
            invitations: Invitations::new(
                stores,
                key.clone(),
                clock.clone(),
                settings.clone(),
                config.web.invite_ttl_hours,
            ),
            recovery: AccountRecovery::new(
                stores,
                key.clone(),
                clock.clone(),
                settings.clone(),
                hashing.clone(),
            ),
            service: SelfService::new(stores, key, clock, settings.clone(), hashing),
            settings,
            sessions,
            limiter: limit::RateLimiter::new(LOGINS_PER_MINUTE, 60),
            invite_limiter: limit::RateLimiter::new(INVITE_REQUESTS_PER_MINUTE, 60),
            account_tries_by_address: limit::RateLimiter::new(ACCOUNT_TRIES_PER_MINUTE, 60),
            account_tries_by_id: limit::RateLimiter::new(
                ACCOUNT_TRIES_PER_ID,
                ACCOUNT_WINDOW_SECONDS,
            ),
            min_password_length: config.policy.min_password_length,
            sms_code_minutes: config.sms.code_ttl_seconds.div_ceil(60).max(1),
            web: config.web.clone(),
            otp: config.otp.clone(),
            utc_offset: config.policy.utc_offset,
            radius_mode: config.radius.mode,
            password_help_url: config.ldap.password_help_url.clone(),
            secure_cookies: config.web.public_url.starts_with("https://"),
            form_key,
        }
    }
}

impl WebState {
    /// The handle through which a reload replaces the settings of the pages' services.
    pub fn settings(&self) -> LiveSettings {
        self.settings.clone()
    }

    /// The same state, with SMS codes for the account pages.
    #[must_use]
    pub fn with_sms(mut self, sms: Arc<dyn RecoverySms>) -> Self {
        self.recovery.set_sms(sms);
        self
    }

    /// The same state, mailing the notice after a password change on the account pages through `mailer`.
    #[must_use]
    pub fn with_mailer(mut self, mailer: Arc<dyn crate::notify::Mailer>) -> Self {
        self.recovery.set_mailer(mailer);
        self
    }

    /// The same state, mailing a notice after a device is bound on the pages (flow A or an invitation link).
    #[must_use]
    pub fn with_notices(mut self, notices: Arc<DeviceNotices>) -> Self {
        self.service.set_notices(notices.clone());
        self.invitations.set_notices(notices);
        self
    }
}

/// The routes. The handlers need the peer: [`serve`] gives it; elsewhere serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/enroll", get(handlers::login_form))
        .route("/enroll/login", post(handlers::login))
        .route("/enroll/device", get(handlers::device))
        .route("/enroll/device/start", post(handlers::start))
        .route("/enroll/device/confirm", post(handlers::confirm))
        .route("/enroll/change/start", post(phone_change::start))
        .route("/enroll/change/confirm", post(phone_change::confirm))
        .route("/enroll/logout", post(handlers::logout))
        .route(
            "/account/{purpose}",
            get(account::start_form).post(account::identify),
        )
        .route("/account/{purpose}/method", get(account::method_form))
        .route("/account/{purpose}/sms", post(account::send_sms))
        .route("/account/{purpose}/sms/verify", post(account::verify_sms))
        .route("/account/{purpose}/app", post(account::verify_app))
        .route(
            "/account/{purpose}/helpdesk",
            post(account::verify_helpdesk),
        )
        .route(
            "/account/{purpose}/password",
            get(account::password_form).post(account::set_password),
        )
        .route("/invite/{token}", get(invite::open))
        .route("/invite/{token}/unlock", post(invite::unlock))
        .route("/invite/{token}/confirm", post(invite::confirm))
        .route("/healthz", get(|| async { "ok" }))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Serves the pages on `listener` until `token` is cancelled (then finishes the requests in flight), with the
/// time-outs and connection caps of `web` (see [`listener`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<WebState>,
    token: CancellationToken,
) -> std::io::Result<()> {
    let web = state.web.clone();
    listener::serve(listener, router(state), &web, token).await
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
