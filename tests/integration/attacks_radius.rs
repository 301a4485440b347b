//! The RADIUS transport, the logs and the database files as an attacker would try them, over real UDP against a
//! node on 127.0.0.1:0 (and the real `motpd serve` binary for the log and file tests):
//! - a copy of a request with a broken Message-Authenticator gets nothing, not the cached reply;
//! - a request whose reply could not fit in 4096 octets is refused before its code is used up;
//! - a User-Name with a line break and terminal escapes stays on one log line, escaped;
//! - the database files are private (0600), and a database others can read is refused.

use std::io::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use motpd::config::Language;
use motpd::otp::Kind;
use motpd::radius::{self, Attribute, Code, types};
use motpd::store::{AccountStatus, AccountUpsert};

use crate::common::NOW;
use crate::common::fixture::EngineFixture;
use crate::common::radius_client::{RadiusFixture, SECRET, parse_reply};

const PW: &str = "Nurse2024";
const SILENCE: Duration = Duration::from_millis(400);

fn typed(code: &str) -> Vec<u8> {
    format!("{PW}{code}").into_bytes()
}

/// A node whose account `alice` (password [`PW`], the fixture's TOTP seed) has `groups`.
async fn server(groups: Vec<String>) -> RadiusFixture {
    let f = EngineFixture::new(|c| c.radius.language = Language::En).await;
    let hash = motpd::password::hash_password(PW.as_bytes()).unwrap();
    let account = AccountUpsert {
        id: "alice".to_owned(),
        name: "Alice Example".to_owned(),
        phone: None,
        email: None,
        expires_on: None,
        groups,
        password_hash: Some(hash),
        status: AccountStatus::Active,
    };
    f.store.create_account(&account, NOW).await.unwrap();
    f.device("alice", Kind::Totp).await;
    RadiusFixture::start(f, true).await
}

