//! SMS instead of the app at the VPN, against a real local HTTP gateway: the engine with a manual clock
//! (challenge mode: code prompt offers the keyword, keyword → code sent → code accepted once; password+otp mode:
//! password + keyword; wrong codes; rate limit and gateway failure answered with a Reject saying why; the
//! per-account and global switches; accounts without a device after the enforcement date), and one full
//! challenge login by SMS through the real UDP server.

use motpd::config::{AuthMode, Config, Language, SmsProvider};
use motpd::engine::{AccessRequest, Decision, RejectReason};
use motpd::otp::Kind;
use motpd::radius::Code;
use motpd::secrets::SecretBytes;

use crate::common::fixture::{EngineFixture, request};
use crate::common::radius_client::RadiusFixture;
use crate::common::sms_gateway::{GatewayMode, SmsGateway};

const PW: &str = "Nurse2024";

async fn fixture(
    gateway: &SmsGateway,
    device: bool,
    adjust: impl FnOnce(&mut Config),
) -> EngineFixture {
    let url = gateway.url.clone();
    let f = EngineFixture::new(move |c| {
        c.radius.language = Language::En;
        c.sms.provider = SmsProvider::Http;
        c.sms.url = url;
        c.sms.timeout_seconds = 1;
        c.sms.retries = 0;
        adjust(c);
    })
    .await;
    f.account("alice", PW).await;
    if device {
        f.device("alice", Kind::Totp).await;
    }
    f
}

/// A request answering a challenge.
fn answer(mode: AuthMode, state: &[u8], text: &str) -> AccessRequest {
    AccessRequest {
        state: Some(state.to_vec()),
        password: Some(SecretBytes::new(text.as_bytes().to_vec())),
        ..request("alice", b"", mode)
    }
}

fn challenge(decision: Decision) -> (Vec<u8>, String) {
    match decision {
        Decision::Challenge { state, message } => (state, message),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn reject(decision: Decision) -> (RejectReason, String) {
    match decision {
        Decision::Reject { reason, message } => (reason, message),
        other => panic!("expected a reject, got {other:?}"),
    }
}

#[tokio::test]
async fn challenge_mode_offers_sms_and_the_code_logs_in_once() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let f = fixture(&gateway, true, |_| {}).await;
    let mode = AuthMode::Challenge;
    let (state, prompt) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    assert_eq!(
        prompt,
        "Enter the 6-digit code from your authenticator app, or type sms to get a code by SMS."
    );
    // The keyword, in any case: a code goes out and a new challenge asks for it.
    let (sms_state, prompt) = challenge(f.ask_with(answer(mode, &state, " SMS ")).await);
    assert_eq!(
        prompt,
        "A code was sent by SMS to 0912-***-678, valid for 2 minutes. Enter the 6 digits."
    );
    assert_eq!(gateway.received().len(), 1);
    let code = gateway.last_code();
    // The first State is used up.
    assert_eq!(
        reject(f.ask_with(answer(mode, &state, "sms")).await).0,
        RejectReason::BadState
    );
    f.clock.advance(119);
    let accepted = f.ask_with(answer(mode, &sms_state, &code)).await;
    assert!(
        matches!(accepted, Decision::Accept { ref groups, .. } if groups.len() == 2),
        "{accepted:?}"
    );
    // The State and the code are single use.
    assert_eq!(
        reject(f.ask_with(answer(mode, &sms_state, &code)).await).0,
        RejectReason::BadState
    );
    let (state, _) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    let (sms_state, _) = challenge(f.ask_with(answer(mode, &state, "sms")).await);
    let (old, prompt) = challenge(f.ask_with(answer(mode, &sms_state, &code)).await);
    if gateway.last_code() != code {
        assert_eq!(prompt, "Wrong SMS code; 4 tries left. Enter it again.");
    }
    let accepted = f.ask_with(answer(mode, &old, &gateway.last_code())).await;
    assert!(matches!(accepted, Decision::Accept { .. }), "{accepted:?}");
    // The app's code still works at the prompt.
    let (state, _) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    let app = f.code_now();
    assert!(matches!(
        f.ask_with(answer(mode, &state, &app)).await,
        Decision::Accept { .. }
    ));
    let stats = f.sms.as_ref().unwrap().stats();
    assert_eq!((stats.sent, stats.verified), (2, 2));
}

#[tokio::test]
async fn password_then_keyword_in_password_otp_mode() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let f = fixture(&gateway, true, |_| {}).await;
    let mode = AuthMode::PasswordOtp;
    let (state, prompt) = challenge(f.ask("alice", format!("{PW}Sms").as_bytes(), mode).await);
    assert!(
        prompt.starts_with("A code was sent by SMS to 0912-***-678"),
        "{prompt}"
    );
    let code = gateway.last_code();
    assert!(matches!(
        f.ask_with(answer(mode, &state, &code)).await,
        Decision::Accept { .. }
    ));
    // A wrong password followed by the keyword sends nothing.
    let (reason, _) = reject(f.ask("alice", b"Wrong2024sms", mode).await);
    assert_eq!(reason, RejectReason::BadPassword);
    assert_eq!(gateway.received().len(), 1);
    // Password and app code as usual.
    let typed = format!("{PW}{}", f.code_now());
    assert!(matches!(
        f.ask("alice", typed.as_bytes(), mode).await,
        Decision::Accept { .. }
    ));
}

