//! What a replica does besides its reconcile loop when several share one store
//! ([`crate::shards`]): a lease round (its heartbeat, the live replicas, the shards' leases
//! renewed, taken or released, each shard taken fenced before it is staged) and a sync round
//! (what the other replicas wrote: deployments, rollouts, registrations, the records of the
//! clusters they stage, the agents' reports and when each agent was last heard from). Both are
//! bounded: one read or write per lease and replica, one listing per kind of record, and a read
//! per record that changed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt as _;
use plan::agent::StatusReport;

use crate::controller::{Controller, ControllerError, json};
use crate::records::{ClusterRecord, Deployment};
use crate::shards::{self, Heartbeat, Held, Lease};
use crate::store::Expect;

/// How many times a fence retries a record that another writer changed under it.
const FENCE_ATTEMPTS: usize = 3;

/// What a lease round changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Shards taken (and fenced) in this round.
    pub taken: Vec<u32>,
    /// Shards released or lost in this round.
    pub dropped: Vec<u32>,
    /// The live replicas, this one included.
    pub live: Vec<String>,
}

impl Controller {
    /// Reads `clusters/<name>` (a file name under `clusters/`) with its version.
    pub(crate) async fn read_record(
        &self,
        name: &str,
    ) -> Result<Option<(ClusterRecord, String)>, ControllerError> {
        let rel = format!("clusters/{name}");
        let Some((bytes, version)) = self.store.get_versioned(&rel).await? else {
            return Ok(None);
        };
        let record = serde_json::from_slice(&bytes).map_err(|source| {
            ControllerError::Store(crate::store::StoreError::Corrupt {
                path: rel.clone(),
                source,
            })
        })?;
        Ok(Some((record, version)))
    }

