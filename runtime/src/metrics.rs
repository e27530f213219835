//! The controller's metrics, as Prometheus text (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::StoreStats;

/// Upper bounds (seconds) of the loop duration histogram's buckets.
const BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 30.0, 60.0, 300.0,
];

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
    pub incidents_opened: AtomicU64,
    pub incidents_resolved: AtomicU64,
    pub notifications_deferred: AtomicU64,
    pub notifications_unrouted: AtomicU64,
    pub loop_overruns: AtomicU64,
    /// Shards this replica holds (a gauge).
    pub shards_held: AtomicU64,
    pub lease_renewals: AtomicU64,
    pub lease_takeovers: AtomicU64,
    /// Record writes refused because another replica holds the shard now.
    pub fenced_writes: AtomicU64,
    /// Shards given up because another replica took them.
    pub shards_dropped: AtomicU64,
    /// Deployments by state, stuck deployments by kind, silent agents (gauges).
    gauges: Mutex<Gauges>,
    ready_hist: Mutex<Histogram>,
    bootstrap_bundle_hist: Mutex<Histogram>,
    bootstrap_ready_hist: Mutex<Histogram>,
    /// Agent requests refused, by the check that failed.
    agent_refusals: Mutex<BTreeMap<&'static str, u64>>,
    loop_hist: Mutex<Histogram>,
}

/// Deployments by state, stuck deployments by kind, silent agents.
#[derive(Debug, Default)]
struct Gauges {
    by_state: BTreeMap<&'static str, u64>,
    stuck: BTreeMap<&'static str, u64>,
    silent: u64,
}

/// Upper bounds (seconds) of the time-to-Ready histograms' buckets.
const READY_BUCKETS: [f64; 10] = [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
    /// The last observation.
    last: f64,
}

fn observe(h: &Mutex<Histogram>, buckets: &[f64], d: Duration) {
    let secs = d.as_secs_f64();
    let Ok(mut h) = h.lock() else {
        return;
    };
    for (i, b) in buckets.iter().enumerate() {
        if secs <= *b {
            h.counts[i] += 1;
        }
    }
    h.count += 1;
    h.sum += secs;
}

fn render_hist(out: &mut String, name: &str, help: &str, h: &Mutex<Histogram>, buckets: &[f64]) {
    let Ok(h) = h.lock() else {
        return;
    };
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (i, b) in buckets.iter().enumerate() {
        let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", h.counts[i]);
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum);
    let _ = writeln!(out, "{name}_count {}", h.count);
}

impl Metrics {
    /// Time from a deployment to all its releases Ready.
    /// How many deployments were timed to Ready, and the bucket bounds (seconds) their 50th
    /// and 99th percentiles fall under (`f64::INFINITY`: above the last bucket).
    pub fn ready_quantiles(&self) -> (u64, Option<f64>, Option<f64>) {
        let Ok(h) = self.ready_hist.lock() else {
            return (0, None, None);
        };
        let bound = |q: f64| {
            if h.count == 0 {
                return None;
            }
            let want = (q * h.count as f64).ceil() as u64;
            Some(
                READY_BUCKETS
                    .iter()
                    .zip(h.counts.iter())
                    .find(|(_, c)| **c >= want)
                    .map_or(f64::INFINITY, |(b, _)| *b),
            )
        };
        (h.count, bound(0.5), bound(0.99))
    }

    pub fn observe_ready(&self, d: Duration) {
        observe(&self.ready_hist, &READY_BUCKETS, d);
    }

    /// Time from a cluster's registration to its agent's first bundle.
    pub fn observe_bootstrap_bundle(&self, d: Duration) {
        observe(&self.bootstrap_bundle_hist, &READY_BUCKETS, d);
    }

    /// Time from a cluster's registration to all its releases Ready.
    pub fn observe_bootstrap_ready(&self, d: Duration) {
        observe(&self.bootstrap_ready_hist, &READY_BUCKETS, d);
    }

