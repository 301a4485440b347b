//! The account pages attacked as an outsider would, over real HTTP (the node's web listener on 127.0.0.1:0, see
//! `common::http_client`) and real UDP (the node's RADIUS port), with the SMS gateway stub and, for the notice
//! mail, the SMTP sink. Each chain starts from one factor: the account ID and the registered number (public),
//! the phone (its SMS and its app), and must not end in an Access-Accept or a changed password. Then the
//! legitimate ways: SMS code + identity (followed by a paused VPN SMS fallback, a mail and an SMS notice), the
//! helpdesk's one-time code (once, until it expires); the SMS quotas per purpose; the default networks.

use std::net::SocketAddr;
use std::sync::Arc;

use motpd::clock::Clock;
use motpd::config::{Config, Language, SmsProvider};
use motpd::engine::helpdesk_codes::{HELPDESK_CODE_TTL_SECONDS, HelpdeskCodes};
use motpd::otp::Kind;
use motpd::radius::Code;
use motpd::server::node::{Node, bind_udp, bind_web};
use tokio_util::sync::CancellationToken;

use crate::common::fixture::{CLIENT, EngineFixture};
use crate::common::http_client::{HttpBrowser, HttpReply};
use crate::common::radius_client::{SECRET, TestClient, add_client};
use crate::common::sms_gateway::{GatewayMode, SmsGateway};
use crate::web_account::{IDENTITY, NEW_PASSWORD, ZH_VERIFY_FAILED, give_identity, password_is};
use crate::web_account_sms::wait_for_messages;

const PW: &str = "Nurse2024pw";
const PHONE: &str = "0912345678";
const ZH_FLOW_EXPIRED: &str = "此步驟已逾時或已完成";
const ZH_RESET_DONE: &str = "密碼已變更";

/// A node with RADIUS and the web pages on loopback: alice (active, app, identity on file), carol (active, no
/// device, no identity), SMS through `gateway`.
struct Site {
    f: EngineFixture,
    web: SocketAddr,
    auth: SocketAddr,
    token: CancellationToken,
    node: Option<Node>,
}

