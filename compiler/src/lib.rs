//! The fleet compiler: from a fleet repository (clusters, service versions, policies) to a
//! deterministic plan.
//!
//! The core is pure: it reads [`FleetFiles`] (file contents in memory) and never fails; every
//! problem in what users wrote becomes a diagnostic, and all of them are reported together.
//! Phases: [`load`] (YAML with positions, validation), [`targeting`] (CEL selectors),
//! [`graph`] (dependencies and waves), [`render`] (values templates per cluster, charts through
//! a [`ChartRenderer`], the plan), with [`digest`] and [`values`] giving content addresses.
//! Secrets are read through the `secrets::SecretSource` in [`Options`] ([`resolvers`]), and
//! everything printed of a compilation is masked with its redactor ([`redact`]).

pub mod cache;
pub mod chart;
pub mod digest;
pub mod graph;
pub mod helm_renderer;
pub mod import;
pub mod incremental;
pub mod load;
pub mod migrate;
pub mod redact;
pub mod remote;
pub mod render;
pub mod resolvers;
pub mod review;
pub mod rollout;
pub mod source;
pub mod synthetic;
pub mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use diagnostics;
use diagnostics::{Diagnostic, Report};
use serde::Serialize;
pub use syntax::model;
pub(crate) use syntax::{diag, yaml};
pub use targeting;

pub use plan::Plan;

pub use crate::cache::DiskCache;
pub use crate::chart::ChartRenderer;
use crate::diag::Diags;
use crate::digest::ServiceDigest;
pub use crate::helm_renderer::HelmRenderer;
pub use crate::incremental::{Incremental, Recompile};
use crate::model::{ClusterName, Embedded, Fleet, Selection, ServiceName, Waves};
pub use crate::render::{Manifests, Progress, Stats};
pub use crate::source::{SourceError, read_dir};
use crate::targeting::{Explanation, Outcome, Problem};
pub use syntax::FleetFiles;

/// Everything the compiler learned about a fleet. The plan is applicable only when
/// `diagnostics` has no errors ([`Compilation::applicable`]); otherwise it holds what could be
/// compiled.
#[derive(Debug)]
pub struct Compilation {
    pub fleet: Fleet,
    pub selection: Selection,
    /// Each cluster's services in installation order.
    pub waves: BTreeMap<ClusterName, Waves>,
    /// Every service version's digest (spec, values template and chart files).
    pub digests: BTreeMap<ServiceName, ServiceDigest>,
    pub plan: Plan,
    /// The manifests the plan's releases name, by digest.
    pub manifests: Manifests,
    pub stats: Stats,
    /// How long each phase took (for `flotilla dev compile`; never part of a result).
    pub timings: Timings,
    /// Masks every secret value the compile read (see `secrets::redact`); the diagnostics
    /// are already masked with it.
    pub redactor: secrets::Redactor,
    pub diagnostics: Report,
}

/// Wall-clock time of each phase of a compile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub load: std::time::Duration,
    pub select: std::time::Duration,
    pub graph: std::time::Duration,
    /// Charts, values, renders and the plan.
    pub render: std::time::Duration,
}

impl Compilation {
    /// The plan and its manifests, when nothing went wrong.
    pub fn applicable(&self) -> Option<(&Plan, &Manifests)> {
        (!self.diagnostics.has_errors()).then_some((&self.plan, &self.manifests))
    }

    /// Whether a secret backend could not be reached (the CLI's exit code 3).
    pub fn remote_failure(&self) -> bool {
        self.diagnostics
            .diagnostics
            .iter()
            .any(|d| d.code == resolvers::vault::REMOTE_CODE)
    }
}

