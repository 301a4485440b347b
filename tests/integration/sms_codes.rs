//! The SMS code service end to end against a real local HTTP gateway (`common::sms_gateway`) and SQLite, with
//! a manual clock: validity (119 s accepted, 121 s refused), the try limit (the sixth try is refused even with
//! the right code), single use, replacement, rate limits and their reset, the request the gateway gets (body
//! escaping, Authorization header from a file, GET and JSON), and failing gateways (500 and no answer): a
//! clear message, no usable code, logged in the audit trail and counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use motpd::config::{Language, SmsBodyType, SmsConfig, SmsMethod, SmsProvider};
use motpd::engine::AuditSink;
use motpd::engine::sms::{SmsCheck, SmsError, SmsPurpose, SmsService};
use motpd::notify::sms::sender_from_config;
use motpd::secrets::Keyring;
use motpd::store::{Account, Store};

use crate::common::sms_gateway::{GatewayMode, SmsGateway};
use crate::common::{Backend, NOW, account, sqlite_file};

struct Setup {
    store: Arc<dyn Store>,
    sms: SmsService,
    sink: AuditSink,
    gateway: SmsGateway,
    _dir: tempfile::TempDir,
    /// Keeps the database alive.
    _backend: Backend,
}

fn config(url: &str) -> SmsConfig {
    SmsConfig {
        provider: SmsProvider::Http,
        url: url.to_owned(),
        max_per_day: 3,
        timeout_seconds: 1,
        ..SmsConfig::default()
    }
}

async fn setup(mode: GatewayMode, adjust: impl FnOnce(&mut SmsConfig)) -> Setup {
    let gateway = SmsGateway::start(mode).await;
    let dir = tempfile::tempdir().unwrap();
    let auth_file = dir.path().join("sms-auth");
    std::fs::write(&auth_file, "Bearer gateway-token-123\n").unwrap();
    let mut config = config(&gateway.url);
    config.auth_header_file = Some(auth_file);
    adjust(&mut config);
    let backend = sqlite_file().await;
    let store = backend.store.clone();
    let (sink, _task) = AuditSink::spawn(store.clone());
    let sms = SmsService::new(
        store.clone(),
        Arc::new(Keyring::from_bytes([9; 32])),
        sender_from_config(&config).unwrap(),
        config,
        sink.clone(),
    );
    Setup {
        store,
        sms,
        sink,
        gateway,
        _dir: dir,
        _backend: backend,
    }
}

impl Setup {
    async fn account(&self, id: &str, phone: Option<&str>) -> Account {
        let mut upsert = account(id);
        upsert.phone = phone.map(str::to_owned);
        self.store.create_account(&upsert, NOW).await.unwrap();
        self.store.account(id).await.unwrap().unwrap()
    }

    async fn send(
        &self,
        account: &Account,
        now: i64,
    ) -> Result<motpd::engine::sms::SmsSent, SmsError> {
        self.sms
            .send_code(account, SmsPurpose::Login, Language::ZhTw, now)
            .await
    }

    async fn verify(&self, id: &str, code: &str, now: i64) -> SmsCheck {
        self.sms
            .verify_code(id, SmsPurpose::Login, code, now)
            .await
            .unwrap()
    }

    /// The `sms.send` audit records: (outcome, detail).
    async fn audited(&self) -> Vec<(String, String)> {
        self.sink.flush().await;
        self.store
            .audit_page(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.event.kind == "sms.send")
            .map(|r| (r.event.outcome, r.event.detail))
            .collect()
    }
}

