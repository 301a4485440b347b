//! Flow A's pages as a real browser renders them: headless Chromium, driven only through its command line (no
//! driver crate), against a real node's enrollment web server on 127.0.0.1:0.
//!
//! Chromium's command line can take a screenshot (`--screenshot`) or print the DOM after scripts ran
//! (`--dump-dom`), but it cannot fill in forms or set cookies. So this covers the pages reached by GET: the login
//! page in zh-TW and English, the outside-the-network page (a second node whose `enroll_networks` excludes
//! loopback), and the logged-in device page (a session created through the web module's public `SessionStore`,
//! its cookie added by a test-side layer in front of a second router over the same store — nothing in the
//! product). The form posts themselves are covered at the HTTP level by `web_enroll.rs`.
//!
//! Screenshots go to `test-output/screenshots/` (gitignored). Every Chromium run is killed after 30 s. A missing
//! Chromium is a loud skip, or a failure when `MOTPD_REQUIRE_EXTERNAL_CLIENTS=1` (CI sets it).

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

use crate::common::NOW;
use crate::common::fixture::EngineFixture;
use crate::external_clients::available;

/// How long one Chromium run may take before it is killed.
const CHROMIUM_PATIENCE: Duration = Duration::from_secs(30);
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
            f.store.clone(),
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

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-output/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium with a fresh profile and `action` (`--dump-dom` or `--screenshot=FILE`) on `url`;
/// returns its stdout. Killed (by PID) after [`CHROMIUM_PATIENCE`]. Blocking: call from `spawn_blocking`
/// (which is why sleeping while polling is fine here: this is never a runtime thread).
#[allow(clippy::disallowed_methods)]
fn chromium(action: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("chromium")
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
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Read concurrently so a large DOM cannot fill the pipe and stall Chromium.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHROMIUM_PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {action} {url} did not finish in {CHROMIUM_PATIENCE:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = reader.join().unwrap().unwrap();
    assert!(status.success(), "chromium {action} {url}: {status}");
    out
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
    let png = std::fs::read(&file).unwrap();
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
    assert_eq!((size(16), size(20)), (390, 844), "{}", file.display());
    file
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
        node.f.store.clone(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_account_activation_page_in_both_languages() {
    if !chromium_available() {
        return;
    }
    // The account pages work from any network by default: here the enrollment network excludes loopback.
    let node = WebNode::start("10.0.0.0/8").await;
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