/// How to compile: the persistent cache, a progress callback, the secret source and the host
/// that loads the fleet's plugins (its compiled-code cache; by default one kept in memory), all
/// optional.
#[derive(Default, Clone, Copy)]
pub struct Options<'a> {
    pub cache: Option<&'a DiskCache>,
    pub progress: Option<Progress<'a>>,
    /// Where `vault`, `vaultYaml` and `valuesFrom` read secrets. `None`: the fleet's
    /// `secrets/` folder when the files were read from a folder ([`FleetFiles::root`]),
    /// otherwise no source (reading a secret is then an error).
    pub secrets: Option<&'a Arc<dyn secrets::SecretSource>>,
    pub plugin_host: Option<&'a plugins::PluginHost>,
    /// Keeps the values one service is rendered with (`flotilla render`; see
    /// [`render_release`]).
    pub capture: Option<&'a Capture>,
}

/// The values a service's release is rendered with, kept by a compile (of one cluster: on
/// more, the last rendered).
#[derive(Debug, Default)]
pub struct Capture {
    service: String,
    values: std::sync::Mutex<Option<gotemplate::Map>>,
}

impl Capture {
    pub fn new(service: impl Into<String>) -> Capture {
        Capture {
            service: service.into(),
            values: std::sync::Mutex::default(),
        }
    }

    pub(crate) fn keep(&self, service: &str, values: &gotemplate::Map) {
        if service == self.service {
            *self.values.lock().unwrap_or_else(|e| e.into_inner()) = Some(values.clone());
        }
    }

    /// The values kept, as YAML.
    pub fn values_yaml(&self) -> Option<String> {
        let values = self
            .values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        gotemplate::funcs::encoding::to_yaml(&gotemplate::Value::Map(values)).ok()
    }
}

/// One release's dry run: the values its chart is rendered with and its manifest.
#[derive(Debug)]
pub struct ReleaseRender {
    /// `None` when the service does not run on the cluster (or failed to render).
    pub values: Option<String>,
    pub manifest: Option<String>,
    /// The compile of the cluster alone (its diagnostics, its redactor).
    pub compilation: Compilation,
}

/// Renders `service` on `cluster` alone: the fleet compiled for that one cluster (no
/// persistent cache), keeping the values the chart was rendered with.
pub fn render_release<R: ChartRenderer>(
    files: &FleetFiles,
    renderer: &R,
    options: Options<'_>,
    service: &str,
    cluster: &str,
) -> ReleaseRender {
    let mut one = files.clone();
    one.files.retain(|path, _| {
        !path.starts_with("clusters/")
            || files
                .files
                .get(path)
                .is_some_and(|text| cluster_file_names(path, text, cluster))
    });
    let capture = Capture::new(service);
    let compilation = compile_with(
        &one,
        renderer,
        Options {
            cache: None,
            capture: Some(&capture),
            ..options
        },
    );
    let manifest = compilation
        .plan
        .cluster(cluster)
        .and_then(|c| c.releases.iter().find(|r| *r.service == *service))
        .and_then(|r| compilation.manifests.get(&r.manifest))
        .map(str::to_owned);
    ReleaseRender {
        values: manifest.as_ref().and(capture.values_yaml()),
        manifest,
        compilation,
    }
}

/// Whether the cluster file at `path` declares `cluster` (its `name:`, or its file name).
fn cluster_file_names(path: &str, text: &str, cluster: &str) -> bool {
    let stem = path
        .rsplit('/')
        .next()
        .and_then(|f| f.strip_suffix(".yaml").or_else(|| f.strip_suffix(".yml")));
    let declared = text.lines().find_map(|l| {
        l.strip_prefix("name:")
            .map(|n| n.trim().trim_matches(['"', '\'']).to_owned())
    });
    declared.as_deref() == Some(cluster) || (declared.is_none() && stem == Some(cluster))
}

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("cache", &self.cache)
            .field("progress", &self.progress.is_some())
            .field("secrets", &self.secrets.is_some())
            .field("plugin_host", &self.plugin_host)
            .field("capture", &self.capture.is_some())
            .finish()
    }
}