/// Any other 6-digit code.
fn other(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn a_code_is_valid_for_its_ttl_and_once() {
    let s = setup(GatewayMode::Ok, |_| {}).await;
    let alice = s.account("alice", Some("0912345678")).await;
    let sent = s.send(&alice, NOW).await.unwrap();
    assert_eq!(
        (sent.masked_phone.as_str(), sent.expires_at),
        ("0912-***-678", NOW + 120)
    );
    let message = s.gateway.received().last().unwrap().clone();
    assert_eq!(message.phone(), "0912345678");
    let code = message.code();
    assert_eq!(
        message.text(),
        format!("motpd 驗證碼 {code}，2 分鐘內有效。請勿告訴任何人。")
    );
    assert_eq!(s.verify("alice", &code, NOW + 119).await, SmsCheck::Valid);
    // Single use.
    assert_eq!(s.verify("alice", &code, NOW + 119).await, SmsCheck::NoCode);

    // 121 s later: refused even though right.
    s.send(&alice, NOW + 200).await.unwrap();
    let code = s.gateway.last_code();
    assert_eq!(
        s.verify("alice", &code, NOW + 200 + 121).await,
        SmsCheck::Expired
    );
    // Exactly at the TTL: refused too.
    s.send(&alice, NOW + 400).await.unwrap();
    let code = s.gateway.last_code();
    assert_eq!(
        s.verify("alice", &code, NOW + 400 + 120).await,
        SmsCheck::Expired
    );
    assert_eq!(s.sms.stats().sent, 3);
    assert_eq!(s.sms.stats().verified, 1);
}

#[tokio::test]
async fn the_sixth_try_is_refused_even_with_the_right_code() {
    let s = setup(GatewayMode::Ok, |_| {}).await;
    let alice = s.account("alice", Some("0912345678")).await;
    s.send(&alice, NOW).await.unwrap();
    let code = s.gateway.last_code();
    for remaining in (0..5).rev() {
        assert_eq!(
            s.verify("alice", &other(&code), NOW + 1).await,
            SmsCheck::Wrong { remaining }
        );
    }
    assert_eq!(
        s.verify("alice", &code, NOW + 2).await,
        SmsCheck::TooManyTries
    );
    // The fifth try may still be the right one.
    s.send(&alice, NOW + 60).await.unwrap();
    let code = s.gateway.last_code();
    for _ in 0..4 {
        s.verify("alice", &other(&code), NOW + 61).await;
    }
    assert_eq!(s.verify("alice", &code, NOW + 62).await, SmsCheck::Valid);
}

#[tokio::test]
async fn a_new_code_replaces_the_earlier_one() {
    let s = setup(GatewayMode::Ok, |_| {}).await;
    let alice = s.account("alice", Some("0912345678")).await;
    s.send(&alice, NOW).await.unwrap();
    let first = s.gateway.last_code();
    s.send(&alice, NOW + 60).await.unwrap();
    let second = s.gateway.last_code();
    if first != second {
        assert_eq!(
            s.verify("alice", &first, NOW + 61).await,
            SmsCheck::Wrong { remaining: 4 }
        );
    }
    assert_eq!(s.verify("alice", &second, NOW + 62).await, SmsCheck::Valid);
    // Codes of one purpose do not answer another.
    s.send(&alice, NOW + 120).await.unwrap();
    let code = s.gateway.last_code();
    let reset = s
        .sms
        .verify_code("alice", SmsPurpose::Reset, &code, NOW + 121)
        .await
        .unwrap();
    assert_eq!(reset, SmsCheck::NoCode);
}

#[tokio::test]
async fn rate_limits_refuse_with_the_next_time_and_reset() {
    let s = setup(GatewayMode::Ok, |_| {}).await;
    let alice = s.account("alice", Some("0912345678")).await;
    let bob = s.account("bob", Some("0912345678")).await;
    s.send(&alice, NOW).await.unwrap();
    let refused = s.send(&alice, NOW + 30).await.unwrap_err();
    assert!(
        matches!(refused, SmsError::RateLimited { next_allowed_at } if next_allowed_at == NOW + 60)
    );
    // The same number for another account is limited too.
    let refused = s.send(&bob, NOW + 30).await.unwrap_err();
    assert!(
        matches!(refused, SmsError::RateLimited { next_allowed_at } if next_allowed_at == NOW + 60)
    );
    // NOW + 60 is 23:07 at +08:00 (NOW = 2025-06-15 15:06:40 UTC).
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap();
    assert_eq!(
        refused.user_message(Language::ZhTw, NOW + 30, offset),
        "簡訊驗證碼發送太頻繁，請於 23:07 後再試。"
    );
    assert_eq!(
        refused.user_message(Language::En, NOW + 30, offset),
        "Too many SMS codes requested. Try again after 23:07."
    );
    s.send(&alice, NOW + 60).await.unwrap();
    s.send(&alice, NOW + 120).await.unwrap();
    // Three in 24 hours (max_per_day = 3): the next when the first leaves the rolling window.
    let refused = s.send(&alice, NOW + 3600).await.unwrap_err();
    assert!(
        matches!(refused, SmsError::RateLimited { next_allowed_at } if next_allowed_at == NOW + 86_400)
    );
    // NOW + 3600 is 00:06 on 2025-06-16 local time, the same day as NOW + 86 400 (23:06).
    assert_eq!(
        refused.user_message(Language::En, NOW + 3600, offset),
        "Too many SMS codes requested. Try again after 23:06."
    );
    assert!(
        refused
            .user_message(Language::En, NOW, offset)
            .contains("2025-06-16 23:06")
    );
    assert_eq!(
        s.gateway.received().len(),
        3,
        "refused sends reach no gateway"
    );
    s.send(&alice, NOW + 86_400).await.unwrap();
    assert_eq!(s.sms.stats().rate_limited, 3);
    let audited = s.audited().await;
    assert_eq!(audited.iter().filter(|(o, _)| o == "refused").count(), 3);
    assert_eq!(audited.iter().filter(|(o, _)| o == "sent").count(), 4);
}

#[tokio::test]
async fn a_gateway_answering_500_leaves_no_code_and_is_counted() {
    let s = setup(GatewayMode::Fail, |c| c.retries = 2).await;
    let alice = s.account("alice", Some("0912345678")).await;
    let error = s.send(&alice, NOW).await.unwrap_err();
    assert!(
        matches!(&error, SmsError::Gateway(m) if m.contains("HTTP 500")),
        "{error:?}"
    );
    assert_eq!(
        error.user_message(Language::ZhTw, NOW, time::UtcOffset::UTC),
        "簡訊暫時無法發送，請稍後再試或聯絡資訊室。"
    );
    // Retried on 5xx: 1 + 2 requests, each with the code, none of which now works.
    let received = s.gateway.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        s.verify("alice", &received[0].code(), NOW + 1).await,
        SmsCheck::NoCode
    );
    assert_eq!(s.sms.stats().gateway_failures, 1);
    let audited = s.audited().await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].0, "failed");
    assert!(
        audited[0].1.contains("\"reason\":\"gateway\""),
        "{}",
        audited[0].1
    );
    assert!(!audited[0].1.contains(&received[0].code()));
    // The failed send used its rate-limit slot (documented): the next one after the interval works.
    assert!(matches!(
        s.send(&alice, NOW + 30).await,
        Err(SmsError::RateLimited { .. })
    ));
    s.gateway.set_mode(GatewayMode::Ok);
    s.send(&alice, NOW + 60).await.unwrap();
    assert_eq!(
        s.verify("alice", &s.gateway.last_code(), NOW + 61).await,
        SmsCheck::Valid
    );
}

