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
//! - only service files, some with a new selector, dependencies or release, or added or
//!   removed: the selectors of the changed services are evaluated again (the others select
//!   what they selected: the clusters did not change), the clusters are ordered again (with
//!   the graph's checks), the changed services are rendered, and every other release is kept
//!   in its new wave ([`Recompile::Retargeted`]);
//! - anything else (a cluster, a chart, a plugin, a service file that does not load, a
//!   selector that fails), or a last compilation with diagnostics or secret reads: a whole
//!   compile ([`Recompile::Full`], with the reason).
//!
//! Either way the result is the compilation a whole compile of the same files gives, byte for
//! byte (plan, manifests, digests, selection, waves, diagnostics): the integration tests
//! compare them after every kind of change. A compilation that read secrets is always redone
//! whole: secret values are read once per compile and never kept for the next one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::diag::Diags;
use crate::model::{ClusterName, Digest, Fleet, ServiceName, ServiceSpec, Waves};
use crate::source::FleetFiles;
use std::sync::Arc;

use plan::Release;

use crate::targeting::{self, Outcome};
use crate::{ChartRenderer, Compilation, Options, Stats, Timings, graph, load, redact, render};

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
}

/// What a compile of an [`Incremental`] compiler did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recompile {
    /// The files are those of the last compilation.
    Unchanged,
    /// New versions of these services were rendered; the rest was kept.
    Services(Vec<ServiceName>),
    /// Services changed their selector, dependencies or release, or were added or removed:
    /// their selectors were evaluated again, the clusters ordered again, and the new
    /// versions rendered; the other releases were kept (in their new waves).
    Retargeted {
        services: Vec<ServiceName>,
        removed: Vec<ServiceName>,
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
}

impl fmt::Display for Recompile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recompile::Unchanged => f.write_str("nothing changed"),
            Recompile::Services(names) => write!(f, "new version of {}", listed(names)),
            Recompile::Retargeted { services, removed } => {
                f.write_str("selection redone")?;
                if !services.is_empty() {
                    write!(f, "; new version of {}", listed(services))?;
                }
                if !removed.is_empty() {
                    write!(f, "; removed {}", listed(removed))?;
                }
                Ok(())
            }
            Recompile::Full(reason) => write!(f, "whole compile: {reason}"),
        }
    }
}

fn listed(names: &[ServiceName]) -> String {
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
            Some(last) => match self.services_only(last, files) {
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
        }
    }

    /// Compiles again what changed, when only service files did (see the module
    /// documentation); otherwise gives the files back with the reason for a whole compile.
    #[allow(clippy::result_large_err)]
    fn services_only(
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
        let changed = match changed_service_files(&last.files, &files) {
            Ok(changed) => changed,
            Err(path) => return Err((files, FullReason::File(path))),
        };
        if changed.is_empty() {
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
        let old = &last.compilation.fleet.services;
        // Services with a new version (or new), and services gone.
        let fresh: BTreeSet<ServiceName> = services
            .services
            .values()
            .filter(|s| changed.contains(s.file.as_str()) || !old.contains_key(&s.name))
            .map(|s| s.name.clone())
            .collect();
        let removed: BTreeSet<ServiceName> = old
            .keys()
            .filter(|k| !services.services.contains_key(*k))
            .cloned()
            .collect();
        // Whether selection and order may have changed.
        let retarget = !removed.is_empty()
            || fresh.iter().any(|name| {
                let now = services.services.get(name);
                old.get(name)
                    .zip(now)
                    .is_none_or(|(before, now)| !same_targeting(before, now))
            });
        timings.load = start.elapsed();

        let compilation = &mut last.compilation;
        let mut new_waves = None;
        if retarget {
            let clock = std::time::Instant::now();
            if !reselect(compilation, &services, &fresh, &removed) {
                drop(diags);
                return Err((files, FullReason::ServiceProblems));
            }
            timings.select = clock.elapsed();
            let clock = std::time::Instant::now();
            compilation.fleet.services = services.services;
            new_waves = Some(graph::order(
                &compilation.fleet,
                &compilation.selection,
                &BTreeMap::new(),
                &mut diags,
            ));
            timings.graph = clock.elapsed();
        } else {
            compilation.fleet.services = services.services;
        }
        let waves_now = new_waves.as_ref().unwrap_or(&compilation.waves);

        // The new versions on the clusters they are selected on, in their waves.
        let clock = std::time::Instant::now();
        let only = &fresh;
        let waves = restricted(waves_now, only);
        let secrets = crate::secrets_of(&files, &self.options);
        let plugins = std::sync::Arc::new(crate::resolvers::plugin::FleetPlugins::load(
            &files,
            self.options.plugin_host,
            &mut diags,
        ));
        let rendered = render::render(
            &files,
            &compilation.fleet,
            Some(only),
            &waves,
            &self.renderer,
            &plugins,
            self.options.cache,
            self.options.progress,
            &secrets,
            &mut diags,
        );
        let redactor = crate::finish_secrets(&secrets, &mut diags);

        let gone = replace_releases(
            compilation,
            rendered.plan,
            &|s| only.contains(s) || removed.contains(s),
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
            }
        } else {
            Recompile::Services(fresh.into_iter().collect())
        };
        Ok((last, how))
    }
}

