//! Rendering: every service's values on every cluster it is selected on, every distinct
//! (chart, values, release) rendered once, and the plan that pins them.
//!
//! Per-cluster work runs in parallel (rayon) and is merged in cluster order, so the plan and
//! the diagnostics are the same whatever the number of threads.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use diagnostics::{Diagnostic, Label, Report};
use gotemplate::{FuncMap, Value};
use plan::{ChartPin, ClusterPlan, Plan, Release};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::cache::DiskCache;
use crate::chart::{
    ChartError, ChartFiles, ChartMeta, ChartRenderer, ReleaseRef, TemplateFailure, chart_digest,
};
use crate::diag::Diags;
use crate::digest::{ServiceDigest, service_digest};
use crate::model::{
    ChartRef, ClusterName, Digest, Embedded, Fleet, Kubernetes, ServiceName, ValuesFrom, Waves,
};
use crate::remote::chart_dir;
use crate::resolvers::plugin::FleetPlugins;
use crate::resolvers::vault::{ReadError, Secrets, code_of, help_of, literal_refs, merge_under};
use crate::resolvers::{self, RenderScope, Scope};
use crate::values::{
    Reads, ValuesError, ValuesTemplate, cluster_reads, data_value, projection, values_digest,
};
use syntax::FleetFiles;

pub use plan::Manifests;

/// Counters of one compile, for tests, progress and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Values templates executed.
    pub values_rendered: u64,
    /// Values reused from another cluster whose data the template reads is the same.
    pub values_reused: u64,
    /// Releases in the plan.
    pub releases: u64,
    /// Charts rendered by the renderer.
    pub chart_renders: u64,
    /// Releases whose manifest came from the in-memory render cache.
    pub render_hits: u64,
    /// Releases whose values and manifest digests came from the persistent cache of the
    /// service version (nothing rendered).
    pub releases_cached: u64,
}

/// Progress of the per-cluster work: called with (clusters done, clusters in all).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// What rendering produced.
#[derive(Debug)]
pub struct Rendered {
    pub plan: Plan,
    pub manifests: Manifests,
    pub digests: BTreeMap<ServiceName, ServiceDigest>,
    pub stats: Stats,
}

/// A chart loaded once for all the services that use it.
struct Loaded<C> {
    chart: C,
    pin: Arc<ChartPin>,
    /// Where its files are in [`FleetFiles`] (a fleet folder, or `remote::chart_dir`).
    dir: String,
}

/// What a service needs on every cluster.
struct Prepared<'a, C> {
    name: &'a ServiceName,
    service: Arc<str>,
    release: Arc<str>,
    namespace: Arc<str>,
    version: Digest,
    template: ValuesTemplate,
    data: Value,
    chart: &'a Loaded<C>,
    values_span: &'a Embedded,
    /// Fragments read from secrets, merged under the rendered values.
    values_from: &'a [ValuesFrom],
    /// The service file and where its chart is given.
    file: &'a str,
    chart_span: std::ops::Range<usize>,
    /// What the values template reads of `.Cluster` (the whole cluster when it cannot tell),
    /// and the outcome for each distinct projection of the clusters on it.
    chains: Vec<Vec<String>>,
    memo: Mutex<HashMap<Digest, OutcomeSlot>>,
    /// Outcomes of earlier compiles of this service version (persistent cache), and the key
    /// they are stored under.
    persisted: HashMap<Digest, (Digest, Digest)>,
    /// The manifests of those outcomes.
    pack: HashMap<Digest, Arc<str>>,
    persisted_key: Digest,
}

/// A release's values digest, manifest digest and manifest, and whether its values read a
/// secret (such outcomes are never persisted).
type Outcome = Result<(Digest, Digest, Arc<str>, bool), Failure>;
type OutcomeSlot = Arc<OnceLock<Outcome>>;

/// One failure on one cluster.
#[derive(Clone)]
enum Failure {
    Values(ValuesError),
    /// The values template failed because a secret could not be read.
    Secret(ValuesError, Box<secrets::SecretError>),
    /// Entry `.0` of `valuesFrom` could not be read or is not a YAML mapping.
    ValuesFrom(usize, ReadError),
    /// The chart failed to render with the values of this digest.
    Render(ChartError, Digest),
}

impl Failure {
    fn text(&self) -> String {
        match self {
            Failure::Values(ValuesError::Exec(e)) | Failure::Secret(ValuesError::Exec(e), _) => {
                e.to_string()
            }
            Failure::ValuesFrom(_, e) => e.to_string(),
            Failure::Secret(ValuesError::Yaml { message, .. }, _) => message.clone(),
            Failure::Values(ValuesError::Yaml { message, line }) => match line {
                Some((n, text)) if !text.trim().is_empty() => {
                    format!("{message} (rendered line {n}: `{}`)", text.trim())
                }
                _ => message.clone(),
            },
            Failure::Render(e, _) => e.to_string(),
        }
    }
}

