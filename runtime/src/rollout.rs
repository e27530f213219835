//! Progressive rollouts: a new version of a service whose rollout policy is progressive (a
//! canary, waves or a soak time, in its `service.yaml` or the fleet's `fleet.yaml`) reaches an
//! environment's clusters wave by wave, as the compiled plan's `rollouts` say.
//!
//! A publish or a promotion starts a rollout (`rollouts/<service>/<env>/<seq>.json`, written
//! before the deployment it rolls out): **Planning** until the environment compiles with the new version and
//! its waves are known; then **Progressing** (the clusters of the waves started so far run the
//! new version, the others the version it replaces) and **Soaking** once every release of
//! those waves is Ready; after the soak the next wave starts. When the last wave has soaked
//! the rollout is **Complete** and the version is promoted to the next environment, except
//! that a production environment waits for an approver (`flotilla promote --approve`). A wave
//! with more failed or stuck clusters than its `maxUnavailable` **Halts** the rollout, tells the
//! service's channel once, and with `autoRollback` deploys the version it replaced. People
//! pause, resume and abort (abort puts the replaced version back).
//!
//! Time is the controller's [`Clock`]: the system's, or a manual one that only moves when
//! told (`flotilla serve --clock manual`, for tests and simulations).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use plan::Digest;
use plan::agent::Phase;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::controller::{Controller, ControllerError};
use crate::feedback::Evaluation;
use crate::notify::Outgoing;
use crate::records::AuditRecord;

/// Where rollouts are kept in the store.
pub const ROLLOUTS: &str = "rollouts";

/// The controller's time (milliseconds since the Unix epoch).
#[derive(Debug)]
pub enum Clock {
    System,
    /// Starts at the system's time and moves only when advanced.
    Manual(AtomicU64),
}

impl Clock {
    pub fn manual() -> Clock {
        Clock::Manual(AtomicU64::new(crate::auth::now_millis()))
    }

    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System => crate::auth::now_millis(),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; `false` for the system's.
    pub fn advance(&self, by: std::time::Duration) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(t) => {
                t.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
                true
            }
        }
    }
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RolloutState {
    /// Its waves are not known yet (the environment has not compiled with the version).
    Planning,
    Progressing,
    Soaking,
    Paused,
    Halted,
    Aborted,
    Complete,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Planning => "Planning",
            RolloutState::Progressing => "Progressing",
            RolloutState::Soaking => "Soaking",
            RolloutState::Paused => "Paused",
            RolloutState::Halted => "Halted",
            RolloutState::Aborted => "Aborted",
            RolloutState::Complete => "Complete",
        }
    }
}

/// One rollout of a version to an environment (`rollouts/<service>/<env>/<seq>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    pub service: String,
    pub environment: String,
    /// The deployment it rolls out.
    pub seq: u64,
    pub version: Digest,
    pub label: String,
    /// The version it replaces (`None`: the service was not in the environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
    #[serde(default)]
    pub waves: Vec<plan::RolloutWave>,
    #[serde(default)]
    pub soak: String,
    #[serde(default)]
    pub auto_rollback: bool,
    /// The environments the policy promotes through (empty: the fleet's order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// The wave in progress: its clusters and those of the waves before run `version`.
    pub wave: usize,
    pub state: RolloutState,
    /// When the state began (clock milliseconds).
    pub since: u64,
    /// Why it halted, paused or was aborted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The production environment waiting for an approver to promote this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<String>,
    /// The state a pause interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_from: Option<RolloutState>,
}

impl Rollout {
    /// `rollouts/<service>/<env>/<seq>.json`: one per deployment it rolls out.
    pub fn path(&self) -> String {
        format!(
            "{ROLLOUTS}/{}/{}/{:012}.json",
            self.service, self.environment, self.seq
        )
    }

