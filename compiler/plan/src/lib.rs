//! The plan: for every cluster of a fleet, the Helm releases it runs, in order, each pinned by
//! content digests. The fleet compiler writes it; the runtime stages it and agents apply it.
//!
//! A plan is versioned (`apiVersion: flotilla.dev/v1alpha1`, `kind: Plan`) and its text is
//! canonical: [`Plan::to_yaml`] gives the same bytes for the same plan, and the compiler makes
//! the same plan from the same fleet. Manifests are not inside the plan: each release names its
//! manifest by digest and a bundle stores it once per digest (`objects/sha256/<hex>`), with a
//! [`ClusterIndex`] per cluster listing that cluster's releases and manifests.
//!
//! A plan may also carry [`Warning`]s: objects that violate a manifest rule with
//! `action: warn`, kept with the plan so reviewers and later stages see them.

pub mod agent;
mod digest;
mod duration;
mod index;
mod manifests;
mod yaml;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::digest::{Digest, DigestParseError};
pub use crate::duration::parse_duration;
pub use crate::index::{ClusterIndex, INDEX_KIND, IndexEntry, IndexError};
pub use crate::manifests::Manifests;

/// The version of the plan format this crate reads and writes.
pub const API_VERSION: &str = "flotilla.dev/v1alpha1";
/// The kind of a plan document.
pub const KIND: &str = "Plan";
/// The name of the plan document in a bundle.
pub const PLAN_FILE: &str = "plan.yaml";

/// A whole fleet's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    pub api_version: String,
    pub kind: String,
    /// Every cluster of the fleet, sorted by name (a cluster that runs nothing has no
    /// releases).
    pub clusters: Vec<ClusterPlan>,
    /// Manifest rules with `action: warn` that objects of the plan violate, sorted (see
    /// [`Warning`]). Absent from the text when empty, so a plan without warnings keeps the
    /// bytes it had before warnings existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// The progressive rollouts of services with a rollout policy: for each (service,
    /// environment), the waves its clusters take a new version in, sorted by service then
    /// environment. Absent when no service has a policy (the plan keeps its earlier bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<RolloutPlan>,
}

/// How a new version of a service reaches the clusters of one environment: wave by wave (a
/// canary wave first when the policy names one), each wave soaking (every release Ready for
/// `soak`) before the next starts; a wave with more than `maxUnavailable` failed or stuck
/// clusters halts the rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutPlan {
    pub service: Arc<str>,
    pub environment: Arc<str>,
    /// How long every release of a wave stays Ready before the next wave (`10m`; `0s`).
    pub soak: Arc<str>,
    /// A halted rollout puts the environment back on the version it replaced.
    pub auto_rollback: bool,
    /// The environments the service's versions are promoted through, in order, when its
    /// policy names them (absent: the fleet's order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<Arc<str>>,
    pub waves: Vec<RolloutWave>,
}

/// One wave of a rollout: its clusters, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutWave {
    /// `canary`, or the share of the other clusters the version has reached with this wave
    /// (`25%`, `10`, `100%`).
    pub name: Arc<str>,
    /// Failed or stuck clusters of this wave the rollout tolerates.
    pub max_unavailable: u32,
    pub clusters: Vec<Arc<str>>,
}

impl RolloutPlan {
    /// The soak time, parsed.
    pub fn soak_duration(&self) -> std::time::Duration {
        parse_duration(&self.soak).unwrap_or_default()
    }

    /// The index of the wave `cluster` is in.
    pub fn wave_of(&self, cluster: &str) -> Option<usize> {
        self.waves
            .iter()
            .position(|w| w.clusters.iter().any(|c| &**c == cluster))
    }
}

/// An object of a release that violates a manifest rule whose action is `warn`: the plan
/// goes on, and the warning stays with it. Warnings are sorted by cluster, release, object
/// kind, namespace and name, then rule (the order of the fields).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Warning {
    pub cluster: Arc<str>,
    /// The Helm release name.
    pub release: Arc<str>,
    pub kind: Arc<str>,
    /// The object's `metadata.namespace`; absent when it sets none.
    #[serde(default, skip_serializing_if = "no_text")]
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    /// The name of the rule in `policies/manifests.yaml`.
    pub rule: Arc<str>,
    /// The service the release installs.
    pub service: Arc<str>,
    pub message: Arc<str>,
}

