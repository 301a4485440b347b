//! One UDP socket's worker: keeps its share of the requests outstanding, matches every reply by
//! (socket, Identifier), verifies its Response Authenticator and Message-Authenticator against the request it
//! answers, records the latency and counts the outcome; requests past their deadline count as timeouts.
//!
//! Sends only to the configured servers and accepts replies only from them; never retransmits (a
//! retransmission would be answered from the server's duplicate cache and skew the numbers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use motpd::radius::{
    Attribute, Code, MAX_PACKET_LEN, MessageAuthenticator, encode_access_request, encode_request,
    random_authenticator, types, verify_response,
};
use tokio::net::UdpSocket;
use tokio::time::{Instant, sleep_until};

use crate::LoadError;
use crate::population::{Mode, Population};
use crate::report::{Totals, bump, new_histogram};
use crate::schedule::{Next, Schedule};
use crate::slots::{IdTable, Pending};

/// NAS-Identifier of every request (RFC 2865 §4.1: NAS-IP-Address or NAS-Identifier is required).
const NAS_IDENTIFIER: &[u8] = b"radius_load";
/// Margin after a step boundary before sending again, so the new step has begun everywhere.
const STEP_MARGIN: Duration = Duration::from_millis(20);

/// What every worker shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) servers: Vec<SocketAddr>,
    pub(crate) secret: Vec<u8>,
    pub(crate) mode: Mode,
    pub(crate) population: Population,
    /// 0-based index of the user the schedule's user 0 stands for.
    pub(crate) first_index: u64,
    pub(crate) schedule: Schedule,
    pub(crate) totals: Totals,
    pub(crate) timeout: Duration,
    pub(crate) stop_sending_at: Instant,
    pub(crate) require_message_authenticator: bool,
    /// `--timeline`: the instant the offsets count from; `None`: no timeline kept.
    pub(crate) timeline_start: Option<Instant>,
    /// `--accepted-log`: keep every Access-Accept (user, step, server, when).
    pub(crate) keep_accepts: bool,
}

/// What a worker hands back at the end.
#[derive(Debug)]
pub(crate) struct WorkerResult {
    pub(crate) latency: Histogram<u64>,
    /// When the last request was sent and the last verified reply arrived.
    pub(crate) last_activity: Option<Instant>,
    /// With `--timeline`: (sent, µs after the start; latency, µs) of every verified reply.
    pub(crate) timeline: Vec<(u64, u64)>,
    /// With `--accepted-log`: every Access-Accept.
    pub(crate) accepts: Vec<AcceptRecord>,
}

/// One Access-Accept of the main stream (`--accepted-log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AcceptRecord {
    /// 0-based index of the user in the population.
    pub(crate) user: u64,
    /// The TOTP step of the code sent.
    pub(crate) step: u64,
    /// Index of the server (in `Shared::servers`) that accepted.
    pub(crate) server: usize,
    /// Wall-clock microseconds since the Unix epoch when the request was sent and when the Accept arrived.
    pub(crate) sent_unix_us: u64,
    pub(crate) replied_unix_us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Accept,
    Reject,
    Challenge,
}

/// The outcome of a reply that verifies (Response Authenticator, and Message-Authenticator if present or
/// required) against the request `authenticator`; `None` for anything unverifiable or not an Access-* answer.
pub(crate) fn classify(
    bytes: &[u8],
    authenticator: &[u8; 16],
    secret: &[u8],
    require_message_authenticator: bool,
) -> Option<Outcome> {
    let verified = verify_response(bytes, authenticator, secret).ok()?;
    if verified.message_authenticator == MessageAuthenticator::Absent
        && require_message_authenticator
    {
        return None;
    }
    match verified.packet.code() {
        Code::AccessAccept => Some(Outcome::Accept),
        Code::AccessReject => Some(Outcome::Reject),
        Code::AccessChallenge => Some(Outcome::Challenge),
        _ => None,
    }
}

