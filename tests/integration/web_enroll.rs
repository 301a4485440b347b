//! Flow A at the HTTP level: the enrollment router driven with `tower::ServiceExt::oneshot`, the peer address
//! set with `MockConnectInfo`, over the engine fixture's store and manual clock. The initial key is
//! read from the HTML and the app's code computed with `motpd::otp`, as a phone would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use motpd::clock::Clock;
use motpd::config::{AuthMode, Config};
use motpd::engine::Decision;
use motpd::otp::{self, Algorithm, Kind};
use motpd::server::web::{WebState, router};
use motpd::store::DeviceState;
use tower::ServiceExt;

use crate::common::fixture::EngineFixture;

pub(crate) const PASSWORD: &str = "Nurse2024pw";
pub(crate) const INSIDE: &str = "10.1.2.3:50000";
pub(crate) const OUTSIDE: &str = "192.0.2.1:50000";
const PROXY: &str = "192.168.100.5:40000";
const ZH_LOGIN: &str = "登入以註冊驗證器";
const EN_LOGIN: &str = "Log in to register your authenticator";
const ZH_DONE: &str = "綁定完成";
const ZH_WRONG: &str = "驗證碼不正確";
const ZH_EXPIRED: &str = "此註冊已逾時";
const ZH_BOUND: &str = "已綁定驗證器";
const ZH_OUTSIDE: &str = "自助註冊只能在醫院內部網路使用";
const EN_OUTSIDE: &str = "Self-service registration works only from the hospital network";

pub(crate) fn web_config(config: &mut Config) {
    config.web.enroll_networks = vec!["10.0.0.0/8".parse().unwrap()];
    config.web.trusted_proxies = vec!["192.168.100.0/24".parse().unwrap()];
    config.policy.lockout_failures = 3;
}

/// A fixture with alice (no device) and the pages' state.
async fn setup() -> (EngineFixture, Arc<WebState>) {
    let f = EngineFixture::new(web_config).await;
    f.account("alice", PASSWORD).await;
    let state = Arc::new(WebState::new(
        &f.config,
        &f.stores,
        f.key.clone(),
        Arc::new(f.clock.clone()),
    ));
    (f, state)
}

#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// The value of the first hidden input `name`.
    pub(crate) fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        let rest = &self.body[start..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    pub(crate) fn initial_key(&self) -> String {
        let marker = "id=\"initial-key\">";
        let start = self.body.find(marker).expect("initial key shown") + marker.len();
        let rest = &self.body[start..];
        rest[..rest.find('<').unwrap()].replace(' ', "")
    }
}

