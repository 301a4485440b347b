//! The helpdesk console at the HTTP level: its router driven like a browser (cookie jar, `MockConnectInfo`
//! for the client address) over the engine fixture's store and manual clock. Admins are made as
//! `motpd admin add` makes them ([`motpd::engine::admins::add_admin`]); their codes are computed from the
//! initial key, as an authenticator app would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use motpd::clock::Clock;
use motpd::engine::admins::{self, AdminSeed};
use motpd::model::AdminRole;
use motpd::otp::{self, Algorithm, Kind};
use motpd::secrets::SecretString;
use motpd::server::web::console::{ConsoleState, router};
use motpd::store::AuditFilter;
use tower::ServiceExt;

use crate::common::NOW;
use crate::common::fixture::{EngineFixture, SEED};
use crate::web_enroll::{PASSWORD, Reply};

const DESK_PASSWORD: &str = "Helpdesk2026pw";
const BOSS_PASSWORD: &str = "Boss2026password";
pub(crate) const INSIDE: &str = "10.20.0.5:50000";
const OUTSIDE: &str = "192.0.2.1:50000";
const EN_FAILED: &str = "Login failed.";

/// A console admin's seed, to compute its codes.
pub(crate) struct Totp {
    seed: Vec<u8>,
    /// The seed as the admin's authenticator app is given it.
    pub(crate) base32: String,
}

impl Totp {
    pub(crate) fn code_at(&self, t: i64) -> String {
        otp::totp_at(
            &self.seed,
            u64::try_from(t).unwrap(),
            30,
            6,
            Algorithm::Sha1,
        )
        .unwrap()
    }
}

pub(crate) struct Console {
    pub(crate) f: EngineFixture,
    pub(crate) state: Arc<ConsoleState>,
    desk: Totp,
    boss: Totp,
}

/// Adds admin `name` as the CLI does: a new seed, confirmed with its code at the fixture's time.
pub(crate) async fn add_admin(
    f: &EngineFixture,
    name: &str,
    role: AdminRole,
    password: &str,
) -> Totp {
    let seed = AdminSeed::generate(name).unwrap();
    let totp = Totp {
        seed: otp::parse_base32_seed(seed.secret_base32.expose()).unwrap(),
        base32: seed.secret_base32.expose().to_owned(),
    };
    let step = seed
        .first_code_step(&totp.code_at(f.clock.now()), f.clock.now())
        .unwrap();
    assert!(seed.first_code_step("000000x", f.clock.now()).is_none());
    admins::add_admin(
        f.store.as_ref(),
        &f.key,
        name,
        role,
        &SecretString::new(password.to_owned()),
        &seed,
        step,
        admins::By {
            actor: "test",
            reason: None,
            now: f.clock.now(),
        },
    )
    .await
    .unwrap();
    totp
}

/// alice (active, TOTP device, locked after failures), bob (no device); admins desk (helpdesk) and boss
/// (admin); the console answering 10.20.0.0/16 only.
async fn setup() -> Console {
    setup_with(|_| {}).await
}

/// [`setup`] with `change` applied to the configuration.
pub(crate) async fn setup_with(change: impl FnOnce(&mut motpd::config::Config)) -> Console {
    let f = EngineFixture::new(|c| {
        c.admin_web.admin_networks = vec!["10.20.0.0/16".parse().unwrap()];
        c.admin_web.lockout_failures = 5;
        c.admin_web.idle_minutes = 10;
        change(c);
    })
    .await;
    f.account("alice", PASSWORD).await;
    f.device("alice", Kind::Totp).await;
    f.account("bob", PASSWORD).await;
    for _ in 0..3 {
        f.store.record_failure("alice", NOW, 3, 900).await.unwrap();
    }
    let desk = add_admin(&f, "desk", AdminRole::Helpdesk, DESK_PASSWORD).await;
    let boss = add_admin(&f, "boss", AdminRole::Admin, BOSS_PASSWORD).await;
    let state = Arc::new(ConsoleState::new(
        &f.config,
        f.store.clone(),
        f.key.clone(),
        Arc::new(f.clock.clone()),
    ));
    Console {
        f,
        state,
        desk,
        boss,
    }
}

