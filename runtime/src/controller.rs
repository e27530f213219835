//! The controller: published versions, deployments, and the reconcile loop that compiles each
//! environment with the versions deployed there and stages every cluster whose bundle moved.
//!
//! The store is the source of truth; memory holds only what is deployed (and the staged
//! digests). Every change is written to the store before it is acknowledged; the loop then
//! converges the staging area to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use plan::{ClusterIndex, Digest};
use syntax::FleetFiles;
use tokio::sync::{Mutex, Notify};

use crate::auth::now;
use crate::fleet::{FleetConfig, FleetError, Notifications, VersionFiles};
use crate::metrics::Metrics;
use crate::notify::{Announcement, Notifier};
use crate::records::{ClusterRecord, Deployment, Provenance, Version, VersionMeta};
use crate::registry::Registration;
use crate::store::{Store, StoreError};

/// Marks a store whose first state (the fleet as it stood) is complete.
const INITIALIZED: &str = "initialized";
/// How many times a create-only write is retried after losing a race.
const MAX_RACE_RETRIES: usize = 5;
/// The largest version a publish may carry (all files together).
pub const MAX_VERSION_BYTES: usize = 32 << 20;

/// Why the controller could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fleet(#[from] FleetError),
    #[error("the fleet cannot be read: {0}")]
    Source(#[source] compiler::SourceError),
    #[error("the fleet has errors:\n{0}")]
    Diagnostics(String),
    #[error("{0}")]
    Pipeline(#[source] pipeline::PipelineError),
    #[error("no environment `{name}` (the fleet's environments: {known})")]
    UnknownEnvironment { name: String, known: String },
    #[error("no service `{name}`")]
    UnknownService { name: String },
    #[error("service `{service}` has no version `{version}`")]
    UnknownVersion { service: String, version: String },
    #[error("label `{label}` of `{service}` names another version ({existing})")]
    LabelTaken {
        service: String,
        label: String,
        existing: Digest,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("service `{service}` has no earlier deployment to `{environment}` to roll back to")]
    NothingToRollBack {
        service: String,
        environment: String,
    },
    #[error("another controller changed `{0}` at the same time; try again")]
    Race(String),
    #[error("service `{service}` has no rollout in `{environment}`")]
    NoRollout {
        service: String,
        environment: String,
    },
    #[error("the rollout of `{service}` in `{environment}` cannot do that: {why}")]
    RolloutConflict {
        service: String,
        environment: String,
        why: String,
    },
    #[error(
        "nothing awaits approval for `{service}` in `{environment}`: no rollout completed in the environment before it"
    )]
    NothingToApprove {
        service: String,
        environment: String,
    },
}

/// What a publish did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub service: String,
    pub digest: Digest,
    pub label: String,
    /// False when the same content was published before (nothing changed).
    pub created: bool,
    /// The deployment to the first environment, when one was made.
    pub deployed: Option<Deployment>,
}

/// What the reconcile loop did in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    pub staged: Vec<String>,
    pub errors: Vec<String>,
}

/// The desired state in memory.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// (service, environment) → the current deployment.
    pub(crate) current: BTreeMap<(String, String), Deployment>,
    /// (service, environment) → its last rollout.
    pub(crate) rollouts: BTreeMap<(String, String), crate::rollout::Rollout>,
    /// The versions deployed somewhere (or held back by a rollout), by digest.
    pub(crate) versions: BTreeMap<Digest, Arc<Version>>,
    /// Staged clusters.
    pub(crate) clusters: BTreeMap<String, ClusterRecord>,
    /// The version of each cluster's record in the store, as last read or written: the next
    /// write replaces that version or nothing.
    pub(crate) record_versions: BTreeMap<String, String>,
    /// The environments whose inputs changed since their last compile.
    pub(crate) dirty: BTreeSet<String>,
    /// The last error of each environment's compile.
    failures: BTreeMap<String, String>,
    /// The environments whose last error is the platform's (a store, a secret backend).
    platform_failures: BTreeSet<String>,
}

impl State {
    /// The rollouts in force: each the rollout of its environment's current deployment.
    pub(crate) fn rollouts_in_force(&self) -> impl Iterator<Item = &crate::rollout::Rollout> {
        self.rollouts.values().filter(|r| {
            self.current
                .get(&(r.service.clone(), r.environment.clone()))
                .is_some_and(|d| d.seq == r.seq)
        })
    }
}

/// The controller.
pub struct Controller {
    pub store: Store,
    fleet_dir: PathBuf,
    /// The fleet's files (services included: a service the store has no version of is not
    /// deployed).
    base: FleetFiles,
    pub config: FleetConfig,
    /// The fleet's clusters: name → environment.
    pub clusters: BTreeMap<String, String>,
    cluster_files: BTreeMap<String, String>,
    /// Loaded fleet model (for RBAC's view of clusters and services).
    pub model: syntax::model::Fleet,
    pub policies: policies::Policies,
    env: pipeline::Environment,
    pub(crate) state: Mutex<State>,
    /// Serializes mutations (publish, deploy) within this process.
    pub(crate) writes: Mutex<()>,
    /// The rollouts' time.
    pub clock: crate::rollout::Clock,
    pub(crate) rollout_audit_seq: std::sync::atomic::AtomicU64,
    /// Cluster → service under a rollout in its environment → the version its staged bundle
    /// runs (replaced whole each time the cluster's bundle is staged or found current).
    pub(crate) running: std::sync::RwLock<BTreeMap<String, BTreeMap<String, Digest>>>,
    pub wake: Notify,
    pub metrics: Arc<Metrics>,
    pub notifier: Notifier,
    /// Every cluster agents may act for (declared in the fleet, or registered).
    pub(crate) registry: std::sync::RwLock<BTreeMap<String, Registration>>,
    /// Counts staging passes that staged something: long polls wait on it.
    pub(crate) staged_tx: tokio::sync::watch::Sender<u64>,
    /// Objects this process staged (content-addressed and never removed, so not written
    /// again); empty after a restart, when the first staging writes every object it names.
    staged_objects: std::sync::Mutex<std::collections::HashSet<plan::Digest>>,
    /// What each cluster's agent reported last, and when.
    pub(crate) agents: std::sync::Mutex<BTreeMap<String, crate::agents::AgentSeen>>,
    /// Where stuck deployments and platform faults go.
    pub notifications: Notifications,
    /// (environment, service) → what the feedback needs of the version deployed there.
    pub(crate) services_info:
        std::sync::RwLock<BTreeMap<(String, String), crate::feedback::ServiceInfo>>,
    /// Cluster → the services its staged bundle runs.
    pub(crate) targets: std::sync::RwLock<BTreeMap<String, crate::feedback::Targets>>,
    /// Open incidents, by key (also in the store).
    pub(crate) incidents: Mutex<BTreeMap<String, crate::feedback::Incident>>,
    /// When the last messages went out (the per-minute budget).
    pub(crate) sent_messages: std::sync::Mutex<Vec<Instant>>,
    /// Deployments seen Succeeded (their time to Ready observed once).
    pub(crate) succeeded: std::sync::Mutex<BTreeSet<(String, String, u64)>>,
    /// Clusters registered by this process, timed to their first bundle and to all Ready.
    pub(crate) bootstrap: std::sync::Mutex<BTreeMap<String, crate::feedback::Bootstrap>>,
    /// The agents' heartbeat (milliseconds): silent after three.
    heartbeat_ms: std::sync::atomic::AtomicU64,
    /// Cluster → its current index as parsed, with the digest it was staged as.
    pub(crate) index_cache: std::sync::Mutex<BTreeMap<String, (Digest, Arc<plan::ClusterIndex>)>>,
    /// The last loop pass and the loop's interval (milliseconds).
    pass_ms: std::sync::atomic::AtomicU64,
    interval_ms: std::sync::atomic::AtomicU64,
    /// The shards this replica stages, and its leases.
    pub shards: crate::shards::Shards,
    /// What this replica last read of what other replicas write (path → version).
    pub(crate) synced: std::sync::Mutex<BTreeMap<String, String>>,
    /// Whether other live replicas share the store (seen by the last lease round).
    pub(crate) others: std::sync::atomic::AtomicBool,
    /// The version of each rollout record as this replica last read or wrote it (its next
    /// step replaces that version or nothing).
    pub(crate) rollout_versions: std::sync::Mutex<BTreeMap<String, String>>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("store", &self.store)
            .field("fleet_dir", &self.fleet_dir)
            .finish_non_exhaustive()
    }
}