/// Evaluates the selectors of `fresh` services on every cluster and updates the selection:
/// `fresh` and `removed` services leave it, then the fresh ones join the clusters they select
/// (the clusters did not change, so the other services select what they selected). `false`,
/// leaving the selection as it was, when a selector does not compile or fails on a cluster.
fn reselect(
    compilation: &mut Compilation,
    services: &Fleet,
    fresh: &BTreeSet<ServiceName>,
    removed: &BTreeSet<ServiceName>,
) -> bool {
    let bounds = targeting::data_bounds(&compilation.fleet);
    let mut selectors = Vec::new();
    for name in fresh {
        let Some(spec) = services.services.get(name) else {
            continue;
        };
        match targeting::compile(&spec.selector.text, bounds) {
            Ok(s) => selectors.push((name.as_str(), s)),
            Err(_) => return false,
        }
    }
    let outcomes =
        targeting::evaluate_all(selectors.iter().map(|(n, s)| (*n, s)), &compilation.fleet);
    if outcomes
        .values()
        .flatten()
        .any(|o| matches!(o, Outcome::Error(_)))
    {
        return false;
    }
    for (i, selected) in compilation.selection.clusters.values_mut().enumerate() {
        selected.retain(|s| !fresh.contains(s) && !removed.contains(s));
        for (name, per_cluster) in &outcomes {
            if per_cluster.get(i) == Some(&Outcome::Selected) {
                selected.insert(ServiceName::new(name.as_str()));
            }
        }
    }
    true
}

/// The clusters where one of `only` is installed, with their waves keeping only those.
fn restricted(
    waves: &BTreeMap<ClusterName, Waves>,
    only: &BTreeSet<ServiceName>,
) -> BTreeMap<ClusterName, Waves> {
    waves
        .iter()
        .filter(|(_, w)| w.order().any(|s| only.contains(s)))
        .map(|(cluster, w)| {
            let kept =
                w.0.iter()
                    .map(|wave| wave.iter().filter(|s| only.contains(*s)).cloned().collect())
                    .collect();
            (cluster.clone(), Waves(kept))
        })
        .collect()
}

/// Puts the fresh releases of `rendered` in the compilation's plan, in place of the releases of
/// the services `gone_service` names; with `new_waves`, every cluster's other releases move to
/// their new wave (a release's outcome does not depend on its wave), and leave the plan when
/// they are in none (a new dependency cycle), as in a whole compile. Keeps `uses` counting
/// the releases that name each manifest, and gives the manifests whose count fell to zero.
fn replace_releases(
    compilation: &mut Compilation,
    rendered: plan::Plan,
    gone_service: &dyn Fn(&str) -> bool,
    new_waves: Option<&BTreeMap<ClusterName, Waves>>,
    uses: &mut HashMap<Digest, u32>,
) -> Vec<Digest> {
    let mut fresh_by_cluster: BTreeMap<Arc<str>, Vec<Release>> = rendered
        .clusters
        .into_iter()
        .map(|c| (c.name, c.releases))
        .collect();
    let mut gone = Vec::new();
    for plan in &mut compilation.plan.clusters {
        let fresh_here = fresh_by_cluster.remove(&plan.name).unwrap_or_default();
        let rewave = new_waves
            .and_then(|w| w.get(plan.name.as_ref()))
            .filter(|w| compilation.waves.get(plan.name.as_ref()) != Some(*w));
        if fresh_here.is_empty()
            && rewave.is_none()
            && !plan.releases.iter().any(|r| gone_service(&r.service))
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
            let keep = !gone_service(&r.service) && wave != Some(None);
            if let Some(Some(w)) = wave {
                r.wave = w;
            }
            if !keep && let Some(n) = uses.get_mut(&r.manifest) {
                *n -= 1;
                if *n == 0 {
                    gone.push(r.manifest);
                }
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
    gone
}

/// The service files that changed, appeared or went away between `old` and `new`, when
/// nothing else did (same other files, charts, plugins and unreadable files); else the first
/// other path that changed.
fn changed_service_files(old: &FleetFiles, new: &FleetFiles) -> Result<BTreeSet<String>, String> {
    if old.root != new.root || old.display_root != new.display_root {
        return Err("the fleet folder".into());
    }
    if let Some(path) = first_difference(&old.unreadable, &new.unreadable) {
        return Err(path);
    }
    if let Some(path) = first_difference(&old.blobs, &new.blobs) {
        return Err(path);
    }
    let mut changed = BTreeSet::new();
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
        if !is_service_file(path) {
            return Err(path.clone());
        }
        changed.insert(path.clone());
    }
    Ok(changed)
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