/// What one cluster produced.
struct ClusterOut {
    plan: ClusterPlan,
    failures: Vec<(usize, Failure)>,
    manifests: Vec<(Digest, Arc<str>)>,
    /// New (service, projection, values digest, manifest digest) outcomes, for the
    /// persistent cache.
    fresh: Vec<(usize, Digest, Digest, Digest)>,
}

type Slot = Arc<OnceLock<Result<(Digest, Arc<str>), ChartError>>>;
/// Projection to (values digest, manifest digest).
type Outcomes = HashMap<Digest, (Digest, Digest)>;
/// Failures by (service, message), with the clusters they happened on.
type Grouped = BTreeMap<(usize, String), Group>;

/// One failure of a service on some clusters: the first one seen, the clusters, and the
/// values digests of its chart renders.
struct Group {
    failure: Failure,
    clusters: Vec<Arc<str>>,
    values: std::collections::BTreeSet<Digest>,
}

/// Renders every distinct (renderer, chart, values, release) once.
struct RenderCache {
    slots: Mutex<HashMap<Digest, Slot>>,
}

impl RenderCache {
    fn get(
        &self,
        key: Digest,
        render: impl FnOnce() -> Result<String, ChartError>,
        stats: &mut Stats,
    ) -> Result<(Digest, Arc<str>), ChartError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(key).or_default().clone()
        };
        let mut fresh = false;
        let result = slot.get_or_init(|| {
            fresh = true;
            let text: Arc<str> = render()?.into();
            Ok((Digest::of(text.as_bytes()), text))
        });
        if fresh {
            stats.chart_renders += 1;
        } else {
            stats.render_hits += 1;
        }
        result.clone()
    }
}

/// The persistent cache key of a service version's outcomes.
fn key_of_outcomes(renderer: &str, version: &Digest, plugins: Option<&Digest>) -> Digest {
    let mut h = Sha256::new();
    h.update(b"flotilla.outcomes/v2\0");
    h.update((renderer.len() as u64).to_le_bytes());
    h.update(renderer.as_bytes());
    h.update(version.0);
    if let Some(plugins) = plugins {
        h.update(b"plugins");
        h.update(plugins.0);
    }
    Digest(h.finalize().into())
}

/// Reads a service version's outcomes and their manifests: a count, then records of
/// projection, values digest and manifest digest (32 bytes each), then a count of manifests,
/// each its digest, a length and the text, and last a CRC-32 of all that. Anything malformed
/// or a checksum that does not match makes the whole entry a miss.
fn read_outcomes(disk: &DiskCache, key: &Digest) -> (Outcomes, HashMap<Digest, Arc<str>>) {
    let parse = || -> Option<_> {
        let bytes = disk.read("outcomes", key)?;
        let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if crc32fast::hash(body) != u32::from_le_bytes(sum.try_into().ok()?) {
            return None;
        }
        let mut at = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = body.get(at..at.checked_add(n)?)?;
            at += n;
            Some(s)
        };
        let count = |b: &[u8]| -> Option<usize> {
            usize::try_from(u64::from_le_bytes(b.try_into().ok()?)).ok()
        };
        let digest = |b: &[u8]| -> Option<Digest> { Some(Digest(b.try_into().ok()?)) };
        let n = count(take(8)?)?;
        let mut outcomes = HashMap::with_capacity(n.min(1 << 20));
        for _ in 0..n {
            let r = take(96)?;
            outcomes.insert(digest(&r[..32])?, (digest(&r[32..64])?, digest(&r[64..])?));
        }
        let m = count(take(8)?)?;
        let mut pack = HashMap::with_capacity(m.min(1 << 20));
        for _ in 0..m {
            let d = digest(take(32)?)?;
            let len = count(take(8)?)?;
            let text = std::str::from_utf8(take(len)?).ok()?;
            pack.insert(d, Arc::from(text));
        }
        outcomes
            .values()
            .all(|(_, m)| pack.contains_key(m))
            .then_some((outcomes, pack))
    };
    parse().unwrap_or_default()
}

