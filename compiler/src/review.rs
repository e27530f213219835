//! Reviewing a plan against the accepted one: which releases each cluster gains, loses or
//! changes, with a unified diff of every changed manifest.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use plan::{Plan, Release};
use similar::TextDiff;

use crate::render::Manifests;

/// A plan with its manifests.
pub type Bundle<'a> = (&'a Plan, &'a Manifests);

/// What changed on one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterChanges {
    pub cluster: String,
    /// `true` when the cluster is new to the plan, `false` when it left it; `None` otherwise.
    pub cluster_added: Option<bool>,
    pub releases: Vec<ReleaseChange>,
}

/// A release added, removed or changed (releases are matched by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseChange {
    Added {
        release: Release,
        manifest: String,
    },
    Removed {
        release: Release,
        manifest: String,
    },
    Changed {
        old: Release,
        new: Release,
        /// The unified diff of the manifests; empty when only the plan entry changed.
        diff: String,
    },
}

impl ReleaseChange {
    pub fn name(&self) -> &str {
        match self {
            ReleaseChange::Added { release, .. } | ReleaseChange::Removed { release, .. } => {
                &release.name
            }
            ReleaseChange::Changed { new, .. } => &new.name,
        }
    }
}

/// The differences between an accepted plan and a new one, cluster by cluster (sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Review {
    pub clusters: Vec<ClusterChanges>,
    /// Whether the plan documents differ at all (also when no release did, e.g. a cluster
    /// without releases was added).
    pub plan_changed: bool,
}

impl Review {
    pub fn is_empty(&self) -> bool {
        !self.plan_changed && self.clusters.is_empty()
    }

    /// (added, removed, changed) releases.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut n = (0, 0, 0);
        for c in &self.clusters {
            for r in &c.releases {
                match r {
                    ReleaseChange::Added { .. } => n.0 += 1,
                    ReleaseChange::Removed { .. } => n.1 += 1,
                    ReleaseChange::Changed { .. } => n.2 += 1,
                }
            }
        }
        n
    }

    /// The review for people: per cluster, each release with `+` (added), `-` (removed) or
    /// `~` (changed), the fields that changed and the manifest diff.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            out.push_str("no changes: the plan is the accepted one\n");
            return out;
        }
        for c in &self.clusters {
            let note = match c.cluster_added {
                Some(true) => " (new cluster)",
                Some(false) => " (cluster removed)",
                None => "",
            };
            let _ = writeln!(out, "cluster {}{note}", c.cluster);
            for r in &c.releases {
                match r {
                    ReleaseChange::Added { release, manifest } => {
                        let _ = writeln!(
                            out,
                            "  + {} (service {}, wave {}, chart {} {}): {} lines",
                            release.name,
                            release.service,
                            release.wave,
                            release.chart.name,
                            release.chart.version,
                            manifest.lines().count()
                        );
                    }
                    ReleaseChange::Removed { release, manifest } => {
                        let _ = writeln!(
                            out,
                            "  - {} (service {}, wave {}, chart {} {}): {} lines",
                            release.name,
                            release.service,
                            release.wave,
                            release.chart.name,
                            release.chart.version,
                            manifest.lines().count()
                        );
                    }
                    ReleaseChange::Changed { old, new, diff } => {
                        let _ = writeln!(out, "  ~ {}", new.name);
                        for line in field_changes(old, new) {
                            let _ = writeln!(out, "      {line}");
                        }
                        for line in diff.lines() {
                            let _ = writeln!(out, "      {line}");
                        }
                    }
                }
            }
        }
        let (a, r, c) = self.counts();
        let _ = writeln!(
            out,
            "{a} release{} added, {r} removed, {c} changed, on {} cluster{}",
            if a == 1 { "" } else { "s" },
            self.clusters.len(),
            if self.clusters.len() == 1 { "" } else { "s" }
        );
        out
    }
}

/// The plan fields of a release that changed, as `field: old -> new`.
fn field_changes(old: &Release, new: &Release) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name}: {a} -> {b}"));
        }
    };
    field("service", old.service.to_string(), new.service.to_string());
    field(
        "namespace",
        old.namespace.to_string(),
        new.namespace.to_string(),
    );
    field("wave", old.wave.to_string(), new.wave.to_string());
    field("version", old.version.short(), new.version.short());
    field(
        "chart",
        format!("{} {}", old.chart.name, old.chart.version),
        format!("{} {}", new.chart.name, new.chart.version),
    );
    if old.chart.name == new.chart.name && old.chart.version == new.chart.version {
        field(
            "chart digest",
            old.chart.digest.short(),
            new.chart.digest.short(),
        );
    }
    field("values", old.values.short(), new.values.short());
    field("manifest", old.manifest.short(), new.manifest.short());
    out
}

/// Compares `new` with the accepted plan `old` (`None` when nothing was accepted yet).
pub fn review(old: Option<Bundle<'_>>, new: Bundle<'_>) -> Review {
    let empty_plan = Plan::new(Vec::new());
    let empty_manifests = Manifests::default();
    let (old_plan, old_manifests) = old.unwrap_or((&empty_plan, &empty_manifests));
    let (new_plan, new_manifests) = new;
    let text = |m: &Manifests, r: &Release| m.get(&r.manifest).unwrap_or("").to_owned();

    // Each cluster's releases before and after.
    type Sides<'p> = (Option<&'p [Release]>, Option<&'p [Release]>);
    let mut clusters: BTreeMap<&str, Sides<'_>> = BTreeMap::new();
    for c in &old_plan.clusters {
        clusters.entry(&c.name).or_default().0 = Some(&c.releases);
    }
    for c in &new_plan.clusters {
        clusters.entry(&c.name).or_default().1 = Some(&c.releases);
    }
    let mut out = Review {
        clusters: Vec::new(),
        plan_changed: old_plan != new_plan,
    };
    for (name, (before, after)) in clusters {
        let by_name = |rs: Option<&[Release]>| -> BTreeMap<String, Release> {
            rs.unwrap_or_default()
                .iter()
                .map(|r| (r.name.to_string(), r.clone()))
                .collect()
        };
        let (a, b) = (by_name(before), by_name(after));
        let mut releases = Vec::new();
        let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
        names.sort();
        names.dedup();
        for n in names {
            match (a.get(n), b.get(n)) {
                (Some(r), None) => releases.push(ReleaseChange::Removed {
                    manifest: text(old_manifests, r),
                    release: r.clone(),
                }),
                (None, Some(r)) => releases.push(ReleaseChange::Added {
                    manifest: text(new_manifests, r),
                    release: r.clone(),
                }),
                (Some(x), Some(y)) if x != y => {
                    let diff = if x.manifest == y.manifest {
                        String::new()
                    } else {
                        let (ta, tb) = (text(old_manifests, x), text(new_manifests, y));
                        TextDiff::from_lines(&ta, &tb)
                            .unified_diff()
                            .context_radius(3)
                            .header(
                                &format!("accepted/{}", x.manifest_path(name)),
                                &format!("new/{}", y.manifest_path(name)),
                            )
                            .to_string()
                    };
                    releases.push(ReleaseChange::Changed {
                        old: x.clone(),
                        new: y.clone(),
                        diff,
                    });
                }
                _ => {}
            }
        }
        let cluster_added = match (before, after) {
            (None, Some(_)) => Some(true),
            (Some(_), None) => Some(false),
            _ => None,
        };
        if !releases.is_empty() || cluster_added.is_some() {
            out.clusters.push(ClusterChanges {
                cluster: name.to_owned(),
                cluster_added,
                releases,
            });
        }
    }
    out
}