fn version_dir(service: &str, digest: &Digest) -> String {
    format!("versions/{service}/{}", digest.hex())
}

/// A record's JSON text (pretty, ending in a newline).
pub(crate) fn json(value: &impl serde::Serialize) -> Bytes {
    let mut v = serde_json::to_vec_pretty(value).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

impl Controller {
    /// Reads the fleet, opens the state in `store` (the fleet as it stands becomes the first
    /// version of every service, deployed everywhere, when the store has none) and loads what
    /// is deployed.
    pub async fn start(
        fleet_dir: &Path,
        store: Store,
        env: pipeline::Environment,
        metrics: Arc<Metrics>,
    ) -> Result<Controller, ControllerError> {
        let dir = fleet_dir.to_path_buf();
        let base = tokio::task::spawn_blocking(move || pipeline::read_fleet(&dir))
            .await
            .map_err(|e| ControllerError::Invalid(e.to_string()))?
            .map_err(ControllerError::Pipeline)?;
        let mut base = base;
        for name in [crate::fleet::FLEET_FILE, crate::fleet::NOTIFICATIONS_FILE] {
            let path = fleet_dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    base.files.insert(name.to_owned(), text);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ControllerError::Invalid(format!(
                        "cannot read {}: {e}",
                        path.display()
                    )));
                }
            }
        }
        let mut diags = syntax::diag::Diags::new(&base);
        let model = compiler::load::load(&base, &mut diags);
        let report = diags.finish();
        if report.has_errors() {
            return Err(ControllerError::Diagnostics(report.render_text()));
        }
        // The policies are the fleet's as it stands (RBAC decides who may change what).
        let policy_files = pipeline::policy_files(fleet_dir);
        let loaded = policies::load(&policy_files);
        if loaded.diagnostics.has_errors() {
            return Err(ControllerError::Diagnostics(
                loaded.diagnostics.render_text(),
            ));
        }
        let policies = loaded.policies;
        let clusters: BTreeMap<String, String> = model
            .clusters
            .values()
            .map(|c| (c.name.as_str().to_owned(), c.environment.clone()))
            .collect();
        let cluster_files = model
            .clusters
            .values()
            .map(|c| (c.name.as_str().to_owned(), c.file.clone()))
            .collect();
        let envs: Vec<String> = clusters.values().cloned().collect();
        let config = FleetConfig::of(&base, &envs)?;
        let notifications_config = Notifications::of(&base)?;
        let notifier = Notifier::start(
            notifications_config
                .slack
                .as_ref()
                .map(|s| s.webhook.clone()),
            Arc::clone(&metrics),
        );
        let controller = Controller {
            store,
            fleet_dir: fleet_dir.to_path_buf(),
            base,
            config,
            clusters,
            cluster_files,
            model,
            policies,
            env,
            state: Mutex::new(State::default()),
            writes: Mutex::new(()),
            clock: crate::rollout::Clock::System,
            rollout_audit_seq: std::sync::atomic::AtomicU64::new(0),
            running: std::sync::RwLock::new(BTreeMap::new()),
            wake: Notify::new(),
            metrics,
            notifier,
            registry: std::sync::RwLock::new(BTreeMap::new()),
            staged_tx: tokio::sync::watch::channel(0).0,
            staged_objects: std::sync::Mutex::default(),
            agents: std::sync::Mutex::new(BTreeMap::new()),
            notifications: notifications_config,
            services_info: std::sync::RwLock::new(BTreeMap::new()),
            targets: std::sync::RwLock::new(BTreeMap::new()),
            incidents: Mutex::new(BTreeMap::new()),
            sent_messages: std::sync::Mutex::new(Vec::new()),
            succeeded: std::sync::Mutex::new(BTreeSet::new()),
            bootstrap: std::sync::Mutex::new(BTreeMap::new()),
            heartbeat_ms: std::sync::atomic::AtomicU64::new(30_000),
            index_cache: std::sync::Mutex::new(BTreeMap::new()),
            pass_ms: std::sync::atomic::AtomicU64::new(0),
            interval_ms: std::sync::atomic::AtomicU64::new(5_000),
            shards: crate::shards::Shards::new(crate::shards::ShardOptions::default()),
            synced: std::sync::Mutex::new(BTreeMap::new()),
            others: std::sync::atomic::AtomicBool::new(false),
            rollout_versions: std::sync::Mutex::new(BTreeMap::new()),
        };
        controller.load().await?;
        controller.load_registry().await?;
        controller.load_incidents().await?;
        Ok(controller)
    }

    /// Loads the current deployments, their versions and the staged clusters from the store;
    /// with an empty store, publishes the fleet as it stands first.
    async fn load(&self) -> Result<(), ControllerError> {
        if self.store.get(INITIALIZED).await?.is_none() {
            self.initial().await?;
        }
        let mut state = State::default();
        let names = self.store.list("deployments").await?;
        // deployments/<service>/<env>/<seq>.json: the highest number of each pair.
        let mut latest: BTreeMap<(String, String), String> = BTreeMap::new();
        for name in names {
            let parts: Vec<&str> = name.split('/').collect();
            if let [service, env, file] = parts[..] {
                let key = (service.to_owned(), env.to_owned());
                let e = latest.entry(key).or_default();
                if file > e.as_str() {
                    *e = file.to_owned();
                }
            }
        }
        for ((service, env), file) in latest {
            let rel = format!("deployments/{service}/{env}/{file}");
            let Some(d) = self.store.get_json::<Deployment>(&rel).await? else {
                continue;
            };
            if let std::collections::btree_map::Entry::Vacant(slot) =
                state.versions.entry(d.version)
            {
                slot.insert(Arc::new(self.read_version(&service, &d.version).await?));
            }
            state.current.insert((service, env), d);
        }
        // Each (service, environment)'s last rollout: the highest number not past its
        // current deployment (a higher one is a rollout whose deployment was never written),
        // and at the current number only if it names the deployed version.
        let mut last: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
        for name in self.store.list(crate::rollout::ROLLOUTS).await? {
            let parts: Vec<&str> = name.split('/').collect();
            let [service, env, file] = parts[..] else {
                continue;
            };
            let Some(seq) = file
                .strip_suffix(".json")
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let key = (service.to_owned(), env.to_owned());
            let Some(current) = state.current.get(&key) else {
                continue;
            };
            if seq <= current.seq && last.get(&key).is_none_or(|(s, _)| *s < seq) {
                last.insert(key, (seq, name.clone()));
            }
        }
        for (key, (_, name)) in last {
            let Some(r) = self
                .read_rollout(&format!("{}/{name}", crate::rollout::ROLLOUTS))
                .await?
            else {
                continue;
            };
            let current = &state.current[&key];
            if r.seq == current.seq && r.version != current.version {
                continue;
            }
            state.rollouts.insert(key, r);
        }
        // The versions rollouts hold back.
        let held: Vec<(String, Digest)> = state
            .rollouts
            .values()
            .filter(|r| r.holds_back())
            .filter_map(|r| Some((r.service.clone(), r.previous?)))
            .collect();
        for (service, digest) in held {
            if let std::collections::btree_map::Entry::Vacant(slot) = state.versions.entry(digest) {
                slot.insert(Arc::new(self.read_version(&service, &digest).await?));
            }
        }
        for name in self.store.list("clusters").await? {
            if let Some((c, version)) = self.read_record(&name).await? {
                state.record_versions.insert(c.cluster.clone(), version);
                state.clusters.insert(c.cluster.clone(), c);
            }
        }
        state.dirty = self
            .config
            .environments
            .iter()
            .map(|e| e.name.clone())
            .collect();
        *self.state.lock().await = state;
        Ok(())
    }

    pub(crate) async fn read_version(
        &self,
        service: &str,
        digest: &Digest,
    ) -> Result<Version, ControllerError> {
        let dir = version_dir(service, digest);
        let meta = self.meta(service, digest).await?;
        let files = self
            .store
            .get_json::<VersionFiles>(&format!("{dir}/files.json"))
            .await?;
        match (meta, files) {
            (Some(meta), Some(files)) => Ok(Version { meta, files }),
            _ => Err(ControllerError::UnknownVersion {
                service: service.to_owned(),
                version: digest.to_string(),
            }),
        }
    }

    /// The fleet as it stands: each service's files become its first version, deployed to
    /// every environment. Idempotent, and finished by the `initialized` mark: a start that
    /// died half-way is completed by the next (a version stored again is the same; a
    /// deployment is only made where the service has none), and once marked, the fleet's
    /// services are never read as versions again.
    async fn initial(&self) -> Result<(), ControllerError> {
        let services: Vec<String> = self
            .model
            .services
            .keys()
            .map(|s| s.as_str().to_owned())
            .collect();
        for service in services {
            let files = VersionFiles::of(&self.base, &service)?;
            let label = format!("fleet-{}", &files.digest().hex()[..12]);
            let provenance = Provenance {
                publisher: "flotilla".into(),
                ..Provenance::default()
            };
            let (meta, _) = self
                .store_version(&service, &label, files, provenance)
                .await?;
            for e in &self.config.environments {
                let dir = format!("deployments/{service}/{}", e.name);
                if self.store.list(&dir).await?.is_empty() {
                    self.append_deployment(
                        &service,
                        &e.name,
                        &meta,
                        Why {
                            principal: "system:flotilla",
                            reason: "initial",
                            ci_job: None,
                        },
                        None,
                    )
                    .await?;
                }
            }
        }
        self.store
            .put(
                INITIALIZED,
                Bytes::from_static(b"the fleet's services were published\n"),
            )
            .await?;
        Ok(())
    }

    /// Stores a version (files, then label, then meta). Returns its meta and whether it is new.
    async fn store_version(
        &self,
        service: &str,
        label: &str,
        files: VersionFiles,
        provenance: Provenance,
    ) -> Result<(VersionMeta, bool), ControllerError> {
        let digest = files.digest();
        let dir = version_dir(service, &digest);
        if let Some(meta) = self.meta(service, &digest).await? {
            // Identical content: nothing to do, unless the label names another version.
            if let Some(existing) = self.label(service, label).await?
                && existing != digest
            {
                return Err(ControllerError::LabelTaken {
                    service: service.to_owned(),
                    label: label.to_owned(),
                    existing,
                });
            }
            return Ok((meta, false));
        }
        let chart = chart_of(&files, service);
        self.store
            .put(&format!("{dir}/files.json"), json(&files))
            .await?;
        let label_path = format!("labels/{service}/{label}");
        if !self
            .store
            .create(&label_path, Bytes::from(digest.to_string()))
            .await?
        {
            let existing = self.label(service, label).await?;
            if existing != Some(digest) {
                return Err(ControllerError::LabelTaken {
                    service: service.to_owned(),
                    label: label.to_owned(),
                    existing: existing.unwrap_or(digest),
                });
            }
        }
        let meta = VersionMeta {
            service: service.to_owned(),
            digest,
            label: label.to_owned(),
            provenance,
            published_at: now(),
            chart,
        };
        // Last: a version exists once its meta does.
        self.store
            .put(&format!("{dir}/meta.json"), json(&meta))
            .await?;
        Ok((meta, true))
    }

    /// What is known of a version of `service` (`None` until it is published whole).
    pub(crate) async fn meta(
        &self,
        service: &str,
        digest: &Digest,
    ) -> Result<Option<VersionMeta>, ControllerError> {
        let rel = format!("{}/meta.json", version_dir(service, digest));
        Ok(self.store.get_json::<VersionMeta>(&rel).await?)
    }

    async fn label(&self, service: &str, label: &str) -> Result<Option<Digest>, ControllerError> {
        let Some(bytes) = self.store.get(&format!("labels/{service}/{label}")).await? else {
            return Ok(None);
        };
        Ok(std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.trim().parse().ok()))
    }

    /// Appends a deployment record (create-only; the next number after the current one).
    /// With `rollout` (the version the environment runs outside a rollout under way), the
    /// deployment's rollout is written first: a deployment never exists without it, and a
    /// rollout whose deployment was never written names a number no deployment has (the next
    /// deployment overwrites it).
    async fn append_deployment(
        &self,
        service: &str,
        environment: &str,
        meta: &VersionMeta,
        why: Why<'_>,
        rollout: Option<Option<Digest>>,
    ) -> Result<(Deployment, Option<crate::rollout::Rollout>), ControllerError> {
        let Why {
            principal,
            reason,
            ci_job,
        } = why;
        let dir = format!("deployments/{service}/{environment}");
        for _ in 0..MAX_RACE_RETRIES {
            let seq = self
                .store
                .list(&dir)
                .await?
                .iter()
                .filter_map(|n| n.strip_suffix(".json")?.parse::<u64>().ok())
                .max()
                .unwrap_or(0)
                + 1;
            let d = Deployment {
                service: service.to_owned(),
                environment: environment.to_owned(),
                seq,
                version: meta.digest,
                label: meta.label.clone(),
                principal: principal.to_owned(),
                reason: reason.to_owned(),
                at: now(),
                ci_job: ci_job.clone(),
            };
            let started = match rollout {
                Some(previous) => Some(self.start_rollout(&d, previous).await?),
                None => None,
            };
            if self
                .store
                .create(&format!("{dir}/{seq:012}.json"), json(&d))
                .await?
            {
                return Ok((d, started));
            }
        }
        Err(ControllerError::Race(format!("{service}@{environment}")))
    }

    /// Publishes a version of `service` and deploys it to the first environment.
    pub async fn publish(
        &self,
        service: &str,
        label: &str,
        files: VersionFiles,
        provenance: Provenance,
    ) -> Result<Published, ControllerError> {
        check_label(label)?;
        files
            .check_paths(service)
            .map_err(ControllerError::Invalid)?;
        let size: usize = files
            .files
            .iter()
            .chain(files.blobs.iter())
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if size > MAX_VERSION_BYTES {
            return Err(ControllerError::Invalid(format!(
                "the version is {size} bytes, more than {MAX_VERSION_BYTES}"
            )));
        }
        let _guard = self.writes.lock().await;
        let principal = provenance.publisher.clone();
        let ci_job = provenance.ci_job.clone();
        let (meta, created) = self
            .store_version(service, label, files.clone(), provenance)
            .await?;
        let mut deployed = None;
        if created && let Some(first) = self.config.environments.first() {
            let previous = self.stable_version(service, &first.name).await;
            let (d, rollout) = self
                .append_deployment(
                    service,
                    &first.name,
                    &meta,
                    Why {
                        principal: &principal,
                        reason: "publish",
                        ci_job,
                    },
                    Some(previous),
                )
                .await?;
            self.rollout_started(rollout).await;
            self.apply(
                d.clone(),
                Arc::new(Version {
                    meta: meta.clone(),
                    files,
                }),
                first.production,
            )
            .await;
            deployed = Some(d);
        }
        Ok(Published {
            service: service.to_owned(),
            digest: meta.digest,
            label: meta.label,
            created,
            deployed,
        })
    }

    /// Finds a version of `service` by label, digest or digest prefix.
    pub async fn find_version(
        &self,
        service: &str,
        version: &str,
    ) -> Result<VersionMeta, ControllerError> {
        let unknown = || ControllerError::UnknownVersion {
            service: service.to_owned(),
            version: version.to_owned(),
        };
        let digest = if let Some(d) = self.label(service, version).await? {
            d
        } else {
            let hex = version.strip_prefix("sha256:").unwrap_or(version);
            if hex.len() < 7 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(unknown());
            }
            let found: Vec<String> = self
                .store
                .list(&format!("versions/{service}"))
                .await?
                .into_iter()
                .filter_map(|n| n.strip_suffix("/meta.json").map(str::to_owned))
                .filter(|h| h.starts_with(hex))
                .collect();
            match &found[..] {
                [one] => format!("sha256:{one}").parse().map_err(|_| unknown())?,
                _ => return Err(unknown()),
            }
        };
        self.meta(service, &digest).await?.ok_or_else(unknown)
    }

    /// Deploys `version` of `service` to `environment` (a promotion, or a rollback when
    /// `reason` says so).
    pub async fn deploy(
        &self,
        service: &str,
        environment: &str,
        meta: &VersionMeta,
        principal: &str,
        reason: &str,
        ci_job: Option<String>,
    ) -> Result<Deployment, ControllerError> {
        let env = self.environment(environment)?.clone();
        let _guard = self.writes.lock().await;
        let version = {
            let state = self.state.lock().await;
            state.versions.get(&meta.digest).cloned()
        };
        let version = match version {
            Some(v) => v,
            None => Arc::new(self.read_version(service, &meta.digest).await?),
        };
        let previous = self.stable_version(service, environment).await;
        let rollout = (reason == "promote").then_some(previous);
        let (d, rollout) = self
            .append_deployment(
                service,
                environment,
                meta,
                Why {
                    principal,
                    reason,
                    ci_job,
                },
                rollout,
            )
            .await?;
        self.rollout_started(rollout).await;
        self.apply(d.clone(), version, env.production).await;
        Ok(d)
    }

    /// The version `service` runs in `environment` outside any rollout under way there.
    async fn stable_version(&self, service: &str, environment: &str) -> Option<Digest> {
        let state = self.state.lock().await;
        let key = (service.to_owned(), environment.to_owned());
        let current = state.current.get(&key)?;
        match state.rollouts.get(&key) {
            Some(r) if r.seq == current.seq && r.holds_back() => r.previous,
            _ => Some(current.version),
        }
    }

    /// The deployment before the current one of `service` on `environment` (what a rollback
    /// goes back to): the latest earlier record naming another version.
    pub async fn previous(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<VersionMeta, ControllerError> {
        self.environment(environment)?;
        let history = self.history(service, environment).await?;
        let current = history.last().map(|d| d.version);
        let back = history
            .iter()
            .rev()
            .find(|d| Some(d.version) != current)
            .ok_or_else(|| ControllerError::NothingToRollBack {
                service: service.to_owned(),
                environment: environment.to_owned(),
            })?;
        self.meta(service, &back.version)
            .await?
            .ok_or_else(|| ControllerError::UnknownVersion {
                service: service.to_owned(),
                version: back.version.to_string(),
            })
    }

    /// Every deployment of `service` to `environment`, oldest first.
    pub async fn history(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Vec<Deployment>, ControllerError> {
        let dir = format!("deployments/{service}/{environment}");
        let mut out = Vec::new();
        for name in self.store.list(&dir).await? {
            if let Some(d) = self
                .store
                .get_json::<Deployment>(&format!("{dir}/{name}"))
                .await?
            {
                out.push(d);
            }
        }
        out.sort_by_key(|d| d.seq);
        Ok(out)
    }

    /// Every version of `service`, oldest first.
    pub async fn versions(&self, service: &str) -> Result<Vec<VersionMeta>, ControllerError> {
        let mut out = Vec::new();
        for name in self.store.list(&format!("versions/{service}")).await? {
            if name.ends_with("/meta.json")
                && let Some(m) = self
                    .store
                    .get_json::<VersionMeta>(&format!("versions/{service}/{name}"))
                    .await?
            {
                out.push(m);
            }
        }
        out.sort_by(|a, b| (a.published_at, &a.label).cmp(&(b.published_at, &b.label)));
        Ok(out)
    }

    /// The services with a version in the store.
    pub async fn services(&self) -> Result<Vec<String>, ControllerError> {
        let mut names: Vec<String> = self
            .store
            .list("versions")
            .await?
            .into_iter()
            .filter_map(|n| n.split('/').next().map(str::to_owned))
            .collect();
        names.dedup();
        Ok(names)
    }

    /// The current deployments of `service` by environment.
    pub async fn current(&self, service: &str) -> BTreeMap<String, Deployment> {
        let state = self.state.lock().await;
        state
            .current
            .iter()
            .filter(|((s, _), _)| s == service)
            .map(|((_, e), d)| (e.clone(), d.clone()))
            .collect()
    }

    /// The staged clusters, and the last compile error of each environment.
    pub async fn staged(&self) -> (BTreeMap<String, ClusterRecord>, BTreeMap<String, String>) {
        let state = self.state.lock().await;
        (state.clusters.clone(), state.failures.clone())
    }

    /// One cluster's staged record (an agent's poll: one record, not a copy of them all).
    pub async fn staged_record(&self, cluster: &str) -> Option<ClusterRecord> {
        self.state.lock().await.clusters.get(cluster).cloned()
    }

    pub fn environment(&self, name: &str) -> Result<&crate::fleet::Environment, ControllerError> {
        self.config
            .get(name)
            .ok_or_else(|| ControllerError::UnknownEnvironment {
                name: name.to_owned(),
                known: self
                    .config
                    .environments
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// `service`'s manifest on `cluster` with `version` (compiled as the environment's other
    /// services stand), as it may be shown: secret values masked. `None` when the version does
    /// not select the cluster.
    pub(crate) async fn shown_manifest(
        self: &Arc<Self>,
        service: &str,
        version: &Digest,
        cluster: &str,
    ) -> Result<Option<String>, ControllerError> {
        let env = self
            .registration(cluster)
            .map(|r| r.environment)
            .ok_or_else(|| ControllerError::Invalid(format!("no cluster `{cluster}`")))?;
        self.hold_version(service, version).await?;
        let members: BTreeSet<String> = [cluster.to_owned()].into();
        let back: BTreeMap<String, Option<Digest>> = [(service.to_owned(), Some(*version))].into();
        let outcome = self
            .compile_group(&env, None, Some(&members), &back)
            .await?;
        let c = &outcome.compilation;
        let shown = compiler::redact::redacted(&c.manifests, &outcome.redactions, &c.redactor);
        Ok(c.plan
            .clusters
            .iter()
            .flat_map(|k| &k.releases)
            .find(|r| &*r.service == service)
            .and_then(|r| shown.0.get(&r.manifest))
            .map(|t| t.to_string()))
    }

    /// The clusters (declared and registered) a CEL selector matches, by the compiler's own
    /// engine; the diagnostics' text when it does not compile or fails on some cluster.
    pub fn select_clusters(&self, expr: &str) -> Result<BTreeSet<String>, String> {
        let mut files = self.base.clone();
        files.files.retain(|k, _| k.starts_with("clusters/"));
        for env in &self.config.environments {
            for (path, text) in self.registered_cluster_files(&env.name) {
                files.files.insert(path, text);
            }
        }
        let run = compiler::select(&files, expr, false);
        if run.diagnostics.has_errors() {
            return Err(run.diagnostics.render_text());
        }
        Ok(run.matches.iter().map(|c| c.as_str().to_owned()).collect())
    }

    /// Makes a deployment another replica stored current here (its announcement was that
    /// replica's to make).
    pub(crate) async fn adopt(&self, d: Deployment) -> Result<(), ControllerError> {
        self.hold_version(&d.service, &d.version).await?;
        let version = {
            let state = self.state.lock().await;
            state.versions.get(&d.version).cloned()
        };
        if let Some(version) = version {
            self.apply(d, version, false).await;
        }
        Ok(())
    }

    /// Reads `digest` of `service` into memory unless it is there.
    pub(crate) async fn hold_version(
        &self,
        service: &str,
        digest: &Digest,
    ) -> Result<(), ControllerError> {
        if self.state.lock().await.versions.contains_key(digest) {
            return Ok(());
        }
        let version = Arc::new(self.read_version(service, digest).await?);
        self.state
            .lock()
            .await
            .versions
            .entry(*digest)
            .or_insert(version);
        Ok(())
    }

    /// Makes a stored deployment current in memory, announces it when the environment is a
    /// production one, and wakes the loop.
    async fn apply(&self, d: Deployment, version: Arc<Version>, production: bool) {
        let clusters = self
            .clusters
            .values()
            .filter(|e| **e == d.environment)
            .count();
        {
            let mut state = self.state.lock().await;
            state.versions.insert(d.version, Arc::clone(&version));
            state.dirty.insert(d.environment.clone());
            state
                .current
                .insert((d.service.clone(), d.environment.clone()), d.clone());
            let mut live: BTreeSet<Digest> = state.current.values().map(|d| d.version).collect();
            live.extend(
                state
                    .rollouts
                    .values()
                    .filter(|r| r.holds_back())
                    .filter_map(|r| r.previous),
            );
            state.versions.retain(|k, _| live.contains(k));
        }
        if production {
            self.notifier.announce(Announcement {
                service: d.service.clone(),
                label: d.label.clone(),
                digest: d.version,
                chart: version.meta.chart.clone(),
                environment: d.environment.clone(),
                clusters,
                principal: d.principal.clone(),
                ci_job: d.ci_job.clone(),
                reason: d.reason.clone(),
            });
        }
        self.wake.notify_one();
    }

    /// What the feedback needs of a compile of `env`: each service's deadline and channel, and
    /// the services each cluster runs.
    fn learn(&self, env: &str, c: &compiler::Compilation) {
        let mut interned: BTreeMap<&str, Arc<str>> = BTreeMap::new();
        {
            let mut infos = self
                .services_info
                .write()
                .unwrap_or_else(|e| e.into_inner());
            infos.retain(|(e, _), _| e != env);
            for (name, spec) in &c.fleet.services {
                let policy = spec
                    .rollout
                    .clone()
                    .unwrap_or_default()
                    .or(c.fleet.rollout.as_ref());
                infos.insert(
                    (env.to_owned(), name.as_str().to_owned()),
                    crate::feedback::ServiceInfo {
                        deadline: if policy.deadline_secs == 0 {
                            crate::feedback::DEFAULT_DEADLINE
                        } else {
                            Duration::from_secs(policy.deadline_secs)
                        },
                        slack: spec.owners.slack.clone(),
                        release: spec.release.name.clone(),
                    },
                );
                interned.insert(name.as_str(), Arc::from(name.as_str()));
            }
        }
        let mut targets = self.targets.write().unwrap_or_else(|e| e.into_inner());
        for cluster in &c.plan.clusters {
            let services: Vec<Arc<str>> = cluster
                .releases
                .iter()
                .map(|r| {
                    interned
                        .get(r.service.as_ref())
                        .cloned()
                        .unwrap_or_else(|| r.service.clone())
                })
                .collect();
            targets.insert(cluster.name.to_string(), services.into());
        }
    }

    /// The agents' heartbeat.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub fn set_heartbeat(&self, d: Duration) {
        self.heartbeat_ms.store(
            d.as_millis().clamp(1, u128::from(u64::MAX)) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// How long the last loop pass took, and the loop's interval.
    pub(crate) fn pass_timing(&self) -> (Duration, Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            Duration::from_millis(self.pass_ms.load(Relaxed)),
            Duration::from_millis(self.interval_ms.load(Relaxed)),
        )
    }

    /// The current deployments and the staged clusters, at once.
    pub(crate) async fn current_and_staged(
        &self,
    ) -> (
        BTreeMap<(String, String), Deployment>,
        BTreeMap<String, ClusterRecord>,
    ) {
        let state = self.state.lock().await;
        (state.current.clone(), state.clusters.clone())
    }

    /// Environments whose staging fails for the platform's reasons, with the error.
    pub(crate) async fn platform_failures(&self) -> Vec<(String, String)> {
        let state = self.state.lock().await;
        state
            .platform_failures
            .iter()
            .filter_map(|e| state.failures.get(e).map(|m| (e.clone(), m.clone())))
            .collect()
    }

    /// Holds off other mutations of this process while held.
    pub(crate) async fn writes_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writes.lock().await
    }

    /// Compiles `env` again on the next pass, which starts now.
    pub(crate) async fn mark_dirty(&self, env: &str) {
        self.state.lock().await.dirty.insert(env.to_owned());
        self.wake.notify_one();
    }

    /// One pass of the loop: every environment whose inputs changed is compiled with the
    /// versions deployed there, and every cluster whose bundle digest moved is staged (objects,
    /// then its index, then its record with the next generation).
    pub async fn reconcile(self: &Arc<Self>) -> Pass {
        let start = Instant::now();
        let mut pass = Pass::default();
        let dirty: Vec<String> = {
            let mut state = self.state.lock().await;
            std::mem::take(&mut state.dirty).into_iter().collect()
        };
        for env in dirty {
            match self.reconcile_env(&env).await {
                Ok(staged) => {
                    pass.staged.extend(staged);
                    let mut state = self.state.lock().await;
                    state.failures.remove(&env);
                    state.platform_failures.remove(&env);
                }
                Err(e) => {
                    let message = e.to_string();
                    pass.errors.push(format!("{env}: {message}"));
                    let mut state = self.state.lock().await;
                    state.failures.insert(env.clone(), message);
                    // A store or a secret backend that failed may recover: tried again on the
                    // next pass. A fleet that does not compile stays broken until a deployment
                    // changes it (which marks it again): not recompiled on every pass.
                    let broken = matches!(
                        e,
                        ControllerError::Diagnostics(_) | ControllerError::Invalid(_)
                    );
                    if broken {
                        state.platform_failures.remove(&env);
                    } else {
                        state.platform_failures.insert(env.clone());
                        state.dirty.insert(env);
                    }
                }
            }
        }
        self.metrics.observe_loop(start.elapsed());
        pass
    }

    /// Compiles `env` with the versions deployed there (and `extra`, a cluster file not yet
    /// registered), refusing a result the policies or the diagnostics do not let through.
    pub(crate) async fn compile_env(
        self: &Arc<Self>,
        env: &str,
        extra: Option<(String, String)>,
    ) -> Result<pipeline::Outcome, ControllerError> {
        self.compile_group(env, extra, None, &BTreeMap::new()).await
    }

    /// Compiles `env` as [`Controller::compile_env`] does, only for `members` (every cluster
    /// when `None`), with the services of `back` at the version a rollout holds them at
    /// (`None`: not there).
    async fn compile_group(
        self: &Arc<Self>,
        env: &str,
        extra: Option<(String, String)>,
        members: Option<&BTreeSet<String>>,
        back: &BTreeMap<String, Option<Digest>>,
    ) -> Result<pipeline::Outcome, ControllerError> {
        let mut files = {
            let state = self.state.lock().await;
            self.compose(env, &state, members, back)?
        };
        if let Some((path, text)) = extra {
            files.files.insert(path, text);
        }
        let this = Arc::clone(self);
        let outcome = tokio::task::spawn_blocking(move || {
            let mut files = files;
            pipeline::fetch_charts(&mut files)?;
            pipeline::run_files(
                &pipeline::Request {
                    fleet: &this.fleet_dir,
                    env: &this.env,
                    policies: &pipeline::Policies::ManifestRules,
                    progress: None,
                },
                files,
            )
        })
        .await
        .map_err(|e| ControllerError::Invalid(e.to_string()))?
        .map_err(ControllerError::Pipeline)?;
        if outcome.writable().is_none() {
            let mut text = outcome.compilation.diagnostics.render_text();
            text.push_str(&outcome.policy_diagnostics.render_text());
            text.push_str(&outcome.findings);
            return Err(ControllerError::Diagnostics(text));
        }
        Ok(outcome)
    }

    /// Compiles `env` with the versions deployed there; where rollouts hold clusters back,
    /// each group of clusters held back alike is compiled with its versions, and the results
    /// are put together.
    async fn compile_rolled_out(
        self: &Arc<Self>,
        env: &str,
    ) -> Result<(pipeline::Outcome, Running), ControllerError> {
        let planning = {
            let state = self.state.lock().await;
            state
                .rollouts_in_force()
                .any(|r| r.environment == env && r.state == crate::rollout::RolloutState::Planning)
        };
        let mut whole = None;
        // Waves are planned by the coordinator (the holder of shard 0); meanwhile a rollout
        // being planned holds every cluster back.
        if planning && self.shards.coordinates() {
            let outcome = self.compile_env(env, None).await?;
            self.plan_rollouts(env, &outcome.compilation.plan).await?;
            whole = Some(outcome);
        }
        let mut clusters: Vec<String> = self
            .clusters
            .iter()
            .filter(|(_, e)| e.as_str() == env)
            .map(|(c, _)| c.clone())
            .collect();
        clusters.extend(
            self.registered_cluster_files(env)
                .into_iter()
                .filter_map(|(path, _)| {
                    Some(
                        path.strip_prefix("clusters/")?
                            .strip_suffix(".yaml")?
                            .to_owned(),
                    )
                }),
        );
        // A replica compiles only the clusters it stages (it learns what the others run from
        // their records).
        let only: Option<BTreeSet<String>> = (!self.shards.holds_all()).then(|| {
            clusters
                .iter()
                .filter(|c| self.shards.epoch_of(c).is_some())
                .cloned()
                .collect()
        });
        if let Some(only) = &only {
            clusters.retain(|c| only.contains(c));
        }
        let groups = self.held_back(env, &clusters).await;
        // Which version of each service under a rollout each cluster is compiled with.
        let running: Running = {
            let state = self.state.lock().await;
            let current: BTreeMap<&str, Digest> = state
                .rollouts
                .values()
                .filter(|r| r.environment == env)
                .filter_map(|r| {
                    let d = state
                        .current
                        .get(&(r.service.clone(), r.environment.clone()))?;
                    Some((r.service.as_str(), d.version))
                })
                .collect();
            groups
                .iter()
                .flat_map(|(back, members)| {
                    let versions: BTreeMap<String, Option<Digest>> = current
                        .iter()
                        .map(|(s, v)| ((*s).to_owned(), back.get(*s).copied().unwrap_or(Some(*v))))
                        .collect();
                    members.iter().map(move |m| (m.clone(), versions.clone()))
                })
                .collect()
        };
        if groups.keys().all(BTreeMap::is_empty) {
            let outcome = match whole {
                Some(o) => o,
                None => {
                    self.compile_group(env, None, only.as_ref(), &BTreeMap::new())
                        .await?
                }
            };
            return Ok((outcome, running));
        }
        let mut merged: Option<pipeline::Outcome> = None;
        for (back, members) in &groups {
            let o = self.compile_group(env, None, Some(members), back).await?;
            match &mut merged {
                None => merged = Some(o),
                Some(m) => {
                    let c = &mut m.compilation;
                    c.plan.clusters.extend(o.compilation.plan.clusters);
                    c.plan.warnings.extend(o.compilation.plan.warnings);
                    for (digest, text) in o.compilation.manifests.0 {
                        c.manifests.0.entry(digest).or_insert(text);
                    }
                }
            }
        }
        let mut merged = merged.ok_or_else(|| ControllerError::Invalid("no clusters".into()))?;
        merged
            .compilation
            .plan
            .clusters
            .sort_by(|a, b| a.name.cmp(&b.name));
        merged.compilation.plan.warnings.sort();
        Ok((merged, running))
    }

    async fn reconcile_env(self: &Arc<Self>, env: &str) -> Result<Vec<String>, ControllerError> {
        let mut timer = PhaseTimer::new();
        let (outcome, versions) = self.compile_rolled_out(env).await?;
        timer.lap("compile");
        let plan = &outcome.compilation.plan;
        self.learn(env, &outcome.compilation);
        timer.lap("learn");
        let all_digests: Vec<Digest> = plan
            .clusters
            .iter()
            .map(|c| ClusterIndex::of(c).digest())
            .collect();
        // The clusters whose bundle moved, of the shards this replica holds.
        let changed: Vec<&plan::ClusterPlan> = {
            let state = self.state.lock().await;
            plan.clusters
                .iter()
                .zip(&all_digests)
                .filter(|(c, d)| {
                    state
                        .clusters
                        .get(c.name.as_ref())
                        .is_none_or(|r| r.digest != **d)
                })
                .filter(|(c, _)| self.shards.epoch_of(c.name.as_ref()).is_some())
                .map(|(c, _)| c)
                .collect()
        };
        timer.lap("diff");
        if changed.is_empty() {
            self.learn_running(plan, &all_digests, &versions).await;
            return Ok(Vec::new());
        }
        let (store, prefix) = self.store.staging();
        // Asked of each named object before the first write (the lock never held across one).
        let staged_objects = bundle::stage(
            store,
            &prefix,
            &changed,
            &outcome.compilation.manifests,
            |d| {
                self.staged_objects
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .contains(d)
            },
        )
        .await
        .map_err(|e| ControllerError::Invalid(e.to_string()))?;
        self.staged_objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(staged_objects.objects.iter().copied());
        let written = staged_objects.written;
        let digests = staged_objects.digests;
        timer.lap("objects and indexes");
        // The records (each cluster's next generation), written in parallel, each
        // conditional on the version it replaces (a replica that lost the shard is refused)
        // and made current in memory once it is stored.
        let records: Vec<(ClusterRecord, crate::store::Expect)> = {
            let state = self.state.lock().await;
            changed
                .iter()
                .zip(digests)
                .filter_map(|(c, digest)| {
                    let before = state.clusters.get(c.name.as_ref());
                    let record = ClusterRecord {
                        cluster: c.name.to_string(),
                        environment: env.to_owned(),
                        generation: before.map_or(0, |r| r.generation) + 1,
                        digest,
                        releases: c.releases.len(),
                        staged_at: now(),
                        epoch: self.shards.epoch_of(c.name.as_ref())?,
                        previous: before.map(|r| r.digest),
                        running: versions
                            .get(c.name.as_ref())
                            .into_iter()
                            .flatten()
                            .filter_map(|(s, v)| Some((s.clone(), (*v)?)))
                            .collect(),
                    };
                    let expect = match state.record_versions.get(c.name.as_ref()) {
                        Some(v) => crate::store::Expect::Version(v.clone()),
                        None => crate::store::Expect::Absent,
                    };
                    Some((record, expect))
                })
                .collect()
        };
        let mut staged = Vec::with_capacity(records.len());
        let mut writes = futures::stream::iter(records)
            .map(|(record, expect)| async move {
                let rel = format!("clusters/{}.json", record.cluster);
                self.store
                    .put_if(&rel, json(&record), &expect)
                    .await
                    .map(|v| (record, v))
            })
            .buffer_unordered(bundle::CONCURRENCY);
        while let Some(written) = writes.next().await {
            let (record, version) = written?;
            let Some(version) = version else {
                self.fenced(&record.cluster, record.epoch);
                continue;
            };
            staged.push(record.cluster.clone());
            self.metrics
                .bundles_staged
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut state = self.state.lock().await;
            state
                .record_versions
                .insert(record.cluster.clone(), version);
            state.clusters.insert(record.cluster.clone(), record);
        }
        staged.sort();
        self.learn_running(plan, &all_digests, &versions).await;
        if !staged.is_empty() {
            self.staged_tx.send_modify(|n| *n += 1);
        }
        timer.lap("records");
        eprintln!(
            "flotilla serve: {env}: {} cluster bundles ({written} new objects) staged in {timer}",
            staged.len(),
        );
        Ok(staged)
    }

    /// Which version of each service under a rollout the staged bundles run: for each
    /// cluster of `plan` whose staged bundle is the one compiled (`digests`, in order), the
    /// versions it was compiled with.
    async fn learn_running(&self, plan: &plan::Plan, digests: &[Digest], versions: &Running) {
        let staged: BTreeMap<String, Digest> = {
            let state = self.state.lock().await;
            plan.clusters
                .iter()
                .filter_map(|c| {
                    let r = state.clusters.get(c.name.as_ref())?;
                    Some((c.name.to_string(), r.digest))
                })
                .collect()
        };
        let mut running = self.running.write().unwrap_or_else(|e| e.into_inner());
        for (c, digest) in plan.clusters.iter().zip(digests) {
            if staged.get(c.name.as_ref()) != Some(digest) {
                continue;
            }
            let now: BTreeMap<String, Digest> = versions
                .get(c.name.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|(s, v)| Some((s.clone(), (*v)?)))
                .collect();
            if now.is_empty() {
                running.remove(c.name.as_ref());
            } else {
                running.insert(c.name.to_string(), now);
            }
        }
    }

    /// The fleet of one environment: its clusters (only `members`, when given), and the
    /// versions deployed there (those of `back` at the version a rollout holds them at).
    fn compose(
        &self,
        env: &str,
        state: &State,
        members: Option<&BTreeSet<String>>,
        back: &BTreeMap<String, Option<Digest>>,
    ) -> Result<FleetFiles, ControllerError> {
        let mut files = self.base.clone();
        files.files.retain(|k, _| !k.starts_with("services/"));
        files.blobs.retain(|k, _| !k.starts_with("services/"));
        let keep: BTreeSet<&str> = self
            .clusters
            .iter()
            .filter(|(_, e)| e.as_str() == env)
            .filter(|(c, _)| members.is_none_or(|m| m.contains(*c)))
            .filter_map(|(c, _)| self.cluster_files.get(c).map(String::as_str))
            .collect();
        files
            .files
            .retain(|k, _| !k.starts_with("clusters/") || keep.contains(k.as_str()));
        for (name, text) in self.registered_cluster_files(env) {
            let cluster = name
                .strip_prefix("clusters/")
                .and_then(|n| n.strip_suffix(".yaml"))
                .unwrap_or_default();
            if members.is_none_or(|m| m.contains(cluster)) {
                files.files.insert(name, text);
            }
        }
        for ((service, e), d) in &state.current {
            if e != env {
                continue;
            }
            let version = match back.get(service) {
                Some(Some(previous)) => previous,
                Some(None) => continue,
                None => &d.version,
            };
            let Some(v) = state.versions.get(version) else {
                continue;
            };
            v.files.add_to(&mut files).map_err(|path| {
                ControllerError::Invalid(format!(
                    "two versions deployed to `{env}` hold different copies of {path}"
                ))
            })?;
        }
        Ok(files)
    }

    /// Runs the loop until `stop` turns true: a pass on every change and every `interval`. A
    /// stop asked during a pass is seen when the pass ends (it is a state, not an event that
    /// a busy loop could miss).
    pub async fn run_loop(
        self: Arc<Self>,
        interval: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow_and_update() {
                return;
            }
            let started = Instant::now();
            let pass = self.reconcile().await;
            for e in &pass.errors {
                eprintln!("flotilla serve: reconcile: {e}");
            }
            if !pass.staged.is_empty() {
                eprintln!(
                    "flotilla serve: staged {} cluster bundles",
                    pass.staged.len()
                );
            }
            {
                use std::sync::atomic::Ordering::Relaxed;
                self.pass_ms
                    .store(started.elapsed().as_millis() as u64, Relaxed);
                self.interval_ms.store(interval.as_millis() as u64, Relaxed);
            }
            // The fleet-wide work is the coordinator's (the holder of shard 0): one replica
            // opens incidents and steps rollouts.
            if self.shards.coordinates() {
                match self.feedback().await {
                    Ok(eval) => self.advance_rollouts(&eval).await,
                    Err(e) => eprintln!("flotilla serve: feedback: {e}"),
                }
            }
            if started.elapsed() > interval {
                self.metrics
                    .loop_overruns
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            // At least once a heartbeat: silent agents are noticed on time.
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(interval.min(self.heartbeat())) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Who made a deployment, why, from which CI job.
struct Why<'a> {
    principal: &'a str,
    reason: &'a str,
    ci_job: Option<String>,
}

/// Cluster → service under a rollout → the version it is compiled with (`None`: not there).
type Running = BTreeMap<String, BTreeMap<String, Option<Digest>>>;

/// The chart a version's service file names (`name version`, or its folder), for
/// announcements.
fn chart_of(files: &VersionFiles, service: &str) -> String {
    let text = files
        .files
        .get(&format!("services/{service}/service.yaml"))
        .map(String::as_str)
        .unwrap_or_default();
    let Some(dir) = compiler::source::chart_dir(service, text) else {
        return String::new();
    };
    let chart_yaml = files.text(&format!("{dir}/Chart.yaml"));
    let field = |name: &str| {
        chart_yaml.as_deref().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().trim_matches('"').to_owned())
        })
    };
    match (field("name:"), field("version:")) {
        (Some(n), Some(v)) => format!("{n} {v}"),
        _ => dir,
    }
}

/// A label: 1 to 128 of letters, digits, `.`, `_`, `-`, `+`.
fn check_label(label: &str) -> Result<(), ControllerError> {
    let ok = !label.is_empty()
        && label.len() <= 128
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
        && !label.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ControllerError::Invalid(format!(
            "`{label}` is not a label: use 1 to 128 letters, digits, `.`, `_`, `-` or `+`"
        )))
    }
}

/// Wall-clock time of each phase of an environment's pass, for its log line.
struct PhaseTimer {
    start: Instant,
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl PhaseTimer {
    fn new() -> PhaseTimer {
        let now = Instant::now();
        PhaseTimer {
            start: now,
            last: now,
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.laps.push((phase, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for PhaseTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3}s (", self.start.elapsed().as_secs_f64())?;
        for (i, (phase, d)) in self.laps.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{phase} {:.3}s", d.as_secs_f64())?;
        }
        f.write_str(")")
    }
}
