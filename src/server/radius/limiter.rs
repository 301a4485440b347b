//! A tiny log rate limiter: at most one line per (kind, source address) per interval, so a flood of bad
//! packets cannot flood the log. Counting is the job of `RadiusStats`; this only decides whether to log.
//!
//! Bounded memory: when the table is full, expired lines are pruned, and if it is still full the line is
//! suppressed. Time is a parameter; no I/O.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::stats::DropReason;

/// What a rate-limited log line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum LogKind {
    Drop(DropReason),
    Shed,
    /// A reply had groups or text left out to stay within its bounds.
    Trimmed,
}

#[derive(Debug)]
pub(crate) struct LogLimiter {
    interval: Duration,
    capacity: usize,
    last: Mutex<HashMap<(LogKind, IpAddr), Instant>>,
}

impl LogLimiter {
    pub(crate) fn new(interval: Duration, capacity: usize) -> Self {
        Self {
            interval,
            capacity,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a line about `kind` from `source` may be logged now (and, if so, remembers that it was).
    pub(crate) fn allow(&self, kind: LogKind, source: IpAddr, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (kind, source);
        if let Some(&at) = last.get(&key) {
            if now.saturating_duration_since(at) < self.interval {
                return false;
            }
        } else if last.len() >= self.capacity {
            let interval = self.interval;
            last.retain(|_, at| now.saturating_duration_since(*at) < interval);
            if last.len() >= self.capacity {
                return false;
            }
        }
        last.insert(key, now);
        true
    }

    /// Forgets lines older than the interval.
    pub(crate) fn sweep(&self, now: Instant) {
        let interval = self.interval;
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, at| now.saturating_duration_since(*at) < interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_source_and_kind_per_interval_within_capacity() {
        let limiter = LogLimiter::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let c: IpAddr = [10, 0, 0, 3].into();
        assert!(limiter.allow(LogKind::Drop(DropReason::UnknownClient), a, t0));
        assert!(!limiter.allow(
            LogKind::Drop(DropReason::UnknownClient),
            a,
            t0 + Duration::from_secs(9)
        ));
        assert!(
            limiter.allow(LogKind::Drop(DropReason::Malformed), a, t0),
            "another kind is another line"
        );
        assert!(
            !limiter.allow(LogKind::Drop(DropReason::UnknownClient), b, t0),
            "full: suppressed"
        );
        assert!(limiter.allow(
            LogKind::Drop(DropReason::UnknownClient),
            a,
            t0 + Duration::from_secs(10)
        ));
        assert!(
            limiter.allow(
                LogKind::Drop(DropReason::UnknownClient),
                c,
                t0 + Duration::from_secs(10)
            ),
            "expired lines pruned"
        );
        limiter.sweep(t0 + Duration::from_secs(30));
        assert!(limiter.allow(
            LogKind::Drop(DropReason::UnknownClient),
            b,
            t0 + Duration::from_secs(30)
        ));
    }
}
