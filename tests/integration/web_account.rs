//! Account activation (`/account/activate`) and forgotten-password reset (`/account/reset`) at the HTTP level:
//! the router driven like a browser (see `web_enroll::Browser`) over the engine fixture's store and
//! manual clock. Proof by the app's code with the identity on file here; by SMS through a real HTTP gateway in
//! `web_account_sms`; the attacks on these pages in `attacks_recovery`.

use std::sync::Arc;

use axum::http::StatusCode;
use motpd::clock::Clock;
use motpd::config::{AuthMode, Config};
use motpd::engine::Decision;
use motpd::engine::identity::IdentityKey;
use motpd::otp::Kind;
use motpd::password::{Verified, verify_password};
use motpd::server::web::WebState;
use motpd::store::AccountStatus;

use crate::common::fixture::EngineFixture;
use crate::web_enroll::{Browser, PASSWORD, Reply};

pub(crate) const INITIAL: &str = "Welcome2024";
pub(crate) const NEW_PASSWORD: &str = "Sunrise2031x";
pub(crate) const PEER: &str = "198.51.100.20:40000";
/// The identity on file for intern and alice (carol has none).
pub(crate) const IDENTITY: &str = "A123456789";
pub(crate) const ZH_VERIFY_FAILED: &str = "驗證失敗:帳號、驗證碼或身分資料不正確";
const ZH_ACTIVATED: &str = "帳號已啟用";
const ZH_RESET_DONE: &str = "密碼已變更";
const ZH_FLOW_EXPIRED: &str = "此步驟已逾時或已完成";
const ZH_USE_RESET: &str = "此帳號已啟用。若忘記密碼";
const ZH_USE_ACTIVATION: &str = "此帳號尚未啟用,請先啟用帳號";
const ZH_RATE_LIMITED: &str = "嘗試次數過多";

/// The enrollment test settings; the account pages also from the documentation network of [`PEER`] (an
/// explicit `web.account_networks`: by default they follow `web.enroll_networks`).
pub(crate) fn account_config(config: &mut Config) {
    crate::web_enroll::web_config(config);
    config.web.account_networks_set = Some(vec![
        "10.0.0.0/8".parse().unwrap(),
        "198.51.100.0/24".parse().unwrap(),
    ]);
}

/// Stores `identity` as the account's identity on file, as `motpd user set --identity-stdin` does.
pub(crate) async fn give_identity(f: &EngineFixture, account: &str, identity: &str) {
    let normalized = motpd::account_rules::normalize_identity(identity).unwrap();
    let hash = IdentityKey::new(f.key.clone()).hash(account, &normalized);
    f.store
        .set_identity_hash(account, Some(&hash), f.clock.now())
        .await
        .unwrap();
}

/// A fixture with intern (pending, initial password, device), alice (active, device), carol (active, no
/// device), and the pages' state.
pub(crate) async fn setup(adjust: impl FnOnce(&mut Config)) -> (EngineFixture, Arc<WebState>) {
    let f = EngineFixture::new(|c| {
        account_config(c);
        adjust(c);
    })
    .await;
    let initial = motpd::password::hash_password(INITIAL.as_bytes()).unwrap();
    f.account_with_hash("intern", Some(initial), AccountStatus::Pending)
        .await;
    f.device("intern", Kind::Totp).await;
    f.account("alice", PASSWORD).await;
    f.device("alice", Kind::Totp).await;
    f.account("carol", PASSWORD).await;
    give_identity(&f, "intern", IDENTITY).await;
    give_identity(&f, "alice", IDENTITY).await;
    let state = Arc::new(WebState::new(
        &f.config,
        &f.stores,
        f.key.clone(),
        Arc::new(f.clock.clone()),
    ));
    (f, state)
}

