//! The console's admin-role pages over HTTP: RADIUS clients (the secret typed once, never in any answer),
//! and role enforcement on every admin route (the helpdesk gets 403, a logged-out browser the login page, every
//! POST its CSRF token).

use axum::http::StatusCode;
use motpd::clock::Clock;
use motpd::config::AuthMode;
use motpd::model::AdminRole;
use motpd::otp::{self, Algorithm};
use motpd::secrets::Aad;

use crate::console::{Browser, INSIDE, setup_with};

const SECRET: &str = "Ns1-shared-Secret-typed-once-42";
const NEW_PASSWORD: &str = "Nurse-desk-2026-pw";

/// Every admin-only page, with the form a POST to it would carry (without its token).
const ADMIN_GETS: &[&str] = &[
    "/admin/audit",
    "/admin/report",
    "/admin/report.csv",
    "/admin/admins",
    "/admin/admins/desk",
    "/admin/clients",
    "/admin/clients/ns1",
    "/admin/clients/ns1/remove",
];
const ADMIN_POSTS: &[&str] = &[
    "/admin/audit/verify",
    "/admin/admins",
    "/admin/admins/confirm",
    "/admin/admins/desk/reset",
    "/admin/admins/desk/disable",
    "/admin/admins/desk/enable",
    "/admin/admins/desk/remove",
    "/admin/clients",
    "/admin/clients/ns1",
    "/admin/clients/ns1/remove",
];

async fn add_ns1(boss: &mut Browser, reason: &str) -> crate::web_enroll::Reply {
    let page = boss.get("/admin/clients").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    boss.post(
        "/admin/clients",
        &[
            ("csrf", &page.field("csrf")),
            ("name", "ns1"),
            ("address", "10.9.0.10"),
            ("secret", SECRET),
            ("require_ma", "1"),
            ("mode", "challenge"),
            ("reason", reason),
        ],
    )
    .await
}

#[tokio::test]
async fn radius_clients_are_added_changed_and_removed_and_the_secret_never_shows() {
    let c = setup_with(|_| {}).await;
    let mut boss = c.signed_in("boss").await;
    let mut bodies = Vec::new();

    let no_reason = add_ns1(&mut boss, "").await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert!(c.f.store.clients().await.unwrap().is_empty());
    bodies.push(no_reason.body);

    let added = add_ns1(&mut boss, "new gateway, change 31").await;
    assert_eq!(
        added.location(),
        "/admin/clients?done=added",
        "{}",
        added.body
    );
    let clients = c.f.store.clients().await.unwrap();
    assert_eq!(clients.len(), 1);
    let ns1 = &clients[0];
    assert_eq!(
        (ns1.name.as_str(), ns1.address.to_string().as_str()),
        ("ns1", "10.9.0.10/32")
    );
    assert!(ns1.require_message_authenticator);
    assert_eq!(ns1.mode, Some(AuthMode::Challenge));
    let opened =
        c.f.key
            .open(&Aad::client_secret("ns1"), &ns1.sealed_secret)
            .unwrap();
    assert_eq!(
        opened.expose(),
        SECRET.as_bytes(),
        "the typed secret is the sealed one"
    );
    let rows = c.audit("", "admin.client.add").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor, "console:boss");
    assert!(
        rows[0].detail.contains("new gateway, change 31"),
        "{}",
        rows[0].detail
    );

    let list = boss.get("/admin/clients?done=added").await;
    assert!(
        list.body.contains("10.9.0.10/32") && list.body.contains("challenge"),
        "{}",
        list.body
    );
    bodies.push(list.body);

    // The same name again, and another name on the same address: refused, the secret not echoed.
    let again = add_ns1(&mut boss, "twice").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("exists already"), "{}", again.body);
    bodies.push(again.body);

    let page = boss.get("/admin/clients/ns1").await;
    assert!(
        page.body
            .contains("name=\"require_ma\" value=\"1\" checked"),
        "{}",
        page.body
    );
    let changed = boss
        .post(
            "/admin/clients/ns1",
            &[
                ("csrf", &page.field("csrf")),
                ("mode", "default"),
                ("reason", "old firmware, change 32"),
            ],
        )
        .await;
    assert_eq!(
        changed.location(),
        "/admin/clients?done=changed",
        "{}",
        changed.body
    );
    let ns1 = c.f.store.clients().await.unwrap().remove(0);
    assert!(!ns1.require_message_authenticator);
    assert_eq!(ns1.mode, None);
    let rows = c.audit("", "admin.client.set").await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].detail.contains("old firmware, change 32"),
        "{}",
        rows[0].detail
    );
    assert!(
        !rows[0].detail.contains("secret"),
        "the secret did not change: {}",
        rows[0].detail
    );
    bodies.push(page.body);

    let confirm = boss.get("/admin/clients/ns1/remove").await;
    assert!(
        confirm.body.contains("Remove this RADIUS client?"),
        "{}",
        confirm.body
    );
    let no_reason = boss
        .post(
            "/admin/clients/ns1/remove",
            &[("csrf", &confirm.field("csrf")), ("reason", " ")],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.f.store.clients().await.unwrap().len(), 1);
    let removed = boss
        .post(
            "/admin/clients/ns1/remove",
            &[
                ("csrf", &confirm.field("csrf")),
                ("reason", "gateway retired"),
            ],
        )
        .await;
    assert_eq!(removed.location(), "/admin/clients?done=removed");
    assert!(c.f.store.clients().await.unwrap().is_empty());
    assert_eq!(c.audit("", "admin.client.remove").await.len(), 1);
    bodies.push(confirm.body);
    bodies.push(boss.get("/admin/clients").await.body);

    for body in &bodies {
        assert!(!body.contains(SECRET), "the secret is in a page: {body}");
    }
    for row in c.audit("", "admin.client").await {
        assert!(!row.detail.contains(SECRET), "{}", row.detail);
    }
}