#[tokio::test]
async fn a_gateway_that_never_answers_times_out_without_retry() {
    let s = setup(GatewayMode::Hang, |c| c.retries = 3).await;
    let alice = s.account("alice", Some("0912345678")).await;
    let started = Instant::now();
    let error = s.send(&alice, NOW).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&error, SmsError::Gateway(m) if m.contains("did not answer within 1 s")),
        "{error:?}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The request reached the gateway once: it may deliver, so it is not sent again.
    let received = s.gateway.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        s.verify("alice", &received[0].code(), NOW + 1).await,
        SmsCheck::NoCode
    );
    assert_eq!(s.sms.stats().gateway_failures, 1);
    assert_eq!(s.audited().await[0].0, "failed");
}

#[tokio::test]
async fn an_unreachable_gateway_is_retried_then_reported() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    drop(listener);
    let s = setup(GatewayMode::Ok, |c| {
        c.url = url;
        c.retries = 1;
    })
    .await;
    let alice = s.account("alice", Some("0912345678")).await;
    let error = s.send(&alice, NOW).await.unwrap_err();
    assert!(
        matches!(&error, SmsError::Gateway(m) if m.contains("unreachable")),
        "{error:?}"
    );
    assert_eq!(s.sms.stats().gateway_failures, 1);
}