/// The request for `name` at TOTP `step`: a PAP Access-Request, or a Status-Server in that mode.
fn encode(
    shared: &Shared,
    id: u8,
    authenticator: &[u8; 16],
    name: &str,
    step: u64,
) -> Result<Vec<u8>, LoadError> {
    let extra = [Attribute::new(types::NAS_IDENTIFIER, NAS_IDENTIFIER)];
    if shared.mode == Mode::StatusServer {
        return Ok(encode_request(
            Code::StatusServer,
            id,
            authenticator,
            &extra,
            &shared.secret,
        )?);
    }
    let password = shared.population.user_password(shared.mode, name, step);
    Ok(encode_access_request(
        id,
        authenticator,
        name.as_bytes(),
        password.as_bytes(),
        &extra,
        &shared.secret,
    )?)
}

/// How far a paced stream may fall behind and still catch up: timers fire with millisecond resolution, so
/// sub-millisecond intervals are sent in small bursts, but a stall is not followed by a flood.
const CATCH_UP: Duration = Duration::from_millis(20);

/// When a paced stream's next request is due, `pace` after the previous one; a stream more than
/// [`CATCH_UP`] behind (a stalled sender) starts again from `now` instead of catching up in a burst.
pub(crate) fn next_due(previous: Option<Instant>, pace: Duration, now: Instant) -> Instant {
    let due = previous.unwrap_or(now) + pace;
    if due + CATCH_UP < now {
        now + pace
    } else {
        due
    }
}

/// `--clock-offset`, in seconds: set once before the first request.
static CLOCK_OFFSET: AtomicI64 = AtomicI64::new(0);

/// Makes [`unix_now`] run `seconds` ahead of this machine's clock (behind if negative).
pub(crate) fn set_clock_offset(seconds: i64) {
    CLOCK_OFFSET.store(seconds, Ordering::Relaxed);
}

/// Wall-clock time since the Unix epoch (plus `--clock-offset`): TOTP steps follow the servers' wall clocks,
/// to the millisecond.
#[allow(clippy::disallowed_methods)] // a client tool: motpd's Clock has whole seconds only
pub(crate) fn unix_now() -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    shifted(now, CLOCK_OFFSET.load(Ordering::Relaxed))
}

/// `now` moved by `offset` seconds.
fn shifted(now: Duration, offset: i64) -> Duration {
    let shift = Duration::from_secs(offset.unsigned_abs());
    if offset >= 0 {
        now.saturating_add(shift)
    } else {
        now.saturating_sub(shift)
    }
}

/// The monotonic instant at which the wall clock reads `unix_secs` (plus a small margin).
pub(crate) fn instant_at_unix(unix_secs: u64) -> Instant {
    let wait = Duration::from_secs(unix_secs).saturating_sub(unix_now());
    Instant::now() + wait + STEP_MARGIN
}

/// Runs one socket with up to `slots` requests outstanding until the schedule stops and every request is
/// done. `pace`: open loop, one request per interval (never more than `slots` outstanding); `None`: closed
/// loop, the slots are kept full.
pub(crate) async fn run_worker(
    socket: UdpSocket,
    shared: Arc<Shared>,
    slots: usize,
    pace: Option<Duration>,
) -> Result<WorkerResult, LoadError> {
    let worker = Worker {
        socket,
        shared,
        slots,
        pace,
        table: IdTable::new(),
        latency: new_histogram()?,
        wake: None,
        next_paced: None,
        stopping: false,
        last_activity: None,
        timeline: Vec::new(),
        accepts: Vec::new(),
    };
    worker.run().await
}

#[derive(Debug)]
struct Worker {
    socket: UdpSocket,
    shared: Arc<Shared>,
    slots: usize,
    pace: Option<Duration>,
    table: IdTable,
    latency: Histogram<u64>,
    wake: Option<Instant>,
    /// Paced workers: when the next request is due.
    next_paced: Option<Instant>,
    stopping: bool,
    last_activity: Option<Instant>,
    timeline: Vec<(u64, u64)>,
    accepts: Vec<AcceptRecord>,
}