#[tokio::test]
async fn a_copy_with_a_broken_message_authenticator_does_not_get_the_cached_reply() {
    let s = server(vec!["vpn".to_owned()]).await;
    let mut client = s.client().await;
    let (request, authenticator) = client.request("alice", &typed(&s.f.code_now()), None);
    let first = client
        .exchange(&request, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        parse_reply(&first, &authenticator, SECRET).code,
        Code::AccessAccept
    );

    // Same Identifier and Request Authenticator (the cache key), Message-Authenticator (the first attribute,
    // its value at offset 22) altered.
    assert_eq!(request[20], types::MESSAGE_AUTHENTICATOR);
    let mut forged = request.clone();
    forged[25] ^= 0x5a;
    let before = s.node.as_ref().unwrap().stats.snapshot();
    assert_eq!(client.exchange(&forged, SILENCE).await, None, "no reply");
    let after = s.node.as_ref().unwrap().stats.snapshot();
    assert_eq!(after.bad_authenticator, before.bad_authenticator + 1);
    assert_eq!(after.duplicates_resent, before.duplicates_resent);

    // The real retransmission still gets the cached bytes.
    let again = client
        .exchange(&request, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(again, first, "byte-identical");
    let stats = s.node.as_ref().unwrap().stats.snapshot();
    assert_eq!(stats.duplicates_resent, after.duplicates_resent + 1);
    s.stop().await;
}

#[tokio::test]
async fn a_request_whose_reply_cannot_fit_is_refused_before_its_code_is_used() {
    // 24 groups of 20 octets: a reply of the request's Proxy-States and these groups would exceed 4096 octets.
    let groups: Vec<String> = (0..24).map(|i| format!("hospital-group-{i:05}")).collect();
    let s = server(groups.clone()).await;
    let mut client = s.client().await;
    let code = s.f.code_now();

    // 15 Proxy-States of 253 octets and one of 173: 4,000 octets; the request itself is 4,063.
    let mut proxy: Vec<Attribute<'_>> = (0..15u8)
        .map(|i| Attribute::new(types::PROXY_STATE, vec![i; 253]))
        .collect();
    proxy.push(Attribute::new(types::PROXY_STATE, vec![0xee; 173]));
    let authenticator = radius::random_authenticator().unwrap();
    let request =
        radius::encode_access_request(9, &authenticator, b"alice", &typed(&code), &proxy, SECRET)
            .unwrap();
    assert!(request.len() <= 4096, "a valid request: {}", request.len());
    assert_eq!(client.exchange(&request, SILENCE).await, None, "no reply");
    let stats = s.node.as_ref().unwrap().stats.snapshot();
    assert_eq!(stats.reply_too_large, 1, "{stats:?}");
    assert_eq!(
        stats.accepted + stats.rejected + stats.errors,
        0,
        "{stats:?}"
    );

    // The code was not used up: the NAS's retry without the proxy loop logs in, with every group.
    let accept = client.access("alice", &typed(&code), None).await.unwrap();
    assert_eq!(accept.code, Code::AccessAccept, "{}", accept.messages);

    // Proxy-States that leave room for the largest reply are echoed as before.
    let code = s.f.totp(motpd::clock::Clock::now(&s.f.clock) + 30);
    s.f.clock.advance(30);
    let few = [Attribute::new(types::PROXY_STATE, b"hop-1".to_vec())];
    let authenticator = radius::random_authenticator().unwrap();
    let request =
        radius::encode_access_request(10, &authenticator, b"alice", &typed(&code), &few, SECRET)
            .unwrap();
    let raw = client
        .exchange(&request, Duration::from_secs(5))
        .await
        .unwrap();
    let reply = parse_reply(&raw, &authenticator, SECRET);
    assert_eq!(reply.code, Code::AccessAccept);
    let packet = radius::verify_response(&raw, &authenticator, SECRET)
        .unwrap()
        .packet;
    assert_eq!(packet.proxy_states().collect::<Vec<_>>(), [&b"hop-1"[..]]);
    s.stop().await;
}

// ---- the real binary: logs and files ---------------------------------------------------------------------------

/// Bound on starting and stopping `motpd serve`.
const PATIENCE: Duration = Duration::from_secs(10);

/// A site provisioned with `motpd init` and `motpd client add` in a temporary directory, on free loopback ports.
/// Dropping it kills a server that still runs.
struct Site {
    dir: tempfile::TempDir,
    auth: SocketAddr,
    web: SocketAddr,
    child: Option<Child>,
}

impl Site {
    fn provision() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let udp = |_| UdpSocket::bind("127.0.0.1:0").unwrap();
        let sockets: Vec<UdpSocket> = (0..2).map(udp).collect();
        let (auth, accounting) = (
            sockets[0].local_addr().unwrap(),
            sockets[1].local_addr().unwrap(),
        );
        let web = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        drop(sockets);
        let site = Self {
            dir,
            auth,
            web,
            child: None,
        };
        site.motpd(&["init"], "").success();
        let config = site.path("motpd.toml");
        let mut table: toml::Table = std::fs::read_to_string(&config).unwrap().parse().unwrap();
        let radius = table["radius"].as_table_mut().unwrap();
        radius.insert("listen".into(), vec![auth.to_string()].into());
        radius.insert(
            "accounting_listen".into(),
            vec![accounting.to_string()].into(),
        );
        table["web"]
            .as_table_mut()
            .unwrap()
            .insert("listen".into(), web.to_string().into());
        // The admin listener on a port the kernel picks (init's motpd.toml has the fixed 9812).
        table["admin"]
            .as_table_mut()
            .unwrap()
            .insert("listen".into(), "127.0.0.1:0".into());
        std::fs::write(&config, toml::to_string(&table).unwrap()).unwrap();
        let add = [
            "client",
            "add",
            "local",
            "--address",
            "127.0.0.1",
            "--secret-stdin",
        ];
        site.motpd(&add, std::str::from_utf8(SECRET).unwrap())
            .success();
        site
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_motpd"));
        command
            .current_dir(self.dir.path())
            .env_remove("MOTPD_CONFIG")
            .env_remove("RUST_LOG");
        command
    }

    /// Runs an admin command to the end with `stdin`.
    fn motpd(&self, args: &[&str], stdin: &str) -> Ran {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        Ran(args.join(" "), child.wait_with_output().unwrap())
    }

    /// Starts `motpd serve` (its log in `serve.log`) and waits until it answers a Status-Server.
    fn serve(&mut self) {
        let log = std::fs::File::create(self.path("serve.log")).unwrap();
        let child = self
            .command()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("motpd serve exited with {status}:\n{}", self.log());
            }
            if status_server(self.auth) {
                return;
            }
            pause(Duration::from_millis(50));
        }
        panic!(
            "motpd serve did not answer within {PATIENCE:?}:\n{}",
            self.log()
        );
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.path("serve.log")).unwrap_or_default())
            .into_owned()
    }

    /// Waits (bounded) until the log holds `needle`.
    fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            pause(Duration::from_millis(50));
        }
    }

    /// SIGTERM and a bounded wait for a graceful exit.
    fn stop(&mut self) {
        let mut child = self.child.take().unwrap();
        let kill = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let deadline = Instant::now() + PATIENCE;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("motpd serve did not stop:\n{}", self.log());
            }
            pause(Duration::from_millis(20));
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A finished admin command.
struct Ran(String, Output);