impl Site {
    async fn start(gateway: &SmsGateway, adjust: impl FnOnce(&mut Config)) -> Self {
        let url = gateway.url.clone();
        let f = EngineFixture::new(move |c| {
            c.radius.language = Language::En;
            c.sms.provider = SmsProvider::Http;
            c.sms.url = url;
            c.sms.timeout_seconds = 2;
            c.sms.retries = 0;
            adjust(c);
        })
        .await;
        f.account("alice", PW).await;
        f.device("alice", Kind::Totp).await;
        give_identity(&f, "alice", IDENTITY).await;
        f.account("carol", PW).await;
        add_client(&f, CLIENT, "127.0.0.1/32", SECRET, true).await;
        let web = bind_web("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let web_addr = web.local_addr().unwrap();
        let auth = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let auth_addr = auth.local_addr().unwrap();
        let accounting = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let token = CancellationToken::new();
        let node = Node::start(
            &f.config,
            f.stores.clone(),
            f.key.clone(),
            Arc::new(f.clock.clone()),
            (vec![auth], vec![accounting]),
            Some(web),
            token.clone(),
        )
        .await
        .unwrap();
        Self {
            f,
            web: web_addr,
            auth: auth_addr,
            token,
            node: Some(node),
        }
    }

    async fn radius(&self) -> TestClient {
        TestClient::new(self.auth, SECRET).await
    }

    async fn stop(mut self) {
        self.token.cancel();
        if let Some(node) = self.node.take() {
            node.finish().await.unwrap();
        }
    }

    async fn password_is(&self, account: &str, password: &str) -> bool {
        let account = self.f.store.account(account).await.unwrap().unwrap();
        password_is(account.password_hash.as_deref(), password)
    }

    /// The audit rows of `kind` for `account`, as (outcome, detail).
    async fn audit(&self, kind: &str, account: &str) -> Vec<(String, String)> {
        if let Some(node) = &self.node {
            node.engine.flush_audit().await;
        }
        crate::web_account::audit(&self.f)
            .await
            .into_iter()
            .filter(|(k, a, _, _)| k == kind && a.as_deref() == Some(account))
            .map(|(_, _, o, d)| (o, d))
            .collect()
    }
}

/// Start page and account ID over HTTP; returns the method page.
async fn identify(b: &mut HttpBrowser, base: &str, account: &str) -> HttpReply {
    let start = b.get(base).await;
    assert_eq!(start.status, 200, "{}", start.body);
    let csrf = start.field("csrf");
    let reply = b.post(base, &[("csrf", &csrf), ("account", account)]).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    b.get(&format!("{base}/method")).await
}

/// Asks for an SMS code to `PHONE` and returns the code page.
async fn ask_for_code(b: &mut HttpBrowser, base: &str, method: &HttpReply) -> HttpReply {
    let csrf = method.field("csrf");
    let reply = b
        .post(&format!("{base}/sms"), &[("csrf", &csrf), ("phone", PHONE)])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
}

/// Goes on to the password form and posts `password`, whatever the earlier pages said (as an attacker does).
async fn try_to_set_password(b: &mut HttpBrowser, base: &str, page: &HttpReply) -> HttpReply {
    let form = b.get(&format!("{base}/password")).await;
    let csrf = if form.body.contains("name=\"csrf\"") {
        form.field("csrf")
    } else {
        page.field("csrf")
    };
    b.post(
        &format!("{base}/password"),
        &[
            ("csrf", &csrf),
            ("password", NEW_PASSWORD),
            ("confirm", NEW_PASSWORD),
        ],
    )
    .await
}

/// At the VPN with the new password and the SMS keyword (password+otp mode), answering the challenge with the
/// code the gateway got; the last reply's code.
async fn vpn_by_sms(site: &Site, gateway: &SmsGateway, password: &str) -> (Code, String) {
    vpn_by_sms_as(site, gateway, "alice", password).await
}

/// [`vpn_by_sms`] as `account`.
async fn vpn_by_sms_as(
    site: &Site,
    gateway: &SmsGateway,
    account: &str,
    password: &str,
) -> (Code, String) {
    let mut client = site.radius().await;
    let before = gateway.received().len();
    let typed = format!("{password}sms");
    let first = client
        .access(account, typed.as_bytes(), None)
        .await
        .unwrap();
    if first.code != Code::AccessChallenge {
        return (first.code, first.messages);
    }
    wait_for_messages(gateway, before + 1).await;
    let code = gateway.last_code();
    let last = client
        .access(account, code.as_bytes(), first.state.as_deref())
        .await
        .unwrap();
    (last.code, last.messages)
}

/// A password set at the directory pauses SMS at the VPN as a reset at motpd does: the directory's own reset
/// process may have proved itself by the same phone, which must not lead to an Accept with that phone alone.
#[tokio::test]
async fn a_password_set_at_the_directory_pauses_sms_at_the_vpn() {
    use crate::common::slapd::{Slapd, password_of, user_id};
    use crate::directory_sync::replace;

    let Some(directory) = Slapd::start(3) else {
        return;
    };
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let ldap = directory.config(&[&directory.ldaps_url]);
    let site = Site::start(&gateway, |c| {
        c.accounts.password_source = motpd::config::PasswordSource::Ldap;
        c.ldap = ldap;
    })
    .await;
    let id = user_id(1);
    site.f
        .account_with_hash(&id, None, motpd::store::AccountStatus::Active)
        .await;
    let filetime = |unix: i64| (unix * 10_000_000 + 116_444_736_000_000_000).to_string();
    let now = site.f.clock.now();

    // Set an hour ago at the directory: SMS is unavailable, no code goes out.
    replace(&directory, 1, "pwdLastSet", &filetime(now - 3600));
    let (code, message) = vpn_by_sms_as(&site, &gateway, &id, &password_of(&id)).await;
    assert_eq!(code, Code::AccessReject, "{message}");
    assert!(message.contains("SMS codes are not available"), "{message}");
    assert!(gateway.received().is_empty());

    // Set more than policy.sms_pause_hours_after_reset (24) ago: the SMS code logs in.
    replace(&directory, 1, "pwdLastSet", &filetime(now - 25 * 3600));
    let (code, message) = vpn_by_sms_as(&site, &gateway, &id, &password_of(&id)).await;
    assert_eq!(code, Code::AccessAccept, "{message}");
    site.stop().await;
}

#[tokio::test]
async fn the_phone_alone_does_not_lead_from_a_reset_to_an_accept() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let site = Site::start(&gateway, |_| {}).await;
    let base = "/account/reset";
    // The attacker knows the account ID and the registered number, and reads the SMS (the phone).
    let mut b = HttpBrowser::new(site.web);
    let method = identify(&mut b, base, "alice").await;
    let sent = ask_for_code(&mut b, base, &method).await;
    wait_for_messages(&gateway, 1).await;
    let code = gateway.last_code();
    let csrf = sent.field("csrf");
    let verified = b
        .post(
            &format!("{base}/sms/verify"),
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(verified.status, 200, "no grant: {}", verified.body);
    assert!(
        verified.body.contains(ZH_VERIFY_FAILED),
        "{}",
        verified.body
    );
    let set = try_to_set_password(&mut b, base, &verified).await;
    assert!(set.body.contains(ZH_FLOW_EXPIRED), "{}", set.body);
    assert!(site.password_is("alice", PW).await);

    // Then at the VPN with the password the attacker chose, and an SMS code: no Accept.
    let (code, _) = vpn_by_sms(&site, &gateway, NEW_PASSWORD).await;
    assert_ne!(code, Code::AccessAccept);
    let verify = site.audit("account.verify", "alice").await;
    assert!(
        verify
            .iter()
            .any(|(o, d)| o == "reject" && d.contains("wrong_identity")),
        "{verify:?}"
    );
    site.stop().await;
}

#[tokio::test]
async fn the_apps_code_alone_or_with_a_wrong_identity_resets_nothing() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let site = Site::start(&gateway, |_| {}).await;
    let base = "/account/reset";
    for identity in [None, Some("B987654321"), Some("1990-01-01")] {
        site.f.clock.advance(30);
        let mut b = HttpBrowser::new(site.web);
        let method = identify(&mut b, base, "alice").await;
        let csrf = method.field("csrf");
        let code = site.f.code_now();
        let mut form = vec![("csrf", csrf.as_str()), ("code", code.as_str())];
        form.extend(identity.map(|i| ("identity", i)));
        let reply = b.post(&format!("{base}/app"), &form).await;
        assert_eq!(reply.status, 200, "{identity:?}: {}", reply.body);
        assert!(reply.body.contains(ZH_VERIFY_FAILED), "{identity:?}");
        // Refused either way: no right to set a password (403 when no session was ever started).
        let set = try_to_set_password(&mut b, base, &reply).await;
        assert!(
            set.status == 403 || set.body.contains(ZH_FLOW_EXPIRED),
            "{identity:?}: {}",
            set.status
        );
    }
    assert!(site.password_is("alice", PW).await);
    site.stop().await;
}

