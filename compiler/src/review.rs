//! Reviewing a plan against the accepted one: which releases each cluster gains, loses or
//! changes, with a unified diff of every changed manifest, grouped so that a change made on many
//! clusters is shown once with the clusters it applies to.
//!
//! [`review`] compares two plans cluster by cluster; [`Review::filter`] keeps some services or
//! clusters; [`Review::groups`] gathers identical changes of one release; [`Review::render`]
//! prints them (optionally in colour). [`merge`] builds the plan a partial acceptance leaves:
//! the fresh releases for the changes taken, the accepted ones for the others.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use plan::{ClusterPlan, Plan, Release};
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
        /// The unified diff of the manifests, without file headers; empty when only the plan
        /// entry changed (or when the texts compared are equal although the digests differ: a
        /// masked secret value changed).
        diff: String,
    },
}

impl ReleaseChange {
    pub fn name(&self) -> &str {
        &self.release().name
    }

    /// The service of the release (the fresh one for a change).
    pub fn service(&self) -> &str {
        &self.release().service
    }

    fn release(&self) -> &Release {
        match self {
            ReleaseChange::Added { release, .. } | ReleaseChange::Removed { release, .. } => {
                release
            }
            ReleaseChange::Changed { new, .. } => new,
        }
    }

    /// Whether the change concerns `service` (a change moving a release between services
    /// concerns both).
    pub fn concerns(&self, service: &str) -> bool {
        match self {
            ReleaseChange::Changed { old, new, .. } => {
                &*old.service == service || &*new.service == service
            }
            _ => self.service() == service,
        }
    }

    pub fn kind(&self) -> ChangeKind {
        match self {
            ReleaseChange::Added { .. } => ChangeKind::Added,
            ReleaseChange::Removed { .. } => ChangeKind::Removed,
            ReleaseChange::Changed { .. } => ChangeKind::Changed,
        }
    }
}

/// How a release changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    fn sign(self) -> char {
        match self {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Changed => '~',
        }
    }
}

/// The differences between an accepted plan and a new one, cluster by cluster (sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Review {
    pub clusters: Vec<ClusterChanges>,
    /// The rollout order of the changed services that roll out in waves (the new plan's).
    pub rollouts: Vec<plan::RolloutPlan>,
    /// Whether the plan documents differ at all (also when no release did, e.g. a cluster
    /// without releases was added or a policy warning changed).
    pub plan_changed: bool,
}

/// Which changes a review keeps: those of the named services and clusters (an empty list
/// keeps all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub services: Vec<String>,
    pub clusters: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.clusters.is_empty()
    }

    fn keeps(&self, cluster: &str, change: &ReleaseChange) -> bool {
        (self.clusters.is_empty() || self.clusters.iter().any(|c| c == cluster))
            && (self.services.is_empty() || self.services.iter().any(|s| change.concerns(s)))
    }
}

/// How [`Review::render`] prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderConfig {
    /// ANSI colours: green additions, red removals, cyan hunk headers, bold titles.
    pub color: bool,
    /// Added and removed releases in full (every line of the manifest) rather than one line
    /// per object.
    pub full: bool,
}

/// One change of one release, identical on several clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub release: String,
    pub service: String,
    pub kind: ChangeKind,
    /// Sorted.
    pub clusters: Vec<String>,
    /// What is shown under the title: changed fields and the diff, or the objects (or the
    /// whole manifest) of an added or removed release.
    pub body: Vec<String>,
}

impl Group {
    /// `~ web (service web) on 2 clusters: prod-eu, prod-us`.
    pub fn title(&self) -> String {
        let on = match self.clusters.len() {
            1 => format!("on cluster {}", self.clusters[0]),
            n => format!("on {n} clusters: {}", self.clusters.join(", ")),
        };
        let service = if self.service == self.release {
            String::new()
        } else {
            format!(" (service {})", self.service)
        };
        format!("{} {}{service} {on}", self.kind.sign(), self.release)
    }