/// Compiles the fleet with Helm's renderer, no persistent cache, and the default secrets
/// (the fleet's `secrets/` folder when it was read from disk).
pub fn compile(files: &FleetFiles) -> Compilation {
    compile_with(files, &HelmRenderer, Options::default())
}

/// Loads, targets and orders the fleet, renders values and charts, and makes the plan.
pub fn compile_with<R: ChartRenderer>(
    files: &FleetFiles,
    renderer: &R,
    options: Options<'_>,
) -> Compilation {
    let mut timings = Timings::default();
    let mut clock = std::time::Instant::now();
    let mut lap = |slot: &mut std::time::Duration| {
        let now = std::time::Instant::now();
        *slot = now - clock;
        clock = now;
    };
    let mut diags = Diags::new(files);
    let fleet = load::load(files, &mut diags);
    lap(&mut timings.load);
    let bounds = targeting::data_bounds(&fleet);

    let mut selectors = Vec::new();
    // Where a service's selection is unknown (its selector failed), per service.
    let mut unknown: BTreeMap<ServiceName, BTreeSet<ClusterName>> = BTreeMap::new();
    // Selectors parse and check in parallel; results are used in service order.
    let compiled: Vec<_> = {
        use rayon::prelude::*;
        let specs: Vec<_> = fleet.services.iter().collect();
        specs
            .par_iter()
            .map(|(_, spec)| targeting::compile(&spec.selector.text, bounds))
            .collect()
    };
    for ((name, spec), result) in fleet.services.iter().zip(compiled) {
        match result {
            Ok(s) => selectors.push((name.as_str(), s)),
            Err(problems) => {
                report_selector(&mut diags, &spec.selector, &problems);
                unknown.insert(name.clone(), fleet.clusters.keys().cloned().collect());
            }
        }
    }
    let outcomes = targeting::evaluate_all(selectors.iter().map(|(n, s)| (*n, s)), &fleet);
    let cluster_names: Vec<&ClusterName> = fleet.clusters.keys().collect();
    let mut selected: Vec<Vec<ServiceName>> = vec![Vec::new(); cluster_names.len()];
    for (service, per_cluster) in &outcomes {
        let Some((name, spec)) = fleet.services.get_key_value(service.as_str()) else {
            continue;
        };
        // One diagnostic per distinct failure, naming the clusters it happened on.
        let mut failures: BTreeMap<&str, Vec<&ClusterName>> = BTreeMap::new();
        for (i, outcome) in per_cluster.iter().enumerate() {
            let Some(&cluster) = cluster_names.get(i) else {
                continue;
            };
            match outcome {
                Outcome::Selected => selected[i].push(name.clone()),
                Outcome::NotSelected => {}
                Outcome::Error(e) => {
                    failures.entry(e).or_default().push(cluster);
                    unknown
                        .entry(name.clone())
                        .or_default()
                        .insert(cluster.clone());
                }
            }
        }
        if failures.is_empty() {
            continue;
        }
        let Some((_, compiled)) = selectors.iter().find(|(n, _)| *n == service.as_str()) else {
            continue;
        };
        let failed: Vec<(&ClusterName, &str)> = failures
            .iter()
            .flat_map(|(error, clusters)| clusters.iter().map(|c| (*c, *error)))
            .collect();
        for report in targeting::report_failures(compiled, &fleet, &failed) {
            let range = spec.selector.file_range(report.failure.range.clone());
            let label = diags.label(&spec.selector.file, range, report.label());
            let help = match &report.help {
                Some(h) => format!("the service is not deployed where its selector fails; {h}"),
                None => "the service is not deployed where its selector fails".to_owned(),
            };
            diags.push(
                Diagnostic::error(
                    "cel::eval",
                    format!("the selector of `{name}` failed {}", report.describe()),
                )
                .with_help(help),
                vec![label],
            );
        }
    }
    let selection = Selection {
        clusters: cluster_names
            .iter()
            .zip(selected)
            .map(|(c, s)| ((*c).clone(), s.into_iter().collect()))
            .collect(),
    };
    lap(&mut timings.select);
    let waves = graph::order(&fleet, &selection, &unknown, &mut diags);
    lap(&mut timings.graph);
    let secrets = secrets_of(files, &options);
    let plugins = std::sync::Arc::new(resolvers::plugin::FleetPlugins::load(
        files,
        options.plugin_host,
        &mut diags,
    ));
    let rendered = render::render(
        files,
        &fleet,
        None,
        &waves,
        renderer,
        &plugins,
        options.cache,
        options.progress,
        &secrets,
        options.capture,
        &mut diags,
    );
    let mut plan = rendered.plan;
    plan.rollouts = rollout::plan(&fleet, &selection, &mut diags);
    lap(&mut timings.render);
    let redactor = finish_secrets(&secrets, &mut diags);
    Compilation {
        fleet,
        selection,
        waves,
        digests: rendered.digests,
        plan,
        manifests: rendered.manifests,
        stats: rendered.stats,
        timings,
        diagnostics: redact::report(diags.finish(), &redactor),
        redactor,
    }
}

