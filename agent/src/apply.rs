//! Appliers: what the agent does with its cluster's manifests.
//!
//! - `dir` writes each release's manifest to a folder (`<release>.yaml`, a GitOps hand-off or
//!   a dry run) and removes the files of releases it wrote before and no longer ships.
//! - `sim` is a simulated cluster for load tests and demos: a release becomes Ready a delay
//!   after it is applied, unless a fault is injected for its service (a crash loop, an image
//!   that cannot be pulled, an apply the cluster rejects, slow readiness).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use plan::IndexEntry;
use plan::agent::{ObjectStatus, Phase, ReleaseStatus};

use crate::AgentError;
use crate::state::write_file;

/// A fault the `sim` applier injects for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimFault {
    CrashLoop,
    ImagePull,
    Reject,
    /// Ready after ten times the delay.
    Slow,
}

impl std::str::FromStr for SimFault {
    type Err = String;
    fn from_str(s: &str) -> Result<SimFault, String> {
        match s {
            "crashloop" | "crash-loop" => Ok(SimFault::CrashLoop),
            "imagepull" | "image-pull" => Ok(SimFault::ImagePull),
            "reject" => Ok(SimFault::Reject),
            "slow" => Ok(SimFault::Slow),
            _ => Err(format!(
                "unknown fault `{s}` (crashloop, imagepull, reject, slow)"
            )),
        }
    }
}

/// How the cluster is changed.
#[derive(Debug)]
pub enum Applier {
    Dir { out: PathBuf },
    Sim(Sim),
    Kube(Box<crate::kube::Kube>),
}

/// The simulated cluster.
#[derive(Debug)]
pub struct Sim {
    pub ready_after: Duration,
    pub faults: BTreeMap<String, SimFault>,
    /// Release → (manifest, when applied).
    applied: BTreeMap<Arc<str>, (plan::Digest, Instant)>,
}

impl Sim {
    pub fn new(ready_after: Duration, faults: BTreeMap<String, SimFault>) -> Sim {
        Sim {
            ready_after,
            faults,
            applied: BTreeMap::new(),
        }
    }
}

/// The releases of `targets` (entry, manifest, applied as it is) to apply or look at.
pub fn releases(targets: &[(IndexEntry, String, bool)]) -> Vec<Release<'_>> {
    targets
        .iter()
        .map(|(entry, manifest, applied)| Release {
            entry,
            manifest,
            unchanged: *applied,
        })
        .collect()
}

/// One release to apply: its index entry and manifest.
#[derive(Debug, Clone)]
pub struct Release<'a> {
    pub entry: &'a IndexEntry,
    pub manifest: &'a str,
    /// Already applied as it is (a resync applies it again all the same).
    pub unchanged: bool,
}

