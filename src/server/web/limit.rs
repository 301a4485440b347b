//! Rate limits of the web pages (fixed windows, in memory, per node): login attempts per address, and the
//! account pages' code requests and checks per address and per typed account ID. The account lockout (shared
//! with RADIUS) and the SMS send limits are the engine's; these only slow down one address trying many
//! accounts, or many addresses trying one.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Counts attempts per key in fixed windows.
#[derive(Debug)]
pub(crate) struct RateLimiter<K> {
    limit: u32,
    window_seconds: i64,
    windows: Mutex<HashMap<K, (i64, u32)>>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// At most `limit` attempts per key in each window of `window_seconds`.
    pub(crate) fn new(limit: u32, window_seconds: i64) -> Self {
        Self {
            limit,
            window_seconds: window_seconds.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt at `now`; `false` if the key is over its limit for this window.
    pub(crate) fn allow(&self, key: K, now: i64) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return false;
        };
        let window = now.div_euclid(self.window_seconds);
        if windows.len() > 10_000 {
            windows.retain(|_, (w, _)| *w == window);
        }
        let entry = windows.entry(key).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.limit
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::IpAddr;

    use super::*;

    #[test]
    fn limit_per_address_and_minute() {
        let limiter = RateLimiter::new(3, 60);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow(a, 600)));
        assert!(!limiter.allow(a, 659));
        assert!(limiter.allow(b, 659));
        assert!(limiter.allow(a, 660));
    }

    #[test]
    fn longer_windows_per_account() {
        let limiter = RateLimiter::new(2, 900);
        assert!(limiter.allow("alice".to_owned(), 900));
        assert!(limiter.allow("alice".to_owned(), 1000));
        assert!(!limiter.allow("alice".to_owned(), 1799));
        assert!(limiter.allow("bob".to_owned(), 1799));
        assert!(limiter.allow("alice".to_owned(), 1800));
    }
}