/// A browser at one address with a cookie jar.
pub(crate) struct Browser {
    app: Router,
    pub(crate) cookies: HashMap<String, String>,
    headers: Vec<(&'static str, String)>,
}

impl Browser {
    pub(crate) fn new(state: &Arc<WebState>, peer: &str) -> Self {
        let peer: SocketAddr = peer.parse().unwrap();
        Self {
            app: router(state.clone()).layer(MockConnectInfo(peer)),
            cookies: HashMap::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Reply {
        let mut request = request;
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(header::COOKIE, jar.join("; "));
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        for cookie in response.headers().get_all(header::SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            let (pair, _) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Reply {
        self.send(Request::get(path), Body::empty()).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, Body::from(body)).await
    }

    /// Login form, then a successful login; returns the device page.
    pub(crate) async fn log_in(&mut self) -> Reply {
        let form = self.get("/enroll").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.field("csrf");
        let reply = self
            .post(
                "/enroll/login",
                &[
                    ("csrf", &csrf),
                    ("account", "Alice"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert_eq!(reply.location(), "/enroll/device");
        let page = self.get("/enroll/device").await;
        assert_eq!(page.status, StatusCode::OK);
        page
    }

    /// Logs in and starts an enrollment; returns (QR page, device ID, seed).
    async fn start(&mut self) -> (Reply, String, Vec<u8>) {
        self.log_in().await;
        self.start_again().await
    }

    /// Starts an enrollment in a logged-in session.
    async fn start_again(&mut self) -> (Reply, String, Vec<u8>) {
        let page = self.get("/enroll/device").await;
        let csrf = page.field("csrf");
        let qr = self
            .post(
                "/enroll/device/start",
                &[("csrf", &csrf), ("label", "iPhone")],
            )
            .await;
        assert_eq!(qr.status, StatusCode::OK, "{}", qr.body);
        assert!(
            qr.body.contains("action=\"/enroll/device/confirm\""),
            "{}",
            qr.body
        );
        let seed = otp::parse_base32_seed(&qr.initial_key()).unwrap();
        let device = qr.field("device");
        (qr, device, seed)
    }

    async fn confirm(&mut self, qr: &Reply, device: &str, code: &str) -> Reply {
        let csrf = qr.field("csrf");
        self.post(
            "/enroll/device/confirm",
            &[("csrf", &csrf), ("device", device), ("code", code)],
        )
        .await
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(crate) fn code_at(seed: &[u8], t: i64) -> String {
    otp::totp_at(seed, u64::try_from(t).unwrap(), 30, 6, Algorithm::Sha1).unwrap()
}

async fn audit_kinds(f: &EngineFixture) -> Vec<(String, String, String)> {
    f.store
        .audit_page(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.event.kind, r.event.actor, r.event.detail))
        .collect()
}

/// The "done" text says how to log in from now on, as NetScaler asks for the code (`radius.mode`).
#[tokio::test]
async fn the_done_page_says_how_to_log_in_in_the_configured_mode() {
    for (mode, expected, not) in [
        (AuthMode::Challenge, "畫面要求驗證碼時", "密碼後面接著"),
        (AuthMode::OtpOnly, "第二欄輸入", "密碼後面接著"),
        (AuthMode::PasswordOtp, "密碼後面接著", "第二欄"),
    ] {
        let f = EngineFixture::new(|c| {
            web_config(c);
            c.radius.mode = mode;
        })
        .await;
        f.account("alice", PASSWORD).await;
        let clock = Arc::new(f.clock.clone());
        let state = Arc::new(WebState::new(&f.config, &f.stores, f.key.clone(), clock));
        let mut b = Browser::new(&state, INSIDE);
        let (qr, device, seed) = b.start().await;
        let done = b
            .confirm(&qr, &device, &code_at(&seed, f.clock.now()))
            .await;
        assert!(done.body.contains(ZH_DONE), "{}", done.body);
        assert!(done.body.contains(expected), "{mode:?}: {}", done.body);
        assert!(!done.body.contains(not), "{mode:?}: {}", done.body);
    }
}

#[tokio::test]
async fn flow_a_binds_a_device_whose_later_codes_log_in_over_radius() {
    let (f, state) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    let form = b.get("/enroll").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(ZH_LOGIN));
    assert_eq!(form.headers[header::CACHE_CONTROL], "no-store");
    let csp = form.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    let cookie = form.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("motpd_form="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("Secure"), "public_url is http");
    assert!(
        !b.cookies.contains_key("motpd_session"),
        "no session before login"
    );

    let (qr, device, seed) = b.start().await;
    assert_eq!(b.cookies["motpd_session"].len(), 64, "a session at login");
    assert!(qr.body.contains("<svg"));
    // On the phone itself the QR code cannot be scanned: a tap-to-add link (both languages' pages have it).
    assert!(
        qr.body.contains("id=\"add-to-app\" href=\"otpauth://totp/"),
        "{}",
        qr.body
    );
    assert!(qr.body.contains("TOTP") && qr.body.contains("SHA1"));
    let pending = f.store.device(&device).await.unwrap().unwrap();
    assert_eq!(pending.state, DeviceState::Pending);
    assert_eq!(pending.label.as_deref(), Some("iPhone"));

    let now = f.clock.now();
    let done = b.confirm(&qr, &device, &code_at(&seed, now)).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains(ZH_DONE), "{}", done.body);
    assert!(done.body.contains(ZH_BOUND));
    let active = f.store.active_device("alice").await.unwrap().unwrap();
    assert_eq!(active.id, device);

    // The confirming code is used up; a later code logs in over RADIUS.
    let first = format!("{PASSWORD}{}", code_at(&seed, now));
    assert!(matches!(
        f.ask("alice", first.as_bytes(), AuthMode::PasswordOtp)
            .await,
        Decision::Reject { .. }
    ));
    f.clock.advance(60);
    let later = format!("{PASSWORD}{}", code_at(&seed, f.clock.now()));
    assert!(matches!(
        f.ask("alice", later.as_bytes(), AuthMode::PasswordOtp)
            .await,
        Decision::Accept { .. }
    ));

    let audit = audit_kinds(&f).await;
    for kind in ["enroll.login", "enroll.start", "enroll.confirm"] {
        assert!(
            audit
                .iter()
                .any(|(k, actor, _)| k == kind && actor == "web:10.1.2.3"),
            "{kind} audited: {audit:?}"
        );
    }
    let key = qr.initial_key();
    assert!(
        audit
            .iter()
            .all(|(_, _, detail)| !detail.contains(&key) && !detail.contains(PASSWORD))
    );

    // Logout ends the session.
    let page = b.get("/enroll/device").await;
    let csrf = page.field("csrf");
    let out = b.post("/enroll/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/enroll/device").await.location(), "/enroll");
}

#[tokio::test]
async fn a_wrong_code_keeps_the_device_pending() {
    let (f, state) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    let (qr, device, seed) = b.start().await;
    let now = f.clock.now();
    let right = code_at(&seed, now);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let reply = b.confirm(&qr, &device, wrong).await;
    assert!(reply.body.contains(ZH_WRONG), "{}", reply.body);
    assert!(!reply.body.contains("<svg"), "the seed is shown once");
    assert!(f.store.active_device("alice").await.unwrap().is_none());
    let pending = f.store.device(&device).await.unwrap().unwrap();
    assert_eq!(pending.state, DeviceState::Pending);
    // The retry form still works.
    let reply = b.confirm(&reply, &device, &right).await;
    assert!(reply.body.contains(ZH_DONE));
}

#[tokio::test]
async fn a_pending_seed_expires_after_ten_minutes() {
    let (f, state) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    let (qr, device, seed) = b.start().await;
    f.clock.advance(11 * 60);
    let reply = b
        .confirm(&qr, &device, &code_at(&seed, f.clock.now()))
        .await;
    assert!(reply.body.contains(ZH_EXPIRED), "{}", reply.body);
    assert!(f.store.active_device("alice").await.unwrap().is_none());
    // Starting again works.
    assert!(reply.body.contains("/enroll/device/start"));
}

#[tokio::test]
async fn outside_the_hospital_network_every_page_is_a_bilingual_403() {
    let (_f, state) = setup().await;
    for language in [None, Some("en")] {
        let mut b = Browser::new(&state, OUTSIDE);
        if let Some(language) = language {
            b = b.with_header("accept-language", language);
        }
        for reply in [
            b.get("/enroll").await,
            b.get("/enroll/device").await,
            b.post(
                "/enroll/login",
                &[("account", "alice"), ("password", PASSWORD)],
            )
            .await,
        ] {
            assert_eq!(reply.status, StatusCode::FORBIDDEN);
            assert!(reply.body.contains(ZH_OUTSIDE) && reply.body.contains(EN_OUTSIDE));
            assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
        }
        assert!(b.cookies.is_empty());
    }
    // Health checks are not enrollment pages.
    let mut b = Browser::new(&state, OUTSIDE);
    assert_eq!(b.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let (f, state) = setup().await;
    let mut via_proxy = Browser::new(&state, PROXY).with_header("x-forwarded-for", "10.1.2.3");
    via_proxy.log_in().await;
    let audit = audit_kinds(&f).await;
    assert!(
        audit
            .iter()
            .any(|(k, a, _)| k == "enroll.login" && a == "web:10.1.2.3")
    );

    let mut outside_via_proxy =
        Browser::new(&state, PROXY).with_header("x-forwarded-for", "203.0.113.9");
    assert_eq!(
        outside_via_proxy.get("/enroll").await.status,
        StatusCode::FORBIDDEN
    );

    let mut spoofing = Browser::new(&state, OUTSIDE).with_header("x-forwarded-for", "10.1.2.3");
    assert_eq!(spoofing.get("/enroll").await.status, StatusCode::FORBIDDEN);

    // The proxy's own address is not in the enrollment networks.
    let mut proxy_itself = Browser::new(&state, PROXY);
    assert_eq!(
        proxy_itself.get("/enroll").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn posts_without_the_sessions_csrf_token_are_refused() {
    let (f, state) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    b.get("/enroll").await;
    for form in [
        vec![("account", "alice"), ("password", PASSWORD)],
        vec![("csrf", "00"), ("account", "alice"), ("password", PASSWORD)],
    ] {
        let reply = b.post("/enroll/login", &form).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    }
    // A token from another session does not do either.
    let mut other = Browser::new(&state, INSIDE);
    let foreign = other.get("/enroll").await.field("csrf");
    let reply = b
        .post(
            "/enroll/login",
            &[
                ("csrf", &foreign),
                ("account", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Logged in: starting without the token is refused and creates nothing.
    let page = b.log_in().await;
    let reply = b.post("/enroll/device/start", &[("csrf", "")]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = b.post("/enroll/device/start", &[("csrf", &foreign)]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        !audit_kinds(&f)
            .await
            .iter()
            .any(|(k, _, _)| k == "enroll.start")
    );
    // No session cookie at all.
    let mut stranger = Browser::new(&state, INSIDE);
    let csrf = page.field("csrf");
    let reply = stranger
        .post("/enroll/device/start", &[("csrf", &csrf)])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn web_logins_keep_their_own_counter_and_a_vpn_lock_refuses_them() {
    let (f, state) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    let login = |password: &'static str| {
        let state = state.clone();
        async move {
            let mut b = Browser::new(&state, INSIDE);
            let csrf = b.get("/enroll").await.field("csrf");
            b.post(
                "/enroll/login",
                &[
                    ("csrf", &csrf),
                    ("account", "alice"),
                    ("password", password),
                ],
            )
            .await
        }
    };
    for _ in 0..2 {
        let reply = login("wrong").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.contains("帳號或密碼錯誤"));
    }
    // The pages' failures are not the VPN's: the counter that guards the code is untouched.
    assert_eq!(f.store.account("alice").await.unwrap().unwrap().failures, 0);
    // A third wrong password locks the pages (lockout_failures = 3), even for the right password...
    login("wrong").await;
    let reply = login(PASSWORD).await;
    assert!(reply.body.contains("帳號已鎖定"), "{}", reply.body);
    // ... but not the VPN.
    let account = f.store.account("alice").await.unwrap().unwrap();
    assert!(account.locked_until.is_none());
    // A VPN lock (here an admin's) refuses the pages as well.
    f.store
        .unlock_account("alice", f.clock.now())
        .await
        .unwrap();
    f.store
        .lock_account("alice", f.clock.now() + 600, f.clock.now())
        .await
        .unwrap();
    let reply = login(PASSWORD).await;
    assert!(reply.body.contains("帳號已鎖定"), "{}", reply.body);
    assert_eq!(b.get("/enroll/device").await.location(), "/enroll");
}

#[tokio::test]
async fn logins_are_rate_limited_per_address() {
    let (_f, state) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    let csrf = b.get("/enroll").await.field("csrf");
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let reply = b
            .post(
                "/enroll/login",
                &[("csrf", &csrf), ("account", "nobody"), ("password", "x")],
            )
            .await;
        statuses.push(reply.status);
    }
    assert!(statuses[..10].iter().all(|s| *s == StatusCode::OK));
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
    // Another address is not affected.
    let mut other = Browser::new(&state, "10.7.7.7:1234");
    other.log_in().await;
}

#[tokio::test]
async fn an_account_with_a_device_sees_it_and_cannot_start_another() {
    let (f, state) = setup().await;
    f.device("alice", Kind::Totp).await;
    let mut b = Browser::new(&state, INSIDE);
    let page = b.log_in().await;
    assert!(page.body.contains(ZH_BOUND), "{}", page.body);
    assert!(!page.body.contains("/enroll/device/start"));
    let csrf = page.field("csrf");
    let reply = b.post("/enroll/device/start", &[("csrf", &csrf)]).await;
    assert!(reply.body.contains(ZH_BOUND));
    assert!(!reply.body.contains("<svg"));
}

#[tokio::test]
async fn two_tabs_racing_end_with_exactly_one_device() {
    let (f, state) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    let (qr, device, seed) = b.start().await;
    let code = code_at(&seed, f.clock.now());
    let mut tab2 = Browser {
        app: b.app.clone(),
        cookies: b.cookies.clone(),
        headers: Vec::new(),
    };
    let (one, two) = tokio::join!(
        b.confirm(&qr, &device, &code),
        tab2.confirm(&qr, &device, &code)
    );
    let done = [&one, &two]
        .iter()
        .filter(|r| r.body.contains(ZH_DONE))
        .count();
    assert_eq!(done, 1);
    assert!(one.body.contains(ZH_BOUND) && two.body.contains(ZH_BOUND));
    assert_eq!(f.store.reset_devices("alice").await.unwrap(), 1);

    // Two tabs that each started: the newer seed replaces the older one, which can no longer be confirmed.
    let (qr1, device1, seed1) = b.start_again().await;
    let (qr2, device2, seed2) = b.start_again().await;
    assert_ne!(device1, device2);
    f.clock.advance(30);
    let now = f.clock.now();
    let old = b.confirm(&qr1, &device1, &code_at(&seed1, now)).await;
    assert!(old.body.contains(ZH_EXPIRED), "{}", old.body);
    let new = b.confirm(&qr2, &device2, &code_at(&seed2, now)).await;
    assert!(new.body.contains(ZH_DONE));
    assert_eq!(f.store.reset_devices("alice").await.unwrap(), 1);
}

#[tokio::test]
async fn the_language_follows_query_cookie_accept_language_then_default() {
    let (_f, state) = setup().await;
    let mut zh = Browser::new(&state, INSIDE);
    let page = zh.get("/enroll").await;
    assert!(page.body.contains(ZH_LOGIN) && page.body.contains("lang=\"zh-Hant-TW\""));
    assert!(page.body.contains("href=\"/enroll?lang=en\""));

    let mut en = Browser::new(&state, INSIDE).with_header("accept-language", "en-US,en;q=0.9");
    let page = en.get("/enroll").await;
    assert!(page.body.contains(EN_LOGIN) && page.body.contains("<html lang=\"en\""));
    assert!(page.body.contains("href=\"/enroll?lang=zh-TW\""));

    // ?lang= wins over Accept-Language and is remembered in a cookie.
    let page = en.get("/enroll?lang=zh-TW").await;
    assert!(page.body.contains(ZH_LOGIN));
    assert_eq!(en.cookies["motpd_lang"], "zh-TW");
    let page = en.get("/enroll").await;
    assert!(page.body.contains(ZH_LOGIN));

    let page = zh.get("/enroll?lang=en").await;
    assert!(page.body.contains(EN_LOGIN));
    let page = zh.log_in().await;
    assert!(page.body.contains("No authenticator registered"));
}

#[tokio::test]
async fn sessions_end_after_fifteen_idle_minutes() {
    let (f, state) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    b.log_in().await;
    f.clock.advance(14 * 60);
    assert_eq!(b.get("/enroll/device").await.status, StatusCode::OK);
    f.clock.advance(16 * 60);
    assert_eq!(b.get("/enroll/device").await.location(), "/enroll");
}

#[tokio::test]
async fn disabled_expired_and_unactivated_accounts_are_refused_with_a_reason() {
    use motpd::engine::EngineSettings;
    use motpd::engine::self_service::{LoginOutcome, LoginRefusal, SelfService};
    use motpd::store::AccountStatus;
    let (f, _state) = setup().await;
    let service = SelfService::new(
        &f.stores,
        f.key.clone(),
        Arc::new(f.clock.clone()),
        EngineSettings::from_config(&f.config),
        motpd::runtime::hashing::HashingPool::new(1),
    );
    let ip = "10.1.2.3".parse().unwrap();
    let login = |id: &'static str, password: &'static str| {
        let service = &service;
        async move { service.login(id, password.as_bytes(), ip).await.unwrap() }
    };
    assert_eq!(
        login(" ALICE ", PASSWORD).await,
        LoginOutcome::LoggedIn {
            account_id: "alice".into()
        }
    );
    assert_eq!(
        login("nobody", PASSWORD).await,
        LoginOutcome::Refused(LoginRefusal::BadCredentials)
    );
    f.store
        .set_account_status("alice", AccountStatus::Disabled, f.clock.now())
        .await
        .unwrap();
    // The reason is told only after the right password.
    assert_eq!(
        login("alice", "wrong").await,
        LoginOutcome::Refused(LoginRefusal::BadCredentials)
    );
    assert_eq!(
        login("alice", PASSWORD).await,
        LoginOutcome::Refused(LoginRefusal::Disabled)
    );
    let mut vendor = crate::common::account("vendor");
    vendor.password_hash = Some(motpd::password::hash_password(PASSWORD.as_bytes()).unwrap());
    vendor.expires_on = Some(time::macros::date!(2020 - 01 - 01));
    f.store
        .create_account(&vendor, f.clock.now())
        .await
        .unwrap();
    assert_eq!(
        login("vendor", PASSWORD).await,
        LoginOutcome::Refused(LoginRefusal::Expired)
    );
    f.account_with_hash("newbie", None, AccountStatus::Pending)
        .await;
    assert_eq!(
        login("newbie", PASSWORD).await,
        LoginOutcome::Refused(LoginRefusal::NotActivated)
    );
}

#[tokio::test]
async fn what_users_type_is_escaped_in_pages() {
    let (_f, state) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    let csrf = b.get("/enroll").await.field("csrf");
    let reply = b
        .post(
            "/enroll/login",
            &[
                ("csrf", &csrf),
                ("account", "<script>x</script>\""),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!reply.body.contains("<script>"));
    assert!(
        reply.body.contains("&#60;script&#62;x&#60;/script&#62;"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn two_nodes_over_one_store_share_sessions_keyed_by_a_hash() {
    let (f, node_a) = setup().await;
    let node_b = Arc::new(WebState::new(
        &f.config,
        &f.stores,
        f.key.clone(),
        Arc::new(f.clock.clone()),
    ));
    let mut at_a = Browser::new(&node_a, INSIDE);
    at_a.log_in().await;
    let cookie = at_a.cookies["motpd_session"].clone();
    // The store holds the SHA-256 of the cookie value, never the value itself.
    use sha2::Digest;
    let hash = sha2::Sha256::digest(cookie.as_bytes());
    let now = f.clock.now();
    let stored = f.store.touch_web_session(&hash, now, now + 900).await;
    assert_eq!(
        stored.unwrap().unwrap().account_id.as_deref(),
        Some("alice")
    );
    let raw = f.store.touch_web_session(cookie.as_bytes(), now, now + 900);
    assert!(raw.await.unwrap().is_none());

    // The next request lands on node B: same session, same CSRF token.
    let mut at_b = Browser::new(&node_b, INSIDE);
    at_b.cookies = at_a.cookies.clone();
    let page = at_b.get("/enroll/device").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.field("csrf");
    assert_eq!(csrf, at_a.get("/enroll/device").await.field("csrf"));
    // Logging out at B ends the session at A too.
    let out = at_b.post("/enroll/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(at_a.get("/enroll/device").await.location(), "/enroll");
    // A password reset (later) ends every session of the account.
    at_a.log_in().await;
    assert_eq!(
        f.store.remove_account_web_sessions("alice").await.unwrap(),
        1
    );
    assert_eq!(at_a.get("/enroll/device").await.location(), "/enroll");
}
