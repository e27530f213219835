//! Recompiling a fleet after a change, redoing only what the change touched.
//!
//! An [`Incremental`] compiler keeps its last [`Compilation`] and the files it was made from.
//! Given the fleet's files again, it finds what changed:
//!
//! - nothing: the last compilation stands;
//! - only service files, each changed service keeping its selector, its `dependsOn` and its
//!   release name and namespace (a new *version*: values template, chart, owners,
//!   `valuesFrom`): the selection and the installation order cannot have changed, so only the
//!   changed services are rendered again, on the clusters they are selected on, and their
//!   releases replace the earlier ones in those clusters' plans ([`Recompile::Services`]);
//! - only service and cluster files, with new selectors, dependencies or releases, services
//!   or clusters added or removed, or clusters changed: the changed services' selectors run
//!   on every cluster and every selector runs on the changed clusters (the rest of the
//!   selection stands), the clusters are ordered again (with the graph's checks), the changed
//!   services and the changed clusters are rendered, and every other release is kept in its
//!   new wave ([`Recompile::Retargeted`]);
//! - anything else (a chart, a plugin, a file that does not load, a selector that fails, a
//!   cluster whose data is longer than the selectors were checked against), or a last
//!   compilation with diagnostics or secret reads: a whole compile ([`Recompile::Full`], with
//!   the reason).
//!
//! Either way the result is the compilation a whole compile of the same files gives, byte for
//! byte (plan, manifests, digests, selection, waves, diagnostics): the integration tests
//! compare them after every kind of change. A compilation that read secrets is always redone
//! whole: secret values are read once per compile and never kept for the next one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::diag::Diags;
use crate::model::{ClusterName, Digest, Fleet, Selection, ServiceName, ServiceSpec, Waves};
use std::sync::Arc;
use syntax::FleetFiles;

use plan::Release;

use crate::targeting::{self, Outcome};
use crate::{ChartRenderer, Compilation, Options, Stats, Timings, graph, load, redact, render};

/// Up to this many changed clusters (and no changed service), a recompile renders without
/// the persistent cache.
const FEW_CLUSTERS: usize = 64;

/// A compiler that remembers its last compilation (see the module documentation).
pub struct Incremental<'o, R> {
    renderer: R,
    options: Options<'o>,
    last: Option<Last>,
}

struct Last {
    files: FleetFiles,
    compilation: Compilation,
    /// How many releases of the plan name each manifest.
    uses: HashMap<Digest, u32>,
    selectors: Selectors,
}

/// Selectors compiled by earlier recompiles, by text, for the data bounds they were checked
/// against.
#[derive(Default)]
struct Selectors {
    bounds: Option<targeting::DataBounds>,
    compiled: HashMap<String, targeting::Selector>,
}

impl Selectors {
    /// The outcome of each service's selector on every cluster of `on`, by service (its
    /// selector compiled for `bounds` if it was not yet); `None` when a selector does not
    /// compile or fails on a cluster.
    fn evaluate<'f>(
        &mut self,
        services: impl IntoIterator<Item = (&'f ServiceName, &'f ServiceSpec)>,
        bounds: targeting::DataBounds,
        on: &Fleet,
    ) -> Option<BTreeMap<String, Vec<Outcome>>> {
        let specs: Vec<(&ServiceName, &ServiceSpec)> = services.into_iter().collect();
        if !self.prepare(specs.iter().map(|(_, s)| s.selector.text.as_str()), bounds) {
            return None;
        }
        let selectors: Vec<(&str, &targeting::Selector)> = specs
            .iter()
            .filter_map(|(name, spec)| {
                Some((name.as_str(), self.compiled.get(&spec.selector.text)?))
            })
            .collect();
        let outcomes = targeting::evaluate_all(selectors, on);
        let failed = outcomes
            .values()
            .flatten()
            .any(|o| matches!(o, Outcome::Error(_)));
        (!failed).then_some(outcomes)
    }

    /// Compiles the texts not compiled yet, in parallel; `false` when one does not compile.
    fn prepare<'t>(
        &mut self,
        texts: impl IntoIterator<Item = &'t str>,
        bounds: targeting::DataBounds,
    ) -> bool {
        use rayon::prelude::*;
        if self.bounds != Some(bounds) {
            self.compiled.clear();
            self.bounds = Some(bounds);
        }
        let missing: BTreeSet<&str> = texts
            .into_iter()
            .filter(|t| !self.compiled.contains_key(*t))
            .collect();
        let missing: Vec<&str> = missing.into_iter().collect();
        let results: Vec<_> = missing
            .par_iter()
            .map(|t| (*t, targeting::compile(t, bounds)))
            .collect();
        for (text, result) in results {
            match result {
                Ok(s) => {
                    self.compiled.insert(text.to_owned(), s);
                }
                Err(_) => return false,
            }
        }
        true
    }
}

