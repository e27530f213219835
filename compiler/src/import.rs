//! `flotilla import helm-values`: a repository of per-cluster Helm values turned into a fleet,
//! then checked against the originals.
//!
//! The input (layout A): `DIR/inventory.yaml` (the clusters and their fields, the owners, and
//! per release its chart and namespace), `DIR/charts/<chart>/`, and a folder per release,
//! `DIR/<release>/values.yaml` (the base, optional) plus `DIR/<release>/<cluster>.yaml` for
//! every cluster the release runs on, each cluster's values being Helm's `-f values.yaml -f
//! <cluster>.yaml`.
//!
//! The output: `clusters/<name>.yaml`, `charts/<chart>/` (copied byte for byte) and one
//! `services/<release>/service.yaml` per release whose selector picks the clusters that had the
//! release, and whose values template gives, on each of them, exactly the values Helm was
//! given: a leaf common to all is written as it is; one that follows a cluster field becomes
//! `{{ .Cluster.field }}` (whole or inside a text); one decided by a field becomes an `if`
//! on that field; the rest is guarded by cluster name. Keys a cluster does not have are
//! guarded the same way. Values under secret-looking keys (`password`, `token`, …) move to the
//! fleet's local secrets (`secrets/secret/<release>[/<cluster>].yaml`) and are read with
//! `vault`; they are never printed.
//!
//! Then the check: the fleet is compiled by the compiler, the originals are rendered by the same
//! Helm engine (`helm template` of each release with its cluster's values), and both are
//! compared with [`crate::migrate`]. Invariants: the output is deterministic (same input, same
//! bytes), the fleet is written whole or not at all (staged beside `--out`, then renamed into
//! place; a folder that is not a previous import is never replaced), secret values are masked
//! in everything reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use diagnostics::{Diagnostic, Report};
use gotemplate::funcs::encoding;
use gotemplate::{Map, Value};
use serde::Serialize;
use syntax::FleetFiles;
use syntax::diag::{Diags, suggest};

use crate::chart::ChartRenderer as _;
use crate::migrate::{DiffError, MigrationDiff};
use crate::yaml::{self, Kind, Node};

/// The inventory file's name in the values repository.
pub const INVENTORY: &str = "inventory.yaml";
/// The file that marks a folder as written by an import (so a later import may replace it).
pub const MARKER: &str = ".flotilla-import";

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// The values repository.
    pub source: PathBuf,
    /// The fleet folder to write.
    pub out: PathBuf,
    /// The inventory (default `SOURCE/inventory.yaml`).
    pub inventory: Option<PathBuf>,
    /// Where the charts are (default `SOURCE/charts`).
    pub charts: Option<PathBuf>,
    /// Replace `out` when it holds a previous import.
    pub replace: bool,
}

/// Why an import could not run at all (problems in what the files say are diagnostics).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not empty and was not written by an import")]
    NotEmpty { path: PathBuf },
    #[error("{path} holds a previous import")]
    PreviousImport { path: PathBuf },
    #[error("cannot encode a value of {service} as YAML: {source}")]
    Encode {
        service: String,
        #[source]
        source: gotemplate::FuncError,
    },
    #[error("cannot read the imported fleet back: {0}")]
    Fleet(#[from] crate::SourceError),
    #[error("cannot compare with the originals: {0}")]
    Diff(#[from] DiffError),
}

impl ImportError {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ImportError::NotEmpty { .. } => Some("give --out a new or empty folder"),
            ImportError::PreviousImport { .. } => {
                Some("pass --force to replace it (edits made there since are lost)")
            }
            _ => None,
        }
    }
}

/// How a value of a release is written in its values template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "as")]
pub enum Written {
    /// `{{ .Cluster.field }}`.
    Field { field: String },
    /// A text around `{{ .Cluster.field }}`.
    Pattern { field: String },
    /// `if` on a field, one branch per distinct value.
    ByField { field: String, branches: usize },
    /// `if` on the cluster's name.
    PerCluster { branches: usize },
    /// A key only some clusters have, guarded by a condition.
    Guarded { condition: String },
    /// Read with `vault` from the fleet's local secrets.
    Secret { path: String },
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Written::Field { field } => write!(f, "follows cluster field `{field}`"),
            Written::Pattern { field } => write!(f, "a text around cluster field `{field}`"),
            Written::ByField { field, branches } => {
                write!(
                    f,
                    "decided by cluster field `{field}` ({branches} branches)"
                )
            }
            Written::PerCluster { branches } => {
                write!(f, "per cluster ({branches} branches)")
            }
            Written::Guarded { condition } => write!(f, "only where `{condition}`"),
            Written::Secret { path } => write!(f, "secret, read from `{path}`"),
        }
    }
}

/// One value path that is not the same literal on every cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueNote {
    pub path: String,
    #[serde(flatten)]
    pub written: Written,
}

/// One imported release.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceImport {
    pub name: String,
    pub chart: String,
    pub namespace: String,
    pub clusters: Vec<String>,
    /// The CEL selector written.
    pub selector: String,
    /// Values written as they are (the same on every cluster that has them).
    pub common: usize,
    pub notes: Vec<ValueNote>,
}

/// What an import did.
#[derive(Debug, Serialize)]
pub struct Imported {
    /// Problems in the inputs (with errors, nothing was written), then the imported fleet's
    /// compile diagnostics.
    #[serde(skip)]
    pub diagnostics: Report,
    pub clusters: usize,
    pub services: Vec<ServiceImport>,
    /// Where the fleet was written (`None`: nothing was).
    pub written: Option<PathBuf>,
    /// The compiled fleet against `helm template` of the originals.
    pub diff: Option<MigrationDiff>,
    /// Why releases are not byte-identical with helm's output, by release (also those that
    /// the comparison finds identical: a chart that renders randomly).
    pub reasons: BTreeMap<String, Vec<String>>,
    /// Masks every secret value read (the imported ones included).
    #[serde(skip)]
    pub redactor: secrets::Redactor,
}

impl Imported {
    fn failed(diagnostics: Report) -> Imported {
        Imported {
            diagnostics,
            clusters: 0,
            services: Vec::new(),
            written: None,
            diff: None,
            reasons: BTreeMap::new(),
            redactor: secrets::Redactor::default(),
        }
    }

    /// Whether the fleet was written and renders what the originals rendered.
    pub fn identical(&self) -> bool {
        self.written.is_some()
            && self.reasons.is_empty()
            && self.diff.as_ref().is_some_and(MigrationDiff::is_empty)
    }

    /// The report for people, secrets masked.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mask = |s: &str| self.redactor.redact(s);
        let mut out = String::new();
        let Some(at) = &self.written else {
            return out;
        };
        let _ = writeln!(
            out,
            "imported {} services on {} clusters into {}",
            self.services.len(),
            self.clusters,
            at.display()
        );
        for s in &self.services {
            let _ = writeln!(
                out,
                "\n{} (chart {}, namespace {}) on {} clusters: selector `{}`",
                s.name,
                s.chart,
                s.namespace,
                s.clusters.len(),
                s.selector
            );
            let _ = writeln!(out, "  {} values written as they are", s.common);
            for n in &s.notes {
                let _ = writeln!(out, "  {}: {}", n.path, mask(&n.written.to_string()));
            }
        }
        if let Some(diff) = &self.diff {
            let _ = writeln!(
                out,
                "\ncompared with helm template of the originals:\n{}",
                diff.render(&mask).trim_end()
            );
        }
        if !self.reasons.is_empty() {
            let _ = writeln!(out, "\nnot byte-identical with helm:");
            for (release, why) in &self.reasons {
                for w in why {
                    let _ = writeln!(out, "  {release}: {}", mask(w));
                }
            }
        }
        out
    }
}