/// Start page, then the account ID; returns the method page.
pub(crate) async fn identify(b: &mut Browser, base: &str, account: &str) -> Reply {
    let start = b.get(base).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let csrf = start.field("csrf");
    let reply = b.post(base, &[("csrf", &csrf), ("account", account)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.location(), format!("{base}/method"));
    let method = b.get(&format!("{base}/method")).await;
    assert_eq!(method.status, StatusCode::OK);
    method
}

/// The app's code with the identity on file ([`IDENTITY`]).
async fn app_code(b: &mut Browser, base: &str, page: &Reply, code: &str) -> Reply {
    app_code_with(b, base, page, code, IDENTITY).await
}

pub(crate) async fn app_code_with(
    b: &mut Browser,
    base: &str,
    page: &Reply,
    code: &str,
    identity: &str,
) -> Reply {
    let csrf = page.field("csrf");
    b.post(
        &format!("{base}/app"),
        &[("csrf", &csrf), ("code", code), ("identity", identity)],
    )
    .await
}

pub(crate) async fn set_password(
    b: &mut Browser,
    base: &str,
    page: &Reply,
    password: &str,
    confirm: &str,
) -> Reply {
    let csrf = page.field("csrf");
    b.post(
        &format!("{base}/password"),
        &[
            ("csrf", &csrf),
            ("password", password),
            ("confirm", confirm),
        ],
    )
    .await
}

/// The page with everything that legitimately differs between two visitors (CSRF token, the typed account)
/// taken out.
pub(crate) fn normalised(reply: &Reply, account: &str) -> String {
    let csrf = reply.field("csrf");
    reply
        .body
        .replace(&csrf, "CSRF")
        .replace(&format!(">{account}<"), ">ACCOUNT<")
}

pub(crate) fn wrong(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

pub(crate) async fn audit(f: &EngineFixture) -> Vec<(String, Option<String>, String, String)> {
    f.store
        .audit_page(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.event.kind,
                r.event.account_id,
                r.event.outcome,
                r.event.detail,
            )
        })
        .collect()
}

pub(crate) fn password_is(hash: Option<&str>, password: &str) -> bool {
    matches!(
        verify_password(password.as_bytes(), hash.unwrap()),
        Ok(Verified::Match { .. })
    )
}

#[tokio::test]
async fn activation_by_app_code_sets_the_password_and_activates_at_once() {
    let (f, state) = setup(|_| {}).await;
    let mut b = Browser::new(&state, PEER);
    let base = "/account/activate";
    let method = identify(&mut b, base, " Intern ").await;
    assert!(method.body.contains("id=\"account-id\">intern<"));
    assert!(
        !method.body.contains("id=\"by-sms\""),
        "SMS is not offered while sms.provider is none"
    );
    let code = f.code_now();
    let reply = app_code(&mut b, base, &method, &code).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.location(), "/account/activate/password");
    let form = b.get("/account/activate/password").await;
    assert!(form.body.contains("name=\"password\""), "{}", form.body);

    // The policy, one rule at a time; nothing changes meanwhile.
    for (password, confirm, text) in [
        ("Short1", "Short1", "密碼長度至少需 8 個字元"),
        (
            "lettersonly",
            "lettersonly",
            "密碼必須同時包含英文字母與數字",
        ),
        ("Intern1", "Intern1", "密碼長度至少需"),
        (INITIAL, INITIAL, "新密碼不可與舊密碼相同"),
        (NEW_PASSWORD, "Sunrise2031y", "兩次輸入的密碼不一致"),
    ] {
        let reply = set_password(&mut b, base, &form, password, confirm).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.contains(text), "{password}: {}", reply.body);
        assert!(
            reply.body.contains("id=\"error\""),
            "{password}: {}",
            reply.body
        );
        let account = f.store.account("intern").await.unwrap().unwrap();
        assert_eq!(account.status, AccountStatus::Pending);
    }
    // The account ID itself is refused.
    let reply = set_password(&mut b, base, &form, "intern", "intern").await;
    assert!(reply.body.contains("id=\"error\""));

    let done = set_password(&mut b, base, &form, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains(ZH_ACTIVATED), "{}", done.body);
    let account = f.store.account("intern").await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Active);
    assert!(password_is(account.password_hash.as_deref(), NEW_PASSWORD));
    assert_eq!(account.failures, 0);

    // The code that proved it is used up; the next one logs in over RADIUS with the new password.
    let used = format!("{NEW_PASSWORD}{code}");
    assert!(matches!(
        f.ask("intern", used.as_bytes(), AuthMode::PasswordOtp)
            .await,
        Decision::Reject { .. }
    ));
    f.clock.advance(30);
    let next = format!("{NEW_PASSWORD}{}", f.code_now());
    assert!(matches!(
        f.ask("intern", next.as_bytes(), AuthMode::PasswordOtp)
            .await,
        Decision::Accept { .. }
    ));

    let trail = audit(&f).await;
    for (kind, outcome) in [("account.verify", "ok"), ("account.activate", "ok")] {
        assert!(
            trail
                .iter()
                .any(|(k, a, o, _)| k == kind && a.as_deref() == Some("intern") && o == outcome),
            "{kind}: {trail:?}"
        );
    }
    assert!(trail.iter().all(|(_, _, _, d)| !d.contains(NEW_PASSWORD)
        && !d.contains(INITIAL)
        && !d.contains(&code)));
}