#[tokio::test]
async fn every_admin_route_refuses_the_helpdesk_the_logged_out_and_forms_without_csrf() {
    let c = setup_with(|_| {}).await;
    let mut boss = c.signed_in("boss").await;
    assert_eq!(
        add_ns1(&mut boss, "setup").await.status,
        StatusCode::SEE_OTHER
    );
    let mut desk = c.signed_in("desk").await;
    let mut nobody = c.browser(INSIDE);
    let form = [
        ("reason", "r"),
        ("name", "ns2"),
        ("address", "10.9.0.11"),
        ("secret", SECRET),
    ];
    for path in ADMIN_GETS {
        let refused = desk.get(path).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            refused
                .body
                .contains("Your role does not include this page."),
            "{path}"
        );
        let back = format!("/admin/login?next={}", path.replace('/', "%2F"));
        assert_eq!(nobody.get(path).await.location(), back, "{path}");
        assert_eq!(boss.get(path).await.status, StatusCode::OK, "{path}");
    }
    let desk_csrf = desk.get("/admin").await.field("csrf");
    for path in ADMIN_POSTS {
        let with_token = [
            ("csrf", desk_csrf.as_str()),
            ("reason", "r"),
            ("mode", "default"),
        ];
        assert_eq!(
            desk.post(path, &with_token).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            nobody.post(path, &form).await.location(),
            "/admin/login",
            "{path}"
        );
        let no_token = boss.post(path, &form).await;
        assert_eq!(no_token.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            no_token.body.contains("no longer valid"),
            "{path}: {}",
            no_token.body
        );
        let wrong = [("csrf", "forged"), ("reason", "r"), ("mode", "default")];
        assert_eq!(
            boss.post(path, &wrong).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let clients = c.f.store.clients().await.unwrap();
    assert_eq!(clients.len(), 1, "nothing was added or removed");
    assert_eq!(
        clients[0].mode,
        Some(AuthMode::Challenge),
        "nothing was changed"
    );
}

/// The initial key shown on the new-device page.
fn initial_key(body: &str) -> String {
    let start = body.find("<code>").expect("the initial key") + "<code>".len();
    let end = body[start..].find("</code>").unwrap() + start;
    body[start..end].to_owned()
}

async fn post_owned(b: &mut Browser, fields: &[(&str, String)]) -> crate::web_enroll::Reply {
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post("/admin/admins", &refs).await
}

fn code(key: &str, at: i64) -> String {
    let seed = otp::parse_base32_seed(key).unwrap();
    otp::totp_at(&seed, u64::try_from(at).unwrap(), 30, 6, Algorithm::Sha1).unwrap()
}

#[tokio::test]
async fn an_admin_is_added_with_a_device_shown_once_and_its_first_code() {
    let c = setup_with(|_| {}).await;
    let mut boss = c.signed_in("boss").await;
    let page = boss.get("/admin/admins").await;
    let csrf = page.field("csrf");
    let add = |password2: &'static str, reason: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("name", "Nurse.Desk".to_owned()),
            ("role", "helpdesk".to_owned()),
            ("password", NEW_PASSWORD.to_owned()),
            ("password2", password2.to_owned()),
            ("reason", reason.to_owned()),
        ]
    };
    let differ = post_owned(&mut boss, &add("Other-password-2026", "new colleague")).await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    assert!(
        differ.body.contains("The two passwords differ."),
        "{}",
        differ.body
    );
    assert!(
        !differ.body.contains(NEW_PASSWORD),
        "a password is never echoed"
    );
    let shown = post_owned(&mut boss, &add(NEW_PASSWORD, "new colleague, ticket 5")).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(shown.body.contains("<svg"), "the QR code");
    assert!(
        !shown.body.contains(NEW_PASSWORD),
        "a password is never echoed"
    );
    assert!(
        c.f.store.admin("nurse.desk").await.unwrap().is_none(),
        "nothing stored before the code"
    );
    let key = initial_key(&shown.body);
    let pending = shown.field("pending");
    assert!(!pending.contains(&key), "the pending device is sealed");

    let wrong = boss
        .post(
            "/admin/admins/confirm",
            &[("csrf", &csrf), ("pending", &pending), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(c.f.store.admin("nurse.desk").await.unwrap().is_none());

    // Another session cannot finish it.
    let mut other = c.signed_in("boss").await;
    let other_csrf = other.get("/admin/admins").await.field("csrf");
    let now = c.f.clock.now();
    let stolen = other
        .post(
            "/admin/admins/confirm",
            &[
                ("csrf", &other_csrf),
                ("pending", &pending),
                ("code", &code(&key, now)),
            ],
        )
        .await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "{}", stolen.body);
    assert!(c.f.store.admin("nurse.desk").await.unwrap().is_none());

    let now = c.f.clock.now();
    let done = boss
        .post(
            "/admin/admins/confirm",
            &[
                ("csrf", &csrf),
                ("pending", &pending),
                ("code", &code(&key, now)),
            ],
        )
        .await;
    assert_eq!(done.location(), "/admin/admins?done=added", "{}", done.body);
    let added = c.f.store.admin("nurse.desk").await.unwrap().unwrap();
    assert_eq!(added.role, AdminRole::Helpdesk);
    let rows = c.audit("", "admin.admin.add").await;
    let row = rows
        .iter()
        .find(|r| r.detail.contains("nurse.desk"))
        .unwrap();
    assert_eq!(row.actor, "console:boss");
    assert!(
        row.detail.contains("new colleague, ticket 5"),
        "{}",
        row.detail
    );

    // The new admin logs in with the password and its app's code.
    c.next_step();
    let mut nurse = c.browser(INSIDE);
    let login = nurse
        .try_login("nurse.desk", NEW_PASSWORD, &code(&key, c.f.clock.now()))
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
}