/// Writes a service version's outcomes (the earlier ones and the new ones, sorted) with their
/// manifests, replacing the entry.
fn write_outcomes<C>(
    disk: &DiskCache,
    p: &Prepared<'_, C>,
    new: &BTreeMap<Digest, (Digest, Digest)>,
    manifests: &Manifests,
) {
    let mut all: BTreeMap<Digest, (Digest, Digest)> =
        p.persisted.iter().map(|(k, v)| (*k, *v)).collect();
    all.extend(new.iter().map(|(k, v)| (*k, *v)));
    let mut texts: BTreeMap<Digest, &str> = BTreeMap::new();
    for (_, manifest) in all.values() {
        match p
            .pack
            .get(manifest)
            .map(|t| &**t)
            .or_else(|| manifests.get(manifest))
        {
            Some(t) => {
                texts.insert(*manifest, t);
            }
            None => return,
        }
    }
    let mut bytes = Vec::with_capacity(16 + all.len() * 96);
    bytes.extend_from_slice(&(all.len() as u64).to_le_bytes());
    for (k, (values, manifest)) in &all {
        bytes.extend_from_slice(&k.0);
        bytes.extend_from_slice(&values.0);
        bytes.extend_from_slice(&manifest.0);
    }
    bytes.extend_from_slice(&(texts.len() as u64).to_le_bytes());
    for (d, t) in &texts {
        bytes.extend_from_slice(&d.0);
        bytes.extend_from_slice(&(t.len() as u64).to_le_bytes());
        bytes.extend_from_slice(t.as_bytes());
    }
    let sum = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&sum.to_le_bytes());
    disk.replace("outcomes", &p.persisted_key, &bytes);
}

