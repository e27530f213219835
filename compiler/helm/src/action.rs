//! `helm template` end to end (`cmd/helm/template.go`, `action.Install` in client-only
//! dry-run mode): values from flags, the chart's dependencies, render values, schema
//! validation, rendering, sorting, and the text `helm template` prints.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use gotemplate::funcs::Timestamp;
use gotemplate::{Map, Value};

use crate::chart::Chart;
use crate::dependencies;
use crate::engine::{self, EngineOptions};
use crate::error::HelmError;
use crate::gostr::path_match;
use crate::manifest::{self, Hook};
use crate::objects::{Capabilities, ChartObject, KubeVersion};
use crate::schema;
use crate::semver::is_compatible_range;
use crate::strvals::{self, Mode};
use crate::values;

/// The flags of `helm template` that shape the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateOptions {
    pub release_name: String,
    pub namespace: String,
    /// `--kube-version`, as given (parsed by [`run`]).
    pub kube_version: Option<String>,
    /// `--api-versions`, in order.
    pub api_versions: Vec<String>,
    pub include_crds: bool,
    pub skip_tests: bool,
    pub is_upgrade: bool,
    /// `--show-only`: `filepath.Match` patterns over template paths.
    pub show_only: Vec<String>,
    /// `--output-dir`: write files instead of printing manifests.
    pub output_dir: Option<String>,
    /// `--release-name`: write under `output-dir/RELEASE`.
    pub use_release_name: bool,
    /// `--no-hooks`: leave hooks out of the output.
    pub no_hooks: bool,
    pub skip_schema_validation: bool,
    /// Seed of `rand*`/`uuidv4` and the clock `now` reads.
    pub seed: u64,
    pub now: Timestamp,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            release_name: "release-name".into(),
            namespace: "default".into(),
            kube_version: None,
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            is_upgrade: false,
            show_only: Vec::new(),
            output_dir: None,
            use_release_name: false,
            no_hooks: false,
            skip_schema_validation: false,
            seed: 0,
            now: Timestamp {
                unix_seconds: 0,
                nanos: 0,
            },
        }
    }
}

/// The user's values, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueOptions {
    /// `-f`: (name as given, contents), in order.
    pub values_files: Vec<(String, Vec<u8>)>,
    pub set: Vec<String>,
    pub set_string: Vec<String>,
    pub set_json: Vec<String>,
}

/// How a file under `--output-dir` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Created (or truncated).
    Create,
    /// Appended to (an earlier write of this run created it).
    Append,
    /// Appended to if it exists when written, created otherwise (Helm's hooks).
    AppendIfExists,
}

/// A file `helm template --output-dir` writes: `dir/name`, with `---\n# Source:` framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub path: String,
    pub content: String,
    pub mode: WriteMode,
}

/// What `helm template` produces: its standard output, and files for `--output-dir`
/// (already framed; the caller writes them in order, before printing `stdout`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateOutput {
    pub stdout: String,
    pub writes: Vec<FileWrite>,
    /// What Helm prints on standard error as `WARNING: ...` (e.g. a deprecated chart).
    pub warnings: Vec<String>,
}

/// The rendered release: `rel.Manifest` and `rel.Hooks`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    pub manifest: String,
    pub hooks: Vec<Hook>,
    pub writes: Vec<FileWrite>,
}

/// `values.Options.MergeValues`: `-f` files in order, then `--set-json`, `--set`,
/// `--set-string` (each kind in its own order, whatever the command line interleaving).
pub fn merge_user_values(opts: &ValueOptions) -> Result<Map, HelmError> {
    let mut base = Map::new();
    for (name, data) in &opts.values_files {
        let text = String::from_utf8_lossy(data);
        let current = match gotemplate::funcs::encoding::from_yaml(&text) {
            Ok(Value::Map(m)) => m,
            Ok(Value::Nil) => Map::new(),
            Ok(other) => {
                return Err(HelmError::Values(format!(
                    "failed to parse {name}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    match other {
                        Value::List(_) => "array",
                        Value::String(_) => "string",
                        Value::Bool(_) => "bool",
                        _ => "number",
                    }
                )));
            }
            Err(e) => {
                return Err(HelmError::Values(format!(
                    "failed to parse {name}: {}",
                    crate::chart::yaml_message(&e.message)
                )));
            }
        };
        base = values::merge_maps(&base, &current);
    }
    for v in &opts.set_json {
        strvals::parse_into(v, &base, Mode::Json)
            .map_err(|_| HelmError::Values(format!("failed parsing --set-json data {v}")))?;
    }
    for v in &opts.set {
        strvals::parse_into(v, &base, Mode::Typed)
            .map_err(|e| HelmError::Values(format!("failed parsing --set data: {e}")))?;
    }
    for v in &opts.set_string {
        strvals::parse_into(v, &base, Mode::String)
            .map_err(|e| HelmError::Values(format!("failed parsing --set-string data: {e}")))?;
    }
    Ok(base)
}