    /// The title and the body, indented, ending with a newline.
    pub fn render(&self, config: RenderConfig) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", paint(config, Paint::Title, &self.title()));
        for line in &self.body {
            let style = match line.as_bytes().first() {
                Some(b'+') => Paint::Add,
                Some(b'-') => Paint::Remove,
                Some(b'@') => Paint::Hunk,
                _ => Paint::Plain,
            };
            let _ = writeln!(out, "    {}", paint(config, style, line));
        }
        out
    }
}

#[derive(Clone, Copy)]
enum Paint {
    Title,
    Add,
    Remove,
    Hunk,
    Plain,
}

fn paint(config: RenderConfig, style: Paint, text: &str) -> String {
    let code = match style {
        _ if !config.color => return text.to_owned(),
        Paint::Title => "1",
        Paint::Add => "32",
        Paint::Remove => "31",
        Paint::Hunk => "36",
        Paint::Plain => return text.to_owned(),
    };
    format!("\x1b[{code}m{text}\x1b[0m")
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

    /// The changes `filter` keeps. A filtered review is never `plan_changed` by itself: only
    /// its release changes count.
    pub fn filter(&self, filter: &Filter) -> Review {
        if filter.is_empty() {
            return self.clone();
        }
        let clusters: Vec<ClusterChanges> = self
            .clusters
            .iter()
            .filter_map(|c| {
                let releases: Vec<ReleaseChange> = c
                    .releases
                    .iter()
                    .filter(|r| filter.keeps(&c.cluster, r))
                    .cloned()
                    .collect();
                (!releases.is_empty()).then(|| ClusterChanges {
                    cluster: c.cluster.clone(),
                    cluster_added: c.cluster_added,
                    releases,
                })
            })
            .collect();
        let rollouts = self
            .rollouts
            .iter()
            .filter(|r| {
                filter.services.is_empty() || filter.services.iter().any(|s| *s == *r.service)
            })
            .filter(|r| {
                clusters
                    .iter()
                    .any(|c: &ClusterChanges| c.releases.iter().any(|x| x.concerns(&r.service)))
            })
            .cloned()
            .collect();
        Review {
            clusters,
            rollouts,
            plan_changed: false,
        }
    }

    /// The changes gathered per release: clusters whose change of a release shows the same
    /// text (hunk line numbers aside, since the same change often sits a few lines apart in
    /// manifests of different clusters) form one group. A group shows the line numbers when
    /// they are the same on all its clusters, `@@ … @@` otherwise. Sorted by release name,
    /// then kind, then clusters.
    pub fn groups(&self, config: RenderConfig) -> Vec<Group> {
        type Key = (String, ChangeKind, String, Vec<String>);
        let mut groups: BTreeMap<Key, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for c in &self.clusters {
            for r in &c.releases {
                let body = body(r, config.full);
                let key = (
                    r.name().to_owned(),
                    r.kind(),
                    r.service().to_owned(),
                    body.iter().map(|l| without_line_numbers(l)).collect(),
                );
                let (clusters, shown) = groups
                    .entry(key.clone())
                    .or_insert_with(|| (Vec::new(), body.clone()));
                if *shown != body {
                    shown.clone_from(&key.3);
                }
                clusters.push(c.cluster.clone());
            }
        }
        let mut out: Vec<Group> = groups
            .into_iter()
            .map(|((release, kind, service, _), (clusters, body))| Group {
                release,
                service,
                kind,
                clusters,
                body,
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.release, a.kind, &a.clusters).cmp(&(&b.release, b.kind, &b.clusters))
        });
        out
    }

    /// The review for people, in summary form and without colour (see [`Review::render`]).
    pub fn render_text(&self) -> String {
        self.render(RenderConfig::default())
    }

    /// The review for people: clusters that joined or left the plan, then every group of
    /// identical changes of a release (`+` added, `-` removed, `~` changed, with the fields
    /// that changed and the manifest diff), then the counts.
    pub fn render(&self, config: RenderConfig) -> String {
        let mut out = String::new();
        if self.is_empty() {
            out.push_str("no changes: the plan is the accepted one\n");
            return out;
        }
        out.push_str(&self.render_clusters());
        for g in self.groups(config) {
            out.push_str(&g.render(config));
        }
        if self.clusters.is_empty() {
            out.push_str("no release changed; the plan's warnings or empty clusters did\n");
        }
        out.push_str(&self.render_rollouts());
        out.push_str(&self.summary());
        out
    }

    /// The order the changed services roll out in: per environment, their waves (a few
    /// clusters of each named), the soak time and whether a halt rolls back.
    pub fn render_rollouts(&self) -> String {
        const SHOWN: usize = 5;
        let mut out = String::new();
        if self.rollouts.is_empty() {
            return out;
        }
        out.push_str("rollout order:\n");
        for r in &self.rollouts {
            let waves: Vec<String> = r
                .waves
                .iter()
                .map(|w| {
                    let mut names: Vec<&str> =
                        w.clusters.iter().take(SHOWN).map(|c| &**c).collect();
                    let more = w.clusters.len().saturating_sub(SHOWN);
                    let more = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    if names.is_empty() {
                        names.push("none");
                    }
                    format!("{} [{}{more}]", w.name, names.join(", "))
                })
                .collect();
            let _ = writeln!(
                out,
                "  {} in {}: {}; soak {}{}",
                r.service,
                r.environment,
                waves.join(" → "),
                r.soak,
                if r.auto_rollback {
                    ", rolled back if halted"
                } else {
                    ""
                }
            );
        }
        out
    }

    /// The clusters that joined or left the plan, one line each kind (empty when none).
    pub fn render_clusters(&self) -> String {
        let mut out = String::new();
        for (added, what) in [(true, "new clusters"), (false, "removed clusters")] {
            let names: Vec<&str> = self
                .clusters
                .iter()
                .filter(|c| c.cluster_added == Some(added))
                .map(|c| c.cluster.as_str())
                .collect();
            if !names.is_empty() {
                let _ = writeln!(out, "{what}: {}", names.join(", "));
            }
        }
        out
    }

    /// `1 release added, 0 removed, 2 changed, on 3 clusters`.
    pub fn summary(&self) -> String {
        let (a, r, c) = self.counts();
        format!(
            "{a} release{} added, {r} removed, {c} changed, on {} cluster{}\n",
            if a == 1 { "" } else { "s" },
            self.clusters.len(),
            if self.clusters.len() == 1 { "" } else { "s" }
        )
    }
}