impl Console {
    /// Moves the clock on by one TOTP step, so the next code is new.
    pub(crate) fn next_step(&self) {
        self.f.clock.advance(30);
    }

    pub(crate) fn browser(&self, peer: &str) -> Browser {
        Browser::new(&self.state, peer)
    }

    /// A browser signed in as `name` with a fresh code.
    pub(crate) async fn signed_in(&self, name: &str) -> Browser {
        let mut b = self.browser(INSIDE);
        let reply = self.log_in(&mut b, name).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        b
    }

    async fn log_in(&self, b: &mut Browser, name: &str) -> Reply {
        self.next_step();
        let (password, totp) = match name {
            "boss" => (BOSS_PASSWORD, &self.boss),
            _ => (DESK_PASSWORD, &self.desk),
        };
        let code = totp.code_at(self.f.clock.now());
        b.try_login(name, password, &code).await
    }

    pub(crate) async fn audit(&self, account: &str, kind: &str) -> Vec<motpd::audit::AuditEvent> {
        let filter = AuditFilter {
            account: (!account.is_empty()).then(|| account.to_owned()),
            kind_prefix: Some(kind.to_owned()),
            limit: 100,
            ..AuditFilter::default()
        };
        self.f
            .store
            .search_audit(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.event)
            .collect()
    }
}

/// A browser at one address with a cookie jar.
pub(crate) struct Browser {
    app: Router,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(state: &Arc<ConsoleState>, peer: &str) -> Self {
        let peer: SocketAddr = peer.parse().unwrap();
        Self {
            app: router(state.clone()).layer(MockConnectInfo(peer)),
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Reply {
        let mut request = request.header(header::ACCEPT_LANGUAGE, "en");
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
            .map(|(k, v)| {
                let pairs: String = form_urlencoded::Serializer::new(String::new())
                    .append_pair(k, v)
                    .finish();
                pairs
            })
            .collect::<Vec<_>>()
            .join("&");
        let request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, Body::from(body)).await
    }

    /// The login form, then a login with these three fields.
    pub(crate) async fn try_login(&mut self, name: &str, password: &str, code: &str) -> Reply {
        let form = self.get("/admin/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.field("csrf");
        self.post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("name", name),
                ("password", password),
                ("code", code),
            ],
        )
        .await
    }

    fn session(&self) -> Option<&String> {
        self.cookies.get("motpd_console")
    }
}

fn refused(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains(EN_FAILED), "{}", reply.body);
}