/// Where the compile reads secrets: the source in `options`, else the fleet's `secrets/`
/// folder when it was read from disk.
fn secrets_of(files: &FleetFiles, options: &Options<'_>) -> Arc<resolvers::vault::Secrets> {
    let source = options.secrets.cloned().or_else(|| {
        let root = files.root.as_ref()?;
        let local: Arc<dyn secrets::SecretSource> =
            Arc::new(secrets::LocalSource::new(root.join("secrets")));
        Some(local)
    });
    Arc::new(resolvers::vault::Secrets::new(source))
}

/// Warns of secrets too short to be masked; gives the redactor of every secret read.
fn finish_secrets(secrets: &resolvers::vault::Secrets, diags: &mut Diags<'_>) -> secrets::Redactor {
    for key in secrets.too_short() {
        diags.push(
            Diagnostic::warning(
                "secrets::too-short",
                format!(
                    "secret `{key}` is shorter than {} characters: its value cannot be told \
                     apart from ordinary text, so it is not masked in what flotilla prints",
                    secrets::redact::MIN_REDACTED
                ),
            )
            .with_help("use a longer secret value"),
            Vec::new(),
        );
    }
    secrets.taint().redactor()
}

pub(crate) fn report_selector(diags: &mut Diags<'_>, selector: &Embedded, problems: &[Problem]) {
    // A block scalar's text ends with a line break: a range over the whole text stops at
    // its last character, not at the next key.
    let end = selector.text.trim_end().len();
    for p in problems {
        let start = p.range.start.min(end);
        let range = selector.file_range(start..p.range.end.clamp(start, end.max(start)));
        let label = diags.label(&selector.file, range, p.label.clone());
        let mut d = Diagnostic::error(p.code, p.message.clone());
        d.help = p.help.clone();
        diags.push(d, vec![label]);
    }
}

/// The name a selector given on the command line is shown under in diagnostics.
pub const COMMAND_LINE: &str = "<selector>";

/// The answer of `flotilla select`.
#[derive(Debug)]
pub struct SelectRun {
    /// The clusters the expression selects, sorted.
    pub matches: Vec<ClusterName>,
    /// With `explain`: how the expression decided on every cluster.
    pub explanations: BTreeMap<ClusterName, Explanation>,
    pub diagnostics: Report,
}