#[tokio::test]
async fn the_gateway_gets_the_configured_request() {
    // Form body with the Authorization header from the file.
    let s = setup(GatewayMode::Ok, |_| {}).await;
    let alice = s.account("alice", Some("0912345678")).await;
    s.sms
        .send_code(&alice, SmsPurpose::Reset, Language::En, NOW)
        .await
        .unwrap();
    let got = s.gateway.received().pop().unwrap();
    assert_eq!(got.method, "POST");
    assert_eq!(
        got.authorization.as_deref(),
        Some("Bearer gateway-token-123")
    );
    assert!(
        got.content_type
            .as_deref()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    assert!(
        got.body.starts_with("phone=0912345678&message=motpd+code+"),
        "{}",
        got.body
    );
    assert_eq!(
        got.text(),
        format!(
            "motpd code {}, valid for 2 minutes. Do not share it.",
            got.code()
        )
    );

    // JSON body, success text required and present.
    let s = setup(GatewayMode::Ok, |c| {
        c.body_type = SmsBodyType::Json;
        c.body_template = r#"{"to": "{phone}", "text": "{message}"}"#.into();
        c.success_match = Some("statuscode=1".into());
    })
    .await;
    let alice = s.account("alice", Some("0912345678")).await;
    s.send(&alice, NOW).await.unwrap();
    let got = s.gateway.received().pop().unwrap();
    assert!(
        got.content_type
            .as_deref()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(got.phone(), "0912345678");
    assert_eq!(
        s.verify("alice", &got.code(), NOW + 1).await,
        SmsCheck::Valid
    );

    // GET: the form template as the query string.
    let s = setup(GatewayMode::Ok, |c| c.method = SmsMethod::Get).await;
    let alice = s.account("alice", Some("0912345678")).await;
    s.send(&alice, NOW).await.unwrap();
    let got = s.gateway.received().pop().unwrap();
    assert_eq!((got.method.as_str(), got.body.as_str()), ("GET", ""));
    assert_eq!(got.phone(), "0912345678");
    assert_eq!(got.code().len(), 6);

    // A 2xx without the success text is a failure, and leaves no code.
    let s = setup(GatewayMode::Ok, |c| {
        c.success_match = Some("OK-SENT".into())
    })
    .await;
    let alice = s.account("alice", Some("0912345678")).await;
    let error = s.send(&alice, NOW).await.unwrap_err();
    assert!(
        matches!(&error, SmsError::Gateway(m) if m.contains("success_match")),
        "{error:?}"
    );
    assert_eq!(
        s.verify("alice", &s.gateway.last_code(), NOW + 1).await,
        SmsCheck::NoCode
    );
}

#[tokio::test]
async fn no_number_or_sms_off_sends_nothing() {
    let s = setup(GatewayMode::Ok, |_| {}).await;
    let nophone = s.account("nophone", None).await;
    assert!(matches!(
        s.send(&nophone, NOW).await,
        Err(SmsError::NoPhone)
    ));
    let off = setup(GatewayMode::Ok, |c| c.provider = SmsProvider::None).await;
    assert!(!off.sms.enabled());
    let alice = off.account("alice", Some("0912345678")).await;
    assert!(matches!(
        off.send(&alice, NOW).await,
        Err(SmsError::Disabled)
    ));
    assert!(s.gateway.received().is_empty() && off.gateway.received().is_empty());
    assert_eq!(s.sms.stats().refused, 1);
}

#[tokio::test]
async fn two_racing_right_answers_are_valid_once() {
    let s = Arc::new(setup(GatewayMode::Ok, |_| {}).await);
    let alice = s.account("alice", Some("0912345678")).await;
    s.send(&alice, NOW).await.unwrap();
    let code = s.gateway.last_code();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (s, code) = (s.clone(), code.clone());
            tokio::spawn(async move { s.verify("alice", &code, NOW + 1).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    assert_eq!(
        results.iter().filter(|r| **r == SmsCheck::Valid).count(),
        1,
        "{results:?}"
    );
    assert!(results.contains(&SmsCheck::NoCode), "{results:?}");
}

#[tokio::test]
async fn an_https_gateway_is_trusted_through_the_configured_ca_only() {
    use crate::common::sms_gateway::tls_dir;

    let tls = SmsGateway::start_tls(GatewayMode::Ok).await;
    let url = tls.url.clone();
    // With the test CA as sms.ca_file: delivered over TLS.
    let s = setup(GatewayMode::Ok, |c| {
        c.url = url.clone();
        c.ca_file = Some(tls_dir().join("ca.pem"));
    })
    .await;
    let alice = s.account("alice", Some("0912345678")).await;
    s.send(&alice, NOW).await.unwrap();
    let got = tls.received().pop().unwrap();
    assert_eq!(
        got.authorization.as_deref(),
        Some("Bearer gateway-token-123")
    );
    assert_eq!(
        s.verify("alice", &got.code(), NOW + 1).await,
        SmsCheck::Valid
    );
    // With the public roots the test CA is unknown: refused before anything is sent.
    let s = setup(GatewayMode::Ok, |c| c.url = url.clone()).await;
    let alice = s.account("alice", Some("0912345678")).await;
    let error = s.send(&alice, NOW).await.unwrap_err();
    assert!(
        matches!(&error, SmsError::Gateway(m) if m.contains("TLS")),
        "{error:?}"
    );
    assert_eq!(tls.received().len(), 1);
    // A CA file without certificates is a configuration error.
    let mut config = config(&url);
    config.ca_file = Some(tls_dir().join("gateway.key"));
    assert!(matches!(
        sender_from_config(&config),
        Err(motpd::notify::sms::SmsSendError::CaFile { .. })
    ));
}
