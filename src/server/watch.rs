//! The node's periodic readings: the locked-account count (a query every 30 s, for `motpd_accounts_locked`), the
//! kernel clock's synchronisation (at start and every minute: `motpd_clock_synchronised`, a warning at start and
//! whenever it stops being synchronised, an info line when it is again) and the recorder's upkeep (drains the
//! histograms' sample buffers between scrapes).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::runtime::clock_sync::{self, ClockSync};
use crate::store::Store;

/// How often the locked accounts are counted.
const LOCKED_COUNT: Duration = Duration::from_secs(30);
/// How often the clock's state is read.
const CLOCK_CHECK: Duration = Duration::from_secs(60);
/// How often the recorder's histogram buffers are drained.
const UPKEEP: Duration = Duration::from_secs(5);

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
        let mut clock_state = ClockWatch::default();
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                _ = locked.tick() => count_locked(store.as_ref(), clock.now()).await,
                _ = clock_check.tick() => clock_state.observe(clock_sync::read()),
                _ = upkeep.tick() => crate::monitoring::upkeep(),
            }
        }
    })
}

async fn count_locked(store: &dyn Store, now: i64) {
    match store.count_locked_accounts(now).await {
        Ok(count) => {
            if let Some(metrics) = crate::monitoring::global() {
                metrics.accounts_locked.set(count as f64);
            }
        }
        Err(error) => {
            crate::monitoring::store_error("locked_count");
            tracing::warn!(%error, "cannot count the locked accounts");
        }
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
