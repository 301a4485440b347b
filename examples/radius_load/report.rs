//! Counting and reporting: live counters shared by the workers, the progress line, the final human table and
//! the one JSON line. Latencies are microseconds in an HDR histogram; the report shows milliseconds.
//! No I/O here: the caller prints what these functions return.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

use crate::LoadError;
use crate::population::Mode;

/// Largest latency recorded exactly: one hour in microseconds (larger values saturate).
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Live counters, bumped by every worker. With `--dual` every request is two datagrams: `sent`, the
/// outcomes and the timeouts count datagrams and replies, `double_accepts` counts requests.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) sent: AtomicU64,
    pub(crate) accept: AtomicU64,
    pub(crate) reject: AtomicU64,
    pub(crate) challenge: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) bad: AtomicU64,
    pub(crate) late: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    pub(crate) double_accepts: AtomicU64,
    /// Rejects of a code equal to the user's code of the step before: the server took that earlier login as
    /// this step (a code is accepted once, as the latest step it matches), so this one reads as a replay.
    pub(crate) code_collisions: AtomicU64,
}

/// Adds `n` to a counter.
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) sent: u64,
    pub(crate) accept: u64,
    pub(crate) reject: u64,
    pub(crate) challenge: u64,
    pub(crate) timeouts: u64,
    pub(crate) bad: u64,
    pub(crate) late: u64,
    pub(crate) send_errors: u64,
    pub(crate) double_accepts: u64,
    pub(crate) code_collisions: u64,
}

impl Totals {
    pub(crate) fn snapshot(&self) -> Counts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counts {
            sent: get(&self.sent),
            accept: get(&self.accept),
            reject: get(&self.reject),
            challenge: get(&self.challenge),
            timeouts: get(&self.timeouts),
            bad: get(&self.bad),
            late: get(&self.late),
            send_errors: get(&self.send_errors),
            double_accepts: get(&self.double_accepts),
            code_collisions: get(&self.code_collisions),
        }
    }
}

impl Counts {
    /// Verified Access-Accept, Access-Reject and Access-Challenge replies.
    pub(crate) const fn answered(&self) -> u64 {
        self.accept + self.reject + self.challenge
    }
}

/// An empty latency histogram (1 µs to 1 h, 3 significant figures).
pub(crate) fn new_histogram() -> Result<Histogram<u64>, LoadError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .map_err(|e| LoadError::Histogram(e.to_string()))
}

/// One progress line.
pub(crate) fn progress_line(elapsed_secs: f64, counts: &Counts) -> String {
    format!(
        "[{elapsed_secs:6.1}s] sent {} accept {} reject {} challenge {} timeouts {} bad {}",
        counts.sent, counts.accept, counts.reject, counts.challenge, counts.timeouts, counts.bad
    )
}

/// The result of a run.
#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) mode: Mode,
    pub(crate) counts: Counts,
    /// From the first request to the last request sent or verified reply received, whichever is later.
    pub(crate) seconds: f64,
    pub(crate) latency: Histogram<u64>,
    pub(crate) dual: bool,
    /// The `--probe` streams, each with its own counts and histogram.
    pub(crate) probes: Vec<Summary>,
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