/// What a compile of an [`Incremental`] compiler did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recompile {
    /// The files are those of the last compilation.
    Unchanged,
    /// New versions of these services were rendered; the rest was kept.
    Services(Vec<ServiceName>),
    /// Services changed their selector, dependencies or release, or were added or removed,
    /// or clusters changed, were added or removed: the selectors of the changed services on
    /// every cluster, and every selector on the changed clusters, were evaluated again, the
    /// clusters ordered again, and the changed services and clusters rendered; the other
    /// releases were kept (in their new waves).
    Retargeted {
        services: Vec<ServiceName>,
        removed: Vec<ServiceName>,
        clusters: Vec<ClusterName>,
        removed_clusters: Vec<ClusterName>,
    },
    /// A whole compile, for this reason.
    Full(FullReason),
}

/// Why a compile was whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FullReason {
    /// Nothing was compiled before.
    First,
    /// The last compilation had diagnostics.
    Diagnostics,
    /// The last compilation read secrets (they are read again by every compile).
    Secrets,
    /// A file other than a service file changed, appeared or went away.
    File(String),
    /// A service file that changed has problems (the whole compile reports them).
    ServiceProblems,
    /// A cluster file that changed has problems, or a selector fails on it.
    ClusterProblems,
    /// A changed cluster holds longer data than the selectors were checked against.
    Bounds,
}

impl fmt::Display for Recompile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recompile::Unchanged => f.write_str("nothing changed"),
            Recompile::Services(names) => write!(f, "new version of {}", listed(names)),
            Recompile::Retargeted {
                services,
                removed,
                clusters,
                removed_clusters,
            } => {
                f.write_str("selection redone")?;
                if !services.is_empty() {
                    write!(f, "; new version of {}", listed(services))?;
                }
                if !removed.is_empty() {
                    write!(f, "; removed {}", listed(removed))?;
                }
                if !clusters.is_empty() {
                    write!(f, "; cluster {} compiled again", listed(clusters))?;
                }
                if !removed_clusters.is_empty() {
                    write!(f, "; cluster {} removed", listed(removed_clusters))?;
                }
                Ok(())
            }
            Recompile::Full(reason) => write!(f, "whole compile: {reason}"),
        }
    }
}

fn listed<N: fmt::Display>(names: &[N]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

impl fmt::Display for FullReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FullReason::First => f.write_str("first compile"),
            FullReason::Diagnostics => f.write_str("the last compile had diagnostics"),
            FullReason::Secrets => f.write_str("the fleet reads secrets"),
            FullReason::File(path) => write!(f, "{path} changed"),
            FullReason::ServiceProblems => f.write_str("a changed service has problems"),
            FullReason::ClusterProblems => f.write_str("a changed cluster has problems"),
            FullReason::Bounds => {
                f.write_str("a changed cluster holds longer data than selectors were checked for")
            }
        }
    }
}

impl<'o, R: ChartRenderer> Incremental<'o, R> {
    pub fn new(renderer: R, options: Options<'o>) -> Self {
        Incremental {
            renderer,
            options,
            last: None,
        }
    }

    /// The last compilation, if any.
    pub fn last(&self) -> Option<&Compilation> {
        self.last.as_ref().map(|l| &l.compilation)
    }

    /// Compiles `files`, reusing what the last compilation did where the change allows it.
    pub fn compile(&mut self, files: FleetFiles) -> (&Compilation, Recompile) {
        let (last, how) = match self.last.take() {
            None => (self.full(files), Recompile::Full(FullReason::First)),
            Some(last) => match self.partial(last, files) {
                Ok(done) => done,
                Err((files, reason)) => (self.full(files), Recompile::Full(reason)),
            },
        };
        (&self.last.insert(last).compilation, how)
    }

