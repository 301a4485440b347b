//! The helpdesk console as a service desk uses it, end to end: headless Chromium (npm `playwright-core`, driven
//! by `tests/clients/browser/console.mjs`, JavaScript off in the page) at 1366×768 against a real node — RADIUS
//! on UDP, the enrollment pages and the console each on their own 127.0.0.1:0 listener.
//!
//! Once per language: a helpdesk admin (made as `motpd admin add` makes one) logs in with password and the TOTP
//! code the script computes from the admin's seed, finds alice by part of her ID, opens her account and resets
//! her device with a reason through the confirmation page; the audit row names `console:desk` and the reason.
//! Then alice registers her new phone through flow A in the browser (`enroll.mjs`) and FreeRADIUS `radclient`
//! logs in over the node's UDP port with a code of the new key, while a code of the old phone is rejected. An
//! admin-role admin then opens the enrollment report, the RADIUS clients and the audit trail through the
//! navigation bar. Every page is checked for horizontal overflow at 1366 px.
//!
//! And what keeps the desk's work to lost phones: alice moves her binding to a new phone herself on `/enroll`
//! at phone size (`change.mjs`: password and the old phone's code, the new phone's first code); then
//! `radclient` gets an Accept with the new phone's code and a Reject with the old one's.
//!
//! Screenshots go to `test-output/screenshots/`; with `MOTPD_UPDATE_SCREENSHOTS=1` the ones the README and
//! `docs/screenshots/` show are copied there (and shrunk with `optipng` when it is installed). Every Node run is
//! killed after 90 s (by PID). A missing Chromium, Node, `playwright-core` or `radclient` is a loud skip, or a
//! failure when `MOTPD_REQUIRE_EXTERNAL_CLIENTS=1`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use motpd::clock::Clock;
use motpd::model::AdminRole;
use motpd::otp::{self, Kind};
use motpd::server::node::{Node, bind_udp, bind_web};
use motpd::store::{AccountStatus, AccountUpsert, AuditFilter};
use tokio_util::sync::CancellationToken;

use crate::common::NOW;
use crate::common::fixture::{EngineFixture, SEED};
use crate::common::radius_client::{SECRET, add_client};
use crate::console::{Totp, add_admin};
use crate::external_clients::{radclient, radclient_available};
use crate::web_browser::{
    enroll_in_browser, playwright_available, png_size, run_bounded, run_script, screenshot_dir,
};
use crate::web_enroll::{PASSWORD, code_at};

const DESK_PASSWORD: &str = "Helpdesk2026pw";
const BOSS_PASSWORD: &str = "Boss2026password";
const UPDATE_ENV: &str = "MOTPD_UPDATE_SCREENSHOTS";

/// A node with RADIUS, the enrollment pages and the console, alice (TOTP, the fixture's seed: her old phone)
/// among a few colleagues, a helpdesk admin and an admin.
struct Site {
    f: EngineFixture,
    auth: SocketAddr,
    enroll: String,
    console: String,
    desk: Totp,
    boss: Totp,
    token: CancellationToken,
    node: Option<Node>,
}