/// Reads `-f` files (`-` is standard input) for [`ValueOptions::values_files`].
pub fn read_values_file(name: &str) -> Result<(String, Vec<u8>), HelmError> {
    if name.trim() == "-" {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)
            .map_err(|e| HelmError::Io(format!("read -: {e}")))?;
        return Ok((name.to_string(), data));
    }
    if name.contains("://") {
        return Err(HelmError::Remote(format!(
            "cannot read values from {name}: fetching remote values files is unavailable here (no network access)"
        )));
    }
    match std::fs::read(name) {
        Ok(d) => Ok((name.to_string(), d)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(HelmError::Io(format!(
            "open {name}: no such file or directory"
        ))),
        Err(e) => Err(HelmError::Io(format!("open {name}: {e}"))),
    }
}

/// `ChartPathOptions.LocateChart` for local charts: a folder or an archive. Charts from a
/// repository (`--repo`), an OCI registry or a URL are fetched first by
/// [`crate::fetch::ChartFetcher`]; a `repo/chart` name needs Helm's repository list, which
/// Flotilla does not keep.
pub fn locate_chart(name: &str) -> Result<&Path, HelmError> {
    let name = name.trim();
    let path = Path::new(name);
    if path.exists() {
        return Ok(path);
    }
    if path.is_absolute() || name.starts_with('.') {
        return Err(HelmError::Io(format!("path {name:?} not found")));
    }
    if !name.contains('/') {
        return Err(HelmError::Chart(format!(
            "non-absolute URLs should be in form of repo_name/path_to_chart, got: {name}"
        )));
    }
    Err(HelmError::Usage(format!(
        "chart {name:?} is not a local folder or archive, and repository names (helm repo add) are not kept here: give the repository's URL with --repo URL and the chart's name, or an oci:// reference"
    )))
}

/// Loads a chart and checks that `helm template` can install it.
pub fn load_installable(path: &Path) -> Result<Chart, HelmError> {
    let chart = crate::loader::load(path)?;
    match chart.metadata.chart_type.as_str() {
        "" | "application" => {}
        other => {
            return Err(HelmError::Chart(format!(
                "{other} charts are not installable"
            )));
        }
    }
    dependencies::check_dependencies(&chart)?;
    Ok(chart)
}

/// `--kube-version` as `chartutil.ParseKubeVersion` reads it; empty means unset.
pub fn parse_kube_version(opts: &TemplateOptions) -> Result<Option<KubeVersion>, HelmError> {
    match opts.kube_version.as_deref() {
        None | Some("") => Ok(None),
        Some(v) => KubeVersion::parse(v)
            .map(Some)
            .map_err(|e| HelmError::Usage(format!("invalid kube version '{v}': {e}"))),
    }
}

