//! Load simulation (`flotilla simulate`): a real `flotilla serve` on a generated fleet,
//! thousands of simulated clusters against it, and traffic, measured per load point.
//!
//! For each load point (clusters × services) [`run`]:
//! 1. writes a synthetic fleet (`compiler::synthetic`, three environments) and starts
//!    `flotilla serve` on it in its own process with a local folder store (or, with
//!    [`Target::Remote`], uses a running server, its fleet folder and its store);
//! 2. gives every cluster of the fleet an agent token of the store's built-in issuer and runs
//!    one simulated agent per cluster in this process ([`agents`]: tokio tasks, real HTTP);
//! 3. waits until every agent has its bundle, measures the controller idle, then publishes a
//!    new version of a random service every `every` (its image tag changes, so every release
//!    of it changes) and promotes it through the environments, measuring each deployment from
//!    the server's 2xx to the moment each targeted agent reported the new release Ready;
//! 4. reads the server's `/metrics` (loop histogram, store operations, RSS, CPU) before and
//!    after, and checks the point against the SLO.
//!
//! Every wait is bounded: the server's start, the warm-up, each deployment, the drain. Only
//! loopback addresses are used; the server this run started is stopped at the end of its
//! point. [`report`] writes `report.md`, `report.json` and the SVG plots.

mod agents;
pub mod report;
mod server;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use syntax::FleetFiles;
use tokio::sync::watch;

use crate::agents::{Counters, Shared, View, Views, lock};
use crate::server::LoopSampler;

/// A load point: so many clusters, so many services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoadPoint {
    pub clusters: usize,
    pub services: usize,
}

impl LoadPoint {
    /// Clusters × services.
    pub fn load(&self) -> usize {
        self.clusters * self.services
    }
}

impl std::fmt::Display for LoadPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.clusters, self.services)
    }
}

impl std::str::FromStr for LoadPoint {
    type Err = String;

    /// `1000x20`.
    fn from_str(s: &str) -> Result<LoadPoint, String> {
        let (c, v) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("`{s}` is not CLUSTERSxSERVICES (e.g. 1000x20)"))?;
        let parse = |t: &str, what: &str| -> Result<usize, String> {
            match t.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("`{s}`: {what} must be a whole number above 0")),
            }
        };
        Ok(LoadPoint {
            clusters: parse(c, "the clusters")?,
            services: parse(v, "the services")?,
        })
    }
}

/// Which server is loaded.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start `PROGRAM serve` for each point, on a fleet generated for it.
    Spawn { program: PathBuf },
    /// A running server, the fleet folder it serves and its store (agent and API tokens are
    /// issued from the store's key, as `flotilla token issue` does).
    /// Several replicas of one store: the agents are spread over them (round robin),
    /// deployments go to the first, and each one's loop is measured.
    Remote {
        servers: Vec<String>,
        fleet: PathBuf,
        store: Option<String>,
    },
}