/// A cluster of the inventory: its name, its string fields (`environment`, `tags.tier`) and
/// its cluster file.
#[derive(Debug, Clone)]
struct Cluster {
    name: String,
    fields: BTreeMap<String, String>,
    file: String,
}

/// A release of the repository.
#[derive(Debug, Clone)]
struct Release {
    name: String,
    chart: String,
    namespace: String,
    /// `{team: …}`, as a flow mapping.
    owners: String,
    /// Index into the clusters → its values (base merged with the cluster's file).
    values: BTreeMap<usize, Map>,
}

/// The fields conditions and selectors may use, in the order they are preferred: the ones
/// every cluster has.
fn grouping_fields(clusters: &[Cluster]) -> Vec<String> {
    let mut out: Vec<String> = ["environment", "provider", "region"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let tags: BTreeSet<&String> = clusters
        .iter()
        .flat_map(|c| c.fields.keys())
        .filter(|k| k.starts_with("tags."))
        .collect();
    for t in tags {
        if clusters.iter().all(|c| c.fields.contains_key(t)) {
            out.push(t.clone());
        }
    }
    out.retain(|f| clusters.iter().all(|c| c.fields.contains_key(f)));
    out
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Imports the repository at `config.source` into `config.out`. `Err` only when it could not
/// run; problems in the files are diagnostics (then nothing is written).
pub fn import_helm_values(config: &ImportConfig) -> Result<Imported, ImportError> {
    let inventory_path = config
        .inventory
        .clone()
        .unwrap_or_else(|| config.source.join(INVENTORY));
    let charts_dir = config
        .charts
        .clone()
        .unwrap_or_else(|| config.source.join("charts"));
    check_out(&config.out, config.replace)?;

    // Every input text, so that diagnostics can point into it.
    let mut inputs = FleetFiles::default();
    let inventory_name = display(&inventory_path);
    let inventory_text = read_text(&inventory_path)?;
    inputs
        .files
        .insert(inventory_name.clone(), inventory_text.clone());
    let folders = release_folders(&config.source, &charts_dir)?;
    let mut texts: Vec<(String, String, String)> = Vec::new(); // (folder, file, display name)
    for (folder, files) in &folders {
        for file in files {
            let path = config.source.join(folder).join(file);
            let name = display(&path);
            inputs.files.insert(name.clone(), read_text(&path)?);
            texts.push((folder.clone(), file.clone(), name));
        }
    }
    let mut diags = Diags::new(&inputs);
    let inventory = read_inventory(&inventory_name, &inventory_text, &mut diags);
    let Some(inventory) = inventory else {
        return Ok(Imported::failed(diags.finish()));
    };
    let clusters = inventory.clusters;
    let index: BTreeMap<&str, usize> = clusters
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();

    let mut releases = Vec::new();
    for folder in folders.keys() {
        let spec = inventory.releases.get(folder);
        let parse = |name: &str, diags: &mut Diags<'_>| -> Option<Map> {
            let text = inputs.text(name);
            match encoding::from_yaml_map(text, "chartutil.Values") {
                Ok(m) => Some(m),
                Err(e) => {
                    let at = match (e.line, e.column) {
                        (Some(line), Some(column)) => {
                            diagnostics::byte_offset(text, diagnostics::Position { line, column })
                        }
                        _ => 0,
                    };
                    // The end of the file: show its last line instead.
                    let end = text.trim_end().len();
                    let at = if at >= end { end.saturating_sub(1) } else { at };
                    diags.error_at(
                        "import::values",
                        format!("cannot read the values in {name}"),
                        name,
                        at..at,
                        e.message.clone(),
                        None,
                    );
                    None
                }
            }
        };
        let base = texts
            .iter()
            .find(|(f, file, _)| f == folder && file == "values.yaml")
            .and_then(|(_, _, name)| parse(name, &mut diags))
            .unwrap_or_default();
        let mut values = BTreeMap::new();
        for (_, file, name) in texts
            .iter()
            .filter(|(f, file, _)| f == folder && file != "values.yaml")
        {
            let cluster = file.trim_end_matches(".yaml").trim_end_matches(".yml");
            let Some(&i) = index.get(cluster) else {
                let help = suggest(cluster, index.keys().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("add `{cluster}` to {inventory_name}"));
                diags.error_at(
                    "import::unknown-cluster",
                    format!("{name} names no cluster of the inventory"),
                    name,
                    0..0,
                    "values of an unknown cluster",
                    Some(help),
                );
                continue;
            };
            if let Some(m) = parse(name, &mut diags) {
                values.insert(i, helm::values::merge_maps(&base, &m));
            }
        }
        let chart = spec
            .and_then(|s| s.chart.clone())
            .unwrap_or_else(|| folder.clone());
        if !charts_dir.join(&chart).join("Chart.yaml").is_file() {
            diags.push(
                Diagnostic::error(
                    "import::chart",
                    format!(
                        "release `{folder}` uses chart `{chart}`, but {} has no Chart.yaml",
                        display(&charts_dir.join(&chart))
                    ),
                )
                .with_help(format!(
                    "put the chart there, name it in {inventory_name} (`releases: {{{folder}: {{chart: NAME}}}}`), or pass --charts DIR"
                )),
                Vec::new(),
            );
        }
        let owners = spec
            .and_then(|s| s.owners.clone())
            .or_else(|| inventory.owners.clone());
        let Some(owners) = owners else {
            diags.push(
                Diagnostic::error(
                    "import::owners",
                    format!("release `{folder}` has no owners"),
                )
                .with_help(format!(
                    "give `owners: {{team: NAME}}` in {inventory_name}, for all releases or under `releases: {{{folder}: …}}`"
                )),
                Vec::new(),
            );
            continue;
        };
        if values.is_empty() {
            diags.push(
                Diagnostic::warning(
                    "import::no-clusters",
                    format!("release `{folder}` has values for no cluster: it is left out"),
                ),
                Vec::new(),
            );
            continue;
        }
        releases.push(Release {
            name: folder.clone(),
            namespace: spec
                .and_then(|s| s.namespace.clone())
                .unwrap_or_else(|| folder.clone()),
            chart,
            owners,
            values,
        });
    }
    for name in inventory.releases.keys() {
        if !folders.contains_key(name) {
            diags.push(
                Diagnostic::warning(
                    "import::no-folder",
                    format!(
                        "{inventory_name} describes release `{name}`, but there is no folder {}",
                        display(&config.source.join(name))
                    ),
                ),
                Vec::new(),
            );
        }
    }
    if diags.report.has_errors() {
        return Ok(Imported::failed(diags.finish()));
    }

    // The fleet, in memory.
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for c in &clusters {
        files.insert(
            format!("clusters/{}.yaml", c.name),
            c.file.clone().into_bytes(),
        );
    }
    let fields = grouping_fields(&clusters);
    let mut services = Vec::new();
    let mut charts: BTreeSet<&str> = BTreeSet::new();
    for r in &releases {
        let (service, text, secrets) = service_file(r, &clusters, &fields)?;
        files.insert(
            format!("services/{}/service.yaml", r.name),
            text.into_bytes(),
        );
        for (path, keys) in &secrets {
            let mut body = String::from(
                "# Secret values imported from the Helm values; keep them out of version control.\n",
            );
            for (k, v) in keys {
                body.push_str(&format!("{}: {}\n", json(k), json(v)));
            }
            files.insert(format!("secrets/{path}.yaml"), body.into_bytes());
        }
        if !secrets.is_empty() {
            files.insert(".gitignore".to_owned(), b"/secrets/\n".to_vec());
        }
        charts.insert(&r.chart);
        services.push(service);
    }
    for chart in charts {
        copy_chart(
            &charts_dir.join(chart),
            &format!("charts/{chart}"),
            &mut files,
        )?;
    }
    files.insert(
        MARKER.to_owned(),
        b"Written by `flotilla import helm-values`; a later import may replace this folder.\n"
            .to_vec(),
    );

    // Staged, checked, then moved into place.
    let staging = sibling(&config.out, "import");
    let _ = std::fs::remove_dir_all(&staging);
    let result = stage_and_check(&staging, &config.out, &files, &releases, &clusters);
    let (compilation, diff, reasons) = match result {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let mut report = diags.finish();
    let offset = report.sources.len();
    report
        .sources
        .extend(compilation.diagnostics.sources.iter().cloned());
    for d in &compilation.diagnostics.diagnostics {
        let mut d = d.clone();
        for l in &mut d.labels {
            l.source += offset;
        }
        report.push(d);
    }
    if compilation.diagnostics.has_errors() {
        let _ = std::fs::remove_dir_all(&staging);
        return Ok(Imported {
            redactor: compilation.redactor.clone(),
            ..Imported::failed(compilation.diagnostics)
        });
    }
    move_into_place(&staging, &config.out)?;
    Ok(Imported {
        diagnostics: report,
        clusters: clusters.len(),
        services,
        written: Some(config.out.clone()),
        diff: Some(diff),
        reasons,
        redactor: compilation.redactor,
    })
}

fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

fn read_text(path: &Path) -> Result<String, ImportError> {
    std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A folder beside `out` for this process (`.NAME.import-PID`).
fn sibling(out: &Path, what: &str) -> PathBuf {
    let name = out
        .file_name()
        .map_or_else(|| "fleet".into(), |n| n.to_string_lossy().into_owned());
    let parent = out.parent().unwrap_or(Path::new("."));
    parent.join(format!(".{name}.{what}-{}", std::process::id()))
}

/// `out` may be absent, empty, or (with `replace`) a previous import.
fn check_out(out: &Path, replace: bool) -> Result<(), ImportError> {
    let Ok(mut entries) = std::fs::read_dir(out) else {
        if out.exists() {
            return Err(ImportError::NotEmpty {
                path: out.to_path_buf(),
            });
        }
        return Ok(());
    };
    if entries.next().is_none() {
        return Ok(());
    }
    if !out.join(MARKER).is_file() {
        return Err(ImportError::NotEmpty {
            path: out.to_path_buf(),
        });
    }
    if !replace {
        return Err(ImportError::PreviousImport {
            path: out.to_path_buf(),
        });
    }
    Ok(())
}

fn move_into_place(staging: &Path, out: &Path) -> Result<(), ImportError> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Write { path, source }
    };
    let old = sibling(out, "previous");
    if out.exists() {
        std::fs::rename(out, &old).map_err(write_error(out))?;
    }
    if let Err(e) = std::fs::rename(staging, out) {
        if old.exists() {
            let _ = std::fs::rename(&old, out);
        }
        let _ = std::fs::remove_dir_all(staging);
        return Err(write_error(out)(e));
    }
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(write_error(&old))?;
    }
    Ok(())
}

