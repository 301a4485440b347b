//! The node's periodic readings: the locked-account and console-session counts (a query each every 30 s, for
//! `motpd_accounts_locked` and `motpd_console_sessions`), the kernel clock's synchronisation (at start and every
//! minute: `motpd_clock_synchronised`, a warning at start and whenever it stops being synchronised, an info line
//! when it is again), steps of the wall clock (every 2 s: a warning and `motpd_clock_steps_total{direction}` when
//! it moved more than 5 s against the monotonic clock) and the recorder's upkeep (drains the histograms' sample
//! buffers between scrapes).

use std::sync::Arc;
use std::time::Duration;

use metrics::Gauge;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, ClockStep, StepWatch, SystemClock};
use crate::monitoring::Globals;
use crate::runtime::clock_sync::{self, ClockSync};
use crate::store::{Store, StoreError};

/// How often the locked accounts and the console sessions are counted.
const LOCKED_COUNT: Duration = Duration::from_secs(30);
/// How often the clock's state is read.
const CLOCK_CHECK: Duration = Duration::from_secs(60);
/// How often the recorder's histogram buffers are drained.
const UPKEEP: Duration = Duration::from_secs(5);
/// How often the wall clock is compared with the monotonic clock.
const STEP_CHECK: Duration = Duration::from_secs(2);
/// A jump larger than this is a step (whole-second readings and a late tick stay well below it).
const STEP_THRESHOLD: Duration = Duration::from_secs(5);

/// The warning an admin sees while the clock is not synchronised.
pub(crate) const CLOCK_WARNING: &str =
    "clock is not synchronised: TOTP codes may be refused; run chrony";

/// Starts the readings; they stop when `token` is cancelled.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut locked = tokio::time::interval(LOCKED_COUNT);
        let mut clock_check = tokio::time::interval(CLOCK_CHECK);
        let mut upkeep = tokio::time::interval(UPKEEP);
        let mut step_check = tokio::time::interval(STEP_CHECK);
        let mut clock_state = ClockWatch::default();
        let mut steps = StepWatch::new(STEP_THRESHOLD);
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = locked.tick() => {
                    let now = clock.now();
                    let locked = store.count_locked_accounts(now).await;
                    set_count(locked, |m| &m.accounts_locked, "locked_count");
                    let sessions = store.count_admin_sessions(now).await;
                    set_count(sessions, |m| &m.console_sessions, "session_count");
                }
                _ = clock_check.tick() => clock_state.observe(clock_sync::read()),
                _ = step_check.tick() => {
                    if let Some(step) =
                        steps.observe(std::time::Instant::now(), SystemClock::now_millis())
                    {
                        report_step(step);
                    }
                }
                _ = upkeep.tick() => crate::monitoring::upkeep(),
            }
        }
    })
}

/// Sets the gauge `gauge` picks to a count read from the store; a failure is counted under the store
/// `operation` and logged.
fn set_count(
    counted: Result<u64, StoreError>,
    gauge: fn(&Globals) -> &Gauge,
    operation: &'static str,
) {
    match counted {
        Ok(count) => {
            if let Some(metrics) = crate::monitoring::global() {
                gauge(metrics).set(count as f64);
            }
        }
        Err(error) => {
            crate::monitoring::store_error(operation);
            tracing::warn!(%error, operation, "cannot count for a gauge");
        }
    }
}

/// Logs and counts a step of the system clock. The replay guard keeps refusing the codes of steps seen before
/// a backward step, and lock ends are wall-clock times: they come later (backward) or sooner (forward) by the
/// step.
fn report_step(step: ClockStep) {
    crate::monitoring::clock_step(step.direction());
    match step {
        ClockStep::Backward(_) => tracing::warn!(
            seconds = step.seconds(),
            "the system clock went backward: codes of the repeated TOTP steps stay refused, and running \
             account locks last longer by as much; check the time source"
        ),
        ClockStep::Forward(_) => tracing::warn!(
            seconds = step.seconds(),
            "the system clock jumped forward: running account locks end sooner by as much; check the time \
             source"
        ),
    }
}

/// What the clock's last reading was, so that a state is logged once per change.
#[derive(Debug, Default)]
struct ClockWatch {
    last: Option<bool>,
}

/// A change worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClockChange {
    /// Not synchronised at start, or no longer synchronised (a warning).
    Lost,
    /// Synchronised again (info).
    Regained,
}

impl ClockWatch {
    /// Sets the gauge and logs a change (a clock not synchronised at the first reading counts as one).
    fn observe(&mut self, now: ClockSync) {
        if let Some(metrics) = crate::monitoring::global() {
            metrics
                .clock_synchronised
                .set(if now.is_synchronised() { 1.0 } else { 0.0 });
        }
        match self.change(now.is_synchronised()) {
            Some(ClockChange::Lost) => tracing::warn!(state = now.as_str(), "{CLOCK_WARNING}"),
            Some(ClockChange::Regained) => {
                tracing::info!(state = now.as_str(), "clock is synchronised again");
            }
            None => {}
        }
    }

    fn change(&mut self, synchronised: bool) -> Option<ClockChange> {
        match (self.last.replace(synchronised), synchronised) {
            (Some(true) | None, false) => Some(ClockChange::Lost),
            (Some(false), true) => Some(ClockChange::Regained),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_logged_at_start_when_unsynchronised_and_once_per_change() {
        let mut watch = ClockWatch::default();
        assert_eq!(watch.change(false), Some(ClockChange::Lost));
        assert_eq!(watch.change(false), None);
        assert_eq!(watch.change(true), Some(ClockChange::Regained));
        assert_eq!(watch.change(true), None);
        assert_eq!(watch.change(false), Some(ClockChange::Lost));
        let mut synchronised_at_start = ClockWatch::default();
        assert_eq!(synchronised_at_start.change(true), None);
    }
}