/// Evaluates a selector on the fleet's clusters (only the cluster files are read).
pub fn select(files: &FleetFiles, expr: &str, explain: bool) -> SelectRun {
    let clusters_only = FleetFiles {
        files: files
            .files
            .iter()
            .filter(|(k, _)| k.starts_with("clusters/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        unreadable: files
            .unreadable
            .iter()
            .filter(|(k, _)| k.starts_with("clusters/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        display_root: files.display_root.clone(),
        ..FleetFiles::default()
    };
    let mut diags = Diags::new(&clusters_only);
    let fleet = load::load(&clusters_only, &mut diags);
    diags.add_text(COMMAND_LINE, expr);
    let selector = Embedded::detached(expr, COMMAND_LINE);
    let mut matches = Vec::new();
    let mut explanations = BTreeMap::new();
    match targeting::compile(expr, targeting::data_bounds(&fleet)) {
        Err(problems) => report_selector(&mut diags, &selector, &problems),
        Ok(compiled) => {
            let evaluator = targeting::Evaluator::new();
            let mut failures: BTreeMap<String, Vec<&ClusterName>> = BTreeMap::new();
            for (name, cluster) in &fleet.clusters {
                let value = targeting::cluster_value(cluster);
                let outcome = evaluator.eval(&compiled, &value);
                match &outcome {
                    Outcome::Selected => matches.push(name.clone()),
                    Outcome::NotSelected => {}
                    Outcome::Error(e) => failures.entry(e.clone()).or_default().push(name),
                }
                if explain {
                    explanations.insert(name.clone(), evaluator.explain(&compiled, &value));
                }
            }
            let failed: Vec<(&ClusterName, &str)> = failures
                .iter()
                .flat_map(|(error, clusters)| clusters.iter().map(|c| (*c, error.as_str())))
                .collect();
            for report in targeting::report_failures(&compiled, &fleet, &failed) {
                let range = selector.file_range(report.failure.range.clone());
                let label = diags.label(COMMAND_LINE, range, report.label());
                let mut d = Diagnostic::error(
                    "cel::eval",
                    format!("the selector failed {}", report.describe()),
                );
                d.help = report.help.clone();
                diags.push(d, vec![label]);
            }
        }
    }
    SelectRun {
        matches,
        explanations,
        diagnostics: diags.finish(),
    }
}

#[derive(Serialize)]
struct ExplainedCluster<'a> {
    cluster: &'a ClusterName,
    selected: bool,
    #[serde(flatten)]
    explanation: &'a Explanation,
}

impl SelectRun {
    /// The matching clusters, one per line; with explanations, each cluster's clauses.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if self.explanations.is_empty() {
            for m in &self.matches {
                out.push_str(m.as_str());
                out.push('\n');
            }
            return out;
        }
        for (cluster, e) in &self.explanations {
            let verdict = match &e.outcome {
                Outcome::Selected => "selected".to_owned(),
                Outcome::NotSelected => "not selected".to_owned(),
                Outcome::Error(err) => format!("error: {err}"),
            };
            out.push_str(&format!("{cluster}: {verdict}\n"));
            for c in &e.clauses {
                let (value, mark) = match &c.value {
                    targeting::ClauseValue::Bool(b) => (b.to_string(), String::new()),
                    targeting::ClauseValue::Other(v) => ("value".to_owned(), format!("  <- {v}")),
                    targeting::ClauseValue::Error(err) => {
                        ("error".to_owned(), format!("  <- {err}"))
                    }
                };
                let mark = if c.decides && e.clauses.len() > 1 {
                    "  <- decides".to_owned()
                } else {
                    mark
                };
                out.push_str(&format!("  {value:<6} {}{mark}\n", c.text));
            }
        }
        out
    }

    /// The matching clusters as a JSON array; with explanations, an array of objects.
    pub fn render_json(&self) -> String {
        let json = if self.explanations.is_empty() {
            serde_json::to_string_pretty(&self.matches)
        } else {
            let list: Vec<ExplainedCluster<'_>> = self
                .explanations
                .iter()
                .map(|(cluster, explanation)| ExplainedCluster {
                    cluster,
                    selected: explanation.outcome == Outcome::Selected,
                    explanation,
                })
                .collect();
            serde_json::to_string_pretty(&list)
        };
        let mut s = json.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }
}
