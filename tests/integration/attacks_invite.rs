//! Issue #20 item 1, "the mailbox alone gets in", run as an attacker would: a node serving RADIUS over UDP and
//! the enrollment pages over HTTP on 127.0.0.1, driven by a raw HTTP/1.1 client (one connection per request)
//! and the RADIUS test client. Whoever reads the mailbox holds the invitation link (and, with `--qr-in-mail`,
//! the seed); without the account's password that must bind nothing, and so lead to no Access-Accept.
//!
//! Also: the legitimate invitation flow end to end (password, seed, code, bound, then a VPN Accept, and the
//! notice mail when aiosmtpd is there), a pending account sent to activation first, and a wrong password on
//! the link counting towards the lockout without using the link up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use motpd::clock::Clock;
use motpd::config::SmtpTls;
use motpd::engine::EngineSettings;
use motpd::engine::invitations::{Invitations, LinkState};
use motpd::radius::Code;
use motpd::server::node::{Node, bind_udp, bind_web};
use motpd::store::AccountStatus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::common::fixture::{CLIENT, EngineFixture};
use crate::common::radius_client::{SECRET, TestClient, add_client};
use crate::common::sms_gateway::{GatewayMode, SmsGateway};
use crate::invite_mail::{SmtpSink, link_path, mail, seed_of, start_sink};
use crate::web_enroll::{PASSWORD, code_at, web_config};

const ZH_ACTIVATE_FIRST: &str = "此帳號尚未啟用";
const EN_ACTIVATE_FIRST: &str = "This account is not activated yet";
const ZH_BOUND: &str = "綁定完成";
const ZH_WRONG_PASSWORD: &str = "帳號或密碼錯誤";
const ZH_LOCKED: &str = "帳號已鎖定至";

/// One HTTP reply.
struct HttpReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
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

    fn initial_key(&self) -> String {
        let marker = "id=\"initial-key\">";
        let start = self.body.find(marker).expect("initial key shown") + marker.len();
        let rest = &self.body[start..];
        rest[..rest.find('<').unwrap()].replace(' ', "")
    }

    fn shows_a_seed(&self) -> bool {
        self.body.contains("initial-key") || self.body.contains("<svg")
    }
}

/// A browser speaking HTTP/1.1 over TCP, with a cookie jar.
struct Http {
    server: SocketAddr,
    cookies: HashMap<String, String>,
}

impl Http {
    fn new(server: SocketAddr) -> Self {
        Self {
            server,
            cookies: HashMap::new(),
        }
    }

