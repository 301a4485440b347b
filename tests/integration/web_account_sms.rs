//! Account activation and reset with an SMS code, end to end: the pages (see `web_account`) over the real SMS
//! service and HTTP sender, talking to a real HTTP gateway on 127.0.0.1:0 (`common::sms_gateway`) from which
//! the test reads the code, as the phone would.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use motpd::clock::Clock;
use motpd::config::{AuthMode, Config, SmsProvider};
use motpd::engine::AuditSink;
use motpd::engine::Decision;
use motpd::engine::sms::SmsService;
use motpd::notify::sms::sender_from_config;
use motpd::server::web::WebState;
use motpd::store::{AccountStatus, AccountUpsert};

use crate::common::NOW;
use crate::common::fixture::EngineFixture;
use crate::common::sms_gateway::{GatewayMode, SmsGateway};
use crate::web_account::{
    IDENTITY, NEW_PASSWORD, PEER, ZH_VERIFY_FAILED, audit, give_identity, identify, normalised,
    password_is, set_password, wrong,
};
use crate::web_enroll::{Browser, PASSWORD, Reply};

const ZH_SENT: &str = "若帳號與手機號碼相符,驗證碼已傳送至登記的手機,2 分鐘內有效";
const ZH_ACTIVATED: &str = "帳號已啟用";
const ZH_RESET_DONE: &str = "密碼已變更";

/// intern (pending, no password), alice (active), nophone (active, no number), each with [`IDENTITY`] on file;
/// pages with SMS through `gateway`.
pub(crate) async fn setup(gateway: &SmsGateway) -> (EngineFixture, Arc<WebState>) {
    let url = gateway.url.clone();
    let f = EngineFixture::new(move |c: &mut Config| {
        crate::web_account::account_config(c);
        c.sms.provider = SmsProvider::Http;
        c.sms.url = url;
        c.sms.timeout_seconds = 2;
        c.sms.retries = 0;
    })
    .await;
    f.account_with_hash("intern", None, AccountStatus::Pending)
        .await;
    f.account("alice", PASSWORD).await;
    let nophone = AccountUpsert {
        id: "nophone".to_owned(),
        name: "No Phone".to_owned(),
        phone: None,
        email: None,
        expires_on: None,
        groups: Vec::new(),
        password_hash: None,
        status: AccountStatus::Active,
    };
    f.store.create_account(&nophone, NOW).await.unwrap();
    for account in ["intern", "alice", "nophone"] {
        give_identity(&f, account, IDENTITY).await;
    }
    let (sink, _writer) = AuditSink::spawn(f.store.clone());
    let sms = Arc::new(SmsService::new(
        f.store.clone(),
        f.key.clone(),
        sender_from_config(&f.config.sms).unwrap(),
        f.config.sms.clone(),
        sink,
    ));
    let state = WebState::new(
        &f.config,
        &f.stores,
        f.key.clone(),
        Arc::new(f.clock.clone()),
    )
    .with_sms(sms);
    (f, Arc::new(state))
}

pub(crate) async fn ask_for_code(
    b: &mut Browser,
    base: &str,
    method: &Reply,
    phone: &str,
) -> Reply {
    assert!(method.body.contains("id=\"by-sms\""), "{}", method.body);
    let csrf = method.field("csrf");
    let reply = b
        .post(&format!("{base}/sms"), &[("csrf", &csrf), ("phone", phone)])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
}

/// The SMS code with the identity on file ([`IDENTITY`]).
async fn type_code(b: &mut Browser, base: &str, page: &Reply, code: &str) -> Reply {
    type_code_with(b, base, page, code, IDENTITY).await
}

pub(crate) async fn type_code_with(
    b: &mut Browser,
    base: &str,
    page: &Reply,
    code: &str,
    identity: &str,
) -> Reply {
    let csrf = page.field("csrf");
    b.post(
        &format!("{base}/sms/verify"),
        &[("csrf", &csrf), ("code", code), ("identity", identity)],
    )
    .await
}

/// Waits (at most 5 s) until the gateway has received `count` messages; the send runs in the background.
pub(crate) async fn wait_for_messages(gateway: &SmsGateway, count: usize) {
    for _ in 0..100 {
        if gateway.received().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the gateway received {} messages, expected {count}",
        gateway.received().len()
    );
}

