//! The in-cluster agent: pulls its own cluster's bundle with a per-cluster identity, applies it
//! and reports readiness.
//!
//! One loop ([`run`]): get a token (refreshed before it expires), long-poll the cluster's
//! bundle (`If-None-Match` the digest applied last), fetch only the manifests the state dir
//! lacks (each checked against its digest), apply what changed, report each release's status
//! (also the heartbeat), and apply everything again every `resync`. Server errors back off
//! (1 s doubling to 60 s, with jitter); the loop never spins. A restart finds what was
//! applied in the state dir and applies nothing that did not change.
//!
//! The crate depends on the plan's types and an HTTP client, never on the compiler: it runs
//! in every cluster.

pub mod apply;
pub mod cli;
pub mod kube;
pub mod login;
pub mod readiness;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt as _;
use plan::Digest;
use plan::agent::{Bundle, Phase, StatusReport};
use tokio::sync::watch;

use crate::apply::Applier;
use crate::login::{Credentials, Identity};
use crate::state::{Applied, State};

/// How the agent runs.
#[derive(Debug)]
pub struct Config {
    pub cluster: String,
    /// `http://127.0.0.1:8080`.
    pub server: String,
    pub applier: Applier,
    pub state: PathBuf,
    pub credentials: Credentials,
    pub resync: Duration,
    /// How long a poll waits for a new bundle; also the heartbeat.
    pub poll_wait: Duration,
}

/// Why the agent stopped, or what one attempt ran into.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Usage(String),
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("the server: {0}")]
    Server(String),
    #[error("the server refused this agent ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the bundle is not sound: {0}")]
    Unsound(String),
    #[error("the state dir: {0}")]
    State(String),
    #[error("apply: {0}")]
    Apply(String),
    #[error("{0}")]
    Cluster(String),
    #[error("the cluster refused {object}: {message}")]
    Rejected { object: String, message: String },
}

/// The longest pause after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Manifests fetched at once.
const FETCHES: usize = 8;
/// How often the status is looked at while releases are on their way to Ready.
const SETTLE_POLL: Duration = Duration::from_secs(2);

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … 60 s, each between half and all of it.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let base = Duration::from_secs(1u64 << self.failures.min(6)).min(MAX_BACKOFF);
        self.failures = self.failures.saturating_add(1);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = 0.5 + f64::from(nanos % 1000) / 2000.0;
        base.mul_f64(jitter)
    }
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The agent at work.
struct Agent {
    cluster: String,
    server: String,
    applier: Applier,
    state: State,
    identity: Identity,
    http: reqwest::Client,
    applied: Applied,
    resync: Duration,
    poll_wait: Duration,
    /// The last attempt's error, reported until an attempt succeeds.
    error: Option<String>,
    /// The last report had releases not yet Ready or Failed.
    settling: bool,
    /// How many releases the last apply changed (for its log line).
    changed_last: usize,
}

/// Runs the agent until `stop` turns true.
pub async fn run(config: Config, mut stop: watch::Receiver<bool>) -> Result<(), AgentError> {
    let state = State::open(&config.state)?;
    let applied = state.applied();
    let mut agent = Agent {
        identity: Identity::new(config.credentials, state.dir()),
        cluster: config.cluster,
        server: config.server,
        applier: config.applier,
        state,
        http: http_client(),
        applied,
        resync: config.resync,
        poll_wait: config.poll_wait,
        error: None,
        settling: false,
        changed_last: 0,
    };
    agent.restore();
    eprintln!(
        "flotilla agent: cluster {} on {} ({} applier), last applied generation {}",
        agent.cluster,
        agent.server,
        agent.applier.name(),
        agent.applied.bundle.as_ref().map_or(0, |b| b.generation)
    );
    let mut backoff = Backoff::default();
    loop {
        if *stop.borrow_and_update() {
            return Ok(());
        }
        let step = tokio::select! {
            r = agent.step() => r,
            _ = stop.changed() => return Ok(()),
        };
        match step {
            Ok(()) => {
                backoff = Backoff::default();
                agent.error = None;
            }
            Err(e) => {
                let pause = backoff.next();
                eprintln!("flotilla agent: {e} (again in {:.1}s)", pause.as_secs_f64());
                if matches!(e, AgentError::Refused { status: 401, .. }) {
                    agent.identity.reset();
                }
                agent.error = Some(e.to_string());
                // Reported when the server can be reached (a refused agent cannot).
                if !matches!(e, AgentError::Refused { .. } | AgentError::Credentials(_)) {
                    let _ = agent.report().await;
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => return Ok(()),
                }
            }
        }
    }
}

impl Agent {
    /// After a restart: what the state says was applied is taken as applied.
    fn restore(&mut self) {
        if let Applier::Sim(sim) = &mut self.applier {
            let bundle = self.applied.bundle.clone();
            sim.restore(bundle.iter().flat_map(|b| b.releases.iter()));
        }
    }

