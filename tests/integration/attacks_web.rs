//! The enrollment and account pages attacked over real HTTP on 127.0.0.1 (`motpd::server::web::serve`, the
//! server `motpd serve` runs), with a hand-written HTTP/1.1 client so the test controls every byte: anonymous
//! GETs that must write nothing, forged form cookies, headers and bodies trickled or never sent, too many
//! connections from one address, session IDs that must change at every privilege change, and an admin-locked
//! account logging in. Every wait is bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use motpd::account_rules::ADMIN_LOCK_UNTIL;
use motpd::clock::Clock;
use motpd::config::{Config, SmsProvider};
use motpd::engine::AuditSink;
use motpd::engine::sms::SmsService;
use motpd::notify::sms::sender_from_config;
use motpd::server::web::{WebState, serve};
use motpd::store::AccountStatus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::common::fixture::EngineFixture;
use crate::common::sms_gateway::{GatewayMode, SmsGateway};

const PASSWORD: &str = "Nurse2024pw";
/// Patience for anything the server should do at once.
const PATIENCE: Duration = Duration::from_secs(10);
const ZH_FORBIDDEN: &str = "表單已失效(安全性檢查失敗)";
const EN_FORBIDDEN: &str = "The form is no longer valid (security check failed)";
const ZH_FLOW_EXPIRED: &str = "此步驟已逾時或已完成";
const ZH_ADMIN_LOCKED: &str = "此帳號已被資訊室鎖定";
const EN_ADMIN_LOCKED: &str = "This account was locked by IT";

/// A node's pages on 127.0.0.1:0 over the engine fixture's store, with alice (active, password).
struct Server {
    f: EngineFixture,
    addr: SocketAddr,
    token: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_with_sms(None, adjust).await
    }

    /// With SMS codes through `gateway` when given.
    async fn start_with_sms(
        gateway: Option<&SmsGateway>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let url = gateway.map(|g| g.url.clone());
        let f = EngineFixture::new(move |c: &mut Config| {
            if let Some(url) = url {
                c.sms.provider = SmsProvider::Http;
                c.sms.url = url;
                c.sms.timeout_seconds = 2;
                c.sms.retries = 0;
            }
            adjust(c);
        })
        .await;
        f.account("alice", PASSWORD).await;
        let mut state = WebState::new(
            &f.config,
            &f.stores,
            f.key.clone(),
            Arc::new(f.clock.clone()),
        );
        if gateway.is_some() {
            let (sink, _writer) = AuditSink::spawn(f.store.clone());
            let sms = SmsService::new(
                f.store.clone(),
                f.key.clone(),
                sender_from_config(&f.config.sms).unwrap(),
                f.config.sms.clone(),
                sink,
            );
            state = state.with_sms(Arc::new(sms));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = CancellationToken::new();
        let task = tokio::spawn(serve(listener, Arc::new(state), token.clone()));
        Self {
            f,
            addr,
            token,
            task,
        }
    }

    /// How many web session rows the store holds (counted by purging them all: call last).
    async fn session_rows(&self) -> u64 {
        self.f
            .store
            .purge_expired_web_sessions(i64::MAX)
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

/// One parsed HTTP response.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        Self {
            status,
            head: head.to_owned(),
            body: body.to_owned(),
        }
    }

    fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.headers(name).next()
    }

    fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.lines().filter_map(move |line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }

    /// The value of the first hidden input `name`.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        let rest = &self.body[start..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// A browser over real HTTP: one connection per request, a cookie jar.
struct Browser {
    addr: SocketAddr,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            cookies: Vec::new(),
        }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(k, _)| k != name);
        self.cookies.push((name.to_owned(), value.to_owned()));
    }

    async fn request(&mut self, method: &str, path: &str, body: &str) -> Reply {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        if method == "POST" {
            request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(body);
        let raw = exchange(self.addr, request.as_bytes()).await;
        let reply = Reply::parse(&raw);
        for cookie in reply.headers("set-cookie") {
            let (pair, _) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if cookie.contains("Max-Age=0") {
                self.cookies.retain(|(k, _)| k != name);
            } else {
                self.set_cookie(name, value);
            }
        }
        reply
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, "").await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.request("POST", path, &body).await
    }

    /// The login form, then alice's login; returns the login's reply.
    async fn log_in(&mut self) -> Reply {
        let csrf = self.get("/enroll").await.field("csrf");
        self.post(
            "/enroll/login",
            &[
                ("csrf", &csrf),
                ("account", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await
    }
}

/// Sends `request` on a new connection and reads until the server closes it.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("the server answers")
        .unwrap();
    raw
}

/// Reads until the server closes `stream` (whatever it sends first); how long that took.
async fn until_closed(stream: &mut TcpStream, patience: Duration) -> Duration {
    let started = Instant::now();
    let mut sink = Vec::new();
    let read = tokio::time::timeout(patience, stream.read_to_end(&mut sink)).await;
    assert!(
        read.is_ok(),
        "the connection was still open after {patience:?}"
    );
    started.elapsed()
}

#[tokio::test]
async fn anonymous_gets_write_no_session_row() {
    let server = Server::start(|_| {}).await;
    let paths = [
        "/enroll",
        "/account/activate",
        "/account/reset",
        "/account/reset/method",
        "/enroll/device",
    ];
    for i in 0..500 {
        let mut b = Browser::new(server.addr);
        let reply = b.get(paths[i % paths.len()]).await;
        assert!(reply.status == 200 || reply.status == 303, "{}", reply.head);
    }
    // A visitor who keeps the form cookie costs nothing either, and the form still works after 500 GETs.
    let mut b = Browser::new(server.addr);
    for _ in 0..20 {
        b.get("/enroll").await;
        b.get("/account/reset").await;
    }
    assert!(b.cookie("motpd_form").is_some());
    assert!(b.cookie("motpd_session").is_none());
    // The first successful login is the first row.
    let login = b.log_in().await;
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.header("location"), Some("/enroll/device"));
    assert_eq!(server.session_rows().await, 1);
    server.stop().await;
}