#[tokio::test]
async fn activation_by_sms_code_read_from_the_gateway() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let (f, state) = setup(&gateway).await;
    let base = "/account/activate";
    // The VPN sends a not-yet-activated account here.
    let refused = f
        .ask("intern", b"anything123456", AuthMode::PasswordOtp)
        .await;
    match refused {
        Decision::Reject { message, .. } => {
            assert!(message.contains("/account/activate"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, base, "intern").await;
    let sent = ask_for_code(&mut b, base, &method, "+886 912-345-678").await;
    assert!(sent.body.contains(ZH_SENT), "{}", sent.body);
    wait_for_messages(&gateway, 1).await;
    let message = gateway.received().remove(0);
    assert_eq!(message.phone(), "0912345678");
    let code = message.code();

    let reply = type_code(&mut b, base, &sent, wrong(&code)).await;
    assert!(reply.body.contains(ZH_VERIFY_FAILED), "{}", reply.body);
    let reply = type_code(&mut b, base, &reply, &code).await;
    assert_eq!(
        reply.location(),
        "/account/activate/password",
        "{}",
        reply.body
    );
    let form = b.get("/account/activate/password").await;
    let done = set_password(&mut b, base, &form, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(done.body.contains(ZH_ACTIVATED), "{}", done.body);
    let account = f.store.account("intern").await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Active);
    assert!(password_is(account.password_hash.as_deref(), NEW_PASSWORD));

    // The code was used up.
    let mut again = Browser::new(&state, PEER);
    let method = identify(&mut again, base, "intern").await;
    let csrf = method.field("csrf");
    let reply = again
        .post(
            &format!("{base}/sms/verify"),
            &[("csrf", &csrf), ("code", &code), ("identity", IDENTITY)],
        )
        .await;
    assert!(reply.body.contains(ZH_VERIFY_FAILED), "{}", reply.body);

    let trail = audit(&f).await;
    assert!(trail.iter().any(|(k, a, o, d)| k == "account.activate"
        && a.as_deref() == Some("intern")
        && o == "ok"
        && d.contains("\"method\":\"sms+identity\"")));
    assert!(trail.iter().all(|(_, _, _, d)| !d.contains(&code)
        && !d.contains(NEW_PASSWORD)
        && !d.contains("0912345678")));
}

#[tokio::test]
async fn a_wrong_number_an_unknown_account_and_no_number_read_like_a_sent_code() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let (f, state) = setup(&gateway).await;
    let base = "/account/reset";
    let mut sent_pages = Vec::new();
    let mut failed_pages = Vec::new();
    for (account, phone) in [
        ("intern", "0987654321"),
        ("nobody", "0912345678"),
        ("nophone", "0912345678"),
        ("alice", "0912345678"),
    ] {
        let mut b = Browser::new(&state, PEER);
        let method = identify(&mut b, base, account).await;
        let sent = ask_for_code(&mut b, base, &method, phone).await;
        // The session starts at the code request, the same way whatever was typed.
        let cookies: Vec<_> = sent.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        assert!(cookies[0].to_str().unwrap().starts_with("motpd_session="));
        sent_pages.push(normalised(&sent, account));
        let reply = type_code(&mut b, base, &sent, "123456").await;
        failed_pages.push(normalised(&reply, account));
    }
    assert!(
        sent_pages.windows(2).all(|w| w[0] == w[1]),
        "{sent_pages:#?}"
    );
    assert!(
        failed_pages.windows(2).all(|w| w[0] == w[1]),
        "{failed_pages:#?}"
    );
    // Only the matching request tried to send anything (the SMS service audits every try, even refused).
    wait_for_messages(&gateway, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gateway.received().len(), 1);
    let trail = audit(&f).await;
    let sends: Vec<Option<&str>> = trail
        .iter()
        .filter(|(k, _, _, _)| k == "sms.send")
        .map(|(_, a, _, _)| a.as_deref())
        .collect();
    assert_eq!(sends, [Some("alice")], "{trail:?}");

    let requests: Vec<&str> = trail
        .iter()
        .filter(|(k, _, _, _)| k == "account.code_request")
        .map(|(_, _, _, d)| d.as_str())
        .collect();
    for reason in ["phone_mismatch", "unknown_account", "no_phone"] {
        assert!(
            requests.iter().any(|d| d.contains(reason)),
            "{reason}: {requests:?}"
        );
    }
    assert!(trail.iter().all(|(_, _, _, d)| !d.contains("0987654321")));
}

#[tokio::test]
async fn reset_by_sms_ends_sessions_and_failures_but_not_an_admin_lock() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let (f, state) = setup(&gateway).await;
    let base = "/account/reset";
    let mut other = Browser::new(&state, "10.1.2.3:5000");
    other.log_in().await;
    // A failed login before the reset: the reset clears the counter. (While a lockout runs, the identity is
    // not checked at all: see attacks_recovery.)
    let now = f.clock.now();
    f.store.record_failure("alice", now, 10, 900).await.unwrap();

    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, base, "alice").await;
    let sent = ask_for_code(&mut b, base, &method, "0912345678").await;
    wait_for_messages(&gateway, 1).await;
    let reply = type_code(&mut b, base, &sent, &gateway.last_code()).await;
    assert_eq!(
        reply.location(),
        "/account/reset/password",
        "{}",
        reply.body
    );
    let form = b.get("/account/reset/password").await;
    let done = set_password(&mut b, base, &form, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(done.body.contains(ZH_RESET_DONE), "{}", done.body);
    let account = f.store.account("alice").await.unwrap().unwrap();
    assert!(password_is(account.password_hash.as_deref(), NEW_PASSWORD));
    assert_eq!((account.failures, account.locked_until), (0, None));
    assert_eq!(other.get("/enroll/device").await.location(), "/enroll");
    // The owner's phone is told (message 2, no code in it).
    wait_for_messages(&gateway, 2).await;

    // Locked by IT: the identity is not checked while a lock runs, so the SMS code alone verifies nothing.
    f.clock.advance(120);
    let until = motpd::account_rules::ADMIN_LOCK_UNTIL;
    f.store
        .lock_account("alice", until, f.clock.now())
        .await
        .unwrap();
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, base, "alice").await;
    let sent = ask_for_code(&mut b, base, &method, "0912345678").await;
    wait_for_messages(&gateway, 3).await;
    let reply = type_code(&mut b, base, &sent, &gateway.last_code()).await;
    assert!(reply.body.contains(ZH_VERIFY_FAILED), "{}", reply.body);
    let account = f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(account.locked_until, Some(until));
    assert!(password_is(account.password_hash.as_deref(), NEW_PASSWORD));
}

