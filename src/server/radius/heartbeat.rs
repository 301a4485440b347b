//! Proof that the RADIUS receive loops run, for the service manager's watchdog: each loop wakes on a short
//! timer and advances a counter of its own; the watchdog pings only when every loop advanced since its last
//! look. A loop stuck in a send, or a runtime too starved to poll it, stops the pings, and systemd restarts
//! the service. No cost per datagram: the counter moves on the timer, not on packets.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often each receive loop beats. The watchdog should look at most every two beats or so more rarely
/// (systemd pings at half of `WatchdogSec`, seconds).
pub const BEAT: Duration = Duration::from_millis(500);

/// The beats of every receive loop of one server.
#[derive(Debug, Default)]
pub struct Heartbeat {
    loops: Mutex<Vec<Arc<AtomicU64>>>,
}

/// What the watchdog saw at its last look: each loop's count.
#[derive(Debug, Default)]
pub struct Seen(Vec<u64>);

impl Heartbeat {
    /// A counter for one more receive loop.
    pub(super) fn register(&self) -> Arc<AtomicU64> {
        let beat = Arc::new(AtomicU64::new(0));
        if let Ok(mut loops) = self.loops.lock() {
            loops.push(beat.clone());
        }
        beat
    }

    /// Whether at least one loop runs and every loop beat since `seen` was taken; updates `seen`. The first
    /// look after the loops started (their number changed) only records, and counts them alive: they have
    /// just been started, and the next look judges them.
    pub fn all_alive_since(&self, seen: &mut Seen) -> bool {
        let Ok(loops) = self.loops.lock() else {
            return false;
        };
        let now: Vec<u64> = loops.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let alive = !now.is_empty()
            && (now.len() != seen.0.len()
                || now.iter().zip(&seen.0).all(|(now, before)| now > before));
        seen.0 = now;
        alive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_only_when_every_loop_beat() {
        let heart = Heartbeat::default();
        let mut seen = Seen::default();
        assert!(!heart.all_alive_since(&mut seen), "no loop yet");
        let (a, b) = (heart.register(), heart.register());
        assert!(heart.all_alive_since(&mut seen), "just started");
        a.fetch_add(1, Ordering::Relaxed);
        assert!(!heart.all_alive_since(&mut seen), "b did not beat");
        a.fetch_add(1, Ordering::Relaxed);
        b.fetch_add(1, Ordering::Relaxed);
        assert!(heart.all_alive_since(&mut seen));
        assert!(!heart.all_alive_since(&mut seen), "nothing beat since");
    }
}