#[tokio::test]
async fn posts_with_a_missing_or_forged_form_cookie_are_refused_in_both_languages() {
    let server = Server::start(|_| {}).await;
    let mut honest = Browser::new(server.addr);
    let csrf = honest.get("/enroll").await.field("csrf");
    let cookie = honest.cookie("motpd_form").unwrap();
    let login = [
        ("csrf", csrf.as_str()),
        ("account", "alice"),
        ("password", PASSWORD),
    ];

    let refused = |reply: &Reply| {
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert!(
            reply.body.contains(ZH_FORBIDDEN) && reply.body.contains(EN_FORBIDDEN),
            "{}",
            reply.body
        );
    };
    // No cookie at all, with a token read from someone's page.
    let mut attacker = Browser::new(server.addr);
    refused(&attacker.post("/enroll/login", &login).await);
    refused(
        &attacker
            .post("/account/reset", &[("csrf", &csrf), ("account", "alice")])
            .await,
    );
    // A cookie of the attacker's own choosing: the victim's token, its own nonce, the old signature.
    let mut parts: Vec<&str> = cookie.split('.').collect();
    let forged_nonce = "ab".repeat(32);
    parts[1] = &forged_nonce;
    attacker.set_cookie("motpd_form", &parts.join("."));
    refused(
        &attacker
            .post(
                "/enroll/login",
                &[
                    ("csrf", &forged_nonce),
                    ("account", "alice"),
                    ("password", PASSWORD),
                ],
            )
            .await,
    );
    // An unsigned one, and a real one with another visitor's token.
    attacker.set_cookie(
        "motpd_form",
        &format!("{}.{forged_nonce}..00", server.f.clock.now()),
    );
    refused(
        &attacker
            .post(
                "/enroll/login",
                &[
                    ("csrf", &forged_nonce),
                    ("account", "alice"),
                    ("password", PASSWORD),
                ],
            )
            .await,
    );
    let own = attacker.get("/enroll").await.field("csrf");
    assert_ne!(own, csrf);
    refused(&attacker.post("/enroll/login", &login).await);
    // The honest pair works, and only it wrote anything.
    assert_eq!(server.session_rows().await, 0);
    let ok = honest.post("/enroll/login", &login).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    // An expired form cookie is refused too.
    let mut late = Browser::new(server.addr);
    let csrf = late.get("/enroll").await.field("csrf");
    server.f.clock.advance(3 * 60 * 60);
    refused(
        &late
            .post(
                "/enroll/login",
                &[
                    ("csrf", &csrf),
                    ("account", "alice"),
                    ("password", PASSWORD),
                ],
            )
            .await,
    );
    server.stop().await;
}

