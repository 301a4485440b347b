//! Time as a parameter. The engine, enrollment and SMS codes ask a [`Clock`] for "now" instead of reading the
//! system clock, so tests can set it: lockout expiry, replay steps, code and invitation expiry and the
//! enforcement date are all computed from it. This is the one module allowed to read the system clock
//! (clippy.toml bans `SystemTime::now` elsewhere).
//!
//! [`StepWatch`] notices the system clock being stepped (an NTP step, an admin's `date -s`, a VM resumed): it
//! compares the wall clock's progress with the monotonic clock's, which no step moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// A source of the current time in Unix seconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

impl SystemClock {
    /// Milliseconds since the Unix epoch (the step watch needs finer than whole seconds).
    #[allow(clippy::disallowed_methods)]
    pub fn now_millis() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A jump of the wall clock against the monotonic clock, beyond [`StepWatch`]'s threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStep {
    /// The wall clock went back by this many milliseconds: TOTP steps already seen come round again.
    Backward(i64),
    /// The wall clock jumped ahead by this many milliseconds: locks and codes age at once.
    Forward(i64),
}

impl ClockStep {
    /// `backward` or `forward` (the metric's label, the log's field).
    pub fn direction(self) -> &'static str {
        match self {
            Self::Backward(_) => "backward",
            Self::Forward(_) => "forward",
        }
    }

    /// The size of the step, in whole seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Backward(ms) | Self::Forward(ms) => ms / 1000,
        }
    }
}

/// Compares successive readings of the wall clock (ms since the epoch) and the monotonic clock. Slewing (at
/// most 0.5 ms/s) and scheduling delays stay far below the threshold; a step shows as the difference between
/// the two clocks' progress since the last reading.
#[derive(Debug)]
pub struct StepWatch {
    threshold_ms: i64,
    last: Option<(Instant, i64)>,
}

impl StepWatch {
    /// Reports steps larger than `threshold`.
    pub fn new(threshold: Duration) -> Self {
        Self {
            threshold_ms: i64::try_from(threshold.as_millis()).unwrap_or(i64::MAX),
            last: None,
        }
    }

    /// Takes one reading pair; `Some` when the wall clock moved more than the threshold away from the
    /// monotonic clock since the previous reading (the next reading compares with this one).
    pub fn observe(&mut self, monotonic: Instant, wall_ms: i64) -> Option<ClockStep> {
        let previous = self.last.replace((monotonic, wall_ms));
        let (then, then_wall) = previous?;
        let elapsed = i64::try_from(monotonic.saturating_duration_since(then).as_millis())
            .unwrap_or(i64::MAX);
        let skew = wall_ms.saturating_sub(then_wall).saturating_sub(elapsed);
        if skew > self.threshold_ms {
            Some(ClockStep::Forward(skew))
        } else if skew < -self.threshold_ms {
            Some(ClockStep::Backward(skew.saturating_neg()))
        } else {
            None
        }
    }
}

/// A clock that only moves when told to (tests). Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: i64) -> Self {
        Self(Arc::new(AtomicI64::new(now)))
    }

    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The calendar date at `unix` in the site's offset (expiry and enforcement dates are site-local days).
pub fn local_date(unix: i64, offset: time::UtcOffset) -> time::Date {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        // Past the calendar's end in this offset (an admin lock's 9999-12-31T23:59:59Z in +08:00).
        Ok(t) => t
            .checked_to_offset(offset)
            .map_or(time::Date::MAX, |local| local.date()),
        Err(_) if unix > 0 => time::Date::MAX,
        Err(_) => time::Date::MIN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share() {
        let clock = ManualClock::new(1000);
        let other = clock.clone();
        clock.advance(30);
        assert_eq!(other.now(), 1030);
        other.set(5);
        assert_eq!(clock.now(), 5);
        assert!(SystemClock.now() > 1_700_000_000);
    }

    #[test]
    fn step_watch_reports_steps_beyond_the_threshold_only() {
        let mut watch = StepWatch::new(Duration::from_secs(5));
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(watch.observe(at(0), 1_000_000), None, "first reading");
        // Wall and monotonic move together, give or take scheduling.
        assert_eq!(watch.observe(at(2), 1_002_300), None);
        // Stepped back 3 minutes during the next 2 s.
        assert_eq!(
            watch.observe(at(4), 1_004_300 - 180_000),
            Some(ClockStep::Backward(180_000))
        );
        // The next reading compares with the stepped one: no second report.
        assert_eq!(watch.observe(at(6), 826_300), None);
        let forward = watch.observe(at(8), 828_300 + 600_000);
        assert_eq!(forward, Some(ClockStep::Forward(600_000)));
        assert_eq!(forward.map(ClockStep::seconds), Some(600));
        assert_eq!(forward.map(ClockStep::direction), Some("forward"));
        // 4.9 s either way is within the threshold.
        assert_eq!(watch.observe(at(10), 1_430_300 + 4_900), None);
        assert_eq!(watch.observe(at(12), 1_432_300), None);
    }

    #[test]
    fn system_millis_agree_with_seconds() {
        let ms = SystemClock::now_millis();
        assert!((ms / 1000 - SystemClock.now()).abs() <= 1);
    }

    #[test]
    fn local_date_is_total() {
        let offset = time::macros::offset!(+8);
        assert_eq!(local_date(253_402_300_799, offset), time::Date::MAX);
        assert_eq!(local_date(i64::MAX, offset), time::Date::MAX);
        assert_eq!(local_date(i64::MIN, offset), time::Date::MIN);
    }

    #[test]
    fn local_date_uses_the_site_offset() {
        // 2024-01-01T16:30:00Z is already 2 January in Taipei.
        let unix = 1_704_126_600;
        assert_eq!(
            local_date(unix, time::UtcOffset::UTC),
            time::macros::date!(2024 - 01 - 01)
        );
        assert_eq!(
            local_date(unix, time::macros::offset!(+8)),
            time::macros::date!(2024 - 01 - 02)
        );
    }
}
