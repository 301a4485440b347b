//! The self-service phone change at the HTTP level (`/enroll/change/...`): password and a fresh code of the
//! old phone start it, the new phone's first code completes it in one compare-and-set step. The router runs over
//! the engine fixture (SQLite file, manual clock); the VPN side is the fixture's engine and, for the happy path,
//! a real RADIUS exchange over UDP; the notice goes through a real SMTP server (aiosmtpd).

use std::sync::Arc;

use axum::http::StatusCode;
use motpd::clock::Clock;
use motpd::config::AuthMode;
use motpd::engine::Decision;
use motpd::engine::device_notice::DeviceNotices;
use motpd::engine::enrollment;
use motpd::notify::SmtpMailer;
use motpd::otp::{self, Kind};
use motpd::radius::Code;
use motpd::server::web::WebState;
use motpd::store::DeviceState;

use crate::common::fixture::EngineFixture;
use crate::common::radius_client::RadiusFixture;
use crate::invite_mail::{mail, setup_with_port, start_sink};
use crate::web_enroll::{Browser, INSIDE, OUTSIDE, PASSWORD, Reply, code_at, web_config};

const ZH_CHANGE_FORM: &str = "更換手機";
const ZH_SCAN: &str = "請用「新手機」的驗證器 App 掃描此 QR 碼";
const ZH_DONE: &str = "移轉完成";
const EN_DONE: &str = "Done! The new phone is registered";
const ZH_REFUSED: &str = "密碼或舊手機的驗證碼不正確";
const ZH_SUPERSEDED: &str = "無法完成更換手機";
const ZH_WRONG: &str = "驗證碼不正確";
const ZH_EXPIRED: &str = "此註冊已逾時";
const ZH_LOCKED: &str = "鎖定";

/// alice with a bound TOTP device (the fixture's seed: the "old phone"), and the pages' state.
async fn setup() -> (EngineFixture, Arc<WebState>, String) {
    let f = EngineFixture::new(web_config).await;
    f.account("alice", PASSWORD).await;
    f.device("alice", Kind::Totp).await;
    let old = f.store.active_device("alice").await.unwrap().unwrap().id;
    let state = Arc::new(WebState::new(
        &f.config,
        &f.stores,
        f.key.clone(),
        Arc::new(f.clock.clone()),
    ));
    (f, state, old)
}

/// Posts the change form of the device page with `password` and the old phone's `code`.
async fn start_change(b: &mut Browser, password: &str, code: &str) -> Reply {
    let page = b.get("/enroll/device").await;
    assert!(page.body.contains(ZH_CHANGE_FORM), "{}", page.body);
    let csrf = page.field("csrf");
    b.post(
        "/enroll/change/start",
        &[
            ("csrf", &csrf),
            ("password", password),
            ("code", code),
            ("label", "new phone"),
        ],
    )
    .await
}

/// A started change: (QR page, new device ID, new seed).
async fn started(b: &mut Browser, f: &EngineFixture) -> (Reply, String, Vec<u8>) {
    let qr = start_change(b, PASSWORD, &f.code_now()).await;
    assert_eq!(qr.status, StatusCode::OK, "{}", qr.body);
    assert!(qr.body.contains(ZH_SCAN), "{}", qr.body);
    assert!(qr.body.contains("action=\"/enroll/change/confirm\""));
    let seed = otp::parse_base32_seed(&qr.initial_key()).unwrap();
    (qr.clone(), qr.field("device"), seed)
}

async fn confirm_change(b: &mut Browser, qr: &Reply, device: &str, code: &str) -> Reply {
    let csrf = qr.field("csrf");
    b.post(
        "/enroll/change/confirm",
        &[("csrf", &csrf), ("device", device), ("code", code)],
    )
    .await
}