/// One cluster's releases, in installation order: by wave, then by service name. Releases of
/// one wave may install in parallel once every earlier wave is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterPlan {
    pub name: Arc<str>,
    pub releases: Vec<Release>,
}

/// One Helm release of a service version on a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Release {
    /// The service this release installs.
    pub service: Arc<str>,
    /// The Helm release name.
    pub name: Arc<str>,
    pub namespace: Arc<str>,
    /// The installation wave (0 for services without dependencies on the cluster).
    pub wave: u32,
    /// The service version: the digest of its spec, values template and chart.
    pub version: Digest,
    pub chart: Arc<ChartPin>,
    /// The digest of the values the chart was rendered with (after the template ran on this
    /// cluster, before the chart's defaults were merged).
    pub values: Digest,
    /// The digest of the rendered manifest (the bytes of its object in a bundle,
    /// `objects/sha256/<hex>`).
    pub manifest: Digest,
}

/// The chart a release renders, as `Chart.yaml` names it, pinned by the digest of its files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartPin {
    pub name: Arc<str>,
    pub version: Arc<str>,
    /// sha256 over the chart's files in sorted path order.
    pub digest: Digest,
}

/// Why a plan could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("not a plan: {0}")]
    Syntax(String),
    #[error("unsupported plan {found}: this version of flotilla reads {API_VERSION} {KIND}")]
    Version { found: String },
    #[error("invalid plan: {0}")]
    Invalid(String),
}

fn no_text(s: &Arc<str>) -> bool {
    s.is_empty()
}

impl Plan {
    /// An empty plan of the current version.
    pub fn new(clusters: Vec<ClusterPlan>) -> Plan {
        Plan {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            clusters,
            warnings: Vec::new(),
            rollouts: Vec::new(),
        }
    }

    /// The canonical YAML text of the plan.
    pub fn to_yaml(&self) -> String {
        yaml::write(self)
    }

    /// Reads a plan written by [`Plan::to_yaml`] (or by hand, in any YAML style), checking its
    /// version and its invariants (sorted clusters, ordered releases, unique manifest paths,
    /// sorted warnings).
    pub fn from_yaml(text: &str) -> Result<Plan, PlanError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Head {
            api_version: Option<String>,
            kind: Option<String>,
        }
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! {
                max_events: usize::MAX,
                max_nodes: usize::MAX,
                max_total_scalar_bytes: usize::MAX,
            },
        };
        let head: Head = serde_saphyr::from_str_with_options(text, options.clone())
            .map_err(|e| PlanError::Syntax(e.to_string()))?;
        let (api, kind) = (
            head.api_version.unwrap_or_default(),
            head.kind.unwrap_or_default(),
        );
        if api != API_VERSION || kind != KIND {
            return Err(PlanError::Version {
                found: format!("{api} {kind}").trim().to_owned(),
            });
        }
        let plan: Plan = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| PlanError::Syntax(e.to_string()))?;
        plan.check()?;
        Ok(plan)
    }

    /// Checks the invariants the compiler guarantees.
    pub fn check(&self) -> Result<(), PlanError> {
        for pair in self.clusters.windows(2) {
            if pair[0].name >= pair[1].name {
                return Err(PlanError::Invalid(format!(
                    "clusters are not sorted by name: `{}` comes before `{}`",
                    pair[0].name, pair[1].name
                )));
            }
        }
        for c in &self.clusters {
            for pair in c.releases.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                if (a.wave, &a.service) >= (b.wave, &b.service) {
                    return Err(PlanError::Invalid(format!(
                        "the releases of cluster `{}` are not ordered by wave and service: `{}` comes before `{}`",
                        c.name, a.service, b.service
                    )));
                }
            }
            let mut names: Vec<&str> = c.releases.iter().map(|r| &*r.name).collect();
            names.sort_unstable();
            if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
                return Err(PlanError::Invalid(format!(
                    "cluster `{}` has two releases named `{}`",
                    c.name, w[0]
                )));
            }
        }
        for pair in self.rollouts.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if (&a.service, &a.environment) >= (&b.service, &b.environment) {
                return Err(PlanError::Invalid(format!(
                    "rollouts are not sorted by service and environment: `{}` in `{}` comes before `{}` in `{}`",
                    a.service, a.environment, b.service, b.environment
                )));
            }
        }
        for r in &self.rollouts {
            if parse_duration(&r.soak).is_err() {
                return Err(PlanError::Invalid(format!(
                    "the rollout of `{}` in `{}` has soak `{}`, which is not a duration",
                    r.service, r.environment, r.soak
                )));
            }
            let mut seen = std::collections::BTreeSet::new();
            for c in r.waves.iter().flat_map(|w| &w.clusters) {
                if !seen.insert(c) {
                    return Err(PlanError::Invalid(format!(
                        "the rollout of `{}` in `{}` names cluster `{c}` in two waves",
                        r.service, r.environment
                    )));
                }
            }
        }
        if let Some(w) = self.warnings.windows(2).find(|w| w[0] > w[1]) {
            return Err(PlanError::Invalid(format!(
                "warnings are not sorted: rule `{}` on cluster `{}`, release `{}` comes before rule `{}` on cluster `{}`, release `{}`",
                w[0].rule, w[0].cluster, w[0].release, w[1].rule, w[1].cluster, w[1].release
            )));
        }
        Ok(())
    }

    pub fn cluster(&self, name: &str) -> Option<&ClusterPlan> {
        self.clusters
            .binary_search_by(|c| (*c.name).cmp(name))
            .ok()
            .map(|i| &self.clusters[i])
    }

    /// How many releases the plan holds.
    pub fn release_count(&self) -> usize {
        self.clusters.iter().map(|c| c.releases.len()).sum()
    }
}

