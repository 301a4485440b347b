//! The helpdesk console's account actions over HTTP (disable / enable, expiry, SMS fallback, the in-person
//! password reset code): each needs its confirmation page's CSRF token and a reason, changes the account
//! through the engine and writes one audit row with `console:NAME` and the reason.

use axum::http::StatusCode;
use motpd::clock::{Clock, local_date};
use motpd::config::PasswordSource;
use motpd::engine::EngineSettings;
use motpd::engine::helpdesk_codes::HelpdeskCodes;
use motpd::engine::invitations::Invitations;
use motpd::model::AccountStatus;
use motpd::notify::SmtpMailer;
use motpd::server::web::console::ConsoleState;

use crate::console::{Browser, Console, setup_with};
use crate::invite_mail::{mail, start_sink};

/// The confirmation page of `action` on alice, then its POST with `reason` and `extra` fields.
async fn act(
    b: &mut Browser,
    action: &str,
    reason: &str,
    extra: &[(&str, &str)],
) -> crate::web_enroll::Reply {
    let path = format!("/admin/accounts/alice/{action}");
    let confirm = b.get(&path).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    let csrf = confirm.field("csrf");
    let mut form = vec![("csrf", csrf.as_str()), ("reason", reason)];
    form.extend_from_slice(extra);
    b.post(&path, &form).await
}

/// The one `admin.user.set` row about `field`, written by the desk with `reason`.
async fn one_set_row(c: &Console, field: &str, reason: &str) -> String {
    let rows: Vec<_> = c
        .audit("alice", "admin.user.set")
        .await
        .into_iter()
        .filter(|r| r.detail.contains(&format!("\"{field}\"")))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].actor, "console:desk");
    assert!(rows[0].detail.contains(reason), "{}", rows[0].detail);
    rows[0].detail.clone()
}

#[tokio::test]
async fn disable_and_enable_need_a_reason_and_are_audited() {
    let c = setup_with(|_| {}).await;
    let mut b = c.signed_in("desk").await;
    let no_reason = act(&mut b, "disable", " ", &[]).await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert!(
        no_reason.body.contains("Give a reason."),
        "{}",
        no_reason.body
    );
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(alice.status, AccountStatus::Active);

    let done = act(&mut b, "disable", "left the hospital, ticket 9", &[]).await;
    assert_eq!(done.location(), "/admin/accounts/alice?done=disabled");
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(alice.status, AccountStatus::Disabled);
    let detail = one_set_row(&c, "status", "left the hospital, ticket 9").await;
    assert!(detail.contains("\"disabled\""), "{detail}");
    let page = b.get(done.location()).await;
    assert!(
        page.body.contains("The account was disabled."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("/admin/accounts/alice/enable"),
        "{}",
        page.body
    );

    let again = act(&mut b, "disable", "twice", &[]).await;
    assert_eq!(again.location(), "/admin/accounts/alice?done=unchanged");
    assert_eq!(
        c.audit("alice", "admin.user.set").await.len(),
        1,
        "a no-op writes no row"
    );

    let enabled = act(&mut b, "enable", "back from leave", &[]).await;
    assert_eq!(enabled.location(), "/admin/accounts/alice?done=enabled");
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(alice.status, AccountStatus::Active);
    assert_eq!(c.audit("alice", "admin.user.set").await.len(), 2);
}

#[tokio::test]
async fn the_expiry_moves_to_a_typed_day_and_past_days_are_refused() {
    let c = setup_with(|_| {}).await;
    let mut b = c.signed_in("desk").await;
    let today = local_date(c.f.clock.now(), c.f.config.policy.utc_offset);
    let yesterday = today.previous_day().unwrap().to_string();
    let past = act(
        &mut b,
        "expiry",
        "vendor contract",
        &[("expires", &yesterday)],
    )
    .await;
    assert_eq!(past.status, StatusCode::BAD_REQUEST);
    assert!(
        past.body.contains("That day is in the past."),
        "{}",
        past.body
    );
    assert!(past.body.contains("type=\"date\""), "{}", past.body);
    let garbage = act(
        &mut b,
        "expiry",
        "vendor contract",
        &[("expires", "31/12/2027")],
    )
    .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert!(
        garbage.body.contains("Give the new last day"),
        "{}",
        garbage.body
    );
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(alice.expires_on, None);
    assert!(c.audit("alice", "admin.user.set").await.is_empty());

    let later = today.replace_year(today.year() + 1).unwrap();
    let later_text = later.to_string();
    let done = act(
        &mut b,
        "expiry",
        "contract 2027 signed",
        &[("expires", &later_text)],
    )
    .await;
    assert_eq!(done.location(), "/admin/accounts/alice?done=expiry");
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(alice.expires_on, Some(later));
    assert!(alice.password_hash.is_some(), "the password is kept");
    let detail = one_set_row(&c, "expires", "contract 2027 signed").await;
    assert!(detail.contains(&later_text), "{detail}");
    let page = b.get(done.location()).await;
    assert!(page.body.contains(&later_text), "{}", page.body);

    // Today is allowed: the last day is inclusive.
    let today_text = today.to_string();
    let done = act(&mut b, "expiry", "ends today", &[("expires", &today_text)]).await;
    assert_eq!(done.location(), "/admin/accounts/alice?done=expiry");
}

#[tokio::test]
async fn sms_fallback_switches_on_off_and_back_to_the_site_default() {
    let c = setup_with(|_| {}).await;
    let mut b = c.signed_in("desk").await;
    for (action, want) in [
        ("sms-on", Some(true)),
        ("sms-off", Some(false)),
        ("sms-default", None),
    ] {
        let done = act(&mut b, action, &format!("ticket {action}"), &[]).await;
        assert_eq!(
            done.location(),
            "/admin/accounts/alice?done=sms",
            "{action}"
        );
        let alice = c.f.store.account("alice").await.unwrap().unwrap();
        assert_eq!(alice.sms_fallback, want, "{action}");
    }
    let rows = c.audit("alice", "admin.user.set").await;
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r.actor == "console:desk" && r.detail.contains("sms_fallback"))
    );
    assert!(rows.iter().any(|r| r.detail.contains("ticket sms-off")));
    let unchanged = act(&mut b, "sms-default", "again", &[]).await;
    assert_eq!(unchanged.location(), "/admin/accounts/alice?done=unchanged");
}

