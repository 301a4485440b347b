//! The process's metrics: the one Prometheus recorder (installed once per process, so that tests running many
//! nodes in one process share it and every counter is cumulative across them), the name, unit and help text of
//! every metric, and the handles the hot paths keep so that counting costs an atomic add, not a registry
//! lookup.
//!
//! Code that counts asks [`global`] for the handles; before [`install`] (unit tests, benches, the CLI) it gets
//! `None` and counts nothing. The admin listener (`server::web::admin`) renders the text with [`render`].

mod console;
mod names;

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Gauge, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use console::{ConsoleAction, ConsoleCounters, ConsoleLogin};
pub use names::*;

/// Upper bounds (seconds) of the latency histograms' buckets: 0.5 ms (a cached login without a password
/// check) to 10 s (the RADIUS request time-out, an SMTP relay that hangs).
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The installed recorder's handle and the process-wide metric handles.
struct Installed {
    handle: PrometheusHandle,
    globals: Globals,
}

static INSTALLED: OnceLock<Option<Installed>> = OnceLock::new();

/// Handles of the metrics whose labels are known in advance, used off the RADIUS transport.
#[derive(Debug)]
pub struct Globals {
    /// Time a password check waited for a hashing thread to start it.
    pub hashing_wait: Histogram,
    /// Time of the accepted-login commit (replay guard, success bookkeeping, audit row).
    pub store_commit: Histogram,
    sms_ok: Histogram,
    sms_failed: Histogram,
    mail_ok: Histogram,
    mail_failed: Histogram,
    /// Accounts locked now.
    pub accounts_locked: Gauge,
    /// Console sessions alive now.
    pub console_sessions: Gauge,
    /// Audit events waiting for the writer.
    pub audit_queue: Gauge,
    /// RADIUS requests being evaluated.
    pub in_flight: Gauge,
    /// 1 while the kernel clock is synchronised.
    pub clock_synchronised: Gauge,
}

impl Globals {
    fn new() -> Self {
        // Registered at zero, so that a rate over them exists before the first failure.
        for operation in STORE_OPERATIONS {
            metrics::counter!(STORE_ERRORS, "operation" => operation).absolute(0);
            metrics::counter!(STORE_FULL, "operation" => operation).absolute(0);
        }
        for operation in DIRECTORY_OPERATIONS {
            metrics::counter!(DIRECTORY_ERRORS, "operation" => operation).absolute(0);
        }
        for direction in CLOCK_STEP_DIRECTIONS {
            metrics::counter!(CLOCK_STEPS, "direction" => direction).absolute(0);
        }
        // On a node without the console too, so that the dashboard's panel and the alert find the series.
        ConsoleCounters::new();
        let result =
            |name: &'static str, value: &'static str| metrics::histogram!(name, "result" => value);
        Self {
            hashing_wait: metrics::histogram!(HASHING_QUEUE_WAIT),
            store_commit: metrics::histogram!(STORE_COMMIT),
            sms_ok: result(SMS_SEND, "ok"),
            sms_failed: result(SMS_SEND, "failed"),
            mail_ok: result(MAIL_SEND, "ok"),
            mail_failed: result(MAIL_SEND, "failed"),
            accounts_locked: metrics::gauge!(ACCOUNTS_LOCKED),
            console_sessions: metrics::gauge!(CONSOLE_SESSIONS),
            audit_queue: metrics::gauge!(AUDIT_QUEUE),
            in_flight: metrics::gauge!(IN_FLIGHT),
            clock_synchronised: metrics::gauge!(CLOCK_SYNCHRONISED),
        }
    }

    /// Records how long an SMS gateway exchange took and whether it succeeded.
    pub fn sms_sent(&self, took: Duration, ok: bool) {
        if ok { &self.sms_ok } else { &self.sms_failed }.record(took);
    }

    /// Records how long an SMTP exchange took and whether it succeeded.
    pub fn mail_sent(&self, took: Duration, ok: bool) {
        if ok { &self.mail_ok } else { &self.mail_failed }.record(took);
    }
}

/// Installs the process's Prometheus recorder (first call; later calls do nothing) and describes every metric.
/// Returns whether metrics are recorded: `false` if some other recorder was installed first (logged).
pub fn install() -> bool {
    INSTALLED
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .map(PrometheusBuilder::install_recorder);
            match recorder {
                Ok(Ok(handle)) => {
                    names::describe();
                    Some(Installed {
                        handle,
                        globals: Globals::new(),
                    })
                }
                Ok(Err(error)) | Err(error) => {
                    tracing::warn!(%error, "metrics are off: cannot install the Prometheus recorder");
                    None
                }
            }
        })
        .is_some()
}

