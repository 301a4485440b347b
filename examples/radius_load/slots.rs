//! The 256 Identifiers of one UDP socket: which are outstanding (with the Request Authenticator a reply must
//! verify against), their deadlines, and the authenticator of the last request per Identifier that timed
//! out (so a late reply is told apart from a bad one).
//!
//! Free Identifiers are reused first-in first-out, so a late reply usually finds its own request's
//! authenticator. Time is a parameter; no I/O.

use std::collections::VecDeque;

use tokio::time::Instant;

/// Identifiers per socket.
pub(crate) const IDS: usize = 256;

/// One request waiting for its replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub(crate) authenticator: [u8; 16],
    pub(crate) sent: Instant,
    /// Bit `i` set: server `i` has not answered yet.
    pub(crate) awaiting: u8,
    /// Servers that answered Access-Accept.
    pub(crate) accepts: u8,
    /// The user (0-based, of the stream's population) and the TOTP step of the request.
    pub(crate) user: u64,
    pub(crate) step: u64,
    /// The code equals the user's code of the step before (see `Totals::code_collisions`).
    pub(crate) collides: bool,
}

/// The Identifier table of one socket.
#[derive(Debug)]
pub(crate) struct IdTable {
    pending: Vec<Option<Pending>>,
    stale: Vec<Option<[u8; 16]>>,
    free: VecDeque<u8>,
    deadlines: VecDeque<(Instant, u8, [u8; 16])>,
}

impl IdTable {
    pub(crate) fn new() -> Self {
        Self {
            pending: vec![None; IDS],
            stale: vec![None; IDS],
            free: (0..=u8::MAX).collect(),
            deadlines: VecDeque::new(),
        }
    }

    /// Requests outstanding.
    pub(crate) fn outstanding(&self) -> usize {
        IDS - self.free.len()
    }

    /// Takes the longest-free Identifier for `request`, due at `deadline`; `None` when all 256 are in use.
    pub(crate) fn start(&mut self, request: Pending, deadline: Instant) -> Option<u8> {
        let id = self.free.pop_front()?;
        self.deadlines
            .push_back((deadline, id, request.authenticator));
        if let Some(slot) = self.pending.get_mut(usize::from(id)) {
            *slot = Some(request);
        }
        Some(id)
    }

    pub(crate) fn get(&self, id: u8) -> Option<&Pending> {
        self.pending.get(usize::from(id))?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: u8) -> Option<&mut Pending> {
        self.pending.get_mut(usize::from(id))?.as_mut()
    }

    /// Releases `id` (answered by every server, or never sent).
    pub(crate) fn finish(&mut self, id: u8) -> Option<Pending> {
        let done = self.pending.get_mut(usize::from(id))?.take()?;
        self.free.push_back(id);
        Some(done)
    }

    /// The authenticator of the last request on `id` that timed out.
    pub(crate) fn stale(&self, id: u8) -> Option<[u8; 16]> {
        *self.stale.get(usize::from(id))?
    }

    fn is_current(&self, id: u8, authenticator: &[u8; 16]) -> bool {
        self.get(id)
            .is_some_and(|p| &p.authenticator == authenticator)
    }

    /// The earliest deadline of a request still outstanding.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&(deadline, id, authenticator)) = self.deadlines.front() {
            if self.is_current(id, &authenticator) {
                return Some(deadline);
            }
            self.deadlines.pop_front();
        }
        None
    }

    /// Removes and returns the requests whose deadline is at or before `now`, remembering them as stale.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Pending> {
        let mut expired = Vec::new();
        while self.next_deadline().is_some_and(|deadline| deadline <= now) {
            let Some((_, id, _)) = self.deadlines.pop_front() else {
                break;
            };
            if let Some(done) = self.finish(id) {
                if let Some(slot) = self.stale.get_mut(usize::from(id)) {
                    *slot = Some(done.authenticator);
                }
                expired.push(done);
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn request(tag: u8, sent: Instant) -> Pending {
        Pending {
            authenticator: [tag; 16],
            sent,
            awaiting: 1,
            accepts: 0,
            user: 0,
            step: 0,
            collides: false,
        }
    }

    #[test]
    fn identifiers_are_reused_first_in_first_out() {
        let now = Instant::now();
        let mut table = IdTable::new();
        let a = table.start(request(1, now), now).unwrap();
        let b = table.start(request(2, now), now).unwrap();
        assert_eq!((a, b), (0, 1));
        assert_eq!(table.outstanding(), 2);
        assert!(table.finish(a).is_some());
        assert!(table.finish(a).is_none(), "finishing twice frees once");
        // 0 went to the back of the queue: the next ones are 2, 3, ...
        assert_eq!(table.start(request(3, now), now), Some(2));
        for _ in 3..IDS {
            assert!(table.start(request(4, now), now).is_some());
        }
        assert_eq!(table.start(request(5, now), now), Some(0));
        assert_eq!(table.start(request(6, now), now), None);
    }

    #[test]
    fn expiry_in_deadline_order_skips_answered_requests_and_keeps_stale() {
        let t0 = Instant::now();
        let mut table = IdTable::new();
        let a = table
            .start(request(1, t0), t0 + Duration::from_secs(1))
            .unwrap();
        let b = table
            .start(request(2, t0), t0 + Duration::from_secs(2))
            .unwrap();
        let c = table
            .start(request(3, t0), t0 + Duration::from_secs(3))
            .unwrap();
        table.finish(a);
        assert_eq!(table.next_deadline(), Some(t0 + Duration::from_secs(2)));
        let expired = table.expire(t0 + Duration::from_secs(2));
        assert_eq!(expired, vec![request(2, t0)]);
        assert_eq!(table.stale(b), Some([2; 16]));
        assert_eq!(table.stale(a), None);
        assert!(table.get(c).is_some());
        assert_eq!(table.outstanding(), 1);
        assert!(table.expire(t0 + Duration::from_secs(2)).is_empty());
        assert_eq!(table.expire(t0 + Duration::from_secs(9)).len(), 1);
        assert_eq!(table.next_deadline(), None);
    }
}