impl Worker {
    async fn run(mut self) -> Result<WorkerResult, LoadError> {
        let mut buf = vec![0_u8; MAX_PACKET_LEN + 1];
        loop {
            self.fill().await?;
            if self.stopping && self.table.outstanding() == 0 {
                break;
            }
            let wake_at = self.wake_at();
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    let (len, from) = received.map_err(LoadError::Socket)?;
                    self.on_datagram(buf.get(..len).unwrap_or_default(), from);
                }
                () = sleep_until(wake_at) => self.expire(Instant::now()),
            }
        }
        Ok(WorkerResult {
            latency: self.latency,
            last_activity: self.last_activity,
            timeline: self.timeline,
            accepts: self.accepts,
        })
    }

    /// The next moment something is due: a deadline, the end of sending, or the next TOTP step.
    fn wake_at(&mut self) -> Instant {
        let sending = !self.stopping;
        [
            self.table.next_deadline(),
            sending.then_some(self.shared.stop_sending_at),
            self.wake.filter(|_| sending),
            self.next_paced.filter(|_| sending),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or_else(|| Instant::now() + self.shared.timeout)
    }

    /// Sends until `slots` requests are outstanding, the schedule says wait or stop, or sending time is up.
    async fn fill(&mut self) -> Result<(), LoadError> {
        // Also with every slot in use: otherwise the past end of sending stays a wake-up time and the worker
        // spins (a core of CPU, taken from the server under test) until a reply frees a slot.
        if Instant::now() >= self.shared.stop_sending_at {
            self.stopping = true;
        }
        while !self.stopping && self.table.outstanding() < self.slots {
            let now = Instant::now();
            if now >= self.shared.stop_sending_at {
                self.stopping = true;
                break;
            }
            if self.wake.is_some_and(|wake| now < wake)
                || self.next_paced.is_some_and(|due| now < due)
            {
                break;
            }
            self.wake = None;
            match self.shared.schedule.next(unix_now().as_secs()) {
                Next::Send { user, step } => {
                    self.send(user, step).await?;
                    self.next_paced = self.pace.map(|pace| next_due(self.next_paced, pace, now));
                }
                Next::WaitUntil { unix_secs } => self.wake = Some(instant_at_unix(unix_secs)),
                Next::Stop(_) => self.stopping = true,
            }
        }
        Ok(())
    }

    async fn send(&mut self, user: u64, step: u64) -> Result<(), LoadError> {
        let shared = Arc::clone(&self.shared);
        let name = shared
            .population
            .name(shared.first_index.saturating_add(user));
        let authenticator = random_authenticator()?;
        let uses_code = matches!(shared.mode, Mode::OtpOnly | Mode::PasswordOtp);
        let collides = uses_code
            && step > 0
            && shared.population.code(&name, step) == shared.population.code(&name, step - 1);
        let now = Instant::now();
        let request = Pending {
            authenticator,
            sent: now,
            awaiting: (1_u8 << shared.servers.len()) - 1,
            accepts: 0,
            user: shared.first_index.saturating_add(user),
            step,
            collides,
        };
        let Some(id) = self.table.start(request, now + shared.timeout) else {
            return Ok(());
        };
        let packet = encode(&shared, id, &authenticator, &name, step)?;
        for (index, server) in shared.servers.iter().enumerate() {
            if self.socket.send_to(&packet, server).await.is_ok() {
                bump(&shared.totals.sent, 1);
            } else {
                bump(&shared.totals.send_errors, 1);
                self.clear(id, 1 << index);
            }
        }
        self.last_activity = Some(Instant::now());
        Ok(())
    }

    /// Server bit `bit` will not answer request `id`; releases the Identifier when no server is left.
    fn clear(&mut self, id: u8, bit: u8) -> Option<u8> {
        let request = self.table.get_mut(id)?;
        request.awaiting &= !bit;
        if request.awaiting != 0 {
            return None;
        }
        self.table.finish(id).map(|done| done.accepts)
    }

    fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        let server = self.shared.servers.iter().position(|s| *s == from);
        let (Some(server), Some(&id)) = (server, bytes.get(1)) else {
            bump(&self.shared.totals.bad, 1);
            return;
        };
        let bit = 1_u8 << server;
        let current = self.table.get(id).filter(|r| r.awaiting & bit != 0);
        if let Some((authenticator, sent)) = current.map(|r| (r.authenticator, r.sent))
            && let Some(outcome) = self.classify(bytes, &authenticator)
        {
            self.record(id, bit, outcome, sent);
            return;
        }
        let late = self
            .table
            .stale(id)
            .is_some_and(|stale| self.classify(bytes, &stale).is_some());
        let totals = &self.shared.totals;
        bump(if late { &totals.late } else { &totals.bad }, 1);
    }

    fn classify(&self, bytes: &[u8], authenticator: &[u8; 16]) -> Option<Outcome> {
        let shared = &self.shared;
        classify(
            bytes,
            authenticator,
            &shared.secret,
            shared.require_message_authenticator,
        )
    }

    fn record(&mut self, id: u8, bit: u8, outcome: Outcome, sent: Instant) {
        let now = Instant::now();
        let micros = u64::try_from(now.duration_since(sent).as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(micros.max(1));
        if let Some(start) = self.shared.timeline_start {
            let offset = u64::try_from(sent.saturating_duration_since(start).as_micros());
            self.timeline
                .push((offset.unwrap_or(u64::MAX), micros.max(1)));
        }
        self.last_activity = Some(now);
        let totals = Arc::clone(&self.shared);
        let totals = &totals.totals;
        bump(
            match outcome {
                Outcome::Accept => &totals.accept,
                Outcome::Reject => &totals.reject,
                Outcome::Challenge => &totals.challenge,
            },
            1,
        );
        if outcome == Outcome::Reject && self.table.get(id).is_some_and(|r| r.collides) {
            bump(&totals.code_collisions, 1);
        }
        if outcome == Outcome::Accept
            && let Some(request) = self.table.get_mut(id)
        {
            request.accepts += 1;
            if self.shared.keep_accepts {
                let replied = unix_now();
                let waited = now.saturating_duration_since(sent);
                let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
                self.accepts.push(AcceptRecord {
                    user: request.user,
                    step: request.step,
                    server: usize::try_from(bit.trailing_zeros()).unwrap_or_default(),
                    sent_unix_us: micros(replied.saturating_sub(waited)),
                    replied_unix_us: micros(replied),
                });
            }
        }
        if self.clear(id, bit).is_some_and(|accepts| accepts >= 2) {
            bump(&totals.double_accepts, 1);
        }
    }

    fn expire(&mut self, now: Instant) {
        let totals = &self.shared.totals;
        for request in self.table.expire(now) {
            bump(&totals.timeouts, u64::from(request.awaiting.count_ones()));
        }
    }
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};
    use motpd::radius::{encode_raw, encode_response};

    use super::*;
    use crate::population::Naming;

    const SECRET: &[u8] = b"testing123-long-secret";
    const REQUEST: [u8; 16] = [7; 16];

    #[test]
    fn the_clock_offset_moves_the_time_either_way() {
        let now = Duration::from_millis(1_700_000_000_250);
        assert_eq!(shifted(now, 0), now);
        assert_eq!(shifted(now, 600), Duration::from_millis(1_700_000_600_250));
        assert_eq!(shifted(now, -600), Duration::from_millis(1_699_999_400_250));
        assert_eq!(shifted(Duration::from_secs(5), -10), Duration::ZERO);
    }

    /// An Access-Accept signed the pre-BlastRADIUS way: Response Authenticator only (RFC 2865 §3).
    fn accept_without_message_authenticator() -> Vec<u8> {
        let reply = Attribute::new(types::REPLY_MESSAGE, b"ok".as_slice());
        let mut raw = encode_raw(Code::AccessAccept, 9, &REQUEST, &[reply]).unwrap();
        let mut md5 = Md5::new();
        md5.update(&raw[..4]);
        md5.update(REQUEST);
        md5.update(&raw[20..]);
        md5.update(SECRET);
        raw[4..20].copy_from_slice(&md5.finalize());
        raw
    }

    #[test]
    fn replies_verify_only_against_their_request_and_secret() {
        for (code, outcome) in [
            (Code::AccessAccept, Outcome::Accept),
            (Code::AccessReject, Outcome::Reject),
            (Code::AccessChallenge, Outcome::Challenge),
        ] {
            let raw = encode_response(code, 9, &REQUEST, &[], SECRET).unwrap();
            assert_eq!(classify(&raw, &REQUEST, SECRET, true), Some(outcome));
            assert_eq!(
                classify(&raw, &[8; 16], SECRET, true),
                None,
                "another request"
            );
            assert_eq!(classify(&raw, &REQUEST, b"wrong secret", true), None);
        }
        let mut tampered = encode_response(Code::AccessReject, 9, &REQUEST, &[], SECRET).unwrap();
        tampered[0] = 2; // Reject turned into Accept
        assert_eq!(classify(&tampered, &REQUEST, SECRET, true), None);
        assert_eq!(classify(b"short", &REQUEST, SECRET, true), None);
    }

    #[test]
    fn paced_requests_keep_their_rate_without_bursting_after_a_stall() {
        let t0 = Instant::now();
        let pace = Duration::from_millis(50);
        assert_eq!(next_due(None, pace, t0), t0 + pace);
        // Sent a little late: the next one is still due one interval after the previous due time.
        assert_eq!(
            next_due(Some(t0 + pace), pace, t0 + Duration::from_millis(60)),
            t0 + 2 * pace
        );
        // Sub-millisecond intervals woken by a millisecond timer: the due times stay on the schedule.
        let fine = Duration::from_micros(100);
        let woken = t0 + Duration::from_millis(1);
        assert_eq!(next_due(Some(t0 + fine), fine, woken), t0 + 2 * fine);
        // A stall of a second: no burst of 20 requests, one interval from now.
        let late = t0 + Duration::from_secs(1);
        assert_eq!(next_due(Some(t0 + pace), pace, late), late + pace);
    }

    #[tokio::test]
    async fn a_worker_with_every_slot_in_use_stops_when_sending_time_is_over() {
        // No slot (as if all were in use) and the end of sending already past: the worker must finish (before
        // the fix it woke up for the past end of sending again and again, never stopping).
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = socket.local_addr().unwrap();
        let shared = Arc::new(Shared {
            servers: vec![server],
            secret: SECRET.to_vec(),
            mode: Mode::OtpOnly,
            population: Population::new("k", 1, Naming::Load),
            first_index: 0,
            schedule: Schedule::new(1, true, false, None),
            totals: Totals::default(),
            timeout: Duration::from_secs(1),
            stop_sending_at: Instant::now(),
            require_message_authenticator: true,
            timeline_start: None,
            keep_accepts: false,
        });
        let finished =
            tokio::time::timeout(Duration::from_secs(10), run_worker(socket, shared, 0, None))
                .await;
        assert!(finished.is_ok(), "the worker never stopped");
    }

    #[test]
    fn a_reply_without_message_authenticator_is_bad_unless_allowed() {
        let raw = accept_without_message_authenticator();
        assert_eq!(classify(&raw, &REQUEST, SECRET, true), None);
        assert_eq!(
            classify(&raw, &REQUEST, SECRET, false),
            Some(Outcome::Accept)
        );
        assert_eq!(classify(&raw, &REQUEST, b"other", false), None);
    }
}
