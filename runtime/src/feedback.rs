//! Deployment feedback: each (cluster, release) is Staged → Applying → Progressing → Ready, or
//! Failed, from its agent's reports; it is **stuck** when Failed, when not Ready by its
//! service's deadline (`rollout: {deadline}`, 10 minutes by default), or when its agent is
//! silent for three heartbeats. A deployment (a service's version in an environment) has
//! Succeeded only when every release of it is Ready.
//!
//! Which kind of stuck decides who hears of it: a **service** fault (a crash loop, an image that
//! cannot be pulled, a rollout past its progress deadline, a failed Job, readiness never
//! reached, an object the cluster refused) goes to the service's channel (`owners.slack`,
//! mapped to a webhook in `notifications.yaml`); a **platform** fault (a silent agent, an agent
//! that cannot fetch, a cluster API server it cannot reach, an environment whose staging
//! fails) pages the platform on-call (PagerDuty Events API v2). One message per incident, not
//! per cluster nor per pass, then a resolve when it recovers; incidents are kept in the store
//! (`incidents/`), so a restart neither repeats nor forgets them; at most
//! [`MESSAGES_PER_MINUTE`] go out, the rest wait for the next pass.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use plan::agent::Phase;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::now;
use crate::controller::{Controller, ControllerError};
use crate::notify::Outgoing;

/// A release's deadline when its service gives none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(600);
/// Heartbeats an agent may miss before it is silent.
pub const SILENT_AFTER_HEARTBEATS: u32 = 3;
/// Messages (triggers and resolves) sent per minute at most.
pub const MESSAGES_PER_MINUTE: usize = 30;

/// Reasons that are the service's own fault.
const SERVICE_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "ProgressDeadlineExceeded",
    "JobFailed",
    "ApplyRejected",
    "Rejected",
];

/// Reasons that are the platform's (the agent cannot see its cluster).
const PLATFORM_REASONS: &[&str] = &["ClusterUnreachable", "StatusUnavailable"];

/// What the feedback needs of a deployed service (from its version's `service.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub deadline: Duration,
    /// `owners.slack`, the channel stuck deployments go to.
    pub slack: Option<String>,
    pub release: String,
}

/// Who hears of a stuck release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StuckKind {
    Service,
    Platform,
}

/// One release on one cluster, now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseState {
    pub cluster: String,
    pub release: String,
    pub phase: Phase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck: Option<StuckKind>,
    /// What the state rests on (the agent's words, the objects not ready, the silence).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Unix seconds since when it has been on its way (the later of its staging and its
    /// deployment).
    pub since: u64,
    /// Unix seconds of its agent's last request (`None`: never seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
}

/// A deployment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DeploymentPhase {
    Progressing,
    Succeeded,
    Stuck,
}

impl DeploymentPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentPhase::Progressing => "Progressing",
            DeploymentPhase::Succeeded => "Succeeded",
            DeploymentPhase::Stuck => "Stuck",
        }
    }
}

/// A service's version in an environment, across its clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentState {
    pub service: String,
    pub environment: String,
    pub version: String,
    pub digest: String,
    pub seq: u64,
    pub state: DeploymentPhase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck: Option<StuckKind>,
    pub clusters: usize,
    pub ready: usize,
    pub failed: usize,
    #[serde(rename = "stuckClusters")]
    pub stuck_clusters: usize,
    /// Unix seconds of the deployment.
    pub deployed_at: u64,
    pub releases: Vec<ReleaseState>,
}

/// An open incident (`incidents/<key>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    pub key: String,
    pub kind: StuckKind,
    pub summary: String,
    /// Where its trigger went (a webhook URL is not kept: `channel #payments`, `pager`).
    pub routed_to: String,
    pub opened_at: u64,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub clusters: Vec<String>,
}

/// A wanted incident in one evaluation.
#[derive(Debug, Clone)]
struct Wanted {
    kind: StuckKind,
    summary: String,
    details: serde_json::Value,
    service: String,
    environment: String,
    clusters: Vec<String>,
    /// `owners.slack` for a service fault.
    channel: Option<String>,
}

/// What one evaluation found.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub deployments: Vec<DeploymentState>,
    /// Agents silent for three heartbeats (seen before).
    pub silent: Vec<String>,
}