impl Applier {
    pub fn name(&self) -> &'static str {
        match self {
            Applier::Dir { .. } => "dir",
            Applier::Sim(_) => "sim",
            Applier::Kube(_) => "kube",
        }
    }

    /// Applies `releases` (in installation order) and removes `gone` (releases applied
    /// before that the bundle no longer has). `all`: a resync, unchanged releases too.
    /// Returns the releases applied (the `kube` applier leaves a wave for a later call
    /// until the waves before it are Ready).
    pub async fn apply(
        &mut self,
        releases: &[Release<'_>],
        gone: &[IndexEntry],
        all: bool,
    ) -> Result<Vec<String>, AgentError> {
        match self {
            Applier::Kube(k) => return k.apply(releases, gone, all).await,
            Applier::Dir { out } => {
                for r in releases {
                    let path = out.join(format!("{}.yaml", r.entry.release));
                    let same = std::fs::read(&path).is_ok_and(|b| b == r.manifest.as_bytes());
                    if (all || !r.unchanged) && !same {
                        write_file(&path, r.manifest.as_bytes(), false)?;
                    }
                }
                for g in gone {
                    let _ = std::fs::remove_file(out.join(format!("{}.yaml", g.release)));
                }
            }
            Applier::Sim(sim) => {
                let now = Instant::now();
                for r in releases {
                    let kept = sim
                        .applied
                        .get(&r.entry.release)
                        .filter(|(d, _)| *d == r.entry.manifest);
                    if kept.is_none() {
                        sim.applied
                            .insert(r.entry.release.clone(), (r.entry.manifest, now));
                    }
                }
                for g in gone {
                    sim.applied.remove(g.release.as_ref());
                }
            }
        }
        Ok(releases
            .iter()
            .map(|r| r.entry.release.to_string())
            .collect())
    }

    /// The status of each release, now (`unchanged`: applied).
    pub async fn status(
        &mut self,
        releases: &[Release<'_>],
        generation: u64,
    ) -> Vec<ReleaseStatus> {
        if let Applier::Kube(k) = self {
            let mut out = Vec::with_capacity(releases.len());
            for r in releases {
                let s = if r.unchanged {
                    match k.release_status(r).await {
                        Ok(mut s) => {
                            s.applied_generation = generation;
                            s
                        }
                        Err(e) => unknown(r, generation, "ClusterUnreachable", e.to_string()),
                    }
                } else {
                    unknown(r, generation, "WaitingForEarlierWaves", String::new())
                };
                out.push(s);
            }
            return out;
        }
        releases
            .iter()
            .map(|r| {
                let mut s = ReleaseStatus::new(r.entry, Phase::Ready, generation);
                match self {
                    Applier::Dir { .. } => {
                        s.reason = Some("Written".into());
                        s.objects = objects(r.manifest, true);
                    }
                    Applier::Sim(sim) => sim.status(r, &mut s),
                    Applier::Kube(_) => {}
                }
                s
            })
            .collect()
    }

    /// When the status will next change by itself (a simulated readiness delay).
    pub fn next_change(&self) -> Option<Duration> {
        let Applier::Sim(sim) = self else {
            return None;
        };
        sim.applied
            .values()
            .filter_map(|(_, at)| {
                let left = sim.ready_after.saturating_sub(at.elapsed());
                (!left.is_zero()).then_some(left)
            })
            .min()
    }
}

/// A release whose state is not known from the cluster.
fn unknown(r: &Release<'_>, generation: u64, reason: &str, message: String) -> ReleaseStatus {
    ReleaseStatus {
        release: r.entry.release.clone(),
        service: r.entry.service.clone(),
        phase: if reason == "WaitingForEarlierWaves" {
            Phase::Staged
        } else {
            Phase::Progressing
        },
        reason: Some(reason.to_owned()),
        message,
        manifest: r.entry.manifest,
        applied_generation: generation,
        objects: Vec::new(),
    }
}

impl Sim {
    /// Takes `releases` as applied long ago (after a restart, what the state dir says).
    pub fn restore<'a>(&mut self, releases: impl Iterator<Item = &'a IndexEntry>) {
        let past = Instant::now()
            .checked_sub(self.ready_after * 10)
            .unwrap_or_else(Instant::now);
        for e in releases {
            self.applied.insert(e.release.clone(), (e.manifest, past));
        }
    }

    fn status(&self, r: &Release<'_>, s: &mut ReleaseStatus) {
        let Some((_, at)) = self.applied.get(&r.entry.release) else {
            s.phase = Phase::Staged;
            return;
        };
        // `SERVICE`, or `SERVICE@TAG`: only the versions whose image has that tag.
        let fault = self
            .faults
            .get(r.entry.service.as_ref())
            .copied()
            .or_else(|| {
                let image = image(r.manifest)?;
                let tag = image.rsplit_once(':')?.1;
                self.faults
                    .get(&format!("{}@{tag}", r.entry.service))
                    .copied()
            });
        let delay = match fault {
            Some(SimFault::Slow) => self.ready_after * 10,
            _ => self.ready_after,
        };
        let elapsed = at.elapsed() >= delay;
        match fault {
            Some(SimFault::Reject) => {
                s.phase = Phase::Failed;
                s.reason = Some("ApplyRejected".into());
                s.message = "admission webhook denied the request (simulated)".into();
            }
            Some(SimFault::CrashLoop) if elapsed => {
                s.phase = Phase::Failed;
                s.reason = Some("CrashLoopBackOff".into());
                s.message = "back-off restarting failed container (simulated)".into();
            }
            Some(SimFault::ImagePull) if elapsed => {
                let image = image(r.manifest).unwrap_or_default();
                s.phase = Phase::Failed;
                s.reason = Some("ImagePullBackOff".into());
                s.message = format!("cannot pull image {image:?} (simulated)");
            }
            _ if elapsed => {
                s.phase = Phase::Ready;
            }
            _ => {
                s.phase = Phase::Progressing;
                s.reason = Some("Progressing".into());
            }
        }
        s.objects = objects(r.manifest, s.phase == Phase::Ready);
    }
}

