//! The real `motpd serve` binary against RADIUS clients nobody on the project wrote: FreeRADIUS `radclient`
//! (Debian freeradius-utils) and Python `pyrad` (driven by `tests/clients/pyrad_login.py`).
//!
//! Each test provisions a fresh site through the CLI as an admin would (`motpd init`, `client add`, `user add`,
//! `device enroll --secret-stdin`), starts `motpd serve` on free loopback ports, waits until it answers a
//! Status-Server, runs the client, and stops the server with SIGTERM, asserting a graceful exit 0. The child is
//! killed by a guard if an assertion fails first. Loopback only; every wait is bounded.
//!
//! A missing client is a loud skip, or a failure when `MOTPD_REQUIRE_EXTERNAL_CLIENTS=1` (CI sets it).

use std::io::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use motpd::clock::{Clock as _, SystemClock};
use motpd::otp::{self, Algorithm};
use motpd::radius::{self, Code, MessageAuthenticator};

pub(crate) const SECRET: &str = "testing123-long-secret";
const PASSWORD: &str = "Nurse2024";
/// The seed imported for alice, as an admin would paste it from a token sheet.
pub(crate) const SEED_BASE32: &str = "JBSWY3DPEHPK3PXP";
const REQUIRE_ENV: &str = "MOTPD_REQUIRE_EXTERNAL_CLIENTS";
/// Bound on starting up, and on shutting down after SIGTERM.
const PATIENCE: Duration = Duration::from_secs(10);

/// How the site is provisioned.
#[derive(Default)]
pub(crate) struct Setup {
    /// `radius.language`; `None` keeps the default (zh-TW).
    pub(crate) language: Option<&'static str>,
    /// `client add --mode`; `None` uses `radius.mode` (password+otp).
    pub(crate) client_mode: Option<&'static str>,
    /// Passwords from a directory: the account provisioned is the directory's, without a password at motpd.
    pub(crate) directory: Option<DirectorySite>,
}

/// A site whose passwords a directory checks.
pub(crate) struct DirectorySite {
    /// Merged into motpd.toml, section by section (`[accounts]`, `[ldap]`, ...).
    pub(crate) tables: toml::Table,
    /// The account provisioned (with groups `vpn,nurses` and the seed [`SEED_BASE32`]).
    pub(crate) account: String,
}

/// A provisioned site with `motpd serve` running in it. Dropping it kills the server if it still runs.
pub(crate) struct Server {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub(crate) auth: SocketAddr,
    accounting: SocketAddr,
    pub(crate) web: SocketAddr,
}

impl Server {
    pub(crate) fn start(setup: &Setup) -> Self {
        Self::start_with(setup, |_| {})
    }

