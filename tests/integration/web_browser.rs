//! Flow A's pages as a real browser renders them and a person uses them: headless Chromium against a real
//! node's enrollment web server on 127.0.0.1:0.
//!
//! Two drivers. Chromium's own command line (`--screenshot`, `--dump-dom`; no driver crate) renders the pages
//! reached by GET: the login page in zh-TW and English, the outside-the-network page (a second node whose
//! `enroll_networks` excludes loopback), and the logged-in device page (a session created through the web
//! module's public `SessionStore`, its cookie added by a test-side layer in front of a second router over the
//! same store — nothing in the product). And a whole enrollment through the browser, once per language, at
//! phone size: `tests/clients/browser/enroll.mjs` (npm `playwright-core`, pinned, installed by `npm ci` in that
//! folder) drives the same Chromium with JavaScript switched off in the page — log in, press "register software
//! token", read the initial key from the page, type the TOTP code it computes, submit — and prints what it saw;
//! then a RADIUS decision with a later code from that key is accepted, so the device really is bound. The same
//! for an invitation link (`invite.mjs`): opened from outside the enrollment network, the account's password,
//! the initial key, the code.
//!
//! Screenshots go to `test-output/screenshots/` (gitignored). Every Chromium run is killed after 30 s, every
//! Node run after 90 s (by PID). A missing Chromium, Node or `playwright-core` is a loud skip, or a failure
//! when `MOTPD_REQUIRE_EXTERNAL_CLIENTS=1` (CI sets it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use motpd::server::node::{Node, bind_udp, bind_web};
use motpd::server::web::session::{SessionData, SessionStore, StoreSessions};
use motpd::server::web::{WebState, router};
use tokio_util::sync::CancellationToken;

use motpd::clock::Clock;
use motpd::config::AuthMode;
use motpd::engine::Decision;
use motpd::otp;

use crate::common::NOW;
use crate::common::fixture::EngineFixture;
use crate::external_clients::available;
use crate::web_enroll::code_at;

/// How long one Chromium run may take before it is killed.
const CHROMIUM_PATIENCE: Duration = Duration::from_secs(30);
/// How long one browser-driven enrollment (Node + Chromium, four pages) may take before it is killed.
pub(crate) const ENROLLMENT_PATIENCE: Duration = Duration::from_secs(90);
/// A phone-sized window.
const WINDOW: &str = "--window-size=390,844";
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A real node serving the enrollment pages on loopback.
struct WebNode {
    f: EngineFixture,
    base: String,
    token: CancellationToken,
    node: Option<Node>,
}

impl WebNode {
    /// Starts a node whose enrollment pages accept `enroll_network`.
    async fn start(enroll_network: &str) -> Self {
        let network = enroll_network.parse().unwrap();
        let f = EngineFixture::new(|c| c.web.enroll_networks = vec![network]).await;
        f.account("alice", "Nurse2024pw").await;
        let web = bind_web("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let base = format!("http://{}", web.local_addr().unwrap());
        let auth = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
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
            base,
            token,
            node: Some(node),
        }
    }

    async fn stop(mut self) {
        self.token.cancel();
        if let Some(node) = self.node.take() {
            node.finish().await.unwrap();
        }
    }
}

fn chromium_available() -> bool {
    available(
        "Chromium",
        Command::new("chromium").arg("--version"),
        "apt-get install chromium fonts-noto-cjk",
    )
}

pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-output/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium with a fresh profile and `action` (`--dump-dom` or `--screenshot=FILE`) on `url`;
/// returns its stdout. Killed (by PID) after [`CHROMIUM_PATIENCE`]. Blocking: call from `spawn_blocking`.
fn chromium(action: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new("chromium");
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-proxy-server",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            WINDOW,
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(action)
        .arg(url)
        .stderr(Stdio::null());
    let (status, out, _) = run_bounded(command, CHROMIUM_PATIENCE);
    assert!(status.success(), "chromium {action} {url}: {status}");
    out
}

/// Runs `command` (stdin closed, stdout and stderr read concurrently so a full pipe cannot stall it); kills it
/// by PID after `patience`. Returns its status, stdout and stderr. Blocking: call from `spawn_blocking` (which
/// is why sleeping while polling is fine here: this is never a runtime thread).
#[allow(clippy::disallowed_methods)]
pub(crate) fn run_bounded(
    mut command: Command,
    patience: Duration,
) -> (std::process::ExitStatus, String, String) {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = String::new();
            if let Some(mut pipe) = pipe {
                std::io::Read::read_to_string(&mut pipe, &mut out).unwrap();
            }
            out
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > patience {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in {patience:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, stdout.join().unwrap(), stderr.join().unwrap())
}

/// The DOM of `url` after Chromium rendered it.
async fn dump_dom(url: String) -> String {
    tokio::task::spawn_blocking(move || chromium("--dump-dom", &url))
        .await
        .unwrap()
}

/// Screenshots `url` to `test-output/screenshots/NAME.png` and checks it is a real, phone-sized PNG.
async fn screenshot(url: String, name: &str) -> PathBuf {
    let file = screenshot_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&file);
    let action = format!("--screenshot={}", file.display());
    tokio::task::spawn_blocking(move || chromium(&action, &url))
        .await
        .unwrap();
    assert_eq!(png_size(&file), (390, 844), "{}", file.display());
    file
}