/// A unified diff's hunk header without its line numbers (`@@ … @@`); other lines as they are.
fn without_line_numbers(line: &str) -> String {
    match line.strip_prefix("@@ ").and_then(|rest| rest.find(" @@")) {
        Some(_) => "@@ … @@".to_owned(),
        None => line.to_owned(),
    }
}

/// What is shown of a change: the same on every cluster where it is the same change, so
/// nothing cluster-specific (digests of values or manifests, file paths) goes in.
fn body(change: &ReleaseChange, full: bool) -> Vec<String> {
    match change {
        ReleaseChange::Added { release, manifest } => {
            added_or_removed(release, manifest, '+', full)
        }
        ReleaseChange::Removed { release, manifest } => {
            added_or_removed(release, manifest, '-', full)
        }
        ReleaseChange::Changed { old, new, diff } => {
            let mut out = field_changes(old, new);
            if diff.is_empty() {
                if old.manifest != new.manifest {
                    out.push(
                        "manifest: changed only in masked values (a secret value changed)"
                            .to_owned(),
                    );
                } else if old.values != new.values {
                    out.push("values: changed; the manifest is the same".to_owned());
                }
            }
            out.extend(diff.lines().map(str::to_owned));
            out
        }
    }
}

fn added_or_removed(release: &Release, manifest: &str, sign: char, full: bool) -> Vec<String> {
    let mut out = vec![format!(
        "namespace {}, wave {}, chart {} {}",
        release.namespace, release.wave, release.chart.name, release.chart.version
    )];
    if full {
        out.extend(manifest.lines().map(|l| format!("{sign}{l}")));
    } else {
        out.extend(
            objects(manifest)
                .into_iter()
                .map(|(kind, name)| format!("{sign} {kind} {name}").trim_end().to_owned()),
        );
    }
    out
}

