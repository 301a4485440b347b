//! The `replay` subcommand: sends again every code of an `--accepted-log` file (the same user, the same TOTP
//! step, so the same User-Password) to a server, one request per line, and counts the outcomes. A server that
//! keeps its replay guard answers every one with a Reject; the final JSON line says how many it accepted (and
//! whose), and the exit status is 4 if any. Each code is sent once, never retransmitted.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use motpd::radius::{Attribute, encode_access_request, random_authenticator, types};
use tokio::net::UdpSocket;

use crate::LoadError;
use crate::cli::ReplayArgs;
use crate::population::{PERIOD, Population};
use crate::worker::{Outcome, classify, unix_now};

/// One code to send again: the user's name and the TOTP step it was accepted for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct Entry {
    pub(crate) user: String,
    pub(crate) step: u64,
}

/// What one request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Got(Outcome),
    Timeout,
    Bad,
}

/// The entries of an `--accepted-log` file (blank lines skipped), each code once.
pub(crate) fn read_entries(path: &Path) -> Result<Vec<Entry>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::File {
        path: path.to_owned(),
        source,
    })?;
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(line)
            .map_err(|e| LoadError::Usage(format!("{}:{}: {e}", path.display(), number + 1)))?;
        if seen.insert((entry.user.clone(), entry.step)) {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Runs `replay` on its own runtime. `Ok(false)`: a code was accepted again.
pub(crate) fn replay_blocking(args: ReplayArgs) -> Result<bool, LoadError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LoadError::Socket)?
        .block_on(replay(args))
}

async fn replay(args: ReplayArgs) -> Result<bool, LoadError> {
    let entries = Arc::new(read_entries(&args.from)?);
    let population = Arc::new(Population::new(&args.seed_key, 0, args.names));
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let any = match args.server.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let socket = UdpSocket::bind(SocketAddr::new(args.source.unwrap_or(any), 0))
            .await
            .map_err(LoadError::Socket)?;
        let (entries, population, next, args) = (
            Arc::clone(&entries),
            Arc::clone(&population),
            Arc::clone(&next),
            args.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut id = 0_u8;
            while let Some(entry) = entries.get(next.fetch_add(1, Ordering::Relaxed)) {
                let password = population.user_password(args.mode, &entry.user, entry.step);
                let answer = send_one(&socket, &args, id, &entry.user, &password).await?;
                answers.push((entry.clone(), answer));
                id = id.wrapping_add(1);
            }
            Ok::<_, LoadError>(answers)
        }));
    }
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut accepted = Vec::new();
    for task in tasks {
        for (entry, answer) in task.await?? {
            let key = match answer {
                Answer::Got(Outcome::Accept) => {
                    accepted.push(entry.user);
                    "accept"
                }
                Answer::Got(Outcome::Reject) => "reject",
                Answer::Got(Outcome::Challenge) => "challenge",
                Answer::Timeout => "timeouts",
                Answer::Bad => "bad",
            };
            *counts.entry(key).or_default() += 1;
        }
    }
    let oldest_step = entries.iter().map(|e| e.step).min();
    let accept = counts.get("accept").copied().unwrap_or(0);
    let summary = serde_json::json!({
        "sent": entries.len(),
        "accept": accept,
        "reject": counts.get("reject").copied().unwrap_or(0),
        "challenge": counts.get("challenge").copied().unwrap_or(0),
        "timeouts": counts.get("timeouts").copied().unwrap_or(0),
        "bad": counts.get("bad").copied().unwrap_or(0),
        "accepted_users": accepted,
        "oldest_step": oldest_step,
        "step_now": unix_now().as_secs() / PERIOD,
    });
    println!("{summary}");
    Ok(accept == 0)
}

/// Sends one Access-Request and waits up to `--timeout` for the reply that verifies against it.
async fn send_one(
    socket: &UdpSocket,
    args: &ReplayArgs,
    id: u8,
    user: &str,
    password: &str,
) -> Result<Answer, LoadError> {
    let authenticator = random_authenticator()?;
    let extra = [Attribute::new(
        types::NAS_IDENTIFIER,
        b"radius_load".as_slice(),
    )];
    let packet = encode_access_request(
        id,
        &authenticator,
        user.as_bytes(),
        password.as_bytes(),
        &extra,
        args.secret.as_bytes(),
    )?;
    socket
        .send_to(&packet, args.server)
        .await
        .map_err(LoadError::Socket)?;
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut buf = vec![0_u8; 4097];
    loop {
        let received = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
        let Ok(received) = received else {
            return Ok(Answer::Timeout);
        };
        let (len, from) = received.map_err(LoadError::Socket)?;
        let bytes = buf.get(..len).unwrap_or_default();
        if from != args.server || bytes.get(1) != Some(&id) {
            continue; // a late reply to an earlier request of this socket
        }
        return Ok(
            classify(bytes, &authenticator, args.secret.as_bytes(), true)
                .map_or(Answer::Bad, Answer::Got),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_once_each_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accepted.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"user":"load000001","step":5,"server":"127.0.0.1:1812","sent_unix_us":1,"replied_unix_us":2}"#,
                "\n\n",
                r#"{"user":"load000001","step":5,"server":"127.0.0.1:1912","sent_unix_us":1,"replied_unix_us":3}"#,
                "\n",
                r#"{"user":"load000002","step":5}"#,
                "\n"
            ),
        )
        .unwrap();
        let entries = read_entries(&path).unwrap();
        assert_eq!(
            entries,
            vec![
                Entry {
                    user: "load000001".into(),
                    step: 5
                },
                Entry {
                    user: "load000002".into(),
                    step: 5
                }
            ]
        );
        std::fs::write(&path, "{\"user\":\"x\"}\n").unwrap();
        let error = read_entries(&path).unwrap_err().to_string();
        assert!(error.contains(":1:"), "{error}");
    }
}