/// The service level a point must keep.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Slo {
    /// The 99th percentile of publish/promote → Ready on a cluster.
    #[serde(serialize_with = "secs")]
    pub end_to_end_p99: Duration,
    /// The 99th percentile of a reconcile pass.
    #[serde(serialize_with = "secs")]
    pub loop_p99: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    /// The points, in the order run (one with [`Target::Remote`]: the fleet's own size).
    pub points: Vec<LoadPoint>,
    /// The report folder (new, or empty).
    pub out: PathBuf,
    /// How long traffic is driven at each point.
    pub duration: Duration,
    /// How long the controller is watched with nothing changing, before the traffic.
    pub idle: Duration,
    /// One new version published (and promoted through the environments) every so often.
    pub every: Duration,
    /// The agents' long-poll wait, and the server's heartbeat.
    pub poll: Duration,
    /// A simulated release turns Ready so long after it is applied.
    pub ready_after: Duration,
    pub slo: Slo,
    /// The longest wait for every agent's first bundle, and for each deployment.
    pub settle: Duration,
    /// The fleet generator's seed, and the traffic's.
    pub seed: u64,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the report folder {} is not empty", .0.display())]
    OutNotEmpty(PathBuf),
    #[error("cannot start {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the server exited ({status}) before it listened; {}:\n{tail}", log.display())]
    ServerExited {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("the server did not listen in time (see {})", log.display())]
    ServerSilent { log: PathBuf },
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(transparent)]
    Client(#[from] runtime::client::ClientError),
    #[error("the fleet: {0}")]
    Fleet(String),
    #[error("the store: {0}")]
    Store(#[from] runtime::StoreError),
    #[error("tokens: {0}")]
    Auth(#[from] runtime::AuthError),
    #[error("only {ready} of {agents} agents had their bundle, all Ready, after {waited:?}")]
    WarmUp {
        ready: usize,
        agents: usize,
        waited: Duration,
    },
    #[error("the plot {}: {message}", path.display())]
    Plot { path: PathBuf, message: String },
}

/// What a point measured.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PointReport {
    pub point: LoadPoint,
    pub load: usize,
    pub agents: usize,
    /// Agents whose every release was Ready when the point ended.
    pub agents_ready: usize,
    /// Seconds from the server's start until every agent had its first bundle.
    pub warm_up_s: f64,
    /// Deployments driven (a publish to the first environment, and each promotion).
    pub deployments: usize,
    /// Deployments not Ready on every targeted cluster within the settle time.
    pub deployments_timed_out: usize,
    /// (cluster, deployment) pairs measured.
    pub releases_measured: usize,
    pub idle_loop_p50_ms: Option<f64>,
    pub idle_loop_p99_ms: Option<f64>,
    pub loop_p50_ms: Option<f64>,
    pub loop_p99_ms: Option<f64>,
    pub loop_max_ms: Option<f64>,
    pub end_to_end_p50_s: Option<f64>,
    pub end_to_end_p99_s: Option<f64>,
    pub end_to_end_max_s: Option<f64>,
    pub requests_per_s: f64,
    pub error_rate: f64,
    pub rss_mb: Option<f64>,
    pub rss_peak_mb: Option<f64>,
    /// The server's CPU during the traffic, in percent of one core.
    pub cpu_percent: Option<f64>,
    pub store_operations: f64,
    /// Each replica's loop (one entry when one server is loaded).
    pub replicas: Vec<ReplicaLoop>,
    /// Empty when the SLO held.
    pub slo_broken: Vec<String>,
}

/// One replica's reconcile loop at a point.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaLoop {
    pub server: String,
    pub idle_loop_p50_ms: Option<f64>,
    pub idle_loop_p99_ms: Option<f64>,
    pub loop_p50_ms: Option<f64>,
    pub loop_p99_ms: Option<f64>,
    pub rss_mb: Option<f64>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub slo: Slo,
    pub poll_s: f64,
    pub ready_after_s: f64,
    pub duration_s: f64,
    pub every_s: f64,
    pub points: Vec<PointReport>,
    /// The smallest load whose point broke the SLO.
    pub tipping_point: Option<LoadPoint>,
}

/// What the run is doing, for a progress display.
#[derive(Debug, Clone)]
pub struct Progress {
    pub point: LoadPoint,
    /// 0-based.
    pub index: usize,
    pub of: usize,
    pub phase: &'static str,
    /// Within the phase (agents with their bundle, seconds of traffic, deployments drained).
    pub done: u64,
    pub total: u64,
}

/// Runs every point, writes the report and returns it.
pub async fn run(
    config: &Config,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Report, SimulateError> {
    prepare_out(&config.out)?;
    let mut points = Vec::new();
    for (index, &point) in config.points.iter().enumerate() {
        let tell = |phase: &'static str, done: u64, total: u64| {
            progress(Progress {
                point,
                index,
                of: config.points.len(),
                phase,
                done,
                total,
            });
        };
        points.push(run_point(config, point, &tell).await?);
    }
    let mut by_load: Vec<&PointReport> = points.iter().collect();
    by_load.sort_by_key(|p| p.load);
    let tipping_point = by_load
        .iter()
        .find(|p| !p.slo_broken.is_empty())
        .map(|p| p.point);
    let report = Report {
        slo: config.slo,
        poll_s: config.poll.as_secs_f64(),
        ready_after_s: config.ready_after.as_secs_f64(),
        duration_s: config.duration.as_secs_f64(),
        every_s: config.every.as_secs_f64(),
        points,
        tipping_point,
    };
    report::write(&report, &config.out)?;
    Ok(report)
}