/// The release folders of the repository (every folder but the charts' and hidden ones) and
/// their YAML files, sorted.
fn release_folders(
    source: &Path,
    charts: &Path,
) -> Result<BTreeMap<String, Vec<String>>, ImportError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Read { path, source }
    };
    let charts = charts.canonicalize().ok();
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(source).map_err(read_error(source))? {
        let entry = entry.map_err(read_error(source))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_dir() || name.starts_with('.') || path.canonicalize().ok() == charts {
            continue;
        }
        let mut files = Vec::new();
        for f in std::fs::read_dir(&path).map_err(read_error(&path))? {
            let f = f.map_err(read_error(&path))?;
            let file = f.file_name().to_string_lossy().into_owned();
            if f.path().is_file() && (file.ends_with(".yaml") || file.ends_with(".yml")) {
                files.push(file);
            }
        }
        files.sort();
        out.insert(name, files);
    }
    Ok(out)
}

/// What the inventory says.
#[derive(Debug, Default)]
struct Inventory {
    owners: Option<String>,
    clusters: Vec<Cluster>,
    releases: BTreeMap<String, ReleaseSpec>,
}

#[derive(Debug, Default)]
struct ReleaseSpec {
    chart: Option<String>,
    namespace: Option<String>,
    owners: Option<String>,
}

fn entries(node: &Node) -> &[yaml::Entry] {
    match &node.kind {
        Kind::Map(e) => e,
        _ => &[],
    }
}

fn read_inventory(name: &str, text: &str, diags: &mut Diags<'_>) -> Option<Inventory> {
    let parsed = yaml::parse(text);
    for p in &parsed.problems {
        diags.error_at(
            p.code,
            p.message.clone(),
            name,
            p.span.clone(),
            "here",
            p.help.clone(),
        );
    }
    let root = parsed.root?;
    let mut inv = Inventory::default();
    let expect = |node: &Node, what: &str, diags: &mut Diags<'_>| {
        diags.error_at(
            "import::inventory",
            format!("expected {what}, found {}", node.kind_name()),
            name,
            node.span.clone(),
            format!("not {what}"),
            None,
        );
    };
    if !matches!(root.kind, Kind::Map(_)) {
        expect(&root, "a mapping with `clusters:`", diags);
        return None;
    }
    let mut seen_clusters = false;
    for e in entries(&root) {
        let key = yaml::key_text(&e.key);
        match key.as_str() {
            "owners" => inv.owners = Some(owners(name, text, &e.value, diags)?),
            "clusters" => {
                seen_clusters = true;
                let Kind::Seq(items) = &e.value.kind else {
                    expect(&e.value, "a list of clusters", diags);
                    continue;
                };
                for item in items {
                    let name_node = entries(item)
                        .iter()
                        .find(|e| yaml::key_text(&e.key) == "name")
                        .map(|e| &e.value);
                    let Some(cluster) = name_node.and_then(Node::as_str) else {
                        diags.error_at(
                            "import::inventory",
                            "a cluster without a name",
                            name,
                            item.span.clone(),
                            "needs `name: CLUSTER`",
                            None,
                        );
                        continue;
                    };
                    if inv.clusters.iter().any(|c| c.name == cluster) {
                        diags.error_at(
                            "import::inventory",
                            format!("cluster `{cluster}` is listed twice"),
                            name,
                            item.span.clone(),
                            "again",
                            None,
                        );
                        continue;
                    }
                    let mut fields = BTreeMap::new();
                    for f in entries(item) {
                        let k = yaml::key_text(&f.key);
                        if k == "tags" {
                            for t in entries(&f.value) {
                                let tag = yaml::key_text(&t.key);
                                if let (true, Some(v)) = (is_ident(&tag), t.value.as_str()) {
                                    fields.insert(format!("tags.{tag}"), v.to_owned());
                                }
                            }
                        } else if let Some(v) = f.value.as_str() {
                            fields.insert(k, v.to_owned());
                        }
                    }
                    inv.clusters.push(Cluster {
                        name: cluster.to_owned(),
                        fields,
                        file: emit_node(text, item, 0),
                    });
                }
            }
            "releases" => {
                for r in entries(&e.value) {
                    let release = yaml::key_text(&r.key);
                    let mut spec = ReleaseSpec::default();
                    for f in entries(&r.value) {
                        let k = yaml::key_text(&f.key);
                        let value = f.value.as_str().map(str::to_owned);
                        match (k.as_str(), value) {
                            ("chart", Some(t)) => spec.chart = Some(t),
                            ("namespace", Some(t)) => spec.namespace = Some(t),
                            ("owners", _) => {
                                spec.owners = Some(owners(name, text, &f.value, diags)?);
                            }
                            _ => diags.error_at(
                                "import::inventory",
                                format!("unknown or mistyped field `{k}` of release `{release}`"),
                                name,
                                f.key.span.start..f.value.span.end,
                                "expected `chart`, `namespace` (texts) or `owners`",
                                None,
                            ),
                        }
                    }
                    inv.releases.insert(release, spec);
                }
            }
            other => diags.error_at(
                "import::inventory",
                format!("unknown field `{other}` in the inventory"),
                name,
                e.key.span.clone(),
                "unknown field",
                Some("the inventory has `owners`, `clusters` and `releases`".to_owned()),
            ),
        }
    }
    if !seen_clusters {
        diags.error_at(
            "import::inventory",
            "the inventory lists no clusters",
            name,
            0..0,
            "expected `clusters:`",
            None,
        );
    }
    Some(inv)
}