#[tokio::test]
async fn identity_guesses_count_towards_the_lockout() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let site = Site::start(&gateway, |c| c.policy.lockout_failures = 3).await;
    let base = "/account/reset";
    let mut b = HttpBrowser::new(site.web);
    let method = identify(&mut b, base, "alice").await;
    // Each guess needs a fresh code of the phone's app; three wrong identities lock the account.
    for guess in ["A000000001", "A000000002", "A000000003"] {
        site.f.clock.advance(30);
        let code = site.f.code_now();
        let csrf = method.field("csrf");
        let reply = b
            .post(
                &format!("{base}/app"),
                &[("csrf", &csrf), ("code", &code), ("identity", guess)],
            )
            .await;
        assert!(reply.body.contains(ZH_VERIFY_FAILED), "{guess}");
    }
    let account = site.f.store.account("alice").await.unwrap().unwrap();
    assert!(account.locked_until.is_some_and(|t| t > site.f.clock.now()));
    // Locked: the right code with the right identity verifies nothing.
    site.f.clock.advance(30);
    let code = site.f.code_now();
    let csrf = method.field("csrf");
    let reply = b
        .post(
            &format!("{base}/app"),
            &[("csrf", &csrf), ("code", &code), ("identity", IDENTITY)],
        )
        .await;
    assert!(reply.body.contains(ZH_VERIFY_FAILED), "{}", reply.body);
    assert!(site.password_is("alice", PW).await);
    site.stop().await;
}