/// The plan fields of a release that changed and read the same on every cluster, as
/// `field: old -> new` (the digests of values and manifests, which differ per cluster, are
/// left to the diff).
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
    out
}

/// The objects of a manifest as Helm prints it, as (kind, name): the top-level `kind:` and
/// `metadata.name` of every document that has a kind.
pub fn objects(manifest: &str) -> Vec<(String, String)> {
    let unquote = |s: &str| s.trim().trim_matches(['"', '\'']).to_owned();
    let mut out = Vec::new();
    for doc in split_documents(manifest) {
        let (mut kind, mut name) = (None, None);
        let mut in_metadata = false;
        for line in doc {
            if let Some(k) = line.strip_prefix("kind:") {
                kind = Some(unquote(k));
            }
            if !line.starts_with(' ') && !line.is_empty() {
                in_metadata = line.trim_end() == "metadata:";
                continue;
            }
            if in_metadata
                && name.is_none()
                && let Some(n) = line.strip_prefix("  name:")
            {
                name = Some(unquote(n));
            }
        }
        if let Some(kind) = kind {
            out.push((kind, name.unwrap_or_default()));
        }
    }
    out
}

/// The documents of a multi-document YAML text, each as its own text.
pub(crate) fn documents(text: &str) -> Vec<String> {
    split_documents(text)
        .into_iter()
        .map(|lines| lines.join("\n"))
        .collect()
}