fn prepare_out(out: &Path) -> Result<(), SimulateError> {
    let io = |source| SimulateError::Io {
        path: out.to_path_buf(),
        source,
    };
    if out.exists() {
        if std::fs::read_dir(out).map_err(io)?.next().is_some() {
            return Err(SimulateError::OutNotEmpty(out.to_path_buf()));
        }
    } else {
        std::fs::create_dir_all(out).map_err(io)?;
    }
    Ok(())
}

/// How often the server's metrics are read while it is watched.
const SAMPLE: Duration = Duration::from_millis(500);

/// The environments every generated fleet has, in promotion order.
const FLEET_YAML: &str =
    "environments:\n  - name: dev\n  - name: staging\n  - name: prod\n    production: true\n";

/// A cluster of the fleet, and its environment.
struct Cluster {
    name: String,
    environment: String,
}

fn clusters_of(files: &FleetFiles) -> Result<Vec<Cluster>, SimulateError> {
    #[derive(serde::Deserialize)]
    struct Spec {
        name: String,
        environment: String,
    }
    let mut out = Vec::new();
    for (path, text) in &files.files {
        if !(path.starts_with("clusters/") && path.ends_with(".yaml")) {
            continue;
        }
        // Only the two fields read; the compiler checks the rest.
        let value: serde_json::Value = serde_saphyr::from_str(text)
            .map_err(|e| SimulateError::Fleet(format!("{path}: {e}")))?;
        let spec: Spec = serde_json::from_value(value)
            .map_err(|e| SimulateError::Fleet(format!("{path}: {e}")))?;
        out.push(Cluster {
            name: spec.name,
            environment: spec.environment,
        });
    }
    Ok(out)
}

/// The services of the fleet, by name.
fn services_of(files: &FleetFiles) -> Vec<String> {
    files
        .files
        .keys()
        .filter_map(|k| {
            k.strip_prefix("services/")
                .and_then(|r| r.strip_suffix("/service.yaml"))
                .map(str::to_owned)
        })
        .collect()
}

/// A small deterministic generator (xorshift*) for the traffic's choices.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x % n.max(1) as u64) as usize
    }
}

/// The new version of a service: its `tag: "…"` line (the image tag of the synthetic fleet's
/// services) set to `tag`, so every release of it changes.
fn bumped(files: &FleetFiles, service: &str, tag: &str) -> Option<runtime::fleet::VersionFiles> {
    let mut version = runtime::fleet::VersionFiles::of(files, service).ok()?;
    let path = format!("services/{service}/service.yaml");
    let text = version.files.get(&path)?;
    let mut done = false;
    let new: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if !done && t.starts_with("tag: ") {
                done = true;
                format!("{}tag: \"{tag}\"", &l[..l.len() - t.len()])
            } else {
                l.to_owned()
            }
        })
        .collect();
    if !done {
        return None;
    }
    version.files.insert(path, new.join("\n") + "\n");
    Some(version)
}