    /// A record write of `cluster` was refused: another replica holds its shard now. The
    /// shard is dropped (its clusters are not staged here any more) and that is said.
    pub(crate) fn fenced(&self, cluster: &str, epoch: u64) {
        let shard = self.shards.shard_of(cluster);
        self.metrics.fenced_writes.fetch_add(1, Ordering::Relaxed);
        if self.shards.drop_shard(shard) {
            self.metrics.shards_dropped.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "flotilla serve: replica {}: the record of `{cluster}` was changed by another replica: shard {shard} (epoch {epoch}) is no longer ours, dropped",
                self.shards.options.replica
            );
        }
    }

    /// One lease round: the heartbeat, the live replicas, then each shard's lease renewed (if
    /// held and still this replica's to hold), released (if assigned to another live replica),
    /// or taken (if free or expired, and assigned here — or orphaned for two TTLs). A shard
    /// taken is fenced before it is staged.
    pub async fn lease_round(&self) -> Result<Round, ControllerError> {
        let me = self.shards.options.replica.clone();
        let ttl = self.shards.options.ttl;
        let mut round = Round::default();
        let agents: BTreeMap<String, u64> = self
            .agents_seen()
            .into_iter()
            .filter(|(_, a)| a.last_seen > 0)
            .map(|(c, a)| (c, a.last_seen))
            .collect();
        let beat = Heartbeat {
            replica: me.clone(),
            at: crate::auth::now_millis(),
            shards: self.shards.held().into_keys().collect(),
            agents,
        };
        self.store
            .put(&shards::replica_path(&me), json(&beat))
            .await?;
        let mut live = vec![me.clone()];
        for (name, version) in self.store.list_versions(shards::REPLICAS).await? {
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            if id != me
                && self
                    .shards
                    .observe(&format!("{}/{name}", shards::REPLICAS), &version)
                    < ttl
            {
                live.push(id.to_owned());
            }
        }
        live.sort();
        self.others.store(live.len() > 1, Ordering::Relaxed);
        let assignment = shards::assign(self.shards.options.shards, &live);
        let mut taken: Vec<(u32, Held)> = Vec::new();
        for (k, assigned) in (0u32..).zip(&assignment) {
            let path = shards::lease_path(k);
            let mine = assigned.as_deref() == Some(me.as_str());
            let held = self.shards.held().remove(&k);
            let current = self.store.get_versioned(&path).await?;
            let lease = |holder: &str, epoch: u64| Lease {
                shard: k,
                holder: holder.to_owned(),
                epoch,
                renewed_at: crate::auth::now_millis(),
                ttl_ms: ttl.as_millis() as u64,
            };
            match (held, current) {
                (Some(h), Some((_, version))) if version == h.version => {
                    let next = if mine { me.as_str() } else { "" };
                    let written = self
                        .store
                        .put_if(
                            &path,
                            json(&lease(next, h.epoch)),
                            &Expect::Version(version),
                        )
                        .await?;
                    match written {
                        Some(version) if mine => {
                            self.metrics.lease_renewals.fetch_add(1, Ordering::Relaxed);
                            self.shards.hold(
                                k,
                                Held {
                                    epoch: h.epoch,
                                    version,
                                },
                            );
                        }
                        _ => {
                            self.shards.drop_shard(k);
                            round.dropped.push(k);
                            eprintln!(
                                "flotilla serve: replica {me}: shard {k} {}",
                                if mine {
                                    "lost (its lease changed under us)"
                                } else {
                                    "released to its assigned replica"
                                }
                            );
                        }
                    }
                }
                (Some(h), _) => {
                    self.shards.drop_shard(k);
                    self.metrics.shards_dropped.fetch_add(1, Ordering::Relaxed);
                    round.dropped.push(k);
                    eprintln!(
                        "flotilla serve: replica {me}: shard {k} (epoch {}) was taken over while we held it: dropped",
                        h.epoch
                    );
                }
                (None, None) if mine => {
                    if let Some(version) = self
                        .store
                        .put_if(&path, json(&lease(&me, 1)), &Expect::Absent)
                        .await?
                    {
                        taken.push((k, Held { epoch: 1, version }));
                    }
                }
                (None, None) => {}
                (None, Some((bytes, version))) => {
                    let Ok(old) = serde_json::from_slice::<Lease>(&bytes) else {
                        eprintln!(
                            "flotilla serve: replica {me}: {path} is not a lease: left alone"
                        );
                        continue;
                    };
                    let age = self.shards.observe(&path, &version);
                    let free = old.holder.is_empty() || old.holder == me || age >= ttl;
                    if !(free && (mine || age >= 2 * ttl)) {
                        continue;
                    }
                    let epoch = old.epoch + 1;
                    if let Some(version) = self
                        .store
                        .put_if(&path, json(&lease(&me, epoch)), &Expect::Version(version))
                        .await?
                    {
                        if !old.holder.is_empty() && old.holder != me {
                            self.metrics.lease_takeovers.fetch_add(1, Ordering::Relaxed);
                            eprintln!(
                                "flotilla serve: replica {me}: shard {k} taken over from {} (epoch {epoch})",
                                old.holder
                            );
                        }
                        taken.push((k, Held { epoch, version }));
                    }
                }
            }
        }
        // Before a shard taken is staged, what other replicas deployed is learnt: a replica
        // back from a pause would otherwise stage its stale view (a newer bundle replaced by an
        // older one at the next generation).
        if !taken.is_empty() && self.others.load(Ordering::Relaxed) {
            self.sync_deployments().await?;
        }
        for (k, held) in taken {
            match self.fence_shard(k, held.epoch).await {
                Ok(envs) => {
                    self.shards.hold(k, held);
                    round.taken.push(k);
                    let mut state = self.state.lock().await;
                    state.dirty.extend(envs);
                }
                Err(e) => eprintln!("flotilla serve: replica {me}: shard {k}: cannot fence: {e}"),
            }
        }
        // A replica that becomes the coordinator takes over the incidents the one before it
        // opened (their messages were sent; they are resolved, not opened again).
        if round.taken.contains(&0)
            && let Err(e) = self.load_incidents().await
        {
            eprintln!("flotilla serve: replica {me}: cannot read the open incidents: {e}");
        }
        self.metrics
            .shards_held
            .store(self.shards.held().len() as u64, Ordering::Relaxed);
        if !round.taken.is_empty() {
            self.wake.notify_one();
        }
        round.live = live;
        Ok(round)
    }

    /// The clusters this replica knows of (the fleet's and the registered ones).
    fn known_clusters(&self) -> BTreeMap<String, String> {
        let mut all = self.clusters.clone();
        for r in self.registrations() {
            if !r.deregistered {
                all.insert(r.cluster.clone(), r.environment.clone());
            }
        }
        all
    }

    /// Rewrites the record of each cluster of `shard` with `epoch`, each conditional on the
    /// version read (so that a replica that held the shard before can write none of them
    /// again), and loads them. Returns the environments of the shard's clusters.
    async fn fence_shard(
        &self,
        shard: u32,
        epoch: u64,
    ) -> Result<BTreeSet<String>, ControllerError> {
        let clusters: Vec<(String, String)> = self
            .known_clusters()
            .into_iter()
            .filter(|(c, _)| self.shards.shard_of(c) == shard)
            .collect();
        let envs = clusters.iter().map(|(_, e)| e.clone()).collect();
        let mut fences = futures::stream::iter(clusters)
            .map(|(cluster, _)| async move {
                let name = format!("{cluster}.json");
                for _ in 0..FENCE_ATTEMPTS {
                    let Some((mut record, version)) = self.read_record(&name).await? else {
                        return Ok((cluster, None));
                    };
                    record.epoch = epoch;
                    if let Some(version) = self
                        .store
                        .put_if(
                            &format!("clusters/{name}"),
                            json(&record),
                            &Expect::Version(version),
                        )
                        .await?
                    {
                        return Ok((cluster, Some((record, version))));
                    }
                }
                Err(ControllerError::Invalid(format!(
                    "the record of `{cluster}` kept changing under the fence"
                )))
            })
            .buffer_unordered(bundle::CONCURRENCY);
        while let Some(fenced) = fences.next().await {
            let (cluster, now) = fenced?;
            let mut state = self.state.lock().await;
            match now {
                Some((record, version)) => {
                    state.record_versions.insert(cluster.clone(), version);
                    state.clusters.insert(cluster, record);
                }
                None => {
                    state.record_versions.remove(&cluster);
                    state.clusters.remove(&cluster);
                }
            }
        }
        Ok(envs)
    }

    /// Notes `path` at `version`; true when it changed since the last sync.
    fn changed(&self, path: &str, version: &str) -> bool {
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        if synced.get(path).is_some_and(|v| v == version) {
            return false;
        }
        synced.insert(path.to_owned(), version.to_owned());
        true
    }

    /// One sync round: what other replicas wrote since the last one. Nothing is read when no
    /// other replica is live (this one wrote everything there is).
    pub async fn sync_round(&self) -> Result<(), ControllerError> {
        if !self.others.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.sync_deployments().await?;
        // Registrations: any change reloads them (they are few and small).
        let mut registry_changed = false;
        for (name, version) in self.store.list_versions("registry").await? {
            registry_changed |= self.changed(&format!("registry/{name}"), &version);
        }
        if registry_changed {
            self.load_registry().await?;
            let envs: BTreeSet<String> = self.known_clusters().into_values().collect();
            self.state.lock().await.dirty.extend(envs);
        }
        // The records of clusters other replicas stage: long polls here see them.
        if !self.shards.holds_all() {
            let mut moved = false;
            for (name, version) in self.store.list_versions("clusters").await? {
                let Some(cluster) = name.strip_suffix(".json") else {
                    continue;
                };
                if self.shards.epoch_of(cluster).is_some() {
                    continue;
                }
                let known = {
                    let state = self.state.lock().await;
                    state.record_versions.get(cluster) == Some(&version)
                };
                if known {
                    continue;
                }
                if let Some((record, version)) = self.read_record(&name).await? {
                    let newer = {
                        let mut state = self.state.lock().await;
                        // Only forward: a record read late never replaces a newer one.
                        let newer = state
                            .clusters
                            .get(cluster)
                            .is_none_or(|r| r.generation <= record.generation);
                        if newer {
                            state.record_versions.insert(cluster.to_owned(), version);
                            state.clusters.insert(cluster.to_owned(), record.clone());
                        }
                        newer
                    };
                    if newer {
                        moved = true;
                        self.learn_record(&record).await?;
                    }
                }
            }
            if moved {
                self.staged_tx.send_modify(|n| *n += 1);
            }
        }
        // Every replica answers reads of the deployments' state: each knows every report.
        self.sync_reports().await?;
        Ok(())
    }

    /// What a cluster another replica stages runs, from its record and index: the services
    /// (for the feedback) and their versions under rollouts.
    async fn learn_record(&self, record: &ClusterRecord) -> Result<(), ControllerError> {
        let services: Option<crate::feedback::Targets> = self
            .current_index(&record.cluster, &record.digest)
            .await?
            .map(|index| {
                let mut names: Vec<Arc<str>> = index
                    .releases
                    .iter()
                    .map(|r| Arc::clone(&r.service))
                    .collect();
                names.sort();
                names.dedup();
                names.into()
            });
        if let Some(services) = services {
            self.targets
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(record.cluster.clone(), services);
        }
        let mut running = self.running.write().unwrap_or_else(|e| e.into_inner());
        if record.running.is_empty() {
            running.remove(&record.cluster);
        } else {
            running.insert(record.cluster.clone(), record.running.clone());
        }
        Ok(())
    }

    /// Deployments and rollouts other replicas wrote: each (service, environment) whose
    /// highest deployment is newer than the one in memory is made current, with its rollout.
    async fn sync_deployments(&self) -> Result<(), ControllerError> {
        let mut latest: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
        for name in self.store.list("deployments").await? {
            let parts: Vec<&str> = name.split('/').collect();
            if let [service, env, file] = parts[..]
                && let Some(seq) = file
                    .strip_suffix(".json")
                    .and_then(|n| n.parse::<u64>().ok())
            {
                let e = latest
                    .entry((service.to_owned(), env.to_owned()))
                    .or_default();
                if seq >= e.0 {
                    *e = (seq, name.clone());
                }
            }
        }
        for ((service, env), (seq, name)) in latest {
            let behind = {
                let state = self.state.lock().await;
                state
                    .current
                    .get(&(service.clone(), env.clone()))
                    .is_none_or(|d| d.seq < seq)
            };
            if !behind {
                continue;
            }
            let rel = format!("deployments/{name}");
            let d = match self.store.get_json::<Deployment>(&rel).await? {
                Some(d) => d,
                None => continue,
            };
            self.adopt(d).await?;
        }
        // Rollouts stepped by the coordinator (or written with a deployment elsewhere).
        let listed = self.store.list_versions(crate::rollout::ROLLOUTS).await?;
        {
            // A rollout the coordinator found not progressive is deleted: gone here too. One
            // missing from the listing is read once more (it may have been written since):
            // a rollout is in the store before it is in memory, so one not there any more was
            // deleted.
            let present: BTreeSet<String> = listed
                .iter()
                .map(|(n, _)| format!("{}/{n}", crate::rollout::ROLLOUTS))
                .collect();
            let missing: Vec<((String, String), String)> = {
                let state = self.state.lock().await;
                state
                    .rollouts
                    .iter()
                    .map(|(k, r)| (k.clone(), r.path()))
                    .filter(|(_, path)| !present.contains(path))
                    .collect()
            };
            for (key, path) in missing {
                if self.store.get(&path).await?.is_none() {
                    let mut state = self.state.lock().await;
                    if state.rollouts.get(&key).is_some_and(|r| r.path() == path) {
                        state.dirty.insert(key.1.clone());
                        state.rollouts.remove(&key);
                    }
                }
            }
        }
        for (name, version) in listed {
            if !self.changed(&format!("{}/{name}", crate::rollout::ROLLOUTS), &version) {
                continue;
            }
            let Some(r) = self
                .read_rollout(&format!("{}/{name}", crate::rollout::ROLLOUTS))
                .await?
            else {
                continue;
            };
            let key = (r.service.clone(), r.environment.clone());
            if r.holds_back()
                && let Some(previous) = r.previous
            {
                self.hold_version(&r.service, &previous).await?;
            }
            let mut state = self.state.lock().await;
            let current = state.current.get(&key).map(|d| (d.seq, d.version));
            if current.is_some_and(|(seq, v)| seq == r.seq && v == r.version)
                && state.rollouts.get(&key) != Some(&r)
            {
                state.dirty.insert(r.environment.clone());
                state.rollouts.insert(key, r);
            }
        }
        Ok(())
    }

    /// The agents' reports stored by other replicas, and when those replicas last heard from
    /// each agent (their heartbeats).
    async fn sync_reports(&self) -> Result<(), ControllerError> {
        let me = self.shards.options.replica.clone();
        let mut heard: BTreeMap<String, u64> = BTreeMap::new();
        for name in self.store.list(shards::REPLICAS).await? {
            if name == format!("{me}.json") {
                continue;
            }
            if let Some(beat) = self
                .store
                .get_json::<Heartbeat>(&format!("{}/{name}", shards::REPLICAS))
                .await?
            {
                for (c, t) in beat.agents {
                    let e = heard.entry(c).or_default();
                    *e = (*e).max(t);
                }
            }
        }
        let mut reports: Vec<(String, StatusReport)> = Vec::new();
        for (name, version) in self.store.list_versions("status").await? {
            if !self.changed(&format!("status/{name}"), &version) {
                continue;
            }
            let Some(cluster) = name.strip_suffix(".json") else {
                continue;
            };
            #[derive(serde::Deserialize)]
            struct Stored {
                report: StatusReport,
            }
            if let Some(s) = self
                .store
                .get_json::<Stored>(&format!("status/{name}"))
                .await?
            {
                reports.push((cluster.to_owned(), s.report));
            }
        }
        let woke = !reports.is_empty();
        self.merge_seen(heard, reports);
        if woke {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Runs lease and sync rounds every `every` until `stop` turns true.
    pub async fn run_replica(
        self: Arc<Self>,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow_and_update() {
                return;
            }
            if let Err(e) = self.lease_round().await {
                eprintln!("flotilla serve: leases: {e}");
            }
            if let Err(e) = self.sync_round().await {
                eprintln!("flotilla serve: sync: {e}");
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
