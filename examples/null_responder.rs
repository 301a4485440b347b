//! `null_responder`: a RADIUS responder that does no work but the protocol's, the ceiling of a machine.
//!
//! For every Access-Request or Status-Server datagram on its UDP socket it decodes the header and attributes
//! with motpd's codec and answers a signed Access-Accept (Message-Authenticator first, then the Response
//! Authenticator), looking nothing up and checking nothing else: no client table, no users, no
//! Message-Authenticator check of the request, no duplicate cache. `benches/compare.sh` measures it next to
//! FreeRADIUS and motpd, so the table can say how close each server gets to what this machine's UDP path and
//! MD5/HMAC signing allow.
//!
//! Plain blocking sockets, `--threads` threads sharing one socket (SO_RCVBUF 4 MiB), no async runtime. It stops
//! by itself after `--duration` (and on SIGTERM/SIGINT, whose default action ends it), and never sends to
//! anyone but the source of a datagram it received.
//!
//! ```sh
//! cargo run --release --example null_responder -- --listen 127.0.0.1:1812 --secret testing123-long-secret
//! ```
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use motpd::radius::{Code, MAX_PACKET_LEN, Packet, encode_response};
use socket2::{Domain, Protocol, Socket, Type};

/// Receive and send buffer asked of the kernel (capped by net.core.rmem_max / wmem_max).
const SOCKET_BUFFER: usize = 4 << 20;
/// How often a blocked receive wakes up to look at the clock.
const POLL: Duration = Duration::from_millis(200);

/// A RADIUS responder that answers every Access-Request and Status-Server with a signed Access-Accept.
#[derive(Debug, Parser)]
#[command(name = "null_responder", version)]
struct Args {
    /// UDP address to answer on (port 0: any free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The shared secret (or the environment variable NULL_RESPONDER_SECRET, which keeps it out of `ps`).
    #[arg(long, env = "NULL_RESPONDER_SECRET", hide_env_values = true)]
    secret: String,
    /// Threads receiving on the socket.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 900)]
    duration_secs: u64,
}

/// What the threads count.
#[derive(Debug, Default)]
struct Counters {
    answered: AtomicU64,
    dropped: AtomicU64,
}

/// The signed Access-Accept for `datagram`, or `None` for anything but a decodable Access-Request or
/// Status-Server.
fn accept_for(datagram: &[u8], secret: &[u8]) -> Option<Vec<u8>> {
    let request = Packet::decode(datagram).ok()?;
    if !matches!(request.code(), Code::AccessRequest | Code::StatusServer) {
        return None;
    }
    encode_response(
        Code::AccessAccept,
        request.identifier(),
        request.authenticator(),
        &[],
        secret,
    )
    .ok()
}

fn bind(listen: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(listen),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&listen.into())?;
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket.into())
}

/// One thread's loop: receive, answer, until `until`.
fn serve(socket: &UdpSocket, secret: &[u8], until: Instant, counters: &Counters) {
    let mut buf = vec![0_u8; MAX_PACKET_LEN];
    while Instant::now() < until {
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            continue; // the read timeout, or an ICMP error reported on the socket
        };
        let reply = buf.get(..len).and_then(|d| accept_for(d, secret));
        match reply.map(|bytes| socket.send_to(&bytes, from)) {
            Some(Ok(_)) => counters.answered.fetch_add(1, Ordering::Relaxed),
            _ => counters.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.secret.is_empty() || args.threads == 0 {
        eprintln!("null_responder: the secret must not be empty and --threads at least 1");
        return ExitCode::from(2);
    }
    let socket = match bind(args.listen) {
        Ok(socket) => socket,
        Err(error) => {
            eprintln!("null_responder: {}: {error}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let local = socket.local_addr().map_or(args.listen, |a| a);
    let buffer = Socket::from(match socket.try_clone() {
        Ok(clone) => clone,
        Err(error) => {
            eprintln!("null_responder: {error}");
            return ExitCode::FAILURE;
        }
    })
    .recv_buffer_size()
    .unwrap_or(0);
    println!(
        "null_responder: listening on {local} with {} threads (receive buffer {} KiB), for at most {} s",
        args.threads,
        buffer / 1024,
        args.duration_secs
    );
    let until = Instant::now() + Duration::from_secs(args.duration_secs);
    let counters = Arc::new(Counters::default());
    let secret = args.secret.into_bytes();
    std::thread::scope(|scope| {
        for _ in 0..args.threads {
            let Ok(socket) = socket.try_clone() else {
                continue;
            };
            let (secret, counters) = (&secret, &counters);
            scope.spawn(move || serve(&socket, secret, until, counters));
        }
    });
    println!(
        "null_responder: answered {}, dropped {}",
        counters.answered.load(Ordering::Relaxed),
        counters.dropped.load(Ordering::Relaxed)
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use motpd::radius::{
        Attribute, MessageAuthenticator, encode_access_request, encode_request, types,
        verify_response,
    };

    use super::*;

    const SECRET: &[u8] = b"testing123-long-secret";
    const AUTH: [u8; 16] = [3; 16];

    #[test]
    fn access_request_and_status_server_get_a_signed_accept() {
        let request = encode_access_request(7, &AUTH, b"alice", b"123456", &[], SECRET).unwrap();
        let status = encode_request(
            Code::StatusServer,
            8,
            &AUTH,
            &[Attribute::new(types::NAS_IDENTIFIER, b"x".as_slice())],
            SECRET,
        )
        .unwrap();
        for (datagram, id) in [(request, 7), (status, 8)] {
            let reply = accept_for(&datagram, SECRET).unwrap();
            let verified = verify_response(&reply, &AUTH, SECRET).unwrap();
            assert_eq!(verified.packet.code(), Code::AccessAccept);
            assert_eq!(verified.packet.identifier(), id);
            assert_eq!(verified.message_authenticator, MessageAuthenticator::Valid);
            assert!(verify_response(&reply, &AUTH, b"another secret").is_err());
        }
    }

    #[test]
    fn anything_else_is_not_answered() {
        let accept = encode_response(Code::AccessAccept, 1, &AUTH, &[], SECRET).unwrap();
        assert_eq!(accept_for(&accept, SECRET), None, "never reflects a reply");
        assert_eq!(accept_for(b"short", SECRET), None);
        let accounting = motpd::radius::encode_accounting_request(2, &[], SECRET).unwrap();
        assert_eq!(accept_for(&accounting, SECRET), None);
    }

    #[test]
    fn answers_over_udp_on_loopback() {
        let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let server = socket.local_addr().unwrap();
        let counters = Counters::default();
        let until = Instant::now() + Duration::from_secs(2);
        std::thread::scope(|scope| {
            scope.spawn(|| serve(&socket, SECRET, until, &counters));
            let client = UdpSocket::bind("127.0.0.1:0").unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let request = encode_access_request(9, &AUTH, b"bob", b"pw", &[], SECRET).unwrap();
            client.send_to(&request, server).unwrap();
            let mut buf = [0_u8; 4096];
            let (len, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!(from, server);
            let verified = verify_response(&buf[..len], &AUTH, SECRET).unwrap();
            assert_eq!(verified.packet.code(), Code::AccessAccept);
        });
        assert_eq!(counters.answered.load(Ordering::Relaxed), 1);
    }
}