    pub fn set_deployments(
        &self,
        by_state: BTreeMap<&'static str, u64>,
        stuck: BTreeMap<&'static str, u64>,
        silent: u64,
    ) {
        if let Ok(mut g) = self.gauges.lock() {
            *g = Gauges {
                by_state,
                stuck,
                silent,
            };
        }
    }

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
        h.last = secs;
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
        for (name, help, v) in [
            (
                "flotilla_lease_renewals_total",
                "Shard leases renewed.",
                &self.lease_renewals,
            ),
            (
                "flotilla_lease_takeovers_total",
                "Shard leases taken over from a replica that let them expire.",
                &self.lease_takeovers,
            ),
            (
                "flotilla_fenced_writes_total",
                "Record writes refused because another replica holds the shard now.",
                &self.fenced_writes,
            ),
            (
                "flotilla_shards_dropped_total",
                "Shards given up because another replica took them.",
                &self.shards_dropped,
            ),
        ] {
            counter(&mut out, name, help, v.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP flotilla_shards_held Shards this replica stages.\n# TYPE flotilla_shards_held gauge\nflotilla_shards_held {}",
            self.shards_held.load(Ordering::Relaxed)
        );
        for (name, help, v) in [
            (
                "flotilla_incidents_opened_total",
                "Stuck deployments and platform faults opened.",
                &self.incidents_opened,
            ),
            (
                "flotilla_incidents_resolved_total",
                "Incidents resolved.",
                &self.incidents_resolved,
            ),
            (
                "flotilla_notifications_deferred_total",
                "Messages held back by the per-minute limit.",
                &self.notifications_deferred,
            ),
            (
                "flotilla_notifications_unrouted_total",
                "Incidents with no receiver configured.",
                &self.notifications_unrouted,
            ),
            (
                "flotilla_reconcile_overruns_total",
                "Loop passes longer than the interval.",
                &self.loop_overruns,
            ),
        ] {
            counter(&mut out, name, help, v.load(Ordering::Relaxed));
        }
        if let Ok(g) = self.gauges.lock() {
            let name = "flotilla_deployments";
            let _ = writeln!(
                out,
                "# HELP {name} Current deployments by state.\n# TYPE {name} gauge"
            );
            for state in ["Progressing", "Succeeded", "Stuck"] {
                let _ = writeln!(
                    out,
                    "{name}{{state=\"{state}\"}} {}",
                    g.by_state.get(state).copied().unwrap_or(0)
                );
            }
            let name = "flotilla_deployments_stuck";
            let _ = writeln!(
                out,
                "# HELP {name} Stuck deployments by kind.\n# TYPE {name} gauge"
            );
            for kind in ["service", "platform"] {
                let _ = writeln!(
                    out,
                    "{name}{{kind=\"{kind}\"}} {}",
                    g.stuck.get(kind).copied().unwrap_or(0)
                );
            }
            let name = "flotilla_agents_silent";
            let _ = writeln!(
                out,
                "# HELP {name} Agents silent for three heartbeats.\n# TYPE {name} gauge\n{name} {}",
                g.silent
            );
        }
        render_hist(
            &mut out,
            "flotilla_deployment_ready_seconds",
            "Time from a deployment to every release of it Ready.",
            &self.ready_hist,
            &READY_BUCKETS,
        );
        render_hist(
            &mut out,
            "flotilla_bootstrap_first_bundle_seconds",
            "Time from a cluster's registration to its agent's first bundle.",
            &self.bootstrap_bundle_hist,
            &READY_BUCKETS,
        );
        render_hist(
            &mut out,
            "flotilla_bootstrap_ready_seconds",
            "Time from a cluster's registration to all its releases Ready.",
            &self.bootstrap_ready_hist,
            &READY_BUCKETS,
        );
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
            let name = "flotilla_reconcile_last_duration_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} Duration of the last reconcile pass.\n# TYPE {name} gauge\n{name} {}",
                h.last
            );
        }
        process_metrics(&mut out);
        out
    }
}

/// The process's own resident memory (now and its peak) and CPU time, as Prometheus' process
/// collector names them (Linux: from /proc/self; elsewhere left out).
fn process_metrics(out: &mut String) {
    let kib = |status: &str, key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for (name, key, help) in [
            (
                "process_resident_memory_bytes",
                "VmRSS:",
                "Resident memory size in bytes.",
            ),
            (
                "process_resident_memory_max_bytes",
                "VmHWM:",
                "Peak resident memory size in bytes.",
            ),
        ] {
            if let Some(k) = kib(&status, key) {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                    k * 1024
                );
            }
        }
    }
    // utime and stime, the 14th and 15th fields, in clock ticks (USER_HZ, 100 on Linux).
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        && let Some((_, rest)) = stat.rsplit_once(')')
    {
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            let name = "process_cpu_seconds_total";
            let _ = writeln!(
                out,
                "# HELP {name} Total user and system CPU time spent in seconds.\n# TYPE {name} counter\n{name} {}",
                (user + system) as f64 / 100.0
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_loop(Duration::from_millis(3));
        m.observe_loop(Duration::from_millis(300));
        let text = m.render(&StoreStats::default());
        assert!(
            text.contains("flotilla_reconcile_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("flotilla_reconcile_duration_seconds_bucket{le=\"0.2\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("flotilla_reconcile_duration_seconds_bucket{le=\"0.5\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("flotilla_reconcile_duration_seconds_count 2"),
            "{text}"
        );
        assert!(
            text.contains("\nflotilla_reconcile_last_duration_seconds 0.3\n"),
            "{text}"
        );
        if cfg!(target_os = "linux") {
            assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
            assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
        }
    }
}
