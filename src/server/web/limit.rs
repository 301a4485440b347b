//! Per-address rate limits of the enrollment pages (fixed one-minute windows, in memory): logins, and requests
//! to invitation links. The account lockout (shared with RADIUS) is the engine's; this only slows down one
//! address trying many accounts or many links.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Counts attempts per address.
#[derive(Debug)]
pub(crate) struct LoginLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl LoginLimiter {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt at `now`; `false` if the address is over its limit for this minute.
    pub(crate) fn allow(&self, ip: IpAddr, now: i64) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return false;
        };
        let minute = now.div_euclid(60);
        if windows.len() > 10_000 {
            windows.retain(|_, (m, _)| *m == minute);
        }
        let entry = windows.entry(ip).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn limit_per_address_and_minute() {
        let limiter = LoginLimiter::new(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow(a, 600)));
        assert!(!limiter.allow(a, 659));
        assert!(limiter.allow(b, 659));
        assert!(limiter.allow(a, 660));
    }
}
