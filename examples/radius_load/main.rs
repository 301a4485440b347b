//! `radius_load`: a RADIUS load generator for motpd, FreeRADIUS or any RADIUS server, built on motpd's own
//! codec (`motpd::radius`) and OTP math (`motpd::otp`).
//!
//! Owns the command line of the tool and its error type; `provision` writes the files that create a synthetic
//! population, `run` sends PAP Access-Requests for that population. It must not touch motpd's internals (it
//! only speaks RADIUS on the wire) and must never send to anything but the address it is given.
//!
//! ```sh
//! # 1. 100,000 users load000001.. with TOTP seeds HMAC-SHA1(seed-key, user) and passwords Pw<user>1:
//! cargo run --release --example radius_load -- provision --users 100000 --seed-key k1 --out load/
//! #    load/users.csv (motpd user import), load/devices.csv (motpd device import),
//! #    load/freeradius-users (FreeRADIUS `users` file with Cleartext-Password and TOTP-Secret).
//! #    Hashing at motpd's cost takes ~34 ms per password per core (2,000: 67 s on 2 cores; 100k: ~1 h); `--hash-cost fast` uses m=1 MiB, t=1,
//! #    which motpd verifies but re-hashes at its own cost on each user's first successful login (extra load).
//!
//! # 2. Keep 256 requests in flight for 10 s (code for the step of the moment of sending):
//! cargo run --release --example radius_load -- run --server 127.0.0.1:1812 --secret testing123-long-secret \
//!     --users 100000 --seed-key k1 --mode password+otp --concurrency 256 --duration 10s
//!
//! # Password only (motpd: accounts without a device before `policy.enforce_after`), 5 s, at most 10,000:
//! cargo run --release --example radius_load -- run --server 127.0.0.1:1812 --secret S --users 2000 \
//!     --seed-key k1 --mode password-only --duration 5s --requests 10000
//!
//! # otp-only (motpd `radius.mode = "otp-only"`), starting at the next step boundary (the whole step is free,
//! # and codes an earlier run used in the current step are not replayed):
//! cargo run --release --example radius_load -- run --server 127.0.0.1:1812 --secret S --users 2000 \
//!     --seed-key k1 --mode otp-only --align-step
//!
//! # Open loop at a fixed rate (e.g. half of a measured peak) over users load050001..load060000:
//! cargo run --release --example radius_load -- run --server 127.0.0.1:1812 --secret S --users 10000 \
//!     --first-user 50001 --seed-key k1 --mode otp-only --rate 5000 --duration 5s
//!
//! # password+otp from 127.0.0.2 (a client in that mode) while two probes at 20 req/s from 127.0.0.1 (an
//! # otp-only client) measure Status-Server and otp-only latency, each with its own histogram:
//! cargo run --release --example radius_load -- run --server 127.0.0.1:1812 --secret S --users 1500 \
//!     --seed-key k1 --mode password+otp --source 127.0.0.2 --concurrency 16 --sustained --duration 15s \
//!     --probe status-server --probe otp-only --probe-source 127.0.0.1 --probe-first-user 100001
//!
//! # Two motpd nodes on one PostgreSQL: every request goes to both, a code must never be accepted twice:
//! cargo run --release --example radius_load -- run --server 127.0.0.1:1812 --dual 127.0.0.1:1912 \
//!     --secret S --users 2000 --seed-key k1 --mode otp-only --sustained --duration 60s
//! ```
//!
//! A code is accepted once: in the OTP modes each user is used at most once per 30-s TOTP step, so a run
//! measures the peak (a burst of at most `--users` requests within one step) unless `--sustained` waits for
//! the next step (then the rate is at most users / 30 s), or `--repeat-users` sends the used codes again (refused
//! as replays: an overload test's offered load beyond users / 30 s). `--clock-offset` computes the codes for a
//! server whose clock is off (a fault test's libfaketime). The budget is per run: a second run within the same
//! step re-sends codes the first one used (use `--align-step`). With `--dual`, `sent`, the outcomes and the
//! timeouts count datagrams and replies (two per request). `run --accepted-log FILE` writes one JSON line per
//! Access-Accept (user, step, server, when); `replay --from FILE --server ...` sends each of those codes once
//! more (exit 4 if one is accepted again), as the fault tests (tests/faults/) do after a crash. Probes send to `--server` only, each user at most
//! once per step (waiting for the next step when its `--probe-users` are used), and are reported under
//! `probes` in the JSON line. Replies that arrive after `--timeout` but verify
//! against the timed-out request count as `late`, not `bad`. A reject of a code equal to the user's code of the
//! step before is also counted as `code_collisions` (the server took that earlier login as this step). The last line printed is one JSON object; the exit
//! status is 0, or 4 when a reply failed verification (`bad`) or a code was accepted by both `--dual` servers.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod cli;
mod population;
mod provision;
mod replay;
mod report;
mod run;
mod schedule;
mod slots;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Everything that stops the tool.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    /// Arguments that do not fit together.
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing a CSV file.
    #[error("{path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    /// Creating, configuring or using a UDP socket.
    #[error("UDP socket: {0}")]
    Socket(#[source] std::io::Error),
    /// Argon2id hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The codec refused to build a request (e.g. an empty secret).
    #[error("RADIUS encoding: {0}")]
    Radius(#[from] motpd::radius::RadiusError),
    /// The latency histogram could not be created or merged.
    #[error("latency histogram: {0}")]
    Histogram(String),
    /// A worker task panicked or was cancelled.
    #[error("worker task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let result = match args.command {
        cli::Command::Provision(provision_args) => {
            provision::provision(&provision_args).map(|()| true)
        }
        cli::Command::Run(run_args) => run::run_blocking(*run_args),
        cli::Command::Replay(replay_args) => replay::replay_blocking(replay_args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(4),
        Err(error) => {
            eprintln!("radius_load: {error}");
            ExitCode::FAILURE
        }
    }
}