    /// One poll: a new bundle applied, or a resync when due, then the status reported.
    async fn step(&mut self) -> Result<(), AgentError> {
        if let Some(soon) = self.applier.next_change()
            && soon < Duration::from_secs(1)
        {
            // A status about to change by itself: report it then, without polling.
            tokio::time::sleep(soon).await;
            return self.report().await;
        }
        let mut wait = self
            .applier
            .next_change()
            .map_or(self.poll_wait, |d| d.min(self.poll_wait));
        if self.settling || self.pending() > 0 {
            // Releases on their way to Ready: looked at again soon.
            wait = wait.min(SETTLE_POLL);
        }
        let token = self
            .identity
            .token(&self.http, &self.server, &self.cluster)
            .await?;
        let url = format!(
            "{}/v1/clusters/{}/bundle?wait={}",
            self.server,
            self.cluster,
            wait.as_secs().max(1)
        );
        let mut req = self
            .http
            .get(&url)
            .bearer_auth(&token)
            .timeout(wait + Duration::from_secs(30));
        if let Some(b) = &self.applied.bundle {
            req = req.header("If-None-Match", format!("\"{}\"", b.digest));
        }
        let r = req
            .send()
            .await
            .map_err(|e| AgentError::Server(format!("{url}: {e}")))?;
        let status = r.status().as_u16();
        match status {
            200 => {
                let bundle: Bundle = r
                    .json()
                    .await
                    .map_err(|e| AgentError::Server(format!("{url}: {e}")))?;
                let same = self
                    .applied
                    .bundle
                    .as_ref()
                    .is_some_and(|b| b.digest == bundle.digest);
                self.apply(bundle, &token).await?;
                if same {
                    // Never a busy loop, whatever the server answers.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            304 | 404 => {
                let due = self.applied.bundle.is_some()
                    && crate::login::now().saturating_sub(self.applied.applied_at)
                        >= self.resync.as_secs();
                if due {
                    self.resync_all().await?;
                } else if self.pending() > 0 {
                    // A wave waiting for the one before: tried again.
                    let generation = self.applied.bundle.as_ref().map_or(0, |b| b.generation);
                    let before = self.pending();
                    self.advance(&[], false).await?;
                    if self.pending() < before {
                        self.log_applied(generation, 0);
                    }
                }
            }
            _ => return Err(refused(status, r).await),
        }
        self.report().await
    }

    /// Fetches what is missing of `bundle`, applies what changed, and records it.
    async fn apply(&mut self, bundle: Bundle, token: &str) -> Result<(), AgentError> {
        if bundle.cluster.as_ref() != self.cluster {
            return Err(AgentError::Unsound(format!(
                "it is cluster `{}`'s, not `{}`'s",
                bundle.cluster, self.cluster
            )));
        }
        if !bundle.is_sound() {
            return Err(AgentError::Unsound(
                "its digest is not the digest of what it lists".into(),
            ));
        }
        let missing: BTreeSet<Digest> = bundle
            .releases
            .iter()
            .map(|r| r.manifest)
            .filter(|d| !self.state.has(d))
            .collect();
        let mut fetches = futures::stream::iter(missing)
            .map(|d| self.fetch(d, token))
            .buffer_unordered(FETCHES);
        while let Some(r) = fetches.next().await {
            let (d, bytes) = r?;
            self.state.put_object(&d, &bytes)?;
        }
        drop(fetches);
        let shipped: BTreeSet<&str> = bundle.releases.iter().map(|r| r.release.as_ref()).collect();
        let gone: Vec<plan::IndexEntry> = self
            .applied
            .bundle
            .iter()
            .flat_map(|b| b.releases.iter())
            .filter(|r| !shipped.contains(r.release.as_ref()))
            .cloned()
            .collect();
        let generation = bundle.generation;
        self.applied.bundle = Some(bundle);
        self.advance(&gone, false).await?;
        self.log_applied(generation, gone.len());
        Ok(())
    }

    /// The releases of the target bundle, each with its manifest and whether it is applied
    /// as it is.
    fn targets(&self) -> Result<Vec<(plan::IndexEntry, String, bool)>, AgentError> {
        let Some(bundle) = &self.applied.bundle else {
            return Ok(Vec::new());
        };
        bundle
            .releases
            .iter()
            .map(|e| {
                let manifest = self.state.object(&e.manifest).ok_or_else(|| {
                    AgentError::State(format!("object {} is missing", e.manifest))
                })?;
                let applied = self.applied.releases.get(e.release.as_ref()) == Some(&e.manifest);
                Ok((e.clone(), manifest, applied))
            })
            .collect()
    }

    /// Releases of the target bundle not applied yet (a wave waiting for the one before).
    fn pending(&self) -> usize {
        self.applied.bundle.as_ref().map_or(0, |b| {
            b.releases
                .iter()
                .filter(|e| self.applied.releases.get(e.release.as_ref()) != Some(&e.manifest))
                .count()
        })
    }

    /// Applies what is due of the target bundle (everything with `all`), removes `gone`, and
    /// records what was applied.
    async fn advance(&mut self, gone: &[plan::IndexEntry], all: bool) -> Result<(), AgentError> {
        let owned = self.targets()?;
        let releases = crate::apply::releases(&owned);
        let done = self.applier.apply(&releases, gone, all).await?;
        let digests: BTreeMap<&str, Digest> = owned
            .iter()
            .map(|(e, _, _)| (e.release.as_ref(), e.manifest))
            .collect();
        self.changed_last = done
            .iter()
            .filter(|r| self.applied.releases.get(r.as_str()) != digests.get(r.as_str()))
            .count();
        for r in &done {
            if let Some(d) = digests.get(r.as_str()) {
                self.applied.releases.insert(r.clone(), *d);
            }
        }
        for g in gone {
            self.applied.releases.remove(g.release.as_ref());
        }
        self.applied.applied_at = crate::login::now();
        self.state.save(&self.applied)?;
        let mut keep: BTreeSet<Digest> = digests.values().copied().collect();
        keep.extend(self.applied.releases.values().copied());
        self.state.prune(&keep);
        Ok(())
    }

    fn log_applied(&self, generation: u64, removed: usize) {
        let total = self.applied.bundle.as_ref().map_or(0, |b| b.releases.len());
        let waiting = self.pending();
        let waits = if waiting > 0 {
            format!("; {waiting} waiting for earlier waves")
        } else {
            String::new()
        };
        eprintln!(
            "flotilla agent: applied generation {generation} ({total} releases, {} changed, {removed} removed{waits})",
            self.changed_last
        );
    }

    async fn fetch(&self, d: Digest, token: &str) -> Result<(Digest, Vec<u8>), AgentError> {
        let url = format!("{}/v1/clusters/{}/objects/{d}", self.server, self.cluster);
        let r = self
            .http
            .get(&url)
            .bearer_auth(token)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| AgentError::Server(format!("{url}: {e}")))?;
        if !r.status().is_success() {
            return Err(refused(r.status().as_u16(), r).await);
        }
        let bytes = r
            .bytes()
            .await
            .map_err(|e| AgentError::Server(format!("{url}: {e}")))?;
        if Digest::of(&bytes) != d {
            return Err(AgentError::Unsound(format!("object {d} has other bytes")));
        }
        Ok((d, bytes.to_vec()))
    }

