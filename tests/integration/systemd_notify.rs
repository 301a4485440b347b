//! `motpd serve` under a service manager's eyes: the real binary is started with `NOTIFY_SOCKET` (a Unix
//! datagram socket this test binds, as systemd does for `Type=notify`) and `WATCHDOG_USEC`. It must say
//! `READY=1` only once its RADIUS port answers a Status-Server, then `WATCHDOG=1` at half the watchdog time
//! again and again, and `STOPPING=1` after SIGTERM (sent to the PID this test started), exiting 0.

use std::io::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use motpd::radius::{self, Code, MessageAuthenticator};

const SECRET: &str = "testing123-long-secret";
/// Pings are expected every half of this (the receive loops beat every 0.5 s, so the watchdog looks at most
/// every 1 s).
const WATCHDOG_USEC: u64 = 2_000_000;

fn motpd(dir: &Path, args: &[&str], stdin: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_motpd"))
        .args(args)
        .current_dir(dir)
        .env_remove("MOTPD_CONFIG")
        .env_remove("NOTIFY_SOCKET")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "motpd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `motpd init` in `dir`, listening on free loopback ports; one RADIUS client (this host). Returns the
/// authentication address.
fn provision(dir: &Path) -> SocketAddr {
    motpd(dir, &["init"], "");
    let (auth, accounting) = {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        (a.local_addr().unwrap(), b.local_addr().unwrap())
    };
    let web = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let path = dir.join("motpd.toml");
    let mut table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
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
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    motpd(
        dir,
        &[
            "client",
            "add",
            "local",
            "--address",
            "127.0.0.1",
            "--secret-stdin",
        ],
        SECRET,
    );
    auth
}

/// One Status-Server; the verified reply's code, or `None` if nothing came within `wait`.
fn status_server(server: SocketAddr, wait: Duration) -> Option<Code> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(wait)).unwrap();
    let authenticator = radius::random_authenticator().unwrap();
    let request = radius::encode_request(
        Code::StatusServer,
        7,
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

/// The next notification within `limit`, as text.
fn next_message(manager: &UnixDatagram, limit: Duration) -> Option<String> {
    manager.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    let n = manager.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// A short pause between polls. This test runs on a plain thread with no async runtime to block.
#[allow(clippy::disallowed_methods)]
fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

/// Kills the server if the test fails before it stopped it.
struct Guard(Option<std::process::Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn serve_says_ready_pings_the_watchdog_and_says_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let auth = provision(dir.path());
    let socket_path = dir.path().join("notify");
    let manager = UnixDatagram::bind(&socket_path).unwrap();
    assert_eq!(
        status_server(auth, Duration::from_millis(100)),
        None,
        "something answers on the port already"
    );
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_motpd"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("MOTPD_CONFIG")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", WATCHDOG_USEC.to_string())
        .env_remove("WATCHDOG_PID")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut guard = Guard(Some(child));
    let serve_log = || std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();

    let ready = next_message(&manager, Duration::from_secs(15))
        .unwrap_or_else(|| panic!("no notification within 15 s:\n{}", serve_log()));
    assert!(
        ready.lines().any(|l| l == "READY=1"),
        "the first notification is READY=1: {ready:?}"
    );
    assert!(
        ready
            .lines()
            .any(|l| l.starts_with("STATUS=serving RADIUS")),
        "{ready:?}"
    );
    // Ready means serving: the RADIUS port answers at once.
    assert_eq!(
        status_server(auth, Duration::from_secs(2)),
        Some(Code::AccessAccept),
        "READY=1 came before the RADIUS port answered:\n{}",
        serve_log()
    );

    // WATCHDOG=1 every half WATCHDOG_USEC (1 s): at least 3 in 3.5 s, and nothing else.
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_millis(3500) {
        match next_message(&manager, Duration::from_millis(200)) {
            Some(message) => {
                assert_eq!(message, "WATCHDOG=1");
                pings += 1;
            }
            None => continue,
        }
    }
    assert!(
        pings >= 3,
        "{pings} watchdog pings in 3.5 s (expected one every second):\n{}",
        serve_log()
    );

    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let stopping = loop {
        let message = next_message(&manager, Duration::from_millis(200));
        if let Some(message) = message.filter(|m| m != "WATCHDOG=1") {
            break message;
        }
        assert!(
            Instant::now() < deadline,
            "no STOPPING=1 within 10 s of SIGTERM:\n{}",
            serve_log()
        );
    };
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    let mut child = guard.0.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("motpd serve did not exit after SIGTERM:\n{}", serve_log());
        }
        pause(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", serve_log());
}