/// The process-wide handles; `None` before [`install`] (nothing is counted then).
pub fn global() -> Option<&'static Globals> {
    INSTALLED
        .get()?
        .as_ref()
        .map(|installed| &installed.globals)
}

/// The Prometheus text of every metric; `None` when no recorder is installed.
pub fn render() -> Option<String> {
    INSTALLED.get()?.as_ref().map(|i| i.handle.render())
}

/// Drains the histograms' sample buffers into their buckets (bounds memory between scrapes).
pub fn upkeep() {
    if let Some(Some(installed)) = INSTALLED.get() {
        installed.handle.run_upkeep();
    }
}

/// Sets `motpd_build_info{version, backend} 1`.
pub fn set_build_info(backend: &'static str) {
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "backend" => backend)
        .set(1.0);
}

/// The operations whose store failures are counted (the `operation` label of `motpd_store_errors_total`).
pub const STORE_OPERATIONS: [&str; 8] = [
    "login",
    "accounting",
    "audit_write",
    "client_reload",
    "purge",
    "locked_count",
    "session_count",
    "readiness",
];

/// The operations whose directory failures are counted (the `operation` label of
/// `motpd_directory_errors_total`).
pub const DIRECTORY_OPERATIONS: [&str; 3] = ["bind", "search", "sync"];

/// Counts a directory failure of `operation` (one of [`DIRECTORY_OPERATIONS`]).
pub fn directory_error(operation: &'static str) {
    if global().is_some() {
        metrics::counter!(DIRECTORY_ERRORS, "operation" => operation).increment(1);
    }
}

/// The `direction` label of `motpd_clock_steps_total`.
pub const CLOCK_STEP_DIRECTIONS: [&str; 2] = ["backward", "forward"];

/// Counts a step of the wall clock (`direction`: one of [`CLOCK_STEP_DIRECTIONS`]).
pub fn clock_step(direction: &'static str) {
    if global().is_some() {
        metrics::counter!(CLOCK_STEPS, "direction" => direction).increment(1);
    }
}

/// Counts a store failure of `operation` (one of [`STORE_OPERATIONS`]).
pub fn store_error(operation: &'static str) {
    if global().is_some() {
        metrics::counter!(STORE_ERRORS, "operation" => operation).increment(1);
    }
}

/// Counts a store failure of `operation` and, when the database's storage is full, counts that too and says
/// so in the log (at most once per [`FULL_LOG_INTERVAL`]: a full volume fails every write until space is
/// freed, and the per-request lines only name the driver's error).
pub fn store_failed(operation: &'static str, error: &crate::store::StoreError) {
    store_error(operation);
    if !error.is_storage_full() {
        return;
    }
    if global().is_some() {
        metrics::counter!(STORE_FULL, "operation" => operation).increment(1);
    }
    let now = std::time::Instant::now();
    let log = LAST_FULL_LOG
        .lock()
        .map(|mut last| due(&mut last, now, FULL_LOG_INTERVAL))
        .unwrap_or(true);
    if log {
        tracing::error!(
            operation, %error,
            "database storage is full: writes fail and logins fail closed (no Accept) until space is freed"
        );
    }
}

/// How often "database storage is full" is logged while it lasts.
pub const FULL_LOG_INTERVAL: Duration = Duration::from_secs(10);
static LAST_FULL_LOG: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);

/// Whether a line logged at most every `interval` is due at `now` (and if so, notes `now`).
fn due(last: &mut Option<std::time::Instant>, now: std::time::Instant, interval: Duration) -> bool {
    if last.is_some_and(|at| now.saturating_duration_since(at) < interval) {
        return false;
    }
    *last = Some(now);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_storage_full_line_is_logged_once_per_interval() {
        let start = std::time::Instant::now();
        let interval = Duration::from_secs(10);
        let mut last = None;
        assert!(due(&mut last, start, interval));
        assert!(!due(&mut last, start + Duration::from_secs(9), interval));
        assert!(due(&mut last, start + Duration::from_secs(10), interval));
        assert!(!due(&mut last, start + Duration::from_secs(11), interval));
    }
}