    /// Like [`Server::start`], with `prepare` run on the provisioned site before `motpd serve` starts.
    fn start_with(setup: &Setup, prepare: impl FnOnce(&Server)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (auth, accounting) = free_ports();
        let web = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut server = Self {
            dir,
            child: None,
            auth,
            accounting,
            web,
        };
        server.provision(setup);
        prepare(&server);
        let log = std::fs::File::create(server.log_path()).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_motpd"))
            .arg("serve")
            .current_dir(server.dir.path())
            .env_remove("MOTPD_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        server.child = Some(child);
        server.wait_until_ready();
        server
    }

    fn provision(&self, setup: &Setup) {
        self.motpd(&["init"], None);
        let config = self.dir.path().join("motpd.toml");
        let mut table: toml::Table = std::fs::read_to_string(&config).unwrap().parse().unwrap();
        let radius = table["radius"].as_table_mut().unwrap();
        for (key, port) in [
            ("listen", self.auth),
            ("accounting_listen", self.accounting),
        ] {
            assert!(
                radius.contains_key(key),
                "init's motpd.toml has radius.{key}"
            );
            radius.insert(key.into(), vec![port.to_string()].into());
        }
        if let Some(language) = setup.language {
            radius.insert("language".into(), language.into());
        }
        // The enrollment pages listen too: on a free port, so parallel tests do not collide on 8080.
        let web = table
            .entry("web")
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .unwrap();
        web.insert("listen".into(), self.web.to_string().into());
        // And the admin listener, on a port the kernel picks (init's motpd.toml has the fixed 9812).
        let admin = table["admin"].as_table_mut().unwrap();
        admin.insert("listen".into(), "127.0.0.1:0".into());
        if let Some(directory) = &setup.directory {
            for (name, section) in &directory.tables {
                let merged = table
                    .entry(name.clone())
                    .or_insert_with(|| toml::Table::new().into())
                    .as_table_mut()
                    .unwrap();
                merged.extend(section.as_table().unwrap().clone());
            }
        }
        std::fs::write(&config, toml::to_string(&table).unwrap()).unwrap();

        let mut client = vec![
            "client",
            "add",
            "local",
            "--address",
            "127.0.0.1",
            "--secret-stdin",
        ];
        if let Some(mode) = setup.client_mode {
            client.extend(["--mode", mode]);
        }
        self.motpd(&client, Some(SECRET));
        if let Some(directory) = &setup.directory {
            let account = directory.account.as_str();
            self.motpd(&["user", "add", account, "--groups", "vpn,nurses"], None);
            self.motpd(
                &["device", "enroll", account, "--secret-stdin"],
                Some(SEED_BASE32),
            );
            return;
        }
        self.motpd(
            &[
                "user",
                "add",
                "alice",
                "--groups",
                "vpn,nurses",
                "--password-stdin",
            ],
            Some(PASSWORD),
        );
        self.motpd(
            &["device", "enroll", "alice", "--secret-stdin"],
            Some(SEED_BASE32),
        );
    }

    /// Runs a `motpd` admin command in the site, which must succeed.
    pub(crate) fn motpd(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = run_with_stdin(
            Command::new(env!("CARGO_BIN_EXE_motpd"))
                .args(args)
                .current_dir(self.dir.path())
                .env_remove("MOTPD_CONFIG")
                .env("RUST_LOG", "warn"),
            stdin.unwrap_or(""),
        );
        assert!(out.status.success(), "motpd {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("serve.log")
    }

    /// Runs a `motpd` admin command in the site, which must fail; returns its output.
    pub(crate) fn motpd_fails(&self, args: &[&str], stdin: &str) -> String {
        let out = run_with_stdin(
            Command::new(env!("CARGO_BIN_EXE_motpd"))
                .args(args)
                .current_dir(self.dir.path())
                .env_remove("MOTPD_CONFIG")
                .env("RUST_LOG", "warn"),
            stdin,
        );
        assert!(
            !out.status.success(),
            "motpd {args:?} should fail: {}",
            text(&out)
        );
        text(&out)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Polls with Status-Server (motpd's own codec) until the server answers; fails if it exits or takes too long.
    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "motpd serve exited with {status} while starting:\n{}",
                    self.log()
                );
            }
            if status_server(self.auth) == Some(Code::AccessAccept) && web_healthy(self.web) {
                return;
            }
            pause(Duration::from_millis(50));
        }
        panic!(
            "motpd serve did not answer a Status-Server within {PATIENCE:?}:\n{}",
            self.log()
        );
    }

    /// SIGKILL (no shutdown, nothing flushed by motpd), then `motpd serve` again on the same site and ports.
    pub(crate) fn kill_and_restart(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_motpd"))
            .arg("serve")
            .current_dir(self.dir.path())
            .env_remove("MOTPD_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_until_ready();
    }

    /// SIGHUP to the server (a configuration reload).
    pub(crate) fn hangup(&self) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let kill = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(kill.success(), "kill -HUP {pid}");
    }

    /// Waits until the log holds `line` at least `count` times.
    pub(crate) fn wait_for_log(&self, line: &str, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.log().matches(line).count() < count {
            assert!(
                Instant::now() < deadline,
                "{count} × {line:?} not logged within {PATIENCE:?}:\n{}",
                self.log()
            );
            pause(Duration::from_millis(20));
        }
    }