/// The objects of a multi-document manifest (kind, namespace and name from each document's
/// top level), with one readiness for all.
fn objects(manifest: &str, ready: bool) -> Vec<ObjectStatus> {
    let mut out = Vec::new();
    for doc in manifest.split("\n---") {
        let (mut kind, mut name, mut namespace) = (None, None, None);
        let mut in_metadata = false;
        for line in doc.lines() {
            if let Some(k) = line.strip_prefix("kind:") {
                kind = Some(k.trim().trim_matches('"').to_owned());
                in_metadata = false;
            } else if line.starts_with("metadata:") {
                in_metadata = true;
            } else if !line.starts_with(' ') && !line.is_empty() && !line.starts_with('#') {
                in_metadata = false;
            } else if in_metadata {
                if let Some(n) = line.strip_prefix("  name:") {
                    name.get_or_insert_with(|| n.trim().trim_matches('"').to_owned());
                } else if let Some(n) = line.strip_prefix("  namespace:") {
                    namespace.get_or_insert_with(|| n.trim().trim_matches('"').to_owned());
                }
            }
        }
        if let (Some(kind), Some(name)) = (kind, name) {
            out.push(ObjectStatus {
                kind,
                namespace: namespace.unwrap_or_default(),
                name,
                ready,
                reason: None,
                message: String::new(),
            });
        }
    }
    out
}

/// The first container image a manifest names.
fn image(manifest: &str) -> Option<String> {
    manifest.lines().find_map(|l| {
        let l = l.trim_start().trim_start_matches("- ");
        l.strip_prefix("image:")
            .map(|i| i.trim().trim_matches('"').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "---\n# Source: api/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: payments\n  labels:\n    name: not-this\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: \"registry.example/api:1.2\"\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n";

    fn entry(service: &str) -> IndexEntry {
        IndexEntry {
            release: service.into(),
            service: service.into(),
            wave: 0,
            namespace: "payments".into(),
            manifest: plan::Digest::of(MANIFEST.as_bytes()),
        }
    }

    #[test]
    fn objects_and_images_are_read_from_the_manifest() {
        let o = objects(MANIFEST, false);
        assert_eq!(o.len(), 2);
        assert_eq!(
            (
                o[0].kind.as_str(),
                o[0].namespace.as_str(),
                o[0].name.as_str()
            ),
            ("Deployment", "payments", "api")
        );
        assert_eq!((o[1].kind.as_str(), o[1].name.as_str()), ("Service", "api"));
        assert_eq!(image(MANIFEST).as_deref(), Some("registry.example/api:1.2"));
    }

    #[tokio::test]
    async fn the_simulated_cluster_gets_ready_after_its_delay_or_fails_as_injected() {
        let faults = [
            ("bad".to_owned(), SimFault::ImagePull),
            ("no".to_owned(), SimFault::Reject),
        ]
        .into_iter()
        .collect();
        let mut a = Applier::Sim(Sim::new(Duration::from_millis(50), faults));
        let (ok, bad, no) = (entry("ok"), entry("bad"), entry("no"));
        let releases: Vec<Release<'_>> = [&ok, &bad, &no]
            .into_iter()
            .map(|entry| Release {
                entry,
                manifest: MANIFEST,
                unchanged: false,
            })
            .collect();
        a.apply(&releases, &[], false).await.expect("applied");
        let s = a.status(&releases, 1).await;
        assert_eq!(s[0].phase, Phase::Progressing);
        assert_eq!(s[1].phase, Phase::Progressing);
        assert_eq!(s[2].phase, Phase::Failed);
        assert_eq!(s[2].reason.as_deref(), Some("ApplyRejected"));
        assert!(a.next_change().is_some());
        tokio::time::sleep(Duration::from_millis(60)).await;
        let s = a.status(&releases, 1).await;
        assert_eq!(s[0].phase, Phase::Ready);
        assert!(s[0].objects.iter().all(|o| o.ready));
        assert_eq!(s[1].phase, Phase::Failed);
        assert!(
            s[1].message.contains("registry.example/api:1.2"),
            "{}",
            s[1].message
        );
        assert_eq!(a.next_change(), None);
    }

    #[tokio::test]
    async fn the_dir_applier_writes_changed_releases_and_removes_gone_ones() {
        let tmp = tempfile::tempdir().expect("a folder");
        let mut a = Applier::Dir {
            out: tmp.path().to_path_buf(),
        };
        let api = entry("api");
        let r = [Release {
            entry: &api,
            manifest: MANIFEST,
            unchanged: false,
        }];
        std::fs::write(tmp.path().join("old.yaml"), "x").expect("written");
        let old = IndexEntry {
            release: "old".into(),
            ..entry("old")
        };
        a.apply(&r, &[old], false).await.expect("applied");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("api.yaml")).expect("read"),
            MANIFEST
        );
        assert!(!tmp.path().join("old.yaml").exists());
        // Drift is corrected by a resync, not by an apply of unchanged releases.
        std::fs::write(tmp.path().join("api.yaml"), "drifted").expect("written");
        let r = [Release {
            entry: &api,
            manifest: MANIFEST,
            unchanged: true,
        }];
        a.apply(&r, &[], false).await.expect("applied");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("api.yaml")).expect("read"),
            "drifted"
        );
        a.apply(&r, &[], true).await.expect("resynced");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("api.yaml")).expect("read"),
            MANIFEST
        );
    }
}