#[tokio::test]
async fn login_needs_name_password_and_a_new_code() {
    let c = setup().await;
    let mut b = c.browser(INSIDE);
    c.next_step();
    let code = c.desk.code_at(c.f.clock.now());
    refused(&b.try_login("desk", DESK_PASSWORD, "").await);
    refused(&b.try_login("desk", "", &code).await);
    let wrong = if code == "123456" { "654321" } else { "123456" };
    refused(&b.try_login("desk", DESK_PASSWORD, wrong).await);
    refused(&b.try_login("boss", DESK_PASSWORD, &code).await);
    assert!(b.session().is_none(), "no session after a refusal");

    let ok = b.try_login("desk", DESK_PASSWORD, &code).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location(), "/admin");
    let set: Vec<&str> = ok
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("motpd_console="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(session.contains(flag), "{session}");
    }
    assert!(!session.contains("Secure"), "no TLS configured: {session}");
    let home = b.get("/admin").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("desk (helpdesk)"), "{}", home.body);

    // The same code again, in another browser: a replay.
    let mut other = c.browser(INSIDE);
    refused(&other.try_login("desk", DESK_PASSWORD, &code).await);
    let rejects = c.audit("", "console.login").await;
    let reasons: Vec<String> = rejects
        .iter()
        .filter(|e| e.outcome == "reject")
        .map(|e| e.detail.clone())
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(reasons[0].contains("code already used"), "{reasons:?}");
    assert!(
        rejects
            .iter()
            .any(|e| e.outcome == "ok" && e.actor == "console:desk")
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_admin_for_a_while() {
    let c = setup().await;
    let mut b = c.browser(INSIDE);
    for _ in 0..5 {
        refused(&b.try_login("desk", "wrong password 1", "000000").await);
    }
    let locked = c.log_in(&mut b, "desk").await;
    refused(&locked);
    c.f.clock.advance(15 * 60);
    let again = c.log_in(&mut b, "desk").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let reasons: Vec<String> = c
        .audit("", "console.login")
        .await
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("\"locked\"")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_staff_account_cannot_log_in() {
    let c = setup().await;
    let mut b = c.browser(INSIDE);
    c.next_step();
    let staff_code = otp::totp_at(
        SEED,
        u64::try_from(c.f.clock.now()).unwrap(),
        30,
        6,
        Algorithm::Sha1,
    )
    .unwrap();
    refused(&b.try_login("alice", PASSWORD, &staff_code).await);
    assert!(b.session().is_none());
    assert_eq!(b.get("/admin").await.location(), "/admin/login");
}

#[tokio::test]
async fn outside_admin_networks_everything_is_403_and_no_store() {
    let c = setup().await;
    let mut outside = c.browser(OUTSIDE);
    for path in ["/admin/login", "/admin", "/admin/admins", "/nothing-here"] {
        let reply = outside.get(path).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            reply.body.contains("not available from this network"),
            "{}",
            reply.body
        );
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(reply.headers[header::X_FRAME_OPTIONS], "DENY");
    }
    let post = outside
        .post(
            "/admin/login",
            &[("name", "desk"), ("password", DESK_PASSWORD)],
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert!(
        c.audit("", "console.login").await.is_empty(),
        "nothing reached the login"
    );

    let mut inside = c.browser(INSIDE);
    let login = inside.get("/admin/login").await;
    assert_eq!(login.headers[header::CACHE_CONTROL], "no-store");
    let redirect = inside.get("/admin").await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    assert_eq!(redirect.headers[header::CACHE_CONTROL], "no-store");
    let mut signed = c.signed_in("desk").await;
    let page = signed.get("/admin/accounts/alice").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let c = setup().await;
    let mut b = c.browser(INSIDE);
    c.next_step();
    let code = c.desk.code_at(c.f.clock.now());
    let _ = b.get("/admin/login").await;
    let forged = b
        .post(
            "/admin/login",
            &[
                ("name", "desk"),
                ("password", DESK_PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(c.audit("", "console.login").await.is_empty());

    let mut signed = c.signed_in("desk").await;
    let no_token = signed
        .post("/admin/accounts/alice/unlock", &[("reason", "ticket 1")])
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let wrong = signed
        .post(
            "/admin/accounts/alice/unlock",
            &[("csrf", "00"), ("reason", "ticket 1")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert_eq!(alice.failures, 3, "nothing changed");
    let logout = signed.post("/admin/logout", &[]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sessions_end_after_ten_idle_minutes_and_rotate_at_login() {
    let c = setup().await;
    let mut b = c.browser(INSIDE);
    b.cookies.insert("motpd_console".into(), "planted".into());
    let reply = c.log_in(&mut b, "desk").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let first = b.session().cloned().unwrap();
    assert_ne!(first, "planted");
    c.f.clock.advance(9 * 60);
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
    c.f.clock.advance(9 * 60);
    assert_eq!(
        b.get("/admin").await.status,
        StatusCode::OK,
        "each request restarts the idle time"
    );
    c.f.clock.advance(10 * 60 + 1);
    let expired = b.get("/admin").await;
    assert_eq!(expired.status, StatusCode::SEE_OTHER);
    assert_eq!(expired.location(), "/admin/login?expired=1");
    let page = b.get("/admin/login?expired=1").await;
    assert!(page.body.contains("idle too long"), "{}", page.body);

    let again = c.log_in(&mut b, "desk").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_ne!(b.session().unwrap(), &first, "a new ID at every login");
    let home = b.get("/admin").await;
    let csrf = home.field("csrf");
    let out = b.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.location(), "/admin/login");
    assert!(b.session().is_none());
}

#[tokio::test]
async fn search_finds_accounts_by_part_of_id_name_or_phone() {
    let c = setup().await;
    let mut b = c.signed_in("desk").await;
    let by_id = b.get("/admin?q=ALI").await;
    assert!(
        by_id.body.contains("href=\"/admin/accounts/alice\""),
        "{}",
        by_id.body
    );
    assert!(!by_id.body.contains("/admin/accounts/bob"));
    let by_name = b.get("/admin?q=bob%20Exa").await;
    assert!(
        by_name.body.contains("/admin/accounts/bob"),
        "{}",
        by_name.body
    );
    let by_phone = b.get("/admin?q=0912-345").await;
    assert!(
        by_phone.body.contains("/admin/accounts/alice")
            && by_phone.body.contains("/admin/accounts/bob")
    );
    let none = b.get("/admin?q=zzz").await;
    assert!(none.body.contains("No account matches."), "{}", none.body);

    let page = b.get("/admin/accounts/alice").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "TOTP",
        "Failed logins",
        "3",
        "Locked until",
        "SMS fallback",
        "site default",
        "Last 50 events",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    let zh = b.get("/admin/accounts/alice?lang=zh-TW").await;
    assert!(zh.body.contains("登入失敗次數"), "{}", zh.body);
    assert_eq!(
        b.get("/admin/accounts/nobody").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_desk_page_lists_locked_accounts_and_last_days_within_two_weeks() {
    let c = setup().await;
    let now = c.f.clock.now();
    let today = motpd::clock::local_date(now, c.f.config.policy.utc_offset);
    for (id, days) in [("vendor1", 10), ("vendor2", 30), ("vendor3", 3)] {
        c.f.account(id, PASSWORD).await;
        let day = today + time::Duration::days(days);
        motpd::engine::helpdesk::set_expiry(
            c.f.store.as_ref(),
            id,
            Some(day),
            today,
            "test",
            None,
            now,
        )
        .await
        .unwrap();
    }
    motpd::engine::helpdesk::set_status(
        c.f.store.as_ref(),
        "vendor3",
        motpd::model::AccountStatus::Disabled,
        "test",
        None,
        now,
    )
    .await
    .unwrap();
    let mut b = c.signed_in("desk").await;
    let home = b.get("/admin").await;
    let section = |heading: &str| {
        let start = home
            .body
            .find(heading)
            .unwrap_or_else(|| panic!("{heading}: {}", home.body));
        let end = home.body[start..].find("</div>").unwrap() + start;
        home.body[start..end].to_owned()
    };
    let locked = section("Locked now");
    assert!(locked.contains("/admin/accounts/alice"), "{locked}");
    assert!(!locked.contains("/admin/accounts/bob"), "{locked}");
    let expiring = section("Last day within 14 days");
    let ten = (today + time::Duration::days(10)).to_string();
    assert!(
        expiring.contains("/admin/accounts/vendor1") && expiring.contains(&ten),
        "{expiring}"
    );
    // Past the two weeks, or disabled already: not a call to expect.
    assert!(
        !expiring.contains("vendor2") && !expiring.contains("vendor3"),
        "{expiring}"
    );
    // Search and account page show the running lock, not only the stored status.
    let found = b.get("/admin?q=alice").await;
    assert!(found.body.contains("<td>locked</td>"), "{}", found.body);
    assert!(!found.body.contains("Locked now"), "{}", found.body);
    let zh = b.get("/admin?lang=zh-TW").await;
    assert!(zh.body.contains("目前鎖定中的帳號"), "{}", zh.body);

    // After the unlock the list is empty.
    let form = b.get("/admin/accounts/alice/unlock").await;
    let done = b
        .post(
            "/admin/accounts/alice/unlock",
            &[
                ("csrf", &form.field("csrf")),
                ("reason", "called, identity checked"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let home = b.get("/admin?lang=en").await;
    assert!(home.body.contains("No account is locked."), "{}", home.body);
    // Its audit rows read in words, with the identifier beneath.
    let page = b.get("/admin/accounts/alice").await;
    assert!(
        page.body
            .contains("Account unlocked<br><code class=\"kind\">admin.user.unlock</code>"),
        "{}",
        page.body
    );
    let zh = b.get("/admin/accounts/alice?lang=zh-TW").await;
    assert!(
        zh.body.contains("解除帳號鎖定") && zh.body.contains("<td>完成</td>"),
        "{}",
        zh.body
    );
}

#[tokio::test]
async fn after_an_idle_end_the_login_returns_to_the_page_asked_for() {
    let c = setup().await;
    let mut b = c.signed_in("desk").await;
    c.f.clock.advance(11 * 60);
    let away = b.get("/admin/accounts/alice").await;
    assert_eq!(
        away.location(),
        "/admin/login?expired=1&next=%2Fadmin%2Faccounts%2Falice"
    );
    let form = b.get(away.location()).await;
    assert!(
        form.body
            .contains("name=\"next\" value=\"/admin/accounts/alice\""),
        "{}",
        form.body
    );
    c.next_step();
    let code = c.desk.code_at(c.f.clock.now());
    let back = b
        .post(
            "/admin/login",
            &[
                ("csrf", &form.field("csrf")),
                ("name", "desk"),
                ("password", DESK_PASSWORD),
                ("code", &code),
                ("next", &form.field("next")),
            ],
        )
        .await;
    assert_eq!(back.location(), "/admin/accounts/alice");
    // A next that leaves the console is ignored.
    let mut b = c.browser(INSIDE);
    let form = b.get("/admin/login?next=%2F%2Fevil.example%2Fadmin").await;
    assert!(!form.body.contains("name=\"next\""), "{}", form.body);
}

#[tokio::test]
async fn unlock_and_reset_need_a_reason_and_audit_the_admin_and_it() {
    let c = setup().await;
    let mut b = c.signed_in("desk").await;
    let confirm = b.get("/admin/accounts/alice/unlock").await;
    assert_eq!(confirm.status, StatusCode::OK);
    let csrf = confirm.field("csrf");
    let no_reason = b
        .post(
            "/admin/accounts/alice/unlock",
            &[("csrf", &csrf), ("reason", "  ")],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        c.f.store.account("alice").await.unwrap().unwrap().failures,
        3
    );

    let done = b
        .post(
            "/admin/accounts/alice/unlock",
            &[("csrf", &csrf), ("reason", "ticket 4711, caller verified")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/admin/accounts/alice?done=unlocked");
    let alice = c.f.store.account("alice").await.unwrap().unwrap();
    assert_eq!((alice.failures, alice.locked_until), (0, None));
    let unlock = c.audit("alice", "admin.user.unlock").await;
    assert_eq!(unlock.len(), 1);
    assert_eq!(unlock[0].actor, "console:desk");
    assert!(
        unlock[0].detail.contains("ticket 4711, caller verified"),
        "{}",
        unlock[0].detail
    );

    let confirm = b.get("/admin/accounts/alice/reset-device").await;
    assert!(
        confirm.body.contains("Reset this account"),
        "{}",
        confirm.body
    );
    let reset = b
        .post(
            "/admin/accounts/alice/reset-device",
            &[
                ("csrf", &confirm.field("csrf")),
                ("reason", "lost phone, ticket 4712"),
            ],
        )
        .await;
    assert_eq!(reset.location(), "/admin/accounts/alice?done=reset");
    assert!(c.f.store.active_device("alice").await.unwrap().is_none());
    let rows = c.audit("alice", "admin.device.reset").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor, "console:desk");
    assert!(
        rows[0].detail.contains("lost phone, ticket 4712"),
        "{}",
        rows[0].detail
    );
    let page = b.get("/admin/accounts/alice?done=reset").await;
    assert!(
        page.body.contains("lost phone, ticket 4712"),
        "the event is on the account page"
    );
    assert!(page.body.contains("none bound"), "{}", page.body);
}

#[tokio::test]
async fn the_helpdesk_cannot_reach_admin_only_pages() {
    let c = setup().await;
    let mut desk = c.signed_in("desk").await;
    let refused = desk.get("/admin/admins").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .body
            .contains("Your role does not include this page."),
        "{}",
        refused.body
    );
    assert!(
        !desk
            .get("/admin")
            .await
            .body
            .contains("href=\"/admin/admins\"")
    );

    let mut boss = c.signed_in("boss").await;
    let list = boss.get("/admin/admins").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains("<td>desk</td>") && list.body.contains("<td>boss</td>"),
        "{}",
        list.body
    );
    assert!(
        boss.get("/admin")
            .await
            .body
            .contains("href=\"/admin/admins\"")
    );
}

#[tokio::test]
async fn a_key_rotation_reseals_the_admins_totp_seeds() {
    use motpd::audit::{AuditEvent, ROTATION_KIND};
    use motpd::secrets::{Aad, Keyring, MasterKey, SecretError};
    use motpd::store::key_rotation::{ResealCounts, Rotation, SealedKind, SealedValue};

    let c = setup().await;
    let old = crate::common::fixture::test_key();
    let new = MasterKey::from_bytes([7; 32]);
    let expected =
        c.f.store
            .ensure_key_check(&old.key_check_value().unwrap())
            .await
            .unwrap();
    let new_check = new.key_check_value().unwrap();
    let reseal = |v: &SealedValue| -> Result<Vec<u8>, SecretError> {
        let aad = match v.kind {
            SealedKind::DeviceSeed => Aad::device_seed(&v.row, &v.account_id),
            SealedKind::DevicePin => Aad::device_pin(&v.row, &v.account_id),
            SealedKind::ClientSecret => Aad::client_secret(&v.row),
            SealedKind::AdminTotp => Aad::admin_totp(&v.row),
        };
        new.seal(&aad, old.open(&aad, &v.sealed)?.expose())
    };
    let event = |_: &ResealCounts| {
        AuditEvent::new(
            NOW,
            ROTATION_KIND,
            "test",
            None,
            "ok",
            serde_json::json!({}),
        )
    };
    let counts =
        c.f.store
            .rotate_key(&Rotation {
                expected_key_check: &expected,
                new_key_check: &new_check,
                reseal: &reseal,
                event: &event,
            })
            .await
            .unwrap();
    assert_eq!(counts.admin_totps, 2);
    // A console holding only the new key still opens the admins' seeds.
    let only_new = Arc::new(Keyring::single(MasterKey::from_bytes([7; 32])));
    let state = Arc::new(ConsoleState::new(
        &c.f.config,
        c.f.store.clone(),
        only_new,
        Arc::new(c.f.clock.clone()),
    ));
    let mut b = Browser::new(&state, INSIDE);
    let reply = c.log_in(&mut b, "desk").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_serves_the_console_on_its_own_listener() {
    use crate::common::http_client::HttpBrowser;
    use crate::common::radius_client::RadiusFixture;

    let f = EngineFixture::new(|c| {
        c.admin_web.admin_networks = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let desk = add_admin(&f, "desk", AdminRole::Helpdesk, DESK_PASSWORD).await;
    let mut s = RadiusFixture::start(f, true).await;
    let listener = motpd::server::node::bind_web("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let config = s.f.config.clone();
    let clock = Arc::new(s.f.clock.clone());
    let token = s.token.clone();
    s.node
        .as_mut()
        .unwrap()
        .serve_console(&config, listener, clock, token);

    let mut b = HttpBrowser::new(address);
    let form = b.get("/admin/login").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.header("cache-control"), "no-store");
    assert!(form.body.contains("主控台登入"), "{}", form.body);
    s.f.clock.advance(30);
    let code = desk.code_at(s.f.clock.now());
    let login = b
        .post(
            "/admin/login",
            &[
                ("csrf", &form.field("csrf")),
                ("name", "desk"),
                ("password", DESK_PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(login.status, 303, "{}", login.body);
    let home = b.get("/admin").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("desk"), "{}", home.body);
    s.stop().await;
}

#[tokio::test]
async fn behind_tls_the_cookies_are_secure_and_a_disabled_admin_is_signed_out() {
    let c = setup().await;
    let mut config = c.f.config.clone();
    config.admin_web.public_url = "https://helpdesk.example.org".into();
    let state = Arc::new(ConsoleState::new(
        &config,
        c.f.store.clone(),
        c.f.key.clone(),
        Arc::new(c.f.clock.clone()),
    ));
    let mut b = Browser::new(&state, INSIDE);
    let form = b.get("/admin/login").await;
    let form_cookie = form.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(form_cookie.contains("; Secure"), "{form_cookie}");
    let reply = c.log_in(&mut b, "desk").await;
    let session = reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("motpd_console="))
        .unwrap();
    assert!(session.contains("; Secure"), "{session}");
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);

    let by = admins::By {
        actor: "test",
        reason: None,
        now: c.f.clock.now(),
    };
    admins::set_disabled(c.f.store.as_ref(), "desk", true, by)
        .await
        .unwrap();
    assert_eq!(b.get("/admin").await.location(), "/admin/login?expired=1");
    refused(&c.log_in(&mut b, "desk").await);
}

/// The value of the console counter `name{label="value"}` in a scrape, if the series is there.
fn counted(text: &str, name: &str, label: &str, value: &str) -> Option<f64> {
    let series = format!("{name}{{{label}=\"{value}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series)?.parse().ok())
}

/// The console's counters, over a recorder of the test's own (the process's is shared by every test binary's
/// nodes): every series at zero before the first login, then exact counts after a wrong password, a staff
/// account's name, a replayed code, a login and an unlock.
#[tokio::test]
async fn logins_and_actions_are_counted_by_outcome_and_action() {
    use motpd::monitoring::{ConsoleAction, ConsoleLogin};
    let mut c = setup().await;
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let scrape = recorder.handle();
    c.state = Arc::new(metrics::with_local_recorder(&recorder, || {
        ConsoleState::new(
            &c.f.config,
            c.f.store.clone(),
            c.f.key.clone(),
            Arc::new(c.f.clock.clone()),
        )
    }));
    let logins = |text: &str, outcome: ConsoleLogin| {
        counted(
            text,
            "motpd_console_logins_total",
            "outcome",
            outcome.as_str(),
        )
    };
    let actions = |text: &str, action: ConsoleAction| {
        counted(
            text,
            "motpd_console_actions_total",
            "action",
            action.as_str(),
        )
    };
    let before = scrape.render();
    for outcome in ConsoleLogin::ALL {
        assert_eq!(logins(&before, outcome), Some(0.0), "{outcome:?}: {before}");
    }
    for action in ConsoleAction::ALL {
        assert_eq!(actions(&before, action), Some(0.0), "{action:?}: {before}");
    }

    let mut b = c.browser(INSIDE);
    c.next_step();
    let code = c.desk.code_at(c.f.clock.now());
    refused(&b.try_login("desk", "wrong password 1", &code).await);
    refused(&b.try_login("alice", PASSWORD, &code).await);
    let ok = b.try_login("desk", DESK_PASSWORD, &code).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    refused(
        &c.browser(INSIDE)
            .try_login("desk", DESK_PASSWORD, &code)
            .await,
    );
    let confirm = b.get("/admin/accounts/alice/unlock").await;
    let csrf = confirm.field("csrf");
    let no_reason = [("csrf", csrf.as_str()), ("reason", "")];
    let refused_form = b.post("/admin/accounts/alice/unlock", &no_reason).await;
    assert_eq!(refused_form.status, StatusCode::BAD_REQUEST);
    let form = [("csrf", csrf.as_str()), ("reason", "ticket 4711")];
    let done = b.post("/admin/accounts/alice/unlock", &form).await;
    assert_eq!(done.location(), "/admin/accounts/alice?done=unlocked");
    // A second unlock finds nothing to change: not counted.
    let again = b.post("/admin/accounts/alice/unlock", &form).await;
    assert_eq!(again.location(), "/admin/accounts/alice?done=not-locked");

    let after = scrape.render();
    for outcome in ConsoleLogin::ALL {
        let expected = match outcome {
            ConsoleLogin::Accepted
            | ConsoleLogin::WrongPassword
            | ConsoleLogin::Refused
            | ConsoleLogin::ReplayedCode => 1.0,
            _ => 0.0,
        };
        assert_eq!(
            logins(&after, outcome),
            Some(expected),
            "{outcome:?}: {after}"
        );
    }
    for action in ConsoleAction::ALL {
        let expected = if action == ConsoleAction::Unlock {
            1.0
        } else {
            0.0
        };
        assert_eq!(
            actions(&after, action),
            Some(expected),
            "{action:?}: {after}"
        );
    }
    assert!(!after.contains("desk"), "no admin name in a label: {after}");
}