    async fn get(&mut self, path: &str) -> HttpReply {
        self.send("GET", path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> HttpReply {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send("POST", path, Some(body)).await
    }

    async fn send(&mut self, method: &str, path: &str, body: Option<String>) -> HttpReply {
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(self.server).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await.unwrap();
            raw
        };
        let raw = tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .expect("the server answered within 10 s");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        let chunked = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
        });
        if chunked {
            body = dechunk(&body);
        }
        for (name, value) in &headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let (pair, _) = value.split_once(';').unwrap_or((value, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        HttpReply {
            status,
            headers,
            body: String::from_utf8(body).unwrap(),
        }
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
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

/// A node with RADIUS (UDP) and the pages (HTTP) on 127.0.0.1, and an invitation service on its store.
struct Site {
    f: EngineFixture,
    invitations: Invitations,
    web: SocketAddr,
    radius: SocketAddr,
    token: CancellationToken,
    node: Option<Node>,
}

impl Site {
    /// `smtp_port`: where the binding notices go (a sink, or a closed port).
    async fn start(smtp_port: u16) -> Self {
        Self::start_with(smtp_port, None).await
    }

    /// With SMS through the gateway at `sms_url` (the notices go there too).
    async fn start_with(smtp_port: u16, sms_url: Option<String>) -> Self {
        let f = EngineFixture::new(move |config| {
            web_config(config);
            if let Some(url) = sms_url {
                config.sms.provider = motpd::config::SmsProvider::Http;
                config.sms.url = url;
                config.sms.timeout_seconds = 2;
                config.sms.retries = 0;
            }
            config.smtp.host = "127.0.0.1".into();
            config.smtp.port = smtp_port;
            config.smtp.tls = SmtpTls::None;
            config.smtp.from = "motp@hospital.example".into();
            config.smtp.timeout_seconds = 5;
            config.web.invite_ttl_hours = 72;
        })
        .await;
        add_client(&f, CLIENT, "127.0.0.1/32", SECRET, true).await;
        let auth = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let accounting = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = bind_web("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let (radius, web) = (auth.local_addr().unwrap(), listener.local_addr().unwrap());
        let token = CancellationToken::new();
        let node = Node::start(
            &f.config,
            f.stores.clone(),
            f.key.clone(),
            Arc::new(f.clock.clone()),
            (vec![auth], vec![accounting]),
            Some(listener),
            token.clone(),
        )
        .await
        .unwrap();
        let invitations = Invitations::new(
            &f.stores,
            f.key.clone(),
            Arc::new(f.clock.clone()),
            EngineSettings::from_config(&f.config),
            f.config.web.invite_ttl_hours,
        );
        Self {
            f,
            invitations,
            web,
            radius,
            token,
            node: Some(node),
        }
    }

    /// A link to `id`'s invitation (its path), as read from the mail.
    async fn invite(&self, id: &str) -> String {
        let invitation = self
            .invitations
            .invite(id, false, "cli:test")
            .await
            .unwrap();
        link_path(invitation.link.expose())
    }

    /// A `--qr-in-mail` invitation: (link path, seed from the mailed QR code).
    async fn invite_with_seed(&self, id: &str) -> (String, Vec<u8>) {
        let invitation = self
            .invitations
            .invite_with_seed(id, "cli:test")
            .await
            .unwrap();
        let (seed, _) = seed_of(invitation.mailed_uri.unwrap().expose());
        (link_path(invitation.link.expose()), seed)
    }

    async fn vpn(&self, user: &str, typed: &str) -> Code {
        let mut client = TestClient::new(self.radius, SECRET).await;
        client
            .access(user, typed.as_bytes(), None)
            .await
            .expect("a RADIUS reply")
            .code
    }

    /// How many pending devices were started for `id` (its `enroll.start` audit events).
    async fn starts(&self, id: &str) -> usize {
        let audit = self.f.store.audit_page(0, 1000).await.unwrap();
        audit
            .iter()
            .filter(|r| r.event.kind == "enroll.start" && r.event.account_id.as_deref() == Some(id))
            .count()
    }

    async fn failures(&self, id: &str) -> u32 {
        self.f.store.account(id).await.unwrap().unwrap().failures
    }

    async fn stop(mut self) {
        self.token.cancel();
        if let Some(node) = self.node.take() {
            node.finish().await.unwrap();
        }
    }
}

/// A port nothing listens on (the notices of tests without a sink fail there, logged).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The confirm form an attacker builds: the page's CSRF token, a device ID and a code.
async fn confirm(b: &mut Http, path: &str, csrf: &str, device: &str, code: &str) -> HttpReply {
    b.post(
        &format!("{path}/confirm"),
        &[("csrf", csrf), ("device", device), ("code", code)],
    )
    .await
}

/// The password form, then the password; returns the page the link shows afterwards.
async fn unlock(b: &mut Http, path: &str, password: &str) -> HttpReply {
    let form = b.get(path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.field("csrf");
    b.post(
        &format!("{path}/unlock"),
        &[("csrf", &csrf), ("password", password)],
    )
    .await
}

#[tokio::test]
async fn the_mailbox_alone_binds_no_device() {
    let site = Site::start(closed_port()).await;
    let f = &site.f;
    f.account("alice", PASSWORD).await;
    let path = site.invite("alice").await;

    // The attacker has the mail: the link shows the account's ID and asks for its password, never a seed.
    let mut attacker = Http::new(site.web);
    let page = attacker.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.shows_a_seed(),
        "the link showed a seed without the password: {}",
        page.body
    );
    assert!(
        page.body.contains("id=\"invite-account\">alice<"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("action=\"{path}/unlock\"")));
    assert_eq!(site.starts("alice").await, 0, "nothing was started");

    // Posting a code straight to the confirm form binds nothing: the session holds no password proof.
    let csrf = page.field("csrf");
    let forged = confirm(&mut attacker, &path, &csrf, "dev-guess", "123456").await;
    assert!(!forged.body.contains(ZH_BOUND), "{}", forged.body);
    assert!(!forged.shows_a_seed());
    assert!(f.store.active_device("alice").await.unwrap().is_none());
    assert_eq!(
        site.invitations
            .open(&path["/invite/".len()..])
            .await
            .unwrap(),
        LinkState::Valid {
            account_id: "alice".into()
        },
        "the link is not used up"
    );
    // ... so the VPN, with whatever the attacker can type, says no.
    assert_eq!(
        site.vpn("alice", "Guess2024pw123456").await,
        Code::AccessReject
    );
    site.stop().await;
}

#[tokio::test]
async fn a_mailed_seed_needs_the_password_on_the_page_and_at_the_vpn() {
    let site = Site::start(closed_port()).await;
    let f = &site.f;
    f.account("bob", PASSWORD).await;
    let (path, seed) = site.invite_with_seed("bob").await;
    let pending = f
        .store
        .mailed_pending_device("bob", f.clock.now())
        .await
        .unwrap()
        .unwrap();

    // The attacker has the mail's seed and, at best, the pending device's ID: the page still binds nothing.
    let mut attacker = Http::new(site.web);
    let page = attacker.get(&path).await;
    assert!(!page.shows_a_seed(), "{}", page.body);
    let csrf = page.field("csrf");
    let code = code_at(&seed, f.clock.now());
    let forged = confirm(&mut attacker, &path, &csrf, &pending.id, &code).await;
    assert!(!forged.body.contains(ZH_BOUND), "{}", forged.body);
    assert!(
        f.store.active_device("bob").await.unwrap().is_none(),
        "bound from the mailbox alone"
    );

    // A wrong password on the link is refused, and counted.
    let refused = unlock(&mut attacker, &path, "Guess2024pw").await;
    assert!(refused.body.contains(ZH_WRONG_PASSWORD), "{}", refused.body);
    assert!(!refused.shows_a_seed());

    // At the VPN the mailed code without the right password activates nothing either.
    let typed = format!("Guess2024pw{code}");
    assert_eq!(site.vpn("bob", &typed).await, Code::AccessReject);
    assert!(f.store.active_device("bob").await.unwrap().is_none());
    assert_eq!(site.vpn("bob", &code).await, Code::AccessReject);
    assert!(f.store.active_device("bob").await.unwrap().is_none());

    assert_eq!(
        site.failures("bob").await,
        2,
        "every VPN try counted (the link's try counts on the web pages' own counter)"
    );

    // The owner, with the password, activates it at the VPN once the lock is over.
    f.clock
        .advance(i64::from(f.config.policy.lockout_minutes) * 60 + 30);
    let right = format!("{PASSWORD}{}", code_at(&seed, f.clock.now()));
    assert_eq!(site.vpn("bob", &right).await, Code::AccessAccept);
    assert_eq!(
        f.store.active_device("bob").await.unwrap().unwrap().id,
        pending.id
    );
    site.stop().await;
}

#[tokio::test]
async fn a_pending_account_activates_before_its_link_binds() {
    let site = Site::start(closed_port()).await;
    let f = &site.f;
    f.account_with_hash("carol", None, AccountStatus::Pending)
        .await;
    f.account_with_hash("dave", None, AccountStatus::Pending)
        .await;
    let path = site.invite("carol").await;

    // The link tells the person to activate the account first, in both languages, and starts nothing.
    let mut b = Http::new(site.web);
    let page = b.get(&path).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body.contains(ZH_ACTIVATE_FIRST) && page.body.contains(EN_ACTIVATE_FIRST),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("href=\"/account/activate?lang=zh-TW\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("href=\"/account/activate?lang=en\""),
        "{}",
        page.body
    );
    assert!(!page.shows_a_seed());
    assert_eq!(site.starts("carol").await, 0, "nothing was started");

    // A mailed seed of a pending account does not activate at the VPN, whatever is typed.
    let (_, seed) = site.invite_with_seed("dave").await;
    let code = code_at(&seed, f.clock.now());
    for typed in [code.clone(), format!("anything{code}")] {
        assert_eq!(site.vpn("dave", &typed).await, Code::AccessReject);
    }
    assert!(f.store.active_device("dave").await.unwrap().is_none());

    // Activated (a password set), the same link works while it is valid.
    let hash = motpd::password::hash_password(PASSWORD.as_bytes()).unwrap();
    let now = f.clock.now();
    f.store
        .activate_with_password("carol", &hash, now, now)
        .await
        .unwrap()
        .unwrap();
    let unlocked = unlock(&mut b, &path, PASSWORD).await;
    assert_eq!(unlocked.status, 303, "{}", unlocked.body);
    let seed_page = b.get(&path).await;
    assert!(seed_page.shows_a_seed(), "{}", seed_page.body);
    site.stop().await;
}

#[tokio::test]
async fn a_wrong_password_on_the_link_counts_and_leaves_the_link_usable() {
    let site = Site::start(closed_port()).await;
    let f = &site.f;
    f.account("erin", PASSWORD).await;
    let path = site.invite("erin").await;
    let mut attacker = Http::new(site.web);
    for n in 1..=2 {
        let refused = unlock(&mut attacker, &path, "Guess2024pw").await;
        assert_eq!(refused.status, 200);
        assert!(
            refused.body.contains(ZH_WRONG_PASSWORD),
            "{n}: {}",
            refused.body
        );
    }
    // web_config sets lockout_failures = 3: the third locks the web pages' counter (the VPN keeps its own).
    let locked = unlock(&mut attacker, &path, "Guess2024pw").await;
    assert!(locked.body.contains(ZH_LOCKED), "{}", locked.body);
    // While locked even the right password shows nothing.
    let still = unlock(&mut attacker, &path, PASSWORD).await;
    assert!(
        still.body.contains(ZH_LOCKED) && !still.shows_a_seed(),
        "{}",
        still.body
    );
    assert_eq!(
        site.invitations
            .open(&path["/invite/".len()..])
            .await
            .unwrap(),
        LinkState::Valid {
            account_id: "erin".into()
        },
        "the link is not used up"
    );
    // After the lock, the owner uses the same link.
    f.clock
        .advance(i64::from(f.config.policy.lockout_minutes) * 60 + 1);
    let mut owner = Http::new(site.web);
    assert_eq!(unlock(&mut owner, &path, PASSWORD).await.status, 303);
    assert!(owner.get(&path).await.shows_a_seed());
    site.stop().await;
}

#[tokio::test]
async fn an_invitation_with_the_password_binds_and_logs_in_and_tells_the_owner() {
    let sink: Option<SmtpSink> = start_sink().await;
    let port = sink.as_ref().map_or_else(closed_port, |s| s.port);
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let site = Site::start_with(port, Some(gateway.url.clone())).await;
    let f = &site.f;
    f.account("frank", PASSWORD).await;
    let path = site.invite("frank").await;

    let mut b = Http::new(site.web);
    let unlocked = unlock(&mut b, &path, PASSWORD).await;
    assert_eq!(unlocked.status, 303, "{}", unlocked.body);
    assert_eq!(unlocked.header("location"), Some(path.as_str()));
    let page = b.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.shows_a_seed(), "{:?} {}", unlocked.headers, page.body);
    let seed = motpd::otp::parse_base32_seed(&page.initial_key()).unwrap();
    // The grant is this browser's: another one with the link alone still sees the password form.
    let mut other = Http::new(site.web);
    assert!(!other.get(&path).await.shows_a_seed());

    let csrf = page.field("csrf");
    let device = page.field("device");
    let done = confirm(
        &mut b,
        &path,
        &csrf,
        &device,
        &code_at(&seed, f.clock.now()),
    )
    .await;
    assert!(done.body.contains(ZH_BOUND), "{}", done.body);
    assert_eq!(
        f.store.active_device("frank").await.unwrap().unwrap().id,
        device
    );
    assert_eq!(b.get(&path).await.status, 410, "used up");

    f.clock.advance(30);
    let login = format!("{PASSWORD}{}", code_at(&seed, f.clock.now()));
    assert_eq!(site.vpn("frank", &login).await, Code::AccessAccept);

    let audit = f.store.audit_page(0, 1000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.event.kind == "invite.unlock" && r.event.outcome == "ok")
    );
    if let Some(sink) = &sink {
        let notice = mail(sink, 1).await;
        assert_eq!(notice["to"], "frank@example.org");
        let text = notice["text"].as_str().unwrap();
        assert!(
            text.contains("frank") && text.contains("資訊室服務台") && text.contains("IT helpdesk")
        );
        assert!(!text.contains(&path), "no link in the notice");
    }
    // And by SMS to the registered number: the phone hears of it too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while gateway.received().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no SMS notice");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let sms = &gateway.received()[0];
    assert_eq!(sms.phone(), "0912345678");
    assert!(
        sms.text().contains("frank") && sms.text().contains("Call IT"),
        "{}",
        sms.text()
    );
    site.stop().await;
}

#[tokio::test]
async fn a_password_change_voids_the_links_grant() {
    let site = Site::start(closed_port()).await;
    let f = &site.f;
    f.account("gina", PASSWORD).await;
    let path = site.invite("gina").await;
    let mut b = Http::new(site.web);
    assert_eq!(unlock(&mut b, &path, PASSWORD).await.status, 303);
    let page = b.get(&path).await;
    assert!(page.shows_a_seed());

    // The owner resets the password (she suspects it leaked): the session that gave the old one sees the
    // password form again and cannot confirm.
    let hash = motpd::password::hash_password(b"Another2024pw").unwrap();
    let now = f.clock.now();
    f.store
        .reset_password("gina", &hash, now, now)
        .await
        .unwrap()
        .unwrap();
    let again = b.get(&path).await;
    assert!(!again.shows_a_seed(), "{}", again.body);
    assert!(again.body.contains(&format!("action=\"{path}/unlock\"")));
    let seed = motpd::otp::parse_base32_seed(&page.initial_key()).unwrap();
    let code = code_at(&seed, f.clock.now());
    let forged = confirm(
        &mut b,
        &path,
        &page.field("csrf"),
        &page.field("device"),
        &code,
    )
    .await;
    assert!(!forged.body.contains(ZH_BOUND), "{}", forged.body);
    assert!(f.store.active_device("gina").await.unwrap().is_none());
    site.stop().await;
}