    /// SIGTERM, bounded wait, exit status 0 (graceful shutdown). Returns the server's log.
    pub(crate) fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let kill = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(kill.success(), "kill -TERM {}", child.id());
        let status = wait_bounded(&mut child, PATIENCE);
        let log = self.log();
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("motpd serve did not exit within {PATIENCE:?} of SIGTERM:\n{log}");
        };
        assert_eq!(status.code(), Some(0), "graceful shutdown exits 0:\n{log}");
        assert!(
            log.trim_end().ends_with("stopped"),
            "the last line says it stopped:\n{log}"
        );
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- motpd serve log ----\n{}\n-------------------------",
                self.log()
            );
        }
    }
}

/// Two distinct free UDP ports on loopback (bound at once, then released for the server).
fn free_ports() -> (SocketAddr, SocketAddr) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    (a.local_addr().unwrap(), b.local_addr().unwrap())
}

/// Whether the enrollment web server answers `GET /healthz` with 200 "ok".
fn web_healthy(web: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&web, Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.starts_with("HTTP/1.1 200")
        && response.ends_with("ok")
}

/// One Status-Server; the verified reply's code, or `None` if nothing came within 200 ms.
fn status_server(server: SocketAddr) -> Option<Code> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let authenticator = radius::random_authenticator().unwrap();
    let request = radius::encode_request(
        Code::StatusServer,
        1,
        &authenticator,
        &[],
        SECRET.as_bytes(),
    )
    .unwrap();
    socket.send_to(&request, server).ok()?;
    let mut buf = [0u8; 4096];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    let reply = radius::verify_response(&buf[..n], &authenticator, SECRET.as_bytes()).unwrap();
    assert_eq!(reply.message_authenticator, MessageAuthenticator::Valid);
    Some(reply.packet.code())
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        pause(Duration::from_millis(20));
    }
    None
}

/// A short pause between polls. These tests run on plain threads with no async runtime to block.
#[allow(clippy::disallowed_methods)]
pub(crate) fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

fn run_with_stdin(command: &mut Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The code alice's authenticator app shows now.
pub(crate) fn code_now() -> String {
    let seed = data_encoding::BASE32
        .decode(SEED_BASE32.as_bytes())
        .unwrap();
    // The clock `motpd serve` reads.
    let now = u64::try_from(SystemClock.now()).unwrap();
    otp::totp_at(&seed, now, 30, 6, Algorithm::Sha1).unwrap()
}

/// Whether an external client can run; if not, fails under `MOTPD_REQUIRE_EXTERNAL_CLIENTS=1`, else says loudly
/// that the test is skipped.
pub(crate) fn available(what: &str, probe: &mut Command, install: &str) -> bool {
    let works = probe
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        return true;
    }
    assert!(
        std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
        "{what} is required ({REQUIRE_ENV}=1) but not usable; install it with: {install}"
    );
    // Straight to the process's stderr, not `eprintln!`: the test harness would capture that and hide the skip.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: {what} is not installed, so this external-client test did not run. Install it \
         with `{install}`; set {REQUIRE_ENV}=1 to make this a failure. !!!!!!!!\n"
    );
    false
}

pub(crate) fn radclient_available() -> bool {
    available(
        "FreeRADIUS radclient",
        Command::new("radclient").arg("-v"),
        "apt-get install freeradius-utils",
    )
}

pub(crate) fn pyrad_available() -> bool {
    available(
        "Python pyrad",
        Command::new("python3").args(["-c", "import pyrad"]),
        "python3 -m pip install pyrad==2.6.0",
    )
}

/// `echo LINE | radclient -x -r 1 -t WAIT SERVER COMMAND SECRET`; returns the exit status and stdout + stderr.
pub(crate) fn radclient(
    server: SocketAddr,
    line: &str,
    command: &str,
    secret: &str,
    wait: u32,
) -> (ExitStatus, String) {
    let out = run_with_stdin(
        Command::new("radclient").args([
            "-x",
            "-r",
            "1",
            "-t",
            &wait.to_string(),
            &server.to_string(),
            command,
            secret,
        ]),
        &format!("{line}\n"),
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, all)
}