fn owners(file: &str, text: &str, node: &Node, diags: &mut Diags<'_>) -> Option<String> {
    let team = entries(node)
        .iter()
        .any(|e| yaml::key_text(&e.key) == "team" && e.value.as_str().is_some());
    if !team {
        diags.error_at(
            "import::inventory",
            "owners need a team",
            file,
            node.span.clone(),
            "expected `{team: NAME}`",
            None,
        );
        return None;
    }
    let fields: Vec<String> = entries(node)
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                yaml::key_text(&e.key),
                scalar_text(text, &e.value)
            )
        })
        .collect();
    Some(format!("{{{}}}", fields.join(", ")))
}

/// A JSON string: a YAML double-quoted scalar and a Go string literal.
fn json(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A text that the YAML readers (1.1 and 1.2) both read back as that very string, plain.
fn plain_ok(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
        && matches!(yaml::resolve_plain(s), Kind::Str(_))
        && encoding::from_yaml(s).is_ok_and(|v| v.as_str() == Some(s))
}

/// A scalar as it was written (a multi-line text as a JSON string).
fn scalar_text(text: &str, node: &Node) -> String {
    match &node.kind {
        Kind::Str(s) if s.contains('\n') => json(s),
        Kind::Str(s) if plain_ok(s) => s.clone(),
        Kind::Str(s) => json(s),
        _ => text
            .get(node.span.clone())
            .map_or_else(|| "null".to_owned(), |t| t.trim().to_owned()),
    }
}

/// A node of the inventory as block YAML, in the order it was written.
fn emit_node(text: &str, node: &Node, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    match &node.kind {
        Kind::Map(entries) if !entries.is_empty() => {
            for e in entries {
                let k = yaml::key_text(&e.key);
                let key = if plain_ok(&k) { k } else { json(&k) };
                match &e.value.kind {
                    Kind::Map(c) if !c.is_empty() => {
                        out.push_str(&format!(
                            "{pad}{key}:\n{}",
                            emit_node(text, &e.value, indent + 2)
                        ));
                    }
                    Kind::Seq(c) if !c.is_empty() => {
                        out.push_str(&format!(
                            "{pad}{key}:\n{}",
                            emit_node(text, &e.value, indent + 2)
                        ));
                    }
                    Kind::Map(_) => out.push_str(&format!("{pad}{key}: {{}}\n")),
                    Kind::Seq(_) => out.push_str(&format!("{pad}{key}: []\n")),
                    _ => out.push_str(&format!("{pad}{key}: {}\n", scalar_text(text, &e.value))),
                }
            }
        }
        Kind::Seq(items) if !items.is_empty() => {
            for item in items {
                let inner = emit_node(text, item, indent + 2);
                out.push_str(&format!("{pad}- {}", inner.trim_start()));
            }
        }
        Kind::Map(_) => out.push_str(&format!("{pad}{{}}\n")),
        Kind::Seq(_) => out.push_str(&format!("{pad}[]\n")),
        _ => out.push_str(&format!("{pad}{}\n", scalar_text(text, node))),
    }
    out
}

/// Copies a chart folder's files (bytes as they are) under `prefix`.
fn copy_chart(
    dir: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), ImportError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Read { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .collect::<Result<_, _>>()
        .map_err(read_error(dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let path = e.path();
        let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
        if path.is_dir() {
            copy_chart(&path, &name, files)?;
        } else {
            files.insert(name, std::fs::read(&path).map_err(read_error(&path))?);
        }
    }
    Ok(())
}

/// Whether a value under this key is a secret: the key names a password, a token or a key's
/// secret part (`password`, `dbPassword`, `apiToken`, `apiKey`, `clientSecret`, `secret`;
/// not `existingSecret` or `secretName`, which name a Secret object).
pub fn is_secret_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    k == "secret"
        || [
            "password",
            "passwd",
            "token",
            "apikey",
            "secretkey",
            "privatekey",
            "clientsecret",
            "accesskey",
        ]
        .iter()
        .any(|s| k.ends_with(s))
}

/// Writes one release's values template.
struct Gen<'a> {
    release: &'a str,
    clusters: &'a [Cluster],
    fields: &'a [String],
    out: String,
    common: usize,
    notes: Vec<ValueNote>,
    /// Secret path → key → value.
    secrets: BTreeMap<String, BTreeMap<String, String>>,
}

/// Go template text for a literal: `{{` would open an action.
fn lit(s: &str) -> String {
    s.replace("{{", "{{ \"{{\" }}")
}

fn to_yaml(release: &str, v: &Value) -> Result<String, ImportError> {
    encoding::to_yaml(v)
        .map(|s| s.trim_end_matches('\n').to_owned())
        .map_err(|source| ImportError::Encode {
            service: release.to_owned(),
            source,
        })
}

fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Map(m) if !m.is_empty())
        || matches!(v, Value::List(l) if !l.items().is_empty())
}

