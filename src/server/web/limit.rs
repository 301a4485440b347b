//! Rate limits of the web pages (fixed windows, in memory, per node): login attempts per address, and the
//! account pages' code requests and checks per address and per typed account ID. The account lockout (shared
//! with RADIUS) and the SMS send limits are the engine's; these only slow down one address trying many
//! accounts, or many addresses trying one.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Beyond this many keys in the current window new keys are refused: the limiter's memory stays bounded
/// however many distinct addresses or typed account IDs arrive (an attacker's, not staff's, numbers).
const MAX_KEYS: usize = 100_000;

/// Counts attempts per key in fixed windows.
#[derive(Debug)]
pub(crate) struct RateLimiter<K> {
    limit: u32,
    window_seconds: i64,
    windows: Mutex<Windows<K>>,
}

/// The counts, and the window whose stale keys were last dropped (once per window, not per call).
#[derive(Debug)]
struct Windows<K> {
    counts: HashMap<K, (i64, u32)>,
    pruned: i64,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// At most `limit` attempts per key in each window of `window_seconds`.
    pub(crate) fn new(limit: u32, window_seconds: i64) -> Self {
        Self {
            limit,
            window_seconds: window_seconds.max(1),
            windows: Mutex::new(Windows {
                counts: HashMap::new(),
                pruned: i64::MIN,
            }),
        }
    }

    /// Counts one attempt at `now`; `false` if the key is over its limit for this window.
    pub(crate) fn allow(&self, key: K, now: i64) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return false;
        };
        let window = now.div_euclid(self.window_seconds);
        if windows.counts.len() > 10_000 && windows.pruned != window {
            windows.counts.retain(|_, (w, _)| *w == window);
            windows.pruned = window;
        }
        if windows.counts.len() >= MAX_KEYS && !windows.counts.contains_key(&key) {
            return false;
        }
        let entry = windows.counts.entry(key).or_insert((window, 0));
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
    fn new_keys_are_refused_when_the_window_is_full() {
        let limiter = RateLimiter::new(2, 900);
        for n in 0..MAX_KEYS {
            assert!(limiter.allow(n, 900));
        }
        assert!(!limiter.allow(MAX_KEYS, 900), "a new key past the bound");
        assert!(limiter.allow(7, 901), "a key already counted goes on");
        // The next window starts empty again.
        assert!(limiter.allow(MAX_KEYS, 1800));
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