fn split_documents(text: &str) -> Vec<Vec<&str>> {
    let mut docs = vec![Vec::new()];
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            docs.push(Vec::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push(line);
        }
    }
    docs
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
        rollouts: Vec::new(),
        plan_changed: old_plan != new_plan,
    };
    for (name, (before, after)) in clusters {
        let (a, b) = (by_name(before), by_name(after));
        let mut releases = Vec::new();
        let mut names: Vec<&str> = a.keys().chain(b.keys()).copied().collect();
        names.sort_unstable();
        names.dedup();
        for n in names {
            match (a.get(n), b.get(n)) {
                (Some(r), None) => releases.push(ReleaseChange::Removed {
                    manifest: text(old_manifests, r),
                    release: (*r).clone(),
                }),
                (None, Some(r)) => releases.push(ReleaseChange::Added {
                    manifest: text(new_manifests, r),
                    release: (*r).clone(),
                }),
                (Some(x), Some(y)) if x != y => {
                    let diff = if x.manifest == y.manifest {
                        String::new()
                    } else {
                        let (ta, tb) = (text(old_manifests, x), text(new_manifests, y));
                        TextDiff::from_lines(&ta, &tb)
                            .unified_diff()
                            .context_radius(3)
                            .to_string()
                    };
                    releases.push(ReleaseChange::Changed {
                        old: (*x).clone(),
                        new: (*y).clone(),
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
    out.rollouts = new_plan
        .rollouts
        .iter()
        .filter(|r| {
            out.clusters
                .iter()
                .any(|c| c.releases.iter().any(|x| x.concerns(&r.service)))
        })
        .cloned()
        .collect();
    out
}

fn by_name(releases: Option<&[Release]>) -> BTreeMap<&str, &Release> {
    releases
        .unwrap_or_default()
        .iter()
        .map(|r| (&*r.name, r))
        .collect()
}

/// Why a partial acceptance could not make a plan.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(
        "accepting only some changes gives an invalid plan ({0}): accept the changes of the services involved together"
    )]
    Invalid(#[source] plan::PlanError),
}

/// The plan a partial acceptance leaves, with its manifests: for every (cluster, release)
/// that `take` accepts, the fresh release (or its absence); for the others, the accepted one.
/// Warnings follow their release (those of unchanged releases are the fresh ones). A cluster
/// stays while it keeps a release, is in both plans, or is new and has none.
pub fn merge(
    accepted: Option<Bundle<'_>>,
    fresh: Bundle<'_>,
    take: impl Fn(&str, &str) -> bool,
) -> Result<(Plan, Manifests), MergeError> {
    let empty_plan = Plan::new(Vec::new());
    let empty_manifests = Manifests::default();
    let (old_plan, old_manifests) = accepted.unwrap_or((&empty_plan, &empty_manifests));
    let (new_plan, new_manifests) = fresh;
    let mut names: BTreeSet<&str> = old_plan.clusters.iter().map(|c| &*c.name).collect();
    names.extend(new_plan.clusters.iter().map(|c| &*c.name));
    let mut clusters = Vec::new();
    let mut manifests = Manifests::default();
    let mut warnings = Vec::new();
    // Services with a change left out: their rollouts stay the accepted ones.
    let mut declined: BTreeSet<String> = BTreeSet::new();
    for name in names {
        let (before, after) = (old_plan.cluster(name), new_plan.cluster(name));
        let (a, b) = (
            by_name(before.map(|c| c.releases.as_slice())),
            by_name(after.map(|c| c.releases.as_slice())),
        );
        let mut release_names: Vec<&str> = a.keys().chain(b.keys()).copied().collect();
        release_names.sort_unstable();
        release_names.dedup();
        let mut releases = Vec::new();
        for n in release_names {
            let (old, new) = (a.get(n), b.get(n));
            let changed = old != new;
            let (chosen, from_fresh) = if !changed || take(name, n) {
                (new, true)
            } else {
                declined.extend(old.iter().chain(new.iter()).map(|r| r.service.to_string()));
                (old, false)
            };
            let Some(r) = chosen else { continue };
            let (source_plan, source_manifests) = if from_fresh {
                (new_plan, new_manifests)
            } else {
                (old_plan, old_manifests)
            };
            if let Some(text) = source_manifests.0.get(&r.manifest) {
                manifests.0.insert(r.manifest, text.clone());
            }
            warnings.extend(
                source_plan
                    .warnings
                    .iter()
                    .filter(|w| &*w.cluster == name && &*w.release == n)
                    .cloned(),
            );
            releases.push((*r).clone());
        }
        releases.sort_by(|x, y| (x.wave, &x.service, &x.name).cmp(&(y.wave, &y.service, &y.name)));
        let keep = !releases.is_empty()
            || (before.is_some() && after.is_some())
            || after.is_some_and(|c| c.releases.is_empty());
        if keep {
            clusters.push(ClusterPlan {
                name: name.into(),
                releases,
            });
        }
    }
    warnings.sort();
    let mut plan = Plan::new(clusters);
    plan.warnings = warnings;
    plan.rollouts = old_plan
        .rollouts
        .iter()
        .filter(|r| declined.contains(&*r.service))
        .chain(
            new_plan
                .rollouts
                .iter()
                .filter(|r| !declined.contains(&*r.service)),
        )
        .cloned()
        .collect();
    plan.rollouts
        .sort_by(|a, b| (&a.service, &a.environment).cmp(&(&b.service, &b.environment)));
    plan.check().map_err(MergeError::Invalid)?;
    Ok((plan, manifests))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use plan::{ChartPin, Digest};

    use super::*;

    fn release(name: &str, wave: u32, manifest: &str) -> Release {
        Release {
            service: name.into(),
            name: name.into(),
            namespace: "ns".into(),
            wave,
            version: Digest::of(b"v"),
            chart: Arc::new(ChartPin {
                name: "app".into(),
                version: "1.0.0".into(),
                digest: Digest::of(b"chart"),
            }),
            values: Digest::of(manifest.as_bytes()),
            manifest: Digest::of(manifest.as_bytes()),
        }
    }

    /// A plan of (cluster, [(release, manifest)]) and its manifests.
    fn bundle(clusters: &[(&str, &[(&str, &str)])]) -> (Plan, Manifests) {
        let mut manifests = Manifests::default();
        let plan = Plan::new(
            clusters
                .iter()
                .map(|(name, releases)| ClusterPlan {
                    name: (*name).into(),
                    releases: releases
                        .iter()
                        .map(|(r, m)| {
                            manifests.0.insert(Digest::of(m.as_bytes()), Arc::from(*m));
                            release(r, 0, m)
                        })
                        .collect(),
                })
                .collect(),
        );
        (plan, manifests)
    }

    const WEB: &str = "---\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n---\nkind: Service\nmetadata:\n  labels:\n    name: x\n  name: \"web\"\n";

    #[test]
    fn identical_changes_are_grouped_with_their_clusters() {
        let (old, om) = bundle(&[
            ("a", &[("web", WEB)]),
            ("b", &[("web", WEB), ("db", "kind: StatefulSet\n")]),
            ("c", &[("web", "x: 1\n")]),
        ]);
        let scaled = WEB.replace("replicas: 1", "replicas: 3");
        let (new, nm) = bundle(&[
            ("a", &[("web", scaled.as_str())]),
            ("b", &[("web", scaled.as_str())]),
            ("c", &[("web", "x: 2\n")]),
            ("d", &[("web", WEB)]),
        ]);
        let r = review(Some((&old, &om)), (&new, &nm));
        assert_eq!(r.counts(), (1, 1, 3));
        let text = r.render_text();
        assert_eq!(
            text,
            "new clusters: d\n\
             - db on cluster b\n    namespace ns, wave 0, chart app 1.0.0\n    - StatefulSet\n\
             + web on cluster d\n    namespace ns, wave 0, chart app 1.0.0\n    + Deployment web\n    + Service web\n\
             ~ web on 2 clusters: a, b\n    @@ -3,7 +3,7 @@\n     metadata:\n       name: web\n     spec:\n    -  replicas: 1\n    +  replicas: 3\n     ---\n     kind: Service\n     metadata:\n\
             ~ web on cluster c\n    @@ -1 +1 @@\n    -x: 1\n    +x: 2\n\
             1 release added, 1 removed, 3 changed, on 4 clusters\n"
        );
        let full = r.render(RenderConfig {
            color: true,
            full: true,
        });
        assert!(
            full.contains("\x1b[32m+kind: Deployment\x1b[0m\n"),
            "{full}"
        );
        assert!(
            full.contains("\x1b[1m~ web on 2 clusters: a, b\x1b[0m\n"),
            "{full}"
        );

        // The same change a line further down on another cluster is the same group.
        let shifted = format!("# a comment\n{WEB}");
        let moved = shifted.replace("replicas: 1", "replicas: 3");
        let (old2, om2) = bundle(&[("a", &[("web", WEB)]), ("b", &[("web", shifted.as_str())])]);
        let (new2, nm2) = bundle(&[
            ("a", &[("web", scaled.as_str())]),
            ("b", &[("web", moved.as_str())]),
        ]);
        let groups = review(Some((&old2, &om2)), (&new2, &nm2)).groups(RenderConfig::default());
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].body[0], "@@ … @@");

        let only = r.filter(&Filter {
            services: vec!["db".into()],
            clusters: vec![],
        });
        assert_eq!(only.counts(), (0, 1, 0));
        let on_c = r.filter(&Filter {
            services: vec![],
            clusters: vec!["c".into(), "d".into()],
        });
        assert_eq!(on_c.counts(), (1, 0, 1));
        assert!(!on_c.plan_changed);
    }

    #[test]
    fn a_partial_acceptance_keeps_the_other_releases() {
        let (old, om) = bundle(&[
            ("a", &[("db", "db: 1\n"), ("web", "web: 1\n")]),
            ("gone", &[("web", "web: 1\n")]),
        ]);
        let (new, nm) = bundle(&[
            ("a", &[("db", "db: 2\n"), ("web", "web: 2\n")]),
            ("new", &[("web", "web: 2\n")]),
        ]);
        let (plan, manifests) =
            merge(Some((&old, &om)), (&new, &nm), |_, r| r == "web").expect("a valid plan");
        let left = review(Some((&plan, &manifests)), (&new, &nm));
        // Only db's change on `a` is left; `gone` is gone (its only release's removal taken).
        assert_eq!(left.counts(), (0, 0, 1));
        assert_eq!(
            plan.clusters.iter().map(|c| &*c.name).collect::<Vec<_>>(),
            ["a", "new"]
        );
        assert_eq!(manifests.0.len(), 2);
        let none = merge(Some((&old, &om)), (&new, &nm), |_, _| false).expect("valid");
        assert!(review(Some((&old, &om)), (&none.0, &none.1)).is_empty());
        let all = merge(Some((&old, &om)), (&new, &nm), |_, _| true).expect("valid");
        assert_eq!(all.0, new);
    }

    #[test]
    fn objects_of_a_manifest() {
        assert_eq!(
            objects(WEB),
            [
                ("Deployment".to_owned(), "web".to_owned()),
                ("Service".to_owned(), "web".to_owned())
            ]
        );
        assert!(objects("# Source: x\n").is_empty());
    }

    #[test]
    fn the_rollout_order_of_changed_services_is_shown_and_kept_when_declined() {
        let (mut old, om) = bundle(&[("a", &[("web", WEB), ("db", "x: 1\n")])]);
        let (mut new, nm) = bundle(&[("a", &[("web", "x: 2\n"), ("db", "x: 2\n")])]);
        let wave = |name: &str, clusters: &[&str]| plan::RolloutWave {
            name: name.into(),
            max_unavailable: 0,
            clusters: clusters.iter().map(|c| (*c).into()).collect(),
        };
        let rollout = |service: &str, soak: &str| plan::RolloutPlan {
            service: service.into(),
            environment: "prod".into(),
            soak: soak.into(),
            auto_rollback: true,
            environments: Vec::new(),
            waves: vec![wave("canary", &["a"]), wave("100%", &[])],
        };
        old.rollouts = vec![rollout("db", "1m"), rollout("web", "1m")];
        new.rollouts = vec![rollout("db", "5m"), rollout("web", "5m")];
        let r = review(Some((&old, &om)), (&new, &nm));
        let text = r.render_text();
        assert!(
            text.contains("rollout order:\n  db in prod: canary [a] → 100% [none]; soak 5m, rolled back if halted\n  web in prod:"),
            "{text}"
        );
        let only_web = r.filter(&Filter {
            services: vec!["web".into()],
            clusters: Vec::new(),
        });
        assert_eq!(only_web.rollouts.len(), 1);
        assert_eq!(&*only_web.rollouts[0].service, "web");
        // Accepting web alone: db keeps the accepted rollout, web takes the fresh one.
        let (merged, _) =
            merge(Some((&old, &om)), (&new, &nm), |_, r| r == "web").expect("a valid plan");
        let soaks: Vec<(&str, &str)> = merged
            .rollouts
            .iter()
            .map(|r| (&*r.service, &*r.soak))
            .collect();
        assert_eq!(soaks, vec![("db", "1m"), ("web", "5m")]);
    }
}