#[tokio::test]
async fn a_reset_by_sms_and_identity_pauses_sms_at_the_vpn_and_tells_the_owner() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let sink = crate::invite_mail::start_sink().await;
    let port = sink.as_ref().map(|s| s.port);
    let site = Site::start(&gateway, |c| {
        if let Some(port) = port {
            c.smtp.host = "127.0.0.1".into();
            c.smtp.port = port;
        }
    })
    .await;
    let base = "/account/reset";
    let mut b = HttpBrowser::new(site.web);
    let method = identify(&mut b, base, "alice").await;
    let sent = ask_for_code(&mut b, base, &method).await;
    wait_for_messages(&gateway, 1).await;
    let code = gateway.last_code();
    let csrf = sent.field("csrf");
    // The identity in another spelling than on file (lower case, spaces).
    let verified = b
        .post(
            &format!("{base}/sms/verify"),
            &[
                ("csrf", &csrf),
                ("code", &code),
                ("identity", " a123 456 789 "),
            ],
        )
        .await;
    assert_eq!(verified.status, 303, "{}", verified.body);
    assert_eq!(verified.header("location"), "/account/reset/password");
    let done = try_to_set_password(&mut b, base, &verified).await;
    assert!(done.body.contains(ZH_RESET_DONE), "{}", done.body);
    assert!(site.password_is("alice", NEW_PASSWORD).await);

    // The owner's phone is told, without a code.
    wait_for_messages(&gateway, 2).await;
    let notice = gateway.received().remove(1).text();
    assert!(
        notice.contains("資訊室") && notice.contains("Not you?"),
        "{notice}"
    );
    assert!(!notice.chars().any(|c| c.is_ascii_digit()), "{notice}");
    // And the mailbox, when the SMTP sink runs.
    if let Some(sink) = &sink {
        let mail = crate::invite_mail::mail(sink, 1).await;
        assert_eq!(mail["to"], "alice@example.org");
        let subject = mail["subject"].as_str().unwrap();
        assert!(
            subject.contains("密碼已變更") && subject.contains("password was changed"),
            "{subject}"
        );
        let text = mail["text"].as_str().unwrap();
        assert!(text.contains("helpdesk") && text.contains("24"), "{text}");
    }

    // SMS at the VPN is paused: refused like SMS being unavailable, audited as sms_paused; no code goes out.
    let (code, message) = vpn_by_sms(&site, &gateway, NEW_PASSWORD).await;
    assert_eq!(code, Code::AccessReject);
    assert!(message.contains("SMS codes are not available"), "{message}");
    assert_eq!(gateway.received().len(), 2);
    let logins = site.audit("radius.auth", "alice").await;
    assert!(
        logins.iter().any(|(_, d)| d.contains("sms_paused")),
        "{logins:?}"
    );
    // Password and app still log in.
    let mut client = site.radius().await;
    let typed = format!("{NEW_PASSWORD}{}", site.f.code_now());
    let accept = client
        .access("alice", typed.as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(accept.code, Code::AccessAccept, "{}", accept.messages);

    // After policy.sms_pause_hours_after_reset, SMS works again.
    site.f.clock.advance(24 * 3600);
    let (code, message) = vpn_by_sms(&site, &gateway, NEW_PASSWORD).await;
    assert_eq!(code, Code::AccessAccept, "{message}");
    site.stop().await;
}