/// Width and height of a PNG file that is a real screenshot (signature, more than 5 KiB).
pub(crate) fn png_size(file: &Path) -> (u32, u32) {
    let png = std::fs::read(file).unwrap();
    assert!(
        png.starts_with(PNG_SIGNATURE),
        "{} is not a PNG",
        file.display()
    );
    assert!(
        png.len() > 5 * 1024,
        "{}: only {} bytes",
        file.display(),
        png.len()
    );
    // IHDR: width and height, big-endian, right after the signature, chunk length and type.
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (size(16), size(20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_login_page_in_both_languages() {
    if !chromium_available() {
        return;
    }
    let node = WebNode::start("127.0.0.1/32").await;
    let zh = dump_dom(format!("{}/enroll?lang=zh-TW", node.base)).await;
    assert!(zh.contains("登入以註冊驗證器"), "{zh}");
    assert!(zh.contains("lang=\"zh-Hant-TW\""), "{zh}");
    assert!(zh.contains("name=\"password\"") && zh.contains("name=\"csrf\""));
    let en = dump_dom(format!("{}/enroll?lang=en", node.base)).await;
    assert!(en.contains("Log in to register your authenticator"), "{en}");
    assert!(!en.contains("登入以註冊驗證器"), "{en}");
    screenshot(
        format!("{}/enroll?lang=zh-TW", node.base),
        "enroll-login-zh-TW",
    )
    .await;
    screenshot(format!("{}/enroll?lang=en", node.base), "enroll-login-en").await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_outside_the_hospital_network_sees_the_bilingual_refusal() {
    if !chromium_available() {
        return;
    }
    // Loopback is not in this node's enrollment networks.
    let node = WebNode::start("10.0.0.0/8").await;
    let dom = dump_dom(format!("{}/enroll", node.base)).await;
    assert!(dom.contains("自助註冊只能在醫院內部網路使用"), "{dom}");
    assert!(
        dom.contains("Self-service registration works only from the hospital network"),
        "{dom}"
    );
    assert!(!dom.contains("name=\"password\""), "{dom}");
    screenshot(format!("{}/enroll", node.base), "enroll-outside").await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_device_page_of_a_logged_in_session() {
    if !chromium_available() {
        return;
    }
    let node = WebNode::start("127.0.0.1/32").await;
    // A session logged in as alice, in the store every node shares.
    let sessions = StoreSessions::new(node.f.store.clone());
    let data = SessionData::new(Some("alice".to_owned())).unwrap();
    let id = sessions.create(data, NOW).await.unwrap();
    // A second router over the same store; the test-side layer plays the cookie jar Chromium's CLI lacks.
    let state = Arc::new(WebState::new(
        &node.f.config,
        &node.f.stores,
        node.f.key.clone(),
        Arc::new(node.f.clock.clone()),
    ));
    let cookie = HeaderValue::from_str(&format!("motpd_session={id}")).unwrap();
    let app = router(state).layer(axum::middleware::map_request(move |mut r: Request| {
        let cookie = cookie.clone();
        async move {
            r.headers_mut().insert(header::COOKIE, cookie);
            r
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });

    let dom = dump_dom(format!("{base}/enroll/device?lang=zh-TW")).await;
    assert!(dom.contains("尚未綁定驗證器"), "{dom}");
    assert!(dom.contains("alice"), "{dom}");
    assert!(dom.contains("action=\"/enroll/device/start\""), "{dom}");
    let en = dump_dom(format!("{base}/enroll/device?lang=en")).await;
    assert!(en.contains("No authenticator registered"), "{en}");
    screenshot(
        format!("{base}/enroll/device?lang=zh-TW"),
        "enroll-device-zh-TW",
    )
    .await;
    server.abort();
    node.stop().await;
}

/// The browser driver's folder: `package.json`, `package-lock.json` (playwright-core, pinned) and `enroll.mjs`.
pub(crate) fn browser_client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/browser")
}

pub(crate) fn playwright_available() -> bool {
    chromium_available()
        && available(
            "Node.js with playwright-core",
            Command::new("node")
                .args(["--input-type=module", "-e", "import 'playwright-core'"])
                .current_dir(browser_client_dir()),
            "apt-get install nodejs npm && (cd tests/clients/browser && npm ci)",
        )
}

/// Runs the browser driver `script` (in [`browser_client_dir`]) with `args` and screenshots going to
/// [`screenshot_dir`], killed after [`ENROLLMENT_PATIENCE`]; fails the test unless it exits 0, and returns what
/// it printed last (one JSON line), parsed. `what` names the run in a failure.
pub(crate) async fn run_script<T: serde::de::DeserializeOwned>(
    script: &str,
    args: Vec<std::ffi::OsString>,
    what: &str,
) -> T {
    let mut command = Command::new("node");
    command
        .arg(browser_client_dir().join(script))
        .args(args)
        .arg("--shots")
        .arg(screenshot_dir())
        .current_dir(browser_client_dir())
        .stderr(Stdio::piped());
    let (status, out, err) =
        tokio::task::spawn_blocking(move || run_bounded(command, ENROLLMENT_PATIENCE))
            .await
            .unwrap();
    assert!(status.success(), "{script} {what}: {status}\n{out}\n{err}");
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{script} printed {out:?}: {e}"))
}

/// What `enroll.mjs` saw on the pages.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct BrowserEnrollment {
    pub(crate) login_button: String,
    pub(crate) start_button: String,
    pub(crate) initial_key_grouped: String,
    pub(crate) qr_svgs: u32,
    pub(crate) code: String,
    pub(crate) notice: String,
    pub(crate) bound: String,
    pub(crate) html_lang: String,
    pub(crate) screenshots: Vec<PathBuf>,
}

/// Runs `enroll.mjs` against the enrollment pages at `base` for alice (password `Nurse2024pw`) in `lang`, naming
/// the device `label`; the TOTP code is computed for `now`, the node's (manual) clock.
pub(crate) async fn enroll_in_browser(
    base: &str,
    now: i64,
    lang: &str,
    label: &str,
) -> BrowserEnrollment {
    let args = ["--base", base, "--lang", lang, "--account", "alice"]
        .into_iter()
        .chain(["--password", "Nurse2024pw", "--label", label])
        .map(Into::into)
        .chain(["--time".into(), now.to_string().into()])
        .collect();
    run_script("enroll.mjs", args, lang).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_completes_an_enrollment_and_the_vpn_accepts_the_phone() {
    if !playwright_available() {
        return;
    }
    for (lang, html_lang, start, done, bound, label) in [
        (
            "zh-TW",
            "zh-Hant-TW",
            "註冊軟體憑證",
            "綁定完成",
            "已綁定驗證器",
            "我的手機",
        ),
        (
            "en",
            "en",
            "Register a software token",
            "Done!",
            "Authenticator registered",
            "Alice's phone",
        ),
    ] {
        let node = WebNode::start("127.0.0.1/32").await;
        let seen = enroll_in_browser(&node.base, node.f.clock.now(), lang, label).await;
        assert_eq!(seen.html_lang, html_lang, "{seen:?}");
        assert_eq!(seen.start_button, start, "{seen:?}");
        assert!(!seen.login_button.is_empty(), "{seen:?}");
        assert_eq!(seen.qr_svgs, 1, "one QR code on the page: {seen:?}");
        assert!(seen.notice.starts_with(done), "{seen:?}");
        assert!(seen.bound.contains(bound), "{seen:?}");
        // The key as the page shows it: groups of four.
        let groups: Vec<&str> = seen.initial_key_grouped.split(' ').collect();
        assert!(groups.len() >= 8, "{seen:?}");
        assert!(
            groups.iter().rev().skip(1).all(|g| g.len() == 4),
            "{seen:?}"
        );
        let key = otp::parse_base32_seed(&groups.concat()).unwrap();
        assert_eq!(
            seen.code,
            code_at(&key, node.f.clock.now()),
            "the script's TOTP agrees with motpd's"
        );

        // Bound, with the name typed in the browser; the code typed there is used up.
        let device = node.f.store.active_device("alice").await.unwrap().unwrap();
        assert_eq!(device.label.as_deref(), Some(label));
        let password = |code: &str| format!("Nurse2024pw{code}");
        let replay = node
            .f
            .ask(
                "alice",
                password(&seen.code).as_bytes(),
                AuthMode::PasswordOtp,
            )
            .await;
        assert!(matches!(replay, Decision::Reject { .. }), "{replay:?}");
        // A later code from the key read in the browser logs in over the VPN.
        node.f.clock.advance(30);
        let later = code_at(&key, node.f.clock.now());
        let login = node
            .f
            .ask("alice", password(&later).as_bytes(), AuthMode::PasswordOtp)
            .await;
        assert!(matches!(login, Decision::Accept { .. }), "{login:?}");

        assert_eq!(seen.screenshots.len(), 4, "{seen:?}");
        for shot in &seen.screenshots {
            let (width, height) = png_size(shot);
            assert_eq!(width, 390, "{}", shot.display());
            assert!(height >= 844, "{}", shot.display());
        }
        node.stop().await;
    }
}

/// What `invite.mjs` saw on the pages.
#[derive(Debug, serde::Deserialize)]
struct BrowserInvitation {
    account: String,
    seed_before_password: u32,
    unlock_button: String,
    initial_key_grouped: String,
    qr_svgs: u32,
    code: String,
    bound_zh: String,
    bound_en: String,
    screenshots: Vec<PathBuf>,
}

/// An invitation for alice is opened in Chromium from outside the enrollment networks, unlocked with her
/// password, scanned (the initial key read) and confirmed; then the VPN accepts a later code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_completes_an_invitation_with_the_password_and_the_vpn_accepts_the_phone() {
    use motpd::engine::EngineSettings;
    use motpd::engine::invitations::Invitations;

    if !playwright_available() {
        return;
    }
    for (lang, unlock) in [("zh-TW", "繼續"), ("en", "Continue")] {
        // Loopback is outside this node's enrollment network: invitation links work from anywhere.
        let node = WebNode::start("10.0.0.0/8").await;
        let invitations = Invitations::new(
            &node.f.stores,
            node.f.key.clone(),
            Arc::new(node.f.clock.clone()),
            EngineSettings::from_config(&node.f.config),
            72,
        );
        let invitation = invitations
            .invite("alice", false, "cli:test")
            .await
            .unwrap();
        let link = invitation.link.expose();
        let path = link[link.find("/invite/").unwrap()..].to_owned();
        let args = ["--base", &node.base, "--path", &path, "--lang", lang]
            .into_iter()
            .chain(["--password", "Nurse2024pw"])
            .map(Into::into)
            .chain(["--time".into(), node.f.clock.now().to_string().into()])
            .collect();
        let seen: BrowserInvitation = run_script("invite.mjs", args, lang).await;
        assert_eq!(seen.account, "alice", "{seen:?}");
        assert_eq!(
            seen.seed_before_password, 0,
            "no seed before the password: {seen:?}"
        );
        assert_eq!(seen.unlock_button, unlock, "{seen:?}");
        assert_eq!(seen.qr_svgs, 1, "{seen:?}");
        // The page of a used link is bilingual whatever the language chosen.
        assert!(seen.bound_zh.starts_with("綁定完成"), "{seen:?}");
        assert!(seen.bound_en.starts_with("Done!"), "{seen:?}");
        let key = otp::parse_base32_seed(&seen.initial_key_grouped.replace(' ', "")).unwrap();
        assert_eq!(seen.code, code_at(&key, node.f.clock.now()));
        assert!(node.f.store.active_device("alice").await.unwrap().is_some());
        node.f.clock.advance(30);
        let later = format!("Nurse2024pw{}", code_at(&key, node.f.clock.now()));
        let login = node
            .f
            .ask("alice", later.as_bytes(), AuthMode::PasswordOtp)
            .await;
        assert!(matches!(login, Decision::Accept { .. }), "{login:?}");
        assert_eq!(seen.screenshots.len(), 3, "{seen:?}");
        for shot in &seen.screenshots {
            assert_eq!(png_size(shot).0, 390, "{}", shot.display());
        }
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_account_activation_page_in_both_languages() {
    if !chromium_available() {
        return;
    }
    // The account pages follow the enrollment networks by default: loopback is one of them here.
    let node = WebNode::start("127.0.0.0/8").await;
    let zh = dump_dom(format!("{}/account/activate?lang=zh-TW", node.base)).await;
    assert!(
        zh.contains("啟用帳號") && zh.contains("lang=\"zh-Hant-TW\""),
        "{zh}"
    );
    assert!(zh.contains("name=\"account\"") && zh.contains("name=\"csrf\""));
    assert!(zh.contains("href=\"/account/reset\""), "{zh}");
    let en = dump_dom(format!("{}/account/activate?lang=en", node.base)).await;
    assert!(en.contains("Activate your account"), "{en}");
    assert!(!en.contains("啟用帳號"), "{en}");
    for (lang, name) in [
        ("zh-TW", "account-activate-zh-TW"),
        ("en", "account-activate-en"),
    ] {
        screenshot(format!("{}/account/activate?lang={lang}", node.base), name).await;
    }
    node.stop().await;
}