/// The fleet of a point, written to the point's folder (or the remote target's, read: the
/// point is then its size), and that folder.
fn fleet_of(
    config: &Config,
    point: LoadPoint,
) -> Result<(LoadPoint, PathBuf, FleetFiles, PathBuf), SimulateError> {
    let folder = |point: LoadPoint| {
        let dir = server::point_dir(&config.out, point.clusters, point.services);
        std::fs::create_dir_all(&dir).map_err(|source| SimulateError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok::<_, SimulateError>(dir)
    };
    match &config.target {
        Target::Spawn { .. } => {
            let dir = folder(point)?;
            let mut files = compiler::synthetic::generate(compiler::synthetic::FleetConfig {
                clusters: point.clusters,
                services: point.services,
                seed: config.seed,
            });
            files
                .files
                .entry("fleet.yaml".to_owned())
                .or_insert_with(|| FLEET_YAML.to_owned());
            let fleet = dir.join("fleet");
            compiler::synthetic::write(&files, &fleet).map_err(|source| SimulateError::Io {
                path: fleet.clone(),
                source,
            })?;
            Ok((point, fleet, files, dir))
        }
        Target::Remote { fleet, .. } => {
            let files = compiler::source::read_dir(fleet)
                .map_err(|e| SimulateError::Fleet(e.to_string()))?;
            let point = LoadPoint {
                clusters: clusters_of(&files)?.len(),
                services: services_of(&files).len(),
            };
            Ok((point, fleet.clone(), files, folder(point)?))
        }
    }
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// One deployment measured: (cluster, latency) pairs and whether every cluster got there.
#[derive(Debug, Default)]
struct Measured {
    latencies: Vec<f64>,
    timed_out: bool,
}

/// Waits until every targeted agent reported `service` Ready with a manifest other than the
/// one it had when the deployment was acknowledged (at `start`), or until `deadline`.
async fn measure(
    views: &Views,
    targets: Vec<(usize, plan::Digest)>,
    service: &str,
    start: Instant,
    deadline: Instant,
) -> Measured {
    let mut pending = targets;
    let mut out = Measured::default();
    loop {
        pending.retain(|(agent, before)| {
            let view = lock(&views[*agent]);
            match view.releases.get(service) {
                Some(a) if a.manifest != *before => match a.ready_at {
                    Some(at) => {
                        out.latencies
                            .push(at.saturating_duration_since(start).as_secs_f64());
                        false
                    }
                    None => true,
                },
                // The release left the cluster: nothing to wait for.
                None => false,
                Some(_) => true,
            }
        });
        if pending.is_empty() {
            return out;
        }
        if Instant::now() >= deadline {
            out.timed_out = true;
            return out;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The agents of `environment` running `service`, with the manifest each runs.
fn targets(
    views: &Views,
    clusters: &[Cluster],
    environment: &str,
    service: &str,
) -> Vec<(usize, plan::Digest)> {
    clusters
        .iter()
        .enumerate()
        .filter(|(_, c)| c.environment == environment)
        .filter_map(|(i, _)| {
            let view = lock(&views[i]);
            view.releases.get(service).map(|a| (i, a.manifest))
        })
        .collect()
}

/// Agents whose first bundle came and whose every release is Ready.
fn ready_agents(views: &Views) -> usize {
    views
        .iter()
        .filter(|v| {
            let v = lock(v);
            v.started && v.releases.values().all(|a| a.ready_at.is_some())
        })
        .count()
}

/// The value at quantile `q` of sorted `xs` (nearest rank).
fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    Some(xs[rank - 1])
}

/// One deployment event: a new version of `service` published (deployed to the first
/// environment), then promoted to each further environment once the one before is Ready.
#[allow(clippy::too_many_arguments)]
async fn deploy(
    client: &runtime::client::Client,
    views: &Views,
    clusters: &[Cluster],
    environments: &[String],
    service: &str,
    label: &str,
    version: &runtime::fleet::VersionFiles,
    settle: Duration,
) -> Vec<Result<Measured, SimulateError>> {
    let mut out = Vec::new();
    for (i, environment) in environments.iter().enumerate() {
        // The manifests each targeted cluster runs before the change is acknowledged.
        let before = targets(views, clusters, environment, service);
        let sent = if i == 0 {
            client.publish(service, label, version, None).await
        } else {
            client.promote(service, label, environment).await
        };
        let start = Instant::now();
        if let Err(e) = sent {
            out.push(Err(e.into()));
            return out;
        }
        let measured = measure(views, before, service, start, start + settle).await;
        let stop = measured.timed_out;
        out.push(Ok(measured));
        if stop {
            return out;
        }
    }
    out
}

async fn run_point(
    config: &Config,
    point: LoadPoint,
    tell: &(dyn Fn(&'static str, u64, u64) + Sync),
) -> Result<PointReport, SimulateError> {
    tell("writing the fleet", 0, 1);
    let (point, fleet, files, dir) = fleet_of(config, point)?;
    // Shared with every deployment task, not copied for each.
    let clusters: Arc<[Cluster]> = clusters_of(&files)?.into();
    let cluster_envs: Vec<String> = clusters.iter().map(|c| c.environment.clone()).collect();
    let environments: Vec<String> = runtime::fleet::FleetConfig::of(&files, &cluster_envs)
        .map_err(|e| SimulateError::Fleet(e.to_string()))?
        .environments
        .into_iter()
        .map(|e| e.name)
        .collect();

    tell("starting the server", 0, 1);
    let started = Instant::now();
    let (child, servers, store) = match &config.target {
        Target::Spawn { program } => {
            let store = dir.join("store");
            let child =
                server::Child::start(program, &fleet, &store, config.poll, &dir.join("serve.log"))
                    .await?;
            let url = child.url.clone();
            (Some(child), vec![url], Some(store.display().to_string()))
        }
        Target::Remote { servers, store, .. } => (None, servers.clone(), store.clone()),
    };
    let result = drive(
        config,
        point,
        tell,
        &fleet,
        &files,
        &clusters,
        &environments,
        &servers,
        store.as_deref(),
        started,
    )
    .await;
    if let Some(child) = child {
        child.stop().await;
        // The generated fleet and the store are this point's own and large (a 10,000 x 100
        // fleet stages hundreds of megabytes); the seed writes the same fleet again.
        for part in ["fleet", "store"] {
            let _ = std::fs::remove_dir_all(dir.join(part));
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    config: &Config,
    point: LoadPoint,
    tell: &(dyn Fn(&'static str, u64, u64) + Sync),
    fleet: &Path,
    files: &FleetFiles,
    clusters: &Arc<[Cluster]>,
    environments: &[String],
    servers: &[String],
    store: Option<&str>,
    started: Instant,
) -> Result<PointReport, SimulateError> {
    let server_url = servers
        .first()
        .ok_or_else(|| SimulateError::Fleet("no server to load".into()))?
        .as_str();
    // Tokens last the whole point (the store's issuer, as `flotilla token issue` issues them).
    let ttl = (config.settle * 3 + config.idle + config.duration)
        .as_secs()
        .clamp(3600, runtime::auth::MAX_TTL_SECS);
    let store = runtime::Store::open(store, fleet)?;
    let issuer = runtime::Issuer::of(&store).await?;
    let api_token = issuer.issue("simulate", &["platform".to_owned()], ttl)?;
    let client = runtime::client::Client::new(server_url, &api_token, None)?;

    let http = http_client();
    let counters = Arc::new(Counters::default());
    let views: Views = Arc::new(
        (0..clusters.len())
            .map(|_| Mutex::new(View::default()))
            .collect(),
    );
    let shared = Shared {
        server: server_url.to_owned(),
        http: http.clone(),
        poll: config.poll,
        ready_after: config.ready_after,
        counters: counters.clone(),
        views: views.clone(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    // Agents start over a short spread, as a fleet's agents would not all start at once.
    let spread = Duration::from_millis(clusters.len() as u64).min(Duration::from_secs(5));
    // Each replica's agents share one `Shared` (its address).
    let per_server: Vec<Shared> = servers
        .iter()
        .map(|s| Shared {
            server: s.clone(),
            ..shared.clone()
        })
        .collect();
    for (i, c) in clusters.iter().enumerate() {
        let token = issuer.issue_agent(&c.name, ttl)?;
        let delay = spread.mul_f64(i as f64 / clusters.len().max(1) as f64);
        tasks.spawn(agents::run(
            i,
            c.name.clone(),
            token,
            per_server[i % per_server.len()].clone(),
            delay,
            stop_rx.clone(),
        ));
    }
    let result = measure_point(
        config,
        point,
        tell,
        files,
        clusters,
        environments,
        &client,
        &http,
        servers,
        &views,
        &counters,
        started,
    )
    .await;
    let _ = stop_tx.send(true);
    // Every agent returns at its next await; bounded all the same.
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure_point(
    config: &Config,
    point: LoadPoint,
    tell: &(dyn Fn(&'static str, u64, u64) + Sync),
    files: &FleetFiles,
    clusters: &Arc<[Cluster]>,
    environments: &[String],
    client: &runtime::client::Client,
    http: &reqwest::Client,
    servers: &[String],
    views: &Views,
    counters: &Arc<Counters>,
    started: Instant,
) -> Result<PointReport, SimulateError> {
    let agents = clusters.len();
    let server_url = servers.first().map_or("", String::as_str);
    // Every replica's loop, beside the first server's (which the point's figures are of).
    let mut replica_idle: Vec<LoopSampler> =
        servers.iter().map(|_| LoopSampler::default()).collect();
    let mut replica_traffic: Vec<LoopSampler> =
        servers.iter().map(|_| LoopSampler::default()).collect();
    let mut replica_rss: Vec<Option<f64>> = vec![None; servers.len()];
    async fn sample_all(
        http: &reqwest::Client,
        servers: &[String],
        samplers: &mut [LoopSampler],
        rss: &mut [Option<f64>],
    ) {
        for ((s, sampler), rss) in servers.iter().zip(samplers).zip(rss) {
            if let Ok(scrape) = server::scrape(http, s).await {
                sampler.observe(&scrape);
                *rss = scrape.rss.or(*rss);
            }
        }
    }
    // Warm-up: every agent has its first bundle, every release Ready.
    let deadline = Instant::now() + config.settle;
    loop {
        let ready = ready_agents(views);
        tell(
            "agents receiving their bundles",
            ready as u64,
            agents as u64,
        );
        if ready == agents {
            break;
        }
        if Instant::now() >= deadline {
            return Err(SimulateError::WarmUp {
                ready,
                agents,
                waited: config.settle,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let warm_up_s = started.elapsed().as_secs_f64();

    // The controller with nothing changing.
    tell("watching the idle controller", 0, 1);
    let mut idle_loop = LoopSampler::default();
    let idle_start = Instant::now();
    loop {
        idle_loop.observe(&server::scrape(http, server_url).await?);
        if servers.len() > 1 {
            sample_all(http, servers, &mut replica_idle, &mut replica_rss).await;
        }
        if idle_start.elapsed() >= config.idle {
            break;
        }
        tokio::time::sleep(SAMPLE).await;
    }
    let idle_loop = idle_loop.sorted();

    // Traffic.
    let t0 = server::scrape(http, server_url).await?;
    let mut traffic_loop = LoopSampler::default();
    traffic_loop.observe(&t0);
    let requests0 = counters.requests.load(Ordering::Relaxed);
    let errors0 = counters.errors.load(Ordering::Relaxed);
    let traffic_start = Instant::now();
    let mut rng = Rng(config.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let services = services_of(files);
    if services.is_empty() {
        return Err(SimulateError::Fleet("the fleet has no services".into()));
    }
    let in_flight: Arc<Mutex<std::collections::BTreeSet<String>>> = Arc::default();
    let mut events = tokio::task::JoinSet::new();
    let mut sent = 0u64;
    let mut rss_samples: Vec<f64> = Vec::new();
    let total = config.duration.as_secs().max(1);
    let mut next = traffic_start;
    while traffic_start.elapsed() < config.duration {
        tell(
            "driving traffic",
            traffic_start.elapsed().as_secs().min(total),
            total,
        );
        if Instant::now() >= next {
            next += config.every;
            // A service not already on its way through the environments.
            let busy = lock(&in_flight).clone();
            let free: Vec<&String> = services.iter().filter(|s| !busy.contains(*s)).collect();
            if !free.is_empty() {
                let service = free[rng.below(free.len())].clone();
                sent += 1;
                let label = format!("sim-{point}-{sent}");
                if let Some(version) = bumped(files, &service, &label) {
                    lock(&in_flight).insert(service.clone());
                    let (client, views, in_flight) =
                        (client.clone(), views.clone(), in_flight.clone());
                    let clusters = Arc::clone(clusters);
                    let environments = environments.to_vec();
                    let settle = config.settle;
                    events.spawn(async move {
                        let r = deploy(
                            &client,
                            &views,
                            &clusters,
                            &environments,
                            &service,
                            &label,
                            &version,
                            settle,
                        )
                        .await;
                        lock(&in_flight).remove(&service);
                        r
                    });
                }
            }
        }
        if let Ok(s) = server::scrape(http, server_url).await {
            traffic_loop.observe(&s);
            rss_samples.extend(s.rss);
        }
        if servers.len() > 1 {
            sample_all(http, servers, &mut replica_traffic, &mut replica_rss).await;
        }
        tokio::time::sleep(SAMPLE).await;
    }
    // Drain: every deployment under way measured to its end (each bounded by `settle`).
    let started_events = events.len() as u64;
    let mut measured = Vec::new();
    while !events.is_empty() {
        tell(
            "waiting for deployments to be Ready",
            started_events - events.len() as u64,
            started_events,
        );
        // The server is watched while the deployments finish (each bounded by `settle`).
        match tokio::time::timeout(SAMPLE, events.join_next()).await {
            Ok(Some(Ok(r))) => measured.extend(r),
            Ok(_) => {}
            Err(_) => {
                if let Ok(s) = server::scrape(http, server_url).await {
                    traffic_loop.observe(&s);
                    rss_samples.extend(s.rss);
                }
                if servers.len() > 1 {
                    sample_all(http, servers, &mut replica_traffic, &mut replica_rss).await;
                }
            }
        }
    }
    let window = traffic_start.elapsed().as_secs_f64();
    let t1 = server::scrape(http, server_url).await?;
    traffic_loop.observe(&t1);
    rss_samples.extend(t1.rss);
    let traffic_loop = traffic_loop.sorted();
    if servers.len() > 1 {
        sample_all(http, servers, &mut replica_traffic, &mut replica_rss).await;
    }

    let mut deployments = 0;
    let mut timed_out = 0;
    let mut latencies = Vec::new();
    let mut api_errors = 0u64;
    for m in measured {
        match m {
            Ok(m) => {
                deployments += 1;
                timed_out += usize::from(m.timed_out);
                latencies.extend(m.latencies);
            }
            Err(_) => api_errors += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    let requests = counters.requests.load(Ordering::Relaxed) - requests0 + deployments as u64;
    let errors = counters.errors.load(Ordering::Relaxed) - errors0 + api_errors;
    let ms = |s: Option<f64>| s.map(|s| s * 1000.0);
    let mb = |b: f64| b / (1024.0 * 1024.0);
    let mut report = PointReport {
        point,
        load: point.load(),
        agents,
        agents_ready: ready_agents(views),
        warm_up_s,
        deployments,
        deployments_timed_out: timed_out,
        releases_measured: latencies.len(),
        idle_loop_p50_ms: ms(quantile(&idle_loop, 0.5)),
        idle_loop_p99_ms: ms(quantile(&idle_loop, 0.99)),
        loop_p50_ms: ms(quantile(&traffic_loop, 0.5)),
        loop_p99_ms: ms(quantile(&traffic_loop, 0.99)),
        loop_max_ms: ms(traffic_loop.last().copied()),
        end_to_end_p50_s: quantile(&latencies, 0.5),
        end_to_end_p99_s: quantile(&latencies, 0.99),
        end_to_end_max_s: latencies.last().copied(),
        requests_per_s: requests as f64 / window.max(1e-9),
        error_rate: if requests == 0 {
            0.0
        } else {
            errors as f64 / requests as f64
        },
        rss_mb: t1.rss.map(mb),
        rss_peak_mb: t1
            .rss_max
            .or_else(|| rss_samples.iter().copied().reduce(f64::max))
            .map(mb),
        cpu_percent: match (t0.cpu, t1.cpu) {
            (Some(a), Some(b)) => Some((b - a) / window.max(1e-9) * 100.0),
            _ => None,
        },
        store_operations: t1.store_ops - t0.store_ops,
        replicas: Vec::new(),
        slo_broken: Vec::new(),
    };
    report.replicas = if servers.len() > 1 {
        servers
            .iter()
            .zip(replica_idle)
            .zip(replica_traffic)
            .zip(replica_rss)
            .map(|(((server, idle), traffic), rss)| {
                let (idle, traffic) = (idle.sorted(), traffic.sorted());
                ReplicaLoop {
                    server: server.clone(),
                    idle_loop_p50_ms: ms(quantile(&idle, 0.5)),
                    idle_loop_p99_ms: ms(quantile(&idle, 0.99)),
                    loop_p50_ms: ms(quantile(&traffic, 0.5)),
                    loop_p99_ms: ms(quantile(&traffic, 0.99)),
                    rss_mb: rss.map(mb),
                }
            })
            .collect()
    } else {
        vec![ReplicaLoop {
            server: server_url.to_owned(),
            idle_loop_p50_ms: report.idle_loop_p50_ms,
            idle_loop_p99_ms: report.idle_loop_p99_ms,
            loop_p50_ms: report.loop_p50_ms,
            loop_p99_ms: report.loop_p99_ms,
            rss_mb: report.rss_mb,
        }]
    };
    report.slo_broken = slo_broken(&report, &config.slo);
    Ok(report)
}

/// The ways a point broke the SLO.
fn slo_broken(p: &PointReport, slo: &Slo) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e2e) = p.end_to_end_p99_s
        && e2e > slo.end_to_end_p99.as_secs_f64()
    {
        out.push(format!(
            "end-to-end p99 {e2e:.2}s > {:.2}s",
            slo.end_to_end_p99.as_secs_f64()
        ));
    }
    if p.deployments_timed_out > 0 {
        out.push(format!(
            "{} deployments not Ready everywhere",
            p.deployments_timed_out
        ));
    }
    let limit = slo.loop_p99.as_secs_f64() * 1000.0;
    for (what, v) in [("loop", p.loop_p99_ms), ("idle loop", p.idle_loop_p99_ms)] {
        if let Some(v) = v
            && v > limit
        {
            out.push(format!("{what} p99 {v:.0}ms > {limit:.0}ms"));
        }
    }
    if p.agents_ready < p.agents {
        out.push(format!(
            "{} of {} agents not Ready",
            p.agents - p.agents_ready,
            p.agents
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_points_parse() {
        let p: LoadPoint = "1000x20".parse().unwrap_or(LoadPoint {
            clusters: 0,
            services: 0,
        });
        assert_eq!((p.clusters, p.services, p.load()), (1000, 20, 20_000));
        assert!("1000".parse::<LoadPoint>().is_err());
        assert!("0x5".parse::<LoadPoint>().is_err());
        assert!("10xa".parse::<LoadPoint>().is_err());
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&xs, 0.5), Some(50.0));
        assert_eq!(quantile(&xs, 0.99), Some(99.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn a_bumped_version_changes_the_image_tag_only() {
        let files = compiler::synthetic::generate(compiler::synthetic::FleetConfig {
            clusters: 2,
            services: 2,
            seed: 1,
        });
        let old = runtime::fleet::VersionFiles::of(&files, "svc-000").unwrap_or_default();
        let new = bumped(&files, "svc-000", "sim-1").unwrap_or_default();
        let path = "services/svc-000/service.yaml";
        let (a, b) = (&old.files[path], &new.files[path]);
        assert!(b.contains("    tag: \"sim-1\"\n"), "{b}");
        let differ = a.lines().zip(b.lines()).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 1);
        assert_eq!(old.files.len(), new.files.len());
    }

    #[test]
    fn the_slo_names_what_broke() {
        let mut p = PointReport {
            point: LoadPoint {
                clusters: 10,
                services: 2,
            },
            load: 20,
            agents: 10,
            agents_ready: 9,
            warm_up_s: 1.0,
            deployments: 3,
            deployments_timed_out: 0,
            releases_measured: 30,
            idle_loop_p50_ms: Some(1.0),
            idle_loop_p99_ms: Some(2.0),
            loop_p50_ms: Some(10.0),
            loop_p99_ms: Some(1500.0),
            loop_max_ms: Some(1600.0),
            end_to_end_p50_s: Some(1.0),
            end_to_end_p99_s: Some(3.0),
            end_to_end_max_s: Some(3.0),
            requests_per_s: 10.0,
            error_rate: 0.0,
            rss_mb: None,
            rss_peak_mb: None,
            cpu_percent: None,
            store_operations: 0.0,
            replicas: Vec::new(),
            slo_broken: Vec::new(),
        };
        let slo = Slo {
            end_to_end_p99: Duration::from_secs(5),
            loop_p99: Duration::from_secs(1),
        };
        let broken = slo_broken(&p, &slo);
        assert_eq!(
            broken,
            ["loop p99 1500ms > 1000ms", "1 of 10 agents not Ready"]
        );
        p.loop_p99_ms = Some(20.0);
        p.agents_ready = 10;
        assert!(slo_broken(&p, &slo).is_empty());
        // Several replicas: a row each in their own table.
        let replica = |server: &str, p50: f64| ReplicaLoop {
            server: server.into(),
            idle_loop_p50_ms: Some(1.0),
            idle_loop_p99_ms: Some(2.0),
            loop_p50_ms: Some(p50),
            loop_p99_ms: Some(p50 * 2.0),
            rss_mb: None,
        };
        p.replicas = vec![replica("http://a", 30.0), replica("http://b", 12.5)];
        let text = report::markdown(&Report {
            slo,
            poll_s: 1.0,
            ready_after_s: 1.0,
            duration_s: 10.0,
            every_s: 1.0,
            points: vec![p],
            tipping_point: None,
        });
        assert!(
            text.contains("| 10x2 | http://a | 1.0 | 2.0 | 30.0 | 60.0 | – |"),
            "{text}"
        );
        assert!(
            text.contains("| 10x2 | http://b | 1.0 | 2.0 | 12.5 | 25.0 | – |"),
            "{text}"
        );
    }
}
