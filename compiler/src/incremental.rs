//! Recompiling a fleet after a change, redoing only what the change touched.
//!
//! An [`Incremental`] compiler keeps its last [`Compilation`] and the files it was made from.
//! Given the fleet's files again, it finds what changed:
//!
//! - nothing: the last compilation stands;
//! - only service files, and each changed service keeps its selector, its `dependsOn` and its
//!   release name and namespace (a new *version*: values template, chart, owners,
//!   `valuesFrom`): the selection and the installation order cannot have changed, so only the
//!   changed services are rendered again, on the clusters they are selected on, and their
//!   releases are replaced in those clusters' plans;
//! - anything else (a cluster, a chart, a plugin, a selector, a dependency, a service added
//!   or removed), or a last compilation with diagnostics or secret reads: a whole compile.
//!
//! Either way the result is the compilation a whole compile of the same files gives, byte for
//! byte (plan, manifests, digests, diagnostics): the integration tests compare them after every
//! kind of change. A compilation that read secrets is always redone whole: secret values are
//! read once per compile and never kept for the next one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::diag::Diags;
use crate::model::{ClusterName, Digest, Fleet, ServiceName, ServiceSpec, Waves};
use crate::source::FleetFiles;
use crate::{ChartRenderer, Compilation, Options, Stats, Timings, load, redact, render};

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
    /// A service was added, removed or renamed.
    Services,
    /// A service's selector, dependencies or release changed.
    Targeting(ServiceName),
}

impl fmt::Display for Recompile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recompile::Unchanged => f.write_str("nothing changed"),
            Recompile::Services(names) => {
                let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                write!(f, "new version of {}", names.join(", "))
            }
            Recompile::Full(reason) => write!(f, "whole compile: {reason}"),
        }
    }
}

impl fmt::Display for FullReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FullReason::First => f.write_str("first compile"),
            FullReason::Diagnostics => f.write_str("the last compile had diagnostics"),
            FullReason::Secrets => f.write_str("the fleet reads secrets"),
            FullReason::File(path) => write!(f, "{path} changed"),
            FullReason::ServiceProblems => f.write_str("a changed service has problems"),
            FullReason::Services => f.write_str("services were added or removed"),
            FullReason::Targeting(name) => {
                write!(
                    f,
                    "the selector, dependencies or release of `{name}` changed"
                )
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

    /// Renders again the services whose version changed, when that is all that changed;
    /// otherwise gives the files back with the reason for a whole compile.
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
            Err(path) => {
                let service = path
                    .strip_prefix("services/")
                    .and_then(|p| p.strip_suffix("/service.yaml"))
                    .is_some_and(|dir| !dir.contains('/'));
                let reason = if service {
                    FullReason::Services
                } else {
                    FullReason::File(path)
                };
                return Err((files, reason));
            }
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
        if services.services.len() != old.len()
            || !services.services.keys().eq(old.keys())
            || services
                .services
                .values()
                .any(|s| old.get(&s.name).is_none_or(|o| o.file != s.file))
        {
            drop(diags);
            return Err((files, FullReason::Services));
        }
        let mut only = BTreeSet::new();
        for spec in services.services.values() {
            if !changed.contains(spec.file.as_str()) {
                continue;
            }
            let Some(before) = old.get(&spec.name) else {
                continue;
            };
            if !same_targeting(before, spec) {
                let name = spec.name.clone();
                drop(diags);
                return Err((files, FullReason::Targeting(name)));
            }
            only.insert(spec.name.clone());
        }
        timings.load = start.elapsed();

        // The changed services on the clusters they are selected on, in their waves.
        let clock = std::time::Instant::now();
        let waves: BTreeMap<ClusterName, Waves> = last
            .compilation
            .waves
            .iter()
            .filter(|(_, w)| w.order().any(|s| only.contains(s)))
            .map(|(cluster, w)| {
                let kept =
                    w.0.iter()
                        .map(|wave| wave.iter().filter(|s| only.contains(*s)).cloned().collect())
                        .collect();
                (cluster.clone(), Waves(kept))
            })
            .collect();
        let compilation = &mut last.compilation;
        compilation.fleet.services = services.services;
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
            self.options.cache,
            self.options.progress,
            &secrets,
            &mut diags,
        );
        let redactor = crate::finish_secrets(&secrets, &mut diags);

        // Their releases replace the earlier ones, in installation order.
        let clusters = &mut compilation.plan.clusters;
        let mut gone = Vec::new();
        for fresh in rendered.plan.clusters {
            let Ok(at) = clusters.binary_search_by(|c| c.name.cmp(&fresh.name)) else {
                continue;
            };
            let releases = &mut clusters[at].releases;
            releases.retain(|r| {
                if !only.contains(&*r.service) {
                    return true;
                }
                if let Some(n) = last.uses.get_mut(&r.manifest) {
                    *n -= 1;
                    if *n == 0 {
                        gone.push(r.manifest);
                    }
                }
                false
            });
            for r in &fresh.releases {
                *last.uses.entry(r.manifest).or_insert(0) += 1;
            }
            releases.extend(fresh.releases);
            releases.sort_by(|a, b| (a.wave, &a.service).cmp(&(b.wave, &b.service)));
        }
        for (digest, text) in rendered.manifests.0 {
            compilation.manifests.0.entry(digest).or_insert(text);
        }
        for digest in gone {
            if last.uses.get(&digest) == Some(&0) {
                last.uses.remove(&digest);
                compilation.manifests.0.remove(&digest);
            }
        }
        compilation.digests.extend(rendered.digests);
        compilation.stats = Stats {
            releases: last.uses.values().map(|&n| u64::from(n)).sum(),
            ..rendered.stats
        };
        timings.render = clock.elapsed();
        compilation.timings = timings;
        compilation.diagnostics = redact::report(diags.finish(), &redactor);
        compilation.redactor = redactor;
        last.files = files;
        Ok((last, Recompile::Services(only.into_iter().collect())))
    }
}

/// The service files whose text changed between `old` and `new`, when nothing else did
/// (same files, same charts and plugins, same unreadable files); else the first other path
/// that changed.
fn changed_service_files<'n>(
    old: &FleetFiles,
    new: &'n FleetFiles,
) -> Result<BTreeSet<&'n str>, String> {
    if old.root != new.root || old.display_root != new.display_root {
        return Err("the fleet folder".into());
    }
    if let Some(path) = first_difference(&old.unreadable, &new.unreadable) {
        return Err(path);
    }
    if let Some(path) = first_difference(&old.blobs, &new.blobs) {
        return Err(path);
    }
    let services: BTreeSet<&str> = load::service_files(new)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let mut changed = BTreeSet::new();
    if old.files.len() != new.files.len() || !old.files.keys().eq(new.files.keys()) {
        let path = first_difference(&old.files, &new.files).unwrap_or_default();
        return Err(path);
    }
    for ((path, before), (_, after)) in old.files.iter().zip(&new.files) {
        if before == after {
            continue;
        }
        match services.get(path.as_str()) {
            Some(p) => {
                changed.insert(*p);
            }
            None => return Err(path.clone()),
        }
    }
    Ok(changed)
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