fn audit_of(records: &[motpd::audit::AuditRecord], kind: &str) -> Vec<(String, String, String)> {
    records
        .iter()
        .filter(|r| r.event.kind == kind)
        .map(|r| {
            (
                r.event.actor.clone(),
                r.event.outcome.clone(),
                r.event.detail.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_phone_change_moves_the_binding_and_only_the_new_phone_logs_in_over_radius() {
    let (f, state, old) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    b.log_in().await;
    let session_before = b.cookies["motpd_session"].clone();
    let old_code = f.code_now();
    let (qr, new, seed) = started(&mut b, &f).await;
    assert_ne!(
        b.cookies["motpd_session"], session_before,
        "a new session ID once both factors are verified"
    );
    // Until the new phone's code, the old device stays bound and the new one is pending.
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        old
    );
    assert_eq!(
        f.store.device(&new).await.unwrap().unwrap().state,
        DeviceState::Pending
    );
    // The old phone's code was used up by the change: the VPN refuses it.
    let replay = format!("{PASSWORD}{old_code}");
    assert!(matches!(
        f.ask("alice", replay.as_bytes(), AuthMode::PasswordOtp)
            .await,
        Decision::Reject { .. }
    ));

    let done = confirm_change(&mut b, &qr, &new, &code_at(&seed, f.clock.now())).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains(ZH_DONE), "{}", done.body);
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        new
    );
    assert!(f.store.device(&old).await.unwrap().is_none(), "old retired");

    let records = f.store.audit_page(0, 1000).await.unwrap();
    let starts = audit_of(&records, "phone.change_start");
    assert_eq!(starts.len(), 1);
    assert_eq!(
        (starts[0].0.as_str(), starts[0].1.as_str()),
        ("account:alice", "ok")
    );
    let changes = audit_of(&records, "phone.change");
    assert_eq!(changes.len(), 1);
    let (actor, outcome, detail) = &changes[0];
    assert_eq!((actor.as_str(), outcome.as_str()), ("account:alice", "ok"));
    let detail: serde_json::Value = serde_json::from_str(detail).unwrap();
    assert_eq!(detail["retired"]["device"], old.as_str());
    assert_eq!(detail["retired"]["kind"], "totp");
    assert_eq!(detail["bound"]["device"], new.as_str());
    assert_eq!(detail["client"], "10.1.2.3");
    assert!(!detail.to_string().contains(&old_code));

    // Over RADIUS: the new phone's next code is accepted, the old phone's code refused.
    let server = RadiusFixture::start(f, true).await;
    let f = &server.f;
    f.clock.advance(30);
    let mut client = server.client().await;
    let with_old = format!("{PASSWORD}{}", f.code_now());
    let refused = client
        .access("alice", with_old.as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(refused.code, Code::AccessReject, "{refused:?}");
    let with_new = format!("{PASSWORD}{}", code_at(&seed, f.clock.now()));
    let accepted = client
        .access("alice", with_new.as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(accepted.code, Code::AccessAccept, "{accepted:?}");
    server.stop().await;
}

#[tokio::test]
async fn the_password_alone_or_a_wrong_or_used_old_code_moves_nothing_and_counts() {
    let (f, state, old) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    b.log_in().await;

    // The session (password) alone: no code, a wrong password with the right code, a confirm without a start.
    let empty = start_change(&mut b, PASSWORD, "").await;
    assert!(empty.body.contains(ZH_REFUSED), "{}", empty.body);
    let code = f.code_now();
    let wrong_password = start_change(&mut b, "not-the-password1", &code).await;
    assert!(
        wrong_password.body.contains(ZH_REFUSED),
        "{}",
        wrong_password.body
    );
    let page = b.get("/enroll/device").await;
    let csrf = page.field("csrf");
    let forged = b
        .post(
            "/enroll/change/confirm",
            &[("csrf", &csrf), ("device", &old), ("code", &code)],
        )
        .await;
    assert!(forged.body.contains(ZH_EXPIRED), "{}", forged.body);
    // A wrong password does not use the code up: it still logs in at the VPN (and that uses it).
    let vpn = format!("{PASSWORD}{code}");
    assert!(matches!(
        f.ask("alice", vpn.as_bytes(), AuthMode::PasswordOtp).await,
        Decision::Accept { .. }
    ));
    // The code a VPN login used is refused for the change, and counted.
    let replayed = start_change(&mut b, PASSWORD, &code).await;
    assert!(replayed.body.contains(ZH_REFUSED), "{}", replayed.body);
    assert_eq!(f.store.account("alice").await.unwrap().unwrap().failures, 1);
    // Wrong old codes count on the VPN's lockout (3 here): the third locks the account.
    let wrong = start_change(&mut b, PASSWORD, "000000").await;
    assert!(wrong.body.contains(ZH_REFUSED), "{}", wrong.body);
    let locked = start_change(&mut b, PASSWORD, "111111").await;
    assert!(locked.body.contains(ZH_LOCKED), "{}", locked.body);
    let account = f.store.account("alice").await.unwrap().unwrap();
    assert!(account.locked_until.is_some_and(|u| u > f.clock.now()));
    // While locked the right code is not even compared, and the VPN refuses too.
    f.clock.advance(30);
    let during = start_change(&mut b, PASSWORD, &f.code_now()).await;
    assert!(during.body.contains(ZH_LOCKED), "{}", during.body);
    let vpn = format!("{PASSWORD}{}", f.code_now());
    assert!(matches!(
        f.ask("alice", vpn.as_bytes(), AuthMode::PasswordOtp).await,
        Decision::Reject { .. }
    ));
    // Nothing moved.
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        old
    );
    let records = f.store.audit_page(0, 1000).await.unwrap();
    let starts = audit_of(&records, "phone.change_start");
    assert!(
        starts.iter().all(|(_, outcome, _)| outcome == "reject"),
        "{starts:?}"
    );
    assert!(audit_of(&records, "phone.change").is_empty());
}

#[tokio::test]
async fn a_wrong_code_of_the_new_phone_changes_nothing() {
    let (f, state, old) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    b.log_in().await;
    let (qr, new, seed) = started(&mut b, &f).await;
    let wrong = confirm_change(&mut b, &qr, &new, "123456").await;
    assert!(wrong.body.contains(ZH_WRONG), "{}", wrong.body);
    assert!(
        !wrong.body.contains("initial-key"),
        "the seed is shown once"
    );
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        old
    );
    assert_eq!(
        f.store.device(&new).await.unwrap().unwrap().state,
        DeviceState::Pending
    );
    // The old phone still logs in; the new phone's code does not (not bound yet).
    f.clock.advance(30);
    let new_code = format!("{PASSWORD}{}", code_at(&seed, f.clock.now()));
    assert!(matches!(
        f.ask("alice", new_code.as_bytes(), AuthMode::PasswordOtp)
            .await,
        Decision::Reject { .. }
    ));
    let old_code = format!("{PASSWORD}{}", f.code_now());
    assert!(matches!(
        f.ask("alice", old_code.as_bytes(), AuthMode::PasswordOtp)
            .await,
        Decision::Accept { .. }
    ));
    // After 10 minutes the pending token cannot complete the change.
    f.clock.advance(600);
    let late = confirm_change(&mut b, &wrong, &new, &code_at(&seed, f.clock.now())).await;
    assert!(late.body.contains(ZH_EXPIRED), "{}", late.body);
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        old
    );
}