    /// Whether `cluster` runs the new version (its wave has started).
    pub fn reached(&self, cluster: &str) -> bool {
        match self.state {
            RolloutState::Planning => false,
            RolloutState::Complete => true,
            _ => self
                .waves
                .iter()
                .take(self.wave + 1)
                .any(|w| w.clusters.iter().any(|c| &**c == cluster)),
        }
    }

    /// A halted rollout that rolls back (while it is the current deployment's, the rollback
    /// has not been deployed).
    fn rollback_pending(&self) -> bool {
        self.state == RolloutState::Halted && self.auto_rollback && self.previous.is_some()
    }

    /// Whether it still holds some clusters on the replaced version.
    pub fn holds_back(&self) -> bool {
        !matches!(self.state, RolloutState::Complete)
    }

    fn soak_ms(&self) -> u64 {
        plan::parse_duration(&self.soak).map_or(0, |d| d.as_millis() as u64)
    }
}

/// What people may do to a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutAction {
    Pause,
    Resume,
    Abort,
}

impl std::str::FromStr for RolloutAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pause" => Ok(RolloutAction::Pause),
            "resume" => Ok(RolloutAction::Resume),
            "abort" => Ok(RolloutAction::Abort),
            _ => Err(format!(
                "unknown rollout action `{s}` (pause, resume, abort)"
            )),
        }
    }
}

/// A rollout as the API shows it: the record, and each wave's clusters Ready now.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutView {
    #[serde(flatten)]
    pub rollout: Rollout,
    /// Whether it is the rollout of the environment's current deployment.
    pub current: bool,
    /// Per wave: clusters Ready with the new version.
    pub ready: Vec<usize>,
    /// Per wave: clusters failed or stuck with the new version.
    pub failed: Vec<usize>,
}

/// How the clusters of a rollout's waves are doing with its version.
struct Health {
    ready: Vec<usize>,
    failed: Vec<usize>,
    /// Every cluster of the waves started so far is Ready with the version.
    all_ready: bool,
}

impl Controller {
    /// Writes the rollout of deployment `d` (a publish or a promotion), before the deployment
    /// itself. `previous` is the version the environment runs outside the rollout (`None`:
    /// the service is new there, and waits for its wave). The version the environment
    /// already runs has nothing to roll out: its rollout is complete at once.
    pub(crate) async fn start_rollout(
        &self,
        d: &crate::records::Deployment,
        previous: Option<Digest>,
    ) -> Result<Rollout, ControllerError> {
        let same = previous == Some(d.version);
        let r = Rollout {
            service: d.service.clone(),
            environment: d.environment.clone(),
            seq: d.seq,
            version: d.version,
            label: d.label.clone(),
            previous: previous.filter(|_| !same),
            waves: Vec::new(),
            soak: String::new(),
            auto_rollback: false,
            environments: Vec::new(),
            wave: 0,
            state: if same {
                RolloutState::Complete
            } else {
                RolloutState::Planning
            },
            since: self.clock.now_ms(),
            reason: if same {
                "the environment runs this version already".to_owned()
            } else {
                String::new()
            },
            awaiting: None,
            paused_from: None,
        };
        // A new number (or one whose deployment was never written): no version to replace.
        self.save_rollout_as(&r, None).await?;
        Ok(r)
    }

    /// Makes a rollout whose deployment is stored the environment's rollout in memory.
    pub(crate) async fn rollout_started(&self, r: Option<Rollout>) {
        if let Some(r) = r {
            self.state
                .lock()
                .await
                .rollouts
                .insert((r.service.clone(), r.environment.clone()), r);
        }
    }