impl Gen<'_> {
    fn field_value(&self, c: usize, field: &str) -> Option<&str> {
        let cluster = &self.clusters[c];
        if field == "name" {
            return Some(&cluster.name);
        }
        cluster.fields.get(field).map(String::as_str)
    }

    /// A field that separates `groups` (no value of it in two groups), with the fewest values;
    /// the cluster's name when no other does with fewer values than clusters.
    fn separating_field(&self, groups: &[Vec<usize>]) -> String {
        let total: usize = groups.iter().map(Vec::len).sum();
        let mut best: Option<(usize, &String)> = None;
        for f in self.fields {
            let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
            let ok = groups.iter().enumerate().all(|(g, members)| {
                members.iter().all(|&c| {
                    let Some(v) = self.field_value(c, f) else {
                        return false;
                    };
                    *owner.entry(v).or_insert(g) == g
                })
            });
            if ok && owner.len() < total && best.is_none_or(|(n, _)| owner.len() < n) {
                best = Some((owner.len(), f));
            }
        }
        best.map_or_else(|| "name".to_owned(), |(_, f)| f.clone())
    }

    fn values_of(&self, field: &str, members: &[usize]) -> Vec<String> {
        let set: BTreeSet<&str> = members
            .iter()
            .filter_map(|&c| self.field_value(c, field))
            .collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// A template condition true on `subset` and false on the rest of `members`.
    fn condition(&self, members: &[usize], subset: &[usize]) -> String {
        let rest: Vec<usize> = members
            .iter()
            .copied()
            .filter(|c| !subset.contains(c))
            .collect();
        let field = self.separating_field(&[subset.to_vec(), rest.clone()]);
        let yes = self.values_of(&field, subset);
        let no = self.values_of(&field, &rest);
        let quoted = |vs: &[String]| vs.iter().map(|v| json(v)).collect::<Vec<_>>().join(" ");
        if no.len() < yes.len() {
            if no.len() == 1 {
                format!("ne .Cluster.{field} {}", quoted(&no))
            } else {
                format!("not (eq .Cluster.{field} {})", quoted(&no))
            }
        } else {
            format!("eq .Cluster.{field} {}", quoted(&yes))
        }
    }

    fn line(&mut self, indent: usize, text: &str) {
        self.out.push_str(&" ".repeat(indent));
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// `key: value` for a literal value, as block YAML under the key.
    fn literal(&mut self, indent: usize, key: &str, v: &Value) -> Result<(), ImportError> {
        let text = lit(&to_yaml(self.release, v)?);
        if is_collection(v) {
            self.line(indent, &format!("{key}:"));
            for l in text.lines() {
                self.line(indent + 2, l);
            }
        } else {
            let mut lines = text.lines();
            self.line(
                indent,
                &format!("{key}: {}", lines.next().unwrap_or_default()),
            );
            for l in lines {
                self.line(indent, l);
            }
        }
        Ok(())
    }

    fn map(
        &mut self,
        path: &str,
        indent: usize,
        members: &[usize],
        maps: &[Map],
    ) -> Result<(), ImportError> {
        let keys: BTreeSet<String> = maps.iter().flat_map(Map::keys).collect();
        for key in keys {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let present: Vec<(usize, Value)> = members
                .iter()
                .zip(maps)
                .filter_map(|(&c, m)| m.get(&key).map(|v| (c, v)))
                .collect();
            let who: Vec<usize> = present.iter().map(|(c, _)| *c).collect();
            let values: Vec<Value> = present.into_iter().map(|(_, v)| v).collect();
            if who.len() < members.len() {
                let condition = self.condition(members, &who);
                self.notes.push(ValueNote {
                    path: child.clone(),
                    written: Written::Guarded {
                        condition: condition.clone(),
                    },
                });
                self.line(indent, &format!("{{{{- if {condition} }}}}"));
                self.key(&child, &key, indent, &who, &values)?;
                self.line(indent, "{{- end }}");
            } else {
                self.key(&child, &key, indent, &who, &values)?;
            }
        }
        Ok(())
    }

    fn key(
        &mut self,
        path: &str,
        key: &str,
        indent: usize,
        members: &[usize],
        values: &[Value],
    ) -> Result<(), ImportError> {
        let shown = match to_yaml(self.release, &Value::string(key)) {
            Ok(t) if !t.contains('\n') && !t.starts_with(['|', '>']) => lit(&t),
            _ => lit(&json(key)),
        };
        let maps: Option<Vec<Map>> = values
            .iter()
            .map(|v| match v {
                Value::Map(m) if !m.is_empty() => Some(m.clone()),
                _ => None,
            })
            .collect();
        if let Some(maps) = maps {
            self.line(indent, &format!("{shown}:"));
            return self.map(path, indent + 2, members, &maps);
        }
        let texts: Option<Vec<&str>> = values.iter().map(Value::as_str).collect();
        if let (Some(texts), true) = (&texts, is_secret_key(key)) {
            return self.secret(path, &shown, indent, members, texts);
        }
        let first = &values[0];
        if values.iter().all(|v| v == first) {
            self.common += 1;
            return self.literal(indent, &shown, first);
        }
        if let Some(texts) = &texts
            && let Some((field, template, whole)) = self.follows(members, texts)
        {
            self.notes.push(ValueNote {
                path: path.to_owned(),
                written: if whole {
                    Written::Field { field }
                } else {
                    Written::Pattern { field }
                },
            });
            self.line(indent, &format!("{shown}: {template}"));
            return Ok(());
        }
        self.branches(path, &shown, indent, members, values)
    }

    /// A text that is each cluster's value of a field, whole or between a fixed prefix and
    /// suffix: the field, the template text, whether it is whole.
    fn follows(&self, members: &[usize], texts: &[&str]) -> Option<(String, String, bool)> {
        let candidates: Vec<&str> = std::iter::once("name")
            .chain(self.fields.iter().map(String::as_str))
            .collect();
        for whole in [true, false] {
            for &f in &candidates {
                let Some(first) = self.field_value(members[0], f) else {
                    continue;
                };
                if first.is_empty() {
                    continue;
                }
                let starts: Vec<usize> = texts[0].match_indices(first).map(|(i, _)| i).collect();
                for start in starts {
                    let (prefix, suffix) = (&texts[0][..start], &texts[0][start + first.len()..]);
                    if whole != (prefix.is_empty() && suffix.is_empty()) {
                        continue;
                    }
                    let fits = members.iter().zip(texts).all(|(&c, t)| {
                        self.field_value(c, f)
                            .is_some_and(|v| !v.is_empty() && *t == format!("{prefix}{v}{suffix}"))
                    });
                    if !fits {
                        continue;
                    }
                    let action = format!("{{{{ .Cluster.{f} }}}}");
                    if texts.iter().all(|t| plain_ok(t)) {
                        return Some((
                            f.to_owned(),
                            format!("{}{action}{}", lit(prefix), lit(suffix)),
                            whole,
                        ));
                    }
                    let simple =
                        |s: &str| !s.chars().any(|c| c == '"' || c == '\\' || c.is_control());
                    if members
                        .iter()
                        .all(|&c| self.field_value(c, f).is_some_and(simple))
                    {
                        let inner = |s: &str| {
                            let j = json(s);
                            lit(&j[1..j.len() - 1])
                        };
                        return Some((
                            f.to_owned(),
                            format!("\"{}{action}{}\"", inner(prefix), inner(suffix)),
                            whole,
                        ));
                    }
                }
            }
        }
        None
    }

    /// One branch per distinct value, on the field that separates them.
    fn branches(
        &mut self,
        path: &str,
        key: &str,
        indent: usize,
        members: &[usize],
        values: &[Value],
    ) -> Result<(), ImportError> {
        let mut groups: Vec<(Value, Vec<usize>)> = Vec::new();
        for (&c, v) in members.iter().zip(values) {
            match groups.iter_mut().find(|(g, _)| g == v) {
                Some((_, cs)) => cs.push(c),
                None => groups.push((v.clone(), vec![c])),
            }
        }
        let sets: Vec<Vec<usize>> = groups.iter().map(|(_, cs)| cs.clone()).collect();
        let field = self.separating_field(&sets);
        self.notes.push(ValueNote {
            path: path.to_owned(),
            written: if field == "name" {
                Written::PerCluster {
                    branches: groups.len(),
                }
            } else {
                Written::ByField {
                    field: field.clone(),
                    branches: groups.len(),
                }
            },
        });
        // The largest group is the `else` (the first of the largest).
        let default = (0..groups.len())
            .rev()
            .max_by_key(|&i| groups[i].1.len())
            .unwrap_or(0);
        let mut order: Vec<usize> = (0..groups.len()).filter(|&i| i != default).collect();
        order.push(default);
        let texts: Vec<String> = groups
            .iter()
            .map(|(v, _)| to_yaml(self.release, v).map(|t| lit(&t)))
            .collect::<Result<_, _>>()?;
        let conditions: Vec<String> = order
            .iter()
            .map(|&i| {
                let vs: Vec<String> = self
                    .values_of(&field, &groups[i].1)
                    .iter()
                    .map(|v| json(v))
                    .collect();
                format!("eq .Cluster.{field} {}", vs.join(" "))
            })
            .collect();
        let inline = groups
            .iter()
            .zip(&texts)
            .all(|((v, _), t)| !is_collection(v) && !t.contains('\n'));
        if inline {
            let mut s = format!("{key}: ");
            for (n, &i) in order.iter().enumerate() {
                if n + 1 == order.len() {
                    s.push_str(&format!("{{{{ else }}}}{}{{{{ end }}}}", texts[i]));
                } else {
                    let word = if n == 0 { "if" } else { "else if" };
                    s.push_str(&format!("{{{{ {word} {} }}}}{}", conditions[n], texts[i]));
                }
            }
            self.line(indent, &s);
            return Ok(());
        }
        self.line(indent, &format!("{key}:"));
        for (n, &i) in order.iter().enumerate() {
            if n + 1 == order.len() {
                self.line(indent, "{{- else }}");
            } else {
                let word = if n == 0 { "if" } else { "else if" };
                self.line(indent, &format!("{{{{- {word} {} }}}}", conditions[n]));
            }
            for l in texts[i].lines() {
                self.line(indent + 2, l);
            }
        }
        self.line(indent, "{{- end }}");
        Ok(())
    }

    /// A secret text: read with `vault` from the release's secret (one for all clusters when
    /// it is the same everywhere, else one per cluster).
    fn secret(
        &mut self,
        path: &str,
        key: &str,
        indent: usize,
        members: &[usize],
        texts: &[&str],
    ) -> Result<(), ImportError> {
        let common = texts.iter().all(|t| *t == texts[0]);
        let base = format!("secret/{}", self.release);
        let read = if common {
            self.secrets
                .entry(base.clone())
                .or_default()
                .insert(path.to_owned(), texts[0].to_owned());
            self.notes.push(ValueNote {
                path: path.to_owned(),
                written: Written::Secret { path: base.clone() },
            });
            format!("vault {}", json(&base))
        } else {
            for (&c, t) in members.iter().zip(texts) {
                self.secrets
                    .entry(format!("{base}/{}", self.clusters[c].name))
                    .or_default()
                    .insert(path.to_owned(), (*t).to_owned());
            }
            self.notes.push(ValueNote {
                path: path.to_owned(),
                written: Written::Secret {
                    path: format!("{base}/<cluster>"),
                },
            });
            format!("vault (print {} .Cluster.name)", json(&format!("{base}/")))
        };
        self.line(
            indent,
            &format!("{key}: {{{{ {read} {} | quote }}}}", json(path)),
        );
        Ok(())
    }
}

/// The CEL selector of the clusters in `members`.
fn selector(clusters: &[Cluster], fields: &[String], members: &[usize]) -> String {
    if members.len() == clusters.len() {
        return "true".to_owned();
    }
    let all: Vec<usize> = (0..clusters.len()).collect();
    let value = |c: usize, f: &str| clusters[c].fields.get(f).map(String::as_str);
    let values =
        |f: &str| -> BTreeSet<&str> { members.iter().filter_map(|&c| value(c, f)).collect() };
    let clause = |f: &str| -> String {
        let vs: Vec<String> = values(f).iter().map(|v| json(v)).collect();
        if vs.len() == 1 {
            format!("cluster.{f} == {}", vs[0])
        } else {
            format!("cluster.{f} in [{}]", vs.join(", "))
        }
    };
    let picks = |fs: &[&str]| -> bool {
        let sets: Vec<BTreeSet<&str>> = fs.iter().map(|f| values(f)).collect();
        let chosen: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&c| {
                fs.iter()
                    .zip(&sets)
                    .all(|(f, s)| value(c, f).is_some_and(|v| s.contains(v)))
            })
            .collect();
        chosen == members
    };
    for f in fields {
        if picks(&[f.as_str()]) {
            // `!=` when only one value is left out.
            let out: BTreeSet<&str> = all
                .iter()
                .filter(|c| !members.contains(c))
                .filter_map(|&c| value(c, f))
                .collect();
            let rest: BTreeSet<&str> = all.iter().filter_map(|&c| value(c, f)).collect();
            if out.len() == 1 && values(f).len() + 1 == rest.len() && values(f).len() > 1 {
                let v = out.iter().next().map(|v| json(v)).unwrap_or_default();
                return format!("cluster.{f} != {v}");
            }
            return clause(f);
        }
    }
    // Two fields: the pair with the fewest values.
    let mut best: Option<(usize, &String, &String)> = None;
    for (i, a) in fields.iter().enumerate() {
        for b in &fields[i + 1..] {
            let n = values(a).len() + values(b).len();
            if best.is_none_or(|(m, _, _)| n < m) && picks(&[a.as_str(), b.as_str()]) {
                best = Some((n, a, b));
            }
        }
    }
    if let Some((_, a, b)) = best {
        return format!("{} && {}", clause(a), clause(b));
    }
    let names: Vec<String> = members.iter().map(|&c| json(&clusters[c].name)).collect();
    format!("cluster.name in [{}]", names.join(", "))
}