#[tokio::test]
async fn concurrent_changes_cannot_both_win() {
    let (f, state, old) = setup().await;
    // Two tabs of one session confirm the same change at once: one wins, the other is told.
    let mut first = Browser::new(&state, INSIDE);
    first.log_in().await;
    let (qr, new, seed) = started(&mut first, &f).await;
    let mut second = Browser::new(&state, INSIDE);
    second.cookies = first.cookies.clone();
    let code = code_at(&seed, f.clock.now());
    let (a, b) = tokio::join!(
        confirm_change(&mut first, &qr, &new, &code),
        confirm_change(&mut second, &qr, &new, &code)
    );
    let done = [&a, &b].iter().filter(|r| r.body.contains(ZH_DONE)).count();
    assert_eq!(done, 1, "{}\n{}", a.body, b.body);
    assert!(
        [&a, &b]
            .iter()
            .any(|r| r.body.contains(ZH_SUPERSEDED) || r.body.contains(ZH_EXPIRED)),
        "{}\n{}",
        a.body,
        b.body
    );
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        new
    );
    assert!(f.store.device(&old).await.unwrap().is_none());

    // Two sessions each start a change from the (new) bound device: the later start replaces the earlier one,
    // so only the later one can complete.
    f.clock.advance(30);
    let mut one = Browser::new(&state, INSIDE);
    one.log_in().await;
    let mut two = Browser::new(&state, INSIDE);
    two.log_in().await;
    let qr1 = start_change(&mut one, PASSWORD, &code_at(&seed, f.clock.now())).await;
    let seed1 = otp::parse_base32_seed(&qr1.initial_key()).unwrap();
    f.clock.advance(30);
    let qr2 = start_change(&mut two, PASSWORD, &code_at(&seed, f.clock.now())).await;
    let seed2 = otp::parse_base32_seed(&qr2.initial_key()).unwrap();
    let (d1, d2) = (qr1.field("device"), qr2.field("device"));
    let now = f.clock.now();
    let (c1, c2) = (code_at(&seed1, now), code_at(&seed2, now));
    let (r1, r2) = tokio::join!(
        confirm_change(&mut one, &qr1, &d1, &c1),
        confirm_change(&mut two, &qr2, &d2, &c2)
    );
    assert!(!r1.body.contains(ZH_DONE), "{}", r1.body);
    assert!(r2.body.contains(ZH_DONE), "{}", r2.body);
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        d2
    );
}

