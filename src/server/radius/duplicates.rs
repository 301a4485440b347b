//! The duplicate-request cache (RFC 5080 §2.2.2): a retransmitted request gets the bytes we already sent,
//! byte for byte, instead of a second evaluation (which would reject a retransmitted Accept as a replayed code).
//!
//! Keyed by (client name, source address and port, Identifier, Request Authenticator). An entry is either in
//! progress (the first copy is still being evaluated: duplicates are dropped, the first answer will go out) or
//! ready (the encoded answer). Memory is bounded: at most `capacity` entries, the oldest evicted first, and
//! expired entries are swept. Time is a parameter; this file does no I/O and reads no clock.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::radius::Packet;

/// What identifies one request from one client (RFC 5080 §2.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub(crate) client: Arc<str>,
    pub(crate) source: SocketAddr,
    pub(crate) identifier: u8,
    pub(crate) authenticator: [u8; 16],
}

impl CacheKey {
    /// The key of `packet` from `client` at `source`.
    pub(crate) fn of(client: &Arc<str>, source: SocketAddr, packet: &Packet<'_>) -> Self {
        Self {
            client: client.clone(),
            source,
            identifier: packet.identifier(),
            authenticator: *packet.authenticator(),
        }
    }
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Not seen (or expired): a new request.
    Miss,
    /// The first copy is still being evaluated.
    InProgress,
    /// Already answered: resend these bytes.
    Ready(Arc<[u8]>),
}

#[derive(Debug)]
enum Slot {
    InProgress,
    Ready(Arc<[u8]>),
}

#[derive(Debug)]
struct Entry {
    slot: Slot,
    expires: Instant,
    /// Which insertion this is, to tell a live entry from a stale line in `order`.
    seq: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<CacheKey, Entry>,
    /// Keys in insertion order (possibly with stale lines for removed entries), for eviction.
    order: VecDeque<(u64, CacheKey)>,
    next_seq: u64,
}

/// Bounded, thread-safe response cache. The lock is never held across an await.
#[derive(Debug)]
pub(crate) struct DuplicateCache {
    state: Mutex<State>,
    /// How long an answer is kept.
    ttl: Duration,
    /// How long an in-progress entry may live (covers the evaluation time as well).
    in_progress_ttl: Duration,
    capacity: usize,
}