    fn full(&self, files: FleetFiles) -> Last {
        let compilation = crate::compile_with(&files, &self.renderer, self.options);
        let mut uses = HashMap::new();
        for release in compilation.plan.clusters.iter().flat_map(|c| &c.releases) {
            *uses.entry(release.manifest).or_insert(0) += 1;
        }
        Last {
            files,
            compilation,
            uses,
            selectors: Selectors::default(),
        }
    }

    /// Compiles again what changed, when only service and cluster files did (see the module
    /// documentation); otherwise gives the files back with the reason for a whole compile.
    #[allow(clippy::result_large_err)]
    fn partial(
        &self,
        mut last: Last,
        files: FleetFiles,
    ) -> Result<(Last, Recompile), (FleetFiles, FullReason)> {
        if !last.compilation.diagnostics.diagnostics.is_empty() {
            return Err((files, FullReason::Diagnostics));
        }
        if !last.compilation.redactor.is_empty() {
            return Err((files, FullReason::Secrets));
        }
        let changed = match changed_files(&last.files, &files) {
            Ok(changed) => changed,
            Err(path) => return Err((files, FullReason::File(path))),
        };
        if changed.services.is_empty() && changed.clusters.is_empty() {
            last.files = files;
            return Ok((last, Recompile::Unchanged));
        }
        let start = std::time::Instant::now();
        let mut timings = Timings::default();
        let mut diags = Diags::new(&files);
        let mut services = Fleet::default();
        load::load_services(&files, &mut diags, &mut services);
        if !diags.report.diagnostics.is_empty() {
            drop(diags);
            return Err((files, FullReason::ServiceProblems));
        }
        let compilation = &mut last.compilation;
        // Clusters whose file changed or appeared are read again, the others reused.
        let mut recompiled: BTreeSet<ClusterName> = BTreeSet::new();
        let mut removed_clusters: BTreeSet<ClusterName> = BTreeSet::new();
        // What selectors are checked against: unchanged, or the compile is whole.
        let mut bounds = None;
        if !changed.clusters.is_empty() {
            let mut clusters = Fleet::default();
            let old_bounds = targeting::data_bounds(&compilation.fleet);
            let old_names: Vec<ClusterName> = compilation.fleet.clusters.keys().cloned().collect();
            let mut earlier: HashMap<String, crate::model::ClusterSpec> =
                std::mem::take(&mut compilation.fleet.clusters)
                    .into_values()
                    .map(|c| (c.file.clone(), c))
                    .collect();
            let mut reuse = |path: &str| {
                if changed.clusters.contains(path) {
                    None
                } else {
                    earlier.remove(path)
                }
            };
            load::load_clusters_reusing(&files, &mut diags, &mut clusters, &mut reuse);
            if !diags.report.diagnostics.is_empty() {
                drop(diags);
                return Err((files, FullReason::ClusterProblems));
            }
            if targeting::data_bounds(&clusters) != old_bounds {
                drop(diags);
                return Err((files, FullReason::Bounds));
            }
            bounds = Some(old_bounds);
            recompiled = clusters
                .clusters
                .values()
                .filter(|c| changed.clusters.contains(&c.file))
                .map(|c| c.name.clone())
                .collect();
            removed_clusters = old_names
                .into_iter()
                .filter(|k| !clusters.clusters.contains_key(k))
                .collect();
            compilation.fleet.clusters = clusters.clusters;
        }
        let old = &compilation.fleet.services;
        // Services with a new version (or new), and services gone.
        let fresh: BTreeSet<ServiceName> = services
            .services
            .values()
            .filter(|s| changed.services.contains(s.file.as_str()) || !old.contains_key(&s.name))
            .map(|s| s.name.clone())
            .collect();
        let removed: BTreeSet<ServiceName> = old
            .keys()
            .filter(|k| !services.services.contains_key(*k))
            .cloned()
            .collect();
        // Whether selection and order may have changed.
        let retarget = !changed.clusters.is_empty()
            || !removed.is_empty()
            || fresh.iter().any(|name| {
                let now = services.services.get(name);
                old.get(name)
                    .zip(now)
                    .is_none_or(|(before, now)| !same_targeting(before, now))
            });
        compilation.fleet.services = services.services;
        timings.load = start.elapsed();

        let mut new_waves = None;
        if retarget {
            let clock = std::time::Instant::now();
            let selection = &mut compilation.selection;
            let bounds = bounds.unwrap_or_else(|| targeting::data_bounds(&compilation.fleet));
            if !reselect_clusters(
                &compilation.fleet,
                selection,
                &recompiled,
                &mut last.selectors,
                bounds,
            ) {
                drop(diags);
                return Err((files, FullReason::ClusterProblems));
            }
            if !reselect(
                &compilation.fleet,
                selection,
                &fresh,
                &removed,
                &mut last.selectors,
                bounds,
            ) {
                drop(diags);
                return Err((files, FullReason::ServiceProblems));
            }
            timings.select = clock.elapsed();
            let clock = std::time::Instant::now();
            new_waves = Some(graph::order(
                &compilation.fleet,
                &compilation.selection,
                &BTreeMap::new(),
                &mut diags,
            ));
            timings.graph = clock.elapsed();
        }
        let waves_now = new_waves.as_ref().unwrap_or(&compilation.waves);

        // The new versions on the clusters they are selected on, in their waves.
        let clock = std::time::Instant::now();
        let waves = restricted(waves_now, &fresh, &recompiled);
        let only: BTreeSet<ServiceName> = waves
            .values()
            .flat_map(Waves::order)
            .cloned()
            .chain(fresh.iter().cloned())
            .collect();
        // A few changed clusters render faster than the persisted outcomes of every service
        // on them can be read (about a megabyte each at 10,000 clusters): then the
        // persistent cache is left alone (it never changes a result, only its cost).
        let cache = if fresh.is_empty() && recompiled.len() <= FEW_CLUSTERS {
            None
        } else {
            self.options.cache
        };
        let secrets = crate::secrets_of(&files, &self.options);
        let plugins = std::sync::Arc::new(crate::resolvers::plugin::FleetPlugins::load(
            &files,
            self.options.plugin_host,
            &mut diags,
        ));
        let rendered = render::render(
            &files,
            &compilation.fleet,
            Some(&only),
            &waves,
            &self.renderer,
            &plugins,
            cache,
            self.options.progress,
            &secrets,
            None,
            &mut diags,
        );
        let redactor = crate::finish_secrets(&secrets, &mut diags);

        let gone = replace_releases(
            compilation,
            rendered.plan,
            &|cluster, service| {
                fresh.contains(service) || removed.contains(service) || recompiled.contains(cluster)
            },
            new_waves.as_ref(),
            &mut last.uses,
        );
        for (digest, text) in rendered.manifests.0 {
            compilation.manifests.0.entry(digest).or_insert(text);
        }
        for digest in gone {
            if last.uses.get(&digest) == Some(&0) {
                last.uses.remove(&digest);
                compilation.manifests.0.remove(&digest);
            }
        }
        compilation
            .digests
            .retain(|name, _| !removed.contains(name));
        compilation.digests.extend(rendered.digests);
        if let Some(waves) = new_waves {
            compilation.waves = waves;
        }
        compilation.plan.rollouts =
            crate::rollout::plan(&compilation.fleet, &compilation.selection, &mut diags);
        compilation.stats = Stats {
            releases: last.uses.values().map(|&n| u64::from(n)).sum(),
            ..rendered.stats
        };
        timings.render = clock.elapsed();
        compilation.timings = timings;
        compilation.diagnostics = redact::report(diags.finish(), &redactor);
        compilation.redactor = redactor;
        last.files = files;
        let how = if retarget {
            Recompile::Retargeted {
                services: fresh.into_iter().collect(),
                removed: removed.into_iter().collect(),
                clusters: recompiled.into_iter().collect(),
                removed_clusters: removed_clusters.into_iter().collect(),
            }
        } else {
            Recompile::Services(fresh.into_iter().collect())
        };
        Ok((last, how))
    }
}