#[tokio::test]
async fn a_helpdesk_code_works_once_and_expires() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let site = Site::start(&gateway, |_| {}).await;
    let base = "/account/reset";
    let issue = |now: i64| {
        let store = site.f.store.clone();
        let codes = HelpdeskCodes::new(site.f.key.clone());
        async move {
            let code = HelpdeskCodes::generate().unwrap();
            let hash = codes.hash("carol", code.expose());
            store
                .set_helpdesk_code("carol", &hash, now + HELPDESK_CODE_TTL_SECONDS, now)
                .await
                .unwrap();
            code.expose().to_owned()
        }
    };
    // carol has no identity on file: a code with any identity verifies nothing.
    let mut b = HttpBrowser::new(site.web);
    let method = identify(&mut b, base, "carol").await;
    assert!(
        method.body.contains("id=\"by-helpdesk\""),
        "{}",
        method.body
    );
    let sent = ask_for_code(&mut b, base, &method).await;
    wait_for_messages(&gateway, 1).await;
    let csrf = sent.field("csrf");
    let reply = b
        .post(
            &format!("{base}/sms/verify"),
            &[
                ("csrf", &csrf),
                ("code", &gateway.last_code()),
                ("identity", IDENTITY),
            ],
        )
        .await;
    assert!(reply.body.contains(ZH_VERIFY_FAILED), "{}", reply.body);

    // The helpdesk's code, typed loosely, alone sets the password, once.
    let code = issue(site.f.clock.now()).await;
    let typed = code.replace('-', " ").to_lowercase();
    let mut b = HttpBrowser::new(site.web);
    let method = identify(&mut b, base, "carol").await;
    let csrf = method.field("csrf");
    let verified = b
        .post(
            &format!("{base}/helpdesk"),
            &[("csrf", &csrf), ("code", &typed)],
        )
        .await;
    assert_eq!(verified.status, 303, "{}", verified.body);
    let done = try_to_set_password(&mut b, base, &verified).await;
    assert!(done.body.contains(ZH_RESET_DONE), "{}", done.body);
    assert!(site.password_is("carol", NEW_PASSWORD).await);
    let mut b = HttpBrowser::new(site.web);
    let method = identify(&mut b, base, "carol").await;
    let csrf = method.field("csrf");
    let again = b
        .post(
            &format!("{base}/helpdesk"),
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert!(again.body.contains(ZH_VERIFY_FAILED), "{}", again.body);

    // A new code expires after 24 hours.
    let code = issue(site.f.clock.now()).await;
    site.f.clock.advance(HELPDESK_CODE_TTL_SECONDS);
    let mut b = HttpBrowser::new(site.web);
    let method = identify(&mut b, base, "carol").await;
    let csrf = method.field("csrf");
    let late = b
        .post(
            &format!("{base}/helpdesk"),
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert!(late.body.contains(ZH_VERIFY_FAILED), "{}", late.body);
    assert!(site.password_is("carol", NEW_PASSWORD).await);
    let verify = site.audit("account.verify", "carol").await;
    assert!(
        verify
            .iter()
            .any(|(o, d)| o == "ok" && d.contains("\"method\":\"helpdesk\"")),
        "{verify:?}"
    );
    assert!(verify.iter().any(|(_, d)| d.contains("no_identity")));
    assert!(verify.iter().all(|(_, d)| !d.contains(&code)));
    site.stop().await;
}

#[tokio::test]
async fn the_account_pages_cannot_use_up_the_vpn_sms_quota() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let site = Site::start(&gateway, |c| c.sms.max_per_day = 2).await;
    let base = "/account/reset";
    // Someone who knows alice's ID and number asks for reset codes until the day's quota is gone.
    for _ in 0..3 {
        site.f.clock.advance(120);
        let mut b = HttpBrowser::new(site.web);
        let method = identify(&mut b, base, "alice").await;
        ask_for_code(&mut b, base, &method).await;
    }
    wait_for_messages(&gateway, 2).await;
    let mut refused = false;
    for _ in 0..100 {
        let sends = site.audit("sms.send", "alice").await;
        if sends.iter().any(|(_, d)| d.contains("rate_limited")) {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "the third reset code is over the quota");
    assert_eq!(gateway.received().len(), 2);
    // alice's SMS at the VPN has its own quota.
    let (code, message) = vpn_by_sms(&site, &gateway, PW).await;
    assert_eq!(code, Code::AccessAccept, "{message}");
    site.stop().await;
}

#[tokio::test]
async fn the_account_pages_follow_the_enrollment_networks_by_default() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let site = Site::start(&gateway, |c| {
        c.web.enroll_networks = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    let mut b = HttpBrowser::new(site.web);
    for path in [
        "/account/reset",
        "/account/activate",
        "/account/reset/method",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(
            page.body
                .contains("帳號啟用與忘記密碼只能在醫院內部網路使用")
                && page.body.contains(
                    "Account activation and password reset work only from the hospital network"
                ),
            "{path}"
        );
    }
    let post = b
        .post("/account/reset", &[("csrf", "x"), ("account", "alice")])
        .await;
    assert_eq!(post.status, 403);
    site.stop().await;
}
