//! Time as a parameter. The engine, enrollment and SMS codes ask a [`Clock`] for "now" instead of reading the
//! system clock, so tests can set it: lockout expiry, replay steps, code and invitation expiry and the
//! enforcement date are all computed from it. This is the one module allowed to read the system clock
//! (clippy.toml bans `SystemTime::now` elsewhere).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

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
