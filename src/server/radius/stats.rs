//! Counters of the RADIUS transport: plain atomics, bumped on the receive path, read as a [`StatsSnapshot`]
//! by tests and by the periodic summary log line; the same events also go to the Prometheus handles of
//! `exported.rs` (labelled, for `/metrics`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::exported::{Ending, ServerMetrics};

/// Why a datagram got no answer (each reason has its own counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DropReason {
    /// The source address is in no client's network.
    UnknownClient,
    /// Not a RADIUS packet, or a request missing what it must carry.
    Malformed,
    /// A response-type or unknown code: never answered (no reflection).
    NotRequest,
    /// A request sent to the wrong port (Accounting-Request to the authentication port, or the reverse).
    WrongPort,
    /// Message-Authenticator or accounting Request Authenticator did not verify.
    BadAuthenticator,
    /// No Message-Authenticator where one is required.
    MissingMessageAuthenticator,
    /// A copy of a request still being evaluated.
    InProgressDuplicate,
    /// An Access-Request whose reply could exceed 4096 octets (too many Proxy-States): refused unevaluated.
    ReplyTooLarge,
}

impl DropReason {
    /// Whether an admin has something to fix (logged at `warn`, rate-limited) or it is routine (`debug`).
    pub(crate) fn needs_attention(self) -> bool {
        !matches!(self, Self::NotRequest | Self::InProgressDuplicate)
    }
}

/// Live counters, shared by every receive loop of one server.
#[derive(Debug, Default)]
pub struct RadiusStats {
    received: AtomicU64,
    unknown_client: AtomicU64,
    malformed: AtomicU64,
    not_request: AtomicU64,
    wrong_port: AtomicU64,
    bad_authenticator: AtomicU64,
    missing_message_authenticator: AtomicU64,
    in_progress_duplicates: AtomicU64,
    reply_too_large: AtomicU64,
    duplicates_resent: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    challenged: AtomicU64,
    status_server: AtomicU64,
    accounting: AtomicU64,
    shed: AtomicU64,
    errors: AtomicU64,
    send_errors: AtomicU64,
    exported: ServerMetrics,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Datagrams received (on every socket).
    pub received: u64,
    /// Dropped: source address of no known client.
    pub unknown_client: u64,
    /// Dropped: undecodable, or a required attribute missing or malformed.
    pub malformed: u64,
    /// Dropped: a response or unknown code.
    pub not_request: u64,
    /// Dropped: a request on the wrong port (accounting on authentication, or the reverse).
    pub wrong_port: u64,
    /// Dropped: Message-Authenticator or accounting Request Authenticator wrong.
    pub bad_authenticator: u64,
    /// Dropped: Message-Authenticator missing where required.
    pub missing_message_authenticator: u64,
    /// Dropped: a retransmission of a request still being evaluated.
    pub in_progress_duplicates: u64,
    /// Dropped unevaluated: an Access-Request whose reply could exceed 4096 octets.
    pub reply_too_large: u64,
    /// Retransmissions answered from the duplicate cache.
    pub duplicates_resent: u64,
    /// Access-Accepts sent for an engine decision.
    pub accepted: u64,
    /// Access-Rejects sent (engine decisions and `on_store_error = "reject"`).
    pub rejected: u64,
    /// Access-Challenges sent.
    pub challenged: u64,
    /// Status-Server requests answered.
    pub status_server: u64,
    /// Accounting-Responses sent.
    pub accounting: u64,
    /// Requests shed because `max_in_flight` requests were already being evaluated.
    pub shed: u64,
    /// Engine failures and timeouts, and replies that could not be encoded.
    pub errors: u64,
    /// Replies the socket refused to send.
    pub send_errors: u64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl RadiusStats {
    pub(crate) fn received(&self) {
        bump(&self.received);
        self.exported.received();
    }

    pub(crate) fn dropped(&self, reason: DropReason) {
        bump(match reason {
            DropReason::UnknownClient => &self.unknown_client,
            DropReason::Malformed => &self.malformed,
            DropReason::NotRequest => &self.not_request,
            DropReason::WrongPort => &self.wrong_port,
            DropReason::BadAuthenticator => &self.bad_authenticator,
            DropReason::MissingMessageAuthenticator => &self.missing_message_authenticator,
            DropReason::InProgressDuplicate => &self.in_progress_duplicates,
            DropReason::ReplyTooLarge => &self.reply_too_large,
        });
        self.exported.dropped(reason);
    }

    pub(crate) fn duplicate_resent(&self) {
        bump(&self.duplicates_resent);
        self.exported.resent();
    }

    pub(crate) fn accepted(&self) {
        bump(&self.accepted);
    }

    pub(crate) fn rejected(&self) {
        bump(&self.rejected);
    }

    pub(crate) fn challenged(&self) {
        bump(&self.challenged);
    }

    pub(crate) fn status_server(&self) {
        bump(&self.status_server);
    }

    pub(crate) fn accounting(&self) {
        bump(&self.accounting);
    }

    /// Counts a shed request; returns how many this server has shed in all (for the rate-limited log line).
    pub(crate) fn shed(&self) -> u64 {
        self.exported.shed();
        self.shed.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    }

    /// Records how long a decision took (`motpd_radius_decision_duration_seconds`).
    pub(crate) fn decided(&self, ending: Ending, took: Duration) {
        self.exported.decided(ending, took);
    }

    pub(crate) fn error(&self) {
        bump(&self.errors);
    }

    pub(crate) fn send_error(&self) {
        bump(&self.send_errors);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            received: get(&self.received),
            unknown_client: get(&self.unknown_client),
            malformed: get(&self.malformed),
            not_request: get(&self.not_request),
            wrong_port: get(&self.wrong_port),
            bad_authenticator: get(&self.bad_authenticator),
            missing_message_authenticator: get(&self.missing_message_authenticator),
            in_progress_duplicates: get(&self.in_progress_duplicates),
            reply_too_large: get(&self.reply_too_large),
            duplicates_resent: get(&self.duplicates_resent),
            accepted: get(&self.accepted),
            rejected: get(&self.rejected),
            challenged: get(&self.challenged),
            status_server: get(&self.status_server),
            accounting: get(&self.accounting),
            shed: get(&self.shed),
            errors: get(&self.errors),
            send_errors: get(&self.send_errors),
        }
    }
}

impl StatsSnapshot {
    /// Every datagram that got no answer, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.unknown_client
            + self.malformed
            + self.not_request
            + self.wrong_port
            + self.bad_authenticator
            + self.missing_message_authenticator
            + self.in_progress_duplicates
            + self.reply_too_large
    }

    /// Writes the counters as one `info` line.
    pub(crate) fn log(&self, message: &'static str) {
        tracing::info!(
            received = self.received,
            accepted = self.accepted,
            rejected = self.rejected,
            challenged = self.challenged,
            accounting = self.accounting,
            status_server = self.status_server,
            duplicates_resent = self.duplicates_resent,
            dropped = self.dropped(),
            unknown_client = self.unknown_client,
            bad_authenticator = self.bad_authenticator,
            missing_message_authenticator = self.missing_message_authenticator,
            malformed = self.malformed,
            wrong_port = self.wrong_port,
            reply_too_large = self.reply_too_large,
            shed = self.shed,
            errors = self.errors,
            send_errors = self.send_errors,
            "{message}"
        );
    }
}
