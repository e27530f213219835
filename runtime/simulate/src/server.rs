//! The server under load: a `flotilla serve` process this run starts (and stops), or one it
//! is pointed at; and what its `/metrics` say.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::SimulateError;

/// A `flotilla serve` child process, killed when dropped.
#[derive(Debug)]
pub(crate) struct Child {
    child: tokio::process::Child,
    pub(crate) url: String,
}

/// How long a server may take to answer after it starts (it compiles and stages the whole
/// fleet first).
const STARTUP: Duration = Duration::from_secs(900);

impl Child {
    /// Starts `program serve` on `fleet` with a local folder store, on a free loopback port,
    /// and waits until it listens. Its standard error goes to `log`.
    pub(crate) async fn start(
        program: &Path,
        fleet: &Path,
        store: &Path,
        heartbeat: Duration,
        log: &Path,
    ) -> Result<Child, SimulateError> {
        let io = |source| SimulateError::Io {
            path: log.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(log).map_err(io)?;
        let mut child = tokio::process::Command::new(program)
            .arg("serve")
            .arg("--fleet")
            .arg(fleet)
            .arg("--store")
            .arg(store)
            .args(["--listen", "127.0.0.1:0", "--interval", "1s"])
            .arg("--heartbeat")
            .arg(format!("{}ms", heartbeat.as_millis()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| SimulateError::Spawn {
                program: program.to_path_buf(),
                source,
            })?;
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(url) = text
                .lines()
                .find_map(|l| l.split_once("listening on ").map(|(_, u)| u.trim()))
            {
                return Ok(Child {
                    child,
                    url: url.to_owned(),
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(SimulateError::ServerExited {
                    status: status.to_string(),
                    log: log.to_path_buf(),
                    tail: tail(&text),
                });
            }
            if start.elapsed() > STARTUP {
                return Err(SimulateError::ServerSilent {
                    log: log.to_path_buf(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server (SIGKILL: its store is this run's own and thrown away).
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// The figures read off `/metrics` at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scrape {
    /// The loop histogram: (upper bound, cumulative count), `+Inf` last.
    pub(crate) loop_buckets: Vec<(f64, f64)>,
    pub(crate) rss: Option<f64>,
    pub(crate) rss_max: Option<f64>,
    pub(crate) cpu: Option<f64>,
    pub(crate) store_ops: f64,
    pub(crate) http_requests: f64,
}

/// Reads the server's metrics.
pub(crate) async fn scrape(http: &reqwest::Client, server: &str) -> Result<Scrape, SimulateError> {
    let url = format!("{server}/metrics");
    let text = http
        .get(&url)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|source| SimulateError::Http {
            url: url.clone(),
            source,
        })?
        .text()
        .await
        .map_err(|source| SimulateError::Http { url, source })?;
    Ok(parse(&text))
}

/// Parses the Prometheus text the server writes (the series this simulation reads).
pub(crate) fn parse(text: &str) -> Scrape {
    let mut s = Scrape::default();
    let mut buckets: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series);
        match name {
            "flotilla_reconcile_duration_seconds_bucket" => {
                let le = series
                    .split_once("le=\"")
                    .and_then(|(_, r)| r.split_once('"'))
                    .map(|(le, _)| le);
                let bound = match le {
                    Some("+Inf") => f64::INFINITY,
                    Some(b) => match b.parse::<f64>() {
                        Ok(b) => b,
                        Err(_) => continue,
                    },
                    None => continue,
                };
                // Ordered by bound (bounds are positive, so their bits order as they do).
                buckets.insert(bound.to_bits(), (bound, value));
            }
            "process_resident_memory_bytes" => s.rss = Some(value),
            "process_resident_memory_max_bytes" => s.rss_max = Some(value),
            "process_cpu_seconds_total" => s.cpu = Some(value),
            "flotilla_store_operations_total" => s.store_ops += value,
            "flotilla_http_requests_total" => s.http_requests += value,
            _ => {}
        }
    }
    s.loop_buckets = buckets.into_values().collect();
    s
}

/// The `q` quantile of the loop durations observed between two scrapes, interpolated within
/// its bucket as Prometheus' `histogram_quantile` does. `None` when no pass ran between them.
pub(crate) fn loop_quantile(before: &Scrape, after: &Scrape, q: f64) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after
        .loop_buckets
        .iter()
        .map(|&(bound, count)| {
            let was = before
                .loop_buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0.0, |(_, c)| *c);
            (bound, count - was)
        })
        .collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(bound, count) in &delta {
        if count >= rank {
            if bound.is_infinite() {
                // Beyond the last finite bound: that bound is all that is known.
                return Some(lower.0);
            }
            let within = count - lower.1;
            let frac = if within > 0.0 {
                (rank - lower.1) / within
            } else {
                1.0
            };
            return Some(lower.0 + (bound - lower.0) * frac);
        }
        lower = (bound, count);
    }
    Some(lower.0)
}

/// The folder holding a point's files.
pub(crate) fn point_dir(out: &Path, clusters: usize, services: usize) -> PathBuf {
    out.join("points").join(format!("{clusters}x{services}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP flotilla_reconcile_duration_seconds Duration of a reconcile pass.
flotilla_reconcile_duration_seconds_bucket{le=\"0.01\"} 8
flotilla_reconcile_duration_seconds_bucket{le=\"0.1\"} 9
flotilla_reconcile_duration_seconds_bucket{le=\"1\"} 10
flotilla_reconcile_duration_seconds_bucket{le=\"+Inf\"} 10
flotilla_store_operations_total{op=\"put\"} 5
flotilla_store_operations_total{op=\"get\"} 7
process_resident_memory_bytes 1048576
process_cpu_seconds_total 1.5
";

    #[test]
    fn reads_the_series_it_needs() {
        let s = parse(TEXT);
        assert_eq!(s.loop_buckets.len(), 4);
        assert_eq!(s.store_ops, 12.0);
        assert_eq!(s.rss, Some(1_048_576.0));
        assert_eq!(s.cpu, Some(1.5));
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket_of_the_deltas() {
        let after = parse(TEXT);
        let before = Scrape::default();
        // 8 of 10 passes under 10 ms: the median is within the first bucket.
        let p50 = loop_quantile(&before, &after, 0.5).unwrap_or_default();
        assert!((p50 - 0.00625).abs() < 1e-9, "{p50}");
        // The 99th percentile lies in the (0.1, 1] bucket.
        let p99 = loop_quantile(&before, &after, 0.99).unwrap_or_default();
        assert!(p99 > 0.1 && p99 <= 1.0, "{p99}");
        // Nothing ran between two equal scrapes.
        assert_eq!(loop_quantile(&after, &after, 0.5), None);
    }
}
