//! Flow B end to end with a real SMTP server: Python's aiosmtpd (`tests/clients/smtp_sink.py` saves each
//! message) receives the invitation sent by the engine through [`SmtpMailer`]; the link is taken from the mail,
//! the page opened through the router from outside the hospital network, the QR code decoded from the page's
//! SVG (rasterised here, decoded with rqrr), the code computed from the decoded `otpauth://` URI, and the
//! binding confirmed; then a RADIUS decision with password + a later code is accepted. Also: a used link,
//! an expired link (manual clock), a re-invitation invalidating the first link, and the refusals.
//!
//! `--qr-in-mail`: the QR code is decoded from the mail's inline PNG (unpacked by the sink with Python's zlib),
//! and the first VPN login (a real RADIUS exchange over UDP) activates the mailed token; after the link expires
//! it is refused. Without SMTP: links of disabled or expired accounts, the same pending seed on every visit, and
//! the per-address rate limit of the invitation pages.
//! Without aiosmtpd the test is a loud skip, or a failure under `MOTPD_REQUIRE_EXTERNAL_CLIENTS=1`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use motpd::clock::Clock;
use motpd::config::{AuthMode, SmtpTls};
use motpd::engine::Decision;
use motpd::engine::EngineSettings;
use motpd::engine::device_notice::DeviceNotices;
use motpd::engine::invitations::{Invitations, InviteError, LinkState};
use motpd::notify::{Mailer, SmtpMailer};
use motpd::otp;
use motpd::radius::Code;
use motpd::secrets::SecretString;
use motpd::server::web::WebState;
use motpd::store::{AccountStatus, DeviceState};

use crate::common::fixture::EngineFixture;
use crate::common::radius_client::RadiusFixture;
use crate::external_clients::available;
use crate::web_enroll::{Browser, OUTSIDE, PASSWORD, Reply, code_at, web_config};

const ZH_USED: &str = "此邀請連結已使用過";
const EN_USED: &str = "This invitation link has already been used";
const ZH_EXPIRED: &str = "此邀請連結已過期";
const EN_EXPIRED: &str = "This invitation link has expired";
const ZH_UNKNOWN: &str = "此邀請連結無效";
const ZH_BOUND: &str = "綁定完成";
const EN_BOUND: &str = "Done!";