#[tokio::test]
async fn the_reset_code_is_shown_once_and_stored_only_as_a_keyed_hash() {
    let c = setup_with(|_| {}).await;
    let mut b = c.signed_in("desk").await;
    let shown = act(&mut b, "reset-code", "ID card checked at the desk", &[]).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let start =
        shown.body.find("<p class=\"code\">").expect("the code") + "<p class=\"code\">".len();
    let code: String = shown.body[start..].chars().take(14).collect();
    assert_eq!(code.len(), 14, "{code}");
    assert!(
        code.chars().enumerate().all(|(i, ch)| if i == 4 || i == 9 {
            ch == '-'
        } else {
            ch.is_ascii_alphanumeric()
        }),
        "{code}"
    );
    assert!(shown.body.contains("/account/reset"), "{}", shown.body);
    assert_eq!(shown.headers.get("cache-control").unwrap(), "no-store");

    let rows = c.audit("alice", "admin.user.reset-password").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor, "console:desk");
    assert!(rows[0].detail.contains("ID card checked at the desk"));
    assert!(
        !rows[0].detail.contains(&code),
        "the code is not in the trail"
    );
    let page = b.get("/admin/accounts/alice").await;
    assert!(!page.body.contains(&code), "shown once");

    let hash = HelpdeskCodes::new(c.f.key.clone()).hash("alice", &code);
    let now = c.f.clock.now();
    assert!(
        c.f.store
            .take_helpdesk_code("alice", &hash, now)
            .await
            .unwrap(),
        "the shown code is the stored one"
    );
}

/// A site where the gateway checks the password and motpd keeps none.
fn no_passwords(c: &mut motpd::config::Config) {
    c.accounts.password_source = PasswordSource::None;
    c.radius.mode = motpd::config::AuthMode::OtpOnly;
}