/// Gives the selection the fleet's clusters: removed clusters leave it, and every selector is
/// evaluated on the `recompiled` clusters (changed or new). `false` when a selector does not
/// compile or fails on one of them.
fn reselect_clusters(
    fleet: &Fleet,
    selection: &mut Selection,
    recompiled: &BTreeSet<ClusterName>,
    cache: &mut Selectors,
    bounds: targeting::DataBounds,
) -> bool {
    selection
        .clusters
        .retain(|c, _| fleet.clusters.contains_key(c));
    if recompiled.is_empty() {
        return true;
    }
    let changed = Fleet {
        clusters: recompiled
            .iter()
            .filter_map(|c| fleet.clusters.get_key_value(c))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        services: BTreeMap::new(),
        rollout: None,
    };
    let Some(outcomes) = cache.evaluate(&fleet.services, bounds, &changed) else {
        return false;
    };
    for (i, cluster) in changed.clusters.keys().enumerate() {
        let selected = outcomes
            .iter()
            .filter(|(_, per_cluster)| per_cluster.get(i) == Some(&Outcome::Selected))
            .map(|(name, _)| ServiceName::new(name.as_str()))
            .collect();
        selection.clusters.insert(cluster.clone(), selected);
    }
    true
}

/// Evaluates the selectors of `fresh` services on every cluster and updates the selection:
/// `fresh` and `removed` services leave it, then the fresh ones join the clusters they select
/// (the other services select what they selected: the clusters did not change, or were
/// selected again by [`reselect_clusters`]). `false` when a selector does not compile or
/// fails on a cluster. The selection holds the fleet's clusters.
fn reselect(
    fleet: &Fleet,
    selection: &mut Selection,
    fresh: &BTreeSet<ServiceName>,
    removed: &BTreeSet<ServiceName>,
    cache: &mut Selectors,
    bounds: targeting::DataBounds,
) -> bool {
    let specs = fresh
        .iter()
        .filter_map(|name| fleet.services.get_key_value(name));
    let Some(outcomes) = cache.evaluate(specs, bounds, fleet) else {
        return false;
    };
    for (i, selected) in selection.clusters.values_mut().enumerate() {
        selected.retain(|s| !fresh.contains(s) && !removed.contains(s));
        for (name, per_cluster) in &outcomes {
            if per_cluster.get(i) == Some(&Outcome::Selected) {
                selected.insert(ServiceName::new(name.as_str()));
            }
        }
    }
    true
}

