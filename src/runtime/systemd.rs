//! The service manager's notification protocol (`sd_notify(3)`), spoken directly: one datagram per message to
//! the Unix socket named by `$NOTIFY_SOCKET` (a path, or an abstract name written `@name`). `READY=1` once the
//! node serves, `STOPPING=1` at shutdown, `STATUS=...` for `systemctl status`, and `WATCHDOG=1` every half
//! `$WATCHDOG_USEC` while the RADIUS receive loops beat. Outside systemd (no `$NOTIFY_SOCKET`) every call is a
//! no-op. No libsystemd: the protocol is a text datagram.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    target: SocketAddr,
}

impl Notifier {
    /// The notifier `$NOTIFY_SOCKET` names; `None` when it is unset (not run by systemd with `Type=notify`)
    /// or cannot be used (logged).
    pub fn from_env() -> Option<Self> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        match Self::connect(&name.to_string_lossy()) {
            Ok(notifier) => Some(notifier),
            Err(error) => {
                tracing::warn!(%error, "NOTIFY_SOCKET is set but unusable: systemd will not hear that motpd is ready");
                None
            }
        }
    }

    fn connect(name: &str) -> io::Result<Self> {
        let target = match name.strip_prefix('@') {
            Some(abstract_name) => abstract_address(abstract_name)?,
            None if name.starts_with('/') => SocketAddr::from_pathname(name)?,
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "neither an absolute path nor an @abstract name",
                ));
            }
        };
        let socket = UnixDatagram::unbound()?;
        // A full queue at the manager must never block a Tokio worker: the message is dropped instead.
        socket.set_nonblocking(true)?;
        Ok(Self { socket, target })
    }

    /// Sends one message (`KEY=value` lines).
    pub fn send(&self, message: &str) -> io::Result<()> {
        self.socket
            .send_to_addr(message.as_bytes(), &self.target)
            .map(|_| ())
    }

    /// Sends `message`, logging a failure (the service keeps running; only the manager's view suffers).
    pub fn notify(&self, message: &str) {
        if let Err(error) = self.send(message) {
            tracing::warn!(%error, "cannot notify the service manager");
        }
    }
}

#[cfg(target_os = "linux")]
fn abstract_address(name: &str) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt as _;
    SocketAddr::from_abstract_name(name.as_bytes())
}

#[cfg(not(target_os = "linux"))]
fn abstract_address(_name: &str) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract socket names exist only on Linux",
    ))
}

/// How often to ping the watchdog: half of `$WATCHDOG_USEC`, if it is set for this process (`$WATCHDOG_PID`
/// absent or ours).
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID")
        && pid.to_string_lossy().trim() != std::process::id().to_string()
    {
        return None;
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Pings the watchdog every `interval` while `alive()` says the work it guards makes progress, until `token` is
/// cancelled. A missed ping is logged; a run of them lets systemd restart the service, as it should.
pub fn spawn_watchdog(
    notifier: std::sync::Arc<Notifier>,
    interval: Duration,
    mut alive: impl FnMut() -> bool + Send + 'static,
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = tick.tick() => {
                    if alive() {
                        notifier.notify("WATCHDOG=1");
                    } else {
                        tracing::warn!("a RADIUS receive loop did not run since the last watchdog ping: not pinging");
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_reach_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let manager = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::connect(path.to_str().unwrap()).unwrap();
        notifier.send("READY=1\nSTATUS=serving").unwrap();
        let mut buffer = [0u8; 64];
        let len = manager.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..len], b"READY=1\nSTATUS=serving");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn messages_reach_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("motpd-test-{}", std::process::id());
        let manager =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let notifier = Notifier::connect(&format!("@{name}")).unwrap();
        notifier.send("WATCHDOG=1").unwrap();
        let mut buffer = [0u8; 64];
        let len = manager.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..len], b"WATCHDOG=1");
    }

    #[test]
    fn a_relative_name_is_refused() {
        assert!(Notifier::connect("notify.sock").is_err());
    }
}