/// `action.Install.Run` for `helm template`: the release's manifest text and hooks.
pub fn render_release(
    chart: &Chart,
    user_values: &Map,
    opts: &TemplateOptions,
) -> Result<Release, HelmError> {
    let kube_version = parse_kube_version(opts)?;
    let mut chart = chart.clone();
    dependencies::process_dependencies(&mut chart, user_values)?;
    let caps = Capabilities::for_template(kube_version, &opts.api_versions);

    // chartutil.ToRenderValuesWithSchemaValidation
    let top = Map::new();
    top.insert(
        "Chart",
        Value::Object(Arc::new(ChartObject {
            metadata: chart.metadata.clone(),
            is_root: true,
        })),
    );
    top.insert("Capabilities", Value::Object(Arc::new(caps.clone())));
    let release = Map::new();
    release.insert("Name", Value::from(opts.release_name.as_str()));
    release.insert("Namespace", Value::from(opts.namespace.as_str()));
    release.insert("IsUpgrade", Value::Bool(opts.is_upgrade));
    release.insert("IsInstall", Value::Bool(!opts.is_upgrade));
    release.insert("Revision", Value::Int(1));
    release.insert("Service", Value::from("Helm"));
    top.insert("Release", Value::Map(release));
    let vals = values::coalesce_values(&chart, user_values)?;
    if !opts.skip_schema_validation {
        schema::validate_against_schema(&chart, &vals).map_err(|e| {
            HelmError::Schema(format!(
                "values don't meet the specifications of the schema(s) in the following chart(s):\n{e}"
            ))
        })?;
    }
    top.insert("Values", Value::Map(vals));

    // action.Configuration.renderResources
    let kv = &chart.metadata.kube_version;
    if !kv.is_empty() && !is_compatible_range(kv, &caps.kube_version.version) {
        return Err(HelmError::Render(format!(
            "chart requires kubeVersion: {kv} which is incompatible with Kubernetes {}",
            caps.kube_version.version
        )));
    }
    let engine_options = EngineOptions {
        seed: opts.seed,
        now: opts.now,
        ..EngineOptions::default()
    };
    let mut files = engine::render(&chart, &top, &engine_options)?;
    files.retain(|k, _| !k.ends_with("NOTES.txt"));
    let (hooks, manifests) = manifest::sort_manifests(&files)?;

    let mut rel = Release {
        hooks,
        ..Release::default()
    };
    let mut written: BTreeMap<String, ()> = BTreeMap::new();
    let out_dir = output_dir(opts);
    let mut emit = |rel: &mut Release, name: &str, content: &str| match &out_dir {
        None => {
            rel.manifest
                .push_str(&format!("---\n# Source: {name}\n{content}\n"));
        }
        Some(dir) => {
            let mode = if written.contains_key(name) {
                WriteMode::Append
            } else {
                WriteMode::Create
            };
            written.insert(name.to_string(), ());
            rel.writes.push(FileWrite {
                path: format!("{dir}/{name}"),
                content: format!("---\n# Source: {name}\n{content}\n"),
                mode,
            });
        }
    };
    if opts.include_crds {
        for (filename, file) in chart.crd_objects(chart.name()) {
            emit(&mut rel, &filename, &String::from_utf8_lossy(&file.data));
        }
    }
    for m in &manifests {
        emit(&mut rel, &m.name, &m.content);
    }
    Ok(rel)
}

/// The folder files go to: `--output-dir`, joined with the release name on request.
fn output_dir(opts: &TemplateOptions) -> Option<String> {
    let dir = opts.output_dir.as_ref()?;
    if opts.use_release_name {
        Some(crate::gostr::path_clean(&format!(
            "{dir}/{}",
            opts.release_name
        )))
    } else {
        Some(dir.clone())
    }
}

/// Go's `# Source: [^/]+/(.+)`: the template path after the chart name.
fn source_path(doc: &str) -> Option<&str> {
    let mut search = doc;
    while let Some(i) = search.find("# Source: ") {
        let rest = &search[i + "# Source: ".len()..];
        let line = rest.split('\n').next().unwrap_or("");
        if let Some(slash) = line.find('/')
            && slash > 0
            && slash + 1 < line.len()
        {
            return Some(&line[slash + 1..]);
        }
        search = rest;
    }
    None
}

/// What `helm template` prints for a rendered release (`cmd/helm/template.go`): manifests,
/// then hooks (tests skipped on request), or only the `--show-only` templates.
pub fn template_output(rel: &Release, opts: &TemplateOptions) -> Result<TemplateOutput, HelmError> {
    let mut out = TemplateOutput {
        writes: rel.writes.clone(),
        ..TemplateOutput::default()
    };
    let mut manifests = format!("{}\n", rel.manifest.trim());
    for h in &rel.hooks {
        if opts.skip_tests && h.is_test() {
            continue;
        }
        if opts.no_hooks {
            break;
        }
        match &output_dir(opts) {
            None => manifests.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest)),
            Some(dir) => out.writes.push(FileWrite {
                path: format!("{dir}/{}", h.path),
                content: format!("---\n# Source: {}\n{}\n", h.path, h.manifest),
                mode: WriteMode::AppendIfExists,
            }),
        }
    }
    for w in &out.writes {
        out.stdout.push_str(&format!("wrote {}\n", w.path));
    }
    if opts.show_only.is_empty() {
        out.stdout.push_str(&manifests);
        return Ok(out);
    }
    let docs = manifest::split_manifests(&manifests);
    let mut selected = Vec::new();
    for f in &opts.show_only {
        let f = f.replace('\\', "/");
        let mut missing = true;
        for doc in &docs {
            let Some(path) = source_path(doc) else {
                continue;
            };
            if !path_match(&f, path).unwrap_or(false) {
                continue;
            }
            selected.push(doc.as_str());
            missing = false;
        }
        if missing {
            return Err(HelmError::Usage(format!(
                "could not find template {f} in chart"
            )));
        }
    }
    for m in selected {
        out.stdout.push_str(&format!("---\n{m}\n"));
    }
    Ok(out)
}