#[tokio::test]
async fn a_helpdesk_reset_in_between_makes_the_change_fail_cleanly() {
    let (f, state, _old) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    b.log_in().await;
    let (qr, new, seed) = started(&mut b, &f).await;
    let removed = enrollment::reset_devices(
        f.store.as_ref(),
        "alice",
        "console:desk",
        Some("lost phone"),
        f.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(removed, 2, "the bound device and the change's pending one");
    let failed = confirm_change(&mut b, &qr, &new, &code_at(&seed, f.clock.now())).await;
    assert!(failed.body.contains(ZH_SUPERSEDED), "{}", failed.body);
    assert!(f.store.active_device("alice").await.unwrap().is_none());
    assert!(f.store.device(&new).await.unwrap().is_none());
    let records = f.store.audit_page(0, 1000).await.unwrap();
    let changes = audit_of(&records, "phone.change");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].1, "reject");
    assert!(changes[0].2.contains("superseded"), "{}", changes[0].2);
}

#[tokio::test]
async fn the_change_forms_need_their_csrf_token_and_the_hospital_network() {
    let (f, state, old) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    b.log_in().await;
    let code = f.code_now();
    for csrf in ["", "forged"] {
        let refused = b
            .post(
                "/enroll/change/start",
                &[("csrf", csrf), ("password", PASSWORD), ("code", &code)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        let refused = b
            .post(
                "/enroll/change/confirm",
                &[("csrf", csrf), ("device", &old), ("code", &code)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    }
    // The code was not used up by the refused posts; the form token of the session before the start is worth
    // nothing after it (a new session ID and token once both factors are verified).
    let before = b.get("/enroll/device").await.field("csrf");
    let (qr, new, seed) = started(&mut b, &f).await;
    let code = code_at(&seed, f.clock.now());
    let stale = b
        .post(
            "/enroll/change/confirm",
            &[("csrf", &before), ("device", &new), ("code", &code)],
        )
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN, "{}", stale.body);
    let mut outside = Browser::new(&state, OUTSIDE);
    outside.cookies = b.cookies.clone();
    let refused = confirm_change(&mut outside, &qr, &new, "000000").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("自助註冊只能在醫院內部網路使用"),
        "{}",
        refused.body
    );
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        old
    );
}

#[tokio::test]
async fn the_owner_is_told_of_a_phone_change_by_mail_in_both_languages() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let (f, state, _invitations) = setup_with_port(sink.port).await;
    f.account("alice", PASSWORD).await;
    f.device("alice", Kind::Totp).await;
    let mailer = Arc::new(SmtpMailer::new(&f.config.smtp).unwrap());
    let notices = Arc::new(DeviceNotices::new(mailer, f.config.policy.utc_offset));
    let state = Arc::new(Arc::into_inner(state).unwrap().with_notices(notices));
    let mut b = Browser::new(&state, INSIDE);
    b.log_in().await;
    let (qr, new, seed) = started(&mut b, &f).await;
    let csrf = qr.field("csrf");
    let code = code_at(&seed, f.clock.now());
    let done = b
        .post(
            "/enroll/change/confirm?lang=en",
            &[("csrf", &csrf), ("device", &new), ("code", &code)],
        )
        .await;
    assert!(done.body.contains(EN_DONE), "{}", done.body);

    let notice = mail(&sink, 1).await;
    assert_eq!(notice["to"], "alice@example.org");
    let text = notice["text"].as_str().unwrap();
    assert!(
        text.contains("舊手機") && text.contains("previous phone"),
        "{text}"
    );
    assert!(text.contains("資訊室服務台") && text.contains("call the IT helpdesk"));
    assert!(
        !text.contains(&new) && !text.contains(&code),
        "no device ID or code"
    );
    let html = notice["html"].as_str().unwrap();
    let (zh, en) = (html.find("lang=\"zh-Hant-TW\""), html.find("lang=\"en\""));
    assert!(zh.is_some() && zh < en, "Chinese first: {html}");
}