impl Ran {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.1.stderr).into_owned()
    }

    fn success(&self) {
        assert!(
            self.1.status.success(),
            "motpd {}: {}",
            self.0,
            self.stderr()
        );
    }
}

/// Whether the server at `server` answers a Status-Server with an Access-Accept.
fn status_server(server: SocketAddr) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let authenticator = radius::random_authenticator().unwrap();
    let request =
        radius::encode_request(Code::StatusServer, 1, &authenticator, &[], SECRET).unwrap();
    socket.send_to(&request, server).unwrap();
    let mut buf = [0u8; 4096];
    let Ok((n, _)) = socket.recv_from(&mut buf) else {
        return false;
    };
    radius::verify_response(&buf[..n], &authenticator, SECRET)
        .is_ok_and(|r| r.packet.code() == Code::AccessAccept)
}

/// A short pause between polls (plain threads, no runtime to block).
#[allow(clippy::disallowed_methods)]
fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_user_name_with_a_line_break_and_terminal_escapes_stays_on_one_escaped_log_line() {
    let mut site = Site::provision();
    site.serve();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let hostile = "mallory\nFAKE accept line\x1b[2J";
    let authenticator = radius::random_authenticator().unwrap();
    let request = radius::encode_access_request(
        3,
        &authenticator,
        hostile.as_bytes(),
        b"Guess123456789",
        &[],
        SECRET,
    )
    .unwrap();
    socket.send_to(&request, site.auth).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    let reply = radius::verify_response(&buf[..n], &authenticator, SECRET).unwrap();
    assert_eq!(reply.packet.code(), Code::AccessReject);

    let log = site.wait_for_log("FAKE accept line");
    site.stop();
    let log = format!("{log}{}", site.log());
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("FAKE accept line"))
        .collect();
    assert!(!lines.is_empty(), "the decision is logged:\n{log}");
    for line in &lines {
        assert!(
            line.contains("mallory\\nFAKE accept line\\u{1b}[2J"),
            "one line, escaped: {line:?}"
        );
    }
    assert!(!log.contains('\x1b'), "no raw ESC in the log: {log:?}");
    assert!(
        !log.lines().any(|l| l.starts_with("FAKE")),
        "no forged line:\n{log}"
    );
}

#[cfg(unix)]
#[test]
fn database_files_are_private_and_a_database_others_can_read_is_refused() {
    let mut site = Site::provision();
    for name in ["motpd.db", "motpd.key", "motpd.toml"] {
        assert_eq!(mode(&site.path(name)), 0o600, "{name} after init");
    }
    site.serve();
    for name in ["motpd.db", "motpd.db-wal", "motpd.db-shm"] {
        assert_eq!(mode(&site.path(name)), 0o600, "{name} while serving");
    }
    site.stop();

    let db = site.path("motpd.db");
    std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    for args in [&["serve"][..], &["user", "list"][..]] {
        let ran = site.motpd(args, "");
        assert_eq!(
            ran.1.status.code(),
            Some(5),
            "motpd {args:?}: {}",
            ran.stderr()
        );
        let message = ran.stderr();
        assert!(
            message.contains("has mode 0644")
                && message.contains("chmod 600 ")
                && message.contains("motpd.db"),
            "motpd {args:?}: {message}"
        );
    }
    assert_eq!(
        mode(&db),
        0o644,
        "motpd never chmods behind the admin's back"
    );
}

/// What the enrollment pages do reaches the server's log, not only the audit trail in the database.
#[tokio::test]
async fn web_events_reach_the_server_log() {
    let mut site = Site::provision();
    site.motpd(&["user", "add", "alice", "--password-stdin"], "Nurse2024")
        .success();
    site.serve();
    let mut browser = crate::common::http_client::HttpBrowser::new(site.web);
    let csrf = browser.get("/enroll").await.field("csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("account", "alice"),
        ("password", "Nurse2024"),
    ];
    let reply = browser.post("/enroll/login", &form).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let log = site.wait_for_log("enroll.login");
    site.stop();
    let line = log
        .lines()
        .find(|l| l.contains("audit event") && l.contains("enroll.login"))
        .unwrap_or_else(|| panic!("no enroll.login line:\n{log}"));
    assert!(
        line.contains("account=alice") && line.contains("outcome=ok"),
        "{line}"
    );
    assert!(!line.contains("Nurse2024"), "{line}");
}