    /// Reads the rollout at `path` (under `rollouts/`), noting its version for the next step.
    pub(crate) async fn read_rollout(
        &self,
        path: &str,
    ) -> Result<Option<Rollout>, ControllerError> {
        let Some((bytes, version)) = self.store.get_versioned(path).await? else {
            return Ok(None);
        };
        let r = serde_json::from_slice(&bytes).map_err(|source| {
            ControllerError::Store(crate::store::StoreError::Corrupt {
                path: path.to_owned(),
                source,
            })
        })?;
        self.rollout_versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_owned(), version);
        Ok(Some(r))
    }

    /// Writes a step of a rollout, conditional on the version of it this replica last read
    /// or wrote: a step another replica took meanwhile (a pause, the coordinator's next wave)
    /// is a conflict, never overwritten.
    pub(crate) async fn save_rollout(&self, r: &Rollout) -> Result<(), ControllerError> {
        let known = self
            .rollout_versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&r.path())
            .cloned();
        let expect = Some(match known {
            Some(v) => crate::store::Expect::Version(v),
            None => crate::store::Expect::Absent,
        });
        self.save_rollout_as(r, expect).await
    }

    /// Writes `r` (unconditionally when `expect` is `None`) and notes its new version.
    async fn save_rollout_as(
        &self,
        r: &Rollout,
        expect: Option<crate::store::Expect>,
    ) -> Result<(), ControllerError> {
        let mut body = serde_json::to_vec_pretty(r).unwrap_or_default();
        body.push(b'\n');
        let path = r.path();
        let version = match expect {
            None => self.store.put_versioned(&path, body.into()).await?,
            Some(expect) => self
                .store
                .put_if(&path, body.into(), &expect)
                .await?
                .ok_or_else(|| ControllerError::RolloutConflict {
                    service: r.service.clone(),
                    environment: r.environment.clone(),
                    why: "another replica changed it meanwhile; try again".into(),
                })?,
        };
        self.rollout_versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path, version);
        Ok(())
    }

    /// Writes a step of a rollout to the audit log (by `principal`, `system:rollout` for the
    /// controller's own steps).
    pub(crate) async fn audit_rollout(
        &self,
        r: &Rollout,
        principal: &str,
        action: &str,
        detail: String,
    ) {
        let time = crate::auth::now_millis();
        let seq = self.rollout_audit_seq.fetch_add(1, Ordering::Relaxed);
        let rec = AuditRecord {
            time,
            principal: principal.to_owned(),
            groups: Vec::new(),
            source: "controller".into(),
            ci_job: None,
            action: action.to_owned(),
            target: format!("service/{}@{}", r.service, r.environment),
            result: "ok".into(),
            detail,
        };
        let name = format!("audit/{time:015}-{}-r{seq:06}.json", std::process::id());
        let mut body = serde_json::to_vec(&rec).unwrap_or_default();
        body.push(b'\n');
        if let Err(e) = self.store.create(&name, body.into()).await {
            eprintln!("flotilla serve: cannot write an audit record: {e}");
        }
    }

    /// The rollouts of `service` (every environment's last), oldest environment first.
    pub async fn rollouts(&self, service: &str) -> Vec<RolloutView> {
        let (rollouts, current) = {
            let state = self.state.lock().await;
            let rollouts: Vec<Rollout> = state
                .rollouts
                .iter()
                .filter(|((s, _), _)| s == service)
                .map(|(_, r)| r.clone())
                .collect();
            let current: BTreeMap<String, (u64, Digest)> = state
                .current
                .iter()
                .filter(|((s, _), _)| s == service)
                .map(|((_, e), d)| (e.clone(), (d.seq, d.version)))
                .collect();
            (rollouts, current)
        };
        let eval = self.evaluate().await;
        let order = |e: &str| {
            self.config
                .environments
                .iter()
                .position(|x| x.name == e)
                .unwrap_or(usize::MAX)
        };
        let mut out: Vec<RolloutView> = rollouts
            .into_iter()
            .map(|mut r| {
                let h = self.health(&r, &eval);
                // Approved since: the environment it waited for runs its version.
                if r.awaiting
                    .as_ref()
                    .and_then(|e| current.get(e))
                    .is_some_and(|(_, v)| *v == r.version)
                {
                    r.awaiting = None;
                }
                RolloutView {
                    current: current.get(&r.environment).map(|(s, _)| *s) == Some(r.seq),
                    ready: h.ready,
                    failed: h.failed,
                    rollout: r,
                }
            })
            .collect();
        out.sort_by_key(|v| order(&v.rollout.environment));
        out
    }

    /// The version of `service` a completed rollout offers `environment` (a production
    /// environment waiting for an approver).
    pub async fn awaiting_approval(&self, service: &str, environment: &str) -> Option<Digest> {
        let state = self.state.lock().await;
        let running = state
            .current
            .get(&(service.to_owned(), environment.to_owned()))
            .map(|d| d.version);
        state
            .rollouts
            .iter()
            .find(|((s, _), r)| {
                s == service
                    && r.state == RolloutState::Complete
                    && r.awaiting.as_deref() == Some(environment)
                    && running != Some(r.version)
            })
            .map(|(_, r)| r.version)
    }

    /// Pauses, resumes or aborts the rollout of `service` in `environment`.
    pub async fn rollout_action(
        &self,
        service: &str,
        environment: &str,
        action: RolloutAction,
        principal: &str,
    ) -> Result<Rollout, ControllerError> {
        self.environment(environment)?;
        let _guard = self.writes.lock().await;
        let key = (service.to_owned(), environment.to_owned());
        let (r, current) = {
            let state = self.state.lock().await;
            (
                state.rollouts.get(&key).cloned(),
                state.current.get(&key).map(|d| d.seq),
            )
        };
        let mut r = r.ok_or_else(|| ControllerError::NoRollout {
            service: service.to_owned(),
            environment: environment.to_owned(),
        })?;
        let now = self.clock.now_ms();
        let conflict = |why: &str| ControllerError::RolloutConflict {
            service: service.to_owned(),
            environment: environment.to_owned(),
            why: why.to_owned(),
        };
        if current != Some(r.seq) {
            return Err(conflict("it was superseded by a later deployment"));
        }
        match action {
            RolloutAction::Pause => {
                if !matches!(
                    r.state,
                    RolloutState::Planning | RolloutState::Progressing | RolloutState::Soaking
                ) {
                    return Err(conflict(&format!("it is {}", r.state.as_str())));
                }
                r.paused_from = Some(r.state);
                r.state = RolloutState::Paused;
                r.reason = format!("paused by {principal}");
                r.since = now;
            }
            RolloutAction::Resume => {
                if !matches!(r.state, RolloutState::Paused | RolloutState::Halted) {
                    return Err(conflict(&format!("it is {}", r.state.as_str())));
                }
                r.state = match r.paused_from.take() {
                    Some(RolloutState::Planning) => RolloutState::Planning,
                    _ => RolloutState::Progressing,
                };
                r.reason.clear();
                r.since = now;
            }
            RolloutAction::Abort => {
                if matches!(r.state, RolloutState::Complete | RolloutState::Aborted) {
                    return Err(conflict(&format!("it is {}", r.state.as_str())));
                }
                r.state = RolloutState::Aborted;
                r.reason = format!("aborted by {principal}");
                r.since = now;
            }
        }
        self.save_rollout(&r).await?;
        self.state
            .lock()
            .await
            .rollouts
            .insert((service.to_owned(), environment.to_owned()), r.clone());
        let verb = match action {
            RolloutAction::Pause => "rollout-pause",
            RolloutAction::Resume => "rollout-resume",
            RolloutAction::Abort => "rollout-abort",
        };
        self.audit_rollout(
            &r,
            principal,
            verb,
            format!("{} wave {}", r.label, r.wave + 1),
        )
        .await;
        drop(_guard);
        if action == RolloutAction::Abort
            && let Some(previous) = r.previous
        {
            self.roll_back(&r, previous, principal).await?;
        }
        self.mark_dirty(environment).await;
        Ok(r)
    }

    /// Deploys the version a rollout replaced.
    async fn roll_back(
        &self,
        r: &Rollout,
        previous: Digest,
        principal: &str,
    ) -> Result<(), ControllerError> {
        let Some(meta) = self.meta(&r.service, &previous).await? else {
            return Err(ControllerError::UnknownVersion {
                service: r.service.clone(),
                version: previous.to_string(),
            });
        };
        self.deploy(
            &r.service,
            &r.environment,
            &meta,
            principal,
            "rollback",
            None,
        )
        .await?;
        Ok(())
    }

    /// How the clusters of `r`'s waves do with its version.
    fn health(&self, r: &Rollout, eval: &Evaluation) -> Health {
        let releases: BTreeMap<&str, &crate::feedback::ReleaseState> = eval
            .deployments
            .iter()
            .filter(|d| d.service == r.service && d.environment == r.environment)
            .flat_map(|d| d.releases.iter().map(|x| (x.cluster.as_str(), x)))
            .collect();
        let running = self.running.read().unwrap_or_else(|e| e.into_inner());
        let targets = self.targets.read().unwrap_or_else(|e| e.into_inner());
        let mut h = Health {
            ready: Vec::new(),
            failed: Vec::new(),
            all_ready: true,
        };
        for (i, w) in r.waves.iter().enumerate() {
            let (mut ready, mut failed) = (0, 0);
            for c in &w.clusters {
                // A cluster gone from the fleet, or no longer running the service, is not
                // waited for.
                let targeted = targets
                    .get(&**c)
                    .is_some_and(|t| t.iter().any(|s| **s == *r.service));
                let on_version = running
                    .get(&**c)
                    .and_then(|m| m.get(&r.service))
                    .is_some_and(|v| *v == r.version);
                let state = releases.get(&**c).filter(|_| on_version);
                let is_ready = state.is_some_and(|x| x.phase == Phase::Ready);
                let is_failed =
                    state.is_some_and(|x| x.phase == Phase::Failed || x.stuck.is_some());
                ready += usize::from(is_ready);
                failed += usize::from(is_failed);
                if i <= r.wave && targeted && !is_ready {
                    h.all_ready = false;
                }
            }
            h.ready.push(ready);
            h.failed.push(failed);
        }
        h
    }

    /// One step of every rollout that is under way, after a feedback pass.
    pub(crate) async fn advance_rollouts(&self, eval: &Evaluation) {
        let active: Vec<Rollout> = {
            let state = self.state.lock().await;
            state
                .rollouts_in_force()
                .filter(|r| {
                    matches!(r.state, RolloutState::Progressing | RolloutState::Soaking)
                        || r.rollback_pending()
                })
                .cloned()
                .collect()
        };
        for r in active {
            if let Err(e) = self.advance(r, eval).await {
                eprintln!("flotilla serve: rollout: {e}");
            }
        }
    }

    async fn advance(&self, mut r: Rollout, eval: &Evaluation) -> Result<(), ControllerError> {
        // A halt whose rollback failed (a store that erred): tried again on every pass
        // until the replaced version is deployed (the rollout is then no longer current).
        if r.rollback_pending() {
            if let Some(previous) = r.previous {
                self.roll_back(&r, previous, "system:rollout").await?;
            }
            return Ok(());
        }
        let now = self.clock.now_ms();
        let h = self.health(&r, eval);
        let Some(wave) = r.waves.get(r.wave).cloned() else {
            return Ok(());
        };
        let failed = h.failed.get(r.wave).copied().unwrap_or(0);
        let before = r.clone();
        if failed > wave.max_unavailable as usize {
            r.state = RolloutState::Halted;
            r.since = now;
            r.reason = format!(
                "{failed} of {} clusters of wave {} ({}) failed or are stuck (at most {} tolerated)",
                wave.clusters.len(),
                r.wave + 1,
                wave.name,
                wave.max_unavailable
            );
            self.commit_step(&before, &r).await?;
            self.audit_rollout(&r, "system:rollout", "rollout-halt", r.reason.clone())
                .await;
            self.announce_halt(&r);
            if r.auto_rollback
                && let Some(previous) = r.previous
            {
                self.roll_back(&r, previous, "system:rollout").await?;
            }
            return Ok(());
        }
        match r.state {
            RolloutState::Progressing if h.all_ready => {
                r.state = RolloutState::Soaking;
                r.since = now;
            }
            RolloutState::Soaking if !h.all_ready => {
                r.state = RolloutState::Progressing;
                r.since = now;
            }
            RolloutState::Soaking if now.saturating_sub(r.since) >= r.soak_ms() => {
                if r.wave + 1 < r.waves.len() {
                    r.wave += 1;
                    r.state = RolloutState::Progressing;
                    r.since = now;
                    self.commit_step(&before, &r).await?;
                    let next = &r.waves[r.wave];
                    self.audit_rollout(
                        &r,
                        "system:rollout",
                        "rollout-wave",
                        format!(
                            "{} wave {} ({}): {} clusters",
                            r.label,
                            r.wave + 1,
                            next.name,
                            next.clusters.len()
                        ),
                    )
                    .await;
                    self.announce_wave(&r);
                    self.mark_dirty(&r.environment).await;
                    return Ok(());
                }
                r.state = RolloutState::Complete;
                r.since = now;
                let next = self.next_environment(&r);
                if let Some(next) = &next
                    && next.production
                {
                    r.awaiting = Some(next.name.clone());
                }
                self.commit_step(&before, &r).await?;
                self.audit_rollout(
                    &r,
                    "system:rollout",
                    "rollout-complete",
                    match &r.awaiting {
                        Some(env) => format!("{}; {env} awaits an approver", r.label),
                        None => r.label.clone(),
                    },
                )
                .await;
                if let Some(next) = next
                    && !next.production
                {
                    let meta = self.meta(&r.service, &r.version).await?.ok_or_else(|| {
                        ControllerError::UnknownVersion {
                            service: r.service.clone(),
                            version: r.version.to_string(),
                        }
                    })?;
                    self.deploy(
                        &r.service,
                        &next.name,
                        &meta,
                        "system:rollout",
                        "promote",
                        None,
                    )
                    .await?;
                }
                self.mark_dirty(&r.environment).await;
                return Ok(());
            }
            _ => {}
        }
        if r != before {
            self.commit_step(&before, &r).await?;
        }
        Ok(())
    }

    /// The environment a completed rollout promotes to: the one after its own in its policy's
    /// `environments`, or in the fleet's order without them.
    fn next_environment(&self, r: &Rollout) -> Option<crate::fleet::Environment> {
        let name = if r.environments.is_empty() {
            self.config
                .environments
                .iter()
                .skip_while(|e| e.name != r.environment)
                .nth(1)?
                .name
                .clone()
        } else {
            r.environments
                .iter()
                .skip_while(|e| **e != r.environment)
                .nth(1)?
                .clone()
        };
        self.config.get(&name).cloned()
    }

    /// Stores a rollout's new state, unless it changed meanwhile (a pause, a new
    /// deployment); then memory follows.
    async fn commit_step(&self, before: &Rollout, after: &Rollout) -> Result<(), ControllerError> {
        let _guard = self.writes.lock().await;
        let key = (after.service.clone(), after.environment.clone());
        {
            let state = self.state.lock().await;
            if state.rollouts.get(&key) != Some(before) {
                return Err(ControllerError::RolloutConflict {
                    service: after.service.clone(),
                    environment: after.environment.clone(),
                    why: "it changed meanwhile".into(),
                });
            }
        }
        self.save_rollout(after).await?;
        self.state.lock().await.rollouts.insert(key, after.clone());
        Ok(())
    }

    /// Tells the service's channel (the on-call channel without one) that its rollout halted.
    fn announce_halt(&self, r: &Rollout) {
        let channel = self
            .services_info
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(r.environment.clone(), r.service.clone()))
            .and_then(|i| i.slack.clone());
        let url = channel
            .as_ref()
            .and_then(|c| self.notifications.channels.get(c).cloned())
            .or_else(|| self.notifier.on_call().map(str::to_owned));
        let Some(url) = url else {
            return;
        };
        let rollback = match (r.auto_rollback, r.previous) {
            (true, Some(p)) => format!("; rolling back to {}", p.short()),
            _ => "; paused where it is".to_owned(),
        };
        self.notifier.send(Outgoing {
            url,
            body: json!({
                "text": format!(
                    ":octagonal_sign: rollout of *{}* {} to *{}* halted: {}{rollback}",
                    r.service, r.label, r.environment, r.reason
                ),
                "flotilla": {
                    "event": "rollout-halted",
                    "service": r.service,
                    "environment": r.environment,
                    "version": r.label,
                    "digest": r.version.to_string(),
                    "wave": r.wave + 1,
                    "reason": r.reason,
                    "autoRollback": r.auto_rollback,
                }
            }),
            what: format!("halted rollout of {} in {}", r.service, r.environment),
        });
    }

    /// Tells the on-call channel that a production wave started.
    pub(crate) fn announce_wave(&self, r: &Rollout) {
        let production = self
            .config
            .get(&r.environment)
            .is_some_and(|e| e.production);
        let (Some(url), true) = (self.notifier.on_call(), production) else {
            return;
        };
        let Some(wave) = r.waves.get(r.wave) else {
            return;
        };
        self.notifier.send(Outgoing {
            url: url.to_owned(),
            body: json!({
                "text": format!(
                    ":ocean: *{}* {} wave {}/{} ({}) started in *{}*: {}",
                    r.service,
                    r.label,
                    r.wave + 1,
                    r.waves.len(),
                    wave.name,
                    r.environment,
                    wave.clusters.iter().map(|c| &**c).collect::<Vec<_>>().join(", ")
                ),
                "flotilla": {
                    "event": "rollout-wave",
                    "service": r.service,
                    "environment": r.environment,
                    "version": r.label,
                    "wave": r.wave + 1,
                    "waves": r.waves.len(),
                    "name": wave.name,
                    "clusters": wave.clusters,
                }
            }),
            what: format!("wave {} of {} in {}", r.wave + 1, r.service, r.environment),
        });
    }

    /// The rollouts of `env` still planning: their waves, from a compile of the environment
    /// with their versions (`plan.rollouts`); a service without a progressive policy there
    /// is rolled out at once (its rollout is dropped).
    pub(crate) async fn plan_rollouts(
        &self,
        env: &str,
        plan: &plan::Plan,
    ) -> Result<(), ControllerError> {
        let planning: Vec<Rollout> = {
            let state = self.state.lock().await;
            state
                .rollouts_in_force()
                .filter(|r| r.environment == env && r.state == RolloutState::Planning)
                .cloned()
                .collect()
        };
        for before in planning {
            let found = plan
                .rollouts
                .iter()
                .find(|p| *p.service == *before.service && *p.environment == *env);
            let mut r = before.clone();
            r.since = self.clock.now_ms();
            match found {
                Some(p) if !p.waves.is_empty() => {
                    r.waves = p.waves.clone();
                    r.soak = p.soak.to_string();
                    r.auto_rollback = p.auto_rollback;
                    r.environments = p.environments.iter().map(ToString::to_string).collect();
                    r.state = RolloutState::Progressing;
                    r.wave = 0;
                    self.commit_step(&before, &r).await?;
                    let names: Vec<String> = r
                        .waves
                        .iter()
                        .map(|w| format!("{} ({})", w.name, w.clusters.len()))
                        .collect();
                    self.audit_rollout(
                        &r,
                        "system:rollout",
                        "rollout-start",
                        format!("{}: waves {}", r.label, names.join(", ")),
                    )
                    .await;
                    self.announce_wave(&r);
                }
                _ => {
                    // Not progressive here: the version goes everywhere at once, and no
                    // rollout is kept.
                    let _guard = self.writes.lock().await;
                    self.store.delete(&r.path()).await?;
                    let key = (r.service.clone(), r.environment.clone());
                    let mut state = self.state.lock().await;
                    if state.rollouts.get(&key) == Some(&before) {
                        state.rollouts.remove(&key);
                    }
                }
            }
        }
        Ok(())
    }

    /// For each cluster of `env` that a rollout holds back: the services it runs at the
    /// replaced version (`None`: not at all), grouped by what they hold back.
    pub(crate) async fn held_back(
        &self,
        env: &str,
        clusters: &[String],
    ) -> BTreeMap<BTreeMap<String, Option<Digest>>, BTreeSet<String>> {
        let state = self.state.lock().await;
        let holding: Vec<&Rollout> = state
            .rollouts_in_force()
            .filter(|r| r.environment == env && r.holds_back())
            .collect();
        let mut groups: BTreeMap<BTreeMap<String, Option<Digest>>, BTreeSet<String>> =
            BTreeMap::new();
        for c in clusters {
            let key: BTreeMap<String, Option<Digest>> = holding
                .iter()
                .filter(|r| !r.reached(c))
                .map(|r| (r.service.clone(), r.previous))
                .collect();
            groups.entry(key).or_default().insert(c.clone());
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(state: RolloutState, wave: usize) -> Rollout {
        Rollout {
            service: "web".into(),
            environment: "prod".into(),
            seq: 2,
            version: Digest::of(b"v2"),
            label: "v2".into(),
            previous: Some(Digest::of(b"v1")),
            waves: vec![
                plan::RolloutWave {
                    name: "canary".into(),
                    max_unavailable: 0,
                    clusters: vec!["c".into()],
                },
                plan::RolloutWave {
                    name: "100%".into(),
                    max_unavailable: 0,
                    clusters: vec!["a".into(), "b".into()],
                },
            ],
            soak: "10m".into(),
            auto_rollback: true,
            environments: Vec::new(),
            wave,
            state,
            since: 0,
            reason: String::new(),
            awaiting: None,
            paused_from: None,
        }
    }

    #[test]
    fn a_cluster_runs_the_version_once_its_wave_started() {
        let r = rollout(RolloutState::Progressing, 0);
        assert!(r.reached("c"));
        assert!(!r.reached("a"));
        let r = rollout(RolloutState::Soaking, 1);
        assert!(r.reached("a") && r.reached("c"));
        let r = rollout(RolloutState::Planning, 1);
        assert!(!r.reached("c"));
        let r = rollout(RolloutState::Complete, 0);
        assert!(r.reached("a") && !r.holds_back());
        assert_eq!(r.soak_ms(), 600_000);
    }

    #[test]
    fn a_halt_that_rolls_back_is_pending_until_superseded() {
        assert!(rollout(RolloutState::Halted, 0).rollback_pending());
        let mut keep = rollout(RolloutState::Halted, 0);
        keep.auto_rollback = false;
        assert!(!keep.rollback_pending());
        let mut new_service = rollout(RolloutState::Halted, 0);
        new_service.previous = None;
        assert!(!new_service.rollback_pending());
        assert!(!rollout(RolloutState::Paused, 0).rollback_pending());
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = Clock::manual();
        let t = c.now_ms();
        assert_eq!(c.now_ms(), t);
        assert!(c.advance(std::time::Duration::from_secs(60)));
        assert_eq!(c.now_ms(), t + 60_000);
        assert!(!Clock::System.advance(std::time::Duration::from_secs(1)));
    }
}