/// The aiosmtpd process, killed on drop.
pub(crate) struct SmtpSink {
    child: Child,
    pub(crate) port: u16,
    pub(crate) dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

pub(crate) async fn start_sink() -> Option<SmtpSink> {
    if !available(
        "Python aiosmtpd",
        Command::new("python3").args(["-c", "import aiosmtpd"]),
        "python3 -m pip install aiosmtpd==1.4.6",
    ) {
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "smtp_sink.Sink"])
        .arg(dir.path())
        .env("PYTHONPATH", clients_dir())
        .spawn()
        .unwrap();
    let mut sink = SmtpSink { child, port, dir };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        let exited = sink.child.try_wait().unwrap();
        assert!(exited.is_none(), "aiosmtpd exited: {exited:?}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "aiosmtpd did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(sink)
}

/// Waits for the `n`th mail and returns it decoded by `smtp_sink.py show`.
pub(crate) async fn mail(sink: &SmtpSink, n: u32) -> serde_json::Value {
    let path = sink.dir.path().join(format!("{n}.eml"));
    let started = Instant::now();
    while !path.exists() {
        assert!(started.elapsed() < Duration::from_secs(15), "no mail {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = Command::new("python3")
        .arg(clients_dir().join("smtp_sink.py"))
        .arg("show")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The invitation link's path (`/invite/<64 hex>`) in `text`.
pub(crate) fn link_path(text: &str) -> String {
    let prefix = "http://127.0.0.1:8080";
    let start = text
        .find(&format!("{prefix}/invite/"))
        .expect("link in mail")
        + prefix.len();
    let path: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
        .collect();
    assert_eq!(path.len(), "/invite/".len() + 64, "{path}");
    path
}

/// Rasterises the QR code SVG of `html` (qrcode's renderer: one `<path>` of `M{x} {y}h{w}v{h}H{x}V{y}`
/// rectangles on a white `<rect>`) to greyscale and decodes it with rqrr.
fn decode_qr(html: &str) -> String {
    let svg = &html[html.find("<svg").expect("svg in page")..];
    let number = |attr: &str| -> usize {
        let start = svg.find(&format!(" {attr}=\"")).unwrap() + attr.len() + 3;
        svg[start..start + svg[start..].find('"').unwrap()]
            .parse()
            .unwrap()
    };
    let (width, height) = (number("width"), number("height"));
    let d_start = svg.find(" d=\"").unwrap() + 4;
    let d = &svg[d_start..d_start + svg[d_start..].find('"').unwrap()];
    let mut pixels = vec![255u8; width * height];
    let mut rects = 0;
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        let numbers: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let [x, y, w, h, ..] = numbers[..] else {
            panic!("unexpected path segment {rect:?}")
        };
        for row in y..y + h {
            for col in x..x + w {
                pixels[row * width + col] = 0;
            }
        }
        rects += 1;
    }
    assert!(rects > 50, "a QR code has many dark modules: {rects}");
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the page");
    grids[0].decode().unwrap().1
}

/// A fixture whose mailer talks to `sink`.
async fn setup(sink: &SmtpSink) -> (EngineFixture, Arc<WebState>, Invitations) {
    setup_with_port(sink.port).await
}

/// A fixture whose `[smtp]` names 127.0.0.1:`port` (tests that send no mail give any port).
pub(crate) async fn setup_with_port(port: u16) -> (EngineFixture, Arc<WebState>, Invitations) {
    let f = EngineFixture::new(move |config| {
        web_config(config);
        config.smtp.host = "127.0.0.1".into();
        config.smtp.port = port;
        config.smtp.tls = SmtpTls::None;
        config.smtp.from = "motp@hospital.example".into();
        config.web.invite_ttl_hours = 72;
    })
    .await;
    let clock = Arc::new(f.clock.clone());
    let state = Arc::new(WebState::new(
        &f.config,
        &f.stores,
        f.key.clone(),
        clock.clone(),
    ));
    let invitations = Invitations::new(
        &f.stores,
        f.key.clone(),
        clock,
        EngineSettings::from_config(&f.config),
        f.config.web.invite_ttl_hours,
    );
    (f, state, invitations)
}

async fn send(f: &EngineFixture, invitations: &Invitations, id: &str) -> SecretString {
    let invitation = invitations.invite(id, false, "cli:test").await.unwrap();
    let mailer = SmtpMailer::new(&f.config.smtp).unwrap();
    mailer
        .send(invitation.mail(f.config.policy.utc_offset).unwrap())
        .await
        .unwrap();
    invitation.link
}

#[tokio::test]
async fn an_invitation_mail_binds_a_phone_from_outside_once() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let (f, state, invitations) = setup(&sink).await;
    f.account("alice", PASSWORD).await;
    let sent = send(&f, &invitations, "alice").await;

    let mail = mail(&sink, 1).await;
    assert_eq!(mail["to"], "alice@example.org");
    assert_eq!(mail["from"], "motp@hospital.example");
    assert_eq!(mail["content_type"], "multipart/alternative");
    assert!(mail["subject"].as_str().unwrap().contains("邀請"));
    let text = mail["text"].as_str().unwrap();
    let html = mail["html"].as_str().unwrap();
    let path = link_path(text);
    assert_eq!(link_path(html), path);
    assert_eq!(format!("http://127.0.0.1:8080{path}"), sent.expose());
    let (zh, en) = (text.find("有效至").unwrap(), text.find("until").unwrap());
    assert!(zh < en, "Chinese first, then English");
    assert!(
        text.contains("UTC+08:00") || text.contains("(UTC"),
        "{text}"
    );

    // From outside the hospital network: the link names the account, its password unlocks the seed.
    let mut b = Browser::new(&state, OUTSIDE);
    let page = unlock(&mut b, &path, "alice").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let uri = decode_qr(&page.body);
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let tap = format!("href=\"{}\"", uri.replace('&', "&#38;"));
    assert!(
        page.body.contains(&tap),
        "the same token with a tap: {tap}\n{}",
        page.body
    );
    let params = otp::parse_otpauth_uri(&uri).unwrap();
    let seed = otp::parse_base32_seed(&params.secret_base32).unwrap();
    let key = otp::parse_base32_seed(&page.initial_key()).unwrap();
    assert_eq!(seed, key, "QR code and initial key agree");
    let device = page.field("device");
    assert_eq!(
        f.store.device(&device).await.unwrap().unwrap().state,
        DeviceState::Pending
    );

    let now = f.clock.now();
    let csrf = page.field("csrf");
    let confirm = format!("{path}/confirm");
    assert!(
        page.body.contains(&format!("action=\"{confirm}\"")),
        "the form posts back to the link"
    );
    let form = |code: &str| -> Vec<(String, String)> {
        vec![
            ("csrf".into(), csrf.clone()),
            ("device".into(), device.clone()),
            ("code".into(), code.to_owned()),
        ]
    };
    let done = post(&mut b, &confirm, &form(&code_at(&seed, now))).await;
    assert_eq!(done.0, StatusCode::OK, "{}", done.1);
    assert!(
        done.1.contains(ZH_BOUND) && done.1.contains(EN_BOUND),
        "{}",
        done.1
    );
    assert_eq!(
        f.store.active_device("alice").await.unwrap().unwrap().id,
        device
    );

    f.clock.advance(60);
    let later = format!("{PASSWORD}{}", code_at(&seed, f.clock.now()));
    assert!(matches!(
        f.ask("alice", later.as_bytes(), AuthMode::PasswordOtp)
            .await,
        Decision::Accept { .. }
    ));

    // Single use: the page and the form both say "used".
    let again = b.get(&path).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(
        again.body.contains(ZH_USED) && again.body.contains(EN_USED),
        "{}",
        again.body
    );
    let replay = post(&mut b, &confirm, &form("123456")).await;
    assert_eq!(replay.0, StatusCode::GONE);

    let audit = f.store.audit_page(0, 1000).await.unwrap();
    assert!(audit.iter().any(|r| r.event.kind == "admin.invite"
        && r.event.actor == "cli:test"
        && !r.event.detail.contains(&path[8..])));
    // A bound account is not invited again unless forced.
    assert!(matches!(
        invitations.invite("alice", false, "cli:test").await,
        Err(InviteError::AlreadyBound(_))
    ));
}

/// Opens the link (the password form for its account), gives the account's password, and returns the seed page.
pub(crate) async fn unlock(b: &mut Browser, path: &str, account: &str) -> Reply {
    let form = b.get(path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body
            .contains(&format!("id=\"invite-account\">{account}<")),
        "the form names the link's account: {}",
        form.body
    );
    assert!(!form.body.contains("initial-key") && !form.body.contains("<svg"));
    let csrf = form.field("csrf");
    let reply = b
        .post(
            &format!("{path}/unlock"),
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.location(), path);
    b.get(path).await
}

async fn post(b: &mut Browser, path: &str, form: &[(String, String)]) -> (StatusCode, String) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = b.post(path, &pairs).await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn expired_replaced_and_impossible_invitations() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let (f, state, invitations) = setup(&sink).await;
    f.account("bob", PASSWORD).await;
    f.account_with_hash("nomail", None, AccountStatus::Pending)
        .await;
    let mut b = Browser::new(&state, OUTSIDE);

    // Re-inviting invalidates the first link.
    let first = link_path(send(&f, &invitations, "bob").await.expose());
    let second = link_path(send(&f, &invitations, "bob").await.expose());
    assert_ne!(first, second);
    assert_eq!(
        link_path(mail(&sink, 2).await["text"].as_str().unwrap()),
        second
    );
    let old = b.get(&first).await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
    assert!(old.body.contains(ZH_UNKNOWN), "{}", old.body);
    assert_eq!(b.get(&second).await.status, StatusCode::OK);
    // The grant of one link does not open another link of the same account.
    unlock(&mut b, &second, "bob").await;
    let third = link_path(send(&f, &invitations, "bob").await.expose());
    let form = b.get(&third).await;
    assert!(form.body.contains("/unlock") && !form.body.contains("initial-key"));
    let second = third;

    // Expired after invite_ttl_hours (manual clock).
    f.clock.advance(72 * 3600);
    let expired = b.get(&second).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains(ZH_EXPIRED) && expired.body.contains(EN_EXPIRED));
    assert_eq!(
        b.get("/invite/not-a-token").await.status,
        StatusCode::NOT_FOUND
    );