impl Summary {
    /// Verified replies per second.
    pub(crate) fn rps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.counts.answered() as f64 / self.seconds
        } else {
            0.0
        }
    }

    fn quantile_ms(&self, quantile: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    /// True when every reply verified and no code was accepted twice, in the main stream and every probe.
    pub(crate) fn passed(&self) -> bool {
        self.counts.bad == 0
            && self.counts.double_accepts == 0
            && self.probes.iter().all(Self::passed)
    }

    /// The human-readable table.
    pub(crate) fn table(&self) -> String {
        let c = &self.counts;
        let mut out = String::new();
        let rows = [
            ("mode", self.mode.as_str().to_owned()),
            ("sent", c.sent.to_string()),
            ("accept", c.accept.to_string()),
            ("reject", c.reject.to_string()),
            ("challenge", c.challenge.to_string()),
            ("timeouts", c.timeouts.to_string()),
            ("bad (unverifiable)", c.bad.to_string()),
            ("late (after timeout)", c.late.to_string()),
            ("send errors", c.send_errors.to_string()),
            ("seconds", format!("{:.3}", self.seconds)),
            ("throughput (replies/s)", format!("{:.1}", self.rps())),
            ("latency p50 ms", format!("{:.3}", self.quantile_ms(0.50))),
            ("latency p90 ms", format!("{:.3}", self.quantile_ms(0.90))),
            ("latency p99 ms", format!("{:.3}", self.quantile_ms(0.99))),
            ("latency max ms", format!("{:.3}", self.max_ms())),
        ];
        for (name, value) in rows {
            let _ = writeln!(out, "{name:<24} {value:>14}");
        }
        if self.dual {
            let _ = writeln!(out, "{:<24} {:>14}", "double accepts", c.double_accepts);
        }
        for probe in &self.probes {
            let p = &probe.counts;
            let _ = writeln!(
                out,
                "probe {:<18} sent {} answered {} timeouts {} bad {}; {:.1}/s; p50 {:.3} p99 {:.3} max {:.3} ms",
                probe.mode.as_str(),
                p.sent,
                p.answered(),
                p.timeouts,
                p.bad,
                probe.rps(),
                probe.quantile_ms(0.50),
                probe.quantile_ms(0.99),
                probe.max_ms(),
            );
        }
        out
    }

    /// The final JSON object (one line).
    pub(crate) fn json(&self) -> serde_json::Value {
        let c = &self.counts;
        serde_json::json!({
            "mode": self.mode.as_str(),
            "sent": c.sent,
            "accept": c.accept,
            "reject": c.reject,
            "code_collisions": c.code_collisions,
            "challenge": c.challenge,
            "timeouts": c.timeouts,
            "bad": c.bad,
            "late": c.late,
            "send_errors": c.send_errors,
            "seconds": round3(self.seconds),
            "rps": round3(self.rps()),
            "p50_ms": round3(self.quantile_ms(0.50)),
            "p90_ms": round3(self.quantile_ms(0.90)),
            "p99_ms": round3(self.quantile_ms(0.99)),
            "max_ms": round3(self.max_ms()),
            "double_accepts": if self.dual { Some(c.double_accepts) } else { None },
            "probes": self.probes.iter().map(Self::json).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(latencies_us: &[u64]) -> Summary {
        let mut latency = new_histogram().unwrap();
        for &us in latencies_us {
            latency.saturating_record(us);
        }
        Summary {
            mode: Mode::OtpOnly,
            counts: Counts {
                sent: 12,
                accept: 6,
                reject: 3,
                challenge: 1,
                timeouts: 2,
                ..Counts::default()
            },
            seconds: 2.0,
            latency,
            dual: false,
            probes: Vec::new(),
        }
    }

    #[test]
    fn json_line_has_every_field_in_milliseconds() {
        let latencies: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        let json = summary(&latencies).json();
        assert_eq!(json["mode"], "otp-only");
        assert_eq!(json["sent"], 12);
        assert_eq!(json["accept"], 6);
        assert_eq!(json["timeouts"], 2);
        assert_eq!(json["rps"], 5.0, "10 answered in 2 s");
        // 3 significant figures: HDR reports the top of the value's bucket, within 0.1 %.
        let close = |key: &str, expected: f64| {
            let got = json[key].as_f64().unwrap();
            assert!((got - expected).abs() <= expected / 1000.0, "{key}: {got}");
        };
        close("p50_ms", 50.0);
        close("p90_ms", 90.0);
        close("p99_ms", 99.0);
        close("max_ms", 100.0);
        assert!(json["double_accepts"].is_null());
        assert_eq!(json["probes"], serde_json::json!([]));
        let line = json.to_string();
        assert!(!line.contains('\n'));
    }

    #[test]
    fn table_and_verdict() {
        let mut s = summary(&[]);
        assert!(s.table().contains("throughput (replies/s)"));
        assert!(s.passed());
        assert_eq!(s.json()["p99_ms"], 0.0);
        s.dual = true;
        s.counts.double_accepts = 1;
        assert!(!s.passed());
        assert!(s.table().contains("double accepts"));
        assert_eq!(s.json()["double_accepts"], 1);
    }

    #[test]
    fn probes_have_their_own_figures_and_fail_the_run_on_a_bad_reply() {
        let mut s = summary(&[1000]);
        let mut probe = summary(&[2000, 4000]);
        probe.mode = Mode::StatusServer;
        s.probes.push(probe);
        let json = s.json();
        assert_eq!(json["probes"][0]["mode"], "status-server");
        // 3 significant figures: HDR reports the top of the value's bucket.
        let probe_max = json["probes"][0]["max_ms"].as_f64().unwrap();
        assert!((4.0..4.01).contains(&probe_max), "{probe_max}");
        let main_max = json["max_ms"].as_f64().unwrap();
        assert!(
            (1.0..1.01).contains(&main_max),
            "the main stream's own: {main_max}"
        );
        assert!(s.table().contains("probe status-server"));
        assert!(s.passed());
        s.probes[0].counts.bad = 1;
        assert!(!s.passed());
    }
}
