//! The drift window shared by TOTP and mOTP: try every step of a range, then classify the result as
//! valid, replayed or invalid against the last step the caller has already accepted.
//!
//! Pure and stateless: the caller stores the returned step (RFC 6238 §5.2: a code is accepted once).
//! Every step is tried (no early exit), and the caller's matcher compares in constant time.

/// Outcome of checking a time-based code against a window of steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verification {
    /// The code matches `step`, which is newer than the last accepted step. The caller must store
    /// `step` as the new last accepted step (atomically, e.g. `UPDATE … WHERE last_step < step`).
    Valid {
        /// Matched time step (`unix / period`, or `unix / 10` for mOTP).
        step: u64,
    },
    /// The code is right but only for a step at or before the last accepted one: it was already
    /// used ("code already used", not "wrong code").
    Replayed {
        /// Newest matching step (not newer than the last accepted step).
        step: u64,
    },
    /// The code matches no step of the window, or it is malformed.
    Invalid,
}

impl Verification {
    /// True only for [`Verification::Valid`].
    pub const fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

/// Tries every step in `first..=last` with `matches` and classifies the result.
///
/// A match newer than `last_used` wins over any replayed match. When several fresh steps match (a
/// code collision), the newest one is returned: storing it as `last_step` makes the same code
/// `Replayed` on every later attempt, whereas storing an older step would let it be used again.
pub(crate) fn scan(
    first: u64,
    last: u64,
    last_used: Option<u64>,
    mut matches: impl FnMut(u64) -> bool,
) -> Verification {
    let mut fresh = None;
    let mut replayed = None;
    for step in first..=last {
        // Evaluate the matcher for every step before looking at the result (no early exit).
        let hit = matches(step);
        let used = last_used.is_some_and(|used| step <= used);
        if hit && used {
            replayed = Some(step);
        } else if hit {
            fresh = Some(step);
        }
    }
    match (fresh, replayed) {
        (Some(step), _) => Verification::Valid { step },
        (None, Some(step)) => Verification::Replayed { step },
        (None, None) => Verification::Invalid,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn no_match_is_invalid() {
        assert_eq!(scan(10, 12, None, |_| false), Verification::Invalid);
        assert_eq!(scan(10, 12, Some(11), |_| false), Verification::Invalid);
    }

    #[test]
    fn fresh_match_is_valid() {
        assert_eq!(
            scan(10, 12, None, |s| s == 11),
            Verification::Valid { step: 11 }
        );
        assert_eq!(
            scan(10, 12, Some(10), |s| s == 11),
            Verification::Valid { step: 11 }
        );
    }

    #[test]
    fn match_at_or_before_last_used_is_replayed() {
        assert_eq!(
            scan(10, 12, Some(11), |s| s == 11),
            Verification::Replayed { step: 11 }
        );
        assert_eq!(
            scan(10, 12, Some(12), |s| s == 10),
            Verification::Replayed { step: 10 }
        );
        // last_used far in the future (clock went backwards): everything is replayed.
        assert_eq!(
            scan(10, 12, Some(99), |s| s == 12),
            Verification::Replayed { step: 12 }
        );
    }

    #[test]
    fn later_fresh_match_beats_replayed_one() {
        let two = |s| s == 10 || s == 12;
        assert_eq!(
            scan(10, 12, Some(10), two),
            Verification::Valid { step: 12 }
        );
        assert_eq!(
            scan(10, 12, Some(11), two),
            Verification::Valid { step: 12 }
        );
        assert_eq!(
            scan(10, 12, Some(12), two),
            Verification::Replayed { step: 12 }
        );
    }

    #[test]
    fn collision_returns_newest_step_so_reuse_is_replay() {
        let two = |s| s == 10 || s == 12;
        let first = scan(10, 12, None, two);
        assert_eq!(first, Verification::Valid { step: 12 });
        // The caller stores 12; the same code again is a replay, not a second success at step 10.
        assert_eq!(
            scan(10, 12, Some(12), two),
            Verification::Replayed { step: 12 }
        );
    }

    #[test]
    fn every_step_is_tried() {
        let mut calls = Vec::new();
        let v = scan(5, 9, None, |s| {
            calls.push(s);
            s == 5
        });
        assert_eq!(v, Verification::Valid { step: 5 });
        assert_eq!(calls, vec![5, 6, 7, 8, 9]);
    }

    #[test]
    fn is_valid_only_for_valid() {
        assert!(Verification::Valid { step: 1 }.is_valid());
        assert!(!Verification::Replayed { step: 1 }.is_valid());
        assert!(!Verification::Invalid.is_valid());
    }
}