impl Release {
    /// How people see the release's manifest as a file, relative to a folder of clusters:
    /// `clusters/<cluster>/<wave>-<release>.yaml` (reviews name manifests so; `flotilla
    /// bundle export` writes a cluster's as [`Release::file_name`]).
    pub fn manifest_path(&self, cluster: &str) -> String {
        format!("clusters/{cluster}/{}", self.file_name())
    }

    /// `<wave>-<release>.yaml`, the wave written with two digits at least so that a listing
    /// shows the installation order.
    pub fn file_name(&self) -> String {
        format!("{:02}-{}.yaml", self.wave, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(service: &str, wave: u32) -> Release {
        Release {
            service: service.into(),
            name: service.into(),
            namespace: "ns".into(),
            wave,
            version: Digest::of(service.as_bytes()),
            chart: Arc::new(ChartPin {
                name: "c".into(),
                version: "1.0.0".into(),
                digest: Digest::of(b"chart"),
            }),
            values: Digest::of(b"values"),
            manifest: Digest::of(b"manifest"),
        }
    }

    fn plan() -> Plan {
        Plan::new(vec![
            ClusterPlan {
                name: "a".into(),
                releases: vec![release("base", 0), release("app", 1)],
            },
            ClusterPlan {
                name: "b".into(),
                releases: vec![],
            },
        ])
    }

    #[test]
    fn yaml_round_trips() {
        let p = plan();
        let text = p.to_yaml();
        assert_eq!(Plan::from_yaml(&text).ok(), Some(p));
    }

    fn warning(cluster: &str, name: &str, namespace: &str, message: &str) -> Warning {
        Warning {
            cluster: cluster.into(),
            release: "app".into(),
            kind: "Deployment".into(),
            namespace: namespace.into(),
            name: name.into(),
            rule: "resource-requests".into(),
            service: "app".into(),
            message: message.into(),
        }
    }

    #[test]
    fn a_plan_without_warnings_has_no_warnings_field() {
        let text = plan().to_yaml();
        assert!(!text.contains("warnings"), "{text}");
        assert!(text.ends_with("  - name: b\n    releases: []\n"), "{text}");
    }

    #[test]
    fn warnings_are_written_last_and_round_trip() {
        let mut p = plan();
        p.warnings = vec![
            warning("a", "web", "shop", "Deployment web: no requests"),
            warning("b", "api", "", "yes"),
        ];
        let text = p.to_yaml();
        assert!(
            text.ends_with(
                "    releases: []\nwarnings:\n  - cluster: a\n    release: app\n    kind: Deployment\n    namespace: shop\n    name: web\n    rule: resource-requests\n    service: app\n    message: \"Deployment web: no requests\"\n  - cluster: b\n    release: app\n    kind: Deployment\n    name: api\n    rule: resource-requests\n    service: app\n    message: \"yes\"\n"
            ),
            "{text}"
        );
        assert_eq!(Plan::from_yaml(&text).ok(), Some(p));
        // An empty plan keeps its `clusters: []`.
        let mut empty = Plan::new(Vec::new());
        empty.warnings = vec![warning("a", "web", "", "m")];
        let text = empty.to_yaml();
        assert!(text.contains("\nclusters: []\nwarnings:\n"), "{text}");
        assert_eq!(Plan::from_yaml(&text).ok(), Some(empty));
    }

    #[test]
    fn unsorted_warnings_are_refused() {
        let mut p = plan();
        p.warnings = vec![warning("b", "web", "", "m"), warning("a", "web", "", "m")];
        let got = Plan::from_yaml(&p.to_yaml())
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            got,
            Err("invalid plan: warnings are not sorted: rule `resource-requests` on cluster `b`, release `app` comes before rule `resource-requests` on cluster `a`, release `app`".to_owned())
        );
    }

    #[test]
    fn json_names_fields_in_camel_case() {
        let json = serde_json::to_string(&plan()).unwrap_or_default();
        assert!(json.starts_with(r#"{"apiVersion":"flotilla.dev/v1alpha1","kind":"Plan""#));
    }

    #[test]
    fn other_versions_are_refused() {
        let check = |text: &str, expect: &str| {
            let got = Plan::from_yaml(text).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(got, Err(expect.to_owned()), "{text}");
        };
        check(
            "apiVersion: flotilla.dev/v2\nkind: Plan\nclusters: []\n",
            "unsupported plan flotilla.dev/v2 Plan: this version of flotilla reads flotilla.dev/v1alpha1 Plan",
        );
        check(
            "kind: Plan\n",
            "unsupported plan Plan: this version of flotilla reads flotilla.dev/v1alpha1 Plan",
        );
        check(
            "apiVersion: flotilla.dev/v1alpha1\nkind: Plan\nclusters:\n  - name: b\n    releases: []\n  - name: a\n    releases: []\n",
            "invalid plan: clusters are not sorted by name: `b` comes before `a`",
        );
    }

    #[test]
    fn unordered_releases_are_refused() {
        let mut p = plan();
        p.clusters[0].releases.reverse();
        assert!(Plan::from_yaml(&p.to_yaml()).is_err());
    }

    fn rollout(service: &str, waves: &[(&str, &[&str])]) -> RolloutPlan {
        RolloutPlan {
            service: service.into(),
            environment: "prod".into(),
            soak: "10m".into(),
            auto_rollback: true,
            environments: Vec::new(),
            waves: waves
                .iter()
                .map(|(name, clusters)| RolloutWave {
                    name: (*name).into(),
                    max_unavailable: 1,
                    clusters: clusters.iter().map(|c| (*c).into()).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn rollouts_are_written_read_back_and_checked() {
        let mut p = plan();
        p.rollouts = vec![
            rollout("api", &[("canary", &["a"]), ("100%", &["b"])]),
            rollout("web", &[("50%", &["a"])]),
        ];
        let text = p.to_yaml();
        assert!(
            text.ends_with(
                "rollouts:\n  - service: api\n    environment: prod\n    soak: \"10m\"\n    autoRollback: true\n    waves:\n      - name: canary\n        maxUnavailable: 1\n        clusters:\n          - a\n      - name: \"100%\"\n        maxUnavailable: 1\n        clusters:\n          - b\n  - service: web\n    environment: prod\n    soak: \"10m\"\n    autoRollback: true\n    waves:\n      - name: \"50%\"\n        maxUnavailable: 1\n        clusters:\n          - a\n"
            ),
            "{text}"
        );
        assert_eq!(Plan::from_yaml(&text).expect("read back"), p);
        assert_eq!(p.rollouts[0].wave_of("b"), Some(1));
        assert_eq!(p.rollouts[0].soak_duration().as_secs(), 600);

        let mut unsorted = p.clone();
        unsorted.rollouts.reverse();
        assert!(unsorted.check().is_err());
        let mut twice = p.clone();
        twice.rollouts[0].waves[1].clusters.push("a".into());
        let e = twice.check().expect_err("a cluster in two waves");
        assert!(e.to_string().contains("cluster `a` in two waves"), "{e}");
    }

    #[test]
    fn manifest_paths_sort_by_wave() {
        assert_eq!(
            release("app", 3).manifest_path("a"),
            "clusters/a/03-app.yaml"
        );
        assert_eq!(
            release("app", 123).manifest_path("a"),
            "clusters/a/123-app.yaml"
        );
    }
}