    // No e-mail address: a clear error, no invitation.
    let account = f.store.account("nomail").await.unwrap().unwrap();
    let upsert = motpd::store::AccountUpsert {
        id: account.id.clone(),
        name: account.name,
        phone: account.phone,
        email: None,
        expires_on: None,
        groups: account.groups,
        password_hash: None,
        status: account.status,
    };
    f.store.import_accounts(&[upsert], 0).await.unwrap();
    let refused = invitations.invite("nomail", false, "cli:test").await;
    assert!(
        matches!(refused, Err(InviteError::NoEmail(ref id)) if id == "nomail"),
        "{refused:?}"
    );
    assert!(matches!(
        invitations.invite("ghost", false, "cli:test").await,
        Err(InviteError::NoSuchAccount(_))
    ));
}

/// `motpd` (the real binary) in `dir`; returns (exit code, stdout, stderr).
pub(crate) fn motpd(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_motpd"))
        .args(args)
        .current_dir(dir)
        .env_remove("MOTPD_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn motpd_invite_mails_one_account_or_every_unenrolled_one() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let site = tempfile::tempdir().unwrap();
    let dir = site.path();
    assert_eq!(motpd(dir, &["init"]).0, Some(0));
    let config = std::fs::read_to_string(dir.join("motpd.toml")).unwrap();
    let config = config.replacen("port = 25\n", &format!("port = {}\n", sink.port), 1);
    std::fs::write(dir.join("motpd.toml"), config).unwrap();
    for (id, email) in [
        ("alice", Some("alice@example.org")),
        ("bob", Some("bob@example.org")),
        ("carol", None),
    ] {
        let mut args = vec!["user", "add", id];
        if let Some(email) = email {
            args.extend(["--email", email]);
        }
        assert_eq!(motpd(dir, &args).0, Some(0), "{args:?}");
    }

    let (code, out, err) = motpd(dir, &["invite", "Alice"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("alice: invitation sent to alice@example.org"),
        "{out}"
    );
    assert_eq!(mail(&sink, 1).await["to"], "alice@example.org");

    let (code, _, err) = motpd(dir, &["invite", "carol"]);
    assert_eq!(code, Some(8), "{err}");
    assert!(err.contains("no e-mail address"), "{err}");
    assert_eq!(motpd(dir, &["invite", "nobody"]).0, Some(6));

    let (code, out, err) = motpd(dir, &["invite", "--all-unenrolled", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("invitations: 2 sent, 1 skipped (1 no e-mail), 0 failed"),
        "{out}"
    );
    let mut to = vec![
        mail(&sink, 2).await["to"].clone(),
        mail(&sink, 3).await["to"].clone(),
    ];
    to.sort_by_key(|v| v.to_string());
    assert_eq!(to, ["alice@example.org", "bob@example.org"]);

    // --qr-in-mail: the QR code goes in the mail; never together with --force.
    let (code, out, err) = motpd(dir, &["invite", "bob", "--qr-in-mail"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let qr = decode_mailed_qr(&mail(&sink, 4).await);
    assert!(qr.starts_with("otpauth://totp/"), "{qr}");
    let (code, _, err) = motpd(dir, &["invite", "bob", "--qr-in-mail", "--force"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        mail(&sink, 1).await["inline"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// The one inline part of `mail` (as `smtp_sink.py show` reports it): the QR code PNG, decoded by Python's
/// zlib, then by rqrr. Returns the `otpauth://` URI.
fn decode_mailed_qr(mail: &serde_json::Value) -> String {
    let inline = mail["inline"].as_array().unwrap();
    assert_eq!(inline.len(), 1, "{inline:?}");
    let part = &inline[0];
    assert_eq!(part["cid"], "enroll-qr@motpd");
    assert_eq!(part["content_type"], "image/png");
    assert_eq!(part["disposition"], "inline");
    assert_eq!(
        part["parent"], "multipart/related",
        "the image travels with the HTML"
    );
    let image = &part["image"];
    let width = usize::try_from(image["width"].as_u64().unwrap()).unwrap();
    let height = usize::try_from(image["height"].as_u64().unwrap()).unwrap();
    let grey = data_encoding::BASE64
        .decode(image["grey"].as_str().unwrap().as_bytes())
        .unwrap();
    assert_eq!(grey.len(), width * height);
    assert!(
        (150..=600).contains(&width) && width == height,
        "{width}x{height}"
    );
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| grey[y * width + x]);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

/// `motpd invite --qr-in-mail` for `id`: mails it and returns the link.
async fn send_with_seed(f: &EngineFixture, invitations: &Invitations, id: &str) -> SecretString {
    let invitation = invitations.invite_with_seed(id, "cli:test").await.unwrap();
    assert!(invitation.mailed_uri.is_some());
    let mailer = SmtpMailer::new(&f.config.smtp).unwrap();
    mailer
        .send(invitation.mail(f.config.policy.utc_offset).unwrap())
        .await
        .unwrap();
    invitation.link
}

pub(crate) fn seed_of(uri: &str) -> (Vec<u8>, String) {
    let params = otp::parse_otpauth_uri(uri).unwrap();
    let key = params.secret_base32.to_string();
    (otp::parse_base32_seed(&key).unwrap(), key)
}

async fn vpn(f: &EngineFixture, id: &str, typed: &str) -> Decision {
    f.ask(id, typed.as_bytes(), AuthMode::PasswordOtp).await
}

#[tokio::test]
async fn a_qr_in_mail_invitation_activates_on_the_first_vpn_login() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let (f, state, invitations) = setup(&sink).await;
    f.account("alice", PASSWORD).await;
    let link = send_with_seed(&f, &invitations, "alice").await;

    let mail = mail(&sink, 1).await;
    assert_eq!(mail["content_type"], "multipart/alternative");
    let (text, html) = (
        mail["text"].as_str().unwrap(),
        mail["html"].as_str().unwrap(),
    );
    assert!(html.contains("src=\"cid:enroll-qr@motpd\""), "{html}");
    assert!(
        html.contains("第二道驗證") && html.contains("second factor"),
        "the mail warns that it is the second factor: {html}"
    );
    assert!(
        text.contains("HTML") && text.contains(&link_path(html)),
        "{text}"
    );
    let uri = decode_mailed_qr(&mail);
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let (seed, key) = seed_of(&uri);
    // The seed travels only as the image: not in the plain text, not as text in the HTML.
    for part in [text, html] {
        assert!(
            !part.contains(&key[..16]) && !part.contains("otpauth"),
            "{part}"
        );
    }

    // Pending until a code from it is used.
    assert!(f.store.active_device("alice").await.unwrap().is_none());
    let pending = f
        .store
        .mailed_pending_device("alice", f.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.state, DeviceState::Pending);
    let far = code_at(&seed, f.clock.now() + 3600);
    assert!(matches!(
        vpn(&f, "alice", &format!("{PASSWORD}{far}")).await,
        Decision::Reject { .. }
    ));
    let right_code_wrong_password = format!("Wrong2024pw{}", code_at(&seed, f.clock.now()));
    assert!(matches!(
        vpn(&f, "alice", &right_code_wrong_password).await,
        Decision::Reject { .. }
    ));
    assert!(f.store.active_device("alice").await.unwrap().is_none());

    // The first VPN login with password + code activates it: a real RADIUS exchange over UDP.
    let server = RadiusFixture::start(f, true).await;
    let f = &server.f;
    f.clock.advance(30);
    let first = format!("{PASSWORD}{}", code_at(&seed, f.clock.now()));
    let mut client = server.client().await;
    let login = client
        .access("alice", first.as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(login.code, Code::AccessAccept, "{login:?}");
    assert_eq!(login.groups, ["vpn", "nurses"]);
    let active = f.store.active_device("alice").await.unwrap().unwrap();
    assert_eq!(active.id, pending.id);
    // The owner hears of it by mail, in both languages, without the seed.
    let notice = self::mail(&sink, 2).await;
    assert_eq!(notice["to"], "alice@example.org");
    let notice_text = notice["text"].as_str().unwrap();
    assert!(
        notice_text.contains("資訊室服務台") && notice_text.contains("call the IT helpdesk"),
        "{notice_text}"
    );
    assert!(!notice_text.contains(&key[..16]) && !notice_text.contains("/invite/"));
    assert!(
        matches!(vpn(f, "alice", &first).await, Decision::Reject { .. }),
        "a code is used once"
    );
    f.clock.advance(30);
    let later = format!("{PASSWORD}{}", code_at(&seed, f.clock.now()));
    assert!(matches!(
        vpn(f, "alice", &later).await,
        Decision::Accept { .. }
    ));

    // The link is used up; the account gets no second mailed seed while it has a device.
    let mut b = Browser::new(&state, OUTSIDE);
    let page = b.get(&link_path(link.expose())).await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    assert!(matches!(
        invitations.invite_with_seed("alice", "cli:test").await,
        Err(InviteError::AlreadyBound(_))
    ));

    f.engine.flush_audit().await;
    let audit = f.store.audit_page(0, 1000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.event.kind == "admin.invite"
                && r.event.detail.contains("\"qr_in_mail\":true"))
    );
    assert!(audit.iter().any(|r| r.event.kind == "enroll.confirm"
        && r.event.actor == "radius:netscaler"
        && r.event.outcome == "ok"
        && r.event.detail.contains("vpn_login")));
    assert!(audit.iter().all(|r| !r.event.detail.contains(&key[..16])));
    server.stop().await;
}

#[tokio::test]
async fn a_mailed_seed_binds_on_the_page_too_and_is_useless_after_expiry() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let (f, state, invitations) = setup(&sink).await;
    f.account("carol", PASSWORD).await;
    f.account("dave", PASSWORD).await;

    // carol: the link's page shows the mailed seed (on every visit), and its code binds it there.
    let path = link_path(send_with_seed(&f, &invitations, "carol").await.expose());
    let mailed = decode_mailed_qr(&mail(&sink, 1).await);
    let (seed, _) = seed_of(&mailed);
    let mut b = Browser::new(&state, OUTSIDE);
    let page = unlock(&mut b, &path, "carol").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(decode_qr(&page.body), mailed);
    let again = b.get(&path).await;
    assert_eq!(again.field("device"), page.field("device"));
    assert_eq!(again.initial_key(), page.initial_key());
    let form = [
        ("csrf", again.field("csrf")),
        ("device", again.field("device")),
        ("code", code_at(&seed, f.clock.now())),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = b.post(&format!("{path}/confirm"), &pairs).await;
    assert!(done.body.contains(ZH_BOUND), "{}", done.body);
    assert_eq!(
        f.store.active_device("carol").await.unwrap().unwrap().id,
        page.field("device")
    );

    // dave: once the link has expired, the mailed seed opens nothing.
    let path = link_path(send_with_seed(&f, &invitations, "dave").await.expose());
    let (seed, _) = seed_of(&decode_mailed_qr(&mail(&sink, 2).await));
    f.clock.advance(72 * 3600);
    let typed = format!("{PASSWORD}{}", code_at(&seed, f.clock.now()));
    let late = vpn(&f, "dave", &typed).await;
    assert!(matches!(late, Decision::Reject { .. }), "{late:?}");
    assert!(f.store.active_device("dave").await.unwrap().is_none());
    assert!(
        f.store
            .mailed_pending_device("dave", f.clock.now())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(b.get(&path).await.status, StatusCode::GONE);
}

/// A fixture, an account and its invitation link's path (no mail is sent).
async fn invited(id: &str) -> (EngineFixture, Arc<WebState>, Invitations, String) {
    let (f, state, invitations) = setup_with_port(25).await;
    f.account(id, PASSWORD).await;
    let invitation = invitations.invite(id, false, "cli:test").await.unwrap();
    let path = link_path(invitation.link.expose());
    (f, state, invitations, path)
}

async fn enroll_starts(f: &EngineFixture) -> Vec<String> {
    let audit = f.store.audit_page(0, 1000).await.unwrap();
    audit
        .into_iter()
        .filter(|r| r.event.kind == "enroll.start")
        .map(|r| r.event.detail)
        .collect()
}

#[tokio::test]
async fn links_of_disabled_or_expired_accounts_start_nothing() {
    let (f, state, invitations, path) = invited("erin").await;
    let mut b = Browser::new(&state, OUTSIDE);
    f.store
        .set_account_status("erin", AccountStatus::Disabled, f.clock.now())
        .await
        .unwrap();
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.body.contains("此帳號已停用") && page.body.contains("This account is disabled"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("initial-key") && !page.body.contains("<svg"));

    // Enabled again but past its expiry date (a vendor account).
    f.store
        .set_account_status("erin", AccountStatus::Active, f.clock.now())
        .await
        .unwrap();
    let account = f.store.account("erin").await.unwrap().unwrap();
    let upsert = motpd::store::AccountUpsert {
        id: account.id,
        name: account.name,
        phone: account.phone,
        email: account.email,
        expires_on: Some(time::macros::date!(2020 - 01 - 31)),
        groups: account.groups,
        password_hash: None,
        status: account.status,
    };
    f.store
        .import_accounts(&[upsert], f.clock.now())
        .await
        .unwrap();
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.body.contains("此帳號已過期") && page.body.contains("This account has expired"),
        "{}",
        page.body
    );
    assert!(enroll_starts(&f).await.is_empty(), "nothing was started");
    assert_eq!(
        invitations.open(&path["/invite/".len()..]).await.unwrap(),
        LinkState::AccountExpired
    );
}

#[tokio::test]
async fn a_link_shows_the_same_pending_seed_until_it_is_used() {
    let (f, state, _invitations, path) = invited("frank").await;
    // A mail scanner fetches the link first, from its own address: it gets the password form, and nothing starts.
    let scanner = Browser::new(&state, "198.51.100.7:40000").get(&path).await;
    assert_eq!(scanner.status, StatusCode::OK);
    assert!(!scanner.body.contains("initial-key") && !scanner.body.contains("<svg"));
    assert!(enroll_starts(&f).await.is_empty());
    let mut b = Browser::new(&state, OUTSIDE);
    let page = unlock(&mut b, &path, "frank").await;
    // On another device (the person's phone after the PC) the same password shows the same seed.
    let mut phone = Browser::new(&state, "198.51.100.9:40000");
    let other = unlock(&mut phone, &path, "frank").await;
    assert_eq!(page.field("device"), other.field("device"));
    assert_eq!(page.initial_key(), other.initial_key());
    assert_eq!(decode_qr(&page.body), decode_qr(&other.body));
    assert!(
        page.body.contains("重新開啟連結會顯示同一個 QR 碼"),
        "the page says so: {}",
        page.body
    );
    let starts = enroll_starts(&f).await;
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(!starts[0].contains("shown_again") && starts[1].contains("\"shown_again\":true"));

    // Still valid an hour later (an invitation's seed lives as long as the link, not 10 minutes).
    f.clock.advance(3600);
    let seed = otp::parse_base32_seed(&page.initial_key()).unwrap();
    let later = unlock(&mut b, &path, "frank").await;
    assert_eq!(later.field("device"), page.field("device"));
    let form = [
        ("csrf", later.field("csrf")),
        ("device", later.field("device")),
        ("code", code_at(&seed, f.clock.now())),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = b.post(&format!("{path}/confirm"), &pairs).await;
    assert!(done.body.contains(ZH_BOUND), "{}", done.body);
    assert_eq!(b.get(&path).await.status, StatusCode::GONE);
}

#[tokio::test]
async fn invitation_pages_are_rate_limited_per_address() {
    let (_f, state, _invitations, path) = invited("grace").await;
    let mut b = Browser::new(&state, OUTSIDE);
    for n in 0..20 {
        assert_eq!(b.get(&path).await.status, StatusCode::OK, "request {n}");
    }
    let limited = b.get(&path).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.body.contains("嘗試次數過多") && limited.body.contains("Too many attempts"),
        "{}",
        limited.body
    );
    let post = b
        .post(
            &format!("{path}/confirm"),
            &[("csrf", "x"), ("device", "y"), ("code", "123456")],
        )
        .await;
    assert_eq!(post.status, StatusCode::TOO_MANY_REQUESTS);
    let unknown = b.get(&format!("/invite/{}", "ab".repeat(32))).await;
    assert_eq!(
        unknown.status,
        StatusCode::TOO_MANY_REQUESTS,
        "guessing links is limited too"
    );
    // Another address is not affected.
    let other = Browser::new(&state, "198.51.100.8:40000").get(&path).await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn a_binding_on_the_enrollment_pages_is_told_by_mail() {
    let Some(sink) = start_sink().await else {
        return;
    };
    let (f, state, _invitations) = setup(&sink).await;
    f.account("alice", PASSWORD).await;
    let mailer = Arc::new(SmtpMailer::new(&f.config.smtp).unwrap());
    let notices = Arc::new(DeviceNotices::new(mailer, f.config.policy.utc_offset));
    let state = Arc::new(Arc::into_inner(state).unwrap().with_notices(notices));

    // Flow A from the hospital network: log in, start, confirm.
    let mut b = Browser::new(&state, "10.1.2.3:50000");
    let page = b.log_in().await;
    let started = b
        .post(
            "/enroll/device/start",
            &[("csrf", &page.field("csrf")), ("label", "iPhone")],
        )
        .await;
    let seed = otp::parse_base32_seed(&started.initial_key()).unwrap();
    let form = [
        ("csrf", started.field("csrf")),
        ("device", started.field("device")),
        ("code", code_at(&seed, f.clock.now())),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = b.post("/enroll/device/confirm", &pairs).await;
    assert!(done.body.contains(ZH_BOUND), "{}", done.body);

    let notice = mail(&sink, 1).await;
    assert_eq!(notice["to"], "alice@example.org");
    assert!(notice["subject"].as_str().unwrap().contains("VPN"));
    let text = notice["text"].as_str().unwrap();
    assert!(
        text.contains("自助註冊") && text.contains("self-service registration page"),
        "{text}"
    );
    assert!(text.contains("資訊室服務台") && text.contains("call the IT helpdesk"));
    let html = notice["html"].as_str().unwrap();
    let (zh, en) = (html.find("lang=\"zh-Hant-TW\""), html.find("lang=\"en\""));
    assert!(zh.is_some() && zh < en, "Chinese first: {html}");
}
