//! The command line of `radius_load`: subcommands, their options and the duration syntax (`500ms`, `10s`,
//! `2m`, `1h`, or plain seconds). Parsing only: no I/O beyond what clap does.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::population::{Mode, Naming};

/// RADIUS load generator (PAP Access-Request with TOTP codes) for motpd, FreeRADIUS or any RADIUS server.
#[derive(Debug, Parser)]
#[command(name = "radius_load", version)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write users.csv (motpd user import), devices.csv (motpd device import) and freeradius-users.
    Provision(ProvisionArgs),
    /// Send Access-Requests with a fixed number outstanding; print a table and one JSON line.
    Run(Box<RunArgs>),
    /// Send every code of an `--accepted-log` file again (each once); print one JSON line; exit 4 if any
    /// was accepted.
    Replay(ReplayArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReplayArgs {
    /// The RADIUS server (authentication port); not necessarily the one that accepted the codes.
    #[arg(long)]
    pub(crate) server: SocketAddr,
    /// The shared secret (or the environment variable RADIUS_LOAD_SECRET).
    #[arg(long, env = "RADIUS_LOAD_SECRET", hide_env_values = true)]
    pub(crate) secret: String,
    /// The key given to `provision`.
    #[arg(long, env = "RADIUS_LOAD_SEED_KEY", hide_env_values = true)]
    pub(crate) seed_key: String,
    /// User names and passwords, as given to `provision`.
    #[arg(long, value_enum, default_value_t = Naming::Load)]
    pub(crate) names: Naming,
    /// What User-Password carries, as in the run that wrote the file.
    #[arg(long, value_enum)]
    pub(crate) mode: Mode,
    /// The file `run --accepted-log` wrote.
    #[arg(long)]
    pub(crate) from: PathBuf,
    /// Source address of the sockets, as in the run (the server picks the client, and its mode, by it).
    #[arg(long)]
    pub(crate) source: Option<IpAddr>,
    /// Requests outstanding at once (one socket each).
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// A request without a reply after this long counts as a timeout.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
}

/// Cost of the Argon2id password hashes written to users.csv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HashCost {
    /// motpd's own cost (m = 19 MiB, t = 2): slow to provision, no extra work at login.
    Default,
    /// m = 1 MiB, t = 1: quick to provision; motpd re-hashes each at its cost on the first successful login.
    Fast,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ProvisionArgs {
    /// Number of users: load000001 ... loadNNNNNN.
    #[arg(long)]
    pub(crate) users: u64,
    /// Key from which every seed is derived: seed = HMAC-SHA1(seed-key, user).
    #[arg(long, env = "RADIUS_LOAD_SEED_KEY", hide_env_values = true)]
    pub(crate) seed_key: String,
    /// Directory for the three files (created if missing).
    #[arg(long, default_value = ".")]
    pub(crate) out: PathBuf,
    /// Argon2id cost of the password hashes.
    #[arg(long, value_enum, default_value_t = HashCost::Default)]
    pub(crate) hash_cost: HashCost,
    /// Hashing threads (default: one per CPU).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// User names and passwords: `load` (load000001, Pwload0000011) or `directory` (user00001,
    /// Passw0rd-user00001: the entries of tests/ldap/slapd.sh).
    #[arg(long, value_enum, default_value_t = Naming::Load)]
    pub(crate) names: Naming,
    /// Leave `TOTP-Secret` out of freeradius-users (when rlm_totp is not used).
    #[arg(long)]
    pub(crate) no_totp_secret: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// The RADIUS server (authentication port).
    #[arg(long)]
    pub(crate) server: SocketAddr,
    /// A second server: every request goes to both, and codes accepted by both are counted.
    #[arg(long)]
    pub(crate) dual: Option<SocketAddr>,
    /// The shared secret (or the environment variable RADIUS_LOAD_SECRET, which keeps it out of `ps`).
    #[arg(long, env = "RADIUS_LOAD_SECRET", hide_env_values = true)]
    pub(crate) secret: String,
    /// Users to cycle through, in order from `--first-user` (at most the number provisioned).
    #[arg(long)]
    pub(crate) users: u64,
    /// Number of the first user: 1 is load000001 (several runs on one server can take disjoint users).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) first_user: u64,
    /// The key given to `provision`.
    #[arg(long, env = "RADIUS_LOAD_SEED_KEY", hide_env_values = true)]
    pub(crate) seed_key: String,
    /// User names and passwords, as given to `provision`.
    #[arg(long, value_enum, default_value_t = Naming::Load)]
    pub(crate) names: Naming,
    /// What User-Password carries: the code, password followed by the code, or the password.
    #[arg(long, value_enum)]
    pub(crate) mode: Mode,
    /// Requests kept outstanding (with `--rate`: the most outstanding at once).
    #[arg(long, default_value_t = 256)]
    pub(crate) concurrency: usize,
    /// Open loop: send this many requests per second in total instead of keeping `--concurrency` outstanding
    /// (e.g. half of a measured peak, for the latency at that load).
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// Source address of the sockets (default: any; e.g. 127.0.0.2 to be another RADIUS client).
    #[arg(long)]
    pub(crate) source: Option<IpAddr>,
    /// UDP sockets (each owns 256 Identifiers; default: one per 128 outstanding requests, at least 4).
    #[arg(long)]
    pub(crate) sockets: Option<usize>,
    /// How long to send; outstanding requests are then drained for up to --timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// Stop after this many requests.
    #[arg(long)]
    pub(crate) requests: Option<u64>,
    /// A request without a reply after this long counts as a timeout.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
    /// OTP modes: when every user has been used in the current 30-s step, wait for the next (default: stop).
    #[arg(long)]
    pub(crate) sustained: bool,
    /// OTP modes: go on through the users within a step instead of stopping (or, with `--sustained`,
    /// waiting): codes already accepted are sent again and refused as replays. For an offered load beyond
    /// users / 30 s (an overload test) without provisioning that many users.
    #[arg(long, conflicts_with = "sustained")]
    pub(crate) repeat_users: bool,
    /// Take the users in a fixed scattered order (every user once per round, neighbours far apart), as logins
    /// reach a gateway, instead of load000001, load000002, ... in a row (whose rows share database pages).
    #[arg(long)]
    pub(crate) scattered: bool,
    /// OTP modes: wait for the start of the next 30-s step before sending, so the whole step is available and
    /// codes of an earlier run in the current step are not replayed.
    #[arg(long)]
    pub(crate) align_step: bool,
    /// Seconds to add to this machine's clock for the codes and the steps (negative: behind), to test a
    /// server whose clock is off or stepped (e.g. one under libfaketime).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub(crate) clock_offset: i64,
    /// Count replies without Message-Authenticator as good (old servers); by default they are `bad`.
    #[arg(long)]
    pub(crate) allow_missing_message_authenticator: bool,
    /// A probe: a second stream of this mode at `--probe-rate`, with its own counts and latency histogram
    /// (repeat for several), e.g. Status-Server and otp-only p99 while password+otp saturates the cores.
    #[arg(long, value_enum)]
    pub(crate) probe: Vec<Mode>,
    /// Requests per second of each probe.
    #[arg(long, default_value_t = 20.0)]
    pub(crate) probe_rate: f64,
    /// Source address of the probes' sockets (e.g. 127.0.0.2, a RADIUS client of another mode).
    #[arg(long)]
    pub(crate) probe_source: Option<IpAddr>,
    /// Number of the probes' first user (default: the one after the main stream's users).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) probe_first_user: Option<u64>,
    /// Users of each probe (each used at most once per step in the OTP modes).
    #[arg(long, default_value_t = 2000)]
    pub(crate) probe_users: u64,
    /// Write one CSV line per verified reply of the main stream to this file (with --dual, one per server):
    /// when its request was sent (µs since the Unix epoch, to line up with a server's log), its latency (µs)
    /// and its socket; it shows whether slow replies come in clusters (a stall) or alone.
    #[arg(long)]
    pub(crate) timeline: Option<PathBuf>,
    /// Write one JSON line per Access-Accept of the main stream to this file (with --dual, one per server),
    /// in the order they arrived: `{"user", "step", "server", "sent_unix_us", "replied_unix_us"}`. `replay
    /// --from` sends those codes again; a fault test checks each against the server's audit trail.
    #[arg(long)]
    pub(crate) accepted_log: Option<PathBuf>,
    /// Progress line on stderr this often (0 = none).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub(crate) progress: Duration,
}

/// `500ms`, `10s`, `2m`, `1h`, or a plain number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 10s, 2m or 1h"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn run_arguments_parse() {
        let args = Args::try_parse_from([
            "radius_load",
            "run",
            "--server",
            "127.0.0.1:1812",
            "--secret",
            "s3cret",
            "--users",
            "10",
            "--seed-key",
            "k",
            "--mode",
            "password+otp",
        ])
        .unwrap();
        let Command::Run(run) = args.command else {
            panic!("not run")
        };
        assert_eq!(run.mode, Mode::PasswordOtp);
        assert_eq!(run.concurrency, 256);
        assert_eq!(run.timeout, Duration::from_secs(3));
        assert_eq!(run.first_user, 1);
        assert_eq!(run.clock_offset, 0);
        assert_eq!((run.rate, run.source), (None, None));
        assert!(run.probe.is_empty());
        assert!(Args::try_parse_from(["radius_load", "run", "--mode", "pap"]).is_err());
    }

    #[test]
    fn probe_arguments_parse() {
        let args = Args::try_parse_from([
            "radius_load",
            "run",
            "--server",
            "127.0.0.1:1812",
            "--secret",
            "s3cret",
            "--users",
            "10",
            "--first-user",
            "101",
            "--seed-key",
            "k",
            "--mode",
            "password+otp",
            "--probe",
            "status-server",
            "--probe",
            "otp-only",
            "--probe-rate",
            "50",
            "--probe-source",
            "127.0.0.2",
            "--probe-first-user",
            "5001",
            "--rate",
            "1500.5",
            "--source",
            "127.0.0.3",
            "--clock-offset",
            "-600",
            "--repeat-users",
        ])
        .unwrap();
        let Command::Run(run) = args.command else {
            panic!("not run")
        };
        assert_eq!(run.first_user, 101);
        assert_eq!(run.probe, vec![Mode::StatusServer, Mode::OtpOnly]);
        assert_eq!(run.probe_rate, 50.0);
        assert_eq!(run.probe_source, Some("127.0.0.2".parse().unwrap()));
        assert_eq!(run.probe_first_user, Some(5001));
        assert_eq!(run.probe_users, 2000);
        assert_eq!(run.rate, Some(1500.5));
        assert_eq!(run.source, Some("127.0.0.3".parse().unwrap()));
        assert_eq!(run.clock_offset, -600);
        assert!(run.repeat_users);
        let zero = Args::try_parse_from([
            "radius_load",
            "run",
            "--server",
            "127.0.0.1:1812",
            "--secret",
            "s",
            "--users",
            "1",
            "--seed-key",
            "k",
            "--mode",
            "otp-only",
            "--first-user",
            "0",
        ]);
        assert!(zero.is_err(), "users are numbered from 1");
    }
}