#[tokio::test]
async fn a_wrong_code_an_unknown_account_and_an_account_without_app_read_the_same() {
    let (f, state) = setup(|c| c.policy.lockout_failures = 3).await;
    let right = f.code_now();
    let bad = wrong(&right);
    let mut pages = Vec::new();
    for account in ["alice", "nobody", "carol", "bad id!"] {
        let mut b = Browser::new(&state, PEER);
        let method = identify(&mut b, "/account/reset", account).await;
        let reply = app_code(&mut b, "/account/reset", &method, bad).await;
        assert_eq!(reply.status, StatusCode::OK, "{account}");
        assert!(reply.body.contains(ZH_VERIFY_FAILED), "{account}");
        assert!(reply.headers.get("set-cookie").is_none(), "{account}");
        pages.push(normalised(&reply, &account.to_lowercase()));
    }
    assert!(pages.windows(2).all(|w| w[0] == w[1]), "{pages:#?}");

    // The wrong codes count towards alice's lockout, like at the VPN; locked, even the right code fails, and
    // reads the same.
    assert_eq!(f.store.account("alice").await.unwrap().unwrap().failures, 1);
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, "/account/reset", "alice").await;
    for _ in 0..2 {
        app_code(&mut b, "/account/reset", &method, bad).await;
    }
    let account = f.store.account("alice").await.unwrap().unwrap();
    assert!(account.locked_until.is_some_and(|t| t > f.clock.now()));
    let reply = app_code(&mut b, "/account/reset", &method, &right).await;
    assert_eq!(normalised(&reply, "alice"), pages[0]);

    let trail = audit(&f).await;
    let reasons: Vec<&str> = trail
        .iter()
        .filter(|(k, _, _, _)| k == "account.verify")
        .map(|(_, _, _, d)| d.as_str())
        .collect();
    for reason in ["wrong_code", "unknown_account", "no_device", "locked"] {
        assert!(
            reasons.iter().any(|d| d.contains(reason)),
            "{reason}: {reasons:?}"
        );
    }
}