/// The waves to render: on the `recompiled` clusters all of them, elsewhere those of `only`
/// (the clusters where none of them is installed are left out).
fn restricted(
    waves: &BTreeMap<ClusterName, Waves>,
    only: &BTreeSet<ServiceName>,
    recompiled: &BTreeSet<ClusterName>,
) -> BTreeMap<ClusterName, Waves> {
    waves
        .iter()
        .filter_map(|(cluster, w)| {
            if recompiled.contains(cluster) {
                return Some((cluster.clone(), w.clone()));
            }
            if !w.order().any(|s| only.contains(s)) {
                return None;
            }
            let kept =
                w.0.iter()
                    .map(|wave| wave.iter().filter(|s| only.contains(*s)).cloned().collect())
                    .collect();
            Some((cluster.clone(), Waves(kept)))
        })
        .collect()
}

/// Puts the fresh releases of `rendered` in the compilation's plan, in place of the releases
/// `gone` names (by cluster and service); with `new_waves`, every cluster's other releases
/// move to their new wave (a release's outcome does not depend on its wave), and leave the
/// plan when they are in none (a new dependency cycle), as in a whole compile. The plan gets
/// the fleet's clusters (removed ones go, new ones come). Keeps `uses` counting the releases
/// that name each manifest, and gives the manifests whose count fell to zero.
fn replace_releases(
    compilation: &mut Compilation,
    rendered: plan::Plan,
    gone: &dyn Fn(&str, &str) -> bool,
    new_waves: Option<&BTreeMap<ClusterName, Waves>>,
    uses: &mut HashMap<Digest, u32>,
) -> Vec<Digest> {
    let mut fresh_by_cluster: BTreeMap<Arc<str>, Vec<Release>> = rendered
        .clusters
        .into_iter()
        .map(|c| (c.name, c.releases))
        .collect();
    let mut unused = Vec::new();
    fn drop_use(uses: &mut HashMap<Digest, u32>, manifest: &Digest, unused: &mut Vec<Digest>) {
        if let Some(n) = uses.get_mut(manifest) {
            *n -= 1;
            if *n == 0 {
                unused.push(*manifest);
            }
        }
    }
    // The plan's clusters are the fleet's.
    let mut earlier: BTreeMap<Arc<str>, plan::ClusterPlan> =
        std::mem::take(&mut compilation.plan.clusters)
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
    compilation.plan.clusters = compilation
        .fleet
        .clusters
        .keys()
        .map(|name| {
            earlier
                .remove(name.as_str())
                .unwrap_or_else(|| plan::ClusterPlan {
                    name: Arc::from(name.as_str()),
                    releases: Vec::new(),
                })
        })
        .collect();
    for removed in earlier.values() {
        for r in &removed.releases {
            drop_use(uses, &r.manifest, &mut unused);
        }
    }
    for plan in &mut compilation.plan.clusters {
        let fresh_here = fresh_by_cluster.remove(&plan.name).unwrap_or_default();
        let rewave = new_waves
            .and_then(|w| w.get(plan.name.as_ref()))
            .filter(|w| compilation.waves.get(plan.name.as_ref()) != Some(*w));
        if fresh_here.is_empty()
            && rewave.is_none()
            && !plan.releases.iter().any(|r| gone(&plan.name, &r.service))
        {
            continue;
        }
        let wave_of: Option<HashMap<&str, u32>> = rewave.map(|waves| {
            waves
                .0
                .iter()
                .enumerate()
                .flat_map(|(i, names)| {
                    let i = u32::try_from(i).unwrap_or(u32::MAX);
                    names.iter().map(move |n| (n.as_str(), i))
                })
                .collect()
        });
        let mut releases = std::mem::take(&mut plan.releases);
        releases.retain_mut(|r| {
            let wave = wave_of.as_ref().map(|w| w.get(&*r.service).copied());
            let keep = !gone(&plan.name, &r.service) && wave != Some(None);
            if let Some(Some(w)) = wave {
                r.wave = w;
            }
            if !keep {
                drop_use(uses, &r.manifest, &mut unused);
            }
            keep
        });
        for r in &fresh_here {
            *uses.entry(r.manifest).or_insert(0) += 1;
        }
        releases.extend(fresh_here);
        releases.sort_by(|a, b| (a.wave, &a.service).cmp(&(b.wave, &b.service)));
        plan.releases = releases;
    }
    unused
}

