//! Which user the next request is for, shared by every socket worker.
//!
//! Users are taken round robin, in order or (`--scattered`) in a fixed order that jumps across the population,
//! as logins arrive at a gateway: no two neighbours in a row, so a server's rows are touched all over its
//! tables rather than page after page. In the OTP modes a server accepts a code once, so each user is used
//! at most once per TOTP step: when the population is exhausted within the current step the schedule either
//! stops (a peak measurement) or, with `sustained`, tells the caller to wait for the next step. `--requests`
//! caps the total. Pure: the current Unix time is a parameter; the state sits behind a mutex.

use std::sync::{Mutex, PoisonError};

use crate::population::PERIOD;

/// What a worker should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send a request for the user at 0-based `user`, with the code of `step`.
    Send { user: u64, step: u64 },
    /// Every user was used in this step: ask again at this Unix second (the next step's start).
    WaitUntil { unix_secs: u64 },
    /// Send nothing more.
    Stop(StopReason),
}

/// Why the schedule stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// `--requests` were sent.
    RequestLimit,
    /// Every user was used within this step (OTP modes without `--sustained`).
    Exhausted { step: u64 },
}

#[derive(Debug, Default)]
struct State {
    issued: u64,
    cursor: u64,
    step: Option<u64>,
    used_in_step: u64,
    stopped: Option<StopReason>,
}

/// The shared schedule.
#[derive(Debug)]
pub(crate) struct Schedule {
    users: u64,
    /// Scattered order: the cursor's user is `cursor * stride % users` (`stride` coprime with `users`, so every
    /// user comes once per round); 1 is in order.
    stride: u64,
    once_per_step: bool,
    sustained: bool,
    max_requests: Option<u64>,
    state: Mutex<State>,
}

impl Schedule {
    /// `users` must be at least 1 (checked by the caller).
    pub(crate) fn new(
        users: u64,
        once_per_step: bool,
        sustained: bool,
        max_requests: Option<u64>,
    ) -> Self {
        Self {
            users: users.max(1),
            stride: 1,
            once_per_step,
            sustained,
            max_requests,
            state: Mutex::new(State::default()),
        }
    }

    /// Takes the users in a scattered order: each once per round, neighbours far apart (a stride near the
    /// golden ratio of the population, coprime with it).
    pub(crate) fn scattered(mut self) -> Self {
        let users = self.users;
        let mut stride = ((users as f64) * 0.618_033_988_7) as u64 | 1;
        while gcd(stride, users) != 1 {
            stride += 1;
        }
        self.stride = stride; // odd, so at least 1
        self
    }

    /// The next request at `now_unix` (seconds).
    pub(crate) fn next(&self, now_unix: u64) -> Next {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(reason) = state.stopped {
            return Next::Stop(reason);
        }
        if self.max_requests.is_some_and(|max| state.issued >= max) {
            state.stopped = Some(StopReason::RequestLimit);
            return Next::Stop(StopReason::RequestLimit);
        }
        let step = now_unix / PERIOD;
        if state.step != Some(step) {
            state.step = Some(step);
            state.used_in_step = 0;
        }
        if self.once_per_step && state.used_in_step >= self.users {
            if self.sustained {
                return Next::WaitUntil {
                    unix_secs: (step + 1) * PERIOD,
                };
            }
            state.stopped = Some(StopReason::Exhausted { step });
            return Next::Stop(StopReason::Exhausted { step });
        }
        let user = ((u128::from(state.cursor % self.users) * u128::from(self.stride))
            % u128::from(self.users)) as u64;
        state.cursor += 1;
        state.used_in_step += 1;
        state.issued += 1;
        Next::Send { user, step }
    }

    /// Why the schedule stopped, if it did.
    pub(crate) fn stop_reason(&self) -> Option<StopReason> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stopped
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scattered_order_takes_every_user_once_per_round_and_jumps() {
        for users in [1, 2, 10, 1000, 100_000] {
            let schedule = Schedule::new(users, true, false, None).scattered();
            let order = users_of(&schedule, 0, users as usize);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..users).collect::<Vec<_>>(), "{users} users");
            if users >= 1000 {
                let close = order
                    .windows(2)
                    .filter(|w| w[0].abs_diff(w[1]) < 100)
                    .count();
                assert_eq!(close, 0, "neighbours in a row among {users} users");
            }
        }
    }

    fn users_of(schedule: &Schedule, now: u64, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| match schedule.next(now) {
                Next::Send { user, .. } => user,
                other => panic!("expected a request, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn otp_stops_when_the_population_is_exhausted_within_a_step() {
        let schedule = Schedule::new(3, true, false, None);
        let t = 100 * PERIOD + 5;
        assert_eq!(users_of(&schedule, t, 3), vec![0, 1, 2]);
        let stop = Next::Stop(StopReason::Exhausted { step: 100 });
        assert_eq!(schedule.next(t + 1), stop);
        // Sticky, even once the next step has begun.
        assert_eq!(schedule.next(t + PERIOD), stop);
        assert_eq!(
            schedule.stop_reason(),
            Some(StopReason::Exhausted { step: 100 })
        );
    }

    #[test]
    fn sustained_waits_for_the_next_step_and_continues_in_order() {
        let schedule = Schedule::new(3, true, true, None);
        let t = 100 * PERIOD + 29;
        assert_eq!(users_of(&schedule, t, 2), vec![0, 1]);
        // A new step: the budget resets, the order goes on (user 2 first, then 0, 1).
        let t2 = t + 1;
        assert_eq!(schedule.next(t2), Next::Send { user: 2, step: 101 });
        assert_eq!(users_of(&schedule, t2, 2), vec![0, 1]);
        assert_eq!(
            schedule.next(t2),
            Next::WaitUntil {
                unix_secs: 102 * PERIOD
            }
        );
        assert_eq!(users_of(&schedule, 102 * PERIOD, 3), vec![2, 0, 1]);
    }

    #[test]
    fn password_only_cycles_and_the_request_limit_stops() {
        let schedule = Schedule::new(2, false, false, Some(5));
        assert_eq!(users_of(&schedule, 0, 5), vec![0, 1, 0, 1, 0]);
        assert_eq!(schedule.next(0), Next::Stop(StopReason::RequestLimit));
    }
}