#[tokio::test]
async fn no_reset_code_where_motpd_keeps_no_passwords() {
    let c = setup_with(no_passwords).await;
    let mut b = c.signed_in("desk").await;
    let page = b.get("/admin/accounts/alice").await;
    assert!(!page.body.contains("/reset-code"), "no button");
    let refused = act(&mut b, "reset-code", "ID card checked", &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body.contains("keeps no passwords"),
        "{}",
        refused.body
    );
    assert!(
        c.audit("alice", "admin.user.reset-password")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn every_action_needs_the_session_and_its_csrf_token() {
    let c = setup_with(|_| {}).await;
    let mut b = c.signed_in("desk").await;
    let mut outsider = c.browser(crate::console::INSIDE);
    let before = c.audit("alice", "admin.").await.len();
    for action in [
        "unlock",
        "reset-device",
        "disable",
        "enable",
        "expiry",
        "sms-on",
        "sms-off",
        "sms-default",
        "reset-code",
    ] {
        let path = format!("/admin/accounts/alice/{action}");
        let form = [("reason", "r"), ("expires", "2099-01-01")];
        let no_token = b.post(&path, &form).await;
        assert_eq!(no_token.status, StatusCode::FORBIDDEN, "{action}");
        let wrong = b.post(&path, &[("csrf", "x"), ("reason", "r")]).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{action}");
        let logged_out = outsider.get(&path).await;
        let back = format!("/admin/login?next=%2Fadmin%2Faccounts%2Falice%2F{action}");
        assert_eq!(logged_out.location(), back, "{action}");
        let logged_out = outsider.post(&path, &form).await;
        assert_eq!(logged_out.location(), "/admin/login", "{action}");
    }
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(
        (alice.status, alice.sms_fallback, alice.expires_on),
        (AccountStatus::Active, None, None)
    );
    assert_eq!(alice.failures, 3);
    assert_eq!(
        c.audit("alice", "admin.").await.len(),
        before,
        "nothing audited"
    );
}

/// The console of `c` mailing invitations through the SMTP sink on `port`.
fn inviting(c: &mut Console, port: u16) {
    let mut smtp = c.f.config.smtp.clone();
    smtp.host = "127.0.0.1".into();
    smtp.port = port;
    smtp.tls = motpd::config::SmtpTls::None;
    smtp.from = "motp@hospital.example".into();
    let clock = std::sync::Arc::new(c.f.clock.clone());
    let invitations = Invitations::new(
        &c.f.stores,
        c.f.key.clone(),
        clock.clone(),
        EngineSettings::from_config(&c.f.config),
        72,
    );
    let mailer = std::sync::Arc::new(SmtpMailer::new(&smtp).unwrap());
    let state = ConsoleState::new(&c.f.config, c.f.store.clone(), c.f.key.clone(), clock)
        .with_invitations(invitations, mailer);
    c.state = std::sync::Arc::new(state);
}

#[tokio::test]
async fn an_invitation_is_mailed_with_its_qr_code_and_audited_with_the_reason() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let mut c = setup_with(|_| {}).await;
    let mut without_mail = c.signed_in("desk").await;
    let page = without_mail.get("/admin/accounts/bob").await;
    assert!(
        !page.body.contains("/admin/accounts/bob/invite"),
        "no mailer, no button"
    );
    inviting(&mut c, sink.port);
    let mut b = c.signed_in("desk").await;
    let page = b.get("/admin/accounts/bob").await;
    assert!(
        page.body.contains("/admin/accounts/bob/invite"),
        "{}",
        page.body
    );
    let confirm = b.get("/admin/accounts/bob/invite").await;
    assert!(
        confirm.body.contains("type=\"checkbox\" name=\"qr\""),
        "{}",
        confirm.body
    );
    let csrf = confirm.field("csrf");
    let sent = b
        .post(
            "/admin/accounts/bob/invite",
            &[
                ("csrf", &csrf),
                ("reason", "new nurse, ticket 77"),
                ("qr", "1"),
            ],
        )
        .await;
    assert_eq!(
        sent.location(),
        "/admin/accounts/bob?done=invited",
        "{}",
        sent.body
    );
    let mail = mail(&sink, 1).await;
    assert_eq!(mail["to"], "bob@example.org");
    let rows = c.audit("bob", "admin.invite").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].actor.as_str(), rows[0].outcome.as_str()),
        ("console:desk", "ok")
    );
    assert!(
        rows[0].detail.contains("new nurse, ticket 77"),
        "{}",
        rows[0].detail
    );
    assert!(
        rows[0].detail.contains("\"qr_in_mail\":true"),
        "{}",
        rows[0].detail
    );

    // alice has a device: the desk is told to reset it first, and nothing is mailed.
    let confirm = b.get("/admin/accounts/alice/invite").await;
    let refused = b
        .post(
            "/admin/accounts/alice/invite",
            &[
                ("csrf", &confirm.field("csrf")),
                ("reason", "asked by phone"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.body.contains("already has a device"),
        "{}",
        refused.body
    );
    assert!(!sink.dir.path().join("2.eml").exists());
}

#[tokio::test]
async fn without_passwords_at_motpd_an_invitation_needs_the_qr_code() {
    let mut c = setup_with(no_passwords).await;
    inviting(&mut c, 9);
    let mut b = c.signed_in("desk").await;
    let confirm = b.get("/admin/accounts/bob/invite").await;
    assert!(
        confirm.body.contains("name=\"qr\" value=\"1\" checked"),
        "{}",
        confirm.body
    );
    let refused = b
        .post(
            "/admin/accounts/bob/invite",
            &[("csrf", &confirm.field("csrf")), ("reason", "new nurse")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("tick the QR code"),
        "{}",
        refused.body
    );
    assert!(c.audit("bob", "admin.invite").await.is_empty());
}

#[tokio::test]
async fn lock_holds_the_account_until_unlocked_with_a_reason_as_motpd_user_lock() {
    let c = setup_with(|_| {}).await;
    let mut b = c.signed_in("desk").await;
    let no_reason = act(&mut b, "lock", "", &[]).await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert!(c.audit("alice", "admin.user.lock").await.is_empty());

    // alice is logged in on the enrollment pages; the lock ends that session.
    let web_session = motpd::model::NewWebSession {
        id_hash: vec![7; 32],
        account_id: Some("alice".to_owned()),
        csrf: "csrf".to_owned(),
        expires_at: c.f.clock.now() + 600,
    };
    let now = c.f.clock.now();
    c.f.store
        .create_web_session(&web_session, now)
        .await
        .unwrap();
    let done = act(&mut b, "lock", "suspected phishing, ticket 12", &[]).await;
    assert_eq!(done.location(), "/admin/accounts/alice?done=locked");
    let touched = c.f.store.touch_web_session(&[7; 32], now, now + 600).await;
    assert!(touched.unwrap().is_none(), "the enrollment session ended");
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(
        alice.locked_until,
        Some(motpd::account_rules::ADMIN_LOCK_UNTIL)
    );
    let rows = c.audit("alice", "admin.user.lock").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor, "console:desk");
    assert!(
        rows[0]
            .detail
            .contains("\"reason\":\"suspected phishing, ticket 12\""),
        "{}",
        rows[0].detail
    );
    let page = b.get(done.location()).await;
    assert!(
        page.body
            .contains("The account is locked until it is unlocked."),
        "{}",
        page.body
    );

    assert!(
        page.body.contains("<dd>until unlocked</dd>"),
        "{}",
        page.body
    );
    let home = b.get("/admin").await;
    assert!(
        home.body.contains("<td>until unlocked</td>"),
        "an admin lock has no end date: {}",
        home.body
    );

    let again = act(&mut b, "lock", "twice", &[]).await;
    assert_eq!(again.location(), "/admin/accounts/alice?done=unchanged");
    assert_eq!(c.audit("alice", "admin.user.lock").await.len(), 1);
    let unlocked = act(&mut b, "unlock", "checked with the person", &[]).await;
    assert_eq!(unlocked.location(), "/admin/accounts/alice?done=unlocked");
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert!(alice.locked_until.is_none_or(|t| t < c.f.clock.now()));
}
