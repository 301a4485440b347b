//! The RADIUS transport's Prometheus handles (`crate::monitoring` names them): the drop counters by reason and
//! the decision latency by outcome, held by [`super::RadiusStats`], and the decision counters of one client,
//! held by its [`super::Client`]. Built once (per server, per client-table load), so counting a packet is an
//! atomic add on a handle, never a registry lookup; before the recorder is installed they count nothing.

use std::time::Duration;

use metrics::{Counter, Histogram};

use super::stats::DropReason;
use crate::engine::{Decision, RejectReason};
use crate::monitoring::{
    DECISION_DURATION, DECISIONS, DUPLICATES_RESENT, PACKETS_DROPPED, PACKETS_RECEIVED,
};

/// How a request ended, as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Accept,
    Reject,
    Challenge,
    /// The engine failed or timed out (no reply, or a Reject as `on_store_error` says).
    Error,
}

impl Ending {
    const ALL: [Self; 4] = [Self::Accept, Self::Reject, Self::Challenge, Self::Error];

    fn label(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::Challenge => "challenge",
            Self::Error => "error",
        }
    }

    pub(crate) fn of(decision: &Decision) -> Self {
        match decision {
            Decision::Accept { .. } => Self::Accept,
            Decision::Reject { .. } => Self::Reject,
            Decision::Challenge { .. } => Self::Challenge,
        }
    }
}

/// Why a datagram was dropped, as labelled; `Shed` is counted apart from [`DropReason`] (no engine slot).
const DROP_LABELS: [&str; 9] = [
    "unknown_client",
    "malformed",
    "not_request",
    "wrong_port",
    "bad_authenticator",
    "missing_message_authenticator",
    "duplicate",
    "reply_too_large",
    "shed",
];
const SHED: usize = 8;

fn drop_index(reason: DropReason) -> usize {
    match reason {
        DropReason::UnknownClient => 0,
        DropReason::Malformed => 1,
        DropReason::NotRequest => 2,
        DropReason::WrongPort => 3,
        DropReason::BadAuthenticator => 4,
        DropReason::MissingMessageAuthenticator => 5,
        DropReason::InProgressDuplicate => 6,
        DropReason::ReplyTooLarge => 7,
    }
}

/// The server-wide handles.
#[derive(Debug)]
pub(crate) struct ServerMetrics {
    received: Counter,
    resent: Counter,
    dropped: [Counter; DROP_LABELS.len()],
    decision_seconds: [Histogram; Ending::ALL.len()],
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self {
            received: metrics::counter!(PACKETS_RECEIVED),
            resent: metrics::counter!(DUPLICATES_RESENT),
            dropped: DROP_LABELS
                .map(|reason| metrics::counter!(PACKETS_DROPPED, "reason" => reason)),
            decision_seconds: Ending::ALL
                .map(|ending| metrics::histogram!(DECISION_DURATION, "outcome" => ending.label())),
        }
    }
}

impl ServerMetrics {
    pub(crate) fn received(&self) {
        self.received.increment(1);
    }

    pub(crate) fn resent(&self) {
        self.resent.increment(1);
    }

    pub(crate) fn dropped(&self, reason: DropReason) {
        self.bump_dropped(drop_index(reason));
    }

    pub(crate) fn shed(&self) {
        self.bump_dropped(SHED);
    }

    fn bump_dropped(&self, index: usize) {
        if let Some(counter) = self.dropped.get(index) {
            counter.increment(1);
        }
    }

    pub(crate) fn decided(&self, ending: Ending, took: Duration) {
        let index = Ending::ALL.iter().position(|e| *e == ending).unwrap_or(0);
        if let Some(histogram) = self.decision_seconds.get(index) {
            histogram.record(took);
        }
    }
}

/// Every reject reason, in the order of the counters of [`ClientDecisions`].
const REJECT_REASONS: [RejectReason; 14] = [
    RejectReason::UnknownAccount,
    RejectReason::BadPassword,
    RejectReason::BadCode,
    RejectReason::Replayed,
    RejectReason::Locked,
    RejectReason::Disabled,
    RejectReason::NotActivated,
    RejectReason::Expired,
    RejectReason::NotEnrolled,
    RejectReason::BadState,
    RejectReason::Malformed,
    RejectReason::SmsUnavailable,
    RejectReason::SmsPaused,
    RejectReason::NoPasswordSource,
];

fn reject_index(reason: RejectReason) -> usize {
    match reason {
        RejectReason::UnknownAccount => 0,
        RejectReason::BadPassword => 1,
        RejectReason::BadCode => 2,
        RejectReason::Replayed => 3,
        RejectReason::Locked => 4,
        RejectReason::Disabled => 5,
        RejectReason::NotActivated => 6,
        RejectReason::Expired => 7,
        RejectReason::NotEnrolled => 8,
        RejectReason::BadState => 9,
        RejectReason::Malformed => 10,
        RejectReason::SmsUnavailable => 11,
        RejectReason::SmsPaused => 12,
        RejectReason::NoPasswordSource => 13,
    }
}

/// One client's decision counters (`motpd_radius_decisions_total{outcome, reason, client}`).
#[derive(Debug)]
pub struct ClientDecisions {
    accept: Counter,
    challenge: Counter,
    error: Counter,
    reject: [Counter; REJECT_REASONS.len()],
}

impl ClientDecisions {
    /// The handles of the client named `client`.
    pub(crate) fn new(client: &str) -> Self {
        let name = client.to_owned();
        let plain = |outcome: &'static str| metrics::counter!(DECISIONS, "outcome" => outcome, "reason" => "none", "client" => name.clone());
        Self {
            accept: plain("accept"),
            challenge: plain("challenge"),
            error: metrics::counter!(DECISIONS, "outcome" => "error", "reason" => "engine_failure",
                "client" => name.clone()),
            reject: REJECT_REASONS.map(|reason| {
                metrics::counter!(DECISIONS, "outcome" => "reject", "reason" => reason.as_str(),
                    "client" => name.clone())
            }),
        }
    }

    /// Counts one decision.
    pub(crate) fn count(&self, decision: &Decision) {
        let counter = match decision {
            Decision::Accept { .. } => &self.accept,
            Decision::Challenge { .. } => &self.challenge,
            Decision::Reject { reason, .. } => self
                .reject
                .get(reject_index(*reason))
                .unwrap_or(&self.error),
        };
        counter.increment(1);
    }

    /// Counts a request the engine could not decide.
    pub(crate) fn failed(&self) {
        self.error.increment(1);
    }
}