/// A release's service: its report, its `service.yaml` and its secrets.
type ServiceFile = (
    ServiceImport,
    String,
    BTreeMap<String, BTreeMap<String, String>>,
);

fn service_file(
    r: &Release,
    clusters: &[Cluster],
    fields: &[String],
) -> Result<ServiceFile, ImportError> {
    let members: Vec<usize> = r.values.keys().copied().collect();
    let maps: Vec<Map> = r.values.values().cloned().collect();
    let mut g = Gen {
        release: &r.name,
        clusters,
        fields,
        out: String::new(),
        common: 0,
        notes: Vec::new(),
        secrets: BTreeMap::new(),
    };
    g.map("", 0, &members, &maps)?;
    let selector = selector(clusters, fields, &members);
    let name_text = |s: &str| if plain_ok(s) { s.to_owned() } else { json(s) };
    let selector_text = format!("'{}'", selector.replace('\'', "''"));
    let mut text = format!(
        "# Imported by `flotilla import helm-values` from {}/ ({} clusters).\n\
         name: {}\nowners: {}\nchart: {{path: ../../charts/{}}}\nselector: {selector_text}\n\
         release: {{name: {}, namespace: {}}}\n",
        r.name,
        members.len(),
        name_text(&r.name),
        r.owners,
        r.chart,
        name_text(&r.name),
        name_text(&r.namespace),
    );
    if g.out.is_empty() {
        text.push_str("values: ''\n");
    } else {
        text.push_str("values: |\n");
        for l in g.out.lines() {
            if l.is_empty() {
                text.push('\n');
            } else {
                text.push_str("  ");
                text.push_str(l);
                text.push('\n');
            }
        }
    }
    let service = ServiceImport {
        name: r.name.clone(),
        chart: r.chart.clone(),
        namespace: r.namespace.clone(),
        clusters: members.iter().map(|&c| clusters[c].name.clone()).collect(),
        selector,
        common: g.common,
        notes: g.notes,
    };
    Ok((service, text, g.secrets))
}