impl Site {
    async fn start() -> Self {
        let f = EngineFixture::new(|c| {
            c.admin_web.admin_networks = vec!["127.0.0.0/8".parse().unwrap()];
            c.web.enroll_networks = vec!["127.0.0.0/8".parse().unwrap()];
        })
        .await;
        for (id, name, phone) in [
            ("alice", "Alice Lin 林愛麗", "0912-345-678"),
            ("alison", "Alison Chang 張艾莉", "0922-111-333"),
            ("bob", "Bob Wu 吳柏宇", "0933-222-444"),
            ("n10234", "陳美玲", "0955-666-777"),
        ] {
            let account = AccountUpsert {
                id: id.to_owned(),
                name: name.to_owned(),
                phone: Some(phone.to_owned()),
                email: Some(format!("{id}@hospital.example")),
                expires_on: None,
                groups: vec!["vpn".to_owned(), "nurses".to_owned()],
                password_hash: Some(motpd::password::hash_password(PASSWORD.as_bytes()).unwrap()),
                status: AccountStatus::Active,
            };
            f.store.create_account(&account, NOW).await.unwrap();
        }
        f.device("alice", Kind::Totp).await;
        f.device("bob", Kind::Totp).await;
        // The desk's first page: bob locked after failed logins, a vendor's last day next week.
        f.store
            .lock_account("bob", NOW + 15 * 60, NOW)
            .await
            .unwrap();
        let today = motpd::clock::local_date(NOW, f.config.policy.utc_offset);
        let last_day = today + time::Duration::days(5);
        motpd::engine::helpdesk::set_expiry(
            f.store.as_ref(),
            "n10234",
            Some(last_day),
            today,
            "test",
            None,
            NOW,
        )
        .await
        .unwrap();
        add_client(&f, "netscaler", "127.0.0.1/32", SECRET, true).await;
        let desk = add_admin(&f, "desk", AdminRole::Helpdesk, DESK_PASSWORD).await;
        let boss = add_admin(&f, "boss", AdminRole::Admin, BOSS_PASSWORD).await;

        let udp = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let auth = udp.local_addr().unwrap();
        let accounting = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let web = bind_web("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let enroll = format!("http://{}", web.local_addr().unwrap());
        let admin = bind_web("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let console = format!("http://{}", admin.local_addr().unwrap());
        let token = CancellationToken::new();
        let clock = Arc::new(f.clock.clone());
        let mut node = Node::start(
            &f.config,
            f.stores.clone(),
            f.key.clone(),
            clock.clone(),
            (vec![udp], vec![accounting]),
            Some(web),
            token.clone(),
        )
        .await
        .unwrap();
        node.serve_console(&f.config, admin, clock, token.clone());
        Self {
            f,
            auth,
            enroll,
            console,
            desk,
            boss,
            token,
            node: Some(node),
        }
    }

    fn now(&self) -> i64 {
        self.f.clock.now()
    }

    /// `radclient` logs alice in with her password and `code`; whether the node accepted.
    async fn vpn_login(&self, code: &str) -> bool {
        let line = format!(
            "User-Name=alice,User-Password={PASSWORD}{code},Message-Authenticator=0x00,NAS-Identifier=ns1"
        );
        let server = self.auth;
        let secret = String::from_utf8(SECRET.to_vec()).unwrap();
        let (status, out) =
            tokio::task::spawn_blocking(move || radclient(server, &line, "auth", &secret, 3))
                .await
                .unwrap();
        let accepted = out.contains("Received Access-Accept");
        assert!(
            accepted == status.success() && (accepted || out.contains("Received Access-Reject")),
            "{out}"
        );
        accepted
    }

    async fn stop(mut self) {
        self.token.cancel();
        if let Some(node) = self.node.take() {
            node.finish().await.unwrap();
        }
    }
}

/// What `console.mjs` saw.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ConsoleRun {
    html_lang: String,
    login_heading: String,
    code: String,
    signed_in: String,
    home_headings: Vec<String>,
    results: Vec<String>,
    account_heading: String,
    facts_before: Vec<String>,
    reset_button: String,
    confirm_heading: String,
    notice: String,
    facts_after: Vec<String>,
    events: Vec<String>,
    pages: std::collections::BTreeMap<String, String>,
    /// Per page: how many pixels wider than the window it is.
    overflow: std::collections::BTreeMap<String, i64>,
    screenshots: Vec<PathBuf>,
}

/// Runs `console.mjs` in `lang` as admin `name`, the code computed for the node's clock; `extra` are the
/// script's other options (the reset, or the pages to open).
async fn console_in_browser(
    site: &Site,
    lang: &str,
    name: &str,
    password: &str,
    totp: &Totp,
    extra: &[&str],
) -> ConsoleRun {
    let args = ["--base", &site.console, "--lang", lang, "--name", name]
        .into_iter()
        .chain(["--password", password, "--seed", &totp.base32])
        .map(Into::into)
        .chain(["--time".into(), site.now().to_string().into()])
        .chain(extra.iter().map(Into::into))
        .collect();
    let seen: ConsoleRun = run_script("console.mjs", args, &format!("{lang} {name}")).await;
    assert_eq!(seen.code, totp.code_at(site.now()), "the script's TOTP");
    for (page, extra) in &seen.overflow {
        assert_eq!(*extra, 0, "{page} is wider than 1366 px: {seen:?}");
    }
    for shot in &seen.screenshots {
        let (width, height) = png_size(shot);
        assert_eq!(width, 1366, "{}", shot.display());
        assert!(height >= 768, "{}", shot.display());
    }
    seen
}

/// The texts the test expects, per language.
struct Texts {
    lang: &'static str,
    html_lang: &'static str,
    login: &'static str,
    locked: &'static str,
    account: &'static str,
    reset: &'static str,
    confirm: &'static str,
    done: &'static str,
    none_bound: &'static str,
    label: &'static str,
    reason: &'static str,
    report: &'static str,
    clients: &'static str,
    audit: &'static str,
}

const LANGUAGES: [Texts; 2] = [
    Texts {
        lang: "zh-TW",
        html_lang: "zh-Hant-TW",
        login: "主控台登入",
        locked: "目前鎖定中的帳號",
        account: "帳號",
        reset: "重設驗證器(手機遺失)…",
        confirm: "確定重設此帳號的驗證器?",
        done: "驗證器已重設",
        none_bound: "未綁定",
        label: "新手機",
        reason: "手機遺失,工單 4711,已核對員工證",
        report: "驗證器註冊報表",
        clients: "RADIUS 用戶端",
        audit: "稽核軌跡",
    },
    Texts {
        lang: "en",
        html_lang: "en",
        login: "Console login",
        locked: "Locked now",
        account: "Account",
        reset: "Reset device (lost phone)…",
        confirm: "Reset this account's device?",
        done: "The device was reset",
        none_bound: "none bound",
        label: "New phone",
        reason: "Lost phone, ticket 4711, caller verified by employee ID",
        report: "Enrollment report",
        clients: "RADIUS clients",
        audit: "Audit trail",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helpdesk_resets_a_lost_phone_and_the_person_re_enrolls_and_logs_in() {
    if !playwright_available() || !radclient_available() {
        return;
    }
    for t in &LANGUAGES {
        let site = Site::start().await;
        // The old phone works before the reset.
        site.f.clock.advance(30);
        assert!(site.vpn_login(&code_at(SEED, site.now())).await);

        site.f.clock.advance(30);
        let desk = console_in_browser(
            &site,
            t.lang,
            "desk",
            DESK_PASSWORD,
            &site.desk,
            &["--query", "ALI", "--account", "alice", "--reason", t.reason],
        )
        .await;
        assert_eq!(desk.html_lang, t.html_lang, "{desk:?}");
        assert_eq!(desk.login_heading, t.login, "{desk:?}");
        assert!(desk.signed_in.contains("desk"), "{desk:?}");
        assert_eq!(
            desk.home_headings.first().map(String::as_str),
            Some(t.locked),
            "{desk:?}"
        );
        // A part of the ID, any case: alice and alison, not bob.
        assert_eq!(desk.results, ["alice", "alison"], "{desk:?}");
        assert!(
            desk.account_heading.starts_with(t.account) && desk.account_heading.contains("alice"),
            "{desk:?}"
        );
        assert!(desk.facts_before.iter().any(|f| f == "TOTP"), "{desk:?}");
        assert_eq!(desk.reset_button, t.reset, "{desk:?}");
        assert_eq!(desk.confirm_heading, t.confirm, "{desk:?}");
        assert!(desk.notice.starts_with(t.done), "{desk:?}");
        assert!(
            desk.facts_after.iter().any(|f| f == t.none_bound),
            "{desk:?}"
        );
        assert!(
            desk.events.iter().any(|e| e.contains(t.reason)),
            "the reset is on the account page: {desk:?}"
        );
        assert_eq!(desk.screenshots.len(), 6, "{desk:?}");

        // Audited with the admin's name and the reason.
        let rows = site
            .f
            .store
            .search_audit(&AuditFilter {
                account: Some("alice".to_owned()),
                kind_prefix: Some("admin.device.reset".to_owned()),
                limit: 10,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].event.actor, "console:desk");
        assert!(rows[0].event.detail.contains(t.reason), "{rows:?}");
        assert!(site.f.store.active_device("alice").await.unwrap().is_none());

        // alice registers her new phone herself, in the browser.
        let enrolled = enroll_in_browser(&site.enroll, site.now(), t.lang, t.label).await;
        let key = otp::parse_base32_seed(&enrolled.initial_key_grouped.replace(' ', "")).unwrap();
        assert_eq!(enrolled.code, code_at(&key, site.now()), "{enrolled:?}");
        let device = site.f.store.active_device("alice").await.unwrap().unwrap();
        assert_eq!(device.label.as_deref(), Some(t.label));

        // Over RADIUS: the new phone's next code is accepted, the old phone's is not.
        site.f.clock.advance(30);
        assert!(site.vpn_login(&code_at(&key, site.now())).await);
        site.f.clock.advance(30);
        assert!(!site.vpn_login(&code_at(SEED, site.now())).await);

        // The admin's pages, through the navigation bar.
        site.f.clock.advance(30);
        let boss = console_in_browser(
            &site,
            t.lang,
            "boss",
            BOSS_PASSWORD,
            &site.boss,
            &[
                "--prefix",
                "console-admin",
                "--pages",
                "/admin/report,/admin/clients,/admin/audit",
            ],
        )
        .await;
        assert_eq!(boss.pages["/admin/report"], t.report, "{boss:?}");
        assert_eq!(boss.pages["/admin/clients"], t.clients, "{boss:?}");
        assert_eq!(boss.pages["/admin/audit"], t.audit, "{boss:?}");
        assert_eq!(boss.screenshots.len(), 4, "{boss:?}");
        site.stop().await;
    }
    tokio::task::spawn_blocking(|| publish(&console_screenshots()))
        .await
        .unwrap();
}

/// What `change.mjs` saw.
#[derive(Debug, serde::Deserialize)]
struct PhoneChange {
    change_heading: String,
    old_code: String,
    initial_key_grouped: String,
    qr_svgs: u32,
    new_code: String,
    notice: String,
    screenshots: Vec<PathBuf>,
}

/// So that the desk sees only lost phones: alice moves her binding to a new phone herself on `/enroll`, at
/// phone size (password and the old phone's code, the new phone's first code); then the VPN takes the new
/// phone's codes and refuses the old one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_moves_to_a_new_phone_in_the_browser_and_the_old_one_stops_working() {
    if !playwright_available() || !radclient_available() {
        return;
    }
    for (lang, heading, done) in [
        ("zh-TW", "更換手機", "移轉完成"),
        ("en", "Changing phones", "Done! The new phone is registered"),
    ] {
        let site = Site::start().await;
        site.f.clock.advance(30);
        let old_device = site.f.store.active_device("alice").await.unwrap().unwrap();
        let args = ["--base", &site.enroll, "--lang", lang, "--account", "alice"]
            .into_iter()
            .chain(["--password", PASSWORD, "--label", "Pixel 9", "--old-seed"])
            .map(Into::into)
            .chain([
                data_encoding::BASE32.encode(SEED).into(),
                "--time".into(),
                site.now().to_string().into(),
            ])
            .collect();
        let seen: PhoneChange = run_script("change.mjs", args, lang).await;
        assert!(seen.change_heading.starts_with(heading), "{seen:?}");
        assert_eq!(seen.old_code, code_at(SEED, site.now()), "{seen:?}");
        assert_eq!(seen.qr_svgs, 1, "{seen:?}");
        assert!(seen.notice.starts_with(done), "{seen:?}");
        let key = otp::parse_base32_seed(&seen.initial_key_grouped.replace(' ', "")).unwrap();
        assert_eq!(seen.new_code, code_at(&key, site.now()), "{seen:?}");
        let device = site.f.store.active_device("alice").await.unwrap().unwrap();
        assert_ne!(device.id, old_device.id);
        assert_eq!(device.label.as_deref(), Some("Pixel 9"));
        assert_eq!(seen.screenshots.len(), 3, "{seen:?}");
        for shot in &seen.screenshots {
            assert_eq!(png_size(shot).0, 390, "{}", shot.display());
        }

        site.f.clock.advance(30);
        assert!(site.vpn_login(&code_at(&key, site.now())).await);
        site.f.clock.advance(30);
        assert!(!site.vpn_login(&code_at(SEED, site.now())).await);
        site.stop().await;
    }
    tokio::task::spawn_blocking(|| publish(&phone_change_screenshots()))
        .await
        .unwrap();
}

/// The console's screenshots `docs/screenshots/` keeps: (file in `test-output/screenshots/`, name in docs).
fn console_screenshots() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for lang in ["zh-TW", "en"] {
        for (prefix, step, name) in [
            ("console", "1-login", "login"),
            ("console", "2-home", "home"),
            ("console", "3-search", "search"),
            ("console", "4-account", "account"),
            ("console", "5-reset-confirm", "reset-confirm"),
            ("console-admin", "2-report", "report"),
            ("console-admin", "3-clients", "clients"),
        ] {
            files.push((
                format!("{prefix}-{lang}-{step}.png"),
                format!("console-{name}-{lang}.png"),
            ));
        }
    }
    files
}

/// The phone change's screenshots `docs/screenshots/` keeps.
fn phone_change_screenshots() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for lang in ["zh-TW", "en"] {
        for (step, name) in [("1-device", "start"), ("2-qr", "new-phone")] {
            files.push((
                format!("change-flow-{lang}-{step}.png"),
                format!("phone-change-{name}-{lang}.png"),
            ));
        }
    }
    files
}

/// With `MOTPD_UPDATE_SCREENSHOTS=1`, copies `files` into `docs/screenshots/` and shrinks them with `optipng` if
/// it is installed. Blocking: call from `spawn_blocking`.
fn publish(files: &[(String, String)]) {
    if std::env::var(UPDATE_ENV).as_deref() != Ok("1") {
        return;
    }
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&docs).unwrap();
    let mut copied = Vec::new();
    for (from, to) in files {
        let target = docs.join(to);
        std::fs::copy(screenshot_dir().join(from), &target).unwrap();
        copied.push(target);
    }
    if Command::new("optipng").arg("-v").output().is_ok() {
        let mut command = Command::new("optipng");
        command
            .args(["-quiet", "-o5", "-strip", "all"])
            .args(&copied);
        let (status, _, _) = run_bounded(command, Duration::from_secs(300));
        assert!(status.success(), "optipng: {status}");
    } else {
        eprintln!("optipng is not installed: the screenshots in docs/ are not shrunk");
    }
}