#[tokio::test]
async fn admins_are_reset_disabled_enabled_and_removed_but_never_by_themselves() {
    let c = setup_with(|_| {}).await;
    let mut boss = c.signed_in("boss").await;
    let own = boss.get("/admin/admins/boss").await;
    assert!(
        own.body
            .contains("You cannot disable or remove your own admin account."),
        "{}",
        own.body
    );
    assert!(
        !own.body.contains("/admin/admins/boss/remove"),
        "{}",
        own.body
    );
    let csrf = own.field("csrf");
    for action in ["disable", "remove"] {
        let refused = boss
            .post(
                &format!("/admin/admins/boss/{action}"),
                &[("csrf", &csrf), ("reason", "oops")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{action}");
    }
    let me = c.f.store.admin("boss").await.unwrap().unwrap();
    assert!(!me.disabled);

    let no_reason = boss
        .post(
            "/admin/admins/desk/disable",
            &[("csrf", &csrf), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    let disabled = boss
        .post(
            "/admin/admins/desk/disable",
            &[("csrf", &csrf), ("reason", "on leave")],
        )
        .await;
    assert_eq!(disabled.location(), "/admin/admins?done=disabled");
    assert!(c.f.store.admin("desk").await.unwrap().unwrap().disabled);
    let enabled = boss
        .post(
            "/admin/admins/desk/enable",
            &[("csrf", &csrf), ("reason", "back")],
        )
        .await;
    assert_eq!(enabled.location(), "/admin/admins?done=enabled");
    assert!(!c.f.store.admin("desk").await.unwrap().unwrap().disabled);

    let shown = boss
        .post(
            "/admin/admins/desk/reset",
            &[("csrf", &csrf), ("reason", "lost phone")],
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let key = initial_key(&shown.body);
    let now = c.f.clock.now();
    let reset = boss
        .post(
            "/admin/admins/confirm",
            &[
                ("csrf", &csrf),
                ("pending", &shown.field("pending")),
                ("code", &code(&key, now)),
            ],
        )
        .await;
    assert_eq!(
        reset.location(),
        "/admin/admins?done=reset",
        "{}",
        reset.body
    );
    let rows = c.audit("", "admin.admin.reset").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].detail.contains("lost phone"), "{}", rows[0].detail);

    let removed = boss
        .post(
            "/admin/admins/desk/remove",
            &[("csrf", &csrf), ("reason", "left")],
        )
        .await;
    assert_eq!(removed.location(), "/admin/admins?done=removed");
    assert!(c.f.store.admin("desk").await.unwrap().is_none());
    let rows = c.audit("", "admin.admin.remove").await;
    assert_eq!(rows[0].actor, "console:boss");
}

#[tokio::test]
async fn the_enrollment_report_counts_groups_and_downloads_as_excel_ready_csv() {
    let c = setup_with(|c| {
        c.policy.enforce_after = time::Date::from_calendar_date(2099, time::Month::January, 1).ok()
    })
    .await;
    let chen = motpd::model::AccountUpsert {
        id: "chen".into(),
        name: "陳美玲".into(),
        phone: None,
        email: Some("chen@example.org".into()),
        expires_on: None,
        groups: vec!["nurses".into(), "icu".into()],
        password_hash: None,
        status: motpd::model::AccountStatus::Active,
    };
    c.f.store
        .create_account(&chen, crate::common::NOW)
        .await
        .unwrap();
    let mut boss = c.signed_in("boss").await;
    let page = boss.get("/admin/report").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // alice (vpn, nurses) is enrolled; bob (vpn, nurses) and chen (nurses, icu) are not.
    assert!(
        page.body
            .contains("<tr><td>nurses</td><td>1</td><td>2</td></tr>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<tr><td>icu</td><td>0</td><td>1</td></tr>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("2099-01-01"),
        "the enforcement date: {}",
        page.body
    );
    assert!(page.body.contains("陳美玲"), "{}", page.body);

    let csv = boss.get("/admin/report.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.headers.get("content-type").unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        csv.headers
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(csv.headers.get("cache-control").unwrap(), "no-store");
    assert!(
        csv.body
            .starts_with("\u{feff}ID,NAME,EMAIL,STATUS,PASSWORD,INVITED,LINK\r\n"),
        "{:?}",
        csv.body
    );
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "header, bob and chen: {lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("chen,陳美玲,chen@example.org,active,none,-,none")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("bob,")), "{lines:?}");
}

#[tokio::test]
async fn the_audit_search_filters_pages_and_shows_the_chains_verification() {
    let c = setup_with(|_| {}).await;
    let mut desk = c.signed_in("desk").await;
    // 103 console rows by desk about alice (unlock with a reason each time there is something to unlock).
    for n in 0..103 {
        c.f.store
            .record_failure("alice", c.f.clock.now(), 99, 900)
            .await
            .unwrap();
        let confirm = desk.get("/admin/accounts/alice/unlock").await;
        let done = desk
            .post(
                "/admin/accounts/alice/unlock",
                &[
                    ("csrf", &confirm.field("csrf")),
                    ("reason", &format!("r{n}")),
                ],
            )
            .await;
        assert_eq!(done.location(), "/admin/accounts/alice?done=unlocked");
    }
    let mut boss = c.signed_in("boss").await;
    let page = boss.get("/admin/audit").await;
    assert!(
        page.body.contains("Not verified from the console yet."),
        "{}",
        page.body
    );

    let first = boss
        .get("/admin/audit?account=ALICE&actor=console%3Adesk&from=&to=")
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        first
            .body
            .matches("<code class=\"kind\">admin.user.unlock</code>")
            .count(),
        100,
        "one page"
    );
    assert!(first.body.contains("r102"), "newest first");
    let start = first
        .body
        .find("href=\"/admin/audit?account=")
        .expect("the older rows' link")
        + 6;
    let end = first.body[start..].find('"').unwrap() + start;
    let next = first.body[start..end]
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let second = boss.get(&next).await;
    assert_eq!(
        second
            .body
            .matches("<code class=\"kind\">admin.user.unlock</code>")
            .count(),
        3,
        "{}",
        second.body
    );
    assert!(
        second.body.contains("r0") && !second.body.contains("r102"),
        "the oldest rows"
    );
    assert!(
        !second.body.contains("href=\"/admin/audit?account="),
        "no third page"
    );

    let nobody = boss.get("/admin/audit?actor=console%3Anobody").await;
    assert_eq!(
        nobody
            .body
            .matches("<code class=\"kind\">admin.user.unlock</code>")
            .count(),
        0
    );
    // The event kind (its start) and the outcome, as `motpd audit list --kind --outcome`.
    let kind = boss
        .get("/admin/audit?account=alice&kind=admin.user.unl&outcome=ok")
        .await;
    assert_eq!(
        kind.body
            .matches("<code class=\"kind\">admin.user.unlock</code>")
            .count(),
        100
    );
    assert!(
        kind.body.contains("value=\"admin.user.unl\""),
        "kept in the form"
    );
    let other_kind = boss.get("/admin/audit?kind=admin.user.lock").await;
    assert_eq!(
        other_kind
            .body
            .matches("<code class=\"kind\">admin.user.unlock</code>")
            .count(),
        0
    );
    let rejected = boss
        .get("/admin/audit?kind=admin.user.&outcome=reject")
        .await;
    assert_eq!(
        rejected
            .body
            .matches("<code class=\"kind\">admin.user.unlock</code>")
            .count(),
        0
    );
    let bad = boss.get("/admin/audit?from=yesterday").await;
    assert!(
        bad.body.contains("Give days as YYYY-MM-DD."),
        "{}",
        bad.body
    );
    let today = motpd::clock::local_date(c.f.clock.now(), c.f.config.policy.utc_offset);
    let tomorrow = today.next_day().unwrap();
    let future = boss.get(&format!("/admin/audit?from={tomorrow}")).await;
    assert_eq!(
        future
            .body
            .matches("<code class=\"kind\">admin.user.unlock</code>")
            .count(),
        0
    );
    let dated = boss
        .get(&format!(
            "/admin/audit?account=alice&from={today}&to={today}"
        ))
        .await;
    assert_eq!(
        dated
            .body
            .matches("<code class=\"kind\">admin.user.unlock</code>")
            .count(),
        100
    );

    let csrf = page.field("csrf");
    let verified = boss.post("/admin/audit/verify", &[("csrf", &csrf)]).await;
    assert_eq!(verified.location(), "/admin/audit", "{}", verified.body);
    let after = boss.get("/admin/audit").await;
    assert!(after.body.contains("class=\"ok\">Intact"), "{}", after.body);
    let rows = c.audit("", "admin.audit.verify").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].actor.as_str(), rows[0].outcome.as_str()),
        ("console:boss", "ok")
    );
}