type Checked = (
    crate::Compilation,
    MigrationDiff,
    BTreeMap<String, Vec<String>>,
);

/// Writes the fleet to `staging`, compiles it, renders the originals and compares.
fn stage_and_check(
    staging: &Path,
    out: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    releases: &[Release],
    clusters: &[Cluster],
) -> Result<Checked, ImportError> {
    for (path, bytes) in files {
        let file = staging.join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ImportError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&file, bytes).map_err(|source| ImportError::Write { path: file, source })?;
    }
    let mut fleet = crate::read_dir(staging)?;
    fleet.set_display_root(out);
    let compilation = crate::compile(&fleet);
    if compilation.diagnostics.has_errors() {
        return Ok((compilation, MigrationDiff::default(), BTreeMap::new()));
    }
    let renderer = crate::HelmRenderer;
    let mut theirs = BTreeMap::new();
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut loaded = BTreeMap::new();
    for r in releases {
        let chart_dir = format!("charts/{}", r.chart);
        if !loaded.contains_key(&r.chart) {
            let chart_files = crate::source::chart_files(&fleet, &chart_dir);
            loaded.insert(r.chart.clone(), renderer.load(&chart_files));
        }
        let chart = match &loaded[&r.chart] {
            Ok((chart, _)) => chart,
            Err(e) => {
                reasons
                    .entry(r.name.clone())
                    .or_default()
                    .push(format!("chart `{}` does not load: {e}", r.chart));
                continue;
            }
        };
        for (&c, values) in &r.values {
            let name = &clusters[c].name;
            let kubernetes = compilation
                .fleet
                .clusters
                .get(name.as_str())
                .and_then(|spec| spec.kubernetes.as_ref());
            let release = crate::chart::ReleaseRef {
                name: &r.name,
                namespace: &r.namespace,
                kubernetes,
            };
            match renderer.render(chart, values, release) {
                Ok(manifest) => {
                    theirs.insert((name.clone(), r.name.clone()), manifest);
                }
                Err(e) => reasons
                    .entry(r.name.clone())
                    .or_default()
                    .push(format!("the original values do not render on {name}: {e}")),
            }
        }
    }
    let mut ours = BTreeMap::new();
    for c in &compilation.plan.clusters {
        for r in &c.releases {
            let text = compilation.manifests.get(&r.manifest).unwrap_or_default();
            ours.insert((c.name.to_string(), r.name.to_string()), text.to_owned());
        }
    }
    let diff = MigrationDiff::of(&theirs, &ours)?;
    let differing: BTreeSet<&str> = diff
        .differences
        .iter()
        .map(|d| d.release.as_str())
        .collect();
    // A chart that draws random values or reads the clock renders the same here (the engine is
    // seeded) but differently on every helm run: what it made is not what is deployed.
    for r in releases {
        let chart_files = crate::source::chart_files(&fleet, &format!("charts/{}", r.chart));
        let mut why = nondeterminism(&r.chart, &chart_files);
        if why.is_empty() && differing.contains(r.name.as_str()) && !reasons.contains_key(&r.name) {
            why.push(format!(
                "unexplained: compare `flotilla render {} --cluster NAME --values-only` with the original values",
                r.name
            ));
        }
        if !why.is_empty() {
            reasons.entry(r.name.clone()).or_default().extend(why);
        }
    }
    Ok((compilation, diff, reasons))
}

/// Template functions whose output differs on every render.
const RANDOM: &[&str] = &[
    "randAlphaNum",
    "randAlpha",
    "randNumeric",
    "randAscii",
    "randBytes",
    "randInt",
    "uuidv4",
    "genCA",
    "genCAWithKey",
    "genPrivateKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "htpasswd",
    "bcrypt",
    "now",
];