    /// Applies everything again (drift is corrected).
    async fn resync_all(&mut self) -> Result<(), AgentError> {
        self.advance(&[], true).await
    }

    /// Posts the status of every release (the heartbeat).
    async fn report(&mut self) -> Result<(), AgentError> {
        let token = self
            .identity
            .token(&self.http, &self.server, &self.cluster)
            .await?;
        let mut report = StatusReport::new(self.applier.name());
        report.error = self.error.clone();
        if let Some(b) = &self.applied.bundle {
            let (generation, digest) = (b.generation, b.digest);
            report.generation = generation;
            report.digest = Some(digest);
            let owned = self.targets()?;
            let releases = crate::apply::releases(&owned);
            report.releases = self.applier.status(&releases, generation).await;
            self.settling = report.releases.iter().any(|r| {
                matches!(
                    r.phase,
                    Phase::Staged | Phase::Applying | Phase::Progressing
                )
            });
        }
        let url = format!("{}/v1/clusters/{}/status", self.server, self.cluster);
        let r = self
            .http
            .post(&url)
            .bearer_auth(&token)
            .json(&report)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| AgentError::Server(format!("{url}: {e}")))?;
        if !r.status().is_success() {
            return Err(refused(r.status().as_u16(), r).await);
        }
        Ok(())
    }
}

/// The error of a non-2xx answer (its `error.message`, cut short).
async fn refused(status: u16, r: reqwest::Response) -> AgentError {
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    let message: String = body
        .pointer("/error/message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .chars()
        .take(300)
        .collect();
    if matches!(status, 401 | 403) {
        AgentError::Refused { status, message }
    } else {
        AgentError::Server(format!("HTTP {status} {message}"))
    }
}

/// Runs the agent until SIGINT or SIGTERM.
pub async fn run_until_signal(config: Config) -> Result<(), AgentError> {
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        signal().await;
        stop.send_replace(true);
    });
    run(config, stopped).await
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute_with_jitter() {
        let mut b = Backoff::default();
        let d: Vec<Duration> = (0..10).map(|_| b.next()).collect();
        assert!(d[0] >= Duration::from_millis(500) && d[0] <= Duration::from_secs(1));
        assert!(d[3] >= Duration::from_secs(4) && d[3] <= Duration::from_secs(8));
        assert!(d.iter().all(|x| *x <= MAX_BACKOFF));
        assert!(d[9] >= Duration::from_secs(30));
    }
}