#[tokio::test]
async fn reset_by_app_code_ends_the_accounts_other_sessions() {
    let (f, state) = setup(|_| {}).await;
    // alice is logged in on the enrollment pages in another browser.
    let mut other = Browser::new(&state, "10.1.2.3:5000");
    other.log_in().await;
    assert_eq!(other.get("/enroll/device").await.status, StatusCode::OK);
    // A failed password at the VPN: the reset clears the counter.
    f.ask("alice", b"wrong123456", AuthMode::PasswordOtp).await;
    assert_eq!(f.store.account("alice").await.unwrap().unwrap().failures, 1);

    let mut b = Browser::new(&state, PEER);
    let base = "/account/reset";
    let method = identify(&mut b, base, "alice").await;
    let reply = app_code(&mut b, base, &method, &f.code_now()).await;
    assert_eq!(reply.location(), "/account/reset/password");
    let form = b.get("/account/reset/password").await;
    // The current password is refused as the new one.
    let same = set_password(&mut b, base, &form, PASSWORD, PASSWORD).await;
    assert!(
        same.body.contains("新密碼不可與舊密碼相同"),
        "{}",
        same.body
    );
    let done = set_password(&mut b, base, &form, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(done.body.contains(ZH_RESET_DONE), "{}", done.body);

    let account = f.store.account("alice").await.unwrap().unwrap();
    assert!(password_is(account.password_hash.as_deref(), NEW_PASSWORD));
    assert_eq!((account.failures, account.locked_until), (0, None));
    assert_eq!(other.get("/enroll/device").await.location(), "/enroll");
    let trail = audit(&f).await;
    assert!(
        trail.iter().any(|(k, _, o, d)| k == "account.reset"
            && o == "ok"
            && d.contains("\"sessions_ended\":1")),
        "{trail:?}"
    );
}

#[tokio::test]
async fn the_verified_state_is_single_use_bound_to_its_purpose_and_expires() {
    let (f, state) = setup(|_| {}).await;
    let base = "/account/reset";
    // Single use: a second post of the form (another tab, a replay) changes nothing.
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, base, "alice").await;
    app_code(&mut b, base, &method, &f.code_now()).await;
    let form = b.get("/account/reset/password").await;
    let done = set_password(&mut b, base, &form, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(done.body.contains(ZH_RESET_DONE));
    let again = set_password(&mut b, base, &form, "Another2032", "Another2032").await;
    assert!(again.body.contains(ZH_FLOW_EXPIRED), "{}", again.body);
    let hash = f
        .store
        .account("alice")
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(password_is(hash.as_deref(), NEW_PASSWORD));
    assert!(
        b.get("/account/reset/password")
            .await
            .body
            .contains(ZH_FLOW_EXPIRED)
    );

    // Bound to the purpose: a reset grant does not set a password on the activation pages.
    f.clock.advance(30);
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, base, "alice").await;
    app_code(&mut b, base, &method, &f.code_now()).await;
    let form = b.get("/account/reset/password").await;
    let cross = set_password(
        &mut b,
        "/account/activate",
        &form,
        "Third2033x",
        "Third2033x",
    )
    .await;
    assert!(cross.body.contains(ZH_FLOW_EXPIRED), "{}", cross.body);

    // Expires: 10 minutes after the code (the session itself is still alive).
    f.clock.advance(9 * 60 + 59);
    assert!(
        b.get("/account/reset/password")
            .await
            .body
            .contains("name=\"confirm\"")
    );
    f.clock.advance(1);
    let late = set_password(&mut b, base, &form, "Third2033x", "Third2033x").await;
    assert!(late.body.contains(ZH_FLOW_EXPIRED), "{}", late.body);
    let hash = f
        .store
        .account("alice")
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(password_is(hash.as_deref(), NEW_PASSWORD));
}

#[tokio::test]
async fn after_verification_the_wrong_flow_is_named() {
    let (f, state) = setup(|_| {}).await;
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, "/account/activate", "alice").await;
    let reply = app_code(&mut b, "/account/activate", &method, &f.code_now()).await;
    assert!(reply.body.contains(ZH_USE_RESET), "{}", reply.body);
    assert!(reply.body.contains("href=\"/account/reset\""));

    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, "/account/reset", "intern").await;
    let reply = app_code(&mut b, "/account/reset", &method, &f.code_now()).await;
    assert!(reply.body.contains(ZH_USE_ACTIVATION), "{}", reply.body);
    assert_eq!(
        f.store.account("intern").await.unwrap().unwrap().status,
        AccountStatus::Pending
    );

    // A disabled account is told so, and stays disabled.
    f.clock.advance(30);
    f.store
        .set_account_status("alice", AccountStatus::Disabled, f.clock.now())
        .await
        .unwrap();
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, "/account/reset", "alice").await;
    let reply = app_code(&mut b, "/account/reset", &method, &f.code_now()).await;
    assert!(reply.body.contains("此帳號已停用"), "{}", reply.body);
    assert!(
        b.get("/account/reset/password")
            .await
            .body
            .contains(ZH_FLOW_EXPIRED)
    );
}

