//! Simulated agents: one tokio task per cluster, speaking the agent protocol over real HTTP
//! with the cluster's own token.
//!
//! Each one long-polls its bundle (`If-None-Match`, `?wait=`), fetches the manifests that
//! changed (each checked against its digest), takes a release as Ready `ready_after` after it
//! was applied, and reports its status on every poll (the heartbeat) and whenever a release
//! turns Ready. It keeps digests only, never manifests: a simulated cluster costs a few
//! kilobytes, so thousands fit in one process. The first bundle is taken as already applied
//! (the agent of a running cluster, restarted): the simulation measures changes, not the first
//! download of a whole fleet.
//!
//! What each agent has applied, and when each release turned Ready (the server's 2xx to the
//! report saying so), is kept in [`Views`] for the driver to measure.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plan::Digest;
use plan::agent::{Bundle, Phase, ReleaseStatus, StatusReport};
use tokio::sync::watch;

/// One cluster's view, as its agent last saw and reported it: service → release.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub(crate) releases: HashMap<Arc<str>, Applied>,
    /// A bundle was received (and taken as applied).
    pub(crate) started: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Applied {
    pub(crate) manifest: Digest,
    /// When the server acknowledged a report of it Ready.
    pub(crate) ready_at: Option<Instant>,
}

/// Every agent's view, by agent index.
pub(crate) type Views = Arc<Vec<Mutex<View>>>;

/// Requests sent by the agents, and those that failed (transport errors and statuses other
/// than 2xx and 304).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) errors: AtomicU64,
}

impl Counters {
    fn count(&self, ok: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What every agent shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) server: String,
    pub(crate) http: reqwest::Client,
    pub(crate) poll: Duration,
    pub(crate) ready_after: Duration,
    pub(crate) counters: Arc<Counters>,
    pub(crate) views: Views,
}

/// The longest pause after a failed request.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A release as this agent applied it.
#[derive(Debug)]
struct Release {
    entry: plan::IndexEntry,
    applied_at: Instant,
    ready: bool,
}

struct Agent {
    index: usize,
    cluster: String,
    token: String,
    shared: Shared,
    bundle: Option<(u64, Digest)>,
    releases: Vec<Release>,
}