/// `password_source = "ldap"`: the change takes the directory password (a bind as the user), not anything else.
#[tokio::test]
async fn with_a_directory_the_change_takes_the_directory_password() {
    use motpd::config::PasswordSource;
    use motpd::directory::LdapDirectory;
    use motpd::engine::PasswordAuthority;
    use motpd::store::AccountStatus;

    use crate::common::slapd::{Slapd, password_of, user_id};

    let Some(directory) = Slapd::start(5) else {
        return;
    };
    let ldap = directory.config(&[&directory.ldap_url]);
    let f = EngineFixture::new(|config| {
        web_config(config);
        config.accounts.password_source = PasswordSource::Ldap;
        config.ldap = ldap.clone();
    })
    .await;
    let alice = user_id(1);
    f.account_with_hash(&alice, None, AccountStatus::Active)
        .await;
    f.device(&alice, Kind::Totp).await;
    let mut state = WebState::new(
        &f.config,
        &f.stores,
        f.key.clone(),
        Arc::new(f.clock.clone()),
    );
    let authority = LdapDirectory::new(&f.config.ldap, f.config.policy.utc_offset).unwrap();
    state.set_password_authority(PasswordAuthority::Directory(Arc::new(authority)));
    let state = Arc::new(state);

    let mut b = Browser::new(&state, INSIDE);
    let csrf = b.get("/enroll").await.field("csrf");
    let login = b
        .post(
            "/enroll/login",
            &[
                ("csrf", &csrf),
                ("account", &alice),
                ("password", &password_of(&alice)),
            ],
        )
        .await;
    assert_eq!(login.location(), "/enroll/device", "{}", login.body);
    // motpd holds no password for the account: the fixture's local one means nothing here.
    let refused = start_change(&mut b, PASSWORD, &f.code_now()).await;
    assert!(refused.body.contains(ZH_REFUSED), "{}", refused.body);
    let qr = start_change(&mut b, &password_of(&alice), &f.code_now()).await;
    assert!(qr.body.contains(ZH_SCAN), "{}", qr.body);
}

/// `password_source = "none"`: the pages check no password, so they change nothing (even for a session that
/// logged in before the configuration changed; the sessions are in the shared database).
#[tokio::test]
async fn without_a_password_check_the_change_is_refused() {
    use motpd::engine::PasswordAuthority;

    let (f, state, old) = setup().await;
    let mut b = Browser::new(&state, INSIDE);
    b.log_in().await;
    let mut gateway = WebState::new(
        &f.config,
        &f.stores,
        f.key.clone(),
        Arc::new(f.clock.clone()),
    );
    gateway.set_password_authority(PasswordAuthority::Gateway);
    let gateway = Arc::new(gateway);
    let mut same = Browser::new(&gateway, INSIDE);
    same.cookies = b.cookies.clone();
    let refused = start_change(&mut same, PASSWORD, &f.code_now()).await;
    assert!(
        refused.body.contains("本系統不驗證密碼"),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains(ZH_SCAN));
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        old
    );
    // The code was not used up.
    let vpn = format!("{PASSWORD}{}", f.code_now());
    assert!(matches!(
        f.ask("alice", vpn.as_bytes(), AuthMode::PasswordOtp).await,
        Decision::Accept { .. }
    ));
}