#[tokio::test]
async fn wrong_codes_are_asked_again_then_the_code_is_dead() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let f = fixture(&gateway, true, |c| {
        c.policy.lockout_failures = 100;
        c.radius.challenge_ttl_seconds = 300;
    })
    .await;
    let mode = AuthMode::Challenge;
    let (state, _) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    let (mut state, _) = challenge(f.ask_with(answer(mode, &state, "sms")).await);
    let code = gateway.last_code();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for remaining in (1..5).rev() {
        let (next, prompt) = challenge(f.ask_with(answer(mode, &state, &wrong)).await);
        assert_eq!(
            prompt,
            format!("Wrong SMS code; {remaining} tries left. Enter it again.")
        );
        state = next;
    }
    // The fifth wrong try ends it; the right code afterwards cannot log in.
    let (reason, message) = reject(f.ask_with(answer(mode, &state, &wrong)).await);
    assert_eq!(reason, RejectReason::BadCode);
    assert!(
        message.starts_with("The SMS code is no longer valid"),
        "{message}"
    );
    assert_eq!(f.store.account("alice").await.unwrap().unwrap().failures, 5);
    // Expired: 121 s after sending.
    f.clock.advance(60);
    let (state, _) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    let (state, _) = challenge(f.ask_with(answer(mode, &state, "sms")).await);
    f.clock.advance(121);
    let (reason, _) = reject(f.ask_with(answer(mode, &state, &gateway.last_code())).await);
    assert_eq!(reason, RejectReason::BadCode);
}

#[tokio::test]
async fn wrong_sms_codes_count_towards_the_lockout() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let f = fixture(&gateway, true, |c| c.policy.lockout_failures = 2).await;
    let mode = AuthMode::Challenge;
    let (state, _) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    let (state, _) = challenge(f.ask_with(answer(mode, &state, "sms")).await);
    let (state, _) = challenge(f.ask_with(answer(mode, &state, "000000x")).await);
    let (reason, message) = reject(f.ask_with(answer(mode, &state, "000000x")).await);
    assert_eq!(reason, RejectReason::Locked, "{message}");
}

#[tokio::test]
async fn refused_and_failed_sends_are_rejects_saying_why() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let f = fixture(&gateway, true, |c| c.radius.language = Language::ZhTw).await;
    let mode = AuthMode::PasswordOtp;
    challenge(f.ask("alice", format!("{PW}sms").as_bytes(), mode).await);
    // Within the minute: refused with the time (NOW + 60 = 23:07 at +08:00).
    f.clock.advance(10);
    let (reason, message) = reject(f.ask("alice", format!("{PW}sms").as_bytes(), mode).await);
    assert_eq!(reason, RejectReason::SmsUnavailable);
    assert_eq!(message, "簡訊驗證碼發送太頻繁，請於 23:07 後再試。");
    // The gateway fails: a clear message, no challenge, nothing usable.
    f.clock.advance(60);
    gateway.set_mode(GatewayMode::Fail);
    let (reason, message) = reject(f.ask("alice", format!("{PW}sms").as_bytes(), mode).await);
    assert_eq!(reason, RejectReason::SmsUnavailable);
    assert_eq!(message, "簡訊暫時無法發送，請稍後再試或聯絡資訊室。");
    let stats = f.sms.as_ref().unwrap().stats();
    assert_eq!(
        (stats.sent, stats.rate_limited, stats.gateway_failures),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn the_switches_decide_whether_sms_is_offered() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let f = fixture(&gateway, true, |_| {}).await;
    let mode = AuthMode::Challenge;
    f.store
        .set_sms_fallback("alice", Some(false), 0)
        .await
        .unwrap();
    let (state, prompt) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    assert_eq!(
        prompt,
        "Enter the 6-digit code from your authenticator app."
    );
    assert_eq!(
        reject(f.ask_with(answer(mode, &state, "sms")).await).0,
        RejectReason::BadCode
    );
    // password+otp: the keyword is read as the end of the password then.
    let (reason, _) = reject(
        f.ask(
            "alice",
            format!("{PW}sms").as_bytes(),
            AuthMode::PasswordOtp,
        )
        .await,
    );
    assert_eq!(reason, RejectReason::BadPassword);
    assert!(gateway.received().is_empty());

    // Globally off, on for the account.
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let f = fixture(&gateway, true, |c| c.sms.allow_vpn_fallback = false).await;
    let (_, prompt) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    assert!(!prompt.contains("sms"), "{prompt}");
    f.store
        .set_sms_fallback("alice", Some(true), 0)
        .await
        .unwrap();
    let (_, prompt) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    assert!(prompt.contains("type sms"), "{prompt}");
}