#[test]
fn radclient_logs_in_against_motpd_serve() {
    if !radclient_available() {
        return;
    }
    let server = Server::start(&Setup {
        language: Some("en"),
        client_mode: None,
        ..Setup::default()
    });
    let login = |password: &str| {
        format!("User-Name=alice,User-Password={password},Message-Authenticator=0x00")
    };
    let typed = format!("{PASSWORD}{}", code_now());

    // As NetScaler sends it, plus two Proxy-States that must come back in order (RFC 2865 §5.33).
    let first = format!(
        "{},NAS-Identifier=ns1,Calling-Station-Id=203.0.113.7,Proxy-State=0x0102,Proxy-State=0xabcd",
        login(&typed)
    );
    let (status, out) = radclient(server.auth, &first, "auth", SECRET, 3);
    assert!(
        status.success() && out.contains("Received Access-Accept"),
        "{out}"
    );
    let echoed = out.split("Received").nth(1).unwrap_or_default();
    assert!(
        echoed.contains("Proxy-State = 0x0102\n\tProxy-State = 0xabcd"),
        "Proxy-State echoed: {out}"
    );
    assert!(
        out.contains(r#"Citrix-User-Groups = "vpn,nurses""#),
        "groups: {out}"
    );

    let (status, out) = radclient(server.auth, &login(&typed), "auth", SECRET, 3);
    assert!(
        !status.success() && out.contains("Received Access-Reject"),
        "replay: {out}"
    );
    assert!(
        out.contains(r#"Reply-Message = "This code was already used."#),
        "replay: {out}"
    );

    let (status, out) = radclient(server.auth, &login("Nurse2025123456"), "auth", SECRET, 3);
    assert!(
        !status.success() && out.contains("Received Access-Reject"),
        "wrong password: {out}"
    );
    assert!(out.contains("Reply-Message = "), "wrong password: {out}");

    // A wrong shared secret fails the Message-Authenticator: motpd stays silent.
    let (status, out) = radclient(
        server.auth,
        &login(&typed),
        "auth",
        "wrong-secret-123456",
        1,
    );
    assert!(
        !status.success() && out.contains("No reply from server"),
        "wrong secret: {out}"
    );
    assert!(!out.contains("Received"), "wrong secret: {out}");

    let (status, out) = radclient(
        server.auth,
        "Message-Authenticator=0x00",
        "status",
        SECRET,
        3,
    );
    assert!(
        status.success() && out.contains("Received Access-Accept"),
        "status: {out}"
    );

    let start = "User-Name=alice,Acct-Status-Type=Start,Acct-Session-Id=ns-42";
    let (status, out) = radclient(server.accounting, start, "acct", SECRET, 3);
    assert!(
        status.success() && out.contains("Received Accounting-Response"),
        "acct: {out}"
    );

    let log = server.stop();
    assert!(
        log.contains("bad_authenticator=1"),
        "the wrong secret was counted:\n{log}"
    );
}

/// The replay protection survives `kill -9`: the step of an accepted code is committed before the
/// Access-Accept leaves, so the same code is refused by the restarted server.
#[test]
fn an_accepted_code_stays_used_after_kill_9() {
    if !radclient_available() {
        return;
    }
    let mut server = Server::start(&Setup {
        language: Some("en"),
        client_mode: None,
        ..Setup::default()
    });
    let login = format!(
        "User-Name=alice,User-Password={PASSWORD}{},Message-Authenticator=0x00",
        code_now()
    );
    let (status, out) = radclient(server.auth, &login, "auth", SECRET, 3);
    assert!(
        status.success() && out.contains("Received Access-Accept"),
        "{out}"
    );
    server.kill_and_restart();
    let (status, out) = radclient(server.auth, &login, "auth", SECRET, 3);
    assert!(
        !status.success() && out.contains("Received Access-Reject"),
        "the same code after kill -9: {out}"
    );
    assert!(
        out.contains(r#"Reply-Message = "This code was already used."#),
        "the same code after kill -9: {out}"
    );
    server.stop();
}

/// `python3 tests/clients/pyrad_login.py SERVER PORT SECRET USER PASSWORD EXPECT [extra...]`.
pub(crate) fn pyrad(
    server: &Server,
    secret: &str,
    password: &str,
    expect: &str,
    extra: &[&str],
) -> Output {
    pyrad_as(server, "alice", secret, password, expect, extra)
}

/// [`pyrad`] as `user`.
pub(crate) fn pyrad_as(
    server: &Server,
    user: &str,
    secret: &str,
    password: &str,
    expect: &str,
    extra: &[&str],
) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("tests/clients/pyrad_login.py"))
        .args([
            &server.auth.ip().to_string(),
            &server.auth.port().to_string(),
            secret,
            user,
            password,
            expect,
            "--dictionary",
        ])
        .arg(root.join("dictionaries"))
        .args(extra)
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    eprintln!("pyrad {expect}: {}", String::from_utf8_lossy(&out.stdout));
    out
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn pyrad_logs_in_against_motpd_serve() {
    if !pyrad_available() {
        return;
    }
    // The default language: the Reply-Message is Traditional Chinese, UTF-8 through a foreign decoder.
    let server = Server::start(&Setup {
        language: None,
        client_mode: None,
        ..Setup::default()
    });
    let typed = format!("{PASSWORD}{}", code_now());

    let accept = pyrad(&server, SECRET, &typed, "accept", &[]);
    assert!(accept.status.success(), "{}", text(&accept));
    assert!(
        stdout(&accept).contains("code Access-Accept\nattribute Citrix-User-Groups vpn,nurses\n"),
        "{}",
        text(&accept)
    );

    let replay = pyrad(&server, SECRET, &typed, "reject", &[]);
    assert!(replay.status.success(), "{}", text(&replay));
    assert!(
        stdout(&replay).contains("reply-message 此動態密碼已使用過"),
        "{}",
        text(&replay)
    );

    let wrong = pyrad(&server, SECRET, "Nurse2025123456", "reject", &[]);
    assert!(wrong.status.success(), "{}", text(&wrong));

    let silent = pyrad(
        &server,
        "wrong-secret-123456",
        &typed,
        "accept",
        &["--timeout", "0.5"],
    );
    assert_eq!(silent.status.code(), Some(2), "no reply: {}", text(&silent));

    server.stop();
}

#[test]
fn pyrad_answers_a_challenge_from_a_challenge_mode_client() {
    if !pyrad_available() {
        return;
    }
    let server = Server::start(&Setup {
        language: Some("en"),
        client_mode: Some("challenge"),
        ..Setup::default()
    });
    let code = code_now();
    let round = pyrad(&server, SECRET, PASSWORD, "challenge", &["--answer", &code]);
    assert!(round.status.success(), "{}", text(&round));
    let out = stdout(&round);
    assert!(
        out.contains("code Access-Challenge\nreply-message Enter the 6-digit code")
            && out.contains("\nstate ")
            && out.contains("answer code Access-Accept\n"),
        "{out}"
    );

    // A wrong password is refused at once, with no challenge.
    let wrong = pyrad(&server, SECRET, "Nurse2025", "reject", &[]);
    assert!(wrong.status.success(), "{}", text(&wrong));
    server.stop();
}

#[test]
fn pyrad_logs_in_with_a_code_sent_by_sms() {
    use crate::common::sms_gateway::{GatewayMode, SmsGateway};

    if !pyrad_available() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let gateway = runtime.block_on(SmsGateway::start(GatewayMode::Ok));
    let server = Server::start_with(
        &Setup {
            language: Some("en"),
            client_mode: None,
            ..Setup::default()
        },
        |site| {
            site.motpd(&["user", "set", "alice", "--phone", "0912345678"], None);
            let config = site.dir.path().join("motpd.toml");
            let mut table: toml::Table = std::fs::read_to_string(&config).unwrap().parse().unwrap();
            let sms = table["sms"].as_table_mut().unwrap();
            sms.insert("provider".into(), "http".into());
            sms.insert("url".into(), gateway.url.clone().into());
            std::fs::write(&config, toml::to_string(&table).unwrap()).unwrap();
        },
    );
    // password+otp mode: the password followed by the keyword, then the code from the SMS.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(root.join("tests/clients/pyrad_login.py"))
        .args([
            &server.auth.ip().to_string(),
            &server.auth.port().to_string(),
            SECRET,
        ])
        .args([
            "alice",
            &format!("{PASSWORD}sms"),
            "challenge",
            "--answer",
            "-",
            "--dictionary",
        ])
        .arg(root.join("dictionaries"))
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while gateway.received().is_empty() && started.elapsed() < PATIENCE {
        pause(Duration::from_millis(50));
    }
    let code = gateway.last_code();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{code}").unwrap();
    drop(stdin);
    if wait_bounded(&mut child, PATIENCE).is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("pyrad did not finish within {PATIENCE:?}");
    }
    let out = child.wait_with_output().unwrap();
    let printed = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        printed.contains(
            "code Access-Challenge\nreply-message A code was sent by SMS to 0912-***-678"
        ) && printed
            .contains("answer code Access-Accept\nanswer attribute Citrix-User-Groups vpn,nurses"),
        "{printed}"
    );
    let log = server.stop();
    assert!(log.contains("SMS code sent"), "{log}");
    assert!(!log.contains(&code), "the code is never logged");
}

