//! The `run` subcommand: checks the arguments, opens the sockets (with large receive buffers), starts one
//! worker per socket, prints progress, and at the end the table (stdout) and the one JSON line (stdout, last).
//! Explanations go to stderr so that stdout stays machine-readable.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::LoadError;
use crate::cli::RunArgs;
use crate::population::{PERIOD, Population};
use crate::report::{Summary, Totals, new_histogram, progress_line};
use crate::schedule::{Schedule, StopReason};
use crate::slots::IDS;
use crate::worker::{Shared, WorkerResult, instant_at_unix, run_worker, unix_now};

/// Receive (and send) buffer asked of the kernel for every socket.
const SOCKET_BUFFER: usize = 4 << 20;

/// Runs `run` on its own multi-threaded runtime. `Ok(false)`: a reply failed verification or a code was
/// accepted twice.
pub(crate) fn run_blocking(args: RunArgs) -> Result<bool, LoadError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LoadError::Socket)?
        .block_on(run(args))
}

/// Requests outstanding on each socket.
fn socket_shares(args: &RunArgs) -> Result<Vec<usize>, LoadError> {
    let concurrency = args.concurrency;
    let sockets = args
        .sockets
        .unwrap_or_else(|| concurrency.div_ceil(128).max(concurrency.min(4)));
    if concurrency == 0 || sockets == 0 || sockets > concurrency {
        return Err(LoadError::Usage(format!(
            "--concurrency ({concurrency}) must be at least 1 and at least --sockets ({sockets})"
        )));
    }
    if concurrency > sockets * IDS {
        return Err(LoadError::Usage(format!(
            "--concurrency {concurrency} needs at least {} sockets (256 Identifiers each)",
            concurrency.div_ceil(IDS)
        )));
    }
    Ok((0..sockets)
        .map(|i| concurrency / sockets + usize::from(i < concurrency % sockets))
        .collect())
}

fn check(args: &RunArgs) -> Result<Vec<SocketAddr>, LoadError> {
    if args.users == 0 {
        return Err(LoadError::Usage("--users must be at least 1".into()));
    }
    if args.secret.is_empty() {
        return Err(LoadError::Usage("the shared secret is empty".into()));
    }
    let mut servers = vec![args.server];
    if let Some(second) = args.dual {
        if second.is_ipv4() != args.server.is_ipv4() || second == args.server {
            return Err(LoadError::Usage(
                "--dual must be another address of the same IP family as --server".into(),
            ));
        }
        servers.push(second);
    }
    Ok(servers)
}

/// A UDP socket of the server's family on an ephemeral port, with large buffers, registered with tokio.
fn bind_socket(server: SocketAddr) -> Result<(UdpSocket, usize), LoadError> {
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .map_err(LoadError::Socket)?;
    // The kernel caps the size at net.core.rmem_max / wmem_max; the effective size is reported.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    let any: IpAddr = if server.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    socket
        .bind(&SocketAddr::new(any, 0).into())
        .map_err(LoadError::Socket)?;
    socket.set_nonblocking(true).map_err(LoadError::Socket)?;
    let effective = socket.recv_buffer_size().unwrap_or(0);
    let socket = UdpSocket::from_std(socket.into()).map_err(LoadError::Socket)?;
    Ok((socket, effective))
}

fn explain(args: &RunArgs, shares: &[usize], recv_buffer: usize) {
    let servers = args.dual.map_or_else(
        || args.server.to_string(),
        |dual| format!("{} and {dual}", args.server),
    );
    eprintln!(
        "radius_load: {} to {servers}: {} users, {} outstanding over {} sockets (receive buffer {} KiB), \
         {:?} of sending, timeout {:?}",
        args.mode.as_str(),
        args.users,
        args.concurrency,
        shares.len(),
        recv_buffer / 1024,
        args.duration,
        args.timeout,
    );
    if args.mode.uses_otp() {
        eprintln!(
            "radius_load: each user is used at most once per {PERIOD} s step: peak = burst within one step \
             over {} users; sustained = {} / {PERIOD} s = {:.1} req/s{}",
            args.users,
            args.users,
            args.users as f64 / PERIOD as f64,
            if args.sustained {
                " (--sustained: waiting for the next step)"
            } else {
                " (stops when exhausted; --sustained waits)"
            },
        );
    }
}

async fn wait_for_next_step() {
    let next = (unix_now().as_secs() / PERIOD + 1) * PERIOD;
    let at = instant_at_unix(next);
    eprintln!(
        "radius_load: waiting {:.1} s for the next TOTP step",
        at.saturating_duration_since(Instant::now()).as_secs_f64()
    );
    tokio::time::sleep_until(at).await;
}

fn spawn_progress(shared: Arc<Shared>, start: Instant, every: Duration) -> Option<JoinHandle<()>> {
    if every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(start + every, every);
        loop {
            ticker.tick().await;
            let line = progress_line(start.elapsed().as_secs_f64(), &shared.totals.snapshot());
            eprintln!("{line}");
        }
    }))
}

async fn run(args: RunArgs) -> Result<bool, LoadError> {
    let servers = check(&args)?;
    let shares = socket_shares(&args)?;
    let mut sockets = Vec::with_capacity(shares.len());
    for _ in &shares {
        sockets.push(bind_socket(args.server)?);
    }
    let recv_buffer = sockets.first().map_or(0, |(_, size)| *size);
    explain(&args, &shares, recv_buffer);
    if args.align_step && args.mode.uses_otp() {
        wait_for_next_step().await;
    }
    let start = Instant::now();
    let shared = Arc::new(Shared {
        servers,
        secret: args.secret.as_bytes().to_vec(),
        mode: args.mode,
        population: Population::new(&args.seed_key, args.users),
        schedule: Schedule::new(
            args.users,
            args.mode.uses_otp(),
            args.sustained,
            args.requests,
        ),
        totals: Totals::default(),
        timeout: args.timeout,
        stop_sending_at: start + args.duration,
        require_message_authenticator: !args.allow_missing_message_authenticator,
    });
    let workers: Vec<_> = sockets
        .into_iter()
        .zip(shares)
        .map(|((socket, _), slots)| tokio::spawn(run_worker(socket, Arc::clone(&shared), slots)))
        .collect();
    let progress = spawn_progress(Arc::clone(&shared), start, args.progress);
    let mut results = Vec::with_capacity(workers.len());
    for worker in workers {
        results.push(worker.await??);
    }
    if let Some(progress) = progress {
        progress.abort();
    }
    finish(&args, &shared, start, results)
}

fn finish(
    args: &RunArgs,
    shared: &Shared,
    start: Instant,
    results: Vec<WorkerResult>,
) -> Result<bool, LoadError> {
    let mut latency = new_histogram()?;
    let mut end = None;
    for result in results {
        latency
            .add(&result.latency)
            .map_err(|e| LoadError::Histogram(e.to_string()))?;
        end = end.max(result.last_activity);
    }
    let end = end.unwrap_or_else(Instant::now);
    if let Some(StopReason::Exhausted { step }) = shared.schedule.stop_reason() {
        eprintln!(
            "radius_load: all {} users were used within TOTP step {step}: stopped after {:.3} s (peak burst)",
            args.users,
            end.duration_since(start).as_secs_f64()
        );
    }
    let summary = Summary {
        mode: args.mode,
        counts: shared.totals.snapshot(),
        seconds: end.duration_since(start).as_secs_f64(),
        latency,
        dual: args.dual.is_some(),
    };
    print!("{}", summary.table());
    println!("{}", summary.json());
    Ok(summary.passed())
}