/// The key of one render: the renderer, the chart, the values and the release.
fn render_key(renderer: &str, chart: &Digest, values: &Digest, release: ReleaseRef<'_>) -> Digest {
    let mut h = Sha256::new();
    for part in [
        renderer.as_bytes(),
        &chart.0,
        &values.0,
        release.name.as_bytes(),
        release.namespace.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    if let Some(k) = release.kubernetes {
        update_kubernetes(&mut h, k);
    }
    Digest(h.finalize().into())
}

/// Hashes what a chart sees of the cluster's Kubernetes (length-prefixed parts).
fn update_kubernetes(h: &mut Sha256, k: &Kubernetes) {
    h.update(b"kubernetes\0");
    for part in std::iter::once(&k.version).chain(&k.api_versions) {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
}

/// The key of a release's outcome on a cluster: the projection of the cluster that the values
/// template reads and, when the cluster declares it, its Kubernetes (which the chart sees in
/// `.Capabilities` whatever the values template reads).
fn outcome_key(projection: Digest, kubernetes: Option<&Kubernetes>) -> Digest {
    let Some(k) = kubernetes else {
        return projection;
    };
    let mut h = Sha256::new();
    h.update(projection.0);
    update_kubernetes(&mut h, k);
    Digest(h.finalize().into())
}

/// Loads the charts, renders values and charts, and builds the plan. Problems go to `diags`;
/// a release that fails is left out of its cluster's plan.
///
/// With `only`, the services outside it are left alone (not prepared, not digested): the
/// incremental compiler renders the services that changed on the clusters in `waves`.
#[allow(clippy::too_many_arguments)]
pub fn render<R: ChartRenderer>(
    files: &FleetFiles,
    fleet: &Fleet,
    only: Option<&std::collections::BTreeSet<ServiceName>>,
    waves: &BTreeMap<ClusterName, Waves>,
    renderer: &R,
    plugins: &Arc<FleetPlugins>,
    disk: Option<&DiskCache>,
    progress: Option<Progress<'_>>,
    secrets: &Arc<Secrets>,
    capture: Option<&crate::Capture>,
    diags: &mut Diags<'_>,
) -> Rendered {
    // Charts, each distinct folder once (a repository chart's files, fetched before the
    // compile, are under `remote::chart_dir`).
    let wanted = |name: &ServiceName| only.is_none_or(|o| o.contains(name));
    let mut paths: Vec<std::borrow::Cow<'_, str>> = fleet
        .services
        .iter()
        .filter(|(name, _)| wanted(name))
        .map(|(_, s)| chart_dir(&s.chart))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let loaded: BTreeMap<&str, Result<Loaded<R::Chart>, ChartError>> = paths
        .par_iter()
        .map(|p| {
            (
                p.as_ref(),
                load_chart(crate::source::chart_files(files, p), p, renderer),
            )
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();

    let funcs = {
        let mut funcs = FuncMap::helm();
        resolvers::register(&mut funcs, plugins.clone());
        Arc::new(funcs)
    };
    let known: Vec<&str> = funcs.names().collect();
    let mut digests = BTreeMap::new();
    let mut prepared: BTreeMap<&ServiceName, Prepared<'_, R::Chart>> = BTreeMap::new();
    let in_waves: std::collections::BTreeSet<&ServiceName> =
        waves.values().flat_map(Waves::order).collect();
    for (name, spec) in fleet.services.iter().filter(|(name, _)| wanted(name)) {
        let chart = loaded.get(chart_dir(&spec.chart).as_ref());
        let chart_digest = chart.and_then(|c| c.as_ref().ok()).map(|c| &c.pin.digest);
        let version = service_digest(spec, chart_digest);
        digests.insert(name.clone(), version.clone());
        let selected = in_waves.contains(name);
        // Chart problems are reported once per service, where it is selected.
        let chart = match (chart, &spec.chart) {
            (Some(Ok(c)), _) => c,
            (Some(Err(why)), ChartRef::Local { path }) => {
                if selected {
                    diags.error_at(
                        "chart::load",
                        format!("cannot load the chart of `{name}` ({path}): {why}"),
                        &spec.file,
                        spec.chart_span.clone(),
                        "this chart",
                        None,
                    );
                }
                continue;
            }
            (
                Some(Err(why)),
                ChartRef::Repository {
                    repository,
                    name: chart,
                    version,
                },
            ) if !crate::source::chart_files(files, &chart_dir(&spec.chart)).is_empty() => {
                if selected {
                    diags.error_at(
                        "chart::load",
                        format!(
                            "cannot load the chart of `{name}` ({chart} {version} from {repository}): {why}"
                        ),
                        &spec.file,
                        spec.chart_span.clone(),
                        "this chart",
                        None,
                    );
                }
                continue;
            }
            (
                _,
                ChartRef::Repository {
                    repository,
                    name: chart,
                    version,
                },
            ) => {
                if selected {
                    diags.error_at(
                        "chart::unavailable",
                        format!(
                            "the chart of `{name}` ({chart} {version} from {repository}) was not fetched"
                        ),
                        &spec.file,
                        spec.chart_span.clone(),
                        "a repository chart",
                        Some(
                            "repository charts are fetched before the compile (`flotilla plan` does it); or vendor the chart into the fleet (e.g. charts/<name>) and give its `path`".into(),
                        ),
                    );
                }
                continue;
            }
            (_, ChartRef::Local { .. }) => continue,
        };
        if !selected {
            continue;
        }
        let template = match ValuesTemplate::parse(spec, &funcs) {
            Ok(t) => t,
            Err(e) => {
                let mut scratch = Report::new();
                let src = scratch.source(
                    crate::values::template_name(name.as_str()),
                    spec.values.text.clone(),
                );
                diagnostics::template::parse_error(&mut scratch, src, &e, &known);
                for d in scratch.diagnostics {
                    let message = format!(
                        "the values template of `{name}` does not parse: {}",
                        d.message
                    );
                    push_mapped(
                        diags,
                        &spec.values,
                        &scratch.sources[src].text,
                        Diagnostic { message, ..d },
                    );
                }
                continue;
            }
        };
        let unknown = crate::values::unknown_cluster_fields(&spec.values.text);
        for (range, field) in &unknown {
            let fields = crate::targeting::check::CLUSTER_FIELDS;
            let help = match crate::diag::suggest(field, fields.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "a cluster has {}; free-form data is under `.Cluster.metadata` and `.Cluster.tags`",
                    fields
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            diags.error_at(
                "values::unknown-field",
                format!("the values template of `{name}` reads `.Cluster.{field}`, but a cluster has no field `{field}`"),
                &spec.values.file,
                spec.values.file_range(range.clone()),
                "unknown field",
                Some(help),
            );
        }
        if !unknown.is_empty() {
            continue;
        }
        let reads = cluster_reads(&spec.values.text);
        prepared.insert(
            name,
            Prepared {
                name,
                service: Arc::from(name.as_str()),
                release: Arc::from(spec.release.name.as_str()),
                namespace: Arc::from(spec.release.namespace.as_str()),
                version: version.0,
                template,
                data: data_value(&spec.to_data()),
                chart,
                values_span: &spec.values,
                values_from: &spec.values_from,
                file: &spec.file,
                chart_span: spec.chart_span.clone(),
                chains: match &reads {
                    Reads::Chains(c) => c.clone(),
                    Reads::Everything => vec![Vec::new()],
                },
                memo: Mutex::new(HashMap::new()),
                persisted: HashMap::new(),
                pack: HashMap::new(),
                // A template that may call plugins reads everything: their answers are part of
                // its outcomes, so their fingerprint is part of the key.
                persisted_key: key_of_outcomes(
                    renderer.id(),
                    &version.0,
                    (reads == Reads::Everything).then(|| plugins.fingerprint()),
                ),
            },
        );
    }

    // Earlier outcomes of these service versions, read in parallel.
    if let Some(d) = disk {
        prepared.par_iter_mut().for_each(|(_, p)| {
            let (outcomes, pack) = read_outcomes(d, &p.persisted_key);
            p.persisted = outcomes;
            p.pack = pack;
        });
    }

    // The secrets known before rendering, read concurrently, each path once.
    let known_refs: Vec<secrets::SecretRef> = prepared
        .values()
        .flat_map(|p| {
            let from = p
                .values_from
                .iter()
                .filter_map(|e| secrets::SecretRef::new(&e.vault.path, &e.vault.key).ok());
            from.chain(literal_refs(&p.values_span.text))
        })
        .collect();
    secrets.prefetch(&known_refs);

    // Every cluster, in parallel.
    let cache = RenderCache {
        slots: Mutex::new(HashMap::new()),
    };
    let total = waves.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let clusters: Vec<(&ClusterName, &Waves)> = waves.iter().collect();
    let services: Vec<&Prepared<'_, R::Chart>> = prepared.values().collect();
    let index: HashMap<&ServiceName, usize> = services
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name, i))
        .collect();
    let outs: Vec<(ClusterOut, Stats)> = clusters
        .par_iter()
        .map(|(cluster, cluster_waves)| {
            let mut stats = Stats::default();
            let out = render_cluster(
                fleet,
                cluster,
                cluster_waves,
                &services,
                &index,
                renderer,
                &cache,
                secrets,
                capture,
                &mut stats,
            );
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if let Some(p) = progress {
                p(n, total);
            }
            (out, stats)
        })
        .collect();

    // Merge in cluster order.
    let mut stats = Stats::default();
    let mut manifests = Manifests::default();
    let mut plans = Vec::with_capacity(outs.len());
    // (service, failure text) -> clusters, with the first failure for its labels.
    let mut failures: Grouped = BTreeMap::new();
    let mut fresh: BTreeMap<usize, BTreeMap<Digest, (Digest, Digest)>> = BTreeMap::new();
    for (out, s) in outs {
        stats.values_rendered += s.values_rendered;
        stats.values_reused += s.values_reused;
        stats.releases_cached += s.releases_cached;
        stats.chart_renders += s.chart_renders;
        stats.render_hits += s.render_hits;
        stats.releases += out.plan.releases.len() as u64;
        for (d, m) in out.manifests {
            manifests.0.entry(d).or_insert(m);
        }
        for (service, key, values, manifest) in out.fresh {
            fresh
                .entry(service)
                .or_default()
                .insert(key, (values, manifest));
        }
        for (service, f) in out.failures {
            let values = match &f {
                Failure::Render(_, values) => Some(*values),
                _ => None,
            };
            let group = failures
                .entry((service, f.text()))
                .or_insert_with(|| Group {
                    failure: f,
                    clusters: Vec::new(),
                    values: std::collections::BTreeSet::new(),
                });
            group.clusters.push(out.plan.name.clone());
            group.values.extend(values);
        }
        plans.push(out.plan);
    }
    if let Some(d) = disk {
        let fresh: Vec<_> = fresh.into_iter().collect();
        fresh.par_iter().for_each(|(service, new)| {
            let p = services[*service];
            write_outcomes(d, p, new, &manifests);
        });
    }
    for ((service, text), group) in failures {
        let p = services[service];
        report_failure(diags, files, p, &text, &group);
    }
    Rendered {
        plan: Plan::new(plans),
        manifests,
        digests,
        stats,
    }
}

fn load_chart<R: ChartRenderer>(
    files: ChartFiles,
    path: &str,
    renderer: &R,
) -> Result<Loaded<R::Chart>, ChartError> {
    if files.is_empty() {
        return Err(ChartError::Missing {
            path: path.to_owned(),
        });
    }
    let digest = chart_digest(&files);
    let (chart, ChartMeta { name, version }) = renderer.load(&files)?;
    Ok(Loaded {
        chart,
        pin: Arc::new(ChartPin {
            name: name.into(),
            version: version.into(),
            digest,
        }),
        dir: path.to_owned(),
    })
}

#[allow(clippy::too_many_arguments)]
fn render_cluster<R: ChartRenderer>(
    fleet: &Fleet,
    cluster: &ClusterName,
    waves: &Waves,
    services: &[&Prepared<'_, R::Chart>],
    index: &HashMap<&ServiceName, usize>,
    renderer: &R,
    cache: &RenderCache,
    secrets: &Arc<Secrets>,
    capture: Option<&crate::Capture>,
    stats: &mut Stats,
) -> ClusterOut {
    let mut out = ClusterOut {
        plan: ClusterPlan {
            name: Arc::from(cluster.as_str()),
            releases: Vec::new(),
        },
        failures: Vec::new(),
        manifests: Vec::new(),
        fresh: Vec::new(),
    };
    let Some(spec) = fleet.clusters.get(cluster) else {
        return out;
    };
    let data = spec.to_data();
    let mut cluster_value: Option<Value> = None;
    let mut cluster_json: Option<Arc<serde_json::Value>> = None;
    for (wave, names) in waves.0.iter().enumerate() {
        for name in names {
            let Some(&i) = index.get(name) else {
                continue;
            };
            let p = services[i];
            let key = outcome_key(projection(&p.chains, &data), spec.kubernetes.as_ref());
            // An earlier compile of this service version did this projection.
            let persisted = p.persisted.get(&key).and_then(|&(values, manifest)| {
                Some((values, manifest, p.pack.get(&manifest)?.clone(), false))
            });
            let outcome = match persisted {
                Some(hit) => {
                    stats.releases_cached += 1;
                    Ok(hit)
                }
                None => {
                    let slot = {
                        let mut memo = p.memo.lock().unwrap_or_else(|e| e.into_inner());
                        memo.entry(key).or_default().clone()
                    };
                    let mut fresh = false;
                    let outcome = slot.get_or_init(|| {
                        fresh = true;
                        stats.values_rendered += 1;
                        let value = cluster_value.get_or_insert_with(|| data_value(&data));
                        let cluster = cluster_json.get_or_insert_with(|| {
                            Arc::new(serde_json::to_value(&data).unwrap_or_default())
                        });
                        let render = RenderScope {
                            cluster: cluster.clone(),
                            service: p.service.clone(),
                        };
                        let scope = Arc::new(Scope::new(render, secrets));
                        let rendered = p
                            .template
                            .render_with(value, &p.data, Some(scope.clone()))
                            .map_err(|e| match scope.secrets.error() {
                                Some(secret) => Failure::Secret(e, Box::new(secret)),
                                None => Failure::Values(e),
                            })?;
                        let fragments = scope
                            .secrets
                            .values_from(p.values_from)
                            .map_err(|(i, e)| Failure::ValuesFrom(i, e))?;
                        let values = merge_under(&rendered, &fragments);
                        if let Some(c) = capture {
                            c.keep(&p.service, &values);
                        }
                        let read_secret = scope.secrets.read_any();
                        let values_digest = values_digest(&values);
                        let release = ReleaseRef {
                            name: &p.release,
                            namespace: &p.namespace,
                            kubernetes: spec.kubernetes.as_ref(),
                        };
                        let render_key =
                            render_key(renderer.id(), &p.chart.pin.digest, &values_digest, release);
                        let (manifest, text) = cache
                            .get(
                                render_key,
                                || renderer.render(&p.chart.chart, &values, release),
                                stats,
                            )
                            .map_err(|e| Failure::Render(e, values_digest))?;
                        Ok((values_digest, manifest, text, read_secret))
                    });
                    if !fresh {
                        stats.values_reused += 1;
                    }
                    outcome.clone()
                }
            };
            match outcome {
                Ok((values, manifest, text, read_secret)) => {
                    // Secret values never reach the disk cache; their renders are redone.
                    if !read_secret && !p.persisted.contains_key(&key) {
                        out.fresh.push((i, key, values, manifest));
                    }
                    out.manifests.push((manifest, text));
                    out.plan.releases.push(Release {
                        service: p.service.clone(),
                        name: p.release.clone(),
                        namespace: p.namespace.clone(),
                        wave: u32::try_from(wave).unwrap_or(u32::MAX),
                        version: p.version,
                        chart: p.chart.pin.clone(),
                        values,
                        manifest,
                    });
                }
                Err(f) => out.failures.push((i, f)),
            }
        }
    }
    out
}

/// Names clusters in a message: all of them when few, else the first ones and a count.
fn cluster_list(clusters: &[Arc<str>]) -> String {
    const SHOWN: usize = 5;
    let word = if clusters.len() == 1 {
        "cluster"
    } else {
        "clusters"
    };
    let names: Vec<String> = clusters
        .iter()
        .take(SHOWN)
        .map(|c| format!("`{c}`"))
        .collect();
    let more = clusters.len().saturating_sub(SHOWN);
    if more > 0 {
        format!("{word} {} and {more} more", names.join(", "))
    } else {
        format!("{word} {}", names.join(", "))
    }
}

fn report_failure<C>(
    diags: &mut Diags<'_>,
    files: &FleetFiles,
    p: &Prepared<'_, C>,
    text: &str,
    group: &Group,
) {
    let name = p.name;
    let on = cluster_list(&group.clusters);
    let failure = &group.failure;
    match failure {
        Failure::Values(ValuesError::Exec(e)) | Failure::Secret(ValuesError::Exec(e), _) => {
            let mut scratch = Report::new();
            let src = scratch.source(
                crate::values::template_name(name.as_str()),
                p.values_span.text.clone(),
            );
            diagnostics::template::exec_error(&mut scratch, src, e);
            for mut d in scratch.diagnostics {
                if d.help.is_none() {
                    d.help = crate::resolvers::plugin::help(&d.message);
                }
                let message = format!(
                    "the values of `{name}` failed on {on}: {}",
                    helm_exec_message(&d.message)
                );
                for l in &mut d.labels {
                    l.message = l
                        .message
                        .replace(HELM_ERR_START, "")
                        .replace(HELM_ERR_END, "");
                }
                if let Failure::Secret(_, secret) = failure {
                    d.code = code_of(secret).to_owned();
                    d.help = Some(help_of(secret));
                }
                push_mapped(
                    diags,
                    p.values_span,
                    &scratch.sources[src].text,
                    Diagnostic { message, ..d },
                );
            }
        }
        Failure::ValuesFrom(i, e) => {
            let span = p.values_from.get(*i).map_or(0..0, |e| e.span.clone());
            let (code, help) = match e.secret_error() {
                Some(secret) => (code_of(secret), help_of(secret)),
                None => (
                    "secrets::not-yaml",
                    "a `valuesFrom` key must hold a YAML mapping of values for the chart".into(),
                ),
            };
            diags.error_at(
                code,
                format!("the values of `{name}` failed on {on}: {text}"),
                p.file,
                span,
                "this entry of `valuesFrom`",
                Some(help),
            );
        }
        Failure::Values(ValuesError::Yaml { .. })
        | Failure::Secret(ValuesError::Yaml { .. }, _) => {
            let span = p.values_span;
            diags.error_at(
                "values::yaml",
                format!("the values `{name}` rendered on {on} are not a YAML mapping: {text}"),
                &span.file,
                span.file_range(0..0),
                "this template",
                Some("the values template must print a YAML mapping of values for the chart; check the indentation of what it prints".into()),
            );
        }
        Failure::Render(e, _) => {
            let message = format!(
                "the chart of `{name}` ({} {}) failed to render on {on}: {text}",
                p.chart.pin.name, p.chart.pin.version
            );
            let placed = e
                .template()
                .and_then(|t| place_in_chart(diags, files, &p.chart.pin, &p.chart.dir, t));
            let Some((mut labels, help)) = placed else {
                diags.error_at(
                    "chart::render",
                    message,
                    p.file,
                    p.chart_span.clone(),
                    "this chart",
                    None,
                );
                return;
            };
            let reads = match e.template() {
                Some(TemplateFailure::Exec(e)) => values_read(e),
                _ => Vec::new(),
            };
            labels.push(diags.note(
                p.file,
                p.chart_span.clone(),
                values_note(name, &group.values, &reads),
            ));
            let mut d = Diagnostic::error("chart::render", message);
            d.help = help;
            diags.push(d, labels);
        }
    }
}

/// Places a chart template's failure in the chart's files: the labels `diagnostics::template`
/// gives it, in the template files as the report shows them (a local chart's files under the
/// fleet, a repository chart's as `<name>-<version>/<path>`), and its hint. `None` when the
/// failed template is not one of the chart's files (a subchart packed as an archive).
fn place_in_chart(
    diags: &mut Diags<'_>,
    files: &FleetFiles,
    pin: &ChartPin,
    dir: &str,
    failure: TemplateFailure<'_>,
) -> Option<(Vec<Label>, Option<String>)> {
    let chart = crate::source::chart_files(files, dir);
    let remote = crate::remote::is_repository_dir(dir);
    let mut scratch = Report::new();
    // The chart path of each file of `scratch`.
    let mut paths: Vec<String> = Vec::new();
    // Renderers name a template `<chart name>/<path inside the chart>`.
    let mut add = |scratch: &mut Report, template: &str| -> Option<usize> {
        let path = template.strip_prefix(&*pin.name)?.strip_prefix('/')?;
        let bytes = chart.get(path)?;
        // Helm drops a byte order mark before it parses a template.
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let i = scratch.source(template, String::from_utf8_lossy(bytes).into_owned());
        if i == paths.len() {
            paths.push(path.to_owned());
        }
        Some(i)
    };
    match failure {
        TemplateFailure::Exec(e) => {
            let outer = add(&mut scratch, &e.location.as_deref()?.parse_name)?;
            let mut inner = e.cause.as_deref();
            while let Some(c) = inner {
                if let Some(loc) = c.location.as_deref() {
                    add(&mut scratch, &loc.parse_name);
                }
                inner = c.cause.as_deref();
            }
            diagnostics::template::exec_error(&mut scratch, outer, e);
        }
        TemplateFailure::Parse(e) => {
            let at = add(&mut scratch, &e.name)?;
            let funcs = FuncMap::helm();
            let known: Vec<&str> = funcs.names().collect();
            diagnostics::template::parse_error(&mut scratch, at, e, &known);
        }
    }
    let d = scratch.diagnostics.pop()?;
    let mut labels = Vec::with_capacity(d.labels.len() + 1);
    for l in &d.labels {
        let path = &paths[l.source];
        let name = if remote {
            format!("{}-{}/{path}", pin.name, pin.version)
        } else {
            files.display_name(&format!("{dir}/{path}"))
        };
        diags.add_text(&name, &scratch.sources[l.source].text);
        let message = l
            .message
            .replace(HELM_ERR_START, "")
            .replace(HELM_ERR_END, "");
        labels.push(if l.primary {
            diags.label(&name, l.span.clone(), message)
        } else {
            diags.note(&name, l.span.clone(), message)
        });
    }
    (!labels.is_empty()).then_some((labels, d.help))
}

/// The `.Values` field chains a failed chart action reads (`image.tag` of
/// `required "…" .Values.image.tag`).
fn values_read(e: &gotemplate::ExecError) -> Vec<String> {
    let Some(loc) = e.root_cause().location.as_deref() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for (i, _) in loc.context.match_indices(".Values.") {
        let rest = &loc.context[i + ".Values.".len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        let chain = rest[..end].trim_end_matches('.');
        if !chain.is_empty() && !out.iter().any(|c| c == chain) {
            out.push(chain.to_owned());
        }
    }
    out
}

/// The note on a service's `chart:` when its chart failed: the values it rendered with (as
/// their digests, which `plan.yaml` and `dev compile` show) and what the failed action read.
fn values_note(
    name: &ServiceName,
    values: &std::collections::BTreeSet<Digest>,
    reads: &[String],
) -> String {
    const SHOWN: usize = 3;
    let mut digests: Vec<String> = values
        .iter()
        .take(SHOWN)
        .map(|d| format!("sha256:{}…", d.short()))
        .collect();
    if values.len() > SHOWN {
        digests.push(format!("{} more", values.len() - SHOWN));
    }
    let word = if values.len() == 1 {
        "values"
    } else {
        "values sets"
    };
    let mut note = format!(
        "`{name}` renders this chart with its {word} {}",
        digests.join(", ")
    );
    if !reads.is_empty() {
        let reads: Vec<String> = reads.iter().map(|r| format!("`{r}`")).collect();
        note.push_str(&format!("; the failed action reads {}", reads.join(", ")));
    }
    note
}

const HELM_ERR_START: &str = "HELM_ERR_START";
const HELM_ERR_END: &str = "HELM_ERR_END";

/// Helm's wording of `fail` and `required` errors (its engine's `cleanupExecError`):
/// `execution error at (name:line:col): message`.
fn helm_exec_message(text: &str) -> String {
    let tokens: Vec<&str> = text.splitn(3, ": ").collect();
    if let [_, location, rest] = tokens.as_slice()
        && let Some(start) = rest.find(HELM_ERR_START)
        && let Some(end) = rest[start..].rfind(HELM_ERR_END)
    {
        let inner = &rest[start + HELM_ERR_START.len()..start + end];
        return format!("execution error at ({location}): {inner}");
    }
    text.to_owned()
}

/// Adds a diagnostic made against a template's own text, its labels moved into the file the
/// template is embedded in.
fn push_mapped(diags: &mut Diags<'_>, embedded: &Embedded, _text: &str, d: Diagnostic) {
    let labels: Vec<Label> = d
        .labels
        .iter()
        .map(|l| {
            let range = embedded.file_range(l.span.clone());
            if l.primary {
                diags.label(&embedded.file, range, l.message.clone())
            } else {
                diags.note(&embedded.file, range, l.message.clone())
            }
        })
        .collect();
    diags.push(d, labels);
}