/// SIGHUP re-reads motpd.toml while serving: the Reply-Message language changes for the next request, a
/// changed listener is named as waiting for a restart, a broken file is refused whole, and the packet loop
/// answers every request sent during the reloads.
#[test]
fn sighup_reloads_the_configuration_without_dropping_a_request() {
    if !radclient_available() {
        return;
    }
    let server = Server::start(&Setup {
        language: Some("en"),
        client_mode: None,
        ..Setup::default()
    });
    let login =
        |typed: &str| format!("User-Name=alice,User-Password={typed},Message-Authenticator=0x00");
    let typed = format!("{PASSWORD}{}", code_now());
    let (status, out) = radclient(server.auth, &login(&typed), "auth", SECRET, 3);
    assert!(status.success(), "first login: {out}");
    let (_, out) = radclient(server.auth, &login(&typed), "auth", SECRET, 3);
    assert!(
        out.contains(r#"Reply-Message = "This code was already used."#),
        "English before the reload: {out}"
    );

    // Status-Servers go through the same packet loop as logins: none may go unanswered across the reloads.
    let auth = server.auth;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prober = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut sent, mut missed) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sent += 1;
                if status_server(auth) != Some(Code::AccessAccept) {
                    missed += 1;
                }
            }
            (sent, missed)
        })
    };

    let config_path = server.dir.path().join("motpd.toml");
    let original = std::fs::read_to_string(&config_path).unwrap();
    let mut table: toml::Table = original.parse().unwrap();
    let radius = table["radius"].as_table_mut().unwrap();
    radius.insert("language".into(), "zh-TW".into());
    radius.insert("max_in_flight".into(), 77.into());
    std::fs::write(&config_path, toml::to_string(&table).unwrap()).unwrap();
    server.hangup();
    server.wait_for_log("configuration reloaded", 1);
    let (_, out) = radclient(server.auth, &login(&typed), "auth", SECRET, 3);
    let reply = out
        .lines()
        .find(|line| line.contains("Reply-Message"))
        .unwrap_or_default();
    assert!(
        reply
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "zh-TW after the reload: {out}"
    );

    // A file that does not parse is refused whole: the running configuration (zh-TW) stays.
    std::fs::write(&config_path, "[radius\nlanguage = \"en\"\n").unwrap();
    server.hangup();
    server.wait_for_log("configuration reload refused", 1);
    // Signals that arrive together coalesce into one reload, so each waits for the previous one.
    std::fs::write(&config_path, toml::to_string(&table).unwrap()).unwrap();
    for reloads in 2..=4 {
        server.hangup();
        server.wait_for_log("configuration reloaded", reloads);
    }
    let (_, out) = radclient(server.auth, &login(&typed), "auth", SECRET, 3);
    assert!(
        !out.contains("This code was already used."),
        "still zh-TW after a refused reload: {out}"
    );

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (sent, missed) = prober.join().unwrap();
    assert!(sent > 20, "the prober ran: {sent}");
    assert_eq!(missed, 0, "{missed} of {sent} Status-Servers unanswered");
    let log = server.stop();
    assert!(
        log.contains("take effect only after a restart") && log.contains("radius.max_in_flight"),
        "the restart-only key is named:\n{log}"
    );
    assert!(
        log.contains("changed=radius.language"),
        "the applied key is named:\n{log}"
    );
}