#[tokio::test]
async fn a_failing_gateway_reads_the_same_leaves_no_code_and_is_audited() {
    let gateway = SmsGateway::start(GatewayMode::Fail).await;
    let (f, state) = setup(&gateway).await;
    let base = "/account/activate";
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, base, "intern").await;
    let sent = ask_for_code(&mut b, base, &method, "0912345678").await;
    assert!(sent.body.contains(ZH_SENT));
    wait_for_messages(&gateway, 1).await;
    // The failure is recorded (the send runs after the answer): wait for its audit row.
    let mut failed = false;
    for _ in 0..100 {
        let trail = audit(&f).await;
        if trail
            .iter()
            .any(|(k, a, o, _)| k == "sms.send" && a.as_deref() == Some("intern") && o != "ok")
        {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed, "{:?}", audit(&f).await);
    // No usable code was left: the code the gateway saw does not verify.
    let code = gateway.last_code();
    let reply = type_code(&mut b, base, &sent, &code).await;
    assert!(reply.body.contains(ZH_VERIFY_FAILED), "{}", reply.body);
    assert_eq!(
        f.store.account("intern").await.unwrap().unwrap().status,
        AccountStatus::Pending
    );
}

#[tokio::test]
async fn a_hanging_gateway_does_not_slow_the_answer() {
    let gateway = SmsGateway::start(GatewayMode::Hang).await;
    let (_f, state) = setup(&gateway).await;
    let base = "/account/reset";
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, base, "alice").await;
    // The language switch keeps the step.
    assert!(
        method
            .body
            .contains("href=\"/account/reset/method?lang=en\""),
        "{}",
        method.body
    );
    let started = std::time::Instant::now();
    let sent = ask_for_code(&mut b, base, &method, "0912345678").await;
    let elapsed = started.elapsed();
    assert!(sent.body.contains(ZH_SENT));
    // The gateway got the request and holds it for its 2 s time-out; the page did not wait for it.
    wait_for_messages(&gateway, 1).await;
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}