/// Renders a loaded chart with merged user values into `helm template`'s output.
pub fn template(
    chart: &Chart,
    user_values: &Map,
    opts: &TemplateOptions,
) -> Result<TemplateOutput, HelmError> {
    let rel = render_release(chart, user_values, opts)?;
    let mut out = template_output(&rel, opts)?;
    if chart.metadata.deprecated {
        out.warnings.push("This chart is deprecated".into());
    }
    Ok(out)
}

/// `helm template RELEASE CHART` from a chart path and value options.
pub fn run(
    chart_ref: &str,
    values: &ValueOptions,
    opts: &TemplateOptions,
) -> Result<TemplateOutput, HelmError> {
    parse_kube_version(opts)?;
    let path = locate_chart(chart_ref)?;
    let user_values = merge_user_values(values)?;
    let chart = load_installable(path)?;
    template(&chart, &user_values, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_paths_drop_the_chart_name() {
        assert_eq!(
            source_path("# Source: demo/templates/svc.yaml\nkind: Service"),
            Some("templates/svc.yaml")
        );
        assert_eq!(
            source_path("# Source: top/charts/sub/templates/a.yaml"),
            Some("charts/sub/templates/a.yaml")
        );
        assert_eq!(source_path("kind: Service"), None);
    }

    #[test]
    fn hooks_follow_manifests_and_tests_can_be_skipped() {
        let hook = |path: &str, event: &str| Hook {
            name: "h".into(),
            kind: "Pod".into(),
            path: path.into(),
            manifest: format!("kind: Pod # {event}"),
            events: vec![event.into()],
            weight: 0,
            delete_policies: vec![],
        };
        let rel = Release {
            manifest: "---\n# Source: c/templates/a.yaml\na: 1\n".into(),
            hooks: vec![
                hook("c/templates/job.yaml", "pre-install"),
                hook("c/templates/t.yaml", "test"),
            ],
            writes: vec![],
        };
        let opts = TemplateOptions {
            skip_tests: true,
            ..TemplateOptions::default()
        };
        let out = template_output(&rel, &opts).unwrap();
        assert_eq!(
            out.stdout,
            "---\n# Source: c/templates/a.yaml\na: 1\n---\n# Source: c/templates/job.yaml\nkind: Pod # pre-install\n"
        );
        let only = TemplateOptions {
            show_only: vec!["templates/t.yaml".into()],
            ..TemplateOptions::default()
        };
        assert_eq!(
            template_output(&rel, &only).unwrap().stdout,
            "---\n# Source: c/templates/t.yaml\nkind: Pod # test\n"
        );
        let missing = TemplateOptions {
            show_only: vec!["templates/nope.yaml".into()],
            ..TemplateOptions::default()
        };
        assert_eq!(
            template_output(&rel, &missing).unwrap_err().to_string(),
            "could not find template templates/nope.yaml in chart"
        );
    }

    #[test]
    fn user_values_merge_in_helm_order() {
        let opts = ValueOptions {
            values_files: vec![
                ("a.yaml".into(), b"x: {y: 1, z: 2}".to_vec()),
                ("b.yaml".into(), b"x: {y: 3}".to_vec()),
            ],
            set: vec!["x.z=5".into()],
            set_string: vec!["x.w=6".into()],
            set_json: vec!["x.z=4".into()],
        };
        // Without the YAML reader this only checks the flags (files need it).
        let _ = merge_user_values(&opts);
        let flags_only = ValueOptions {
            set: vec!["x.z=5".into()],
            set_string: vec!["x.w=6".into()],
            set_json: vec!["x.z=4".into(), "x.v=[1]".into()],
            ..ValueOptions::default()
        };
        let m = merge_user_values(&flags_only).unwrap();
        assert_eq!(
            crate::json::canonical(&Value::Map(m)),
            r#"{"x":{"v":[1f],"w":"6","z":5}}"#
        );
    }
}