/// The service and cluster files that changed, appeared or went away.
#[derive(Default)]
struct Changed {
    services: BTreeSet<String>,
    clusters: BTreeSet<String>,
}

/// What changed between `old` and `new`, when only service and cluster files did (same other
/// files, charts, plugins and unreadable files); else the first other path that changed.
fn changed_files(old: &FleetFiles, new: &FleetFiles) -> Result<Changed, String> {
    if old.root != new.root || old.display_root != new.display_root {
        return Err("the fleet folder".into());
    }
    if let Some(path) = first_difference(&old.unreadable, &new.unreadable) {
        return Err(path);
    }
    if let Some(path) = first_difference(&old.blobs, &new.blobs) {
        return Err(path);
    }
    let mut changed = Changed::default();
    let same_keys = old.files.len() == new.files.len() && old.files.keys().eq(new.files.keys());
    let differing: Vec<&String> = if same_keys {
        old.files
            .iter()
            .zip(&new.files)
            .filter(|((_, a), (_, b))| a != b)
            .map(|((path, _), _)| path)
            .collect()
    } else {
        old.files
            .keys()
            .chain(new.files.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|k| old.files.get(*k) != new.files.get(*k))
            .collect()
    };
    for path in differing {
        if is_service_file(path) {
            changed.services.insert(path.clone());
        } else if is_cluster_file(path) {
            changed.clusters.insert(path.clone());
        } else {
            return Err(path.clone());
        }
    }
    Ok(changed)
}

/// `clusters/<name>.yaml` (or `.yml`).
fn is_cluster_file(path: &str) -> bool {
    path.strip_prefix("clusters/")
        .and_then(|p| p.strip_suffix(".yaml").or_else(|| p.strip_suffix(".yml")))
        .is_some_and(|stem| !stem.contains('/'))
}

/// `services/<dir>/service.yaml`.
fn is_service_file(path: &str) -> bool {
    path.strip_prefix("services/")
        .and_then(|p| p.strip_suffix("/service.yaml"))
        .is_some_and(|dir| !dir.contains('/'))
}

/// The first key whose entry differs between two maps (present in one only, or different).
fn first_difference<V: PartialEq>(
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
) -> Option<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().find(|k| a.get(*k) != b.get(*k)).cloned()
}

/// Whether two versions of a service select the same clusters and install in the same order:
/// same selector, dependencies and release.
fn same_targeting(a: &ServiceSpec, b: &ServiceSpec) -> bool {
    a.selector.text == b.selector.text
        && a.depends_on
            .iter()
            .map(|d| &d.name)
            .eq(b.depends_on.iter().map(|d| &d.name))
        && a.release.name == b.release.name
        && a.release.namespace == b.release.namespace
}