#[tokio::test]
async fn without_a_device_after_the_enforcement_date_sms_is_the_way_in() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let f = fixture(&gateway, false, |_| {}).await;
    // challenge mode: a keyword-only prompt.
    let mode = AuthMode::Challenge;
    let (state, prompt) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    assert!(
        prompt.starts_with("No MOTP device is registered: type sms"),
        "{prompt}"
    );
    let (state, _) = challenge(f.ask_with(answer(mode, &state, "sms")).await);
    let accepted = f.ask_with(answer(mode, &state, &gateway.last_code())).await;
    assert!(matches!(accepted, Decision::Accept { .. }), "{accepted:?}");
    // Anything but the keyword at that prompt is a wrong answer.
    let (state, _) = challenge(f.ask("alice", PW.as_bytes(), mode).await);
    assert_eq!(
        reject(f.ask_with(answer(mode, &state, "123456")).await).0,
        RejectReason::BadCode
    );
    // password+otp: the password alone reads like any failure (it is one factor; with detailed reasons it
    // says how, see below); password + keyword works.
    let mode = AuthMode::PasswordOtp;
    let (reason, message) = reject(f.ask("alice", PW.as_bytes(), mode).await);
    assert_eq!(reason, RejectReason::NotEnrolled);
    assert!(message.starts_with("Login failed"), "{message}");
    let detailed = fixture(&gateway, false, |c| c.radius.detailed_reasons = true).await;
    let (_, message) = reject(detailed.ask("alice", PW.as_bytes(), mode).await);
    assert!(
        message.contains("type your password followed by sms"),
        "{message}"
    );
    f.clock.advance(60);
    let (state, _) = challenge(f.ask("alice", format!("{PW}sms").as_bytes(), mode).await);
    let accepted = f.ask_with(answer(mode, &state, &gateway.last_code())).await;
    assert!(matches!(accepted, Decision::Accept { .. }), "{accepted:?}");
    // SMS off: refused as before.
    let f = EngineFixture::new(|c| c.radius.language = Language::En).await;
    f.account("alice", PW).await;
    let (reason, _) = reject(f.ask("alice", PW.as_bytes(), AuthMode::Challenge).await);
    assert_eq!(reason, RejectReason::NotEnrolled);
}

#[tokio::test]
async fn a_challenge_login_by_sms_over_udp() {
    let gateway = SmsGateway::start(GatewayMode::Ok).await;
    let f = fixture(&gateway, true, |c| c.radius.mode = AuthMode::Challenge).await;
    let server = RadiusFixture::start(f, true).await;
    let mut client = server.client().await;
    let first = client.access("alice", PW.as_bytes(), None).await.unwrap();
    assert_eq!(first.code, Code::AccessChallenge);
    assert!(first.messages.contains("type sms"), "{}", first.messages);
    let sent = client
        .access("alice", b"sms", first.state.as_deref())
        .await
        .unwrap();
    assert_eq!(sent.code, Code::AccessChallenge);
    assert!(sent.messages.contains("0912-***-678"), "{}", sent.messages);
    let code = gateway.last_code();
    let accept = client
        .access("alice", code.as_bytes(), sent.state.as_deref())
        .await
        .unwrap();
    assert_eq!(accept.code, Code::AccessAccept);
    assert_eq!(accept.groups, ["vpn", "nurses"]);
    let again = client
        .access("alice", code.as_bytes(), sent.state.as_deref())
        .await
        .unwrap();
    assert_eq!(again.code, Code::AccessReject);
    let stats = server.node.as_ref().unwrap().sms.stats();
    assert_eq!((stats.sent, stats.verified), (1, 1));
    server.stop().await;
}