impl DuplicateCache {
    /// Answers live `ttl` after they are stored; an in-progress entry lives `ttl + request_timeout`.
    ///
    /// The map and the eviction queue get their full size up front: grown on demand, each doubling would rehash
    /// every entry under the lock, on the thread that receives datagrams, and stall every request meanwhile.
    /// The table's pages become resident as entries land in them, so a quiet server touches few of them.
    pub(crate) fn new(ttl: Duration, request_timeout: Duration, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let state = State {
            entries: HashMap::with_capacity(capacity),
            // `begin` compacts the queue when it holds twice the capacity.
            order: VecDeque::with_capacity(capacity.saturating_mul(2).saturating_add(1)),
            next_seq: 0,
        };
        Self {
            state: Mutex::new(state),
            ttl,
            in_progress_ttl: ttl.saturating_add(request_timeout),
            capacity,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn lookup(&self, key: &CacheKey, now: Instant) -> Lookup {
        match self.state().entries.get(key) {
            Some(entry) if entry.expires > now => match &entry.slot {
                Slot::InProgress => Lookup::InProgress,
                Slot::Ready(bytes) => Lookup::Ready(bytes.clone()),
            },
            _ => Lookup::Miss,
        }
    }

    /// Marks `key` as being evaluated. `false` if a live entry already exists (another copy got there first).
    pub(crate) fn begin(&self, key: CacheKey, now: Instant) -> bool {
        let mut state = self.state();
        if state
            .entries
            .get(&key)
            .is_some_and(|entry| entry.expires > now)
        {
            return false;
        }
        while state.entries.len() >= self.capacity {
            if !evict_oldest(&mut state) {
                break;
            }
        }
        let seq = state.next_seq;
        state.next_seq = seq.wrapping_add(1);
        let expires = now + self.in_progress_ttl;
        state.order.push_back((seq, key.clone()));
        state.entries.insert(
            key,
            Entry {
                slot: Slot::InProgress,
                expires,
                seq,
            },
        );
        if state.order.len() > self.capacity.saturating_mul(2) {
            compact(&mut state);
        }
        true
    }

    /// Stores the answer for `key` (kept `ttl` from `now`). Does nothing if the entry was evicted meanwhile.
    pub(crate) fn complete(&self, key: &CacheKey, bytes: Arc<[u8]>, now: Instant) {
        if let Some(entry) = self.state().entries.get_mut(key) {
            entry.slot = Slot::Ready(bytes);
            entry.expires = now + self.ttl;
        }
    }

    /// Forgets an in-progress `key` that will get no answer, so a retransmission is evaluated afresh.
    pub(crate) fn abandon(&self, key: &CacheKey) {
        let mut state = self.state();
        if state
            .entries
            .get(key)
            .is_some_and(|entry| matches!(entry.slot, Slot::InProgress))
        {
            state.entries.remove(key);
        }
    }

    /// Removes expired entries, oldest first, up to the first one still live. Entries expire about in the
    /// order they were made (an answer `ttl` after its request, an unanswered request `request_timeout` later),
    /// so this touches what it removes and little else; a pass over every entry held the lock for milliseconds
    /// at tens of thousands of entries. An expired entry left behind a live one is a miss to `lookup` and goes
    /// at a later sweep or by eviction.
    pub(crate) fn sweep(&self, now: Instant) {
        let mut state = self.state();
        loop {
            let expired = match state.order.front() {
                None => break,
                Some((seq, key)) => match state.entries.get(key) {
                    Some(entry) if entry.seq == *seq => {
                        if entry.expires > now {
                            break;
                        }
                        true
                    }
                    // A line whose entry was removed or made again.
                    _ => false,
                },
            };
            if let Some((_, key)) = state.order.pop_front()
                && expired
            {
                state.entries.remove(&key);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state().entries.len()
    }
}

/// Removes the oldest live entry; `false` if there is none.
fn evict_oldest(state: &mut State) -> bool {
    while let Some((seq, key)) = state.order.pop_front() {
        if state
            .entries
            .get(&key)
            .is_some_and(|entry| entry.seq == seq)
        {
            state.entries.remove(&key);
            return true;
        }
    }
    false
}

/// Drops the lines of `order` whose entry is gone.
fn compact(state: &mut State) {
    let State { entries, order, .. } = state;
    order.retain(|(seq, key)| entries.get(key).is_some_and(|entry| entry.seq == *seq));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    fn key(identifier: u8, port: u16) -> CacheKey {
        CacheKey {
            client: Arc::from("nas"),
            source: SocketAddr::from(([127, 0, 0, 1], port)),
            identifier,
            authenticator: [identifier; 16],
        }
    }

    const TTL: Duration = Duration::from_secs(30);
    const TIMEOUT: Duration = Duration::from_secs(10);

    #[test]
    fn miss_then_in_progress_then_ready() {
        let cache = DuplicateCache::new(TTL, TIMEOUT, 10);
        let t0 = Instant::now();
        assert_eq!(cache.lookup(&key(1, 1000), t0), Lookup::Miss);
        assert!(cache.begin(key(1, 1000), t0));
        assert!(
            !cache.begin(key(1, 1000), t0),
            "a second copy must not start a second evaluation"
        );
        assert_eq!(cache.lookup(&key(1, 1000), t0), Lookup::InProgress);
        cache.complete(&key(1, 1000), Arc::from(&b"answer"[..]), t0);
        assert_eq!(
            cache.lookup(&key(1, 1000), t0 + TTL - Duration::from_millis(1)),
            Lookup::Ready(Arc::from(&b"answer"[..]))
        );
        assert_eq!(cache.lookup(&key(1, 1000), t0 + TTL), Lookup::Miss);
        // Another source port, identifier or authenticator is another request.
        assert_eq!(cache.lookup(&key(1, 1001), t0), Lookup::Miss);
        let mut other = key(1, 1000);
        other.authenticator[0] ^= 1;
        assert_eq!(cache.lookup(&other, t0), Lookup::Miss);
    }

    #[test]
    fn abandoned_requests_are_evaluated_again_but_answers_stay() {
        let cache = DuplicateCache::new(TTL, TIMEOUT, 10);
        let t0 = Instant::now();
        assert!(cache.begin(key(1, 1), t0));
        cache.abandon(&key(1, 1));
        assert_eq!(cache.lookup(&key(1, 1), t0), Lookup::Miss);
        assert!(cache.begin(key(1, 1), t0));
        cache.complete(&key(1, 1), Arc::from(&b"x"[..]), t0);
        cache.abandon(&key(1, 1));
        assert!(matches!(cache.lookup(&key(1, 1), t0), Lookup::Ready(_)));
    }

    #[test]
    fn capacity_evicts_the_oldest_first() {
        let cache = DuplicateCache::new(TTL, TIMEOUT, 3);
        let t0 = Instant::now();
        for id in 0..5 {
            assert!(cache.begin(key(id, 1), t0));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.lookup(&key(0, 1), t0), Lookup::Miss);
        assert_eq!(cache.lookup(&key(1, 1), t0), Lookup::Miss);
        assert_eq!(cache.lookup(&key(4, 1), t0), Lookup::InProgress);
        // Stale order lines never grow without bound.
        for round in 0..100u8 {
            assert!(cache.begin(key(round, 2), t0));
            cache.abandon(&key(round, 2));
        }
        assert!(cache.state().order.len() <= 6);
    }

    #[test]
    fn sweep_removes_expired_entries_only() {
        let cache = DuplicateCache::new(TTL, TIMEOUT, 10);
        let t0 = Instant::now();
        assert!(cache.begin(key(1, 1), t0));
        cache.complete(&key(1, 1), Arc::from(&b"x"[..]), t0);
        assert!(cache.begin(key(2, 1), t0)); // in progress: lives TTL + TIMEOUT
        cache.sweep(t0 + TTL);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.lookup(&key(2, 1), t0 + TTL), Lookup::InProgress);
        cache.sweep(t0 + TTL + TIMEOUT);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn sweep_stops_at_the_oldest_live_entry() {
        let cache = DuplicateCache::new(TTL, TIMEOUT, 10);
        let t0 = Instant::now();
        assert!(cache.begin(key(1, 1), t0)); // in progress: lives TTL + TIMEOUT
        assert!(cache.begin(key(2, 1), t0));
        cache.complete(&key(2, 1), Arc::from(&b"x"[..]), t0);
        assert!(cache.begin(key(3, 1), t0));
        cache.abandon(&key(3, 1)); // a stale line in the queue
        cache.sweep(t0 + TTL);
        // The older in-progress entry holds the sweep back; the expired answer behind it is already a miss.
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.lookup(&key(2, 1), t0 + TTL), Lookup::Miss);
        cache.sweep(t0 + TTL + TIMEOUT);
        assert_eq!(cache.len(), 0);
        assert!(
            cache.state().order.is_empty(),
            "stale lines go with the sweep"
        );
    }
}