#[tokio::test]
async fn trickled_headers_and_bodies_are_cut_off_at_the_time_outs() {
    let server = Server::start(|c| {
        c.web.header_timeout_seconds = 1;
        c.web.body_timeout_seconds = 1;
    })
    .await;
    // Half a header line, then nothing.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /enroll HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let took = until_closed(&mut stream, PATIENCE).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");
    // Headers trickled one byte at a time, each well within the time-out: the whole head still must arrive in it.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let head =
        b"GET /enroll HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    if !cut {
        until_closed(&mut stream, Duration::from_secs(1)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // A connection that says nothing at all.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    until_closed(&mut idle, PATIENCE).await;
    // A body that stops half way: 408, and the connection closes.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST /enroll/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 100\r\n\r\ncsrf=00",
        )
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("closed after the body time-out")
        .unwrap();
    let reply = Reply::parse(&raw);
    assert_eq!(reply.status, 408);
    assert!(reply.body.contains("逾時") && reply.body.contains("timed out"));
    // A prompt client is served as before.
    let mut b = Browser::new(server.addr);
    assert_eq!(b.get("/enroll").await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_per_address_cap_are_closed_at_once() {
    const CAP: usize = 4;
    let server = Server::start(|c| {
        c.web.max_connections_per_address = CAP as u32;
        c.web.header_timeout_seconds = 30;
    })
    .await;
    // CAP kept-alive connections, each answered once (so the server has counted them), then idle.
    let mut open = Vec::new();
    for _ in 0..CAP {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        open.push(stream);
    }
    // One more from the same address is closed at once, without an answer.
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), extra.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the extra connection was left open");
    assert!(raw.is_empty(), "{}", String::from_utf8_lossy(&raw));
    // The kept connections still work; closing one frees its place.
    let mut first = open.remove(0);
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    until_closed(&mut first, PATIENCE).await;
    drop(first);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let raw = exchange(
            server.addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        if raw.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the place was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(open);
    server.stop().await;
}

#[tokio::test]
async fn login_gives_a_new_session_id_and_the_old_one_is_worthless() {
    let server = Server::start(|_| {}).await;
    let mut b = Browser::new(server.addr);
    let csrf = b.get("/enroll").await.field("csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("account", "alice"),
        ("password", PASSWORD),
    ];
    assert_eq!(b.post("/enroll/login", &form).await.status, 303);
    let first = b.cookie("motpd_session").unwrap();
    assert_eq!(b.get("/enroll/device").await.status, 200);
    // Logging in again from the same browser (a second tab's login form).
    let again = b.post("/enroll/login", &form).await;
    assert_eq!(again.status, 303, "{}", again.body);
    let second = b.cookie("motpd_session").unwrap();
    assert_ne!(first, second, "a new session ID at login");
    assert_eq!(b.get("/enroll/device").await.status, 200);
    let mut old = Browser::new(server.addr);
    old.set_cookie("motpd_session", &first);
    let reply = old.get("/enroll/device").await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/enroll"));
    assert_eq!(server.session_rows().await, 1);
    server.stop().await;
}

#[tokio::test]
async fn a_verified_code_gives_a_new_session_id_and_the_old_one_is_worthless() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let server = Server::start_with_sms(Some(&gateway), |_| {}).await;
    server
        .f
        .account_with_hash("intern", None, AccountStatus::Pending)
        .await;
    crate::web_account::give_identity(&server.f, "intern", crate::web_account::IDENTITY).await;
    let base = "/account/activate";
    let mut b = Browser::new(server.addr);
    let csrf = b.get(base).await.field("csrf");
    let reply = b
        .post(base, &[("csrf", &csrf), ("account", "intern")])
        .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert!(
        b.cookie("motpd_session").is_none(),
        "no session before a code request"
    );
    let method = b.get(&format!("{base}/method")).await;
    let sent = b
        .post(
            &format!("{base}/sms"),
            &[("csrf", &method.field("csrf")), ("phone", "0912345678")],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let before = b
        .cookie("motpd_session")
        .expect("the code request starts a session");
    let deadline = Instant::now() + PATIENCE;
    while gateway.received().is_empty() {
        assert!(Instant::now() < deadline, "no SMS reached the gateway");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let code = gateway.received()[0].code();
    let verified = b
        .post(
            &format!("{base}/sms/verify"),
            &[
                ("csrf", &sent.field("csrf")),
                ("code", &code),
                ("identity", crate::web_account::IDENTITY),
            ],
        )
        .await;
    assert_eq!(verified.status, 303, "{}", verified.body);
    assert_eq!(
        verified.header("location"),
        Some("/account/activate/password")
    );
    let after = b.cookie("motpd_session").unwrap();
    assert_ne!(before, after, "a new session ID once the code is verified");
    let form = b.get(&format!("{base}/password")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"password\""), "{}", form.body);

    // Whoever kept the old cookie (and the old page's token) gets nothing.
    let mut old = Browser::new(server.addr);
    old.set_cookie("motpd_session", &before);
    let page = old.get(&format!("{base}/password")).await;
    assert!(page.body.contains(ZH_FLOW_EXPIRED), "{}", page.body);
    assert!(!page.body.contains("name=\"password\""));
    let post = old
        .post(
            &format!("{base}/password"),
            &[
                ("csrf", &sent.field("csrf")),
                ("password", "Another2024pw!"),
                ("confirm", "Another2024pw!"),
            ],
        )
        .await;
    assert_eq!(post.status, 403, "{}", post.body);
    assert_eq!(server.session_rows().await, 1);
    server.stop().await;
}

#[tokio::test]
async fn an_admin_locked_account_logging_in_gets_a_page_in_either_language() {
    let server = Server::start(|_| {}).await;
    let now = server.f.clock.now();
    server
        .f
        .store
        .lock_account("alice", ADMIN_LOCK_UNTIL, now)
        .await
        .unwrap();
    for (lang, text) in [("zh-TW", ZH_ADMIN_LOCKED), ("en", EN_ADMIN_LOCKED)] {
        let mut b = Browser::new(server.addr);
        let csrf = b.get(&format!("/enroll?lang={lang}")).await.field("csrf");
        let reply = b
            .post(
                "/enroll/login",
                &[
                    ("csrf", &csrf),
                    ("account", "alice"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.body.contains(text), "{}", reply.body);
        assert!(!reply.body.contains("9999"), "{}", reply.body);
    }
    // The server is still up and answers the next visitor.
    assert_eq!(Browser::new(server.addr).get("/enroll").await.status, 200);
    assert_eq!(server.session_rows().await, 0);
    server.stop().await;
}
