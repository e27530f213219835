//! The server under load: a `flotilla serve` process this run starts (and stops), or one it
//! is pointed at; and what its `/metrics` say.

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
    /// Reconcile passes so far, their total and the last one's duration (seconds).
    pub(crate) loop_count: f64,
    pub(crate) loop_sum: f64,
    pub(crate) loop_last: f64,
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
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series);
        match name {
            "flotilla_reconcile_duration_seconds_count" => s.loop_count = value,
            "flotilla_reconcile_duration_seconds_sum" => s.loop_sum = value,
            "flotilla_reconcile_last_duration_seconds" => s.loop_last = value,
            "process_resident_memory_bytes" => s.rss = Some(value),
            "process_resident_memory_max_bytes" => s.rss_max = Some(value),
            "process_cpu_seconds_total" => s.cpu = Some(value),
            "flotilla_store_operations_total" => s.store_ops += value,
            "flotilla_http_requests_total" => s.http_requests += value,
            _ => {}
        }
    }
    s
}

/// The durations of the reconcile passes that ran while the server was scraped, told apart
/// by the pass counter: a pass alone between two scrapes is known exactly (the last-pass
/// gauge); when several ran, the last is known and the others share the rest of the sum.
/// Scraped every half second, every long pass is seen on its own.
#[derive(Debug, Default)]
pub(crate) struct LoopSampler {
    previous: Option<(f64, f64)>,
    durations: Vec<f64>,
}

impl LoopSampler {
    pub(crate) fn observe(&mut self, s: &Scrape) {
        if let Some((count, sum)) = self.previous {
            let n = (s.loop_count - count).round();
            if n >= 1.0 {
                let rest = ((s.loop_sum - sum) - s.loop_last).max(0.0) / (n - 1.0).max(1.0);
                for _ in 1..(n as usize) {
                    self.durations.push(rest);
                }
                self.durations.push(s.loop_last);
            }
        }
        self.previous = Some((s.loop_count, s.loop_sum));
    }

    /// The durations (seconds), sorted.
    pub(crate) fn sorted(mut self) -> Vec<f64> {
        self.durations.sort_by(f64::total_cmp);
        self.durations
    }
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
flotilla_reconcile_duration_seconds_sum 2.5
flotilla_reconcile_duration_seconds_count 10
flotilla_reconcile_last_duration_seconds 0.5
flotilla_store_operations_total 12
process_resident_memory_bytes 1048576
process_cpu_seconds_total 1.5
";

    #[test]
    fn reads_the_series_it_needs() {
        let s = parse(TEXT);
        assert_eq!((s.loop_count, s.loop_sum, s.loop_last), (10.0, 2.5, 0.5));
        assert_eq!(s.store_ops, 12.0);
        assert_eq!(s.rss, Some(1_048_576.0));
        assert_eq!(s.cpu, Some(1.5));
    }

    #[test]
    fn passes_are_told_apart_by_the_counter() {
        let at = |count: f64, sum: f64, last: f64| Scrape {
            loop_count: count,
            loop_sum: sum,
            loop_last: last,
            ..Scrape::default()
        };
        let mut sampler = LoopSampler::default();
        sampler.observe(&at(10.0, 1.0, 0.1));
        // No pass in between: nothing.
        sampler.observe(&at(10.0, 1.0, 0.1));
        // One long pass.
        sampler.observe(&at(11.0, 9.0, 8.0));
        // Three passes: the last 0.5 s, the two others sharing 1 s.
        sampler.observe(&at(14.0, 10.5, 0.5));
        assert_eq!(sampler.sorted(), [0.5, 0.5, 0.5, 8.0]);
    }
}