fn key_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Controller {
    /// Every current deployment's state, from the staged bundles and the agents' reports.
    pub async fn evaluate(&self) -> Evaluation {
        let at = now();
        let heartbeat = self.heartbeat();
        let silent_after = heartbeat.as_secs().max(1) * u64::from(SILENT_AFTER_HEARTBEATS);
        let (current, records) = self.current_and_staged().await;
        let agents = self.agents_seen();
        let infos = self
            .services_info
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let targets = self
            .targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let registry: BTreeMap<String, String> = self
            .registrations()
            .into_iter()
            .filter(|r| !r.deregistered)
            .map(|r| (r.cluster, r.environment))
            .collect();
        let mut silent = Vec::new();
        for (cluster, seen) in &agents {
            if registry.contains_key(cluster)
                && seen.last_seen > 0
                && at.saturating_sub(seen.last_seen) > silent_after
            {
                silent.push(cluster.clone());
            }
        }
        // One walk over each cluster's releases (not one over every cluster per deployment).
        let deployed: BTreeMap<(&str, &str), &crate::records::Deployment> = current
            .iter()
            .map(|((s, e), d)| ((s.as_str(), e.as_str()), d))
            .collect();
        let silent_set: BTreeSet<&str> = silent.iter().map(String::as_str).collect();
        // What the staged bundles run of the services under a rollout: a cluster a rollout
        // holds back runs another version than the deployment's.
        let running = self.running.read().unwrap_or_else(|e| e.into_inner());
        let mut by_deployment: BTreeMap<(&str, &str), Vec<ReleaseState>> = BTreeMap::new();
        for (cluster, env) in &registry {
            let Some(services) = targets.get(cluster) else {
                continue;
            };
            let record = records.get(cluster);
            let seen = agents.get(cluster);
            let report = seen.and_then(|s| s.report.clone());
            let current_bundle = match (&report, record) {
                (Some(rep), Some(rec)) => rep.digest == Some(rec.digest),
                _ => false,
            };
            // The agent's word on each service, when it speaks of the current bundle.
            let statuses: BTreeMap<&str, &plan::agent::ReleaseStatus> =
                match (&report, current_bundle) {
                    (Some(rep), true) => rep
                        .releases
                        .iter()
                        .map(|x| (x.service.as_ref(), x))
                        .collect(),
                    _ => BTreeMap::new(),
                };
            for service in services.iter() {
                let service: &str = service;
                let Some(d) = deployed.get(&(service, env.as_str())) else {
                    continue;
                };
                let info = infos.get(&(env.clone(), service.to_owned()));
                let deadline = info.map_or(DEFAULT_DEADLINE, |i| i.deadline).as_secs();
                let release_name = info.map_or_else(|| service.to_owned(), |i| i.release.clone());
                let since = record.map_or(d.at, |r| r.staged_at.max(d.at));
                if let Some(v) = running.get(cluster).and_then(|m| m.get(service))
                    && *v != d.version
                {
                    // Not this deployment's yet: its wave has not started (never stuck).
                    by_deployment
                        .entry((d.service.as_str(), d.environment.as_str()))
                        .or_default()
                        .push(ReleaseState {
                            cluster: cluster.clone(),
                            release: release_name,
                            phase: Phase::Staged,
                            reason: Some("WaitingForWave".into()),
                            message: String::new(),
                            stuck: None,
                            evidence: vec![format!(
                                "its rollout holds it on {} until its wave starts",
                                v.short()
                            )],
                            since,
                            last_seen: seen.map(|s| s.last_seen).filter(|s| *s > 0),
                        });
                    continue;
                }
                let mut r = ReleaseState {
                    cluster: cluster.clone(),
                    release: release_name.clone(),
                    phase: Phase::Staged,
                    reason: None,
                    message: String::new(),
                    stuck: None,
                    evidence: Vec::new(),
                    since,
                    last_seen: seen.map(|s| s.last_seen).filter(|s| *s > 0),
                };
                if let Some(st) = statuses.get(service) {
                    r.phase = st.phase;
                    r.release = st.release.to_string();
                    r.reason = st.reason.clone();
                    r.message = st.message.clone();
                    for o in st.objects.iter().filter(|o| !o.ready) {
                        let why = o.reason.clone().unwrap_or_else(|| "not ready".into());
                        r.evidence.push(format!("{} {}: {why}", o.kind, o.name));
                    }
                } else if current_bundle {
                    r.evidence
                        .push("the agent's report does not name this release".into());
                } else if let Some(rec) = record {
                    r.evidence.push(format!(
                        "generation {} staged; the agent has applied {}",
                        rec.generation,
                        report.as_ref().map_or_else(
                            || "nothing yet".to_owned(),
                            |x| format!("generation {}", x.generation)
                        )
                    ));
                }
                if let Some(e) = report.as_ref().and_then(|x| x.error.clone()) {
                    r.evidence.push(format!("the agent: {e}"));
                }
                let waited = at.saturating_sub(since);
                let agent_error = report.as_ref().is_some_and(|x| x.error.is_some());
                r.stuck = if silent_set.contains(cluster.as_str()) {
                    r.evidence.push(format!(
                        "the agent has been silent for {}s",
                        at.saturating_sub(r.last_seen.unwrap_or(0))
                    ));
                    Some(StuckKind::Platform)
                } else if r.phase != Phase::Ready
                    && r.reason
                        .as_deref()
                        .is_some_and(|x| PLATFORM_REASONS.contains(&x))
                {
                    Some(StuckKind::Platform)
                } else if r.phase != Phase::Ready && agent_error && waited > silent_after {
                    // The agent reports that it cannot fetch or apply: the platform's.
                    if r.reason.is_none() {
                        r.reason = Some("AgentError".into());
                    }
                    Some(StuckKind::Platform)
                } else if r.phase == Phase::Failed {
                    let service_fault = r
                        .reason
                        .as_deref()
                        .is_some_and(|x| SERVICE_REASONS.contains(&x));
                    Some(if service_fault {
                        StuckKind::Service
                    } else {
                        StuckKind::Platform
                    })
                } else if r.phase != Phase::Ready && waited > deadline {
                    r.evidence.push(format!(
                        "not Ready {waited}s after it was staged (deadline {deadline}s)"
                    ));
                    // Applied and never Ready: the service's; never applied: the platform's.
                    Some(if r.phase == Phase::Progressing {
                        if r.reason.is_none() {
                            r.reason = Some("ReadinessNeverReached".into());
                        }
                        StuckKind::Service
                    } else {
                        if r.reason.is_none() {
                            r.reason = Some(
                                if r.last_seen.is_none() {
                                    "AgentNeverConnected"
                                } else {
                                    "NotApplied"
                                }
                                .into(),
                            );
                        }
                        StuckKind::Platform
                    })
                } else {
                    None
                };
                by_deployment
                    .entry((d.service.as_str(), d.environment.as_str()))
                    .or_default()
                    .push(r);
            }
        }
        let mut deployments = Vec::new();
        for ((service, env), d) in &current {
            let releases = by_deployment
                .remove(&(service.as_str(), env.as_str()))
                .unwrap_or_default();
            let ready = releases.iter().filter(|r| r.phase == Phase::Ready).count();
            let failed = releases.iter().filter(|r| r.phase == Phase::Failed).count();
            let stuck_clusters = releases.iter().filter(|r| r.stuck.is_some()).count();
            let stuck = releases.iter().filter_map(|r| r.stuck).min();
            let state = if stuck.is_some() {
                DeploymentPhase::Stuck
            } else if !releases.is_empty() && ready == releases.len() {
                DeploymentPhase::Succeeded
            } else {
                DeploymentPhase::Progressing
            };
            deployments.push(DeploymentState {
                service: service.clone(),
                environment: env.clone(),
                version: d.label.clone(),
                digest: d.version.to_string(),
                seq: d.seq,
                state,
                stuck,
                clusters: releases.len(),
                ready,
                failed,
                stuck_clusters,
                deployed_at: d.at,
                releases,
            });
        }
        Evaluation {
            deployments,
            silent,
        }
    }

    /// One feedback pass: evaluates, records metrics, opens and resolves incidents.
    pub async fn feedback(&self) -> Result<Evaluation, ControllerError> {
        let eval = self.evaluate().await;
        self.observe(&eval);
        let infos = self
            .services_info
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
        for d in &eval.deployments {
            let Some(kind) = d.stuck else { continue };
            // A deployment's stuck releases of each kind make one incident each.
            for k in [StuckKind::Service, StuckKind::Platform] {
                let stuck: Vec<&ReleaseState> = d
                    .releases
                    .iter()
                    .filter(|r| r.stuck == Some(k) && !eval.silent.contains(&r.cluster))
                    .collect();
                if stuck.is_empty() {
                    continue;
                }
                let _ = kind;
                let clusters: Vec<String> = stuck.iter().map(|r| r.cluster.clone()).collect();
                let reasons: BTreeSet<String> =
                    stuck.iter().filter_map(|r| r.reason.clone()).collect();
                let reason = reasons.iter().cloned().collect::<Vec<_>>().join(", ");
                let first = stuck[0];
                let detail = if first.message.is_empty() {
                    first.evidence.first().cloned().unwrap_or_default()
                } else {
                    first.message.clone()
                };
                let summary = format!(
                    "{} {} is stuck in {} on {} of {} clusters ({}): {}{}",
                    d.service,
                    d.version,
                    d.environment,
                    clusters.len(),
                    d.clusters,
                    clusters.join(", "),
                    if reason.is_empty() {
                        "not Ready"
                    } else {
                        &reason
                    },
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" — {detail}")
                    }
                );
                let key = format!(
                    "{}-{}-{}-{}",
                    match k {
                        StuckKind::Service => "service",
                        StuckKind::Platform => "platform",
                    },
                    key_part(&d.service),
                    key_part(&d.environment),
                    d.digest
                        .trim_start_matches("sha256:")
                        .chars()
                        .take(12)
                        .collect::<String>()
                );
                wanted.insert(
                    key,
                    Wanted {
                        kind: k,
                        summary,
                        details: json!({
                            "service": d.service, "version": d.version, "digest": d.digest,
                            "environment": d.environment, "clusters": clusters, "reason": reason,
                            "evidence": stuck.iter().map(|r| json!({"cluster": r.cluster, "phase": r.phase, "reason": r.reason, "message": r.message, "evidence": r.evidence})).collect::<Vec<_>>(),
                        }),
                        service: d.service.clone(),
                        environment: d.environment.clone(),
                        clusters,
                        channel: infos.get(&(d.environment.clone(), d.service.clone())).and_then(|i| i.slack.clone()),
                    },
                );
            }
        }
        let agents = self.agents_seen();
        for cluster in &eval.silent {
            // A refusal since its last good request.
            let refused = agents
                .get(cluster)
                .and_then(|a| a.refused.clone().filter(|(at, _)| *at >= a.last_seen));
            let why = refused
                .as_ref()
                .map(|(_, why)| format!("; its requests are refused: {why}"))
                .unwrap_or_default();
            let reason = if refused.is_some() {
                "AgentCannotAuthenticate"
            } else {
                "AgentSilent"
            };
            wanted.insert(
                format!("silent-{}", key_part(cluster)),
                Wanted {
                    kind: StuckKind::Platform,
                    summary: format!(
                        "the agent of cluster {cluster} is silent (no request for {} heartbeats){why}",
                        SILENT_AFTER_HEARTBEATS
                    ),
                    details: json!({
                        "cluster": cluster,
                        "reason": reason,
                        "refused": refused.map(|(at, why)| json!({"at": at, "why": why})),
                    }),
                    service: String::new(),
                    environment: String::new(),
                    clusters: vec![cluster.clone()],
                    channel: None,
                },
            );
        }
        for (env, message) in self.platform_failures().await {
            wanted.insert(
                format!("staging-{}", key_part(&env)),
                Wanted {
                    kind: StuckKind::Platform,
                    summary: format!("staging {env} fails: {message}"),
                    details: json!({"environment": env, "reason": "StagingFailed", "message": message}),
                    service: String::new(),
                    environment: env.clone(),
                    clusters: Vec::new(),
                    channel: None,
                },
            );
        }
        let (last_pass, interval) = self.pass_timing();
        if last_pass > interval.max(Duration::from_secs(1)) * 3 {
            wanted.insert(
                "loop-overrun".into(),
                Wanted {
                    kind: StuckKind::Platform,
                    summary: format!(
                        "the reconcile loop overran: its last pass took {:.1}s (interval {:.1}s)",
                        last_pass.as_secs_f64(),
                        interval.as_secs_f64()
                    ),
                    details: json!({"reason": "LoopOverrun", "passSeconds": last_pass.as_secs_f64()}),
                    service: String::new(),
                    environment: String::new(),
                    clusters: Vec::new(),
                    channel: None,
                },
            );
        }
        self.route(wanted).await?;
        Ok(eval)
    }

    /// Opens the wanted incidents that are not open, resolves the open ones no longer wanted.
    async fn route(&self, wanted: BTreeMap<String, Wanted>) -> Result<(), ControllerError> {
        let mut open = self.incidents.lock().await;
        let mut budget = self.message_budget();
        let resolved: Vec<String> = open
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for key in resolved {
            if budget == 0 {
                break;
            }
            let Some(incident) = open.get(&key).cloned() else {
                continue;
            };
            if let Some(m) = self.message(&incident, None) {
                self.send_counted(m);
                budget -= 1;
            }
            self.store.delete(&format!("incidents/{key}.json")).await?;
            open.remove(&key);
            self.metrics
                .incidents_resolved
                .fetch_add(1, Ordering::Relaxed);
            eprintln!("flotilla serve: resolved: {}", incident.summary);
        }
        for (key, w) in wanted {
            if open.contains_key(&key) {
                continue;
            }
            if budget == 0 {
                self.metrics
                    .notifications_deferred
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut incident = Incident {
                key: key.clone(),
                kind: w.kind,
                summary: w.summary.clone(),
                routed_to: String::new(),
                opened_at: now(),
                service: w.service.clone(),
                environment: w.environment.clone(),
                clusters: w.clusters.clone(),
            };
            let m = self.message(&incident, Some(&w));
            incident.routed_to = match (&m, w.kind, &w.channel) {
                (None, _, _) => "nowhere (no receiver configured)".into(),
                (Some(_), StuckKind::Service, Some(c))
                    if self.notifications.channels.contains_key(c) =>
                {
                    format!("channel {c}")
                }
                (Some(_), StuckKind::Service, _) => "the on-call channel".into(),
                (Some(_), StuckKind::Platform, _) => "pager".into(),
            };
            // Stored before it is sent: a crash in between sends nothing twice.
            let mut body = serde_json::to_vec_pretty(&incident).unwrap_or_default();
            body.push(b'\n');
            self.store
                .put(&format!("incidents/{key}.json"), body.into())
                .await?;
            if let Some(m) = m {
                self.send_counted(m);
                budget -= 1;
            } else {
                self.metrics
                    .notifications_unrouted
                    .fetch_add(1, Ordering::Relaxed);
            }
            eprintln!(
                "flotilla serve: {} fault: {} (to {})",
                match w.kind {
                    StuckKind::Service => "service",
                    StuckKind::Platform => "platform",
                },
                w.summary,
                incident.routed_to
            );
            self.metrics
                .incidents_opened
                .fetch_add(1, Ordering::Relaxed);
            open.insert(key, incident);
        }
        Ok(())
    }

    /// How many messages may go out now (the per-minute budget).
    fn message_budget(&self) -> usize {
        let mut sent = self.sent_messages.lock().unwrap_or_else(|e| e.into_inner());
        budget_left(&mut sent, Instant::now())
    }

    /// Sends a message, counted against the per-minute budget.
    fn send_counted(&self, m: Outgoing) {
        self.sent_messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Instant::now());
        self.notifier.send(m);
    }

    /// The message of a trigger (`wanted` given) or a resolve, to the incident's receiver.
    fn message(&self, incident: &Incident, wanted: Option<&Wanted>) -> Option<Outgoing> {
        let trigger = wanted.is_some();
        match incident.kind {
            StuckKind::Service => {
                let channel = wanted.and_then(|w| w.channel.clone()).or_else(|| {
                    incident
                        .routed_to
                        .strip_prefix("channel ")
                        .map(str::to_owned)
                });
                let url = channel
                    .as_ref()
                    .and_then(|c| self.notifications.channels.get(c).cloned())
                    .or_else(|| self.notifier.on_call().map(str::to_owned))?;
                let text = if trigger {
                    format!(":rotating_light: {}", incident.summary)
                } else {
                    format!(":white_check_mark: resolved: {}", incident.summary)
                };
                Some(Outgoing {
                    url,
                    body: json!({
                        "text": text,
                        "flotilla": {
                            "event": if trigger { "trigger" } else { "resolve" },
                            "kind": "service",
                            "key": incident.key,
                            "service": incident.service,
                            "environment": incident.environment,
                            "clusters": incident.clusters,
                            "details": wanted.map(|w| w.details.clone()),
                        }
                    }),
                    what: format!("stuck deployment {}", incident.key),
                })
            }
            StuckKind::Platform => {
                let pd = self.notifications.pagerduty.as_ref()?;
                let mut body = json!({
                    "routing_key": pd.routing_key,
                    "event_action": if trigger { "trigger" } else { "resolve" },
                    "dedup_key": format!("flotilla/{}", incident.key),
                });
                if let Some(w) = wanted {
                    body["payload"] = json!({
                        "summary": w.summary.chars().take(1024).collect::<String>(),
                        "source": "flotilla",
                        "severity": "critical",
                        "component": if w.clusters.len() == 1 { w.clusters[0].clone() } else { w.environment.clone() },
                        "group": w.environment,
                        "class": "platform",
                        "custom_details": w.details,
                    });
                }
                Some(Outgoing {
                    url: pd.url.clone(),
                    body,
                    what: format!("page {}", incident.key),
                })
            }
        }
    }

    /// Loads the open incidents from the store.
    pub(crate) async fn load_incidents(&self) -> Result<(), ControllerError> {
        let mut open = BTreeMap::new();
        for name in self.store.list("incidents").await? {
            if let Some(i) = self
                .store
                .get_json::<Incident>(&format!("incidents/{name}"))
                .await?
            {
                open.insert(i.key.clone(), i);
            }
        }
        *self.incidents.lock().await = open;
        Ok(())
    }

    /// The open incidents.
    pub async fn incidents(&self) -> Vec<Incident> {
        self.incidents.lock().await.values().cloned().collect()
    }

    /// Metrics of an evaluation: deployments by state, stuck by kind, time to Ready, and a
    /// registered cluster's time to all Ready.
    fn observe(&self, eval: &Evaluation) {
        let mut by_state: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut stuck: BTreeMap<&'static str, u64> = BTreeMap::new();
        for d in &eval.deployments {
            *by_state.entry(d.state.as_str()).or_default() += 1;
            if let Some(k) = d.stuck {
                *stuck
                    .entry(match k {
                        StuckKind::Service => "service",
                        StuckKind::Platform => "platform",
                    })
                    .or_default() += 1;
            }
            if d.state == DeploymentPhase::Succeeded {
                let mut seen = self.succeeded.lock().unwrap_or_else(|e| e.into_inner());
                if seen.insert((d.service.clone(), d.environment.clone(), d.seq)) {
                    self.metrics
                        .observe_ready(Duration::from_secs(now().saturating_sub(d.deployed_at)));
                }
            }
        }
        self.metrics
            .set_deployments(by_state, stuck, eval.silent.len() as u64);
        // Registered clusters: all Ready.
        let mut boot = self.bootstrap.lock().unwrap_or_else(|e| e.into_inner());
        for (cluster, b) in boot.iter_mut() {
            if b.ready.is_some() {
                continue;
            }
            let releases: Vec<&ReleaseState> = eval
                .deployments
                .iter()
                .flat_map(|d| d.releases.iter())
                .filter(|r| &r.cluster == cluster)
                .collect();
            if !releases.is_empty() && releases.iter().all(|r| r.phase == Phase::Ready) {
                let t = b.registered.elapsed();
                b.ready = Some(t);
                self.metrics.observe_bootstrap_ready(t);
            }
        }
    }
}

