//! The controller's metrics, as Prometheus text (`GET /metrics`).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::StoreStats;

/// Upper bounds (seconds) of the loop duration histogram's buckets.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

/// Counters and the loop duration histogram.
#[derive(Debug, Default)]
pub struct Metrics {
    pub bundles_staged: AtomicU64,
    pub notifications_sent: AtomicU64,
    pub notifications_failed: AtomicU64,
    pub requests: AtomicU64,
    pub agent_requests: AtomicU64,
    pub bundles_served: AtomicU64,
    pub bundles_not_modified: AtomicU64,
    pub objects_served: AtomicU64,
    pub status_reports: AtomicU64,
    pub shared_identity_requests: AtomicU64,
    /// Agent requests refused, by the check that failed.
    agent_refusals: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    loop_hist: Mutex<Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn observe_loop(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let Ok(mut h) = self.loop_hist.lock() else {
            return;
        };
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    pub fn refused(&self, code: &'static str) {
        if let Ok(mut m) = self.agent_refusals.lock() {
            *m.entry(code).or_default() += 1;
        }
    }

    /// The Prometheus text exposition of everything, with the store's counters.
    pub fn render(&self, store: &StoreStats) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "flotilla_bundles_staged_total",
            "Cluster bundles staged.",
            self.bundles_staged.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "flotilla_store_operations_total",
            "Store operations.",
            store.ops.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "flotilla_store_errors_total",
            "Store operations that failed.",
            store.errors.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "flotilla_notifications_sent_total",
            "Announcements delivered.",
            self.notifications_sent.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "flotilla_notifications_failed_total",
            "Announcements given up on.",
            self.notifications_failed.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "flotilla_http_requests_total",
            "API requests.",
            self.requests.load(Ordering::Relaxed),
        );
        for (name, help, v) in [
            (
                "flotilla_agent_requests_total",
                "Agent requests.",
                &self.agent_requests,
            ),
            (
                "flotilla_agent_bundles_served_total",
                "Bundles served to agents.",
                &self.bundles_served,
            ),
            (
                "flotilla_agent_bundles_not_modified_total",
                "Bundle polls answered 304.",
                &self.bundles_not_modified,
            ),
            (
                "flotilla_agent_objects_served_total",
                "Manifests served to agents.",
                &self.objects_served,
            ),
            (
                "flotilla_agent_status_reports_total",
                "Status reports received.",
                &self.status_reports,
            ),
            (
                "flotilla_agent_shared_identity_requests_total",
                "Agent requests accepted on the legacy shared identity.",
                &self.shared_identity_requests,
            ),
        ] {
            counter(&mut out, name, help, v.load(Ordering::Relaxed));
        }
        if let Ok(m) = self.agent_refusals.lock() {
            let name = "flotilla_agent_refusals_total";
            let _ = writeln!(
                out,
                "# HELP {name} Agent requests refused, by reason.\n# TYPE {name} counter"
            );
            for (code, n) in m.iter() {
                let _ = writeln!(out, "{name}{{reason=\"{code}\"}} {n}");
            }
        }
        if let Ok(h) = self.loop_hist.lock() {
            let name = "flotilla_reconcile_duration_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} Duration of a reconcile pass.\n# TYPE {name} histogram"
            );
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", h.counts[i]);
            }
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum {}", h.sum);
            let _ = writeln!(out, "{name}_count {}", h.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_loop(Duration::from_millis(3));
        m.observe_loop(Duration::from_millis(200));
        let text = m.render(&StoreStats::default());
        assert!(
            text.contains("flotilla_reconcile_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("flotilla_reconcile_duration_seconds_bucket{le=\"0.25\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("flotilla_reconcile_duration_seconds_count 2"),
            "{text}"
        );
    }
}