/// Runs agent `index` for `cluster` until `stop` turns true.
pub(crate) async fn run(
    index: usize,
    cluster: String,
    token: String,
    shared: Shared,
    delay: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut agent = Agent {
        index,
        cluster,
        token,
        shared,
        bundle: None,
        releases: Vec::new(),
    };
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        _ = stop.changed() => return,
    }
    let mut failures = 0u32;
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        let step = tokio::select! {
            r = agent.step() => r,
            _ = stop.changed() => return,
        };
        let pause = match step {
            Ok(()) => {
                failures = 0;
                continue;
            }
            Err(()) => {
                failures = failures.saturating_add(1);
                Duration::from_millis(250u64 << failures.min(6)).min(MAX_BACKOFF)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

impl Agent {
    /// The earliest moment a release applied but not Ready turns Ready.
    fn next_ready(&self) -> Option<Instant> {
        self.releases
            .iter()
            .filter(|r| !r.ready)
            .map(|r| r.applied_at + self.shared.ready_after)
            .min()
    }

    /// One poll (or one wait for a release to turn Ready), then the report.
    async fn step(&mut self) -> Result<(), ()> {
        let now = Instant::now();
        let wait = match self.next_ready() {
            Some(at) if at <= now + Duration::from_secs(1) => {
                tokio::time::sleep_until(at.into()).await;
                return self.report().await;
            }
            Some(at) => (at - now).min(self.shared.poll),
            None => self.shared.poll,
        };
        let url = format!(
            "{}/v1/clusters/{}/bundle?wait={}",
            self.shared.server,
            self.cluster,
            wait.as_secs().max(1)
        );
        let mut req = self
            .shared
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .timeout(wait + Duration::from_secs(30));
        if let Some((_, digest)) = &self.bundle {
            req = req.header("If-None-Match", format!("\"{digest}\""));
        }
        let r = req.send().await;
        let ok = r
            .as_ref()
            .is_ok_and(|r| r.status().is_success() || r.status().as_u16() == 304);
        self.shared.counters.count(ok);
        let r = r.map_err(|_| ())?;
        match r.status().as_u16() {
            200 => {
                let bundle: Bundle = r.json().await.map_err(|_| ())?;
                if bundle.cluster.as_ref() != self.cluster || !bundle.is_sound() {
                    self.shared.counters.errors.fetch_add(1, Ordering::Relaxed);
                    return Err(());
                }
                self.apply(bundle).await?;
            }
            // 404: nothing staged for this cluster yet.
            304 | 404 => {}
            _ => return Err(()),
        }
        self.report().await
    }

    /// Fetches the manifests that changed and takes them as applied now (the first bundle as
    /// applied long ago, and Ready).
    async fn apply(&mut self, bundle: Bundle) -> Result<(), ()> {
        let first = self.bundle.is_none();
        let before: HashMap<&str, Digest> = self
            .releases
            .iter()
            .map(|r| (r.entry.release.as_ref(), r.entry.manifest))
            .collect();
        let changed: Vec<Digest> = bundle
            .releases
            .iter()
            .filter(|e| before.get(e.release.as_ref()) != Some(&e.manifest))
            .map(|e| e.manifest)
            .collect();
        if !first {
            for digest in changed {
                self.fetch(digest).await?;
            }
        }
        let now = Instant::now();
        let mut releases = Vec::with_capacity(bundle.releases.len());
        let old = std::mem::take(&mut self.releases);
        let mut old: HashMap<Arc<str>, Release> = old
            .into_iter()
            .map(|r| (r.entry.release.clone(), r))
            .collect();
        for entry in bundle.releases {
            match old.remove(&entry.release) {
                Some(r) if r.entry.manifest == entry.manifest => releases.push(r),
                _ => releases.push(Release {
                    entry,
                    applied_at: now,
                    ready: first,
                }),
            }
        }
        self.releases = releases;
        self.bundle = Some((bundle.generation, bundle.digest));
        let mut view = lock(&self.shared.views[self.index]);
        view.started = true;
        view.releases.retain(|service, _| {
            self.releases
                .iter()
                .any(|r| r.entry.service.as_ref() == service.as_ref())
        });
        for r in &self.releases {
            let e = view
                .releases
                .entry(r.entry.service.clone())
                .or_insert(Applied {
                    manifest: r.entry.manifest,
                    ready_at: None,
                });
            if e.manifest != r.entry.manifest {
                *e = Applied {
                    manifest: r.entry.manifest,
                    ready_at: None,
                };
            }
            if first {
                e.ready_at.get_or_insert(now);
            }
        }
        Ok(())
    }

    /// Sends a request with this agent's token, counted; `Err` unless the answer is a 2xx.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ()> {
        let r = req
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(60))
            .send()
            .await;
        let ok = r.as_ref().is_ok_and(|r| r.status().is_success());
        self.shared.counters.count(ok);
        r.ok().filter(|_| ok).ok_or(())
    }

    async fn fetch(&self, digest: Digest) -> Result<(), ()> {
        let url = format!(
            "{}/v1/clusters/{}/objects/{digest}",
            self.shared.server, self.cluster
        );
        let r = self.send(self.shared.http.get(&url)).await?;
        let bytes = r.bytes().await.map_err(|_| ())?;
        if Digest::of(&bytes) != digest {
            self.shared.counters.errors.fetch_add(1, Ordering::Relaxed);
            return Err(());
        }
        Ok(())
    }

    /// Reports every release's phase; those that turned Ready are recorded once the server
    /// acknowledged it.
    async fn report(&mut self) -> Result<(), ()> {
        let Some((generation, digest)) = self.bundle else {
            return Ok(());
        };
        let now = Instant::now();
        let mut turned = Vec::new();
        for (i, r) in self.releases.iter_mut().enumerate() {
            if !r.ready && now >= r.applied_at + self.shared.ready_after {
                r.ready = true;
                turned.push(i);
            }
        }
        let mut report = StatusReport::new("sim");
        report.generation = generation;
        report.digest = Some(digest);
        report.releases = self
            .releases
            .iter()
            .map(|r| {
                let phase = if r.ready {
                    Phase::Ready
                } else {
                    Phase::Progressing
                };
                ReleaseStatus::new(&r.entry, phase, generation)
            })
            .collect();
        let url = format!("{}/v1/clusters/{}/status", self.shared.server, self.cluster);
        if self
            .send(self.shared.http.post(&url).json(&report))
            .await
            .is_err()
        {
            // Reported again by the next step.
            for i in turned {
                self.releases[i].ready = false;
            }
            return Err(());
        }
        if !turned.is_empty() {
            let at = Instant::now();
            let mut view = lock(&self.shared.views[self.index]);
            for i in turned {
                let entry = &self.releases[i].entry;
                if let Some(a) = view.releases.get_mut(&entry.service)
                    && a.manifest == entry.manifest
                {
                    a.ready_at.get_or_insert(at);
                }
            }
        }
        Ok(())
    }
}

/// A lock that a panicked holder did not spoil (views are plain data).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
