//! The `run` subcommand: checks the arguments, opens the sockets (with large receive buffers), starts one
//! worker per socket, prints progress, and at the end the table (stdout) and the one JSON line (stdout, last).
//! Explanations go to stderr so that stdout stays machine-readable.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
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
use crate::worker::{
    Shared, WorkerResult, instant_at_unix, run_worker, set_clock_offset, unix_now,
};

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
    if args
        .rate
        .is_some_and(|rate| !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0))
    {
        return Err(LoadError::Usage(
            "--rate must be a number of requests per second in (0, 10000000]".into(),
        ));
    }
    if !args.probe.is_empty() {
        if !(args.probe_rate.is_finite() && args.probe_rate > 0.0 && args.probe_rate <= 100_000.0) {
            return Err(LoadError::Usage(
                "--probe-rate must be a number of requests per second in (0, 100000]".into(),
            ));
        }
        if args.probe_users == 0 {
            return Err(LoadError::Usage("--probe-users must be at least 1".into()));
        }
    }
    if [args.source, args.probe_source]
        .into_iter()
        .flatten()
        .any(|source| source.is_ipv4() != args.server.is_ipv4())
    {
        return Err(LoadError::Usage(
            "--source and --probe-source must be of the same IP family as --server".into(),
        ));
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

/// A UDP socket of the server's family on an ephemeral port of `source` (default: any address), with large
/// buffers, registered with tokio.
fn bind_socket(
    server: SocketAddr,
    source: Option<IpAddr>,
) -> Result<(UdpSocket, usize), LoadError> {
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .map_err(LoadError::Socket)?;
    // The kernel caps the size at net.core.rmem_max / wmem_max; the effective size is reported.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    let any: IpAddr = match source {
        Some(address) => address,
        None if server.is_ipv4() => Ipv4Addr::UNSPECIFIED.into(),
        None => Ipv6Addr::UNSPECIFIED.into(),
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
    let pacing = args.rate.map_or_else(
        || format!("{} outstanding", args.concurrency),
        |rate| format!("{rate} req/s (at most {} outstanding)", args.concurrency),
    );
    eprintln!(
        "radius_load: {} to {servers}: {} users from load{:06}{}, {pacing} over {} sockets (receive buffer \
         {} KiB), {:?} of sending, timeout {:?}",
        args.mode.as_str(),
        args.users,
        args.first_user,
        if args.scattered { " (scattered)" } else { "" },
        shares.len(),
        recv_buffer / 1024,
        args.duration,
        args.timeout,
    );
    for probe in &args.probe {
        eprintln!(
            "radius_load: probe {} at {} req/s from {} over users {}..+{}, its own histogram",
            probe.as_str(),
            args.probe_rate,
            args.probe_source
                .map_or_else(|| "any address".to_owned(), |a| a.to_string()),
            probe_first_index(args) + 1,
            args.probe_users,
        );
    }
    if args.mode.uses_otp() && args.repeat_users {
        eprintln!(
            "radius_load: --repeat-users: users are taken again within a step; codes already accepted are \
             refused as replays"
        );
    } else if args.mode.uses_otp() {
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
    set_clock_offset(args.clock_offset);
    let shares = socket_shares(&args)?;
    let mut sockets = Vec::with_capacity(shares.len());
    for _ in &shares {
        sockets.push(bind_socket(args.server, args.source)?);
    }
    let recv_buffer = sockets.first().map_or(0, |(_, size)| *size);
    explain(&args, &shares, recv_buffer);
    if args.align_step && args.mode.uses_otp() {
        wait_for_next_step().await;
    }
    let start = Instant::now();
    let start_unix = unix_now();
    let probes = spawn_probes(&args, start)?;
    let shared = Arc::new(Shared {
        servers,
        secret: args.secret.as_bytes().to_vec(),
        mode: args.mode,
        population: Population::new(&args.seed_key, args.users, args.names),
        first_index: args.first_user - 1,
        schedule: {
            let schedule = Schedule::new(
                args.users,
                args.mode.uses_otp() && !args.repeat_users,
                args.sustained,
                args.requests,
            );
            if args.scattered {
                schedule.scattered()
            } else {
                schedule
            }
        },
        totals: Totals::default(),
        timeout: args.timeout,
        stop_sending_at: start + args.duration,
        require_message_authenticator: !args.allow_missing_message_authenticator,
        timeline_start: args.timeline.is_some().then_some(start),
        keep_accepts: args.accepted_log.is_some(),
    });
    let workers: Vec<_> = sockets
        .into_iter()
        .zip(shares)
        .map(|((socket, _), slots)| {
            let pace = worker_pace(args.rate, slots, args.concurrency);
            tokio::spawn(run_worker(socket, Arc::clone(&shared), slots, pace))
        })
        .collect();
    let progress = spawn_progress(Arc::clone(&shared), start, args.progress);
    let mut results = Vec::with_capacity(workers.len());
    for worker in workers {
        results.push(worker.await??);
    }
    if let Some(path) = &args.timeline {
        write_timeline(path, start_unix, &results)?;
    }
    if let Some(path) = &args.accepted_log {
        write_accepted(path, &shared, &results)?;
    }
    if let Some(progress) = progress {
        progress.abort();
    }
    let mut probe_summaries = Vec::with_capacity(probes.len());
    for (probe, handle) in probes {
        let result = handle.await??;
        probe_summaries.push(summarize(&probe, start, vec![result], false)?);
    }
    finish(&args, &shared, start, results, probe_summaries)
}

/// `--timeline`: `sent_unix_us,latency_us,socket` for every verified reply of the main stream, in the order
/// sent (wall-clock microseconds, to line up with a server's log).
fn write_timeline(
    path: &Path,
    start_unix: Duration,
    results: &[WorkerResult],
) -> Result<(), LoadError> {
    let base = u64::try_from(start_unix.as_micros()).unwrap_or(u64::MAX);
    let mut lines: Vec<(u64, u64, usize)> = results
        .iter()
        .enumerate()
        .flat_map(|(socket, result)| {
            result
                .timeline
                .iter()
                .map(move |&(sent, latency)| (base.saturating_add(sent), latency, socket))
        })
        .collect();
    lines.sort_unstable();
    let mut text = String::with_capacity(lines.len() * 24 + 32);
    text.push_str("sent_unix_us,latency_us,socket\n");
    for (sent, latency, socket) in lines {
        let _ = writeln!(text, "{sent},{latency},{socket}");
    }
    std::fs::write(path, text).map_err(|source| LoadError::File {
        path: path.to_owned(),
        source,
    })
}

/// `--accepted-log`: one JSON line per Access-Accept, in the order they arrived.
fn write_accepted(path: &Path, shared: &Shared, results: &[WorkerResult]) -> Result<(), LoadError> {
    let mut accepts: Vec<_> = results.iter().flat_map(|r| r.accepts.iter()).collect();
    accepts.sort_unstable_by_key(|a| a.replied_unix_us);
    let mut text = String::with_capacity(accepts.len() * 128);
    for accept in accepts {
        let server = shared
            .servers
            .get(accept.server)
            .map(ToString::to_string)
            .unwrap_or_default();
        let line = serde_json::json!({
            "user": shared.population.name(accept.user),
            "step": accept.step,
            "server": server,
            "sent_unix_us": accept.sent_unix_us,
            "replied_unix_us": accept.replied_unix_us,
        });
        let _ = writeln!(text, "{line}");
    }
    std::fs::write(path, text).map_err(|source| LoadError::File {
        path: path.to_owned(),
        source,
    })
}

/// The interval between requests of a worker owning `slots` of `concurrency`, for a total of `rate`
/// requests per second (`None`: closed loop).
fn worker_pace(rate: Option<f64>, slots: usize, concurrency: usize) -> Option<Duration> {
    let share = rate? * slots as f64 / concurrency.max(1) as f64;
    Duration::try_from_secs_f64(1.0 / share).ok()
}

/// 0-based index of the probes' first user.
fn probe_first_index(args: &RunArgs) -> u64 {
    args.probe_first_user.map_or_else(
        || (args.first_user - 1).saturating_add(args.users),
        |first| first - 1,
    )
}

/// A running probe: its shared state (counts, mode) and its worker.
type Probe = (Arc<Shared>, JoinHandle<Result<WorkerResult, LoadError>>);

/// Starts one paced worker per `--probe`, on its own socket, sending to `--server` only.
fn spawn_probes(args: &RunArgs, start: Instant) -> Result<Vec<Probe>, LoadError> {
    let pace = Duration::from_secs_f64(1.0 / args.probe_rate.max(f64::MIN_POSITIVE));
    let mut probes = Vec::with_capacity(args.probe.len());
    for &mode in &args.probe {
        let (socket, _) = bind_socket(args.server, args.probe_source)?;
        let shared = Arc::new(Shared {
            servers: vec![args.server],
            secret: args.secret.as_bytes().to_vec(),
            mode,
            population: Population::new(&args.seed_key, args.probe_users, args.names),
            first_index: probe_first_index(args),
            // A probe never stops for want of users: in the OTP modes it waits for the next step.
            schedule: Schedule::new(args.probe_users, mode.uses_otp(), true, None),
            totals: Totals::default(),
            timeout: args.timeout,
            stop_sending_at: start + args.duration,
            require_message_authenticator: !args.allow_missing_message_authenticator,
            timeline_start: None,
            keep_accepts: false,
        });
        let handle = tokio::spawn(run_worker(socket, Arc::clone(&shared), IDS, Some(pace)));
        probes.push((shared, handle));
    }
    Ok(probes)
}

/// The summary of one stream: its workers' histograms merged, its time from `start` to its last activity.
fn summarize(
    shared: &Shared,
    start: Instant,
    results: Vec<WorkerResult>,
    dual: bool,
) -> Result<Summary, LoadError> {
    let mut latency = new_histogram()?;
    let mut end = None;
    for result in results {
        latency
            .add(&result.latency)
            .map_err(|e| LoadError::Histogram(e.to_string()))?;
        end = end.max(result.last_activity);
    }
    let end = end.unwrap_or_else(Instant::now);
    Ok(Summary {
        mode: shared.mode,
        counts: shared.totals.snapshot(),
        seconds: end.duration_since(start).as_secs_f64(),
        latency,
        dual,
        probes: Vec::new(),
    })
}

fn finish(
    args: &RunArgs,
    shared: &Shared,
    start: Instant,
    results: Vec<WorkerResult>,
    probes: Vec<Summary>,
) -> Result<bool, LoadError> {
    let mut summary = summarize(shared, start, results, args.dual.is_some())?;
    summary.probes = probes;
    if let Some(StopReason::Exhausted { step }) = shared.schedule.stop_reason() {
        eprintln!(
            "radius_load: all {} users were used within TOTP step {step}: stopped after {:.3} s (peak burst)",
            args.users, summary.seconds
        );
    }
    print!("{}", summary.table());
    println!("{}", summary.json());
    Ok(summary.passed())
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket as StdUdpSocket;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use clap::Parser;
    use motpd::radius::{Code, Packet, encode_response, types};

    use super::*;
    use crate::cli::{Args, Command};

    const SECRET: &str = "testing123-long-secret";

    fn run_args(extra: &[&str], server: SocketAddr) -> RunArgs {
        let server = server.to_string();
        let mut argv = vec![
            "radius_load",
            "run",
            "--server",
            &server,
            "--secret",
            SECRET,
            "--seed-key",
            "k",
            "--progress",
            "0",
            "--timeout",
            "1s",
        ];
        argv.extend_from_slice(extra);
        match Args::try_parse_from(argv).unwrap().command {
            Command::Run(run) => *run,
            Command::Provision(_) | Command::Replay(_) => panic!("not run"),
        }
    }

    /// What the loopback responder saw: (code, User-Name, source address) per datagram.
    type Seen = Mutex<Vec<(Code, String, IpAddr)>>;

    /// Answers every request with a signed Access-Accept until `until` or `done`, recording what it saw.
    fn responder(socket: &StdUdpSocket, seen: &Seen, until: std::time::Instant, done: &AtomicBool) {
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = [0_u8; 4096];
        while std::time::Instant::now() < until && !done.load(Ordering::Relaxed) {
            let Ok((len, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let request = Packet::decode(&buf[..len]).unwrap();
            let name = request
                .first(types::USER_NAME)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            seen.lock().unwrap().push((request.code(), name, from.ip()));
            let reply = encode_response(
                Code::AccessAccept,
                request.identifier(),
                request.authenticator(),
                &[],
                SECRET.as_bytes(),
            )
            .unwrap();
            socket.send_to(&reply, from).unwrap();
        }
    }

    /// Runs `radius_load run` with `extra` against a loopback responder: whether the run passed, and what the
    /// responder saw.
    fn run_against_responder(extra: &[&str]) -> (bool, Vec<(Code, String, IpAddr)>) {
        let socket = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        let args = run_args(extra, socket.local_addr().unwrap());
        let seen = Seen::default();
        let until = std::time::Instant::now() + Duration::from_secs(8);
        let done = AtomicBool::new(false);
        let passed = std::thread::scope(|scope| {
            scope.spawn(|| responder(&socket, &seen, until, &done));
            let passed = run_blocking(args).unwrap();
            done.store(true, Ordering::Relaxed);
            passed
        });
        (passed, seen.into_inner().unwrap())
    }

    #[test]
    fn worker_pace_splits_the_rate_by_share() {
        assert_eq!(worker_pace(None, 64, 256), None);
        assert_eq!(
            worker_pace(Some(1000.0), 64, 256),
            Some(Duration::from_millis(4))
        );
        assert_eq!(
            worker_pace(Some(100.0), 1, 1),
            Some(Duration::from_millis(10))
        );
    }

    #[test]
    fn rate_first_user_source_and_probes_over_loopback() {
        let (passed, seen) = run_against_responder(&[
            "--mode",
            "password-only",
            "--users",
            "5",
            "--first-user",
            "11",
            "--rate",
            "200",
            "--concurrency",
            "8",
            "--duration",
            "1s",
            "--source",
            "127.0.0.1",
            "--probe",
            "status-server",
            "--probe",
            "otp-only",
            "--probe-rate",
            "20",
            "--probe-source",
            "127.0.0.3",
            "--probe-first-user",
            "101",
            "--probe-users",
            "3",
        ]);
        assert!(passed);
        let main: Vec<_> = seen
            .iter()
            .filter(|(code, name, _)| *code == Code::AccessRequest && name.as_str() < "load000100")
            .collect();
        // 200/s for 1 s, open loop: not the thousands a closed loop of 8 would send to a local responder.
        assert!(
            (150..=250).contains(&main.len()),
            "{} main requests",
            main.len()
        );
        assert!(main.iter().all(|(_, _, ip)| ip.to_string() == "127.0.0.1"));
        let names: std::collections::BTreeSet<&str> =
            main.iter().map(|(_, name, _)| name.as_str()).collect();
        let expected: std::collections::BTreeSet<&str> = [
            "load000011",
            "load000012",
            "load000013",
            "load000014",
            "load000015",
        ]
        .into();
        assert_eq!(names, expected, "users 11..=15");
        let status = seen
            .iter()
            .filter(|(code, _, _)| *code == Code::StatusServer)
            .count();
        let probe_otp: Vec<_> = seen
            .iter()
            .filter(|(code, name, _)| *code == Code::AccessRequest && name.as_str() >= "load000100")
            .collect();
        assert!(
            (15..=25).contains(&status),
            "Status-Server: {status} at 20/s for 1 s"
        );
        // The otp-only probe waits for the next step once its 3 users are used: at most 3 per step.
        assert!((1..=6).contains(&probe_otp.len()), "{}", probe_otp.len());
        assert!(
            seen.iter()
                .filter(
                    |(code, name, _)| *code == Code::StatusServer || name.as_str() >= "load000100"
                )
                .all(|(_, _, ip)| ip.to_string() == "127.0.0.3"),
            "probes come from --probe-source"
        );
    }

    #[test]
    fn the_timeline_has_one_line_per_verified_reply_in_the_order_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.csv");
        let path_arg = path.to_str().unwrap().to_owned();
        let before = unix_now();
        let (passed, seen) = run_against_responder(&[
            "--mode",
            "password-only",
            "--users",
            "50",
            "--rate",
            "100",
            "--concurrency",
            "8",
            "--duration",
            "1s",
            "--probe",
            "status-server",
            "--timeline",
            &path_arg,
        ]);
        let after = unix_now();
        assert!(passed);
        let main_requests = seen
            .iter()
            .filter(|(code, _, _)| *code == Code::AccessRequest)
            .count();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("sent_unix_us,latency_us,socket"));
        let rows: Vec<(u128, u128, usize)> = lines
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                assert_eq!(fields.len(), 3, "{line}");
                (
                    fields[0].parse().unwrap(),
                    fields[1].parse().unwrap(),
                    fields[2].parse().unwrap(),
                )
            })
            .collect();
        // Every main request was answered (the probe's Status-Servers are not in it).
        assert_eq!(rows.len(), main_requests);
        assert!((50..=150).contains(&rows.len()), "{} rows", rows.len());
        assert!(
            rows.windows(2).all(|w| w[0].0 <= w[1].0),
            "in the order sent"
        );
        for &(sent, latency, socket) in &rows {
            assert!(
                (before.as_micros()..=after.as_micros()).contains(&sent),
                "sent at {sent}, a wall-clock time within the run"
            );
            assert!((1..1_000_000).contains(&latency), "latency {latency} µs");
            assert!(socket < 4, "socket {socket}");
        }
    }
}