/// Messages that may go out at `now`, given when the last ones went (older than a minute
/// forgotten).
fn budget_left(sent: &mut Vec<Instant>, now: Instant) -> usize {
    let minute_ago = now.checked_sub(Duration::from_secs(60));
    sent.retain(|t| minute_ago.is_none_or(|m| *t > m));
    MESSAGES_PER_MINUTE.saturating_sub(sent.len())
}

/// A cluster registered by this process: when, and how long to its first bundle and to all
/// Ready.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub registered: Instant,
    pub first_bundle: Option<Duration>,
    pub ready: Option<Duration>,
}

impl Bootstrap {
    pub fn new() -> Bootstrap {
        Bootstrap {
            registered: Instant::now(),
            first_bundle: None,
            ready: None,
        }
    }
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap::new()
    }
}

/// The services a cluster runs, shared (interned) across clusters.
pub type Targets = Arc<[Arc<str>]>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_per_minute_and_only_what_was_sent_counts() {
        let start = Instant::now();
        let mut sent = Vec::new();
        assert_eq!(budget_left(&mut sent, start), MESSAGES_PER_MINUTE);
        assert_eq!(
            budget_left(&mut sent, start),
            MESSAGES_PER_MINUTE,
            "asking spends nothing"
        );
        sent.extend(std::iter::repeat_n(start, MESSAGES_PER_MINUTE));
        assert_eq!(budget_left(&mut sent, start + Duration::from_secs(59)), 0);
        assert_eq!(
            budget_left(&mut sent, start + Duration::from_secs(61)),
            MESSAGES_PER_MINUTE
        );
    }

    #[test]
    fn keys_are_file_names() {
        assert_eq!(key_part("a/b c"), "a_b_c");
        assert_eq!(key_part("prod-1.eu"), "prod-1.eu");
    }
}
