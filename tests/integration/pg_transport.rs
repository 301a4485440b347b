//! The PostgreSQL connections of a store travel over TCP with Nagle's algorithm off (sqlx-core sets TCP_NODELAY
//! since 0.9.1). Without it, a statement whose message leaves in two TCP segments waits ~40 ms for the server's
//! delayed ACK, a cap on every PostgreSQL login. Linux: the process's sockets are found through `/proc/self`.

use std::os::fd::BorrowedFd;

use crate::common;

/// The descriptors of this process's TCP connections to `port` (IPv4 and IPv6).
fn connections_to(port: u16) -> Vec<i32> {
    let mut inodes = Vec::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address rem_address st ... inode (the 10th field)
            let (Some(remote), Some(inode)) = (fields.get(2), fields.get(9)) else {
                continue;
            };
            let remote_port = remote
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            if remote_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if inodes
            .iter()
            .any(|inode| target.as_os_str() == inode.as_str())
            && let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok())
        {
            fds.push(fd);
        }
    }
    fds
}

/// `TCP_NODELAY` of the socket `fd`, or `None` if it is no longer an open TCP socket.
#[allow(unsafe_code)]
fn nodelay(fd: i32) -> Option<bool> {
    // SAFETY: `fd` was open a moment ago and belongs to a pooled connection that the caller's store keeps
    // open; if it was closed meanwhile, `getsockopt` fails on it (or reads another socket), which is only
    // a wrong test answer, never memory unsafety: the borrow lives for this one call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    socket2::SockRef::from(&fd).tcp_nodelay().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_have_nagle_off() {
    let Some(backend) = common::postgres_backend().await else {
        eprintln!("skipped: set {}", common::PG_ENV);
        return;
    };
    let url = &backend.url;
    let port = url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .get_port();
    // A statement, so that the pool holds an open connection.
    backend.store.ensure_key_check(b"check").await.unwrap();
    let states: Vec<bool> = connections_to(port)
        .into_iter()
        .filter_map(nodelay)
        .collect();
    assert!(!states.is_empty(), "no TCP connection to port {port} found");
    assert!(
        states.iter().all(|&on| on),
        "TCP_NODELAY per connection to port {port}: {states:?}"
    );
}