#[tokio::test]
async fn posts_without_the_sessions_csrf_token_are_refused() {
    let (f, state) = setup(|_| {}).await;
    let mut b = Browser::new(&state, PEER);
    let method = identify(&mut b, "/account/reset", "alice").await;
    let code = f.code_now();
    for path in [
        "/account/reset",
        "/account/reset/app",
        "/account/reset/password",
    ] {
        for csrf in [None, Some("00")] {
            let mut form = vec![("account", "alice"), ("code", code.as_str())];
            form.extend(csrf.map(|c| ("csrf", c)));
            let reply = b.post(path, &form).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    // The right token still works: nothing was verified or counted by the refused posts.
    assert_eq!(f.store.account("alice").await.unwrap().unwrap().failures, 0);
    let reply = app_code(&mut b, "/account/reset", &method, &code).await;
    assert_eq!(reply.location(), "/account/reset/password");
}

#[tokio::test]
async fn code_checks_are_rate_limited_per_address_and_per_account() {
    let (f, state) = setup(|c| c.policy.lockout_failures = 1000).await;
    let bad = wrong(&f.code_now());
    // One address, many accounts: the 11th check in a minute is refused.
    let mut b = Browser::new(&state, PEER);
    let mut statuses = Vec::new();
    for i in 0..11 {
        let method = identify(&mut b, "/account/reset", &format!("user{i}")).await;
        statuses.push(
            app_code(&mut b, "/account/reset", &method, bad)
                .await
                .status,
        );
    }
    assert!(
        statuses[..10].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
    // The next minute it works again.
    f.clock.advance(60);
    let method = identify(&mut b, "/account/reset", "user11").await;
    assert_eq!(
        app_code(&mut b, "/account/reset", &method, bad)
            .await
            .status,
        StatusCode::OK
    );

    // One account, many addresses: the 11th check in 15 minutes is refused, even with the right code.
    let mut statuses = Vec::new();
    for i in 0..11 {
        let mut b = Browser::new(&state, &format!("198.51.100.{}:1000", 100 + i));
        let method = identify(&mut b, "/account/reset", "alice").await;
        let code = if i < 10 { bad.to_owned() } else { f.code_now() };
        let reply = app_code(&mut b, "/account/reset", &method, &code).await;
        if i == 10 {
            assert!(reply.body.contains(ZH_RATE_LIMITED));
        }
        statuses.push(reply.status);
    }
    assert!(
        statuses[..10].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
    f.clock.advance(15 * 60);
    let mut b = Browser::new(&state, "198.51.100.99:1000");
    let method = identify(&mut b, "/account/reset", "alice").await;
    let reply = app_code(&mut b, "/account/reset", &method, &f.code_now()).await;
    assert_eq!(reply.location(), "/account/reset/password");
}

#[tokio::test]
async fn the_pages_work_from_the_configured_networks_and_are_linked_from_enroll() {
    let (_f, state) = setup(|c| {
        c.web.account_networks_set = Some(vec!["0.0.0.0/0".parse().unwrap()]);
    })
    .await;
    let mut outside = Browser::new(&state, crate::web_enroll::OUTSIDE);
    let page = outside.get("/account/activate").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(outside.get("/account/forgotten").await.status == StatusCode::NOT_FOUND);

    let mut inside = Browser::new(&state, "10.1.2.3:5000");
    let login = inside.get("/enroll").await;
    assert!(
        login.body.contains("href=\"/account/activate\"")
            && login.body.contains("href=\"/account/reset\"")
    );
    let en = inside.get("/account/reset?lang=en").await;
    assert!(en.body.contains("Forgotten password"), "{}", en.body);

    let (_f, state) =
        setup(|c| c.web.account_networks_set = Some(vec!["10.0.0.0/8".parse().unwrap()])).await;
    let mut outside = Browser::new(&state, crate::web_enroll::OUTSIDE);
    let page = outside.get("/account/reset").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.body
            .contains("帳號啟用與忘記密碼只能在醫院內部網路使用")
    );
    assert!(
        page.body
            .contains("Account activation and password reset work only from the hospital network")
    );
}

#[tokio::test]
async fn the_method_page_asks_for_the_identity_and_offers_the_helpdesk_code_in_both_languages() {
    let (_f, state) = setup(|_| {}).await;
    let mut b = Browser::new(&state, PEER);
    let zh = identify(&mut b, "/account/reset", "nobody").await;
    for text in [
        "身分證字號或出生日期",
        "資訊室核發的一次性代碼",
        "醫院沒有您的身分資料",
        "name=\"identity\"",
        "action=\"/account/reset/helpdesk\"",
    ] {
        assert!(zh.body.contains(text), "{text}: {}", zh.body);
    }
    let en = b.get("/account/reset/method?lang=en").await;
    for text in [
        "National ID number or date of birth",
        "A one-time code from the IT helpdesk",
        "If the hospital has no identity data on file for you",
    ] {
        assert!(en.body.contains(text), "{text}: {}", en.body);
    }
}
