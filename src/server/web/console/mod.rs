//! The helpdesk console (`/admin`): its own axum router on its own listener (`[admin_web] listen`), answering
//! only `admin_networks` (403 before anything else, a middleware around every route). Admins log in with name,
//! password and TOTP code ([`crate::engine::admins`]); sessions live in the database (`sessions`, kind
//! `console`: every node sees them), end after `idle_minutes` idle, and get a new ID at login. Every form
//! carries a CSRF token, every response is `no-store`. Role enforcement is the extractor a handler takes
//! ([`guard::AnyAdmin`], [`guard::AdminOnly`]). It decides nothing about accounts: the actions are the
//! engine's ([`crate::engine::helpdesk`], [`crate::engine::enrollment::reset_devices`]), as for the CLI.

mod accounts;
mod actions;
mod admins;
mod audit;
mod clients;
mod desk;
mod forms;
mod guard;
mod login;
mod pages;
mod report;
mod sessions;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use super::form_token::FormKey;
use super::limit::RateLimiter;
use crate::clock::Clock;
use crate::config::{AdminWebConfig, AuthMode, Config, Language, PasswordSource, WebConfig};
use crate::engine::admins::{AdminLockout, AdminLogins};
use crate::engine::helpdesk_codes::HelpdeskCodes;
use crate::engine::invitations::Invitations;
use crate::monitoring::ConsoleCounters;
use crate::notify::Mailer;
use crate::runtime::hashing::HashingPool;
use crate::secrets::Keyring;
use crate::store::Store;

/// Login attempts per client address and minute (the per-admin lockout is the engine's).
const LOGINS_PER_MINUTE: u32 = 10;

/// What the console's handlers share.
#[derive(Debug)]
pub struct ConsoleState {
    store: Arc<dyn Store>,
    logins: AdminLogins,
    console: AdminWebConfig,
    /// The pages' connection limits, time-outs and trusted proxies.
    web: WebConfig,
    default_language: Language,
    utc_offset: time::UtcOffset,
    form_key: FormKey,
    limiter: RateLimiter<std::net::IpAddr>,
    /// Whether motpd keeps the passwords (a reset code needs it), and the codes' key.
    password_source: PasswordSource,
    codes: HelpdeskCodes,
    /// Mailing invitations (a node gives it; without it the console sends none).
    invites: Option<(Invitations, Arc<dyn Mailer>)>,
    /// Seals RADIUS client secrets.
    key: Arc<Keyring>,
    /// `radius.mode`, what a client without its own mode uses.
    default_mode: AuthMode,
    /// `policy.min_password_length` (new admins' passwords: at least 12 anyway).
    min_password_length: usize,
    /// `policy.enforce_after`, for the enrollment report.
    enforce_after: Option<time::Date>,
    /// Logins and actions counted (`motpd_console_*`).
    counters: ConsoleCounters,
}

impl ConsoleState {
    /// The console of `config` over `store`; it counts into the metrics recorder in force now (the process's
    /// once installed).
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        key: Arc<Keyring>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let console = config.admin_web.clone();
        let lockout = AdminLockout {
            failures: console.lockout_failures,
            seconds: i64::from(console.lockout_minutes) * 60,
        };
        Self {
            logins: AdminLogins::new(
                store.clone(),
                key.clone(),
                clock,
                HashingPool::process(),
                lockout,
            ),
            store,
            console,
            web: config.web.clone(),
            default_language: config.web.default_language,
            utc_offset: config.policy.utc_offset,
            form_key: FormKey::derive(&key),
            limiter: RateLimiter::new(LOGINS_PER_MINUTE, 60),
            password_source: config.accounts.password_source,
            codes: HelpdeskCodes::new(key.clone()),
            invites: None,
            key,
            default_mode: config.radius.mode,
            min_password_length: config.policy.min_password_length,
            enforce_after: config.policy.enforce_after,
            counters: ConsoleCounters::new(),
        }
    }

    /// The console mails invitations with `invitations` through `mailer`.
    #[must_use]
    pub fn with_invitations(mut self, invitations: Invitations, mailer: Arc<dyn Mailer>) -> Self {
        self.invites = Some((invitations, mailer));
        self
    }

    fn now(&self) -> i64 {
        self.logins.now()
    }

    /// Seconds of idleness that end a session.
    fn idle_seconds(&self) -> i64 {
        i64::from(self.console.idle_minutes) * 60
    }
}

/// The console's routes, behind the network check and the security headers. The handlers need the peer:
/// [`serve`] gives it; elsewhere serve with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(state: Arc<ConsoleState>) -> Router {
    Router::new()
        .route("/admin", get(accounts::search))
        .route("/admin/login", get(login::form).post(login::submit))
        .route("/admin/logout", post(login::logout))
        .route("/admin/accounts/{id}", get(accounts::show))
        .route(
            "/admin/accounts/{id}/{action}",
            get(actions::confirm_form).post(actions::act),
        )
        .route("/admin/admins", get(admins::list).post(admins::add))
        .route("/admin/admins/confirm", post(admins::confirm))
        .route("/admin/admins/{name}", get(admins::show))
        .route("/admin/admins/{name}/{action}", post(admins::act))
        .route("/admin/audit", get(audit::search))
        .route("/admin/audit/verify", post(audit::verify))
        .route("/admin/report", get(report::show))
        .route("/admin/report.csv", get(report::csv))
        .route("/admin/clients", get(clients::list).post(clients::add))
        .route(
            "/admin/clients/{name}",
            get(clients::show).post(clients::change),
        )
        .route(
            "/admin/clients/{name}/remove",
            get(clients::confirm_remove).post(clients::remove),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            only_admin_networks,
        ))
        .layer(axum::middleware::map_response(super::security_headers))
        .with_state(state)
}

/// Serves the console on `listener` until `token` is cancelled, under the pages' connection limits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ConsoleState>,
    token: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "helpdesk console listening");
    }
    let web = state.web.clone();
    super::listener::serve(listener, router(state), &web, token).await
}

/// 403 for every client outside `admin_networks`, before routing, sessions or anything else.
async fn only_admin_networks(
    State(state): State<Arc<ConsoleState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let ip = desk::client_ip(&state, peer.ip(), request.headers());
    let allowed = super::net::allowed(ip, &state.console.admin_networks);
    if allowed {
        return next.run(request).await;
    }
    let text = format!(
        "{}\n{}\n",
        crate::texts::console(Language::ZhTw).outside,
        crate::texts::console(Language::En).outside
    );
    (StatusCode::FORBIDDEN, text).into_response()
}