/// Why a chart renders differently each time: the templates that call random or clock
/// functions, by function.
fn nondeterminism(chart: &str, files: &crate::chart::ChartFiles) -> Vec<String> {
    let mut out = Vec::new();
    for (path, data) in files {
        if !path.starts_with("templates/") {
            continue;
        }
        let text = String::from_utf8_lossy(data);
        let mut called: Vec<&str> = RANDOM
            .iter()
            .copied()
            .filter(|f| {
                text.match_indices(f).any(|(i, _)| {
                    let before = text[..i].chars().next_back();
                    let after = text[i + f.len()..].chars().next();
                    !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '$')
                        && !after.is_some_and(|c| c.is_ascii_alphanumeric())
                })
            })
            .collect();
        called.dedup();
        if !called.is_empty() {
            let called: Vec<String> = called.iter().map(|f| format!("`{f}`")).collect();
            out.push(format!(
                "chart `{chart}` calls {} in {path}: helm renders it differently on every run, so what it renders cannot match what is deployed (give the value it generates in the values)",
                called.join(", ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gotemplate::{ExecOptions, FuncMap, MissingKey, Template};

    use super::*;

    /// dev-a (aws), dev-b (gcp), prod-a (aws), prod-b (gcp), edge (azure, prod): regions and a
    /// `tier` tag.
    fn clusters() -> Vec<Cluster> {
        [
            ("dev-a", "dev", "aws", "eu-west-1", "core"),
            ("dev-b", "dev", "gcp", "us-central1", "core"),
            ("prod-a", "prod", "aws", "eu-west-1", "core"),
            ("prod-b", "prod", "gcp", "us-central1", "core"),
            ("edge", "prod", "azure", "eastus", "edge"),
        ]
        .iter()
        .map(|(name, env, provider, region, tier)| Cluster {
            name: (*name).to_owned(),
            fields: BTreeMap::from([
                ("environment".to_owned(), (*env).to_owned()),
                ("provider".to_owned(), (*provider).to_owned()),
                ("region".to_owned(), (*region).to_owned()),
                ("tags.tier".to_owned(), (*tier).to_owned()),
            ]),
            file: String::new(),
        })
        .collect()
    }

    fn cluster_value(c: &Cluster) -> Value {
        let m = Map::new();
        m.insert("name", Value::string(c.name.as_str()));
        let tags = Map::new();
        for (k, v) in &c.fields {
            match k.strip_prefix("tags.") {
                Some(t) => tags.insert(t, Value::string(v.as_str())),
                None => m.insert(k.as_str(), Value::string(v.as_str())),
            };
        }
        m.insert("tags", Value::Map(tags));
        Value::Map(m)
    }

    /// The values template written for `files` (cluster index, values as YAML), checked to give
    /// every cluster exactly its values when rendered as Flotilla renders values templates.
    fn check(files: &[(usize, &str)]) -> String {
        let clusters = clusters();
        let fields = grouping_fields(&clusters);
        let values: BTreeMap<usize, Map> = files
            .iter()
            .map(|(i, t)| (*i, encoding::from_yaml_map(t, "v").expect("test values")))
            .collect();
        let mut g = Gen {
            release: "r",
            clusters: &clusters,
            fields: &fields,
            out: String::new(),
            common: 0,
            notes: Vec::new(),
            secrets: BTreeMap::new(),
        };
        let members: Vec<usize> = values.keys().copied().collect();
        let maps: Vec<Map> = values.values().cloned().collect();
        g.map("", 0, &members, &maps).expect("written");
        let mut t = Template::new(Arc::new(FuncMap::helm()));
        t.set_root_name("gotpl");
        t.parse("r/values", &g.out)
            .unwrap_or_else(|e| panic!("{e}\n{}", g.out));
        for (i, want) in &values {
            let data = Map::new();
            data.insert("Cluster", cluster_value(&clusters[*i]));
            let options = ExecOptions {
                missing_key: MissingKey::Zero,
                ..ExecOptions::default()
            };
            let out = t
                .execute("r/values", &Value::Map(data), &options)
                .unwrap_or_else(|e| panic!("{e}\n{}", g.out));
            let got = encoding::from_yaml_map(&out, "v")
                .unwrap_or_else(|e| panic!("{}\n{out}", e.message));
            assert_eq!(
                Value::Map(got),
                Value::Map(want.clone()),
                "on {}:\n{}\nrendered:\n{out}",
                clusters[*i].name,
                g.out
            );
        }
        g.out
    }

    #[test]
    fn common_values_keep_their_types() {
        let values = "a: \"1.0\"\nb: \"yes\"\nc: \"on\"\nd: 012\ne: \"{{ .Release.Name }}-x\"\nf: |\n  line one\n  line two\ng: null\nh: {}\ni: []\nj: 1e3\nk: [1, \"2\", {x: \"null\"}]\n\"on\": 1\n";
        let t = check(&[(0, values), (1, values), (2, values)]);
        assert!(t.contains("e: '{{ \"{{\" }} .Release.Name }}-x'"), "{t}");
        assert!(t.contains("\"on\": 1"), "{t}");
    }

    #[test]
    fn values_that_follow_a_field_use_it() {
        let t = check(&[
            (
                0,
                "region: eu-west-1\nurl: https://eu-west-1.example.com/x\nhost: db.eu-west-1\n",
            ),
            (
                1,
                "region: us-central1\nurl: https://us-central1.example.com/x\nhost: db.us-central1\n",
            ),
            (
                3,
                "region: us-central1\nurl: https://us-central1.example.com/x\nhost: db.us-central1\n",
            ),
        ]);
        assert_eq!(
            t,
            "host: db.{{ .Cluster.region }}\nregion: {{ .Cluster.region }}\nurl: \"https://{{ .Cluster.region }}.example.com/x\"\n"
        );
    }

    #[test]
    fn values_decided_by_a_field_branch_on_it() {
        let t = check(&[
            (
                0,
                "replicas: 1\nflag: \"true\"\nlist: [a]\ntext: |\n  dev\n  text\n",
            ),
            (
                1,
                "replicas: 1\nflag: \"true\"\nlist: [a]\ntext: |\n  dev\n  text\n",
            ),
            (
                2,
                "replicas: 3\nflag: \"false\"\nlist: [a, b]\ntext: prod\n",
            ),
            (
                3,
                "replicas: 3\nflag: \"false\"\nlist: [a, b]\ntext: prod\n",
            ),
            (
                4,
                "replicas: 3\nflag: \"false\"\nlist: [a, b]\ntext: prod\n",
            ),
        ]);
        assert!(
            t.contains("replicas: {{ if eq .Cluster.environment \"dev\" }}1{{ else }}3{{ end }}\n"),
            "{t}"
        );
        assert!(t.contains("list:\n{{- if eq .Cluster.environment \"dev\" }}\n  - a\n{{- else }}\n  - a\n  - b\n{{- end }}\n"), "{t}");
    }

    #[test]
    fn odd_values_and_keys_are_guarded_by_what_separates_their_clusters() {
        let t = check(&[
            (0, "a: {b: 1}\nodd: 1\n"),
            (1, "a: {b: 1, gcp: x}\n"),
            (2, "a: {b: 2}\n"),
            (3, "a: {b: 1, gcp: x}\n"),
        ]);
        assert_eq!(
            t,
            "a:\n  b: {{ if eq .Cluster.name \"prod-a\" }}2{{ else }}1{{ end }}\n  {{- if eq .Cluster.provider \"gcp\" }}\n  gcp: x\n  {{- end }}\n{{- if eq .Cluster.name \"dev-a\" }}\nodd: 1\n{{- end }}\n"
        );
        // A map on some clusters, a text on others; empty maps.
        check(&[(0, "a: {b: 1}\n"), (2, "a: text\n"), (4, "a: {}\n")]);
    }

    #[test]
    fn secrets_are_read_with_vault_and_never_written_in_the_template() {
        let clusters = clusters();
        let fields = grouping_fields(&clusters);
        let release = Release {
            name: "api".to_owned(),
            chart: "api".to_owned(),
            namespace: "api".to_owned(),
            owners: "{team: a}".to_owned(),
            values: [
                (
                    0,
                    "db: {password: hunter2-dev-a, host: db}\napiToken: same-everywhere-1\n",
                ),
                (
                    3,
                    "db: {password: hunter2-prod-b, host: db}\napiToken: same-everywhere-1\n",
                ),
            ]
            .iter()
            .map(|(i, t)| (*i, encoding::from_yaml_map(t, "v").expect("values")))
            .collect(),
        };
        let (service, text, secrets) = service_file(&release, &clusters, &fields).expect("written");
        assert!(
            !text.contains("hunter2") && !text.contains("same-everywhere"),
            "{text}"
        );
        assert!(
            text.contains("  apiToken: {{ vault \"secret/api\" \"apiToken\" | quote }}\n"),
            "{text}"
        );
        assert!(text.contains("    password: {{ vault (print \"secret/api/\" .Cluster.name) \"db.password\" | quote }}\n"), "{text}");
        assert_eq!(
            secrets["secret/api/prod-b"],
            BTreeMap::from([("db.password".to_owned(), "hunter2-prod-b".to_owned())])
        );
        assert_eq!(service.selector, "cluster.name in [\"dev-a\", \"prod-b\"]");
        assert!(
            text.contains("selector: 'cluster.name in [\"dev-a\", \"prod-b\"]'\n"),
            "{text}"
        );
    }

    #[test]
    fn selectors_name_the_fields_that_pick_the_clusters() {
        let c = clusters();
        let f = grouping_fields(&c);
        assert_eq!(selector(&c, &f, &[0, 1, 2, 3, 4]), "true");
        assert_eq!(
            selector(&c, &f, &[2, 3, 4]),
            "cluster.environment == \"prod\""
        );
        assert_eq!(
            selector(&c, &f, &[0, 1, 2, 3]),
            "cluster.provider != \"azure\""
        );
        assert_eq!(selector(&c, &f, &[0, 2]), "cluster.provider == \"aws\"");
        assert_eq!(selector(&c, &f, &[1, 3]), "cluster.provider == \"gcp\"");
        assert_eq!(
            selector(&c, &f, &[0, 2, 3, 4]),
            "cluster.name in [\"dev-a\", \"prod-a\", \"prod-b\", \"edge\"]"
        );
        assert_eq!(
            selector(&c, &f, &[2, 3]),
            "cluster.environment == \"prod\" && cluster.tags.tier == \"core\""
        );
    }

    #[test]
    fn secret_keys_are_told_from_names_of_secrets() {
        for k in [
            "password",
            "dbPassword",
            "api_token",
            "apiKey",
            "clientSecret",
            "secret",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "existingSecret",
            "secretName",
            "passwordSecretRef",
            "tokenTTL",
            "host",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }
}
